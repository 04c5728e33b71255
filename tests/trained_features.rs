//! Claims on trained weights (SPEC 7, claims 1, 4 and 5; SPEC 6): after `quad_random` or
//! `standard` training on the full data, neurons are (nearly) single-frequency, their phases
//! align (D = 2 phi - psi -> 0), every frequency 1..K is used, and the logits show the correct
//! peak at x + y with two spurious peaks at 2x and 2y (Proposition 1's shape). Proposition 1's
//! phase condition (moments l = 2, 4 of each frequency group's phases = 0) does NOT hold in
//! trained networks at the presets' scale: the moments sit at 0.4-1.0 of the level of random
//! phases (the reference's own checkpoints agree: quad_random SGD epoch 9800 0.147 / 0.146,
//! ReLU AdamW final 0.100 / 0.061, against a random level 0.13), so the harmonic terms of
//! Proposition 1 are O(sqrt N) against O(N) rather than exactly zero. The tests assert the band.
//!
//! # Paper scale: the `quad_random` and `standard` presets at p = 23 (M = 512, AdamW lr 5e-5,
//! 5000 epochs, f32, seed 42), `#[ignore]`d paper-scale step
//!
//! # Small stand-ins (p = 13, M = 128, lr 1e-3 = 20x the preset's, f64), fast
//!
//! # Seed spreads
//! `MODADD_SEEDS=1-8,42 cargo test --test trained_features -- --include-ignored --nocapture
//! --test-threads 1` (9 initialisations), min / median / max; every band is the rule of
//! `common::seeds` (half the seed range beyond the extremes) rounded outwards. "random" is the
//! expected moment of n uniformly random phases, sqrt(pi / 4n), averaged over groups.
//!
//! | measure | quad_random p = 23 | standard p = 23 | quad_random p = 13 | standard p = 13 |
//! |---|---|---|---|---|
//! | IPR (init 0.17 / 0.28) | 0.764 / 0.770 / 0.779 | 0.638 / 0.647 / 0.652 | 0.816 / 0.822 / 0.834 | 0.762 / 0.779 / 0.790 |
//! | mean \|sin D\| (init 0.61-0.65) | 0.032 / 0.035 / 0.041 | 0.083 / 0.088 / 0.096 | 0.023 / 0.027 / 0.028 | 0.100 / 0.112 / 0.124 |
//! | moment l = 2 / random | 0.64 / 0.86 / 1.04 | 0.76 / 0.90 / 1.03 | 0.23 / 0.32 / 0.49 | 0.48 / 0.54 / 0.63 |
//! | moment l = 4 / random | 0.36 / 0.43 / 0.53 | 0.60 / 0.77 / 0.97 | 0.08 / 0.14 / 0.16 | 0.17 / 0.39 / 0.43 |
//! | three-peak fraction | 0.81 / 0.89 / 0.95 | 0.45 / 0.52 / 0.58 | 0.83 / 1 / 1 | 0.31 / 0.37 / 0.54 |
//! | spurious ratio | 0.2170 / 0.2176 / 0.2181 | 0.194 / 0.198 / 0.201 | 0.222 / 0.228 / 0.235 | 0.126 / 0.132 / 0.139 |
//! | k*-only spurious ratio | 0.4985 / 0.4987 / 0.4992 | | 0.4976 / 0.4988 / 0.4994 | |
//! | drop of the ratio with fold(3k*) kept | 0.232 / 0.233 / 0.234 | | 0.190 / 0.193 / 0.196 | |
//! | r = 3 harmonic over max(r = 2, 4), W_in | 4.74 / 5.16 / 5.34 | | 2.11 / 2.25 / 2.65 | |
//! | same, W_out | 3.83 / 4.32 / 4.60 | | 3.14 / 3.45 / 3.70 | |
//!
//! Accuracy 1, every frequency used and the correct peak the largest on every pair x != y
//! hold in every seed and are asserted exactly.
//!
//! # Why the spurious peaks sit at ~0.22, not Proposition 1's 1/2
//! Trained Quad networks carry a learned third harmonic: both layers have a component at
//! fold(3 k*) of about a quarter of the fundamental's magnitude, 4-5 times the r = 2, 4
//! components (the reference's own quad single-frequency checkpoint shows it too: W_in r = 3
//! 0.055 against 0.003). Keeping only each neuron's k* component
//! ([`modadd::science::fourier::harmonic_projection`] with multiples [1]) restores the ratio
//! 1/2 (0.499) and still solves the task; adding back fold(3 k*) lowers it by 0.19-0.23: the
//! harmonic suppresses the spurious peaks at 2x and 2y. The Quad tests assert all three facts.

