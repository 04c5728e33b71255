//! Optimisers with PyTorch's semantics, and learning-rate schedules.
//!
//! One update is [`Optimizer::step`]: it reads the gradients and a learning rate and changes
//! the parameters in place. The loop that drives it lives in `train`.
//!
//! # SGD (no momentum; weight decay as L2 added to the gradient, like `torch.optim.SGD`)
//! ```text
//! w <- w - lr * (g + wd * w)
//! ```
//! # AdamW (`torch.optim.AdamW`, bias correction on, amsgrad off)
//! ```text
//! t <- t + 1
//! w <- w * (1 - lr * wd)                       (decoupled weight decay, before the Adam step)
//! m <- b1 m + (1 - b1) g
//! v <- b2 v + (1 - b2) g^2
//! w <- w - (lr / (1 - b1^t)) * m / ( sqrt(v) / sqrt(1 - b2^t) + eps )
//! ```
//! The moments advance on every call, also when the learning rate is 0 (as in PyTorch, which
//! matters for the reference warm-up, whose first update has lr 0).
//!
//! # Schedules
//! [`Schedule::Constant`], or the reference warm-up [`Schedule::Warmup`]:
//! `lr_s = lr * min(s / N, 1)` where s = the number of updates already taken (so s = 0, the first
//! update, has lr 0); the reference uses N = 10.

use crate::error::{positive, Error, Result};
use crate::numerics::parallel::{block, SharedMut, Threads};
use crate::numerics::real::Real;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// The optimisers by name (`adamw`, `sgd`), without their hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerKind {
    /// AdamW ([`OptimizerConfig::adamw`]).
    #[value(alias = "adam-w")]
    Adamw,
    /// SGD without momentum.
    Sgd,
}

/// Which optimiser, with its hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OptimizerConfig {
    /// Plain SGD with L2 weight decay.
    Sgd {
        /// L2 weight decay, added to the gradient.
        weight_decay: f64,
    },
    /// AdamW with decoupled weight decay.
    Adamw {
        /// Decoupled weight decay.
        weight_decay: f64,
        /// Decay of the first moment.
        beta1: f64,
        /// Decay of the second moment.
        beta2: f64,
        /// Added to the denominator.
        eps: f64,
    },
}

impl OptimizerConfig {
    /// AdamW with the reference's betas (0.9, 0.98) and eps 1e-8.
    pub fn adamw(weight_decay: f64) -> Self {
        OptimizerConfig::Adamw {
            weight_decay,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-8,
        }
    }

    /// `sgd` or `adamw`.
    pub fn name(&self) -> &'static str {
        match self {
            OptimizerConfig::Sgd { .. } => "sgd",
            OptimizerConfig::Adamw { .. } => "adamw",
        }
    }

    /// The weight decay.
    pub fn weight_decay(&self) -> f64 {
        match *self {
            OptimizerConfig::Sgd { weight_decay } | OptimizerConfig::Adamw { weight_decay, .. } => {
                weight_decay
            }
        }
    }

    /// The same optimiser with another weight decay.
    pub fn with_weight_decay(self, wd: f64) -> Self {
        match self {
            OptimizerConfig::Sgd { .. } => OptimizerConfig::Sgd { weight_decay: wd },
            OptimizerConfig::Adamw {
                beta1, beta2, eps, ..
            } => OptimizerConfig::Adamw {
                weight_decay: wd,
                beta1,
                beta2,
                eps,
            },
        }
    }

    /// The optimiser `kind` (AdamW with the reference's betas) with the given weight decay.
    pub fn of_kind(kind: OptimizerKind, weight_decay: f64) -> Self {
        match kind {
            OptimizerKind::Sgd => OptimizerConfig::Sgd { weight_decay },
            OptimizerKind::Adamw => OptimizerConfig::adamw(weight_decay),
        }
    }

    /// Checks the hyper-parameters: weight decay finite and >= 0, betas in [0, 1), eps > 0.
    pub fn validate(&self) -> Result<()> {
        crate::error::non_negative("weight decay", self.weight_decay())?;
        if let OptimizerConfig::Adamw {
            beta1, beta2, eps, ..
        } = *self
        {
            for (name, b) in [("beta1", beta1), ("beta2", beta2)] {
                if !(b.is_finite() && (0.0..1.0).contains(&b)) {
                    return Err(Error::InvalidParameter {
                        name,
                        value: b,
                        expected: "a number in [0, 1)",
                    });
                }
            }
            positive("eps", eps)?;
        }
        Ok(())
    }

    /// A fresh optimiser for parameters of the given tensor sizes.
    pub fn build<T: Real>(&self, sizes: &[usize]) -> Result<Optimizer<T>> {
        self.validate()?;
        Ok(match *self {
            OptimizerConfig::Sgd { weight_decay } => Optimizer::Sgd(Sgd {
                weight_decay: T::of(weight_decay),
            }),
            OptimizerConfig::Adamw {
                weight_decay,
                beta1,
                beta2,
                eps,
            } => Optimizer::Adamw(AdamW::new(weight_decay, beta1, beta2, eps, sizes)),
        })
    }
}

