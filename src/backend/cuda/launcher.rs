//! The orchestration shared by the device and the twin: which kernels run, in which order, on
//! which buffers, and how the statistics become [`EpochStats`].

use crate::backend::cuda::batch::{act_code, KernelBatch};
use crate::backend::cuda::buffers::{at, BufferOffset, KernelBuffer, PairSet};
use crate::backend::cuda::gemm::GemmCall;
use crate::backend::cuda::kernels::{
    AdamScalars, EpochStats, Kernels, OPT_BLOCKS, SLOT, STATS_BATCH,
};
use crate::backend::cuda::layout::Layout;
use crate::backend::StepStats;
use crate::error::{Error, Result};
use crate::numerics::activation::Activation;
use crate::numerics::grad::{Eval, Grads};
use crate::numerics::loss::Loss;
use crate::numerics::network::{Network, Tying};
use crate::numerics::optim::{AdamW, Optimizer, Sgd};
use crate::numerics::task::Split;
use nalgebra::DMatrix;
/// Host copy of the optimiser's hyper-parameters and step count.
#[derive(Clone, Copy, Debug, PartialEq)]
enum OptKind {
    Sgd {
        wd: f32,
    },
    Adamw {
        wd: f32,
        b1: f32,
        b2: f32,
        eps: f32,
        t: u64,
    },
}

fn opt_kind(opt: &Optimizer<f32>) -> OptKind {
    match opt {
        Optimizer::Sgd(s) => OptKind::Sgd { wd: s.weight_decay },
        Optimizer::Adamw(a) => OptKind::Adamw {
            wd: a.weight_decay,
            b1: a.beta1,
            b2: a.beta2,
            eps: a.eps,
            t: a.t,
        },
    }
}

/// The orchestration shared by the device and the twin: which kernels run, in which order, on
/// which buffers, and how the statistics become [`EpochStats`].
pub(crate) struct StepLauncher<K: Kernels> {
    pub(crate) lay: Layout,
    opt: OptKind,
    pub(crate) k: K,
    /// Host copies of the batches, for [`StepLauncher::correct_grid`].
    host_train: crate::numerics::batch::Batch<f32>,
    host_test: Option<crate::numerics::batch::Batch<f32>>,
}

/// What an executor needs to allocate and fill its buffers.
pub(crate) struct Setup<'a> {
    pub(crate) lay: &'a Layout,
    pub(crate) train: &'a KernelBatch,
    pub(crate) test: Option<&'a KernelBatch>,
    pub(crate) params: Vec<f32>,
    /// AdamW moments (concatenated), or `None` for SGD.
    pub(crate) adam: Option<(Vec<f32>, Vec<f32>)>,
}

impl<K: Kernels> StepLauncher<K> {
    /// Prepares the batches and hands them to `make` to build the executor.
    pub(crate) fn new(
        net: Network<f32>,
        act: Activation,
        loss: Loss,
        split: &Split,
        opt: Optimizer<f32>,
        make: impl FnOnce(&Setup) -> Result<K>,
    ) -> Result<Self> {
        if split.train.is_empty() {
            return Err(Error::EmptyPairs {
                what: "training set",
            });
        }
        if split.p != net.p {
            return Err(Error::Shape {
                what: "split".into(),
                found: format!("p = {}", split.p),
                expected: format!("p = {} (the network's)", net.p),
            });
        }
        let (p, tying) = (net.p, net.tying());
        let train = KernelBatch::new(&split.train, p, tying, loss);
        let test = (!split.full && !split.test.is_empty())
            .then(|| KernelBatch::new(&split.test, p, tying, loss));
        let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
        let lay = Layout {
            p,
            width: net.width(),
            tying,
            act,
            loss,
            sizes,
            train: (train.rows, train.n),
            test: test.as_ref().map(|t| (t.rows, t.n)),
        };
        let adam = match &opt {
            Optimizer::Adamw(a) => {
                check_moments(&lay, a)?;
                Some((a.m.concat(), a.v.concat()))
            }
            Optimizer::Sgd(_) => None,
        };
        let k = make(&Setup {
            lay: &lay,
            train: &train,
            test: test.as_ref(),
            params: net.param_slices().concat(),
            adam,
        })?;
        Ok(StepLauncher {
            lay,
            opt: opt_kind(&opt),
            k,
            host_train: crate::numerics::batch::Batch::new(&split.train, tying),
            host_test: (!split.full && !split.test.is_empty())
                .then(|| crate::numerics::batch::Batch::new(&split.test, tying)),
        })
    }

