//! Claim (lottery ticket): within a neuron the frequencies race and the winner is fixed at
//! initialisation. Two predictors: the paper's smallest-initial-misalignment rule and racing the
//! decoupled ODEs from the initial state. Also: how the time to dominance scales with p and kappa.

use modadd::numerics::activation::Activation;
use modadd::numerics::init::Init;
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::science::dynamics::lottery::{
    dominant_frequencies, lottery_accuracy, predict_lottery, LotteryOptions,
};
use modadd::science::dynamics::simulate::gradient_descent;
use modadd::science::dynamics::TimeScale;

/// The better predictor (the ODE race) must name the trained winner of at least this fraction
/// of neurons (p = 23, M = 64, random init kappa = 0.1, mean CE, SGD lr 0.5 to train accuracy 1).
/// Measured 0.92 to 0.98 over seeds 3, 4, 5; chance is 1/11.
const ODE_RULE_MIN_ACCURACY: f64 = 0.85;
/// The ODE race must beat the smallest-misalignment rule by at least this margin (measured
/// margins 0.64 to 0.78).
const MIN_MARGIN_OVER_PAPER_RULE: f64 = 0.3;
/// Exponent of kappa in the dominance time: the decoupled flow is homogeneous (scaling every
/// magnitude by lambda scales time by 1/lambda), so it is -1 up to numerical error: the finishing
/// time is interpolated linearly in ln alpha between Dop853 steps (rtol 1e-8), which is not
/// scale-invariant; measured deviation ~1e-5, bound 1e-4.
const KAPPA_EXPONENT_ATOL: f64 = 1e-4;

#[test]
fn ode_race_predicts_the_trained_winners_and_beats_the_misalignment_rule() {
    let (p, width, kappa, lr) = (23, 64, 0.1, 0.5);
    let net0: Network<f64> =
        Network::init(p, width, Init::Random { scale: kappa }, Tying::Tied, 3).unwrap();
    let preds = predict_lottery(&net0, TimeScale::Mean, &LotteryOptions::default()).unwrap();
    let mut ts: Vec<f64> = preds.iter().filter_map(|q| q.ode_time).collect();
    ts.sort_by(|a, b| a.total_cmp(b));
    let t_med = ts[ts.len() / 2];
    // Train to twice the median predicted finishing time (mean-loss time = steps * lr).
    let steps = (2.0 * t_med / lr) as usize;
    let snaps = gradient_descent(&net0, Activation::Quad, Loss::CeMean, lr, steps, steps).unwrap();
    let (_, net) = snaps.last().unwrap();
    let split = modadd::numerics::task::Split::seeded(p, modadd::numerics::task::Task::Add, 1.0, 0)
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
    let winners = dominant_frequencies(net);
    let (by_d, by_ode) = lottery_accuracy(&preds, &winners).unwrap();
    let at_init = lottery_accuracy(&preds, &dominant_frequencies(&net0))
        .unwrap()
        .1;
    println!(
        "lottery (p = {p}, M = {width}, kappa = {kappa}, {steps} SGD steps lr {lr}, train accuracy {acc}): \
         smallest-|D| rule {by_d:.3}, ODE race {by_ode:.3} (initially dominant = ODE winner for {at_init:.3})"
    );
    assert!(acc > 0.99, "the network must have learned: {acc}");
    assert!(by_ode >= ODE_RULE_MIN_ACCURACY);
    assert!(by_ode - by_d >= MIN_MARGIN_OVER_PAPER_RULE);
    // The race is not decided by the initial magnitudes alone.
    assert!(by_ode > at_init);
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

/// The ODE race also names most winners when training uses AdamW (the reference's quad_random
/// preset), whose per-coordinate normalisation is not the gradient flow the ODE describes;
/// measured 0.81 (M = 64) and 0.76 (M = 512) against 0.20 and 0.19 for the smallest-|D| rule.
const ADAMW_ODE_RULE_MIN_ACCURACY: f64 = 0.7;

#[test]
fn ode_race_also_predicts_winners_under_adamw() {
    adamw_lottery(64);
}

#[test]
#[ignore = "reference width M = 512: about a minute on one core"]
fn ode_race_predicts_winners_of_the_reference_quad_random_run() {
    adamw_lottery(512);
}

fn adamw_lottery(width: usize) {
    use modadd::train::config::{Precision, TrainConfig};
    use modadd::train::trainer::Trainer;
    let mut cfg = TrainConfig::preset("quad_random", 23).unwrap();
    cfg.width = width;
    cfg.precision = Precision::F64;
    let split = cfg.split().unwrap();
    let net0: Network<f64> = cfg.initial_network().unwrap();
    let preds = predict_lottery(&net0, TimeScale::Mean, &LotteryOptions::default()).unwrap();
    let mut tr = Trainer::<f64, _>::cpu(&cfg, &split).unwrap();
    let mut last = None;
    for _ in 0..cfg.epochs {
        last = Some(tr.next_epoch().unwrap());
    }
    let net = modadd::backend::Backend::network(&tr.backend);
    let (by_d, by_ode) = lottery_accuracy(&preds, &dominant_frequencies(&net)).unwrap();
    println!(
        "lottery under AdamW (quad_random preset, p = 23, M = {width}, {} epochs, train accuracy {}): smallest-|D| rule {by_d:.3}, ODE race {by_ode:.3}",
        cfg.epochs,
        last.unwrap().train_acc
    );
    assert!(by_ode >= ADAMW_ODE_RULE_MIN_ACCURACY);
    assert!(by_ode - by_d >= MIN_MARGIN_OVER_PAPER_RULE);
}
