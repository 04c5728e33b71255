//! `modadd reproduce`: every figure's data for a range of moduli, resumable and shardable.
//!
//! For each modulus p, everything goes under `OUT/p_PPP/`:
//!
//! | folder | what | SPEC section 8 item |
//! |---|---|---|
//! | `train/<preset>/` | a `modadd train` run of each reference preset (grokking only for p >= 19): training curves, progress measures (IPR, norm, pair classes), checkpoints, final weights | training curves; IPR and norm over epochs; grokking curves with stage boundaries, accuracy grids, memorisation and common-to-rare masks, decoded weights at stage boundaries (`train/grokking/stages/`) |
//! | `analysis/<preset>/` | `modadd analyze` of the final weights | final spectra of W_in and W_out; per-neuron (k, alpha, phi, beta, psi, D); phase-symmetry moments per group; magnitude distribution; logits of all pairs |
//! | `ode/` | decoupled-ODE trajectories from several D0, and the lottery contour (final beta over initial magnitude x D0) | decoupled-ODE trajectories; lottery contour grid |
//! | `lottery/` | both lottery predictors on the `quad_random` run scored against its final weights, and the race of one neuron (alpha_k, D_k for every k at every checkpoint) | lottery race of one neuron |
//! | `single_freq/` | neuron features and spectra of the two single-frequency runs at their first, middle and last checkpoints | single-frequency runs' phase and spectrum snapshots |
//!
//! plus `OUT/p_PPP/figures.csv` (figure, path, description) and `manifest.csv`, and
//! `OUT/manifest.csv` listing the moduli done.
//!
//! # Resuming
//! A unit of work counts as done when its folder holds `manifest.csv`, and is then skipped on a
//! re-run. A training run writes its `manifest.csv` last; every other unit builds its whole
//! folder under a temporary name and renames it into place
//! ([`crate::formats::atomic::atomic_dir`]), so the marker exists only when everything the
//! unit writes is complete. An interrupted training run resumes from its newest usable
//! checkpoint (bit-identical to an uninterrupted one, [`crate::train::recovery`]); any other
//! interrupted unit is redone. Before its units, each modulus folder is cleared of temporary
//! files a killed run left. Every file is written atomically and durably, so none is ever
//! left half-written, and a re-run after a kill at any moment ends with the files of the run
//! that was never killed.
//!
//! # Sharding
//! `--shard I/N` (0 <= I < N) keeps the moduli whose position in the sorted range is I mod N,
//! so N independent processes (a Slurm job array, GNU parallel) cover the range once.

use crate::error::{Error, Result};
use crate::formats::atomic::{atomic_dir, remove_stale_temps};
use crate::formats::killpoint::kill_point;
use crate::formats::manifest::Manifest;
use crate::formats::table::{fmt_f64, write_table};
use crate::formats::weights::read_weights_any;
use crate::numerics::limits::check_analysable;
use crate::pipelines::lottery::run_lottery_command;
use crate::pipelines::ode::{run_ode_command, ContourGrid, OdeCommand};
use crate::pipelines::plot::{plot, PlotOptions};
use crate::pipelines::train;
use crate::science::analysis::export::analyze_to_dir;
use crate::science::dynamics::lottery::frequency_states;
use crate::science::dynamics::ode::aligned_blowup_time;
use crate::science::dynamics::TimeScale;
use crate::science::fourier::{neuron_features, NetworkSpectra};
use crate::train::config::{BackendKind, TrainConfig, PRESETS};
use crate::train::driver::{Progress, RunOptions};
use std::path::{Path, PathBuf};

/// Smallest p at which the grokking preset is run (SPEC section 5).
pub const GROKKING_MIN_P: usize = 19;

/// Epochs at which the grokking run writes its p x p accuracy grid (besides stage boundaries).
pub const GROKKING_GRID_EPOCHS: [usize; 6] = [0, 1000, 2000, 5000, 10000, 20000];

/// A shard of a sweep: this process takes the moduli at positions `index` mod `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard index.
    pub index: usize,
    /// Number of shards.
    pub count: usize,
}

