//! Gromov's system: the untied Quad network, its closed-form periodic solution for
//! `c = (a x + b y) mod p`, how wide it must be, and how close learned weights come to it.
//!
//! # The closed form
//! Neuron m draws a frequency `k_m` uniform on 1..K (K = (p-1)/2) and two phases `phi_m`,
//! `chi_m` uniform on [0, 2 pi), and sets (unit amplitudes, w = 2 pi / p)
//!
//! ```text
//! theta_m[x] = cos(w k_m a x + phi_m)            (row m of W_in,   operand x)
//! eta_m[y]   = cos(w k_m b y + chi_m)            (row m of W_in_y, operand y)
//! xi_m[j]    = cos(w k_m j + phi_m + chi_m)      (column m of W_out)
//! ```
//!
//! with (a, b) = (1, 1) for add, (1, p - 1) for sub, (a mod p, b mod p) for `linear:A,B`
//! ([`coefficients`]). The output phase is the SUM of the input phases, with a plus sign inside
//! every cosine: the sign that makes the phases cancel below.
//!
//! # Why it works (sigma(u) = u^2)
//! Write `A = w k a x + phi`, `B = w k b y + chi`, `C_j = w k j + phi + chi` for one neuron and
//! `c = (a x + b y) mod p`. Since k is an integer, `w k (a x + b y) = w k c` modulo 2 pi. Then
//!
//! ```text
//! (cos A + cos B)^2 = 1 + cos(2A)/2 + cos(2B)/2 + cos(A + B) + cos(A - B)
//! g[j] := xi[j] (theta[x] + eta[y])^2 = sum of the nine cosines below (cos u cos v = (cos(u-v) + cos(u+v))/2)
//!
//!   term                      phase (in phi, chi)     amplitude
//!   cos C_j                   phi + chi               1
//!   cos(2A -/+ C_j)           phi - chi, 3phi + chi   1/4 each
//!   cos(2B -/+ C_j)           chi - phi, phi + 3chi   1/4 each
//!   cos(A + B - C_j)          0                       1/2   = (1/2) cos(w k (c - j))
//!   cos(A + B + C_j)          2phi + 2chi             1/2
//!   cos(A - B -/+ C_j)        -2chi, 2phi             1/2 each
//! ```
//!
//! Exactly one term, `(1/2) cos(2 pi k (c - j) / p)`, carries no random phase: it is 1/2 at
//! j = c for every neuron and smaller elsewhere. Every other term has a non-zero integer
//! combination of (phi, chi) in its argument, so its average over uniform phases is 0.
//! Hence, averaged over the phases of one neuron with frequency k ([`phase_mean`]):
//!
//! ```text
//! E_phases g[j] = (1/2) cos(2 pi k d / p),   d = c - j
//! Var_phases g[j] = 1 + cos(4 pi k d / p) / 16   ([`phase_variance`])
//! ```
//!
//! (the variance: `1/2` from cos C_j, `4 x 1/32` from the four quarter-amplitude terms, `1/8`
//! from cos(A+B+C_j), `2 x 1/8` from the cos(A-B-/+C_j) pair, and the one covariance, between
//! cos(2A - C_j) and cos(2B - C_j), whose phases are opposite: `2 (1/16) (1/2) cos(2 w k d)`.)
//! Averaging also over k uniform on 1..K, and using `sum_{k=1..K} cos(2 pi k d / p) = -1/2` for
//! every d != 0 mod p (the p-th roots of unity sum to zero; this needs only p odd, not prime):
//!
//! ```text
//! E g[c] = 1/2,     E g[j] = -1 / (2 (p - 1))  for j != c        ([`mean_logit`])
//! ```
//!
//! # Scale, and the width it needs
//! The logits `f[j] = sum_{m=1..N} g_m[j]` are sums of N iid neurons: the signal is
//! `E(f[c] - f[j]) = N mu` with `mu = p / (2 (p - 1))` (about N/2), while the fluctuations are
//! of order `sqrt(N)`: the per-neuron margin `g[c] - g[j]` has a variance `s_d^2` of order 1
//! ([`margin_statistics`] computes mean and variance exactly by averaging over k and a phase
//! grid; they depend on (x, y, j) only through d = c - j). One comparison fails with
//! probability about `exp(-N mu^2 / (2 s^2))` (Gaussian tail); requiring the expected number of
//! failures over all p^2 (p - 1) comparisons to be below 1/2 gives the estimate
//!
//! ```text
//! N* ~ (2 s^2 / mu^2) ln(p^3)      with s^2 = max_d s_d^2        ([`predicted_width`])
//! ```
//!
//! so the width for 100 % accuracy grows only like `ln p`: `2 s^2 / mu^2` is about 16, so
//! `N* ~ 16 ln(2 p^2 (p - 1))`, about 50 ln p (123 at p = 11, 168 at 23, 209 at 47, 250 at 97).
//! The union bound over correlated comparisons makes it an overestimate: the measured first
//! width at 100 % is about 30 ln p at worst over seeds (70, 102, 111, 152 at those p; see
//! tests/gromov.rs). Below it accuracy falls smoothly ([`accuracy_by_width`]): about 0.5 at
//! N = 16 and 0.8 at N = 32 for p = 23.
//!
//! Composite p: neurons whose k shares a factor g with p are periodic with period p / g and
//! also peak at j = c + p/g; the averages above still hold (they need only d != 0 mod p), so the
//! closed form works for any odd p. The coefficients a and b play no role at all (only
//! `a x + b y mod p` enters), so `gcd(a, p) > 1` is no obstacle either; a = 0 simply makes
//! `theta_m` constant.
//!
//! # Learned weights versus the closed form
//! [`closed_form_match`] reads each neuron at the dominant frequency k of `xi_m` and the
//! signed frequencies `k a`, `k b` of `theta_m`, `eta_m` (a signed frequency q > K reads the
//! component at p - q with its phase negated, since `cos(w q x + phi) = cos(w (p - q) x - phi)`).
//! With phat, chihat, psihat those phases, the closed-form relation is
//! `Delta = wrap(phat + chihat - psihat) = 0`. The similarity of a neuron to the closed-form
//! neuron with (k, phat, chihat) is the mean of the three cosine similarities
//! `cos(theta_m, cos(w k a . + phat))`, `cos(eta_m, cos(w k b . + chihat))`,
//! `cos(xi_m, cos(w k . + phat + chihat))`, which reduce to
//!
//! ```text
//! alpha_{ka} sqrt(p/2) / |theta_m|,   alpha_{kb} sqrt(p/2) / |eta_m|,   beta_k cos(Delta) sqrt(p/2) / |xi_m|
//! ```
//!
//! (alpha, beta the magnitudes of [`crate::science::fourier`]; a pure cosine of amplitude A has norm
//! `A sqrt(p/2)`). It is a lower bound on the best similarity to any closed-form neuron at k.

