//! Chart helpers: one [`Panel`] (axes, lines, points, bars, whiskers, heatmap cells, reference
//! rules, legend) and colour scales with their colour bar.
//!
//! A figure function fills [`Panel`]s with data and calls [`draw_panel`] on a part of the canvas.
//! Axes, ticks, tick labels, axis titles, captions and legends are drawn by plotters; heatmap
//! cells and reference rules are written directly at sub-pixel positions through the panel's
//! [`Frame`]. Each layer's marks sit in one `<g class="marks">` group whose `data-n` is the number
//! of data points, bars, whiskers or cells drawn (see [`super::svg`]). Points that cannot be drawn
//! (non-finite, or <= 0 on a log axis) are left out, and a line is broken there.

use super::svg::{escape, Area, Canvas, GroupedSvg};
use crate::error::{Error, Result};
use plotters::chart::SeriesAnno;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use std::fmt::Write as _;

/// Font family of all text.
pub const FONT: &str = "sans-serif";
/// Plotters font size of panel captions (the SVG font-size is this / 1.24).
pub const CAPTION_SIZE: f64 = 20.0;
/// Plotters font size of axis titles.
pub const DESC_SIZE: f64 = 17.0;
/// Plotters font size of tick labels and legends.
pub const TICK_SIZE: f64 = 15.0;

/// An error from plotters, reported against the figure being drawn.
pub fn draw_error<E: std::fmt::Debug>(e: E) -> Error {
    Error::io(
        "<svg in memory>",
        std::io::Error::other(format!("drawing failed: {e:?}")),
    )
}

/// One axis: its title (with units), range and scale.
#[derive(Debug, Clone)]
pub struct Axis {
    /// The axis title, with units.
    pub label: String,
    /// Lower end of the range.
    pub lo: f64,
    /// Upper end of the range.
    pub hi: f64,
    /// Logarithmic scale (lo > 0).
    pub log: bool,
    /// Label only integer ticks (category axes such as k or j).
    pub integers: bool,
    /// Most tick labels wanted.
    pub ticks: usize,
    /// Names of the integer positions 0, 1, ... (category axes); empty for numbers.
    pub categories: Vec<String>,
}

impl Axis {
    /// A linear axis over `lo..hi`.
    pub fn linear(label: impl Into<String>, lo: f64, hi: f64) -> Axis {
        let (lo, hi) = widen(lo, hi);
        Axis {
            label: label.into(),
            lo,
            hi,
            log: false,
            integers: false,
            ticks: 8,
            categories: vec![],
        }
    }

    /// A log axis over `lo..hi` (both > 0).
    pub fn log(label: impl Into<String>, lo: f64, hi: f64) -> Axis {
        let lo = if lo > 0.0 && lo.is_finite() {
            lo
        } else {
            1e-12
        };
        let hi = if hi > lo && hi.is_finite() {
            hi
        } else {
            lo * 10.0
        };
        Axis {
            label: label.into(),
            lo,
            hi,
            log: true,
            integers: false,
            ticks: 8,
            categories: vec![],
        }
    }

    /// A linear axis fitted to `values` (finite ones) with 4 % padding each side.
    pub fn fit(label: impl Into<String>, values: impl IntoIterator<Item = f64>) -> Axis {
        let (lo, hi) = finite_range(values, false).unwrap_or((0.0, 1.0));
        let pad = 0.04 * (hi - lo).max(1e-12 * hi.abs().max(1.0));
        Axis::linear(label, lo - pad, hi + pad)
    }

    /// A log axis fitted to the positive finite `values`, padded by a factor 1.3 each side.
    pub fn fit_log(label: impl Into<String>, values: impl IntoIterator<Item = f64>) -> Axis {
        let (lo, hi) = finite_range(values, true).unwrap_or((0.1, 1.0));
        Axis::log(label, lo / 1.3, hi * 1.3)
    }

    /// A category axis for the integers `lo..=hi`, each a unit-wide slot.
    pub fn integers(label: impl Into<String>, lo: usize, hi: usize) -> Axis {
        let mut a = Axis::linear(label, lo as f64 - 0.5, hi as f64 + 0.5);
        a.integers = true;
        a.ticks = (hi - lo + 1).min(24);
        a
    }

    /// A category axis naming positions 0, 1, ... by `names`.
    pub fn categories(label: impl Into<String>, names: Vec<String>) -> Axis {
        let mut a = Axis::integers(label, 0, names.len().saturating_sub(1));
        a.ticks = names.len().max(1);
        a.categories = names;
        a
    }

    /// The same axis with at most `n` tick labels.
    pub fn with_ticks(mut self, n: usize) -> Axis {
        self.ticks = n;
        self
    }

    /// True if `v` can be placed on this axis.
    pub fn accepts(&self, v: f64) -> bool {
        v.is_finite() && (!self.log || v > 0.0)
    }

    fn fraction(&self, v: f64) -> f64 {
        if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }
}

fn widen(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi > lo {
        (lo, hi)
    } else {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - d, lo + d)
    }
}

/// Smallest and largest finite value (positive only if `positive`), or `None`.
pub fn finite_range(values: impl IntoIterator<Item = f64>, positive: bool) -> Option<(f64, f64)> {
    let mut r: Option<(f64, f64)> = None;
    for v in values {
        if v.is_finite() && (!positive || v > 0.0) {
            r = Some(match r {
                None => (v, v),
                Some((a, b)) => (a.min(v), b.max(v)),
            });
        }
    }
    r
}

