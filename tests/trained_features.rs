//! Claims on trained weights (SPEC 7, claims 1 and 5; SPEC 6): after `quad_random` or
//! `standard` training on the full data, neurons are (nearly) single-frequency, their phases
//! align (D = 2 phi - psi -> 0), every frequency 1..K is used, the phase-symmetry moments for
//! l = 2, 4 are small, and the logits show the correct peak at x + y with two spurious peaks at
//! 2x and 2y (Proposition 1's shape).
//!
//! CI runs shrunken presets (p = 13, M = 128, lr 1e-3, f64: about a second each). The full
//! p = 23 presets are ignored tests:
//! `cargo test --release --test trained_features -- --ignored --nocapture`.
//!
//! Measured (seed 42 unless noted; "random level" is the expected moment of n uniformly random
//! phases, sqrt(pi / 4n), averaged over groups):
//! - quad_random, p = 13: IPR 0.83 (seeds 1..4: 0.82-0.83; 0.22 at init), mean |sin D| 0.028
//!   (0.64 at init, 2/pi for random phases), moments l = 2: 0.061, l = 4: 0.028 against a random
//!   level 0.19, three peaks on 100 % of pairs, spurious ratio 0.23;
//! - standard (ReLU), p = 13: IPR 0.77, mean |sin D| 0.12, moments 0.10 / 0.074, three peaks
//!   on 38 % of pairs, spurious ratio 0.13;
//! - quad_random, p = 23 preset (f32, 5000 epochs at lr 5e-5, final loss ~1e-2): IPR 0.77
//!   (init 0.17), mean |sin D| 0.041 (init 0.65), moments l = 2: 0.103, l = 4: 0.063 against a
//!   random level 0.13, three peaks 87 %, spurious ratio 0.22;
//! - standard, p = 23 preset: IPR 0.64, mean |sin D| 0.096, moments 0.105 / 0.099 (random level
//!   0.13), three peaks 45 %, spurious ratio 0.20.
//!
//! "Small" phase moments: in the shrunken CI runs, trained to a loss of ~1e-8, the l = 2, 4
//! moments fall to 0.15-0.5 of the random-phase level, while l = 1, 3 stay at it (for Quad, phi
//! and phi + pi give the same neuron up to sign of xi's harmonic, so only even moments matter).
//! At the p = 23 presets' length the moments are only 0.5-0.8 of the random level: the groups
//! are diversified about as much as random phases would be, which already makes the harmonic
//! terms of Proposition 1 O(sqrt N) against O(N), not exactly zero. The reference's own
//! checkpoints agree (quad_random SGD epoch 9800: 0.147 / 0.146 against 0.13; ReLU AdamW final:
//! 0.100 / 0.061). The p = 23 tests therefore assert "at most the random level", not more.
//!
//! Proposition 1 predicts a spurious ratio of exactly 1/2; trained Quad networks show about
//! 0.22. The reason is a learned third harmonic: the neurons are not quite single-frequency
//! (IPR ~0.8) because both layers carry a component at fold(3 k*) of about a quarter of the
//! fundamental's magnitude (mean ratio 0.23 / 0.26 in W_in / W_out at p = 13, against 0.07-0.09
//! at r = 2, 4); the reference's own quad single-frequency checkpoint shows it too (W_in r = 3:
//! 0.055 against 0.003). Keeping only each neuron's k* component
//! ([`modadd::science::fourier::harmonic_projection`] with multiples [1]) restores the ratio 1/2 (0.499)
//! and still solves the task; adding back fold(3 k*) brings it down to 0.30: the harmonic
//! suppresses the spurious peaks at 2x and 2y. The Quad test asserts all three facts.
//!
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

