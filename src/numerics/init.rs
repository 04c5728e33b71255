//! Initialisers of the network.
//!
//! All randomness comes from `ChaCha8Rng::seed_from_u64(seed)`, drawn in f64.
//! - [`Init::Random`]: every entry of `W_in`, `W_out` (and `W_in_y`) iid `kappa * N(0, 1) / sqrt(p)`;
//!   the output layer is divided by sqrt(p) too, not sqrt(M). Draw order: `W_in` row by row
//!   (m outer, j inner), then `W_out` row by row (j outer, m inner), then `W_in_y` like `W_in`.
//!   Normals come from the Box–Muller transform of 53-bit uniforms (both outputs used).
//! - [`Init::SingleFreq`]: neuron m gets frequency `f_m`: one random permutation of 1..K, repeated
//!   until M entries, then shuffled (so counts differ by at most one). Then per neuron, in order,
//!   phases `phi_m`, `psi_m` (and `phi'_m` for `W_in_y`) uniform on [0, 2 pi):
//!   `theta_m[j] = kappa cos(w_f j + phi_m)`, `xi_m[j] = kappa cos(w_f j + psi_m)`, `w_f = 2 pi f / p`.
//! - Diversified (Proposition 1): see [`Network::diversified`].

use crate::error::{Error, Result};
use crate::numerics::limits::{check_matrix, check_width};
use crate::numerics::network::{Network, Tying};
use crate::numerics::real::Real;
use crate::numerics::rng::{shuffle, unit_f64, Normals};
use crate::numerics::task::check_modulus;
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// A random initialisation scheme (see the module docs for the exact draws).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Init {
    /// iid `scale * N(0,1) / sqrt(p)` entries.
    Random {
        /// The scale kappa.
        scale: f64,
    },
    /// One cosine per neuron, balanced frequencies, uniform phases, amplitude `scale`.
    SingleFreq {
        /// The amplitude kappa.
        scale: f64,
    },
}

impl Init {
    /// The scale kappa.
    pub fn scale(&self) -> f64 {
        match *self {
            Init::Random { scale } | Init::SingleFreq { scale } => scale,
        }
    }
    /// `random` or `single-freq`.
    pub fn name(&self) -> &'static str {
        match self {
            Init::Random { .. } => "random",
            Init::SingleFreq { .. } => "single-freq",
        }
    }

    /// Which scheme, without its scale.
    pub fn kind(&self) -> InitKind {
        match self {
            Init::Random { .. } => InitKind::Random,
            Init::SingleFreq { .. } => InitKind::SingleFreq,
        }
    }

    /// The scheme `kind` with scale `scale`.
    pub fn of_kind(kind: InitKind, scale: f64) -> Init {
        match kind {
            InitKind::Random => Init::Random { scale },
            InitKind::SingleFreq => Init::SingleFreq { scale },
        }
    }
}

/// The initialisation schemes by name (`random`, `single-freq`), without their scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InitKind {
    /// [`Init::Random`].
    Random,
    /// [`Init::SingleFreq`].
    #[value(alias = "single_freq", alias = "singlefreq")]
    SingleFreq,
}

