//! The CPU twin of the CUDA backend: every kernel of `kernels/train_step.cu` as a Rust function
//! with the kernel's operations in the kernel's order, driven by the same orchestration
//! (the crate-private `StepLauncher` of [`super`]) as the device.
//!
//! Reductions follow the kernels' decomposition exactly: `reduce2` is 256 strided partial sums
//! followed by the halving tree; the optimiser kernels' norm partials come from
//! `OPT_BLOCKS x 256` grid-stride threads and a tree per block; the GEMM is one `fma` chain per
//! output over k in increasing order (the device's 16-wide k slices with zero padding append
//! exact `fma(0, 0, acc) = acc` steps, which change at most the sign of a zero). So the twin is
//! the device's numerical specification, runnable (slowly) without a GPU.
//!
//! Constants carry the same decimal digits as in the .cu file, so they round to the same f32.

#![allow(clippy::excessive_precision)]

use crate::backend::cuda::launcher::Setup;
#[cfg(feature = "kernel-emu")]
mod emu;

use crate::backend::cuda::batch::{act_code, KernelBatch};

use crate::backend::cuda::buffers::{BufferOffset, KernelBuffer, PairSet};

use crate::backend::cuda::gemm::GemmCall;

use crate::backend::cuda::kernels::{
    AdamScalars, EpochStats, Kernels, BLOCK, OPT_BLOCKS, SLOT, STATS_BATCH,
};

use crate::backend::cuda::launcher::StepLauncher;
use crate::backend::{Backend, StepStats};
use crate::error::Result;
use crate::numerics::activation::Activation;
use crate::numerics::grad::{Eval, Grads};
use crate::numerics::loss::Loss;
use crate::numerics::network::Network;
use crate::numerics::optim::Optimizer;
use crate::numerics::task::Split;

/// `expf_acc` of the kernels: exp(x) = 2^k exp(r), x = k ln2 + r, |r| <= ln2/2, with
/// exp(r) = 1 + r + r c / (2 - c), c = r - r^2 (P1 + r^2 P2) (within 1 ulp of exp).
pub fn expf_acc(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x > 88.722_839_355_468_75_f32 {
        return f32::INFINITY;
    }
    if x < -103.972_084_045_410_16_f32 {
        return 0.0;
    }
    const LN2_HI: f32 = 6.931_457_519_5e-1;
    const LN2_LO: f32 = 1.428_606_765_3e-6;
    const INV_LN2: f32 = 1.442_695_021_6;
    const P1: f32 = 1.666_662_544_0e-1;
    const P2: f32 = -2.766_733_290_6e-3;
    let kf = x * INV_LN2;
    let k = (if kf < 0.0 { kf - 0.5 } else { kf + 0.5 }) as i32;
    let hi = x - k as f32 * LN2_HI;
    let lo = k as f32 * LN2_LO;
    let r = hi - lo;
    let rr = r * r;
    let c = r - rr * (P1 + rr * P2);
    let y = 1.0f32 + ((r * c) / (2.0f32 - c) - lo + hi);
    if k < -125 {
        return (y * pow2i(k + 100)) * pow2i(-100);
    }
    if k > 127 {
        return (y * pow2i(k - 1)) * 2.0;
    }
    y * pow2i(k)
}

fn pow2i(k: i32) -> f32 {
    f32::from_bits(((k + 127) as u32) << 23)
}

