//! The driver: runs a [`Trainer`] to the end and writes the run's folder (configuration, split,
//! log, checkpoints, final weights, summary, manifest), handing each epoch to an [`Observer`]
//! that may record more (the grokking recorder of [`crate::science::grokking`] is one; the
//! driver does not know it).
//!
//! # Files
//! `config.json`, `train_pairs.csv`, `training_log.csv`, `checkpoints/epoch_EEEEEE/`, `final/`
//! (weight folder), `summary.csv`, whatever the observer writes, and `manifest.csv`. The log is
//! written to `training_log.csv.partial` as the run goes and renamed when the run ends, also
//! when it diverges; a diverged run returns [`Error::Diverged`] after writing everything it has.
//!
//! # Surviving a kill
//! At a checkpoint the driver first makes the log and the observer's tables durable, then
//! writes the checkpoint (whole, under a temporary name, with the tables' marks), both on a
//! thread of their own while the epochs go on (`CheckpointWriter`); at the end it
//! writes `manifest.csv` last, so a folder with `manifest.csv` is a finished run. [`resume`]
//! continues a run killed at any point from the newest checkpoint its tables hold
//! ([`crate::train::recovery`]) and ends with the files of the run that was never killed.

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::formats::atomic::{atomic_dir, atomic_write, remove_stale_temps, BackgroundWrite};
use crate::formats::killpoint::kill_point;
use crate::formats::manifest::Manifest;
use crate::formats::pairs::{read_pairs_csv, write_pairs_csv};
use crate::formats::stream::{Keep, PendingSync, StreamTable};
use crate::formats::table::{fmt_f64, write_table};
use crate::formats::weights::write_weight_folder;
use crate::numerics::network::Network;
use crate::numerics::real::Real;
use crate::numerics::task::Split;
use crate::train::checkpoint::Snapshot;
use crate::train::config::{BackendKind, Precision, TrainConfig};
use crate::train::record::{parse_log, EpochRecord, LOG_HEADER};
use crate::train::recovery::{choose_resume_point, ResumePoint};
use crate::train::trainer::Trainer;
use std::path::{Path, PathBuf};

/// How the driver reports progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Nothing.
    Quiet,
    /// A progress bar (on a terminal).
    Bar,
    /// A plain line every tenth of the run.
    Lines,
}

/// Options of a run that are not part of the science.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Overwrite a folder holding an earlier run.
    pub force: bool,
    /// Progress reporting.
    pub progress: Progress,
    /// With [`Progress::Bar`], add the run's bar to this group (so an overall bar can sit
    /// beside it).
    pub multi: Option<indicatif::MultiProgress>,
}

/// What a finished (or diverged) run reports.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// Epochs run.
    pub epochs_run: usize,
    /// Last logged record.
    pub last: Option<EpochRecord>,
    /// True when the plateau rule ended the run.
    pub plateau_stopped: bool,
}

/// What an observer is started with: the run's folder, split and configuration, and where a
/// resumed run continues.
pub struct RunStart<'a> {
    /// The run's folder.
    pub out: &'a Path,
    /// The split the run trains on.
    pub split: &'a Split,
    /// The run's configuration.
    pub config: &'a TrainConfig,
    /// When resuming: the checkpoint the run continues after.
    pub resume: Option<&'a ResumePoint>,
    /// The log rows kept from before the checkpoint (empty for a new run).
    pub log: &'a [EpochRecord],
}

impl RunStart<'_> {
    /// How much of the streamed table `file` (a file name in the run folder) an observer
    /// keeps: nothing for a new run, what the checkpoint marks for a resumed one.
    pub fn keep(&self, file: &str) -> Keep<'_> {
        match self.resume {
            Some(r) => r.keep(file),
            None => Keep::Nothing,
        }
    }
}

/// Sees every epoch of a run at the weights its log row describes, and writes what it records.
pub trait Observer {
    /// Called after epoch `r`'s measurements and before its update.
    fn on_epoch<T: Real, B: Backend<T>>(&mut self, r: &EpochRecord, backend: &B) -> Result<()>;
    /// Pushes what was recorded so far to its files (called at every checkpoint) and returns
    /// the marks of the observer's streamed tables with the handles that make them durable
    /// ([`StreamTable::flush_mark`]) and the writes it still has in flight: the checkpoint's
    /// writer waits for those writes, syncs the tables, then records the marks, so a
    /// checkpoint never holds more than the files beside it.
    fn flush(&mut self) -> Result<Flushed>;
    /// Finishes the observer's files from the whole log and lists them in `manifest`.
    fn finish(self, log: &[EpochRecord], manifest: &mut Manifest) -> Result<()>;
}

