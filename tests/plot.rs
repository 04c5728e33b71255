//! `plot` on small fixture folders written here in the formats `modadd` writes (p = 5, 4 neurons):
//! every figure is drawn, parses as XML, and its marks match the CSV rows.

use modadd::pipelines::plot::{plot, FolderKind, PlotOptions};
use modadd::Error;
use std::f64::consts::PI;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const P: usize = 5;
const K: usize = 2;
const M: usize = 4;
const EPOCHS: usize = 30;

/// A small deterministic generator (values in [0, 1)).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn training_log(dir: &Path, r: &mut Lcg) {
    let mut s =
        "epoch,lr,train_loss,train_acc,test_loss,test_acc,grad_norm,param_norm\n".to_string();
    for e in 0..EPOCHS {
        let f = e as f64 / EPOCHS as f64;
        let _ = writeln!(
            s,
            "{e},0.001,{},{},{},{},{},{}",
            2.0 * (-3.0 * f).exp(),
            f,
            2.1 * (-2.0 * f).exp(),
            0.9 * f,
            0.01 + 0.01 * r.next(),
            1.0 + f
        );
    }
    write(&dir.join("training_log.csv"), &s);
    let mut s = "epoch,train_loss,train_acc,test_loss,test_acc,ipr,mean_abs_sin_d,param_norm,acc_train_common,acc_train_rare,acc_test_swap_in_train,acc_test_true\n".to_string();
    for e in 0..EPOCHS {
        let f = e as f64 / EPOCHS as f64;
        // The rare class has a gap at epoch 3 (an empty cell), the true-test class is empty.
        let rare = if e == 3 {
            String::new()
        } else {
            format!("{}", f * 0.8)
        };
        let _ = writeln!(
            s,
            "{e},1,{f},1,{f},{},{},{},{f},{rare},{},",
            0.2 + 0.7 * f,
            0.6 * (1.0 - f),
            1.0 + f,
            f * 0.5
        );
    }
    write(&dir.join("progress.csv"), &s);
    write(
        &dir.join("stages.csv"),
        "boundary,epoch,value\nstage1_end,10,\nstage2_end,,\nnorm_peak,20,1.7\nlast_epoch,29,\n",
    );
}

fn classes() -> Vec<&'static str> {
    (0..P * P)
        .map(|i| match i % 4 {
            0 | 1 => "train_common",
            2 => "train_rare",
            _ => {
                if i % 8 == 3 {
                    "test_swap_in_train"
                } else {
                    "test_true"
                }
            }
        })
        .collect()
}

fn grids(dir: &Path, r: &mut Lcg) {
    let mut s = "epoch,x,y,correct\n".to_string();
    for e in [0, 10] {
        for x in 0..P {
            for y in 0..P {
                let _ = writeln!(s, "{e},{x},{y},{}", u8::from(r.next() < 0.5));
            }
        }
    }
    write(&dir.join("accuracy_grids.csv"), &s);
    let mut s = "x,y,class\n".to_string();
    for (i, c) in classes().iter().enumerate() {
        let _ = writeln!(s, "{},{},{c}", i / P, i % P);
    }
    write(&dir.join("pair_classes.csv"), &s);
}

fn spectrum(path: &Path, r: &mut Lcg) {
    let mut s = "layer,m,k,magnitude,phase,cos_sum,sin_sum\n".to_string();
    for layer in ["in", "out"] {
        for m in 0..M {
            for k in 0..=K {
                let mag = if k == 1 + m % K { 1.0 } else { 0.1 * r.next() };
                let _ = writeln!(s, "{layer},{m},{k},{mag},0.5,0.1,0.2");
            }
        }
    }
    write(path, &s);
}

