//! The untied model end to end through the command line: `modadd train --model untied --task
//! sub --loss mse` writes `W_in_y.csv`, and `modadd analyze` reads the task from the run's
//! config, reports the run's accuracy, and adds the `W_in_y` spectra and the closed-form
//! comparison; tied analyses keep their old columns and rows.

use assert_cmd::Command;
use modadd::formats::weights::{read_weight_folder, write_weight_folder};
use modadd::numerics::activation::Activation;
use modadd::numerics::network::Network;
use modadd::numerics::task::Task;
use modadd::pipelines::analyze::training_task_near;
use modadd::science::analysis::analyze_task;
use modadd::science::analysis::export::UNTIED_NEURON_COLUMNS;
use modadd::science::gromov::{accuracy, closed_form};
use std::path::Path;

/// Tolerance for closed-form values read back from f64 CSV (sums of at most p M terms).
const CLOSE: f64 = 1e-10;

fn modadd() -> Command {
    Command::cargo_bin("modadd").unwrap()
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().iter().map(String::from).collect();
    let rows = r
        .records()
        .map(|x| x.unwrap().iter().map(String::from).collect())
        .collect();
    (h, rows)
}

/// `key,value` or `metric,value,...` files as (name, value) pairs.
fn metric(path: &Path, name: &str) -> Option<f64> {
    read_csv(path)
        .1
        .into_iter()
        .find(|r| r[0] == name)
        .map(|r| r[1].parse().unwrap())
}

