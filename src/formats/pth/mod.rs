//! Reading weights from PyTorch checkpoints (`.pth` files written by `torch.save`).
//!
//! # The format
//! Since PyTorch 1.6, `torch.save` writes a zip archive (entries stored uncompressed) whose
//! entries share one top folder `<name>/`:
//! - `<name>/data.pkl`: a pickle (protocol 2) of the saved object, read by [`pickle::unpickle`];
//! - `<name>/data/<key>`: the raw bytes of each tensor storage, in the byte order named by
//! - `<name>/byteorder` (`little` or `big`; absent in old files, meaning little);
//! - `<name>/version` and a few more bookkeeping entries, not needed here.
//!
//! A tensor appears in the pickle as a call
//! `torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad,
//! backward_hooks[, metadata])` whose `storage` is a persistent id, the tuple
//! `('storage', torch.<Type>Storage, key, location, numel)`. Element `(i_0, .., i_{d-1})` of
//! the tensor is element `storage_offset + sum_k i_k * stride[k]` of the storage (strides in
//! elements, so transposed views and slices read correctly). Parameters saved as
//! `torch._utils._rebuild_parameter(tensor, requires_grad, hooks)` are unwrapped.
//!
//! # The state dict
//! The reference saves either a model's `state_dict()` (an `OrderedDict` of tensors) at top
//! level, or a dict that holds it under the key `model` (`*_final.pth`: beside loss lists and
//! the optimiser's state). [`PthArchive::state_dict`] returns the tensors of the dict under
//! `model` (or `state_dict`, `model_state_dict`) when the top level has one, else of the top
//! level, in file order.
//!
//! # Precision
//! float32 and float64 storages are read; float32 values are converted to f64 exactly. Any other
//! dtype is [`PthError::UnsupportedDtype`]. The legacy (pre-1.6) non-zip format is refused with a
//! hint.

pub mod pickle;

use crate::error::{Error, PthError, Result};
use crate::numerics::limits::check_matrix;
use crate::numerics::network::Network;
use nalgebra::DMatrix;
use pickle::Value;
use std::collections::HashMap;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

/// The element type of a storage, from its class name `torch.<Name>Storage`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DType {
    /// `FloatStorage`: IEEE binary32.
    F32,
    /// `DoubleStorage`: IEEE binary64.
    F64,
    /// Any other storage class (its name), e.g. `HalfStorage`, `LongStorage`.
    Other(String),
}

impl DType {
    fn from_storage_class(name: &str) -> DType {
        match name {
            "FloatStorage" => DType::F32,
            "DoubleStorage" => DType::F64,
            other => DType::Other(other.to_string()),
        }
    }

    /// Bytes per element, for the supported types.
    pub fn size(&self) -> Option<usize> {
        match self {
            DType::F32 => Some(4),
            DType::F64 => Some(8),
            DType::Other(_) => None,
        }
    }

    /// A readable name: `float32`, `float64`, or the storage class.
    pub fn name(&self) -> String {
        match self {
            DType::F32 => "float32".into(),
            DType::F64 => "float64".into(),
            DType::Other(s) => format!("torch.{s}"),
        }
    }
}

/// Where a tensor's elements live: its storage, offset and strides (all in elements).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    /// Storage key: the entry `<name>/data/<key>`.
    pub key: String,
    /// Element type of the storage.
    pub dtype: DType,
    /// Device the tensor was saved from (`cpu`, `cuda:0`, ...); the bytes are the same.
    pub device: String,
    /// Number of elements of the storage, as the pickle states it.
    pub storage_len: usize,
    /// Index of element (0, .., 0) in the storage.
    pub offset: usize,
    /// Size of each dimension.
    pub shape: Vec<usize>,
    /// Step in the storage per unit step of each index.
    pub stride: Vec<usize>,
}

/// A tensor's values, in C (row-major) order, converted to f64 exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// Size of each dimension.
    pub shape: Vec<usize>,
    /// Element type it was stored in.
    pub dtype: DType,
    /// The values; element `(i_0, .., i_{d-1})` is at `sum_k i_k * prod_{l > k} shape[l]`.
    pub data: Vec<f64>,
}

impl Tensor {
    /// The tensor as a matrix when it is 2-d.
    pub fn to_matrix(&self) -> Option<DMatrix<f64>> {
        match self.shape[..] {
            [r, c] => Some(DMatrix::from_row_slice(r, c, &self.data)),
            _ => None,
        }
    }
}

