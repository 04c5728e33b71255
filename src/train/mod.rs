//! Training: presets and the resolved configuration, the per-epoch step, stopping rules,
//! checkpoints, and the driver that writes a run's folder.
//!
//! | file | concept |
//! |---|---|
//! | [`config`] | presets, [`TrainConfig`](config::TrainConfig), overrides, precision, backend choice |
//! | [`record`] | one row of the training log |
//! | [`plateau`] | the plateau stop |
//! | [`trainer`] | the [`Trainer`](trainer::Trainer): one epoch at a time |
//! | [`checkpoint`] | writing, finding, validating and loading checkpoints |
//! | [`recovery`] | where a killed run resumes: the newest checkpoint its tables hold |
//! | [`driver`] | the run/resume driver, its [`Observer`](driver::Observer) and progress output |
//!
//! # Epochs
//! One epoch is one full-batch update. The metrics logged for epoch e (train/test loss and
//! accuracy, gradient norm, parameter norm) are measured at the weights *before* epoch e's
//! update, and the learning rate column is the rate that update used. A run of N epochs takes N
//! updates; its final weights are those after the last one.
//!
//! # Plateau stop (the grokking preset)
//! After the update of epoch e, when e >= 10000 and e is a multiple of 1000: stop if, over the
//! logged epochs e-999..=e, (max - min) < 1e-3 for both losses and < 0.005 for both accuracies.
//!
//! # Checkpoints and recovery
//! See [`checkpoint`] and [`recovery`].

pub mod checkpoint;
pub mod config;
pub mod driver;
pub mod plateau;
pub mod record;
pub mod recovery;
pub mod trainer;