mod common;

use common::seeds::{print_spreads, seeds};
use modadd::backend::Backend;
use modadd::numerics::activation::Activation;
use modadd::numerics::loss::argmax;
use modadd::numerics::network::Network;
use modadd::numerics::real::Real;
use modadd::science::analysis::{analyze, Summary};
use modadd::science::fourier::{
    harmonic_projection, neuron_features, FrequencyGroup, NetworkSpectra,
};
use modadd::science::mechanism::{all_logits, peak_shape};
use modadd::train::config::{Precision, TrainConfig};
use modadd::train::trainer::Trainer;

/// What a trained network must show. Each band comes from the seed spread quoted in the module
/// docs by the rule of `common::seeds` (half the seed range beyond the extremes), rounded
/// outwards; each is far from the value at initialisation.
struct Expect {
    min_ipr: f64,
    max_sin_d: f64,
    /// Bands for the group-weighted mean phase moments l = 2 and l = 4 as fractions of the
    /// random-phase level (Proposition 1's condition wants 0).
    moment_vs_random: [(f64, f64); 2],
    min_three_peaks: f64,
    spurious_ratio: (f64, f64),
    /// Quad networks: the third-harmonic facts of the module docs.
    third: Option<Third>,
}

/// The third-harmonic facts: keeping only each neuron's k* component gives Proposition 1's
/// spurious ratio 1/2 (within `k_star_ratio`) and still solves the task; adding fold(3 k*) back
/// lowers the ratio by at least `min_drop`; both layers' r = 3 harmonic exceeds r = 2 and r = 4
/// by the factor `min_dominance`.
struct Third {
    k_star_ratio: (f64, f64),
    min_drop: f64,
    min_dominance: f64,
}

/// Expected |mean of n random unit phasors| ~ sqrt(pi / (4 n)), averaged over groups weighted
/// by size.
fn random_moment_level(groups: &[FrequencyGroup]) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for g in groups.iter().filter(|g| !g.neurons.is_empty()) {
        let k = g.neurons.len();
        s += k as f64 * (std::f64::consts::PI / (4.0 * k as f64)).sqrt();
        n += k;
    }
    s / n as f64
}

/// One trained network's measures.
struct Measured {
    name: String,
    p: usize,
    init: Summary,
    s: Summary,
    /// Random-phase level of the moments for this network's groups.
    rnd: f64,
    /// Quad only: spurious ratio and accuracy of the k*-only projection, and the ratio with
    /// fold(3 k*) added back.
    third: Option<(f64, f64, f64)>,
}

impl Measured {
    fn g(&self, n: &str) -> f64 {
        self.s.get(n).unwrap()
    }
}

fn train<T: Real>(name: &str, cfg: &TrainConfig) -> Measured {
    let split = cfg.split().unwrap();
    let mut t = Trainer::<T, _>::cpu(cfg, &split).unwrap();
    let init = analyze(&t.backend.network(), cfg.activation).summary();
    while !t.finished() {
        t.next_epoch().unwrap();
    }
    let net = t.backend.network().cast::<f64>();
    let a = analyze(&net, cfg.activation);
    let s = a.summary();
    let third = (cfg.activation == Activation::Quad).then(|| third_harmonic(&net));
    let m = Measured {
        name: format!("{name} seed {}", cfg.seed),
        p: cfg.p,
        init,
        s,
        rnd: random_moment_level(&a.groups),
        third,
    };
    report(cfg, &m);
    m
}

/// The k*-only projection's spurious ratio and accuracy, and the ratio with fold(3 k*) kept.
fn third_harmonic(net: &Network<f64>) -> (f64, f64, f64) {
    let p = net.p;
    let sp = NetworkSpectra::of(net);
    let f = neuron_features(&sp);
    let ratio_of = |mult: &[usize]| {
        let proj = harmonic_projection(&sp, &f, mult);
        let logits = all_logits(&proj, Activation::Quad);
        let correct = (0..p * p)
            .filter(|&i| argmax(&logits[i * p..(i + 1) * p]) == Some((i / p + i % p) % p))
            .count();
        (
            peak_shape(&logits, p).spurious_ratio,
            correct as f64 / (p * p) as f64,
        )
    };
    let (r1, acc1) = ratio_of(&[1]);
    let (r13, _) = ratio_of(&[1, 3]);
    (r1, acc1, r13)
}

