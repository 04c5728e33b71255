//! The fused AVX-512 kernels of the tied network's step at small p (p <= [`MAX_P`]), in f32.
//!
//! At p = 23 the three products of the step are thin (one side is p) and short (M x n with
//! n = p (p + 1) / 2 = 276 merged rows), so a general GEMM spends a third of its time packing
//! operands and the step as much again gathering, scattering and storing the activations. These
//! kernels compute the same quantities as [`crate::numerics::grad`] (its module docs give the
//! formulas) without packing and without storing the activations: they are recomputed from
//! the input weights where needed, which costs two loads and two vector operations.
//!
//! # The three kernels (J = p rounded up to 8, 16 or 24: the accumulators held in registers)
//! ```text
//! forward_vec   z[j, r]        = sum_{m = 0}^{M-1} W_out[j, m] a[m, r]       16 rows r per vector
//!               a[m, r]        = sigma(W_in[m, x_r] + W_in[m, y_r])        (a 32-entry table lookup)
//! dw_out_block  dW_out[j, m]   = sum_{r in row order} g[j, r] a[m, r]       16 neurons m per vector
//! da_block      dh[m, r]       = (sum_{j = 0}^{J-1} W_out[j, m] g[j, r]) sigma'(h[m, r])
//!               dW_in[m, x_r] += dh[m, r],  dW_in[m, y_r] += dh[m, r]     rows in row order,
//!               a run of rows with the same x summed apart first, then added
//! ```
//! with g = dL/dz (already scaled by the loss's normalisation and the row's weight), sigma
//! Quad (h^2, sigma' = 2h) or ReLU (max(h, 0), sigma' = 1{h > 0}). Each sum is one chain of
//! fused multiply-adds in the order written; the lanes of a vector are different outputs,
//! never parts of one sum. Rows x = y add dh twice, as the chain rule says.
//!
//! # Bits
//! Every output is computed by one thread in the order above, so the results are the same on
//! any number of threads (the caller splits rows for the forward kernel and neurons for the
//! other two). They differ from the GEMM path's in the last bits (another summation order);
//! `tests/fused.rs` holds the two to the round-off bound of a K-term sum.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use crate::numerics::parallel::{block, block_size, SharedMut, Threads};
use rayon::prelude::*;

/// `wide!(body(args..))` runs `body` (an `#[inline(always)]` function) compiled for
/// AVX-512F where the CPU has it ([`available`]), else as compiled for the baseline (SSE2):
/// the crate is built for any x86-64, so its plain loops vectorise 4 f32 wide; inside a
/// `#[target_feature]` function they vectorise 16 wide. Each element sees the same operations
/// (Rust does not fuse a multiply and an add on its own), so both give the same bits.
#[macro_export]
#[doc(hidden)]
macro_rules! __wide {
    ($f:ident($($arg:expr),* $(,)?)) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f")]
            #[inline]
            unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
                f()
            }
            if $crate::numerics::fused::available() {
                // SAFETY: the CPU has AVX-512F (tested).
                unsafe { avx512(|| $f($($arg),*)) }
            } else {
                $f($($arg),*)
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $f($($arg),*)
        }
    }};
}
pub use __wide as wide;

/// The largest p the fused kernels take: 24 accumulators and their operands fill the 32 vector
/// registers of AVX-512.
pub const MAX_P: usize = 24;

/// Lanes of an AVX-512 vector of f32.
pub const LANES: usize = 16;

/// Width of the padded table row a neuron's input weights are looked up in (two vectors).
const TABLE: usize = 32;

/// Rows whose dL/da the backward kernel computes together (independent FMA chains).
const ROW_GROUP: usize = 8;

/// The neurons per block of the fused backward pass on `threads` threads: near-equal blocks,
/// multiples of 32 (two vectors). The weights' layout and the optimiser's update take the same
/// blocks, so each thread lays out, differentiates and updates the same neurons.
pub fn neuron_block(width: usize, threads: usize) -> usize {
    block_size(width, threads, 2 * LANES)
}

/// The accumulator count for p: 8, 16 or 24.
pub fn lanes_for(p: usize) -> usize {
    p.div_ceil(8) * 8
}

/// True when this CPU runs the fused kernels (x86-64 with AVX-512F), tested once.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *HAS.get_or_init(|| std::arch::is_x86_feature_detected!("avx512f"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The weights and indices laid out for the kernels, rebuilt every step (M (32 + 2J) + 2n
/// numbers copied: small beside the step's 6 p M n flops).
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// p.
    pub p: usize,
    /// M.
    pub width: usize,
    /// J, the accumulators: p rounded up to a multiple of 8.
    pub j: usize,
    /// M rounded up to a multiple of 32 (two vectors).
    pub width_pad: usize,
    /// Rows of the batch.
    pub rows: usize,
    /// Whether the forward kernel's tables were built (p <= [`MAX_P`]).
    pub forward: bool,
    /// W_in[m, x] at m * 32 + x, zero for x >= p (the forward kernel's lookup table).
    table: Vec<f32>,
    /// W_out[j, m] at m * J + j, zero for j >= p (broadcast by the forward kernel).
    w_out_cols: Vec<f32>,
    /// W_out[j, m] at j * width_pad + m, zero outside (loaded by the backward kernel).
    w_out_rows: Vec<f32>,
    /// x of every row, then zeros up to a multiple of 16.
    xi: Vec<i32>,
    /// y of every row, then zeros up to a multiple of 16.
    yi: Vec<i32>,
}

impl Layout {
    /// Lays out `w_in` (M x p column-major), `w_out` (p x M column-major) and the rows'
    /// operands for the backward kernels, and with `forward` (p <= [`MAX_P`] only) the forward
    /// kernel's tables too. False (and nothing to run) for p = 0, for `forward` with
    /// p > [`MAX_P`], or an operand not below p.
    ///
    /// The weights are laid out by blocks of neurons on `threads`, the blocks the backward
    /// kernels take (multiples of 32): each thread then writes the copies it reads back in
    /// the backward pass, and the copying is shared (one thread writing every copy took
    /// 9 us of a 90 us step at p = 23, M = 512, most of it fetching lines the other core had
    /// read). Copies only: the bits do not depend on the threads.
    pub fn build(
        &mut self,
        p: usize,
        (w_in, w_out): (&[f32], &[f32]),
        (x, y): (&[u32], &[u32]),
        forward: bool,
        threads: &Threads,
    ) -> bool {
        let in_range = |v: &[u32]| v.iter().all(|&o| (o as usize) < p);
        if p == 0 || (forward && p > MAX_P) || x.len() != y.len() || !in_range(x) || !in_range(y) {
            return false;
        }
        let m_w = w_in.len() / p;
        let j_n = lanes_for(p);
        let m_pad = m_w.div_ceil(2 * LANES) * 2 * LANES;
        if (self.p, self.width, self.forward) != (p, m_w, forward) {
            // The padding stays zero: only the entries below p and M are written below.
            (self.p, self.width, self.j, self.width_pad) = (p, m_w, j_n, m_pad);
            self.forward = forward;
            let f = if forward { 1 } else { 0 };
            refill(&mut self.table, f * m_w * TABLE);
            refill(&mut self.w_out_cols, f * m_w * j_n);
            refill(&mut self.w_out_rows, j_n * m_pad);
        }
        self.rows = x.len();
        let rows_pad = x.len().div_ceil(LANES) * LANES;
        for (dst, src) in [(&mut self.xi, x), (&mut self.yi, y)] {
            dst.clear();
            dst.extend(src.iter().map(|&v| v as i32));
            dst.resize(rows_pad, 0);
        }
        if m_w == 0 {
            return true;
        }
        let mb = neuron_block(m_w, threads.count());
        let out = LayoutPtrs {
            table: SharedMut::new(&mut self.table),
            cols: SharedMut::new(&mut self.w_out_cols),
            rows: SharedMut::new(&mut self.w_out_rows),
        };
        let this = &*self;
        let fill = |b: usize| {
            let (m0, n) = block(m_w, mb, b);
            // SAFETY: block b writes only neurons m0..m0+n of each copy (rows of the table
            // and of the W_out columns, columns of the W_out rows), disjoint from the other
            // blocks, inside the lengths sized above.
            unsafe { this.fill_block(out, (w_in, w_out), (m0, n)) };
        };
        let blocks = m_w.div_ceil(mb);
        if threads.parallel() && blocks > 1 {
            threads.install(|| (0..blocks).into_par_iter().for_each(fill));
        } else {
            (0..blocks).for_each(fill);
        }
        true
    }

