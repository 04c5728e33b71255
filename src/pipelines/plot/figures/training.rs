//! Figures of a training run: curves, progress measures, grokking stages, accuracy grids,
//! memorisation masks and the weights decoded at the stage boundaries.

use super::common::*;
use crate::error::Result;
use crate::pipelines::plot::charts::{
    draw_panel, fmt_num, Axis, Cell, Layer, Legend, Mark, Panel, Rule, Swatch, PALETTE,
};
use crate::pipelines::plot::read::{self, Stage};
use crate::pipelines::plot::svg::{Area, Canvas};
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Vertical rules at the stage boundaries that were reached (`last_epoch` left out).
fn stage_rules(stages: &[Stage]) -> Vec<Rule> {
    let mut rules = vec![];
    let last = stages
        .iter()
        .find(|s| s.boundary == "last_epoch")
        .and_then(|s| s.epoch);
    for s in stages {
        // A "peak" at the last epoch is a norm still growing: no boundary.
        if s.boundary == "norm_peak" && s.epoch.is_some() && s.epoch == last {
            continue;
        }
        let (label, color) = match s.boundary.as_str() {
            "stage1_end" => ("stage I ends", RGBColor(0x6a, 0x3d, 0x9a)),
            "stage2_end" => ("stage II ends", RGBColor(0x1b, 0x7e, 0x3c)),
            "norm_peak" => ("norm peak", RGBColor(0x8c, 0x51, 0x0a)),
            _ => continue,
        };
        if let Some(e) = s.epoch {
            rules.push(Rule::x(e, format!("{label} ({})", fmt_num(e)), color));
        }
    }
    rules
}

/// A readable name of a `stages.csv` boundary (`stage1_end` -> `stage I end`).
fn boundary_name(b: &str) -> String {
    match b {
        "stage1_end" => "stage I end".into(),
        "stage2_end" => "stage II end".into(),
        "norm_peak" => "norm peak".into(),
        other => other.replace('_', " "),
    }
}

fn stages_note(stages: &[Stage]) -> Vec<String> {
    stages
        .iter()
        .filter(|s| s.epoch.is_none() && s.boundary.starts_with("stage"))
        .map(|s| format!("{} not reached", boundary_name(&s.boundary)))
        .collect()
}

fn load_stages(path: Option<&Path>) -> Result<Vec<Stage>> {
    match path {
        Some(p) => read::stages(p),
        None => Ok(vec![]),
    }
}

/// Train (`TRAIN_C`, `train_width` pixels wide) and test (`TEST_C`, 2 pixels, named `test_name`)
/// curves of one quantity against `epoch`.
fn train_test_layers(
    epoch: &[f64],
    train: &[f64],
    test: &[f64],
    test_name: &str,
    train_width: u32,
) -> [Layer; 2] {
    [
        Layer::new("train", TRAIN_C, Mark::line(pts(epoch, train), train_width)),
        Layer::new(test_name, TEST_C, Mark::line(pts(epoch, test), 2)),
    ]
}

/// The parameter norm `norm` against `epoch` (one line, no legend) with the stage `rules`.
fn param_norm_panel(title: &str, ex: Axis, epoch: &[f64], norm: &[f64], rules: &[Rule]) -> Panel {
    let mut p = Panel::new(
        title,
        ex,
        Axis::fit("‖(W_in, W_out)‖ (Euclidean)", norm.iter().copied()),
    );
    p.layers.push(
        Layer::new(
            "parameter norm",
            PALETTE[3],
            Mark::line(pts(epoch, norm), 2),
        )
        .quiet(),
    );
    p.rules = rules.to_vec();
    p
}

