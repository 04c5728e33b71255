//! Figures of an analysis of trained weights (spectra, phases, frequency groups, logits,
//! harmonics, activation swaps) and of Gromov's closed-form network.

use super::common::*;
use crate::error::Result;
use crate::pipelines::plot::charts::{
    draw_panel, finite_range, fmt_num, Axis, ColorScale, Layer, Legend, Mark, Panel, Rule, PALETTE,
};
use crate::pipelines::plot::read;
use std::f64::consts::PI;
use std::path::Path;

/// Final Fourier spectra from `spectrum.csv` (columns `layer, m, k, magnitude`): one heatmap per
/// layer (W_in, W_out, and W_in_y for untied models), a row per neuron sorted by the dominant
/// frequency k* of W_in, a column per k (0 = constant term), colour = |magnitude| (linear scale
/// per layer, colour bar beside it). White lines separate the k* groups.
pub fn spectra(spectrum: &Path, context: &str) -> Result<Figure> {
    let layers = read::spectrum(spectrum)?;
    let title = format!("Fourier spectra of the weights, per neuron — {context}");
    let w = 40 + 620 * layers.len() as u32;
    let (c, body) = sheet(w, 900, &title)?;
    let panels = body.split_evenly((1, layers.len()));
    let by = layers
        .iter()
        .find(|l| l.layer == "in")
        .unwrap_or(&layers[0]);
    let (order, dom) = neuron_order(by);
    for (l, area) in layers.iter().zip(&panels) {
        let scale = magnitude_scale(l, "magnitude |a_k| (weight units)");
        let p = spectrum_panel(
            l,
            &order,
            &dom,
            &scale,
            false,
            format!(
                "{}: {} neurons x {} frequencies",
                layer_title(&l.layer),
                l.neurons,
                l.ks.len()
            ),
        );
        draw_panel(&c, area, &p)?;
    }
    Ok(finish(
        &c,
        title,
        "Magnitude of each Fourier component of every neuron's input and output weights; neurons (rows) are sorted by the dominant input frequency k*, so a single bright cell per row means one frequency per neuron.".into(),
        vec![spectrum.to_path_buf()],
    ))
}

/// Per-neuron phase relation from `neurons.csv` (columns `freq, phi, psi, d`): ψ against wrap(2φ)
/// with the line ψ = 2φ, and D = wrap(2φ − ψ) per neuron (neurons sorted by k*), coloured by k*.
pub fn neuron_phases(neurons: &Path, context: &str) -> Result<Figure> {
    let n = read::neurons(neurons)?;
    let title = format!("Phase alignment of the neurons — {context}");
    let (c, body) = sheet(1400, 640, &title)?;
    let panels = body.split_evenly((1, 2));
    let kmax = n.freq.iter().copied().max().unwrap_or(1).max(1);
    let kmin = n.freq.iter().copied().min().unwrap_or(1);
    let scale = ColorScale::integers("dominant frequency k*", kmin as f64, kmax as f64);
    let mut ks: Vec<usize> = n.freq.clone();
    ks.sort_unstable();
    ks.dedup();
    draw_panel(&c, &panels[0], &phase_pairs_panel(&n, &ks, &scale))?;
    draw_panel(&c, &panels[1], &misalignment_panel(&n, &ks, scale))?;
    Ok(finish(
        &c,
        title,
        "Left: each neuron's output phase ψ against twice its input phase φ at its dominant frequency k*; aligned neurons lie on the diagonal ψ = 2φ (mod 2π). Right: the misalignment D = wrap(2φ − ψ) of every neuron, sorted by k*.".into(),
        vec![neurons.to_path_buf()],
    ))
}

/// Left panel of [`neuron_phases`]: ψ against wrap(2φ), one point layer per frequency in `ks`
/// coloured by `scale`, with the diagonal ψ = 2φ.
fn phase_pairs_panel(n: &read::Neurons, ks: &[usize], scale: &ColorScale) -> Panel {
    let mut p = Panel::new(
        "output phase ψ against twice the input phase φ",
        angle_axis("wrap(2φ) (rad)"),
        angle_axis("ψ (rad)"),
    );
    p.layers.push(Layer::new(
        "ψ = 2φ (D = 0)",
        DARK,
        Mark::line(vec![(-PI, -PI), (PI, PI)], 1),
    ));
    for &k in ks {
        let sel: Vec<(f64, f64)> = (0..n.m.len())
            .filter(|&i| n.freq[i] == k)
            .map(|i| (wrap(2.0 * n.phi[i]), n.psi[i]))
            .collect();
        p.layers.push(
            Layer::new(
                format!("k* = {k}"),
                scale.color(k as f64),
                Mark::Points {
                    points: sel,
                    radius: 3,
                },
            )
            .quiet(),
        );
    }
    p.legend = Legend::UpperLeft;
    p.right = 130;
    p.colorbar = Some(scale.clone());
    p
}

