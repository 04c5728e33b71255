//! Claim 8 (Gromov): closed-form periodic weights solve (a x + b y) mod p exactly with an
//! untied Quad network, and an untied Quad network trained with MSE and no regularisation
//! groks (test accuracy rises long after train accuracy saturates) while its weights become
//! periodic and close to the closed form.
//!
//! Numbers measured (printed by the tests; `cargo test --test gromov -- --nocapture`):
//! - Closed form, accuracy on all p^2 pairs vs width N (seed 0, p = 23): 0.21 at N = 8, 0.51
//!   at 16, 0.77 at 32, 0.98 at 64. First width at 100 % over seeds 0..10: p = 11: 31..70;
//!   p = 23: 58..102; p = 47: 86..111; p = 97: 119..152 (`#[ignore]`d scan); the estimate
//!   `predicted_width` (123, 168, 209, 250) lies above every one: the width grows like ln p.
//!   Add, sub and linear:3,5 give identical accuracies at every width: for a, b units mod p the
//!   three closed forms are the same network with relabelled inputs.
//!
//! # Grokking: paper scale (Gromov's size: p = 97, M = 500), `#[ignore]`d paper-scale step
//! Untied Quad, MSE, AdamW lr 1e-3 without weight decay, init scale 0.3, constant learning
//! rate, f32, 1000 epochs (generalisation is complete by epoch ~400; the original runs of 5000
//! and 3000 epochs in f64 gave the same epochs for seed 1). Over seeds 1-8 and 42
//! (`MODADD_SEEDS=1-8,42 cargo test --test gromov -- --ignored --nocapture --test-threads 1`),
//! min / median / max:
//! - train fraction 0.5: train accuracy 1 at epoch 92 / 95 / 103 (test accuracy then
//!   0.017 / 0.021 / 0.053), test >= 0.95 at 143 / 145 / 149: a delay ratio of only
//!   1.45 / 1.54 / 1.59 (with 4704 training pairs for 500 neurons the data pin down the periodic
//!   solution within ~50 epochs of memorising them); final test accuracy 1 in every seed; growth
//!   of IPR and closed-form similarity 9.7 / 10.4 / 10.9 times the initial values; mean
//!   cos Delta 0.88 / 0.91 / 0.93; similarity 0.85 / 0.87 / 0.88;
//! - train fraction 0.3: 66 / 72 / 92 against 349 / 374 / 402 (ratio 3.9 / 5.3 / 5.7), test
//!   accuracy at saturation 0.0003 / 0.0012 / 0.0018, final 1 in every seed, growth
//!   5.9 / 6.3 / 6.7, mean cos Delta 0.67 / 0.74 / 0.78, similarity 0.51 / 0.54 / 0.55.
//!
//! # Grokking: small stand-ins (p = 23, M = 64, train fraction 0.5, f64), fast
//! At this size grokking to 0.95 is seed-dependent, so the stand-ins assert the delay to test
//! accuracy 0.5 and a final accuracy from their spread, not the paper's 0.95. Seeds 1-8 and 42:
//! - plain GD (lr 2, 6000 epochs): train accuracy 1 at 138 / 151 / 170 (test 0 / 0.008 /
//!   0.015); test >= 0.5 at 4.0 / 8.2 / 15.0 times that epoch; 0.95 reached by 7 of 9 seeds
//!   (8.0 / 23.5 / 34.7 times, where reached); final test accuracy 0.887 / 0.989 / 1; growth
//!   3.2 / 3.7 / 3.9; mean cos Delta 0.80 / 0.89 / 0.95; similarity 0.71 / 0.77 / 0.84;
//! - GD on subtraction: 135 / 143 / 178, 0.5 at 3.1 / 4.1 / 20.6 times that, 0.95 reached by
//!   all 9 (5.7 / 11.3 / 40.2 times) but seed 8 ends at 0.943; final 0.943 / 0.996 / 1; growth
//!   3.3 / 3.6 / 3.9; cos 0.80 / 0.84 / 0.93;
//! - AdamW (lr 1e-3, 3000 epochs): 169 / 176 / 209, 0.5 at 2.8 / 3.8 / 6.6 times that, 0.95
//!   reached by only 2 of 9 seeds; final 0.51 / 0.79 / 0.99; growth 2.7 / 3.0 / 3.7; cos
//!   0.53 / 0.61 / 0.69. The AdamW claim is carried by the paper-scale runs.
//!
//! Bounds: the rule of `common::seeds` (half the seed range beyond the extreme), except the
//! delay ratios, whose spreads are skewed (the rule falls below 1 for the stand-ins): there the
//! bound is 2, test accuracy 0.5 at least twice as late as train accuracy 1 (seed minima
//! 2.8-4.0), and the paper's 0.95 for the final accuracy where every seed reaches it.

