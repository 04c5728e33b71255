//! `modadd`: the command-line front end. It only parses arguments and calls the library.

use clap::{Args, Parser, Subcommand};
use modadd::error::{Error, Result};
use modadd::export::{fmt_f64, Manifest};
use modadd::grad::{loss_and_grad, Batch, Grads, Workspace};
use modadd::loss::Loss;
use modadd::model::{Activation, Init, Tying};
use modadd::optim::{OptimizerConfig, Schedule};
use modadd::real::Real;
use modadd::task::{all_pairs, read_pairs_csv, Pair, Task};
use modadd::train::{self, BackendKind, Precision, Progress, RunOptions, TrainConfig};
use modadd::weights;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "modadd",
    version,
    about = "Two-layer networks learning modular addition: train, evaluate, analyse."
)]
struct Cli {
    /// Without a subcommand, `modadd` runs `reproduce --p 23 --out runs/reproduce`.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Train every preset at the given moduli, run every analysis and the ODE figures' data
    /// (resumable, shardable); the main job.
    Reproduce(ReproduceArgs),
    /// Check every claim of the paper (SPEC section 7): a table of claim, measured, bound,
    /// pass/fail; exit status 1 if any fails.
    Verify(VerifyArgs),
    /// Train a network (a reference preset, every field overridable) and write a run folder.
    Train(Box<TrainArgs>),
    /// Evaluate weights: print loss and accuracy; with --out, write eval.csv and the gradient.
    Eval(EvalArgs),
    /// Integrate the decoupled (alpha, beta, phi, psi) ODE: trajectories and the lottery contour.
    Ode(OdeArgs),
    /// Predict each neuron's winning frequency from initial weights (two rules), scored against
    /// final weights when given.
    Lottery(LotteryArgs),
    /// Fourier analysis of trained weights: tidy CSVs (neurons, spectrum, frequency groups,
    /// harmonics, logits, activation swaps, summary) and a manifest in --out.
    Analyze(AnalyzeArgs),
    /// Gromov's closed-form periodic weights for (a x + b y) mod p (untied Quad): the weight
    /// folder, each neuron's frequency and phases, and the accuracy at every width up to --width.
    ClosedForm(ClosedFormArgs),
}

#[derive(Args)]
struct ClosedFormArgs {
    /// Modulus p (odd, >= 3).
    #[arg(long, default_value_t = 23)]
    p: usize,
    /// Number of neurons N.
    #[arg(long, default_value_t = 256)]
    width: usize,
    /// Task: add, sub or linear:A,B.
    #[arg(long, default_value = "add")]
    task: String,
    /// Seed of the frequencies and phases.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Overwrite an earlier export in --out.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct AnalyzeArgs {
    /// Weights to analyse: a weight folder (W_in.csv, W_out.csv), a checkpoint folder
    /// (W_in.npy, W_out.npy) or a PyTorch .pth file.
    #[arg(long)]
    weights: PathBuf,
    /// Training activation, used for the logits and the accuracy [default: the "activation" of
    /// a config.json in the weights' folder or up to two folders above].
    #[arg(long)]
    activation: Option<String>,
    /// Task the accuracy refers to: add, sub or linear:A,B [default: the "task" of that
    /// config.json, else add].
    #[arg(long)]
    task: Option<String>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Overwrite the files of an earlier analysis in --out.
    #[arg(long)]
    force: bool,
}

#[derive(Args)]
struct OdeArgs {
    /// Modulus p (odd, >= 3).
    #[arg(long, default_value_t = 23)]
    p: usize,
    /// Initial alpha values, comma separated (a grid with --beta0 and --d0).
    #[arg(long, value_delimiter = ',', default_value = "0.02")]
    alpha0: Vec<f64>,
    /// Initial beta values, comma separated [default: beta0 = alpha0].
    #[arg(long, value_delimiter = ',')]
    beta0: Vec<f64>,
    /// Initial misalignments D0 = 2 phi0 - psi0 (radians), comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1.0")]
    d0: Vec<f64>,
    /// Horizon (in the chosen loss's time).
    #[arg(long, default_value_t = 1.0)]
    horizon: f64,
    /// Output intervals per trajectory.
    #[arg(long, default_value_t = 100)]
    points: usize,
    /// Loss time scale: sum (the theory) or mean (time x p^2).
    #[arg(long, default_value = "sum")]
    loss: String,
    /// Also write contour.csv: final beta over magnitude x D0 in [0, 2 pi].
    #[arg(long)]
    contour: bool,
    /// Contour magnitudes: MIN,MAX,COUNT.
    #[arg(long, value_delimiter = ',', default_value = "0.01,0.02,11")]
    contour_magnitudes: Vec<f64>,
    /// Contour D0 count over [0, 2 pi].
    #[arg(long, default_value_t = 37)]
    contour_d: usize,
    /// Contour horizon [default: --horizon].
    #[arg(long)]
    contour_horizon: Option<f64>,
    /// Output folder.
    #[arg(long, default_value = "ode")]
    out: PathBuf,
}

