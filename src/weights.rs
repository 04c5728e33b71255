//! Reading and writing weights.
//!
//! # The weight folder (the exchange format other tools and the tests rely on)
//! A folder holding
//! - `W_in.csv`: M rows, p columns (row m is `theta_m`);
//! - `W_out.csv`: p rows, M columns (column m is `xi_m`);
//! - `W_in_y.csv` (untied models only): M rows, p columns;
//!
//! plain comma-separated numbers, no header, each in its shortest round-trip decimal form
//! ([`crate::export::fmt_real`]) at the precision it was computed in. Reading parses f64; a
//! value written from f32 reads back exactly when cast to f32.
//!
//! # Checkpoints
//! `.npy` files (NumPy's format, C order, little-endian `<f4`/`<f8`), readable with `numpy.load`
//! without this crate. See `train` for the files a checkpoint holds.

use crate::error::{Error, Result};
use crate::export::{atomic_write, fmt_real};
use crate::model::Network;
use crate::real::Real;
use nalgebra::DMatrix;
use npyz::WriterBuilder;
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

/// Reads a headerless CSV matrix of f64. Errors name the file and 1-based line.
pub fn read_matrix_csv(path: &Path) -> Result<DMatrix<f64>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut row = Vec::new();
        for (c, field) in line.split(',').enumerate() {
            let f = field.trim();
            let v: f64 = f.parse().map_err(|_| Error::Parse {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!("column {}: '{f}' is not a number", c + 1),
            })?;
            if !v.is_finite() {
                return Err(Error::Parse {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: format!("column {}: '{f}' is not a finite number", c + 1),
                });
            }
            row.push(v);
        }
        if let Some(first) = rows.first() {
            if first.len() != row.len() {
                return Err(Error::Parse {
                    path: path.to_path_buf(),
                    line: i + 1,
                    message: format!(
                        "{} columns, but the first row has {}",
                        row.len(),
                        first.len()
                    ),
                });
            }
        }
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(Error::Parse {
            path: path.to_path_buf(),
            line: 1,
            message: "file holds no numbers".into(),
        });
    }
    let (r, c) = (rows.len(), rows[0].len());
    Ok(DMatrix::from_fn(r, c, |i, j| rows[i][j]))
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
    let w_in = read_matrix_csv(&dir.join("W_in.csv"))?;
    let w_out = read_matrix_csv(&dir.join("W_out.csv"))?;
    let wy_path = dir.join("W_in_y.csv");
    let w_in_y = if wy_path.exists() {
        Some(read_matrix_csv(&wy_path)?)
    } else {
        None
    };
    let (m, p) = w_in.shape();
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

/// Encodes a matrix as `.npy` bytes (C order, shape [rows, cols]).
pub fn npy_matrix_bytes<T: Real>(m: &DMatrix<T>) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    {
        let mut w = npyz::WriteOptions::<T>::new()
            .default_dtype()
            .shape(&[m.nrows() as u64, m.ncols() as u64])
            .writer(&mut buf)
            .begin_nd()?;
        for i in 0..m.nrows() {
            for j in 0..m.ncols() {
                w.push(&m[(i, j)])?;
            }
        }
        w.finish()?;
    }
    Ok(buf)
}

/// Encodes a vector as 1-d `.npy` bytes.
pub fn npy_vector_bytes<T: Real>(v: &[T]) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    {
        let mut w = npyz::WriteOptions::<T>::new()
            .default_dtype()
            .shape(&[v.len() as u64])
            .writer(&mut buf)
            .begin_nd()?;
        for x in v {
            w.push(x)?;
        }
        w.finish()?;
    }
    Ok(buf)
}

/// Writes a matrix as `.npy`, atomically.
pub fn write_npy_matrix<T: Real>(path: &Path, m: &DMatrix<T>) -> Result<()> {
    let bytes = npy_matrix_bytes(m).map_err(|e| Error::io(path, e))?;
    atomic_write(path, |w| w.write_all(&bytes))
}

/// Writes a vector as 1-d `.npy`, atomically.
pub fn write_npy_vector<T: Real>(path: &Path, v: &[T]) -> Result<()> {
    let bytes = npy_vector_bytes(v).map_err(|e| Error::io(path, e))?;
    atomic_write(path, |w| w.write_all(&bytes))
}

fn open_npy(path: &Path) -> Result<npyz::NpyFile<std::io::BufReader<std::fs::File>>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    npyz::NpyFile::new(std::io::BufReader::new(f)).map_err(|e| Error::io(path, e))
}

fn npy_data<T: Real>(path: &Path, f: npyz::NpyFile<std::io::BufReader<std::fs::File>>) -> Result<Vec<T>> {
    let dtype = f.dtype();
    f.into_vec::<T>().map_err(|e| Error::Checkpoint {
        path: path.to_path_buf(),
        message: format!("cannot read as {} (stored dtype {dtype:?}): {e}", T::NAME),
    })
}

/// Reads a 2-d C-order `.npy` file of element type `T`.
pub fn read_npy_matrix<T: Real>(path: &Path) -> Result<DMatrix<T>> {
    let f = open_npy(path)?;
    let shape = f.shape().to_vec();
    if shape.len() != 2 || f.order() != npyz::Order::C {
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            message: format!("expected a 2-d C-order array, found shape {shape:?}"),
        });
    }
    let (r, c) = (shape[0] as usize, shape[1] as usize);
    let v = npy_data::<T>(path, f)?;
    Ok(DMatrix::from_row_slice(r, c, &v))
}

/// Reads a 1-d `.npy` file of element type `T`.
pub fn read_npy_vector<T: Real>(path: &Path) -> Result<Vec<T>> {
    let f = open_npy(path)?;
    if f.shape().len() != 1 {
        return Err(Error::Checkpoint {
            path: path.to_path_buf(),
            message: format!("expected a 1-d array, found shape {:?}", f.shape()),
        });
    }
    npy_data::<T>(path, f)
}
