//! Decoupled gradient-flow dynamics of the tied Quad network at small initialisation.
//!
//! The derivation lives in [`crate::theory`]; this module implements its results and the two
//! simulators the results are checked against.
//!
//! # The decoupled ODE (one neuron, one frequency k)
//! With `theta[j] = alpha cos(w_k j + phi)` and `xi[j] = beta cos(w_k j + psi)` (the conventions
//! of [`crate::fourier`]), `D = 2 phi - psi`, and the gradient flow of the cross-entropy under a
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
//! Conserved along every trajectory ([`invariants`]):
//! `E = alpha^2 - 2 beta^2` (layer balance) and `H = alpha^2 beta sin D`.
//!
//! The paper prints `dD/dt = -p (4 beta^2 - alpha^2 / beta) sin D`; [`paper_misalignment_rate`]
//! keeps that line so the tests can show it disagrees with the simulated flow.
//!
//! # Simulators
//! - [`simulate_decoupled`]: one neuron's full weight vectors `theta, xi` in R^p under the exact
//!   uniform-softmax gradient flow, computed pair by pair with no Fourier algebra
//!   ([`uniform_softmax_velocity`]); every frequency (and the constant term) present.
//! - [`gradient_descent`]: the real network (softmax included) trained by full-batch SGD.
//!
//! # Integration
//! ODEs are integrated with `ode_solvers`' Dop853 (8th order, embedded error control), in
//! [`OutputType::Sparse`] mode one output interval at a time, so every requested output time,
//! the end point included, is a step end point. (Dense output of ode_solvers 0.6.2 misplaces the
//! last point when `x_end` is a multiple of `dx`; it is not used.) The flow blows up in finite
//! time once a frequency aligns, so integration stops early when a magnitude exceeds
//! [`OdeOptions::cap`].

use crate::error::{Error, Result};
use crate::fourier::{spectrum, wrap};
use crate::loss::Loss;
use crate::model::{Activation, Network};
use crate::optim::OptimizerConfig;
use crate::task::{Split, Task};
use ode_solvers::dop853::Dop853;
use ode_solvers::{DVector, OutputType, Rk4, System, Vector4};
use std::f64::consts::PI;