#[derive(Args)]
struct LotteryArgs {
    /// Weight folder of the initial network (W_in.csv, W_out.csv).
    #[arg(long)]
    init_weights: PathBuf,
    /// Weight folder of the trained network, to score the predictions.
    #[arg(long)]
    final_weights: Option<PathBuf>,
    /// Loss time scale of the reported finishing times: sum or mean.
    #[arg(long, default_value = "mean")]
    loss: String,
    /// Output folder.
    #[arg(long, default_value = "lottery")]
    out: PathBuf,
}

#[derive(Args)]
struct VerifyArgs {
    /// Small sizes only, and no p = 23 grokking run (seconds instead of about a minute).
    #[arg(long)]
    quick: bool,
    /// Also write the table as verify.csv here.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct ReproduceArgs {
    /// One modulus (odd, >= 3) [default: 23].
    #[arg(long, conflicts_with = "p_range")]
    p: Option<usize>,
    /// A range of moduli A..B (the odd p with A <= p <= B).
    #[arg(long)]
    p_range: Option<String>,
    /// Output folder; a re-run skips finished work and redoes interrupted work.
    #[arg(long, default_value = "runs/reproduce")]
    out: PathBuf,
    /// Backend: cpu (cuda needs a build with --features cuda).
    #[arg(long, default_value = "cpu")]
    backend: String,
    /// Take only shard I of N (0 <= I < N): the moduli at positions I mod N of the range.
    #[arg(long)]
    shard: Option<String>,
    /// Override every preset's epoch count (quick looks; the figures then differ).
    #[arg(long)]
    epochs: Option<usize>,
    /// Override every preset's width (quick looks).
    #[arg(long)]
    width: Option<usize>,
    /// No progress output.
    #[arg(long, short = 'q')]
    quiet: bool,
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
struct TrainArgs {
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
    #[arg(long)]
    optimizer: Option<String>,
    /// Learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Weight decay (AdamW: decoupled; SGD: L2 added to the gradient).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Training activation: quad or relu (any test-time activation is accepted too).
    #[arg(long)]
    activation: Option<String>,
    /// Initialiser: random or single-freq.
    #[arg(long)]
    init: Option<String>,
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
    #[arg(long)]
    loss: Option<String>,
    /// Task: add, sub or linear:A,B.
    #[arg(long)]
    task: Option<String>,
    /// Model: tied (paper) or untied (Gromov).
    #[arg(long)]
    model: Option<String>,
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
    #[arg(long)]
    precision: Option<String>,
    /// Backend: cpu, or cuda (f32; needs a build with --features cuda and a CUDA device).
    #[arg(long, default_value = "cpu")]
    backend: String,
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
}

#[derive(Args)]
struct EvalArgs {
    /// Weights: a weight folder (W_in.csv, W_out.csv[, W_in_y.csv]), a checkpoint folder
    /// (W_in.npy, W_out.npy[, W_in_y.npy]) or a PyTorch checkpoint (.pth; the state dict at top
    /// level or under 'model', tensors mlp.W_in [M, p] and mlp.W_out [p, M]).
    #[arg(long)]
    weights: PathBuf,
    /// Activation to evaluate with (training or test-time: quad, relu, abs, pow4, pow8,
    /// softplus2, exp, identity, cube).
    #[arg(long)]
    activation: String,
    /// CSV file (header x,y) of the pairs to evaluate [default: all p^2 pairs].
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// Loss: ce-mean, ce-sum or mse.
    #[arg(long, default_value = "ce-mean")]
    loss: String,
    /// Task: add, sub or linear:A,B.
    #[arg(long, default_value = "add")]
    task: String,
    /// Precision of the evaluation (f64 by default; f32 matches PyTorch's float32).
    #[arg(long, default_value = "f64")]
    precision: String,
    /// Write eval.csv, grad/W_in.csv, grad/W_out.csv and manifest.csv here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overwrite files of an earlier evaluation in --out.
    #[arg(long)]
    force: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Reproduce(ReproduceArgs {
        p: None,
        p_range: None,
        out: PathBuf::from("runs/reproduce"),
        backend: "cpu".into(),
        shard: None,
        epochs: None,
        width: None,
        quiet: false,
    }));
    let res = match command {
        Command::Reproduce(a) => cmd_reproduce(a),
        Command::Verify(a) => cmd_verify(a),
        Command::Train(a) => cmd_train(*a),
        Command::Eval(a) => cmd_eval(a),
        Command::Ode(a) => cmd_ode(a),
        Command::Lottery(a) => cmd_lottery(a),
        Command::Analyze(a) => cmd_analyze(a),
        Command::ClosedForm(a) => cmd_closed_form(a),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_user_error() { 2 } else { 1 })
        }
    }
}