/// Training curves from `training_log.csv`: loss (log axis) and accuracy of train and test, gradient
/// norm (log axis) and parameter norm, all per epoch (columns `epoch, train_loss, test_loss,
/// train_acc, test_acc, grad_norm, param_norm`). With `stages` (`stages.csv`: `boundary, epoch`),
/// dashed vertical lines mark the stage boundaries reached (a norm peak at the last epoch is
/// left out: the norm is still growing).
pub fn training_curves(log: &Path, stages: Option<&Path>, context: &str) -> Result<Figure> {
    let l = read::training_log(log)?;
    let st = load_stages(stages)?;
    let rules = stage_rules(&st);
    let title = format!("Training curves — {context}");
    let (c, body) = sheet(1300, 860, &title)?;
    let panels = body.split_evenly((2, 2));
    let ex = Axis::fit("epoch", l.epoch.iter().copied());
    let same = l.train_loss == l.test_loss && l.train_acc == l.test_acc;
    let test_name = if same {
        "test (= train: all pairs trained)"
    } else {
        "test"
    };
    let loss_axis = Axis::fit_log(
        "loss (nats)",
        l.train_loss.iter().chain(&l.test_loss).copied(),
    );
    let mut p = Panel::new("cross-entropy loss (log scale)", ex.clone(), loss_axis);
    p.layers.extend(train_test_layers(
        &l.epoch,
        &l.train_loss,
        &l.test_loss,
        test_name,
        3,
    ));
    p.rules = rules.clone();
    p.legend = Legend::LowerLeft;
    draw_panel(&c, &panels[0], &p)?;

    let acc_axis = Axis::linear("accuracy (fraction of pairs)", -0.02, 1.02);
    let mut p = Panel::new("accuracy", ex.clone(), acc_axis);
    p.layers.extend(train_test_layers(
        &l.epoch,
        &l.train_acc,
        &l.test_acc,
        test_name,
        3,
    ));
    p.rules = rules.clone();
    p.legend = Legend::LowerRight;
    draw_panel(&c, &panels[1], &p)?;

    draw_panel(&c, &panels[2], &grad_norm_panel(&l, ex.clone(), &rules))?;
    let p = param_norm_panel("parameter norm", ex, &l.epoch, &l.param_norm, &rules);
    draw_panel(&c, &panels[3], &p)?;

    let mut sources = vec![log.to_path_buf()];
    sources.extend(stages.map(Path::to_path_buf));
    Ok(finish(
        &c,
        title,
        "Loss (log scale) and accuracy of the train and test pairs, gradient norm and parameter norm per epoch, measured before each epoch's update; dashed lines mark the stage boundaries reached.".into(),
        sources,
    ))
}

/// The gradient norm of `l` against epoch on a log axis, with the stage `rules`.
fn grad_norm_panel(l: &read::TrainingLog, ex: Axis, rules: &[Rule]) -> Panel {
    let mut p = Panel::new(
        "gradient norm (log scale)",
        ex,
        Axis::fit_log("‖∇ loss‖ (Euclidean)", l.grad_norm.iter().copied()),
    );
    p.layers.push(
        Layer::new(
            "gradient norm",
            PALETTE[2],
            Mark::line(pts(&l.epoch, &l.grad_norm), 2),
        )
        .quiet(),
    );
    p.rules = rules.to_vec();
    p
}

