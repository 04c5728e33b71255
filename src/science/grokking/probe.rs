//! Batched Fourier projections of all neurons, for the per-epoch progress measures.

use crate::numerics::fused;
use crate::numerics::network::Network;
use crate::numerics::parallel::{block, Threads};
use crate::numerics::real::{as_f32, as_f32_mut, gemm, Real, Strides};
use rayon::prelude::*;
use std::f64::consts::PI;

/// The per-epoch spectral measures of a network (see [`SpectralProbe::measures`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProgressMeasures {
    /// The reference pipeline's IPR: the average of the `W_in` and `W_out` neuron means.
    pub ipr: f64,
    /// Mean over neurons of |sin D| at each neuron's dominant frequency.
    pub mean_abs_sin_d: f64,
}

/// Batched Fourier projections of all neurons: one GEMM per layer against a precomputed
/// [cos | sin] table, or for f32 the fused kernels of [`fused`] (the fast twin of
/// [`crate::science::fourier::spectrum`], tested against it).
#[derive(Clone, Debug)]
pub struct SpectralProbe {
    p: usize,
    k_max: usize,
    /// cos(w_k j), p x K column-major (k = 1..K).
    cos: Vec<f64>,
    /// sin(w_k j), p x K column-major.
    sin: Vec<f64>,
}

/// Per-neuron cos/sin sums of one layer, neuron-major: `c[m * K + k0]` for k = k0 + 1.
#[derive(Clone, Debug)]
pub struct LayerSums {
    /// Number of neurons M.
    pub width: usize,
    /// c_k per neuron, M x K row-major.
    pub c: Vec<f64>,
    /// s_k per neuron, M x K row-major.
    pub s: Vec<f64>,
}

/// Scratch for [`SpectralProbe::measures_with`]: the table in the network's precision, both
/// layers' sums and the per-neuron terms of the measures, kept across calls.
#[derive(Clone, Debug, Default)]
pub struct ProbeBuffers<T: Real> {
    /// [cos | sin], p x 2K column-major.
    table: Vec<T>,
    /// Input-layer sums, M x 2K row-major: c_k of neuron m at `m * 2K + k - 1`, s_k K later.
    sums_in: Vec<T>,
    /// Output-layer sums, laid out as `sums_in`.
    sums_out: Vec<T>,
    /// Per neuron: the input IPR, the output IPR and |sin D| (0 for an IPR of a zero layer).
    terms: Vec<[f64; 3]>,
    /// The table by rows of 32 for [`fused::project`] and [`fused::spectra`] (f32 networks).
    rows32: Vec<f32>,
    /// W_out transposed by neuron blocks for [`fused::spectra`]: block b's p rows of its
    /// neurons at `b * PROBE_BLOCK * p`.
    w_out_t: Vec<f32>,
    /// Per neuron: [`fused::Spectra`].
    spectra: Vec<fused::Spectra>,
}

impl<T: Real> ProbeBuffers<T> {
    /// Empty buffers (sized on first use).
    pub fn new() -> Self {
        Self::default()
    }
}

/// One neuron block's (input sums, output sums, terms), as zipped.
type ProbeBlock<'a, T> = ((&'a mut [T], &'a mut [T]), &'a mut [[f64; 3]]);

/// One neuron block's (transposed W_out, spectra, terms), as zipped.
type SpectraBlock<'a> = (
    usize,
    (
        (&'a mut [f32], &'a mut [fused::Spectra]),
        &'a mut [[f64; 3]],
    ),
);

/// Neurons per block of the probe (its sums and per-neuron terms), spread over the threads.
const PROBE_BLOCK: usize = 256;

impl LayerSums {
    /// (c_k, s_k) of neuron m at frequency k (1-based).
    pub fn at(&self, m: usize, k: usize) -> (f64, f64) {
        let i = m * (self.c.len() / self.width) + (k - 1);
        (self.c[i], self.s[i])
    }
}

