//! Training: presets, the resolved configuration, the per-epoch step, stopping rules, and the
//! driver that writes a run's folder.
//!
//! # Epochs
//! One epoch is one full-batch update. The metrics logged for epoch e (train/test loss and
//! accuracy, gradient norm, parameter norm) are measured at the weights *before* epoch e's
//! update, and the learning rate column is the rate that update used. A run of N epochs takes N
//! updates; its final weights are those after the last one.
//!
//! # Plateau stop (the grokking preset)
//! After the update of epoch e, when e >= 10000 and e is a multiple of 1000: stop if, over the
//! logged epochs e-999..=e, (max - min) < 1e-3 for both losses and < 0.005 for both accuracies.
//!
//! # Checkpoints
//! With `checkpoint_every = N > 0`, after the update of every epoch e with e % N == 0 (the
//! reference's "epoch e" = weights after e + 1 updates), the folder `checkpoints/epoch_EEEEEE/`
//! receives `W_in.npy`, `W_out.npy` (`W_in_y.npy`), the optimiser state (`adam_m_K.npy`,
//! `adam_v_K.npy` per tensor K = 0, 1, 2 for AdamW) and `state.json` (epoch, updates, precision).
//! Resuming from one continues with epoch e + 1 and reproduces the uninterrupted run bit for bit.

use crate::backend::{Backend, CpuBackend, CudaBackend};
use crate::error::{positive, Error, Result};
use crate::export::{atomic_write, fmt_f64, Manifest, StreamTable};
use crate::grokking::{RecordConfig, Recorder};
use crate::loss::Loss;
use crate::model::{reference_width, Activation, Init, Network, Tying};
use crate::optim::{AdamW, Optimizer, OptimizerConfig, Schedule};
use crate::real::Real;
use crate::task::{check_modulus, read_pairs_csv, Split, Task};
use crate::weights;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// Floating-point precision of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Single precision (speed, like PyTorch).
    F32,
    /// Double precision (theorem tests).
    F64,
}

impl Precision {
    /// Parses `f32` or `f64`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "f32" => Ok(Precision::F32),
            "f64" => Ok(Precision::F64),
            _ => Err(Error::UnknownName {
                kind: "precision",
                name: s.into(),
                expected: "f32, f64".into(),
            }),
        }
    }
    /// `f32` or `f64`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }
}

/// Names of the reference's five presets.
pub const PRESETS: [&str; 5] = [
    "standard",
    "grokking",
    "quad_random",
    "quad_single_freq",
    "relu_single_freq",
];

/// A fully resolved training configuration (written to `config.json` by the driver).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The preset this configuration started from, if any.
    pub preset: Option<String>,
    /// Modulus p.
    pub p: usize,
    /// Number of neurons M.
    pub width: usize,
    /// The task.
    pub task: Task,
    /// Tied (paper) or untied (Gromov) first layer.
    pub tying: Tying,
    /// Training activation.
    pub activation: Activation,
    /// Initialiser (ignored when `init_weights` is given).
    pub init: Init,
    /// Weight folder to start from instead of `init`.
    pub init_weights: Option<PathBuf>,
    /// Optimiser and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Base learning rate.
    pub lr: f64,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// Loss.
    pub loss: Loss,
    /// Training fraction (ignored when `train_pairs` is given).
    pub train_frac: f64,
    /// CSV file (header `x,y`) of training pairs, instead of a seeded split.
    pub train_pairs: Option<PathBuf>,
    /// Number of epochs (full-batch updates).
    pub epochs: usize,
    /// Seed of the split (ChaCha stream 1) and of the initialiser (stream 0).
    pub seed: u64,
    /// Checkpoint period in epochs (0: none).
    pub checkpoint_every: usize,
    /// Stop on a plateau (see module docs).
    pub plateau_stop: bool,
    /// Precision of the run.
    pub precision: Precision,
    /// Progress measures and accuracy grids to record (see [`crate::grokking`]).
    #[serde(default)]
    pub record: RecordConfig,
}