    /// Lays out neurons `m0..m0+n`: with the forward tables, table rows (W_in by rows of 32)
    /// and W_out by columns of J; always W_out by rows (J x width_pad) for the backward
    /// kernels.
    ///
    /// # Safety
    /// `out` points into this layout's buffers, sized for it; no one else writes these
    /// neurons' entries meanwhile.
    unsafe fn fill_block(
        &self,
        out: LayoutPtrs,
        (w_in, w_out): (&[f32], &[f32]),
        (m0, n): (usize, usize),
    ) {
        let (p, m_w, j_n, m_pad) = (self.p, self.width, self.j, self.width_pad);
        // SAFETY (all three): the caller's guarantee; the table's and W_out columns' entries
        // of these neurons are one contiguous range each, the W_out rows' are strided (written
        // by pointer, never borrowed as a slice that would overlap the other blocks').
        if self.forward {
            // W_in (M x p column-major) is p rows of M: table[m * 32 + x] = W_in[x * M + m].
            let table = unsafe {
                std::slice::from_raw_parts_mut(out.table.get().add(m0 * TABLE), n * TABLE)
            };
            transpose(&w_in[m0..], (p, n, m_w), table, TABLE);
            let cols =
                unsafe { std::slice::from_raw_parts_mut(out.cols.get().add(m0 * j_n), n * j_n) };
            copy_rows(&w_out[m0 * p..], (n, p, p), cols, j_n);
        }
        // W_out (p x M column-major) is M rows of p: rows[j * width_pad + m] = W_out[m * p + j].
        unsafe { transpose_to(&w_out[m0 * p..], (n, p, p), out.rows.get().add(m0), m_pad) };
    }
}

/// Where [`Layout::fill_block`] writes (shared by the threads: each block writes its own
/// neurons).
#[derive(Clone, Copy)]
struct LayoutPtrs {
    table: SharedMut<f32>,
    cols: SharedMut<f32>,
    rows: SharedMut<f32>,
}

/// `dst[c * ds + r] = src[r * ss + c]` for r < rows, c < cols: the rows x cols matrix with row
/// stride `ss` transposed into rows of stride `ds`; nothing else of `dst` is written. By 16 x 16
/// tiles in registers with AVX-512F (a scalar double loop strides through one side: the
/// weights' layout took 9 us of a 90 us step at p = 23, M = 512), else scalar. Copies only.
///
/// # Panics
/// If either side is too short for the shape.
pub fn transpose(src: &[f32], (rows, cols, ss): (usize, usize, usize), dst: &mut [f32], ds: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    check_strided("transpose: destination", dst.len(), (cols, rows, ds));
    // SAFETY: the destination holds the shape (checked) and is borrowed whole.
    unsafe { transpose_to(src, (rows, cols, ss), dst.as_mut_ptr(), ds) }
}

/// [`transpose`] into `dst` by pointer, for a destination shared with other threads that
/// write other entries of it (no slice can be borrowed for strided entries alone).
///
/// # Safety
/// Entries `c * ds + r` (r < rows, c < cols) of `dst` are valid to write, and no one else
/// reads or writes them meanwhile.
///
/// # Panics
/// If `src` is too short for the shape.
unsafe fn transpose_to(
    src: &[f32],
    (rows, cols, ss): (usize, usize, usize),
    dst: *mut f32,
    ds: usize,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    check_strided("transpose: source", src.len(), (rows, cols, ss));
    assert!(rows <= ds, "transpose: destination rows overlap");
    #[cfg(target_arch = "x86_64")]
    if available() {
        for r0 in (0..rows).step_by(LANES) {
            for c0 in (0..cols).step_by(LANES) {
                let (nr, nc) = (LANES.min(rows - r0), LANES.min(cols - c0));
                // SAFETY: AVX-512F is present; the loads read columns c0..c0+nc of rows
                // r0..r0+nr of src (checked), the stores write entries r0..r0+nr of rows
                // c0..c0+nc of dst (the caller's guarantee).
                unsafe {
                    transpose_tile(
                        src.as_ptr().add(r0 * ss + c0),
                        (nr, nc, ss),
                        dst.add(c0 * ds + r0),
                        ds,
                    )
                };
            }
        }
        return;
    }
    for r in 0..rows {
        for c in 0..cols {
            // SAFETY: the caller's guarantee.
            unsafe { dst.add(c * ds + r).write(src[r * ss + c]) };
        }
    }
}

/// Asserts that `len` numbers hold `rows` rows of `cols` numbers, `stride` apart.
fn check_strided(what: &str, len: usize, (rows, cols, stride): (usize, usize, usize)) {
    assert!(
        cols <= stride && (rows - 1) * stride + cols <= len,
        "{what} too short for {rows} rows of {cols}, {stride} apart"
    );
}

/// `dst[r * ds + c] = src[r * ss + c]` for r < rows, c < cols (rows of stride `ss` into rows
/// of stride `ds`); nothing else of `dst` is written. Masked vector copies with AVX-512F.
///
/// # Panics
/// If either side is too short for the shape.
pub fn copy_rows(src: &[f32], (rows, cols, ss): (usize, usize, usize), dst: &mut [f32], ds: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    check_strided("copy_rows: source", src.len(), (rows, cols, ss));
    check_strided("copy_rows: destination", dst.len(), (rows, cols, ds));
    #[cfg(target_arch = "x86_64")]
    if available() {
        // SAFETY: AVX-512F is present; every access is inside the lengths asserted above.
        unsafe { copy_rows_avx512(src.as_ptr(), (rows, cols, ss), dst.as_mut_ptr(), ds) };
        return;
    }
    for r in 0..rows {
        dst[r * ds..r * ds + cols].copy_from_slice(&src[r * ss..r * ss + cols]);
    }
}

