//! Exact, hand-derived forward and backward passes.
//!
//! # Forward (one pair i = (x, y), neuron m, output j)
//! ```text
//! h_im = W_in[m, x] + W_in'[m, y]            (W_in' = W_in tied, W_in_y untied)
//! a_im = sigma(h_im)
//! z_ij = sum_m W_out[j, m] a_im
//! L    = s * sum_i w_i l(z_i, c_i)            (s = 1/n or 1, see `loss`; w_i pair multiplicity)
//! ```
//! # Backward (derived by the chain rule)
//! ```text
//! g_ij          = dL/dz_ij = s w_i dl/dz_ij            (softmax - onehot, or 2 (z - onehot))
//! dL/dW_out[j,m] = sum_i g_ij a_im
//! dL/da_im       = sum_j g_ij W_out[j, m]
//! dL/dh_im       = dL/da_im * sigma'(h_im)
//! dL/dW_in[m, x] += dL/dh_im     and   dL/dW_in'[m, y] += dL/dh_im   (both, also when x = y)
//! ```
//! Two implementations compute these ([`Kernel`]). The GEMM path: the three products (logits,
//! `dW_out`, `dA`) through a tuned GEMM ([`crate::numerics::real::gemm`]), the first layer a
//! gather (forward) and a scatter-add (backward), since its input is one-hot. The fused path
//! (the default where it applies: f32, tied, Quad or ReLU, p <= 24 on a CPU with
//! AVX-512F): [`crate::numerics::fused`]'s kernels, which compute the same sums without
//! packing operands or storing the activations, in another order (last bits differ).
//!
//! # Structure used for speed (the GEMM path)
//! The passes run over a [`Batch`], whose rows merge (x, y) with (y, x) for the tied model (see
//! [`crate::numerics::batch`]).
//!
//! Pairs are processed in chunks of at most [`CHUNK`] rows. Per chunk, the forward pass (gather,
//! activation, logits, per-row loss and dL/dz) is split into row blocks, and the backward pass
//! into blocks of at most [`NEURON_BLOCK`] neurons, each computing its columns of `dW_out`, its
//! rows of dL/da and its rows of the input-weight gradients (kept by block in the workspace
//! while the chunks accumulate, then copied out), so a block's data stays in its core's cache.
//!
//! # Same bits on any number of threads
//! The blocks run on the workspace's threads ([`crate::numerics::parallel`]). No block boundary
//! cuts a sum: every product is split along a dimension it does not sum over (the GEMM sums
//! each element over its inner dimension in the same blocks and order whatever the columns
//! around it), and the sums over rows keep the row order: the per-row losses and accuracies are
//! stored and added in row order, `dW_out` accumulates chunk after chunk (the GEMM's inner
//! blocks of 256 rows start at multiples of 256, since [`CHUNK`] is one), and each element of the
//! input-weight gradients receives its rows in row order. Results are therefore bit-identical
//! for every thread count and block size, and to the single-threaded code (`tests/threads.rs`).

use crate::numerics::activation::Activation;
use crate::numerics::batch::Batch;
use crate::numerics::fused;
use crate::numerics::loss::{argmax, Loss};
use crate::numerics::network::{sum_sq, Network};
use crate::numerics::parallel::{block, block_size, SharedMut, Threads};
use crate::numerics::real::{as_f32, as_f32_mut, gemm, Real, Strides};
use crate::numerics::task::Pair;
use nalgebra::DMatrix;
use rayon::prelude::*;

/// Pairs per chunk of the hot loop.
pub const CHUNK: usize = 512;

/// Loss and accuracy over a set of pairs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eval {
    /// The loss, normalised as the [`Loss`] says.
    pub loss: f64,
    /// Fraction of (ordered) pairs whose argmax is the label.
    pub accuracy: f64,
}

/// Gradients, shaped like the network's weights.
#[derive(Clone, Debug, PartialEq)]
pub struct Grads<T: Real> {
    /// dL/dW_in (M x p).
    pub w_in: DMatrix<T>,
    /// dL/dW_out (p x M).
    pub w_out: DMatrix<T>,
    /// dL/dW_in_y (M x p), untied only.
    pub w_in_y: Option<DMatrix<T>>,
}

impl<T: Real> Grads<T> {
    /// Zero gradients shaped like `net`.
    pub fn zeros_like(net: &Network<T>) -> Self {
        Grads {
            w_in: DMatrix::zeros(net.width(), net.p),
            w_out: DMatrix::zeros(net.p, net.width()),
            w_in_y: net
                .w_in_y
                .as_ref()
                .map(|_| DMatrix::zeros(net.width(), net.p)),
        }
    }

    /// Euclidean norm over all entries: sqrt(sum of squares).
    pub fn norm(&self) -> f64 {
        let mut s = sum_sq(self.w_in.as_slice()) + sum_sq(self.w_out.as_slice());
        if let Some(w) = &self.w_in_y {
            s += sum_sq(w.as_slice());
        }
        s.sqrt()
    }

    /// The tensors in the order `W_in`, `W_out`, `W_in_y`.
    pub fn slices(&self) -> Vec<&[T]> {
        let mut v = vec![self.w_in.as_slice(), self.w_out.as_slice()];
        if let Some(w) = &self.w_in_y {
            v.push(w.as_slice());
        }
        v
    }
}

