//! The run recorder: the progress measures, accuracy grids and stage snapshots of a training
//! run, written as the run goes (an [`Observer`] of the training driver).

use crate::backend::Backend;
use crate::error::Result;
use crate::formats::atomic::{atomic_dir, BackgroundWrite};
use crate::formats::manifest::Manifest;
use crate::formats::stream::StreamTable;
use crate::formats::table::{fmt_f64, write_table};
use crate::formats::weights::write_weight_folder;
use crate::numerics::activation::Activation;
use crate::numerics::limits::check_analysable;
use crate::numerics::network::Network;
use crate::numerics::parallel::alone_on_this_thread;
use crate::numerics::real::Real;
use crate::science::analysis::export::analyze_to_dir;
use crate::science::grokking::probe::{ProbeBuffers, SpectralProbe};
use crate::science::grokking::{
    class_accuracy, classify, detect_stages, PairClass, STAGE_THRESHOLD,
};
use crate::train::config::RecordConfig;
use crate::train::driver::{Flushed, Observer, RunStart};
use crate::train::record::EpochRecord;
use std::any::Any;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// One row of `progress.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProgressRow {
    /// Epoch (measured before its update).
    pub epoch: usize,
    /// The training-log metrics of that epoch.
    pub log: EpochRecord,
    /// Reference-pipeline IPR.
    pub ipr: f64,
    /// Mean |sin D| over neurons.
    pub mean_abs_sin_d: f64,
    /// Accuracy per pair class ([`PairClass::ALL`] order); `None` for an empty class.
    pub class_acc: [Option<f64>; 4],
}

/// Header of `progress.csv`.
pub const PROGRESS_HEADER: [&str; 12] = [
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "ipr",
    "mean_abs_sin_d",
    "param_norm",
    "acc_train_common",
    "acc_train_rare",
    "acc_test_swap_in_train",
    "acc_test_true",
];

impl ProgressRow {
    fn fields(&self) -> Vec<String> {
        let opt = |v: Option<f64>| v.map(fmt_f64).unwrap_or_default();
        vec![
            self.epoch.to_string(),
            fmt_f64(self.log.train_loss),
            fmt_f64(self.log.train_acc),
            fmt_f64(self.log.test_loss),
            fmt_f64(self.log.test_acc),
            fmt_f64(self.ipr),
            fmt_f64(self.mean_abs_sin_d),
            fmt_f64(self.log.param_norm),
            opt(self.class_acc[0]),
            opt(self.class_acc[1]),
            opt(self.class_acc[2]),
            opt(self.class_acc[3]),
        ]
    }
}

/// Writes `progress.csv`, `accuracy_grids.csv`, `pair_classes.csv`, `stages.csv`, and at each
/// stage boundary `stages/<boundary>/` (the weight folder, `epoch.csv`, and the Fourier
/// analysis of [`crate::science::analysis`] in `analysis/`) of a run.
pub struct Recorder {
    out: PathBuf,
    p: usize,
    probe: SpectralProbe,
    classes: Vec<PairClass>,
    cfg: RecordConfig,
    grid_epochs: BTreeSet<usize>,
    progress: StreamTable,
    grids: StreamTable,
    grid: Vec<bool>,
    /// The probe's [`ProbeBuffers`] in the run's precision, kept across epochs (typed on the
    /// first recorded epoch, since the observer is built before the precision is known).
    probe_buffers: Option<Box<dyn Any>>,
    memorised: bool,
    generalised: bool,
    activation: Activation,
    /// Stage snapshots being written beside the epochs (handed to the next checkpoint, which
    /// waits for them, or waited for by `finish`).
    stage_writes: Vec<BackgroundWrite>,
}

/// Header of `accuracy_grids.csv`.
pub const GRID_HEADER: [&str; 4] = ["epoch", "x", "y", "correct"];

