//! The hot loop behind one trait, so the trainer can drive a CPU or a GPU implementation.
//!
//! A backend owns the weights, the optimiser state and the prepared pairs. Per epoch the trainer
//! asks for the test metrics ([`Backend::eval_test`]), then for the training loss, accuracy,
//! gradient norm and parameter norm at the current weights ([`Backend::measure`]), lets
//! observers look at that state, and then asks for one optimiser update ([`Backend::update`]).
//! Weights come back only when asked ([`Backend::network`]).

use crate::grad::{evaluate, loss_and_grad, Batch, Eval, Grads, Workspace};
use crate::loss::Loss;
use crate::model::{Activation, Network};
use crate::optim::Optimizer;
use crate::real::Real;
use crate::task::Split;

pub mod cuda;
pub use cuda::{cuda_available, CudaBackend};

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

/// The CPU backend: the exact passes of [`crate::grad`] and the optimisers of [`crate::optim`].
pub struct CpuBackend<T: Real> {
    net: Network<T>,
    act: Activation,
    loss: Loss,
    train: Batch<T>,
    test: Option<Batch<T>>,
    opt: Optimizer<T>,
    ws: Workspace<T>,
    test_ws: Workspace<T>,
    grads: Grads<T>,
}

impl<T: Real> CpuBackend<T> {
    /// Prepares the split's pairs for `net` and takes ownership of the weights and optimiser.
    pub fn new(
        net: Network<T>,
        act: Activation,
        loss: Loss,
        split: &Split,
        opt: Optimizer<T>,
    ) -> Self {
        let tying = net.tying();
        let train = Batch::new(&split.train, tying);
        let test = (!split.full).then(|| Batch::new(&split.test, tying));
        let grads = Grads::zeros_like(&net);
        CpuBackend {
            net,
            act,
            loss,
            train,
            test,
            opt,
            ws: Workspace::new(),
            test_ws: Workspace::new(),
            grads,
        }
    }

    /// The current gradient buffers (of the last step).
    pub fn grads(&self) -> &Grads<T> {
        &self.grads
    }
}

impl<T: Real> Backend<T> for CpuBackend<T> {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn eval_test(&mut self) -> Option<Eval> {
        let batch = self.test.as_ref()?;
        // Its own workspace, so the training rows' flags of `measure` survive.
        Some(evaluate(
            &self.net,
            self.act,
            self.loss,
            batch,
            &mut self.test_ws,
        ))
    }

    fn eval_train(&mut self) -> Eval {
        evaluate(
            &self.net,
            self.act,
            self.loss,
            &self.train,
            &mut self.test_ws,
        )
    }

    fn measure(&mut self) -> StepStats {
        let train = loss_and_grad(
            &self.net,
            self.act,
            self.loss,
            &self.train,
            &mut self.ws,
            &mut self.grads,
        );
        StepStats {
            train,
            grad_norm: self.grads.norm(),
            param_norm: self.net.param_norm(),
        }
    }

    fn update(&mut self, lr: T) {
        let grads = self.grads.slices();
        let mut params = self.net.param_slices_mut();
        self.opt.step(&mut params, &grads, lr);
    }

    fn network(&self) -> Network<T> {
        self.net.clone()
    }

    fn optimizer(&self) -> Optimizer<T> {
        self.opt.clone()
    }

    fn correct_grid(&self, grid: &mut Vec<bool>) {
        fill_grid(self.net.p, &self.train, self.ws.correct(), grid, true);
        if let Some(t) = &self.test {
            fill_grid(self.net.p, t, self.test_ws.correct(), grid, false);
        }
    }

    fn set_state(&mut self, net: Network<T>, opt: Optimizer<T>) {
        self.grads = Grads::zeros_like(&net);
        self.net = net;
        self.opt = opt;
    }
}

/// Writes per-row correctness `flags` of `batch` into the x-major p x p `grid` (cleared first
/// when `clear`). A merged row (tied model) stands for both orders.
pub(crate) fn fill_grid<T: Real>(
    p: usize,
    batch: &Batch<T>,
    flags: &[bool],
    grid: &mut Vec<bool>,
    clear: bool,
) {
    if clear {
        grid.clear();
        grid.resize(p * p, false);
    }
    for (r, &ok) in flags.iter().enumerate() {
        let (x, y) = (batch.x[r] as usize, batch.y[r] as usize);
        grid[x * p + y] = ok;
        if batch.merged {
            grid[y * p + x] = ok;
        }
    }
}

/// The correctness grid of `net` on the training and test batches, by evaluating them.
pub(crate) fn grid_by_evaluation<T: Real>(
    net: &Network<T>,
    act: Activation,
    loss: Loss,
    train: &Batch<T>,
    test: Option<&Batch<T>>,
    grid: &mut Vec<bool>,
) {
    let mut ws = Workspace::new();
    evaluate(net, act, loss, train, &mut ws);
    fill_grid(net.p, train, ws.correct(), grid, true);
    if let Some(t) = test {
        evaluate(net, act, loss, t, &mut ws);
        fill_grid(net.p, t, ws.correct(), grid, false);
    }
}