/// Scratch buffers reused across steps (no allocation in the hot loop once sized), and the
/// threads the passes run on ([`crate::numerics::parallel`]: the results do not depend on them).
#[derive(Clone, Debug, Default)]
pub struct Workspace<T: Real> {
    /// The threads `evaluate` and `loss_and_grad` run on.
    threads: Threads,
    /// sigma'(h) (M x chunk), column per pair.
    dh: Vec<T>,
    /// sigma(h) (M x chunk), column per pair.
    a: Vec<T>,
    /// logits, then dL/dz (p x chunk).
    z: Vec<T>,
    /// dL/da (M x chunk), by neuron block: block b (rows m0..m0+mb) is an mb x chunk
    /// column-major matrix at offset m0 * chunk.
    da: Vec<T>,
    /// Logits widened to f64 (p x chunk; `evaluate` computes its loss in f64).
    z_f64: Vec<f64>,
    /// dL/dW_in (and dL/dW_in_y) by neuron block while the chunks accumulate: the block of
    /// neurons m0..m0+mb is an mb x p column-major matrix (two for untied) at m0 * p (* 2).
    gin: Vec<T>,
    /// w_i l_i of every row of the last batch, in row order (summed in that order).
    row_loss: Vec<f64>,
    /// Whether each row of the last batch passed through `evaluate`/`loss_and_grad` was
    /// classified correctly (argmax == label), in row order.
    correct: Vec<bool>,
    /// Which kernels compute the passes.
    kernel: Kernel,
    /// The weights laid out for the fused kernels.
    layout: fused::Layout,
    /// dL/dz for the fused backward kernels: J per row, zero rows up to a multiple of 16.
    g_pad: Vec<f32>,
    /// The fused backward kernels' `dW_out` sums between row chunks, by neuron block.
    dw_acc: Vec<f32>,
}

/// Which implementation computes the passes. Both compute the formulas of the module docs;
/// their results differ in the last bits (another summation order), each the same on any
/// number of threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kernel {
    /// The fused AVX-512 kernels ([`crate::numerics::fused`]) where they apply: f32, the tied
    /// network, Quad or ReLU, p <= [`fused::MAX_P`], a CPU with AVX-512F. The GEMM path
    /// everywhere else.
    #[default]
    Auto,
    /// Always the GEMM path (gather, `matrixmultiply` products, scatter): the same bits on
    /// every x86-64 CPU with AVX2 and FMA.
    Gemm,
}

impl<T: Real> Workspace<T> {
    /// Empty workspace on the process-wide threads ([`Threads::default`]); buffers grow on
    /// first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty workspace on the given threads.
    pub fn with_threads(threads: Threads) -> Self {
        Workspace {
            threads,
            ..Self::default()
        }
    }

    /// This workspace computing with `kernel` ([`Kernel::Auto`] by default).
    pub fn with_kernel(mut self, kernel: Kernel) -> Self {
        self.kernel = kernel;
        self
    }

    /// The kernels this workspace computes with.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The threads the passes run on.
    pub fn threads(&self) -> &Threads {
        &self.threads
    }

    /// Per-row correctness (argmax == label) of the last batch evaluated with this workspace.
    pub fn correct(&self) -> &[bool] {
        &self.correct
    }

    /// Sizes the buffers for `rows` rows in chunks of `chunk`; `grad`: for `loss_and_grad` of
    /// a network with `inputs` input-weight matrices (1 tied, 2 untied).
    fn ensure(&mut self, width: usize, p: usize, chunk: usize, rows: usize, grad: Option<usize>) {
        let grow = |v: &mut Vec<T>, n: usize| {
            if v.len() < n {
                v.resize(n, T::zero());
            }
        };
        grow(&mut self.a, width * chunk);
        grow(&mut self.dh, width * chunk);
        grow(&mut self.z, p * chunk);
        if let Some(inputs) = grad {
            grow(&mut self.da, width * chunk);
            grow(&mut self.gin, width * p * inputs);
        }
        if self.z_f64.len() < p * chunk {
            self.z_f64.resize(p * chunk, 0.0);
        }
        self.row_loss.resize(rows, 0.0);
        self.correct.resize(rows, false);
    }
}

/// Most neurons in one block of the backward pass: a block's dL/da (block x chunk) and its
/// rows of the gradients stay in the core's cache between the two products and the scatter.
pub const NEURON_BLOCK: usize = 256;

/// Rows per block of the forward pass and neurons per block of the backward pass, for `t`
/// threads: one row block per thread; neuron blocks of at most [`NEURON_BLOCK`] (a multiple
/// of 16, the GEMM's register tile), at least one per thread. Blocks never change a result,
/// only who computes it.
fn blocks(t: usize, len: usize, width: usize) -> (usize, usize) {
    (
        block_size(len, t, 1),
        block_size(width, t, 16).min(NEURON_BLOCK).min(width),
    )
}

