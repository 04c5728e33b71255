//! The tied and untied two-layer networks.
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
//!
//! Initialisers live in [`crate::numerics::init`], activations in [`crate::numerics::activation`].

use crate::error::{Error, Result};
use crate::numerics::activation::Activation;
use crate::numerics::limits::{check_matrix, check_width};
use crate::numerics::real::Real;
use crate::numerics::task::check_modulus;
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};

/// How the first-layer weights see the two operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Tying {
    /// One input matrix for both operands (the paper).
    Tied,
    /// Separate input matrices for x and y (Gromov).
    Untied,
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
        check_width(m)?;
        check_matrix("W_in", m, p)?;
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

    /// The parameter tensors in the order `W_in`, `W_out`, `W_in_y` (as optimisers see them).
    pub fn param_slices_mut(&mut self) -> Vec<&mut [T]> {
        let mut v = vec![self.w_in.as_mut_slice(), self.w_out.as_mut_slice()];
        if let Some(w) = self.w_in_y.as_mut() {
            v.push(w.as_mut_slice());
        }
        v
    }

    /// The parameter tensors in the order `W_in`, `W_out`, `W_in_y`.
    pub fn param_slices(&self) -> Vec<&[T]> {
        let mut v = vec![self.w_in.as_slice(), self.w_out.as_slice()];
        if let Some(w) = &self.w_in_y {
            v.push(w.as_slice());
        }
        v
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

/// sum_i v_i^2 in f64: element i goes into partial sum i mod 8, the eight combined as
/// ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)). A fixed order (the same bits on every
/// thread count and backend call), with eight independent chains the CPU can overlap and
/// vectorise: one chain in element order waits on every previous addition. Compiled for
/// AVX-512F too ([`crate::numerics::fused::wide`]), with the same bits.
pub(crate) fn sum_sq<T: Real>(v: &[T]) -> f64 {
    crate::numerics::fused::wide!(sum_sq_body(v))
}

#[inline(always)]
fn sum_sq_body<T: Real>(v: &[T]) -> f64 {
    let mut s = [0.0f64; 8];
    let mut blocks = v.chunks_exact(8);
    for b in &mut blocks {
        for (si, x) in s.iter_mut().zip(b) {
            *si += x.f64() * x.f64();
        }
    }
    for (si, x) in s.iter_mut().zip(blocks.remainder()) {
        *si += x.f64() * x.f64();
    }
    ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

impl crate::names::Named for Tying {
    const KIND: &'static str = "model";
}
