//! Training runs: presets, plateau rule, learning, determinism, resume, divergence.

mod common;
use common::read_tree;
use modadd::numerics::activation::Activation;
use modadd::numerics::init::Init;
use modadd::numerics::loss::Loss;
use modadd::numerics::optim::{OptimizerConfig, Schedule};
use modadd::pipelines::train;
use modadd::train::config::{BackendKind, Precision, TrainConfig, PRESETS};
use modadd::train::driver::{Progress, RunOptions};
use modadd::train::plateau::Plateau;
use modadd::train::record::EpochRecord;
use modadd::train::trainer::Trainer;
use std::path::Path;

/// A small configuration that trains in well under a second.
fn small(p: usize) -> TrainConfig {
    let mut c = TrainConfig::preset("standard", p).unwrap();
    c.width = 48;
    c.epochs = 120;
    c.lr = 1e-2;
    c.checkpoint_every = 30;
    c
}

#[test]
fn presets_match_the_reference_table() {
    let t = |n: &str| TrainConfig::preset(n, 23).unwrap();
    let s = t("standard");
    assert_eq!(
        (s.activation, s.lr, s.train_frac, s.epochs),
        (Activation::Relu, 5e-5, 1.0, 5000)
    );
    assert_eq!(s.optimizer, OptimizerConfig::adamw(0.0));
    assert_eq!(s.init, Init::Random { scale: 0.1 });
    let g = t("grokking");
    assert_eq!(
        (g.lr, g.train_frac, g.epochs, g.plateau_stop),
        (1e-4, 0.75, 50_000, true)
    );
    assert_eq!(g.optimizer.weight_decay(), 2.0);
    let q = t("quad_random");
    assert_eq!(
        (q.activation, q.lr, q.init),
        (Activation::Quad, 5e-5, Init::Random { scale: 0.1 })
    );
    let qs = t("quad_single_freq");
    assert_eq!(
        (qs.activation, qs.lr, qs.epochs),
        (Activation::Quad, 0.1, 10_000)
    );
    assert_eq!(qs.init, Init::SingleFreq { scale: 0.02 });
    assert_eq!(qs.optimizer, OptimizerConfig::Sgd { weight_decay: 0.0 });
    let rs = t("relu_single_freq");
    assert_eq!(
        (rs.activation, rs.lr, rs.init),
        (Activation::Relu, 0.01, Init::SingleFreq { scale: 0.002 })
    );
    for n in PRESETS {
        let c = t(n);
        assert_eq!((c.seed, c.checkpoint_every, c.width), (42, 200, 512));
        assert_eq!(c.schedule, Schedule::Warmup { steps: 10 });
        assert_eq!(c.loss, Loss::CeMean);
        assert_eq!(c.precision, Precision::F32);
    }
    assert_eq!(TrainConfig::preset("standard", 97).unwrap().width, 9107);
    let e = TrainConfig::preset("fancy", 23).unwrap_err().to_string();
    assert!(
        e.contains("unknown preset 'fancy'") && e.contains("grokking"),
        "{e}"
    );
}

fn rec(epoch: usize, v: f64) -> EpochRecord {
    EpochRecord {
        epoch,
        lr: 1e-3,
        train_loss: v,
        train_acc: 1.0,
        test_loss: v,
        test_acc: 0.9,
        grad_norm: 1.0,
        param_norm: 1.0,
    }
}

#[test]
fn plateau_rule_fires_only_on_flat_windows_at_checkpoints() {
    let mut flat = Plateau::default();
    for e in 0..=10_000 {
        flat.push(rec(e, 0.5 + 1e-4 * ((e % 7) as f64 / 7.0)));
    }
    assert!(flat.stop_at(10_000));
    assert!(!flat.stop_at(10_500), "only every 1000 epochs");
    let mut early = Plateau::default();
    for e in 0..=9_000 {
        early.push(rec(e, 0.5));
    }
    assert!(!early.stop_at(9_000), "not before epoch 10000");
    let mut moving = Plateau::default();
    for e in 0..=10_000 {
        moving.push(rec(e, 0.5 + 2e-6 * e as f64)); // spread over 1000 epochs: 2e-3 > 1e-3
    }
    assert!(!moving.stop_at(10_000));
}