/// Which loss the time variable refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeScale {
    /// Summed cross-entropy over the p^2 pairs (the theory's time).
    Sum,
    /// Mean cross-entropy (the reference's loss): time is summed-loss time times p^2.
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

    /// Parses `sum` or `mean` (also `ce-sum`, `ce-mean`).
    pub fn parse(s: &str) -> Result<TimeScale> {
        match s {
            "sum" | "ce-sum" => Ok(TimeScale::Sum),
            "mean" | "ce-mean" => Ok(TimeScale::Mean),
            _ => Err(Error::UnknownName {
                kind: "loss time scale",
                name: s.into(),
                expected: "sum, mean".into(),
            }),
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
    /// `xi` through [`crate::fourier::spectrum`]: `(alpha_k, beta_k, phi_k, psi_k)`.
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

/// Time derivative of a state under the decoupled flow with rate `c` (see the module docs):
/// `(2c alpha beta cos D, c alpha^2 cos D, -2c beta sin D, c alpha^2 sin D / beta)`,
/// `D = 2 phi - psi`.
pub fn derivative(s: &FreqState, c: f64) -> FreqState {
    let (sd, cd) = (2.0 * s.phi - s.psi).sin_cos();
    FreqState {
        alpha: 2.0 * c * s.alpha * s.beta * cd,
        beta: c * s.alpha * s.alpha * cd,
        phi: -2.0 * c * s.beta * sd,
        psi: c * s.alpha * s.alpha * sd / s.beta,
    }
}

/// The derived misalignment rate `dD/dt = -c (4 beta + alpha^2 / beta) sin D`
/// (equal to `2 dphi/dt - dpsi/dt` of [`derivative`]).
pub fn misalignment_rate(s: &FreqState, c: f64) -> f64 {
    -c * (4.0 * s.beta + s.alpha * s.alpha / s.beta) * (2.0 * s.phi - s.psi).sin()
}

/// The misalignment rate as the paper prints it: `dD/dt = -c (4 beta^2 - alpha^2 / beta) sin D`
/// (with `c = p` for the summed loss). Kept only to be tested against the simulated flow, which
/// it does not match (see [`crate::theory`]).
pub fn paper_misalignment_rate(s: &FreqState, c: f64) -> f64 {
    -c * (4.0 * s.beta * s.beta - s.alpha * s.alpha / s.beta) * (2.0 * s.phi - s.psi).sin()
}

/// The two conserved quantities of the decoupled flow.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Invariants {
    /// `E = alpha^2 - 2 beta^2` (layer balance; conserved by the full flow of any loss too,
    /// per neuron, as `||theta||^2 - 2 ||xi||^2`).
    pub balance: f64,
    /// `H = alpha^2 beta sin D` (the imaginary part of `a^2 conj(b)`, `a = alpha e^{i phi}`,
    /// `b = beta e^{i psi}`).
    pub twist: f64,
}

/// `E = alpha^2 - 2 beta^2` and `H = alpha^2 beta sin D` of a state.
pub fn invariants(s: &FreqState) -> Invariants {
    Invariants {
        balance: s.alpha * s.alpha - 2.0 * s.beta * s.beta,
        twist: s.alpha * s.alpha * s.beta * (2.0 * s.phi - s.psi).sin(),
    }
}

/// Closed-form `beta(t)` of an aligned start (`D0 = 0`, so D stays 0) or an anti-aligned one
/// (`D0 = pi`, D stays pi), with rate `c`; `None` past the blow-up time.
///
/// With `E = alpha0^2 - 2 beta0^2` and `sign = cos D0 = +-1`, `beta' = sign c (E + 2 beta^2)`:
/// ```text
/// E > 0:  beta = r tan(sign 2 c r t + atan(beta0 / r)),        r = sqrt(E / 2)
/// E < 0:  beta = r coth(-sign 2 c r t + acoth(beta0 / r)),     r = sqrt(-E / 2)
/// E = 0:  beta = beta0 / (1 - sign 2 c beta0 t)
/// ```
/// and `alpha = sqrt(E + 2 beta^2)`.
pub fn aligned_solution(alpha0: f64, beta0: f64, anti: bool, c: f64, t: f64) -> Option<(f64, f64)> {
    let e = alpha0 * alpha0 - 2.0 * beta0 * beta0;
    let sign = if anti { -1.0 } else { 1.0 };
    let beta = if e > 0.0 {
        let r = (e / 2.0).sqrt();
        let u = sign * 2.0 * c * r * t + (beta0 / r).atan();
        if u >= PI / 2.0 {
            return None;
        }
        r * u.tan()
    } else if e < 0.0 {
        let r = (-e / 2.0).sqrt();
        let q = beta0 / r;
        let u = -sign * 2.0 * c * r * t + 0.5 * ((q + 1.0) / (q - 1.0)).ln();
        if u <= 0.0 {
            return None;
        }
        r / u.tanh()
    } else {
        let den = 1.0 - sign * 2.0 * c * beta0 * t;
        if den <= 0.0 {
            return None;
        }
        beta0 / den
    };
    Some(((e + 2.0 * beta * beta).max(0.0).sqrt(), beta))
}

/// Blow-up time of an aligned start (`D0 = 0`): the t at which [`aligned_solution`] diverges,
/// `(pi/2 - atan(beta0/r)) / (2 c r)` for E > 0, `acoth(beta0/r) / (2 c r)` for E < 0 and
/// `1 / (2 c beta0)` for E = 0.
pub fn aligned_blowup_time(alpha0: f64, beta0: f64, c: f64) -> f64 {
    let e = alpha0 * alpha0 - 2.0 * beta0 * beta0;
    if e > 0.0 {
        let r = (e / 2.0).sqrt();
        (PI / 2.0 - (beta0 / r).atan()) / (2.0 * c * r)
    } else if e < 0.0 {
        let r = (-e / 2.0).sqrt();
        let q = beta0 / r;
        0.5 * ((q + 1.0) / (q - 1.0)).ln() / (2.0 * c * r)
    } else {
        1.0 / (2.0 * c * beta0)
    }
}

/// Integration settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OdeOptions {
    /// Relative tolerance of Dop853's error control.
    pub rtol: f64,
    /// Absolute tolerance of Dop853's error control.
    pub atol: f64,
    /// Integration stops once any magnitude (|alpha|, |beta|, or any weight of a simulated
    /// neuron) exceeds this value: the flow blows up in finite time.
    pub cap: f64,
    /// For [`simulate_decoupled`] only: `Some(h)` integrates with fixed-step RK4 (ode_solvers'
    /// `Rk4`) with steps of at most h, each output interval split into equal steps so the end
    /// point is hit exactly. Needed for ReLU, whose velocity jumps where a pre-activation
    /// changes sign (Dop853's error control then stalls). `None`: Dop853.
    pub fixed_step: Option<f64>,
}

impl Default for OdeOptions {
    /// `rtol = 1e-11`, `atol = 1e-15`, `cap = 1e3`, Dop853 (no fixed step).
    fn default() -> Self {
        OdeOptions {
            rtol: 1e-11,
            atol: 1e-15,
            cap: 1e3,
            fixed_step: None,
        }
    }
}

/// A trajectory at requested output times.
#[derive(Clone, Debug, PartialEq)]
pub struct Trajectory<S> {
    /// `(t, state)` at the output times that were reached, in order; if the cap stopped the
    /// integration, the last entry is the (off-grid) step at which it did.
    pub points: Vec<(f64, S)>,
    /// The time at which a magnitude first exceeded [`OdeOptions::cap`], if it did.
    pub capped_at: Option<f64>,
}

/// Output times `t_i = t_end * i / n` for i = 0..=n (the last is exactly `t_end`).
pub fn output_times(t_end: f64, n: usize) -> Vec<f64> {
    let n = n.max(1);
    (0..=n)
        .map(|i| {
            if i == n {
                t_end
            } else {
                t_end * i as f64 / n as f64
            }
        })
        .collect()
}

struct FreqSystem {
    c: f64,
    cap: f64,
    capped: bool,
}