/// The low `n` bits set (n <= 16).
#[cfg(target_arch = "x86_64")]
fn low_bits(n: usize) -> u16 {
    ((1u32 << n) - 1) as u16
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn copy_rows_avx512(
    src: *const f32,
    (rows, cols, ss): (usize, usize, usize),
    dst: *mut f32,
    ds: usize,
) {
    for r in 0..rows {
        let (s, d) = (src.add(r * ss), dst.add(r * ds));
        for c0 in (0..cols).step_by(LANES) {
            let k = low_bits(LANES.min(cols - c0));
            _mm512_mask_storeu_ps(d.add(c0), k, _mm512_maskz_loadu_ps(k, s.add(c0)));
        }
    }
}

/// One tile of [`transpose`]: `nr` rows of `nc` numbers (both <= 16) from `src` (row stride
/// `ss`) into `nc` rows of `nr` at `dst` (row stride `ds`). The missing rows read as zeros and
/// are not stored. The 16 x 16 transpose exchanges ever larger blocks: 1 x 1 (unpack), 2 x 2
/// (shuffle of pairs), then 4 x 4 blocks twice (128-bit lane shuffles).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose_tile(
    src: *const f32,
    (nr, nc, ss): (usize, usize, usize),
    dst: *mut f32,
    ds: usize,
) {
    let kc = low_bits(nc);
    let mut r = [_mm512_setzero_ps(); LANES];
    for (i, v) in r.iter_mut().enumerate().take(nr) {
        *v = _mm512_maskz_loadu_ps(kc, src.add(i * ss));
    }
    let mut t = [_mm512_setzero_ps(); LANES];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for g in (0..LANES).step_by(4) {
        r[g] = _mm512_shuffle_ps::<0x44>(t[g], t[g + 2]);
        r[g + 1] = _mm512_shuffle_ps::<0xEE>(t[g], t[g + 2]);
        r[g + 2] = _mm512_shuffle_ps::<0x44>(t[g + 1], t[g + 3]);
        r[g + 3] = _mm512_shuffle_ps::<0xEE>(t[g + 1], t[g + 3]);
    }
    for h in [0, 8] {
        for i in h..h + 4 {
            t[i] = _mm512_shuffle_f32x4::<0x88>(r[i], r[i + 4]);
            t[i + 4] = _mm512_shuffle_f32x4::<0xDD>(r[i], r[i + 4]);
        }
    }
    for i in 0..8 {
        r[i] = _mm512_shuffle_f32x4::<0x88>(t[i], t[i + 8]);
        r[i + 8] = _mm512_shuffle_f32x4::<0xDD>(t[i], t[i + 8]);
    }
    let kr = low_bits(nr);
    for (j, v) in r.iter().enumerate().take(nc) {
        _mm512_mask_storeu_ps(dst.add(j * ds), kr, *v);
    }
}

/// Sets `v` to `n` zeros, reusing its allocation.
fn refill(v: &mut Vec<f32>, n: usize) {
    v.clear();
    v.resize(n, 0.0);
}

/// The activation: Quad or ReLU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// sigma(h) = h^2.
    Quad,
    /// sigma(h) = max(h, 0).
    Relu,
}

/// Logits of the rows `v0 * 16 .. v0 * 16 + out.len() / p` of the layout (16 rows per vector):
/// `z[r * p + j]` for the block's rows r, in row order (`out`: p per row, the last vector may
/// be partial).
///
/// # Panics
/// If the layout was not built (x86-64 without AVX-512F never calls this).
pub fn forward(lay: &Layout, act: Act, v0: usize, out: &mut [f32]) {
    assert!(available(), "fused kernels need AVX-512F");
    let p = lay.p;
    let rows = out.len() / p;
    let mut tile = [0f32; MAX_P * LANES];
    for v in 0..rows.div_ceil(LANES) {
        let first = (v0 + v) * LANES;
        assert!(
            first + LANES <= lay.xi.len(),
            "fused forward: rows outside the layout"
        );
        // SAFETY: AVX-512F is present (asserted); the layout's table holds M rows of 32, its
        // column copy M rows of J, its indices 16 entries from `first` (asserted) with values
        // < p <= 24 < 32 (checked when it was built); `tile` holds 24 x 16.
        unsafe { dispatch_forward(lay, act, first, &mut tile) };
        let n = LANES.min(rows - v * LANES);
        for k in 0..n {
            let zr = &mut out[(v * LANES + k) * p..(v * LANES + k + 1) * p];
            for (j, zj) in zr.iter_mut().enumerate() {
                *zj = tile[j * LANES + k];
            }
        }
    }
}

/// A block of rows for [`forward_ce`]: their labels and weights w_i, the loss's normalisation
/// s, and where the results go.
pub struct CeRows<'a> {
    /// Labels of the block's rows.
    pub labels: &'a [u32],
    /// Weights w_i of the block's rows (1, or 2 for a merged pair).
    pub weights: &'a [f32],
    /// The loss's normalisation s (1/n for the mean, 1 for the sum).
    pub scale: f32,
    /// g = s w_i dl/dz: J per row (the numbers past p are left alone).
    pub g: &'a mut [f32],
    /// w_i l_i per row, in f64.
    pub row_loss: &'a mut [f64],
    /// argmax == label per row.
    pub correct: &'a mut [bool],
}

/// The forward pass and the cross-entropy of the rows `v0 * 16 ..` of the layout, one vector
/// of 16 rows at a time, in the lanes the logits come out in:
/// ```text
/// mx = max_j z_j,  e_j = exp(z_j - mx),  S = sum_{j = 0}^{p-1} e_j  (in order, f32)
/// g_j = (e_j / S - 1{j = c}) (s w_i),   w_i l_i = w_i ((mx + ln S) - z_c)  (the last in f64)
/// correct = (first index of the largest z_j) == c
/// ```
/// The operations of [`Loss::pair_loss_and_grad`](crate::numerics::loss::Loss) in the same
/// order, except exp: a degree-7 polynomial after reduction by ln 2 (`exp_nonpositive`,
/// within 2 ulp of the exact value) in place of libm's `expf`. A vector with a non-finite
/// logit goes through `pair_loss_and_grad` itself (NaN losses and gradients, no argmax).
pub fn forward_ce(lay: &Layout, act: Act, v0: usize, out: CeRows<'_>) {
    assert!(available(), "fused kernels need AVX-512F");
    let (p, j_n) = (lay.p, lay.j);
    let rows = out.labels.len();
    assert!(out.weights.len() == rows && out.g.len() >= rows * j_n);
    assert!(out.row_loss.len() == rows && out.correct.len() == rows);
    let mut tile = [0f32; MAX_P * LANES];
    for v in 0..rows.div_ceil(LANES) {
        let (first, r0) = ((v0 + v) * LANES, v * LANES);
        let n = LANES.min(rows - r0);
        assert!(
            first + LANES <= lay.xi.len(),
            "fused forward: rows outside the layout"
        );
        let mut lanes = Lanes::default();
        for k in 0..n {
            lanes.label[k] = out.labels[r0 + k] as i32;
            lanes.factor[k] = out.scale * out.weights[r0 + k];
        }
        // SAFETY: as in `forward`; `ce_vector` reads p <= 24 vectors of `tile`.
        let finite = unsafe {
            dispatch_forward(lay, act, first, &mut tile);
            ce_vector(p, &mut tile, &mut lanes)
        };
        for k in 0..n {
            let r = r0 + k;
            let g = &mut out.g[r * j_n..r * j_n + p];
            let w = out.weights[r];
            if finite {
                for (j, gj) in g.iter_mut().enumerate() {
                    *gj = tile[j * LANES + k];
                }
                let (mx, sum, zc) = (lanes.max[k] as f64, lanes.sum[k] as f64, lanes.zc[k] as f64);
                out.row_loss[r] = w as f64 * ((mx + sum.ln()) - zc);
                out.correct[r] = lanes.best[k] == lanes.label[k];
            } else {
                // The logits are still in the tile: the scalar formula gives NaN where it should.
                for (j, gj) in g.iter_mut().enumerate() {
                    *gj = tile[j * LANES + k];
                }
                let c = out.labels[r] as usize;
                out.correct[r] = crate::numerics::loss::argmax(g) == Some(c);
                out.row_loss[r] =
                    w as f64 * crate::numerics::loss::Loss::CeMean.pair_loss_and_grad(g, c);
                g.iter_mut().for_each(|v| *v *= lanes.factor[k]);
            }
        }
    }
}

/// The per-row numbers of one vector of 16 rows in [`forward_ce`].
#[derive(Default)]
struct Lanes {
    label: [i32; LANES],
    factor: [f32; LANES],
    max: [f32; LANES],
    sum: [f32; LANES],
    zc: [f32; LANES],
    best: [i32; LANES],
}