/// SGD state (none beyond the weight decay).
#[derive(Clone, Debug, PartialEq)]
pub struct Sgd<T: Real> {
    /// L2 weight decay added to the gradient.
    pub weight_decay: T,
}

/// AdamW state: first and second moments per tensor and the step count.
#[derive(Clone, Debug, PartialEq)]
pub struct AdamW<T: Real> {
    /// Decoupled weight decay.
    pub weight_decay: T,
    /// beta1.
    pub beta1: T,
    /// beta2.
    pub beta2: T,
    /// eps.
    pub eps: T,
    /// Number of steps taken (t).
    pub t: u64,
    /// First moments, one vector per tensor.
    pub m: Vec<Vec<T>>,
    /// Second moments, one vector per tensor.
    pub v: Vec<Vec<T>>,
}

impl<T: Real> AdamW<T> {
    /// Zero moments for tensors of the given sizes.
    pub fn new(weight_decay: f64, beta1: f64, beta2: f64, eps: f64, sizes: &[usize]) -> Self {
        AdamW {
            weight_decay: T::of(weight_decay),
            beta1: T::of(beta1),
            beta2: T::of(beta2),
            eps: T::of(eps),
            t: 0,
            m: sizes.iter().map(|&n| vec![T::zero(); n]).collect(),
            v: sizes.iter().map(|&n| vec![T::zero(); n]).collect(),
        }
    }
}

/// An optimiser with its state.
#[derive(Clone, Debug, PartialEq)]
pub enum Optimizer<T: Real> {
    /// See [`Sgd`].
    Sgd(Sgd<T>),
    /// See [`AdamW`].
    Adamw(AdamW<T>),
}

impl<T: Real> Optimizer<T> {
    /// One update of every tensor in `params` from the matching `grads` (see module docs).
    ///
    /// # Panics
    /// If the tensor count or sizes differ from those the optimiser was built for.
    pub fn step(&mut self, params: &mut [&mut [T]], grads: &[&[T]], lr: T) {
        self.step_on(params, grads, lr, &Threads::single());
    }

    /// [`Optimizer::step`] on the given threads: the update is elementwise, so each thread
    /// takes blocks of elements and the result is the same for any thread count.
    ///
    /// # Panics
    /// As [`Optimizer::step`].
    pub fn step_on(&mut self, params: &mut [&mut [T]], grads: &[&[T]], lr: T, threads: &Threads) {
        assert_eq!(params.len(), grads.len(), "optimizer: tensor count");
        // Elements per block of the parallel update: four blocks per thread, none smaller than
        // MIN (a task must amortise its hand-over).
        const MIN: usize = 2048;
        let block = |len: usize| (len.div_ceil(4 * threads.count())).max(MIN);
        match self {
            Optimizer::Sgd(s) => {
                let wd = s.weight_decay;
                for (w, g) in params.iter_mut().zip(grads) {
                    assert_eq!(w.len(), g.len(), "optimizer: tensor size");
                    let run = |(w, g): (&mut [T], &[T])| sgd_update(w, g, lr, wd);
                    if threads.parallel() && w.len() > MIN {
                        let b = block(w.len());
                        threads.install(|| w.par_chunks_mut(b).zip(g.par_chunks(b)).for_each(run));
                    } else {
                        run((w, g));
                    }
                }
            }
            Optimizer::Adamw(a) => {
                assert_eq!(params.len(), a.m.len(), "optimizer: tensor count");
                let k = a.begin_step(lr);
                for (i, (w, g)) in params.iter_mut().zip(grads).enumerate() {
                    assert_eq!(w.len(), g.len(), "optimizer: tensor size");
                    let (m, v) = (&mut a.m[i], &mut a.v[i]);
                    assert_eq!(w.len(), m.len(), "optimizer: tensor size");
                    let run = |(((w, g), m), v): AdamBlock<'_, T>| adamw_update(w, g, m, v, &k);
                    if threads.parallel() && w.len() > MIN {
                        let b = block(w.len());
                        threads.install(|| {
                            w.par_chunks_mut(b)
                                .zip(g.par_chunks(b))
                                .zip(m.par_chunks_mut(b))
                                .zip(v.par_chunks_mut(b))
                                .for_each(run)
                        });
                    } else {
                        run((((w, g), m), v));
                    }
                }
            }
        }
    }

