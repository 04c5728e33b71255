//! The `ode` command's library side: decoupled-ODE trajectories over a grid of starts and the
//! lottery contour, written as CSV.
//!
//! Files: `trajectories.csv` (columns run, alpha0, beta0, d0, t, alpha, beta, phi, psi, d;
//! angles in [-pi, pi), beta >= 0), optionally `contour.csv` (magnitude, d0, beta, capped_at),
//! and `manifest.csv`. Trajectories stop at [`OdeOptions::cap`] (default 1e3): their last row is
//! then the off-grid stop time.

use crate::error::{positive, Error, Result};
use crate::formats::manifest::Manifest;
use crate::formats::table::{fmt_f64, write_table};
use crate::numerics::task::check_modulus;
use crate::science::dynamics::lottery::{linspace, lottery_contour};
use crate::science::dynamics::ode::{integrate, output_times, OdeOptions};
use crate::science::dynamics::{FreqState, TimeScale};
use std::f64::consts::PI;
use std::path::PathBuf;

/// The lottery contour's grid: `magnitudes` values from `magnitude_min` to `magnitude_max`,
/// `d_count` values of D0 over [0, 2 pi], integrated to `horizon`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ContourGrid {
    /// Smallest initial magnitude alpha0 = beta0.
    pub magnitude_min: f64,
    /// Largest initial magnitude.
    pub magnitude_max: f64,
    /// Number of magnitudes.
    pub magnitudes: usize,
    /// Number of D0 values over [0, 2 pi].
    pub d_count: usize,
    /// Time at which beta is read.
    pub horizon: f64,
}

impl ContourGrid {
    /// The grid from `MIN,MAX,COUNT` (as the command line gives it), `d_count` and `horizon`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] unless `spec` has three values with an integer COUNT >= 1.
    pub fn from_spec(spec: &[f64], d_count: usize, horizon: f64) -> Result<Self> {
        if spec.len() != 3 || spec[2] < 1.0 || spec[2].fract() != 0.0 {
            return Err(Error::InvalidParameter {
                name: "--contour-magnitudes",
                value: spec.get(2).copied().unwrap_or(f64::NAN),
                expected: "MIN,MAX,COUNT with an integer COUNT >= 1",
            });
        }
        Ok(ContourGrid {
            magnitude_min: spec[0],
            magnitude_max: spec[1],
            magnitudes: spec[2] as usize,
            d_count,
            horizon,
        })
    }
}

/// Settings of the `modadd ode` command.
#[derive(Clone, Debug, PartialEq)]
pub struct OdeCommand {
    /// Modulus p.
    pub p: usize,
    /// Time scale (sum or mean loss).
    pub scale: TimeScale,
    /// Initial alpha values (the grid is alpha x beta x D).
    pub alpha0: Vec<f64>,
    /// Initial beta values; empty means beta0 = alpha0 (one value per alpha0).
    pub beta0: Vec<f64>,
    /// Initial misalignments D0.
    pub d0: Vec<f64>,
    /// Horizon of the trajectories.
    pub horizon: f64,
    /// Output intervals per trajectory.
    pub points: usize,
    /// The lottery contour, if wanted.
    pub contour: Option<ContourGrid>,
    /// Output folder.
    pub out: PathBuf,
}

impl OdeCommand {
    /// The starts `(alpha0, beta0, D0)`, alpha-major, then beta, then D0.
    pub fn starts(&self) -> Result<Vec<(f64, f64, f64)>> {
        let mut starts = vec![];
        for &a in &self.alpha0 {
            let betas = if self.beta0.is_empty() {
                vec![a]
            } else {
                self.beta0.clone()
            };
            for b in betas {
                for &d in &self.d0 {
                    starts.push((a, b, d));
                }
            }
        }
        if starts.is_empty() {
            return Err(Error::InvalidParameter {
                name: "number of starts",
                value: 0.0,
                expected: "at least one alpha0 and one d0",
            });
        }
        Ok(starts)
    }
}

/// Runs `modadd ode`: writes the files of the module docs into `cmd.out`.
pub fn run_ode_command(cmd: &OdeCommand) -> Result<()> {
    check_modulus(cmd.p)?;
    positive("horizon", cmd.horizon)?;
    let c = cmd.scale.rate(cmd.p);
    let mut m = Manifest::new();
    let rows = trajectory_rows(cmd, c)?;
    let n = write_table(
        &cmd.out.join("trajectories.csv"),
        &[
            "run", "alpha0", "beta0", "d0", "t", "alpha", "beta", "phi", "psi", "d",
        ],
        &rows,
    )?;
    m.add(
        "trajectories.csv",
        n,
        format!(
            "decoupled-ODE trajectories, p = {}, {} loss time (rate {}); one run per start",
            cmd.p,
            cmd.scale.name(),
            fmt_f64(c)
        ),
    );
    if let Some(grid) = &cmd.contour {
        write_contour(grid, c, cmd, &mut m)?;
    }
    m.write(&cmd.out)
}

/// The rows of `trajectories.csv`: every start integrated at rate `c`.
fn trajectory_rows(cmd: &OdeCommand, c: f64) -> Result<Vec<Vec<String>>> {
    let times = output_times(cmd.horizon, cmd.points);
    let opts = OdeOptions::default();
    let mut rows = vec![];
    for (run, &(a, b, d)) in cmd.starts()?.iter().enumerate() {
        let tr = integrate(FreqState::with_misalignment(a, b, d), c, &times, &opts)?;
        for (t, s) in &tr.points {
            let s = s.canonical();
            rows.push(vec![
                run.to_string(),
                fmt_f64(a),
                fmt_f64(b),
                fmt_f64(d),
                fmt_f64(*t),
                fmt_f64(s.alpha),
                fmt_f64(s.beta),
                fmt_f64(s.phi),
                fmt_f64(s.psi),
                fmt_f64(s.misalignment()),
            ]);
        }
    }
    Ok(rows)
}

/// Writes `contour.csv`: beta at the grid's horizon from every (magnitude, D0), rate `c`.
fn write_contour(grid: &ContourGrid, c: f64, cmd: &OdeCommand, m: &mut Manifest) -> Result<()> {
    let mags = linspace(grid.magnitude_min, grid.magnitude_max, grid.magnitudes);
    let ds = linspace(0.0, 2.0 * PI, grid.d_count);
    let points = lottery_contour(c, &mags, &ds, grid.horizon, &OdeOptions::default())?;
    let rows: Vec<Vec<String>> = points
        .iter()
        .map(|g| {
            vec![
                fmt_f64(g.magnitude),
                fmt_f64(g.d0),
                fmt_f64(g.beta),
                g.capped_at.map(fmt_f64).unwrap_or_default(),
            ]
        })
        .collect();
    let n = write_table(
        &cmd.out.join("contour.csv"),
        &["magnitude", "d0", "beta", "capped_at"],
        &rows,
    )?;
    m.add(
        "contour.csv",
        n,
        format!(
            "lottery contour: beta at t = {} from alpha0 = beta0 = magnitude and D0 = d0 (capped_at: time beta passed the cap, empty if not)",
            fmt_f64(grid.horizon)
        ),
    );
    Ok(())
}