mod common;

use common::seeds::{print_spreads, seeds};

use modadd::backend::Backend;
use modadd::numerics::activation::Activation;
use modadd::numerics::init::Init;
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::numerics::optim::{OptimizerConfig, Schedule};
use modadd::numerics::task::Task;
use modadd::science::gromov::*;
use modadd::train::config::{Precision, TrainConfig};
use modadd::train::trainer::Trainer;
use std::f64::consts::PI;

/// Sums of at most a few hundred O(1) terms in f64: agreement to 1e-12 absolute.
const SUM_TOL: f64 = 1e-12;

/// The tasks checked: add, sub and a linear task with a, b units mod p.
const TASKS: [Task; 3] = [Task::Add, Task::Sub, Task::Linear { a: 3, b: 5 }];

fn phase_grid_moments(p: usize, task: Task, k: usize, x: usize, y: usize) -> Vec<(f64, f64)> {
    let q = PHASE_GRID;
    let mut s1 = vec![0.0; p];
    let mut s2 = vec![0.0; p];
    for u in 0..q {
        for v in 0..q {
            let n = ClosedFormNeuron {
                k,
                phi: 2.0 * PI * u as f64 / q as f64 + 0.3,
                chi: 2.0 * PI * v as f64 / q as f64 - 1.1,
            };
            for (j, g) in neuron_output(p, task, n, x, y).into_iter().enumerate() {
                s1[j] += g;
                s2[j] += g * g;
            }
        }
    }
    let n = (q * q) as f64;
    s1.iter()
        .zip(&s2)
        .map(|(a, b)| (a / n, b / n - (a / n) * (a / n)))
        .collect()
}

/// The phase average of one neuron is (1/2) cos(2 pi k (c - j) / p) and its variance
/// 1 + cos(4 pi k (c - j) / p) / 16, for every task, pair, k and j (the derivation's two
/// formulas), checked by exact averaging over a shifted phase grid.
#[test]
fn phase_average_keeps_only_the_c_minus_j_term() {
    for p in [7usize, 11, 15] {
        for task in TASKS {
            let (a, b) = coefficients(task, p);
            for (x, y) in [(0, 0), (2, 5), (6, 1)] {
                let c = (a * x + b * y) % p;
                for k in 1..=(p - 1) / 2 {
                    let mom = phase_grid_moments(p, task, k, x, y);
                    for (j, (mean, var)) in mom.into_iter().enumerate() {
                        let d = c as i64 - j as i64;
                        assert!(
                            (mean - phase_mean(p, k, d)).abs() < SUM_TOL,
                            "p {p} {task:?} ({x},{y}) k {k} j {j}: mean {mean}"
                        );
                        assert!(
                            (var - phase_variance(p, k, d)).abs() < SUM_TOL,
                            "p {p} {task:?} ({x},{y}) k {k} j {j}: variance {var}"
                        );
                    }
                }
            }
        }
    }
}

