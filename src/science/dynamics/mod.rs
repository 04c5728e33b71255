//! Decoupled gradient-flow dynamics of the tied Quad network at small initialisation.
//!
//! The derivation lives in [`crate::science::theory`]; this module implements its results and the two
//! simulators the results are checked against.
//!
//! # The decoupled ODE (one neuron, one frequency k)
//! With `theta[j] = alpha cos(w_k j + phi)` and `xi[j] = beta cos(w_k j + psi)` (the conventions
//! of [`crate::science::fourier`]), `D = 2 phi - psi`, and the gradient flow of the cross-entropy under a
//! uniform softmax (`dL/dz_ij = s (1/p - 1{j = label})`, all p^2 pairs):
//! ```text
//! d alpha / dt = 2 c alpha beta cos D
//! d beta  / dt =   c alpha^2    cos D
//! d phi   / dt = -2 c beta       sin D
//! d psi   / dt =   c alpha^2 / beta sin D
//! d D     / dt = - c (4 beta + alpha^2 / beta) sin D
//! ```
//! where `c` is the rate of [`TimeScale::rate`]: `c = p` for the summed loss (`s = 1`) and
//! `c = 1/p` for the mean loss (`s = 1/p^2`), so that mean-loss time is summed-loss time times p^2.
//! Conserved along every trajectory ([`invariants`](ode::invariants)):
//! `E = alpha^2 - 2 beta^2` (layer balance) and `H = alpha^2 beta sin D`.
//!
//! The paper prints `dD/dt = -p (4 beta^2 - alpha^2 / beta) sin D`; [`paper_misalignment_rate`](ode::paper_misalignment_rate)
//! keeps that line so the tests can show it disagrees with the simulated flow.
//!
//! # Simulators
//! - [`simulate_decoupled`](simulate::simulate_decoupled): one neuron's full weight vectors `theta, xi` in R^p under the exact
//!   uniform-softmax gradient flow, computed pair by pair with no Fourier algebra
//!   ([`uniform_softmax_velocity`](simulate::uniform_softmax_velocity)); every frequency (and the constant term) present.
//! - [`gradient_descent`](simulate::gradient_descent): the real network (softmax included) trained by full-batch SGD.
//!
//! # Integration
//! ODEs are integrated with `ode_solvers`' Dop853 (8th order, embedded error control), in
//! [`OutputType::Sparse`](ode_solvers::OutputType::Sparse) mode one output interval at a time, so every requested output time,
//! the end point included, is a step end point. (Dense output of ode_solvers 0.6.2 misplaces the
//! last point when `x_end` is a multiple of `dx`; it is not used.) The flow blows up in finite
//! time once a frequency aligns, so integration stops early when a magnitude exceeds
//! [`OdeOptions::cap`](ode::OdeOptions::cap).

pub mod lottery;
pub mod ode;
pub mod simulate;

use crate::numerics::loss::Loss;
use crate::science::fourier::{spectrum, wrap};
use ode_solvers::Vector4;
use std::f64::consts::PI;

/// Which loss the time variable refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TimeScale {
    /// Summed cross-entropy over the p^2 pairs (the theory's time).
    #[value(alias = "ce-sum")]
    Sum,
    /// Mean cross-entropy (the reference's loss): time is summed-loss time times p^2.
    #[value(alias = "ce-mean")]
    Mean,
}

impl TimeScale {
    /// The rate `c` of the ODE: `p` for [`TimeScale::Sum`], `1/p` for [`TimeScale::Mean`].
    pub fn rate(self, p: usize) -> f64 {
        match self {
            TimeScale::Sum => p as f64,
            TimeScale::Mean => 1.0 / p as f64,
        }
    }

    /// The factor `s` in front of the per-pair loss gradient: 1 (sum) or `1/p^2` (mean, full
    /// dataset).
    pub fn gradient_factor(self, p: usize) -> f64 {
        match self {
            TimeScale::Sum => 1.0,
            TimeScale::Mean => 1.0 / (p * p) as f64,
        }
    }

    /// `sum` or `mean`.
    pub fn name(self) -> &'static str {
        match self {
            TimeScale::Sum => "sum",
            TimeScale::Mean => "mean",
        }
    }

    /// The cross-entropy loss this time scale belongs to.
    pub fn loss(self) -> Loss {
        match self {
            TimeScale::Sum => Loss::CeSum,
            TimeScale::Mean => Loss::CeMean,
        }
    }
}

/// State of one (neuron, frequency) pair: `theta = alpha cos(w j + phi)`,
/// `xi = beta cos(w j + psi)`.
///
/// During integration `beta` may change sign (the equations are invariant under
/// `(beta, psi) -> (-beta, psi + pi)`), and the phases are not wrapped; [`FreqState::canonical`]
/// gives the representative with `beta >= 0` and phases in [-pi, pi).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FreqState {
    /// Input magnitude alpha.
    pub alpha: f64,
    /// Output magnitude beta.
    pub beta: f64,
    /// Input phase phi.
    pub phi: f64,
    /// Output phase psi.
    pub psi: f64,
}

impl FreqState {
    /// A state from its four variables.
    pub fn new(alpha: f64, beta: f64, phi: f64, psi: f64) -> Self {
        FreqState {
            alpha,
            beta,
            phi,
            psi,
        }
    }

    /// The state with `phi = 0`, `psi = -d`, so that `D = d` (wrapped).
    pub fn with_misalignment(alpha: f64, beta: f64, d: f64) -> Self {
        FreqState::new(alpha, beta, 0.0, -d)
    }

    /// Reads frequency `k` (1..=K) of a neuron with input weights `theta` and output weights
    /// `xi` through [`crate::science::fourier::spectrum`]: `(alpha_k, beta_k, phi_k, psi_k)`.
    ///
    /// # Panics
    /// If `k` is 0 or above (p - 1) / 2.
    pub fn of_neuron(theta: &[f64], xi: &[f64], k: usize) -> Self {
        let a = spectrum(theta).components[k - 1];
        let b = spectrum(xi).components[k - 1];
        FreqState::new(a.magnitude, b.magnitude, a.phase, b.phase)
    }

    /// The misalignment `D = wrap(2 phi - psi)` in [-pi, pi), of the canonical representative.
    pub fn misalignment(&self) -> f64 {
        let c = self.canonical();
        wrap(2.0 * c.phi - c.psi)
    }

    /// The same point with `beta >= 0` and both phases wrapped into [-pi, pi).
    pub fn canonical(&self) -> Self {
        let (beta, psi) = if self.beta < 0.0 {
            (-self.beta, self.psi + PI)
        } else {
            (self.beta, self.psi)
        };
        FreqState::new(self.alpha, beta, wrap(self.phi), wrap(psi))
    }

    fn to_vector(self) -> Vector4<f64> {
        Vector4::new(self.alpha, self.beta, self.phi, self.psi)
    }

    fn from_vector(v: &Vector4<f64>) -> Self {
        FreqState::new(v[0], v[1], v[2], v[3])
    }
}

impl crate::names::Named for TimeScale {
    const KIND: &'static str = "loss time scale";
}