use crate::error::{Error, Result};
use crate::numerics::activation::Activation;
use crate::numerics::batch::Batch;
use crate::numerics::grad::{evaluate, Workspace};
use crate::numerics::limits::{check_matrix, check_width};
use crate::numerics::loss::Loss;
use crate::numerics::network::Network;
use crate::numerics::real::Real;
use crate::numerics::rng::{uniform_below, unit_f64};
use crate::numerics::task::{all_pairs, check_modulus, Task};
use crate::science::fourier::{dominant_frequency, ipr, wrap, Spectrum, SpectrumTable};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;

/// Phase-grid size of the exact averages: g has phase harmonics up to 3 and g^2 up to 6 in each
/// of (phi, chi), and a grid of Q points averages `e^{i n phi}` to exactly 0 for 0 < |n| < Q.
pub const PHASE_GRID: usize = 8;

/// The task's coefficients (a, b) in `c = (a x + b y) mod p`, reduced mod p:
/// add (1, 1), sub (1, p - 1), `linear:A,B` (A mod p, B mod p).
pub fn coefficients(task: Task, p: usize) -> (usize, usize) {
    match task {
        Task::Add => (1, 1),
        Task::Sub => (1, p - 1),
        Task::Linear { a, b } => ((a % p as u64) as usize, (b % p as u64) as usize),
    }
}

/// One closed-form neuron: frequency k in 1..=K and the input phases (phi, chi).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClosedFormNeuron {
    /// Frequency k.
    pub k: usize,
    /// Phase phi of `theta_m` (operand x).
    pub phi: f64,
    /// Phase chi of `eta_m` (operand y).
    pub chi: f64,
}

/// Draws `width` closed-form neurons from `ChaCha8Rng::seed_from_u64(seed)`: per neuron, in
/// order, k uniform on 1..=K, then phi and chi uniform on [0, 2 pi). The first n neurons of
/// width N > n are the neurons of width n (a prefix), so widths can be compared on one draw.
pub fn closed_form_neurons(p: usize, width: usize, seed: u64) -> Result<Vec<ClosedFormNeuron>> {
    check_modulus(p)?;
    check_width(width)?;
    check_matrix("W_in", width, p)?;
    let k_max = (p - 1) / 2;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Ok((0..width)
        .map(|_| {
            let k = 1 + uniform_below(&mut rng, k_max as u64) as usize;
            let phi = 2.0 * PI * unit_f64(&mut rng);
            let chi = 2.0 * PI * unit_f64(&mut rng);
            ClosedFormNeuron { k, phi, chi }
        })
        .collect())
}

