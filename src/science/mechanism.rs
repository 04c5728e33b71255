//! The mechanism: Proposition 1's closed form for a diversified Quad network, its margin and
//! softmax bound, test-time activation swaps (Observation 4), and logit tables.
//!
//! # Proposition 1, derived
//! Take the diversified construction ([`crate::numerics::network::Network::diversified`]): for every
//! frequency k = 1..K = (p-1)/2 there are N neurons n = 0..N-1 with
//! `theta[j] = alpha cos(w_k j + phi)`, `xi[j] = beta cos(w_k j + 2 phi)`, `w_k = 2 pi k / p`,
//! `phi = phi_{k,n}`, and sigma(u) = u^2. Write `A = w_k x + phi`, `B = w_k y + phi`,
//! `C = w_k j + 2 phi`. Then `sigma(theta[x] + theta[y]) = alpha^2 (cos A + cos B)^2` and, with
//! `cos^2 A = (1 + cos 2A)/2` and `2 cos A cos B = cos(A - B) + cos(A + B)`,
//! ```text
//! (cos A + cos B)^2 cos C = cos C (1 + cos w_k(x-y))                       [harmonic 2 phi]
//!                         + 1/4 cos w_k(2x-j) + 1/4 cos w_k(2y-j) + 1/2 cos w_k(x+y-j)   [no phi]
//!                         + 1/4 cos(w_k(2x+j) + 4phi) + 1/4 cos(w_k(2y+j) + 4phi)
//!                         + 1/2 cos(w_k(x+y+j) + 4phi)                      [harmonic 4 phi]
//! ```
//! Summing over the group, `sum_n cos(t + l phi_{k,n}) = Re(e^{i t} S_{l,k})` with the phase sums
//! `S_{l,k} = sum_n e^{i l phi_{k,n}}` ([`phase_sum`]). This is exact for any phases and is what
//! [`quad_logits_any_phases`] evaluates. Under complete diversification, `S_{2,k} = S_{4,k} = 0`,
//! only the phase-free line survives, and with `sum_{k=1..K} cos(w_k d) = (p 1{d = 0 mod p} - 1)/2`
//! (valid for every odd p, prime or not):
//! ```text
//! f(x, y)[j] = (a N / 2) [ -1 + (p/2) 1{x + y = j} + (p/4) (1{2x = j} + 1{2y = j}) ]   (mod p)
//! a = alpha^2 beta
//! ```
//! ([`proposition1_logits`]; the bracket alone is [`proposition1_bracket`]).
//!
//! # Where the paper's printed formula differs
//! The paper prints the constant as `a = alpha beta^2`. The algebra above gives
//! **`a = alpha^2 beta`**: the input weight enters squared through sigma(u) = u^2, the output
//! weight once. The two agree only when alpha = beta (or alpha = 0, beta = 0); the test
//! `tests/proposition1.rs` builds networks with alpha != beta and finds the logits equal to the
//! closed form with alpha^2 beta to round-off while alpha beta^2 misses by the factor alpha/beta.
//!
//! # When the phase condition holds
//! With `phi_{k,n} = c_k + 2 pi n / N`, `S_{l,k} = e^{i l c_k} sum_n e^{2 pi i l n / N}`, which is
//! 0 exactly when N does not divide l, and `N e^{i l c_k}` when it does. So
//! `S_2 = S_4 = 0` holds for every N except **N = 1, 2, 4** ([`phase_condition_holds`]): N = 1
//! and N = 2 leave both harmonics, N = 4 leaves the 4 phi harmonic. For those N the logits are
//! Proposition 1 plus the harmonic terms above, which [`quad_logits_any_phases`] gives exactly.
//!
//! # Margin and softmax bound
//! For x != y the correct logit exceeds each spurious one (j = 2x, 2y) by
//! `(a N / 2)(p/2 - p/4) = a N p / 8` ([`margin`]) and every other logit by `a N p / 4`; for
//! x = y the three coincide at `(a N / 2)(p - 1)`, a margin of `a N p / 2`. Hence
//! `softmax(f)[x + y] = 1 / (1 + sum_{j != x+y} e^{f_j - f_{x+y}}) >= 1 / (1 + (p-1) e^{-aNp/8})
//! >= 1 - (p - 1) e^{-a N p / 8}` ([`softmax_lower_bound`]).
//!
//! Worked example, p = 23, (x, y) = (3, 7): the bracket is 10.5 at j = 10, 4.75 at j = 6 and
//! j = 14, and -1 elsewhere.