    fn stats_at(slot: usize, field: usize) -> BufferOffset {
        at(KernelBuffer::Stats, slot * SLOT + field)
    }

    /// First layer, logits and loss of a batch; loss and correct sums into `stats[slot][field..]`.
    fn forward(&mut self, sel: PairSet, want_grad: bool, slot: usize, field: usize) -> Result<()> {
        let lay = &self.lay;
        let rows = match sel {
            PairSet::Train => lay.train.0,
            PairSet::Test => lay.test.expect("test batch").0,
        };
        let w_x = at(KernelBuffer::Params, 0);
        let w_y = match lay.tying {
            Tying::Tied => w_x,
            Tying::Untied => at(KernelBuffer::Params, lay.sizes[0] + lay.sizes[1]),
        };
        let kind = match lay.loss {
            Loss::CeMean | Loss::CeSum => 0,
            Loss::Mse => 1,
        };
        let (p, width, act) = (lay.p, lay.width, act_code(lay.act));
        let call = lay.logits_gemm(rows);
        self.k
            .first_layer(w_x, w_y, sel, rows, width, act, want_grad)?;
        // A split logits product is summed by the loss kernel itself (one launch fewer).
        let parts = self.gemm_parts(&call)?;
        self.k.loss_rows(sel, rows, p, kind, want_grad, parts)?;
        self.k.reduce2(
            at(KernelBuffer::RowLoss, 0),
            at(KernelBuffer::RowCorrect, 0),
            rows,
            Self::stats_at(slot, field),
        )
    }

    /// One product, split along k by [`GemmCall::split_plan`] into the SplitK workspace and
    /// summed into C when that pays.
    fn run_gemm(&mut self, call: &GemmCall) -> Result<()> {
        match self.gemm_parts(call)? {
            None => Ok(()),
            Some((ws, splits, stride)) => {
                self.k
                    .sum_splits(ws, splits, stride, call.nr * call.nc, call.c)
            }
        }
    }

    /// Runs a product; unsplit it lands in C (`None`), split it leaves its partials in the
    /// SplitK workspace: `Some((workspace, splits, stride))` for the caller to sum.
    fn gemm_parts(&mut self, call: &GemmCall) -> Result<Option<(BufferOffset, usize, usize)>> {
        let (kchunk, splits) = call.split_plan();
        if splits == 1 {
            self.k.gemm(call)?;
            return Ok(None);
        }
        let n = call.nr * call.nc;
        let split = GemmCall {
            c: at(KernelBuffer::SplitK, 0),
            ldc: call.nc,
            kchunk,
            splits,
            split_stride: n,
            ..*call
        };
        self.k.gemm(&split)?;
        Ok(Some((at(KernelBuffer::SplitK, 0), splits, n)))
    }

    /// The backward pass into Grads (after `forward(Train, true, ..)`).
    fn backward(&mut self) -> Result<()> {
        let (c1, c2) = (self.lay.grad_out_gemm(), self.lay.grad_h_gemm());
        self.run_gemm(&c1)?;
        self.run_gemm(&c2)?;
        let (p, width, s) = (self.lay.p, self.lay.width, self.lay.sizes.clone());
        self.k
            .scatter_first(0, width, p, at(KernelBuffer::Grads, 0))?;
        if self.lay.tying == Tying::Untied {
            self.k
                .scatter_first(1, width, p, at(KernelBuffer::Grads, s[0] + s[1]))?;
        }
        Ok(())
    }

    /// Forward, backward and update with learning rate `lr`; scalars into stats slot `slot`.
    pub(crate) fn queue_step(&mut self, lr: f32, slot: usize) -> Result<()> {
        self.forward(PairSet::Train, true, slot, 0)?;
        self.backward()?;
        self.queue_update(lr, slot)
    }