/// One neuron's terms of the measures from its energy sums (sum_k e_k and sum_k e_k^2 of
/// each layer) and its input and output (c, s) at the dominant frequency: the IPRs
/// sum e^2 / (sum e)^2 (0 for a zero layer) and |sin D| = |sin(2 phi - psi)|.
fn terms(
    (s2i, s4i, s2o, s4o): (f64, f64, f64, f64),
    (c, s): (f64, f64),
    (co, so_): (f64, f64),
) -> [f64; 3] {
    let ipr_in = if s2i > 0.0 { s4i / (s2i * s2i) } else { 0.0 };
    let ipr_out = if s2o > 0.0 { s4o / (s2o * s2o) } else { 0.0 };
    // |sin D| without trigonometry: with phi = atan2(-s, c), psi = atan2(-so, co),
    // sin 2phi = -2 s c / r^2, cos 2phi = (c^2 - s^2) / r^2, cos psi = co / ro,
    // sin psi = -so / ro, so sin(2 phi - psi) = ((c^2 - s^2) so - 2 s c co) / (r^2 ro): one
    // division instead of four. A zero vector has phase 0 (atan2(0, 0) = 0): for r = 0,
    // sin 2phi = 0 and cos 2phi = 1, leaving |sin psi| = |so| / ro; for ro = 0, cos psi = 1
    // and sin psi = 0, leaving |sin 2phi| = |2 s c| / r^2.
    let r2 = c * c + s * s;
    // sqrt of the sum of squares, not hypot: the sums come from f32 or f64 weights far from
    // f64's overflow and underflow, and libm's hypot took a fifth of the recording.
    let ro = (co * co + so_ * so_).sqrt();
    let sin_d = match (r2 > 0.0, ro > 0.0) {
        (true, true) => ((c * c - s * s) * so_ - 2.0 * s * c * co).abs() / (r2 * ro),
        (false, true) => so_.abs() / ro,
        (true, false) => (2.0 * s * c).abs() / r2,
        (false, false) => 0.0,
    };
    [ipr_in, ipr_out, sin_d]
}

impl SpectralProbe {
    /// Tables for modulus p.
    pub fn new(p: usize) -> Self {
        let k_max = (p - 1) / 2;
        let mut cos = vec![0.0; p * k_max];
        let mut sin = vec![0.0; p * k_max];
        for k in 1..=k_max {
            for j in 0..p {
                let a = 2.0 * PI * ((k * j) % p) as f64 / p as f64;
                cos[j + (k - 1) * p] = a.cos();
                sin[j + (k - 1) * p] = a.sin();
            }
        }
        SpectralProbe { p, k_max, cos, sin }
    }

    /// The sums of neurons `m0..m0+mb` of one layer (rows of the M x p view `sv` of `data`)
    /// against [cos | sin], as one GEMM in the network's own precision T (f32 runs get f32
    /// SIMD; f64 networks, which the tests compare with the naive DFT, stay in f64), into `out`
    /// (mb x 2K row-major). In f32 with 2K <= 32 on an AVX-512 CPU, by [`fused::project`]
    /// with the table by rows of 32 in `rows32` (the same sums, each in x order; no packing).
    fn block_sums<T: Real>(
        &self,
        data: &[T],
        sv: Strides,
        (m0, mb): (usize, usize),
        (table, rows32): (&[T], &[f32]),
        out: &mut [T],
    ) {
        let k2 = 2 * self.k_max;
        if let (Some(w), Some(o)) = (as_f32(data), as_f32_mut(out)) {
            if fused::project(w, (sv.rs, sv.cs), (m0, mb), (rows32, self.p, k2), o) {
                return;
            }
        }
        let rows = Strides { rows: mb, ..sv };
        gemm(
            T::one(),
            &data[m0 * sv.rs..],
            rows,
            table,
            Strides::col_major(self.p, k2),
            T::zero(),
            out,
            Strides::col_major(k2, mb).t(),
        );
    }

    /// Fills `buf` with both layers' sums of `net`; with `terms`, also each neuron's terms of
    /// the measures. Neuron blocks run on the process-wide threads.
    fn fill<T: Real>(&self, net: &Network<T>, buf: &mut ProbeBuffers<T>, terms: bool) {
        let (p, m) = (self.p, net.width());
        let k2 = 2 * self.k_max;
        if buf.table.len() != p * k2 {
            buf.table = self
                .cos
                .iter()
                .chain(&self.sin)
                .map(|&v| T::of(v))
                .collect();
            if let Some(t) = as_f32(&buf.table) {
                fused::project_table(t, p, k2, &mut buf.rows32);
            }
        }
        buf.sums_in.resize(m * k2, T::zero());
        buf.sums_out.resize(m * k2, T::zero());
        buf.terms.resize(m, [0.0; 3]);
        let table = (&buf.table[..], &buf.rows32[..]);
        let (w_in, w_out) = (net.w_in.as_slice(), net.w_out.as_slice());
        let run = |(b, ((si, so), tm)): (usize, ProbeBlock<'_, T>)| {
            let (m0, mb) = block(m, PROBE_BLOCK, b);
            self.block_sums(w_in, Strides::col_major(m, p), (m0, mb), table, si);
            self.block_sums(w_out, Strides::col_major(p, m).t(), (m0, mb), table, so);
            if terms {
                self.neuron_terms(si, so, tm);
            }
        };
        let threads = Threads::default();
        let (si, so) = (&mut buf.sums_in[..], &mut buf.sums_out[..]);
        let tm = &mut buf.terms[..];
        if threads.parallel() && m > PROBE_BLOCK {
            threads.install(|| {
                si.par_chunks_mut(PROBE_BLOCK * k2)
                    .zip(so.par_chunks_mut(PROBE_BLOCK * k2))
                    .zip(tm.par_chunks_mut(PROBE_BLOCK))
                    .enumerate()
                    .for_each(run)
            });
        } else {
            si.chunks_mut(PROBE_BLOCK * k2)
                .zip(so.chunks_mut(PROBE_BLOCK * k2))
                .zip(tm.chunks_mut(PROBE_BLOCK))
                .enumerate()
                .for_each(run);
        }
    }