/// `logf_acc` of the kernels: log(x) = k ln2 + log(1 + f), sqrt(1/2) <= 1 + f < sqrt(2),
/// log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f) (within 1 ulp of log).
pub fn logf_acc(x: f32) -> f32 {
    if x.is_nan() || x < 0.0 {
        return f32::NAN;
    }
    if x == 0.0 {
        return f32::NEG_INFINITY;
    }
    if x == f32::INFINITY {
        return x;
    }
    const LN2_HI: f32 = 6.931_381_225_6e-1;
    const LN2_LO: f32 = 9.058_000_614_5e-6;
    const LG1: f32 = 6.666_666_269_3e-1;
    const LG2: f32 = 4.000_097_215_2e-1;
    const LG3: f32 = 2.849_878_668_8e-1;
    const LG4: f32 = 2.427_907_884_1e-1;
    let mut k = 0i32;
    let mut ix = x.to_bits();
    if ix < 0x0080_0000 {
        k -= 25;
        ix = (x * 33_554_432.0).to_bits();
    }
    ix = ix.wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    k += (ix >> 23) as i32 - 127;
    ix = (ix & 0x007f_ffff) + 0x3f35_04f3;
    let f = f32::from_bits(ix) - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let t1 = w * (LG2 + w * LG4);
    let t2 = z * (LG1 + w * LG3);
    let r = t2 + t1;
    let hfsq = 0.5 * f * f;
    let dk = k as f32;
    s * (hfsq + r) + dk * LN2_LO - hfsq + f + dk * LN2_HI
}

/// `log1pf_acc` of the kernels: log(1 + t) = log(u) t / (u - 1), u = fl(1 + t) (t if u = 1).
pub fn log1pf_acc(t: f32) -> f32 {
    let u = 1.0f32 + t;
    if u == 1.0 {
        return t;
    }
    logf_acc(u) * (t / (u - 1.0))
}

/// `act_value` of the kernels (activation codes of [`act_code`]).
pub fn act_value(act: i32, u: f32) -> f32 {
    match act {
        0 => u * u,
        1 => {
            if u > 0.0 {
                u
            } else {
                0.0
            }
        }
        2 => {
            if u < 0.0 {
                -u
            } else {
                u
            }
        }
        3 => {
            let s = u * u;
            s * s
        }
        4 => {
            let s = u * u;
            let q = s * s;
            q * q
        }
        5 => {
            let t = u + u;
            let at = if t < 0.0 { -t } else { t };
            (if t > 0.0 { t } else { 0.0 }) + log1pf_acc(expf_acc(-at))
        }
        6 => expf_acc(u),
        7 => u,
        _ => u * u * u,
    }
}