/// Right panel of [`neuron_phases`]: D per neuron, neurons sorted by (k*, index), one point
/// layer per frequency in `ks`, with the mean |sin D| as a note.
fn misalignment_panel(n: &read::Neurons, ks: &[usize], scale: ColorScale) -> Panel {
    let mut order: Vec<usize> = (0..n.m.len()).collect();
    order.sort_by_key(|&i| (n.freq[i], n.m[i]));
    let mut p = Panel::new(
        "misalignment D per neuron",
        Axis::linear("neuron, sorted by k*", -0.5, n.m.len() as f64 - 0.5),
        angle_axis("D = wrap(2φ − ψ) (rad)"),
    );
    for &k in ks {
        let sel: Vec<(f64, f64)> = order
            .iter()
            .enumerate()
            .filter(|(_, &i)| n.freq[i] == k)
            .map(|(r, &i)| (r as f64, n.d[i]))
            .collect();
        p.layers.push(
            Layer::new(
                format!("k* = {k}"),
                scale.color(k as f64),
                Mark::Points {
                    points: sel,
                    radius: 3,
                },
            )
            .quiet(),
        );
    }
    p.rules.push(Rule::y(0.0, "D = 0", DARK));
    let mean_abs_sin = n.d.iter().map(|d| d.sin().abs()).sum::<f64>() / n.d.len() as f64;
    p.notes
        .push(format!("mean |sin D| = {}", fmt_num(mean_abs_sin)));
    p.right = 130;
    p.colorbar = Some(scale);
    p
}

/// Frequency groups from `frequency_groups.csv`: neurons per frequency (`k, neurons`), the
/// phase-symmetry moments |mean e^{i l φ}| for l = 1..4 (`moment_1..moment_4`), and the spread of
/// a = α²β in each group (`a_mean`, `a_std`, `a_min`, `a_max`).
pub fn frequency_groups(path: &Path, context: &str) -> Result<Figure> {
    let g = read::frequency_groups(path)?;
    let title = format!("Frequency groups: balance, phase symmetry, magnitudes — {context}");
    let (c, body) = sheet(1650, 580, &title)?;
    let panels = body.split_evenly((1, 3));
    draw_panel(&c, &panels[0], &group_sizes_panel(&g))?;
    draw_panel(&c, &panels[1], &symmetry_moments_panel(&g))?;
    draw_panel(&c, &panels[2], &magnitude_spread_panel(&g))?;
    Ok(finish(
        &c,
        title,
        "Left: how many neurons have each dominant frequency (frequency balance). Middle: the phase-symmetry moments |mean e^{ilφ}| (l = 1..4) of each frequency group; complete diversification makes them 0. Right: the spread of the per-neuron magnitude a = α²β in each group (mean ± standard deviation, and min–max).".into(),
        vec![path.to_path_buf()],
    ))
}

/// The frequency axis of the [`frequency_groups`] panels: the groups' k, at most 16 ticks.
fn group_k_axis(g: &read::FrequencyGroups) -> Axis {
    let kmin = g.k.iter().copied().min().unwrap_or(1);
    let kmax = g.k.iter().copied().max().unwrap_or(1);
    Axis::integers("frequency k", kmin, kmax).with_ticks((kmax - kmin + 1).min(16))
}