    /// [`Optimizer::step_on`] split by blocks of neurons instead of blocks of elements: the
    /// block `m0..m0+n` of every tensor (`shapes[i]` says where neuron m's elements lie) is
    /// updated by one task, blocks of `mb` neurons: the CPU backend gives those of the fused
    /// backward kernels ([`crate::numerics::fused::neuron_block`]), so each thread updates the
    /// weights whose
    /// gradients it computed and lays them out again in the next step (at p = 23 the update
    /// is a few microseconds, and fetching the other core's lines was most of it). Elementwise:
    /// the same bits as [`Optimizer::step`].
    ///
    /// # Panics
    /// As [`Optimizer::step`], if a tensor's length is not `shapes[i].len(width)`, or for more
    /// than [`MAX_TENSORS`] tensors.
    pub fn step_by_neurons(
        &mut self,
        params: &mut [&mut [T]],
        grads: &[&[T]],
        shapes: &[NeuronRuns],
        (width, mb): (usize, usize),
        lr: T,
        threads: &Threads,
    ) {
        assert!(
            params.len() == grads.len() && params.len() == shapes.len(),
            "optimizer: tensor count"
        );
        for ((w, g), sh) in params.iter().zip(grads).zip(shapes) {
            assert!(
                w.len() == g.len() && w.len() == sh.len(width),
                "optimizer: tensor size"
            );
        }
        // The tensors' pointers in stack arrays: no allocation per step.
        assert!(
            params.len() <= MAX_TENSORS,
            "optimizer: at most {MAX_TENSORS} tensors"
        );
        let mut w = [SharedMut::null(); MAX_TENSORS];
        for (d, p) in w.iter_mut().zip(params.iter_mut()) {
            *d = SharedMut::new(p);
        }
        let mut mv = [(SharedMut::null(), SharedMut::null()); MAX_TENSORS];
        let kind = match self {
            Optimizer::Sgd(s) => Err(s.weight_decay),
            Optimizer::Adamw(a) => {
                assert_eq!(params.len(), a.m.len(), "optimizer: tensor count");
                for (w, (m, v)) in params.iter().zip(a.m.iter().zip(&a.v)) {
                    assert!(
                        m.len() == w.len() && v.len() == w.len(),
                        "optimizer: tensor size"
                    );
                }
                for (d, (m, v)) in mv.iter_mut().zip(a.m.iter_mut().zip(a.v.iter_mut())) {
                    *d = (SharedMut::new(m), SharedMut::new(v));
                }
                Ok(a.begin_step(lr))
            }
        };
        let mb = mb.max(1);
        let run = |b: usize| {
            let (m0, n) = block(width, mb, b);
            for (i, sh) in shapes.iter().enumerate() {
                for r in 0..sh.runs {
                    let (off, len) = (r * sh.stride + m0 * sh.unit, n * sh.unit);
                    let g = &grads[i][off..off + len];
                    // SAFETY: block b touches only its neurons' elements (off..off+len of each
                    // run), disjoint from the other blocks' and inside the tensor (its length
                    // asserted above); the moments have the tensor's length (asserted too).
                    unsafe {
                        let w = std::slice::from_raw_parts_mut(w[i].get().add(off), len);
                        match &kind {
                            Err(wd) => sgd_update(w, g, lr, *wd),
                            Ok(k) => {
                                let m = std::slice::from_raw_parts_mut(mv[i].0.get().add(off), len);
                                let v = std::slice::from_raw_parts_mut(mv[i].1.get().add(off), len);
                                adamw_update(w, g, m, v, k)
                            }
                        }
                    }
                }
            }
        };
        let blocks = width.div_ceil(mb);
        if threads.parallel() && blocks > 1 {
            threads.install(|| (0..blocks).into_par_iter().for_each(run));
        } else {
            (0..blocks).for_each(run);
        }
    }

    /// Number of updates taken (AdamW's t; SGD keeps no count and returns `None`).
    pub fn steps(&self) -> Option<u64> {
        match self {
            Optimizer::Sgd(_) => None,
            Optimizer::Adamw(a) => Some(a.t),
        }
    }
}

