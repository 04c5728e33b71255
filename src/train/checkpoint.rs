//! Checkpoints: the state after an epoch's update, written so a run can resume bit for bit.
//!
//! With `checkpoint_every = N > 0`, after the update of every epoch e with e % N == 0 (the
//! reference's "epoch e" = weights after e + 1 updates), the folder `checkpoints/epoch_EEEEEE/`
//! receives `W_in.npy`, `W_out.npy` (`W_in_y.npy`), the optimiser state (`adam_m_K.npy`,
//! `adam_v_K.npy` per tensor K = 0, 1, 2 for AdamW) and `state.json`: epoch, updates,
//! precision, optimizer, adam_t, the size of every other file of the folder (`files`), and
//! where each streamed table of the run stood (`tables`, [`TableMark`]). Resuming from one
//! continues with epoch e + 1 and reproduces the uninterrupted run bit for bit.
//!
//! # Crash safety
//! The folder is built under a temporary name and renamed into place
//! ([`crate::formats::atomic::atomic_dir`]) after the run's tables were synced, so a checkpoint
//! folder is whole and never newer than the tables. [`CheckpointState::is_complete`] still
//! checks the listed file sizes (a folder copied in part), and checkpoints written before
//! `files` and `tables` existed count as complete when `state.json` (written last) and the
//! weight files are there.
//!
//! # Validation
//! [`Trainer::load_checkpoint`] checks the checkpoint against the run's configuration before
//! it touches the backend: precision, optimiser, the shape of every weight matrix (p, width,
//! tied or untied) and the length of every optimiser moment; a mismatch is
//! [`Error::Checkpoint`] naming the file and both values.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::formats::atomic::{atomic_dir, atomic_write};
use crate::formats::npy::{read_npy_matrix, read_npy_vector, write_npy_matrix, write_npy_vector};
use crate::formats::stream::TableMark;
use crate::numerics::network::{Network, Tying};
use crate::numerics::optim::{AdamW, Optimizer};
use crate::numerics::real::Real;
use crate::train::config::{Precision, TrainConfig};
use crate::train::trainer::Trainer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A file of a checkpoint folder and its size.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMark {
    /// File name in the folder.
    pub file: String,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The contents of a checkpoint's `state.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// The epoch whose update the checkpoint follows.
    pub epoch: usize,
    /// Updates taken (epoch + 1).
    pub updates: usize,
    /// Precision of the run.
    pub precision: Precision,
    /// Optimiser name (`sgd`, `adamw`).
    pub optimizer: String,
    /// AdamW's step count (0 for SGD).
    pub adam_t: u64,
    /// The other files of the folder with their sizes (absent in checkpoints written before
    /// crash-safe resume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<FileMark>>,
    /// Where each streamed table stood (absent in older checkpoints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tables: Option<Vec<TableMark>>,
}

/// Most bytes `state.json` may have: it holds a handful of numbers and a few dozen names, well
/// under 64 KiB, so anything larger is not a checkpoint of ours.
pub const STATE_JSON_MAX_BYTES: u64 = 1 << 16;