/// The cross-entropy of 16 rows whose logits are `tile[j * 16 + lane]`, j < p: g in place of
/// the logits and the lanes' max, sum, z_c and argmax in `l`. False, with the tile unchanged,
/// if any logit is not finite.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn ce_vector(p: usize, tile: &mut [f32; MAX_P * LANES], l: &mut Lanes) -> bool {
    // SAFETY: p <= 24 vectors of 16 lie in the tile; the lanes' arrays hold 16 numbers.
    unsafe {
        let t = tile.as_mut_ptr();
        let z = |j: usize| _mm512_loadu_ps(t.add(j * LANES));
        let label = _mm512_loadu_si512(l.label.as_ptr().cast());
        let (mut mx, mut best) = (z(0), _mm512_setzero_si512());
        let mut zc = _mm512_setzero_ps();
        let inf = _mm512_set1_ps(f32::INFINITY);
        let mut bad: u16 = 0;
        for j in 0..p {
            let zj = z(j);
            // |z| < inf is false for infinities and NaN.
            bad |= !_mm512_cmp_ps_mask::<_CMP_LT_OQ>(_mm512_abs_ps(zj), inf);
            let jv = _mm512_set1_epi32(j as i32);
            let gt = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(zj, mx);
            mx = _mm512_mask_blend_ps(gt, mx, zj);
            best = _mm512_mask_blend_epi32(gt, best, jv);
            zc = _mm512_mask_blend_ps(_mm512_cmpeq_epi32_mask(jv, label), zc, zj);
        }
        if bad != 0 {
            return false;
        }
        let mut sum = _mm512_setzero_ps();
        for j in 0..p {
            let e = exp_nonpositive(_mm512_sub_ps(z(j), mx));
            _mm512_storeu_ps(t.add(j * LANES), e);
            sum = _mm512_add_ps(sum, e);
        }
        let inv = _mm512_div_ps(_mm512_set1_ps(1.0), sum);
        let factor = _mm512_loadu_ps(l.factor.as_ptr());
        let one = _mm512_set1_ps(1.0);
        for j in 0..p {
            let q = _mm512_mul_ps(z(j), inv);
            let is_c = _mm512_cmpeq_epi32_mask(_mm512_set1_epi32(j as i32), label);
            let q = _mm512_mask_sub_ps(q, is_c, q, one);
            _mm512_storeu_ps(t.add(j * LANES), _mm512_mul_ps(q, factor));
        }
        _mm512_storeu_ps(l.max.as_mut_ptr(), mx);
        _mm512_storeu_ps(l.sum.as_mut_ptr(), sum);
        _mm512_storeu_ps(l.zc.as_mut_ptr(), zc);
        _mm512_storeu_si512(l.best.as_mut_ptr().cast(), best);
        true
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn ce_vector(_: usize, _: &mut [f32; MAX_P * LANES], _: &mut Lanes) -> bool {
    unreachable!("fused kernels need x86-64")
}

/// exp(x) for x <= 0 (a logit minus its row's maximum), lane by lane:
/// ```text
/// k = round(x / ln 2),  r = x - k ln 2 (ln 2 in two parts, |r| <= ln 2 / 2),
/// exp(x) = 2^k (1 + r + r^2/2! + .. + r^7/7!)
/// ```
/// The truncation error r^8/8! <= 5.3e-9 is below half an f32 ulp of the result's mantissa;
/// with the Horner rounding the result lies within 2 ulp of exp(x) (unit test). 2^k by
/// `vscalefps`, which underflows to subnormals and zero as exp does.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn exp_nonpositive(x: __m512) -> __m512 {
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let k = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
    );
    let r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_HI), x);
    let r = _mm512_fnmadd_ps(k, _mm512_set1_ps(LN2_LO), r);
    let mut q = _mm512_set1_ps(1.0 / 5040.0);
    for c in [
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
        1.0,
        1.0,
    ] {
        q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(c));
    }
    _mm512_scalef_ps(q, k)
}

/// Rows per chunk of the backward pass: a chunk's g (at most 512 x J numbers) stays in the
/// core's L2 cache while every vector of neurons of the block passes over it.
pub const ROW_CHUNK: usize = 512;

/// The numbers [`backward`]'s `acc` needs for a block of `nb` neurons: p per neuron, by
/// vectors of 16.
pub fn acc_len(p: usize, nb: usize) -> usize {
    nb.div_ceil(LANES) * LANES * p
}

/// The backward pass of the neurons `m0..m0 + nb` (`m0` a multiple of 32, `m0 + nb <= M`):
/// `dW_out[:, m0..m0+nb]` into `gout` (p x nb column-major) and the rows `m0..m0 + nb` of
/// dL/dW_in added into `gin` (the whole M x p column-major matrix, zeroed by the caller).
///
/// `w_in` is W_in (M x p column-major); `g` holds dL/dz of every row, J per row (zero for
/// j >= p), padded with zero rows to a multiple of 16 rows. The rows go by chunks of
/// [`ROW_CHUNK`]; `acc` ([`acc_len`] numbers) keeps the `dW_out` sums between chunks (the
/// FMA chains continue from it, so chunking does not change them; a run of equal x in the
/// scatter ends at a chunk's end).
///
/// # Safety
/// `gin` must point to M x p numbers of which no other thread touches rows `m0..m0 + nb`
/// while this runs.
pub unsafe fn backward(
    lay: &Layout,
    act: Act,
    (w_in, g): (&[f32], &[f32]),
    (m0, nb): (usize, usize),
    (gout, acc): (&mut [f32], &mut [f32]),
    gin: *mut f32,
) {
    assert!(available(), "fused kernels need AVX-512F");
    let (p, m_w) = (lay.p, lay.width);
    let rows = lay.rows;
    assert!(w_in.len() == m_w * p, "fused backward: W_in is not M x p");
    assert!(
        g.len() >= rows.div_ceil(LANES) * LANES * lay.j,
        "fused backward: g shorter than the rows"
    );
    assert!(gout.len() >= p * nb && m0 + nb <= m_w && m0 % (2 * LANES) == 0);
    assert!(acc.len() >= acc_len(p, nb), "fused backward: acc too short");
    acc.fill(0.0);
    for r0 in (0..rows).step_by(ROW_CHUNK) {
        let chunk = (r0, ROW_CHUNK.min(rows - r0));
        let mut mv = m0;
        while mv < m0 + nb {
            // Two vectors of neurons at a time (the second one empty past the block).
            let cols = [mv, mv + LANES].map(|v| {
                let n = (m0 + nb).saturating_sub(v).min(LANES);
                Cols {
                    w_in: w_in.as_ptr(),
                    m_w,
                    mv: v.min(m0 + nb),
                    mask: if n == LANES {
                        u16::MAX
                    } else {
                        (1u16 << n) - 1
                    },
                }
            });
            // SAFETY: AVX-512F is present (asserted); loads and stores of W_in and dW_in
            // rows are masked to the lanes inside the block; the operands are < p (checked
            // when the layout was built); g holds every row's J numbers and zero rows up to a
            // multiple of 16 (asserted); the row copy of W_out has a multiple of 32 columns;
            // `acc` holds p x 16 per vector of the block (asserted); the caller owns these
            // rows of `gin`.
            unsafe { dispatch_backward(lay, act, (&cols, m0), chunk, g, acc, gin) };
            mv += 2 * LANES;
        }
    }
    for (v, tile) in acc
        .chunks_exact(p * LANES)
        .enumerate()
        .take(nb.div_ceil(LANES))
    {
        for k in 0..LANES.min(nb - v * LANES) {
            let col = &mut gout[(v * LANES + k) * p..(v * LANES + k + 1) * p];
            for (j, c) in col.iter_mut().enumerate() {
                *c = tile[j * LANES + k];
            }
        }
    }
}

