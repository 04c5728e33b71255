//! The `train` command's library side: a training run with the grokking recorder as its
//! observer, so the run folder holds the progress measures, accuracy grids and stage snapshots
//! beside the log (see [`crate::train::driver`] and [`crate::science::grokking::recorder`]).

use crate::error::Result;
use crate::numerics::limits::check_analysable;
use crate::numerics::parallel::Threads;
use crate::science::grokking::recorder::Recorder;
use crate::train::config::{BackendKind, TrainConfig};
use crate::train::driver::{self, Progress, RunOptions, RunSummary};
use std::path::Path;

/// Trains `config` on `backend` and writes the run folder with the recorder's files. A p whose
/// stage snapshots could not be analysed ([`check_analysable`]) is refused before the folder is
/// touched.
///
/// The run goes on inside the process-wide thread pool ([`Threads::default`]): the epoch loop
/// then runs on one of the pool's threads, and each parallel region of the hot loop only hands
/// work to the others instead of waking the pool from outside (which costs more than a
/// p = 23 step's parallel work is worth).
pub fn run(config: &TrainConfig, opts: &RunOptions, backend: BackendKind) -> Result<RunSummary> {
    check_analysable(config.p)?;
    Threads::default().install(|| driver::run(config, opts, backend, Recorder::start))
}

/// Resumes the run in `out` from its latest checkpoint (to `epochs` if given), with the bar
/// added to `multi` when given; the finished folder equals the uninterrupted run's.
pub fn resume(
    out: &Path,
    epochs: Option<usize>,
    progress: Progress,
    backend: BackendKind,
    multi: Option<indicatif::MultiProgress>,
) -> Result<RunSummary> {
    Threads::default()
        .install(|| driver::resume(out, epochs, progress, backend, multi, Recorder::start))
}