/// A short tick label: integers as they are, 3 significant digits, scientific outside 1e-3..1e5.
pub fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let s = format!("{v:.1e}");
        return s.replace(".0e", "e");
    }
    if (v - v.round()).abs() < 1e-9 * a.max(1.0) {
        return format!("{}", v.round() as i64);
    }
    let digits = (3 - a.log10().floor() as i32 - 1).clamp(0, 6) as usize;
    let s = format!("{v:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// A heatmap cell: `(x0, x1, y0, y1, colour)` in data coordinates.
pub type Cell = (f64, f64, f64, f64, RGBColor);

/// `v` in scientific notation with 3 significant digits (`1.5e-3`).
pub fn fmt_sci(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{v:.2e}");
    match s.split_once('e') {
        Some((m, e)) => {
            let m = if m.contains('.') {
                m.trim_end_matches('0').trim_end_matches('.')
            } else {
                m
            };
            format!("{m}e{e}")
        }
        None => s,
    }
}

/// True if the ticks of a linear range `lo..hi` read better in scientific notation (all of them,
/// so one axis never mixes `0.0015` and `5e-4`).
pub fn wants_sci(lo: f64, hi: f64) -> bool {
    let a = lo.abs().max(hi.abs());
    a > 0.0 && !(1e-2..1e5).contains(&a)
}

/// What a layer draws.
#[derive(Debug, Clone)]
pub enum Mark {
    /// Polylines (one per segment) of the given stroke width.
    Line {
        /// The segments; a gap in the data starts a new one.
        segments: Vec<Vec<(f64, f64)>>,
        /// Stroke width in pixels.
        width: u32,
    },
    /// Filled circles.
    Points {
        /// The points.
        points: Vec<(f64, f64)>,
        /// Radius in pixels.
        radius: u32,
    },
    /// Filled rectangles `(x0, x1, y0, y1)` in data coordinates.
    Bars(Vec<(f64, f64, f64, f64)>),
    /// Vertical segments `(x, y0, y1)` (error bars, ranges).
    Whiskers(Vec<(f64, f64, f64)>),
    /// Heatmap cells `(x0, x1, y0, y1, colour)` in data coordinates.
    Cells(Vec<Cell>),
}

impl Mark {
    /// A line through `points`, broken at points that are `None`.
    pub fn line_with_gaps(
        points: impl IntoIterator<Item = Option<(f64, f64)>>,
        width: u32,
    ) -> Mark {
        let mut segments = vec![vec![]];
        for p in points {
            match p {
                Some(p) => segments.last_mut().unwrap().push(p),
                None => {
                    if !segments.last().unwrap().is_empty() {
                        segments.push(vec![]);
                    }
                }
            }
        }
        segments.retain(|s| !s.is_empty());
        Mark::Line { segments, width }
    }

    /// A line of angles in [-pi, pi): broken where consecutive y values jump by more than pi
    /// (a wrap-around), so no vertical line crosses the panel.
    pub fn angle_line(points: Vec<(f64, f64)>, width: u32) -> Mark {
        let mut segments: Vec<Vec<(f64, f64)>> = vec![];
        for p in points {
            match segments.last_mut() {
                Some(seg)
                    if (seg.last().map_or(p.1, |q| q.1) - p.1).abs() <= std::f64::consts::PI =>
                {
                    seg.push(p)
                }
                _ => segments.push(vec![p]),
            }
        }
        Mark::Line { segments, width }
    }

    /// A line through `points`.
    pub fn line(points: Vec<(f64, f64)>, width: u32) -> Mark {
        Mark::Line {
            segments: vec![points],
            width,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Mark::Line { .. } => "line",
            Mark::Points { .. } => "points",
            Mark::Bars(_) => "bars",
            Mark::Whiskers(_) => "whiskers",
            Mark::Cells(_) => "cells",
        }
    }
}

/// One named layer of a panel.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Series name (legend entry and `data-series`).
    pub name: String,
    /// Colour of lines, points, bars and whiskers (cells carry their own).
    pub color: RGBColor,
    /// The marks.
    pub mark: Mark,
    /// Show in the legend.
    pub legend: bool,
}

impl Layer {
    /// A layer shown in the legend.
    pub fn new(name: impl Into<String>, color: RGBColor, mark: Mark) -> Layer {
        Layer {
            name: name.into(),
            color,
            mark,
            legend: true,
        }
    }

    /// The same layer without a legend entry.
    pub fn quiet(mut self) -> Layer {
        self.legend = false;
        self
    }
}

/// A dashed reference line across the panel, labelled at its end.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Vertical (at an x value) or horizontal (at a y value).
    pub vertical: bool,
    /// Where.
    pub at: f64,
    /// Label written next to it (may be empty).
    pub label: String,
    /// Colour.
    pub color: RGBColor,
}

impl Rule {
    /// A vertical rule at x.
    pub fn x(at: f64, label: impl Into<String>, color: RGBColor) -> Rule {
        Rule {
            vertical: true,
            at,
            label: label.into(),
            color,
        }
    }

    /// A horizontal rule at y.
    pub fn y(at: f64, label: impl Into<String>, color: RGBColor) -> Rule {
        Rule {
            vertical: false,
            at,
            label: label.into(),
            color,
        }
    }
}

/// Where the legend goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legend {
    /// No legend.
    None,
    /// Inside, upper left.
    UpperLeft,
    /// Inside, upper right.
    UpperRight,
    /// Inside, lower left.
    LowerLeft,
    /// Inside, lower right.
    LowerRight,
    /// Inside, middle right.
    MiddleRight,
    /// Right of the plotting area, in the panel's `right` margin.
    Outside,
}

/// Extra legend entries for marks drawn without a layer colour (heatmap categories).
#[derive(Debug, Clone)]
pub struct Swatch {
    /// Entry text.
    pub name: String,
    /// Its colour.
    pub color: RGBColor,
    /// Drawn as a dot instead of a square.
    pub dot: bool,
}

impl Swatch {
    /// A coloured square.
    pub fn square(name: impl Into<String>, color: RGBColor) -> Swatch {
        Swatch {
            name: name.into(),
            color,
            dot: false,
        }
    }

    /// A coloured dot.
    pub fn dot(name: impl Into<String>, color: RGBColor) -> Swatch {
        Swatch {
            name: name.into(),
            color,
            dot: true,
        }
    }
}