    /// The optimiser update from the gradient in `Grads` (its kernel also sums the parameter
    /// and gradient squares of the pre-update state into stats slot `slot`).
    fn queue_update(&mut self, lr: f32, slot: usize) -> Result<()> {
        let n = self.lay.total();
        match &mut self.opt {
            OptKind::Sgd { wd } => {
                let wd = *wd;
                self.k.sgd_step(n, lr, wd)?;
            }
            OptKind::Adamw { wd, b1, b2, eps, t } => {
                // Exactly the f32 scalars of src/optim.rs.
                *t += 1;
                let ti = *t as i32;
                let s = AdamScalars {
                    decay: 1.0f32 - lr * *wd,
                    b1: *b1,
                    b2: *b2,
                    step: lr / (1.0f32 - b1.powi(ti)),
                    bc2_sqrt: (1.0f32 - b2.powi(ti)).sqrt(),
                    eps: *eps,
                };
                self.k.adamw_step(n, s)?;
            }
        }
        self.k.reduce2(
            at(KernelBuffer::Partial, 0),
            at(KernelBuffer::Partial, OPT_BLOCKS),
            OPT_BLOCKS,
            Self::stats_at(slot, 2),
        )
    }

    /// The measuring half of a step for observers ([`Backend::measure`](crate::backend::Backend::measure)): forward and backward
    /// on the device, the gradient left in `Grads` for [`StepLauncher::update`]; the norms are summed
    /// on the host from the downloaded f32 values (as the CPU backend sums them).
    pub(crate) fn measure(&mut self) -> Result<StepStats> {
        let (train, g) = self.loss_and_grad()?;
        let net = self.network()?;
        Ok(StepStats {
            train,
            grad_norm: g.norm(),
            param_norm: net.param_norm(),
        })
    }

    /// The updating half: one optimiser step from the gradient of the last `measure`.
    pub(crate) fn update(&mut self, lr: f32) -> Result<()> {
        self.k.begin()?;
        self.queue_update(lr, 0)?;
        self.k.read_stats(SLOT)?;
        Ok(())
    }

    /// The correctness grid of the current weights (evaluated on the host: only observers
    /// that record pair classes ask for it).
    pub(crate) fn correct_grid(&self, grid: &mut Vec<bool>) -> Result<()> {
        let net = self.network()?;
        crate::backend::cpu::grid_by_evaluation(
            &net,
            self.lay.act,
            self.lay.loss,
            &self.host_train,
            self.host_test.as_ref(),
            grid,
        );
        Ok(())
    }

    fn eval_of(&self, rows_n: (usize, usize), loss_sum: f64, correct: f64) -> Eval {
        Eval {
            loss: loss_sum * self.lay.loss.normalisation(rows_n.1),
            accuracy: correct / rows_n.1 as f64,
        }
    }

    fn stats_of(&self, s: &[f64]) -> EpochStats {
        EpochStats {
            test: self.lay.test.map(|t| self.eval_of(t, s[4], s[5])),
            step: StepStats {
                train: self.eval_of(self.lay.train, s[0], s[1]),
                param_norm: s[2].sqrt(),
                grad_norm: s[3].sqrt(),
            },
        }
    }

    pub(crate) fn run_epochs(&mut self, lrs: &[f32]) -> Result<Vec<EpochStats>> {
        self.k.begin()?;
        let mut out = Vec::with_capacity(lrs.len());
        for chunk in lrs.chunks(STATS_BATCH) {
            for (slot, &lr) in chunk.iter().enumerate() {
                if self.lay.test.is_some() {
                    self.forward(PairSet::Test, false, slot, 4)?;
                }
                self.queue_step(lr, slot)?;
            }
            let s = self.k.read_stats(SLOT * chunk.len())?;
            out.extend(s.chunks(SLOT).map(|x| self.stats_of(x)));
        }
        Ok(out)
    }

    pub(crate) fn step(&mut self, lr: f32) -> Result<StepStats> {
        self.k.begin()?;
        self.queue_step(lr, 0)?;
        let s = self.k.read_stats(SLOT)?;
        Ok(self.stats_of(&s).step)
    }

    pub(crate) fn eval(&mut self, sel: PairSet) -> Result<Option<Eval>> {
        self.k.begin()?;
        let rn = match sel {
            PairSet::Train => self.lay.train,
            PairSet::Test => match self.lay.test {
                Some(t) => t,
                None => return Ok(None),
            },
        };
        self.forward(sel, false, 0, 4)?;
        let s = self.k.read_stats(SLOT)?;
        Ok(Some(self.eval_of(rn, s[4], s[5])))
    }

