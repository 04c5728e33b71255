//! What every figure shares: the [`Figure`] type, colours, the sheet with its title, the
//! spectrum heatmap panel and the neuron ordering.

use crate::error::Result;
use crate::pipelines::plot::charts::{
    draw_error, finite_range, fmt_num, Axis, ColorScale, Layer, Legend, Mark, Panel, Rule, FONT,
    PALETTE,
};
use crate::pipelines::plot::read::LayerSpectrum;
use crate::pipelines::plot::svg::{Area, Canvas};
use plotters::prelude::*;
use std::f64::consts::PI;
use std::path::PathBuf;
/// A drawn figure, not yet written.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Title (also the SVG's `<title>`).
    pub title: String,
    /// What the figure shows, for the caption in `index.html`.
    pub caption: String,
    /// The files it was drawn from.
    pub sources: Vec<PathBuf>,
    /// The SVG document.
    pub svg: String,
}

pub(super) const TRAIN_C: RGBColor = PALETTE[0];
pub(super) const TEST_C: RGBColor = PALETTE[1];
pub(super) const GOOD: RGBColor = RGBColor(0x2c, 0x7f, 0xb8);
pub(super) const BAD: RGBColor = RGBColor(0xf4, 0xa5, 0x82);
pub(super) const GREY: RGBColor = RGBColor(0x9a, 0x9a, 0x9a);
pub(super) const DARK: RGBColor = RGBColor(0x33, 0x33, 0x33);

/// A white canvas with the figure title on top; returns the area below the title.
pub(super) fn sheet(w: u32, h: u32, title: &str) -> Result<(Canvas, Area)> {
    let c = Canvas::new(w, h);
    let root = c.area();
    root.fill(&WHITE).map_err(draw_error)?;
    let body = root
        .titled(title, (FONT, 25).into_font().style(FontStyle::Bold))
        .map_err(draw_error)?;
    Ok((c, body))
}

/// (The SVG's `<desc>` holds the caption; the writer adds the data files, relative to the plotted
/// folder, so a figure does not depend on where the folder lies.)
pub(super) fn finish(c: &Canvas, title: String, caption: String, sources: Vec<PathBuf>) -> Figure {
    Figure {
        svg: c.finish(&title, &caption),
        title,
        caption,
        sources,
    }
}

pub(super) fn pts(x: &[f64], y: &[f64]) -> Vec<(f64, f64)> {
    x.iter().copied().zip(y.iter().copied()).collect()
}

/// Wraps an angle into [-pi, pi).
pub fn wrap(a: f64) -> f64 {
    let t = (a + PI).rem_euclid(2.0 * PI) - PI;
    if t >= PI {
        t - 2.0 * PI
    } else {
        t
    }
}

pub(super) fn angle_axis(label: &str) -> Axis {
    Axis::linear(label, -PI - 0.1, PI + 0.1)
}

/// Neuron order for spectrum heatmaps: by dominant frequency of `by` (k >= 1), ties by index.
pub(super) fn neuron_order(by: &LayerSpectrum) -> (Vec<usize>, Vec<usize>) {
    let dom: Vec<usize> = (0..by.neurons).map(|m| by.dominant(m)).collect();
    let mut order: Vec<usize> = (0..by.neurons).collect();
    order.sort_by_key(|&m| (dom[m], m));
    (order, dom)
}

pub(super) fn layer_title(layer: &str) -> String {
    match layer {
        "in" | "W_in" => "W_in (θ_m, input)".into(),
        "out" | "W_out" => "W_out (ξ_m, output)".into(),
        "in_y" | "W_in_y" => "W_in_y (η_m, second input)".into(),
        other => other.into(),
    }
}

/// Most heatmap rows drawn; above this, consecutive neurons (in sorted order) share a row.
pub const MAX_HEATMAP_ROWS: usize = 1024;