    /// Each neuron's terms of the measures by [`fused::spectra`] (f32, AVX-512F,
    /// 1 <= K <= [`fused::SPECTRA_MAX_K`]; false otherwise, nothing done): sixteen neurons per
    /// vector, both layers' sums in registers and their energies in the lanes, no sums
    /// stored. The same sums as [`SpectralProbe::fill`]'s (FMA chains in x order) and the
    /// energies in k order, as its scalar loop: at p = 23 the per-row reduction trees took as
    /// long as the sums. Neuron blocks on the process-wide threads.
    fn fill_spectra<T: Real>(&self, net: &Network<T>, buf: &mut ProbeBuffers<T>) -> bool {
        let (p, m, k) = (self.p, net.width(), self.k_max);
        let (Some(w_in), Some(w_out)) = (as_f32(net.w_in.as_slice()), as_f32(net.w_out.as_slice()))
        else {
            return false;
        };
        if !fused::available() || k == 0 || k > fused::SPECTRA_MAX_K || m == 0 {
            return false;
        }
        if buf.rows32.len() != p * fused::PROJECT_MAX_COLS {
            let table: Vec<f32> = self
                .cos
                .iter()
                .chain(&self.sin)
                .map(|&v| v as f32)
                .collect();
            fused::project_table(&table, p, 2 * k, &mut buf.rows32);
        }
        buf.w_out_t.resize(m * p, 0.0);
        buf.spectra.resize(m, fused::Spectra::default());
        buf.terms.resize(m, [0.0; 3]);
        let rows32 = &buf.rows32[..];
        let run = |(b, ((wt, sp), tm)): SpectraBlock<'_>| {
            let (m0, mb) = block(m, PROBE_BLOCK, b);
            fused::transpose(&w_out[m0 * p..], (mb, p, p), wt, mb);
            let done = fused::spectra((w_in, m, m0), wt, (rows32, p, k), sp);
            assert!(done, "spectra: checked above");
            for (t, s) in tm.iter_mut().zip(sp.iter()) {
                let [s2i, s4i, s2o, s4o] = s.sums;
                let [c, si, co, so] = s.at_best;
                *t = terms((s2i, s4i, s2o, s4o), (c, si), (co, so));
            }
        };
        let threads = Threads::default();
        let wt = &mut buf.w_out_t[..];
        let (sp, tm) = (&mut buf.spectra[..], &mut buf.terms[..]);
        if threads.parallel() && m > PROBE_BLOCK {
            threads.install(|| {
                wt.par_chunks_mut(PROBE_BLOCK * p)
                    .zip(sp.par_chunks_mut(PROBE_BLOCK))
                    .zip(tm.par_chunks_mut(PROBE_BLOCK))
                    .enumerate()
                    .for_each(run)
            });
        } else {
            wt.chunks_mut(PROBE_BLOCK * p)
                .zip(sp.chunks_mut(PROBE_BLOCK))
                .zip(tm.chunks_mut(PROBE_BLOCK))
                .enumerate()
                .for_each(run);
        }
        true
    }

    /// (input-layer sums of theta_m, output-layer sums of xi_m).
    pub fn layer_sums<T: Real>(&self, net: &Network<T>) -> (LayerSums, LayerSums) {
        let mut buf = ProbeBuffers::new();
        self.fill(net, &mut buf, false);
        let k = self.k_max;
        let split = |v: &[T], part: usize| -> Vec<f64> {
            v.chunks(2 * k)
                .flat_map(|row| row[part * k..(part + 1) * k].iter().map(|x| x.f64()))
                .collect()
        };
        let width = net.width();
        (
            LayerSums {
                width,
                c: split(&buf.sums_in, 0),
                s: split(&buf.sums_in, 1),
            },
            LayerSums {
                width,
                c: split(&buf.sums_out, 0),
                s: split(&buf.sums_out, 1),
            },
        )
    }

    /// [`SpectralProbe::measures_with`] with buffers of its own (allocated per call).
    pub fn measures<T: Real>(&self, net: &Network<T>) -> ProgressMeasures {
        self.measures_with(net, &mut ProbeBuffers::new())
    }

    /// Each neuron's terms of the measures from its input and output sums (rows of 2K: [c_1..c_K,
    /// s_1..s_K]): the two IPRs (0 for a zero layer) and |sin D| at the dominant frequency, the
    /// first k of largest energy e_k = c_k^2 + s_k^2. In f32 on an AVX-512 CPU the energy sums
    /// come from [`fused::energies`] (sixteen frequencies per vector; its sums by a reduction
    /// tree), elsewhere, and from a row with a NaN energy on, one neuron at a time in k order.
    fn neuron_terms<T: Real>(&self, si: &[T], so: &[T], out: &mut [[f64; 3]]) {
        let (k_max, k2) = (self.k_max, 2 * self.k_max);
        let at = |v: &[T], m: usize, k: usize| v[m * k2 + k].f64();
        let finish = |m: usize, sums: (f64, f64, f64, f64), best: usize| {
            let c = (at(si, m, best), at(si, m, k_max + best));
            terms(sums, c, (at(so, m, best), at(so, m, k_max + best)))
        };
        let mut done = 0;
        if let (Some(a), Some(b)) = (as_f32(si), as_f32(so)) {
            const GROUP: usize = 64;
            let (mut ei, mut eo) = (
                [fused::Energies::default(); GROUP],
                [fused::Energies::default(); GROUP],
            );
            while done < out.len() {
                let n = GROUP.min(out.len() - done);
                let d = fused::energies(&a[done * k2..], k_max, &mut ei[..n]);
                let d = d.min(fused::energies(&b[done * k2..], k_max, &mut eo[..n]));
                for (l, (i, o)) in ei.iter().zip(&eo).take(d).enumerate() {
                    out[done + l] = finish(done + l, (i.sum, i.sum_sq, o.sum, o.sum_sq), i.best);
                }
                done += d;
                if d < n {
                    break;
                }
            }
        }
        for (m, t) in out.iter_mut().enumerate().skip(done) {
            let (mut s2i, mut s4i, mut s2o, mut s4o) = (0.0, 0.0, 0.0, 0.0);
            let (mut best, mut best_e) = (0, -1.0);
            for k0 in 0..k_max {
                let (ci, s_i) = (at(si, m, k0), at(si, m, k_max + k0));
                let (co, s_o) = (at(so, m, k0), at(so, m, k_max + k0));
                let ei = ci * ci + s_i * s_i;
                let eo = co * co + s_o * s_o;
                s2i += ei;
                s4i += ei * ei;
                s2o += eo;
                s4o += eo * eo;
                if ei > best_e {
                    best_e = ei;
                    best = k0;
                }
            }
            *t = finish(m, (s2i, s4i, s2o, s4o), best);
        }
    }

    /// The reference pipeline's IPR (average of the `W_in` and `W_out` means) and the mean
    /// |sin D| over neurons (module docs). The sums and each neuron's terms are computed by
    /// neuron blocks on the process-wide threads (for f32 at 1 <= K <= 12 on an AVX-512F CPU
    /// by [`fused::spectra`], with the neurons in the lanes; else one product per layer and
    /// the energies per neuron), and the terms are added in neuron order, so the result does
    /// not depend on the threads. The scratch lives in `buf`, which is sized on first use: a
    /// recorder that keeps it allocates nothing per epoch.
    pub fn measures_with<T: Real>(
        &self,
        net: &Network<T>,
        buf: &mut ProbeBuffers<T>,
    ) -> ProgressMeasures {
        if !self.fill_spectra(net, buf) {
            self.fill(net, buf, true);
        }
        let width = net.width();
        let (mut ipr_in, mut ipr_out, mut sin_d) = (0.0, 0.0, 0.0);
        for t in &buf.terms[..width] {
            ipr_in += t[0];
            ipr_out += t[1];
            sin_d += t[2];
        }
        let w = width as f64;
        ProgressMeasures {
            ipr: 0.5 * (ipr_in / w + ipr_out / w),
            mean_abs_sin_d: sin_d / w,
        }
    }
}