fn analysis(dir: &Path, r: &mut Lcg) {
    spectrum(&dir.join("spectrum.csv"), r);
    let mut s = "m,freq,freq_with_constant,alpha,phi,beta,psi,d,constant_in,constant_out,ipr_in,ipr_out,ipr_coef_in,ipr_coef_out,fit_residual_in,fit_residual_out\n".to_string();
    for m in 0..M {
        let phi = 2.0 * PI * r.next() - PI;
        let psi = 2.0 * PI * r.next() - PI;
        let _ = writeln!(
            s,
            "{m},{},{},0.3,{phi},0.3,{psi},0.1,0,0,0.9,0.9,0.5,0.5,0.1,0.1",
            1 + m % K,
            1 + m % K
        );
    }
    write(&dir.join("neurons.csv"), &s);
    let mut s = "k,neurons,moment_1,moment_2,moment_3,moment_4,a_mean,a_std,a_min,a_max,a_relative_spread\n".to_string();
    for k in 1..=K {
        let _ = writeln!(s, "{k},2,0.1,0.05,0.2,0.02,0.03,0.005,0.01,0.04,0.15");
    }
    write(&dir.join("frequency_groups.csv"), &s);
    let mut s = "x,y,j,logit\n".to_string();
    for x in 0..P {
        for y in 0..P {
            for j in 0..P {
                let v = if j == (x + y) % P { 5.0 } else { r.next() };
                let _ = writeln!(s, "{x},{y},{j},{v}");
            }
        }
    }
    write(&dir.join("logits.csv"), &s);
    let mut s = "m,layer,k_star,r,k,ratio\n".to_string();
    for m in 0..M {
        for layer in ["in", "out"] {
            for rr in 2..=5 {
                let _ = writeln!(
                    s,
                    "{m},{layer},1,{rr},{},{}",
                    (rr % P).min(P - rr % P),
                    0.3 * r.next() + 0.01
                );
            }
        }
    }
    write(&dir.join("harmonics.csv"), &s);
    write(
        &dir.join("swaps.csv"),
        "activation,even_part,accuracy,loss\nquad,true,1,0.1\nrelu,true,0.95,0.2\nidentity,false,0.2,2\ncube,false,0.21,2\n",
    );
    write(
        &dir.join("summary.csv"),
        "metric,value,description\np,5,modulus\n",
    );
}

fn stage_folder(dir: &Path, r: &mut Lcg) {
    let b = dir.join("stages/stage1_end");
    write(&b.join("epoch.csv"), "epoch\n10\n");
    spectrum(&b.join("analysis/spectrum.csv"), r);
}

fn ode(dir: &Path, r: &mut Lcg) {
    let mut s = "run,alpha0,beta0,d0,t,alpha,beta,phi,psi,d\n".to_string();
    for (run, d0) in [0.5, 2.0, PI].iter().enumerate() {
        for i in 0..10 {
            let t = i as f64 * 0.1;
            // The run from D0 = pi wraps to -pi halfway: the line must break there.
            let d = if *d0 == PI && i >= 5 {
                -PI + 0.01
            } else {
                d0 * (1.0 - t)
            };
            let _ = writeln!(
                s,
                "{run},0.01,0.01,{d0},{t},{},{},0,0,{d}",
                0.01 * (1.0 + t),
                0.01 * (1.0 + r.next())
            );
        }
    }
    write(&dir.join("trajectories.csv"), &s);
    let mut s = "magnitude,d0,beta,capped_at\n".to_string();
    for mag in [0.01, 0.015, 0.02] {
        for d0 in [0.0, 1.5, 3.0, 4.5] {
            let capped = if d0 == 0.0 { "1.5" } else { "" };
            let _ = writeln!(s, "{mag},{d0},{},{capped}", 0.01 + 100.0 * r.next());
        }
    }
    write(&dir.join("contour.csv"), &s);
}

fn lottery(dir: &Path, r: &mut Lcg) {
    let mut s = "epoch,k,alpha,beta,d\n".to_string();
    for e in 0..6 {
        for k in 1..=K {
            let _ = writeln!(
                s,
                "{},{k},{},{},{}",
                e * 200,
                0.01 * (1.0 + r.next()),
                0.01 + 0.001 * e as f64,
                1.0 - 0.1 * e as f64
            );
        }
    }
    write(&dir.join("race.csv"), &s);
    let mut s = "neuron,by_misalignment,min_abs_d,by_ode,ode_time,final_winner\n".to_string();
    for m in 0..M {
        let _ = writeln!(
            s,
            "{m},{},0.1,{},3.0,{}",
            1 + m % K,
            1 + (m / 2) % K,
            1 + m % K
        );
    }
    write(&dir.join("predictions.csv"), &s);
    write(
        &dir.join("accuracy.csv"),
        "rule,accuracy\nsmallest_misalignment,1\node_race,0.5\n",
    );
}