impl System<f64, Vector4<f64>> for FreqSystem {
    fn system(&self, _t: f64, y: &Vector4<f64>, dy: &mut Vector4<f64>) {
        let d = derivative(&FreqState::from_vector(y), self.c);
        *dy = d.to_vector();
    }
    fn solout(&mut self, _t: f64, y: &Vector4<f64>, _dy: &Vector4<f64>) -> bool {
        if y[0].abs() > self.cap || y[1].abs() > self.cap {
            self.capped = true;
        }
        self.capped
    }
}

fn check_time(name: &'static str, t: f64) -> Result<f64> {
    crate::error::positive(name, t)
}

fn check_state(s: &FreqState) -> Result<()> {
    crate::error::positive("alpha0", s.alpha)?;
    crate::error::positive("beta0", s.beta)?;
    for (name, v) in [("phi0", s.phi), ("psi0", s.psi)] {
        if !v.is_finite() {
            return Err(Error::InvalidParameter {
                name,
                value: v,
                expected: "a finite angle",
            });
        }
    }
    Ok(())
}

fn integration_error(e: ode_solvers::dop_shared::IntegrationError) -> Error {
    use ode_solvers::dop_shared::IntegrationError as I;
    let t = match e {
        I::MaxNumStepReached { x, .. }
        | I::StepSizeUnderflow { x }
        | I::StiffnessDetected { x } => x,
    };
    Error::Integration {
        t,
        message: e.to_string(),
    }
}

/// The solver's last step ends at `t + (t_end - t)`, which can differ from `t_end` in the last
/// bit; such an end is reported as `t_end` itself.
fn snap_end(t: f64, t_end: f64) -> f64 {
    if (t - t_end).abs() <= 8.0 * f64::EPSILON * t_end.abs().max(f64::MIN_POSITIVE) {
        t_end
    } else {
        t
    }
}

/// Integrates the four-variable ODE from `s0` with rate `c` and returns the states at
/// `times` (increasing, starting at 0 or later; the state at `times[0]` is taken to be `s0`).
pub fn integrate(
    s0: FreqState,
    c: f64,
    times: &[f64],
    opts: &OdeOptions,
) -> Result<Trajectory<FreqState>> {
    check_state(&s0)?;
    check_time("rate c", c)?;
    let mut points = vec![(times.first().copied().unwrap_or(0.0), s0)];
    let mut y = s0.to_vector();
    for w in times.windows(2) {
        let (t0, t1) = (w[0], w[1]);
        if t1 <= t0 {
            return Err(Error::InvalidParameter {
                name: "output time",
                value: t1,
                expected: "strictly increasing output times",
            });
        }
        let (t, y1) = segment4(c, t0, t1, y, opts)?;
        let t = snap_end(t, t1);
        y = y1;
        let s = FreqState::from_vector(&y);
        points.push((t, s));
        if t < t1 || y[0].abs() > opts.cap || y[1].abs() > opts.cap {
            return Ok(Trajectory {
                points,
                capped_at: Some(t),
            });
        }
    }
    Ok(Trajectory {
        points,
        capped_at: None,
    })
}

fn segment4(
    c: f64,
    t0: f64,
    t1: f64,
    y0: Vector4<f64>,
    opts: &OdeOptions,
) -> Result<(f64, Vector4<f64>)> {
    let sys = FreqSystem {
        c,
        cap: opts.cap,
        capped: false,
    };
    let mut solver = Dop853::new(sys, t0, t1, t1 - t0, y0, opts.rtol, opts.atol);
    solver.set_output(OutputType::Sparse);
    solver.integrate().map_err(integration_error)?;
    let t = *solver
        .x_out()
        .last()
        .expect("initial point is always stored");
    let y = *solver
        .y_out()
        .last()
        .expect("initial point is always stored");
    Ok((t, y))
}

/// Integrates from `s0` until `|alpha|` first reaches `level`, up to `t_max`. Returns the time,
/// interpolated linearly in `ln alpha` between the two steps around the crossing, or `None` if
/// alpha stays below `level` up to `t_max`.
pub fn hitting_time(
    s0: FreqState,
    c: f64,
    level: f64,
    t_max: f64,
    opts: &OdeOptions,
) -> Result<Option<f64>> {
    check_state(&s0)?;
    check_time("rate c", c)?;
    check_time("t_max", t_max)?;
    if s0.alpha >= level {
        return Ok(Some(0.0));
    }
    let sys = FreqSystem {
        c,
        cap: level,
        capped: false,
    };
    let mut solver = Dop853::new(sys, 0.0, t_max, t_max, s0.to_vector(), opts.rtol, opts.atol);
    solver.set_output(OutputType::Sparse);
    solver.integrate().map_err(integration_error)?;
    let (xs, ys) = (solver.x_out(), solver.y_out());
    let n = xs.len();
    let last = ys[n - 1][0].abs();
    if last < level {
        return Ok(None);
    }
    if n < 2 {
        return Ok(Some(xs[0]));
    }
    let (t0, t1) = (xs[n - 2], xs[n - 1]);
    let (a0, a1) = (ys[n - 2][0].abs().ln(), last.ln());
    let f = if a1 > a0 {
        (level.ln() - a0) / (a1 - a0)
    } else {
        1.0
    };
    Ok(Some(t0 + f.clamp(0.0, 1.0) * (t1 - t0)))
}