/// Left panel of [`frequency_groups`]: neurons per frequency as bars, with the even split.
fn group_sizes_panel(g: &read::FrequencyGroups) -> Panel {
    let total: usize = g.neurons.iter().sum();
    let nmax = g.neurons.iter().copied().max().unwrap_or(1) as f64;
    let mut p = Panel::new(
        "neurons per frequency",
        group_k_axis(g),
        Axis::linear("neurons with k* = k", 0.0, nmax * 1.15),
    );
    let bars =
        g.k.iter()
            .zip(&g.neurons)
            .map(|(&k, &n)| (k as f64 - 0.35, k as f64 + 0.35, 0.0, n as f64))
            .collect();
    p.layers
        .push(Layer::new("neurons", PALETTE[0], Mark::Bars(bars)).quiet());
    if !g.k.is_empty() {
        p.rules
            .push(Rule::y(total as f64 / g.k.len() as f64, "even split", DARK));
    }
    p
}

/// Middle panel of [`frequency_groups`]: the moments l = 1..4 of each group as grouped bars.
fn symmetry_moments_panel(g: &read::FrequencyGroups) -> Panel {
    let mmax = g.moments.iter().flatten().copied().fold(0.0f64, f64::max);
    let mut p = Panel::new(
        "phase-symmetry moments per group",
        group_k_axis(g),
        Axis::linear(
            "|mean exp(i l φ)| over the group",
            0.0,
            (mmax * 1.25).max(0.05),
        ),
    );
    for (l, moment) in g.moments.iter().enumerate() {
        let off = -0.3 + 0.15 * l as f64;
        let bars =
            g.k.iter()
                .zip(moment)
                .map(|(&k, &v)| (k as f64 + off, k as f64 + off + 0.14, 0.0, v))
                .collect();
        p.layers.push(Layer::new(
            format!("l = {}", l + 1),
            PALETTE[l],
            Mark::Bars(bars),
        ));
    }
    p.legend = Legend::UpperRight;
    p.notes
        .push("Proposition 1 wants l = 2 and l = 4 near 0".into());
    p
}

/// Right panel of [`frequency_groups`]: a = α²β per group as min–max and mean ± std whiskers
/// with the mean as a point.
fn magnitude_spread_panel(g: &read::FrequencyGroups) -> Panel {
    let hi = g.a_max.iter().copied().fold(0.0f64, f64::max);
    let mut p = Panel::new(
        "magnitude a = α²β per group",
        group_k_axis(g),
        Axis::linear("a = α²β (weight units³)", 0.0, hi * 1.1),
    );
    let mm =
        g.k.iter()
            .enumerate()
            .map(|(i, &k)| (k as f64, g.a_min[i], g.a_max[i]))
            .collect();
    p.layers
        .push(Layer::new("min – max", GREY, Mark::Whiskers(mm)));
    let sd =
        g.k.iter()
            .enumerate()
            .map(|(i, &k)| {
                (
                    k as f64 + 0.12,
                    (g.a_mean[i] - g.a_std[i]).max(0.0),
                    g.a_mean[i] + g.a_std[i],
                )
            })
            .collect();
    p.layers
        .push(Layer::new("mean ± std", PALETTE[0], Mark::Whiskers(sd)));
    let means =
        g.k.iter()
            .zip(&g.a_mean)
            .map(|(&k, &m)| (k as f64 + 0.12, m))
            .collect();
    p.layers.push(
        Layer::new(
            "mean",
            PALETTE[0],
            Mark::Points {
                points: means,
                radius: 4,
            },
        )
        .quiet(),
    );
    p.legend = Legend::UpperRight;
    p
}

/// Pairs (x, y) to show in the logits figure: x != y with x + y, 2x, 2y distinct mod p.
pub fn chosen_pairs(p: usize, n: usize) -> Vec<(usize, usize)> {
    let ok = |x: usize, y: usize| {
        let (s, a, b) = ((x + y) % p, (2 * x) % p, (2 * y) % p);
        x != y && s != a && s != b && a != b
    };
    let mut out = vec![];
    let wanted = [(3, 7), (1, 4), (2, 9), (5, 12), (0, 6), (4, 13)];
    for &(x, y) in wanted.iter() {
        let (x, y) = (x % p, y % p);
        if out.len() < n && ok(x, y) && !out.contains(&(x, y)) {
            out.push((x, y));
        }
    }
    'outer: for x in 0..p {
        for y in 0..p {
            if out.len() >= n {
                break 'outer;
            }
            if ok(x, y) && !out.contains(&(x, y)) {
                out.push((x, y));
            }
        }
    }
    out
}