/// Averaged over k = 1..K as well: 1/2 at j = c and -1/(2(p-1)) elsewhere, for prime and
/// composite odd p; and the margin statistics do not depend on the pair, only on d = c - j.
#[test]
fn frequency_average_and_margin_statistics() {
    for p in [7usize, 9, 15, 23] {
        let k_max = (p - 1) / 2;
        for d in 0..p as i64 {
            let avg = (1..=k_max).map(|k| phase_mean(p, k, d)).sum::<f64>() / k_max as f64;
            assert!(
                (avg - mean_logit(p, d)).abs() < SUM_TOL,
                "p {p} d {d}: {avg}"
            );
        }
        // Margin mean p / (2 (p - 1)); the statistics at (x, y) = (3, 5) equal those at (0, 0).
        let task = Task::Linear { a: 2, b: 1 };
        let (a, b) = coefficients(task, p);
        let (x, y) = (3 % p, 5 % p);
        let c = (a * x + b * y) % p;
        for d in 1..p as i64 {
            let (mu, var) = margin_statistics(p, task, d);
            assert!((mu - p as f64 / (2.0 * (p as f64 - 1.0))).abs() < SUM_TOL);
            let j = (c as i64 - d).rem_euclid(p as i64) as usize;
            let (mut s1, mut s2, mut n) = (0.0, 0.0, 0.0);
            for k in 1..=k_max {
                for u in 0..PHASE_GRID {
                    for v in 0..PHASE_GRID {
                        let nn = ClosedFormNeuron {
                            k,
                            phi: 2.0 * PI * u as f64 / PHASE_GRID as f64,
                            chi: 2.0 * PI * v as f64 / PHASE_GRID as f64,
                        };
                        let g = neuron_output(p, task, nn, x, y);
                        s1 += g[c] - g[j];
                        s2 += (g[c] - g[j]).powi(2);
                        n += 1.0;
                    }
                }
            }
            assert!((s1 / n - mu).abs() < SUM_TOL);
            assert!((s2 / n - (s1 / n).powi(2) - var).abs() < SUM_TOL);
        }
    }
}

/// The constructor follows its formula: the network's logits equal the sum of
/// `neuron_output`, the read-back phases satisfy psi = phi + chi (Delta = 0, similarity 1,
/// IPR 1 on every layer), and width-n networks are prefixes of wider ones.
#[test]
fn closed_form_constructor_matches_its_formula() {
    let p = 13;
    for task in [Task::Add, Task::Sub, Task::Linear { a: 4, b: 7 }] {
        let neurons = closed_form_neurons(p, 20, 3).unwrap();
        let net: Network<f64> = closed_form_from(p, task, &neurons).unwrap();
        assert_eq!(net.tying(), Tying::Untied);
        for (x, y) in [(0, 0), (4, 9), (12, 1)] {
            let z = net.logits(Activation::Quad, x, y);
            let mut want = vec![0.0; p];
            for n in &neurons {
                for (w, g) in want.iter_mut().zip(neuron_output(p, task, *n, x, y)) {
                    *w += g;
                }
            }
            common::assert_close("logits", &z, &want, 1.0, SUM_TOL);
        }
        let matches = closed_form_match(&net, task);
        for (mm, n) in matches.iter().zip(&neurons) {
            assert_eq!(mm.k, n.k);
            assert!(mm.phase_residual.unwrap().abs() < 1e-9, "{mm:?}");
            assert!(mm.frequencies_consistent);
            assert!((mm.similarity - 1.0).abs() < 1e-9, "{mm:?}");
            for v in mm.ipr {
                assert!((v - 1.0).abs() < 1e-9);
            }
        }
        let narrow: Network<f64> = closed_form(p, 7, task, 3).unwrap();
        assert_eq!(narrow.w_in, net.w_in.rows(0, 7).into_owned());
        assert_eq!(narrow.w_out, net.w_out.columns(0, 7).into_owned());
    }
    // The similarity factorises as claimed: a neuron with a wrong output phase (Delta = pi/3)
    // has output similarity cos(pi/3) and overall (1 + 1 + 1/2) / 3.
    let mut net: Network<f64> = closed_form(p, 1, Task::Add, 9).unwrap();
    let n = closed_form_neurons(p, 1, 9).unwrap()[0];
    for j in 0..p {
        let ang = 2.0 * PI * (n.k * j % p) as f64 / p as f64 + n.phi + n.chi - PI / 3.0;
        net.w_out[(j, 0)] = ang.cos();
    }
    let mm = closed_form_match(&net, Task::Add)[0];
    assert!((mm.phase_residual.unwrap() - PI / 3.0).abs() < 1e-9);
    assert!(
        (mm.similarity - 2.5 / 3.0).abs() < 1e-9,
        "{}",
        mm.similarity
    );
}

