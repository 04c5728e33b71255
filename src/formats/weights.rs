//! Reading and writing weights.
//!
//! # The weight folder (the exchange format other tools and the tests rely on)
//! A folder holding
//! - `W_in.csv`: M rows, p columns (row m is `theta_m`);
//! - `W_out.csv`: p rows, M columns (column m is `xi_m`);
//! - `W_in_y.csv` (untied models only): M rows, p columns;
//!
//! plain comma-separated numbers, no header, each in its shortest round-trip decimal form
//! ([`crate::formats::table::fmt_real`]) at the precision it was computed in. Reading parses f64; a
//! value written from f32 reads back exactly when cast to f32.
//!
//! Reading is bounded ([`read_matrix_csv`]): `W_in.csv` at most [`MAX_WIDTH`] rows and [`MAX_P`]
//! columns, `W_out.csv` the transpose, every matrix at most
//! [`MAX_MATRIX_ELEMENTS`] elements and [`CSV_BYTES_PER_COLUMN`] bytes per column in a line.
//!
//! # Checkpoints
//! `.npy` files ([`crate::formats::npy`]); the training checkpoints list the files a
//! checkpoint holds.
//!
//! # Any of the three
//! [`read_weights_any`] takes a weight folder, a checkpoint folder of ours, or a PyTorch `.pth`
//! checkpoint (see [`crate::formats::pth`]) and returns the network in f64.

use crate::error::{Error, Result};
use crate::formats::atomic::atomic_write;
use crate::formats::npy::read_npy_folder;
use crate::formats::table::fmt_real;
use crate::numerics::limits::{at_most, MAX_MATRIX_ELEMENTS, MAX_P, MAX_WIDTH};
use crate::numerics::network::Network;
use crate::numerics::real::Real;
use nalgebra::DMatrix;
use std::io::{BufRead, Read};
use std::path::Path;

/// Writes one matrix as CSV (no header), atomically.
pub fn write_matrix_csv<T: Real>(path: &Path, m: &DMatrix<T>) -> Result<()> {
    atomic_write(path, |w| {
        let mut line = String::new();
        for i in 0..m.nrows() {
            line.clear();
            for j in 0..m.ncols() {
                if j > 0 {
                    line.push(',');
                }
                line.push_str(&fmt_real(m[(i, j)]));
            }
            line.push('\n');
            w.write_all(line.as_bytes())?;
        }
        Ok(())
    })
}

/// Most bytes a line of a weight CSV may take per column: a shortest round-trip f64 takes at
/// most 24 (`-1.2345678901234567e-308`) and a comma; the rest is room for spaces.
pub const CSV_BYTES_PER_COLUMN: usize = 64;

/// Reads a headerless CSV matrix of f64 with at most `max_rows` rows, `max_cols` columns and
/// [`MAX_MATRIX_ELEMENTS`] elements, line by line: a line longer than `max_cols` x
/// [`CSV_BYTES_PER_COLUMN`] bytes is refused before it is read whole, so memory stays within
/// about 12 bytes per byte of file. Errors name the file and 1-based line.
pub fn read_matrix_csv(path: &Path, max_rows: usize, max_cols: usize) -> Result<DMatrix<f64>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = std::io::BufReader::new(file);
    let max_line = max_cols
        .saturating_mul(CSV_BYTES_PER_COLUMN)
        .saturating_add(2);
    let mut buf = Vec::new();
    let mut values: Vec<f64> = Vec::new();
    let (mut rows, mut cols) = (0usize, None::<usize>);
    for i in 1.. {
        if !read_bounded_line(&mut reader, &mut buf, path, i, max_line, max_cols)? {
            break;
        }
        let line = std::str::from_utf8(&buf)
            .map_err(|_| parse_err(path, i, "not UTF-8 text".into()))?
            .trim();
        if line.is_empty() {
            continue;
        }
        rows += 1;
        at_most(
            &format!("{}: rows", path.display()),
            rows,
            max_rows,
            "rows of this weight matrix",
        )?;
        let n_cols = parse_csv_row(line, path, i, max_cols, &mut values)?;
        at_most(
            &format!("{}: elements", path.display()),
            values.len(),
            MAX_MATRIX_ELEMENTS,
            "elements of one weight matrix",
        )?;
        match cols {
            Some(first) if first != n_cols => {
                return Err(parse_err(
                    path,
                    i,
                    format!("{n_cols} columns, but the first row has {first}"),
                ))
            }
            _ => cols = Some(n_cols),
        }
    }
    let Some(c) = cols else {
        return Err(parse_err(path, 1, "file holds no numbers".into()));
    };
    Ok(DMatrix::from_row_slice(rows, c, &values))
}

/// The [`Error::Parse`] of 1-based line `line` of the weight CSV at `path`.
fn parse_err(path: &Path, line: usize, message: String) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        line,
        message,
    }
}

