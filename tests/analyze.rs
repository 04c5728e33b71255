//! The analysis pipeline (`modadd::analysis`, `modadd analyze`): tidy CSVs with a manifest,
//! numbers that read back, byte-identical re-runs, and typed errors. A diversified Quad network
//! is the fixture, since every number it should give is known in closed form.

use assert_cmd::Command;
use modadd::formats::weights::write_weight_folder;
use modadd::numerics::activation::Activation;
use modadd::numerics::init::random_phase_offsets;
use modadd::numerics::network::Network;
use modadd::pipelines::analyze::training_activation_near;
use modadd::science::analysis::analyze;
use modadd::science::analysis::export::analyze_to_dir;
use std::path::Path;

/// Tolerance for closed-form values read from an f64 pipeline (sums of at most p M terms).
const CLOSE: f64 = 1e-10;

fn diversified(p: usize, n: usize) -> Network<f64> {
    let offsets = random_phase_offsets((p - 1) / 2, 11);
    Network::diversified(p, n, 0.8, 1.3, &offsets).unwrap()
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

#[test]
fn files_manifest_and_closed_form_numbers() {
    let (p, n) = (11, 3);
    let net = diversified(p, n);
    let dir = tempfile::tempdir().unwrap();
    let s = analyze_to_dir(&net, Activation::Quad, dir.path(), false).unwrap();
    let m = n * (p - 1) / 2;
    assert_eq!(s.get("accuracy"), Some(1.0));
    assert!((s.get("ipr").unwrap() - 1.0).abs() < CLOSE);
    assert!(s.get("mean_abs_sin_d").unwrap() < CLOSE);
    assert_eq!(s.get("frequencies_used"), Some(5.0));
    assert!(s.get("moment_2").unwrap() < CLOSE && s.get("moment_4").unwrap() < CLOSE);
    assert_eq!(s.get("three_peak_fraction"), Some(1.0));
    assert!((s.get("spurious_ratio").unwrap() - 0.5).abs() < CLOSE);

    let expect = [
        ("neurons.csv", m),
        ("spectrum.csv", 2 * m * (p + 1) / 2),
        ("frequency_groups.csv", (p - 1) / 2),
        ("harmonics.csv", 2 * m * 4),
        ("logits.csv", p * p * p),
        ("swaps.csv", Activation::ALL.len()),
    ];
    let (mh, mrows) = read_csv(&dir.path().join("manifest.csv"));
    assert_eq!(mh, ["file", "rows", "description"]);
    for (file, rows) in expect {
        let (h, r) = read_csv(&dir.path().join(file));
        assert_eq!(r.len(), rows, "{file}");
        assert!(h.iter().all(|c| c
            .chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')));
        let entry = mrows.iter().find(|e| e[0] == file).expect(file);
        assert_eq!(entry[1], rows.to_string());
    }
    assert!(mrows.iter().any(|e| e[0] == "summary.csv"));
    // summary.csv reads back to the returned summary; a single-frequency network has no harmonics.
    let (h, rows) = read_csv(&dir.path().join("summary.csv"));
    assert_eq!(h, ["metric", "value", "description"]);
    assert_eq!(rows.len(), s.metrics.len());
    for r in &rows {
        assert_eq!(
            r[1].parse::<f64>().unwrap(),
            s.get(&r[0]).unwrap(),
            "{}",
            r[0]
        );
        assert!(!r[2].is_empty());
    }
    for r in 2..=5 {
        assert!(s.get(&format!("harmonic_in_r{r}")).unwrap() < CLOSE);
        assert!(s.get(&format!("harmonic_out_r{r}")).unwrap() < CLOSE);
    }

    // neurons.csv reads back to the analysis' numbers.
    let a = analyze(&net, Activation::Quad);
    let (h, rows) = read_csv(&dir.path().join("neurons.csv"));
    let col = |name: &str| h.iter().position(|c| c == name).unwrap();
    for (f, r) in a.features.iter().zip(&rows) {
        assert_eq!(r[col("freq")].parse::<usize>().unwrap(), f.freq);
        assert_eq!(r[col("alpha")].parse::<f64>().unwrap(), f.alpha);
        assert_eq!(r[col("d")].parse::<f64>().unwrap(), f.misalignment);
        assert!((f.alpha - 0.8).abs() < CLOSE && (f.beta - 1.3).abs() < CLOSE);
    }
    // Logits read back to Proposition 1.
    let (_, rows) = read_csv(&dir.path().join("logits.csv"));
    for r in rows.iter().step_by(37) {
        let (x, y, j): (usize, usize, usize) = (
            r[0].parse().unwrap(),
            r[1].parse().unwrap(),
            r[2].parse().unwrap(),
        );
        let want = modadd::science::mechanism::proposition1_logits(p, n, 0.8, 1.3, x, y)[j];
        assert!((r[3].parse::<f64>().unwrap() - want).abs() < CLOSE);
    }
}

#[test]
fn rerun_is_byte_identical_and_needs_force() {
    let net = diversified(7, 4);
    let dir = tempfile::tempdir().unwrap();
    analyze_to_dir(&net, Activation::Quad, dir.path(), false).unwrap();
    let files = [
        "neurons.csv",
        "spectrum.csv",
        "summary.csv",
        "manifest.csv",
        "harmonics.csv",
    ];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(dir.path().join(f)).unwrap())
        .collect();
    let err = analyze_to_dir(&net, Activation::Quad, dir.path(), false).unwrap_err();
    assert!(matches!(err, modadd::Error::OutputExists { .. }));
    analyze_to_dir(&net, Activation::Quad, dir.path(), true).unwrap();
    for (f, b) in files.iter().zip(before) {
        assert_eq!(std::fs::read(dir.path().join(f)).unwrap(), b, "{f}");
    }
}

#[test]
fn activation_is_found_in_a_run_config() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir_all(run.join("final")).unwrap();
    assert_eq!(training_activation_near(&run.join("final")).unwrap(), None);
    std::fs::write(run.join("config.json"), r#"{"activation": "relu", "p": 7}"#).unwrap();
    assert_eq!(
        training_activation_near(&run.join("final")).unwrap(),
        Some(Activation::Relu)
    );
    assert_eq!(
        training_activation_near(&run).unwrap(),
        Some(Activation::Relu)
    );
    std::fs::write(run.join("config.json"), r#"{"activation": "tanh"}"#).unwrap();
    assert!(training_activation_near(&run.join("final")).is_err());
}

#[test]
fn cli_analyze_writes_and_reports_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w");
    write_weight_folder(&w, &diversified(7, 3)).unwrap();
    let out = dir.path().join("a");
    let ok = Command::cargo_bin("modadd")
        .unwrap()
        .args([
            "analyze",
            "--weights",
            w.to_str().unwrap(),
            "--activation",
            "quad",
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(out.join("summary.csv").exists() && out.join("manifest.csv").exists());
    // No activation and no config.json: exit 2, one line.
    let e = Command::cargo_bin("modadd")
        .unwrap()
        .args([
            "analyze",
            "--weights",
            w.to_str().unwrap(),
            "--out",
            dir.path().join("b").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(e.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&e.stderr).trim().lines().count(), 1);
    // Bad activation name and missing weights.
    for args in [
        vec!["--weights", w.to_str().unwrap(), "--activation", "tanh"],
        vec!["--weights", "/nonexistent/w", "--activation", "relu"],
    ] {
        let e = Command::cargo_bin("modadd")
            .unwrap()
            .arg("analyze")
            .args(args)
            .args(["--out", dir.path().join("c").to_str().unwrap()])
            .output()
            .unwrap();
        assert_ne!(e.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&e.stderr).trim().lines().count(), 1);
    }
}
