//! Claim 6 (lottery ticket): within a neuron the frequencies race and the winner is fixed at
//! initialisation. Two predictors: the paper's smallest-initial-misalignment rule and racing the
//! decoupled ODEs from the initial state, each scored as the fraction of neurons whose trained
//! dominant input frequency it names (chance 1/K = 1/11 at p = 23). Also: how the time to
//! dominance scales with p and kappa.
//!
//! The claim holds for the ODE race and not for the paper's rule: the smallest initial
//! misalignment names the winner of only about a fifth of the neurons.
//!
//! # Paper scale
//! - The reference's lottery run (its checkpoints `p23_quad_random_sgd_epoch0/9800.pth`):
//!   p = 23, M = 512, Quad, random init 0.1, SGD lr 0.1 (mean loss, warm-up 10), full data,
//!   10 000 epochs, f32, seed 42. On the reference's own checkpoints `modadd lottery` gives
//!   0.932 (ODE race) and 0.205 (smallest misalignment).
//! - The `quad_random` preset (AdamW lr 5e-5, 5000 epochs, f32), whose per-coordinate
//!   normalisation is not the gradient flow the ODE describes.
//!
//! # Small stand-in (M = 64, f64, SGD lr 0.5 = 5x the reference's), fast
//!
//! # Seed spreads
//! `MODADD_SEEDS=1-8,42 cargo test --test lottery -- --include-ignored --nocapture
//! --test-threads 1` (each seed draws the initial weights); min / median / max, bounds by the
//! rule of `common::seeds`:
//! - reference lottery run: ODE race 0.893 / 0.906 / 0.940, misalignment rule
//!   0.186 / 0.201 / 0.217, margin 0.676 / 0.713 / 0.734 (the reference's own checkpoints:
//!   0.932 and 0.205, inside);
//! - quad_random preset: ODE race 0.740 / 0.762 / 0.789, misalignment rule
//!   0.168 / 0.190 / 0.207, margin 0.533 / 0.568 / 0.600;
//! - small stand-in: ODE race 0.891 / 0.938 / 0.969, misalignment rule 0.141 / 0.203 / 0.281,
//!   margin 0.641 / 0.734 / 0.781.

mod common;

use common::seeds::{print_spreads, seeds};

use modadd::numerics::activation::Activation;
use modadd::numerics::init::Init;
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::science::dynamics::lottery::{
    dominant_frequencies, lottery_accuracy, predict_lottery, LotteryOptions,
};
use modadd::science::dynamics::simulate::gradient_descent;
use modadd::science::dynamics::TimeScale;

/// Lowest accuracy of the ODE race and lowest margin over the misalignment rule, per setting
/// (`modadd::science::bounds`, shared with `modadd verify`; spreads in the module docs).
use modadd::science::bounds::LotteryBounds as Expect;

/// Small stand-in: p = 23, M = 64, random init kappa = 0.1, mean CE, f64 SGD lr 0.5 to twice
/// the median predicted finishing time.
const SMALL: Expect = modadd::science::bounds::LOTTERY_STAND_IN;
/// The reference's lottery run (module docs).
const REFERENCE_SGD: Expect = modadd::science::bounds::LOTTERY_REFERENCE;
/// The quad_random preset (AdamW).
const QUAD_RANDOM_ADAMW: Expect = modadd::science::bounds::LOTTERY_QUAD_RANDOM;

/// Scores both rules over the study seeds, prints the spreads, checks every seed.
fn study(what: &str, e: &Expect, run: impl Fn(u64) -> (f64, f64)) {
    let res: Vec<(u64, f64, f64)> = seeds(&[42])
        .into_iter()
        .map(|s| {
            let (by_d, by_ode) = run(s);
            println!("{what}, seed {s}: smallest-|D| rule {by_d:.4}, ODE race {by_ode:.4}");
            (s, by_d, by_ode)
        })
        .collect();
    print_spreads(
        what,
        &[
            ("ODE race", res.iter().map(|r| r.2).collect()),
            ("smallest |D|", res.iter().map(|r| r.1).collect()),
            ("margin", res.iter().map(|r| r.2 - r.1).collect()),
        ],
    );
    for (s, by_d, by_ode) in res {
        assert!(by_ode >= e.min_ode, "{what} seed {s}: ODE race {by_ode}");
        assert!(
            by_ode - by_d >= e.min_margin,
            "{what} seed {s}: margin {} over the misalignment rule",
            by_ode - by_d
        );
    }
}