/// Progress measures from `progress.csv`: IPR and mean |sin D| (columns `ipr, mean_abs_sin_d`),
/// parameter norm (`param_norm`) and the accuracy of each pair class (`acc_train_common,
/// acc_train_rare, acc_test_swap_in_train, acc_test_true`; empty cells are gaps, empty classes are
/// left out) against `epoch`. Stage boundaries as in [`training_curves`].
pub fn progress_curves(progress: &Path, stages: Option<&Path>, context: &str) -> Result<Figure> {
    let g = read::progress(progress)?;
    let st = load_stages(stages)?;
    let rules = stage_rules(&st);
    let title = format!("IPR, phase alignment and parameter norm over epochs — {context}");
    let (c, body) = sheet(1600, 560, &title)?;
    let panels = body.split_evenly((1, 3));
    let ex = Axis::fit("epoch", g.epoch.iter().copied());

    let mut p = Panel::new(
        "Fourier sparsity and phase alignment",
        ex.clone(),
        Axis::linear("value (1 = one frequency / 0 = aligned)", -0.02, 1.02),
    );
    p.layers.push(Layer::new(
        "IPR (mean over neurons)",
        PALETTE[0],
        Mark::line(pts(&g.epoch, &g.ipr), 2),
    ));
    p.layers.push(Layer::new(
        "mean |sin D|",
        PALETTE[2],
        Mark::line(pts(&g.epoch, &g.mean_abs_sin_d), 2),
    ));
    p.rules = rules.clone();
    p.legend = Legend::MiddleRight;
    draw_panel(&c, &panels[0], &p)?;

    let p = param_norm_panel(
        "parameter norm",
        ex.clone(),
        &g.epoch,
        &g.param_norm,
        &rules,
    );
    draw_panel(&c, &panels[1], &p)?;

    let mut p = Panel::new(
        "accuracy per pair class",
        ex,
        Axis::linear("accuracy (fraction of the class)", -0.02, 1.02),
    );
    let names = [
        "train, both orders",
        "train, one order",
        "test, swap in train",
        "test, true",
    ];
    for (i, col) in g.class_acc.iter().enumerate() {
        // An empty class (no such pairs: e.g. the test classes of a full split) stays in the legend.
        let name = if col.iter().all(Option::is_none) {
            format!("{} (no pairs)", names[i])
        } else {
            names[i].to_string()
        };
        let line =
            Mark::line_with_gaps(g.epoch.iter().zip(col).map(|(e, a)| a.map(|a| (*e, a))), 2);
        p.layers
            .push(Layer::new(name, PALETTE[[0, 5, 1, 2][i]], line));
    }
    p.rules = rules;
    p.legend = Legend::LowerRight;
    draw_panel(&c, &panels[2], &p)?;

    let mut sources = vec![progress.to_path_buf()];
    sources.extend(stages.map(Path::to_path_buf));
    Ok(finish(
        &c,
        title,
        "Mean IPR of the neurons (1 = each neuron uses one frequency) and mean |sin D| (0 = phases aligned, D = 2φ − ψ), the parameter norm, and the accuracy of each class of pairs (trained in both orders, trained in one order, test pairs whose swap is trained, true test pairs) per epoch.".into(),
        sources,
    ))
}

/// Grokking curves with stage boundaries: accuracy and loss of train and test from
/// `training_log.csv`, parameter norm and IPR from `progress.csv` (if given), with the boundaries of
/// `stages.csv` (`boundary, epoch, value`: stage I end, stage II end, norm peak) as dashed lines.
pub fn grokking(
    stages: &Path,
    log: &Path,
    progress: Option<&Path>,
    context: &str,
) -> Result<Figure> {
    let st = read::stages(stages)?;
    let l = read::training_log(log)?;
    let g = match progress {
        Some(p) => Some(read::progress(p)?),
        None => None,
    };
    let rules = stage_rules(&st);
    let title = format!("Grokking: the three stages — {context}");
    let (c, body) = sheet(1300, 880, &title)?;
    let panels = body.split_evenly((2, 2));
    let ex = Axis::fit("epoch", l.epoch.iter().copied());
    let p = grokking_accuracy_panel(&l, ex.clone(), &rules, &stages_note(&st));
    draw_panel(&c, &panels[0], &p)?;
    draw_panel(&c, &panels[1], &grokking_loss_panel(&l, ex.clone(), &rules))?;
    // The norm and IPR of progress.csv when given, else the norm of the training log.
    let (ne, nv, ie, iv) = match &g {
        Some(g) => (
            g.epoch.clone(),
            g.param_norm.clone(),
            g.epoch.clone(),
            g.ipr.clone(),
        ),
        None => (l.epoch.clone(), l.param_norm.clone(), vec![], vec![]),
    };
    let norm_title = "parameter norm (weight decay shrinks it in stage III)";
    let p = param_norm_panel(norm_title, ex.clone(), &ne, &nv, &rules);
    draw_panel(&c, &panels[2], &p)?;
    draw_panel(&c, &panels[3], &grokking_ipr_panel(ex, &ie, &iv, rules))?;

    let mut sources = vec![stages.to_path_buf(), log.to_path_buf()];
    sources.extend(progress.map(Path::to_path_buf));
    Ok(finish(
        &c,
        title,
        "Train and test accuracy and loss, parameter norm and IPR over training, with the stage boundaries: stage I (memorisation) ends at the first epoch with train accuracy ≥ 0.95, stage II (generalisation) at the first with test accuracy ≥ 0.95; the norm peak starts the clean-up under weight decay.".into(),
        sources,
    ))
}

