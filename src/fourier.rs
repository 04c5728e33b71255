//! Fourier conventions and per-vector spectra.
//!
//! # Conventions (used everywhere in this crate)
//! For a vector v in R^p (p odd), K = (p - 1) / 2 and w_k = 2 pi k / p:
//! ```text
//! c_k = sum_{j=0}^{p-1} v[j] cos(w_k j)        s_k = sum_{j=0}^{p-1} v[j] sin(w_k j)
//! a_0 = (1/p) sum_j v[j]                                  (the constant term)
//! alpha_k = (2/p) sqrt(c_k^2 + s_k^2)                     (magnitude, k = 1..K)
//! phi_k   = atan2(-s_k, c_k)                              (phase, in (-pi, pi])
//! ```
//! so that, exactly, `v[j] = a_0 + sum_{k=1..K} alpha_k cos(w_k j + phi_k)`.
//! For a neuron, the input layer (`theta_m`) gives (alpha, phi) and the output layer (`xi_m`)
//! gives (beta, psi). The phase misalignment is `D = wrap(2 phi - psi)` in [-pi, pi).

use std::f64::consts::PI;

/// Cosine and sine sums (c_k, s_k) of `v` for k = 0..=K (k = 0 gives (sum v, 0)).
pub fn cos_sin_sums(v: &[f64]) -> Vec<(f64, f64)> {
    let p = v.len();
    let k_max = (p - 1) / 2;
    (0..=k_max)
        .map(|k| {
            let mut c = 0.0;
            let mut s = 0.0;
            for (j, &x) in v.iter().enumerate() {
                // Reduce k j mod p first so the angle stays small and exact in integers.
                let a = 2.0 * PI * ((k * j) % p) as f64 / p as f64;
                c += x * a.cos();
                s += x * a.sin();
            }
            (c, s)
        })
        .collect()
}

/// One frequency's magnitude and phase: (alpha_k, phi_k) with the conventions above.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Component {
    /// alpha_k = (2/p) sqrt(c_k^2 + s_k^2).
    pub magnitude: f64,
    /// phi_k = atan2(-s_k, c_k).
    pub phase: f64,
    /// c_k.
    pub cos_sum: f64,
    /// s_k.
    pub sin_sum: f64,
}

/// The spectrum of a vector: constant term and components k = 1..K.
#[derive(Clone, Debug, PartialEq)]
pub struct Spectrum {
    /// a_0 = mean of v.
    pub constant: f64,
    /// `components[k - 1]` is frequency k.
    pub components: Vec<Component>,
}

/// Spectrum of `v` (length p, odd) in the conventions of the module docs.
pub fn spectrum(v: &[f64]) -> Spectrum {
    let p = v.len() as f64;
    let sums = cos_sin_sums(v);
    Spectrum {
        constant: sums[0].0 / p,
        components: sums[1..]
            .iter()
            .map(|&(c, s)| Component {
                magnitude: 2.0 / p * c.hypot(s),
                phase: (-s).atan2(c),
                cos_sum: c,
                sin_sum: s,
            })
            .collect(),
    }
}

/// Wraps an angle into [-pi, pi).
pub fn wrap(a: f64) -> f64 {
    let t = (a + PI).rem_euclid(2.0 * PI) - PI;
    // rem_euclid can return 2 pi for tiny negative inputs through rounding.
    if t >= PI {
        t - 2.0 * PI
    } else {
        t
    }
}

/// Phase misalignment D = wrap(2 phi - psi) in [-pi, pi).
pub fn misalignment(phi: f64, psi: f64) -> f64 {
    wrap(2.0 * phi - psi)
}