/// An open `.pth` checkpoint: the parsed pickle and the archive to read storages from.
pub struct PthArchive<R: Read + Seek = std::io::BufReader<std::fs::File>> {
    path: PathBuf,
    zip: zip::ZipArchive<R>,
    prefix: String,
    big_endian: bool,
    root: Value,
    cache: HashMap<String, Vec<u8>>,
    /// Length of the whole file: no stored entry can hold more bytes than this.
    file_len: u64,
    /// Elements of all tensors read so far (at most `file_len`).
    materialised: usize,
}

/// Magic bytes at the start of a zip archive (a local file header).
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

impl PthArchive {
    /// Opens the checkpoint at `path` and parses its pickle.
    pub fn open(path: &Path) -> Result<Self> {
        let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut head = Vec::with_capacity(4);
        (&f).take(4)
            .read_to_end(&mut head)
            .map_err(|e| Error::io(path, e))?;
        let mut r = std::io::BufReader::new(f);
        r.seek(std::io::SeekFrom::Start(0))
            .map_err(|e| Error::io(path, e))?;
        Self::from_reader(path, &head, r)
    }
}

impl<R: Read + Seek> PthArchive<R> {
    /// Opens a checkpoint from any seekable reader; `head` is its first bytes (up to 4), used to
    /// tell a non-zip file from a damaged zip; `path` names it in errors.
    pub fn from_reader(path: &Path, head: &[u8], mut reader: R) -> Result<Self> {
        let file_len = reader
            .seek(std::io::SeekFrom::End(0))
            .and_then(|n| reader.seek(std::io::SeekFrom::Start(0)).map(|_| n))
            .map_err(|e| Error::io(path, e))?;
        let fail = |e: PthError| Error::Pth {
            path: path.to_path_buf(),
            source: e,
        };
        let mut zip = match zip::ZipArchive::new(reader) {
            Ok(z) => z,
            Err(e) if head == ZIP_MAGIC => {
                return Err(fail(PthError::CorruptZip {
                    reason: e.to_string(),
                }))
            }
            Err(_) => {
                return Err(fail(PthError::NotZip {
                    reason: describe_head(head),
                }))
            }
        };
        let names: Vec<String> = zip.file_names().map(str::to_string).collect();
        let pkl = names
            .iter()
            .filter(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
            .min()
            .cloned()
            .ok_or_else(|| {
                let mut entries = names.clone();
                entries.sort();
                fail(PthError::MissingPickle { entries })
            })?;
        let prefix = pkl[..pkl.len() - "data.pkl".len()].to_string();
        let bytes = read_entry(&mut zip, &pkl, file_len).map_err(|reason| {
            fail(PthError::Storage {
                entry: pkl.clone(),
                reason,
            })
        })?;
        let root = pickle::unpickle(&bytes).map_err(|e| fail(e.into()))?;
        let bo = format!("{prefix}byteorder");
        let big_endian = if names.contains(&bo) {
            let b = read_entry(&mut zip, &bo, file_len).map_err(|reason| {
                fail(PthError::Storage {
                    entry: bo.clone(),
                    reason,
                })
            })?;
            match String::from_utf8_lossy(&b).trim() {
                "little" => false,
                "big" => true,
                other => {
                    return Err(fail(PthError::Structure(format!(
                        "byteorder entry says '{other}', expected 'little' or 'big'"
                    ))))
                }
            }
        } else {
            false
        };
        Ok(PthArchive {
            path: path.to_path_buf(),
            zip,
            prefix,
            big_endian,
            root,
            cache: HashMap::new(),
            file_len,
            materialised: 0,
        })
    }

    fn fail(&self, e: PthError) -> Error {
        Error::Pth {
            path: self.path.clone(),
            source: e,
        }
    }

    /// The whole saved object, as the pickle describes it.
    pub fn root(&self) -> &Value {
        &self.root
    }

    /// The tensors of the state dict (see module docs), in file order, with their names.
    ///
    /// Entries of the dict that are not tensors are skipped.
    pub fn state_dict(&self) -> Result<Vec<(String, TensorRef)>> {
        let dict = ["model", "state_dict", "model_state_dict"]
            .iter()
            .find_map(|k| self.root.get(k).filter(|v| matches!(v, Value::Dict(_))))
            .unwrap_or(&self.root);
        let Value::Dict(entries) = dict else {
            return Err(self.fail(PthError::Structure(format!(
                "the saved object is a {}, expected a dict (a state dict, or one holding it under 'model')",
                dict.kind()
            ))));
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let Value::Str(name) = k else { continue };
            if let Some(t) = tensor_ref(v)
                .map_err(|m| self.fail(PthError::Structure(format!("tensor '{name}': {m}"))))?
            {
                out.push((name.clone(), t));
            }
        }
        Ok(out)
    }

    /// Reads the values of a tensor (`name` is used in errors only).
    pub fn read_tensor(&mut self, name: &str, t: &TensorRef) -> Result<Tensor> {
        let size = t.dtype.size().ok_or_else(|| {
            self.fail(PthError::UnsupportedDtype {
                name: name.into(),
                dtype: t.dtype.name(),
            })
        })?;
        if t.shape.len() != t.stride.len() {
            return Err(self.fail(PthError::Structure(format!(
                "tensor '{name}': {} sizes but {} strides",
                t.shape.len(),
                t.stride.len()
            ))));
        }
        let entry = format!("{}data/{}", self.prefix, t.key);
        let stored = self.stored_elements(&entry, size, t)?;
        let Some((count, needed)) = view_extent(t, size) else {
            return Err(self.fail(PthError::Overflow {
                name: name.into(),
                shape: t.shape.clone(),
                stride: t.stride.clone(),
                offset: t.offset,
            }));
        };
        if count > 0 && needed > stored * size {
            return Err(self.fail(PthError::StorageTooShort {
                name: name.into(),
                key: t.key.clone(),
                needed,
                found: stored * size,
            }));
        }
        if count > stored {
            return Err(self.fail(PthError::ExpandedView {
                name: name.into(),
                key: t.key.clone(),
                shape: t.shape.clone(),
                numel: count,
                stored,
            }));
        }
        // No amplification: every element produced is backed by one stored element, and all
        // tensors read together produce at most one element per byte of the file (a stored
        // element takes 4 or 8), so what is allocated below is bounded by the file's size even
        // when many tensors view one storage.
        let total = self.materialised.saturating_add(count);
        if total as u64 > self.file_len {
            return Err(self.fail(PthError::Structure(format!(
                "tensor '{name}': the tensors read so far would hold {total} elements, more than \
                 the file's {} bytes can store (views sharing one storage many times)",
                self.file_len
            ))));
        }
        self.cache_entry(&entry)?;
        let data = gather(&self.cache[&entry], t, size, count, self.big_endian);
        self.materialised = total;
        Ok(Tensor {
            shape: t.shape.clone(),
            dtype: t.dtype.clone(),
            data,
        })
    }

    /// Elements of storage `entry` present: its bytes over `size`, at most the pickle's count.
    fn stored_elements(&mut self, entry: &str, size: usize, t: &TensorRef) -> Result<usize> {
        // Elements present: the entry's size (checked against the file by entry_size) and the
        // pickle's declared storage size, whichever is smaller.
        let entry_bytes = match self.cache.get(entry) {
            Some(b) => b.len() as u64,
            None => entry_size(&mut self.zip, entry, self.file_len).map_err(|reason| {
                self.fail(PthError::Storage {
                    entry: entry.to_string(),
                    reason,
                })
            })?,
        };
        Ok(usize::try_from(entry_bytes / size as u64)
            .unwrap_or(usize::MAX)
            .min(t.storage_len))
    }

    /// Reads storage `entry` into the cache unless it is there already.
    fn cache_entry(&mut self, entry: &str) -> Result<()> {
        if !self.cache.contains_key(entry) {
            let b = read_entry(&mut self.zip, entry, self.file_len).map_err(|reason| {
                self.fail(PthError::Storage {
                    entry: entry.to_string(),
                    reason,
                })
            })?;
            self.cache.insert(entry.to_string(), b);
        }
        Ok(())
    }

    /// Reads every tensor of the state dict; an unsupported dtype anywhere is an error.
    pub fn tensors(&mut self) -> Result<Vec<(String, Tensor)>> {
        let refs = self.state_dict()?;
        refs.into_iter()
            .map(|(n, r)| {
                let t = self.read_tensor(&n, &r)?;
                Ok((n, t))
            })
            .collect()
    }

    /// Extracts the network: `W_in` [M, p], `W_out` [p, M] and, when present, `W_in_y` [M, p]
    /// (untied model), each under the name `mlp.<X>` or `<X>`. The shapes are checked against
    /// each other and against [`crate::numerics::limits`] before any tensor is read.
    pub fn network(&mut self) -> Result<Network<f64>> {
        let refs = self.state_dict()?;
        let find = |base: &str| {
            let tried = [format!("mlp.{base}"), base.to_string()];
            let found = tried
                .iter()
                .find_map(|t| refs.iter().find(|(n, _)| n == t).cloned());
            (found, tried.to_vec())
        };
        let required = |this: &Self, base: &str| match find(base) {
            (Some(f), _) => Ok(f),
            (None, tried) => Err(this.fail(PthError::MissingTensor {
                tried,
                found: refs.iter().map(|(n, _)| n.clone()).collect(),
            })),
        };
        let (n_in, r_in) = required(self, "W_in")?;
        let (n_out, r_out) = required(self, "W_out")?;
        let y = find("W_in_y").0;
        let (m, p) = match r_in.shape[..] {
            [m, p] if m >= 1 && p >= 3 && p % 2 == 1 => (m, p),
            _ => {
                return Err(self.fail(PthError::WrongShape {
                    name: "W_in".into(),
                    found: r_in.shape.clone(),
                    expected: "[M, p] with M >= 1 and p odd >= 3".into(),
                }))
            }
        };
        check_matrix(
            &format!("{}: tensor '{n_in}' [M, p]", self.path.display()),
            m,
            p,
        )?;
        if r_out.shape != [p, m] {
            return Err(self.fail(PthError::WrongShape {
                name: "W_out".into(),
                found: r_out.shape.clone(),
                expected: format!("[{p}, {m}] ([p, M], from W_in's [{m}, {p}])"),
            }));
        }
        if let Some((_, r)) = &y {
            if r.shape != [m, p] {
                return Err(self.fail(PthError::WrongShape {
                    name: "W_in_y".into(),
                    found: r.shape.clone(),
                    expected: format!("[{m}, {p}] (the shape of W_in)"),
                }));
            }
        }
        let w_in = self.read_tensor(&n_in, &r_in)?;
        let w_out = self.read_tensor(&n_out, &r_out)?;
        let w_in_y = match &y {
            Some((n, r)) => Some(self.read_tensor(n, r)?),
            None => None,
        };
        Network::new(
            w_in.to_matrix().expect("2-d, checked above"),
            w_out.to_matrix().expect("2-d, checked above"),
            w_in_y.map(|t| t.to_matrix().expect("2-d, checked above")),
        )
    }
}

/// Reads every tensor of the state dict of the checkpoint at `path` (see [`PthArchive`]).
pub fn read_pth_tensors(path: &Path) -> Result<Vec<(String, Tensor)>> {
    PthArchive::open(path)?.tensors()
}

/// Reads the network of the checkpoint at `path` (see [`PthArchive::network`]).
pub fn read_pth_network(path: &Path) -> Result<Network<f64>> {
    PthArchive::open(path)?.network()
}

/// True when the file at `path` starts like a zip archive.
pub fn looks_like_zip(path: &Path) -> bool {
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| head == ZIP_MAGIC)
        .unwrap_or(false)
}

