//! Observation 4 (SPEC 7, claim 2): a ReLU-trained network keeps ~100 % accuracy when sigma is
//! swapped at test time for any activation with a non-zero even part (|u|, u^2, u^4, u^8,
//! log(1 + e^{2u}), e^u) and drops to chance (~4 % = 1/p at p = 23) for the odd ones (u, u^3).
//!
//! Why: ReLU = (u + |u|)/2. The odd part contributes `sum_m xi_m (theta_m[x] + theta_m[y])`,
//! a function g(x) + g(y) of the operands separately, which cannot encode x + y mod p; the
//! Fourier features that solve the task live in the even part, and any even-part activation
//! reads them the same way (Proposition 1's mechanism holds for sigma's quadratic term).
//!
//! # Paper scale: the `standard` preset (p = 23, M = 512, AdamW lr 5e-5, f32), seed 42
//! One run of 10 000 epochs, swapped at epoch 5000 (the preset's length) and 10 000 (the length
//! of the reference's own swap checkpoint, `p23_relu_random_adamw_final.pth`).
//! - At 10 000 epochs the claim holds: every even swap keeps every pair (the paper's ~100 %),
//!   the odd ones stay at chance.
//! - At the preset's 5000 epochs it holds only in part: |u|, u^2, u^4, u^8 keep 100 %, but
//!   softplus2 and exp keep only about half the pairs. Their expansions
//!   `e^u = 1 + u + u^2/2 + ...`, `log(1 + e^{2u}) = log 2 + u + u^2/2 + ...` carry an odd term u
//!   larger than their quadratic term while |u| < 2, plus a constant sigma(0) that adds
//!   `sigma(0) sum_m xi_m[j]` to every logit; only once the weights have grown (loss 5e-7 at
//!   10 000 epochs against 5e-2 at 5000) does the even part win.
//!
//! Seed spreads (`MODADD_SEEDS=1-8,42 cargo test --test activation_swaps -- --include-ignored
//! --nocapture --test-threads 1`: 9 initialisations, full data), printed by the tests as `SPREAD`
//! lines as min / median / max; bounds from the paper's number where it gives one, otherwise by
//! the rule of `common::seeds` (half the seed range beyond the extreme):
//! - 10 000 epochs: lowest even-swap accuracy 1 / 1 / 1 (bound: the paper's ~100 %, read as at
//!   least [`KEEP`] = 0.99); highest odd-swap accuracy 0.040 / 0.049 / 0.055 (bound: the paper's
//!   chance, 1/p = 0.043, read as at most twice chance, [`near_chance`] = 0.087; the rule
//!   would give 0.062);
//! - 5000 epochs: |u|, u^2, u^4, u^8 1 / 1 / 1; softplus2 0.509 / 0.580 / 0.667, exp
//!   0.285 / 0.475 / 0.605 (bands [`SOFTPLUS2_AT_PRESET`], [`EXP_AT_PRESET`] by the rule);
//!   odd 0.044 / 0.045 / 0.047.
//!
//! # Small stand-in (p = 13, M = 128, lr 1e-3 = 20x the preset's, 1500 epochs, f64), fast
//! lr 1e-3 drives the loss to ~1e-6 in seconds. Same 9 seeds: lowest even swap
//! 0.988 / 1 / 1 (u^8 loses 1 or 2 of the 169 pairs in seeds 1, 3, 7, 8; bound by the rule,
//! [`KEEP_STAND_IN`] = 0.98), highest odd swap 0.071 / 0.077 / 0.101 (bound 2/p = 0.154).

mod common;

use common::seeds::{print_spreads, seeds};
use modadd::backend::Backend;
use modadd::numerics::activation::Activation;
use modadd::numerics::real::Real;
use modadd::numerics::task::{all_pairs, Task};
use modadd::science::mechanism::{activation_swaps, SwapOutcome};
use modadd::train::config::{Precision, TrainConfig};
use modadd::train::trainer::Trainer;

/// Accuracy an even-part activation must keep: the paper's "~100 %", read as at most 1 % of
/// the pairs lost (every seed measured at paper scale keeps exactly 1 where the claim holds).
const KEEP: f64 = modadd::science::bounds::SWAP_KEEP;
/// The small stand-in's even swaps: 0.988 / 1 / 1 over 9 seeds (module docs); the rule gives
/// 0.982.
const KEEP_STAND_IN: f64 = modadd::science::bounds::SWAP_KEEP_STAND_IN;

/// "Chance" for the odd activations: at most twice chance, 2/p (the paper: ~4 % = 1/p at
/// p = 23). Above every seed measured (module docs) and far below any even swap.
fn near_chance(p: usize) -> f64 {
    2.0 / p as f64
}

/// At the preset's 5000 epochs softplus2 and exp keep only part of the pairs, so the claim
/// (>= KEEP) fails for them there. Bands from the 9 seeds of the module docs by the rule:
/// softplus2 0.509..0.667 -> (0.43, 0.75).
const SOFTPLUS2_AT_PRESET: (f64, f64) = modadd::science::bounds::SWAP_SOFTPLUS2_AT_PRESET;
/// exp 0.285..0.605 -> (0.13, 0.77).
const EXP_AT_PRESET: (f64, f64) = modadd::science::bounds::SWAP_EXP_AT_PRESET;

