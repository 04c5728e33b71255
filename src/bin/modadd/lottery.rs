//! `modadd lottery`: each neuron's predicted winning frequency by both rules, scored.

use clap::Args;
use modadd::error::Result;
use modadd::formats::table::fmt_f64;
use modadd::names::parse_name;
use modadd::pipelines::lottery::run_lottery_command;
use modadd::science::dynamics::TimeScale;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct LotteryArgs {
    /// Weight folder of the initial network (W_in.csv, W_out.csv).
    #[arg(long)]
    init_weights: PathBuf,
    /// Weight folder of the trained network, to score the predictions.
    #[arg(long)]
    final_weights: Option<PathBuf>,
    /// Loss time scale of the reported finishing times: sum or mean.
    #[arg(long, default_value = "mean", value_parser = parse_name::<TimeScale>)]
    loss: TimeScale,
    /// Output folder.
    #[arg(long, default_value = "lottery")]
    out: PathBuf,
    /// Threads for the race [default: every core]; the results are the same for any count.
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(a: LotteryArgs) -> Result<ExitCode> {
    if let Some(n) = a.threads {
        modadd::numerics::parallel::set_default_threads(n)?;
    }
    let acc = run_lottery_command(&a.init_weights, a.final_weights.as_deref(), a.loss, &a.out)?;
    match acc {
        Some((d, o)) => println!(
            "{}: smallest-misalignment rule {}, ODE race {}",
            a.out.display(),
            fmt_f64(d),
            fmt_f64(o)
        ),
        None => println!("wrote {}", a.out.display()),
    }
    Ok(ExitCode::SUCCESS)
}