impl TrainConfig {
    /// The reference preset `name` at modulus `p` (SPEC section 5), with the width formula
    /// `max(512, ceil(512 p^2 / 529))`, seed 42, checkpoints every 200 epochs, the reference
    /// warm-up (10 updates), mean cross-entropy, f32.
    pub fn preset(name: &str, p: usize) -> Result<TrainConfig> {
        check_modulus(p)?;
        let mut c = TrainConfig {
            preset: Some(name.to_string()),
            p,
            width: reference_width(p),
            task: Task::Add,
            tying: Tying::Tied,
            activation: Activation::Relu,
            init: Init::Random { scale: 0.1 },
            init_weights: None,
            optimizer: OptimizerConfig::adamw(0.0),
            lr: 5e-5,
            schedule: Schedule::Warmup { steps: 10 },
            loss: Loss::CeMean,
            train_frac: 1.0,
            train_pairs: None,
            epochs: 5000,
            seed: 42,
            checkpoint_every: 200,
            plateau_stop: false,
            precision: Precision::F32,
            record: RecordConfig {
                every: 1,
                grid_epochs: vec![],
            },
        };
        match name {
            "standard" => {}
            "grokking" => {
                c.lr = 1e-4;
                c.optimizer = OptimizerConfig::adamw(2.0);
                c.train_frac = 0.75;
                c.epochs = 50_000;
                c.plateau_stop = true;
            }
            "quad_random" => c.activation = Activation::Quad,
            "quad_single_freq" => {
                c.activation = Activation::Quad;
                c.init = Init::SingleFreq { scale: 0.02 };
                c.optimizer = OptimizerConfig::Sgd { weight_decay: 0.0 };
                c.lr = 0.1;
                c.epochs = 10_000;
            }
            "relu_single_freq" => {
                c.init = Init::SingleFreq { scale: 0.002 };
                c.optimizer = OptimizerConfig::Sgd { weight_decay: 0.0 };
                c.lr = 0.01;
                c.epochs = 10_000;
            }
            _ => {
                return Err(Error::UnknownName {
                    kind: "preset",
                    name: name.into(),
                    expected: PRESETS.join(", "),
                })
            }
        }
        Ok(c)
    }

    /// Checks every field (p odd >= 3, width >= 1, lr finite > 0, weight decay >= 0, ...).
    pub fn validate(&self) -> Result<()> {
        check_modulus(self.p)?;
        if self.width == 0 {
            return Err(Error::InvalidWidth { width: 0 });
        }
        positive("learning rate", self.lr)?;
        positive("init scale", self.init.scale())?;
        self.optimizer.validate()?;
        if !(self.train_frac.is_finite() && self.train_frac > 0.0 && self.train_frac <= 1.0) {
            return Err(Error::InvalidParameter {
                name: "train fraction",
                value: self.train_frac,
                expected: "a number in (0, 1]",
            });
        }
        if self.tying == Tying::Tied && !self.task.is_symmetric(self.p) {
            return Err(Error::InvalidParameter {
                name: "tied model with an asymmetric task (a != b mod p)",
                value: self.p as f64,
                expected: "the untied model (--model untied) for sub and linear tasks",
            });
        }
        Ok(())
    }

    /// The split this configuration trains on.
    pub fn split(&self) -> Result<Split> {
        match &self.train_pairs {
            Some(path) => {
                let pairs = read_pairs_csv(path, self.p)?;
                Split::from_train_pairs(self.p, self.task, &pairs)
            }
            None => Split::seeded(self.p, self.task, self.train_frac, self.seed),
        }
    }