fn single_freq(dir: &Path, r: &mut Lcg) {
    let mut s = "preset,epoch,m,k,alpha,phi,beta,psi,d,ipr_in,ipr_out\n".to_string();
    let mut t = "preset,epoch,layer,m,k,magnitude,phase\n".to_string();
    for preset in ["quad_single_freq", "relu_single_freq"] {
        for epoch in [0, 100, 200] {
            for m in 0..M {
                let _ = writeln!(
                    s,
                    "{preset},{epoch},{m},{},0.02,{},0.02,{},0.3,1,1",
                    1 + m % K,
                    r.next() - 0.5,
                    r.next() - 0.5
                );
                for layer in ["W_in", "W_out"] {
                    for k in 1..=K {
                        let mag = if k == 1 + m % K {
                            0.02
                        } else {
                            0.001 * r.next()
                        };
                        let _ = writeln!(t, "{preset},{epoch},{layer},{m},{k},{mag},0.1");
                    }
                }
            }
        }
    }
    write(&dir.join("snapshots.csv"), &s);
    write(&dir.join("spectra.csv"), &t);
}

/// Every figure row a `reproduce` p folder can have.
const ROWS: [(&str, &str); 16] = [
    ("training curves", "train/grokking/training_log.csv"),
    (
        "IPR and parameter norm over epochs",
        "train/grokking/progress.csv",
    ),
    (
        "final spectra of W_in and W_out",
        "analysis/grokking/spectrum.csv",
    ),
    ("per-neuron features", "analysis/grokking/neurons.csv"),
    (
        "phase-symmetry moments and magnitude distribution",
        "analysis/grokking/frequency_groups.csv",
    ),
    ("logits of all pairs", "analysis/grokking/logits.csv"),
    ("grokking stage boundaries", "train/grokking/stages.csv"),
    ("accuracy grids", "train/grokking/accuracy_grids.csv"),
    (
        "memorisation and common-to-rare masks",
        "train/grokking/pair_classes.csv",
    ),
    (
        "decoded weights at stage boundaries",
        "train/grokking/stages",
    ),
    ("decoupled-ODE trajectories", "ode/trajectories.csv"),
    ("lottery contour", "ode/contour.csv"),
    ("lottery race of one neuron", "lottery/race.csv"),
    ("lottery predictions", "lottery/predictions.csv"),
    ("single-frequency snapshots", "single_freq/snapshots.csv"),
    ("single-frequency spectra", "single_freq/spectra.csv"),
];

/// A `reproduce --out ROOT` folder with one modulus, `ROOT/p_005`.
fn reproduce_fixture(root: &Path) -> PathBuf {
    let base = root.join("p_005");
    let mut r = Lcg(20260521);
    let train = base.join("train/grokking");
    training_log(&train, &mut r);
    grids(&train, &mut r);
    stage_folder(&train, &mut r);
    analysis(&base.join("analysis/grokking"), &mut r);
    ode(&base.join("ode"), &mut r);
    lottery(&base.join("lottery"), &mut r);
    single_freq(&base.join("single_freq"), &mut r);
    let mut s = "figure,path,columns\n".to_string();
    for (f, p) in ROWS {
        let _ = writeln!(s, "{f},{p},\"what it holds\"");
    }
    write(&base.join("figures.csv"), &s);
    write(
        &root.join("manifest.csv"),
        "file,rows,description\np_005,16,everything for p = 5\n",
    );
    base
}

/// One `<g class="marks">` group: its attributes and the marks counted inside it.
#[derive(Debug)]
struct Marks {
    panel: String,
    kind: String,
    series: String,
    n: usize,
    counted: usize,
}

