//! CSV tables and their numbers: every table has a header row and is written atomically;
//! numbers are written in the shortest decimal form that reads back to the same value
//! ([`fmt_real`]).

use crate::error::Result;
use crate::formats::atomic::atomic_write;
use crate::numerics::real::Real;
use std::path::{Path, PathBuf};

/// Shortest decimal that reads back to exactly `v` (Rust's `Display`, or `LowerExp` for very
/// small or large magnitudes so that, e.g., 1e-30 is not written with 30 zeros).
pub fn fmt_real<T: Real>(v: T) -> String {
    let a = v.abs().f64();
    if v.is_finite() && a != 0.0 && !(1e-4..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Shortest round-trip form of an f64 (see [`fmt_real`]).
pub fn fmt_f64(v: f64) -> String {
    fmt_real(v)
}

/// Writes a CSV table atomically: a header and rows of already formatted fields.
/// Returns the number of data rows.
pub fn write_table(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<usize> {
    atomic_write(path, |w| {
        let mut c = csv::Writer::from_writer(w);
        c.write_record(header)?;
        for r in rows {
            c.write_record(r)?;
        }
        c.flush()
    })?;
    Ok(rows.len())
}

/// Relative path with `/` separators, for manifests.
pub fn rel(base: &Path, path: &Path) -> String {
    let r: PathBuf = path.strip_prefix(base).unwrap_or(path).to_path_buf();
    r.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