/// The incremental width scan agrees with evaluating the constructed networks.
#[test]
fn accuracy_by_width_agrees_with_the_networks() {
    let (p, task) = (11, Task::Sub);
    let acc = accuracy_by_width(p, task, 40, 5).unwrap();
    for n in [1usize, 6, 17, 40] {
        let net: Network<f64> = closed_form(p, n, task, 5).unwrap();
        assert_eq!(
            acc[n - 1],
            accuracy(&net, Activation::Quad, task),
            "width {n}"
        );
    }
}

/// Seeds of the width scan.
const SEEDS: u64 = 5;

/// Accuracy rises with width and reaches 100 % on every pair below the width estimate, at
/// every seed; the first width at 100 % is reported. At `predicted_width` (comfortably above
/// every measured first width) the closed form is 100 % accurate on every pair for add, sub,
/// a linear task, at three primes, and at the composite p = 21 with a = 3, b = 7 (both sharing
/// a factor with p).
#[test]
fn closed_form_reaches_full_accuracy_above_a_log_p_width() {
    for p in [11usize, 23, 47] {
        let pred = predicted_width(p, Task::Add);
        let mut firsts = Vec::new();
        let mut mean_acc = [0.0; 4];
        for seed in 0..SEEDS {
            let acc = accuracy_by_width(p, Task::Add, pred, seed).unwrap();
            for (s, n) in mean_acc.iter_mut().zip([8, 16, 32, 64]) {
                *s += acc[n - 1] / SEEDS as f64;
            }
            let first = acc.iter().position(|&a| a == 1.0).map(|i| i + 1);
            firsts.push(first.expect("100 % below the predicted width"));
            assert_eq!(acc[pred - 1], 1.0, "p {p} seed {seed} at width {pred}");
        }
        println!(
            "p {p}: mean accuracy at N = 8, 16, 32, 64: {mean_acc:.3?}; first N at 100 %: \
             {firsts:?}; predicted {pred}"
        );
        assert!(mean_acc.windows(2).all(|w| w[0] < w[1]) && mean_acc[0] < 0.7);
    }
    let cases: Vec<(usize, Task)> = [23usize, 31, 47]
        .iter()
        .flat_map(|&p| TASKS.map(|t| (p, t)))
        .chain([(21, Task::Linear { a: 3, b: 7 })])
        .collect();
    for (p, task) in cases {
        let n = predicted_width(p, task);
        for seed in 0..3 {
            let net: Network<f64> = closed_form(p, n, task, seed).unwrap();
            let acc = accuracy(&net, Activation::Quad, task);
            assert_eq!(acc, 1.0, "p {p} {task:?} width {n} seed {seed}: {acc}");
        }
    }
}

/// The width scan at p = 97 (about 10 s).
#[test]
#[ignore = "paper scale: closed-form width scan at p = 97, ~10 s CPU"]
fn closed_form_width_at_p97() {
    let p = 97;
    let pred = predicted_width(p, Task::Add);
    let mut firsts = Vec::new();
    for seed in 0..10 {
        let acc = accuracy_by_width(p, Task::Add, pred, seed).unwrap();
        firsts.push(acc.iter().position(|&a| a == 1.0).map(|i| i + 1));
        assert_eq!(acc[pred - 1], 1.0);
    }
    println!("p 97: first N at 100 %: {firsts:?}; predicted {pred}");
}

/// Learning rate / optimiser of one grokking run.
#[derive(Clone, Copy, Debug)]
struct Setting {
    name: &'static str,
    optimizer: OptimizerConfig,
    lr: f64,
    epochs: usize,
    /// Training fraction.
    frac: f64,
}