/// The uniform-softmax gradient-flow velocity of one neuron, written into `d_theta`, `d_xi`.
///
/// Computed pair by pair from the chain rule with `dL/dz_(x,y),j = s (1/p - 1{j = (x+y) mod p})`
/// over all p^2 ordered pairs (`s` = [`TimeScale::gradient_factor`]):
/// ```text
/// h = theta[x] + theta[y],  g = sum_j dL/dz_j xi[j] = s (mean(xi) - xi[(x+y) mod p])
/// dL/dxi[j]      += s (1/p - 1{j = x+y}) sigma(h)
/// dL/dtheta[x]   += g sigma'(h),   dL/dtheta[y] += g sigma'(h)
/// ```
/// and the velocity is minus the gradient. No Fourier algebra is used, so this is an
/// independent check of the ODE.
pub fn uniform_softmax_velocity(
    theta: &[f64],
    xi: &[f64],
    act: Activation,
    s: f64,
    d_theta: &mut [f64],
    d_xi: &mut [f64],
) {
    let p = theta.len();
    let mean_xi = xi.iter().sum::<f64>() / p as f64;
    d_theta.iter_mut().for_each(|v| *v = 0.0);
    d_xi.iter_mut().for_each(|v| *v = 0.0);
    let mut total = 0.0;
    for x in 0..p {
        for y in 0..p {
            let l = (x + y) % p;
            let h = theta[x] + theta[y];
            let a = act.value(h);
            total += a;
            // -dL/dxi[l] gets +s a from the -1{j = l} term.
            d_xi[l] += s * a;
            let g = s * (mean_xi - xi[l]) * act.deriv(h);
            d_theta[x] -= g;
            d_theta[y] -= g;
        }
    }
    // The 1/p term of every output: -s sigma(h) / p summed over pairs.
    let common = s * total / p as f64;
    d_xi.iter_mut().for_each(|v| *v -= common);
}

/// A neuron's weights at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Neuron {
    /// Input weights theta (length p).
    pub theta: Vec<f64>,
    /// Output weights xi (length p).
    pub xi: Vec<f64>,
}

struct NeuronSystem {
    p: usize,
    act: Activation,
    s: f64,
}

impl System<f64, DVector<f64>> for NeuronSystem {
    fn system(&self, _t: f64, y: &DVector<f64>, dy: &mut DVector<f64>) {
        let p = self.p;
        let (theta, xi) = y.as_slice().split_at(p);
        let (dt, dx) = dy.as_mut_slice().split_at_mut(p);
        uniform_softmax_velocity(theta, xi, self.act, self.s, dt, dx);
    }
}

/// Integrates one neuron's full weight vectors under the uniform-softmax gradient flow
/// ([`uniform_softmax_velocity`]) with Dop853, returning the weights at `times`.
pub fn simulate_decoupled(
    start: &Neuron,
    act: Activation,
    scale: TimeScale,
    times: &[f64],
    opts: &OdeOptions,
) -> Result<Trajectory<Neuron>> {
    let p = start.theta.len();
    crate::task::check_modulus(p)?;
    if start.xi.len() != p {
        return Err(Error::Shape {
            what: "xi".into(),
            found: start.xi.len().to_string(),
            expected: format!("p = {p} (the length of theta)"),
        });
    }
    let sys_s = scale.gradient_factor(p);
    let mut y = DVector::from_iterator(2 * p, start.theta.iter().chain(&start.xi).copied());
    let mut points = vec![(times.first().copied().unwrap_or(0.0), start.clone())];
    for w in times.windows(2) {
        let (t0, t1) = (w[0], w[1]);
        if t1 <= t0 {
            return Err(Error::InvalidParameter {
                name: "output time",
                value: t1,
                expected: "strictly increasing output times",
            });
        }
        let sys = NeuronSystem { p, act, s: sys_s };
        let t = if let Some(h) = opts.fixed_step {
            crate::error::positive("fixed step", h)?;
            let n = ((t1 - t0) / h).ceil().max(1.0);
            let mut solver = Rk4::new(sys, t0, y.clone(), t1, (t1 - t0) / n);
            solver.integrate().map_err(integration_error)?;
            y = solver
                .y_out()
                .last()
                .expect("initial point is always stored")
                .clone();
            t1
        } else {
            let mut solver = Dop853::new(sys, t0, t1, t1 - t0, y.clone(), opts.rtol, opts.atol);
            solver.set_output(OutputType::Sparse);
            solver.integrate().map_err(integration_error)?;
            y = solver
                .y_out()
                .last()
                .expect("initial point is always stored")
                .clone();
            snap_end(
                *solver
                    .x_out()
                    .last()
                    .expect("initial point is always stored"),
                t1,
            )
        };
        points.push((
            t,
            Neuron {
                theta: y.as_slice()[..p].to_vec(),
                xi: y.as_slice()[p..].to_vec(),
            },
        ));
        if y.iter().any(|v| v.abs() > opts.cap) {
            return Ok(Trajectory {
                points,
                capped_at: Some(t),
            });
        }
    }
    Ok(Trajectory {
        points,
        capped_at: None,
    })
}