/// One chart: axes, layers drawn in order, rules, legend, notes.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Caption above the chart.
    pub title: String,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// Layers, drawn first to last.
    pub layers: Vec<Layer>,
    /// Reference lines, drawn over the layers.
    pub rules: Vec<Rule>,
    /// Legend position.
    pub legend: Legend,
    /// Extra legend entries (coloured squares).
    pub swatches: Vec<Swatch>,
    /// Lines of text in the upper-left corner of the plotting area.
    pub notes: Vec<String>,
    /// Draw grid lines.
    pub grid: bool,
    /// Pixels left of the plotting area for tick labels and the axis title.
    pub left: u32,
    /// Pixels below the plotting area.
    pub bottom: u32,
    /// Pixels right of the plotting area (room for an outside legend or a colour bar).
    pub right: u32,
    /// Colour bar right of the plotting area (give `right` >= 120).
    pub colorbar: Option<ColorScale>,
}

impl Panel {
    /// An empty panel with grid lines and the default label areas.
    pub fn new(title: impl Into<String>, x: Axis, y: Axis) -> Panel {
        Panel {
            title: title.into(),
            x,
            y,
            layers: vec![],
            rules: vec![],
            legend: Legend::UpperRight,
            swatches: vec![],
            notes: vec![],
            grid: true,
            left: 78,
            bottom: 52,
            right: 18,
            colorbar: None,
        }
    }
}

/// Pixel mapping of a drawn panel's plotting area, for drawing at sub-pixel positions.
#[derive(Debug, Clone)]
pub struct Frame {
    x: Axis,
    y: Axis,
    /// Pixel x of the axis' low and high ends.
    px: (f64, f64),
    /// Pixel y of the axis' low (bottom) and high (top) ends.
    py: (f64, f64),
}

impl Frame {
    /// Pixel position of data point (x, y).
    pub fn map(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.px.0 + self.x.fraction(x) * (self.px.1 - self.px.0),
            self.py.0 + self.y.fraction(y) * (self.py.1 - self.py.0),
        )
    }

    /// Left, top, right, bottom pixel edges of the plotting area.
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        (self.px.0, self.py.1, self.px.1, self.py.0)
    }
}

/// Relative luminance of a colour in [0, 1] (sRGB weights, no gamma).
pub fn luminance(c: RGBColor) -> f64 {
    (0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64) / 255.0
}

/// `#rrggbb` of a colour.
pub fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Draws `panel` on `area` of `canvas` and returns its pixel frame.
pub fn draw_panel(canvas: &Canvas, area: &Area, panel: &Panel) -> Result<Frame> {
    match (panel.x.log, panel.y.log) {
        (false, false) => draw_typed(
            canvas,
            area,
            panel,
            panel.x.lo..panel.x.hi,
            panel.y.lo..panel.y.hi,
        ),
        (false, true) => draw_typed(
            canvas,
            area,
            panel,
            panel.x.lo..panel.x.hi,
            (panel.y.lo..panel.y.hi).log_scale(),
        ),
        (true, false) => draw_typed(
            canvas,
            area,
            panel,
            (panel.x.lo..panel.x.hi).log_scale(),
            panel.y.lo..panel.y.hi,
        ),
        (true, true) => draw_typed(
            canvas,
            area,
            panel,
            (panel.x.lo..panel.x.hi).log_scale(),
            (panel.y.lo..panel.y.hi).log_scale(),
        ),
    }
}

fn tick_label(axis: &Axis, v: f64) -> String {
    if axis.integers {
        if (v - v.round()).abs() < 1e-6 {
            let i = v.round() as i64;
            if !axis.categories.is_empty() {
                return usize::try_from(i)
                    .ok()
                    .and_then(|i| axis.categories.get(i).cloned())
                    .unwrap_or_default();
            }
            format!("{i}")
        } else {
            String::new()
        }
    } else if axis.log {
        // Labelled by draw_log_ticks; plotters may still ask about one point.
        String::new()
    } else if wants_sci(axis.lo, axis.hi) {
        fmt_sci(v)
    } else {
        fmt_num(v)
    }
}

/// How many key points to ask plotters for: none on a log axis (see [`draw_log_ticks`]).
fn tick_request(axis: &Axis) -> usize {
    if axis.log {
        0
    } else {
        axis.ticks
    }
}

/// Ticks of a log axis over `lo..hi`: (value, labelled). Labelled: 1, 2, 5 times powers of ten
/// within 2.5 decades, else powers of ten (every n-th so at most 8); the other integer multiples
/// are unlabelled minor ticks.
pub fn log_axis_ticks(lo: f64, hi: f64) -> Vec<(f64, bool)> {
    let decades = (hi / lo).log10();
    let e0 = lo.log10().floor() as i32;
    let e1 = hi.log10().ceil() as i32;
    let every = ((decades / 8.0).ceil() as i32).max(1);
    let mut out = vec![];
    for e in e0..=e1 {
        for m in 1..=9 {
            let v = m as f64 * 10f64.powi(e);
            if v < lo * (1.0 - 1e-12) || v > hi * (1.0 + 1e-12) {
                continue;
            }
            let label = if decades <= 2.5 {
                matches!(m, 1 | 2 | 5)
            } else {
                m == 1 && (e - e0) % every == 0
            };
            out.push((v, label));
        }
    }
    out
}