/// What an observer hands a checkpoint ([`Observer::flush`]).
#[derive(Debug, Default)]
pub struct Flushed {
    /// Its streamed tables' marks, not yet durable.
    pub tables: Vec<PendingSync>,
    /// Its writes still running on threads of their own (stage snapshots).
    pub writes: Vec<BackgroundWrite>,
}

/// An observer that records nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn on_epoch<T: Real, B: Backend<T>>(&mut self, _: &EpochRecord, _: &B) -> Result<()> {
        Ok(())
    }
    fn flush(&mut self) -> Result<Flushed> {
        Ok(Flushed::default())
    }
    fn finish(self, _: &[EpochRecord], _: &mut Manifest) -> Result<()> {
        Ok(())
    }
}

/// Files in a run folder that mark it as holding a run.
const RUN_MARKERS: [&str; 4] = [
    "config.json",
    "training_log.csv",
    "training_log.csv.partial",
    "manifest.csv",
];

/// Other files a run writes (removed by `--force`).
const RUN_FILES: [&str; 8] = [
    "summary.csv",
    "train_pairs.csv",
    "progress.csv",
    "progress.csv.partial",
    "accuracy_grids.csv",
    "accuracy_grids.csv.partial",
    "pair_classes.csv",
    "stages.csv",
];

/// Refuses a folder holding an earlier run unless `force`; with `force`, removes the files a
/// run writes (and only those).
pub fn prepare_out_dir(out: &Path, force: bool) -> Result<()> {
    if let Some(found) = RUN_MARKERS.iter().map(|m| out.join(m)).find(|p| p.exists()) {
        if !force {
            return Err(Error::OutputExists {
                path: out.to_path_buf(),
                found,
            });
        }
        for m in RUN_MARKERS.iter().chain(RUN_FILES.iter()) {
            let _ = std::fs::remove_file(out.join(m));
        }
        for d in ["checkpoints", "final", "stages"] {
            let _ = std::fs::remove_dir_all(out.join(d));
        }
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))
}

/// Trains `config` on `backend` and writes the run folder (module docs), with the observer
/// `observe` builds. Everything that can be refused (configuration, split, initial weights,
/// backend) is checked before the output folder is touched.
pub fn run<O: Observer>(
    config: &TrainConfig,
    opts: &RunOptions,
    backend: BackendKind,
    observe: impl FnOnce(&RunStart) -> Result<O>,
) -> Result<RunSummary> {
    config.validate()?;
    let split = config.split()?;
    let initial = config.initial_network::<f64>()?;
    backend.check(config.precision)?;
    prepare_out_dir(&opts.out, opts.force)?;
    // A run killed before it wrote config.json is started again: clear what it left.
    remove_stale_temps(&opts.out)?;
    dispatch(config, &split, &initial, opts, backend, None, observe)
}

/// Resumes the run in `out`, running until the configured number of epochs (or `epochs` if
/// given), with the observer `observe` builds: removes what a killed writer left, continues
/// from the newest checkpoint the run's tables hold (or starts over when there is none), and
/// reproduces the uninterrupted run's files exactly ([`crate::train::recovery`]).
///
/// # Errors
/// [`Error::Checkpoint`] when the checkpoint does not fit the run's `config.json`; the
/// readers' errors for a damaged `config.json` or `train_pairs.csv`; the run's own errors.
pub fn resume<O: Observer>(
    out: &Path,
    epochs: Option<usize>,
    progress: Progress,
    backend: BackendKind,
    multi: Option<indicatif::MultiProgress>,
    observe: impl FnOnce(&RunStart) -> Result<O>,
) -> Result<RunSummary> {
    let config_path = out.join("config.json");
    if !config_path.exists() {
        return Err(Error::io(
            &config_path,
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no run to resume here (a run killed before writing config.json has nothing to \
                 resume: start it again without --resume)",
            ),
        ));
    }
    let mut config = TrainConfig::read(&config_path)?;
    if let Some(n) = epochs {
        config.epochs = n;
    }
    config.validate()?;
    // The split is stored with the run, so resuming does not depend on the original pairs file.
    let pairs = read_pairs_csv(&out.join("train_pairs.csv"), config.p)?;
    let split = Split::from_train_pairs(config.p, config.task, &pairs)?;
    remove_stale_temps(out)?;
    let (point, skipped) = choose_resume_point(out, LOG_FILE)?;
    if progress != Progress::Quiet {
        for s in &skipped {
            eprintln!("resume: passing over {}: {}", s.dir.display(), s.reason);
        }
    }
    let initial = config.initial_network::<f64>()?;
    let opts = RunOptions {
        out: out.to_path_buf(),
        force: true,
        progress,
        multi,
    };
    backend.check(config.precision)?;
    dispatch(
        &config,
        &split,
        &initial,
        &opts,
        backend,
        point.as_ref(),
        observe,
    )
}