    /// The initial network (from `init_weights` if set, else the seeded initialiser).
    pub fn initial_network<T: Real>(&self) -> Result<Network<T>> {
        match &self.init_weights {
            Some(dir) => {
                let net = weights::read_weights_any(dir)?;
                if net.p != self.p || net.width() != self.width || net.tying() != self.tying {
                    return Err(Error::Shape {
                        what: format!("initial weights in {}", dir.display()),
                        found: format!("p = {}, M = {}, {:?}", net.p, net.width(), net.tying()),
                        expected: format!("p = {}, M = {}, {:?}", self.p, self.width, self.tying),
                    });
                }
                Ok(net.cast())
            }
            None => Network::init(self.p, self.width, self.init, self.tying, self.seed),
        }
    }
}

/// One row of the training log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRecord {
    /// Epoch index (0-based).
    pub epoch: usize,
    /// Learning rate of this epoch's update.
    pub lr: f64,
    /// Training loss before the update.
    pub train_loss: f64,
    /// Training accuracy before the update.
    pub train_acc: f64,
    /// Test loss before the update (= train loss on a full split).
    pub test_loss: f64,
    /// Test accuracy before the update.
    pub test_acc: f64,
    /// Gradient norm before the update.
    pub grad_norm: f64,
    /// Parameter norm before the update.
    pub param_norm: f64,
}

/// Header of `training_log.csv`.
pub const LOG_HEADER: [&str; 8] = [
    "epoch",
    "lr",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "grad_norm",
    "param_norm",
];

impl EpochRecord {
    /// The CSV fields, in [`LOG_HEADER`] order, shortest round-trip.
    pub fn fields(&self) -> [String; 8] {
        [
            self.epoch.to_string(),
            fmt_f64(self.lr),
            fmt_f64(self.train_loss),
            fmt_f64(self.train_acc),
            fmt_f64(self.test_loss),
            fmt_f64(self.test_acc),
            fmt_f64(self.grad_norm),
            fmt_f64(self.param_norm),
        ]
    }

    fn parse(rec: &csv::StringRecord) -> Option<EpochRecord> {
        let f = |i: usize| rec.get(i)?.parse::<f64>().ok();
        Some(EpochRecord {
            epoch: rec.get(0)?.parse().ok()?,
            lr: f(1)?,
            train_loss: f(2)?,
            train_acc: f(3)?,
            test_loss: f(4)?,
            test_acc: f(5)?,
            grad_norm: f(6)?,
            param_norm: f(7)?,
        })
    }
}

/// Plateau detector over the last 1000 epochs (see module docs).
#[derive(Clone, Debug, Default)]
pub struct Plateau {
    window: VecDeque<EpochRecord>,
}

impl Plateau {
    /// Window length (epochs).
    pub const WINDOW: usize = 1000;
    /// First epoch at which a stop may happen.
    pub const START: usize = 10_000;

    /// Records an epoch's metrics.
    pub fn push(&mut self, r: EpochRecord) {
        if self.window.len() == Self::WINDOW {
            self.window.pop_front();
        }
        self.window.push_back(r);
    }

    /// True when epoch `epoch` (just recorded) ends a plateau.
    pub fn stop_at(&self, epoch: usize) -> bool {
        if epoch < Self::START
            || !epoch.is_multiple_of(Self::WINDOW)
            || self.window.len() < Self::WINDOW
        {
            return false;
        }
        let spread = |f: fn(&EpochRecord) -> f64| {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for r in &self.window {
                lo = lo.min(f(r));
                hi = hi.max(f(r));
            }
            hi - lo
        };
        spread(|r| r.train_loss) < 1e-3
            && spread(|r| r.test_loss) < 1e-3
            && spread(|r| r.train_acc) < 0.005
            && spread(|r| r.test_acc) < 0.005
    }
}

/// Drives a backend epoch by epoch (one step apart from the loop that writes files).
pub struct Trainer<T: Real, B: Backend<T>> {
    /// The configuration.
    pub config: TrainConfig,
    /// The backend holding the state.
    pub backend: B,
    /// The next epoch to run.
    pub epoch: usize,
    plateau: Plateau,
    last: Option<EpochRecord>,
    _t: std::marker::PhantomData<T>,
}

