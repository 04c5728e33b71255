//! Figures of the dynamics: decoupled-ODE trajectories, the lottery contour, race and
//! predictions, and the single-frequency runs' snapshots.

use super::common::*;
use crate::error::Result;
use crate::pipelines::plot::charts::{
    draw_panel, finite_range, fmt_num, series_color, Axis, ColorScale, Frame, Layer, Legend, Mark,
    Panel, Rule, PALETTE,
};
use crate::pipelines::plot::read;
use crate::pipelines::plot::svg::Canvas;
use plotters::prelude::*;
use std::f64::consts::PI;
use std::path::Path;

/// Decoupled-ODE trajectories from `trajectories.csv` (columns `run, d0, t, alpha, beta, d`): α(t)
/// and β(t) on log axes and D(t), one line per run, coloured by the run's initial D0.
pub fn ode_trajectories(path: &Path, context: &str) -> Result<Figure> {
    let tr = read::trajectories(path)?;
    let runs = tr.runs();
    let title = format!("Decoupled-ODE trajectories — {context}");
    let (c, body) = sheet(1700, 580, &title)?;
    let widths = [530, 530];
    let (a, rest) = body.split_horizontally(widths[0]);
    let (b, d) = rest.split_horizontally(widths[1]);
    let tx = Axis::fit("time t (ODE units)", tr.t.iter().copied());
    let specs: [(&str, &str, &Vec<f64>, bool); 3] = [
        ("input magnitude α(t)", "α (log scale)", &tr.alpha, true),
        ("output magnitude β(t)", "β (log scale)", &tr.beta, true),
        ("misalignment D(t)", "D = 2φ − ψ (rad)", &tr.d, false),
    ];
    for (i, ((name, ylab, vals, log), area)) in specs.iter().zip([&a, &b, &d]).enumerate() {
        let y = if *log {
            Axis::fit_log(*ylab, vals.iter().copied())
        } else {
            angle_axis(ylab)
        };
        let mut p = Panel::new(*name, tx.clone(), y);
        let labels = distinct_labels(&runs.iter().map(|r| tr.d0[r[0]]).collect::<Vec<_>>());
        for (r, rows) in runs.iter().enumerate() {
            let line: Vec<(f64, f64)> = rows.iter().map(|&i| (tr.t[i], vals[i])).collect();
            let mark = if *log {
                Mark::line(line, 2)
            } else {
                Mark::angle_line(line, 2)
            };
            let mut l = Layer::new(
                format!("D0 = {}", labels[r]),
                series_color(r, runs.len()),
                mark,
            );
            if i < 2 {
                l = l.quiet();
            }
            p.layers.push(l);
        }
        if i == 2 {
            p.right = 150;
            p.legend = Legend::Outside;
        } else {
            p.legend = Legend::None;
        }
        draw_panel(&c, area, &p)?;
    }
    Ok(finish(
        &c,
        title,
        "Solutions of the decoupled four-variable ODE of one (neuron, frequency) from several initial misalignments D0: magnitudes grow fastest when aligned, and D flows to 0 from every start but the unstable D0 = π.".into(),
        vec![path.to_path_buf()],
    ))
}

fn edges(vals: &[f64]) -> Vec<f64> {
    let mut u: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
    u.sort_by(|a, b| a.total_cmp(b));
    u.dedup();
    u
}

fn cell_span(u: &[f64], v: f64) -> (f64, f64) {
    let i = u.iter().position(|x| *x == v).unwrap_or(0);
    let w = |a: usize, b: usize| (u[b] - u[a]) / 2.0;
    let lo = if i > 0 {
        v - w(i - 1, i)
    } else if u.len() > 1 {
        v - w(0, 1)
    } else {
        v - 0.5
    };
    let hi = if i + 1 < u.len() {
        v + w(i, i + 1)
    } else if u.len() > 1 {
        v + w(u.len() - 2, u.len() - 1)
    } else {
        v + 0.5
    };
    (lo, hi)
}