impl Recorder {
    /// Starts the recorder for the run `s` describes. When resuming from a checkpoint, the
    /// tables are cut back to it ([`RunStart::keep`]) and the kept log restores which
    /// boundaries were already crossed.
    ///
    /// # Errors
    /// [`crate::Error::TooLarge`] when p is beyond what the stage snapshots can analyse
    /// ([`check_analysable`]).
    pub fn start(s: &RunStart) -> Result<Self> {
        check_analysable(s.split.p)?;
        let out = s.out;
        let (progress, _) = StreamTable::create(
            &out.join("progress.csv"),
            &PROGRESS_HEADER,
            s.keep("progress.csv"),
        )?;
        let (grids, _) = StreamTable::create(
            &out.join("accuracy_grids.csv"),
            &GRID_HEADER,
            s.keep("accuracy_grids.csv"),
        )?;
        let st = detect_stages(s.log);
        let cfg = &s.config.record;
        Ok(Recorder {
            out: out.to_path_buf(),
            p: s.split.p,
            probe: SpectralProbe::new(s.split.p),
            classes: classify(s.split),
            grid_epochs: cfg.grid_epochs.iter().copied().collect(),
            cfg: cfg.clone(),
            progress,
            grids,
            grid: Vec::new(),
            probe_buffers: None,
            memorised: st.memorised.is_some(),
            generalised: st.generalised.is_some(),
            activation: s.config.activation,
            stage_writes: Vec::new(),
        })
    }

    /// The stage boundary epoch `r` crosses, if any (and marks it crossed).
    fn crossing(&mut self, r: &EpochRecord) -> Option<&'static str> {
        let mut boundary = None;
        if !self.memorised && r.train_acc >= STAGE_THRESHOLD {
            self.memorised = true;
            boundary = Some("stage1_end");
        }
        if !self.generalised && r.test_acc >= STAGE_THRESHOLD {
            self.generalised = true;
            boundary = Some(if boundary.is_some() {
                "stage1_and_stage2_end"
            } else {
                "stage2_end"
            });
        }
        boundary
    }

    /// Writes the grid of epoch `epoch` (held in `self.grid`) as `p^2` rows.
    fn write_grid(&mut self, epoch: usize) -> Result<()> {
        for (i, &ok) in self.grid.iter().enumerate() {
            self.grids.write(&[
                epoch.to_string(),
                (i / self.p).to_string(),
                (i % self.p).to_string(),
                (ok as u8).to_string(),
            ])?;
        }
        Ok(())
    }

    /// Starts writing `stages/<name>/` for the weights `net` of epoch `epoch` on a thread of
    /// its own ([`write_stage`]), so that the epochs go on meanwhile (the analysis of a p = 23,
    /// M = 512 network took 33 ms, 13 % of a 2000-epoch run).
    fn start_stage<T: Real>(&mut self, name: &str, epoch: usize, net: Network<T>) -> Result<()> {
        let dir = self.out.join("stages").join(name);
        let act = self.activation;
        let at = dir.clone();
        self.stage_writes
            .push(BackgroundWrite::spawn("modadd-stage", at, move || {
                // Its numerics stay on this thread: work queued in the pool would hold up the
                // training's parallel regions. The bits are the same on any thread count.
                alone_on_this_thread();
                write_stage(&dir, act, epoch, &net)
            })?);
        Ok(())
    }
}

/// Writes the stage snapshot folder `dir` (whole, [`atomic_dir`]): the weights, their full
/// analysis under `activation` and the epoch.
fn write_stage<T: Real>(
    dir: &std::path::Path,
    activation: Activation,
    epoch: usize,
    net: &Network<T>,
) -> Result<()> {
    atomic_dir(dir, |dir| {
        write_weight_folder(dir, net)?;
        // The decoded Fourier weights: the full analysis (neurons.csv, spectrum.csv, ...).
        analyze_to_dir(&net.cast(), activation, &dir.join("analysis"), true)?;
        write_table(
            &dir.join("epoch.csv"),
            &["epoch"],
            &[vec![epoch.to_string()]],
        )?;
        Ok(())
    })
}

