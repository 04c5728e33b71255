//! The `modadd` command line: bad input gives one clear line and exit status 2 (no
//! backtrace); failed runs exit 1; `train` and `eval` write what they promise.

use assert_cmd::Command;
use std::path::Path;

fn modadd() -> Command {
    Command::cargo_bin("modadd").unwrap()
}

/// Runs modadd with `args`, expects exit status `code`, and returns stderr.
fn fails(args: &[&str], code: i32) -> String {
    let out = modadd().args(args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "args {args:?}: stderr {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    err
}

const SMALL: [&str; 8] = [
    "--p",
    "5",
    "--width",
    "8",
    "--epochs",
    "20",
    "--quiet",
    "--checkpoint-every",
];

fn train_small(out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["train"];
    args.extend_from_slice(&SMALL);
    args.push("10");
    args.extend_from_slice(&["--out", out.to_str().unwrap()]);
    args.extend_from_slice(extra);
    modadd().args(&args).output().unwrap()
}

#[test]
fn bad_values_exit_2_with_one_line_naming_the_value() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let o = out.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["train", "--p", "8", "--out", o], "p = 8"),
        (&["train", "--p", "1", "--out", o], "p = 1"),
        (&["train", "--width", "0", "--out", o], "M = 0"),
        (&["train", "--lr", "NaN", "--out", o], "learning rate = NaN"),
        (&["train", "--lr", "0", "--out", o], "learning rate = 0"),
        (&["train", "--lr", "-1", "--out", o], "learning rate = -1"),
        (
            &["train", "--weight-decay", "-2", "--out", o],
            "weight decay = -2",
        ),
        (
            &["train", "--train-frac", "0", "--out", o],
            "train fraction = 0",
        ),
        (
            &["train", "--train-frac", "1.5", "--out", o],
            "train fraction = 1.5",
        ),
        (
            &["train", "--preset", "nope", "--out", o],
            "unknown preset 'nope'",
        ),
        (
            &["train", "--activation", "tanh", "--out", o],
            "unknown activation 'tanh'",
        ),
        (
            &["train", "--loss", "hinge", "--out", o],
            "unknown loss 'hinge'",
        ),
        (
            &["train", "--optimizer", "lbfgs", "--out", o],
            "unknown optimizer 'lbfgs'",
        ),
        (
            &["train", "--backend", "tpu", "--out", o],
            "unknown backend 'tpu'",
        ),
        (
            &["train", "--train-pairs", "/no/such/pairs.csv", "--out", o],
            "/no/such/pairs.csv",
        ),
        (
            &["eval", "--weights", "/no/such/dir", "--activation", "relu"],
            "/no/such/dir",
        ),
    ];
    for (args, want) in cases {
        let err = fails(args, 2);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: '{err}' lacks '{want}'");
    }
    assert!(!out.exists(), "a refused run writes nothing");
}

#[test]
fn weight_file_errors_name_file_line_and_shape() {
    let d = tempfile::tempdir().unwrap();
    let w = d.path().join("w");
    std::fs::create_dir(&w).unwrap();
    std::fs::write(w.join("W_in.csv"), "0.1,0.2,0.3\n0.4,0.5,0.6\n").unwrap();
    std::fs::write(w.join("W_out.csv"), "1,2\n3,4\n5,x6\n").unwrap();
    let ws = w.to_str().unwrap();
    let err = fails(&["eval", "--weights", ws, "--activation", "relu"], 2);
    assert!(err.contains("W_out.csv:3") && err.contains("'x6'"), "{err}");
    std::fs::write(w.join("W_out.csv"), "1,2,3\n3,4,5\n").unwrap();
    let err = fails(&["eval", "--weights", ws, "--activation", "relu"], 2);
    assert!(
        err.contains("W_out.csv") && err.contains("2 x 3") && err.contains("3 x 2"),
        "{err}"
    );
    std::fs::remove_file(w.join("W_out.csv")).unwrap();
    let err = fails(&["eval", "--weights", ws, "--activation", "relu"], 2);
    assert!(err.contains("W_out.csv"), "{err}");
    std::fs::write(w.join("W_in.csv"), "0.1,0.2\n").unwrap();
    std::fs::write(w.join("W_out.csv"), "1\n2\n").unwrap();
    let err = fails(&["eval", "--weights", ws, "--activation", "relu"], 2);
    assert!(err.contains("p odd"), "{err}");
}

