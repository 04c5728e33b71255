//! `modadd plot`: SVG figures and an `index.html` from the CSV files of an output folder.

use clap::Args;
use modadd::error::Result;
use modadd::pipelines::plot::{plot, PlotOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct PlotArgs {
    /// A `reproduce` folder (one or many moduli), a `train` run, or an `analyze`, `ode`,
    /// `lottery` or `closed-form` folder.
    run_dir: PathBuf,
    /// Output folder [default: RUN_DIR/figures; for a reproduce folder each modulus goes to
    /// RUN_DIR/p_PPP/figures/ and RUN_DIR/figures/index.html links them].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Overwrite an output folder that already holds an index.html.
    #[arg(long)]
    force: bool,
}

pub fn run(a: PlotArgs) -> Result<ExitCode> {
    let t0 = std::time::Instant::now();
    let r = plot(
        &a.run_dir,
        &PlotOptions {
            out: a.out,
            force: a.force,
        },
    )?;
    let index = r.indexes.last().expect("plot writes an index");
    println!(
        "{}: {} figures{}, {:.1} s",
        index.display(),
        r.figures.len(),
        if r.skipped.is_empty() {
            String::new()
        } else {
            format!(" ({} rows of figures.csv not drawn)", r.skipped.len())
        },
        t0.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