/// Tick marks, labels and grid lines of the log axes of a panel, drawn at exact positions (plotters
/// labels no point below the first power of ten in the range).
fn draw_log_ticks(canvas: &Canvas, frame: &Frame, panel: &Panel) {
    let (l, t, r, b) = frame.bounds();
    let fs = TICK_SIZE / 1.24;
    let mut s = String::new();
    if panel.y.log {
        for (v, label) in log_axis_ticks(panel.y.lo, panel.y.hi) {
            let (_, y) = frame.map(frame.x.lo, v);
            let len = if label { 6.0 } else { 3.0 };
            let _ = writeln!(
                s,
                "<line x1=\"{:.2}\" y1=\"{y:.2}\" x2=\"{l:.2}\" y2=\"{y:.2}\" stroke=\"#000\"/>",
                l - len
            );
            if label {
                if panel.grid {
                    let _ = writeln!(s, "<line x1=\"{l:.2}\" y1=\"{y:.2}\" x2=\"{r:.2}\" y2=\"{y:.2}\" stroke=\"#000\" stroke-opacity=\"0.08\"/>");
                }
                let _ = writeln!(
                    s,
                    "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\" font-size=\"{fs:.1}\">{}</text>",
                    l - 9.0,
                    y + 4.0,
                    escape(&fmt_num(v))
                );
            }
        }
    }
    if panel.x.log {
        for (v, label) in log_axis_ticks(panel.x.lo, panel.x.hi) {
            let (x, _) = frame.map(v, frame.y.lo);
            let len = if label { 6.0 } else { 3.0 };
            let _ = writeln!(
                s,
                "<line x1=\"{x:.2}\" y1=\"{b:.2}\" x2=\"{x:.2}\" y2=\"{:.2}\" stroke=\"#000\"/>",
                b + len
            );
            if label {
                if panel.grid {
                    let _ = writeln!(s, "<line x1=\"{x:.2}\" y1=\"{t:.2}\" x2=\"{x:.2}\" y2=\"{b:.2}\" stroke=\"#000\" stroke-opacity=\"0.08\"/>");
                }
                let _ = writeln!(
                    s,
                    "<text x=\"{x:.2}\" y=\"{:.2}\" text-anchor=\"middle\" font-size=\"{fs:.1}\">{}</text>",
                    b + 20.0,
                    escape(&fmt_num(v))
                );
            }
        }
    }
    if !s.is_empty() {
        canvas.begin("log-ticks", &[]);
        canvas.raw(&s);
        canvas.end();
    }
}

fn legend_pos(l: Legend) -> SeriesLabelPosition {
    match l {
        Legend::None | Legend::UpperRight => SeriesLabelPosition::UpperRight,
        Legend::UpperLeft => SeriesLabelPosition::UpperLeft,
        Legend::LowerLeft => SeriesLabelPosition::LowerLeft,
        Legend::LowerRight => SeriesLabelPosition::LowerRight,
        Legend::MiddleRight | Legend::Outside => SeriesLabelPosition::MiddleRight,
    }
}

/// Draws `panel` on `area` with the coordinate ranges `xs`, `ys` (linear or log): axes and
/// ticks, then in one `plot` group the layers, legend swatches, rules, notes, colour bar and
/// legend.
fn draw_typed<X, Y>(canvas: &Canvas, area: &Area, panel: &Panel, xs: X, ys: Y) -> Result<Frame>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(&panel.title, (FONT, CAPTION_SIZE))
        .margin(8)
        .margin_right(panel.right)
        .x_label_area_size(panel.bottom)
        .y_label_area_size(panel.left)
        .build_cartesian_2d(xs, ys)
        .map_err(draw_error)?;
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let frame = Frame {
        x: panel.x.clone(),
        y: panel.y.clone(),
        px: (xr.start as f64, (xr.end - 1) as f64),
        py: ((yr.end - 1) as f64, yr.start as f64),
    };
    draw_mesh(&mut chart, panel)?;
    draw_log_ticks(canvas, &frame, panel);
    canvas.begin("plot", &[("data-title", panel.title.clone())]);
    let mut any_legend = false;
    for layer in &panel.layers {
        any_legend |= draw_layer(canvas, &mut chart, &frame, panel, layer)?;
    }
    any_legend |= draw_swatches(&mut chart, &panel.swatches)?;
    draw_rules(canvas, &frame, &panel.rules, panel.notes.len());
    draw_notes(canvas, &frame, &panel.notes);
    if let Some(scale) = &panel.colorbar {
        let (_, t, r, b) = frame.bounds();
        draw_colorbar(canvas, r + 16.0, t, b, scale);
    }
    if panel.legend == Legend::Outside {
        draw_outside_legend(canvas, &frame, panel);
    } else if any_legend && panel.legend != Legend::None {
        chart
            .configure_series_labels()
            .position(legend_pos(panel.legend))
            .label_font((FONT, TICK_SIZE))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .margin(8)
            .draw()
            .map_err(draw_error)?;
    }
    canvas.end();
    Ok(frame)
}

/// The plotters chart of a panel, drawing on the SVG canvas in the coordinates `CT`.
type Chart<'a, CT> = ChartContext<'a, GroupedSvg, CT>;

/// Axis titles, tick labels (none on a log axis, see [`draw_log_ticks`]) and grid lines.
fn draw_mesh<XC, YC>(chart: &mut Chart<'_, Cartesian2d<XC, YC>>, panel: &Panel) -> Result<()>
where
    XC: Ranged<ValueType = f64> + ValueFormatter<f64>,
    YC: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let xf = |v: &f64| tick_label(&panel.x, *v);
    let yf = |v: &f64| tick_label(&panel.y, *v);
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(panel.x.label.as_str())
        .y_desc(panel.y.label.as_str())
        .x_labels(tick_request(&panel.x))
        .y_labels(tick_request(&panel.y))
        .x_label_formatter(&xf)
        .y_label_formatter(&yf)
        .label_style((FONT, TICK_SIZE))
        .axis_desc_style((FONT, DESC_SIZE))
        .light_line_style(TRANSPARENT);
    if panel.grid {
        mesh.bold_line_style(BLACK.mix(0.08));
    } else {
        mesh.disable_mesh();
    }
    mesh.draw().map_err(draw_error)
}

/// Draws one layer in its `<g class="marks">` group; true if it added a legend entry.
fn draw_layer<CT: CoordTranslate<From = (f64, f64)>>(
    canvas: &Canvas,
    chart: &mut Chart<'_, CT>,
    frame: &Frame,
    panel: &Panel,
    layer: &Layer,
) -> Result<bool> {
    let n = count_marks(&layer.mark, &panel.x, &panel.y);
    canvas.begin(
        "marks",
        &[
            ("data-kind", layer.mark.kind().into()),
            ("data-series", layer.name.clone()),
            ("data-n", n.to_string()),
        ],
    );
    let legend = match &layer.mark {
        Mark::Line { segments, width } => draw_lines(chart, panel, layer, segments, *width)?,
        Mark::Points { points, radius } => draw_points(chart, panel, layer, points, *radius)?,
        Mark::Bars(bars) => draw_bars(chart, panel, layer, bars)?,
        Mark::Whiskers(ws) => draw_whiskers(chart, panel, layer, ws)?,
        Mark::Cells(cells) => {
            draw_cells(canvas, frame, panel, cells);
            false
        }
    };
    canvas.end();
    Ok(legend)
}

