//! Claim: the results do not depend on the thread count. Losses, accuracies, gradients, the
//! weights after several steps, the lottery race and a whole `modadd train` run folder are
//! bit-identical on 1, 2 and 3 threads (`numerics::parallel`: work is split only along
//! dimensions that are not summed over).

mod common;

use assert_cmd::Command;
use modadd::backend::cpu::CpuBackend;
use modadd::backend::Backend;
use modadd::numerics::activation::Activation;
use modadd::numerics::batch::Batch;
use modadd::numerics::grad::{evaluate, loss_and_grad, Grads, Workspace, CHUNK};
use modadd::numerics::init::Init;
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::numerics::optim::OptimizerConfig;
use modadd::numerics::parallel::{set_default_threads, Threads};
use modadd::numerics::real::Real;
use modadd::numerics::task::{Split, Task};
use modadd::science::dynamics::lottery::{predict_lottery, LotteryOptions};
use modadd::science::dynamics::TimeScale;

const COUNTS: [usize; 3] = [1, 2, 3];

/// Bit patterns, so that -0.0 != 0.0 and equal NaNs compare equal.
fn bits<T: Real>(v: &[T]) -> Vec<u64> {
    v.iter().map(|x| x.f64().to_bits()).collect()
}

fn grads_bits<T: Real>(g: &Grads<T>) -> Vec<Vec<u64>> {
    g.slices().into_iter().map(bits).collect()
}

/// (p, width, tying, activation, loss, train fraction): rows across chunk boundaries, widths
/// that are not a multiple of the 16-neuron blocks, fewer neurons than 16 per thread.
fn problems() -> Vec<(usize, usize, Tying, Activation, Loss, f64)> {
    vec![
        (37, 100, Tying::Tied, Activation::Relu, Loss::CeMean, 1.0),
        (37, 37, Tying::Tied, Activation::Quad, Loss::CeSum, 0.8),
        (29, 50, Tying::Untied, Activation::Quad, Loss::Mse, 1.0),
        (23, 20, Tying::Untied, Activation::Relu, Loss::CeMean, 0.9),
        (11, 5, Tying::Tied, Activation::Abs, Loss::CeMean, 1.0),
        (47, 130, Tying::Tied, Activation::Exp, Loss::CeMean, 0.7),
    ]
}

fn check_passes<T: Real>() {
    for (p, m, tying, act, loss, frac) in problems() {
        let task = if tying == Tying::Tied {
            Task::Add
        } else {
            Task::Sub
        };
        let split = Split::seeded(p, task, frac, 3).unwrap();
        let net = Network::<T>::init(p, m, Init::Random { scale: 0.7 }, tying, 5).unwrap();
        let batch = Batch::<T>::new(&split.train, tying);
        let test = Batch::<T>::new(&split.test, tying);
        let mut seen = None;
        for t in COUNTS {
            let mut ws = Workspace::with_threads(Threads::new(t).unwrap());
            let mut g = Grads::zeros_like(&net);
            // Dirty gradients: the pass must overwrite them.
            g.w_in.fill(T::of(7.0));
            let e = loss_and_grad(&net, act, loss, &batch, &mut ws, &mut g);
            let flags = ws.correct().to_vec();
            let ev = evaluate(&net, act, loss, &test, &mut ws);
            let got = (
                e.loss.to_bits(),
                e.accuracy.to_bits(),
                grads_bits(&g),
                flags,
                ev.loss.to_bits(),
                ev.accuracy.to_bits(),
                ws.correct().to_vec(),
            );
            match &seen {
                None => seen = Some(got),
                Some(s) => assert!(
                    *s == got,
                    "{} p={p} M={m} {tying:?} {act:?} {loss:?}: {t} threads differ from 1",
                    T::NAME
                ),
            }
        }
        assert!(batch.rows() > CHUNK || p < 37, "p = 37 spans two chunks");
    }
}

#[test]
fn passes_are_bit_identical_on_1_2_3_threads() {
    check_passes::<f32>();
    check_passes::<f64>();
}

