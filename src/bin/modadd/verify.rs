//! `modadd verify`: every claim of the paper as a table row.

use clap::Args;
use modadd::error::Result;
use modadd::pipelines::verify::{format_table, verify, write_checks};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct VerifyArgs {
    /// Small sizes only, and no p = 23 grokking run (seconds instead of about a minute).
    #[arg(long)]
    quick: bool,
    /// Also write the table as verify.csv here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Threads [default: every core]; the results are the same for any count.
    #[arg(long)]
    threads: Option<usize>,
}

pub fn run(a: VerifyArgs) -> Result<ExitCode> {
    if let Some(n) = a.threads {
        modadd::numerics::parallel::set_default_threads(n)?;
    }
    let checks = verify(a.quick)?;
    print!("{}", format_table(&checks));
    if let Some(out) = &a.out {
        write_checks(&checks, out)?;
    }
    let failed = checks.iter().filter(|c| !c.pass).count();
    println!("{} passed, {} failed", checks.len() - failed, failed);
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