/// The shown segments of a line layer, one polyline each; the legend entry (a short line) goes
/// on the first, or on an empty series when nothing can be drawn. True if it added one.
fn draw_lines<CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut Chart<'_, CT>,
    panel: &Panel,
    layer: &Layer,
    segments: &[Vec<(f64, f64)>],
    width: u32,
) -> Result<bool> {
    let color = layer.color;
    let style = color.stroke_width(width);
    let segs = shown_segments(segments, &panel.x, &panel.y);
    let label = |a: &mut SeriesAnno<'_, GroupedSvg>| {
        a.label(layer.name.as_str()).legend(move |(x, y)| {
            PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(width.max(2)))
        });
    };
    let mut any_legend = false;
    if segs.is_empty() && layer.legend {
        any_legend = true;
        label(
            chart
                .draw_series(std::iter::empty::<PathElement<(f64, f64)>>())
                .map_err(draw_error)?,
        );
    }
    for (si, seg) in segs.into_iter().enumerate() {
        let a = chart
            .draw_series(LineSeries::new(seg, style))
            .map_err(draw_error)?;
        if si == 0 && layer.legend {
            any_legend = true;
            label(a);
        }
    }
    Ok(any_legend)
}

/// The drawable points of a points layer as filled circles of `radius` pixels; true if it added
/// a legend entry.
fn draw_points<CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut Chart<'_, CT>,
    panel: &Panel,
    layer: &Layer,
    points: &[(f64, f64)],
    radius: u32,
) -> Result<bool> {
    let (color, r) = (layer.color, radius);
    let pts: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|(x, y)| panel.x.accepts(*x) && panel.y.accepts(*y))
        .collect();
    let a = chart
        .draw_series(pts.into_iter().map(|p| Circle::new(p, r, color.filled())))
        .map_err(draw_error)?;
    if layer.legend {
        a.label(layer.name.as_str())
            .legend(move |(x, y)| Circle::new((x + 10, y), r.max(4), color.filled()));
    }
    Ok(layer.legend)
}

/// The drawable bars of a bars layer as filled rectangles; true if it added a legend entry.
fn draw_bars<CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut Chart<'_, CT>,
    panel: &Panel,
    layer: &Layer,
    bars: &[(f64, f64, f64, f64)],
) -> Result<bool> {
    let color = layer.color;
    let rects: Vec<_> = bars
        .iter()
        .filter(|b| {
            panel.x.accepts(b.0)
                && panel.x.accepts(b.1)
                && panel.y.accepts(b.2)
                && panel.y.accepts(b.3)
        })
        .map(|b| Rectangle::new([(b.0, b.2), (b.1, b.3)], color.filled()))
        .collect();
    let a = chart.draw_series(rects).map_err(draw_error)?;
    if layer.legend {
        a.label(layer.name.as_str()).legend(move |(x, y)| {
            Rectangle::new([(x + 2, y - 6), (x + 16, y + 6)], color.filled())
        });
    }
    Ok(layer.legend)
}

/// The drawable whiskers of a whiskers layer as vertical 2-pixel segments; true if it added a
/// legend entry.
fn draw_whiskers<CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut Chart<'_, CT>,
    panel: &Panel,
    layer: &Layer,
    ws: &[(f64, f64, f64)],
) -> Result<bool> {
    let color = layer.color;
    let paths: Vec<_> = ws
        .iter()
        .filter(|w| panel.x.accepts(w.0) && panel.y.accepts(w.1) && panel.y.accepts(w.2))
        .map(|w| PathElement::new(vec![(w.0, w.1), (w.0, w.2)], color.stroke_width(2)))
        .collect();
    let a = chart.draw_series(paths).map_err(draw_error)?;
    if layer.legend {
        a.label(layer.name.as_str()).legend(move |(x, y)| {
            PathElement::new(vec![(x + 9, y - 7), (x + 9, y + 7)], color.stroke_width(2))
        });
    }
    Ok(layer.legend)
}

/// The drawable heatmap cells as `<rect>`s written at sub-pixel positions through `frame`.
fn draw_cells(canvas: &Canvas, frame: &Frame, panel: &Panel, cells: &[Cell]) {
    let mut s = String::with_capacity(cells.len() * 64);
    for &(x0, x1, y0, y1, c) in cells {
        if !(panel.x.accepts(x0)
            && panel.x.accepts(x1)
            && panel.y.accepts(y0)
            && panel.y.accepts(y1))
        {
            continue;
        }
        let (a0, b0) = frame.map(x0, y0);
        let (a1, b1) = frame.map(x1, y1);
        let (l, r) = (a0.min(a1), a0.max(a1));
        let (t, b) = (b0.min(b1), b0.max(b1));
        // A quarter pixel of overlap hides anti-aliasing seams between cells.
        let _ = writeln!(
            s,
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"{}\"/>",
            l,
            t,
            r - l + 0.25,
            b - t + 0.25,
            hex(c)
        );
    }
    canvas.raw(&s);
}

/// Legend entries (coloured squares) of the panel's swatches; true if there were any.
fn draw_swatches<CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut Chart<'_, CT>,
    swatches: &[Swatch],
) -> Result<bool> {
    for sw in swatches {
        let c = sw.color;
        chart
            .draw_series(std::iter::empty::<Rectangle<(f64, f64)>>())
            .map_err(draw_error)?
            .label(sw.name.as_str())
            .legend(move |(x, y)| Rectangle::new([(x + 2, y - 6), (x + 16, y + 6)], c.filled()));
    }
    Ok(!swatches.is_empty())
}

