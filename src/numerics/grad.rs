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
//! The three products (logits, `dW_out`, `dA`) run through a tuned GEMM ([`crate::numerics::real::gemm`]);
//! the first layer is a gather (forward) and a scatter-add (backward), since its input is one-hot.
//!
//! # Structure used for speed
//! The passes run over a [`Batch`], whose rows merge (x, y) with (y, x) for the tied model (see
//! [`crate::numerics::batch`]).
//!
//! Pairs are processed in chunks of at most [`CHUNK`] so the activations stay in cache; `dW_out`
//! accumulates across chunks in a fixed order, so results are deterministic.

use crate::numerics::activation::Activation;
use crate::numerics::batch::Batch;
use crate::numerics::loss::{argmax, Loss};
use crate::numerics::network::{sum_sq, Network};
use crate::numerics::real::{gemm, Real, Strides};
use crate::numerics::task::Pair;
use nalgebra::DMatrix;

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

/// Scratch buffers reused across steps (no allocation in the hot loop once sized).
#[derive(Clone, Debug, Default)]
pub struct Workspace<T: Real> {
    /// sigma'(h) (M x chunk), column per pair.
    dh: Vec<T>,
    /// sigma(h), then dL/da (M x chunk).
    a: Vec<T>,
    /// logits, then dL/dz (p x chunk).
    z: Vec<T>,
    /// dL/da (M x chunk).
    da: Vec<T>,
    /// One row of logits widened to f64 (`evaluate` computes its loss in f64).
    z_f64: Vec<f64>,
    /// Whether each row of the last batch passed through `evaluate`/`loss_and_grad` was
    /// classified correctly (argmax == label), in row order.
    correct: Vec<bool>,
}

impl<T: Real> Workspace<T> {
    /// Empty workspace; buffers grow on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Per-row correctness (argmax == label) of the last batch evaluated with this workspace.
    pub fn correct(&self) -> &[bool] {
        &self.correct
    }

    fn ensure(&mut self, width: usize, p: usize, rows: usize) {
        let need_m = width * rows;
        if self.a.len() < need_m {
            self.a.resize(need_m, T::zero());
            self.dh.resize(need_m, T::zero());
            self.da.resize(need_m, T::zero());
        }
        if self.z.len() < p * rows {
            self.z.resize(p * rows, T::zero());
        }
    }
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

/// Scatters `dA * sigma'` of rows `r0..r0+len` into the input-weight gradients. `src` holds
/// either sigma(h) or sigma'(h) per element, and `deriv(src, src)` turns it into sigma'.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn scatter<T: Real, D: Fn(T, T) -> T>(
    batch: &Batch<T>,
    r0: usize,
    len: usize,
    m_w: usize,
    da: &[T],
    src: &[T],
    grads: &mut Grads<T>,
    deriv: D,
) {
    for r in 0..len {
        let cx = batch.x[r0 + r] as usize * m_w;
        let cy = batch.y[r0 + r] as usize * m_w;
        let da = &da[r * m_w..(r + 1) * m_w];
        let sr = &src[r * m_w..(r + 1) * m_w];
        if let Some(gy_all) = grads.w_in_y.as_mut() {
            let gx = &mut grads.w_in.as_mut_slice()[cx..cx + m_w];
            let gy = &mut gy_all.as_mut_slice()[cy..cy + m_w];
            for m in 0..m_w {
                let v = da[m] * deriv(sr[m], sr[m]);
                gx[m] = gx[m] + v;
                gy[m] = gy[m] + v;
            }
        } else if cx == cy {
            let g = &mut grads.w_in.as_mut_slice()[cx..cx + m_w];
            for m in 0..m_w {
                let v = da[m] * deriv(sr[m], sr[m]);
                g[m] = g[m] + v + v;
            }
        } else {
            let g = grads.w_in.as_mut_slice();
            let (gx, gy) = if cx < cy {
                let (lo, hi) = g.split_at_mut(cy);
                (&mut lo[cx..cx + m_w], &mut hi[..m_w])
            } else {
                let (lo, hi) = g.split_at_mut(cx);
                (&mut hi[..m_w], &mut lo[cy..cy + m_w])
            };
            for m in 0..m_w {
                let v = da[m] * deriv(sr[m], sr[m]);
                gx[m] = gx[m] + v;
                gy[m] = gy[m] + v;
            }
        }
    }
}

