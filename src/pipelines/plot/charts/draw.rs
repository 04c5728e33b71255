//! Drawing a [`Panel`]: axes and labels through plotters, then each layer's marks in its own
//! `<g class="marks">` group, counted as they are drawn.

use super::super::svg::{escape, Area, Canvas, GroupedSvg};
use super::axis::*;
use super::color::*;
use super::panel::*;
use super::style::*;
use crate::error::Result;
use plotters::chart::SeriesAnno;
use plotters::coord::ranged1d::{AsRangedCoord, Ranged, ValueFormatter};
use plotters::prelude::*;
use std::fmt::Write as _;

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

#[cfg(test)]
mod tests {
    use super::*;

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