/// The panel's notes, one line each, in the upper-left corner of the plotting area.
fn draw_notes(canvas: &Canvas, frame: &Frame, notes: &[String]) {
    if notes.is_empty() {
        return;
    }
    let (l, t, _, _) = frame.bounds();
    let mut s = String::new();
    for (i, n) in notes.iter().enumerate() {
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"{:.1}\" fill=\"#222\" stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
            l + 8.0,
            t + 18.0 + 17.0 * i as f64,
            TICK_SIZE / 1.24 + 1.0,
            escape(n)
        );
    }
    canvas.begin("notes", &[]);
    canvas.raw(&s);
    canvas.end();
}

/// The number of points, bars, whiskers or cells of `mark` that can be drawn (`data-n`).
fn count_marks(mark: &Mark, x: &Axis, y: &Axis) -> usize {
    match mark {
        Mark::Line { segments, .. } => shown_segments(segments, x, y).iter().map(Vec::len).sum(),
        Mark::Points { points, .. } => points
            .iter()
            .filter(|(a, b)| x.accepts(*a) && y.accepts(*b))
            .count(),
        Mark::Bars(b) => b
            .iter()
            .filter(|b| x.accepts(b.0) && x.accepts(b.1) && y.accepts(b.2) && y.accepts(b.3))
            .count(),
        Mark::Whiskers(w) => w
            .iter()
            .filter(|w| x.accepts(w.0) && y.accepts(w.1) && y.accepts(w.2))
            .count(),
        Mark::Cells(c) => c
            .iter()
            .filter(|c| x.accepts(c.0) && x.accepts(c.1) && y.accepts(c.2) && y.accepts(c.3))
            .count(),
    }
}

/// The segments with undrawable points removed (a removed point breaks the line).
fn shown_segments(segments: &[Vec<(f64, f64)>], x: &Axis, y: &Axis) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![];
    for seg in segments {
        let mut cur = vec![];
        for &(a, b) in seg {
            if x.accepts(a) && y.accepts(b) {
                cur.push((a, b));
            } else if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

fn draw_rules(canvas: &Canvas, frame: &Frame, rules: &[Rule], skip_rows: usize) {
    if rules.is_empty() {
        return;
    }
    let (l, t, r, b) = frame.bounds();
    let mut s = String::new();
    let mut label_row = 0usize;
    let top = t + 17.0 * skip_rows as f64;
    for rule in rules {
        let axis = if rule.vertical { &frame.x } else { &frame.y };
        if !axis.accepts(rule.at) || rule.at < axis.lo || rule.at > axis.hi {
            continue;
        }
        let c = hex(rule.color);
        let halo = if luminance(rule.color) > 0.85 {
            "#000"
        } else {
            "#fff"
        };
        if rule.vertical {
            let (x, _) = frame.map(rule.at, if frame.y.log { frame.y.lo } else { 0.0 });
            let _ = writeln!(
                s,
                "<line x1=\"{x:.2}\" y1=\"{t:.2}\" x2=\"{x:.2}\" y2=\"{b:.2}\" stroke=\"{c}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>"
            );
            if !rule.label.is_empty() {
                // Labels stack down from the top so neighbouring rules do not overwrite each other.
                let y = top + 14.0 + 15.0 * (label_row % 4) as f64;
                label_row += 1;
                let anchor = if x > (l + r) / 2.0 { "end" } else { "start" };
                let dx = if anchor == "end" { -4.0 } else { 4.0 };
                let _ = writeln!(
                    s,
                    "<text x=\"{:.2}\" y=\"{y:.2}\" text-anchor=\"{anchor}\" font-size=\"{:.1}\" fill=\"{c}\" stroke=\"{halo}\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
                    x + dx,
                    TICK_SIZE / 1.24,
                    escape(&rule.label)
                );
            }
        } else {
            let (_, y) = frame.map(if frame.x.log { frame.x.lo } else { 0.0 }, rule.at);
            let _ = writeln!(
                s,
                "<line x1=\"{l:.2}\" y1=\"{y:.2}\" x2=\"{r:.2}\" y2=\"{y:.2}\" stroke=\"{c}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>"
            );
            if !rule.label.is_empty() {
                let _ = writeln!(
                    s,
                    "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\" font-size=\"{:.1}\" fill=\"{c}\" stroke=\"{halo}\" stroke-width=\"3\" paint-order=\"stroke\">{}</text>",
                    r - 4.0,
                    y - 4.0,
                    TICK_SIZE / 1.24,
                    escape(&rule.label)
                );
            }
        }
    }
    canvas.begin("rules", &[]);
    canvas.raw(&s);
    canvas.end();
}

/// Categorical colours (Tableau 10, then olive and near-black), for up to 12 series.
pub const PALETTE: [RGBColor; 12] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0xba, 0xb0, 0xac),
    RGBColor(0xbc, 0xbd, 0x22),
    RGBColor(0x22, 0x22, 0x22),
];

/// Colour `i` of `n` series: the categorical palette up to 12, viridis beyond.
pub fn series_color(i: usize, n: usize) -> RGBColor {
    if n <= PALETTE.len() {
        PALETTE[i % PALETTE.len()]
    } else {
        viridis(i as f64 / (n - 1).max(1) as f64)
    }
}

const VIRIDIS: [(u8, u8, u8); 9] = [
    (68, 1, 84),
    (71, 44, 122),
    (59, 81, 139),
    (44, 113, 142),
    (33, 144, 141),
    (39, 173, 129),
    (92, 200, 99),
    (170, 220, 50),
    (253, 231, 37),
];

fn lerp(a: (u8, u8, u8), b: (u8, u8, u8), t: f64) -> RGBColor {
    let f = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
    RGBColor(f(a.0, b.0), f(a.1, b.1), f(a.2, b.2))
}

/// The viridis colour map at t in [0, 1] (clamped).
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let s = t * (VIRIDIS.len() - 1) as f64;
    let i = (s.floor() as usize).min(VIRIDIS.len() - 2);
    lerp(VIRIDIS[i], VIRIDIS[i + 1], s - i as f64)
}

