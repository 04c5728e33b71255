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
//! - Grokking at p = 23, M = 64, init scale 0.3, train fraction 0.5, MSE, no weight decay:
//!   plain GD (lr 2): train accuracy 1 at epoch 151 (test 0.015), test >= 0.95 at epoch 3542
//!   (ratio 23); AdamW (lr 1e-3): 194 vs 1095 (ratio 5.6). Mean IPR 0.17 at init, 0.64..0.71 at
//!   the end; mean similarity to the closed form 0.16 at init, 0.80 (GD) and 0.64 (AdamW).
//!   Subtraction with GD: 135 vs 1531 (ratio 11.3), similarity 0.76.
//! - Full size (`#[ignore]`d, p = 97, M = 500, AdamW lr 1e-3): at train fraction 0.5 train
//!   accuracy 1 at epoch 92 (test 0.017), test >= 0.95 at 144 (ratio only 1.57), final IPR
//!   0.87, similarity 0.87; at fraction 0.3: 81 vs 374 (ratio 4.6), IPR 0.44, similarity 0.49.

mod common;

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
#[ignore = "p = 97 scan, about 10 s"]
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

/// Gromov's recipe scaled down: untied Quad, MSE, no weight decay, train fraction 0.5,
/// random init of scale 0.3 (entries 0.3 N(0,1)/sqrt(p)), f64, constant learning rate; train
/// fraction 0.5 unless the setting says otherwise.
fn gromov_config(p: usize, width: usize, s: Setting, task: Task) -> TrainConfig {
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
    c.seed = 1;
    c.checkpoint_every = 0;
    c.precision = Precision::F64;
    c.record.every = 0;
    c
}

struct Outcome {
    train_saturated: usize,
    test_at_saturation: f64,
    test_generalised: Option<usize>,
    final_test: f64,
    start: MatchSummary,
    end: MatchSummary,
}

/// Train accuracy "saturated": 1 (every training pair right).
const SATURATED: f64 = 1.0;
/// Test accuracy "generalised" (the grokking stage boundary of SPEC 7).
const GENERALISED: f64 = 0.95;
/// Phase tolerance for `phase_fraction`: pi/8.
const PHASE_TOL: f64 = PI / 8.0;

fn grok(p: usize, width: usize, s: Setting, task: Task) -> Outcome {
    let c = gromov_config(p, width, s, task);
    let split = c.split().unwrap();
    let mut t = Trainer::<f64, _>::cpu(&c, &split).unwrap();
    let start = summarize_match(&closed_form_match(&t.backend.network(), task), PHASE_TOL);
    let (mut sat, mut gen, mut test_at_sat, mut last) = (None, None, 0.0, None);
    while t.epoch < c.epochs {
        let r = t.next_epoch().unwrap();
        if sat.is_none() && r.train_acc >= SATURATED {
            sat = Some(r.epoch);
            test_at_sat = r.test_acc;
        }
        if gen.is_none() && r.test_acc >= GENERALISED {
            gen = Some(r.epoch);
        }
        if r.epoch % (c.epochs / 10).max(1) == 0 {
            println!(
                "{} epoch {}: train acc {:.3} test acc {:.3} train loss {:.4}",
                s.name, r.epoch, r.train_acc, r.test_acc, r.train_loss
            );
        }
        last = Some(r);
    }
    let end = summarize_match(&closed_form_match(&t.backend.network(), task), PHASE_TOL);
    let o = Outcome {
        train_saturated: sat.expect("train accuracy saturates"),
        test_at_saturation: test_at_sat,
        test_generalised: gen,
        final_test: last.unwrap().test_acc,
        start,
        end,
    };
    println!(
        "{} p {p} M {width} {task:?}: train acc 1 at epoch {} (test {:.3}); test >= 0.95 at {:?} \
         (final {:.3}); start {:?}; end {:?}",
        s.name,
        o.train_saturated,
        o.test_at_saturation,
        o.test_generalised,
        o.final_test,
        o.start,
        o.end
    );
    o
}

/// Test accuracy must cross 0.95 at least this many times later than train accuracy reaches 1.
const DELAY_RATIO: f64 = 3.0;
/// Test accuracy when train accuracy saturates is at most this (chance is 1/p = 0.043).
const MEMORISED_TEST: f64 = 0.2;
/// The end-of-run mean IPR (each layer) and mean similarity must reach this many times their
/// values at initialisation (IPR 0.17 = random weights, similarity 0.16).
const GROWTH: f64 = 3.0;

fn check(o: &Outcome, min_cos: f64) {
    check_with_ratio(o, min_cos, DELAY_RATIO)
}

