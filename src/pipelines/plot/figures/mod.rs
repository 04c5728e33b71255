//! One function per figure. Each reads the CSV files it names, draws one SVG in memory and returns
//! it as a [`Figure`] (nothing is written here; [`super::plot`] writes the files atomically).
//!
//! Conventions shared by all figures: epochs on a linear axis; losses, norms of gradients and
//! ODE magnitudes on log axes; angles in radians in [-pi, pi); accuracies as fractions in [0, 1];
//! neurons in heatmaps sorted by their dominant input frequency k* (ties by index), one row each.
//!
//! | file | figures |
//! |---|---|
//! | `training.rs` | training curves, progress, grokking stages, accuracy grids, masks, decoded weights |
//! | `analysis.rs` | spectra, phase relation, frequency groups, logits, harmonics, swaps, closed form |
//! | `dynamics.rs` | ODE trajectories, lottery contour, race and predictions, single-frequency runs |

pub mod analysis;
mod common;
pub mod dynamics;
pub mod training;

pub use analysis::{
    chosen_pairs, closed_form, frequency_groups, harmonics, logits, neuron_phases, spectra, swaps,
};
pub use common::Figure;
pub use dynamics::{
    lottery_contour, lottery_predictions, lottery_race, ode_trajectories, sf_snapshots, sf_spectra,
};
pub use training::{
    accuracy_grids, grokking, pair_masks, progress_curves, stage_weights, training_curves,
};