fn describe_head(head: &[u8]) -> String {
    if head.len() >= 2 && head[0] == 0x80 && head[1] <= 5 {
        "it is a bare pickle stream, as written by torch.save's legacy format (PyTorch < 1.6) \
         or by pickle itself; load it in PyTorch and save it again with torch.save"
            .into()
    } else if head.is_empty() {
        "the file is empty".into()
    } else {
        format!("it starts with bytes {head:02x?}, a zip starts with 50 4b 03 04")
    }
}

/// The size of entry `name`, refusing a stored entry whose declared size disagrees with the
/// bytes it occupies or exceeds the file (a compressed entry is refused by the zip reader: the
/// crate is built without compression support, and torch.save stores every entry).
fn entry_size<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    file_len: u64,
) -> std::result::Result<u64, String> {
    let f = zip.by_name(name).map_err(|e| e.to_string())?;
    let (size, stored) = (f.size(), f.compressed_size());
    if size != stored || size > file_len {
        return Err(format!(
            "declares {size} bytes but occupies {stored} of a {file_len}-byte file"
        ));
    }
    Ok(size)
}

fn read_entry<R: Read + Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    file_len: u64,
) -> std::result::Result<Vec<u8>, String> {
    let size = entry_size(zip, name, file_len)?;
    let f = zip.by_name(name).map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(size as usize);
    f.take(size)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if buf.len() as u64 != size {
        return Err(format!("holds {} of its {size} bytes", buf.len()));
    }
    Ok(buf)
}