/// Gromov's recipe: untied Quad, MSE, no weight decay, random init of scale 0.3 (entries
/// 0.3 N(0,1)/sqrt(p)), constant learning rate, the setting's training fraction (precision set
/// by [`grok`]).
fn gromov_config(p: usize, width: usize, s: Setting, task: Task, seed: u64) -> TrainConfig {
    let mut c = TrainConfig::preset("quad_random", p).unwrap();
    c.width = width;
    c.tying = Tying::Untied;
    c.task = task;
    c.activation = Activation::Quad;
    c.init = Init::Random { scale: 0.3 };
    c.optimizer = s.optimizer;
    c.lr = s.lr;
    c.schedule = Schedule::Constant;
    c.loss = Loss::Mse;
    c.train_frac = s.frac;
    c.epochs = s.epochs;
    c.seed = seed;
    c.checkpoint_every = 0;
    c.record.every = 0;
    c
}

struct Outcome {
    seed: u64,
    train_saturated: usize,
    test_at_saturation: f64,
    /// First epoch with test accuracy >= 0.5.
    test_half: Option<usize>,
    test_generalised: Option<usize>,
    final_test: f64,
    start: MatchSummary,
    end: MatchSummary,
}

impl Outcome {
    /// Epoch test accuracy reaches 0.95 over the epoch train accuracy reaches 1 (infinite if
    /// never).
    fn delay_ratio(&self) -> f64 {
        self.test_generalised
            .map_or(f64::INFINITY, |g| g as f64 / self.train_saturated as f64)
    }

    /// Epoch test accuracy reaches 0.5 over the epoch train accuracy reaches 1.
    fn half_delay_ratio(&self) -> f64 {
        self.test_half
            .map_or(f64::INFINITY, |g| g as f64 / self.train_saturated as f64)
    }

    /// The smallest growth factor of the mean IPR (each layer) and the mean similarity to the
    /// closed form from initialisation to the end.
    fn growth(&self) -> f64 {
        (0..3)
            .map(|l| self.end.mean_ipr[l] / self.start.mean_ipr[l])
            .fold(
                self.end.mean_similarity / self.start.mean_similarity,
                f64::min,
            )
    }
}

/// Train accuracy "saturated": 1 (every training pair right).
const SATURATED: f64 = 1.0;
/// Test accuracy "generalised" (the grokking stage boundary of SPEC 7).
const GENERALISED: f64 = 0.95;
/// Phase tolerance for `phase_fraction`: pi/8.
const PHASE_TOL: f64 = PI / 8.0;

fn grok<T: modadd::numerics::real::Real>(
    p: usize,
    width: usize,
    s: Setting,
    task: Task,
    seed: u64,
) -> Outcome {
    let mut c = gromov_config(p, width, s, task, seed);
    c.precision = if T::NAME == "f32" {
        Precision::F32
    } else {
        Precision::F64
    };
    let split = c.split().unwrap();
    let mut t = Trainer::<T, _>::cpu(&c, &split).unwrap();
    let start = summarize_match(
        &closed_form_match(&t.backend.network().cast::<f64>(), task),
        PHASE_TOL,
    );
    let (mut sat, mut half, mut gen, mut test_at_sat, mut last) = (None, None, None, 0.0, None);
    while t.epoch < c.epochs {
        let r = t.next_epoch().unwrap();
        if sat.is_none() && r.train_acc >= SATURATED {
            sat = Some(r.epoch);
            test_at_sat = r.test_acc;
        }
        if half.is_none() && r.test_acc >= 0.5 {
            half = Some(r.epoch);
        }
        if gen.is_none() && r.test_acc >= GENERALISED {
            gen = Some(r.epoch);
        }
        last = Some(r);
    }
    let end = summarize_match(
        &closed_form_match(&t.backend.network().cast::<f64>(), task),
        PHASE_TOL,
    );
    let o = Outcome {
        seed,
        train_saturated: sat.expect("train accuracy saturates"),
        test_at_saturation: test_at_sat,
        test_half: half,
        test_generalised: gen,
        final_test: last.unwrap().test_acc,
        start,
        end,
    };
    println!(
        "{} p {p} M {width} {task:?} seed {seed}: train acc 1 at epoch {} (test {:.3}); test >= \
         0.95 at {:?} (ratio {:.2}; 0.5 at {:?}, ratio {:.2}; final {:.3}); start {:?}; end {:?}",
        s.name,
        o.train_saturated,
        o.test_at_saturation,
        o.test_generalised,
        o.delay_ratio(),
        o.test_half,
        o.half_delay_ratio(),
        o.final_test,
        o.start,
        o.end
    );
    o
}

