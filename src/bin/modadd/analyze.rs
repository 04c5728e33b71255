//! `modadd analyze`: the Fourier analysis of weights, written as tidy CSV.

use clap::Args;
use modadd::error::Result;
use modadd::formats::table::fmt_f64;
use modadd::names::parse_name;
use modadd::numerics::activation::Activation;
use modadd::numerics::task::Task;
use modadd::pipelines::analyze::analyze_weights;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct AnalyzeArgs {
    /// Weights to analyse: a weight folder (W_in.csv, W_out.csv), a checkpoint folder
    /// (W_in.npy, W_out.npy) or a PyTorch .pth file.
    #[arg(long)]
    weights: PathBuf,
    /// Training activation, used for the logits and the accuracy [default: the "activation" of
    /// a config.json in the weights' folder or up to two folders above].
    #[arg(long, value_parser = parse_name::<Activation>)]
    activation: Option<Activation>,
    /// Task the accuracy refers to: add, sub or linear:A,B [default: the "task" of that
    /// config.json, else add].
    #[arg(long, value_parser = Task::parse)]
    task: Option<Task>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Overwrite the files of an earlier analysis in --out.
    #[arg(long)]
    force: bool,
}

pub fn run(a: AnalyzeArgs) -> Result<ExitCode> {
    let (act, s) = analyze_weights(&a.weights, a.activation, a.task, &a.out, a.force)?;
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
    Ok(ExitCode::SUCCESS)
}