fn report(cfg: &TrainConfig, m: &Measured) {
    let k_max = (cfg.p - 1) / 2;
    println!(
        "{} p = {}, M = {}, {} epochs, lr {}: accuracy {}, IPR {:.4} (init {:.4}), \
         mean |sin D| {:.4} (init {:.4}), frequencies used {} of {k_max}, \
         moments l=1..4 {:.4} {:.4} {:.4} {:.4} (random level {:.4}), correct max {:.4}, \
         three peaks {:.4}, spurious ratio {:.4}; third harmonic {:?}",
        m.name,
        cfg.p,
        cfg.width,
        cfg.epochs,
        cfg.lr,
        m.g("accuracy"),
        m.g("ipr"),
        m.init.get("ipr").unwrap(),
        m.g("mean_abs_sin_d"),
        m.init.get("mean_abs_sin_d").unwrap(),
        m.g("frequencies_used"),
        m.g("moment_1"),
        m.g("moment_2"),
        m.g("moment_3"),
        m.g("moment_4"),
        m.rnd,
        m.g("correct_max_fraction"),
        m.g("three_peak_fraction"),
        m.g("spurious_ratio"),
        m.third,
    );
    println!(
        "{} harmonic ratios r = 2..5: W_in {:.3} {:.3} {:.3} {:.3}, W_out {:.3} {:.3} {:.3} {:.3}",
        m.name,
        m.g("harmonic_in_r2"),
        m.g("harmonic_in_r3"),
        m.g("harmonic_in_r4"),
        m.g("harmonic_in_r5"),
        m.g("harmonic_out_r2"),
        m.g("harmonic_out_r3"),
        m.g("harmonic_out_r4"),
        m.g("harmonic_out_r5"),
    );
}

fn spreads(what: &str, runs: &[Measured]) {
    let col = |f: &dyn Fn(&Measured) -> f64| runs.iter().map(f).collect::<Vec<f64>>();
    let mut cols = vec![
        ("ipr", col(&|m| m.g("ipr"))),
        ("mean |sin D|", col(&|m| m.g("mean_abs_sin_d"))),
        ("moment_2 / random", col(&|m| m.g("moment_2") / m.rnd)),
        ("moment_4 / random", col(&|m| m.g("moment_4") / m.rnd)),
        ("three peaks", col(&|m| m.g("three_peak_fraction"))),
        ("spurious ratio", col(&|m| m.g("spurious_ratio"))),
    ];
    if runs.iter().all(|m| m.third.is_some()) {
        cols.push(("k*-only ratio", col(&|m| m.third.unwrap().0)));
        cols.push((
            "k*+3k* ratio drop",
            col(&|m| m.third.unwrap().0 - m.third.unwrap().2),
        ));
        cols.push((
            "W_in r3 / max(r2, r4)",
            col(&|m| m.g("harmonic_in_r3") / m.g("harmonic_in_r2").max(m.g("harmonic_in_r4"))),
        ));
        cols.push((
            "W_out r3 / max(r2, r4)",
            col(&|m| m.g("harmonic_out_r3") / m.g("harmonic_out_r2").max(m.g("harmonic_out_r4"))),
        ));
    }
    print_spreads(what, &cols);
}

/// The third-harmonic facts of the module docs, for a Quad network.
fn check_third_harmonic(m: &Measured, e: &Third) {
    let name = &m.name;
    let (r1, acc1, r13) = m.third.unwrap();
    assert!(
        r1 >= e.k_star_ratio.0 && r1 <= e.k_star_ratio.1,
        "{name}: k*-only ratio {r1}"
    );
    assert_eq!(
        acc1, 1.0,
        "{name}: the single-frequency part alone must solve the task"
    );
    assert!(
        r1 - r13 >= e.min_drop,
        "{name}: the third harmonic must lower the spurious peaks ({r1} -> {r13})"
    );
    for layer in ["in", "out"] {
        let r3 = m.g(&format!("harmonic_{layer}_r3"));
        for r in [2, 4] {
            let other = m.g(&format!("harmonic_{layer}_r{r}"));
            assert!(
                r3 > e.min_dominance * other,
                "{name}: W_{layer} r = 3 {r3} vs r = {r} {other}"
            );
        }
    }
}