/// A blue-white-red diverging map at t in [-1, 1] (clamped).
pub fn diverging(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let white = (247, 247, 247);
    if t < 0.0 {
        lerp(white, (33, 102, 172), -t)
    } else {
        lerp(white, (178, 24, 43), t)
    }
}

/// A value-to-colour scale with its colour bar.
#[derive(Debug, Clone)]
pub struct ColorScale {
    /// Colour bar title, with units.
    pub label: String,
    /// Value at the bottom of the bar.
    pub lo: f64,
    /// Value at the top.
    pub hi: f64,
    /// Logarithmic (lo > 0).
    pub log: bool,
    /// Diverging blue-white-red around the middle instead of viridis.
    pub diverging: bool,
    /// Tick only integers (a scale of counts or frequencies).
    pub integers: bool,
}

impl ColorScale {
    /// A viridis scale over `lo..hi` (widened if empty).
    pub fn linear(label: impl Into<String>, lo: f64, hi: f64) -> ColorScale {
        let (lo, hi) = widen(lo, hi);
        ColorScale {
            label: label.into(),
            lo,
            hi,
            log: false,
            diverging: false,
            integers: false,
        }
    }

    /// A viridis scale for the integers `lo..=hi`, ticked at integers only.
    pub fn integers(label: impl Into<String>, lo: f64, hi: f64) -> ColorScale {
        let mut s = ColorScale::linear(label, lo - 0.5, hi + 0.5);
        s.integers = true;
        s
    }

    /// A log viridis scale over `lo..hi` (both > 0).
    pub fn log(label: impl Into<String>, lo: f64, hi: f64) -> ColorScale {
        let a = Axis::log("", lo, hi);
        ColorScale {
            label: label.into(),
            lo: a.lo,
            hi: a.hi,
            log: true,
            diverging: false,
            integers: false,
        }
    }

    /// A diverging scale symmetric around 0, over `-r..r`.
    pub fn symmetric(label: impl Into<String>, r: f64) -> ColorScale {
        let r = if r > 0.0 && r.is_finite() { r } else { 1.0 };
        ColorScale {
            label: label.into(),
            lo: -r,
            hi: r,
            log: false,
            diverging: true,
            integers: false,
        }
    }