impl<T: Real> Trainer<T, CpuBackend<T>> {
    /// A CPU trainer for `config` on `split`, from the configured initial weights.
    pub fn cpu(config: &TrainConfig, split: &Split) -> Result<Self> {
        config.validate()?;
        let net = config.initial_network::<T>()?;
        let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
        let opt = config.optimizer.build::<T>(&sizes)?;
        let backend = CpuBackend::new(net, config.activation, config.loss, split, opt);
        Ok(Trainer::with_backend(config.clone(), backend))
    }
}

impl Trainer<f32, CudaBackend> {
    /// A CUDA trainer (f32) for `config` on `split`, from the configured initial weights.
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] when the build has no `cuda` feature or no device is
    /// present, besides the configuration errors of [`Trainer::cpu`].
    pub fn cuda(config: &TrainConfig, split: &Split) -> Result<Self> {
        config.validate()?;
        let net = config.initial_network::<f32>()?;
        let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
        let opt = config.optimizer.build::<f32>(&sizes)?;
        let backend = CudaBackend::new(net, config.activation, config.loss, split, opt)?;
        Ok(Trainer::with_backend(config.clone(), backend))
    }
}

impl<T: Real, B: Backend<T>> Trainer<T, B> {
    /// A trainer around an already built backend, starting at epoch 0.
    pub fn with_backend(config: TrainConfig, backend: B) -> Self {
        Trainer {
            config,
            backend,
            epoch: 0,
            plateau: Plateau::default(),
            last: None,
            _t: std::marker::PhantomData,
        }
    }

    /// Runs one epoch: measure (test, then train with the gradient), update. Returns the
    /// record, or [`Error::Diverged`] if the training loss, gradient norm or parameter norm is
    /// not finite; the update is then not applied (the record is still available from
    /// [`Trainer::last_record`]).
    pub fn next_epoch(&mut self) -> Result<EpochRecord> {
        self.next_epoch_with(|_, _| Ok(()))
    }

    /// Like [`Trainer::next_epoch`], calling `observe` with the record and the backend after
    /// the measurements and before the update, so observers see the weights the record
    /// describes.
    pub fn next_epoch_with<F>(&mut self, mut observe: F) -> Result<EpochRecord>
    where
        F: FnMut(&EpochRecord, &B) -> Result<()>,
    {
        let e = self.epoch;
        let lr = self.config.schedule.lr(self.config.lr, e as u64);
        let test = self.backend.eval_test();
        let stats = self.backend.measure();
        let test = test.unwrap_or(stats.train);
        let rec = EpochRecord {
            epoch: e,
            lr,
            train_loss: stats.train.loss,
            train_acc: stats.train.accuracy,
            test_loss: test.loss,
            test_acc: test.accuracy,
            grad_norm: stats.grad_norm,
            param_norm: stats.param_norm,
        };
        self.last = Some(rec);
        for (what, value) in [
            ("train loss", rec.train_loss),
            ("gradient norm", rec.grad_norm),
            ("parameter norm", rec.param_norm),
        ] {
            if !value.is_finite() {
                return Err(Error::Diverged {
                    epoch: e,
                    what,
                    value,
                });
            }
        }
        observe(&rec, &self.backend)?;
        self.backend.update(T::of(lr));
        self.epoch += 1;
        self.plateau.push(rec);
        Ok(rec)
    }

    /// The record of the last epoch run, also when it diverged.
    pub fn last_record(&self) -> Option<EpochRecord> {
        self.last
    }

    /// True when the run should end after the epoch just taken (epoch count or plateau).
    pub fn finished(&self) -> bool {
        self.epoch >= self.config.epochs
            || (self.config.plateau_stop && self.epoch > 0 && self.plateau.stop_at(self.epoch - 1))
    }

