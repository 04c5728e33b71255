//! The decoupled four-variable ODE: its right-hand side, invariants, closed-form aligned
//! solutions, and its integration with Dop853.

use crate::error::{Error, Result};
use crate::science::dynamics::FreqState;
use ode_solvers::dop853::Dop853;
use ode_solvers::{OutputType, System, Vector4};
use std::f64::consts::PI;
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
/// it does not match (see [`crate::science::theory`]).
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
    /// For [`simulate_decoupled`](super::simulate::simulate_decoupled) only: `Some(h)` integrates with fixed-step RK4 (ode_solvers'
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

/// Checks that a time is finite and > 0.
pub(crate) fn check_time(name: &'static str, t: f64) -> Result<f64> {
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

/// The integrator's failure as an [`Error::Integration`].
pub(crate) fn integration_error(e: ode_solvers::dop_shared::IntegrationError) -> Error {
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
pub(crate) fn snap_end(t: f64, t_end: f64) -> f64 {
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
