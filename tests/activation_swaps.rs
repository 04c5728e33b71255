//! Observation 4 (SPEC 7, claim 2): a ReLU-trained network keeps its accuracy when sigma is
//! swapped at test time for any activation with a non-zero even part (|u|, u^2, u^4, u^8,
//! log(1 + e^{2u}), e^u) and falls to chance for the odd ones (u, u^3).
//!
//! Why: ReLU = (u + |u|)/2. The odd part contributes `sum_m xi_m (theta_m[x] + theta_m[y])`,
//! a function g(x) + g(y) of the operands separately, which cannot encode x + y mod p; the
//! Fourier features that solve the task live in the even part, and any even-part activation
//! reads them the same way (Proposition 1's mechanism holds for sigma's quadratic term).
//!
//! The claim needs a network trained well past 100 % accuracy. The swapped activations'
//! expansions `e^u = 1 + u + u^2/2 + ...` and `log(1 + e^{2u}) = log 2 + u + u^2/2 + ...` carry an
//! odd term u that is *larger* than their quadratic term while |u| < 2, plus a constant
//! sigma(0) that adds `sigma(0) sum_m xi_m[j]` to every logit; only once the weights have grown
//! does the even part win. Measured on the `standard` preset at p = 23 (f64): after its 5000
//! epochs (train loss 0.050) softplus2 keeps only 56 % and exp 51 % (75 % and 73 % with sigma(0)
//! subtracted), while |u|, u^2, u^4, u^8 keep 100 %; the reference's published checkpoint for
//! this experiment was trained for 10 000 epochs (train loss 5e-7) and keeps 100 % under every
//! even swap (identity 4.2 %, cube 3.6 %).
//!
//! The CI test trains at p = 13 (seconds; lr 1e-3 drives the loss to 1.6e-6): every even swap
//! keeps 100 %, identity gets 7.1 % and cube 0.6 % (chance 7.7 %). The full reference run
//! (p = 23, M = 512, AdamW lr 5e-5, 10 000 epochs, f32; train loss 4.7e-7) keeps 100 % under
//! every even swap, identity 3.97 %, cube 3.78 % (chance 4.3 %). It is an ignored test:
//! `cargo test --release --test activation_swaps -- --ignored --nocapture`.

use modadd::backend::Backend;
use modadd::numerics::activation::Activation;
use modadd::numerics::real::Real;
use modadd::numerics::task::{all_pairs, Task};
use modadd::science::mechanism::{activation_swaps, SwapOutcome};
use modadd::train::config::{Precision, TrainConfig};
use modadd::train::trainer::Trainer;

/// Accuracy an even-part activation must keep (the claim: ~100 %).
const KEEP: f64 = 0.99;
/// "Near chance" for odd activations: at most twice chance, 2/p (measured at p = 13 over seeds
/// 1..3: 0.047 to 0.10 against chance 0.077).
fn near_chance(p: usize) -> f64 {
    2.0 / p as f64
}

fn train_and_swap<T: Real>(cfg: &TrainConfig) -> Vec<SwapOutcome> {
    let split = cfg.split().unwrap();
    let mut t = Trainer::<T, _>::cpu(cfg, &split).unwrap();
    let mut last = None;
    while !t.finished() {
        last = Some(t.next_epoch().unwrap());
    }
    let net = t.backend.network();
    let swaps = activation_swaps(&net, &all_pairs(cfg.p, Task::Add));
    let last = last.unwrap();
    eprintln!(
        "p = {}, M = {}, {} epochs, lr {}: final train loss {:.3e}",
        cfg.p, cfg.width, cfg.epochs, cfg.lr, last.train_loss
    );
    for s in &swaps {
        eprintln!(
            "  {:<10} even part {:<5} accuracy {:.4} loss {:.3e}",
            s.activation.name(),
            s.even_part,
            s.accuracy,
            s.loss
        );
    }
    swaps
}

fn check(p: usize, swaps: &[SwapOutcome]) {
    let relu = swaps
        .iter()
        .find(|s| s.activation == Activation::Relu)
        .unwrap();
    assert_eq!(
        relu.accuracy, 1.0,
        "the ReLU network must fit the full data first"
    );
    for s in swaps {
        if s.even_part {
            assert!(
                s.accuracy >= KEEP,
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

#[test]
fn relu_network_survives_even_swaps_and_fails_odd_ones() {
    let p = 13;
    let mut cfg = TrainConfig::preset("standard", p).unwrap();
    cfg.width = 128;
    cfg.lr = 1e-3;
    cfg.epochs = 1500;
    cfg.precision = Precision::F64;
    let swaps = train_and_swap::<f64>(&cfg);
    check(p, &swaps);
}

#[test]
#[ignore = "reference swap run (standard preset, p = 23, M = 512, 10 000 epochs): ~40 s in release"]
fn reference_standard_preset_p23() {
    let mut cfg = TrainConfig::preset("standard", 23).unwrap();
    // The reference's swap checkpoint was trained for 10 000 epochs (see the module docs).
    cfg.epochs = 10_000;
    let swaps = train_and_swap::<f32>(&cfg);
    check(23, &swaps);
}
