//! `modadd`: the command-line front end. One file per command turns its arguments into library
//! calls (`modadd::pipelines`) and prints the result; this file dispatches and maps errors to
//! exit codes (2 for bad input, 1 for a failed run).

mod analyze;
mod closed_form;
mod eval;
mod lottery;
mod ode;
mod plot;
mod reproduce;
mod train;
mod verify;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use modadd::error::Error;
use modadd::train::driver::Progress;
use std::io::IsTerminal;
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
    Reproduce(reproduce::ReproduceArgs),
    /// Check every claim of the paper (SPEC section 7): a table of claim, measured, bound,
    /// pass/fail; exit status 1 if any fails.
    Verify(verify::VerifyArgs),
    /// Train a network (a reference preset, every field overridable) and write a run folder.
    Train(Box<train::TrainArgs>),
    /// Evaluate weights: print loss and accuracy; with --out, write eval.csv and the gradient.
    Eval(eval::EvalArgs),
    /// Integrate the decoupled (alpha, beta, phi, psi) ODE: trajectories and the lottery contour.
    Ode(ode::OdeArgs),
    /// Predict each neuron's winning frequency from initial weights (two rules), scored against
    /// final weights when given.
    Lottery(lottery::LotteryArgs),
    /// Fourier analysis of trained weights: tidy CSVs (neurons, spectrum, frequency groups,
    /// harmonics, logits, activation swaps, summary) and a manifest in --out.
    Analyze(analyze::AnalyzeArgs),
    /// Draw every figure of an output folder as SVG, with an index.html showing them all
    /// (reproduce, train, analyze, ode, lottery and closed-form folders).
    Plot(plot::PlotArgs),
    /// Gromov's closed-form periodic weights for (a x + b y) mod p (untied Quad): the weight
    /// folder, each neuron's frequency and phases, and the accuracy at every width up to --width.
    ClosedForm(closed_form::ClosedFormArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return argument_error(e),
    };
    let command = cli
        .command
        .unwrap_or_else(|| Command::Reproduce(reproduce::ReproduceArgs::default()));
    let res = match command {
        Command::Reproduce(a) => reproduce::run(a),
        Command::Verify(a) => verify::run(a),
        Command::Train(a) => train::run(*a),
        Command::Eval(a) => eval::run(a),
        Command::Ode(a) => ode::run(a),
        Command::Lottery(a) => lottery::run(a),
        Command::Analyze(a) => analyze::run(a),
        Command::ClosedForm(a) => closed_form::run(a),
        Command::Plot(a) => plot::run(a),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_user_error() { 2 } else { 1 })
        }
    }
}

/// A value the library refused while clap parsed it (an unknown name, a malformed task) is one
/// line, the library's message, exit 2; every other clap outcome (help, version, usage errors)
/// is clap's own.
fn argument_error(e: clap::Error) -> ExitCode {
    if e.kind() == ErrorKind::ValueValidation {
        let ours = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<Error>());
        if let Some(err) = ours {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    }
    e.exit()
}

/// Progress output: nothing when `quiet`, a bar on a terminal, plain lines otherwise.
pub(crate) fn progress(quiet: bool) -> Progress {
    if quiet {
        Progress::Quiet
    } else if std::io::stderr().is_terminal() {
        Progress::Bar
    } else {
        Progress::Lines
    }
}