/// One vector of neurons `mv..mv + 16` of the column-major W_in (and dL/dW_in), the lanes past
/// M masked off.
struct Cols {
    w_in: *const f32,
    m_w: usize,
    mv: usize,
    mask: u16,
}

/// Calls the forward kernel for J accumulators and the activation.
#[cfg(target_arch = "x86_64")]
unsafe fn dispatch_forward(lay: &Layout, act: Act, first: usize, tile: &mut [f32; MAX_P * LANES]) {
    let xi = lay.xi[first..].as_ptr();
    let yi = lay.yi[first..].as_ptr();
    let args = (lay.table.as_ptr(), lay.w_out_cols.as_ptr(), lay.width);
    // SAFETY: forwarded from the caller.
    unsafe {
        match (lay.j, act) {
            (8, Act::Quad) => forward_vec::<8, false>(args, xi, yi, tile),
            (8, Act::Relu) => forward_vec::<8, true>(args, xi, yi, tile),
            (16, Act::Quad) => forward_vec::<16, false>(args, xi, yi, tile),
            (16, Act::Relu) => forward_vec::<16, true>(args, xi, yi, tile),
            (24, Act::Quad) => forward_vec::<24, false>(args, xi, yi, tile),
            (24, Act::Relu) => forward_vec::<24, true>(args, xi, yi, tile),
            _ => unreachable!("J is 8, 16 or 24"),
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dispatch_forward(_: &Layout, _: Act, _: usize, _: &mut [f32; MAX_P * LANES]) {
    unreachable!("fused kernels need x86-64")
}

/// Calls the backward kernels of two vectors of neurons on the rows of `chunk`: `dW_out` by
/// blocks of the p outputs (as even as can be, at most 24: the accumulators of one pass over
/// the rows) continued from `acc`, then dL/da and the scatter.
#[cfg(target_arch = "x86_64")]
unsafe fn dispatch_backward(
    lay: &Layout,
    act: Act,
    (cols, m0): (&[Cols; 2], usize),
    (r0, rn): (usize, usize),
    g: &[f32],
    acc: &mut [f32],
    gin: *mut f32,
) {
    let (p, j_n) = (lay.p, lay.j);
    let (x, y) = (&lay.xi[r0..r0 + rn], &lay.yi[r0..r0 + rn]);
    let w_rows = (lay.w_out_rows[cols[0].mv..].as_ptr(), lay.width_pad);
    let g = g[r0 * j_n..].as_ptr();
    let blocks = p.div_ceil(MAX_P);
    // SAFETY: forwarded from the caller.
    unsafe {
        for c in cols.iter().filter(|c| c.mask != 0) {
            let tile = acc[(c.mv - m0) * p..].as_mut_ptr();
            let mut jb = 0;
            for b in 0..blocks {
                let jn = p / blocks + usize::from(b < p % blocks);
                let args = (c, (x, y), (g.add(jb), j_n), tile.add(jb * LANES));
                dw_out_dispatch(jn, act, args);
                jb += jn;
            }
        }
        match act {
            Act::Quad => da_block::<false>(cols, (x, y), (g, j_n, p), w_rows, gin),
            Act::Relu => da_block::<true>(cols, (x, y), (g, j_n, p), w_rows, gin),
        }
    }
}

/// The arguments of [`dw_out_block`].
#[cfg(target_arch = "x86_64")]
type DwArgs<'a> = (
    &'a Cols,
    (&'a [i32], &'a [i32]),
    (*const f32, usize),
    *mut f32,
);

/// [`dw_out_block`] for `jn` (1..=24) accumulators and the activation.
#[cfg(target_arch = "x86_64")]
unsafe fn dw_out_dispatch(jn: usize, act: Act, (c, xy, g, acc): DwArgs<'_>) {
    macro_rules! by_count {
        ($($j:literal)*) => {
            match (jn, act) {
                $(($j, Act::Quad) => dw_out_block::<$j, false>(c, xy, g, acc),
                  ($j, Act::Relu) => dw_out_block::<$j, true>(c, xy, g, acc),)*
                _ => unreachable!("1 to 24 outputs per block"),
            }
        };
    }
    // SAFETY: forwarded from the caller.
    unsafe { by_count!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24) }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn dispatch_backward(
    _: &Layout,
    _: Act,
    _: (&[Cols; 2], usize),
    _: (usize, usize),
    _: &[f32],
    _: &mut [f32],
    _: *mut f32,
) {
    unreachable!("fused kernels need x86-64")
}

/// sigma(h): h^2 (Quad) or max(h, 0) (ReLU).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn value<const RELU: bool>(h: __m512) -> __m512 {
    if RELU {
        _mm512_max_ps(h, _mm512_setzero_ps())
    } else {
        _mm512_mul_ps(h, h)
    }
}

/// sigma'(h): 2h (Quad, as `2 * h`) or 1{h > 0} (ReLU).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn deriv<const RELU: bool>(h: __m512) -> __m512 {
    if RELU {
        let pos = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(h, _mm512_setzero_ps());
        _mm512_maskz_mov_ps(pos, _mm512_set1_ps(1.0))
    } else {
        _mm512_mul_ps(_mm512_set1_ps(2.0), h)
    }
}

/// z[j, r] for the 16 rows whose operands are at `xi`, `yi`, into `tile[j * 16 + lane]`:
/// per neuron m, the row's h is looked up in the neuron's 32-entry table row, sigma(h) taken,
/// and J accumulators (one per output j) take one FMA each, m = 0, 1, .., M - 1 in order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn forward_vec<const J: usize, const RELU: bool>(
    (table, w_cols, m_w): (*const f32, *const f32, usize),
    xi: *const i32,
    yi: *const i32,
    tile: &mut [f32; MAX_P * LANES],
) {
    // SAFETY: the caller guarantees the table (M x 32), the columns (M x J) and 16 indices.
    unsafe {
        let xv = _mm512_loadu_si512(xi.cast());
        let yv = _mm512_loadu_si512(yi.cast());
        let mut acc = [_mm512_setzero_ps(); J];
        for m in 0..m_w {
            let row = table.add(m * TABLE);
            let (lo, hi) = (_mm512_loadu_ps(row), _mm512_loadu_ps(row.add(LANES)));
            let h = _mm512_add_ps(
                _mm512_permutex2var_ps(lo, xv, hi),
                _mm512_permutex2var_ps(lo, yv, hi),
            );
            let a = value::<RELU>(h);
            let w = w_cols.add(m * J);
            for (j, acc) in acc.iter_mut().enumerate() {
                *acc = _mm512_fmadd_ps(_mm512_set1_ps(*w.add(j)), a, *acc);
            }
        }
        for (j, acc) in acc.iter().enumerate() {
            _mm512_storeu_ps(tile.as_mut_ptr().add(j * LANES), *acc);
        }
    }
}

/// h of the row with operands (x, y) for the neurons of `c`: W_in[m, x] + W_in[m, y].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn gather(c: &Cols, x: i32, y: i32) -> __m512 {
    // SAFETY: the caller guarantees x, y < p and the mask keeps the loads inside M.
    unsafe {
        let wx = load(c, c.w_in.add(x as usize * c.m_w + c.mv));
        let wy = load(c, c.w_in.add(y as usize * c.m_w + c.mv));
        _mm512_add_ps(wx, wy)
    }
}

/// The 16 numbers at `ptr` for the neurons of `c` (zero past M). A full vector is loaded
/// without a mask: a masked load cannot take its value from a pending store to the same
/// address, and the scatter stores and reloads the same rows of dL/dW_in.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn load(c: &Cols, ptr: *const f32) -> __m512 {
    // SAFETY: the caller guarantees the lanes of the mask are in bounds.
    unsafe {
        if c.mask == u16::MAX {
            _mm512_loadu_ps(ptr)
        } else {
            _mm512_maskz_loadu_ps(c.mask, ptr)
        }
    }
}

