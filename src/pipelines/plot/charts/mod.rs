//! Chart helpers: one [`Panel`] (axes, lines, points, bars, whiskers, heatmap cells, reference
//! rules, legend) and colour scales with their colour bar.
//!
//! A figure function fills [`Panel`]s with data and calls [`draw_panel`] on a part of the canvas.
//! Axes, ticks, tick labels, axis titles, captions and legends are drawn by plotters; heatmap
//! cells and reference rules are written directly at sub-pixel positions through the panel's
//! [`Frame`]. Each layer's marks sit in one `<g class="marks">` group whose `data-n` is the number
//! of data points, bars, whiskers or cells drawn (see [`super::svg`]). Points that cannot be drawn
//! (non-finite, or <= 0 on a log axis) are left out, and a line is broken there.

mod axis;
mod color;
mod draw;
mod panel;
mod style;

pub use axis::*;
pub use color::*;
pub use draw::*;
pub use panel::*;
pub use style::*;