    /// Writes a checkpoint of the current state to `dir` (see module docs).
    pub fn write_checkpoint(&self, dir: &Path) -> Result<()> {
        let net = self.backend.network();
        weights::write_npy_matrix(&dir.join("W_in.npy"), &net.w_in)?;
        weights::write_npy_matrix(&dir.join("W_out.npy"), &net.w_out)?;
        if let Some(w) = &net.w_in_y {
            weights::write_npy_matrix(&dir.join("W_in_y.npy"), w)?;
        }
        let opt = self.backend.optimizer();
        let mut t = 0;
        if let Optimizer::Adamw(a) = &opt {
            t = a.t;
            for (k, (m, v)) in a.m.iter().zip(&a.v).enumerate() {
                weights::write_npy_vector(&dir.join(format!("adam_m_{k}.npy")), m)?;
                weights::write_npy_vector(&dir.join(format!("adam_v_{k}.npy")), v)?;
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
        let w_in = weights::read_npy_matrix::<T>(&dir.join("W_in.npy"))?;
        let w_out = weights::read_npy_matrix::<T>(&dir.join("W_out.npy"))?;
        let wy = dir.join("W_in_y.npy");
        let w_in_y = if wy.exists() {
            Some(weights::read_npy_matrix::<T>(&wy)?)
        } else {
            None
        };
        let net = Network::new(w_in, w_out, w_in_y)?;
        let mut opt = self.backend.optimizer();
        if let Optimizer::Adamw(a) = &mut opt {
            *a = AdamW {
                t: st.adam_t,
                m: (0..a.m.len())
                    .map(|k| weights::read_npy_vector::<T>(&dir.join(format!("adam_m_{k}.npy"))))
                    .collect::<Result<_>>()?,
                v: (0..a.v.len())
                    .map(|k| weights::read_npy_vector::<T>(&dir.join(format!("adam_v_{k}.npy"))))
                    .collect::<Result<_>>()?,
                ..a.clone()
            };
        }
        self.backend.set_state(net, opt);
        self.epoch = st.updates;
        Ok(st.epoch)
    }

    /// Feeds already logged records (resuming) to the plateau detector.
    pub fn replay(&mut self, records: &[EpochRecord]) {
        for r in records {
            self.plateau.push(*r);
        }
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

/// Options of [`run`] that are not part of the science.
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

/// Which backend runs the training steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// [`CpuBackend`], f32 or f64.
    #[default]
    Cpu,
    /// [`CudaBackend`] (feature `cuda`), f32 only.
    Cuda,
}

impl BackendKind {
    /// Parses `cpu` or `cuda`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "cpu" => Ok(BackendKind::Cpu),
            "cuda" => Ok(BackendKind::Cuda),
            _ => Err(Error::UnknownName {
                kind: "backend",
                name: s.into(),
                expected: "cpu, cuda".into(),
            }),
        }
    }

    /// Checks that the backend can run `precision` here: CUDA needs f32, the feature and a device.
    pub fn check(self, precision: Precision) -> Result<()> {
        match self {
            BackendKind::Cpu => Ok(()),
            BackendKind::Cuda => {
                if precision != Precision::F32 {
                    return Err(Error::UnknownName {
                        kind: "precision for the cuda backend",
                        name: precision.name().into(),
                        expected: "f32".into(),
                    });
                }
                crate::backend::cuda_available()
            }
        }
    }
}

/// Trains `config` and writes the run folder:
/// `config.json`, `train_pairs.csv`, `training_log.csv`, `checkpoints/`, `final/` (weight
/// folder), `summary.csv`, the progress measures of [`crate::grokking`] (`progress.csv`,
/// `accuracy_grids.csv`, `pair_classes.csv`, `stages.csv`, `stages/`), and `manifest.csv`.
///
/// The log is written to `training_log.csv.partial` as the run goes (flushed at every
/// checkpoint) and renamed when the run ends, also when it diverges; a diverged run returns
/// [`Error::Diverged`] after writing everything it has.
pub fn run(config: &TrainConfig, opts: &RunOptions) -> Result<RunSummary> {
    run_on(config, opts, BackendKind::Cpu)
}

/// [`run`] on the chosen backend (the CUDA backend is checked before the output folder is
/// touched).
pub fn run_on(config: &TrainConfig, opts: &RunOptions, backend: BackendKind) -> Result<RunSummary> {
    config.validate()?;
    let split = config.split()?;
    // Fail on bad initial weights, or a backend that cannot run, before touching the output folder.
    config.initial_network::<f64>()?;
    backend.check(config.precision)?;
    prepare_out_dir(&opts.out, opts.force)?;
    if backend == BackendKind::Cuda {
        let t = Trainer::cuda(config, &split)?;
        return drive(t, &split, opts, None);
    }
    match config.precision {
        Precision::F32 => {
            let t = Trainer::<f32, _>::cpu(config, &split)?;
            drive(t, &split, opts, None)
        }
        Precision::F64 => {
            let t = Trainer::<f64, _>::cpu(config, &split)?;
            drive(t, &split, opts, None)
        }
    }
}

/// Resumes the run in `out` from its latest checkpoint, running until the configured number of
/// epochs (or `epochs` if given). Reproduces the uninterrupted run's files exactly.
pub fn resume(out: &Path, epochs: Option<usize>, progress: Progress) -> Result<RunSummary> {
    resume_on(out, epochs, progress, BackendKind::Cpu, None)
}

/// [`resume`] on the chosen backend, with the run's bar added to `multi` (see
/// [`RunOptions::multi`]).
pub fn resume_on(
    out: &Path,
    epochs: Option<usize>,
    progress: Progress,
    backend: BackendKind,
    multi: Option<indicatif::MultiProgress>,
) -> Result<RunSummary> {
    let cfg_path = out.join("config.json");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let mut config: TrainConfig = serde_json::from_str(&text).map_err(|e| Error::Parse {
        path: cfg_path.clone(),
        line: e.line(),
        message: e.to_string(),
    })?;
    if let Some(n) = epochs {
        config.epochs = n;
    }
    config.validate()?;
    // The split is stored with the run, so resuming does not depend on the original pairs file.
    let pairs = read_pairs_csv(&out.join("train_pairs.csv"), config.p)?;
    let split = Split::from_train_pairs(config.p, config.task, &pairs)?;
    let ckpt = latest_checkpoint(out)?;
    let opts = RunOptions {
        out: out.to_path_buf(),
        force: true,
        progress,
        multi,
    };
    backend.check(config.precision)?;
    if backend == BackendKind::Cuda {
        let t = Trainer::cuda(&config, &split)?;
        return drive(t, &split, &opts, ckpt.as_deref());
    }
    match config.precision {
        Precision::F32 => {
            let t = Trainer::<f32, _>::cpu(&config, &split)?;
            drive(t, &split, &opts, ckpt.as_deref())
        }
        Precision::F64 => {
            let t = Trainer::<f64, _>::cpu(&config, &split)?;
            drive(t, &split, &opts, ckpt.as_deref())
        }
    }
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

fn parse_log(path: &Path, rows: &[csv::StringRecord]) -> Result<Vec<EpochRecord>> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            EpochRecord::parse(r).ok_or_else(|| Error::Parse {
                path: path.to_path_buf(),
                line: i + 2,
                message: "malformed training-log row".into(),
            })
        })
        .collect()
}

