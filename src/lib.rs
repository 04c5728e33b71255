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
//! variant uses `sigma(theta_m[x] + eta_m[y])`. See [`numerics::network`].
//!
//! ## Layers
//! Folders are layers, and imports only point down this list (a test, `tests/architecture.rs`,
//! fails on an import that points up or closes a circle):
//!
//! | layer | modules |
//! |---|---|
//! | pipelines | [`pipelines`]: one module per command (train, eval, analyze, ode, lottery, closed-form, reproduce, verify) |
//! | science and analysis | [`science`]: Fourier analysis, mechanism, dynamics, grokking, Gromov, the analysis of a network |
//! | training | [`train`]: presets and configuration, the trainer, checkpoints, the run driver |
//! | hot loop | [`backend`]: the `Backend` trait, the CPU backend, the CUDA backend |
//! | formats | [`formats`]: atomic writes, CSV tables, manifests, pairs, weights, `.npy`, `.pth` |
//! | core numerics | [`numerics`]: tasks, networks, initialisers, losses, passes, optimisers |
//! | bottom | [`error`] (the error type), [`names`] (parsing enum names) |
//!
//! ## Conventions
//! - Data: all p^2 pairs listed x-major; a split keeps the first `floor(f p^2)` of a seeded
//!   permutation for training ([`numerics::task`]).
//! - Losses: `ce-mean` (the reference), `ce-sum` (the theory; mean-loss time = sum-loss time
//!   x number of pairs), `mse` (Gromov) ([`numerics::loss`]). Accuracy ties go to the smallest
//!   index.
//! - Fourier: `c_k = sum_j v[j] cos(w_k j)`, `s_k = sum_j v[j] sin(w_k j)`, `w_k = 2 pi k / p`,
//!   magnitude `(2/p) sqrt(c_k^2 + s_k^2)`, phase `atan2(-s_k, c_k)`, so
//!   `v[j] = a_0 + sum_k alpha_k cos(w_k j + phi_k)` ([`science::fourier`]).
//! - Optimisers follow PyTorch's `SGD` and `AdamW` exactly ([`numerics::optim`]); one epoch is
//!   one full-batch update, and metrics logged for an epoch are measured before its update
//!   ([`train`]).
//! - Randomness: one u64 seed, ChaCha8 (stream 0 initialisation, stream 1 split).
//! - Precision: generic over f32/f64 ([`numerics::real::Real`]); theorem tests run in f64.
//!
//! ## Features
//! | feature | default | what |
//! |---|---|---|
//! | `cuda` | off | CUDA backend through `cust` |
//! | `kernel-emu` | off | the CUDA kernels compiled as host C++, tested against their Rust twin |
//!
//! ## Quick start
//! ```
//! use modadd::train::{config::TrainConfig, trainer::Trainer};
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

pub mod backend;
pub mod error;
pub mod formats;
pub mod names;
pub mod numerics;
pub mod pipelines;
pub mod science;
pub mod train;

pub use error::{Error, Result};