fn cmd_ode(a: OdeArgs) -> Result<()> {
    let contour = if a.contour {
        let c = &a.contour_magnitudes;
        if c.len() != 3 || c[2] < 1.0 || c[2].fract() != 0.0 {
            return Err(Error::InvalidParameter {
                name: "--contour-magnitudes",
                value: c.get(2).copied().unwrap_or(f64::NAN),
                expected: "MIN,MAX,COUNT with an integer COUNT >= 1",
            });
        }
        Some((
            c[0],
            c[1],
            c[2] as usize,
            a.contour_d,
            a.contour_horizon.unwrap_or(a.horizon),
        ))
    } else {
        None
    };
    let cmd = modadd::dynamics::OdeCommand {
        p: a.p,
        scale: modadd::dynamics::TimeScale::parse(&a.loss)?,
        alpha0: a.alpha0,
        beta0: a.beta0,
        d0: a.d0,
        horizon: a.horizon,
        points: a.points,
        contour,
        out: a.out.clone(),
    };
    modadd::dynamics::run_ode_command(&cmd)?;
    println!("wrote {}", a.out.display());
    Ok(())
}

fn cmd_lottery(a: LotteryArgs) -> Result<()> {
    let scale = modadd::dynamics::TimeScale::parse(&a.loss)?;
    let acc = modadd::dynamics::run_lottery_command(
        &a.init_weights,
        a.final_weights.as_deref(),
        scale,
        &a.out,
    )?;
    match acc {
        Some((d, o)) => println!(
            "{}: smallest-misalignment rule {}, ODE race {}",
            a.out.display(),
            fmt_f64(d),
            fmt_f64(o)
        ),
        None => println!("wrote {}", a.out.display()),
    }
    Ok(())
}

fn progress(quiet: bool) -> Progress {
    if quiet {
        Progress::Quiet
    } else if std::io::stderr().is_terminal() {
        Progress::Bar
    } else {
        Progress::Lines
    }
}

fn resolve_train(a: &TrainArgs) -> Result<TrainConfig> {
    let mut c = TrainConfig::preset(&a.preset, a.p)?;
    if let Some(w) = a.width {
        c.width = w;
    }
    if let Some(e) = a.epochs {
        c.epochs = e;
    }
    if let Some(s) = a.seed {
        c.seed = s;
    }
    let wd = a.weight_decay.unwrap_or(c.optimizer.weight_decay());
    if let Some(o) = &a.optimizer {
        c.optimizer = OptimizerConfig::parse(o, wd)?;
    }
    c.optimizer = c.optimizer.with_weight_decay(wd);
    if let Some(lr) = a.lr {
        c.lr = lr;
    }
    if let Some(act) = &a.activation {
        c.activation = Activation::parse(act)?;
    }
    let scale = a.init_scale.unwrap_or(c.init.scale());
    c.init = match &a.init {
        Some(name) => Init::parse(name, scale)?,
        None => Init::parse(c.init.name(), scale)?,
    };
    if let Some(f) = a.train_frac {
        c.train_frac = f;
    }
    c.train_pairs = a.train_pairs.clone();
    if let Some(n) = a.warmup {
        c.schedule = if n == 0 {
            Schedule::Constant
        } else {
            Schedule::Warmup { steps: n }
        };
    }
    if let Some(l) = &a.loss {
        c.loss = Loss::parse(l)?;
    }
    if let Some(t) = &a.task {
        c.task = Task::parse(t)?;
    }
    if let Some(m) = &a.model {
        c.tying = match m.as_str() {
            "tied" => Tying::Tied,
            "untied" => Tying::Untied,
            _ => {
                return Err(Error::UnknownName {
                    kind: "model",
                    name: m.clone(),
                    expected: "tied, untied".into(),
                })
            }
        };
    }
    c.init_weights = a.init_weights.clone();
    if let Some(n) = a.checkpoint_every {
        c.checkpoint_every = n;
    }
    if let Some(b) = a.plateau_stop {
        c.plateau_stop = b;
    }
    if let Some(n) = a.record_every {
        c.record.every = n;
    }
    c.record.grid_epochs = a.grid_epochs.clone();
    if let Some(pr) = &a.precision {
        c.precision = Precision::parse(pr)?;
    }
    // The width comes from the weights when they are given.
    if let (Some(dir), None) = (&c.init_weights, a.width) {
        c.width = weights::read_weights_any(dir)?.width();
    }
    c.validate()?;
    Ok(c)
}

