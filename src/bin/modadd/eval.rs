//! `modadd eval`: loss, accuracy and gradient of weights on pairs.

use clap::Args;
use modadd::error::Result;
use modadd::formats::table::fmt_f64;
use modadd::names::parse_name;
use modadd::numerics::activation::Activation;
use modadd::numerics::loss::Loss;
use modadd::numerics::task::Task;
use modadd::pipelines::eval::{eval, EvalRequest};
use modadd::train::config::Precision;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct EvalArgs {
    /// Weights: a weight folder (W_in.csv, W_out.csv[, W_in_y.csv]), a checkpoint folder
    /// (W_in.npy, W_out.npy[, W_in_y.npy]) or a PyTorch checkpoint (.pth; the state dict at top
    /// level or under 'model', tensors mlp.W_in [M, p] and mlp.W_out [p, M]).
    #[arg(long)]
    weights: PathBuf,
    /// Activation to evaluate with (training or test-time: quad, relu, abs, pow4, pow8,
    /// softplus2, exp, identity, cube).
    #[arg(long, value_parser = parse_name::<Activation>)]
    activation: Activation,
    /// CSV file (header x,y) of the pairs to evaluate [default: all p^2 pairs].
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// Loss: ce-mean, ce-sum or mse.
    #[arg(long, default_value = "ce-mean", value_parser = parse_name::<Loss>)]
    loss: Loss,
    /// Task: add, sub or linear:A,B.
    #[arg(long, default_value = "add", value_parser = Task::parse)]
    task: Task,
    /// Precision of the evaluation (f64 by default; f32 matches PyTorch's float32).
    #[arg(long, default_value = "f64", value_parser = parse_name::<Precision>)]
    precision: Precision,
    /// Write eval.csv, grad/W_in.csv, grad/W_out.csv and manifest.csv here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overwrite files of an earlier evaluation in --out.
    #[arg(long)]
    force: bool,
}

pub fn run(a: EvalArgs) -> Result<ExitCode> {
    let req = EvalRequest {
        weights: a.weights,
        activation: a.activation,
        loss: a.loss,
        task: a.task,
        precision: a.precision,
        pairs: a.pairs,
        out: a.out,
        force: a.force,
    };
    let r = eval(&req)?;
    println!(
        "p = {}, M = {}, {} pairs, activation {}, {} {}: loss {} accuracy {}",
        r.p,
        r.width,
        r.pairs,
        req.activation.name(),
        req.precision.name(),
        req.loss.name(),
        fmt_f64(r.eval.loss),
        fmt_f64(r.eval.accuracy)
    );
    Ok(ExitCode::SUCCESS)
}