/// Trains the real tied network on all p^2 pairs by full-batch SGD (no momentum, no weight
/// decay, constant learning rate `lr`, f64), returning the network after every `every` steps
/// (step 0 included) up to `steps`. Step n corresponds to time `n * lr` of the loss's flow.
pub fn gradient_descent(
    net: &Network<f64>,
    act: Activation,
    loss: Loss,
    lr: f64,
    steps: usize,
    every: usize,
) -> Result<Vec<(usize, Network<f64>)>> {
    use crate::backend::{Backend, CpuBackend};
    crate::error::positive("learning rate", lr)?;
    let every = every.max(1);
    let split = Split::seeded(net.p, Task::Add, 1.0, 0)?;
    let opt = OptimizerConfig::Sgd { weight_decay: 0.0 }.build::<f64>(&[])?;
    let mut b = CpuBackend::new(net.clone(), act, loss, &split, opt);
    let mut out = vec![(0, net.clone())];
    for n in 1..=steps {
        let st = b.step(lr);
        if !st.train.loss.is_finite() {
            return Err(Error::Diverged {
                epoch: n,
                what: "training loss",
                value: st.train.loss,
            });
        }
        if n % every == 0 || n == steps {
            out.push((n, b.network()));
        }
    }
    Ok(out)
}

/// Neuron m's weights `(theta_m, xi_m)` as f64 vectors.
pub fn neuron(net: &Network<f64>, m: usize) -> Neuron {
    Neuron {
        theta: net.w_in.row(m).iter().copied().collect(),
        xi: net.w_out.column(m).iter().copied().collect(),
    }
}

/// Squared magnitudes `alpha_k^2` (input) and `beta_k^2` (output), k = 1..K, of a neuron.
pub fn energies(n: &Neuron) -> (Vec<f64>, Vec<f64>) {
    let a = spectrum(&n.theta);
    let b = spectrum(&n.xi);
    (
        a.components
            .iter()
            .map(|c| c.magnitude * c.magnitude)
            .collect(),
        b.components
            .iter()
            .map(|c| c.magnitude * c.magnitude)
            .collect(),
    )
}

/// Largest absolute value of the softmax's departure from uniform over all pairs:
/// `max_(x,y),j |softmax(f(x,y))_j - 1/p|`.
pub fn softmax_departure(net: &Network<f64>, act: Activation) -> f64 {
    let p = net.p;
    let pairs = crate::task::all_pairs(p, Task::Add);
    let z = crate::grad::logits_table(net, act, &pairs);
    let mut worst: f64 = 0.0;
    for row in z.chunks(p) {
        let mx = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = row.iter().map(|v| (v - mx).exp()).collect();
        let tot: f64 = e.iter().sum();
        for v in e {
            worst = worst.max((v / tot - 1.0 / p as f64).abs());
        }
    }
    worst
}

/// The rates `(d alpha_k, d beta_k, d phi_k, d psi_k)/dt` of frequency k implied by weight
/// velocities `(d_theta, d_xi)` at weights `(theta, xi)`.
///
/// With `c_k = sum_j v[j] cos(w_k j)`, `s_k = sum_j v[j] sin(w_k j)` (linear in v, so their rates
/// are the same sums of the velocity), `alpha = (2/p) sqrt(c^2 + s^2)` and `phi = atan2(-s, c)`:
/// ```text
/// d alpha/dt = (2/p) (c dc + s ds) / sqrt(c^2 + s^2)
/// d phi/dt   = (s dc - c ds) / (c^2 + s^2)
/// ```
/// and likewise for (beta, psi) from `xi`.
pub fn project_rate(n: &Neuron, d_theta: &[f64], d_xi: &[f64], k: usize) -> FreqState {
    let p = n.theta.len() as f64;
    let one = |v: &[f64], dv: &[f64]| {
        let a = spectrum(v).components[k - 1];
        let d = spectrum(dv).components[k - 1];
        let (c, s, dc, ds) = (a.cos_sum, a.sin_sum, d.cos_sum, d.sin_sum);
        let r2 = c * c + s * s;
        (
            (2.0 / p) * (c * dc + s * ds) / r2.sqrt(),
            (s * dc - c * ds) / r2,
        )
    };
    let (da, dphi) = one(&n.theta, d_theta);
    let (db, dpsi) = one(&n.xi, d_xi);
    FreqState::new(da, db, dphi, dpsi)
}

/// A neuron holding one frequency k: `theta[j] = s.alpha cos(w_k j + s.phi)`,
/// `xi[j] = s.beta cos(w_k j + s.psi)`, `w_k = 2 pi k / p`.
pub fn single_frequency_neuron(p: usize, k: usize, s: &FreqState) -> Neuron {
    // k j is reduced mod p first so the angle stays small and exact.
    Neuron {
        theta: (0..p)
            .map(|j| s.alpha * (2.0 * PI * ((k * j) % p) as f64 / p as f64 + s.phi).cos())
            .collect(),
        xi: (0..p)
            .map(|j| s.beta * (2.0 * PI * ((k * j) % p) as f64 / p as f64 + s.psi).cos())
            .collect(),
    }
}

