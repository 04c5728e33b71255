//! NumPy `.npy` arrays: the checkpoint format (C order, little-endian `<f4`/`<f8`), readable with
//! `numpy.load` without this crate.
//!
//! # Limits
//! Reading checks the header against the file before anything is allocated (see `open_npy`):
//! a header of at most [`NPY_MAX_HEADER`] bytes, and exactly the data bytes the shape promises;
//! a matrix has at most [`MAX_WIDTH`] rows and columns and
//! [`MAX_MATRIX_ELEMENTS`] elements.

use crate::error::{Error, Result};
use crate::formats::atomic::atomic_write;
use crate::numerics::limits::{at_most, MAX_MATRIX_ELEMENTS, MAX_WIDTH};
use crate::numerics::network::Network;
use crate::numerics::real::Real;
use nalgebra::DMatrix;
use npyz::WriterBuilder;
use std::io::{Read, Seek};
use std::path::Path;

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

/// Largest `.npy` header read: numpy's own limit (`numpy.lib.format`, `max_header_size`, 10000
/// since numpy 1.24); the header is a short Python dict literal (numpy writes 118 bytes or so).
pub const NPY_MAX_HEADER: u64 = 10_000;

/// Opens a `.npy` file after checking, before anything is allocated, that its header length
/// is within [`NPY_MAX_HEADER`] and the file, that the shape's element count fits in 64 bits,
/// and that the data bytes the header promises (elements x element size) are exactly the
/// bytes after the header; so reading it allocates no more than the file holds.
///
/// # Errors
/// [`Error::Checkpoint`] naming the file and what does not add up.
fn open_npy(path: &Path) -> Result<npyz::NpyFile<std::io::BufReader<std::fs::File>>> {
    let bad = |message: String| Error::Checkpoint {
        path: path.to_path_buf(),
        message,
    };
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let file_len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut pre = Vec::with_capacity(12);
    (&mut f)
        .take(12)
        .read_to_end(&mut pre)
        .map_err(|e| Error::io(path, e))?;
    if pre.len() < 10 || &pre[..6] != b"\x93NUMPY" {
        return Err(bad(
            "not a .npy file (it does not start with \\x93NUMPY)".into()
        ));
    }
    let (header_len, start) = match pre[6] {
        1 => (u16::from_le_bytes([pre[8], pre[9]]) as u64, 10u64),
        2 | 3 if pre.len() == 12 => (
            u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as u64,
            12,
        ),
        v => return Err(bad(format!(".npy version {v}, expected 1, 2 or 3"))),
    };
    if header_len > NPY_MAX_HEADER || start + header_len > file_len {
        return Err(bad(format!(
            "header of {header_len} bytes in a {file_len}-byte file (at most {NPY_MAX_HEADER})"
        )));
    }
    // npyz multiplies the shape out unchecked: check that the element count fits, and is no
    // more than the data bytes (an element takes at least one), before it parses the header.
    let mut header = vec![0u8; header_len as usize];
    f.seek(std::io::SeekFrom::Start(start))
        .and_then(|_| f.read_exact(&mut header))
        .map_err(|e| Error::io(path, e))?;
    let have = file_len - start - header_len;
    let shape = shape_in_header(&header)
        .ok_or_else(|| bad("the header has no 'shape': (d0, d1, ..) of integers".into()))?;
    match shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d)) {
        Some(n) if n <= have => {}
        Some(n) => {
            return Err(bad(format!(
                "header promises {n} elements (shape {shape:?}), the file holds {have} data bytes"
            )))
        }
        None => {
            return Err(bad(format!(
                "shape {shape:?}: element count overflows 64 bits"
            )))
        }
    }
    f.seek(std::io::SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let npy = npyz::NpyFile::new(std::io::BufReader::new(f)).map_err(|e| Error::io(path, e))?;
    let item = match npy.dtype() {
        npyz::DType::Plain(ts) => ts.num_bytes().unwrap_or(0) as u64,
        _ => 0,
    };
    let want = npy
        .shape()
        .iter()
        .try_fold(item, |a, &d| a.checked_mul(d))
        .ok_or_else(|| {
            bad(format!(
                "shape {:?}: element count overflows 64 bits",
                npy.shape()
            ))
        })?;
    if want != have {
        return Err(bad(format!(
            "header promises {want} data bytes (shape {:?}), the file holds {have}",
            npy.shape()
        )));
    }
    Ok(npy)
}

fn npy_data<T: Real>(
    path: &Path,
    f: npyz::NpyFile<std::io::BufReader<std::fs::File>>,
) -> Result<Vec<T>> {
    let dtype = f.dtype();
    f.into_vec::<T>().map_err(|e| Error::Checkpoint {
        path: path.to_path_buf(),
        message: format!("cannot read as {} (stored dtype {dtype:?}): {e}", T::NAME),
    })
}

/// The `'shape': (d0, d1, ..)` of a `.npy` header (a Python dict literal), if it is there and
/// holds only non-negative integers below 2^64.
fn shape_in_header(header: &[u8]) -> Option<Vec<u64>> {
    let text = std::str::from_utf8(header).ok()?;
    let at = text.find("'shape'").or_else(|| text.find("\"shape\""))?;
    let rest = text[at + 7..].trim_start().strip_prefix(':')?.trim_start();
    let close = match rest.chars().next()? {
        '(' => ')',
        '[' => ']',
        _ => return None,
    };
    let inner = &rest[1..rest.find(close)?];
    inner
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_end_matches('L').parse().ok())
        .collect()
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
    let what = format!("{} (rows x columns)", path.display());
    at_most(&what, r, MAX_WIDTH, "rows of a weight matrix")?;
    at_most(&what, c, MAX_WIDTH, "columns of a weight matrix")?;
    at_most(
        &what,
        r * c,
        MAX_MATRIX_ELEMENTS,
        "elements of one weight matrix",
    )?;
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
    at_most(
        &format!("{} (length)", path.display()),
        f.shape()[0] as usize,
        MAX_MATRIX_ELEMENTS,
        "elements of one weight matrix's optimiser moment",
    )?;
    npy_data::<T>(path, f)
}

/// Reads a 2-d C-order `.npy` file of float32 or float64 (either byte order) as f64; float32
/// values convert exactly.
pub fn read_npy_matrix_as_f64(path: &Path) -> Result<DMatrix<f64>> {
    let f = open_npy(path)?;
    let float_size = match f.dtype() {
        npyz::DType::Plain(ts) if ts.type_char() == npyz::TypeChar::Float => Some(ts.size_field()),
        _ => None,
    };
    match float_size {
        Some(4) => Ok(read_npy_matrix::<f32>(path)?.map(|x| x as f64)),
        Some(8) => read_npy_matrix::<f64>(path),
        _ => Err(Error::Checkpoint {
            path: path.to_path_buf(),
            message: format!("dtype {:?} is not float32 or float64", f.dtype().descr()),
        }),
    }
}

/// Reads a checkpoint folder of ours: `W_in.npy` (M x p), `W_out.npy` (p x M) and, for an
/// untied model, `W_in_y.npy`, each float32 or float64, into an f64 network.
pub fn read_npy_folder(dir: &Path) -> Result<Network<f64>> {
    let w_in = read_npy_matrix_as_f64(&dir.join("W_in.npy"))?;
    let w_out = read_npy_matrix_as_f64(&dir.join("W_out.npy"))?;
    let wy = dir.join("W_in_y.npy");
    let w_in_y = if wy.exists() {
        Some(read_npy_matrix_as_f64(&wy)?)
    } else {
        None
    };
    Network::new(w_in, w_out, w_in_y)
}