impl Shard {
    /// The whole range.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with 0 <= I < N.
    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || Error::UnknownName {
            kind: "shard",
            name: s.into(),
            expected: "I/N with 0 <= I < N, e.g. 0/4".into(),
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The odd moduli p with `a <= p <= b` from `A..B` (inclusive), or the single `P`.
pub fn parse_moduli(s: &str) -> Result<Vec<usize>> {
    let bad = || Error::UnknownName {
        kind: "modulus range",
        name: s.into(),
        expected: "A..B with odd A, B >= 3 (inclusive), e.g. 19..31".into(),
    };
    let (a, b) = s.split_once("..").ok_or_else(bad)?;
    let (a, b): (usize, usize) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a > b {
        return Err(bad());
    }
    // Bounded before the list is built: every modulus is analysed.
    check_analysable(b)?;
    let ps: Vec<usize> = (a.max(3)..=b).filter(|p| p % 2 == 1).collect();
    if ps.is_empty() {
        return Err(bad());
    }
    Ok(ps)
}

/// The moduli of `ps` this shard takes.
pub fn shard_moduli(ps: &[usize], shard: Shard) -> Vec<usize> {
    let mut v = ps.to_vec();
    v.sort_unstable();
    v.dedup();
    v.into_iter()
        .enumerate()
        .filter(|(i, _)| i % shard.count == shard.index)
        .map(|(_, p)| p)
        .collect()
}

/// Options of [`reproduce`].
#[derive(Clone, Debug)]
pub struct ReproduceOptions {
    /// Moduli (already sharded).
    pub moduli: Vec<usize>,
    /// Output folder.
    pub out: PathBuf,
    /// Progress reporting.
    pub progress: Progress,
    /// Override every preset's epoch count (for quick runs and tests); `None`: the presets'.
    pub epochs: Option<usize>,
    /// Override every preset's width (for quick runs and tests); `None`: the width formula.
    pub width: Option<usize>,
    /// Draw every figure (`p_PPP/figures/`) at the end of each modulus.
    pub plots: bool,
    /// Backend of the training runs (f32 presets run on CUDA when asked; analyses on the CPU).
    pub backend: BackendKind,
}

/// The presets run at modulus p.
pub fn presets_for(p: usize) -> Vec<&'static str> {
    PRESETS
        .iter()
        .copied()
        .filter(|n| *n != "grokking" || p >= GROKKING_MIN_P)
        .collect()
}

/// What [`reproduce`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReproduceReport {
    /// Units run now.
    pub ran: Vec<String>,
    /// Units found finished and skipped.
    pub skipped: Vec<String>,
}

struct Ctx<'a> {
    opts: &'a ReproduceOptions,
    report: ReproduceReport,
    overall: Option<indicatif::ProgressBar>,
    multi: Option<indicatif::MultiProgress>,
}

impl Ctx<'_> {
    /// Runs `work` unless `marker` exists; records what happened.
    fn unit(
        &mut self,
        name: String,
        marker: &Path,
        work: impl FnOnce(&mut Self) -> Result<()>,
    ) -> Result<()> {
        kill_point("unit");
        if marker.exists() {
            self.report.skipped.push(name);
        } else {
            match self.opts.progress {
                Progress::Lines => eprintln!("reproduce: {name}"),
                Progress::Bar => {
                    if let Some(b) = &self.overall {
                        b.set_message(name.clone());
                    }
                }
                Progress::Quiet => {}
            }
            work(self)?;
            self.report.ran.push(name);
        }
        if let Some(b) = &self.overall {
            b.inc(1);
        }
        Ok(())
    }
}

/// Units per modulus: train + analyse each preset, then ode, lottery, single_freq.
fn units_for(p: usize) -> usize {
    2 * presets_for(p).len() + 3
}