/// The constants of one AdamW update (module docs).
/// Where a tensor's elements lie by neuron ([`Optimizer::step_by_neurons`]): `runs` runs
/// `stride` apart, neuron m owning elements `m * unit .. (m + 1) * unit` of each run. W_in
/// (M x p column-major) is p runs of stride M with unit 1; W_out (p x M column-major) is one
/// run with unit p.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeuronRuns {
    /// Number of runs.
    pub runs: usize,
    /// Elements per neuron in a run.
    pub unit: usize,
    /// Distance between runs.
    pub stride: usize,
}

impl NeuronRuns {
    /// An input layer (W_in, W_in_y: M x p column-major): p runs of `width`, one element per
    /// neuron in each.
    pub fn input(p: usize, width: usize) -> Self {
        NeuronRuns {
            runs: p,
            unit: 1,
            stride: width,
        }
    }

    /// The output layer (W_out: p x M column-major): one run, p elements per neuron.
    pub fn output(p: usize) -> Self {
        NeuronRuns {
            runs: 1,
            unit: p,
            stride: 0,
        }
    }

    /// The tensor's length for `width` neurons.
    pub fn len(&self, width: usize) -> usize {
        if self.runs == 0 {
            0
        } else {
            (self.runs - 1) * self.stride + width * self.unit
        }
    }
}

/// The most tensors [`Optimizer::step_by_neurons`] takes (W_in, W_out, W_in_y and one spare).
pub const MAX_TENSORS: usize = 4;

impl<T: Real> AdamW<T> {
    /// Counts the step (t += 1) and returns its constants for learning rate `lr`.
    fn begin_step(&mut self, lr: T) -> AdamConsts<T> {
        self.t += 1;
        let t = self.t as i32;
        let one = T::one();
        AdamConsts {
            b1: self.beta1,
            b2: self.beta2,
            eps: self.eps,
            bc2_sqrt: (one - self.beta2.powi(t)).sqrt(),
            step: lr / (one - self.beta1.powi(t)),
            decay: one - lr * self.weight_decay,
        }
    }
}

struct AdamConsts<T> {
    b1: T,
    b2: T,
    eps: T,
    /// sqrt(1 - b2^t).
    bc2_sqrt: T,
    /// lr / (1 - b1^t).
    step: T,
    /// 1 - lr wd.
    decay: T,
}

/// One block of (weights, gradients, first moments, second moments), as zipped by the
/// parallel update.
type AdamBlock<'a, T> = (((&'a mut [T], &'a [T]), &'a mut [T]), &'a mut [T]);

/// The AdamW update of one block of elements: compiled for AVX-512F too and run so where the
/// CPU has it (see [`crate::numerics::fused::wide`]); the same operations on each element
/// either way, so the same bits.
fn adamw_update<T: Real>(w: &mut [T], g: &[T], m: &mut [T], v: &mut [T], k: &AdamConsts<T>) {
    crate::numerics::fused::wide!(adamw_body(w, g, m, v, k))
}

#[inline(always)]
fn adamw_body<T: Real>(w: &mut [T], g: &[T], m: &mut [T], v: &mut [T], k: &AdamConsts<T>) {
    let one = T::one();
    let n = w.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    for i in 0..n {
        let gi = g[i];
        let wi = w[i] * k.decay;
        let mi = k.b1 * m[i] + (one - k.b1) * gi;
        let vi = k.b2 * v[i] + (one - k.b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = wi - k.step * mi / (vi.sqrt() / k.bc2_sqrt + k.eps);
    }
}

/// The SGD update of one block of elements (like [`adamw_update`], also in AVX-512F).
fn sgd_update<T: Real>(w: &mut [T], g: &[T], lr: T, wd: T) {
    crate::numerics::fused::wide!(sgd_body(w, g, lr, wd))
}

#[inline(always)]
fn sgd_body<T: Real>(w: &mut [T], g: &[T], lr: T, wd: T) {
    for (wi, &gi) in w.iter_mut().zip(g.iter()) {
        *wi = *wi - lr * (gi + wd * *wi);
    }
}

/// A learning-rate schedule: the rate for the update that follows `s` updates already taken.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Schedule {
    /// lr for every update.
    Constant,
    /// lr * min(s / steps, 1); the reference uses steps = 10.
    Warmup {
        /// Warm-up length N, in updates.
        steps: u64,
    },
}

impl Schedule {
    /// The learning rate of update number `s` (0-based: updates already taken).
    pub fn lr(&self, base: f64, s: u64) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::Warmup { steps: 0 } => base,
            Schedule::Warmup { steps } => base * (s as f64 / steps as f64).min(1.0),
        }
    }
}

