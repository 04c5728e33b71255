//! Activations, the tied and untied two-layer networks, and their initialisers.
//!
//! # The model
//! Tied (the paper): for inputs (x, y) in Z_p x Z_p and output index j in Z_p,
//!
//! ```text
//! f(x, y)[j] = sum_{m=1..M} xi_m[j] * sigma(theta_m[x] + theta_m[y])
//! ```
//!
//! where `theta_m` (length p) is row m of `W_in` (M x p) and `xi_m` (length p) is column m of
//! `W_out` (p x M). No biases. It equals a bias-free MLP fed one-hot(x) + one-hot(y); x = y gives
//! `sigma(2 theta_m[x])`.
//!
//! Untied (Gromov): `sigma(theta_m[x] + eta_m[y])`, with `eta_m` row m of a second input matrix
//! `W_in_y` (M x p).
//!
//! Weights are stored in nalgebra's column-major `DMatrix`, so column x of `W_in` (all neurons'
//! weights for input x) and column m of `W_out` (`xi_m`) are contiguous.
//!
//! # Initialisers (all randomness from `ChaCha8Rng::seed_from_u64(seed)`, drawn in f64)
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
use crate::real::Real;
use crate::task::{check_modulus, shuffle};
use nalgebra::DMatrix;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// An elementwise activation sigma(u).
///
/// Quad and ReLU are the training activations; the rest are the test-time swaps of
/// Observation 4. Derivatives are exact; ReLU's derivative at 0 is taken as 0 (PyTorch's choice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// sigma(u) = u^2
    Quad,
    /// sigma(u) = max(u, 0)
    Relu,
    /// sigma(u) = |u| (derivative sign(u), 0 at 0)
    Abs,
    /// sigma(u) = u^4
    Pow4,
    /// sigma(u) = u^8
    Pow8,
    /// sigma(u) = log(1 + e^{2u}), evaluated stably as max(2u, 0) + log1p(e^{-|2u|})
    Softplus2,
    /// sigma(u) = e^u
    Exp,
    /// sigma(u) = u
    Identity,
    /// sigma(u) = u^3
    Cube,
}

impl Activation {
    /// Every activation, training ones first.
    pub const ALL: [Activation; 9] = [
        Activation::Quad,
        Activation::Relu,
        Activation::Abs,
        Activation::Pow4,
        Activation::Pow8,
        Activation::Softplus2,
        Activation::Exp,
        Activation::Identity,
        Activation::Cube,
    ];

