//! Colours: the series palette, the viridis and diverging maps, colour scales and their bar.

use super::super::svg::{escape, Canvas};
use super::axis::*;
use super::style::*;
use plotters::prelude::*;
use std::fmt::Write as _;

/// Relative luminance of a colour in [0, 1] (sRGB weights, no gamma).
pub fn luminance(c: RGBColor) -> f64 {
    (0.299 * c.0 as f64 + 0.587 * c.1 as f64 + 0.114 * c.2 as f64) / 255.0
}

/// `#rrggbb` of a colour.
pub fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
