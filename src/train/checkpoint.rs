//! Checkpoints: the state after an epoch's update, written so a run can resume bit for bit.
//!
//! With `checkpoint_every = N > 0`, after the update of every epoch e with e % N == 0 (the
//! reference's "epoch e" = weights after e + 1 updates), the folder `checkpoints/epoch_EEEEEE/`
//! receives `W_in.npy`, `W_out.npy` (`W_in_y.npy`), the optimiser state (`adam_m_K.npy`,
//! `adam_v_K.npy` per tensor K = 0, 1, 2 for AdamW) and `state.json` (epoch, updates, precision).
//! Resuming from one continues with epoch e + 1 and reproduces the uninterrupted run bit for bit.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::formats::atomic::atomic_write;
use crate::formats::npy::{read_npy_matrix, read_npy_vector, write_npy_matrix, write_npy_vector};
use crate::numerics::network::Network;
use crate::numerics::optim::{AdamW, Optimizer};
use crate::numerics::real::Real;
use crate::train::config::Precision;
use crate::train::trainer::Trainer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

impl<T: Real, B: Backend<T>> Trainer<T, B> {
    /// Writes a checkpoint of the current state to `dir` (module docs).
    pub fn write_checkpoint(&self, dir: &Path) -> Result<()> {
        let net = self.backend.network();
        write_npy_matrix(&dir.join("W_in.npy"), &net.w_in)?;
        write_npy_matrix(&dir.join("W_out.npy"), &net.w_out)?;
        if let Some(w) = &net.w_in_y {
            write_npy_matrix(&dir.join("W_in_y.npy"), w)?;
        }
        let opt = self.backend.optimizer();
        let mut t = 0;
        if let Optimizer::Adamw(a) = &opt {
            t = a.t;
            for (k, (m, v)) in a.m.iter().zip(&a.v).enumerate() {
                write_npy_vector(&dir.join(format!("adam_m_{k}.npy")), m)?;
                write_npy_vector(&dir.join(format!("adam_v_{k}.npy")), v)?;
            }
        }
        let state = CheckpointState {
            epoch: self.epoch - 1,
            updates: self.epoch,
            precision: self.config.precision,
            optimizer: self.config.optimizer.name().into(),
            adam_t: t,
        };
        let json = serde_json::to_string_pretty(&state).expect("state serialises");
        atomic_write(&dir.join("state.json"), |w| w.write_all(json.as_bytes()))
    }

    /// Restores weights and optimiser state from a checkpoint folder; the next epoch is the
    /// checkpoint's epoch + 1. Returns that checkpoint's epoch.
    pub fn load_checkpoint(&mut self, dir: &Path) -> Result<usize> {
        let text = std::fs::read_to_string(dir.join("state.json"))
            .map_err(|e| Error::io(dir.join("state.json"), e))?;
        let st: CheckpointState = serde_json::from_str(&text).map_err(|e| Error::Checkpoint {
            path: dir.join("state.json"),
            message: e.to_string(),
        })?;
        if st.precision != self.config.precision {
            return Err(Error::Checkpoint {
                path: dir.to_path_buf(),
                message: format!(
                    "written at {}, but the run is {}",
                    st.precision.name(),
                    self.config.precision.name()
                ),
            });
        }
        let w_in = read_npy_matrix::<T>(&dir.join("W_in.npy"))?;
        let w_out = read_npy_matrix::<T>(&dir.join("W_out.npy"))?;
        let wy = dir.join("W_in_y.npy");
        let w_in_y = if wy.exists() {
            Some(read_npy_matrix::<T>(&wy)?)
        } else {
            None
        };
        let net = Network::new(w_in, w_out, w_in_y)?;
        let mut opt = self.backend.optimizer();
        if let Optimizer::Adamw(a) = &mut opt {
            *a = AdamW {
                t: st.adam_t,
                m: (0..a.m.len())
                    .map(|k| read_npy_vector::<T>(&dir.join(format!("adam_m_{k}.npy"))))
                    .collect::<Result<_>>()?,
                v: (0..a.v.len())
                    .map(|k| read_npy_vector::<T>(&dir.join(format!("adam_v_{k}.npy"))))
                    .collect::<Result<_>>()?,
                ..a.clone()
            };
        }
        self.backend.set_state(net, opt);
        self.epoch = st.updates;
        Ok(st.epoch)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct CheckpointState {
    epoch: usize,
    updates: usize,
    precision: Precision,
    optimizer: String,
    adam_t: u64,
}

/// The checkpoint folder with the highest epoch under `out/checkpoints`, if any.
pub fn latest_checkpoint(out: &Path) -> Result<Option<PathBuf>> {
    let dir = out.join("checkpoints");
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut best: Option<(usize, PathBuf)> = None;
    for e in std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))? {
        let e = e.map_err(|e| Error::io(&dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(n) = name
            .strip_prefix("epoch_")
            .and_then(|s| s.parse::<usize>().ok())
        {
            if e.path().join("state.json").exists() && best.as_ref().is_none_or(|(b, _)| n > *b) {
                best = Some((n, e.path()));
            }
        }
    }
    Ok(best.map(|(_, p)| p))
}