fn cmd_reproduce(a: ReproduceArgs) -> Result<()> {
    use modadd::reproduce::{parse_moduli, reproduce, shard_moduli, ReproduceOptions, Shard};
    let backend = BackendKind::parse(&a.backend)?;
    backend.check(Precision::F32)?;
    let ps = match (&a.p_range, a.p) {
        (Some(r), _) => parse_moduli(r)?,
        (None, p) => vec![modadd::task::check_modulus(p.unwrap_or(23))?],
    };
    let shard = match &a.shard {
        Some(s) => Shard::parse(s)?,
        None => Shard::ALL,
    };
    let moduli = shard_moduli(&ps, shard);
    let t0 = std::time::Instant::now();
    let r = reproduce(&ReproduceOptions {
        moduli: moduli.clone(),
        out: a.out.clone(),
        progress: progress(a.quiet),
        epochs: a.epochs,
        width: a.width,
        backend,
    })?;
    println!(
        "{}: moduli {:?}: {} units run, {} already done, {:.1} s",
        a.out.display(),
        moduli,
        r.ran.len(),
        r.skipped.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn cmd_verify(a: VerifyArgs) -> Result<()> {
    let checks = modadd::verify::verify(a.quick)?;
    let w = checks.iter().map(|c| c.claim.len()).max().unwrap_or(10);
    println!(
        "{:w$}  {:>14}  {:>22}  result",
        "claim", "measured", "bound"
    );
    for c in &checks {
        println!(
            "{:w$}  {:>14}  {:>22}  {}",
            c.claim,
            format!("{:.6e}", c.measured),
            c.bound,
            if c.pass { "pass" } else { "FAIL" }
        );
    }
    if let Some(out) = &a.out {
        modadd::verify::write_checks(&checks, out)?;
    }
    let failed = checks.iter().filter(|c| !c.pass).count();
    println!("{} passed, {} failed", checks.len() - failed, failed);
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}

fn cmd_train(a: TrainArgs) -> Result<()> {
    let backend = BackendKind::parse(&a.backend)?;
    if backend == BackendKind::Cuda {
        // Before anything else: no feature, driver or device is one clear line.
        modadd::backend::cuda_available()?;
    }
    let prog = progress(a.quiet);
    if a.resume {
        let out = a.out.clone().ok_or(Error::InvalidParameter {
            name: "--resume without --out",
            value: f64::NAN,
            expected: "--out DIR naming the run to resume",
        })?;
        let s = train::resume_on(&out, a.epochs, prog, backend, None)?;
        println!("resumed {}: {} epochs run", out.display(), s.epochs_run);
        return Ok(());
    }
    let cfg = resolve_train(&a)?;
    let out = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "runs/{}_p{}",
            cfg.preset.as_deref().unwrap_or("custom"),
            cfg.p
        ))
    });
    let s = train::run_on(
        &cfg,
        &RunOptions {
            out: out.clone(),
            force: a.force,
            progress: prog,
            multi: None,
        },
        backend,
    )?;
    if let Some(r) = s.last {
        println!(
            "{}: {} epochs{}; last logged epoch {}: train loss {} acc {}, test loss {} acc {}",
            out.display(),
            s.epochs_run,
            if s.plateau_stopped {
                " (plateau stop)"
            } else {
                ""
            },
            r.epoch,
            fmt_f64(r.train_loss),
            fmt_f64(r.train_acc),
            fmt_f64(r.test_loss),
            fmt_f64(r.test_acc)
        );
    }
    Ok(())
}

