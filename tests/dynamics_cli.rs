//! Claim: `modadd ode` and `modadd lottery` write tidy, manifest-listed, byte-identical CSV and
//! reject bad input with exit status 2 and one line.

use assert_cmd::Command;
use modadd::formats::weights::write_weight_folder;
use modadd::numerics::init::Init;
use modadd::numerics::network::{Network, Tying};

fn modadd() -> Command {
    Command::cargo_bin("modadd").unwrap()
}

#[test]
fn ode_writes_trajectories_and_contour_identically_twice() {
    let dir = tempfile::tempdir().unwrap();
    let run = |out: &std::path::Path| {
        modadd()
            .args([
                "ode",
                "--p",
                "11",
                "--alpha0",
                "0.01,0.02",
                "--d0",
                "0,1.5,3",
                "--horizon",
                "2",
                "--points",
                "4",
            ])
            .args([
                "--contour",
                "--contour-magnitudes",
                "0.01,0.02,3",
                "--contour-d",
                "4",
                "--out",
            ])
            .arg(out)
            .assert()
            .success();
    };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run(&a);
    run(&b);
    for f in ["trajectories.csv", "contour.csv", "manifest.csv"] {
        assert_eq!(
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
            "{f}"
        );
    }
    let t = std::fs::read_to_string(a.join("trajectories.csv")).unwrap();
    let mut lines = t.lines();
    assert_eq!(
        lines.next().unwrap(),
        "run,alpha0,beta0,d0,t,alpha,beta,phi,psi,d"
    );
    // 6 starts x 5 output times, none capped at this horizon.
    assert_eq!(lines.clone().count(), 30);
    // The end point is exactly the horizon.
    assert!(
        lines
            .clone()
            .filter(|l| l.split(',').nth(4) == Some("2"))
            .count()
            == 6
    );
    let c = std::fs::read_to_string(a.join("contour.csv")).unwrap();
    assert_eq!(c.lines().count(), 1 + 3 * 4);
    let m = std::fs::read_to_string(a.join("manifest.csv")).unwrap();
    assert!(m.contains("contour.csv,12,") && m.contains("trajectories.csv,30,"));
}

#[test]
fn lottery_scores_predictions_against_final_weights() {
    let dir = tempfile::tempdir().unwrap();
    let net: Network<f64> =
        Network::init(11, 8, Init::Random { scale: 0.1 }, Tying::Tied, 1).unwrap();
    write_weight_folder(&dir.path().join("init"), &net).unwrap();
    let out = dir.path().join("lot");
    // Scoring the initial weights against themselves: a valid run with known shape.
    modadd()
        .args(["lottery", "--init-weights"])
        .arg(dir.path().join("init"))
        .arg("--final-weights")
        .arg(dir.path().join("init"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let p = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert_eq!(
        p.lines().next().unwrap(),
        "neuron,by_misalignment,min_abs_d,by_ode,ode_time,final_winner"
    );
    assert_eq!(p.lines().count(), 9);
    let a = std::fs::read_to_string(out.join("accuracy.csv")).unwrap();
    assert!(a.starts_with("rule,accuracy\nsmallest_misalignment,"));
}

#[test]
fn bad_input_exits_2_with_one_line() {
    for args in [
        vec!["ode", "--p", "4"],
        vec!["ode", "--alpha0=-0.1"],
        vec!["ode", "--loss", "median"],
        vec!["ode", "--contour", "--contour-magnitudes", "0.01,0.02"],
        vec!["ode", "--horizon", "0"],
    ] {
        let out = modadd().args(&args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim().lines().count(),
            1,
            "{args:?}"
        );
    }
}