/// dH = dA * sigma'(h) of rows `r0..r0+len`, scattered into the columns x and y of the input
/// weights in one pass (x = y adds twice, as the chain rule says). sigma' comes from the stored
/// buffer, or from sigma(h) where [`derivative_from_value`] allows.
fn scatter_first_layer<T: Real>(
    act: Activation,
    batch: &Batch<T>,
    r0: usize,
    len: usize,
    m_w: usize,
    ws: &Workspace<T>,
    grads: &mut Grads<T>,
) {
    let (zero, one) = (T::zero(), T::one());
    match act {
        Activation::Relu => scatter(batch, r0, len, m_w, &ws.da, &ws.a, grads, |a, _| {
            if a > zero {
                one
            } else {
                zero
            }
        }),
        Activation::Exp => scatter(batch, r0, len, m_w, &ws.da, &ws.a, grads, |a, _| a),
        Activation::Identity => scatter(batch, r0, len, m_w, &ws.da, &ws.a, grads, |_, _| one),
        _ => scatter(batch, r0, len, m_w, &ws.da, &ws.dh, grads, |_, d| d),
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
    ws.ensure(m_w, p, CHUNK.min(batch.rows().max(1)));
    ws.correct.clear();
    let (mut total, mut correct) = (0.0f64, 0.0f64);
    let mut r0 = 0;
    while r0 < batch.rows() {
        let len = CHUNK.min(batch.rows() - r0);
        first_layer(net, act, batch, r0, len, &mut ws.a, None);
        logits_chunk(net, &ws.a, len, &mut ws.z);
        for r in 0..len {
            let zr = &ws.z[r * p..(r + 1) * p];
            let c = batch.label[r0 + r] as usize;
            let w = batch.weight[r0 + r].f64();
            // The loss in f64 whatever the run's precision: the same formula as the training
            // pass, on a widened copy of the row.
            ws.z_f64.clear();
            ws.z_f64.extend(zr.iter().map(|v| v.f64()));
            total += w * loss.pair_loss_and_grad(&mut ws.z_f64, c);
            let ok = argmax(zr) == Some(c);
            ws.correct.push(ok);
            if ok {
                correct += w;
            }
        }
        r0 += len;
    }
    Eval {
        loss: total * loss.normalisation(batch.n),
        accuracy: correct / batch.n as f64,
    }
}

/// Loss, accuracy and the exact gradient of `net` on `batch`, written into `grads`.
///
/// `grads` must be shaped like `net` (see [`Grads::zeros_like`]); its old contents are overwritten.
pub fn loss_and_grad<T: Real>(
    net: &Network<T>,
    act: Activation,
    loss: Loss,
    batch: &Batch<T>,
    ws: &mut Workspace<T>,
    grads: &mut Grads<T>,
) -> Eval {
    let (p, m_w) = (net.p, net.width());
    ws.ensure(m_w, p, CHUNK.min(batch.rows().max(1)));
    grads.w_in.fill(T::zero());
    grads.w_out.fill(T::zero());
    if let Some(g) = grads.w_in_y.as_mut() {
        g.fill(T::zero());
    }
    let s = loss.normalisation(batch.n);
    ws.correct.clear();
    let (mut total, mut correct) = (0.0f64, 0.0f64);
    let mut r0 = 0;
    while r0 < batch.rows() {
        let len = CHUNK.min(batch.rows() - r0);
        // sigma' is stored only when it cannot be read off sigma(h) in the backward pass.
        let dh = (!derivative_from_value(act)).then_some(&mut ws.dh[..]);
        first_layer(net, act, batch, r0, len, &mut ws.a, dh);
        logits_chunk(net, &ws.a, len, &mut ws.z);
        // Loss, accuracy, and g = s * w_i * dl/dz in place of the logits.
        for r in 0..len {
            let zr = &mut ws.z[r * p..(r + 1) * p];
            let c = batch.label[r0 + r] as usize;
            let w = batch.weight[r0 + r];
            let ok = argmax(zr) == Some(c);
            ws.correct.push(ok);
            if ok {
                correct += w.f64();
            }
            total += w.f64() * loss.pair_loss_and_grad(zr, c);
            let f = T::of(s) * w;
            zr.iter_mut().for_each(|v| *v = *v * f);
        }
        // dW_out (p x M) += G (p x len) * A^T (len x M)
        gemm(
            T::one(),
            &ws.z,
            Strides::col_major(p, len),
            &ws.a,
            Strides::col_major(m_w, len).t(),
            T::one(),
            grads.w_out.as_mut_slice(),
            Strides::col_major(p, m_w),
        );
        // dA (M x len) = W_out^T (M x p) * G (p x len)
        gemm(
            T::one(),
            net.w_out.as_slice(),
            Strides::col_major(p, m_w).t(),
            &ws.z,
            Strides::col_major(p, len),
            T::zero(),
            &mut ws.da,
            Strides::col_major(m_w, len),
        );
        scatter_first_layer(act, batch, r0, len, m_w, ws, grads);
        r0 += len;
    }
    Eval {
        loss: total * s,
        accuracy: correct / batch.n as f64,
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
