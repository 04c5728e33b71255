//! The hot loop behind one trait, so the trainer can drive a CPU or a GPU implementation.
//!
//! A backend owns the weights, the optimiser state and the prepared pairs. Per epoch the trainer
//! asks for the test metrics ([`Backend::eval_test`]), then for the training loss, accuracy,
//! gradient norm and parameter norm at the current weights ([`Backend::measure`]), lets
//! observers look at that state, and then asks for one optimiser update ([`Backend::update`]).
//! Weights come back only when asked ([`Backend::network`] copies them; [`Backend::weights`]
//! borrows them where the backend holds them in host memory, as the CPU backend does).

use crate::numerics::grad::Eval;
use crate::numerics::network::Network;
use crate::numerics::optim::Optimizer;
use crate::numerics::real::Real;
use std::borrow::Cow;

pub mod cpu;
pub mod cuda;

/// Pre-update measurements of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Training loss and accuracy at the weights before the update.
    pub train: Eval,
    /// Euclidean norm of the full gradient (all tensors together).
    pub grad_norm: f64,
    /// Euclidean norm of all parameters before the update.
    pub param_norm: f64,
}

/// A device that runs training steps.
pub trait Backend<T: Real> {
    /// Short name (`cpu`, `cuda`).
    fn name(&self) -> &'static str;
    /// Loss and accuracy on the test pairs at the current weights; `None` when the split is
    /// full (test = train), so the caller reuses the training metrics instead of a second pass.
    fn eval_test(&mut self) -> Option<Eval>;
    /// Loss and accuracy on the training pairs at the current weights (no gradient, no update).
    fn eval_train(&mut self) -> Eval;
    /// Forward and backward pass on the training pairs at the current weights: the statistics,
    /// with the gradient kept for the following [`Backend::update`].
    fn measure(&mut self) -> StepStats;
    /// One optimiser update with learning rate `lr` from the gradient of the last `measure`.
    fn update(&mut self, lr: T);
    /// `measure` then `update`: one training step.
    fn step(&mut self, lr: T) -> StepStats {
        let s = self.measure();
        self.update(lr);
        s
    }
    /// A copy of the current weights.
    fn network(&self) -> Network<T>;
    /// The current weights without a copy where the backend holds them in host memory (the
    /// CPU backend); by default a copy ([`Backend::network`]). Observers that read the
    /// weights every epoch use this.
    fn weights(&self) -> Cow<'_, Network<T>> {
        Cow::Owned(self.network())
    }
    /// A copy of the optimiser state.
    fn optimizer(&self) -> Optimizer<T>;
    /// Replaces weights and optimiser state (resuming).
    fn set_state(&mut self, net: Network<T>, opt: Optimizer<T>);
    /// Which pairs the last `step` (training pairs) and `eval_test` (test pairs) classified
    /// correctly, as a p x p grid in x-major order (`grid[x * p + y]`); pairs in neither set
    /// are `false`. Both measured at the same (pre-update) weights when called after
    /// `eval_test` then `step`.
    fn correct_grid(&self, grid: &mut Vec<bool>);
}
