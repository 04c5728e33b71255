//! Batched Fourier projections of all neurons, for the per-epoch progress measures.

use crate::numerics::network::Network;
use crate::numerics::real::{gemm, Real, Strides};
use std::f64::consts::PI;

/// The per-epoch spectral measures of a network (see [`SpectralProbe::measures`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProgressMeasures {
    /// The reference pipeline's IPR: the average of the `W_in` and `W_out` neuron means.
    pub ipr: f64,
    /// Mean over neurons of |sin D| at each neuron's dominant frequency.
    pub mean_abs_sin_d: f64,
}

/// Batched Fourier projections of all neurons: two GEMMs per layer against precomputed
/// cos/sin tables (the fast twin of [`crate::science::fourier::spectrum`], tested against it).
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

/// Scratch for [`SpectralProbe::measures_with`]: the tables in the network's precision and the
/// four M x K sums, kept across calls.
#[derive(Clone, Debug, Default)]
pub struct ProbeBuffers<T: Real> {
    cos: Vec<T>,
    sin: Vec<T>,
    c_in: Vec<T>,
    s_in: Vec<T>,
    c_out: Vec<T>,
    s_out: Vec<T>,
}

impl<T: Real> ProbeBuffers<T> {
    /// Empty buffers (sized on first use).
    pub fn new() -> Self {
        Self::default()
    }
}

/// One layer's sums in the network's precision, M x K row-major.
struct Sums<'a, T> {
    c: &'a [T],
    s: &'a [T],
    k_max: usize,
}

impl<T: Real> Sums<'_, T> {
    /// (c_k, s_k) of neuron m at frequency k (1-based), widened to f64.
    fn at(&self, m: usize, k: usize) -> (f64, f64) {
        let i = m * self.k_max + (k - 1);
        (self.c[i].f64(), self.s[i].f64())
    }
}

impl LayerSums {
    /// (c_k, s_k) of neuron m at frequency k (1-based).
    pub fn at(&self, m: usize, k: usize) -> (f64, f64) {
        let i = m * (self.c.len() / self.width) + (k - 1);
        (self.c[i], self.s[i])
    }
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

    /// Sums of the neurons (rows of the M x p view `sv` of `data`) against the tables, as two
    /// GEMMs in the network's own precision T (f32 runs get f32 SIMD; f64 networks, which the
    /// tests compare with the naive DFT, stay in f64), into `c` and `s` (M x K row-major).
    fn sums_into<T: Real>(
        &self,
        data: &[T],
        sv: Strides,
        width: usize,
        (cos, sin): (&[T], &[T]),
        c: &mut [T],
        s: &mut [T],
    ) {
        let st = Strides::col_major(self.p, self.k_max);
        // Neuron-major output (the K sums of a neuron contiguous): M x K row-major.
        let so = Strides::col_major(self.k_max, width).t();
        gemm(T::one(), data, sv, cos, st, T::zero(), c, so);
        gemm(T::one(), data, sv, sin, st, T::zero(), s, so);
    }

    /// Fills `buf` with the tables in T and both layers' sums of `net`.
    fn fill<T: Real>(&self, net: &Network<T>, buf: &mut ProbeBuffers<T>) {
        let (p, m) = (self.p, net.width());
        let n = m * self.k_max;
        if buf.cos.len() != self.cos.len() {
            buf.cos = self.cos.iter().map(|&v| T::of(v)).collect();
            buf.sin = self.sin.iter().map(|&v| T::of(v)).collect();
        }
        for v in [&mut buf.c_in, &mut buf.s_in, &mut buf.c_out, &mut buf.s_out] {
            v.resize(n, T::zero());
        }
        let tables = (&buf.cos[..], &buf.sin[..]);
        self.sums_into(
            net.w_in.as_slice(),
            Strides::col_major(m, p),
            m,
            tables,
            &mut buf.c_in,
            &mut buf.s_in,
        );
        self.sums_into(
            net.w_out.as_slice(),
            Strides::col_major(p, m).t(),
            m,
            tables,
            &mut buf.c_out,
            &mut buf.s_out,
        );
    }

