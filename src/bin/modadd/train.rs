//! `modadd train`: one training run (a reference preset, every field overridable), or a resume.

use crate::progress;
use clap::Args;
use modadd::error::{Error, Result};
use modadd::names::parse_name;
use modadd::numerics::task::Task;
use modadd::pipelines::train;
use modadd::train::config::{BackendKind, TrainOverrides};
use modadd::train::driver::{metrics_text, RunOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// Reference preset: standard, grokking, quad_random, quad_single_freq, relu_single_freq.
    #[arg(long, default_value = "standard")]
    preset: String,
    /// Modulus p (odd, >= 3).
    #[arg(long, default_value_t = 23)]
    p: usize,
    /// Number of neurons M [default: max(512, ceil(512 p^2 / 529))].
    #[arg(long)]
    width: Option<usize>,
    /// Number of epochs (full-batch updates) [default: the preset's].
    #[arg(long)]
    epochs: Option<usize>,
    /// Seed of the split and the initialisation.
    #[arg(long)]
    seed: Option<u64>,
    /// Optimiser: adamw (betas 0.9, 0.98, eps 1e-8) or sgd (no momentum).
    #[arg(long, value_parser = parse_name::<modadd::numerics::optim::OptimizerKind>)]
    optimizer: Option<modadd::numerics::optim::OptimizerKind>,
    /// Learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Weight decay (AdamW: decoupled; SGD: L2 added to the gradient).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Training activation: quad or relu (any test-time activation is accepted too).
    #[arg(long, value_parser = parse_name::<modadd::numerics::activation::Activation>)]
    activation: Option<modadd::numerics::activation::Activation>,
    /// Initialiser: random or single-freq.
    #[arg(long, value_parser = parse_name::<modadd::numerics::init::InitKind>)]
    init: Option<modadd::numerics::init::InitKind>,
    /// Initial scale kappa.
    #[arg(long)]
    init_scale: Option<f64>,
    /// Training fraction in (0, 1].
    #[arg(long)]
    train_frac: Option<f64>,
    /// CSV file with header x,y listing the training pairs (overrides --train-frac).
    #[arg(long)]
    train_pairs: Option<PathBuf>,
    /// Warm-up length N: lr * min(s/N, 1) after s updates (0 = constant lr) [preset: 10].
    #[arg(long)]
    warmup: Option<u64>,
    /// Loss: ce-mean, ce-sum or mse.
    #[arg(long, value_parser = parse_name::<modadd::numerics::loss::Loss>)]
    loss: Option<modadd::numerics::loss::Loss>,
    /// Task: add, sub or linear:A,B.
    #[arg(long, value_parser = Task::parse)]
    task: Option<Task>,
    /// Model: tied (paper) or untied (Gromov).
    #[arg(long, value_parser = parse_name::<modadd::numerics::network::Tying>)]
    model: Option<modadd::numerics::network::Tying>,
    /// Start from these weights instead of the initialiser: a weight folder (W_in.csv,
    /// W_out.csv), a checkpoint folder (W_in.npy, W_out.npy) or a PyTorch .pth file.
    #[arg(long)]
    init_weights: Option<PathBuf>,
    /// Checkpoint period in epochs (0: none) [preset: 200].
    #[arg(long)]
    checkpoint_every: Option<usize>,
    /// Stop on a plateau (on by default for the grokking preset only).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    plateau_stop: Option<bool>,
    /// Record progress measures (IPR, mean |sin D|, pair-class accuracies) every N epochs
    /// (0: never) [default: 1].
    #[arg(long)]
    record_every: Option<usize>,
    /// Epochs at which to write the p x p accuracy grid, comma-separated (stage boundaries are
    /// always recorded).
    #[arg(long, value_delimiter = ',')]
    grid_epochs: Vec<usize>,
    /// Precision: f32 (the presets' default, like PyTorch) or f64.
    #[arg(long, value_parser = parse_name::<modadd::train::config::Precision>)]
    precision: Option<modadd::train::config::Precision>,
    /// Backend: cpu, or cuda (f32; needs a build with --features cuda and a CUDA device).
    #[arg(long, default_value = "cpu", value_parser = parse_name::<BackendKind>)]
    backend: BackendKind,
    /// Output folder [default: runs/<preset>_p<P>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overwrite an output folder that holds an earlier run.
    #[arg(long)]
    force: bool,
    /// Resume the run in --out from its latest checkpoint (other settings come from its config).
    #[arg(long)]
    resume: bool,
    /// No progress output.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Threads [default: every core]; the results are the same for any count.
    #[arg(long)]
    threads: Option<usize>,
}

impl TrainArgs {
    fn overrides(&self) -> TrainOverrides {
        TrainOverrides {
            preset: self.preset.clone(),
            p: self.p,
            width: self.width,
            epochs: self.epochs,
            seed: self.seed,
            optimizer: self.optimizer,
            lr: self.lr,
            weight_decay: self.weight_decay,
            activation: self.activation,
            init: self.init,
            init_scale: self.init_scale,
            train_frac: self.train_frac,
            train_pairs: self.train_pairs.clone(),
            warmup: self.warmup,
            loss: self.loss,
            task: self.task,
            tying: self.model,
            init_weights: self.init_weights.clone(),
            checkpoint_every: self.checkpoint_every,
            plateau_stop: self.plateau_stop,
            record_every: self.record_every,
            grid_epochs: self.grid_epochs.clone(),
            precision: self.precision,
        }
    }
}

pub fn run(a: TrainArgs) -> Result<ExitCode> {
    if let Some(n) = a.threads {
        modadd::numerics::parallel::set_default_threads(n)?;
    }
    if a.backend == BackendKind::Cuda {
        // Before anything else: no feature, driver or device is one clear line.
        modadd::backend::cuda::cuda_available()?;
    }
    let prog = progress(a.quiet);
    if a.resume {
        let out = a.out.clone().ok_or(Error::InvalidParameter {
            name: "--resume without --out",
            value: f64::NAN,
            expected: "--out DIR naming the run to resume",
        })?;
        let s = train::resume(&out, a.epochs, prog, a.backend, None)?;
        println!("resumed {}: {} epochs run", out.display(), s.epochs_run);
        return Ok(ExitCode::SUCCESS);
    }
    let cfg = a.overrides().resolve()?;
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "runs/{}_p{}",
            cfg.preset.as_deref().unwrap_or("custom"),
            cfg.p
        ))
    });
    let opts = RunOptions {
        out: out.clone(),
        force: a.force,
        progress: prog,
        multi: None,
    };
    let s = train::run(&cfg, &opts, a.backend)?;
    if let Some(r) = s.last {
        println!(
            "{}: {} epochs{}; last logged epoch {}: {}",
            out.display(),
            s.epochs_run,
            if s.plateau_stopped {
                " (plateau stop)"
            } else {
                ""
            },
            r.epoch,
            metrics_text(&r)
        );
    }
    Ok(ExitCode::SUCCESS)
}