/// The lottery contour from `contour.csv` (columns `magnitude, d0, beta, capped_at`): final β over
/// initial magnitude α0 = β0 (x) and initial misalignment D0 (y), colour on a log scale; dots mark
/// starts whose β passed the cap (blew up) before the horizon.
pub fn lottery_contour(path: &Path, context: &str) -> Result<Figure> {
    let ct = read::contour(path)?;
    let title = format!("Lottery contour: final β over the initial state — {context}");
    let (c, body) = sheet(1100, 760, &title)?;
    let mu = edges(&ct.magnitude);
    let du = edges(&ct.d0);
    let (lo, hi) = finite_range(ct.beta.iter().copied(), true).unwrap_or((1e-3, 1.0));
    let scale = ColorScale::log("final β (log scale)", lo, hi);
    let x0 = cell_span(&mu, mu[0]).0;
    let x1 = cell_span(&mu, *mu.last().unwrap_or(&1.0)).1;
    let y0 = cell_span(&du, du[0]).0;
    let y1 = cell_span(&du, *du.last().unwrap_or(&1.0)).1;
    let mut p = Panel::new(
        format!(
            "{} initial magnitudes x {} initial misalignments",
            mu.len(),
            du.len()
        ),
        Axis::linear("initial magnitude α0 = β0", x0, x1),
        Axis::linear("initial misalignment D0 (rad)", y0, y1),
    );
    p.grid = false;
    let cells = (0..ct.beta.len())
        .map(|i| {
            let (a, b) = cell_span(&mu, ct.magnitude[i]);
            let (c0, c1) = cell_span(&du, ct.d0[i]);
            (a, b, c0, c1, scale.color(ct.beta[i]))
        })
        .collect();
    p.layers
        .push(Layer::new("cells", GREY, Mark::Cells(cells)).quiet());
    let capped: Vec<(f64, f64)> = (0..ct.beta.len())
        .filter(|&i| ct.capped_at[i].is_some())
        .map(|i| (ct.magnitude[i], ct.d0[i]))
        .collect();
    if !capped.is_empty() {
        p.layers.push(Layer::new(
            "β passed the cap (blew up)",
            DARK,
            Mark::Points {
                points: capped,
                radius: 2,
            },
        ));
    }
    p.rules.push(Rule::y(PI, "D0 = π (unstable)", WHITE));
    p.right = 140;
    p.colorbar = Some(scale);
    p.legend = Legend::UpperLeft;
    draw_panel(&c, &body, &p)?;
    Ok(finish(
        &c,
        title,
        "The output magnitude β reached at a fixed time from alpha0 = beta0 = the initial magnitude and the initial misalignment D0, in the decoupled ODE: larger and better-aligned starts win the race (the lottery ticket); dots mark starts that blew up before the horizon.".into(),
        vec![path.to_path_buf()],
    ))
}

/// The lottery race of one neuron from `race.csv` (columns `epoch, k, alpha, beta, d`): α_k, β_k
/// (log axes) and D_k over epochs, one line per frequency k; the final winner is drawn thicker.
pub fn lottery_race(path: &Path, context: &str) -> Result<Figure> {
    let r = read::race(path)?;
    let groups = read::group_rows(&r.k);
    let title = format!("Lottery race of one neuron — {context}");
    let (c, body) = sheet(1700, 580, &title)?;
    let (a, rest) = body.split_horizontally(520);
    let (b, d) = rest.split_horizontally(520);
    let ex = Axis::fit("epoch", r.epoch.iter().copied());
    let winner = groups
        .iter()
        .max_by(|x, y| {
            let fx = r.alpha[*x.last().unwrap()];
            let fy = r.alpha[*y.last().unwrap()];
            fx.total_cmp(&fy)
        })
        .map(|g| r.k[g[0]]);
    let specs: [(&str, &str, &Vec<f64>, bool); 3] = [
        ("input magnitude α_k", "α_k (log scale)", &r.alpha, true),
        ("output magnitude β_k", "β_k (log scale)", &r.beta, true),
        ("misalignment D_k", "D_k = 2φ_k − ψ_k (rad)", &r.d, false),
    ];
    for (i, ((name, ylab, vals, log), area)) in specs.iter().zip([&a, &b, &d]).enumerate() {
        let y = if *log {
            Axis::fit_log(*ylab, vals.iter().copied())
        } else {
            angle_axis(ylab)
        };
        let mut p = Panel::new(*name, ex.clone(), y);
        for (gi, rows) in groups.iter().enumerate() {
            let k = r.k[rows[0]];
            let line: Vec<(f64, f64)> = rows.iter().map(|&i| (r.epoch[i], vals[i])).collect();
            let line = if *log {
                Mark::line(line, 2)
            } else {
                Mark::angle_line(line, 2)
            };
            let win = Some(k) == winner;
            let label = if win {
                format!("k = {k} (winner)")
            } else {
                format!("k = {k}")
            };
            let line = match line {
                Mark::Line { segments, .. } => Mark::Line {
                    segments,
                    width: if win { 4 } else { 2 },
                },
                other => other,
            };
            let mut l = Layer::new(label, series_color(gi, groups.len()), line);
            if i < 2 {
                l = l.quiet();
            }
            p.layers.push(l);
        }
        if i == 2 {
            p.right = 160;
            p.legend = Legend::Outside;
        } else {
            p.legend = Legend::None;
        }
        draw_panel(&c, area, &p)?;
    }
    Ok(finish(
        &c,
        title,
        "For one neuron of the quad_random run, the magnitude and misalignment of every frequency k over training: the frequencies race, and the one that wins (largest final α) was set by the initial state.".into(),
        vec![path.to_path_buf()],
    ))
}