/// Gathers h for rows `r0..r0+len` and writes sigma(h) into `a` (and sigma'(h) into `dh` if asked).
///
/// The activation is matched once, outside the loops, so each activation's loop is branch-free
/// and vectorisable (a per-element `match` made ReLU mispredict on random signs).
fn first_layer<T: Real>(
    net: &Network<T>,
    act: Activation,
    batch: &Batch<T>,
    r0: usize,
    len: usize,
    a: &mut [T],
    dh: Option<&mut [T]>,
) {
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn sweep<T: Real, F: Fn(T) -> T, G: Fn(T) -> T>(
        net: &Network<T>,
        batch: &Batch<T>,
        r0: usize,
        len: usize,
        a: &mut [T],
        dh: Option<&mut [T]>,
        value: F,
        deriv: G,
    ) {
        let m_w = net.width();
        let w_in = net.w_in.as_slice();
        let w_y = net.w_in_second().as_slice();
        let cols = |r: usize| {
            let cx = batch.x[r0 + r] as usize * m_w;
            let cy = batch.y[r0 + r] as usize * m_w;
            (&w_in[cx..cx + m_w], &w_y[cy..cy + m_w])
        };
        match dh {
            Some(dh) => {
                for r in 0..len {
                    let (wx, wy) = cols(r);
                    let ar = &mut a[r * m_w..(r + 1) * m_w];
                    let dr = &mut dh[r * m_w..(r + 1) * m_w];
                    for m in 0..m_w {
                        let h = wx[m] + wy[m];
                        ar[m] = value(h);
                        dr[m] = deriv(h);
                    }
                }
            }
            None => {
                for r in 0..len {
                    let (wx, wy) = cols(r);
                    let ar = &mut a[r * m_w..(r + 1) * m_w];
                    for m in 0..m_w {
                        ar[m] = value(wx[m] + wy[m]);
                    }
                }
            }
        }
    }
    let (zero, one) = (T::zero(), T::one());
    let two = one + one;
    match act {
        Activation::Quad => sweep(net, batch, r0, len, a, dh, |h| h * h, |h| two * h),
        Activation::Relu => sweep(
            net,
            batch,
            r0,
            len,
            a,
            dh,
            |h| if h > zero { h } else { zero },
            |h| if h > zero { one } else { zero },
        ),
        other => sweep(
            net,
            batch,
            r0,
            len,
            a,
            dh,
            |h| other.value(h),
            |h| other.deriv(h),
        ),
    }
}

/// Logits of rows `r0..r0+len`: Z (p x len) = W_out (p x M) * A (M x len).
fn logits_chunk<T: Real>(net: &Network<T>, a: &[T], len: usize, z: &mut [T]) {
    let (p, m_w) = (net.p, net.width());
    gemm(
        T::one(),
        net.w_out.as_slice(),
        Strides::col_major(p, m_w),
        a,
        Strides::col_major(m_w, len),
        T::zero(),
        z,
        Strides::col_major(p, len),
    );
}

/// True when sigma'(h) is a function of sigma(h) (ReLU: 1{a > 0}, exp: a, identity: 1), so the
/// backward pass reads it off the activations instead of a stored buffer.
fn derivative_from_value(act: Activation) -> bool {
    matches!(
        act,
        Activation::Relu | Activation::Exp | Activation::Identity
    )
}

/// Where the backward pass of one neuron block writes: `dW_out[:, m0..m0+mb]` (p x mb), its
/// rows of dL/da (mb x len) and of the input-weight gradients (mb x p, and the same again for
/// `W_in_y`), all column-major with leading dimension mb.
struct BlockOut<'a, T> {
    gout: &'a mut [T],
    da: &'a mut [T],
    gin: &'a mut [T],
    gin_y: Option<&'a mut [T]>,
}

/// Scatters `dA * sigma'` of rows `r0..r0+len` and neurons `m0..m0+mb` into the input-weight
/// gradients of that block. `src(r)` gives two slices (mb long) per row and
/// `deriv(u[m], v[m])` turns them into sigma'. Each element receives its rows in row order.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn scatter<'s, T: Real + 's, S: Fn(usize) -> (&'s [T], &'s [T]), D: Fn(T, T) -> T>(
    batch: &Batch<T>,
    r0: usize,
    len: usize,
    mb: usize,
    src: S,
    out: &mut BlockOut<'_, T>,
    deriv: D,
) {
    for r in 0..len {
        let cx = batch.x[r0 + r] as usize * mb;
        let cy = batch.y[r0 + r] as usize * mb;
        let da = &out.da[r * mb..(r + 1) * mb];
        let (u, v) = src(r);
        let (u, v) = (&u[..mb], &v[..mb]);
        if let Some(gy_all) = out.gin_y.as_deref_mut() {
            let gx = &mut out.gin[cx..cx + mb];
            let gy = &mut gy_all[cy..cy + mb];
            for m in 0..mb {
                let g = da[m] * deriv(u[m], v[m]);
                gx[m] = gx[m] + g;
                gy[m] = gy[m] + g;
            }
        } else if cx == cy {
            let gx = &mut out.gin[cx..cx + mb];
            for m in 0..mb {
                let g = da[m] * deriv(u[m], v[m]);
                gx[m] = gx[m] + g + g;
            }
        } else {
            let gin = &mut *out.gin;
            let (gx, gy) = if cx < cy {
                let (lo, hi) = gin.split_at_mut(cy);
                (&mut lo[cx..cx + mb], &mut hi[..mb])
            } else {
                let (lo, hi) = gin.split_at_mut(cx);
                (&mut hi[..mb], &mut lo[cy..cy + mb])
            };
            for m in 0..mb {
                let g = da[m] * deriv(u[m], v[m]);
                gx[m] = gx[m] + g;
                gy[m] = gy[m] + g;
            }
        }
    }
}