impl crate::names::Named for OptimizerKind {
    const KIND: &'static str = "optimizer";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::parallel::block_size;

    /// The AVX-512 build of the updates (taken on a CPU with AVX-512F) gives the same bits as
    /// the baseline build of the same loop: each element sees the same IEEE operations.
    #[test]
    fn wide_updates_keep_the_bits() {
        let n = 1003;
        let val = |i: usize, s: f32| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * s;
        let k = AdamConsts::<f32> {
            decay: 0.999,
            b1: 0.9,
            b2: 0.98,
            step: 1e-3,
            bc2_sqrt: 0.3,
            eps: 1e-8,
        };
        let start = || {
            let w: Vec<f32> = (0..n).map(|i| val(i, 1.0)).collect();
            let g: Vec<f32> = (0..n).map(|i| val(i + 1, 0.1)).collect();
            let m: Vec<f32> = (0..n).map(|i| val(i + 2, 0.01)).collect();
            let v: Vec<f32> = (0..n).map(|i| val(i + 3, 0.001).abs()).collect();
            (w, g, m, v)
        };
        let (mut w1, g, mut m1, mut v1) = start();
        let (mut w2, _, mut m2, mut v2) = start();
        adamw_update(&mut w1, &g, &mut m1, &mut v1, &k);
        adamw_body(&mut w2, &g, &mut m2, &mut v2, &k);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&w1), bits(&w2));
        assert_eq!(bits(&m1), bits(&m2));
        assert_eq!(bits(&v1), bits(&v2));
        let (mut s1, mut s2) = (w1.clone(), w1.clone());
        sgd_update(&mut s1, &g, 0.1, 0.01);
        sgd_body(&mut s2, &g, 0.1, 0.01);
        assert_eq!(bits(&s1), bits(&s2));
        let sq = crate::numerics::network::sum_sq(&w1);
        let plain: f64 = {
            let mut s = [0.0f64; 8];
            for (i, x) in w1.iter().enumerate() {
                s[i % 8] += *x as f64 * *x as f64;
            }
            ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
        };
        assert_eq!(sq.to_bits(), plain.to_bits());
    }

    /// The update by neuron blocks touches every element once, with the same operations as
    /// the plain update: the same bits for W_in-, W_out- and W_in_y-shaped tensors, widths
    /// around the block multiples, 1 to 3 threads, AdamW (two steps, t counted once per step)
    /// and SGD. A block writing the wrong elements, or one twice, changes the bits.
    #[test]
    fn update_by_neuron_blocks_equals_the_plain_update() {
        let p = 7;
        for width in [1, 31, 32, 33, 100] {
            let (input, output) = (NeuronRuns::input(p, width), NeuronRuns::output(p));
            let shapes = [input, output, input];
            let n = p * width;
            let val = |i: usize, s: f32| ((i * 7919 % 1000) as f32 / 500.0 - 1.0) * s;
            let weights = || -> Vec<Vec<f32>> {
                (0..3)
                    .map(|t| (0..n).map(|i| val(i + 17 * t, 1.0)).collect())
                    .collect()
            };
            let grads: Vec<Vec<f32>> = (0..3)
                .map(|t| (0..n).map(|i| val(i + 5 + 31 * t, 0.1)).collect())
                .collect();
            let g: Vec<&[f32]> = grads.iter().map(|v| v.as_slice()).collect();
            for cfg in [
                OptimizerConfig::adamw(0.01),
                OptimizerConfig::Sgd { weight_decay: 0.1 },
            ] {
                let mut want = weights();
                let mut opt = cfg.build::<f32>(&[n, n, n]).unwrap();
                for _ in 0..2 {
                    let mut w: Vec<&mut [f32]> =
                        want.iter_mut().map(|v| v.as_mut_slice()).collect();
                    opt.step(&mut w, &g, 1e-2);
                }
                for threads in 1..=3 {
                    let t = Threads::new(threads).unwrap();
                    let mut got = weights();
                    let mut opt2 = cfg.build::<f32>(&[n, n, n]).unwrap();
                    for _ in 0..2 {
                        let mut w: Vec<&mut [f32]> =
                            got.iter_mut().map(|v| v.as_mut_slice()).collect();
                        opt2.step_by_neurons(
                            &mut w,
                            &g,
                            &shapes,
                            (width, block_size(width, threads, 32)),
                            1e-2,
                            &t,
                        );
                    }
                    assert_eq!(got, want, "width {width}, {threads} threads, {cfg:?}");
                    assert_eq!(opt2, opt, "state, width {width}, {threads} threads");
                }
            }
        }
    }
}