#[test]
fn train_writes_a_complete_run_and_refuses_to_overwrite() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let o = train_small(&out, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in [
        "config.json",
        "train_pairs.csv",
        "training_log.csv",
        "summary.csv",
        "manifest.csv",
        "final/W_in.csv",
        "final/W_out.csv",
        "checkpoints/epoch_000010/W_in.npy",
        "checkpoints/epoch_000010/adam_m_0.npy",
    ] {
        assert!(out.join(f).exists(), "missing {f}");
    }
    let log = std::fs::read_to_string(out.join("training_log.csv")).unwrap();
    assert_eq!(log.lines().count(), 21);
    assert!(
        log.starts_with("epoch,lr,train_loss,train_acc,test_loss,test_acc,grad_norm,param_norm\n")
    );
    let manifest = std::fs::read_to_string(out.join("manifest.csv")).unwrap();
    assert!(manifest.contains("training_log.csv,20,"));
    let before = std::fs::read(out.join("training_log.csv")).unwrap();
    let err = fails(
        &[
            "train",
            "--p",
            "5",
            "--width",
            "8",
            "--epochs",
            "5",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ],
        2,
    );
    assert!(
        err.contains("already holds a run") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::read(out.join("training_log.csv")).unwrap(), before);
    let o = modadd()
        .args([
            "train", "--p", "5", "--width", "8", "--epochs", "7", "--quiet", "--force",
        ])
        .args(["--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        !out.join("checkpoints/epoch_000010").exists(),
        "old checkpoints removed"
    );
    let log = std::fs::read_to_string(out.join("training_log.csv")).unwrap();
    assert_eq!(log.lines().count(), 8);
}

#[test]
fn diverging_run_exits_1_and_says_when() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    let o = train_small(
        &out,
        &[
            "--activation",
            "quad",
            "--optimizer",
            "sgd",
            "--lr",
            "50",
            "--init-scale",
            "3",
            "--warmup",
            "0",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("diverged at epoch"), "{err}");
    assert!(out.join("training_log.csv").exists());
}

/// `eval --out` writes the gradient in the weight format; it equals the library's naive
/// reference gradient of the same weights (written at shortest round-trip, so read back
/// exactly up to the reference's summation order).
#[test]
fn eval_writes_loss_accuracy_and_gradient() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    assert!(train_small(&run, &[]).status.success());
    let ev = d.path().join("ev");
    let o = modadd()
        .args([
            "eval",
            "--weights",
            run.join("final").to_str().unwrap(),
            "--activation",
            "relu",
        ])
        .args(["--out", ev.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("loss") && stdout.contains("accuracy"),
        "{stdout}"
    );
    let csv = std::fs::read_to_string(ev.join("eval.csv")).unwrap();
    assert!(csv.starts_with(
        "activation,loss_name,precision,pairs,loss,accuracy,grad_norm\nrelu,ce-mean,f64,25,"
    ));
    let net = modadd::formats::weights::read_weight_folder(&run.join("final")).unwrap();
    let g = modadd::formats::weights::read_weight_folder(&ev.join("grad")).unwrap();
    let pairs = modadd::numerics::task::all_pairs(5, modadd::numerics::task::Task::Add);
    let (_, r) = modadd::numerics::grad::reference_loss_and_grad(
        &net,
        modadd::numerics::activation::Activation::Relu,
        modadd::numerics::loss::Loss::CeMean,
        &pairs,
    );
    for (a, b) in [(&g.w_in, &r.w_in), (&g.w_out, &r.w_out)] {
        let scale = b.amax();
        assert!((a - b).amax() <= 1e-12 * scale, "{}", (a - b).amax());
    }
    // Re-running into the same folder is refused without --force.
    let o = modadd()
        .args([
            "eval",
            "--weights",
            run.join("final").to_str().unwrap(),
            "--activation",
            "relu",
        ])
        .args(["--out", ev.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn training_on_an_explicit_split_reproduces_the_seeded_run() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a");
    let b = d.path().join("b");
    assert!(train_small(&a, &["--train-frac", "0.6"]).status.success());
    let pairs = a.join("train_pairs.csv");
    assert!(train_small(&b, &["--train-pairs", pairs.to_str().unwrap()])
        .status
        .success());
    assert_eq!(
        std::fs::read(a.join("training_log.csv")).unwrap(),
        std::fs::read(b.join("training_log.csv")).unwrap()
    );
}

/// A 20-epoch run resumed to 30 epochs writes the same log, byte for byte, as a run of 30
/// epochs from the start.
#[test]
fn resume_via_cli_continues_to_more_epochs() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("run");
    assert!(train_small(&out, &[]).status.success());
    let whole = d.path().join("whole");
    let mut args = SMALL.to_vec();
    args[5] = "30";
    let o = modadd()
        .arg("train")
        .args(&args)
        .args(["10", "--out", whole.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = modadd()
        .args([
            "train",
            "--resume",
            "--epochs",
            "30",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let log = std::fs::read_to_string(out.join("training_log.csv")).unwrap();
    assert_eq!(log.lines().count(), 31);
    assert_eq!(
        log,
        std::fs::read_to_string(whole.join("training_log.csv")).unwrap()
    );
}