    pub(crate) fn loss_and_grad(&mut self) -> Result<(Eval, Grads<f32>)> {
        self.k.begin()?;
        self.forward(PairSet::Train, true, 0, 0)?;
        self.backward()?;
        let s = self.k.read_stats(SLOT)?;
        let g = self.unflatten(&self.k.read_f32(KernelBuffer::Grads, self.lay.total())?)?;
        Ok((
            self.eval_of(self.lay.train, s[0], s[1]),
            Grads {
                w_in: g.w_in,
                w_out: g.w_out,
                w_in_y: g.w_in_y,
            },
        ))
    }

    fn unflatten(&self, v: &[f32]) -> Result<Network<f32>> {
        let (p, m) = (self.lay.p, self.lay.width);
        let (a, rest) = v.split_at(self.lay.sizes[0]);
        let (b, c) = rest.split_at(self.lay.sizes[1]);
        Network::new(
            DMatrix::from_column_slice(m, p, a),
            DMatrix::from_column_slice(p, m, b),
            (!c.is_empty()).then(|| DMatrix::from_column_slice(m, p, c)),
        )
    }

    fn split_tensors(&self, v: Vec<f32>) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        let mut i = 0;
        for &n in &self.lay.sizes {
            out.push(v[i..i + n].to_vec());
            i += n;
        }
        out
    }

    pub(crate) fn network(&self) -> Result<Network<f32>> {
        self.k.begin()?;
        self.unflatten(&self.k.read_f32(KernelBuffer::Params, self.lay.total())?)
    }

    pub(crate) fn optimizer(&self) -> Result<Optimizer<f32>> {
        self.k.begin()?;
        Ok(match self.opt {
            OptKind::Sgd { wd } => Optimizer::Sgd(Sgd { weight_decay: wd }),
            OptKind::Adamw { wd, b1, b2, eps, t } => {
                let n = self.lay.total();
                Optimizer::Adamw(AdamW {
                    weight_decay: wd,
                    beta1: b1,
                    beta2: b2,
                    eps,
                    t,
                    m: self.split_tensors(self.k.read_f32(KernelBuffer::AdamM, n)?),
                    v: self.split_tensors(self.k.read_f32(KernelBuffer::AdamV, n)?),
                })
            }
        })
    }

    pub(crate) fn set_state(&mut self, net: Network<f32>, opt: Optimizer<f32>) -> Result<()> {
        self.k.begin()?;
        let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
        if sizes != self.lay.sizes || net.p != self.lay.p {
            return Err(Error::Shape {
                what: "network given to the CUDA backend".into(),
                found: format!("p = {}, tensor sizes {sizes:?}", net.p),
                expected: format!("p = {}, tensor sizes {:?}", self.lay.p, self.lay.sizes),
            });
        }
        let was_adam = matches!(self.opt, OptKind::Adamw { .. });
        if was_adam != matches!(opt, Optimizer::Adamw(_)) {
            return Err(Error::Shape {
                what: "optimiser given to the CUDA backend".into(),
                found: if was_adam { "sgd" } else { "adamw" }.into(),
                expected: if was_adam { "adamw" } else { "sgd" }.into(),
            });
        }
        if let Optimizer::Adamw(a) = &opt {
            check_moments(&self.lay, a)?;
        }
        self.k
            .write_f32(KernelBuffer::Params, &net.param_slices().concat())?;
        if let Optimizer::Adamw(a) = &opt {
            self.k.write_f32(KernelBuffer::AdamM, &a.m.concat())?;
            self.k.write_f32(KernelBuffer::AdamV, &a.v.concat())?;
        }
        self.opt = opt_kind(&opt);
        Ok(())
    }
}

fn check_moments(lay: &Layout, a: &AdamW<f32>) -> Result<()> {
    let ms: Vec<usize> = a.m.iter().map(|v| v.len()).collect();
    let vs: Vec<usize> = a.v.iter().map(|v| v.len()).collect();
    if ms != lay.sizes || vs != lay.sizes {
        return Err(Error::Shape {
            what: "AdamW moments".into(),
            found: format!("{ms:?} and {vs:?}"),
            expected: format!("{:?}", lay.sizes),
        });
    }
    Ok(())
}