    /// (input-layer sums of theta_m, output-layer sums of xi_m).
    pub fn layer_sums<T: Real>(&self, net: &Network<T>) -> (LayerSums, LayerSums) {
        let mut buf = ProbeBuffers::new();
        self.fill(net, &mut buf);
        let wide = |v: &[T]| v.iter().map(|x| x.f64()).collect();
        let width = net.width();
        (
            LayerSums {
                width,
                c: wide(&buf.c_in),
                s: wide(&buf.s_in),
            },
            LayerSums {
                width,
                c: wide(&buf.c_out),
                s: wide(&buf.s_out),
            },
        )
    }

    /// [`SpectralProbe::measures_with`] with buffers of its own (allocated per call).
    pub fn measures<T: Real>(&self, net: &Network<T>) -> ProgressMeasures {
        self.measures_with(net, &mut ProbeBuffers::new())
    }

    /// The reference pipeline's IPR (average of the `W_in` and `W_out` means) and the mean
    /// |sin D| over neurons (module docs). One pass per neuron: each energy is computed once;
    /// the dominant frequency is the first k of largest energy. The sums go into `buf`, which
    /// is sized on first use: a recorder that keeps it allocates nothing per epoch.
    pub fn measures_with<T: Real>(
        &self,
        net: &Network<T>,
        buf: &mut ProbeBuffers<T>,
    ) -> ProgressMeasures {
        self.fill(net, buf);
        let width = net.width();
        let si = Sums {
            c: &buf.c_in,
            s: &buf.s_in,
            k_max: self.k_max,
        };
        let so = Sums {
            c: &buf.c_out,
            s: &buf.s_out,
            k_max: self.k_max,
        };
        let (mut ipr_in, mut ipr_out, mut sin_d) = (0.0, 0.0, 0.0);
        for m in 0..width {
            let (mut s2i, mut s4i, mut s2o, mut s4o) = (0.0, 0.0, 0.0, 0.0);
            let (mut best, mut best_e) = (1, -1.0);
            for k0 in 0..self.k_max {
                let i = m * self.k_max + k0;
                let (ci, s_i) = (si.c[i].f64(), si.s[i].f64());
                let (co, s_o) = (so.c[i].f64(), so.s[i].f64());
                let ei = ci * ci + s_i * s_i;
                let eo = co * co + s_o * s_o;
                s2i += ei;
                s4i += ei * ei;
                s2o += eo;
                s4o += eo * eo;
                if ei > best_e {
                    best_e = ei;
                    best = k0 + 1;
                }
            }
            if s2i > 0.0 {
                ipr_in += s4i / (s2i * s2i);
            }
            if s2o > 0.0 {
                ipr_out += s4o / (s2o * s2o);
            }
            // |sin D| without trigonometry: with phi = atan2(-s, c), psi = atan2(-so, co),
            // sin 2phi = -2 s c / r^2, cos 2phi = (c^2 - s^2) / r^2, cos psi = co / ro,
            // sin psi = -so / ro, so sin(2 phi - psi) = ((c^2 - s^2) so - 2 s c co) / (r^2 ro).
            // A zero vector has phase 0 (atan2(0, 0) = 0).
            let (c, s) = si.at(m, best);
            let (co, so_) = so.at(m, best);
            let r2 = c * c + s * s;
            let ro = co.hypot(so_);
            let (sin2, cos2) = if r2 > 0.0 {
                (-2.0 * s * c / r2, (c * c - s * s) / r2)
            } else {
                (0.0, 1.0)
            };
            let (cos_psi, sin_psi) = if ro > 0.0 {
                (co / ro, -so_ / ro)
            } else {
                (1.0, 0.0)
            };
            sin_d += (sin2 * cos_psi - cos2 * sin_psi).abs();
        }
        let w = width as f64;
        ProgressMeasures {
            ipr: 0.5 * (ipr_in / w + ipr_out / w),
            mean_abs_sin_d: sin_d / w,
        }
    }
}