/// dH = dA * sigma'(h) of rows `r0..r0+len` and neurons `m0..m0+mb`, scattered into the
/// columns x and y of the input weights in one pass (x = y adds twice, as the chain rule
/// says). sigma' is read off sigma(h) in `a` where [`derivative_from_value`] allows, is
/// 2 (W_in[m, x] + W_in'[m, y]) for Quad (the same h the forward pass computed), and comes
/// from the stored buffer `dh` otherwise.
#[allow(clippy::too_many_arguments)]
fn scatter_first_layer<T: Real>(
    net: &Network<T>,
    act: Activation,
    batch: &Batch<T>,
    (r0, len): (usize, usize),
    (m0, mb): (usize, usize),
    a: &[T],
    dh: &[T],
    out: &mut BlockOut<'_, T>,
) {
    let m_w = net.width();
    let (zero, one) = (T::zero(), T::one());
    let two = one + one;
    let value = |r: usize| {
        let v = &a[r * m_w + m0..r * m_w + m0 + mb];
        (v, v)
    };
    match act {
        Activation::Relu => scatter(batch, r0, len, mb, value, out, |a, _| {
            if a > zero {
                one
            } else {
                zero
            }
        }),
        Activation::Exp => scatter(batch, r0, len, mb, value, out, |a, _| a),
        Activation::Identity => scatter(batch, r0, len, mb, value, out, |_, _| one),
        Activation::Quad => {
            let (w_in, w_y) = (net.w_in.as_slice(), net.w_in_second().as_slice());
            let weights = |r: usize| {
                let cx = batch.x[r0 + r] as usize * m_w + m0;
                let cy = batch.y[r0 + r] as usize * m_w + m0;
                (&w_in[cx..cx + mb], &w_y[cy..cy + mb])
            };
            scatter(batch, r0, len, mb, weights, out, |wx, wy| two * (wx + wy))
        }
        _ => {
            let stored = |r: usize| {
                let v = &dh[r * m_w + m0..r * m_w + m0 + mb];
                (v, v)
            };
            scatter(batch, r0, len, mb, stored, out, |d, _| d)
        }
    }
}

/// True when the forward pass must store sigma'(h) for the backward pass: not when it is a
/// function of sigma(h) ([`derivative_from_value`]), nor for Quad (2h, recomputed from the
/// weights).
fn stores_derivative(act: Activation) -> bool {
    !(derivative_from_value(act) || act == Activation::Quad)
}

/// The backward pass of rows `r0..r0+len` (sigma(h) in `a`, sigma'(h) in `dh`, dL/dz in `g`)
/// for the neurons `m0..m0+mb`: `dW_out[:, block] += G A[block, :]^T`,
/// `dA[block, :] = W_out[:, block]^T G`, and the scatter into the input weights. With `first`
/// (the batch's first chunk), the block's gradients are zeroed first.
#[allow(clippy::too_many_arguments)]
fn backward_block<T: Real>(
    net: &Network<T>,
    act: Activation,
    batch: &Batch<T>,
    (r0, len): (usize, usize),
    (m0, mb): (usize, usize),
    first: bool,
    (a, dh, g): (&[T], &[T], &[T]),
    mut out: BlockOut<'_, T>,
) {
    let (p, m_w) = (net.p, net.width());
    if first {
        out.gout.fill(T::zero());
        out.gin.fill(T::zero());
        if let Some(gy) = out.gin_y.as_deref_mut() {
            gy.fill(T::zero());
        }
    }
    // dW_out[:, block] (p x mb) += G (p x len) * A[block, :]^T (len x mb)
    gemm(
        T::one(),
        g,
        Strides::col_major(p, len),
        &a[m0..],
        Strides {
            rows: len,
            cols: mb,
            rs: m_w,
            cs: 1,
        },
        T::one(),
        out.gout,
        Strides::col_major(p, mb),
    );
    // dA[block, :] (mb x len) = W_out[:, block]^T (mb x p) * G (p x len)
    gemm(
        T::one(),
        &net.w_out.as_slice()[m0 * p..],
        Strides::col_major(p, mb).t(),
        g,
        Strides::col_major(p, len),
        T::zero(),
        out.da,
        Strides::col_major(mb, len),
    );
    scatter_first_layer(net, act, batch, (r0, len), (m0, mb), a, dh, &mut out);
}

/// What the forward pass of one row block computes per row.
#[derive(Clone, Copy)]
enum RowWork {
    /// `evaluate`: the loss in f64 from a widened copy of the logits.
    Evaluate,
    /// `loss_and_grad`: the loss and, in place of the logits, g = s w_i dl/dz (s the loss's
    /// normalisation); sigma'(h) stored when `dh` is needed.
    Gradient { s: f64, dh: bool },
}

/// The forward pass of rows `r0..r0+len`: gather and activation into `a` (and `dh`), logits
/// into `z`, and per row w_i l_i into `row_loss` and argmax == label into `correct`.
#[allow(clippy::too_many_arguments)]
fn forward_rows<T: Real>(
    net: &Network<T>,
    act: Activation,
    loss: Loss,
    batch: &Batch<T>,
    (r0, len): (usize, usize),
    work: RowWork,
    (a, dh, z, z64): (&mut [T], &mut [T], &mut [T], &mut [f64]),
    (row_loss, correct): (&mut [f64], &mut [bool]),
) {
    let keep_dh = matches!(work, RowWork::Gradient { dh: true, .. });
    first_layer(net, act, batch, r0, len, a, keep_dh.then_some(dh));
    logits_chunk(net, a, len, z);
    finish_rows(
        net.p,
        loss,
        batch,
        (r0, len),
        work,
        (z, z64),
        (row_loss, correct),
    );
}

