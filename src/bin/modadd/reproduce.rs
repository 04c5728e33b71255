//! `modadd reproduce` (the default command): every figure's data per modulus.

use crate::progress;
use clap::Args;
use modadd::error::Result;
use modadd::names::parse_name;
use modadd::numerics::task::check_modulus;
use modadd::pipelines::reproduce::{
    parse_moduli, reproduce, shard_moduli, ReproduceOptions, Shard,
};
use modadd::train::config::{BackendKind, Precision};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ReproduceArgs {
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
    #[arg(long, default_value = "cpu", value_parser = parse_name::<BackendKind>)]
    backend: BackendKind,
    /// Take only shard I of N (0 <= I < N): the moduli at positions I mod N of the range.
    #[arg(long, value_parser = Shard::parse)]
    shard: Option<Shard>,
    /// Override every preset's epoch count (quick looks; the figures then differ).
    #[arg(long)]
    epochs: Option<usize>,
    /// Override every preset's width (quick looks).
    #[arg(long)]
    width: Option<usize>,
    /// Do not draw the figures (by default every modulus gets `p_PPP/figures/index.html`).
    #[arg(long)]
    no_plots: bool,
    /// Threads [default: every core]; the results are the same for any count.
    #[arg(long)]
    threads: Option<usize>,
    /// No progress output.
    #[arg(long, short = 'q')]
    quiet: bool,
}

impl Default for ReproduceArgs {
    /// `modadd` without a command: `reproduce --p 23 --out runs/reproduce`.
    fn default() -> Self {
        ReproduceArgs {
            p: None,
            p_range: None,
            out: PathBuf::from("runs/reproduce"),
            backend: BackendKind::Cpu,
            shard: None,
            epochs: None,
            width: None,
            no_plots: false,
            threads: None,
            quiet: false,
        }
    }
}

pub fn run(a: ReproduceArgs) -> Result<ExitCode> {
    if let Some(n) = a.threads {
        modadd::numerics::parallel::set_default_threads(n)?;
    }
    a.backend.check(Precision::F32)?;
    let ps = match (a.p_range, a.p) {
        (Some(r), _) => parse_moduli(&r)?,
        (None, p) => vec![check_modulus(p.unwrap_or(23))?],
    };
    let moduli = shard_moduli(&ps, a.shard.unwrap_or(Shard::ALL));
    let t0 = std::time::Instant::now();
    let r = reproduce(&ReproduceOptions {
        moduli: moduli.clone(),
        out: a.out.clone(),
        progress: progress(a.quiet),
        epochs: a.epochs,
        width: a.width,
        plots: !a.no_plots,
        backend: a.backend,
    })?;
    println!(
        "{}: moduli {:?}: {} units run, {} already done, {:.1} s",
        a.out.display(),
        moduli,
        r.ran.len(),
        r.skipped.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
