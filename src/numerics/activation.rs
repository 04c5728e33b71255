//! Activations sigma(u): Quad and ReLU for training, and the test-time swaps of Observation 4.

use crate::numerics::real::Real;
use serde::{Deserialize, Serialize};

/// An elementwise activation sigma(u).
///
/// Quad and ReLU are the training activations; the rest are the test-time swaps of
/// Observation 4. Derivatives are exact; ReLU's derivative at 0 is taken as 0 (PyTorch's choice).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Hash, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// sigma(u) = u^2
    #[value(alias = "square", alias = "u2")]
    Quad,
    /// sigma(u) = max(u, 0)
    Relu,
    /// sigma(u) = |u| (derivative sign(u), 0 at 0)
    Abs,
    /// sigma(u) = u^4
    #[value(alias = "u4")]
    Pow4,
    /// sigma(u) = u^8
    #[value(alias = "u8")]
    Pow8,
    /// sigma(u) = log(1 + e^{2u}), evaluated stably as max(2u, 0) + log1p(e^{-|2u|})
    Softplus2,
    /// sigma(u) = e^u
    Exp,
    /// sigma(u) = u
    #[value(alias = "linear", alias = "u")]
    Identity,
    /// sigma(u) = u^3
    #[value(alias = "u3")]
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

impl crate::names::Named for Activation {
    const KIND: &'static str = "activation";
}