/// Runs (or resumes) the sweep; see the module docs for what is written.
pub fn reproduce(opts: &ReproduceOptions) -> Result<ReproduceReport> {
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    let total: usize = opts.moduli.iter().map(|&p| units_for(p)).sum();
    let (multi, overall) = if opts.progress == Progress::Bar {
        let m = indicatif::MultiProgress::new();
        let b = m.add(indicatif::ProgressBar::new(total as u64));
        b.set_style(
            indicatif::ProgressStyle::with_template("overall [{bar:40}] {pos}/{len} units {msg}")
                .expect("template")
                .progress_chars("=> "),
        );
        (Some(m), Some(b))
    } else {
        (None, None)
    };
    let mut ctx = Ctx {
        opts,
        report: ReproduceReport::default(),
        overall,
        multi,
    };
    // Everything refusable is refused before any work: an odd p >= 3 that can be analysed.
    for &p in &opts.moduli {
        crate::numerics::task::check_modulus(p)?;
        check_analysable(p)?;
    }
    for &p in &opts.moduli {
        reproduce_p(&mut ctx, p)?;
    }
    // The top-level manifest lists every modulus folder present (from any shard).
    let mut man = Manifest::new();
    let mut dirs: Vec<(usize, PathBuf)> = std::fs::read_dir(&opts.out)
        .map_err(|e| Error::io(&opts.out, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let p = n.strip_prefix("p_")?.parse().ok()?;
            e.path()
                .join("manifest.csv")
                .exists()
                .then(|| (p, e.path()))
        })
        .collect();
    dirs.sort();
    for (p, d) in dirs {
        let name = d.file_name().unwrap().to_string_lossy().into_owned();
        man.add(
            name,
            presets_for(p).len(),
            format!("everything for p = {p} (see its figures.csv)"),
        );
    }
    // Shards may write this file at the same time: each through its own temporary name.
    man.write_tagged(&opts.out, &shard_tag(&opts.moduli))?;
    if let Some(b) = &ctx.overall {
        b.finish_and_clear();
    }
    Ok(ctx.report)
}