/// Accuracy panel of [`grokking`]: train and test accuracy with the stage `rules` and the 0.95
/// level; the stages not reached (`notes`) go into the title.
fn grokking_accuracy_panel(
    l: &read::TrainingLog,
    ex: Axis,
    rules: &[Rule],
    notes: &[String],
) -> Panel {
    let acc_title = if notes.is_empty() {
        "accuracy".to_string()
    } else {
        format!("accuracy ({})", notes.join("; "))
    };
    let mut p = Panel::new(
        acc_title,
        ex,
        Axis::linear("accuracy (fraction of pairs)", -0.02, 1.02),
    );
    p.layers.extend(train_test_layers(
        &l.epoch,
        &l.train_acc,
        &l.test_acc,
        "test",
        2,
    ));
    p.rules = rules.to_vec();
    p.rules.push(Rule::y(0.95, "0.95", GREY));
    p.legend = Legend::LowerRight;
    p
}

/// Loss panel of [`grokking`]: train and test loss on a log axis with the stage `rules`.
fn grokking_loss_panel(l: &read::TrainingLog, ex: Axis, rules: &[Rule]) -> Panel {
    let mut p = Panel::new(
        "loss (log scale)",
        ex,
        Axis::fit_log(
            "cross-entropy (nats)",
            l.train_loss.iter().chain(&l.test_loss).copied(),
        ),
    );
    p.layers.extend(train_test_layers(
        &l.epoch,
        &l.train_loss,
        &l.test_loss,
        "test",
        2,
    ));
    p.rules = rules.to_vec();
    p.legend = Legend::LowerLeft;
    p
}

/// IPR panel of [`grokking`]: the mean IPR `iv` against epoch `ie` (a note instead when there is
/// none), with the stage `rules`.
fn grokking_ipr_panel(ex: Axis, ie: &[f64], iv: &[f64], rules: Vec<Rule>) -> Panel {
    let mut p = Panel::new(
        "IPR (Fourier sparsity of the neurons)",
        ex,
        Axis::linear("mean IPR (1 = one frequency)", -0.02, 1.02),
    );
    if iv.is_empty() {
        p.notes.push("no progress.csv: IPR not recorded".into());
    } else {
        p.layers
            .push(Layer::new("IPR", PALETTE[0], Mark::line(pts(ie, iv), 2)).quiet());
    }
    p.rules = rules;
    p
}

fn grid_layout(n: usize, max_cols: usize) -> (usize, usize) {
    let cols = n.clamp(1, max_cols);
    (n.div_ceil(cols).max(1), cols)
}

