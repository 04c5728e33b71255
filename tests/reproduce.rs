//! `modadd reproduce`: a complete, resumable, shardable sweep at a tiny scale.

mod common;
use assert_cmd::Command;
use common::read_tree;
use modadd::pipelines::plot::{plot, PlotOptions};
use modadd::pipelines::reproduce::{parse_moduli, shard_moduli, Shard};
use std::path::Path;

fn reproduce(out: &Path, extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("modadd")
        .unwrap()
        .args([
            "reproduce",
            "--epochs",
            "60",
            "--width",
            "16",
            "--quiet",
            "--out",
        ])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn sweep_writes_every_figure_and_resumes() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("sweep");
    let o = reproduce(&out, &["--p-range", "5..7"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for p in ["p_005", "p_007"] {
        let figures = std::fs::read_to_string(out.join(p).join("figures.csv")).unwrap();
        for line in figures.lines().skip(1) {
            let path = line.split(',').nth(1).unwrap();
            assert!(
                out.join(p).join(path).exists(),
                "{p}: {path} listed in figures.csv is missing"
            );
        }
        assert!(out.join(p).join("manifest.csv").exists());
        // The figures reproduce drew from its own outputs: one per row of figures.csv, none
        // skipped, and the same files a fresh `plot` of the folder draws.
        let again = d.path().join(format!("again_{p}"));
        let r = plot(
            &out.join(p),
            &PlotOptions {
                out: Some(again.clone()),
                force: false,
            },
        )
        .unwrap();
        assert!(r.skipped.is_empty(), "{p}: rows not drawn: {:?}", r.skipped);
        assert_eq!(r.figures.len(), figures.lines().skip(1).count(), "{p}");
        let drawn = read_tree(&out.join(p).join("figures"));
        assert_eq!(drawn.len(), r.figures.len() + 1, "{p}: SVGs and index.html");
        assert!(
            drawn == read_tree(&again),
            "{p}: reproduce's figures differ from plot's"
        );
    }
    let before = read_tree(&out);
    // A re-run skips everything and changes nothing.
    let o = reproduce(&out, &["--p-range", "5..7"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("0 units run"), "{stdout}");
    assert_eq!(read_tree(&out), before);
    // Interrupt: drop an analysis and the end of a training run (what a kill before its
    // manifest leaves); a re-run redoes exactly that and reproduces the same bytes.
    std::fs::remove_file(out.join("p_007/analysis/standard/manifest.csv")).unwrap();
    std::fs::remove_dir_all(out.join("p_005/train/quad_random/final")).unwrap();
    std::fs::remove_file(out.join("p_005/train/quad_random/summary.csv")).unwrap();
    std::fs::remove_file(out.join("p_005/train/quad_random/manifest.csv")).unwrap();
    let o = reproduce(&out, &["--p-range", "5..7"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("2 units run"), "{stdout}");
    assert_eq!(read_tree(&out), before);
}

#[test]
fn shards_partition_the_range() {
    let ps = parse_moduli("3..21").unwrap();
    assert_eq!(ps, vec![3, 5, 7, 9, 11, 13, 15, 17, 19, 21]);
    let mut all = Vec::new();
    for i in 0..3 {
        all.extend(shard_moduli(&ps, Shard { index: i, count: 3 }));
    }
    all.sort();
    assert_eq!(all, ps);
    assert_eq!(
        shard_moduli(&ps, Shard::parse("1/4").unwrap()),
        vec![5, 13, 21]
    );
    for bad in ["4/4", "1/0", "x/2", "3"] {
        assert!(Shard::parse(bad).is_err(), "{bad}");
    }
    for bad in ["9..3", "a..b", "2..2", "7"] {
        assert!(parse_moduli(bad).is_err(), "{bad}");
    }
}

#[test]
fn bad_sweep_arguments_exit_2() {
    let d = tempfile::tempdir().unwrap();
    for args in [
        &["--p", "8"][..],
        &["--shard", "2/2"],
        &["--p-range", "9..3"],
    ] {
        let o = reproduce(&d.path().join("x"), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

/// `modadd verify --quick` checks the claims it covers at small sizes, all of which hold, and
/// writes the same table as CSV.
#[test]
fn verify_quick_passes_and_writes_its_table() {
    let d = tempfile::tempdir().unwrap();
    let o = Command::cargo_bin("modadd")
        .unwrap()
        .args(["verify", "--quick", "--out"])
        .arg(d.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}");
    let csv = std::fs::read_to_string(d.path().join("verify.csv")).unwrap();
    assert!(csv.starts_with("claim,setting,expected,measured,readable,bound,result\n"));
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert!(rows.len() >= 12, "{csv}");
    assert!(rows.iter().all(|r| r.ends_with(",agrees")), "{csv}");
    for claim in [
        "1. Prop 1",
        "2. Obs 4",
        "3. decoupled ODE",
        "4. phase alignment",
        "5. single frequency",
        "6. lottery",
    ] {
        assert!(csv.contains(claim), "{claim} missing");
    }
}

/// A quick check too short for the grokking run to cross a stage (`--epochs 2` at p = 23, the
/// smallest p with a grokking run): no `stages/` is written, and `reproduce` still finishes,
/// draws every other figure and says in the index why the stage-weights row has none (it used
/// to stop with an I/O error on the missing folder; a missing file of any other row still is
/// one, `tests/plot.rs`).
#[test]
fn a_run_too_short_for_the_stages_still_draws_the_rest() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("short");
    let o = Command::cargo_bin("modadd")
        .unwrap()
        .args([
            "reproduce",
            "--p",
            "23",
            "--epochs",
            "2",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let base = out.join("p_023");
    assert!(!base.join("train/grokking/stages").exists());
    let index = std::fs::read_to_string(base.join("figures/index.html")).unwrap();
    assert!(
        index.contains("<code>train/grokking/stages</code>: no stage boundary was reached"),
        "the index names the row without data"
    );
    let rows = std::fs::read_to_string(base.join("figures.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    let svgs = std::fs::read_dir(base.join("figures"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "svg"))
        .count();
    assert_eq!(svgs, rows - 1, "every row but the stages one is drawn");
}
