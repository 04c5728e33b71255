//! The lottery ticket: which frequency of a neuron wins, predicted by the paper's
//! smallest-misalignment rule and by racing the decoupled ODEs of its frequencies.

use crate::error::{Error, Result};
use crate::numerics::network::Network;
use crate::numerics::parallel::Threads;
use crate::science::dynamics::ode::{
    aligned_blowup_time, check_time, hitting_time, integrate, OdeOptions,
};
use crate::science::dynamics::simulate::neuron;
use crate::science::dynamics::{FreqState, TimeScale};
use crate::science::fourier::spectrum;
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
/// (rate [`TimeScale::rate`]); see [`LotteryPrediction`]. The neurons race on the
/// process-wide threads ([`Threads::default`]), each alone, so the result does not depend on
/// them.
pub fn predict_lottery(
    net: &Network<f64>,
    scale: TimeScale,
    opts: &LotteryOptions,
) -> Result<Vec<LotteryPrediction>> {
    crate::error::positive("level factor", opts.level_factor)?;
    crate::error::positive("t_max factor", opts.t_max_factor)?;
    let c = scale.rate(net.p);
    // Each neuron races alone: on every thread, collected in neuron order (the first error
    // in neuron order is the one returned).
    Threads::default()
        .map(net.width(), |m| {
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
        .into_iter()
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