fn check(m: &Measured, e: &Expect) {
    let name = &m.name;
    let k_max = (m.p - 1) / 2;
    assert_eq!(m.g("accuracy"), 1.0, "{name}: must fit the full data");
    assert!(m.g("ipr") >= e.min_ipr, "{name}: IPR {}", m.g("ipr"));
    assert!(
        m.g("ipr") > 2.0 * m.init.get("ipr").unwrap(),
        "{name}: IPR did not rise"
    );
    assert!(
        m.g("mean_abs_sin_d") <= e.max_sin_d,
        "{name}: |sin D| {}",
        m.g("mean_abs_sin_d")
    );
    assert_eq!(
        m.g("frequencies_used"),
        k_max as f64,
        "{name}: a frequency is unused"
    );
    for (l, band) in ["moment_2", "moment_4"].iter().zip(e.moment_vs_random) {
        let v = m.g(l) / m.rnd;
        assert!(
            v >= band.0 && v <= band.1,
            "{name}: {l} = {v} of the random level {}",
            m.rnd
        );
    }
    assert_eq!(m.g("correct_max_fraction"), 1.0, "{name}");
    assert!(
        m.g("three_peak_fraction") >= e.min_three_peaks,
        "{name}: three peaks {}",
        m.g("three_peak_fraction")
    );
    let r = m.g("spurious_ratio");
    assert!(
        r >= e.spurious_ratio.0 && r <= e.spurious_ratio.1,
        "{name}: spurious ratio {r}"
    );
    if let Some(t) = &e.third {
        check_third_harmonic(m, t);
    }
}

/// Runs `preset` at modulus `p` (shrunk by `shrink` for the stand-ins) over the study seeds,
/// prints the spreads, then checks every run.
fn study<T: Real>(preset: &str, p: usize, shrink: Option<usize>, e: &Expect) {
    let runs: Vec<Measured> = seeds(&[42])
        .into_iter()
        .map(|seed| {
            let mut cfg = TrainConfig::preset(preset, p).unwrap();
            if let Some(epochs) = shrink {
                cfg.width = 128;
                cfg.lr = 1e-3;
                cfg.epochs = epochs;
                cfg.precision = Precision::F64;
            }
            cfg.seed = seed;
            train::<T>(preset, &cfg)
        })
        .collect();
    spreads(&format!("{preset} p = {p}"), &runs);
    for m in &runs {
        check(m, e);
    }
}

// The bands: the seed spreads of the module docs by the rule, rounded outwards.

const QUAD_P23: Expect = Expect {
    min_ipr: 0.75,
    max_sin_d: 0.045,
    moment_vs_random: [(0.44, 1.24), (0.27, 0.61)],
    min_three_peaks: 0.74,
    spurious_ratio: (0.216, 0.219),
    third: Some(Third {
        k_star_ratio: (0.498, 0.5),
        min_drop: 0.23,
        min_dominance: 3.4,
    }),
};

const RELU_P23: Expect = Expect {
    min_ipr: 0.63,
    max_sin_d: 0.103,
    moment_vs_random: [(0.62, 1.17), (0.42, 1.15)],
    min_three_peaks: 0.39,
    spurious_ratio: (0.190, 0.205),
    third: None,
};

const QUAD_SMALL: Expect = Expect {
    min_ipr: 0.80,
    max_sin_d: 0.031,
    moment_vs_random: [(0.10, 0.62), (0.03, 0.21)],
    min_three_peaks: 0.75,
    spurious_ratio: (0.216, 0.241),
    third: Some(Third {
        k_star_ratio: (0.496, 0.501),
        min_drop: 0.186,
        min_dominance: 1.8,
    }),
};

const RELU_SMALL: Expect = Expect {
    min_ipr: 0.74,
    max_sin_d: 0.137,
    moment_vs_random: [(0.41, 0.70), (0.04, 0.56)],
    min_three_peaks: 0.19,
    spurious_ratio: (0.119, 0.146),
    third: None,
};

/// Small stand-in (p = 13, M = 128, lr 1e-3 = 20x the preset's, 2000 epochs, f64), fast.
#[test]
fn small_stand_in_quad_random_learns_aligned_single_frequency_features() {
    study::<f64>("quad_random", 13, Some(2000), &QUAD_SMALL);
}

/// Small stand-in (p = 13, M = 128, lr 1e-3 = 20x the preset's, 1500 epochs, f64), fast.
#[test]
fn small_stand_in_standard_relu_learns_aligned_single_frequency_features() {
    study::<f64>("standard", 13, Some(1500), &RELU_SMALL);
}

/// Paper scale: the quad_random preset (p = 23, M = 512, AdamW lr 5e-5, 5000 epochs, f32).
#[test]
#[ignore = "paper scale: quad_random preset p = 23, M = 512, 5000 epochs, ~5 s CPU"]
fn quad_random_preset_p23() {
    study::<f32>("quad_random", 23, None, &QUAD_P23);
}

/// Paper scale: the standard preset (p = 23, M = 512, AdamW lr 5e-5, 5000 epochs, f32).
#[test]
#[ignore = "paper scale: standard preset p = 23, M = 512, 5000 epochs, ~5 s CPU"]
fn standard_preset_p23() {
    study::<f32>("standard", 23, None, &RELU_P23);
}
