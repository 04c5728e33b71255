//! # modadd
//!
//! A formally tested numerical reference library for how two-layer networks learn modular
//! addition (He, Wang, Chen, Yang 2026; Gromov 2023).
//!
//! ## The model
//! For inputs (x, y) in Z_p x Z_p (p odd) and outputs j in Z_p, the tied network is
//!
//! ```text
//! f(x, y)[j] = sum_{m=1..M} xi_m[j] * sigma(theta_m[x] + theta_m[y])
//! ```
//!
//! with `theta_m` row m of `W_in` (M x p) and `xi_m` column m of `W_out` (p x M); the untied
//! variant uses `sigma(theta_m[x] + eta_m[y])`. See [`model`].
//!
//! ## Conventions
//! - Data: all p^2 pairs listed x-major; a split keeps the first `floor(f p^2)` of a seeded
//!   permutation for training ([`task`]).
//! - Losses: `ce-mean` (the reference), `ce-sum` (the theory; mean-loss time = sum-loss time
//!   x number of pairs), `mse` (Gromov) ([`loss`]). Accuracy ties go to the smallest index.
//! - Fourier: `c_k = sum_j v[j] cos(w_k j)`, `s_k = sum_j v[j] sin(w_k j)`, `w_k = 2 pi k / p`,
//!   magnitude `(2/p) sqrt(c_k^2 + s_k^2)`, phase `atan2(-s_k, c_k)`, so
//!   `v[j] = a_0 + sum_k alpha_k cos(w_k j + phi_k)` ([`fourier`]).
//! - Optimisers follow PyTorch's `SGD` and `AdamW` exactly ([`optim`]); one epoch is one
//!   full-batch update, and metrics logged for an epoch are measured before its update ([`train`]).
//! - Randomness: one u64 seed, ChaCha8 (stream 0 initialisation, stream 1 split).
//! - Precision: generic over f32/f64 ([`real::Real`]); theorem tests run in f64.
//!
//! ## Features
//! | feature | default | what |
//! |---|---|---|
//! | `cuda` | off | CUDA backend through `cust` |
//!
//! ## Quick start
//! ```
//! use modadd::{model::{Activation, Init, Network, Tying}, train::{TrainConfig, Trainer}};
//! let mut cfg = TrainConfig::preset("standard", 7)?;
//! cfg.width = 16;
//! cfg.lr = 1e-2;
//! let split = cfg.split()?;
//! let mut trainer = Trainer::<f64, _>::cpu(&cfg, &split)?;
//! let first = trainer.next_epoch()?;
//! assert_eq!(first.epoch, 0);
//! assert_eq!(first.lr, 0.0); // the reference warm-up's first update has lr 0
//! # Ok::<(), modadd::Error>(())
//! ```

#![warn(missing_docs)]

pub mod analysis;
pub mod backend;
pub mod dynamics;
pub mod error;
pub mod export;
pub mod fourier;
pub mod grad;
pub mod grokking;
pub mod gromov;
pub mod loss;
pub mod mechanism;
pub mod model;
pub mod optim;
pub mod pth;
pub mod real;
pub mod reproduce;
pub mod task;
pub mod theory;
pub mod train;
pub mod verify;
pub mod weights;

pub use error::{Error, Result};