/// The training log's file name in the run folder.
const LOG_FILE: &str = "training_log.csv";

/// Builds the trainer for the backend and precision and drives it.
fn dispatch<O: Observer>(
    config: &TrainConfig,
    split: &Split,
    initial: &Network<f64>,
    opts: &RunOptions,
    backend: BackendKind,
    resume_from: Option<&ResumePoint>,
    observe: impl FnOnce(&RunStart) -> Result<O>,
) -> Result<RunSummary> {
    match (backend, config.precision) {
        (BackendKind::Cuda, _) => {
            let t = Trainer::cuda_from(config, split, initial.cast())?;
            drive(t, split, opts, resume_from, observe)
        }
        (BackendKind::Cpu, Precision::F32) => {
            let t = Trainer::<f32, _>::cpu_from(config, split, initial.cast())?;
            drive(t, split, opts, resume_from, observe)
        }
        (BackendKind::Cpu, Precision::F64) => {
            let t = Trainer::<f64, _>::cpu_from(config, split, initial.cast())?;
            drive(t, split, opts, resume_from, observe)
        }
    }
}

/// Prepares the folder of a new run (`train_pairs.csv`, then `config.json`, which marks the
/// folder as a run) or restores a resumed one from its checkpoint, then opens the log (cut
/// back to the checkpoint). Returns the log and its kept rows.
fn open_run<T: Real, B: Backend<T>>(
    t: &mut Trainer<T, B>,
    split: &Split,
    out: &Path,
    resume_from: Option<&ResumePoint>,
) -> Result<(StreamTable, Vec<EpochRecord>)> {
    let keep = match resume_from {
        Some(point) => {
            t.load_checkpoint(&point.dir)?;
            point.keep(LOG_FILE)
        }
        None => {
            atomic_write(&out.join("train_pairs.csv"), |w| {
                write_pairs_csv(w, &split.train)
            })?;
            t.config.write(&out.join("config.json"))?;
            Keep::Nothing
        }
    };
    let log_path = out.join(LOG_FILE);
    let (log, kept) = StreamTable::create(&log_path, &LOG_HEADER, keep)?;
    let records = parse_log(&log_path, &kept)?;
    if let Some(e) = resume_from.map(ResumePoint::epoch) {
        if records.len() != e + 1 {
            return Err(Error::Checkpoint {
                path: log_path,
                message: format!(
                    "log holds {} rows up to the checkpoint, it needs epochs 0..={e}",
                    records.len()
                ),
            });
        }
        t.replay(&records);
    }
    Ok((log, records))
}

/// Writes checkpoints on a thread of its own while the epochs go on, one at a time.
///
/// At a checkpoint the driver pushes the tables' rows to their files and hands their marks,
/// the handles that make them durable and a [`Snapshot`] of the state to [`Self::submit`],
/// then goes on training. The thread makes the tables durable (`fsync`), passes
/// `checkpoint.tables`, writes the checkpoint (whole, under a temporary name) and passes
/// `checkpoint.done`: the same order as before on disk, so a checkpoint is never newer than
/// what the tables hold. The next checkpoint, the end of the run and an error each wait for
/// the one in flight.
#[derive(Default)]
struct CheckpointWriter {
    in_flight: Option<BackgroundWrite>,
}

impl CheckpointWriter {
    /// Waits for the checkpoint in flight, if any, and returns its result.
    fn wait(&mut self) -> Result<()> {
        self.in_flight.take().map_or(Ok(()), BackgroundWrite::wait)
    }

    /// Waits for the checkpoint in flight and returns `e`: the run's own error is the one to
    /// report, and no checkpoint is left half-way.
    fn wait_then(&mut self, e: Error) -> Error {
        let _ = self.wait();
        e
    }