use crate::numerics::activation::Activation;
use crate::numerics::batch::Batch;
use crate::numerics::grad::{evaluate, logits_table, Workspace};
use crate::numerics::loss::{argmax, Loss};
use crate::numerics::network::Network;
use crate::numerics::real::Real;
use crate::numerics::task::{all_pairs, Pair, Task};
use std::f64::consts::PI;

/// `1{a = b mod p}` for residues already reduced or not.
fn same(a: usize, b: usize, p: usize) -> bool {
    a % p == b % p
}

/// The bracket of Proposition 1, for j = 0..p-1:
/// `-1 + (p/2) 1{x + y = j} + (p/4) (1{2x = j} + 1{2y = j})`, all mod p.
pub fn proposition1_bracket(p: usize, x: usize, y: usize) -> Vec<f64> {
    let pf = p as f64;
    (0..p)
        .map(|j| {
            let mut v = -1.0;
            if same(x + y, j, p) {
                v += pf / 2.0;
            }
            if same(2 * x, j, p) {
                v += pf / 4.0;
            }
            if same(2 * y, j, p) {
                v += pf / 4.0;
            }
            v
        })
        .collect()
}

/// Proposition 1's constant as derived here: `a = alpha^2 beta` (see the module docs).
pub fn proposition1_constant(alpha: f64, beta: f64) -> f64 {
    alpha * alpha * beta
}

/// The constant as the paper prints it, `alpha beta^2`; kept only so tests can show it is wrong
/// when alpha != beta (see "Where the paper's printed formula differs").
pub fn paper_printed_constant(alpha: f64, beta: f64) -> f64 {
    alpha * beta * beta
}

/// Proposition 1's logits `f(x, y)[j] = (a N / 2) * bracket[j]` with `a = alpha^2 beta`
/// ([`proposition1_bracket`], [`proposition1_constant`]), N neurons per frequency.
pub fn proposition1_logits(
    p: usize,
    n_per_freq: usize,
    alpha: f64,
    beta: f64,
    x: usize,
    y: usize,
) -> Vec<f64> {
    let scale = proposition1_constant(alpha, beta) * n_per_freq as f64 / 2.0;
    proposition1_bracket(p, x, y)
        .into_iter()
        .map(|b| scale * b)
        .collect()
}

/// The phase sum `S_l = sum_i e^{i l phi_i}` as (real, imaginary).
pub fn phase_sum(phases: &[f64], l: u32) -> (f64, f64) {
    phases.iter().fold((0.0, 0.0), |(re, im), &phi| {
        let (s, c) = (l as f64 * phi).sin_cos();
        (re + c, im + s)
    })
}

/// True when `sum_n e^{i l (c + 2 pi n / N)} = 0` for both l = 2 and l = 4, i.e. when N divides
/// neither 2 nor 4: every N >= 1 except 1, 2 and 4.
pub fn phase_condition_holds(n_per_freq: usize) -> bool {
    n_per_freq >= 1 && 2 % n_per_freq != 0 && 4 % n_per_freq != 0
}

/// The phases of [`Network::diversified`]: `phases[k-1][n] = c_k + 2 pi n / N`.
pub fn diversified_phases(n_per_freq: usize, offsets: &[f64]) -> Vec<Vec<f64>> {
    offsets
        .iter()
        .map(|&c| {
            (0..n_per_freq)
                .map(|n| c + 2.0 * PI * n as f64 / n_per_freq as f64)
                .collect()
        })
        .collect()
}