fn marks(svg: &str) -> Vec<Marks> {
    let doc = roxmltree::Document::parse(svg).expect("SVG parses as XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    let mut out = vec![];
    for g in doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("marks"))
    {
        let kind = g.attribute("data-kind").unwrap().to_string();
        let els: Vec<_> = g.children().filter(|c| c.is_element()).collect();
        let counted = match kind.as_str() {
            "line" => els
                .iter()
                .filter(|e| e.tag_name().name() == "polyline")
                .map(|e| e.attribute("points").unwrap().split_whitespace().count())
                .sum(),
            "points" => els
                .iter()
                .filter(|e| e.tag_name().name() == "circle")
                .count(),
            "bars" | "cells" => els.iter().filter(|e| e.tag_name().name() == "rect").count(),
            "whiskers" => els
                .iter()
                .filter(|e| e.tag_name().name() == "polyline")
                .count(),
            other => panic!("unknown kind {other}"),
        };
        let panel = g
            .ancestors()
            .find(|a| a.attribute("class") == Some("plot"))
            .and_then(|a| a.attribute("data-title"))
            .unwrap_or("")
            .to_string();
        out.push(Marks {
            panel,
            kind,
            series: g.attribute("data-series").unwrap().to_string(),
            n: g.attribute("data-n").unwrap().parse().unwrap(),
            counted,
        });
    }
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The total `data-n` of the groups whose panel title contains `panel` and series contains `series`.
fn total(m: &[Marks], panel: &str, series: &str) -> usize {
    m.iter()
        .filter(|g| g.panel.contains(panel) && g.series.contains(series))
        .map(|g| g.n)
        .sum()
}

/// (Over 80 lines: it walks one reproduce folder figure by figure, counting marks against CSV
/// rows; split, each part would rebuild the folder, which is most of the test's time.)
#[test]
fn reproduce_folder_draws_every_row_with_matching_marks() {
    let tmp = tempfile::tempdir().unwrap();
    let base = reproduce_fixture(tmp.path());
    let report = plot(tmp.path(), &PlotOptions::default()).unwrap();
    assert!(matches!(report.kind, FolderKind::Reproduce { .. }));
    assert_eq!(report.out, tmp.path().join("figures"));
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    assert_eq!(report.figures.len(), ROWS.len());
    // Each modulus beside its data; the top index links them.
    let out = tmp.path().join("p_005/figures");
    assert!(out.join("index.html").is_file());
    let top = std::fs::read_to_string(tmp.path().join("figures/index.html")).unwrap();
    assert!(
        top.contains("href=\"../p_005/figures/index.html\""),
        "{top}"
    );
    let svgs: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "svg"))
        .collect();
    assert_eq!(svgs.len(), ROWS.len(), "one SVG per row, distinct names");

    // Every group everywhere: the marks drawn are the marks announced.
    for f in &report.figures {
        let svg = read(&f.file);
        let ms = marks(&svg);
        assert!(!ms.is_empty(), "{} has no marks", f.file.display());
        for g in &ms {
            assert_eq!(g.n, g.counted, "{}: {:?}", f.file.display(), g);
        }
        assert!(svg.contains("<text"), "{} has no text", f.file.display());
        // Every source is named in the index with its path relative to p_005.
        assert!(
            f.sources
                .iter()
                .all(|s| s.is_relative() && base.join(s).exists()),
            "{:?}",
            f.sources
        );
    }
    let fig = |stem: &str| marks(&read(&out.join(format!("{stem}.svg"))));

    // Training curves: each curve has one point per row of training_log.csv.
    let m = fig("train_grokking_training_log");
    assert_eq!(total(&m, "loss", "train"), EPOCHS);
    assert_eq!(total(&m, "loss", "test"), EPOCHS);
    assert_eq!(total(&m, "accuracy", "train"), EPOCHS);
    assert_eq!(total(&m, "gradient", ""), EPOCHS);
    // Progress: the rare class has one empty cell (a gap: two polylines), the true class none.
    let m = fig("train_grokking_progress");
    assert_eq!(total(&m, "sparsity", "IPR"), EPOCHS);
    assert_eq!(total(&m, "pair class", "one order"), EPOCHS - 1);
    assert_eq!(total(&m, "pair class", "test, true"), 0);
    let svg = read(&out.join("train_grokking_progress.svg"));
    assert!(svg.contains("test, true (no pairs)"));
    // Spectra: neurons x frequencies cells per layer.
    let m = fig("analysis_grokking_spectrum");
    assert_eq!(m.iter().filter(|g| g.kind == "cells").count(), 2);
    assert!(m
        .iter()
        .filter(|g| g.kind == "cells")
        .all(|g| g.n == M * (K + 1)));
    // Phase relation: every neuron once in each panel.
    let m = fig("analysis_grokking_neurons");
    assert_eq!(total(&m, "output phase", "k* ="), M);
    assert_eq!(total(&m, "misalignment", "k* ="), M);
    // Frequency groups: one bar per group per moment.
    let m = fig("analysis_grokking_frequency_groups");
    assert_eq!(total(&m, "moments", "l = "), 4 * K);
    assert_eq!(total(&m, "neurons per", ""), K);
    // Logits: p bars per chosen pair, p^2 margin cells.
    let m = fig("analysis_grokking_logits");
    assert_eq!(total(&m, "(x, y) = (3, 2)", ""), P);
    assert_eq!(total(&m, "margin", ""), P * P);
    // Grokking: curves per row.
    let m = fig("train_grokking_stages");
    assert_eq!(total(&m, "accuracy", "test"), EPOCHS);
    assert_eq!(total(&m, "IPR", ""), EPOCHS);
    // Accuracy grids: p^2 cells per epoch, a dot per training pair.
    let m = fig("train_grokking_accuracy_grids");
    let train_pairs = classes().iter().filter(|c| c.starts_with("train")).count();
    for e in ["epoch 0", "epoch 10"] {
        assert_eq!(total(&m, e, "correct") + total(&m, e, "wrong"), P * P);
        assert_eq!(total(&m, e, "training pair"), train_pairs);
    }
    // Masks: p^2 cells in each view.
    let m = fig("train_grokking_pair_classes");
    assert_eq!(total(&m, "memorisation", ""), P * P);
    assert_eq!(total(&m, "common-to-rare", ""), P * P);
    // Decoded weights at the boundary.
    let m = fig("train_grokking_stages_decoded_weights_at_stage_boundaries");
    assert_eq!(total(&m, "stage1 end", ""), 2 * M * (K + 1));
    // ODE: 10 points per run, the wrapped run broken in two in the D panel.
    let m = fig("ode_trajectories");
    assert_eq!(total(&m, "α(t)", "D0"), 30);
    assert_eq!(total(&m, "D(t)", "D0"), 30);
    let svg = read(&out.join("ode_trajectories.svg"));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let pi_run = doc
        .descendants()
        .find(|n| {
            n.attribute("data-series") == Some("D0 = 3.14")
                && n.ancestors()
                    .any(|a| a.attribute("data-title") == Some("misalignment D(t)"))
        })
        .unwrap();
    assert_eq!(
        pi_run
            .children()
            .filter(|c| c.tag_name().name() == "polyline")
            .count(),
        2
    );
    // Contour: one cell per row, dots where capped.
    let m = fig("ode_contour");
    assert_eq!(total(&m, "", "cells"), 12);
    assert_eq!(total(&m, "", "cap"), 3);
    // Race: one point per checkpoint per frequency.
    let m = fig("lottery_race");
    assert_eq!(total(&m, "α_k", "k = 1"), 6);
    assert_eq!(total(&m, "D_k", "k = "), 6 * K);
    // Predictions: K x K cells per rule.
    let m = fig("lottery_predictions");
    assert_eq!(
        m.iter()
            .filter(|g| g.kind == "cells")
            .map(|g| g.n)
            .collect::<Vec<_>>(),
        vec![K * K, K * K]
    );
    // Single-frequency: M points per snapshot, M x K cells per layer and snapshot.
    let m = fig("single_freq_snapshots");
    assert_eq!(m.iter().filter(|g| g.kind == "points").count(), 6);
    assert!(m.iter().filter(|g| g.kind == "points").all(|g| g.n == M));
    let m = fig("single_freq_spectra");
    assert_eq!(m.iter().filter(|g| g.kind == "cells").count(), 12);
    assert!(m.iter().filter(|g| g.kind == "cells").all(|g| g.n == M * K));

    // The index shows every figure with its caption and data file, and fetches nothing.
    let html = read(&out.join("index.html"));
    for (_, path) in ROWS {
        assert!(html.contains(path), "{path} not in the index");
    }
    assert_eq!(html.matches("<img ").count(), ROWS.len());
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("https://"));
}