/// Logits from `logits.csv` (columns `x, y, j, logit`): the p logits of three chosen pairs as bars
/// (the correct class j = x + y, the spurious classes 2x and 2y, the rest), and the margin of the
/// correct logit over the largest other one for all p² pairs as a heatmap.
pub fn logits(path: &Path, context: &str) -> Result<Figure> {
    let lg = read::logits(path)?;
    let title = format!("Logits — {context}");
    let (c, body) = sheet(1400, 960, &title)?;
    let panels = body.split_evenly((2, 2));
    for (i, &(x, y)) in chosen_pairs(lg.p, 3).iter().enumerate() {
        draw_panel(&c, &panels[i], &pair_logits_panel(&lg, x, y))?;
    }
    draw_panel(&c, &panels[3], &margin_panel(&lg))?;
    Ok(finish(
        &c,
        title,
        "Bars: all p logits of three pairs (x, y); the correct class x + y should peak, with smaller spurious peaks at 2x and 2y (Proposition 1). Heatmap: for every pair, the correct logit minus the largest other logit (positive = classified correctly).".into(),
        vec![path.to_path_buf()],
    ))
}

/// The p logits of pair (x, y) as bars: the correct class, the spurious classes 2x and 2y, the
/// other classes.
fn pair_logits_panel(lg: &read::Logits, x: usize, y: usize) -> Panel {
    let p = lg.p;
    let v = lg.pair(x, y);
    let s = (x + y) % p;
    let (a, b) = ((2 * x) % p, (2 * y) % p);
    let (lo, hi) = finite_range(v.iter().copied(), false).unwrap_or((0.0, 1.0));
    let span = (hi.max(0.0) - lo.min(0.0)).max(1e-12);
    let mut pn = Panel::new(
        format!("(x, y) = ({x}, {y}): correct j = {s}, spurious j = {a}, {b}"),
        Axis::integers("output class j", 0, p - 1).with_ticks(p.min(24)),
        Axis::linear(
            "logit f(x, y)[j]",
            lo.min(0.0) - 0.05 * span,
            hi.max(0.0) + 0.15 * span,
        ),
    );
    let bar = |j: usize| (j as f64 - 0.4, j as f64 + 0.4, 0.0, v[j]);
    let others = (0..p)
        .filter(|&j| j != s && j != a && j != b)
        .map(bar)
        .collect();
    pn.layers
        .push(Layer::new("correct: x + y", GOOD, Mark::Bars(vec![bar(s)])));
    pn.layers.push(Layer::new(
        "spurious: 2x, 2y",
        PALETTE[1],
        Mark::Bars(vec![bar(a), bar(b)]),
    ));
    pn.layers
        .push(Layer::new("other classes", GREY, Mark::Bars(others)));
    pn.legend = Legend::UpperRight;
    pn
}

/// The margin f[x + y] − max over the other classes of every pair, indexed `x * p + y`.
fn correct_margins(lg: &read::Logits) -> Vec<f64> {
    let p = lg.p;
    let mut margins = vec![0.0; p * p];
    for x in 0..p {
        for y in 0..p {
            let v = lg.pair(x, y);
            let s = (x + y) % p;
            let best_other = (0..p)
                .filter(|&j| j != s)
                .map(|j| v[j])
                .fold(f64::NEG_INFINITY, f64::max);
            margins[x * p + y] = v[s] - best_other;
        }
    }
    margins
}

/// The margin of the correct class over all p² pairs as a heatmap (x across, y up) with a
/// symmetric colour bar; the title counts the pairs classified correctly.
fn margin_panel(lg: &read::Logits) -> Panel {
    let p = lg.p;
    let margins = correct_margins(lg);
    let r = finite_range(margins.iter().map(|m| m.abs()), false).map_or(1.0, |r| r.1);
    let scale = ColorScale::symmetric("margin f[x+y] − max other (logit units)", r);
    let cells = (0..p * p)
        .map(|i| {
            let (x, y) = ((i / p) as f64, (i % p) as f64);
            (x - 0.5, x + 0.5, y - 0.5, y + 0.5, scale.color(margins[i]))
        })
        .collect();
    let correct = margins.iter().filter(|m| **m > 0.0).count();
    let mut pn = Panel::new(
        format!(
            "margin over all pairs (red = correct: {correct} of {})",
            p * p
        ),
        Axis::integers("x", 0, p - 1).with_ticks(p.min(12)),
        Axis::integers("y", 0, p - 1).with_ticks(p.min(12)),
    );
    pn.grid = false;
    pn.layers
        .push(Layer::new("margin cells", GREY, Mark::Cells(cells)).quiet());
    pn.right = 130;
    pn.colorbar = Some(scale);
    pn.legend = Legend::None;
    pn
}