/// Lottery predictions from `predictions.csv` (columns `by_misalignment, by_ode, final_winner`):
/// for each rule, a K x K count matrix of predicted frequency against the final winner (or, without
/// final winners, of the two rules against each other); `accuracy.csv` (`rule, accuracy`), when
/// given, goes into the titles.
pub fn lottery_predictions(path: &Path, accuracy: Option<&Path>, context: &str) -> Result<Figure> {
    let pr = read::predictions(path)?;
    let acc = match accuracy {
        Some(a) => read::lottery_accuracy(a)?,
        None => vec![],
    };
    let kmax = pr
        .by_misalignment
        .iter()
        .chain(&pr.by_ode)
        .chain(pr.final_winner.iter().flatten())
        .copied()
        .max()
        .unwrap_or(1);
    let have_final = pr.final_winner.iter().all(Option::is_some);
    let title = format!("Lottery predictions — {context}");
    let views = prediction_views(&pr, have_final);
    let (c, body) = sheet(40 + 700 * views.len() as u32, 760, &title)?;
    let panels = body.split_evenly((1, views.len()));
    for (view, area) in views.iter().zip(&panels) {
        let counts = prediction_counts(view, kmax);
        let hi = counts.iter().copied().max().unwrap_or(1) as f64;
        let scale = ColorScale::linear("neurons", 0.0, hi);
        let measured = acc.iter().find(|(r, _)| r == view.rule).map(|(_, a)| *a);
        let p = prediction_panel(view, &counts, &scale, kmax, measured, have_final);
        let frame = draw_panel(&c, area, &p)?;
        if kmax <= 16 {
            draw_count_labels(&c, &frame, &counts, &scale, kmax);
        }
    }
    let mut sources = vec![path.to_path_buf()];
    sources.extend(accuracy.map(Path::to_path_buf));
    Ok(finish(
        &c,
        title,
        "How often each lottery predictor names the frequency that finally dominates each neuron: counts of (predicted, final) frequency; the diagonal holds the correct predictions.".into(),
        sources,
    ))
}

/// One count matrix of [`lottery_predictions`]: a rule's predictions against the truth.
struct PredictionView<'a> {
    /// Panel name.
    name: &'static str,
    /// Predicted frequency per neuron.
    pred: &'a [usize],
    /// Final winner per neuron (without final winners: the ODE-race prediction).
    truth: Vec<usize>,
    /// The rule's name in `accuracy.csv` (empty: none).
    rule: &'static str,
}

/// The panels of [`lottery_predictions`]: each rule against the final winners when all are
/// known, else the smallest-|D| rule against the ODE race.
fn prediction_views(pr: &read::Predictions, have_final: bool) -> Vec<PredictionView<'_>> {
    if have_final {
        let fin: Vec<usize> = pr.final_winner.iter().map(|f| f.unwrap_or(0)).collect();
        vec![
            PredictionView {
                name: "smallest |D(0)| rule",
                pred: &pr.by_misalignment,
                truth: fin.clone(),
                rule: "smallest_misalignment",
            },
            PredictionView {
                name: "decoupled-ODE race",
                pred: &pr.by_ode,
                truth: fin,
                rule: "ode_race",
            },
        ]
    } else {
        vec![PredictionView {
            name: "rules against each other",
            pred: &pr.by_misalignment,
            truth: pr.by_ode.clone(),
            rule: "",
        }]
    }
}

/// Neurons per (predicted, true) frequency, indexed `predicted * (kmax + 1) + true`.
fn prediction_counts(view: &PredictionView<'_>, kmax: usize) -> Vec<usize> {
    let mut counts = vec![0usize; (kmax + 1) * (kmax + 1)];
    for (a, b) in view.pred.iter().zip(&view.truth) {
        counts[a * (kmax + 1) + b] += 1;
    }
    counts
}