/// A name for this process's share of a sweep (FNV-1a of its moduli), so that shards writing
/// the same top-level file use different temporary names.
fn shard_tag(moduli: &[usize]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &p in moduli {
        for b in (p as u64).to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("shard{h:016x}")
}

fn config_for(preset: &str, p: usize, opts: &ReproduceOptions) -> Result<TrainConfig> {
    let mut c = TrainConfig::preset(preset, p)?;
    if let Some(e) = opts.epochs {
        c.epochs = e;
        c.checkpoint_every = c.checkpoint_every.min((e / 5).max(1));
    }
    if let Some(w) = opts.width {
        c.width = w;
    }
    if preset == "grokking" {
        c.record.grid_epochs = GROKKING_GRID_EPOCHS
            .iter()
            .copied()
            .filter(|&e| e < c.epochs)
            .collect();
    }
    Ok(c)
}

fn reproduce_p(ctx: &mut Ctx, p: usize) -> Result<()> {
    let base = ctx.opts.out.join(format!("p_{p:03}"));
    // Only this process writes under p_PPP/ (shards split the moduli).
    remove_stale_temps(&base)?;
    let presets = presets_for(p);
    for preset in &presets {
        let dir = base.join("train").join(preset);
        let cfg = config_for(preset, p, ctx.opts)?;
        ctx.unit(
            format!("p={p} train {preset}"),
            &dir.join("manifest.csv"),
            |ctx| {
                let progress = ctx.opts.progress;
                let multi = ctx.multi.clone();
                // A folder with config.json holds a started run: resume it (it starts over
                // when no checkpoint is usable).
                if dir.join("config.json").exists() {
                    train::resume(&dir, None, progress, ctx.opts.backend, multi)?;
                } else {
                    train::run(
                        &cfg,
                        &RunOptions {
                            out: dir.clone(),
                            force: true,
                            progress,
                            multi,
                        },
                        ctx.opts.backend,
                    )?;
                }
                Ok(())
            },
        )?;
    }
    for preset in &presets {
        let dir = base.join("analysis").join(preset);
        let run = base.join("train").join(preset);
        let act = TrainConfig::preset(preset, p)?.activation;
        ctx.unit(
            format!("p={p} analyse {preset}"),
            &dir.join("manifest.csv"),
            |_| {
                let net = read_weights_any(&run.join("final"))?;
                atomic_dir(&dir, |tmp| analyze_to_dir(&net, act, tmp, true))?;
                Ok(())
            },
        )?;
    }
    let ode = base.join("ode");
    ctx.unit(format!("p={p} ode"), &ode.join("manifest.csv"), |_| {
        atomic_dir(&ode, |tmp| ode_unit(p, tmp))
    })?;
    let lot = base.join("lottery");
    let qr = base.join("train/quad_random");
    ctx.unit(format!("p={p} lottery"), &lot.join("manifest.csv"), |_| {
        atomic_dir(&lot, |tmp| lottery_unit(&qr, tmp))
    })?;
    let sf = base.join("single_freq");
    let runs: Vec<(&str, PathBuf)> = ["quad_single_freq", "relu_single_freq"]
        .iter()
        .map(|n| (*n, base.join("train").join(n)))
        .collect();
    ctx.unit(
        format!("p={p} single_freq"),
        &sf.join("manifest.csv"),
        |_| atomic_dir(&sf, |tmp| single_freq_unit(&runs, tmp)),
    )?;
    write_figures(p, &base, ctx.opts.plots)
}

/// Magnitude of the ODE figures' starts (alpha0 = beta0), the lower end of the reference's
/// contour range.
pub const ODE_MAGNITUDE: f64 = 0.01;

fn ode_unit(p: usize, out: &Path) -> Result<()> {
    let c = TimeScale::Sum.rate(p);
    // Horizons: past the aligned blow-up of the figure's start, so every trajectory either
    // aligns and grows to the cap or is seen to leave D = pi.
    let t_star = aligned_blowup_time(ODE_MAGNITUDE, ODE_MAGNITUDE, c);
    let pi = std::f64::consts::PI;
    let cmd = OdeCommand {
        p,
        scale: TimeScale::Sum,
        alpha0: vec![ODE_MAGNITUDE],
        beta0: vec![],
        d0: vec![0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, pi - 1e-3, pi],
        horizon: 3.0 * t_star,
        points: 200,
        contour: Some(ContourGrid {
            magnitude_min: 0.01,
            magnitude_max: 0.02,
            magnitudes: 11,
            d_count: 37,
            horizon: t_star,
        }),
        out: out.to_path_buf(),
    };
    run_ode_command(&cmd)
}

fn lottery_unit(run: &Path, out: &Path) -> Result<()> {
    let init = run.join("checkpoints/epoch_000000");
    run_lottery_command(&init, Some(&run.join("final")), TimeScale::Mean, out)?;
    // The race of neuron 0: alpha_k and D_k for every k at every checkpoint.
    let mut rows = Vec::new();
    for (epoch, dir) in checkpoints(run)? {
        let net = read_weights_any(&dir)?;
        let states = frequency_states(&net, 0);
        for (i, s) in states.iter().enumerate() {
            rows.push(vec![
                epoch.to_string(),
                (i + 1).to_string(),
                fmt_f64(s.alpha),
                fmt_f64(s.beta),
                fmt_f64(crate::science::fourier::wrap(2.0 * s.phi - s.psi)),
            ]);
        }
    }
    let n = write_table(
        &out.join("race.csv"),
        &["epoch", "k", "alpha", "beta", "d"],
        &rows,
    )?;
    // Re-write the manifest with the race added (the lottery command wrote its own first).
    let mut man = read_manifest(out)?;
    man.add(
        "race.csv",
        n,
        "lottery race of neuron 0: alpha_k, beta_k, D_k per checkpoint epoch",
    );
    man.write(out)
}

fn checkpoints(run: &Path) -> Result<Vec<(usize, PathBuf)>> {
    let dir = run.join("checkpoints");
    let mut v: Vec<(usize, PathBuf)> = std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            Some((n.strip_prefix("epoch_")?.parse().ok()?, e.path()))
        })
        .collect();
    v.sort();
    Ok(v)
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join("manifest.csv");
    let mut man = Manifest::new();
    if !path.exists() {
        return Ok(man);
    }
    let mut rdr = csv::Reader::from_path(&path).map_err(|e| Error::Parse {
        path: path.clone(),
        line: 1,
        message: e.to_string(),
    })?;
    for (i, r) in rdr.records().enumerate() {
        let r = r.map_err(|e| Error::Parse {
            path: path.clone(),
            line: i + 2,
            message: e.to_string(),
        })?;
        man.add(
            r.get(0).unwrap_or(""),
            r.get(1).and_then(|s| s.parse().ok()).unwrap_or(0),
            r.get(2).unwrap_or(""),
        );
    }
    Ok(man)
}