/// Bounds of one grokking setting, from its seed spread by the rule of `common::seeds`.
struct Expect {
    /// Test accuracy crosses 0.95 at least this many times later than train accuracy reaches 1
    /// (`None`: 0.95 is not reached in every seed, so the delay is asserted on 0.5 only).
    min_delay_ratio: Option<f64>,
    /// Test accuracy crosses 0.5 at least this many times later than train accuracy reaches 1.
    min_half_delay_ratio: f64,
    /// Test accuracy when train accuracy reaches 1 is at most this (chance is 1/p).
    max_memorised_test: f64,
    /// Test accuracy at the end is at least this.
    min_final_test: f64,
    /// The end-of-run mean IPR (each layer) and mean similarity to the closed form reach at
    /// least this many times their values at initialisation.
    min_growth: f64,
    /// Mean cos Delta of the closed-form phase relation psi = phi + chi at the end.
    min_cos: f64,
}

/// Runs the setting over the study seeds (default: seed 1), prints the spreads, checks each.
///
/// (Over 80 lines: nine spreads printed as one table, then one assert per bound; rustfmt gives
/// each table entry several lines.)
fn study<T: modadd::numerics::real::Real>(
    p: usize,
    width: usize,
    s: Setting,
    task: Task,
    e: &Expect,
) {
    let runs: Vec<Outcome> = seeds(&[1])
        .into_iter()
        .map(|seed| grok::<T>(p, width, s, task, seed))
        .collect();
    let what = format!("{} p {p} M {width} {task:?}", s.name);
    print_spreads(
        &what,
        &[
            (
                "train acc 1 at",
                runs.iter().map(|o| o.train_saturated as f64).collect(),
            ),
            (
                "test >= 0.95 at",
                runs.iter()
                    .map(|o| o.test_generalised.map_or(f64::INFINITY, |g| g as f64))
                    .collect(),
            ),
            (
                "delay ratio",
                runs.iter().map(Outcome::delay_ratio).collect(),
            ),
            (
                "half delay ratio",
                runs.iter().map(Outcome::half_delay_ratio).collect(),
            ),
            (
                "test at saturation",
                runs.iter().map(|o| o.test_at_saturation).collect(),
            ),
            ("final test", runs.iter().map(|o| o.final_test).collect()),
            ("growth", runs.iter().map(Outcome::growth).collect()),
            (
                "end mean cos",
                runs.iter().map(|o| o.end.mean_cos_residual).collect(),
            ),
            (
                "end similarity",
                runs.iter().map(|o| o.end.mean_similarity).collect(),
            ),
        ],
    );
    for o in &runs {
        let seed = o.seed;
        if let Some(min) = e.min_delay_ratio {
            assert!(
                o.delay_ratio() >= min && o.delay_ratio().is_finite(),
                "{what} seed {seed}: delay ratio {}",
                o.delay_ratio()
            );
        }
        assert!(
            o.half_delay_ratio() >= e.min_half_delay_ratio && o.half_delay_ratio().is_finite(),
            "{what} seed {seed}: delay ratio to test accuracy 0.5 {}",
            o.half_delay_ratio()
        );
        assert!(
            o.test_at_saturation <= e.max_memorised_test,
            "{what} seed {seed}: test {} at saturation",
            o.test_at_saturation
        );
        assert!(
            o.final_test >= e.min_final_test,
            "{what} seed {seed}: final test {}",
            o.final_test
        );
        assert!(
            o.growth() >= e.min_growth,
            "{what} seed {seed}: growth {}",
            o.growth()
        );
        assert!(
            o.end.mean_cos_residual >= e.min_cos,
            "{what} seed {seed}: {:?}",
            o.end
        );
    }
}

