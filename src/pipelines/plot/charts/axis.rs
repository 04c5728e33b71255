//! Axes: ranges, ticks on linear and log scales, and the short number labels.

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

    pub(super) fn fraction(&self, v: f64) -> f64 {
        if self.log {
            (v.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }
}

/// A drawable range from `lo..hi`: (0, 1) when not finite, 10 % either side of a single value.
pub(super) fn widen(lo: f64, hi: f64) -> (f64, f64) {
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

/// The label of tick `v` on `axis`: an integer or its category name on an integer axis (none
/// between integers), nothing on a log axis (labelled apart), else short or scientific notation.
pub(super) fn tick_label(axis: &Axis, v: f64) -> String {
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

/// How many key points to ask plotters for: none on a log axis (its ticks are drawn by
/// `draw::draw_log_ticks`).
pub(super) fn tick_request(axis: &Axis) -> usize {
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
}
