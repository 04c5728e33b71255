//! Recovery: where a killed run resumes.
//!
//! A run can be killed at any moment: during an epoch, while a table row, a checkpoint or a
//! final file is being written, or between any two of them. Resuming
//! ([`crate::train::driver::resume`]) then
//! 1. removes the temporary files and folders a killed writer left
//!    ([`crate::formats::atomic::remove_stale_temps`]);
//! 2. takes the newest checkpoint that is complete ([`CheckpointState::is_complete`]) and not
//!    newer than what every table holds: each table of its marks holds at least the marked
//!    bytes (checkpoints without marks: the training log holds every epoch up to it);
//!    [`choose_resume_point`];
//! 3. cuts every table back to that checkpoint ([`ResumePoint::keep`], a torn last row or rows
//!    past the checkpoint are dropped) and runs on from there.
//!
//! Since the driver syncs the tables before it writes a checkpoint, and writes each checkpoint
//! folder whole, the newest checkpoint always qualifies after a kill of our own runs; the
//! fallback covers runs written by older versions (which wrote the checkpoint before the log)
//! and folders damaged or copied in part.

use crate::error::Result;
use crate::formats::stream::{rows_upto_epoch, table_len, Keep};
use crate::train::checkpoint::{checkpoint_dirs, CheckpointState};
use std::path::{Path, PathBuf};

/// A checkpoint a run can resume from, with its state.
#[derive(Clone, Debug, PartialEq)]
pub struct ResumePoint {
    /// The checkpoint folder.
    pub dir: PathBuf,
    /// Its `state.json`.
    pub state: CheckpointState,
}

impl ResumePoint {
    /// The epoch whose update the checkpoint follows.
    pub fn epoch(&self) -> usize {
        self.state.epoch
    }

    /// How much of the streamed table `file` (a file name in the run folder) to keep: exactly
    /// the checkpoint's mark for it, or, for a checkpoint without marks (or a table it does not
    /// know), the rows up to its epoch.
    pub fn keep(&self, file: &str) -> Keep<'_> {
        let mark = self
            .state
            .tables
            .as_ref()
            .and_then(|t| t.iter().find(|m| m.file == file));
        match mark {
            Some(m) => Keep::Mark(m),
            None => Keep::UpToEpoch(self.state.epoch),
        }
    }
}

/// A checkpoint passed over, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The checkpoint folder.
    pub dir: PathBuf,
    /// Why it cannot be resumed from.
    pub reason: String,
}

/// The newest checkpoint of the run in `out` that is complete and not newer than its tables
/// (module docs), and the newer ones passed over. `log` is the training log's file name, the
/// table checked for checkpoints without marks.
///
/// # Errors
/// Only I/O failures and a training log damaged before the checkpoint; a checkpoint that does
/// not qualify is skipped, not an error.
pub fn choose_resume_point(out: &Path, log: &str) -> Result<(Option<ResumePoint>, Vec<Skipped>)> {
    let mut skipped = Vec::new();
    for (epoch, dir) in checkpoint_dirs(out)? {
        let skip = |reason: String| Skipped {
            dir: dir.clone(),
            reason,
        };
        let state = match CheckpointState::read(&dir) {
            Ok(s) if s.epoch == epoch => s,
            Ok(s) => {
                skipped.push(skip(format!("state.json is for epoch {}", s.epoch)));
                continue;
            }
            Err(e) => {
                skipped.push(skip(format!("incomplete ({e})")));
                continue;
            }
        };
        if !state.is_complete(&dir) {
            skipped.push(skip("incomplete (files missing or cut short)".into()));
            continue;
        }
        let short = match &state.tables {
            Some(marks) => marks.iter().find_map(|m| {
                let have = table_len(&out.join(&m.file));
                (have < m.bytes).then(|| {
                    format!(
                        "newer than {} (holds {have} bytes, the checkpoint needs {})",
                        m.file, m.bytes
                    )
                })
            }),
            None => {
                let rows = rows_upto_epoch(&out.join(log), epoch)?;
                (rows != epoch + 1).then(|| {
                    format!(
                        "newer than {log} (holds {rows} rows up to epoch {epoch}, needs {})",
                        epoch + 1
                    )
                })
            }
        };
        match short {
            Some(reason) => skipped.push(skip(reason)),
            None => return Ok((Some(ResumePoint { dir, state }), skipped)),
        }
    }
    Ok((None, skipped))
}