const GD: Setting = Setting {
    name: "GD",
    optimizer: OptimizerConfig::Sgd { weight_decay: 0.0 },
    lr: 2.0,
    epochs: 6000,
    frac: 0.5,
};

/// Small stand-in (p = 23, M = 64, f64): plain gradient descent (SGD, no momentum, no weight
/// decay, lr 2, 6000 epochs), fast: delayed generalisation, periodic weights, the closed-form
/// phase relation psi = phi + chi.
#[test]
fn small_stand_in_gradient_descent_groks_without_regularisation() {
    study::<f64>(23, 64, GD, Task::Add, &GD_ADD);
}

/// Small stand-in (p = 23, M = 64, f64): AdamW without weight decay, lr 1e-3, 3000 epochs:
/// memorisation, then a delayed but (at this size) only partial generalisation; its neurons are
/// less clean than GD's.
#[test]
fn small_stand_in_adamw_groks_without_regularisation() {
    let s = Setting {
        name: "AdamW",
        optimizer: OptimizerConfig::adamw(0.0),
        lr: 1e-3,
        epochs: 3000,
        frac: 0.5,
    };
    study::<f64>(23, 64, s, Task::Add, &ADAMW_ADD);
}

/// Small stand-in: the subtraction task with GD groks the same way (the closed form reads eta
/// at -k).
#[test]
fn small_stand_in_gradient_descent_groks_subtraction() {
    study::<f64>(
        23,
        64,
        Setting {
            name: "GD sub",
            ..GD
        },
        Task::Sub,
        &GD_SUB,
    );
}

/// Test accuracy 0.5 at least twice as late as train accuracy 1 (module docs).
const STAND_IN_HALF_DELAY: f64 = 2.0;

/// GD on addition (spreads in the module docs; rule: 0.0226, 0.830, 2.86, 0.733).
const GD_ADD: Expect = Expect {
    min_delay_ratio: None,
    min_half_delay_ratio: STAND_IN_HALF_DELAY,
    max_memorised_test: 0.023,
    min_final_test: 0.83,
    min_growth: 2.85,
    min_cos: 0.73,
};
/// AdamW on addition (rule: 0.0434, 0.270, 2.23, 0.446).
const ADAMW_ADD: Expect = Expect {
    min_delay_ratio: None,
    min_half_delay_ratio: STAND_IN_HALF_DELAY,
    max_memorised_test: 0.044,
    min_final_test: 0.27,
    min_growth: 2.2,
    min_cos: 0.44,
};
/// GD on subtraction (rule: 0.0226, 0.915, 2.99, 0.743).
const GD_SUB: Expect = Expect {
    min_delay_ratio: None,
    min_half_delay_ratio: STAND_IN_HALF_DELAY,
    max_memorised_test: 0.023,
    min_final_test: 0.91,
    min_growth: 2.99,
    min_cos: 0.74,
};
/// Full size, fraction 0.5 (rule: delay 1.376, test at saturation 0.0717, growth 9.10, cos
/// 0.861; final: the paper's 0.95, every seed ends at 1; test accuracy 0.5 comes after
/// saturation since test accuracy is below 0.5 there).
const FULL_HALF: Expect = Expect {
    min_delay_ratio: Some(1.37),
    min_half_delay_ratio: 1.0,
    max_memorised_test: 0.072,
    min_final_test: GENERALISED,
    min_growth: 9.1,
    min_cos: 0.86,
};
/// Full size, fraction 0.3 (rule: delay 3.04, test at saturation 0.0026, growth 5.51, cos
/// 0.620).
const FULL_SMALLER: Expect = Expect {
    min_delay_ratio: Some(modadd::science::bounds::GROMOV_SMALLER_MIN_DELAY),
    min_half_delay_ratio: 1.0,
    max_memorised_test: 0.003,
    min_final_test: GENERALISED,
    min_growth: 5.5,
    min_cos: 0.62,
};

