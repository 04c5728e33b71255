//! `modadd verify`: every claim of the paper as table rows (claim, expectation, measurement);
//! exit 1 only when a measurement departs from its documented expectation.

use clap::Args;
use modadd::error::Result;
use modadd::pipelines::verify::{format_table, verify, write_checks, Expected};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct VerifyArgs {
    /// Small stand-ins only, no paper-scale training runs (seconds instead of about a minute).
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
    let known = checks
        .iter()
        .filter(|c| c.expected != Expected::Holds)
        .count();
    println!(
        "{} rows: {} agree with their expectation ({} of them claims documented not to hold), {} depart",
        checks.len(),
        checks.len() - failed,
        known,
        failed
    );
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