/// From the logits `z` of rows `r0..r0+len` (p per row): per row w_i l_i into `row_loss`,
/// argmax == label into `correct`, and for [`RowWork::Gradient`] g = s w_i dl/dz in place of
/// the logits.
fn finish_rows<T: Real>(
    p: usize,
    loss: Loss,
    batch: &Batch<T>,
    (r0, len): (usize, usize),
    work: RowWork,
    (z, z64): (&mut [T], &mut [f64]),
    (row_loss, correct): (&mut [f64], &mut [bool]),
) {
    for r in 0..len {
        let zr = &mut z[r * p..(r + 1) * p];
        let c = batch.label[r0 + r] as usize;
        let w = batch.weight[r0 + r];
        correct[r] = argmax(zr) == Some(c);
        match work {
            RowWork::Evaluate => {
                // The loss in f64 whatever the run's precision: the same formula as the
                // training pass, on a widened copy of the row.
                let zw = &mut z64[r * p..(r + 1) * p];
                for (d, v) in zw.iter_mut().zip(zr.iter()) {
                    *d = v.f64();
                }
                row_loss[r] = w.f64() * loss.pair_loss_and_grad(zw, c);
            }
            RowWork::Gradient { s, .. } => {
                row_loss[r] = w.f64() * loss.pair_loss_and_grad(zr, c);
                let f = T::of(s) * w;
                zr.iter_mut().for_each(|v| *v = *v * f);
            }
        }
    }
}

/// The forward pass of rows `r0..r0+len` ([`forward_rows`]), split into row blocks over the
/// workspace's threads.
#[allow(clippy::too_many_arguments)]
fn forward_chunk<T: Real>(
    net: &Network<T>,
    act: Activation,
    loss: Loss,
    batch: &Batch<T>,
    (r0, len): (usize, usize),
    work: RowWork,
    ws: &mut Workspace<T>,
) {
    let (p, m_w) = (net.p, net.width());
    let (rb, _) = blocks(ws.threads.count(), len, m_w);
    let a = &mut ws.a[..m_w * len];
    let dh = &mut ws.dh[..m_w * len];
    let z = &mut ws.z[..p * len];
    let z64 = &mut ws.z_f64[..p * len];
    let row_loss = &mut ws.row_loss[r0..r0 + len];
    let correct = &mut ws.correct[r0..r0 + len];
    let run = |(b, ((((a, dh), z), z64), (row_loss, correct))): (usize, _)| {
        let (s, n) = block(len, rb, b);
        forward_rows(
            net,
            act,
            loss,
            batch,
            (r0 + s, n),
            work,
            (a, dh, z, z64),
            (row_loss, correct),
        );
    };
    if ws.threads.parallel() {
        a.par_chunks_mut(m_w * rb)
            .zip(dh.par_chunks_mut(m_w * rb))
            .zip(z.par_chunks_mut(p * rb))
            .zip(z64.par_chunks_mut(p * rb))
            .zip(row_loss.par_chunks_mut(rb).zip(correct.par_chunks_mut(rb)))
            .enumerate()
            .for_each(run);
    } else {
        a.chunks_mut(m_w * rb)
            .zip(dh.chunks_mut(m_w * rb))
            .zip(z.chunks_mut(p * rb))
            .zip(z64.chunks_mut(p * rb))
            .zip(row_loss.chunks_mut(rb).zip(correct.chunks_mut(rb)))
            .enumerate()
            .for_each(run);
    }
}

/// The loss and accuracy of the last batch from its per-row values, summed in row order.
fn totals<T: Real>(ws: &Workspace<T>, batch: &Batch<T>, s: f64) -> Eval {
    let mut total = 0.0f64;
    let mut correct = 0.0f64;
    for r in 0..batch.rows() {
        total += ws.row_loss[r];
        if ws.correct[r] {
            correct += batch.weight[r].f64();
        }
    }
    Eval {
        loss: total * s,
        accuracy: correct / batch.n as f64,
    }
}

/// Loss and accuracy of `net` on `batch`, without gradients.
pub fn evaluate<T: Real>(
    net: &Network<T>,
    act: Activation,
    loss: Loss,
    batch: &Batch<T>,
    ws: &mut Workspace<T>,
) -> Eval {
    let (p, m_w) = (net.p, net.width());
    ws.ensure(m_w, p, CHUNK.min(batch.rows().max(1)), batch.rows(), None);
    let threads = ws.threads.clone();
    if let Some(fact) = fused_plan(net, act, batch, ws, true) {
        threads.install(|| fused_forward(loss, batch, fact, RowWork::Evaluate, ws));
        return totals(ws, batch, loss.normalisation(batch.n));
    }
    threads.install(|| {
        let mut r0 = 0;
        while r0 < batch.rows() {
            let len = CHUNK.min(batch.rows() - r0);
            forward_chunk(net, act, loss, batch, (r0, len), RowWork::Evaluate, ws);
            r0 += len;
        }
    });
    totals(ws, batch, loss.normalisation(batch.n))
}