/// The untied network of the given closed-form neurons for `task` (formula in the module docs):
/// `theta_m[x] = cos(w k a x + phi)`, `eta_m[y] = cos(w k b y + chi)`,
/// `xi_m[j] = cos(w k j + phi + chi)`, `w = 2 pi / p`, products `k a x` reduced mod p first.
pub fn closed_form_from<T: Real>(
    p: usize,
    task: Task,
    neurons: &[ClosedFormNeuron],
) -> Result<Network<T>> {
    check_modulus(p)?;
    if neurons.is_empty() {
        return Err(Error::InvalidWidth { width: 0 });
    }
    let (a, b) = coefficients(task, p);
    let width = neurons.len();
    let w = 2.0 * PI / p as f64;
    let mut w_in = DMatrix::<T>::zeros(width, p);
    let mut w_in_y = DMatrix::<T>::zeros(width, p);
    let mut w_out = DMatrix::<T>::zeros(p, width);
    for (m, n) in neurons.iter().enumerate() {
        for j in 0..p {
            let ax = (n.k * a % p) * j % p;
            let by = (n.k * b % p) * j % p;
            let kj = n.k * j % p;
            w_in[(m, j)] = T::of((w * ax as f64 + n.phi).cos());
            w_in_y[(m, j)] = T::of((w * by as f64 + n.chi).cos());
            w_out[(j, m)] = T::of((w * kj as f64 + n.phi + n.chi).cos());
        }
    }
    Network::new(w_in, w_out, Some(w_in_y))
}

/// The seeded closed-form network of `width` neurons for `task`
/// ([`closed_form_neurons`] then [`closed_form_from`]).
pub fn closed_form<T: Real>(p: usize, width: usize, task: Task, seed: u64) -> Result<Network<T>> {
    closed_form_from(p, task, &closed_form_neurons(p, width, seed)?)
}

/// Phase average of one neuron's output: `E_phases g[j] = (1/2) cos(2 pi k d / p)`, d = c - j.
pub fn phase_mean(p: usize, k: usize, d: i64) -> f64 {
    0.5 * (2.0 * PI * (k as i64 * d).rem_euclid(p as i64) as f64 / p as f64).cos()
}

/// Phase variance of one neuron's output: `Var_phases g[j] = 1 + cos(4 pi k d / p) / 16`.
pub fn phase_variance(p: usize, k: usize, d: i64) -> f64 {
    1.0 + (4.0 * PI * (k as i64 * d).rem_euclid(p as i64) as f64 / p as f64).cos() / 16.0
}

/// Mean over k uniform on 1..K and the phases of one neuron's output at distance d = c - j:
/// 1/2 when d = 0 mod p, `-1 / (2 (p - 1))` otherwise.
pub fn mean_logit(p: usize, d: i64) -> f64 {
    if d.rem_euclid(p as i64) == 0 {
        0.5
    } else {
        -0.5 / (p as f64 - 1.0)
    }
}

/// The output `g[j] = xi[j] (theta[x] + eta[y])^2` of one closed-form neuron, all j, in f64.
pub fn neuron_output(p: usize, task: Task, n: ClosedFormNeuron, x: usize, y: usize) -> Vec<f64> {
    let (a, b) = coefficients(task, p);
    let w = 2.0 * PI / p as f64;
    let h = (w * ((n.k * a % p) * x % p) as f64 + n.phi).cos()
        + (w * ((n.k * b % p) * y % p) as f64 + n.chi).cos();
    (0..p)
        .map(|j| (w * (n.k * j % p) as f64 + n.phi + n.chi).cos() * h * h)
        .collect()
}