fn single_freq_unit(runs: &[(&str, PathBuf)], out: &Path) -> Result<()> {
    let mut feat = Vec::new();
    let mut spec = Vec::new();
    for (name, run) in runs {
        let cks = checkpoints(run)?;
        let picks = [0, cks.len() / 2, cks.len().saturating_sub(1)];
        let mut seen = std::collections::BTreeSet::new();
        for &i in &picks {
            let Some((epoch, dir)) = cks.get(i) else {
                continue;
            };
            if !seen.insert(*epoch) {
                continue;
            }
            let net = read_weights_any(dir)?;
            let spectra = NetworkSpectra::of(&net);
            for f in neuron_features(&spectra) {
                feat.push(vec![
                    name.to_string(),
                    epoch.to_string(),
                    f.m.to_string(),
                    f.freq.to_string(),
                    fmt_f64(f.alpha),
                    fmt_f64(f.phi),
                    fmt_f64(f.beta),
                    fmt_f64(f.psi),
                    fmt_f64(f.misalignment),
                    fmt_f64(f.ipr_in),
                    fmt_f64(f.ipr_out),
                ]);
            }
            for (layer, list) in [("W_in", &spectra.input), ("W_out", &spectra.output)] {
                for (m, s) in list.iter().enumerate() {
                    for (k0, c) in s.components.iter().enumerate() {
                        spec.push(vec![
                            name.to_string(),
                            epoch.to_string(),
                            layer.to_string(),
                            m.to_string(),
                            (k0 + 1).to_string(),
                            fmt_f64(c.magnitude),
                            fmt_f64(c.phase),
                        ]);
                    }
                }
            }
        }
    }
    let mut man = Manifest::new();
    let n = write_table(
        &out.join("snapshots.csv"),
        &[
            "preset", "epoch", "m", "k", "alpha", "phi", "beta", "psi", "d", "ipr_in", "ipr_out",
        ],
        &feat,
    )?;
    man.add(
        "snapshots.csv",
        n,
        "per-neuron features at the first, middle and last checkpoint of each single-frequency run",
    );
    let n = write_table(
        &out.join("spectra.csv"),
        &["preset", "epoch", "layer", "m", "k", "magnitude", "phase"],
        &spec,
    )?;
    man.add(
        "spectra.csv",
        n,
        "per-neuron spectra (k = 1..K) at the same checkpoints",
    );
    man.write(out)
}

