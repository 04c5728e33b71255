//! NumPy `.npy` arrays: the checkpoint format (C order, little-endian `<f4`/`<f8`), readable with
//! `numpy.load` without this crate.

use crate::error::{Error, Result};
use crate::formats::atomic::atomic_write;
use crate::numerics::network::Network;
use crate::numerics::real::Real;
use nalgebra::DMatrix;
use npyz::WriterBuilder;
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

fn open_npy(path: &Path) -> Result<npyz::NpyFile<std::io::BufReader<std::fs::File>>> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    npyz::NpyFile::new(std::io::BufReader::new(f)).map_err(|e| Error::io(path, e))
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
