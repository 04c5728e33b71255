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
    /// tests compare with the naive DFT, stay in f64), widened to f64 afterwards.
    fn sums<T: Real>(&self, data: &[T], sv: Strides, width: usize) -> LayerSums {
        let n = width * self.k_max;
        let cos: Vec<T> = self.cos.iter().map(|&v| T::of(v)).collect();
        let sin: Vec<T> = self.sin.iter().map(|&v| T::of(v)).collect();
        let (mut c, mut s) = (vec![T::zero(); n], vec![T::zero(); n]);
        let st = Strides::col_major(self.p, self.k_max);
        // Neuron-major output (the K sums of a neuron contiguous): M x K row-major.
        let so = Strides::col_major(self.k_max, width).t();
        gemm(T::one(), data, sv, &cos, st, T::zero(), &mut c, so);
        gemm(T::one(), data, sv, &sin, st, T::zero(), &mut s, so);
        LayerSums {
            width,
            c: c.iter().map(|v| v.f64()).collect(),
            s: s.iter().map(|v| v.f64()).collect(),
        }
    }

    /// (input-layer sums of theta_m, output-layer sums of xi_m).
    pub fn layer_sums<T: Real>(&self, net: &Network<T>) -> (LayerSums, LayerSums) {
        let (p, m) = (self.p, net.width());
        (
            self.sums(net.w_in.as_slice(), Strides::col_major(m, p), m),
            self.sums(net.w_out.as_slice(), Strides::col_major(p, m).t(), m),
        )
    }

    /// The reference pipeline's IPR (average of the `W_in` and `W_out` means) and the mean
    /// |sin D| over neurons (module docs). One pass per neuron: each energy is computed once;
    /// the dominant frequency is the first k of largest energy.
    pub fn measures<T: Real>(&self, net: &Network<T>) -> ProgressMeasures {
        let (si, so) = self.layer_sums(net);
        let width = si.width;
        let (mut ipr_in, mut ipr_out, mut sin_d) = (0.0, 0.0, 0.0);
        for m in 0..width {
            let (mut s2i, mut s4i, mut s2o, mut s4o) = (0.0, 0.0, 0.0, 0.0);
            let (mut best, mut best_e) = (1, -1.0);
            for k0 in 0..self.k_max {
                let i = m * self.k_max + k0;
                let ei = si.c[i] * si.c[i] + si.s[i] * si.s[i];
                let eo = so.c[i] * so.c[i] + so.s[i] * so.s[i];
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