/// The view's element count and the storage bytes it reaches (`size` each); `None` on overflow.
fn view_extent(t: &TensorRef, size: usize) -> Option<(usize, usize)> {
    let count = t.shape.iter().try_fold(1usize, |a, &n| a.checked_mul(n));
    // Last storage element the view reaches (None: beyond usize, so beyond any storage).
    let last = if count == Some(0) {
        Some(0)
    } else {
        t.shape
            .iter()
            .zip(&t.stride)
            .try_fold(t.offset, |acc, (&n, &s)| {
                (n - 1).checked_mul(s).and_then(|x| acc.checked_add(x))
            })
    };
    let needed = last
        .and_then(|l| l.checked_add(1))
        .and_then(|l| l.checked_mul(size));
    Some((count?, needed?))
}

/// The `count` elements of view `t` of storage `bytes` (`size` bytes each), in C order.
fn gather(bytes: &[u8], t: &TensorRef, size: usize, count: usize, big_endian: bool) -> Vec<f64> {
    let mut data = Vec::with_capacity(count);
    if count > 0 {
        let mut idx = vec![0usize; t.shape.len()];
        for _ in 0..count {
            let e = t.offset + idx.iter().zip(&t.stride).map(|(i, s)| i * s).sum::<usize>();
            let b = &bytes[e * size..(e + 1) * size];
            data.push(decode(b, &t.dtype, big_endian));
            // Advance the multi-index in C order.
            for d in (0..idx.len()).rev() {
                idx[d] += 1;
                if idx[d] < t.shape[d] {
                    break;
                }
                idx[d] = 0;
            }
        }
    }
    data
}