/// A small ReLU network reaches 100 % training accuracy: the whole step (gradient, AdamW,
/// warm-up) works together.
#[test]
fn small_network_learns_addition() {
    let mut c = small(11);
    c.epochs = 400;
    let split = c.split().unwrap();
    let mut t = Trainer::<f32, _>::cpu(&c, &split).unwrap();
    let mut last = None;
    while t.epoch < c.epochs {
        last = Some(t.next_epoch().unwrap());
    }
    let r = last.unwrap();
    assert!(r.train_acc == 1.0, "train accuracy {}", r.train_acc);
    assert!(r.train_loss < 0.5 * (11f64).ln(), "loss {}", r.train_loss);
}

fn run_into(c: &TrainConfig, dir: &Path) {
    train::run(
        c,
        &RunOptions {
            out: dir.to_path_buf(),
            force: false,
            progress: Progress::Quiet,
            multi: None,
        },
        BackendKind::Cpu,
    )
    .unwrap();
}

#[test]
fn same_config_and_seed_give_byte_identical_outputs() {
    for precision in [Precision::F32, Precision::F64] {
        let mut c = small(7);
        c.precision = precision;
        c.train_frac = 0.6;
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        run_into(&c, a.path());
        run_into(&c, b.path());
        let (ta, tb) = (read_tree(a.path()), read_tree(b.path()));
        assert!(ta.contains_key("training_log.csv") && ta.contains_key("final/W_in.csv"));
        assert!(ta.contains_key("checkpoints/epoch_000090/W_in.npy"));
        assert_eq!(ta, tb, "{precision:?}");
        // Another seed changes the outputs.
        c.seed += 1;
        let d = tempfile::tempdir().unwrap();
        run_into(&c, d.path());
        assert_ne!(
            read_tree(d.path())["training_log.csv"],
            ta["training_log.csv"]
        );
    }
}