/// Trains `cfg` and returns the swaps of the network after each epoch count in `at`.
fn train_and_swap<T: Real>(cfg: &TrainConfig, at: &[usize]) -> Vec<Vec<SwapOutcome>> {
    let split = cfg.split().unwrap();
    let mut t = Trainer::<T, _>::cpu(cfg, &split).unwrap();
    let mut out = Vec::new();
    for &n in at {
        while t.epoch < n {
            t.next_epoch().unwrap();
        }
        let swaps = activation_swaps(&t.backend.network(), &all_pairs(cfg.p, Task::Add));
        let line: Vec<String> = swaps
            .iter()
            .map(|s| format!("{} {:.4}", s.activation.name(), s.accuracy))
            .collect();
        println!(
            "p = {}, M = {}, seed {}, lr {}, after {n} epochs: {}",
            cfg.p,
            cfg.width,
            cfg.seed,
            cfg.lr,
            line.join(", ")
        );
        out.push(swaps);
    }
    out
}

fn acc(swaps: &[SwapOutcome], a: Activation) -> f64 {
    swaps.iter().find(|s| s.activation == a).unwrap().accuracy
}

fn lowest_even(swaps: &[SwapOutcome]) -> f64 {
    swaps
        .iter()
        .filter(|s| s.even_part)
        .map(|s| s.accuracy)
        .fold(1.0, f64::min)
}

fn highest_odd(swaps: &[SwapOutcome]) -> f64 {
    swaps
        .iter()
        .filter(|s| !s.even_part)
        .map(|s| s.accuracy)
        .fold(0.0, f64::max)
}

/// The claim as stated: the ReLU network fits every pair, every even swap keeps >= `keep`, the
/// odd ones stay near chance.
fn check_claim(p: usize, keep: f64, swaps: &[SwapOutcome]) {
    assert_eq!(
        acc(swaps, Activation::Relu),
        1.0,
        "the ReLU network must fit the full data first"
    );
    for s in swaps {
        if s.even_part {
            assert!(
                s.accuracy >= keep,
                "{}: {}",
                s.activation.name(),
                s.accuracy
            );
        } else {
            assert!(
                s.accuracy <= near_chance(p),
                "{}: {}",
                s.activation.name(),
                s.accuracy
            );
        }
    }
}

/// Small stand-in (p = 13, M = 128, lr 1e-3 = 20x the preset's, 1500 epochs, f64), fast.
#[test]
fn small_stand_in_survives_even_swaps_and_fails_odd_ones() {
    let p = 13;
    let mut runs = Vec::new();
    for seed in seeds(&[42]) {
        let mut cfg = TrainConfig::preset("standard", p).unwrap();
        cfg.width = 128;
        cfg.lr = 1e-3;
        cfg.epochs = 1500;
        cfg.precision = Precision::F64;
        cfg.seed = seed;
        runs.push(train_and_swap::<f64>(&cfg, &[cfg.epochs]).remove(0));
    }
    print_spreads(
        "small stand-in p = 13",
        &[
            ("lowest even", runs.iter().map(|s| lowest_even(s)).collect()),
            ("highest odd", runs.iter().map(|s| highest_odd(s)).collect()),
        ],
    );
    for s in &runs {
        check_claim(p, KEEP_STAND_IN, s);
    }
}

/// Paper scale: the `standard` preset at p = 23 (M = 512, AdamW lr 5e-5, f32, seed 42),
/// swapped after the preset's 5000 epochs and after the reference checkpoint's 10 000.
#[test]
#[ignore = "paper scale: standard preset p = 23, M = 512, 10 000 epochs, ~8 s CPU"]
fn standard_preset_p23_holds_at_10000_epochs_and_in_part_at_5000() {
    let p = 23;
    let mut runs = Vec::new();
    for seed in seeds(&[42]) {
        let mut cfg = TrainConfig::preset("standard", p).unwrap();
        assert_eq!((cfg.width, cfg.epochs), (512, 5000));
        cfg.seed = seed;
        runs.push(train_and_swap::<f32>(&cfg, &[5000, 10_000]));
    }
    let col = |i: usize, f: &dyn Fn(&[SwapOutcome]) -> f64| -> Vec<f64> {
        runs.iter().map(|r| f(&r[i])).collect()
    };
    print_spreads(
        "standard preset p = 23",
        &[
            ("10000: lowest even", col(1, &lowest_even)),
            ("10000: highest odd", col(1, &highest_odd)),
            (
                "5000: lowest of abs, quad, pow4, pow8",
                col(0, &|s| {
                    [
                        Activation::Abs,
                        Activation::Quad,
                        Activation::Pow4,
                        Activation::Pow8,
                    ]
                    .iter()
                    .map(|&a| acc(s, a))
                    .fold(1.0, f64::min)
                }),
            ),
            (
                "5000: softplus2",
                col(0, &|s| acc(s, Activation::Softplus2)),
            ),
            ("5000: exp", col(0, &|s| acc(s, Activation::Exp))),
            ("5000: highest odd", col(0, &highest_odd)),
        ],
    );
    for r in &runs {
        // 10 000 epochs: the claim holds.
        check_claim(p, KEEP, &r[1]);
        // 5000 epochs (the preset): the pure even powers and |u| keep every pair, the odd ones
        // are at chance, but softplus2 and exp do not keep ~100 %: Observation 4 does not hold
        // for them at the preset's length (module docs).
        let at_preset = &r[0];
        assert_eq!(acc(at_preset, Activation::Relu), 1.0);
        for a in [
            Activation::Abs,
            Activation::Quad,
            Activation::Pow4,
            Activation::Pow8,
        ] {
            assert!(
                acc(at_preset, a) >= KEEP,
                "{}: {}",
                a.name(),
                acc(at_preset, a)
            );
        }
        assert!(highest_odd(at_preset) <= near_chance(p));
        for (a, band) in [
            (Activation::Softplus2, SOFTPLUS2_AT_PRESET),
            (Activation::Exp, EXP_AT_PRESET),
        ] {
            let v = acc(at_preset, a);
            assert!(
                v > band.0 && v < band.1,
                "{} at 5000 epochs: {v} (band {band:?})",
                a.name()
            );
        }
    }
}
