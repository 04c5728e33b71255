//! Pipelines: what each command does, as library functions that compose the layers below
//! (the command-line tool only turns arguments into these calls).
//!
//! | file | command |
//! |---|---|
//! | [`train`] | `train`: a run folder with the grokking recorder; resume |
//! | [`eval`] | `eval`: loss, accuracy and gradient of weights on pairs |
//! | [`analyze`] | `analyze`: the analysis of weights, with the activation and task of their run |
//! | [`ode`] | `ode`: decoupled-ODE trajectories and the lottery contour |
//! | [`lottery`] | `lottery`: predicted winning frequencies, scored |
//! | [`closed_form`] | `closed-form`: Gromov's closed-form network and its accuracy by width |
//! | [`plot`] | `plot`: SVG figures and an `index.html` from the CSV files of any output folder |
//! | [`reproduce`] | `reproduce`: every figure's data per modulus, resumable and shardable |
//! | [`verify`] | `verify`: every claim as a row (measured, expectation, pass) |

pub mod analyze;
pub mod closed_form;
pub mod eval;
pub mod lottery;
pub mod ode;
pub mod plot;
pub mod reproduce;
pub mod train;
pub mod verify;