    /// Position of `v` on the scale in [0, 1] (clamped).
    pub fn fraction(&self, v: f64) -> f64 {
        let t = if self.log {
            (v.max(self.lo).ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        if t.is_finite() {
            t.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// The colour of `v`.
    pub fn color(&self, v: f64) -> RGBColor {
        let t = self.fraction(v);
        if self.diverging {
            diverging(2.0 * t - 1.0)
        } else {
            viridis(t)
        }
    }
}

/// Draws a vertical colour bar for `scale` with its left edge at `x`, from `top` to `bottom`
/// (absolute pixels): 64 colour steps, ticks and tick labels right of it, the title rotated beyond.
pub fn draw_colorbar(canvas: &Canvas, x: f64, top: f64, bottom: f64, scale: &ColorScale) {
    let w = 16.0;
    let steps = 64;
    let value = |f: f64| {
        if scale.log {
            (scale.lo.ln() + f * (scale.hi.ln() - scale.lo.ln())).exp()
        } else {
            scale.lo + f * (scale.hi - scale.lo)
        }
    };
    let ypix = |f: f64| bottom - f * (bottom - top);
    let mut s = String::new();
    for i in 0..steps {
        let f0 = i as f64 / steps as f64;
        let f1 = (i + 1) as f64 / steps as f64;
        let _ = writeln!(
            s,
            "<rect x=\"{x:.2}\" y=\"{:.2}\" width=\"{w:.2}\" height=\"{:.2}\" fill=\"{}\"/>",
            ypix(f1),
            ypix(f0) - ypix(f1) + 0.5,
            hex(scale.color(value((f0 + f1) / 2.0)))
        );
    }
    let _ = writeln!(
        s,
        "<rect x=\"{x:.2}\" y=\"{top:.2}\" width=\"{w:.2}\" height=\"{:.2}\" fill=\"none\" stroke=\"#000\"/>",
        bottom - top
    );
    let ticks = if scale.log {
        log_ticks(scale.lo, scale.hi)
    } else if scale.integers {
        let (a, b) = (scale.lo.ceil() as i64, scale.hi.floor() as i64);
        let step = ((b - a) / 8 + 1).max(1);
        (a..=b)
            .filter(|v| (v - a) % step == 0)
            .map(|v| v as f64)
            .collect()
    } else {
        linear_ticks(scale.lo, scale.hi, 5)
    };
    for v in ticks {
        let y = ypix(scale.fraction(v));
        let _ = writeln!(
            s,
            "<line x1=\"{:.2}\" y1=\"{y:.2}\" x2=\"{:.2}\" y2=\"{y:.2}\" stroke=\"#000\"/><text x=\"{:.2}\" y=\"{:.2}\" font-size=\"{:.1}\">{}</text>",
            x + w,
            x + w + 5.0,
            x + w + 8.0,
            y + 4.0,
            TICK_SIZE / 1.24,
            escape(&if !scale.log && wants_sci(scale.lo, scale.hi) {
                fmt_sci(v)
            } else {
                fmt_num(v)
            })
        );
    }
    let cx = x + w + 62.0;
    let cy = (top + bottom) / 2.0;
    let _ = writeln!(
        s,
        "<text x=\"{cx:.2}\" y=\"{cy:.2}\" text-anchor=\"middle\" font-size=\"{:.1}\" transform=\"rotate(90, {cx:.2}, {cy:.2})\">{}</text>",
        DESC_SIZE / 1.24,
        escape(&scale.label)
    );
    canvas.begin("colorbar", &[("data-label", scale.label.clone())]);
    canvas.raw(&s);
    canvas.end();
}

/// Legend entries of the layers (and swatches) drawn right of the plotting area.
fn draw_outside_legend(canvas: &Canvas, frame: &Frame, panel: &Panel) {
    let (_, t, r, _) = frame.bounds();
    let x = r + 12.0;
    let mut y = t + 8.0;
    let fs = TICK_SIZE / 1.24;
    let mut s = String::new();
    let entry = |s: &mut String, name: &str, glyph: String, y: f64| {
        s.push_str(&glyph);
        let _ = writeln!(
            s,
            "<text x=\"{:.2}\" y=\"{:.2}\" font-size=\"{fs:.1}\">{}</text>",
            x + 26.0,
            y + 4.5,
            escape(name)
        );
    };
    for l in panel.layers.iter().filter(|l| l.legend) {
        let c = hex(l.color);
        let glyph = match &l.mark {
            Mark::Line { width, .. } => format!(
                "<line x1=\"{x:.2}\" y1=\"{y:.2}\" x2=\"{:.2}\" y2=\"{y:.2}\" stroke=\"{c}\" stroke-width=\"{}\"/>\n",
                x + 20.0,
                (*width).max(2)
            ),
            Mark::Points { .. } => format!(
                "<circle cx=\"{:.2}\" cy=\"{y:.2}\" r=\"4\" fill=\"{c}\"/>\n",
                x + 10.0
            ),
            _ => format!(
                "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"14\" height=\"12\" fill=\"{c}\"/>\n",
                x + 3.0,
                y - 6.0
            ),
        };
        entry(&mut s, &l.name, glyph, y);
        y += 20.0;
    }
    for sw in &panel.swatches {
        let glyph = if sw.dot {
            format!(
                "<circle cx=\"{:.2}\" cy=\"{y:.2}\" r=\"3\" fill=\"{}\"/>\n",
                x + 10.0,
                hex(sw.color)
            )
        } else {
            format!(
            "<rect x=\"{:.2}\" y=\"{:.2}\" width=\"14\" height=\"12\" fill=\"{}\" stroke=\"#888\" stroke-width=\"0.5\"/>\n",
            x + 3.0,
            y - 6.0,
            hex(sw.color)
        )
        };
        entry(&mut s, &sw.name, glyph, y);
        y += 20.0;
    }
    canvas.begin("legend", &[]);
    canvas.raw(&s);
    canvas.end();
}

/// About `n` round values covering `lo..hi`.
pub fn linear_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut v = (lo / step).ceil() * step;
    let mut out = vec![];
    while v <= hi + step * 1e-9 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}

/// Powers of ten in `lo..hi`, thinned to at most 7; with fewer than 2, also 2x and 5x.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = vec![];
    let e0 = lo.log10().ceil() as i32;
    let e1 = hi.log10().floor() as i32;
    let span = (e1 - e0 + 1).max(1);
    let every = ((span + 6) / 7).max(1);
    for e in e0..=e1 {
        if (e - e0) % every == 0 {
            out.push(10f64.powi(e));
        }
    }
    if out.len() < 2 {
        out.clear();
        let mut e = lo.log10().floor() as i32;
        while 10f64.powi(e) <= hi {
            for m in [1.0, 2.0, 5.0] {
                let v = m * 10f64.powi(e);
                if v >= lo && v <= hi {
                    out.push(v);
                }
            }
            e += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_format_short() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(5000.0), "5000");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(1e-4), "1e-4");
        assert_eq!(fmt_num(2.5e6), "2.5e6");
        assert_eq!(fmt_num(1.23456), "1.23");
        assert_eq!(fmt_num(-0.5), "-0.5");
    }

    #[test]
    fn small_ranges_tick_in_scientific_notation() {
        assert!(wants_sci(-0.001, 0.003));
        assert!(!wants_sci(0.0, 1.0));
        assert_eq!(fmt_sci(0.0015000000000000002), "1.5e-3");
        assert_eq!(fmt_sci(5e-4), "5e-4");
        assert_eq!(fmt_sci(-0.002), "-2e-3");
    }

    #[test]
    fn log_axes_tick_below_the_first_decade() {
        let t = log_axis_ticks(0.015, 0.2);
        let labelled: Vec<f64> = t.iter().filter(|x| x.1).map(|x| x.0).collect();
        assert_eq!(labelled, vec![0.02, 0.05, 0.1, 0.2]);
        assert_eq!(t.len(), 10); // 0.02..0.09, 0.1, 0.2
        let wide: Vec<f64> = log_axis_ticks(1e-6, 10.0)
            .iter()
            .filter(|x| x.1)
            .map(|x| x.0)
            .collect();
        assert_eq!(wide.len(), 8);
    }

    #[test]
    fn ticks_are_round() {
        assert_eq!(
            linear_ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(log_ticks(1e-3, 2.0), vec![1e-3, 1e-2, 0.1, 1.0]);
        assert_eq!(log_ticks(0.3, 4.0), vec![0.5, 1.0, 2.0]);
    }

    #[test]
    fn scales_clamp_and_map() {
        let s = ColorScale::linear("v", 0.0, 2.0);
        assert_eq!(s.fraction(1.0), 0.5);
        assert_eq!(s.fraction(-5.0), 0.0);
        assert_eq!(s.color(2.0), RGBColor(253, 231, 37));
        let l = ColorScale::log("v", 1.0, 100.0);
        assert!((l.fraction(10.0) - 0.5).abs() < 1e-12);
        let d = ColorScale::symmetric("m", 3.0);
        assert_eq!(d.color(0.0), RGBColor(247, 247, 247));
    }

    #[test]
    fn gaps_split_lines() {
        let m = Mark::line_with_gaps(
            vec![Some((0.0, 1.0)), None, Some((2.0, 1.0)), Some((3.0, 1.0))],
            1,
        );
        match m {
            Mark::Line { segments, .. } => assert_eq!(segments.len(), 2),
            _ => unreachable!(),
        }
        let y = Axis::log("y", 0.1, 10.0);
        let segs = shown_segments(
            &[vec![(0.0, 1.0), (1.0, -1.0), (2.0, 2.0)]],
            &Axis::linear("x", 0.0, 2.0),
            &y,
        );
        assert_eq!(segs.len(), 2);
    }
}