    /// Waits for the checkpoint in flight, then starts writing `snap` to `dir` once the
    /// observer's writes `before` have ended and with the marks of `tables` (made durable
    /// first).
    fn submit<T: Real>(
        &mut self,
        dir: PathBuf,
        (tables, before): (Vec<PendingSync>, Vec<BackgroundWrite>),
        snap: Snapshot<T>,
    ) -> Result<()> {
        self.wait()?;
        let at = dir.clone();
        self.in_flight = Some(BackgroundWrite::spawn(
            "modadd-checkpoint",
            at,
            move || {
                for w in before {
                    w.wait()?;
                }
                let marks = tables
                    .into_iter()
                    .map(PendingSync::sync)
                    .collect::<Result<Vec<_>>>()?;
                kill_point("checkpoint.tables");
                snap.write(&dir, &marks)?;
                kill_point("checkpoint.done");
                Ok(())
            },
        )?);
        Ok(())
    }
}

/// Progress output: a bar on a terminal, or a plain line every tenth of the run.
struct Reporter {
    mode: Progress,
    bar: Option<indicatif::ProgressBar>,
    total: usize,
}

impl Reporter {
    fn new(opts: &RunOptions, total: usize, start: usize) -> Self {
        let bar = (opts.progress == Progress::Bar).then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            let b = match &opts.multi {
                Some(m) => m.add(b),
                None => b,
            };
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {pos}/{len} epochs {msg}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            b.set_position(start as u64);
            b
        });
        Reporter {
            mode: opts.progress,
            bar,
            total,
        }
    }

    /// Reports epoch `r`, after which `next` epochs have run.
    fn epoch(&self, r: &EpochRecord, next: usize) {
        if let Some(b) = &self.bar {
            b.set_position(next as u64);
            if r.epoch.is_multiple_of(50) {
                b.set_message(format!(
                    "train {:.3}/{:.3} test {:.3}/{:.3}",
                    r.train_loss, r.train_acc, r.test_loss, r.test_acc
                ));
            }
        } else if self.mode == Progress::Lines
            && (r.epoch.is_multiple_of((self.total / 10).max(1)) || next == self.total)
        {
            eprintln!("{}", progress_line(r, self.total));
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// The plain progress line of epoch `r` of `total` (`epoch 100/1000: ` and [`metrics_text`]).
pub fn progress_line(r: &EpochRecord, total: usize) -> String {
    format!("epoch {}/{}: {}", r.epoch, total, metrics_text(r))
}

/// A log row's losses to 5 significant digits and accuracies in percent to one decimal:
/// `train loss 3.1352 acc 99.6 %, test loss 3.1405 acc 98.1 %`.
pub fn metrics_text(r: &EpochRecord) -> String {
    format!(
        "train loss {} acc {:.1} %, test loss {} acc {:.1} %",
        Sig5(r.train_loss),
        100.0 * r.train_acc,
        Sig5(r.test_loss),
        100.0 * r.test_acc
    )
}

/// Formats a number to 5 significant digits (`3.1352`, `0.00012346`, `1.2346e6`).
struct Sig5(f64);

impl std::fmt::Display for Sig5 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let v = self.0;
        if !v.is_finite() || v == 0.0 {
            return write!(f, "{v}");
        }
        let exp = v.abs().log10().floor() as i32;
        if (-5..6).contains(&exp) {
            let decimals = (4 - exp).max(0) as usize;
            write!(f, "{v:.decimals$}")
        } else {
            write!(f, "{v:.4e}")
        }
    }
}

/// Runs the trainer to the end of the run (epoch count, plateau or divergence), writing the log
/// and checkpoints as it goes, then the observer's files, the final weights, the summary and
/// the manifest.
fn drive<T: Real, B: Backend<T>, O: Observer>(
    mut t: Trainer<T, B>,
    split: &Split,
    opts: &RunOptions,
    resume_from: Option<&ResumePoint>,
    observe: impl FnOnce(&RunStart) -> Result<O>,
) -> Result<RunSummary> {
    let out = &opts.out;
    let cfg = t.config.clone();
    let (mut log, mut records) = open_run(&mut t, split, out, resume_from)?;
    let mut observer = observe(&RunStart {
        out,
        split,
        config: &cfg,
        resume: resume_from,
        log: &records,
    })?;
    let total = cfg.epochs;
    let reporter = Reporter::new(opts, total, t.epoch);
    let mut diverged = None;
    let mut writer = CheckpointWriter::default();
    while t.epoch < total {
        kill_point("epoch");
        match t.next_epoch_with(|r, b| observer.on_epoch(r, b)) {
            Ok(r) => {
                log.write(&r.fields())?;
                records.push(r);
                if cfg.checkpoint_every > 0 && r.epoch % cfg.checkpoint_every == 0 {
                    let mut tables = vec![log.flush_mark()?];
                    let flushed = observer.flush()?;
                    tables.extend(flushed.tables);
                    let dir = out.join(format!("checkpoints/epoch_{:06}", r.epoch));
                    writer.submit(dir, (tables, flushed.writes), t.snapshot())?;
                }
                reporter.epoch(&r, t.epoch);
                if t.finished() {
                    break;
                }
            }
            Err(e @ Error::Diverged { .. }) => {
                // Keep the row that shows the divergence.
                if let Some(r) = t.last_record() {
                    log.write(&r.fields())?;
                    records.push(r);
                }
                diverged = Some(e);
                break;
            }
            Err(e) => return Err(writer.wait_then(e)),
        }
    }
    // The checkpoint in flight is finished (or its error known) before the run's end files.
    writer.wait()?;
    reporter.finish();
    let plateau_stopped = diverged.is_none() && t.epoch < total;
    let diverged_at = match &diverged {
        Some(Error::Diverged { epoch, .. }) => Some(*epoch),
        _ => None,
    };
    finish_run(
        &mut t,
        split,
        out,
        log,
        observer,
        &records,
        diverged_at,
        plateau_stopped,
    )?;
    if let Some(e) = diverged {
        return Err(e);
    }
    Ok(RunSummary {
        epochs_run: t.epoch,
        last: records.last().copied(),
        plateau_stopped,
    })
}