/// Exponent of kappa in the dominance time: the decoupled flow is homogeneous (scaling every
/// magnitude by lambda scales time by 1/lambda), so it is -1 up to numerical error: the finishing
/// time is interpolated linearly in ln alpha between Dop853 steps (rtol 1e-8), which is not
/// scale-invariant; measured deviation ~1e-5, bound 1e-4.
const KAPPA_EXPONENT_ATOL: f64 = 1e-4;

/// Small stand-in (M = 64, f64, SGD lr 0.5), fast.
#[test]
fn small_stand_in_ode_race_predicts_the_trained_winners_and_beats_the_misalignment_rule() {
    study("small stand-in SGD p = 23, M = 64", &SMALL, |seed| {
        let (p, width, kappa, lr) = (23, 64, 0.1, 0.5);
        let net0: Network<f64> =
            Network::init(p, width, Init::Random { scale: kappa }, Tying::Tied, seed).unwrap();
        let preds = predict_lottery(&net0, TimeScale::Mean, &LotteryOptions::default()).unwrap();
        let mut ts: Vec<f64> = preds.iter().filter_map(|q| q.ode_time).collect();
        ts.sort_by(|a, b| a.total_cmp(b));
        let t_med = ts[ts.len() / 2];
        // Train to twice the median predicted finishing time (mean-loss time = steps * lr).
        let steps = (2.0 * t_med / lr) as usize;
        let snaps =
            gradient_descent(&net0, Activation::Quad, Loss::CeMean, lr, steps, steps).unwrap();
        let (_, net) = snaps.last().unwrap();
        let split =
            modadd::numerics::task::Split::seeded(p, modadd::numerics::task::Task::Add, 1.0, 0)
                .unwrap();
        let batch = modadd::numerics::batch::Batch::new(&split.train, Tying::Tied);
        let acc = modadd::numerics::grad::evaluate(
            net,
            Activation::Quad,
            Loss::CeMean,
            &batch,
            &mut modadd::numerics::grad::Workspace::new(),
        )
        .accuracy;
        assert!(acc > 0.99, "the network must have learned: {acc}");
        let winners = dominant_frequencies(net);
        let (by_d, by_ode) = lottery_accuracy(&preds, &winners).unwrap();
        // The race is not decided by the initial magnitudes alone.
        let at_init = lottery_accuracy(&preds, &dominant_frequencies(&net0))
            .unwrap()
            .1;
        assert!(
            by_ode > at_init,
            "seed {seed}: {by_ode} vs {at_init} at init"
        );
        (by_d, by_ode)
    });
}