/// Accuracy grids from `accuracy_grids.csv` (columns `epoch, x, y, correct`): one p x p panel per
/// recorded epoch, a cell per pair (x, y), blue = correct, orange = wrong; with `pair_classes.csv`
/// (columns `x, y, class`) the training pairs carry a black dot (the memorisation set) and each
/// title gives the train and test accuracy. Epochs that are stage boundaries (`stages.csv`) say so.
pub fn accuracy_grids(
    grids: &Path,
    classes: Option<&Path>,
    stages: Option<&Path>,
    context: &str,
) -> Result<Figure> {
    let gs = read::accuracy_grids(grids)?;
    let pc = match classes {
        Some(c) => Some(read::pair_classes(c)?),
        None => None,
    };
    let st = load_stages(stages)?;
    let p = gs[0].p;
    let dot_r = ((280.0 / p as f64) / 5.0).clamp(1.0, 3.0).round() as u32;
    let (rows, cols) = grid_layout(gs.len(), 4);
    let title = format!("Accuracy over all pairs at chosen epochs — {context}");
    let w = 60 + 360 * cols as u32 + 200;
    let (c, body) = sheet(w, 80 + 370 * rows as u32, &title)?;
    let (left, right) = body.split_horizontally(w - 200);
    let panels = left.split_evenly((rows, cols));
    for (g, area) in gs.iter().zip(&panels) {
        let mut pn = grid_panel(g, p, &st);
        if let Some(pc) = &pc {
            if pc.p == p {
                mark_training_pairs(&mut pn, g, pc, dot_r);
            }
        }
        draw_panel(&c, area, &pn)?;
    }
    // Shared legend in the right column.
    let mut swatches = vec![
        Swatch::square("correct", GOOD),
        Swatch::square("wrong", BAD),
    ];
    if pc.is_some() {
        swatches.push(Swatch::dot("training pair", BLACK));
    }
    draw_swatch_legend(&c, &right, &swatches);
    let mut sources = vec![grids.to_path_buf()];
    sources.extend(classes.map(Path::to_path_buf));
    sources.extend(stages.map(Path::to_path_buf));
    Ok(finish(
        &c,
        title,
        "Which of the p² pairs (x, y) the network classifies correctly at each recorded epoch (blue correct, orange wrong); dots mark the training pairs, so the memorised set and the generalisation to test pairs can be told apart.".into(),
        sources,
    ))
}

/// The p x p grid `g` of one epoch: correct and wrong cells, titled with the epoch and the stage
/// boundaries (of `st`) it is.
fn grid_panel(g: &read::Grid, p: usize, st: &[Stage]) -> Panel {
    let tag: Vec<String> = st
        .iter()
        .filter(|s| s.epoch == Some(g.epoch as f64) && s.boundary != "last_epoch")
        .map(|s| boundary_name(&s.boundary))
        .collect();
    let mut t = format!("epoch {}", g.epoch);
    if !tag.is_empty() {
        t += &format!(" ({})", tag.join(", "));
    }
    let mut cells = (vec![], vec![]);
    for i in 0..p * p {
        let (x, y) = ((i / p) as f64, (i % p) as f64);
        let cell = (
            x - 0.5,
            x + 0.5,
            y - 0.5,
            y + 0.5,
            if g.correct[i] { GOOD } else { BAD },
        );
        if g.correct[i] {
            cells.0.push(cell)
        } else {
            cells.1.push(cell)
        }
    }
    let mut pn = Panel::new(
        t,
        Axis::integers("x", 0, p - 1).with_ticks(p.min(8)),
        Axis::integers("y", 0, p - 1).with_ticks(p.min(8)),
    );
    pn.grid = false;
    pn.left = 50;
    pn.bottom = 44;
    pn.legend = Legend::None;
    pn.layers
        .push(Layer::new("correct", GOOD, Mark::Cells(cells.0)));
    pn.layers
        .push(Layer::new("wrong", BAD, Mark::Cells(cells.1)));
    pn
}