impl Observer for Recorder {
    /// Records epoch `r` from the backend's state (weights and correctness before the update).
    fn on_epoch<T: Real, B: Backend<T>>(&mut self, r: &EpochRecord, b: &B) -> Result<()> {
        let boundary = self.crossing(r);
        let want_row = self.cfg.every > 0 && r.epoch.is_multiple_of(self.cfg.every);
        let want_grid = boundary.is_some() || self.grid_epochs.contains(&r.epoch);
        if !(want_row || want_grid) {
            return Ok(());
        }
        b.correct_grid(&mut self.grid);
        // Borrowed from the CPU backend: no copy of the weights per recorded epoch.
        let net = b.weights();
        if want_row {
            let buf = self
                .probe_buffers
                .get_or_insert_with(|| Box::new(ProbeBuffers::<T>::new()))
                .downcast_mut::<ProbeBuffers<T>>()
                .expect("one precision per run");
            let m = self.probe.measures_with(&net, buf);
            let row = ProgressRow {
                epoch: r.epoch,
                log: *r,
                ipr: m.ipr,
                mean_abs_sin_d: m.mean_abs_sin_d,
                class_acc: class_accuracy(&self.classes, &self.grid),
            };
            self.progress.write(&row.fields())?;
        }
        if want_grid {
            self.write_grid(r.epoch)?;
        }
        if let Some(name) = boundary {
            self.start_stage(name, r.epoch, net.into_owned())?;
        }
        Ok(())
    }

    /// Makes the rows written so far durable (called at checkpoints) and returns the tables'
    /// marks.
    fn flush(&mut self) -> Result<Flushed> {
        Ok(Flushed {
            tables: vec![self.progress.flush_mark()?, self.grids.flush_mark()?],
            writes: std::mem::take(&mut self.stage_writes),
        })
    }

    /// Finishes the tables and writes `pair_classes.csv` and `stages.csv` from the full log.
    fn finish(self, log: &[EpochRecord], manifest: &mut Manifest) -> Result<()> {
        for w in self.stage_writes {
            w.wait()?;
        }
        let out = self.out.clone();
        let p = self.p;
        let n = self.progress.finish()?;
        manifest.add(
            "progress.csv",
            n,
            "progress measures per recorded epoch (before its update): losses, accuracies, IPR, mean |sin D|, norm, pair-class accuracies",
        );
        let n = self.grids.finish()?;
        manifest.add(
            "accuracy_grids.csv",
            n,
            "p x p correctness grids (epoch, x, y, correct) at chosen epochs and stage boundaries",
        );
        let rows: Vec<Vec<String>> = self
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| vec![(i / p).to_string(), (i % p).to_string(), c.name().into()])
            .collect();
        let n = write_table(&out.join("pair_classes.csv"), &["x", "y", "class"], &rows)?;
        manifest.add(
            "pair_classes.csv",
            n,
            "class of every pair with respect to the split",
        );
        let st = detect_stages(log);
        let e = |v: Option<usize>| v.map(|e| e.to_string()).unwrap_or_default();
        let rows = vec![
            vec!["stage1_end".into(), e(st.memorised), String::new()],
            vec!["stage2_end".into(), e(st.generalised), String::new()],
            vec![
                "norm_peak".into(),
                e(st.norm_peak.map(|x| x.0)),
                st.norm_peak.map(|x| fmt_f64(x.1)).unwrap_or_default(),
            ],
            vec!["last_epoch".into(), e(st.last), String::new()],
        ];
        let n = write_table(
            &out.join("stages.csv"),
            &["boundary", "epoch", "value"],
            &rows,
        )?;
        manifest.add(
            "stages.csv",
            n,
            "stage boundaries: first epoch train acc >= 0.95, first epoch test acc >= 0.95, parameter-norm peak",
        );
        if out.join("stages").is_dir() {
            manifest.add(
                "stages",
                [st.memorised, st.generalised].iter().flatten().count(),
                "weights (weight folder) and their Fourier analysis (analysis/) at each stage boundary",
            );
        }
        Ok(())
    }
}