/// Gromov's closed form: accuracy of the first N neurons on all p² pairs against N from
/// `accuracy_by_width.csv` (columns `width, accuracy`), with the chance level 1/p when `p` is known;
/// with `neurons.csv` (columns `m, k`), the number of neurons per frequency.
pub fn closed_form(
    path: &Path,
    neurons: Option<&Path>,
    p: Option<usize>,
    context: &str,
) -> Result<Figure> {
    let (w, a) = read::accuracy_by_width(path)?;
    let ks = match neurons {
        Some(n) => Some(read::Table::read_nonempty(n)?.usizes("k")?),
        None => None,
    };
    let title = format!("Gromov's closed-form network: accuracy by width — {context}");
    let (c, body) = sheet(if ks.is_some() { 1400 } else { 900 }, 600, &title)?;
    let panels = body.split_evenly((1, if ks.is_some() { 2 } else { 1 }));
    let mut pn = Panel::new(
        "accuracy of the first N neurons",
        Axis::fit("neurons used N", w.iter().copied()),
        Axis::linear("accuracy on all p² pairs", -0.02, 1.05),
    );
    pn.layers.push(Layer::new(
        "accuracy",
        PALETTE[0],
        Mark::line(pts(&w, &a), 2),
    ));
    pn.layers.push(
        Layer::new(
            "accuracy points",
            PALETTE[0],
            Mark::Points {
                points: pts(&w, &a),
                radius: 3,
            },
        )
        .quiet(),
    );
    if let Some(p) = p {
        pn.rules.push(Rule::y(
            1.0 / p as f64,
            format!("chance 1/p = {}", fmt_num(1.0 / p as f64)),
            GREY,
        ));
    }
    pn.legend = Legend::None;
    draw_panel(&c, &panels[0], &pn)?;
    if let Some(ks) = ks {
        let kmax = ks.iter().copied().max().unwrap_or(1);
        let kmin = ks.iter().copied().min().unwrap_or(1);
        let mut counts = vec![0usize; kmax + 1];
        for &k in &ks {
            counts[k] += 1;
        }
        let bars: Vec<_> = (kmin..=kmax)
            .map(|k| (k as f64 - 0.35, k as f64 + 0.35, 0.0, counts[k] as f64))
            .collect();
        let hi = counts.iter().copied().max().unwrap_or(1) as f64;
        let mut pn = Panel::new(
            "neurons per frequency",
            Axis::integers("frequency k", kmin, kmax).with_ticks((kmax - kmin + 1).min(16)),
            Axis::linear("neurons", 0.0, hi * 1.15),
        );
        pn.layers
            .push(Layer::new("neurons", PALETTE[3], Mark::Bars(bars)).quiet());
        draw_panel(&c, &panels[1], &pn)?;
    }
    let mut sources = vec![path.to_path_buf()];
    sources.extend(neurons.map(Path::to_path_buf));
    Ok(finish(
        &c,
        title,
        "Accuracy on all p² pairs of the untied closed-form periodic network when only its first N neurons are kept: it solves the task exactly once enough frequencies and phases are present.".into(),
        sources,
    ))
}