#[test]
fn steps_are_bit_identical_on_1_2_3_threads() {
    for (opt, tying, act) in [
        (OptimizerConfig::adamw(0.5), Tying::Tied, Activation::Quad),
        (
            OptimizerConfig::Sgd { weight_decay: 0.1 },
            Tying::Untied,
            Activation::Relu,
        ),
    ] {
        // Large enough that the optimiser splits its update into blocks (> 2048 elements).
        let (p, m) = (41, 450);
        let task = if tying == Tying::Tied {
            Task::Add
        } else {
            Task::Sub
        };
        let split = Split::seeded(p, task, 0.8, 1).unwrap();
        let mut seen: Option<(Vec<Vec<u64>>, Vec<u64>)> = None;
        for t in COUNTS {
            let net = Network::<f32>::init(p, m, Init::Random { scale: 0.5 }, tying, 9).unwrap();
            let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
            let o = opt.build::<f32>(&sizes).unwrap();
            let mut b = CpuBackend::with_threads(
                net,
                act,
                Loss::CeMean,
                &split,
                o,
                Threads::new(t).unwrap(),
            );
            let mut stats = vec![];
            for _ in 0..6 {
                let test = b.eval_test().unwrap();
                let s = b.step(1e-2);
                stats.extend([
                    test.loss,
                    test.accuracy,
                    s.train.loss,
                    s.train.accuracy,
                    s.grad_norm,
                    s.param_norm,
                ]);
            }
            let mut grid = vec![];
            b.correct_grid(&mut grid);
            stats.extend(grid.iter().map(|&c| c as u8 as f64));
            let got = (
                b.network().param_slices().into_iter().map(bits).collect(),
                stats.iter().map(|v| v.to_bits()).collect(),
            );
            match &seen {
                None => seen = Some(got),
                Some(s) => assert!(*s == got, "{opt:?}: {t} threads differ from 1"),
            }
        }
    }
}

#[test]
fn lottery_race_is_the_same_on_every_thread_count() {
    let net = Network::<f64>::init(13, 40, Init::Random { scale: 0.1 }, Tying::Tied, 4).unwrap();
    // The race runs on the process-wide count; no other test of this file reads it.
    let mut runs = vec![];
    for t in COUNTS {
        set_default_threads(t).unwrap();
        runs.push(predict_lottery(&net, TimeScale::Sum, &LotteryOptions::default()).unwrap());
    }
    let one = &runs[0];
    assert!(runs.iter().all(|r| r == one));
    assert!(one.iter().enumerate().all(|(i, p)| p.neuron == i));
}

#[test]
fn train_run_folders_are_byte_identical_on_1_2_3_threads() {
    let dirs: Vec<_> = COUNTS
        .iter()
        .map(|_| tempfile::tempdir().unwrap())
        .collect();
    for (t, d) in COUNTS.iter().zip(&dirs) {
        Command::cargo_bin("modadd")
            .unwrap()
            .args([
                "train",
                "--preset",
                "grokking",
                "--p",
                "23",
                "--width",
                "72",
                "--epochs",
                "120",
                "--lr",
                "3e-3",
                "--checkpoint-every",
                "50",
                "--grid-epochs",
                "0,60",
                "-q",
                "--threads",
                &t.to_string(),
                "--out",
            ])
            .arg(d.path())
            .assert()
            .success();
    }
    let trees: Vec<_> = dirs.iter().map(|d| common::read_tree(d.path())).collect();
    assert!(trees[0].contains_key("progress.csv") && trees[0].contains_key("final/W_in.csv"));
    for (t, tree) in COUNTS.iter().zip(&trees).skip(1) {
        assert!(*tree == trees[0], "{t} threads: the run folder differs");
    }
}

#[test]
fn zero_threads_is_a_user_error() {
    let out = Command::cargo_bin("modadd")
        .unwrap()
        .args(["train", "--threads", "0", "--epochs", "1", "--out"])
        .arg(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("threads"));
}
