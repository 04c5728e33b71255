//! The crate's error type.
//!
//! Every fallible constructor or reader returns [`Result<T>`](crate::Result). Variants carry the
//! offending value and what was expected, so a message can be shown to a user as it is.

use std::path::PathBuf;

/// Everything that can go wrong in this crate, short of a broken internal invariant (which panics).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The modulus is even or below 3.
    #[error("modulus p = {p} is invalid: expected an odd integer >= 3")]
    InvalidModulus {
        /// The modulus given.
        p: usize,
    },
    /// A width (number of neurons) of zero.
    #[error("width M = {width} is invalid: expected at least 1 neuron")]
    InvalidWidth {
        /// The width given.
        width: usize,
    },
    /// A real-valued parameter outside its domain.
    #[error("{name} = {value} is invalid: expected {expected}")]
    InvalidParameter {
        /// Which parameter.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What was expected.
        expected: &'static str,
    },
    /// A name (preset, activation, loss, optimiser, ...) that is not known.
    #[error("unknown {kind} '{name}': expected one of {expected}")]
    UnknownName {
        /// What kind of name (preset, activation, loss, ...).
        kind: &'static str,
        /// The name given.
        name: String,
        /// The accepted names.
        expected: String,
    },
    /// A size beyond a stated limit ([`crate::numerics::limits`], the readers' byte limits).
    #[error("{what} = {value} is too large: at most {max} ({reason})")]
    TooLarge {
        /// What is too large (with the file, when it comes from one).
        what: String,
        /// The value found (declared sizes may exceed any machine integer, hence u128).
        value: u128,
        /// The largest accepted.
        max: usize,
        /// Why the limit is there.
        reason: String,
    },
    /// Two inputs whose shapes disagree.
    #[error("{what} has shape {found}, expected {expected}")]
    Shape {
        /// What has the wrong shape.
        what: String,
        /// The shape found.
        found: String,
        /// The shape expected.
        expected: String,
    },
    /// A malformed input file; `line` is 1-based.
    #[error("{}:{line}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// A pair (x, y) outside Z_p x Z_p.
    #[error("pair ({x}, {y}) is outside Z_p x Z_p with p = {p}")]
    PairOutOfRange {
        /// The first operand.
        x: usize,
        /// The second operand.
        y: usize,
        /// The modulus.
        p: usize,
    },
    /// An empty set of pairs where at least one was needed.
    #[error("{what} is empty: expected at least one pair")]
    EmptyPairs {
        /// Which set of pairs.
        what: &'static str,
    },
    /// An output folder that already holds a run.
    #[error("output folder {} already holds a run ({}); pass --force to overwrite it", path.display(), found.display())]
    OutputExists {
        /// The output folder.
        path: PathBuf,
        /// The file that marks an earlier run.
        found: PathBuf,
    },
    /// Training produced a non-finite loss or gradient.
    #[error("training diverged at epoch {epoch}: {what} is {value}")]
    Diverged {
        /// The epoch whose metrics were not finite.
        epoch: usize,
        /// Which metric.
        what: &'static str,
        /// Its value.
        value: f64,
    },
    /// A checkpoint that cannot be used to resume this run.
    #[error("checkpoint {}: {message}", path.display())]
    Checkpoint {
        /// The checkpoint file or folder.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A PyTorch checkpoint (`.pth`) that cannot be read or lacks the weights.
    #[error("{}: {source}", path.display())]
    Pth {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: PthError,
    },
    /// A path that is none of the weight formats `read_weights_any` accepts.
    #[error("{}: {found}; expected a weight folder (W_in.csv, W_out.csv[, W_in_y.csv]), a checkpoint folder (W_in.npy, W_out.npy[, W_in_y.npy]) or a PyTorch checkpoint file (.pth)", path.display())]
    WeightsFormat {
        /// The path given.
        path: PathBuf,
        /// What was found there.
        found: String,
    },
    /// A backend (e.g. CUDA) that is not available.
    #[error("backend '{backend}' unavailable: {reason}")]
    BackendUnavailable {
        /// The backend asked for.
        backend: &'static str,
        /// Why it cannot run.
        reason: String,
    },
    /// An ODE integration that could not finish (step-size underflow, too many steps, stiffness).
    #[error("ODE integration stopped at t = {t}: {message}")]
    Integration {
        /// The time reached.
        t: f64,
        /// What the integrator reported.
        message: String,
    },
    /// An I/O failure, with the path involved.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// True for mistakes in the user's input (bad values, names, files), false for failures of a run.
    ///
    /// The CLI exits with status 2 for the former and 1 for the latter.
    /// A missing or unreadable input file counts as the user's mistake.
    pub fn is_user_error(&self) -> bool {
        match self {
            Error::Diverged { .. }
            | Error::BackendUnavailable { .. }
            | Error::Integration { .. } => false,
            Error::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::NotADirectory
                    | std::io::ErrorKind::IsADirectory
            ),
            _ => true,
        }
    }

    /// Wraps an [`std::io::Error`] with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Why a `.pth` file could not be read. Wrapped with the file's path in [`Error::Pth`]; raised by