/// Settings of the lottery predictors.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LotteryOptions {
    /// The ODE predictor's finish line: alpha_k must reach `level_factor` times the neuron's
    /// largest initial magnitude (over all k of alpha_k and beta_k).
    pub level_factor: f64,
    /// Races are run up to `t_max_factor` times the neuron's shortest aligned blow-up time
    /// ([`aligned_blowup_time`] of each k's initial magnitudes); a frequency that has not
    /// finished by then does not finish.
    pub t_max_factor: f64,
    /// Integration settings.
    pub ode: OdeOptions,
}

impl Default for LotteryOptions {
    /// `level_factor = 100`, `t_max_factor = 50`, `rtol = 1e-8`, `atol = 1e-14`.
    fn default() -> Self {
        LotteryOptions {
            level_factor: 100.0,
            t_max_factor: 50.0,
            ode: OdeOptions {
                rtol: 1e-8,
                atol: 1e-14,
                cap: f64::INFINITY,
                fixed_step: None,
            },
        }
    }
}

/// One neuron's predicted winning frequency, by both rules.
#[derive(Clone, Debug, PartialEq)]
pub struct LotteryPrediction {
    /// Neuron index m.
    pub neuron: usize,
    /// The paper's rule: `argmin_k |D_k(0)|` (ties: smallest k).
    pub by_misalignment: usize,
    /// `|D_k(0)|` of that frequency.
    pub min_misalignment: f64,
    /// The ODE rule: the k whose decoupled ODE, started from the neuron's initial
    /// `(alpha_k, beta_k, phi_k, psi_k)`, first brings alpha_k to the finish line; `None` if no
    /// frequency finishes within the time limit.
    pub by_ode: Option<usize>,
    /// The winner's finishing time (in the time scale used).
    pub ode_time: Option<f64>,
}

/// Per-frequency states `(alpha_k, beta_k, phi_k, psi_k)`, k = 1..K, of neuron m.
pub fn frequency_states(net: &Network<f64>, m: usize) -> Vec<FreqState> {
    let n = neuron(net, m);
    let (a, b) = (spectrum(&n.theta), spectrum(&n.xi));
    a.components
        .iter()
        .zip(&b.components)
        .map(|(x, y)| FreqState::new(x.magnitude, y.magnitude, x.phase, y.phase))
        .collect()
}

/// Predicts every neuron's winning frequency from the initial weights `net` by the paper's
/// smallest-misalignment rule and by racing the decoupled ODEs of its frequencies
/// (rate [`TimeScale::rate`]); see [`LotteryPrediction`].
pub fn predict_lottery(
    net: &Network<f64>,
    scale: TimeScale,
    opts: &LotteryOptions,
) -> Result<Vec<LotteryPrediction>> {
    crate::error::positive("level factor", opts.level_factor)?;
    crate::error::positive("t_max factor", opts.t_max_factor)?;
    let c = scale.rate(net.p);
    (0..net.width())
        .map(|m| {
            let states = frequency_states(net, m);
            let mut by_mis = 1;
            let mut best_d = f64::INFINITY;
            for (i, s) in states.iter().enumerate() {
                let d = s.misalignment().abs();
                if d < best_d {
                    best_d = d;
                    by_mis = i + 1;
                }
            }
            let valid = |s: &FreqState| s.alpha > 0.0 && s.beta > 0.0;
            let top = states
                .iter()
                .map(|s| s.alpha.max(s.beta))
                .fold(0.0, f64::max);
            let t_scale = states
                .iter()
                .filter(|s| valid(s))
                .map(|s| aligned_blowup_time(s.alpha, s.beta, c))
                .fold(f64::INFINITY, f64::min);
            let mut by_ode = None;
            let mut best_t = f64::INFINITY;
            if t_scale.is_finite() {
                let level = opts.level_factor * top;
                let t_max = opts.t_max_factor * t_scale;
                for (i, s) in states.iter().enumerate() {
                    if !valid(s) {
                        continue;
                    }
                    let limit = t_max.min(best_t);
                    if limit <= 0.0 {
                        break;
                    }
                    if let Some(t) = hitting_time(*s, c, level, limit, &opts.ode)? {
                        if t < best_t {
                            best_t = t;
                            by_ode = Some(i + 1);
                        }
                    }
                }
            }
            Ok(LotteryPrediction {
                neuron: m,
                by_misalignment: by_mis,
                min_misalignment: best_d,
                by_ode,
                ode_time: by_ode.map(|_| best_t),
            })
        })
        .collect()
}

/// Each neuron's dominant frequency: `argmax_k alpha_k` of its input weights theta_m
/// (k = 1..K; the constant term does not compete; ties: smallest k).
pub fn dominant_frequencies(net: &Network<f64>) -> Vec<usize> {
    (0..net.width())
        .map(|m| {
            let s = spectrum(&neuron(net, m).theta);
            let mut best = 0;
            for (i, c) in s.components.iter().enumerate() {
                if c.magnitude > s.components[best].magnitude {
                    best = i;
                }
            }
            best + 1
        })
        .collect()
}