/// Ends a run's folder: the log renamed into place, the observer's files, the manifest entry
/// of the checkpoints (the epochs written, without a diverged one), and for a run that did not
/// diverge the final weights and summary; then `manifest.csv`, last, so that it marks a
/// finished run.
#[allow(clippy::too_many_arguments)]
fn finish_run<T: Real, B: Backend<T>, O: Observer>(
    t: &mut Trainer<T, B>,
    split: &Split,
    out: &Path,
    log: StreamTable,
    observer: O,
    records: &[EpochRecord],
    diverged_at: Option<usize>,
    plateau_stopped: bool,
) -> Result<()> {
    let cfg = &t.config;
    let mut manifest = Manifest::new();
    manifest.add("config.json", 1, "resolved training configuration (JSON)");
    manifest.add(
        "train_pairs.csv",
        split.train.len(),
        "training pairs (x, y); feed to --train-pairs to reuse the split",
    );
    manifest.add(
        "training_log.csv",
        log.finish()?,
        "per-epoch metrics measured before each update",
    );
    kill_point("finish");
    observer.finish(records, &mut manifest)?;
    kill_point("finish");
    if cfg.checkpoint_every > 0 {
        let n = records
            .iter()
            .filter(|r| r.epoch % cfg.checkpoint_every == 0 && Some(r.epoch) != diverged_at)
            .count();
        manifest.add(
            "checkpoints",
            n,
            "checkpoint folders epoch_EEEEEE (weights and optimiser state after epoch E's update, .npy)",
        );
    }
    if diverged_at.is_none() {
        write_final(t, out, records, plateau_stopped, &mut manifest)?;
    }
    kill_point("finish");
    manifest.write(out)
}

/// Writes `final/` (the weights after the last update) and `summary.csv` (epochs run, plateau
/// stop, the final test loss and accuracy measured after the last update, and the last logged
/// training accuracy).
fn write_final<T: Real, B: Backend<T>>(
    t: &mut Trainer<T, B>,
    out: &Path,
    records: &[EpochRecord],
    plateau_stopped: bool,
    manifest: &mut Manifest,
) -> Result<()> {
    let net = t.backend.network();
    atomic_dir(&out.join("final"), |tmp| write_weight_folder(tmp, &net))?;
    kill_point("finish");
    manifest.add(
        "final",
        net.width(),
        "final weights (weight folder: W_in.csv M x p, W_out.csv p x M)",
    );
    let last = records.last().copied();
    let final_test = match t.backend.eval_test() {
        Some(e) => e,
        None => t.backend.eval_train(),
    };
    let rows = vec![
        vec!["epochs_run".into(), t.epoch.to_string()],
        vec!["plateau_stopped".into(), plateau_stopped.to_string()],
        vec!["final_test_loss".into(), fmt_f64(final_test.loss)],
        vec!["final_test_acc".into(), fmt_f64(final_test.accuracy)],
        vec![
            "last_logged_train_acc".into(),
            last.map(|r| fmt_f64(r.train_acc)).unwrap_or_default(),
        ],
    ];
    let n = write_table(&out.join("summary.csv"), &["key", "value"], &rows)?;
    manifest.add("summary.csv", n, "run summary (key, value)");
    Ok(())
}
