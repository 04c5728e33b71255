//! The hot loop behind one trait, so the trainer can drive a CPU or a GPU implementation.
//!
//! A backend owns the weights, the optimiser state and the prepared pairs. Per epoch the trainer
//! asks for the test metrics ([`Backend::eval_test`]) and then for one step
//! ([`Backend::step`]), which measures the training loss, accuracy, gradient norm and parameter
//! norm at the current weights and then applies one optimiser update. Weights come back only
//! when asked ([`Backend::network`]).

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
    /// Measures the pre-update statistics, then applies one update with learning rate `lr`.
    fn step(&mut self, lr: T) -> StepStats;
    /// A copy of the current weights.
    fn network(&self) -> Network<T>;
    /// A copy of the optimiser state.
    fn optimizer(&self) -> Optimizer<T>;
    /// Replaces weights and optimiser state (resuming).
    fn set_state(&mut self, net: Network<T>, opt: Optimizer<T>);
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
    grads: Grads<T>,
}

impl<T: Real> CpuBackend<T> {
    /// Prepares the split's pairs for `net` and takes ownership of the weights and optimiser.
    pub fn new(net: Network<T>, act: Activation, loss: Loss, split: &Split, opt: Optimizer<T>) -> Self {
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
        Some(evaluate(&self.net, self.act, self.loss, batch, &mut self.ws))
    }

    fn eval_train(&mut self) -> Eval {
        evaluate(&self.net, self.act, self.loss, &self.train, &mut self.ws)
    }

    fn step(&mut self, lr: T) -> StepStats {
        let train = loss_and_grad(
            &self.net,
            self.act,
            self.loss,
            &self.train,
            &mut self.ws,
            &mut self.grads,
        );
        let stats = StepStats {
            train,
            grad_norm: self.grads.norm(),
            param_norm: self.net.param_norm(),
        };
        let grads = self.grads.slices();
        let mut params = self.net.param_slices_mut();
        self.opt.step(&mut params, &grads, lr);
        stats
    }

    fn network(&self) -> Network<T> {
        self.net.clone()
    }

    fn optimizer(&self) -> Optimizer<T> {
        self.opt.clone()
    }

    fn set_state(&mut self, net: Network<T>, opt: Optimizer<T>) {
        self.grads = Grads::zeros_like(&net);
        self.net = net;
        self.opt = opt;
    }
}