/// Loss, accuracy and the exact gradient of `net` on `batch`, written into `grads`.
///
/// `grads` must be shaped like `net` (see [`Grads::zeros_like`]); its old contents are overwritten.
///
/// Per chunk of rows: the forward pass split by rows, then the backward pass split by neurons
/// (each neuron block's `dW_out` columns, dL/da rows and input-weight rows); the sums over rows
/// (loss, accuracy, `dW_out`, the scatter) run in row order whatever the thread count.
pub fn loss_and_grad<T: Real>(
    net: &Network<T>,
    act: Activation,
    loss: Loss,
    batch: &Batch<T>,
    ws: &mut Workspace<T>,
    grads: &mut Grads<T>,
) -> Eval {
    let (p, m_w) = (net.p, net.width());
    let inputs = if net.w_in_y.is_some() { 2 } else { 1 };
    let fused = fused_plan(net, act, batch, ws, false);
    // The fused backward kernels need neither dL/da nor the blocked input gradients (M x 512
    // and M x p numbers: 18 MB at M = 9107): those buffers only for the GEMM path.
    let backward_buffers = fused.is_none().then_some(inputs);
    ws.ensure(
        m_w,
        p,
        CHUNK.min(batch.rows().max(1)),
        batch.rows(),
        backward_buffers,
    );
    let s = loss.normalisation(batch.n);
    // sigma' is stored only when the backward pass cannot get it otherwise.
    let work = RowWork::Gradient {
        s,
        dh: stores_derivative(act),
    };
    if batch.rows() == 0 {
        grads.w_in.fill(T::zero());
        grads.w_out.fill(T::zero());
        if let Some(g) = grads.w_in_y.as_mut() {
            g.fill(T::zero());
        }
    }
    let threads = ws.threads.clone();
    if let Some(fact) = fused {
        threads.install(|| {
            if ws.layout.forward {
                fused_forward(loss, batch, fact, work, ws);
            } else {
                gemm_forward_to_g(net, act, loss, batch, work, ws);
            }
            fused_backward(net, fact, ws, grads);
        });
        return totals(ws, batch, s);
    }
    threads.install(|| {
        let mut r0 = 0;
        while r0 < batch.rows() {
            let len = CHUNK.min(batch.rows() - r0);
            forward_chunk(net, act, loss, batch, (r0, len), work, ws);
            backward_chunk(net, act, batch, (r0, len), ws, grads);
            r0 += len;
        }
        if batch.rows() > 0 {
            gather_input_grads(net, ws, grads);
        }
    });
    totals(ws, batch, s)
}

/// One neuron block's (`dW_out` columns, dL/da rows, input-weight gradient rows), as zipped.
type BlockSlices<'a, T> = ((&'a mut [T], &'a mut [T]), &'a mut [T]);

/// The backward pass of rows `r0..r0+len` ([`backward_block`]), neuron block by neuron block
/// on the workspace's threads. The input-weight gradients accumulate by block in the workspace
/// ([`gather_input_grads`] copies them out after the last chunk).
fn backward_chunk<T: Real>(
    net: &Network<T>,
    act: Activation,
    batch: &Batch<T>,
    (r0, len): (usize, usize),
    ws: &mut Workspace<T>,
    grads: &mut Grads<T>,
) {
    let (p, m_w) = (net.p, net.width());
    let first = r0 == 0;
    let (a, dh, g) = (&ws.a[..m_w * len], &ws.dh[..m_w * len], &ws.z[..p * len]);
    let (_, mb) = blocks(ws.threads.count(), len, m_w);
    let inputs = if grads.w_in_y.is_some() { 2 } else { 1 };
    let run = |(b, ((gout, da), gin)): (usize, BlockSlices<'_, T>)| {
        let (m0, n) = block(m_w, mb, b);
        let (gin, gin_y) = if inputs == 1 {
            (gin, None)
        } else {
            let (x, y) = gin.split_at_mut(n * p);
            (x, Some(y))
        };
        let out = BlockOut {
            gout,
            da,
            gin,
            gin_y,
        };
        backward_block(net, act, batch, (r0, len), (m0, n), first, (a, dh, g), out);
    };
    let gout = grads.w_out.as_mut_slice();
    let da = &mut ws.da[..m_w * len];
    let gin = &mut ws.gin[..m_w * p * inputs];
    if ws.threads.parallel() {
        gout.par_chunks_mut(p * mb)
            .zip(da.par_chunks_mut(mb * len))
            .zip(gin.par_chunks_mut(mb * p * inputs))
            .enumerate()
            .for_each(run);
    } else {
        gout.chunks_mut(p * mb)
            .zip(da.chunks_mut(mb * len))
            .zip(gin.chunks_mut(mb * p * inputs))
            .enumerate()
            .for_each(run);
    }
}

/// Copies the input-weight gradients accumulated by neuron block (the workspace's `gin`) into
/// `grads` (M x p column-major), column by column.
fn gather_input_grads<T: Real>(net: &Network<T>, ws: &Workspace<T>, grads: &mut Grads<T>) {
    let (p, m_w) = (net.p, net.width());
    let (_, mb) = blocks(ws.threads.count(), CHUNK, m_w);
    let inputs = if grads.w_in_y.is_some() { 2 } else { 1 };
    let copy = |which: usize, dst: &mut [T]| {
        let column = |(x, col): (usize, &mut [T])| {
            for b in 0..m_w.div_ceil(mb) {
                let (m0, n) = block(m_w, mb, b);
                let src = &ws.gin[m0 * p * inputs + which * n * p..][x * n..(x + 1) * n];
                col[m0..m0 + n].copy_from_slice(src);
            }
        };
        // In parallel only when the copy outweighs a hand-over to the other threads.
        if ws.threads.parallel() && m_w * p >= 1 << 16 {
            dst.par_chunks_mut(m_w).enumerate().for_each(column);
        } else {
            dst.chunks_mut(m_w).enumerate().for_each(column);
        }
    };
    copy(0, grads.w_in.as_mut_slice());
    if let Some(gy) = grads.w_in_y.as_mut() {
        copy(1, gy.as_mut_slice());
    }
}