    /// The name used on the command line and in CSV files.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Quad => "quad",
            Activation::Relu => "relu",
            Activation::Abs => "abs",
            Activation::Pow4 => "pow4",
            Activation::Pow8 => "pow8",
            Activation::Softplus2 => "softplus2",
            Activation::Exp => "exp",
            Activation::Identity => "identity",
            Activation::Cube => "cube",
        }
    }

    /// Parses a name of [`Activation::name`] (also `square` for quad, `linear` for identity).
    pub fn parse(s: &str) -> Result<Activation> {
        let t = s.trim().to_ascii_lowercase();
        let alias = match t.as_str() {
            "square" | "u2" => "quad",
            "linear" | "u" => "identity",
            "u3" => "cube",
            "u4" => "pow4",
            "u8" => "pow8",
            other => other,
        };
        Activation::ALL
            .iter()
            .copied()
            .find(|a| a.name() == alias)
            .ok_or_else(|| Error::UnknownName {
                kind: "activation",
                name: s.to_string(),
                expected: Activation::ALL
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// True when the even part (sigma(u) + sigma(-u)) / 2 is not identically zero.
    pub fn has_even_part(self) -> bool {
        !matches!(self, Activation::Identity | Activation::Cube)
    }

    /// sigma(u).
    #[inline(always)]
    pub fn value<T: Real>(self, u: T) -> T {
        match self {
            Activation::Quad => u * u,
            Activation::Relu => {
                if u > T::zero() {
                    u
                } else {
                    T::zero()
                }
            }
            Activation::Abs => u.abs(),
            Activation::Pow4 => {
                let s = u * u;
                s * s
            }
            Activation::Pow8 => {
                let s = u * u;
                let q = s * s;
                q * q
            }
            Activation::Softplus2 => {
                let t = u + u;
                t.max(T::zero()) + (-t.abs()).exp().ln_1p()
            }
            Activation::Exp => u.exp(),
            Activation::Identity => u,
            Activation::Cube => u * u * u,
        }
    }

    /// sigma'(u).
    #[inline(always)]
    pub fn deriv<T: Real>(self, u: T) -> T {
        let two = T::one() + T::one();
        match self {
            Activation::Quad => two * u,
            Activation::Relu => {
                if u > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::Abs => {
                if u > T::zero() {
                    T::one()
                } else if u < T::zero() {
                    -T::one()
                } else {
                    T::zero()
                }
            }
            Activation::Pow4 => two * two * u * u * u,
            Activation::Pow8 => {
                let s = u * u;
                let q = s * s;
                T::of(8.0) * q * s * u
            }
            // d/du log(1 + e^{2u}) = 2 / (1 + e^{-2u})
            Activation::Softplus2 => {
                let t = u + u;
                if t >= T::zero() {
                    two / (T::one() + (-t).exp())
                } else {
                    let e = t.exp();
                    two * e / (T::one() + e)
                }
            }
            Activation::Exp => u.exp(),
            Activation::Identity => T::one(),
            Activation::Cube => T::of(3.0) * u * u,
        }
    }
}

/// How the first-layer weights see the two operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tying {
    /// One input matrix for both operands (the paper).
    Tied,
    /// Separate input matrices for x and y (Gromov).
    Untied,
}

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
    /// Parses `random` or `single-freq` with the given scale.
    pub fn parse(s: &str, scale: f64) -> Result<Init> {
        match s {
            "random" => Ok(Init::Random { scale }),
            "single-freq" | "single_freq" | "singlefreq" => Ok(Init::SingleFreq { scale }),
            _ => Err(Error::UnknownName {
                kind: "init",
                name: s.into(),
                expected: "random, single-freq".into(),
            }),
        }
    }
}

/// A 53-bit uniform on [0, 1).
pub(crate) fn unit_f64(rng: &mut ChaCha8Rng) -> f64 {
    (rng.random::<u64>() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Standard normals by Box–Muller, both outputs used, in a fixed order.
pub(crate) struct Normals {
    spare: Option<f64>,
}

impl Normals {
    pub(crate) fn new() -> Self {
        Normals { spare: None }
    }
    pub(crate) fn next(&mut self, rng: &mut ChaCha8Rng) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = unit_f64(rng);
        let u2 = unit_f64(rng);
        // 1 - u1 lies in (0, 1], so the log is finite.
        let r = (-2.0 * (1.0 - u1).ln()).sqrt();
        let (s, c) = (2.0 * PI * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
    }
}

/// The two-layer network. See the module docs for the formula and layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Network<T: Real> {
    /// Modulus p (inputs and outputs live in Z_p).
    pub p: usize,
    /// Input weights, M x p; row m is `theta_m`.
    pub w_in: DMatrix<T>,
    /// Output weights, p x M; column m is `xi_m`.
    pub w_out: DMatrix<T>,
    /// Second input matrix (M x p) of the untied model; `None` for the tied model.
    pub w_in_y: Option<DMatrix<T>>,
}

impl<T: Real> Network<T> {
    /// Builds a network from weight matrices, checking shapes (`W_in`: M x p, `W_out`: p x M).
    pub fn new(w_in: DMatrix<T>, w_out: DMatrix<T>, w_in_y: Option<DMatrix<T>>) -> Result<Self> {
        let (m, p) = w_in.shape();
        check_modulus(p)?;
        if m == 0 {
            return Err(Error::InvalidWidth { width: 0 });
        }
        if w_out.shape() != (p, m) {
            return Err(Error::Shape {
                what: "W_out".into(),
                found: format!("{} x {}", w_out.nrows(), w_out.ncols()),
                expected: format!("{p} x {m} (p x M, from W_in's {m} x {p})"),
            });
        }
        if let Some(wy) = &w_in_y {
            if wy.shape() != (m, p) {
                return Err(Error::Shape {
                    what: "W_in_y".into(),
                    found: format!("{} x {}", wy.nrows(), wy.ncols()),
                    expected: format!("{m} x {p} (the shape of W_in)"),
                });
            }
        }
        Ok(Network {
            p,
            w_in,
            w_out,
            w_in_y,
        })
    }

    /// Number of neurons M.
    pub fn width(&self) -> usize {
        self.w_in.nrows()
    }

    /// Tied or untied.
    pub fn tying(&self) -> Tying {
        if self.w_in_y.is_some() {
            Tying::Untied
        } else {
            Tying::Tied
        }
    }

    /// The input matrix for the second operand: `W_in_y` if untied, else `W_in`.
    pub fn w_in_second(&self) -> &DMatrix<T> {
        self.w_in_y.as_ref().unwrap_or(&self.w_in)
    }

    /// Random initialisation (see module docs for the draw order).
    pub fn init(p: usize, width: usize, init: Init, tying: Tying, seed: u64) -> Result<Network<T>> {
        check_modulus(p)?;
        if width == 0 {
            return Err(Error::InvalidWidth { width });
        }
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

    /// Logits f(x, y)[0..p] of one pair, computed naively (reference implementation).
    pub fn logits(&self, act: Activation, x: usize, y: usize) -> Vec<T> {
        let wy = self.w_in_second();
        let mut out = vec![T::zero(); self.p];
        for m in 0..self.width() {
            let h = act.value(self.w_in[(m, x)] + wy[(m, y)]);
            for (j, o) in out.iter_mut().enumerate() {
                *o = *o + self.w_out[(j, m)] * h;
            }
        }
        out
    }

    /// Converts the weights to another precision.
    pub fn cast<U: Real>(&self) -> Network<U> {
        let c = |w: &DMatrix<T>| w.map(|v| U::of(v.f64()));
        Network {
            p: self.p,
            w_in: c(&self.w_in),
            w_out: c(&self.w_out),
            w_in_y: self.w_in_y.as_ref().map(c),
        }
    }

    /// Euclidean norm of all parameters together: sqrt(sum of squares of every entry).
    pub fn param_norm(&self) -> f64 {
        let mut s = sum_sq(self.w_in.as_slice()) + sum_sq(self.w_out.as_slice());
        if let Some(w) = &self.w_in_y {
            s += sum_sq(w.as_slice());
        }
        s.sqrt()
    }
}

pub(crate) fn sum_sq<T: Real>(v: &[T]) -> f64 {
    v.iter().map(|x| x.f64() * x.f64()).sum()
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