/// The count matrix of one view as a heatmap over frequencies 1..=kmax (predicted across, true
/// up); the title gives the share right (`measured` from `accuracy.csv` if known, else counted)
/// or, without final winners, the number of agreements.
fn prediction_panel(
    view: &PredictionView<'_>,
    counts: &[usize],
    scale: &ColorScale,
    kmax: usize,
    measured: Option<f64>,
    have_final: bool,
) -> Panel {
    let mut cells = vec![];
    for a in 1..=kmax {
        for b in 1..=kmax {
            let (x, y) = (a as f64, b as f64);
            cells.push((
                x - 0.5,
                x + 0.5,
                y - 0.5,
                y + 0.5,
                scale.color(counts[a * (kmax + 1) + b] as f64),
            ));
        }
    }
    let n = view.pred.len();
    let name = view.name;
    let hits = view
        .pred
        .iter()
        .zip(&view.truth)
        .filter(|(a, b)| a == b)
        .count();
    let frac = measured.unwrap_or(hits as f64 / n.max(1) as f64);
    let (title, xlab, ylab) = if have_final {
        (
            format!("{name}: {:.0}% of {n} neurons right", 100.0 * frac),
            "predicted frequency",
            "final dominant frequency (winner)",
        )
    } else {
        (
            format!("{name}: agree on {hits} of {n}"),
            "smallest-|D| prediction",
            "ODE-race prediction",
        )
    };
    let mut p = Panel::new(
        title,
        Axis::integers(xlab, 1, kmax).with_ticks(kmax.min(16)),
        Axis::integers(ylab, 1, kmax).with_ticks(kmax.min(16)),
    );
    p.grid = false;
    p.layers
        .push(Layer::new("count cells", GREY, Mark::Cells(cells)).quiet());
    p.right = 130;
    p.colorbar = Some(scale.clone());
    p.legend = Legend::None;
    p
}

/// The count of every cell written on it (black or white, whichever reads on its colour).
fn draw_count_labels(c: &Canvas, frame: &Frame, counts: &[usize], scale: &ColorScale, kmax: usize) {
    let mut s = String::new();
    for a in 1..=kmax {
        for b in 1..=kmax {
            let n = counts[a * (kmax + 1) + b];
            let (x, y) = frame.map(a as f64, b as f64);
            let fill = if super::super::charts::luminance(scale.color(n as f64)) > 0.5 {
                "#000"
            } else {
                "#fff"
            };
            s += &format!("<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"11\" fill=\"{fill}\">{n}</text>\n", y + 4.0);
        }
    }
    c.begin("counts", &[]);
    c.raw(&s);
    c.end();
}

/// Single-frequency snapshots from `snapshots.csv` (columns `preset, epoch, phi, psi, d`): for each
/// preset (row) and checkpoint (column), ψ against wrap(2φ) for every neuron, with the line ψ = 2φ.
pub fn sf_snapshots(path: &Path, context: &str) -> Result<Figure> {
    let s = read::snapshots(path)?;
    let keys: Vec<(String, usize)> = s
        .preset
        .iter()
        .cloned()
        .zip(s.epoch.iter().copied())
        .collect();
    let blocks = read::group_rows(&keys);
    let mut presets: Vec<String> = vec![];
    for k in &keys {
        if !presets.contains(&k.0) {
            presets.push(k.0.clone());
        }
    }
    let cols = presets
        .iter()
        .map(|p| blocks.iter().filter(|b| keys[b[0]].0 == *p).count())
        .max()
        .unwrap_or(1);
    let title = format!("Single-frequency runs: phase alignment at checkpoints — {context}");
    let (c, body) = sheet(
        40 + 440 * cols as u32,
        60 + 470 * presets.len() as u32,
        &title,
    )?;
    let panels = body.split_evenly((presets.len(), cols));
    for (pi, preset) in presets.iter().enumerate() {
        let mine: Vec<&Vec<usize>> = blocks.iter().filter(|b| keys[b[0]].0 == *preset).collect();
        for (ci, rows) in mine.iter().enumerate() {
            let epoch = keys[rows[0]].1;
            let pts: Vec<(f64, f64)> = rows
                .iter()
                .map(|&i| (wrap(2.0 * s.phi[i]), s.psi[i]))
                .collect();
            let msd = rows.iter().map(|&i| s.d[i].sin().abs()).sum::<f64>() / rows.len() as f64;
            let mut p = Panel::new(
                format!("{preset}, epoch {epoch}"),
                angle_axis("wrap(2φ) (rad)"),
                angle_axis("ψ (rad)"),
            );
            p.layers.push(
                Layer::new("ψ = 2φ", DARK, Mark::line(vec![(-PI, -PI), (PI, PI)], 1)).quiet(),
            );
            p.layers.push(
                Layer::new(
                    "neurons",
                    PALETTE[pi % PALETTE.len()],
                    Mark::Points {
                        points: pts,
                        radius: 2,
                    },
                )
                .quiet(),
            );
            p.notes.push(format!(
                "{} neurons, mean |sin D| = {}",
                rows.len(),
                fmt_num(msd)
            ));
            p.legend = Legend::None;
            draw_panel(&c, &panels[pi * cols + ci], &p)?;
        }
    }
    Ok(finish(
        &c,
        title,
        "In the runs that start every neuron at one frequency, each neuron's output phase ψ against twice its input phase φ at the first, middle and last checkpoint: random at initialisation, the points gather on the diagonal ψ = 2φ (mod 2π) as the phases align.".into(),
        vec![path.to_path_buf()],
    ))
}