/// `act_deriv` of the kernels.
pub fn act_deriv(act: i32, u: f32) -> f32 {
    match act {
        0 => 2.0 * u,
        1 => {
            if u > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        2 => {
            if u > 0.0 {
                1.0
            } else if u < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        3 => 2.0 * 2.0 * u * u * u,
        4 => {
            let s = u * u;
            let q = s * s;
            8.0 * q * s * u
        }
        5 => {
            let t = u + u;
            if t >= 0.0 {
                2.0 / (1.0 + expf_acc(-t))
            } else {
                let e = expf_acc(t);
                2.0 * e / (1.0 + e)
            }
        }
        6 => expf_acc(u),
        7 => 1.0,
        _ => 3.0 * u * u,
    }
}

/// `reduce2` of the kernels for one of its two sums: 256 threads, thread t sums `x[t]`,
/// `x[t + 256]`, ... in order, then the halving tree `s[t] += s[t + h]`, h = 128, 64, ..., 1.
pub fn reduce_fixed(x: &[f64]) -> f64 {
    let mut s = [0.0f64; BLOCK];
    for (t, st) in s.iter_mut().enumerate() {
        let mut a = 0.0;
        let mut i = t;
        while i < x.len() {
            a += x[i];
            i += BLOCK;
        }
        *st = a;
    }
    tree(&mut s)
}

fn tree(s: &mut [f64; BLOCK]) -> f64 {
    let mut h = BLOCK / 2;
    while h > 0 {
        for t in 0..h {
            s[t] += s[t + h];
        }
        h /= 2;
    }
    s[0]
}

/// The host buffers and the twin kernels.
pub struct HostKernels {
    params: Vec<f32>,
    grads: Vec<f32>,
    adam_m: Vec<f32>,
    adam_v: Vec<f32>,
    act: Vec<f32>,
    dh: Vec<f32>,
    z: Vec<f32>,
    splitk: Vec<f32>,
    row_loss: Vec<f64>,
    row_correct: Vec<f64>,
    partial: Vec<f64>,
    stats: Vec<f64>,
    train: KernelBatch,
    test: Option<KernelBatch>,
    /// Run the kernels of `train_step.cu` compiled for the host instead of the Rust twins.
    #[cfg(feature = "kernel-emu")]
    emulate: bool,
}

impl HostKernels {
    fn new(s: &Setup) -> Result<Self> {
        let lay = s.lay;
        let total = lay.sizes.iter().sum();
        let (m, v) = s.adam.clone().unwrap_or((vec![0.0; 1], vec![0.0; 1]));
        let rows_max = lay.rows_max();
        Ok(HostKernels {
            params: s.params.clone(),
            grads: vec![0.0; total],
            adam_m: m,
            adam_v: v,
            act: vec![0.0; rows_max * lay.width],
            dh: vec![0.0; lay.train.0 * lay.width],
            z: vec![0.0; rows_max * lay.p],
            splitk: vec![0.0; lay.split_len()],
            row_loss: vec![0.0; rows_max],
            row_correct: vec![0.0; rows_max],
            partial: vec![0.0; 2 * OPT_BLOCKS],
            stats: vec![0.0; SLOT * STATS_BATCH],
            train: s.train.clone(),
            test: s.test.cloned(),
            #[cfg(feature = "kernel-emu")]
            emulate: false,
        })
    }

    fn f32_buf(&self, b: KernelBuffer) -> &[f32] {
        match b {
            KernelBuffer::Params => &self.params,
            KernelBuffer::Grads => &self.grads,
            KernelBuffer::AdamM => &self.adam_m,
            KernelBuffer::AdamV => &self.adam_v,
            KernelBuffer::Act => &self.act,
            KernelBuffer::Dh => &self.dh,
            KernelBuffer::Z => &self.z,
            KernelBuffer::SplitK => &self.splitk,
            other => panic!("{other:?} is not an f32 buffer"),
        }
    }

    fn f32_buf_mut(&mut self, b: KernelBuffer) -> &mut Vec<f32> {
        match b {
            KernelBuffer::Params => &mut self.params,
            KernelBuffer::Grads => &mut self.grads,
            KernelBuffer::AdamM => &mut self.adam_m,
            KernelBuffer::AdamV => &mut self.adam_v,
            KernelBuffer::Act => &mut self.act,
            KernelBuffer::Dh => &mut self.dh,
            KernelBuffer::Z => &mut self.z,
            KernelBuffer::SplitK => &mut self.splitk,
            other => panic!("{other:?} is not an f32 buffer"),
        }
    }

    fn f64_buf(&self, b: KernelBuffer) -> &[f64] {
        match b {
            KernelBuffer::RowLoss => &self.row_loss,
            KernelBuffer::RowCorrect => &self.row_correct,
            KernelBuffer::Partial => &self.partial,
            KernelBuffer::Stats => &self.stats,
            other => panic!("{other:?} is not an f64 buffer"),
        }
    }

    fn batch(&self, sel: PairSet) -> &KernelBatch {
        match sel {
            PairSet::Train => &self.train,
            PairSet::Test => self.test.as_ref().expect("test batch"),
        }
    }

    /// Norm partials of the optimiser kernels: thread (b, t) covers i = b*256 + t + q*T,
    /// T = OPT_BLOCKS*256; per block a tree.
    fn norm_partials(&mut self, n: usize) {
        let threads = OPT_BLOCKS * BLOCK;
        for b in 0..OPT_BLOCKS {
            let mut sw = [0.0f64; BLOCK];
            let mut sg = [0.0f64; BLOCK];
            for t in 0..BLOCK {
                let (mut pw, mut pg) = (0.0f64, 0.0f64);
                let mut i = b * BLOCK + t;
                while i < n {
                    let (w, g) = (self.params[i] as f64, self.grads[i] as f64);
                    pw += w * w;
                    pg += g * g;
                    i += threads;
                }
                sw[t] = pw;
                sg[t] = pg;
            }
            self.partial[b] = tree(&mut sw);
            self.partial[OPT_BLOCKS + b] = tree(&mut sg);
        }
    }
}

impl Kernels for HostKernels {
    fn begin(&self) -> Result<()> {
        Ok(())
    }

    fn first_layer(
        &mut self,
        w_x: BufferOffset,
        w_y: BufferOffset,
        sel: PairSet,
        rows: usize,
        width: usize,
        act: i32,
        with_dh: bool,
    ) -> Result<()> {
        #[cfg(feature = "kernel-emu")]
        if self.emulate {
            return self.emu_first_layer(w_x, w_y, sel, rows, width, act, with_dh);
        }
        let b = self.batch(sel).clone();
        for r in 0..rows {
            for m in 0..width {
                let h = self.params[w_x.off + b.x[r] as usize * width + m]
                    + self.params[w_y.off + b.y[r] as usize * width + m];
                self.act[r * width + m] = act_value(act, h);
                if with_dh {
                    self.dh[r * width + m] = act_deriv(act, h);
                }
            }
        }
        Ok(())
    }

    fn gemm(&mut self, c: &GemmCall) -> Result<()> {
        #[cfg(feature = "kernel-emu")]
        if self.emulate {
            return self.emu_gemm(c);
        }
        let a = self.f32_buf(c.a.buf)[c.a.off..].to_vec();
        let b = self.f32_buf(c.b.buf)[c.b.off..].to_vec();
        let (coff, scale) = (c.c.off, c.scale_by_c);
        let out = self.f32_buf_mut(c.c.buf);
        for s in 0..c.splits {
            let (k0, k1) = (s * c.kchunk, ((s + 1) * c.kchunk).min(c.nk));
            let base = coff + s * c.split_stride;
            for i in 0..c.nr {
                for j in 0..c.nc {
                    let mut acc = 0.0f32;
                    for k in k0..k1 {
                        acc = a[i * c.sai + k * c.sak].mul_add(b[k * c.sbk + j * c.sbj], acc);
                    }
                    let o = &mut out[base + i * c.ldc + j];
                    *o = if scale { acc * *o } else { acc };
                }
            }
        }
        Ok(())
    }

    fn sum_splits(
        &mut self,
        ws: BufferOffset,
        splits: usize,
        stride: usize,
        n: usize,
        out: BufferOffset,
    ) -> Result<()> {
        #[cfg(feature = "kernel-emu")]
        if self.emulate {
            return self.emu_sum_splits(ws, splits, stride, n, out);
        }
        let w = self.f32_buf(ws.buf)[ws.off..].to_vec();
        let o = self.f32_buf_mut(out.buf);
        for e in 0..n {
            let mut acc = w[e];
            for s in 1..splits {
                acc += w[s * stride + e];
            }
            o[out.off + e] = acc;
        }
        Ok(())
    }

    // Over 80 lines: it mirrors the `loss_rows` kernel of kernels/train_step.cu statement by
    // statement (its thread and block decomposition included), so it stays one function as the
    // kernel is.
    fn loss_rows(
        &mut self,
        sel: PairSet,
        rows: usize,
        p: usize,
        kind: i32,
        want_grad: bool,
        parts: Option<(BufferOffset, usize, usize)>,
    ) -> Result<()> {
        #[cfg(feature = "kernel-emu")]
        if self.emulate {
            return self.emu_loss_rows(sel, rows, p, kind, want_grad, parts);
        }
        if let Some((ws, splits, stride)) = parts {
            let w = self.f32_buf(ws.buf)[ws.off..].to_vec();
            for e in 0..rows * p {
                let mut acc = w[e];
                for s in 1..splits {
                    acc += w[s * stride + e];
                }
                self.z[e] = acc;
            }
        }
        let b = self.batch(sel).clone();
        for r in 0..rows {
            let zr = &mut self.z[r * p..(r + 1) * p];
            let c = b.label[r] as usize;
            let w = b.weight[r] as f64;
            let mut best = 0;
            let mut nan = false;
            for j in 0..p {
                if zr[j].is_nan() {
                    nan = true;
                    break;
                }
                if zr[j] > zr[best] {
                    best = j;
                }
            }
            self.row_correct[r] = if !nan && best == c { w } else { 0.0 };
            let l: f64;
            if kind == 0 {
                let mut mx = f32::NEG_INFINITY;
                for &v in zr.iter() {
                    if v > mx {
                        mx = v;
                    }
                }
                if !(mx > f32::NEG_INFINITY && mx < f32::INFINITY) {
                    self.row_loss[r] = w * f32::NAN as f64;
                    if want_grad {
                        zr.iter_mut().for_each(|v| *v = f32::NAN);
                    }
                    continue;
                }
                let zc = zr[c];
                let mut s = 0.0f32;
                if want_grad {
                    for v in zr.iter_mut() {
                        let e = expf_acc(*v - mx);
                        *v = e;
                        s += e;
                    }
                    let inv = 1.0f32 / s;
                    let f = b.scale[r];
                    for (j, v) in zr.iter_mut().enumerate() {
                        let mut g = *v * inv;
                        if j == c {
                            g -= 1.0;
                        }
                        *v = g * f;
                    }
                } else {
                    for &v in zr.iter() {
                        s += expf_acc(v - mx);
                    }
                }
                l = (mx as f64 + logf_acc(s) as f64) - zc as f64;
            } else {
                let mut acc = 0.0f64;
                let f = if want_grad { b.scale[r] } else { 0.0 };
                for (j, v) in zr.iter_mut().enumerate() {
                    let dd = if j == c { *v - 1.0 } else { *v };
                    acc += dd as f64 * dd as f64;
                    if want_grad {
                        *v = (2.0 * dd) * f;
                    }
                }
                l = acc;
            }
            self.row_loss[r] = w * l;
        }
        Ok(())
    }

    fn reduce2(
        &mut self,
        x: BufferOffset,
        y: BufferOffset,
        n: usize,
        out: BufferOffset,
    ) -> Result<()> {
        #[cfg(feature = "kernel-emu")]
        if self.emulate {
            return self.emu_reduce2(x, y, n, out);
        }
        let sx = reduce_fixed(&self.f64_buf(x.buf)[x.off..x.off + n]);
        let sy = reduce_fixed(&self.f64_buf(y.buf)[y.off..y.off + n]);
        assert_eq!(out.buf, KernelBuffer::Stats, "reduce2 writes statistics");
        self.stats[out.off] = sx;
        self.stats[out.off + 1] = sy;
        Ok(())
    }

    fn scatter_first(
        &mut self,
        list: usize,
        width: usize,
        p: usize,
        g: BufferOffset,
    ) -> Result<()> {
        #[cfg(feature = "kernel-emu")]
        if self.emulate {
            return self.emu_scatter_first(list, width, p, g);
        }
        let (offs, rows) = &self.train.lists[list];
        assert_eq!(
            g.buf,
            KernelBuffer::Grads,
            "scatter_first writes the gradient"
        );
        for v in 0..p {
            for m in 0..width {
                let mut acc = 0.0f32;
                for &r in &rows[offs[v] as usize..offs[v + 1] as usize] {
                    acc += self.dh[r as usize * width + m];
                }
                self.grads[g.off + v * width + m] = acc;
            }
        }
        Ok(())
    }

    fn sgd_step(&mut self, n: usize, lr: f32, wd: f32) -> Result<()> {
        #[cfg(feature = "kernel-emu")]
        if self.emulate {
            return self.emu_sgd_step(n, lr, wd);
        }
        self.norm_partials(n);
        for i in 0..n {
            let (wi, gi) = (self.params[i], self.grads[i]);
            self.params[i] = wi - lr * (gi + wd * wi);
        }
        Ok(())
    }

    fn adamw_step(&mut self, n: usize, s: AdamScalars) -> Result<()> {
        #[cfg(feature = "kernel-emu")]
        if self.emulate {
            return self.emu_adamw_step(n, s);
        }
        self.norm_partials(n);
        let (one_b1, one_b2) = (1.0f32 - s.b1, 1.0f32 - s.b2);
        for i in 0..n {
            let (wi0, gi) = (self.params[i], self.grads[i]);
            let wi = wi0 * s.decay;
            let mi = s.b1 * self.adam_m[i] + one_b1 * gi;
            let vi = s.b2 * self.adam_v[i] + one_b2 * gi * gi;
            self.adam_m[i] = mi;
            self.adam_v[i] = vi;
            self.params[i] = wi - s.step * mi / (vi.sqrt() / s.bc2_sqrt + s.eps);
        }
        Ok(())
    }

    fn read_f32(&self, buf: KernelBuffer, len: usize) -> Result<Vec<f32>> {
        Ok(self.f32_buf(buf)[..len].to_vec())
    }

    fn write_f32(&mut self, buf: KernelBuffer, data: &[f32]) -> Result<()> {
        self.f32_buf_mut(buf)[..data.len()].copy_from_slice(data);
        Ok(())
    }

    fn read_stats(&self, len: usize) -> Result<Vec<f64>> {
        Ok(self.stats[..len].to_vec())
    }
}

/// The CUDA backend's step run on the host by the twin kernels: the device's specification.
/// Slow (naive loops); for tests at small sizes.
pub struct CudaTwin {
    e: StepLauncher<HostKernels>,
}

impl CudaTwin {
    /// Prepares the twin exactly as [`super::CudaBackend::new`] prepares the device.
    pub fn new(
        net: Network<f32>,
        act: Activation,
        loss: Loss,
        split: &Split,
        opt: Optimizer<f32>,
    ) -> Result<Self> {
        let _ = act_code(act);
        Ok(CudaTwin {
            e: StepLauncher::new(net, act, loss, split, opt, HostKernels::new)?,
        })
    }

    /// Like [`CudaTwin::new`], but each kernel runs as the C source of `kernels/train_step.cu`
    /// compiled for the host (feature `kernel-emu`: blocks in sequence, a block's threads as
    /// fibers that meet at each barrier), with the device's launch geometry. The kernels' own
    /// indexing and arithmetic are then tested without a GPU, against the Rust twins.
    #[cfg(feature = "kernel-emu")]
    pub fn new_emulated(
        net: Network<f32>,
        act: Activation,
        loss: Loss,
        split: &Split,
        opt: Optimizer<f32>,
    ) -> Result<Self> {
        Ok(CudaTwin {
            e: StepLauncher::new(net, act, loss, split, opt, |s| {
                let mut k = HostKernels::new(s)?;
                k.emulate = true;
                Ok(k)
            })?,
        })
    }

    /// As [`super::CudaBackend::run_epochs`].
    pub fn run_epochs(&mut self, lrs: &[f32]) -> Result<Vec<EpochStats>> {
        self.e.run_epochs(lrs)
    }

    /// As [`super::CudaBackend::loss_and_grad`].
    pub fn loss_and_grad(&mut self) -> Result<(Eval, Grads<f32>)> {
        self.e.loss_and_grad()
    }
}

impl Backend<f32> for CudaTwin {
    fn name(&self) -> &'static str {
        "cuda-twin"
    }
    fn eval_test(&mut self) -> Option<Eval> {
        self.e.eval(PairSet::Test).expect("host twin cannot fail")
    }
    fn eval_train(&mut self) -> Eval {
        self.e
            .eval(PairSet::Train)
            .expect("host twin cannot fail")
            .expect("training set present")
    }
    fn measure(&mut self) -> StepStats {
        self.e.measure().expect("host twin cannot fail")
    }
    fn update(&mut self, lr: f32) {
        self.e.update(lr).expect("host twin cannot fail")
    }
    fn step(&mut self, lr: f32) -> StepStats {
        self.e.step(lr).expect("host twin cannot fail")
    }
    fn correct_grid(&self, grid: &mut Vec<bool>) {
        self.e.correct_grid(grid).expect("host twin cannot fail")
    }
    fn network(&self) -> Network<f32> {
        self.e.network().expect("host twin cannot fail")
    }
    fn optimizer(&self) -> Optimizer<f32> {
        self.e.optimizer().expect("host twin cannot fail")
    }
    fn set_state(&mut self, net: Network<f32>, opt: Optimizer<f32>) {
        self.e
            .set_state(net, opt)
            .expect("network and optimiser must fit the twin")
    }
}