/// Reads line `i` into `buf`, refused past `max_line` bytes before it is read whole; false at EOF.
fn read_bounded_line(
    reader: &mut impl BufRead,
    buf: &mut Vec<u8>,
    path: &Path,
    i: usize,
    max_line: usize,
    max_cols: usize,
) -> Result<bool> {
    buf.clear();
    let n = reader
        .take(max_line as u64 + 1)
        .read_until(b'\n', buf)
        .map_err(|e| Error::io(path, e))?;
    if n == 0 {
        return Ok(false);
    }
    if buf.len() > max_line {
        return Err(parse_err(
            path,
            i,
            format!(
                "line longer than {max_line} bytes ({max_cols} columns of at most \
                 {CSV_BYTES_PER_COLUMN} bytes)"
            ),
        ));
    }
    Ok(true)
}

/// Pushes the finite numbers of line `i` onto `values` (at most `max_cols`); returns how many.
fn parse_csv_row(
    line: &str,
    path: &Path,
    i: usize,
    max_cols: usize,
    values: &mut Vec<f64>,
) -> Result<usize> {
    let mut n_cols = 0;
    for (c, field) in line.split(',').enumerate() {
        at_most(
            &format!("{}:{i}: columns", path.display()),
            c + 1,
            max_cols,
            "columns of this weight matrix",
        )?;
        let f = field.trim();
        let v: f64 = f
            .parse()
            .map_err(|_| parse_err(path, i, format!("column {}: '{f}' is not a number", c + 1)))?;
        if !v.is_finite() {
            return Err(parse_err(
                path,
                i,
                format!("column {}: '{f}' is not a finite number", c + 1),
            ));
        }
        values.push(v);
        n_cols += 1;
    }
    Ok(n_cols)
}

/// Writes `net` as a weight folder (see module docs).
pub fn write_weight_folder<T: Real>(dir: &Path, net: &Network<T>) -> Result<()> {
    write_matrix_csv(&dir.join("W_in.csv"), &net.w_in)?;
    write_matrix_csv(&dir.join("W_out.csv"), &net.w_out)?;
    if let Some(w) = &net.w_in_y {
        write_matrix_csv(&dir.join("W_in_y.csv"), w)?;
    }
    Ok(())
}

/// Reads a weight folder (untied when `W_in_y.csv` is present), checking the shapes.
pub fn read_weight_folder(dir: &Path) -> Result<Network<f64>> {
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "weight folder not found (expected a folder holding W_in.csv and W_out.csv)",
            ),
        ));
    }
    let w_in = read_matrix_csv(&dir.join("W_in.csv"), MAX_WIDTH, MAX_P)?;
    let (m, p) = w_in.shape();
    let w_out = read_matrix_csv(&dir.join("W_out.csv"), MAX_P, MAX_WIDTH)?;
    let wy_path = dir.join("W_in_y.csv");
    let w_in_y = if wy_path.exists() {
        Some(read_matrix_csv(&wy_path, MAX_WIDTH, MAX_P)?)
    } else {
        None
    };
    if p < 3 || p % 2 == 0 {
        return Err(Error::Shape {
            what: format!("{} (M x p)", dir.join("W_in.csv").display()),
            found: format!("{m} x {p}"),
            expected: "p columns with p odd and >= 3".into(),
        });
    }
    if w_out.shape() != (p, m) {
        return Err(Error::Shape {
            what: format!("{} (p x M)", dir.join("W_out.csv").display()),
            found: format!("{} x {}", w_out.nrows(), w_out.ncols()),
            expected: format!("{p} x {m}, from W_in.csv's {m} x {p}"),
        });
    }
    Network::new(w_in, w_out, w_in_y)
}

/// Reads weights in any of the three accepted forms, deciding by what `path` is:
/// - a folder holding `W_in.csv`: a weight folder ([`read_weight_folder`]);
/// - a folder holding `W_in.npy`: a checkpoint folder of ours ([`read_npy_folder`]);
/// - a file that is a zip archive or is named `*.pth` / `*.pt`: a PyTorch checkpoint
///   ([`crate::formats::pth::read_pth_network`]).
///
/// # Errors
/// [`Error::WeightsFormat`] naming the path and the three forms when it is none of them;
/// otherwise the reader's own errors.
pub fn read_weights_any(path: &Path) -> Result<Network<f64>> {
    let unknown = |found: &str| Error::WeightsFormat {
        path: path.to_path_buf(),
        found: found.into(),
    };
    if path.is_dir() {
        if path.join("W_in.csv").is_file() {
            read_weight_folder(path)
        } else if path.join("W_in.npy").is_file() {
            read_npy_folder(path)
        } else {
            Err(unknown("a folder with neither W_in.csv nor W_in.npy"))
        }
    } else if path.is_file() {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if crate::formats::pth::looks_like_zip(path) || matches!(ext.as_deref(), Some("pth" | "pt"))
        {
            crate::formats::pth::read_pth_network(path)
        } else {
            Err(unknown(
                "a file that is neither a zip archive nor named *.pth or *.pt",
            ))
        }
    } else {
        Err(unknown("no such file or folder"))
    }
}