/// Exact logits of a Quad network whose neurons at frequency k (k = 1..K, `phases[k-1]` the
/// list of their phases, any number per k) are `theta = alpha cos(w_k j + phi)`,
/// `xi = beta cos(w_k j + 2 phi)`: the expansion of the module docs,
/// ```text
/// f[j] = alpha^2 beta sum_k { Re(e^{i w_k j} S_2k) (1 + cos w_k(x-y))
///          + (N_k/4) [cos w_k(2x-j) + cos w_k(2y-j)] + (N_k/2) cos w_k(x+y-j)
///          + (1/4) Re(S_4k [e^{i w_k(2x+j)} + e^{i w_k(2y+j)}]) + (1/2) Re(S_4k e^{i w_k(x+y+j)}) }
/// ```
/// with `S_lk = sum_n e^{i l phi_{k,n}}` and `N_k` the number of phases at k. It reduces to
/// [`proposition1_logits`] when every `S_2k = S_4k = 0` and `N_k = N`.
pub fn quad_logits_any_phases(
    p: usize,
    alpha: f64,
    beta: f64,
    phases: &[Vec<f64>],
    x: usize,
    y: usize,
) -> Vec<f64> {
    // Angle of w_k * t for an integer t, reduced mod p first (exact in integers).
    let ang = |k: usize, t: usize| 2.0 * PI * ((k * t) % p) as f64 / p as f64;
    let re = |(sr, si): (f64, f64), a: f64| sr * a.cos() - si * a.sin();
    let a = alpha * alpha * beta;
    (0..p)
        .map(|j| {
            let mut f = 0.0;
            for (i, ph) in phases.iter().enumerate() {
                let k = i + 1;
                let nk = ph.len() as f64;
                let (s2, s4) = (phase_sum(ph, 2), phase_sum(ph, 4));
                let xm = (x + p - y % p) % p; // x - y mod p
                f += re(s2, ang(k, j)) * (1.0 + ang(k, xm).cos());
                let d = |t: usize| ang(k, (t % p + p - j) % p).cos(); // cos w_k (t - j)
                f += nk / 4.0 * (d(2 * x) + d(2 * y)) + nk / 2.0 * d(x + y);
                f += 0.25 * (re(s4, ang(k, 2 * x + j)) + re(s4, ang(k, 2 * y + j)));
                f += 0.5 * re(s4, ang(k, x + y + j));
            }
            a * f
        })
        .collect()
}

/// The correct-versus-spurious margin of Proposition 1: `a N p / 8` (x != y).
pub fn margin(p: usize, n_per_freq: usize, a: f64) -> f64 {
    a * n_per_freq as f64 * p as f64 / 8.0
}

/// Proposition 1's lower bound on the softmax probability of the correct answer:
/// `1 - (p - 1) e^{-a N p / 8}` (may be negative, and then says nothing).
pub fn softmax_lower_bound(p: usize, n_per_freq: usize, a: f64) -> f64 {
    1.0 - (p as f64 - 1.0) * (-margin(p, n_per_freq, a)).exp()
}

/// `softmax(z)[c] = 1 / sum_j e^{z_j - z_c}`, computed stably.
pub fn softmax_probability(z: &[f64], c: usize) -> f64 {
    let zc = z[c];
    1.0 / z.iter().map(|&v| (v - zc).exp()).sum::<f64>()
}

/// Accuracy and loss of a network evaluated under one activation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SwapOutcome {
    /// The activation used at test time.
    pub activation: Activation,
    /// Whether its even part `(sigma(u) + sigma(-u))/2` is non-zero (Observation 4 predicts
    /// high accuracy exactly then).
    pub even_part: bool,
    /// Fraction of pairs whose argmax is the label (ties to the smallest index).
    pub accuracy: f64,
    /// Mean cross-entropy (may be infinite or NaN when an activation overflows).
    pub loss: f64,
}

