//! `modadd closed-form`: Gromov's closed-form periodic weights and their accuracy by width.

use clap::Args;
use modadd::error::Result;
use modadd::formats::table::fmt_f64;
use modadd::numerics::task::Task;
use modadd::pipelines::closed_form::write_closed_form;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ClosedFormArgs {
    /// Modulus p (odd, >= 3).
    #[arg(long, default_value_t = 23)]
    p: usize,
    /// Number of neurons N.
    #[arg(long, default_value_t = 256)]
    width: usize,
    /// Task: add, sub or linear:A,B.
    #[arg(long, default_value = "add", value_parser = Task::parse)]
    task: Task,
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

pub fn run(a: ClosedFormArgs) -> Result<ExitCode> {
    let acc = write_closed_form(&a.out, a.p, a.width, a.task, a.seed, a.force)?;
    println!(
        "{}: p = {}, N = {}, task {}: accuracy {} on all pairs",
        a.out.display(),
        a.p,
        a.width,
        a.task.name(),
        fmt_f64(acc)
    );
    Ok(ExitCode::SUCCESS)
}