impl CheckpointState {
    /// Reads `dir/state.json`.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] naming the file when it is missing, larger than
    /// [`STATE_JSON_MAX_BYTES`], or not a state of ours.
    pub fn read(dir: &Path) -> Result<CheckpointState> {
        let path = dir.join("state.json");
        let bad = |message: String| Error::Checkpoint {
            path: path.clone(),
            message,
        };
        let len = std::fs::metadata(&path)
            .map_err(|e| bad(e.to_string()))?
            .len();
        if len > STATE_JSON_MAX_BYTES {
            return Err(bad(format!(
                "{len} bytes, more than the {STATE_JSON_MAX_BYTES} a checkpoint state can have"
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
        let st: CheckpointState = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
        if st.updates != st.epoch.wrapping_add(1) || st.adam_t > st.updates as u64 {
            return Err(bad(format!(
                "epoch {}, updates {}, adam_t {}: expected updates = epoch + 1 and adam_t <= updates",
                st.epoch, st.updates, st.adam_t
            )));
        }
        Ok(st)
    }

    /// True when every file the folder should hold is there: with `files`, each at its listed
    /// size; for an older checkpoint, `W_in.npy` and `W_out.npy` (`state.json`, written last,
    /// was read already).
    pub fn is_complete(&self, dir: &Path) -> bool {
        let size = |f: &str| std::fs::metadata(dir.join(f)).ok().map(|m| m.len());
        match &self.files {
            Some(files) => files.iter().all(|f| size(&f.file) == Some(f.bytes)),
            None => ["W_in.npy", "W_out.npy"]
                .iter()
                .all(|f| size(f).is_some_and(|n| n > 0)),
        }
    }
}

/// A copy of what a checkpoint holds (weights, optimiser state, the epoch), taken between two
/// epochs so that it can be written while the run goes on ([`Snapshot::write`]).
#[derive(Clone, Debug)]
pub struct Snapshot<T: Real> {
    net: Network<T>,
    opt: Optimizer<T>,
    /// Updates taken (the checkpoint follows epoch `updates - 1`).
    updates: usize,
    precision: Precision,
    optimizer: String,
}

impl<T: Real> Snapshot<T> {
    /// Writes the checkpoint to `dir` (a temporary folder renamed into place), with the marks
    /// of the run's tables, which must have been synced already (module docs).
    pub fn write(&self, dir: &Path, tables: &[TableMark]) -> Result<()> {
        let (net, opt) = (&self.net, &self.opt);
        atomic_dir(dir, |tmp| {
            let mut names = vec!["W_in.npy".to_string(), "W_out.npy".to_string()];
            write_npy_matrix(&tmp.join("W_in.npy"), &net.w_in)?;
            write_npy_matrix(&tmp.join("W_out.npy"), &net.w_out)?;
            if let Some(w) = &net.w_in_y {
                write_npy_matrix(&tmp.join("W_in_y.npy"), w)?;
                names.push("W_in_y.npy".into());
            }
            let mut t = 0;
            if let Optimizer::Adamw(a) = opt {
                t = a.t;
                for (k, (m, v)) in a.m.iter().zip(&a.v).enumerate() {
                    for (name, x) in [
                        (format!("adam_m_{k}.npy"), m),
                        (format!("adam_v_{k}.npy"), v),
                    ] {
                        write_npy_vector(&tmp.join(&name), x)?;
                        names.push(name);
                    }
                }
            }
            let files = names
                .into_iter()
                .map(|file| {
                    let p = tmp.join(&file);
                    let bytes = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?.len();
                    Ok(FileMark { file, bytes })
                })
                .collect::<Result<Vec<_>>>()?;
            let state = CheckpointState {
                epoch: self.updates - 1,
                updates: self.updates,
                precision: self.precision,
                optimizer: self.optimizer.clone(),
                adam_t: t,
                files: Some(files),
                tables: Some(tables.to_vec()),
            };
            let json = serde_json::to_string_pretty(&state).expect("state serialises");
            atomic_write(&tmp.join("state.json"), |w| w.write_all(json.as_bytes()))
        })
    }
}

impl<T: Real, B: Backend<T>> Trainer<T, B> {
    /// A copy of the current state for a checkpoint (after at least one epoch).
    pub fn snapshot(&self) -> Snapshot<T> {
        Snapshot {
            net: self.backend.network(),
            opt: self.backend.optimizer(),
            updates: self.epoch,
            precision: self.config.precision,
            optimizer: self.config.optimizer.name().into(),
        }
    }

    /// Restores weights and optimiser state from a checkpoint folder after checking them
    /// against the run's configuration (module docs); the next epoch is the checkpoint's
    /// epoch + 1. Returns the checkpoint's state.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] naming the file and the mismatch; the readers' errors for a
    /// damaged file. The backend is untouched on error.
    pub fn load_checkpoint(&mut self, dir: &Path) -> Result<CheckpointState> {
        let st = CheckpointState::read(dir)?;
        let cfg = &self.config;
        let mismatch = |file: &str, message: String| Error::Checkpoint {
            path: dir.join(file),
            message,
        };
        if st.precision != cfg.precision {
            return Err(mismatch(
                "state.json",
                format!(
                    "written at {}, but the run is {}",
                    st.precision.name(),
                    cfg.precision.name()
                ),
            ));
        }
        if st.optimizer != cfg.optimizer.name() {
            return Err(mismatch(
                "state.json",
                format!(
                    "optimizer '{}', but the run's config.json says '{}'",
                    st.optimizer,
                    cfg.optimizer.name()
                ),
            ));
        }
        let net = read_checkpoint_network::<T>(dir, cfg)?;
        let mut opt = self.backend.optimizer();
        if let Optimizer::Adamw(a) = &mut opt {
            let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
            let read = |name: String, len: usize| -> Result<Vec<T>> {
                let v = read_npy_vector::<T>(&dir.join(&name))?;
                if v.len() != len {
                    return Err(mismatch(
                        &name,
                        format!("{} values, the tensor it belongs to has {len}", v.len()),
                    ));
                }
                Ok(v)
            };
            *a = AdamW {
                t: st.adam_t,
                m: (sizes.iter().enumerate())
                    .map(|(k, &n)| read(format!("adam_m_{k}.npy"), n))
                    .collect::<Result<_>>()?,
                v: (sizes.iter().enumerate())
                    .map(|(k, &n)| read(format!("adam_v_{k}.npy"), n))
                    .collect::<Result<_>>()?,
                ..a.clone()
            };
        }
        self.backend.set_state(net, opt);
        self.epoch = st.updates;
        Ok(st)
    }
}

/// Reads the weights of checkpoint `dir` and checks their shapes against `cfg`: `W_in` and
/// `W_in_y` M x p, `W_out` p x M, `W_in_y` present exactly for an untied run.
fn read_checkpoint_network<T: Real>(dir: &Path, cfg: &TrainConfig) -> Result<Network<T>> {
    let (m, p) = (cfg.width, cfg.p);
    let read = |name: &str, want: (usize, usize)| {
        let w = read_npy_matrix::<T>(&dir.join(name))?;
        if w.shape() != want {
            return Err(Error::Checkpoint {
                path: dir.join(name),
                message: format!(
                    "shape {} x {}, but the run (p = {p}, width = {m}) needs {} x {}",
                    w.nrows(),
                    w.ncols(),
                    want.0,
                    want.1
                ),
            });
        }
        Ok(w)
    };
    let w_in = read("W_in.npy", (m, p))?;
    let w_out = read("W_out.npy", (p, m))?;
    let has_y = dir.join("W_in_y.npy").exists();
    if has_y != (cfg.tying == Tying::Untied) {
        return Err(Error::Checkpoint {
            path: dir.to_path_buf(),
            message: format!(
                "{} W_in_y.npy, but the run's model is {}",
                if has_y { "holds" } else { "lacks" },
                if has_y { "tied" } else { "untied" }
            ),
        });
    }
    let w_in_y = if has_y {
        Some(read("W_in_y.npy", (m, p))?)
    } else {
        None
    };
    Network::new(w_in, w_out, w_in_y)
}

/// The checkpoint folders `epoch_EEEEEE` under `out/checkpoints`, newest first (whole or not).
pub fn checkpoint_dirs(out: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let dir = out.join("checkpoints");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut v = Vec::new();
    for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
        let e = e.map_err(|e| Error::io(&dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(n) = name
            .strip_prefix("epoch_")
            .and_then(|s| s.parse::<usize>().ok())
        {
            v.push((n, e.path()));
        }
    }
    v.sort_by_key(|c| std::cmp::Reverse(c.0));
    Ok(v)
}

/// The newest complete checkpoint folder under `out/checkpoints` ([`CheckpointState::is_complete`]),
/// if any. (Resuming also checks it against the run's tables: [`crate::train::recovery`].)
pub fn latest_checkpoint(out: &Path) -> Result<Option<PathBuf>> {
    Ok(checkpoint_dirs(out)?.into_iter().find_map(|(_, d)| {
        CheckpointState::read(&d)
            .ok()
            .filter(|s| s.is_complete(&d))
            .map(|_| d)
    }))
}
