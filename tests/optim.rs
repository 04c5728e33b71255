//! One and two optimiser steps against hand-worked numbers (PyTorch semantics), and the
//! reference warm-up schedule.

use modadd::numerics::optim::{OptimizerConfig, Schedule};

/// Hand-worked values are exact decimals of a few f64 operations; allow a few ulps.
const STEP_TOL: f64 = 1e-15;

#[test]
fn sgd_two_steps_by_hand() {
    // w = 1, g = 0.5, lr = 0.1, wd = 0.01 (L2 added to the gradient):
    // w1 = 1 - 0.1 (0.5 + 0.01 * 1) = 0.949
    // w2 = 0.949 - 0.1 (0.5 + 0.01 * 0.949) = 0.898051
    let mut opt = OptimizerConfig::Sgd { weight_decay: 0.01 }
        .build::<f64>(&[1])
        .unwrap();
    let mut w = [1.0f64];
    opt.step(&mut [&mut w[..]], &[&[0.5]], 0.1);
    assert!((w[0] - 0.949).abs() < STEP_TOL, "{}", w[0]);
    opt.step(&mut [&mut w[..]], &[&[0.5]], 0.1);
    assert!((w[0] - 0.898051).abs() < STEP_TOL, "{}", w[0]);
}

#[test]
fn adamw_two_steps_by_hand() {
    // w = 1, g = 0.5 both steps, lr = 0.1, wd = 0.01, betas (0.9, 0.98), eps 1e-8.
    // t = 1: w <- 0.999 (decay); m = 0.05, v = 0.005; bias corrections 0.1 and 0.02;
    //        denom = sqrt(0.005)/sqrt(0.02) + 1e-8 = 0.5 + 1e-8;
    //        w = 0.999 - (0.1 / 0.1) * 0.05 / (0.5 + 1e-8) = 0.899000002 (to 1e-17).
    // t = 2: w <- 0.899000002 * 0.999; m = 0.095, v = 0.0099; corrections 0.19, 0.0396;
    //        denom = 0.5 + 1e-8; w -= (0.1 / 0.19) * 0.095 / (0.5 + 1e-8) = 0.099999998.
    let mut opt = OptimizerConfig::adamw(0.01).build::<f64>(&[1]).unwrap();
    let mut w = [1.0f64];
    opt.step(&mut [&mut w[..]], &[&[0.5]], 0.1);
    let w1 = 0.999 - 0.05 / (0.5 + 1e-8);
    assert!((w[0] - w1).abs() < STEP_TOL, "{} vs {}", w[0], w1);
    assert!((w[0] - 0.899000002).abs() < 1e-12);
    opt.step(&mut [&mut w[..]], &[&[0.5]], 0.1);
    let w2 = w1 * 0.999 - (0.1 / 0.19) * 0.095 / (0.5 + 1e-8);
    assert!((w[0] - w2).abs() < STEP_TOL, "{} vs {}", w[0], w2);
    assert!((w[0] - 0.798101003998).abs() < 1e-12);
    assert_eq!(opt.steps(), Some(2));
}

/// With lr = 0 (the reference warm-up's first update) AdamW leaves the weights alone but its
/// moments and step count still advance, as in PyTorch.
#[test]
fn adamw_with_zero_lr_advances_moments_only() {
    let mut opt = OptimizerConfig::adamw(2.0).build::<f64>(&[2]).unwrap();
    let mut w = [0.3f64, -0.7];
    opt.step(&mut [&mut w[..]], &[&[1.0, -2.0]], 0.0);
    assert_eq!(w, [0.3, -0.7]);
    assert_eq!(opt.steps(), Some(1));
    if let modadd::numerics::optim::Optimizer::Adamw(a) = &opt {
        assert!((a.m[0][0] - 0.1).abs() < STEP_TOL);
        assert!((a.v[0][1] - 0.02 * 4.0).abs() < STEP_TOL);
    } else {
        panic!("expected AdamW");
    }
}

/// Decoupled weight decay alone: with g = 0 the Adam term vanishes (m = v = 0 gives 0/eps) and
/// w is multiplied by (1 - lr wd) each step.
#[test]
fn adamw_decay_is_decoupled() {
    let mut opt = OptimizerConfig::adamw(2.0).build::<f64>(&[1]).unwrap();
    let mut w = [1.5f64];
    for _ in 0..3 {
        opt.step(&mut [&mut w[..]], &[&[0.0]], 1e-2);
    }
    assert!((w[0] - 1.5 * 0.98f64.powi(3)).abs() < STEP_TOL);
}

#[test]
fn warmup_schedule_matches_reference() {
    let s = Schedule::Warmup { steps: 10 };
    assert_eq!(s.lr(1e-3, 0), 0.0);
    assert!((s.lr(1e-3, 5) - 5e-4).abs() < 1e-18);
    assert_eq!(s.lr(1e-3, 10), 1e-3);
    assert_eq!(s.lr(1e-3, 1000), 1e-3);
    assert_eq!(Schedule::Constant.lr(1e-3, 0), 1e-3);
}

#[test]
fn optimizer_config_rejects_bad_hyperparameters() {
    let e = OptimizerConfig::adamw(-1.0).validate().unwrap_err();
    assert!(e.to_string().contains("weight decay = -1"), "{e}");
    let bad = OptimizerConfig::Adamw {
        weight_decay: 0.0,
        beta1: 1.0,
        beta2: 0.98,
        eps: 1e-8,
    };
    assert!(bad
        .validate()
        .unwrap_err()
        .to_string()
        .contains("beta1 = 1"));
    assert!(
        modadd::names::parse_name::<modadd::numerics::optim::OptimizerKind>("rmsprop")
            .unwrap_err()
            .to_string()
            .contains("unknown optimizer 'rmsprop'")
    );
}
