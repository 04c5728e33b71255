//! The CPU backend: the exact passes of [`crate::numerics::grad`] and the optimisers of
//! [`crate::numerics::optim`], on the caller's thread.

use crate::backend::{Backend, StepStats};
use crate::numerics::activation::Activation;
use crate::numerics::batch::Batch;
use crate::numerics::grad::{evaluate, loss_and_grad, Eval, Grads, Workspace};
use crate::numerics::loss::Loss;
use crate::numerics::network::Network;
use crate::numerics::optim::Optimizer;
use crate::numerics::real::Real;
use crate::numerics::task::Split;

/// The CPU backend: the exact passes of [`crate::numerics::grad`] and the optimisers of [`crate::numerics::optim`].
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