/// Evaluates `net` on `pairs` under every activation of [`Activation::ALL`] (Observation 4,
/// SPEC 7 claim 2): the weights stay, only sigma changes.
pub fn activation_swaps<T: Real>(net: &Network<T>, pairs: &[Pair]) -> Vec<SwapOutcome> {
    let batch = Batch::<T>::new(pairs, net.tying());
    let mut ws = Workspace::new();
    Activation::ALL
        .iter()
        .map(|&act| {
            let ev = evaluate(net, act, Loss::CeMean, &batch, &mut ws);
            SwapOutcome {
                activation: act,
                even_part: act.has_even_part(),
                accuracy: ev.accuracy,
                loss: ev.loss,
            }
        })
        .collect()
}

/// The logits of every pair (x, y) of Z_p x Z_p in x-major order, in f64:
/// `out[(x p + y) p + j] = f(x, y)[j]`.
pub fn all_logits<T: Real>(net: &Network<T>, act: Activation) -> Vec<f64> {
    let pairs = all_pairs(net.p, Task::Add);
    logits_table(net, act, &pairs)
        .into_iter()
        .map(|v| v.f64())
        .collect()
}

/// How closely a logit table shows Proposition 1's shape: the correct peak at x + y and two
/// spurious peaks at 2x and 2y (pairs with x != y only; for x = y the three coincide).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeakShape {
    /// Number of pairs with x != y examined.
    pub pairs: usize,
    /// Pairs whose argmax is x + y.
    pub correct_max: usize,
    /// Pairs whose three largest logits are exactly {x + y, 2x, 2y} with x + y first.
    pub three_peaks: usize,
    /// Mean over pairs of `(f[2x] + f[2y] - 2 m) / (2 (f[x+y] - m))`, m the mean of the other
    /// p - 3 logits: 1/2 for Proposition 1's closed form.
    pub spurious_ratio: f64,
}

/// Measures [`PeakShape`] on a table from [`all_logits`] (p^2 rows of p logits) for the
/// addition task (`peak_shape_for(logits, p, Task::Add)`).
pub fn peak_shape(logits: &[f64], p: usize) -> PeakShape {
    peak_shape_for(logits, p, Task::Add)
}

/// [`PeakShape`] for the task `c = (a x + b y) mod p` ((a, b) of
/// [`crate::science::gromov::coefficients`]): the correct peak at c and the spurious peaks at `2 a x`
/// and `2 b y` (where the `theta^2` and `eta^2` terms of a Quad neuron put them), over the pairs
/// whose three positions are distinct (for add: x != y).
pub fn peak_shape_for(logits: &[f64], p: usize, task: Task) -> PeakShape {
    let (a, b) = crate::science::gromov::coefficients(task, p);
    let (mut pairs, mut correct_max, mut three_peaks, mut ratio) = (0, 0, 0, 0.0);
    for x in 0..p {
        for y in 0..p {
            let (c, s1, s2) = (task.label(x, y, p), (2 * a * x) % p, (2 * b * y) % p);
            if c == s1 || c == s2 || s1 == s2 {
                continue;
            }
            let z = &logits[(x * p + y) * p..(x * p + y + 1) * p];
            pairs += 1;
            if argmax(z) == Some(c) {
                correct_max += 1;
            }
            let rest: Vec<f64> = (0..p)
                .filter(|&j| j != c && j != s1 && j != s2)
                .map(|j| z[j])
                .collect();
            let top_rest = rest.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            if z[c] > z[s1] && z[c] > z[s2] && z[s1].min(z[s2]) > top_rest {
                three_peaks += 1;
            }
            let m = rest.iter().sum::<f64>() / rest.len().max(1) as f64;
            ratio += (z[s1] + z[s2] - 2.0 * m) / (2.0 * (z[c] - m));
        }
    }
    PeakShape {
        pairs,
        correct_max,
        three_peaks,
        spurious_ratio: ratio / pairs.max(1) as f64,
    }
}