/// The figures of SPEC section 8 and the files holding their data, relative to `p_PPP/`.
///
/// (Over 80 lines because it is one table, a row per figure; split, it would be harder to read.)
pub fn figures(p: usize) -> Vec<(&'static str, String, &'static str)> {
    let mut v = vec![];
    for preset in presets_for(p) {
        v.push((
            "training curves",
            format!("train/{preset}/training_log.csv"),
            "train/test loss and accuracy, grad norm, param norm per epoch",
        ));
        v.push((
            "IPR and parameter norm over epochs",
            format!("train/{preset}/progress.csv"),
            "IPR, mean |sin D|, param norm, pair-class accuracies per epoch",
        ));
        v.push((
            "final spectra of W_in and W_out",
            format!("analysis/{preset}/spectrum.csv"),
            "layer, m, k, magnitude, phase, cos and sin sums",
        ));
        v.push((
            "per-neuron features",
            format!("analysis/{preset}/neurons.csv"),
            "dominant k, alpha, phi, beta, psi, D, IPR",
        ));
        v.push((
            "phase-symmetry moments and magnitude distribution",
            format!("analysis/{preset}/frequency_groups.csv"),
            "per frequency group: neurons, moments l = 1..4, magnitude spread",
        ));
        v.push((
            "logits of all pairs",
            format!("analysis/{preset}/logits.csv"),
            "x, y, j, logit",
        ));
    }
    if p >= GROKKING_MIN_P {
        v.push((
            "grokking stage boundaries",
            "train/grokking/stages.csv".into(),
            "first train acc >= 0.95, first test acc >= 0.95, norm peak",
        ));
        v.push((
            "accuracy grids",
            "train/grokking/accuracy_grids.csv".into(),
            "epoch, x, y, correct at chosen epochs and stage boundaries",
        ));
        v.push((
            "memorisation and common-to-rare masks",
            "train/grokking/pair_classes.csv".into(),
            "x, y, class (train_common, train_rare, test_swap_in_train, test_true)",
        ));
        v.push((
            "decoded weights at stage boundaries",
            "train/grokking/stages".into(),
            "weight folder and analysis at each boundary",
        ));
    }
    v.push((
        "decoupled-ODE trajectories",
        "ode/trajectories.csv".into(),
        "run, alpha0, beta0, d0, t, alpha, beta, phi, psi, d",
    ));
    v.push((
        "lottery contour",
        "ode/contour.csv".into(),
        "final beta over initial magnitude x D0",
    ));
    v.push((
        "lottery race of one neuron",
        "lottery/race.csv".into(),
        "epoch, k, alpha, beta, d for neuron 0 of quad_random",
    ));
    v.push((
        "lottery predictions",
        "lottery/predictions.csv".into(),
        "both predictors per neuron and the final winner",
    ));
    v.push((
        "single-frequency snapshots",
        "single_freq/snapshots.csv".into(),
        "per-neuron features at checkpoints",
    ));
    v.push((
        "single-frequency spectra",
        "single_freq/spectra.csv".into(),
        "per-neuron spectra at checkpoints",
    ));
    v
}

/// Writes `figures.csv` and, when `plots`, draws every figure into `figures/` (SVG and
/// `index.html`, [`crate::pipelines::plot`]); then the modulus's manifest.
fn write_figures(p: usize, base: &Path, plots: bool) -> Result<()> {
    let rows: Vec<Vec<String>> = figures(p)
        .into_iter()
        .map(|(f, path, d)| vec![f.to_string(), path, d.to_string()])
        .collect();
    let n = write_table(
        &base.join("figures.csv"),
        &["figure", "path", "columns"],
        &rows,
    )?;
    let mut man = Manifest::new();
    man.add(
        "figures.csv",
        n,
        "which file holds the data of each figure (SPEC section 8)",
    );
    for preset in presets_for(p) {
        man.add(
            format!("train/{preset}"),
            1,
            format!("the {preset} preset's training run (its own manifest)"),
        );
        man.add(
            format!("analysis/{preset}"),
            1,
            format!("Fourier analysis of the {preset} final weights (its own manifest)"),
        );
    }
    man.add(
        "ode",
        1,
        "decoupled-ODE trajectories and lottery contour (its own manifest)",
    );
    man.add(
        "lottery",
        1,
        "lottery predictions, accuracy and the race of neuron 0 (its own manifest)",
    );
    man.add(
        "single_freq",
        1,
        "single-frequency snapshots (its own manifest)",
    );
    if plots {
        let r = plot(
            base,
            &PlotOptions {
                out: None,
                force: true,
            },
        )?;
        man.add(
            "figures",
            r.figures.len(),
            "every figure as SVG with index.html (modadd plot)",
        );
    }
    man.write(base)
}
