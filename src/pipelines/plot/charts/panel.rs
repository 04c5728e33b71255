//! The panel model a figure fills: marks (lines, points, bars, whiskers, heatmap cells) in
//! layers, reference rules, legends and swatches, and the [`Frame`] of a drawn panel.

use super::axis::*;
use super::color::*;
use plotters::prelude::*;

/// A heatmap cell: `(x0, x1, y0, y1, colour)` in data coordinates.
pub type Cell = (f64, f64, f64, f64, RGBColor);

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

    pub(super) fn kind(&self) -> &'static str {
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
    pub(super) x: Axis,
    pub(super) y: Axis,
    /// Pixel x of the axis' low and high ends.
    pub(super) px: (f64, f64),
    /// Pixel y of the axis' low (bottom) and high (top) ends.
    pub(super) py: (f64, f64),
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