/// Adds the training pairs of `pc` (classes 0 and 1) to the grid panel `pn` of `g` as dots of
/// radius `dot_r`, and the train and test accuracy (classes 2 and 3) to its title.
fn mark_training_pairs(pn: &mut Panel, g: &read::Grid, pc: &read::PairClasses, dot_r: u32) {
    let p = pc.p;
    let dots: Vec<(f64, f64)> = (0..p * p)
        .filter(|&i| matches!(pc.class[i], Some(0) | Some(1)))
        .map(|i| ((i / p) as f64, (i % p) as f64))
        .collect();
    let acc = |sel: &dyn Fn(Option<usize>) -> bool| {
        let idx: Vec<usize> = (0..p * p).filter(|&i| sel(pc.class[i])).collect();
        if idx.is_empty() {
            None
        } else {
            Some(idx.iter().filter(|&&i| g.correct[i]).count() as f64 / idx.len() as f64)
        }
    };
    let tr = acc(&|c| matches!(c, Some(0) | Some(1)));
    let te = acc(&|c| matches!(c, Some(2) | Some(3)));
    let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{:.0}%", 100.0 * v));
    pn.title += &format!(": train {}, test {}", pct(tr), pct(te));
    pn.layers.push(Layer::new(
        "training pair",
        BLACK,
        Mark::Points {
            points: dots,
            radius: dot_r,
        },
    ));
}

fn draw_swatch_legend(c: &Canvas, area: &Area, swatches: &[Swatch]) {
    let (x0, y0) = area.get_base_pixel();
    let mut s = String::new();
    for (i, sw) in swatches.iter().enumerate() {
        let y = y0 as f64 + 60.0 + 26.0 * i as f64;
        let glyph = if sw.dot {
            format!(
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\"/>",
                x0 as f64 + 18.0,
                y - 4.0,
                super::super::charts::hex(sw.color)
            )
        } else {
            format!(
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"16\" height=\"16\" fill=\"{}\" stroke=\"#888\" stroke-width=\"0.5\"/>",
                x0 as f64 + 10.0,
                y - 12.0,
                super::super::charts::hex(sw.color)
            )
        };
        s += &format!(
            "{glyph}<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"14\">{}</text>\n",
            x0 as f64 + 34.0,
            y + 1.0,
            super::super::svg::escape(&sw.name)
        );
    }
    c.begin("legend", &[]);
    c.raw(&s);
    c.end();
}

/// Memorisation masks from `pair_classes.csv` (columns `x, y, class`): left, the split into
/// training pairs, test pairs whose swap (y, x) is trained, and true test pairs; right, training
/// pairs trained in both orders (common) against one order (rare). A cell per pair.
pub fn pair_masks(path: &Path, context: &str) -> Result<Figure> {
    let pc = read::pair_classes(path)?;
    let p = pc.p;
    let title = format!("Memorisation and common-to-rare masks — {context}");
    let (c, body) = sheet(1500, 620, &title)?;
    let panels = body.split_evenly((1, 2));
    let views: [(&str, [(&str, RGBColor); 4]); 2] = [
        (
            "memorisation mask",
            [
                ("train", RGBColor(0x4d, 0x4d, 0x4d)),
                ("train", RGBColor(0x4d, 0x4d, 0x4d)),
                ("test, swap (y, x) trained", RGBColor(0x91, 0xbf, 0xdb)),
                ("test, true: neither order", RGBColor(0xfc, 0x8d, 0x59)),
            ],
        ),
        (
            "common-to-rare mask",
            [
                ("common: both orders", RGBColor(0x1a, 0x98, 0x50)),
                ("rare: one order", RGBColor(0xd7, 0x30, 0x27)),
                ("test", RGBColor(0xe6, 0xe6, 0xe6)),
                ("test", RGBColor(0xe6, 0xe6, 0xe6)),
            ],
        ),
    ];
    for ((name, colors), area) in views.iter().zip(&panels) {
        let mut pn = Panel::new(
            *name,
            Axis::integers("x", 0, p - 1).with_ticks(p.min(12)),
            Axis::integers("y", 0, p - 1).with_ticks(p.min(12)),
        );
        pn.grid = false;
        pn.right = 250;
        pn.legend = Legend::Outside;
        let mut groups: Vec<(String, RGBColor, Vec<Cell>)> = vec![];
        // Cells grouped by legend entry, entries in class order.
        for &(label, col) in colors.iter() {
            if !groups.iter().any(|g| g.0 == label) {
                groups.push((label.to_string(), col, vec![]));
            }
        }
        for i in 0..p * p {
            let Some(k) = pc.class[i] else { continue };
            let (label, col) = colors[k];
            let (x, y) = ((i / p) as f64, (i % p) as f64);
            let cell = (x - 0.5, x + 0.5, y - 0.5, y + 0.5, col);
            match groups.iter_mut().find(|g| g.0 == label) {
                Some(g) => g.2.push(cell),
                None => groups.push((label.to_string(), col, vec![cell])),
            }
        }
        for (label, col, cells) in groups {
            let n = cells.len();
            if n == 0 {
                continue;
            }
            pn.layers.push(Layer::new(
                format!("{label} ({n})"),
                col,
                Mark::Cells(cells),
            ));
        }
        draw_panel(&c, area, &pn)?;
    }
    Ok(finish(
        &c,
        title,
        "Left: which pairs (x, y) are trained, which test pairs have their swap (y, x) in the training set (the x ↔ y symmetry gives these away during memorisation), and which are truly unseen. Right: training pairs seen in both orders (common) and in one order only (rare); common pairs are memorised first.".into(),
        vec![path.to_path_buf()],
    ))
}