#[test]
fn single_command_folders_are_recognised() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = Lcg(7);
    let train = tmp.path().join("train");
    training_log(&train, &mut r);
    grids(&train, &mut r);
    stage_folder(&train, &mut r);
    let rep = plot(&train, &PlotOptions::default()).unwrap();
    assert_eq!(rep.kind, FolderKind::Train);
    assert_eq!(rep.figures.len(), 6);
    assert!(train.join("figures/index.html").is_file());

    let an = tmp.path().join("an");
    analysis(&an, &mut r);
    let rep = plot(&an, &PlotOptions::default()).unwrap();
    assert_eq!(rep.kind, FolderKind::Analyze);
    assert_eq!(rep.figures.len(), 6);
    let m = marks(&read(&an.join("figures/swaps.svg")));
    assert_eq!(total(&m, "", "non-zero"), 2);
    assert_eq!(total(&m, "", "odd"), 2);
    let m = marks(&read(&an.join("figures/harmonics.svg")));
    assert_eq!(total(&m, "", "1/r²"), 4);

    let od = tmp.path().join("ode");
    ode(&od, &mut r);
    assert_eq!(plot(&od, &PlotOptions::default()).unwrap().figures.len(), 2);
    let lo = tmp.path().join("lot");
    lottery(&lo, &mut r);
    // Without final winners the predictions figure compares the two rules.
    let t = read(&lo.join("predictions.csv"));
    let stripped: String = t
        .lines()
        .map(|l| {
            if l.starts_with("neuron") {
                l.to_string()
            } else {
                l.rsplit_once(',').unwrap().0.to_string() + ","
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    write(&lo.join("predictions.csv"), &(stripped + "\n"));
    let rep = plot(&lo, &PlotOptions::default()).unwrap();
    assert_eq!(rep.kind, FolderKind::Lottery);
    let m = marks(&read(&lo.join("figures/predictions.svg")));
    assert_eq!(m.iter().filter(|g| g.kind == "cells").count(), 1);

    let cf = tmp.path().join("closed");
    let mut s = "width,accuracy\n".to_string();
    for w in 1..=12 {
        let _ = writeln!(s, "{w},{}", (w as f64 / 10.0).min(1.0));
    }
    write(&cf.join("accuracy_by_width.csv"), &s);
    write(
        &cf.join("neurons.csv"),
        "m,k,phi,chi\n0,1,0.1,0.2\n1,2,0.3,0.4\n2,2,0.5,0.6\n",
    );
    write(&cf.join("weights/W_in.csv"), "0.1,0.2,0.3,0.4,0.5\n");
    let rep = plot(&cf, &PlotOptions::default()).unwrap();
    assert_eq!(rep.kind, FolderKind::ClosedForm);
    let svg = read(&cf.join("figures/accuracy_by_width.svg"));
    assert!(svg.contains("chance 1/p = 0.2"));
    let m = marks(&svg);
    assert_eq!(total(&m, "first N", "accuracy"), 24);
    assert_eq!(total(&m, "per frequency", ""), 2);
}

/// What our own writers leave undefined is drawn around, not refused: an empty cell (an empty
/// frequency group's moments and magnitudes, a harmonic folding onto the constant term) is a
/// gap, and a run that recorded no accuracy grid has no grid figure.
#[test]
fn undefined_cells_and_unrecorded_grids_are_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let mut r = Lcg(11);
    let an = tmp.path().join("an");
    analysis(&an, &mut r);
    // Group k = 2 empty; the r = 5 harmonics undefined.
    let groups = read(&an.join("frequency_groups.csv")).replace(
        "\n2,2,0.1,0.05,0.2,0.02,0.03,0.005,0.01,0.04,0.15",
        "\n2,0,,,,,,,,,",
    );
    write(&an.join("frequency_groups.csv"), &groups);
    let harm: String = read(&an.join("harmonics.csv"))
        .lines()
        .map(|l| match l.split(',').collect::<Vec<_>>().as_slice() {
            [m, layer, ks, "5", _, _] => format!("{m},{layer},{ks},5,,\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    write(&an.join("harmonics.csv"), &harm);
    plot(&an, &PlotOptions::default()).unwrap();
    let m = marks(&read(&an.join("figures/frequency_groups.svg")));
    // K = 2 groups: the empty one has no moment bars (4 moments x 1 group drawn).
    assert_eq!(
        m.iter()
            .filter(|g| g.kind == "bars" && g.series.starts_with("l = "))
            .map(|g| g.n)
            .sum::<usize>(),
        4
    );
    let m = marks(&read(&an.join("figures/harmonics.svg")));
    assert_eq!(total(&m, "", "1/r²"), 4, "the reference curve stays");

    let train = tmp.path().join("train");
    training_log(&train, &mut r);
    write(&train.join("accuracy_grids.csv"), "epoch,x,y,correct\n");
    let rep = plot(&train, &PlotOptions::default()).unwrap();
    assert!(
        rep.figures
            .iter()
            .all(|f| !f.file.ends_with("accuracy_grids.svg")),
        "no grid figure without grids"
    );
    assert!(!train.join("figures/accuracy_grids.svg").exists());
}

/// The figures do not depend on where the folder lies: the same data in two places gives
/// byte-identical files (a re-run, or a resumed run in another folder, must reproduce them).
#[test]
fn figures_do_not_depend_on_the_folder_location() {
    let tmp = tempfile::tempdir().unwrap();
    let mut trees = vec![];
    for name in ["a", "b/deeper"] {
        let root = tmp.path().join(name);
        std::fs::create_dir_all(&root).unwrap();
        let base = reproduce_fixture(&root);
        plot(&base, &PlotOptions::default()).unwrap();
        let mut files = std::collections::BTreeMap::new();
        for e in std::fs::read_dir(base.join("figures")).unwrap().flatten() {
            files.insert(e.file_name(), std::fs::read(e.path()).unwrap());
        }
        trees.push(files);
    }
    assert!(trees[0].len() > 10);
    assert_eq!(trees[0], trees[1]);
}

#[test]
fn malformed_csv_names_file_and_line_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let base = reproduce_fixture(tmp.path());
    let race = base.join("lottery/race.csv");
    let mut t = read(&race);
    t = t.replacen("\n200,1,", "\n200,1,oops", 1);
    write(&race, &t);
    let out = tmp.path().join("out");
    let e = plot(
        &base,
        &PlotOptions {
            out: Some(out.clone()),
            force: false,
        },
    )
    .unwrap_err();
    match &e {
        Error::Parse {
            path,
            line,
            message,
        } => {
            assert_eq!(path, &race);
            assert_eq!(*line, 4, "{message}");
            assert!(
                message.contains("alpha") && message.contains("oops"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("race.csv:4:"), "{e}");
    assert!(
        !out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn missing_csv_is_an_io_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let base = reproduce_fixture(tmp.path());
    std::fs::remove_file(base.join("ode/contour.csv")).unwrap();
    let e = plot(&base, &PlotOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("contour.csv"), "{e}");
    assert!(!base.join("figures/index.html").exists());
}

#[test]
fn ragged_row_and_incomplete_grid_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let base = reproduce_fixture(tmp.path());
    let log = base.join("train/grokking/training_log.csv");
    let t = read(&log) + "30,0.001,1\n";
    write(&log, &t);
    match plot(&base, &PlotOptions::default()).unwrap_err() {
        Error::Parse { path, line, .. } => {
            assert_eq!(path, log);
            assert_eq!(line, EPOCHS + 2);
        }
        other => panic!("{other:?}"),
    }
    let tmp = tempfile::tempdir().unwrap();
    let base = reproduce_fixture(tmp.path());
    let sp = base.join("analysis/grokking/spectrum.csv");
    let t = read(&sp);
    let cut: Vec<&str> = t.lines().collect();
    write(&sp, &(cut[..cut.len() - 1].join("\n") + "\n"));
    let e = plot(&base, &PlotOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Shape { .. }), "{e:?}");
    assert!(e.to_string().contains("spectrum.csv"), "{e}");
}

#[test]
fn existing_output_needs_force_and_unknown_rows_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let base = reproduce_fixture(tmp.path());
    let f = base.join("figures.csv");
    let t = read(&f) + "a figure from the future,ode/contour.csv,x\n";
    write(&f, &t);
    let rep = plot(&base, &PlotOptions::default()).unwrap();
    assert_eq!(rep.out, base.join("figures"));
    assert_eq!(rep.skipped.len(), 1);
    assert!(read(&base.join("figures/index.html")).contains("a figure from the future"));
    let e = plot(&base, &PlotOptions::default()).unwrap_err();
    assert!(matches!(e, Error::OutputExists { .. }), "{e:?}");
    plot(
        &base,
        &PlotOptions {
            out: None,
            force: true,
        },
    )
    .unwrap();
    // No temporary file is left behind.
    assert!(std::fs::read_dir(base.join("figures"))
        .unwrap()
        .flatten()
        .all(|e| !e.file_name().to_string_lossy().ends_with(".tmp")));
}

#[test]
fn not_a_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let e = plot(tmp.path(), &PlotOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    assert!(e.to_string().contains("not a modadd output folder"), "{e}");
}
