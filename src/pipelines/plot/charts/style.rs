//! The text style of every figure: font family and sizes, and the error of a failed drawing.

use crate::error::Error;

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