/// Exact mean and variance, over k uniform on 1..K and uniform phases, of one neuron's margin
/// `g[c] - g[j]` for j = c - d (computed at x = y = 0, c = 0, averaging over a
/// [`PHASE_GRID`]^2 grid of phases, which is exact for these trigonometric polynomials).
/// The mean is `p / (2 (p - 1))` for d != 0 mod p.
pub fn margin_statistics(p: usize, task: Task, d: i64) -> (f64, f64) {
    let k_max = (p - 1) / 2;
    let j = (-d).rem_euclid(p as i64) as usize;
    let q = PHASE_GRID;
    let (mut s1, mut s2) = (0.0, 0.0);
    for k in 1..=k_max {
        for u in 0..q {
            for v in 0..q {
                let n = ClosedFormNeuron {
                    k,
                    phi: 2.0 * PI * u as f64 / q as f64,
                    chi: 2.0 * PI * v as f64 / q as f64,
                };
                let g = neuron_output(p, task, n, 0, 0);
                let m = g[0] - g[j];
                s1 += m;
                s2 += m * m;
            }
        }
    }
    let n = (k_max * q * q) as f64;
    let mean = s1 / n;
    (mean, s2 / n - mean * mean)
}

/// The width estimate of the module docs: the smallest N with
/// `p^2 (p - 1) exp(-N mu^2 / (2 s^2)) <= 1/2`, i.e. `N = ceil((2 s^2 / mu^2) ln(2 p^2 (p - 1)))`,
/// with mu the margin mean and s^2 the largest margin variance over d = 1..p-1
/// ([`margin_statistics`]).
pub fn predicted_width(p: usize, task: Task) -> usize {
    let (mut mu, mut s2) = (f64::INFINITY, 0.0f64);
    for d in 1..p as i64 {
        let (m, v) = margin_statistics(p, task, d);
        mu = mu.min(m);
        s2 = s2.max(v);
    }
    let pf = p as f64;
    (2.0 * s2 / (mu * mu) * (2.0 * pf * pf * (pf - 1.0)).ln()).ceil() as usize
}

/// Accuracy (argmax, ties to the smallest index) of `net` on all p^2 pairs of `task`.
pub fn accuracy<T: Real>(net: &Network<T>, act: Activation, task: Task) -> f64 {
    let batch = Batch::<T>::new(&all_pairs(net.p, task), net.tying());
    evaluate(net, act, Loss::Mse, &batch, &mut Workspace::new()).accuracy
}

/// Accuracy on all p^2 pairs of the closed-form networks of widths 1..=`max_width` drawn from
/// one seed (element N - 1 is width N; the networks are prefixes of one draw, see
/// [`closed_form_neurons`]). Computed incrementally in f64: the logits of width N are those of
/// width N - 1 plus neuron N's output.
pub fn accuracy_by_width(p: usize, task: Task, max_width: usize, seed: u64) -> Result<Vec<f64>> {
    let neurons = closed_form_neurons(p, max_width, seed)?;
    let (a, b) = coefficients(task, p);
    let w = 2.0 * PI / p as f64;
    let cos_at = |r: usize, ph: f64| (w * (r % p) as f64 + ph).cos();
    let mut logits = vec![0.0f64; p * p * p];
    let mut out = Vec::with_capacity(max_width);
    let (mut th, mut et, mut xi) = (vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    for n in &neurons {
        for r in 0..p {
            th[r] = cos_at((n.k * a % p) * r, n.phi);
            et[r] = cos_at((n.k * b % p) * r, n.chi);
            xi[r] = cos_at(n.k * r, n.phi + n.chi);
        }
        let mut correct = 0usize;
        for x in 0..p {
            for y in 0..p {
                let h = th[x] + et[y];
                let h2 = h * h;
                let z = &mut logits[(x * p + y) * p..(x * p + y + 1) * p];
                for (zj, xj) in z.iter_mut().zip(&xi) {
                    *zj += xj * h2;
                }
                if crate::numerics::loss::argmax(z) == Some(task.label(x, y, p)) {
                    correct += 1;
                }
            }
        }
        out.push(correct as f64 / (p * p) as f64);
    }
    Ok(out)
}

/// How one learned neuron compares with the closed form (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeuronMatch {
    /// Neuron index m.
    pub m: usize,
    /// Dominant frequency k of `xi_m` (1 if `xi_m` has no frequency content).
    pub k: usize,
    /// `Delta = wrap(phat + chihat - psihat)`; `None` when `k a` or `k b` is 0 mod p (a
    /// constant input row has no phase).
    pub phase_residual: Option<f64>,
    /// Whether the dominant frequencies of `theta_m` and `eta_m` are fold(k a) and fold(k b).
    pub frequencies_consistent: bool,
    /// Mean of the three cosine similarities to the closed-form neuron (k, phat, chihat).
    pub similarity: f64,
    /// IPR of `theta_m`, `eta_m`, `xi_m` ([`crate::science::fourier::ipr`]).
    pub ipr: [f64; 3],
}