/// Stores the lanes of `v` for the neurons of `c` at `ptr` (none past M), as [`load`] reads.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn store(c: &Cols, ptr: *mut f32, v: __m512) {
    // SAFETY: the caller guarantees the lanes of the mask are in bounds.
    unsafe {
        if c.mask == u16::MAX {
            _mm512_storeu_ps(ptr, v)
        } else {
            _mm512_mask_storeu_ps(ptr, c.mask, v)
        }
    }
}

/// dW_out[j0 + j, m] for the 16 neurons of `c` and j < J, continued from `acc[j * 16 + lane]`
/// and stored back there: J accumulators, each taking g[j0 + j, r] a[m, r] for the rows in
/// row order (`g` points at `g[j0]` of the first row, rows `stride` apart).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn dw_out_block<const J: usize, const RELU: bool>(
    c: &Cols,
    (x, y): (&[i32], &[i32]),
    (g, stride): (*const f32, usize),
    out: *mut f32,
) {
    // SAFETY: the caller guarantees g holds J numbers from j0 for every row and `out` J x 16.
    unsafe {
        let mut acc: [__m512; J] = std::array::from_fn(|j| _mm512_loadu_ps(out.add(j * LANES)));
        for (r, (&xr, &yr)) in x.iter().zip(y).enumerate() {
            let a = value::<RELU>(gather(c, xr, yr));
            let gr = g.add(r * stride);
            for (j, acc) in acc.iter_mut().enumerate() {
                *acc = _mm512_fmadd_ps(_mm512_set1_ps(*gr.add(j)), a, *acc);
            }
        }
        for (j, acc) in acc.iter().enumerate() {
            _mm512_storeu_ps(out.add(j * LANES), *acc);
        }
    }
}

/// dL/da of 8 rows at a time for the 32 neurons of `cs` (sixteen FMA chains over j = 0..p:
/// two vectors of W_out and eight broadcasts of g per j), times sigma'(h), added into dL/dW_in
/// at the rows' x and y columns, rows in row order. A run of rows with the same x (the merged
/// batch's order) sums its x terms in a register, added to dL/dW_in[:, x] when the run ends:
/// a load-add-store per row on the same address would chain every row through memory.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn da_block<const RELU: bool>(
    cs: &[Cols; 2],
    (x, y): (&[i32], &[i32]),
    (g, stride, p): (*const f32, usize, usize),
    (w_rows, m_pad): (*const f32, usize),
    gin: *mut f32,
) {
    // SAFETY: the caller guarantees g holds J numbers for every row and zero rows up to a
    // multiple of 16, W_out's rows J x m_pad from neuron mv (32 columns), and owns these rows
    // of `gin`.
    unsafe {
        let at = |c: &Cols, o: i32| gin.add(o as usize * c.m_w + c.mv);
        let flush = |o: i32, run: &[__m512; 2]| {
            for (c, run) in cs.iter().zip(run) {
                store(c, at(c, o), _mm512_add_ps(load(c, at(c, o)), *run));
            }
        };
        let (mut run_x, mut run) = (x[0], [_mm512_setzero_ps(); 2]);
        let mut r = 0;
        while r < x.len() {
            let mut da = [[_mm512_setzero_ps(); ROW_GROUP]; 2];
            for j in 0..p {
                let w0 = _mm512_loadu_ps(w_rows.add(j * m_pad));
                let w1 = _mm512_loadu_ps(w_rows.add(j * m_pad + LANES));
                let [d0, d1] = &mut da;
                for (k, (d0, d1)) in d0.iter_mut().zip(d1.iter_mut()).enumerate() {
                    let gk = _mm512_set1_ps(*g.add((r + k) * stride + j));
                    *d0 = _mm512_fmadd_ps(w0, gk, *d0);
                    *d1 = _mm512_fmadd_ps(w1, gk, *d1);
                }
            }
            for k in 0..ROW_GROUP.min(x.len() - r) {
                let (xr, yr) = (x[r + k], y[r + k]);
                if xr != run_x {
                    flush(run_x, &run);
                    (run_x, run) = (xr, [_mm512_setzero_ps(); 2]);
                }
                for (v, c) in cs.iter().enumerate() {
                    let dh = _mm512_mul_ps(da[v][k], deriv::<RELU>(gather(c, xr, yr)));
                    run[v] = _mm512_add_ps(run[v], dh);
                    if xr == yr {
                        run[v] = _mm512_add_ps(run[v], dh);
                    } else {
                        store(c, at(c, yr), _mm512_add_ps(load(c, at(c, yr)), dh));
                    }
                }
            }
            r += ROW_GROUP;
        }
        flush(run_x, &run);
    }
}

/// The most columns [`project`] takes (two vectors).
pub const PROJECT_MAX_COLS: usize = 2 * LANES;

/// The most rows of the table [`project`] takes.
pub const PROJECT_MAX_ROWS: usize = 33;

/// Neurons per group of [`project`]'s kernel (12 accumulators of the 32 registers).
const PROJECT_GROUP: usize = 6;

/// The table of [`project`]: a p x k column-major table `t` (k <= 32) laid out by rows of 32
/// (row x at `x * 32`, zero past k), into `rows` (its allocation reused).
pub fn project_table(t: &[f32], p: usize, k: usize, rows: &mut Vec<f32>) {
    rows.clear();
    rows.resize(p * PROJECT_MAX_COLS, 0.0);
    for (x, row) in rows.chunks_exact_mut(PROJECT_MAX_COLS).enumerate() {
        for (c, v) in row[..k.min(PROJECT_MAX_COLS)].iter_mut().enumerate() {
            *v = t[x + c * p];
        }
    }
}

/// `out[i * k + c] = sum_{x = 0}^{p-1} w[(m0 + i) * rs + x * cs] t[x + c * p]` for the rows
/// i < `mb` of a strided M x p matrix against a p x k table (k <= 32, given by rows as
/// [`project_table`] lays it out), in f32: one FMA chain per output over x = 0, 1, .., p - 1
/// in order, six rows at a time with the table's row x in two vectors. False (nothing
/// written) without AVX-512F, for k > 32 or p > 33; the caller then uses the GEMM.
/// Allocates nothing.
pub fn project(
    w: &[f32],
    (rs, cs): (usize, usize),
    (m0, mb): (usize, usize),
    (rows, p, k): (&[f32], usize, usize),
    out: &mut [f32],
) -> bool {
    if !available() || k > PROJECT_MAX_COLS || p > PROJECT_MAX_ROWS || p == 0 || mb == 0 {
        return false;
    }
    assert!(
        rows.len() >= p * PROJECT_MAX_COLS && out.len() >= mb * k,
        "project: short table or output"
    );
    assert!(
        (m0 + mb - 1) * rs + (p - 1) * cs < w.len(),
        "project: rows outside w"
    );
    let mask = if k > LANES {
        (1u32 << (k - LANES)) - 1
    } else {
        0
    } as u16;
    let lo_mask = if k >= LANES {
        u16::MAX
    } else {
        ((1u32 << k) - 1) as u16
    };
    let mut i = 0;
    while i < mb {
        let n = PROJECT_GROUP.min(mb - i);
        // SAFETY: AVX-512F is present; rows i..i+n lie in w (asserted for the last row);
        // the table rows hold 32 numbers each; the stores are masked to k columns of the
        // rows i..i+n of out (asserted length).
        unsafe {
            let args = (rs, cs, p);
            let (src, dst) = (w.as_ptr().add((m0 + i) * rs), out.as_mut_ptr().add(i * k));
            if n == PROJECT_GROUP {
                project_group::<PROJECT_GROUP>(src, args, rows.as_ptr(), (lo_mask, mask), dst, k);
            } else {
                for r in 0..n {
                    let (src, dst) = (src.add(r * rs), dst.add(r * k));
                    project_group::<1>(src, args, rows.as_ptr(), (lo_mask, mask), dst, k);
                }
            }
        };
        i += n;
    }
    true
}