/// Single-frequency spectra from `spectra.csv` (columns `preset, epoch, layer, m, k, magnitude`):
/// per preset and layer (rows) and checkpoint (columns), a neurons x k heatmap of each neuron's
/// magnitudes divided by its largest one; neurons sorted by their dominant W_in frequency at the
/// first checkpoint, kept in that order across checkpoints.
pub fn sf_spectra(path: &Path, context: &str) -> Result<Figure> {
    let snaps = read::sf_spectra(path)?;
    let mut presets: Vec<String> = vec![];
    for s in &snaps {
        if !presets.contains(&s.preset) {
            presets.push(s.preset.clone());
        }
    }
    let mut rows: Vec<(String, String)> = vec![];
    for p in &presets {
        let first = snaps
            .iter()
            .find(|s| &s.preset == p)
            .map(|s| s.layers.clone())
            .unwrap_or_default();
        for l in first {
            rows.push((p.clone(), l.layer.clone()));
        }
    }
    let cols = presets
        .iter()
        .map(|p| snaps.iter().filter(|s| &s.preset == p).count())
        .max()
        .unwrap_or(1);
    let title = format!("Single-frequency runs: spectra at checkpoints — {context}");
    let (c, body) = sheet(40 + 480 * cols as u32, 60 + 400 * rows.len() as u32, &title)?;
    let panels = body.split_evenly((rows.len(), cols));
    let scale = ColorScale::linear("magnitude / the neuron's largest", 0.0, 1.0);
    for (ri, (preset, layer)) in rows.iter().enumerate() {
        let mine: Vec<_> = snaps.iter().filter(|s| &s.preset == preset).collect();
        let first = mine[0]
            .layers
            .iter()
            .find(|l| l.layer == "W_in" || l.layer == "in")
            .unwrap_or(&mine[0].layers[0]);
        let (order, dom) = neuron_order(first);
        for (ci, snap) in mine.iter().enumerate() {
            let Some(l) = snap.layers.iter().find(|l| &l.layer == layer) else {
                continue;
            };
            if l.neurons != order.len() {
                return Err(crate::error::Error::Shape {
                    what: format!(
                        "{} ({preset}, epoch {}, {layer})",
                        path.display(),
                        snap.epoch
                    ),
                    found: format!("{} neurons", l.neurons),
                    expected: format!("{} neurons as at the first checkpoint", order.len()),
                });
            }
            let mut p = spectrum_panel(
                l,
                &order,
                &dom,
                &scale,
                true,
                format!("{preset}: {layer}, epoch {}", snap.epoch),
            );
            p.y.label = "neuron, sorted by k* at the first checkpoint".into();
            if ci + 1 < mine.len() {
                p.colorbar = None;
                p.right = 18;
            }
            p.left = 70;
            draw_panel(&c, &panels[ri * cols + ci], &p)?;
        }
    }
    Ok(finish(
        &c,
        title,
        "Fourier magnitudes of every neuron's W_in and W_out in the single-frequency runs at the first, middle and last checkpoint, each neuron scaled to its largest magnitude: Quad keeps each neuron on its frequency; ReLU leaks into harmonics.".into(),
        vec![path.to_path_buf()],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_spans_tile_the_range() {
        let u = vec![0.0, 1.0, 3.0];
        assert_eq!(cell_span(&u, 0.0), (-0.5, 0.5));
        assert_eq!(cell_span(&u, 1.0), (0.5, 2.0));
        assert_eq!(cell_span(&u, 3.0), (2.0, 4.0));
    }
}
