//! The training configuration: the reference's presets, every field a run needs, and the
//! backend and precision it runs at.

use crate::error::{positive, Error, Result};
use crate::formats::atomic::atomic_write;
use crate::formats::pairs::read_pairs_csv;
use crate::formats::weights::read_weights_any;
use crate::numerics::activation::Activation;
use crate::numerics::init::{reference_width, Init, InitKind};
use crate::numerics::limits::{check_matrix, check_width};
use crate::numerics::loss::Loss;
use crate::numerics::network::{Network, Tying};
use crate::numerics::optim::{OptimizerConfig, OptimizerKind, Schedule};
use crate::numerics::real::Real;
use crate::numerics::task::{check_modulus, Split, Task};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Most bytes of a `config.json`: the fields take under 1 KiB; the rest is room for the list of
/// grid epochs (about 10 bytes each as written, so 1 MiB holds about 100 000 of them).
pub const CONFIG_MAX_BYTES: u64 = 1 << 20;

/// Floating-point precision of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Single precision (speed, like PyTorch).
    F32,
    /// Double precision (theorem tests).
    F64,
}

impl Precision {
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
    /// Progress measures and accuracy grids to record (by the run's observer).
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
        check_width(self.width)?;
        check_matrix("the run's W_in", self.width, self.p)?;
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

    /// Reads a configuration written by [`TrainConfig::write`] (a run's `config.json`), of at
    /// most [`CONFIG_MAX_BYTES`]; the caller validates it ([`TrainConfig::validate`], which
    /// bounds p and the width before anything of their size is allocated).
    pub fn read(path: &Path) -> Result<TrainConfig> {
        let len = std::fs::metadata(path)
            .map_err(|e| Error::io(path, e))?
            .len();
        if len > CONFIG_MAX_BYTES {
            return Err(Error::TooLarge {
                what: format!("{}: bytes", path.display()),
                value: len as u128,
                max: CONFIG_MAX_BYTES as usize,
                reason: "a config.json holds a few dozen fields and the grid epochs".into(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        serde_json::from_str(&text).map_err(|e| Error::Parse {
            path: path.to_path_buf(),
            line: e.line(),
            message: e.to_string(),
        })
    }

    /// Writes the configuration as pretty-printed JSON (a run's `config.json`), atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("config serialises");
        atomic_write(path, |w| {
            w.write_all(json.as_bytes())?;
            w.write_all(b"\n")
        })
    }

    /// The initial network (from `init_weights` if set, else the seeded initialiser).
    pub fn initial_network<T: Real>(&self) -> Result<Network<T>> {
        match &self.init_weights {
            Some(dir) => {
                let net = read_weights_any(dir)?;
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

/// Which backend runs the training steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum BackendKind {
    /// [`CpuBackend`](crate::backend::cpu::CpuBackend), f32 or f64.
    #[default]
    Cpu,
    /// [`CudaBackend`](crate::backend::cuda::CudaBackend) (feature `cuda`), f32 only.
    Cuda,
}

impl BackendKind {
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
                crate::backend::cuda::cuda_available()
            }
        }
    }
}

/// What to record during a run.
#[derive(Clone, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct RecordConfig {
    /// Record progress measures every this many epochs (0: never).
    pub every: usize,
    /// Epochs at which to write the p x p accuracy grid (stage boundaries are always added).
    pub grid_epochs: Vec<usize>,
}

/// A preset with fields overridden: what `modadd train` builds from its arguments. `None` keeps
/// the preset's value.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct TrainOverrides {
    /// The preset to start from (see [`PRESETS`]).
    pub preset: String,
    /// Modulus p.
    pub p: usize,
    /// Number of neurons M; with `init_weights` and no width, the weights' width.
    pub width: Option<usize>,
    /// Number of epochs.
    pub epochs: Option<usize>,
    /// Seed of the split and the initialisation.
    pub seed: Option<u64>,
    /// Optimiser (AdamW with the reference's betas, or SGD).
    pub optimizer: Option<OptimizerKind>,
    /// Learning rate.
    pub lr: Option<f64>,
    /// Weight decay (AdamW: decoupled; SGD: L2).
    pub weight_decay: Option<f64>,
    /// Training activation.
    pub activation: Option<Activation>,
    /// Initialiser.
    pub init: Option<InitKind>,
    /// Initial scale kappa.
    pub init_scale: Option<f64>,
    /// Training fraction.
    pub train_frac: Option<f64>,
    /// Pairs file of the training pairs (replaces the preset's `None`).
    pub train_pairs: Option<PathBuf>,
    /// Warm-up length N (0: constant learning rate).
    pub warmup: Option<u64>,
    /// Loss.
    pub loss: Option<Loss>,
    /// Task.
    pub task: Option<Task>,
    /// Tied or untied model.
    pub tying: Option<Tying>,
    /// Weights to start from (replaces the preset's `None`).
    pub init_weights: Option<PathBuf>,
    /// Checkpoint period.
    pub checkpoint_every: Option<usize>,
    /// Plateau stop.
    pub plateau_stop: Option<bool>,
    /// Progress-measure period.
    pub record_every: Option<usize>,
    /// Epochs with accuracy grids (replaces the preset's empty list).
    pub grid_epochs: Vec<usize>,
    /// Precision.
    pub precision: Option<Precision>,
}

impl TrainOverrides {
    /// The preset at `p` with every given field replaced, validated. The weight decay and the
    /// init scale carry over when only the optimiser or the initialiser changes; with
    /// `init_weights` and no `width`, the width is read from the weights.
    pub fn resolve(&self) -> Result<TrainConfig> {
        let mut c = TrainConfig::preset(&self.preset, self.p)?;
        set(&mut c.width, self.width);
        set(&mut c.epochs, self.epochs);
        set(&mut c.seed, self.seed);
        let wd = self.weight_decay.unwrap_or(c.optimizer.weight_decay());
        if let Some(kind) = self.optimizer {
            c.optimizer = OptimizerConfig::of_kind(kind, wd);
        }
        c.optimizer = c.optimizer.with_weight_decay(wd);
        set(&mut c.lr, self.lr);
        set(&mut c.activation, self.activation);
        let scale = self.init_scale.unwrap_or(c.init.scale());
        c.init = Init::of_kind(self.init.unwrap_or(c.init.kind()), scale);
        set(&mut c.train_frac, self.train_frac);
        c.train_pairs = self.train_pairs.clone();
        if let Some(n) = self.warmup {
            c.schedule = if n == 0 {
                Schedule::Constant
            } else {
                Schedule::Warmup { steps: n }
            };
        }
        set(&mut c.loss, self.loss);
        set(&mut c.task, self.task);
        set(&mut c.tying, self.tying);
        c.init_weights = self.init_weights.clone();
        set(&mut c.checkpoint_every, self.checkpoint_every);
        set(&mut c.plateau_stop, self.plateau_stop);
        set(&mut c.record.every, self.record_every);
        c.record.grid_epochs = self.grid_epochs.clone();
        set(&mut c.precision, self.precision);
        if let (Some(dir), None) = (&c.init_weights, self.width) {
            c.width = read_weights_any(dir)?.width();
        }
        c.validate()?;
        Ok(c)
    }
}

/// Replaces `field` with `value` when given.
fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *field = v;
    }
}

impl crate::names::Named for Precision {
    const KIND: &'static str = "precision";
}

impl crate::names::Named for BackendKind {
    const KIND: &'static str = "backend";
}