fn drive<T: Real, B: Backend<T>>(
    mut t: Trainer<T, B>,
    split: &Split,
    opts: &RunOptions,
    resume_from: Option<&Path>,
) -> Result<RunSummary> {
    let out = &opts.out;
    let cfg = t.config.clone();
    let log_path = out.join("training_log.csv");
    let resume_upto = match resume_from {
        Some(ck) => Some(t.load_checkpoint(ck)?),
        None => {
            let json = serde_json::to_string_pretty(&cfg).expect("config serialises");
            atomic_write(&out.join("config.json"), |w| {
                w.write_all(json.as_bytes())?;
                w.write_all(b"\n")
            })?;
            atomic_write(&out.join("train_pairs.csv"), |w| {
                crate::task::write_pairs_csv(w, &split.train)
            })?;
            None
        }
    };
    let (mut log, kept) = StreamTable::create(&log_path, &LOG_HEADER, resume_upto)?;
    let mut records = parse_log(&log_path, &kept)?;
    if let Some(e) = resume_upto {
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
    let mut recorder = Recorder::new(
        out,
        split,
        &cfg.record,
        resume_upto,
        &records,
        cfg.activation,
    )?;
    let total = cfg.epochs;
    let bar = match opts.progress {
        Progress::Bar => {
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
            b.set_position(t.epoch as u64);
            Some(b)
        }
        _ => None,
    };
    let mut diverged = None;
    while t.epoch < total {
        match t.next_epoch_with(|r, b| recorder.on_epoch(r, b)) {
            Ok(r) => {
                log.write(&r.fields())?;
                records.push(r);
                if cfg.checkpoint_every > 0 && r.epoch % cfg.checkpoint_every == 0 {
                    t.write_checkpoint(&out.join(format!("checkpoints/epoch_{:06}", r.epoch)))?;
                    log.flush()?;
                    recorder.flush()?;
                }
                if let Some(b) = &bar {
                    b.set_position(t.epoch as u64);
                    if r.epoch % 50 == 0 {
                        b.set_message(format!(
                            "train {:.3}/{:.3} test {:.3}/{:.3}",
                            r.train_loss, r.train_acc, r.test_loss, r.test_acc
                        ));
                    }
                } else if opts.progress == Progress::Lines
                    && (r.epoch % (total / 10).max(1) == 0 || t.epoch == total)
                {
                    eprintln!(
                        "epoch {}/{}: train loss {} acc {}, test loss {} acc {}",
                        r.epoch,
                        total,
                        fmt_f64(r.train_loss),
                        fmt_f64(r.train_acc),
                        fmt_f64(r.test_loss),
                        fmt_f64(r.test_acc)
                    );
                }
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
            Err(e) => return Err(e),
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let n_log = log.finish()?;
    let mut manifest = Manifest::new();
    manifest.add("config.json", 1, "resolved training configuration (JSON)");
    manifest.add(
        "train_pairs.csv",
        split.train.len(),
        "training pairs (x, y); feed to --train-pairs to reuse the split",
    );
    manifest.add(
        "training_log.csv",
        n_log,
        "per-epoch metrics measured before each update",
    );
    recorder.finish(&records, &mut manifest)?;
    if cfg.checkpoint_every > 0 {
        let n = records
            .iter()
            .filter(|r| {
                r.epoch % cfg.checkpoint_every == 0 && Some(r.epoch) != diverged_epoch(&diverged)
            })
            .count();
        manifest.add(
            "checkpoints",
            n,
            "checkpoint folders epoch_EEEEEE (weights and optimiser state after epoch E's update, .npy)",
        );
    }
    let plateau_stopped = diverged.is_none() && t.epoch < total;
    if diverged.is_none() {
        let net = t.backend.network();
        weights::write_weight_folder(&out.join("final"), &net)?;
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
        let n = crate::export::write_table(&out.join("summary.csv"), &["key", "value"], &rows)?;
        manifest.add("summary.csv", n, "run summary (key, value)");
    }
    manifest.write(out)?;
    if let Some(e) = diverged {
        return Err(e);
    }
    Ok(RunSummary {
        epochs_run: t.epoch,
        last: records.last().copied(),
        plateau_stopped,
    })
}

fn diverged_epoch(e: &Option<Error>) -> Option<usize> {
    match e {
        Some(Error::Diverged { epoch, .. }) => Some(*epoch),
        _ => None,
    }
}
