//! The CPU backend: the exact passes of [`crate::numerics::grad`] and the optimisers of
//! [`crate::numerics::optim`], on the threads of [`crate::numerics::parallel`] (every core by
//! default; the results are the same for any thread count).

use crate::backend::{Backend, StepStats};
use crate::numerics::activation::Activation;
use crate::numerics::batch::Batch;
use crate::numerics::fused;
use crate::numerics::grad::{evaluate, loss_and_grad, Eval, Grads, Workspace};
use crate::numerics::loss::Loss;
use crate::numerics::network::{sum_sq, Network};
use crate::numerics::optim::{NeuronRuns, Optimizer};
use crate::numerics::parallel::Threads;
use crate::numerics::real::Real;
use crate::numerics::task::Split;
use std::borrow::Cow;

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
    threads: Threads,
}

impl<T: Real> CpuBackend<T> {
    /// Prepares the split's pairs for `net` and takes ownership of the weights and optimiser;
    /// runs on the process-wide threads ([`Threads::default`]).
    pub fn new(
        net: Network<T>,
        act: Activation,
        loss: Loss,
        split: &Split,
        opt: Optimizer<T>,
    ) -> Self {
        Self::with_threads(net, act, loss, split, opt, Threads::default())
    }

    /// As [`CpuBackend::new`], on the given threads.
    ///
    /// Each call (`measure`, `update`, `eval_test`) enters the threads' pool once; entering it
    /// from outside wakes its threads, which at small sizes (p = 23: a step of about 200 us)
    /// costs a good part of a step. Driving the backend from inside the pool
    /// ([`Threads::install`], as `pipelines::train` does for a whole run) avoids that.
    pub fn with_threads(
        net: Network<T>,
        act: Activation,
        loss: Loss,
        split: &Split,
        opt: Optimizer<T>,
        threads: Threads,
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
            ws: Workspace::with_threads(threads.clone()),
            test_ws: Workspace::with_threads(threads.clone()),
            grads,
            threads,
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
        // One entry into the pool for the whole measurement (entering from outside wakes the
        // pool, which costs more than a small step's parallel work; inside, nested entries
        // are free).
        let threads = self.threads.clone();
        threads.install(|| {
            let train = loss_and_grad(
                &self.net,
                self.act,
                self.loss,
                &self.train,
                &mut self.ws,
                &mut self.grads,
            );
            let (grad_norm, param_norm) = self.norms();
            StepStats {
                train,
                grad_norm,
                param_norm,
            }
        })
    }

    fn update(&mut self, lr: T) {
        let (g, n, opt, threads) = (&self.grads, &mut self.net, &mut self.opt, &self.threads);
        let (p, width) = (n.p, n.width());
        // By the fused backward kernels' neuron blocks (multiples of 32).
        let (input, output) = (NeuronRuns::input(p, width), NeuronRuns::output(p));
        let blocks = (width, fused::neuron_block(width, threads.count()));
        // Stack arrays of the tensors (W_in, W_out[, W_in_y]): no allocation per step.
        threads.install(|| match (n.w_in_y.as_mut(), g.w_in_y.as_ref()) {
            (Some(wy), Some(gy)) => opt.step_by_neurons(
                &mut [
                    n.w_in.as_mut_slice(),
                    n.w_out.as_mut_slice(),
                    wy.as_mut_slice(),
                ],
                &[g.w_in.as_slice(), g.w_out.as_slice(), gy.as_slice()],
                &[input, output, input],
                blocks,
                lr,
                threads,
            ),
            _ => opt.step_by_neurons(
                &mut [n.w_in.as_mut_slice(), n.w_out.as_mut_slice()],
                &[g.w_in.as_slice(), g.w_out.as_slice()],
                &[input, output],
                blocks,
                lr,
                threads,
            ),
        })
    }

    fn network(&self) -> Network<T> {
        self.net.clone()
    }

    fn weights(&self) -> Cow<'_, Network<T>> {
        Cow::Borrowed(&self.net)
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

impl<T: Real> CpuBackend<T> {
    /// The threads the backend runs on.
    pub fn threads(&self) -> &Threads {
        &self.threads
    }

    /// (gradient norm, parameter norm), as [`Grads::norm`] and [`Network::param_norm`] compute
    /// them (each tensor's sum of squares by `sum_sq`'s fixed order, the tensors' sums in tensor
    /// order), the tensors' sums on the backend's threads.
    fn norms(&self) -> (f64, f64) {
        let (g, w) = (&self.grads, &self.net);
        // (gradient, weight) pairs of the same shape, one task per pair.
        let pairs: [Option<TensorPair<'_, T>>; 3] = [
            Some((g.w_in.as_slice(), w.w_in.as_slice())),
            Some((g.w_out.as_slice(), w.w_out.as_slice())),
            g.w_in_y
                .as_ref()
                .zip(w.w_in_y.as_ref())
                .map(|(a, b)| (a.as_slice(), b.as_slice())),
        ];
        let mut sums = [(0.0f64, 0.0f64); 3];
        let run = |(s, t): (&mut (f64, f64), &Option<TensorPair<'_, T>>)| {
            if let Some((a, b)) = t {
                *s = (sum_sq(a), sum_sq(b));
            }
        };
        if self.threads.parallel() {
            use rayon::prelude::*;
            self.threads
                .install(|| sums.par_iter_mut().zip(pairs.par_iter()).for_each(run));
        } else {
            sums.iter_mut().zip(pairs.iter()).for_each(run);
        }
        // Added in tensor order, as Grads::norm and Network::param_norm add them.
        let third = pairs[2].is_some();
        let total = |f: fn(&(f64, f64)) -> f64| {
            let mut v = f(&sums[0]) + f(&sums[1]);
            if third {
                v += f(&sums[2]);
            }
            v.sqrt()
        };
        (total(|s| s.0), total(|s| s.1))
    }
}

/// A gradient and the weights of the same shape.
type TensorPair<'a, T> = (&'a [T], &'a [T]);

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