/// A spectrum heatmap panel: one row per neuron in `order`, one column per k, colour = |magnitude|
/// on `scale`, or |magnitude| / the neuron's largest |magnitude| when `per_neuron`. With more than
/// [`MAX_HEATMAP_ROWS`] neurons, each row is the largest value over a run of consecutive sorted
/// neurons. Group boundaries of `dom` are drawn as thin white lines.
pub(super) fn spectrum_panel(
    s: &LayerSpectrum,
    order: &[usize],
    dom: &[usize],
    scale: &ColorScale,
    per_neuron: bool,
    title: String,
) -> Panel {
    let kmin = *s.ks.first().unwrap_or(&0);
    let kmax = *s.ks.last().unwrap_or(&0);
    let x = Axis::integers(
        if kmin == 0 {
            "frequency k (0 = constant term)"
        } else {
            "frequency k"
        },
        kmin,
        kmax,
    )
    .with_ticks(((kmax - kmin) + 1).min(16));
    let n = order.len();
    let bin = n.div_ceil(MAX_HEATMAP_ROWS).max(1);
    let ylab = if bin > 1 {
        format!("neuron, sorted by k* of W_in ({bin} per row, max)")
    } else {
        "neuron, sorted by k* of W_in".to_string()
    };
    let y = Axis::linear(ylab, 0.0, n as f64);
    let value = |m: usize, ci: usize| {
        let v = s.at(m, ci).abs();
        if per_neuron {
            let top = (0..s.ks.len())
                .map(|c| s.at(m, c).abs())
                .fold(0.0, f64::max);
            if top > 0.0 {
                v / top
            } else {
                0.0
            }
        } else {
            v
        }
    };
    let mut cells = Vec::with_capacity(n.div_ceil(bin) * s.ks.len());
    for start in (0..n).step_by(bin) {
        let end = (start + bin).min(n);
        let (y0, y1) = ((n - end) as f64, (n - start) as f64);
        for (ci, &k) in s.ks.iter().enumerate() {
            let v = order[start..end]
                .iter()
                .map(|&m| value(m, ci))
                .fold(f64::NEG_INFINITY, f64::max);
            cells.push((k as f64 - 0.5, k as f64 + 0.5, y0, y1, scale.color(v)));
        }
    }
    let mut p = Panel::new(title, x, y);
    p.grid = false;
    p.layers
        .push(Layer::new(format!("{} cells", s.layer), GREY, Mark::Cells(cells)).quiet());
    // Group separators: a white line where k* changes.
    let mut seps = vec![];
    for row in 1..n {
        if dom[order[row]] != dom[order[row - 1]] {
            seps.push(Rule::y((n - row) as f64, "", WHITE));
        }
    }
    p.rules = seps;
    p.right = 130;
    p.colorbar = Some(scale.clone());
    p.legend = Legend::None;
    p
}

pub(super) fn magnitude_scale(s: &LayerSpectrum, label: &str) -> ColorScale {
    let hi = finite_range(s.magnitude.iter().map(|v| v.abs()), false).map_or(1.0, |r| r.1);
    ColorScale::linear(label, 0.0, hi)
}

/// Short labels of `vals`, with as many significant digits as it takes to tell them apart.
pub fn distinct_labels(vals: &[f64]) -> Vec<String> {
    for digits in 3..=12 {
        let l: Vec<String> = vals
            .iter()
            .map(|v| {
                let s = format!("{v:.*}", digits);
                let s = s.trim_end_matches('0').trim_end_matches('.').to_string();
                if digits == 3 {
                    fmt_num(*v)
                } else {
                    s
                }
            })
            .collect();
        let mut u = l.clone();
        u.sort();
        u.dedup();
        if u.len() == l.len() {
            return l;
        }
    }
    vals.iter().map(|v| format!("{v}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_is_half_open() {
        assert!((wrap(PI) + PI).abs() < 1e-12);
        assert!((wrap(3.0 * PI / 2.0) + PI / 2.0).abs() < 1e-12);
        assert_eq!(wrap(0.5), 0.5);
    }

    #[test]
    fn wide_layers_share_heatmap_rows() {
        let (n, ks) = (3000, vec![0, 1, 2]);
        let s = LayerSpectrum {
            layer: "in".into(),
            neurons: n,
            magnitude: (0..n * ks.len()).map(|i| (i % 7) as f64).collect(),
            ks,
        };
        let (order, dom) = neuron_order(&s);
        let scale = magnitude_scale(&s, "m");
        let p = spectrum_panel(&s, &order, &dom, &scale, false, "t".into());
        match &p.layers[0].mark {
            // 3000 neurons, at most 1024 rows: 3 neurons per row, 1000 rows of 3 cells.
            Mark::Cells(c) => assert_eq!(c.len(), 3000),
            other => panic!("{other:?}"),
        }
        assert!(p.y.label.contains("3 per row"));
        let small = LayerSpectrum {
            neurons: 4,
            magnitude: vec![1.0; 12],
            ..s
        };
        let (order, dom) = neuron_order(&small);
        let p = spectrum_panel(&small, &order, &dom, &scale, true, "t".into());
        match &p.layers[0].mark {
            Mark::Cells(c) => assert_eq!(c.len(), 12),
            other => panic!("{other:?}"),
        }
    }
}