/// [`crate::formats::pth`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PthError {
    /// The file is not a zip archive (`reason` says what it looks like instead).
    #[error("not a zip archive, so not a PyTorch checkpoint: {reason}")]
    NotZip {
        /// What the file looks like instead.
        reason: String,
    },
    /// The file starts like a zip archive but cannot be read as one.
    #[error("zip archive is truncated or corrupt: {reason}")]
    CorruptZip {
        /// What the zip reader reported.
        reason: String,
    },
    /// The archive has no `<name>/data.pkl`.
    #[error("no '<name>/data.pkl' entry, so not a torch.save checkpoint (entries: {})", entries.join(", "))]
    MissingPickle {
        /// The entries the archive holds.
        entries: Vec<String>,
    },
    /// The pickle could not be read.
    #[error("data.pkl: {0}")]
    Pickle(#[from] PickleError),
    /// The pickle holds something other than what torch.save writes.
    #[error("unexpected content: {0}")]
    Structure(String),
    /// A storage entry that the pickle names is missing or unreadable.
    #[error("storage entry '{entry}': {reason}")]
    Storage {
        /// The storage entry.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor reaches past the end of its storage.
    #[error("tensor '{name}' reaches byte {needed} of storage '{key}', which holds {found} bytes")]
    StorageTooShort {
        /// The tensor.
        name: String,
        /// The storage key.
        key: String,
        /// Bytes the tensor needs.
        needed: usize,
        /// Bytes the storage holds.
        found: usize,
    },
    /// A tensor with more elements than its storage entry holds: a broadcast (`expand`, stride
    /// 0) or overlapping view. Materialising it would let a few bytes of file demand any amount
    /// of memory, so it is refused.
    #[error("tensor '{name}' has shape {shape:?} ({numel} elements) but storage '{key}' holds {stored} elements: an expanded (stride 0) or overlapping view; save tensor.contiguous() instead")]
    ExpandedView {
        /// The tensor.
        name: String,
        /// The storage key.
        key: String,
        /// Its shape.
        shape: Vec<usize>,
        /// Elements it would materialise.
        numel: usize,
        /// Elements the storage entry holds.
        stored: usize,
    },
    /// A tensor whose element count or extent does not fit in 64-bit arithmetic.
    #[error("tensor '{name}' with shape {shape:?}, stride {stride:?} and storage offset {offset} addresses more than 2^64 elements")]
    Overflow {
        /// The tensor.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
        /// Its strides.
        stride: Vec<usize>,
        /// Its storage offset.
        offset: usize,
    },
    /// A tensor whose element type is not float32 or float64.
    #[error("tensor '{name}' has dtype {dtype}; expected float32 or float64")]
    UnsupportedDtype {
        /// The tensor.
        name: String,
        /// Its element type.
        dtype: String,
    },
    /// A tensor the caller asked for is not in the state dict.
    #[error("no tensor {} in the state dict; tensors found: {}", tried.join(" or "), if found.is_empty() { "none".to_string() } else { found.join(", ") })]
    MissingTensor {
        /// The keys tried.
        tried: Vec<String>,
        /// The tensors the state dict holds.
        found: Vec<String>,
    },
    /// A tensor of the wrong shape.
    #[error("tensor '{name}' has shape {found:?}, expected {expected}")]
    WrongShape {
        /// The tensor.
        name: String,
        /// Its shape.
        found: Vec<usize>,
        /// The shape expected.
        expected: String,
    },
}

/// Why a pickle could not be read: the byte offset and opcode where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickleError {
    /// Byte offset of the opcode (or of the end of data when it ran out).
    pub offset: usize,
    /// The opcode byte being run, if any.
    pub opcode: Option<u8>,
    /// The pickle name of that opcode (`""` when there is none).
    pub opcode_name: &'static str,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for PickleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.opcode {
            Some(op) => write!(
                f,
                "pickle offset {}: opcode 0x{op:02x} ({}): {}",
                self.offset, self.opcode_name, self.message
            ),
            None => write!(f, "pickle offset {}: {}", self.offset, self.message),
        }
    }
}

impl std::error::Error for PickleError {}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks that `value` is finite and > 0.
pub(crate) fn positive(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            name,
            value,
            expected: "a finite number > 0",
        })
    }
}

/// Checks that `value` is finite and >= 0.
pub(crate) fn non_negative(name: &'static str, value: f64) -> Result<f64> {
    if value.is_finite() && value >= 0.0 {
        Ok(value)
    } else {
        Err(Error::InvalidParameter {
            name,
            value,
            expected: "a finite number >= 0",
        })
    }
}