/// Decoded weights at the stage boundaries: for each `stages/<boundary>/` folder (its `epoch.csv`
/// and `analysis/spectrum.csv`, columns `layer, m, k, magnitude`), the W_in and W_out Fourier
/// spectra as in [`spectra`](super::analysis::spectra), one row per boundary.
pub fn stage_weights(stages_dir: &Path, context: &str) -> Result<Figure> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(stages_dir)
        .map_err(|e| crate::error::Error::io(stages_dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("analysis/spectrum.csv").is_file())
        .collect();
    if dirs.is_empty() {
        return Err(crate::error::Error::io(
            stages_dir.join("<boundary>/analysis/spectrum.csv"),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no stage boundary folder with an analysis",
            ),
        ));
    }
    let mut rows = vec![];
    for d in &dirs {
        let epoch = if d.join("epoch.csv").is_file() {
            Some(read::single_number(&d.join("epoch.csv"), "epoch")?)
        } else {
            None
        };
        rows.push((
            epoch,
            d.clone(),
            read::spectrum(&d.join("analysis/spectrum.csv"))?,
        ));
    }
    rows.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    dirs = rows.iter().map(|r| r.1.clone()).collect();
    let nl = rows.iter().map(|r| r.2.len()).max().unwrap_or(2);
    let title = format!("Decoded weights at the stage boundaries — {context}");
    let (c, body) = sheet(40 + 620 * nl as u32, 60 + 760 * rows.len() as u32, &title)?;
    let panels = body.split_evenly((rows.len(), nl));
    for (r, (epoch, dir, layers)) in rows.iter().enumerate() {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().replace('_', " "))
            .unwrap_or_default();
        let by = layers
            .iter()
            .find(|l| l.layer == "in")
            .unwrap_or(&layers[0]);
        let (order, dom) = neuron_order(by);
        for (i, l) in layers.iter().enumerate() {
            let scale = magnitude_scale(l, "magnitude |a_k| (weight units)");
            let when = epoch.map_or(String::new(), |e| format!(", epoch {}", fmt_num(e)));
            let p = spectrum_panel(
                l,
                &order,
                &dom,
                &scale,
                false,
                format!("{name}{when}: {}", layer_title(&l.layer)),
            );
            draw_panel(&c, &panels[r * nl + i], &p)?;
        }
    }
    let mut sources = vec![];
    for d in &dirs {
        sources.push(d.join("epoch.csv"));
        sources.push(d.join("analysis/spectrum.csv"));
    }
    Ok(finish(
        &c,
        title,
        "The weights saved at each stage boundary, decoded into Fourier components: per neuron (rows, sorted by dominant input frequency) the magnitude of each frequency of W_in and W_out.".into(),
        sources,
    ))
}