/// What a trained network must show; each bound sits below (or above) every value measured
/// over seeds 42 and 1..4 with some room, and far from the value at initialisation.
struct Expect {
    min_ipr: f64,
    max_sin_d: f64,
    /// Bound on the group-weighted mean moment (l = 2 and l = 4) as a fraction of the random
    /// level.
    max_moment_vs_random: f64,
    min_three_peaks: f64,
    spurious_ratio: (f64, f64),
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

fn train<T: Real>(cfg: &TrainConfig) -> (Summary, Summary, f64, Network<f64>) {
    let split = cfg.split().unwrap();
    let mut t = Trainer::<T, _>::cpu(cfg, &split).unwrap();
    let init = analyze(&t.backend.network(), cfg.activation).summary();
    while !t.finished() {
        t.next_epoch().unwrap();
    }
    let net = t.backend.network().cast::<f64>();
    let a = analyze(&net, cfg.activation);
    let rnd = random_moment_level(&a.groups);
    (init, a.summary(), rnd, net)
}

/// The third-harmonic facts of the module docs, for a Quad network.
fn check_third_harmonic(name: &str, net: &Network<f64>, s: &Summary) {
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
    let full = s.get("spurious_ratio").unwrap();
    eprintln!(
        "{name}: spurious ratio of the k*-only projection {r1:.4} (accuracy {acc1}), with 3k* {r13:.4}, full network {full:.4}"
    );
    // Round-off scale of the projection's logits is tiny; the 0.02 band is the measured spread
    // (0.4987-0.4992 at p = 13 and 23) with room, far from the full network's ~0.22.
    assert!((r1 - 0.5).abs() < 0.02, "{name}: k*-only ratio {r1}");
    assert_eq!(
        acc1, 1.0,
        "{name}: the single-frequency part alone must solve the task"
    );
    assert!(
        r13 < r1 - 0.1,
        "{name}: the third harmonic must lower the spurious peaks"
    );
    let g = |n: &str| s.get(n).unwrap();
    for layer in ["in", "out"] {
        let r3 = g(&format!("harmonic_{layer}_r3"));
        for r in [2, 4] {
            let other = g(&format!("harmonic_{layer}_r{r}"));
            assert!(
                r3 > 2.0 * other,
                "{name}: W_{layer} r = 3 {r3} vs r = {r} {other}"
            );
        }
    }
}

fn check(name: &str, cfg: &TrainConfig, init: &Summary, s: &Summary, rnd: f64, e: &Expect) {
    let g = |n: &str| s.get(n).unwrap();
    let k_max = (cfg.p - 1) / 2;
    eprintln!(
        "{name} p = {}, M = {}, {} epochs, lr {}: accuracy {}, IPR {:.4} (init {:.4}), IPR_coef {:.4}, \
         mean |sin D| {:.4} (init {:.4}), frequencies used {} of {k_max} (group sizes {}..{}), \
         moments l=1..4 {:.4} {:.4} {:.4} {:.4} (random level {:.4}), correct max {:.4}, \
         three peaks {:.4}, spurious ratio {:.4}",
        cfg.p,
        cfg.width,
        cfg.epochs,
        cfg.lr,
        g("accuracy"),
        g("ipr"),
        init.get("ipr").unwrap(),
        g("ipr_coef"),
        g("mean_abs_sin_d"),
        init.get("mean_abs_sin_d").unwrap(),
        g("frequencies_used"),
        g("min_group_size"),
        g("max_group_size"),
        g("moment_1"),
        g("moment_2"),
        g("moment_3"),
        g("moment_4"),
        rnd,
        g("correct_max_fraction"),
        g("three_peak_fraction"),
        g("spurious_ratio"),
    );
    eprintln!(
        "{name} harmonic ratios r = 2..5: W_in {:.3} {:.3} {:.3} {:.3}, W_out {:.3} {:.3} {:.3} {:.3}",
        g("harmonic_in_r2"),
        g("harmonic_in_r3"),
        g("harmonic_in_r4"),
        g("harmonic_in_r5"),
        g("harmonic_out_r2"),
        g("harmonic_out_r3"),
        g("harmonic_out_r4"),
        g("harmonic_out_r5"),
    );
    assert_eq!(g("accuracy"), 1.0, "{name}: must fit the full data");
    assert!(g("ipr") >= e.min_ipr, "{name}: IPR {}", g("ipr"));
    assert!(
        g("ipr") > 2.0 * init.get("ipr").unwrap(),
        "{name}: IPR did not rise"
    );
    assert!(
        g("mean_abs_sin_d") <= e.max_sin_d,
        "{name}: |sin D| {}",
        g("mean_abs_sin_d")
    );
    assert_eq!(
        g("frequencies_used"),
        k_max as f64,
        "{name}: a frequency is unused"
    );
    for l in ["moment_2", "moment_4"] {
        assert!(
            g(l) <= e.max_moment_vs_random * rnd,
            "{name}: {l} = {} vs random {rnd}",
            g(l)
        );
    }
    assert_eq!(g("correct_max_fraction"), 1.0);
    assert!(g("three_peak_fraction") >= e.min_three_peaks, "{name}");
    let r = g("spurious_ratio");
    assert!(
        r >= e.spurious_ratio.0 && r <= e.spurious_ratio.1,
        "{name}: spurious ratio {r}"
    );
}

fn small(preset: &str, epochs: usize) -> TrainConfig {
    let mut cfg = TrainConfig::preset(preset, 13).unwrap();
    cfg.width = 128;
    cfg.lr = 1e-3;
    cfg.epochs = epochs;
    cfg.precision = Precision::F64;
    cfg
}

const QUAD: Expect = Expect {
    min_ipr: 0.75,
    max_sin_d: 0.06,
    max_moment_vs_random: 0.6,
    min_three_peaks: 0.9,
    spurious_ratio: (0.15, 0.5),
};

const RELU: Expect = Expect {
    min_ipr: 0.7,
    max_sin_d: 0.2,
    max_moment_vs_random: 0.75,
    min_three_peaks: 0.2,
    spurious_ratio: (0.08, 0.5),
};

#[test]
fn quad_random_learns_aligned_single_frequency_features() {
    let cfg = small("quad_random", 2000);
    let (init, s, rnd, net) = train::<f64>(&cfg);
    check("quad_random", &cfg, &init, &s, rnd, &QUAD);
    check_third_harmonic("quad_random", &net, &s);
}

#[test]
fn standard_relu_learns_aligned_single_frequency_features() {
    let cfg = small("standard", 1500);
    let (init, s, rnd, _) = train::<f64>(&cfg);
    check("standard", &cfg, &init, &s, rnd, &RELU);
}

#[test]
#[ignore = "full reference preset quad_random at p = 23 (M = 512, 5000 epochs): ~25 s in release"]
fn quad_random_preset_p23() {
    let cfg = TrainConfig::preset("quad_random", 23).unwrap();
    let (init, s, rnd, net) = train::<f32>(&cfg);
    // Measured: IPR 0.77, moments 0.80 and 0.48 of the random level, three peaks 0.87.
    let e = Expect {
        min_ipr: 0.7,
        max_moment_vs_random: 1.0,
        min_three_peaks: 0.8,
        ..QUAD
    };
    check("quad_random", &cfg, &init, &s, rnd, &e);
    check_third_harmonic("quad_random", &net, &s);
}

#[test]
#[ignore = "full reference preset standard at p = 23 (M = 512, 5000 epochs): ~25 s in release"]
fn standard_preset_p23() {
    let cfg = TrainConfig::preset("standard", 23).unwrap();
    let (init, s, rnd, _) = train::<f32>(&cfg);
    // Measured: IPR 0.64 (ReLU's harmonics spread the spectrum), moments 0.81 and 0.77 of the
    // random level.
    let e = Expect {
        min_ipr: 0.6,
        max_moment_vs_random: 1.0,
        ..RELU
    };
    check("standard", &cfg, &init, &s, rnd, &e);
}