/// Lays out the weights for the fused kernels when they apply to this pass ([`Kernel::Auto`],
/// f32, tied, Quad or ReLU, AVX-512F, operands below p): the activation as the kernels name
/// it, or `None` for the GEMM path. The backward kernels take any p; the forward kernel
/// p <= [`fused::MAX_P`], which `forward` asks for (evaluate needs it, a gradient pass runs
/// its forward pass by the GEMM path above that).
fn fused_plan<T: Real>(
    net: &Network<T>,
    act: Activation,
    batch: &Batch<T>,
    ws: &mut Workspace<T>,
    forward: bool,
) -> Option<fused::Act> {
    let fact = match act {
        Activation::Quad => fused::Act::Quad,
        Activation::Relu => fused::Act::Relu,
        _ => return None,
    };
    if ws.kernel != Kernel::Auto || net.w_in_y.is_some() || batch.rows() == 0 {
        return None;
    }
    let (w_in, w_out) = (as_f32(net.w_in.as_slice())?, as_f32(net.w_out.as_slice())?);
    if !fused::available() || (forward && net.p > fused::MAX_P) {
        return None;
    }
    ws.layout
        .build(
            net.p,
            (w_in, w_out),
            (&batch.x, &batch.y),
            net.p <= fused::MAX_P,
            &ws.threads,
        )
        .then_some(fact)
}

/// The forward pass of the whole batch by the GEMM path, chunk by chunk, with g copied into
/// `g_pad` (J per row) for the fused backward kernels.
fn gemm_forward_to_g<T: Real>(
    net: &Network<T>,
    act: Activation,
    loss: Loss,
    batch: &Batch<T>,
    work: RowWork,
    ws: &mut Workspace<T>,
) {
    let (p, j_n, rows) = (net.p, ws.layout.j, batch.rows());
    ws.g_pad.clear();
    ws.g_pad
        .resize(rows.div_ceil(fused::LANES) * fused::LANES * j_n, 0.0);
    let mut r0 = 0;
    while r0 < rows {
        let len = CHUNK.min(rows - r0);
        forward_chunk(net, act, loss, batch, (r0, len), work, ws);
        let z = as_f32(&ws.z[..p * len]).expect("f32");
        for (zr, gr) in z.chunks(p).zip(ws.g_pad[r0 * j_n..].chunks_mut(j_n)) {
            gr[..p].copy_from_slice(zr);
        }
        r0 += len;
    }
}

/// The forward pass of the whole batch by the fused kernel, split into row blocks (multiples
/// of 16 rows) over the workspace's threads; for [`RowWork::Gradient`] also g into `g_pad`
/// (J per row). The workspace must have been laid out by [`fused_plan`].
fn fused_forward<T: Real>(
    loss: Loss,
    batch: &Batch<T>,
    act: fused::Act,
    work: RowWork,
    ws: &mut Workspace<T>,
) {
    let (p, j_n, rows) = (ws.layout.p, ws.layout.j, batch.rows());
    let rb = block_size(rows, ws.threads.count(), fused::LANES);
    if ws.z.len() < p * rows {
        ws.z.resize(p * rows, T::zero());
    }
    if ws.z_f64.len() < p * rows {
        ws.z_f64.resize(p * rows, 0.0);
    }
    ws.g_pad.clear();
    ws.g_pad
        .resize(rows.div_ceil(fused::LANES) * fused::LANES * j_n, 0.0);
    let lay = &ws.layout;
    let run = |(b, (((z, z64), g), (row_loss, correct))): (usize, _)| {
        let (r0, n) = block(rows, rb, b);
        let (z, g): (&mut [T], &mut [f32]) = (z, g);
        if let (RowWork::Gradient { s, .. }, Loss::CeMean | Loss::CeSum) = (work, loss) {
            let rows = fused::CeRows {
                labels: &batch.label[r0..r0 + n],
                weights: &as_f32(&batch.weight).expect("f32")[r0..r0 + n],
                scale: s as f32,
                g,
                row_loss,
                correct,
            };
            return fused::forward_ce(lay, act, r0 / fused::LANES, rows);
        }
        fused::forward(lay, act, r0 / fused::LANES, as_f32_mut(z).expect("f32"));
        finish_rows(p, loss, batch, (r0, n), work, (z, z64), (row_loss, correct));
        if let RowWork::Gradient { .. } = work {
            let z = as_f32(z).expect("f32");
            for (zr, gr) in z.chunks(p).zip(g.chunks_mut(j_n)) {
                gr[..p].copy_from_slice(zr);
            }
        }
    };
    let z = &mut ws.z[..p * rows];
    let z64 = &mut ws.z_f64[..p * rows];
    let g = &mut ws.g_pad[..];
    let (row_loss, correct) = (&mut ws.row_loss[..rows], &mut ws.correct[..rows]);
    if ws.threads.parallel() {
        z.par_chunks_mut(p * rb)
            .zip(z64.par_chunks_mut(p * rb))
            .zip(g.par_chunks_mut(j_n * rb))
            .zip(row_loss.par_chunks_mut(rb).zip(correct.par_chunks_mut(rb)))
            .enumerate()
            .for_each(run);
    } else {
        z.chunks_mut(p * rb)
            .zip(z64.chunks_mut(p * rb))
            .zip(g.chunks_mut(j_n * rb))
            .zip(row_loss.chunks_mut(rb).zip(correct.chunks_mut(rb)))
            .enumerate()
            .for_each(run);
    }
}