fn run_ok(args: &[&str]) -> String {
    let out = modadd().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// (Over 80 lines: one CLI scenario, train then analyze twice, whose later steps read the files
/// the earlier ones wrote.)
#[test]
fn untied_sub_mse_trains_and_analyzes() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    let (p, m) = (11usize, 24usize);
    run_ok(&[
        "train",
        "--preset",
        "quad_random",
        "--p",
        "11",
        "--width",
        "24",
        "--epochs",
        "60",
        "--lr",
        "1e-2",
        "--model",
        "untied",
        "--task",
        "sub",
        "--loss",
        "mse",
        "--checkpoint-every",
        "0",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    // The weight folder carries W_in_y (M x p); the config records the task and the tying.
    let net = read_weight_folder(&run.join("final")).unwrap();
    assert_eq!(net.w_in_y.as_ref().map(|w| w.shape()), Some((m, p)));
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["tying"], "untied");
    assert_eq!(cfg["loss"], "mse");
    assert_eq!(
        training_task_near(&run.join("final")).unwrap(),
        Some(Task::Sub)
    );

    // Analyze without --task: the task (sub) and activation come from config.json, and the
    // accuracy equals the run's final accuracy (all pairs: train fraction 1).
    let out = d.path().join("analysis");
    run_ok(&[
        "analyze",
        "--weights",
        run.join("final").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let acc = metric(&out.join("summary.csv"), "accuracy").unwrap();
    let final_acc = metric(&run.join("summary.csv"), "final_test_acc").unwrap();
    assert_eq!(acc, final_acc);
    // The same weights judged on addition score differently (the task matters).
    let out_add = d.path().join("analysis_add");
    run_ok(&[
        "analyze",
        "--weights",
        run.join("final").to_str().unwrap(),
        "--task",
        "add",
        "--out",
        out_add.to_str().unwrap(),
    ]);
    assert_ne!(
        metric(&out_add.join("summary.csv"), "accuracy").unwrap(),
        acc
    );

    // W_in_y's spectra and the untied columns.
    let (_, spec) = read_csv(&out.join("spectrum.csv"));
    let k1 = (p - 1) / 2 + 1; // the constant row and k = 1..K
    assert_eq!(spec.iter().filter(|r| r[0] == "in_y").count(), m * k1);
    assert_eq!(spec.len(), 3 * m * k1);
    let (h, rows) = read_csv(&out.join("neurons.csv"));
    assert_eq!(h[16..], UNTIED_NEURON_COLUMNS);
    assert_eq!(rows.len(), m);
    for r in &rows {
        let ky: usize = r[16].parse().unwrap();
        assert!((1..=(p - 1) / 2).contains(&ky));
    }
    // Every summary value is the library's analysis of the same weights for the sub task,
    // read back exactly (shortest round-trip decimals; NaN where undefined).
    let want = analyze_task(&net, Activation::Quad, Task::Sub).summary();
    let (_, rows) = read_csv(&out.join("summary.csv"));
    assert_eq!(rows.len(), want.metrics.len());
    for (r, (name, v, _)) in rows.iter().zip(&want.metrics) {
        assert_eq!(r[0], *name);
        let got: f64 = r[1].parse().unwrap();
        assert!(
            got == *v || (got.is_nan() && v.is_nan()),
            "{name}: {got} vs {v}"
        );
    }
    for name in [
        "ipr_in_y",
        "closed_form_similarity",
        "closed_form_phase_fraction",
    ] {
        assert!(want.get(name).is_some(), "{name}");
    }
}

#[test]
fn closed_form_weights_analyze_as_closed_form() {
    let d = tempfile::tempdir().unwrap();
    let (p, m) = (13, 200);
    let task = Task::Linear { a: 2, b: 5 };
    let net: Network<f64> = closed_form(p, m, task, 4).unwrap();
    let w = d.path().join("w");
    write_weight_folder(&w, &net).unwrap();
    let out = d.path().join("a");
    run_ok(&[
        "analyze",
        "--weights",
        w.to_str().unwrap(),
        "--activation",
        "quad",
        "--task",
        "linear:2,5",
        "--out",
        out.to_str().unwrap(),
    ]);
    let s = out.join("summary.csv");
    assert_eq!(metric(&s, "accuracy"), Some(1.0));
    for name in [
        "closed_form_phase_fraction",
        "closed_form_frequency_fraction",
        "closed_form_similarity",
        "closed_form_mean_cos_delta",
        "ipr_in_y",
    ] {
        let v = metric(&s, name).unwrap();
        assert!((v - 1.0).abs() < CLOSE, "{name} {v}");
    }
    let (_, rows) = read_csv(&out.join("neurons.csv"));
    for r in &rows {
        assert_eq!(r[25], "true");
        assert!(r[24].parse::<f64>().unwrap().abs() < CLOSE);
    }
}

#[test]
fn tied_analysis_has_no_untied_columns_or_rows() {
    let d = tempfile::tempdir().unwrap();
    let run = d.path().join("run");
    run_ok(&[
        "train",
        "--preset",
        "quad_random",
        "--p",
        "7",
        "--width",
        "8",
        "--epochs",
        "5",
        "--checkpoint-every",
        "0",
        "--quiet",
        "--out",
        run.to_str().unwrap(),
    ]);
    let out = d.path().join("a");
    run_ok(&[
        "analyze",
        "--weights",
        run.join("final").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let (h, _) = read_csv(&out.join("neurons.csv"));
    assert_eq!(h.len(), 16);
    let (_, spec) = read_csv(&out.join("spectrum.csv"));
    assert!(spec.iter().all(|r| r[0] == "in" || r[0] == "out"));
    assert_eq!(metric(&out.join("summary.csv"), "ipr_in_y"), None);
}

#[test]
fn bad_task_exits_2_with_one_line() {
    let d = tempfile::tempdir().unwrap();
    let net: Network<f64> = closed_form(7, 4, Task::Add, 0).unwrap();
    let w = d.path().join("w");
    write_weight_folder(&w, &net).unwrap();
    let out = modadd()
        .args([
            "analyze",
            "--weights",
            w.to_str().unwrap(),
            "--activation",
            "quad",
            "--task",
            "mul",
            "--out",
            d.path().join("a").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("mul") && err.contains("linear:A,B"), "{err}");
}

#[test]
fn closed_form_command_writes_weights_neurons_and_width_scan() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("cf");
    let (p, n) = (17usize, 150usize);
    let stdout = run_ok(&[
        "closed-form",
        "--p",
        "17",
        "--width",
        "150",
        "--task",
        "linear:3,5",
        "--seed",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(stdout.contains("accuracy"), "{stdout}");
    let task = Task::Linear { a: 3, b: 5 };
    let net = read_weight_folder(&out.join("weights")).unwrap();
    let want: Network<f64> = closed_form(p, n, task, 2).unwrap();
    assert_eq!(net, want); // shortest round-trip CSV reads back exactly
    let (h, rows) = read_csv(&out.join("accuracy_by_width.csv"));
    assert_eq!(h, ["width", "accuracy"]);
    assert_eq!(rows.len(), n);
    let acc_n: f64 = rows[n - 1][1].parse().unwrap();
    assert_eq!(acc_n, accuracy(&want, Activation::Quad, task));
    let (h, rows) = read_csv(&out.join("neurons.csv"));
    assert_eq!(h, ["m", "k", "phi", "chi"]);
    assert_eq!(rows.len(), n);
    let (_, man) = read_csv(&out.join("manifest.csv"));
    assert_eq!(man.len(), 3);
    // Refuses to overwrite; byte-identical with --force.
    let before = std::fs::read(out.join("neurons.csv")).unwrap();
    let again = modadd()
        .args([
            "closed-form",
            "--p",
            "17",
            "--width",
            "150",
            "--task",
            "linear:3,5",
        ])
        .args(["--seed", "2", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    run_ok(&[
        "closed-form",
        "--p",
        "17",
        "--width",
        "150",
        "--task",
        "linear:3,5",
        "--seed",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(std::fs::read(out.join("neurons.csv")).unwrap(), before);
    // Bad modulus: exit 2, one line.
    let bad = modadd()
        .args(["closed-form", "--p", "16", "--out"])
        .arg(d.path().join("bad"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("16"));
}