fn check_with_ratio(o: &Outcome, min_cos: f64, delay_ratio: f64) {
    let gen = o.test_generalised.expect("test accuracy reaches 0.95") as f64;
    let ratio = gen / o.train_saturated as f64;
    assert!(
        ratio >= delay_ratio,
        "delay ratio {ratio} (train {}, test {gen})",
        o.train_saturated
    );
    assert!(o.test_at_saturation <= MEMORISED_TEST);
    assert!(o.final_test >= GENERALISED);
    for l in 0..3 {
        assert!(
            o.end.mean_ipr[l] >= GROWTH * o.start.mean_ipr[l],
            "IPR layer {l}: {} vs {}",
            o.end.mean_ipr[l],
            o.start.mean_ipr[l]
        );
    }
    assert!(o.end.mean_similarity >= GROWTH * o.start.mean_similarity);
    assert!(o.end.mean_cos_residual >= min_cos, "{:?}", o.end);
}

/// Plain gradient descent (SGD, no momentum, no weight decay): delayed generalisation, periodic
/// weights, the closed-form phase relation psi = phi + chi (mean cos Delta 0.91, measured).
#[test]
fn gradient_descent_groks_without_regularisation() {
    let s = Setting {
        name: "GD",
        optimizer: OptimizerConfig::Sgd { weight_decay: 0.0 },
        lr: 2.0,
        epochs: 6000,
        frac: 0.5,
    };
    let o = grok(23, 64, s, Task::Add);
    check(&o, 0.8);
}

/// AdamW without weight decay: the same, faster and with a shorter delay (ratio 5.6); its
/// neurons are less clean after 3000 epochs (mean cos Delta 0.61).
#[test]
fn adamw_groks_without_regularisation() {
    let s = Setting {
        name: "AdamW",
        optimizer: OptimizerConfig::adamw(0.0),
        lr: 1e-3,
        epochs: 3000,
        frac: 0.5,
    };
    let o = grok(23, 64, s, Task::Add);
    check(&o, 0.5);
}

/// The subtraction task with GD groks the same way (the closed form reads eta at -k).
#[test]
fn gradient_descent_groks_subtraction() {
    let s = Setting {
        name: "GD sub",
        optimizer: OptimizerConfig::Sgd { weight_decay: 0.0 },
        lr: 2.0,
        epochs: 6000,
        frac: 0.5,
    };
    let o = grok(23, 64, s, Task::Sub);
    check(&o, 0.8);
}

/// Delay ratio that holds at full size with train fraction 0.5 (measured 1.57).
const FULL_SIZE_HALF_RATIO: f64 = 1.3;

/// Gromov's full size: p = 97, M = 500, train fraction 0.5, AdamW, MSE, no weight decay.
/// Measured: train accuracy 1 at epoch 92 with test accuracy 0.017, test >= 0.95 at epoch 144,
/// so generalisation still follows memorisation but the delay ratio is only 1.57, not the 3 of
/// the small test: with 4704 training pairs for 500 neurons the data pin down the periodic
/// solution within ~50 epochs of memorising them. At the end the weights are much closer to the
/// closed form than at p = 23 (mean IPR 0.87, similarity 0.87, mean cos Delta 0.90, 83 % of
/// neurons within pi/8). A smaller fraction (0.3, next test) restores a long delay.
#[test]
#[ignore = "full size (p = 97, M = 500): about 8 minutes on CPU"]
fn adamw_groks_full_size() {
    let s = Setting {
        name: "AdamW full",
        optimizer: OptimizerConfig::adamw(0.0),
        lr: 1e-3,
        epochs: 5000,
        frac: 0.5,
    };
    let o = grok(97, 500, s, Task::Add);
    check_with_ratio(&o, 0.8, FULL_SIZE_HALF_RATIO);
}

/// Gromov's full size with a smaller training fraction (0.3): a longer delay. Measured: train
/// accuracy 1 at epoch 81 (test 0.001), test >= 0.95 at 374 (ratio 4.6); at epoch 3000 mean IPR
/// 0.44, similarity 0.49, mean cos Delta 0.62 (less data, less clean neurons).
#[test]
#[ignore = "full size (p = 97, M = 500): about 4 minutes on CPU"]
fn adamw_groks_full_size_smaller_split() {
    let s = Setting {
        name: "AdamW full 0.3",
        optimizer: OptimizerConfig::adamw(0.0),
        lr: 1e-3,
        epochs: 3000,
        frac: 0.3,
    };
    let o = grok(97, 500, s, Task::Add);
    check(&o, 0.5);
}

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