fn cmd_analyze(a: AnalyzeArgs) -> Result<()> {
    let act = match &a.activation {
        Some(name) => Activation::parse(name)?,
        None => modadd::analysis::training_activation_near(&a.weights)?.ok_or_else(|| {
            Error::UnknownName {
                kind: "activation",
                name: "(none: no --activation and no config.json beside the weights)".into(),
                expected: Activation::ALL
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })?,
    };
    // The one place analyze reads weights.
    let net = weights::read_weights_any(&a.weights)?;
    let task = match &a.task {
        Some(t) => Task::parse(t)?,
        None => modadd::analysis::training_task_near(&a.weights)?.unwrap_or(Task::Add),
    };
    let s = modadd::analysis::analyze_task_to_dir(&net, act, task, &a.out, a.force)?;
    let g = |n: &str| s.get(n).map(fmt_f64).unwrap_or_default();
    println!(
        "{}: p = {}, M = {}, activation {}: accuracy {}, IPR {}, mean |sin D| {}, frequencies used {}",
        a.out.display(),
        g("p"),
        g("width"),
        act.name(),
        g("accuracy"),
        g("ipr"),
        g("mean_abs_sin_d"),
        g("frequencies_used")
    );
    Ok(())
}

fn cmd_closed_form(a: ClosedFormArgs) -> Result<()> {
    let task = Task::parse(&a.task)?;
    let acc = modadd::gromov::write_closed_form(&a.out, a.p, a.width, task, a.seed, a.force)?;
    println!(
        "{}: p = {}, N = {}, task {}: accuracy {} on all pairs",
        a.out.display(),
        a.p,
        a.width,
        a.task,
        fmt_f64(acc)
    );
    Ok(())
}

fn cmd_eval(a: EvalArgs) -> Result<()> {
    let act = Activation::parse(&a.activation)?;
    let loss = Loss::parse(&a.loss)?;
    let precision = Precision::parse(&a.precision)?;
    let task = Task::parse(&a.task)?;
    let net = weights::read_weights_any(&a.weights)?;
    let pairs: Vec<Pair> = match &a.pairs {
        Some(path) => read_pairs_csv(path, net.p)?
            .into_iter()
            .map(|(x, y)| Pair {
                x: x as u32,
                y: y as u32,
                label: task.label(x, y, net.p) as u32,
            })
            .collect(),
        None => all_pairs(net.p, task),
    };
    if pairs.is_empty() {
        return Err(Error::EmptyPairs {
            what: "evaluation pair list",
        });
    }
    if let Some(out) = &a.out {
        let marker = out.join("eval.csv");
        if marker.exists() && !a.force {
            return Err(Error::OutputExists {
                path: out.clone(),
                found: marker,
            });
        }
    }
    match precision {
        Precision::F32 => eval_with::<f32>(&net.cast(), act, loss, &pairs, a.out.as_deref()),
        Precision::F64 => eval_with::<f64>(&net, act, loss, &pairs, a.out.as_deref()),
    }
}

fn eval_with<T: Real>(
    net: &modadd::model::Network<T>,
    act: Activation,
    loss: Loss,
    pairs: &[Pair],
    out: Option<&Path>,
) -> Result<()> {
    let batch = Batch::<T>::new(pairs, net.tying());
    let mut grads = Grads::zeros_like(net);
    let ev = loss_and_grad(net, act, loss, &batch, &mut Workspace::new(), &mut grads);
    println!(
        "p = {}, M = {}, {} pairs, activation {}, {} {}: loss {} accuracy {}",
        net.p,
        net.width(),
        pairs.len(),
        act.name(),
        T::NAME,
        loss.name(),
        fmt_f64(ev.loss),
        fmt_f64(ev.accuracy)
    );
    if let Some(out) = out {
        let rows = vec![vec![
            act.name().to_string(),
            loss.name().to_string(),
            T::NAME.to_string(),
            pairs.len().to_string(),
            fmt_f64(ev.loss),
            fmt_f64(ev.accuracy),
            fmt_f64(grads.norm()),
        ]];
        let mut m = Manifest::new();
        let n = modadd::export::write_table(
            &out.join("eval.csv"),
            &[
                "activation",
                "loss_name",
                "precision",
                "pairs",
                "loss",
                "accuracy",
                "grad_norm",
            ],
            &rows,
        )?;
        m.add(
            "eval.csv",
            n,
            "loss and accuracy of the weights on the pairs",
        );
        let g = modadd::model::Network::new(grads.w_in, grads.w_out, grads.w_in_y)?;
        weights::write_weight_folder(&out.join("grad"), &g)?;
        m.add(
            "grad",
            net.width(),
            "gradient of the loss in the weight format (grad/W_in.csv M x p, grad/W_out.csv p x M)",
        );
        m.write(out)?;
    }
    Ok(())
}
