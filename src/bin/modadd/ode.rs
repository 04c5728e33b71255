//! `modadd ode`: decoupled-ODE trajectories and the lottery contour.

use clap::Args;
use modadd::error::Result;
use modadd::names::parse_name;
use modadd::pipelines::ode::{run_ode_command, ContourGrid, OdeCommand};
use modadd::science::dynamics::TimeScale;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct OdeArgs {
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
    #[arg(long, default_value = "sum", value_parser = parse_name::<TimeScale>)]
    loss: TimeScale,
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

pub fn run(a: OdeArgs) -> Result<ExitCode> {
    let contour = if a.contour {
        Some(ContourGrid::from_spec(
            &a.contour_magnitudes,
            a.contour_d,
            a.contour_horizon.unwrap_or(a.horizon),
        )?)
    } else {
        None
    };
    let cmd = OdeCommand {
        p: a.p,
        scale: a.loss,
        alpha0: a.alpha0,
        beta0: a.beta0,
        d0: a.d0,
        horizon: a.horizon,
        points: a.points,
        contour,
        out: a.out,
    };
    run_ode_command(&cmd)?;
    println!("wrote {}", cmd.out.display());
    Ok(ExitCode::SUCCESS)
}