fn decode(b: &[u8], dtype: &DType, big_endian: bool) -> f64 {
    match (dtype, big_endian) {
        (DType::F32, false) => f32::from_le_bytes(b.try_into().unwrap()) as f64,
        (DType::F32, true) => f32::from_be_bytes(b.try_into().unwrap()) as f64,
        (DType::F64, false) => f64::from_le_bytes(b.try_into().unwrap()),
        (DType::F64, true) => f64::from_be_bytes(b.try_into().unwrap()),
        (DType::Other(_), _) => unreachable!("checked by the caller"),
    }
}

fn usize_of(v: &Value, what: &str) -> std::result::Result<usize, String> {
    match v {
        Value::Int(i) if *i >= 0 => Ok(*i as usize),
        other => Err(format!("{what} is {other:?}, expected an int >= 0")),
    }
}

fn usizes_of(v: &Value, what: &str) -> std::result::Result<Vec<usize>, String> {
    match v {
        Value::Tuple(items) | Value::List(items) => {
            items.iter().map(|x| usize_of(x, what)).collect()
        }
        other => Err(format!("{what} is a {}, expected a tuple", other.kind())),
    }
}

/// Recognises a tensor in the pickle: `Ok(None)` when `v` is not one, `Err` when it is a
/// tensor call with malformed arguments.
pub fn tensor_ref(v: &Value) -> std::result::Result<Option<TensorRef>, String> {
    let Value::Object { callable, args, .. } = v else {
        return Ok(None);
    };
    let Value::Tuple(args) = args.as_ref() else {
        return Ok(None);
    };
    if callable.is_global("torch._utils", "_rebuild_parameter")
        || callable.is_global("torch._utils", "_rebuild_parameter_with_state")
    {
        return match args.first() {
            Some(inner) => tensor_ref(inner),
            None => Err("_rebuild_parameter without arguments".into()),
        };
    }
    if !callable.is_global("torch._utils", "_rebuild_tensor_v2")
        && !callable.is_global("torch._utils", "_rebuild_tensor")
    {
        return Ok(None);
    }
    if args.len() < 4 {
        return Err(format!(
            "_rebuild_tensor_v2 with {} arguments, expected >= 4",
            args.len()
        ));
    }
    let Value::PersistentId(pid) = &args[0] else {
        return Err(format!(
            "storage is a {}, expected a persistent id",
            args[0].kind()
        ));
    };
    let (class, key, device, numel) = match pid.as_ref() {
        Value::Tuple(t) if t.len() >= 5 && t[0] == Value::Str("storage".into()) => {
            let class = match &t[1] {
                Value::Global { module, name } if module == "torch" => name.clone(),
                other => {
                    return Err(format!(
                        "storage type {other:?}, expected torch.<Type>Storage"
                    ))
                }
            };
            let key = match &t[2] {
                Value::Str(s) => s.clone(),
                other => return Err(format!("storage key {other:?}, expected a str")),
            };
            let device = match &t[3] {
                Value::Str(s) => s.clone(),
                other => return Err(format!("storage location {other:?}, expected a str")),
            };
            (class, key, device, usize_of(&t[4], "storage size")?)
        }
        other => {
            return Err(format!(
                "persistent id {other:?}, expected ('storage', type, key, location, numel)"
            ))
        }
    };
    Ok(Some(TensorRef {
        key,
        dtype: DType::from_storage_class(&class),
        device,
        storage_len: numel,
        offset: usize_of(&args[1], "storage offset")?,
        shape: usizes_of(&args[2], "size")?,
        stride: usizes_of(&args[3], "stride")?,
    }))
}