/// [`project`] for `N` rows from `w` (row stride rs, column stride cs).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn project_group<const N: usize>(
    w: *const f32,
    (rs, cs, p): (usize, usize, usize),
    rows: *const f32,
    (lo_mask, hi_mask): (u16, u16),
    out: *mut f32,
    k: usize,
) {
    // SAFETY: the caller guarantees the bounds.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); 2]; N];
        for x in 0..p {
            let t0 = _mm512_loadu_ps(rows.add(x * PROJECT_MAX_COLS));
            let t1 = _mm512_loadu_ps(rows.add(x * PROJECT_MAX_COLS + LANES));
            for (i, acc) in acc.iter_mut().enumerate() {
                let b = _mm512_set1_ps(*w.add(i * rs + x * cs));
                acc[0] = _mm512_fmadd_ps(b, t0, acc[0]);
                acc[1] = _mm512_fmadd_ps(b, t1, acc[1]);
            }
        }
        for (i, acc) in acc.iter().enumerate() {
            _mm512_mask_storeu_ps(out.add(i * k), lo_mask, acc[0]);
            _mm512_mask_storeu_ps(out.add(i * k + LANES), hi_mask, acc[1]);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn project_group<const N: usize>(
    _: *const f32,
    _: (usize, usize, usize),
    _: *const f32,
    _: (u16, u16),
    _: *mut f32,
    _: usize,
) {
    unreachable!("fused kernels need x86-64")
}

/// The most frequencies [`spectra`] takes: 2K = 24 sums per neuron, held in registers.
pub const SPECTRA_MAX_K: usize = 12;

/// One neuron's spectra for the progress measures ([`spectra`]): `sums` = (sum_k e_k,
/// sum_k e_k^2) of the input layer, then of the output layer, with e_k = c_k^2 + s_k^2 in f64;
/// `at_best` = (c, s) of the input layer, then of the output layer, at the input layer's
/// first k of largest e_k.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Spectra {
    /// (sum e_k, sum e_k^2) of the input layer, then of the output layer.
    pub sums: [f64; 4],
    /// (c, s) of the input layer, then of the output layer, at the input's dominant k.
    pub at_best: [f64; 4],
}

/// The spectra of neurons `m0 .. m0 + out.len()`, sixteen neurons per vector. The layers' sums
/// c_k = sum_x w(x) cos(w_k x), s_k = sum_x w(x) sin(w_k x) are f32 FMA chains in x order
/// (as [`project`]'s), the neurons in the lanes: the input layer from `w_in` (M x p
/// column-major, neurons contiguous), the output layer from `w_out_t` (p rows of
/// `out.len()` numbers: this block of W_out transposed, [`transpose`]), against the table
/// `rows` (row x at `x * 32`: c_1..c_K, then s_1..s_K). Then, per lane and in f64 in k order
/// (the order of the scalar loop, so the same bits), e_k, its sums and the first k of the
/// largest e_k (`e > best`, so a NaN energy is never the best, as in the scalar loop).
/// False (nothing written) without AVX-512F, for K = 0 or K > [`SPECTRA_MAX_K`].
///
/// # Panics
/// If an operand is shorter than the shape.
pub fn spectra(
    (w_in, m_w, m0): (&[f32], usize, usize),
    w_out_t: &[f32],
    (rows, p, k): (&[f32], usize, usize),
    out: &mut [Spectra],
) -> bool {
    let n = out.len();
    if !available() || k == 0 || k > SPECTRA_MAX_K || n == 0 || p == 0 {
        return false;
    }
    assert!(
        2 * k <= PROJECT_MAX_COLS && rows.len() >= p * PROJECT_MAX_COLS,
        "spectra: table"
    );
    assert!(m0 + n <= m_w && w_in.len() >= m_w * p, "spectra: W_in");
    assert!(w_out_t.len() >= n * p, "spectra: W_out block");
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! by_k {
            ($($k:literal)*) => {
                match k {
                    $($k => {
                        for g in (0..n).step_by(LANES) {
                            let mask = low_bits(LANES.min(n - g));
                            // SAFETY: AVX-512F is present; the loads are masked to the lanes
                            // g.. of this block, inside the lengths asserted above.
                            unsafe {
                                let a = spectra_sums::<{ 2 * $k }>(
                                    (w_in.as_ptr().add(m0 + g), m_w), rows.as_ptr(), p, mask);
                                let b = spectra_sums::<{ 2 * $k }>(
                                    (w_out_t.as_ptr().add(g), n), rows.as_ptr(), p, mask);
                                spectra_energies::<$k>(&a, &b, &mut out[g..(g + LANES).min(n)]);
                            }
                        }
                    })*
                    _ => unreachable!("1 <= K <= 12"),
                }
            };
        }
        by_k!(1 2 3 4 5 6 7 8 9 10 11 12);
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The K2 = 2K sums of sixteen neurons (lanes): `w` holds row x of the layer at `x * stride`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn spectra_sums<const K2: usize>(
    (w, stride): (*const f32, usize),
    rows: *const f32,
    p: usize,
    mask: u16,
) -> [__m512; K2] {
    // SAFETY: the caller guarantees p rows of 16 (masked) lanes at `w` and p table rows.
    unsafe {
        let mut acc = [_mm512_setzero_ps(); K2];
        for x in 0..p {
            let wx = _mm512_maskz_loadu_ps(mask, w.add(x * stride));
            let t = rows.add(x * PROJECT_MAX_COLS);
            for (c, a) in acc.iter_mut().enumerate() {
                *a = _mm512_fmadd_ps(wx, _mm512_set1_ps(*t.add(c)), *a);
            }
        }
        acc
    }
}

/// Energies of the sums `a` (input layer) and `b` (output layer) of sixteen neurons (2K
/// vectors each: c_1..c_K, then s_1..s_K), per lane in f64 and in k order, into `out` (at
/// most 16).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn spectra_energies<const K: usize>(a: &[__m512], b: &[__m512], out: &mut [Spectra]) {
    let half = |v: __m512, h: usize| {
        if h == 0 {
            _mm512_cvtps_pd(_mm512_castps512_ps256(v))
        } else {
            _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_shuffle_f32x4::<0b1110>(v, v)))
        }
    };
    let energy = |c: __m512d, s: __m512d| _mm512_add_pd(_mm512_mul_pd(c, c), _mm512_mul_pd(s, s));
    for h in 0..2 {
        let zero = _mm512_setzero_pd();
        let (mut s2i, mut s4i, mut s2o, mut s4o) = (zero, zero, zero, zero);
        let mut best_e = _mm512_set1_pd(-1.0);
        // The scalar loop's best starts at k = 1 (index 0), kept when every e_k is NaN.
        let mut at = [half(a[0], h), half(a[K], h), half(b[0], h), half(b[K], h)];
        for k0 in 0..K {
            let (c, s) = (half(a[k0], h), half(a[K + k0], h));
            let (co, so) = (half(b[k0], h), half(b[K + k0], h));
            let (e, eo) = (energy(c, s), energy(co, so));
            s2i = _mm512_add_pd(s2i, e);
            s4i = _mm512_add_pd(s4i, _mm512_mul_pd(e, e));
            s2o = _mm512_add_pd(s2o, eo);
            s4o = _mm512_add_pd(s4o, _mm512_mul_pd(eo, eo));
            let gt = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(e, best_e);
            best_e = _mm512_mask_blend_pd(gt, best_e, e);
            for (v, new) in at.iter_mut().zip([c, s, co, so]) {
                *v = _mm512_mask_blend_pd(gt, *v, new);
            }
        }
        let mut lanes = [[0.0f64; 8]; 8];
        for (dst, v) in lanes
            .iter_mut()
            .zip([s2i, s4i, s2o, s4o, at[0], at[1], at[2], at[3]])
        {
            _mm512_storeu_pd(dst.as_mut_ptr(), v);
        }
        for (l, o) in out.iter_mut().skip(8 * h).take(8).enumerate() {
            *o = Spectra {
                sums: [lanes[0][l], lanes[1][l], lanes[2][l], lanes[3][l]],
                at_best: [lanes[4][l], lanes[5][l], lanes[6][l], lanes[7][l]],
            };
        }
    }
}