/// The backward pass by the fused kernels after [`fused_forward`], split into neuron blocks
/// (multiples of 32) over the workspace's threads: `dW_out` by columns, `dW_in` by rows.
fn fused_backward<T: Real>(
    net: &Network<T>,
    act: fused::Act,
    ws: &mut Workspace<T>,
    grads: &mut Grads<T>,
) {
    let (p, m_w) = (net.p, net.width());
    let mb = fused::neuron_block(m_w, ws.threads.count());
    let acc_total = m_w.div_ceil(mb) * fused::acc_len(p, mb);
    if ws.dw_acc.len() < acc_total {
        ws.dw_acc.resize(acc_total, 0.0);
    }
    let w_in = as_f32(net.w_in.as_slice()).expect("f32");
    let gin = as_f32_mut(grads.w_in.as_mut_slice()).expect("f32");
    let gin = SharedMut::new(gin);
    let (lay, g) = (&ws.layout, &ws.g_pad[..]);
    let acc_block = fused::acc_len(p, mb);
    let run = |(b, (gout, acc)): (usize, (&mut [T], &mut [f32]))| {
        let (m0, n) = block(m_w, mb, b);
        let gout = as_f32_mut(gout).expect("f32");
        // SAFETY: block b writes only the rows m0..m0+n of dL/dW_in (M x p column-major),
        // disjoint from the others; they are zeroed here, by the thread that adds into them.
        unsafe {
            for x in 0..p {
                std::ptr::write_bytes(gin.get().add(x * m_w + m0), 0, n);
            }
            fused::backward(lay, act, (w_in, g), (m0, n), (gout, acc), gin.get())
        };
    };
    let gout = grads.w_out.as_mut_slice();
    let acc = &mut ws.dw_acc[..];
    if ws.threads.parallel() {
        gout.par_chunks_mut(p * mb)
            .zip(acc.par_chunks_mut(acc_block))
            .enumerate()
            .for_each(run);
    } else {
        gout.chunks_mut(p * mb)
            .zip(acc.chunks_mut(acc_block))
            .enumerate()
            .for_each(run);
    }
}

/// Slow per-example reference: loss, accuracy and gradient computed pair by pair in f64 from
/// the formulas in the module docs, with no merging, chunking or GEMM. Tests hold the fast path
/// to it.
pub fn reference_loss_and_grad<T: Real>(
    net: &Network<T>,
    act: Activation,
    loss: Loss,
    pairs: &[Pair],
) -> (Eval, Grads<f64>) {
    let net = net.cast::<f64>();
    let (p, m_w) = (net.p, net.width());
    let mut g = Grads::zeros_like(&net);
    let s = loss.normalisation(pairs.len());
    let (mut total, mut correct) = (0.0, 0.0);
    let wy = net.w_in_second().clone();
    for q in pairs {
        let (x, y, c) = (q.x as usize, q.y as usize, q.label as usize);
        let h: Vec<f64> = (0..m_w).map(|m| net.w_in[(m, x)] + wy[(m, y)]).collect();
        let a: Vec<f64> = h.iter().map(|&u| act.value(u)).collect();
        let mut z: Vec<f64> = (0..p)
            .map(|j| (0..m_w).map(|m| net.w_out[(j, m)] * a[m]).sum())
            .collect();
        if argmax(&z) == Some(c) {
            correct += 1.0;
        }
        total += loss.pair_loss_and_grad(&mut z, c);
        for m in 0..m_w {
            let mut da = 0.0;
            for (j, &zj) in z.iter().enumerate() {
                g.w_out[(j, m)] += s * zj * a[m];
                da += s * zj * net.w_out[(j, m)];
            }
            let dh = da * act.deriv(h[m]);
            g.w_in[(m, x)] += dh;
            match g.w_in_y.as_mut() {
                Some(gy) => gy[(m, y)] += dh,
                None => g.w_in[(m, y)] += dh,
            }
        }
    }
    (
        Eval {
            loss: total * s,
            accuracy: correct / pairs.len() as f64,
        },
        g,
    )
}

/// Logits of every pair in `pairs`, p per pair, in pair order (`out[i * p + j]`).
pub fn logits_table<T: Real>(net: &Network<T>, act: Activation, pairs: &[Pair]) -> Vec<T> {
    let batch = Batch::<T>::plain(pairs);
    let (p, m_w) = (net.p, net.width());
    let mut out = vec![T::zero(); p * pairs.len()];
    let mut a = vec![T::zero(); m_w * CHUNK.min(pairs.len().max(1))];
    let mut r0 = 0;
    while r0 < pairs.len() {
        let len = CHUNK.min(pairs.len() - r0);
        first_layer(net, act, &batch, r0, len, &mut a, None);
        logits_chunk(net, &a, len, &mut out[r0 * p..(r0 + len) * p]);
        r0 += len;
    }
    out
}