#[test]
fn dominance_time_scales_as_one_over_kappa_and_slowly_in_p() {
    // Dominance time: the winner's finishing time in the ODE race (alpha reaches 100x the
    // neuron's largest initial magnitude), median over 128 neurons, summed-loss time.
    let opts = LotteryOptions::default();
    let median = |p: usize, kappa: f64| {
        let net: Network<f64> =
            Network::init(p, 128, Init::Random { scale: kappa }, Tying::Tied, 11).unwrap();
        let mut ts: Vec<f64> = predict_lottery(&net, TimeScale::Sum, &opts)
            .unwrap()
            .iter()
            .filter_map(|q| q.ode_time)
            .collect();
        ts.sort_by(|a, b| a.total_cmp(b));
        ts[ts.len() / 2]
    };
    let ps = [11usize, 23, 47, 97];
    let mut rows = vec![];
    for &p in &ps {
        let (t1, t2) = (median(p, 0.05), median(p, 0.2));
        let kappa_exp = (t2 / t1).ln() / 4f64.ln();
        let paper = (p as f64).ln() / (p as f64 * 0.05);
        println!("p = {p}: T(kappa=0.05) = {t1:.4}, T(0.2) = {t2:.4}, kappa exponent {kappa_exp:.6}, T / (ln p / (p kappa)) = {:.3}", t1 / paper);
        assert!((kappa_exp + 1.0).abs() < KAPPA_EXPONENT_ATOL);
        rows.push((p as f64, t1));
    }
    // Least-squares slope of ln T against ln p.
    let n = rows.len() as f64;
    let (sx, sy) = rows
        .iter()
        .fold((0.0, 0.0), |(a, b), (p, t)| (a + p.ln(), b + t.ln()));
    let (mx, my) = (sx / n, sy / n);
    let slope = rows
        .iter()
        .map(|(p, t)| (p.ln() - mx) * (t.ln() - my))
        .sum::<f64>()
        / rows.iter().map(|(p, _)| (p.ln() - mx).powi(2)).sum::<f64>();
    println!("fitted T ~ p^{slope:.3} at fixed kappa (reference init); ln p / p would give about p^-0.7 over this range");
    // Under the reference init (entries kappa N(0,1)/sqrt p) each frequency starts at magnitude
    // ~ 2 kappa / p, which cancels the 1/p of the rate: T depends on p only through the race
    // among K = (p-1)/2 competitors, far more weakly than ln p / p.
    assert!(slope > -0.4 && slope < 0.0, "{slope}");
}

/// Trains `cfg` (f32, as the presets run) from its initial weights and scores both rules
/// against the trained dominant frequencies.
fn preset_lottery(mut cfg: modadd::train::config::TrainConfig, seed: u64) -> (f64, f64) {
    use modadd::train::trainer::Trainer;
    cfg.seed = seed;
    let split = cfg.split().unwrap();
    let net0: Network<f64> = cfg.initial_network().unwrap();
    let preds = predict_lottery(&net0, TimeScale::Mean, &LotteryOptions::default()).unwrap();
    let mut tr = Trainer::<f32, _>::cpu(&cfg, &split).unwrap();
    let mut last = None;
    while !tr.finished() {
        last = Some(tr.next_epoch().unwrap());
    }
    let net = modadd::backend::Backend::network(&tr.backend).cast::<f64>();
    // The winners are settled long before the last pairs are fit: one seed of the study ends
    // the reference lottery run at 0.9962 (2 of 529 pairs wrong).
    let acc = last.unwrap().train_acc;
    assert!(
        acc >= 0.99,
        "seed {seed}: the network must have learned: {acc}"
    );
    lottery_accuracy(&preds, &dominant_frequencies(&net)).unwrap()
}

/// Paper scale: the reference's lottery run (p = 23, M = 512, Quad, random init 0.1, SGD
/// lr 0.1, 10 000 epochs, f32).
#[test]
#[ignore = "paper scale: reference lottery run p = 23, M = 512, SGD, 10 000 epochs, ~10 s CPU"]
fn ode_race_predicts_the_winners_of_the_reference_lottery_run() {
    use modadd::numerics::init::Init;
    use modadd::train::config::TrainConfig;
    let mut cfg = TrainConfig::preset("quad_single_freq", 23).unwrap();
    cfg.init = Init::Random { scale: 0.1 };
    assert_eq!((cfg.width, cfg.lr, cfg.epochs), (512, 0.1, 10_000));
    study(
        "reference lottery run (SGD) p = 23, M = 512",
        &REFERENCE_SGD,
        |s| preset_lottery(cfg.clone(), s),
    );
}

/// Paper scale: the quad_random preset (p = 23, M = 512, AdamW lr 5e-5, 5000 epochs, f32).
#[test]
#[ignore = "paper scale: quad_random preset p = 23, M = 512, 5000 epochs, ~5 s CPU"]
fn ode_race_predicts_the_winners_of_the_quad_random_preset() {
    use modadd::train::config::TrainConfig;
    let cfg = TrainConfig::preset("quad_random", 23).unwrap();
    study(
        "quad_random preset (AdamW) p = 23, M = 512",
        &QUAD_RANDOM_ADAMW,
        |s| preset_lottery(cfg.clone(), s),
    );
}