/// The energy sums of one row of Fourier sums, for the progress measures.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Energies {
    /// sum_k e_k.
    pub sum: f64,
    /// sum_k e_k^2.
    pub sum_sq: f64,
    /// The first k (0-based) of largest e_k.
    pub best: usize,
}

/// For each row of `rows` (2K numbers: c_1..c_K, then s_1..s_K, K <= 16), with
/// e_k = c_k^2 + s_k^2 in f64: `Energies { sum e_k, sum e_k^2, first argmax }` into `out`.
/// Sixteen frequencies in two vectors of f64, the sums by a fixed reduction tree. Returns
/// the number of rows done: all of them, or 0 without AVX-512F or for K > 16; a row with a
/// NaN energy stops it early (the caller finishes from that row, where NaN has its scalar
/// meaning).
pub fn energies(rows: &[f32], k: usize, out: &mut [Energies]) -> usize {
    if !available() || k == 0 || k > LANES {
        return 0;
    }
    assert!(
        rows.len() >= out.len() * 2 * k,
        "energies: rows shorter than the output"
    );
    // SAFETY: AVX-512F is present; every row holds 2k numbers (asserted).
    unsafe { energies_rows(rows, k, out) }
}

/// The loop of [`energies`], compiled for AVX-512F so that each row's kernel is inlined.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn energies_rows(rows: &[f32], k: usize, out: &mut [Energies]) -> usize {
    let mask = if k == LANES {
        u16::MAX
    } else {
        ((1u32 << k) - 1) as u16
    };
    for (r, o) in out.iter_mut().enumerate() {
        // SAFETY: row r holds 2k numbers (asserted by the caller); the loads are masked to
        // k lanes from its start and from k.
        match unsafe { energies_row(rows.as_ptr().add(r * 2 * k), k, mask) } {
            Some(e) => *o = e,
            None => return r,
        }
    }
    out.len()
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn energies_rows(_: &[f32], _: usize, _: &mut [Energies]) -> usize {
    unreachable!("fused kernels need x86-64")
}

/// [`energies`] of one row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn energies_row(row: *const f32, k: usize, mask: u16) -> Option<Energies> {
    // SAFETY: the caller guarantees 2k numbers at `row`.
    unsafe {
        let c = _mm512_maskz_loadu_ps(mask, row);
        let s = _mm512_maskz_loadu_ps(mask, row.add(k));
        let halves = |v: __m512| {
            let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
            let hi = _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_shuffle_f32x4::<0b1110>(v, v)));
            (lo, hi)
        };
        let ((c0, c1), (s0, s1)) = (halves(c), halves(s));
        let e0 = _mm512_add_pd(_mm512_mul_pd(c0, c0), _mm512_mul_pd(s0, s0));
        let e1 = _mm512_add_pd(_mm512_mul_pd(c1, c1), _mm512_mul_pd(s1, s1));
        let nan = _mm512_cmp_pd_mask::<_CMP_UNORD_Q>(e0, e1);
        if nan != 0 {
            return None;
        }
        let sum = _mm512_reduce_add_pd(_mm512_add_pd(e0, e1));
        let sum_sq =
            _mm512_reduce_add_pd(_mm512_add_pd(_mm512_mul_pd(e0, e0), _mm512_mul_pd(e1, e1)));
        let mx = _mm512_set1_pd(_mm512_reduce_max_pd(_mm512_max_pd(e0, e1)));
        let at = _mm512_cmp_pd_mask::<_CMP_EQ_OQ>(e0, mx) as u32
            | (_mm512_cmp_pd_mask::<_CMP_EQ_OQ>(e1, mx) as u32) << 8;
        Some(Energies {
            sum,
            sum_sq,
            best: at.trailing_zeros() as usize,
        })
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn energies_row(_: *const f32, _: usize, _: u16) -> Option<Energies> {
    unreachable!("fused kernels need x86-64")
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    /// transpose and copy_rows against their definitions on every tile edge (1..=40 rows
    /// and columns around 16 and 32, strides beyond the shape); entries outside the shape
    /// keep their marker.
    #[test]
    fn transpose_and_copy_rows_move_exactly_their_entries() {
        let sizes = [1, 2, 7, 15, 16, 17, 23, 31, 32, 33, 40];
        for &rows in &sizes {
            for &cols in &sizes {
                let (ss, ds) = (cols + 3, rows + 5);
                let src: Vec<f32> = (0..rows * ss).map(|i| i as f32 + 0.5).collect();
                let mut dst = vec![-1.0; cols * ds];
                transpose(&src, (rows, cols, ss), &mut dst, ds);
                for c in 0..cols {
                    for r in 0..ds {
                        let want = if r < rows { src[r * ss + c] } else { -1.0 };
                        assert_eq!(
                            dst[c * ds + r],
                            want,
                            "transpose {rows}x{cols} at ({r}, {c})"
                        );
                    }
                }
                let ds = cols + 5;
                let mut dst = vec![-1.0; rows * ds];
                copy_rows(&src, (rows, cols, ss), &mut dst, ds);
                for r in 0..rows {
                    for c in 0..ds {
                        let want = if c < cols { src[r * ss + c] } else { -1.0 };
                        assert_eq!(
                            dst[r * ds + c],
                            want,
                            "copy_rows {rows}x{cols} at ({r}, {c})"
                        );
                    }
                }
            }
        }
    }

    /// exp_nonpositive against f64's exp over [-104, 0] (down to where exp underflows f32):
    /// within 2 f32 ulp of the correctly rounded value, and exactly 1 at 0.
    #[test]
    fn vector_exp_is_within_two_ulp() {
        if !available() {
            eprintln!("skipped: no AVX-512F");
            return;
        }
        let mut worst = 0u32;
        let mut x = -104.0f32;
        while x <= 0.0 {
            let xs: [f32; LANES] = std::array::from_fn(|i| x + i as f32 * 1e-3);
            let mut out = [0f32; LANES];
            // SAFETY: AVX-512F is present.
            unsafe {
                let v = exp_nonpositive(_mm512_loadu_ps(xs.as_ptr()));
                _mm512_storeu_ps(out.as_mut_ptr(), v);
            }
            for (xi, got) in xs.iter().zip(out) {
                let want = ((*xi as f64).exp()) as f32;
                worst = worst.max(got.to_bits().abs_diff(want.to_bits()));
            }
            x += 0.0137;
        }
        assert!(worst <= 2, "exp off by {worst} ulp");
        let mut one = [0f32; LANES];
        // SAFETY: AVX-512F is present.
        unsafe { _mm512_storeu_ps(one.as_mut_ptr(), exp_nonpositive(_mm512_setzero_ps())) };
        assert_eq!(one, [1.0; LANES]);
    }
}
