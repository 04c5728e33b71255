//! Core numerics: the task and its data, the network and its initialisers, losses, the exact
//! forward and backward passes, and the optimisers. Nothing here reads or writes files.
//!
//! | file | concept |
//! |---|---|
//! | [`real`] | `Real` (f32/f64) and the strided GEMM |
//! | [`rng`] | seeded randomness written in this crate (uniform integers, shuffles, normals) |
//! | [`limits`] | the largest p, M and matrix the crate accepts, and the largest p it analyses |
//! | [`task`] | tasks (add, sub, linear), the dataset of pairs, seeded and explicit splits |
//! | [`activation`] | activations sigma(u) and their derivatives |
//! | [`network`] | the tied and untied two-layer networks |
//! | [`init`] | initialisers (random, single-frequency, diversified) and the reference width |
//! | [`loss`] | cross-entropy (mean, sum) and MSE with their derivatives; accuracy's tie rule |
//! | [`batch`] | pairs prepared for the hot loop ((x, y) and (y, x) merged for the tied model) |
//! | [`fused`] | the step's fused AVX-512 kernels for the tied network at p <= 24 (f32) |
//! | [`grad`] | the exact forward and backward passes into caller-owned buffers; a naive reference |
//! | [`optim`] | SGD and AdamW with PyTorch's semantics; learning-rate schedules |
//! | [`parallel`] | the thread count and its pool; work split so results do not depend on it |

pub mod activation;
pub mod batch;
pub mod fused;
pub mod grad;
pub mod init;
pub mod limits;
pub mod loss;
pub mod network;
pub mod optim;
pub mod parallel;
pub mod real;
pub mod rng;
pub mod task;