/// Copies into `dst` what a run killed after epoch `upto` leaves behind: the files written at
/// its start, the checkpoints up to `ckpt`, the stage snapshots reached by then, and the streamed
/// tables as `.partial` files holding rows up to `upto` (some written past the checkpoint).
fn simulate_crash_after(src: &Path, dst: &Path, upto: usize, ckpt: usize) {
    fn copy_dir(a: &Path, b: &Path) {
        std::fs::create_dir_all(b).unwrap();
        for f in std::fs::read_dir(a).unwrap() {
            let f = f.unwrap();
            if f.path().is_dir() {
                copy_dir(&f.path(), &b.join(f.file_name()));
            } else {
                std::fs::copy(f.path(), b.join(f.file_name())).unwrap();
            }
        }
    }
    for f in ["config.json", "train_pairs.csv"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    for e in std::fs::read_dir(src.join("checkpoints")).unwrap() {
        let e = e.unwrap();
        let n: usize = e.file_name().to_str().unwrap()[6..].parse().unwrap();
        if n <= ckpt {
            copy_dir(&e.path(), &dst.join("checkpoints").join(e.file_name()));
        }
    }
    if src.join("stages").is_dir() {
        for e in std::fs::read_dir(src.join("stages")).unwrap() {
            let e = e.unwrap();
            let epoch = std::fs::read_to_string(e.path().join("epoch.csv")).unwrap();
            let epoch: usize = epoch.lines().nth(1).unwrap().parse().unwrap();
            if epoch <= upto {
                copy_dir(&e.path(), &dst.join("stages").join(e.file_name()));
            }
        }
    }
    for table in ["training_log.csv", "progress.csv", "accuracy_grids.csv"] {
        let text = std::fs::read_to_string(src.join(table)).unwrap();
        let mut lines = text.lines();
        let mut kept = format!("{}\n", lines.next().unwrap());
        for l in lines {
            let e: usize = l.split(',').next().unwrap().parse().unwrap();
            if e <= upto {
                kept.push_str(l);
                kept.push('\n');
            }
        }
        std::fs::write(dst.join(format!("{table}.partial")), kept).unwrap();
    }
}

/// Kill a run after epoch 75 (checkpoint at 60), resume it, and obtain exactly the files of the
/// run that never stopped.
#[test]
fn resume_reproduces_the_uninterrupted_run() {
    for (precision, opt) in [
        (Precision::F32, OptimizerConfig::adamw(0.5)),
        (Precision::F64, OptimizerConfig::Sgd { weight_decay: 0.01 }),
    ] {
        let mut c = small(7);
        c.precision = precision;
        c.optimizer = opt;
        c.train_frac = 0.7;
        c.record.grid_epochs = vec![10, 70, 100];
        let full = tempfile::tempdir().unwrap();
        run_into(&c, full.path());
        let cut = tempfile::tempdir().unwrap();
        let (src, dst) = (full.path(), cut.path());
        simulate_crash_after(src, dst, 75, 60);
        train::resume(dst, None, Progress::Quiet, BackendKind::Cpu, None).unwrap();
        assert_eq!(read_tree(src), read_tree(dst), "{precision:?}");
    }
}

#[test]
fn output_folder_with_a_run_is_refused_unless_forced() {
    let c = small(5);
    let d = tempfile::tempdir().unwrap();
    run_into(&c, d.path());
    let before = read_tree(d.path());
    let e = train::run(
        &c,
        &RunOptions {
            out: d.path().to_path_buf(),
            force: false,
            progress: Progress::Quiet,
            multi: None,
        },
        BackendKind::Cpu,
    )
    .unwrap_err();
    assert!(e.to_string().contains("--force"), "{e}");
    assert_eq!(read_tree(d.path()), before, "nothing touched");
    train::run(
        &c,
        &RunOptions {
            out: d.path().to_path_buf(),
            force: true,
            progress: Progress::Quiet,
            multi: None,
        },
        BackendKind::Cpu,
    )
    .unwrap();
}

/// A run whose loss blows up stops at the epoch where it became non-finite, says so, and keeps
/// its log (with that row) and the checkpoints written before.
#[test]
fn divergence_stops_and_keeps_what_was_written() {
    let mut c = small(7);
    c.activation = Activation::Quad;
    c.optimizer = OptimizerConfig::Sgd { weight_decay: 0.0 };
    c.schedule = Schedule::Constant;
    c.init = Init::Random { scale: 3.0 };
    c.lr = 50.0;
    c.checkpoint_every = 1;
    let d = tempfile::tempdir().unwrap();
    let e = train::run(
        &c,
        &RunOptions {
            out: d.path().to_path_buf(),
            force: false,
            progress: Progress::Quiet,
            multi: None,
        },
        BackendKind::Cpu,
    )
    .unwrap_err();
    let msg = e.to_string();
    let modadd::Error::Diverged { epoch, .. } = e else {
        panic!("expected divergence, got {msg}");
    };
    assert!(msg.contains(&format!("diverged at epoch {epoch}")));
    let log = std::fs::read_to_string(d.path().join("training_log.csv")).unwrap();
    assert_eq!(log.lines().count(), epoch + 2, "header + rows 0..=epoch");
    let last = log.lines().last().unwrap().to_ascii_lowercase();
    assert!(last.contains("nan") || last.contains("inf"), "{last}");
    assert!(!d.path().join("training_log.csv.partial").exists());
    assert!(d.path().join("manifest.csv").exists());
    if epoch > 0 {
        assert!(d.path().join("checkpoints/epoch_000000/W_in.npy").exists());
    }
}

#[test]
fn config_validation_names_the_bad_value() {
    type Edit = Box<dyn Fn(&mut TrainConfig)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|c| c.p = 8), "p = 8"),
        (Box::new(|c| c.p = 1), "p = 1"),
        (Box::new(|c| c.width = 0), "M = 0"),
        (Box::new(|c| c.lr = f64::NAN), "learning rate = NaN"),
        (Box::new(|c| c.lr = 0.0), "learning rate = 0"),
        (Box::new(|c| c.lr = -1e-3), "learning rate = -0.001"),
        (
            Box::new(|c| c.optimizer = OptimizerConfig::adamw(-0.5)),
            "weight decay = -0.5",
        ),
        (Box::new(|c| c.train_frac = 0.0), "train fraction = 0"),
        (Box::new(|c| c.train_frac = 1.2), "train fraction = 1.2"),
    ];
    for (f, want) in cases {
        let mut c = small(7);
        f(&mut c);
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains(want), "'{e}' should contain '{want}'");
    }
}