/// Paper scale: Gromov's full size, p = 97, M = 500, train fraction 0.5, AdamW lr 1e-3, MSE,
/// no weight decay, f32.
#[test]
#[ignore = "paper scale: Gromov p = 97, M = 500, fraction 0.5, 1000 epochs, ~30 s CPU"]
fn adamw_groks_full_size() {
    let s = Setting {
        name: "AdamW full",
        optimizer: OptimizerConfig::adamw(0.0),
        lr: 1e-3,
        epochs: FULL_EPOCHS,
        frac: 0.5,
    };
    study::<f32>(97, 500, s, Task::Add, &FULL_HALF);
}

/// Paper scale: Gromov's full size with a smaller training fraction (0.3): a longer delay.
#[test]
#[ignore = "paper scale: Gromov p = 97, M = 500, fraction 0.3, 1000 epochs, ~20 s CPU"]
fn adamw_groks_full_size_smaller_split() {
    let s = Setting {
        name: "AdamW full 0.3",
        optimizer: OptimizerConfig::adamw(0.0),
        lr: 1e-3,
        epochs: FULL_EPOCHS,
        frac: 0.3,
    };
    study::<f32>(97, 500, s, Task::Add, &FULL_SMALLER);
}

/// Epochs of the full-size runs.
const FULL_EPOCHS: usize = 1000;

/// Sanity of the measuring stick: random weights are far from the closed form.
#[test]
fn random_weights_are_not_closed_form() {
    let net: Network<f64> =
        Network::init(23, 64, Init::Random { scale: 0.3 }, Tying::Untied, 1).unwrap();
    let s = summarize_match(&closed_form_match(&net, Task::Add), PHASE_TOL);
    println!("random init: {s:?}");
    assert!(s.mean_similarity < 0.3 && s.mean_ipr.iter().all(|&v| v < 0.3));
}

/// Largest spurious ratio allowed for random phases: the random-phase terms leave relative
/// fluctuations of order 1/sqrt(M) = 0.05 at M = 400; twice that.
const RANDOM_PHASE_RATIO: f64 = 0.1;

/// Where the spurious peaks go. With chi = phi and balanced phases phi_n = 2 pi n / N in every
/// frequency group (the untied twin of Proposition 1's diversified network), the `theta^2` and
/// `eta^2` terms keep a deterministic phase and put peaks of half height at 2 a x and 2 b y
/// (spurious ratio exactly 1/2, for sub as for add). With independent phases (the closed
/// form), those terms carry the random phase phi - chi and average out: the measured ratio is
/// small.
#[test]
fn spurious_peaks_need_equal_input_phases() {
    use modadd::science::mechanism::{all_logits, peak_shape_for};
    let (p, n_per) = (11usize, 6usize);
    for task in [Task::Add, Task::Sub, Task::Linear { a: 2, b: 3 }] {
        let neurons: Vec<ClosedFormNeuron> = (1..=(p - 1) / 2)
            .flat_map(|k| {
                (0..n_per).map(move |n| {
                    let phi = 0.7 * k as f64 + 2.0 * PI * n as f64 / n_per as f64;
                    ClosedFormNeuron { k, phi, chi: phi }
                })
            })
            .collect();
        let net: Network<f64> = closed_form_from(p, task, &neurons).unwrap();
        let shape = peak_shape_for(&all_logits(&net, Activation::Quad), p, task);
        assert!(shape.pairs > 0);
        assert_eq!(shape.three_peaks, shape.pairs, "{task:?}");
        assert!((shape.spurious_ratio - 0.5).abs() < 1e-9, "{shape:?}");

        let random: Network<f64> = closed_form(p, 400, task, 2).unwrap();
        let shape = peak_shape_for(&all_logits(&random, Activation::Quad), p, task);
        println!(
            "closed form {task:?}: spurious ratio {}",
            shape.spurious_ratio
        );
        assert_eq!(shape.correct_max, shape.pairs);
        assert!(shape.spurious_ratio.abs() < RANDOM_PHASE_RATIO, "{shape:?}");
    }
}