/// Fractions of neurons whose winner each rule predicted: `(misalignment rule, ODE rule)`,
/// against `winners[m]` (e.g. [`dominant_frequencies`] of the trained network). A `None`
/// ODE prediction counts as wrong.
pub fn lottery_accuracy(preds: &[LotteryPrediction], winners: &[usize]) -> Result<(f64, f64)> {
    if preds.len() != winners.len() {
        return Err(Error::Shape {
            what: "final weights".into(),
            found: format!("{} neurons", winners.len()),
            expected: format!("{} neurons (as the initial weights)", preds.len()),
        });
    }
    let n = preds.len().max(1) as f64;
    let a = preds
        .iter()
        .zip(winners)
        .filter(|(p, &w)| p.by_misalignment == w)
        .count() as f64
        / n;
    let b = preds
        .iter()
        .zip(winners)
        .filter(|(p, &w)| p.by_ode == Some(w))
        .count() as f64
        / n;
    Ok((a, b))
}

/// One cell of the lottery contour.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContourPoint {
    /// Initial magnitude `alpha0 = beta0`.
    pub magnitude: f64,
    /// Initial misalignment D0.
    pub d0: f64,
    /// beta at the horizon (or at the cap, if reached first).
    pub beta: f64,
    /// The time the cap was reached, if before the horizon.
    pub capped_at: Option<f64>,
}

/// The lottery contour: final beta after `horizon` from `alpha0 = beta0 = m` and `D0 = d` for
/// every m in `magnitudes` and d in `ds` (rate `c`), magnitude-major.
pub fn lottery_contour(
    c: f64,
    magnitudes: &[f64],
    ds: &[f64],
    horizon: f64,
    opts: &OdeOptions,
) -> Result<Vec<ContourPoint>> {
    check_time("horizon", horizon)?;
    let mut out = Vec::with_capacity(magnitudes.len() * ds.len());
    for &m in magnitudes {
        for &d in ds {
            let tr = integrate(
                FreqState::with_misalignment(m, m, d),
                c,
                &[0.0, horizon],
                opts,
            )?;
            let s = tr.points.last().expect("a trajectory holds its start").1;
            out.push(ContourPoint {
                magnitude: m,
                d0: d,
                beta: s.beta.abs(),
                capped_at: tr.capped_at,
            });
        }
    }
    Ok(out)
}

/// `n` evenly spaced values from `a` to `b` inclusive (`[a]` when n = 1).
pub fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    if n <= 1 {
        return vec![a];
    }
    (0..n)
        .map(|i| {
            if i == n - 1 {
                b
            } else {
                a + (b - a) * i as f64 / (n - 1) as f64
            }
        })
        .collect()
}

/// Settings of the `modadd ode` command.
#[derive(Clone, Debug, PartialEq)]
pub struct OdeCommand {
    /// Modulus p.
    pub p: usize,
    /// Time scale (sum or mean loss).
    pub scale: TimeScale,
    /// Initial alpha values (the grid is alpha x beta x D).
    pub alpha0: Vec<f64>,
    /// Initial beta values; empty means beta0 = alpha0 (one value per alpha0).
    pub beta0: Vec<f64>,
    /// Initial misalignments D0.
    pub d0: Vec<f64>,
    /// Horizon of the trajectories.
    pub horizon: f64,
    /// Output intervals per trajectory.
    pub points: usize,
    /// Contour grid: magnitudes (min, max, count), D0 count over [0, 2 pi], horizon.
    pub contour: Option<(f64, f64, usize, usize, f64)>,
    /// Output folder.
    pub out: std::path::PathBuf,
}