impl<T: Real> Network<T> {
    /// Random initialisation (see module docs for the draw order).
    pub fn init(p: usize, width: usize, init: Init, tying: Tying, seed: u64) -> Result<Network<T>> {
        check_modulus(p)?;
        check_width(width)?;
        check_matrix("W_in", width, p)?;
        let kappa = crate::error::positive("init scale", init.scale())?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let untied = tying == Tying::Untied;
        match init {
            Init::Random { .. } => {
                let s = kappa / (p as f64).sqrt();
                let mut normals = Normals::new();
                let draw_in = |rng: &mut ChaCha8Rng, normals: &mut Normals| {
                    let mut w = DMatrix::<T>::zeros(width, p);
                    for m in 0..width {
                        for j in 0..p {
                            w[(m, j)] = T::of(s * normals.next(rng));
                        }
                    }
                    w
                };
                let w_in = draw_in(&mut rng, &mut normals);
                let mut w_out = DMatrix::<T>::zeros(p, width);
                for j in 0..p {
                    for m in 0..width {
                        w_out[(j, m)] = T::of(s * normals.next(&mut rng));
                    }
                }
                let w_in_y = untied.then(|| draw_in(&mut rng, &mut normals));
                Network::new(w_in, w_out, w_in_y)
            }
            Init::SingleFreq { .. } => {
                let freqs = single_freq_assignment(p, width, &mut rng);
                let mut w_in = DMatrix::<T>::zeros(width, p);
                let mut w_out = DMatrix::<T>::zeros(p, width);
                let mut w_in_y = untied.then(|| DMatrix::<T>::zeros(width, p));
                for (m, &f) in freqs.iter().enumerate() {
                    let phi = 2.0 * PI * unit_f64(&mut rng);
                    let psi = 2.0 * PI * unit_f64(&mut rng);
                    let w = 2.0 * PI * f as f64 / p as f64;
                    for j in 0..p {
                        w_in[(m, j)] = T::of(kappa * (w * j as f64 + phi).cos());
                        w_out[(j, m)] = T::of(kappa * (w * j as f64 + psi).cos());
                    }
                    if let Some(wy) = w_in_y.as_mut() {
                        let phi2 = 2.0 * PI * unit_f64(&mut rng);
                        for j in 0..p {
                            wy[(m, j)] = T::of(kappa * (w * j as f64 + phi2).cos());
                        }
                    }
                }
                Network::new(w_in, w_out, w_in_y)
            }
        }
    }

    /// The diversified construction of Proposition 1 (tied).
    ///
    /// For every k = 1..K and n = 0..N-1, neuron `(k-1) * N + n` has
    /// `theta[j] = alpha cos(w_k j + phi_{k,n})` and `xi[j] = beta cos(w_k j + 2 phi_{k,n})`
    /// with `phi_{k,n} = c_k + 2 pi n / N`, `w_k = 2 pi k / p`; `offsets[k-1] = c_k`.
    pub fn diversified(
        p: usize,
        n_per_freq: usize,
        alpha: f64,
        beta: f64,
        offsets: &[f64],
    ) -> Result<Network<T>> {
        check_modulus(p)?;
        let k_max = (p - 1) / 2;
        if n_per_freq == 0 {
            return Err(Error::InvalidWidth { width: 0 });
        }
        if offsets.len() != k_max {
            return Err(Error::Shape {
                what: "phase offsets".into(),
                found: offsets.len().to_string(),
                expected: format!("K = (p-1)/2 = {k_max}"),
            });
        }
        let width = n_per_freq * k_max;
        let mut w_in = DMatrix::<T>::zeros(width, p);
        let mut w_out = DMatrix::<T>::zeros(p, width);
        for k in 1..=k_max {
            let w = 2.0 * PI * k as f64 / p as f64;
            for n in 0..n_per_freq {
                let m = (k - 1) * n_per_freq + n;
                let phi = offsets[k - 1] + 2.0 * PI * n as f64 / n_per_freq as f64;
                for j in 0..p {
                    w_in[(m, j)] = T::of(alpha * (w * j as f64 + phi).cos());
                    w_out[(j, m)] = T::of(beta * (w * j as f64 + 2.0 * phi).cos());
                }
            }
        }
        Network::new(w_in, w_out, None)
    }
}

/// Frequencies 1..K for `width` neurons: one seeded permutation of 1..K tiled to `width`
/// entries, then shuffled.
pub(crate) fn single_freq_assignment(p: usize, width: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let k_max = (p - 1) / 2;
    let mut perm: Vec<usize> = (1..=k_max).collect();
    shuffle(&mut perm, rng);
    let mut f: Vec<usize> = (0..width).map(|i| perm[i % k_max]).collect();
    shuffle(&mut f, rng);
    f
}

/// Width of the reference: `max(512, ceil(512 p^2 / 529))` (p = 23 gives 512, p = 97 gives 9107).
pub fn reference_width(p: usize) -> usize {
    let num = 512 * p * p;
    let w = num.div_ceil(529);
    w.max(512)
}

/// Seeded group offsets c_1..c_K for [`Network::diversified`]: K uniforms on [0, 2 pi).
pub fn random_phase_offsets(k_max: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..k_max).map(|_| 2.0 * PI * unit_f64(&mut rng)).collect()
}

impl crate::names::Named for InitKind {
    const KIND: &'static str = "init";
}