/// Harmonic leakage from `harmonics.csv` (columns `layer, r, ratio`): per layer, the mean and the
/// 10–90 % range over neurons of the magnitude at fold(r k*) over that at k*, against r (log axis),
/// with the 1/r² reference.
pub fn harmonics(path: &Path, context: &str) -> Result<Figure> {
    let h = read::harmonics(path)?;
    let title = format!("Harmonic leakage — {context}");
    let (c, body) = sheet(1000, 620, &title)?;
    let mut layers: Vec<String> = vec![];
    for l in &h.layer {
        if !layers.contains(l) {
            layers.push(l.clone());
        }
    }
    let rmin = h.r.iter().copied().min().unwrap_or(2);
    let rmax = h.r.iter().copied().max().unwrap_or(5);
    let pos: Vec<f64> = h
        .ratio
        .iter()
        .copied()
        .filter(|v| *v > 0.0 && v.is_finite())
        .collect();
    let mut p = Panel::new(
        "magnitude at fold(r k*) / magnitude at k*",
        Axis::integers("harmonic r", rmin, rmax),
        Axis::fit_log(
            "ratio (log scale)",
            pos.iter()
                .copied()
                .chain((rmin..=rmax).map(|r| 1.0 / (r * r) as f64)),
        ),
    );
    for (li, layer) in layers.iter().enumerate() {
        let off = -0.1 + 0.2 * li as f64;
        let mut means = vec![];
        let mut ranges = vec![];
        for r in rmin..=rmax {
            let mut v: Vec<f64> = (0..h.r.len())
                .filter(|&i| h.r[i] == r && &h.layer[i] == layer && h.ratio[i] > 0.0)
                .map(|i| h.ratio[i])
                .collect();
            if v.is_empty() {
                continue;
            }
            v.sort_by(|a, b| a.total_cmp(b));
            let q = |f: f64| v[((v.len() - 1) as f64 * f).round() as usize];
            means.push((r as f64 + off, v.iter().sum::<f64>() / v.len() as f64));
            ranges.push((r as f64 + off, q(0.1), q(0.9)));
        }
        let col = PALETTE[li % PALETTE.len()];
        p.layers.push(
            Layer::new(
                format!("{} 10–90 %", layer_title(layer)),
                col,
                Mark::Whiskers(ranges),
            )
            .quiet(),
        );
        p.layers.push(Layer::new(
            format!("{}: mean over neurons", layer_title(layer)),
            col,
            Mark::Points {
                points: means,
                radius: 5,
            },
        ));
    }
    let refl = (rmin..=rmax)
        .map(|r| (r as f64, 1.0 / (r * r) as f64))
        .collect();
    p.layers.push(Layer::new("1/r²", DARK, Mark::line(refl, 1)));
    p.legend = Legend::LowerLeft;
    draw_panel(&c, &body, &p)?;
    Ok(finish(
        &c,
        title,
        "How much of each neuron's weight sits at the harmonics r k* of its dominant frequency (folded into 1..K), relative to k*: ReLU leaks into harmonics, roughly like 1/r²; Quad does not.".into(),
        vec![path.to_path_buf()],
    ))
}

/// Activation swaps from `swaps.csv` (columns `activation, even_part, accuracy`): the accuracy on
/// all pairs when the trained activation is replaced at test time, coloured by whether the new
/// activation has a non-zero even part.
pub fn swaps(path: &Path, context: &str) -> Result<Figure> {
    let s = read::swaps(path)?;
    let title = format!("Test-time activation swaps — {context}");
    let (c, body) = sheet(1000, 600, &title)?;
    let mut p = Panel::new(
        "accuracy with the activation replaced",
        Axis::categories("activation at test time", s.activation.clone()),
        Axis::linear("accuracy on all p² pairs", 0.0, 1.1),
    );
    let bar = |i: usize| (i as f64 - 0.35, i as f64 + 0.35, 0.0, s.accuracy[i]);
    let even = (0..s.activation.len())
        .filter(|&i| s.even_part[i])
        .map(bar)
        .collect();
    let odd = (0..s.activation.len())
        .filter(|&i| !s.even_part[i])
        .map(bar)
        .collect();
    p.layers
        .push(Layer::new("non-zero even part", GOOD, Mark::Bars(even)));
    p.layers.push(Layer::new(
        "odd (no even part)",
        PALETTE[2],
        Mark::Bars(odd),
    ));
    p.legend = Legend::UpperRight;
    draw_panel(&c, &body, &p)?;
    Ok(finish(
        &c,
        title,
        "Observation 4: a trained model keeps its accuracy when its activation is swapped for any activation with a non-zero even part, and drops to chance for odd ones.".into(),
        vec![path.to_path_buf()],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chosen_pairs_have_distinct_peaks() {
        for p in [3, 5, 11, 23, 97] {
            let ps = chosen_pairs(p, 3);
            assert!(!ps.is_empty(), "p = {p}");
            for (x, y) in ps {
                let s = (x + y) % p;
                assert!(s != (2 * x) % p && s != (2 * y) % p && x != y);
            }
        }
        assert_eq!(chosen_pairs(23, 1), vec![(3, 7)]);
    }
}