/// Magnitude and phase of a spectrum at the signed frequency q (0 <= q < p): the component at
/// q for q <= K, the component at p - q with the phase negated for q > K, None for q = 0.
pub fn signed_component(s: &Spectrum, q: usize) -> Option<(f64, f64)> {
    let p = s.p();
    let q = q % p;
    if q == 0 {
        None
    } else if q <= s.k_max() {
        let c = s.at(q);
        Some((c.magnitude, c.phase))
    } else {
        let c = s.at(p - q);
        Some((c.magnitude, -c.phase))
    }
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Compares every neuron of `net` (tied or untied; tied reads `W_in` for both operands) with
/// the closed form for `task` (see the module docs).
pub fn closed_form_match<T: Real>(net: &Network<T>, task: Task) -> Vec<NeuronMatch> {
    let p = net.p;
    let (a, b) = coefficients(task, p);
    let table = SpectrumTable::new(p);
    let half = (p as f64 / 2.0).sqrt();
    let wy = net.w_in_second();
    (0..net.width())
        .map(|m| {
            let th: Vec<f64> = (0..p).map(|j| net.w_in[(m, j)].f64()).collect();
            let et: Vec<f64> = (0..p).map(|j| wy[(m, j)].f64()).collect();
            let xi: Vec<f64> = (0..p).map(|j| net.w_out[(j, m)].f64()).collect();
            let (st, se, sx) = (
                table.spectrum(&th),
                table.spectrum(&et),
                table.spectrum(&xi),
            );
            let k = dominant_frequency(&sx).unwrap_or(1);
            let out = sx.at(k);
            let ct = signed_component(&st, k * a % p);
            let ce = signed_component(&se, k * b % p);
            let cos_sim = |mag: f64, v: &[f64]| {
                let n = norm(v);
                if n > 0.0 {
                    mag * half / n
                } else {
                    0.0
                }
            };
            let (phase_residual, sim_out) = match (ct, ce) {
                (Some((_, ph)), Some((_, ch))) => {
                    let d = wrap(ph + ch - out.phase);
                    (Some(d), cos_sim(out.magnitude * d.cos(), &xi))
                }
                _ => (None, 0.0),
            };
            let sim_t = ct.map_or(0.0, |(mag, _)| cos_sim(mag, &th));
            let sim_e = ce.map_or(0.0, |(mag, _)| cos_sim(mag, &et));
            let fold = |q: usize| {
                let q = q % p;
                if q > (p - 1) / 2 {
                    p - q
                } else {
                    q
                }
            };
            let consistent = dominant_frequency(&st) == Some(fold(k * a))
                && dominant_frequency(&se) == Some(fold(k * b));
            NeuronMatch {
                m,
                k,
                phase_residual,
                frequencies_consistent: consistent,
                similarity: (sim_t + sim_e + sim_out) / 3.0,
                ipr: [ipr(&st), ipr(&se), ipr(&sx)],
            }
        })
        .collect()
}

/// Network-level summary of [`closed_form_match`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatchSummary {
    /// Fraction of neurons with a defined `|Delta| <= tolerance`.
    pub phase_fraction: f64,
    /// Mean of `cos Delta` over neurons with a defined Delta (1 = the closed-form relation).
    pub mean_cos_residual: f64,
    /// Fraction of neurons whose input frequencies are fold(k a), fold(k b).
    pub frequency_fraction: f64,
    /// Mean similarity over neurons.
    pub mean_similarity: f64,
    /// Mean IPR of the rows of `W_in`, `W_in_y` and the columns of `W_out`.
    pub mean_ipr: [f64; 3],
}

/// Summarises neuron matches with a phase tolerance (radians) for `phase_fraction`.
pub fn summarize_match(matches: &[NeuronMatch], tolerance: f64) -> MatchSummary {
    let n = matches.len().max(1) as f64;
    let defined: Vec<f64> = matches.iter().filter_map(|m| m.phase_residual).collect();
    let nd = defined.len().max(1) as f64;
    let mut mean_ipr = [0.0; 3];
    for m in matches {
        for (s, v) in mean_ipr.iter_mut().zip(m.ipr) {
            *s += v / n;
        }
    }
    MatchSummary {
        phase_fraction: defined.iter().filter(|d| d.abs() <= tolerance).count() as f64 / n,
        mean_cos_residual: defined.iter().map(|d| d.cos()).sum::<f64>() / nd,
        frequency_fraction: matches.iter().filter(|m| m.frequencies_consistent).count() as f64 / n,
        mean_similarity: matches.iter().map(|m| m.similarity).sum::<f64>() / n,
        mean_ipr,
    }
}