/// Runs `modadd ode`: writes `trajectories.csv` (columns run, alpha0, beta0, d0, t, alpha,
/// beta, phi, psi, d; angles in [-pi, pi), beta >= 0), optionally `contour.csv` (magnitude,
/// d0, beta, capped_at) and `manifest.csv` into `out`. Trajectories stop at
/// [`OdeOptions::cap`] (default 1e3): their last row is then the off-grid stop time.
pub fn run_ode_command(cmd: &OdeCommand) -> Result<()> {
    use crate::export::{fmt_f64, write_table, Manifest};
    crate::task::check_modulus(cmd.p)?;
    check_time("horizon", cmd.horizon)?;
    let c = cmd.scale.rate(cmd.p);
    let opts = OdeOptions::default();
    let times = output_times(cmd.horizon, cmd.points);
    let mut starts = vec![];
    for &a in &cmd.alpha0 {
        let betas = if cmd.beta0.is_empty() {
            vec![a]
        } else {
            cmd.beta0.clone()
        };
        for b in betas {
            for &d in &cmd.d0 {
                starts.push((a, b, d));
            }
        }
    }
    if starts.is_empty() {
        return Err(Error::InvalidParameter {
            name: "number of starts",
            value: 0.0,
            expected: "at least one alpha0 and one d0",
        });
    }
    let mut rows = vec![];
    for (run, &(a, b, d)) in starts.iter().enumerate() {
        let tr = integrate(FreqState::with_misalignment(a, b, d), c, &times, &opts)?;
        for (t, s) in &tr.points {
            let s = s.canonical();
            rows.push(vec![
                run.to_string(),
                fmt_f64(a),
                fmt_f64(b),
                fmt_f64(d),
                fmt_f64(*t),
                fmt_f64(s.alpha),
                fmt_f64(s.beta),
                fmt_f64(s.phi),
                fmt_f64(s.psi),
                fmt_f64(s.misalignment()),
            ]);
        }
    }
    let mut m = Manifest::new();
    let n = write_table(
        &cmd.out.join("trajectories.csv"),
        &[
            "run", "alpha0", "beta0", "d0", "t", "alpha", "beta", "phi", "psi", "d",
        ],
        &rows,
    )?;
    m.add(
        "trajectories.csv",
        n,
        format!(
            "decoupled-ODE trajectories, p = {}, {} loss time (rate {}); one run per start",
            cmd.p,
            cmd.scale.name(),
            fmt_f64(c)
        ),
    );
    if let Some((lo, hi, nm, nd, horizon)) = cmd.contour {
        let mags = linspace(lo, hi, nm);
        let ds = linspace(0.0, 2.0 * PI, nd);
        let grid = lottery_contour(c, &mags, &ds, horizon, &opts)?;
        let rows: Vec<Vec<String>> = grid
            .iter()
            .map(|g| {
                vec![
                    fmt_f64(g.magnitude),
                    fmt_f64(g.d0),
                    fmt_f64(g.beta),
                    g.capped_at.map(fmt_f64).unwrap_or_default(),
                ]
            })
            .collect();
        let n = write_table(
            &cmd.out.join("contour.csv"),
            &["magnitude", "d0", "beta", "capped_at"],
            &rows,
        )?;
        m.add(
            "contour.csv",
            n,
            format!(
                "lottery contour: beta at t = {} from alpha0 = beta0 = magnitude and D0 = d0 (capped_at: time beta passed the cap, empty if not)",
                fmt_f64(horizon)
            ),
        );
    }
    m.write(&cmd.out)
}

/// Runs `modadd lottery`: predictions of both rules for the network in `init_dir`, written to
/// `out/predictions.csv` (neuron, by_misalignment, min_abs_d, by_ode, ode_time, final_winner);
/// given `final_dir`, also `out/accuracy.csv` (rule, accuracy). Returns the accuracies
/// (misalignment rule, ODE rule) when final weights are given.
pub fn run_lottery_command(
    init_dir: &std::path::Path,
    final_dir: Option<&std::path::Path>,
    scale: TimeScale,
    out: &std::path::Path,
) -> Result<Option<(f64, f64)>> {
    use crate::export::{fmt_f64, write_table, Manifest};
    let init = crate::weights::read_weights_any(init_dir)?;
    if init.w_in_y.is_some() {
        return Err(Error::Shape {
            what: "initial weights".into(),
            found: "an untied network (W_in_y.csv)".into(),
            expected: "a tied network (the lottery is derived for the tied model)".into(),
        });
    }
    let preds = predict_lottery(&init, scale, &LotteryOptions::default())?;
    let winners = match final_dir {
        Some(d) => {
            let f = crate::weights::read_weights_any(d)?;
            if f.p != init.p || f.width() != init.width() {
                return Err(Error::Shape {
                    what: "final weights".into(),
                    found: format!("p = {}, M = {}", f.p, f.width()),
                    expected: format!(
                        "p = {}, M = {} (as the initial weights)",
                        init.p,
                        init.width()
                    ),
                });
            }
            Some(dominant_frequencies(&f))
        }
        None => None,
    };
    let rows: Vec<Vec<String>> = preds
        .iter()
        .map(|q| {
            vec![
                q.neuron.to_string(),
                q.by_misalignment.to_string(),
                fmt_f64(q.min_misalignment),
                q.by_ode.map(|k| k.to_string()).unwrap_or_default(),
                q.ode_time.map(fmt_f64).unwrap_or_default(),
                winners
                    .as_ref()
                    .map(|w| w[q.neuron].to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let mut m = Manifest::new();
    let n = write_table(
        &out.join("predictions.csv"),
        &[
            "neuron",
            "by_misalignment",
            "min_abs_d",
            "by_ode",
            "ode_time",
            "final_winner",
        ],
        &rows,
    )?;
    m.add(
        "predictions.csv",
        n,
        format!(
            "per-neuron winning frequency: smallest |D_k(0)| rule and decoupled-ODE race ({} loss time); final_winner = argmax_k alpha_k of the final weights (empty without them)",
            scale.name()
        ),
    );
    let acc = match &winners {
        Some(w) => {
            let (a, b) = lottery_accuracy(&preds, w)?;
            let n = write_table(
                &out.join("accuracy.csv"),
                &["rule", "accuracy"],
                &[
                    vec!["smallest_misalignment".into(), fmt_f64(a)],
                    vec!["ode_race".into(), fmt_f64(b)],
                ],
            )?;
            m.add(
                "accuracy.csv",
                n,
                "fraction of neurons whose final dominant frequency each rule predicted",
            );
            Some((a, b))
        }
        None => None,
    };
    m.write(out)?;
    Ok(acc)
}
