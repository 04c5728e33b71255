//! The figures of each kind of folder, as jobs that draw them: a row of `figures.csv` to its
//! figure ([`figure_for_row`]), and the figures of a train, analyze, ode, lottery or closed-form
//! folder.

use super::figures;
use super::figures::Figure;
use super::read;
use super::report::FolderKind;
use crate::error::Result;
use std::path::{Path, PathBuf};

/// One figure to draw: the SVG file stem and how to draw it.
pub(super) struct Job {
    /// The SVG's file name without `.svg`.
    pub(super) stem: String,
    /// Draws the figure in memory (reading its CSV files).
    pub(super) draw: Box<dyn Fn() -> Result<Figure>>,
}

/// A [`Job`] writing `stem`.svg with `draw`.
pub(super) fn job(stem: impl Into<String>, draw: impl Fn() -> Result<Figure> + 'static) -> Job {
    Job {
        stem: stem.into(),
        draw: Box::new(draw),
    }
}

/// True when the CSV file at `path` has a row after its header (a file that cannot be read
/// counts as having rows, so reading it reports the error).
pub(super) fn has_data_rows(path: &Path) -> bool {
    match std::fs::read_to_string(path) {
        Ok(text) => text.lines().skip(1).any(|l| !l.trim().is_empty()),
        Err(_) => true,
    }
}

/// The SVG file stem of a CSV path relative to the folder: `/` -> `_`, `.csv` dropped.
pub fn stem_of(rel: &str) -> String {
    rel.trim_end_matches(".csv")
        .trim_matches('/')
        .replace(['/', '\\'], "_")
}

/// `path` if it is a file.
pub(super) fn opt(path: PathBuf) -> Option<PathBuf> {
    path.is_file().then_some(path)
}

/// The figure drawn for one row of a `reproduce` `figures.csv`: its `figure` name and `path`
/// (relative to `base`, the `p_PPP` folder). `None` for a figure name this version does not know.
///
/// | `figure` | drawn by |
/// |---|---|
/// | training curves | [`figures::training_curves`] (with the run's `stages.csv`) |
/// | IPR and parameter norm over epochs | [`figures::progress_curves`] (with `stages.csv`) |
/// | final spectra of W_in and W_out | [`figures::spectra`] |
/// | per-neuron features | [`figures::neuron_phases`] |
/// | phase-symmetry moments and magnitude distribution | [`figures::frequency_groups`] |
/// | logits of all pairs | [`figures::logits`] |
/// | grokking stage boundaries | [`figures::grokking`] (with `training_log.csv`, `progress.csv`) |
/// | accuracy grids | [`figures::accuracy_grids`] (with `pair_classes.csv`, `stages.csv`) |
/// | memorisation and common-to-rare masks | [`figures::pair_masks`] |
/// | decoded weights at stage boundaries | [`figures::stage_weights`] |
/// | decoupled-ODE trajectories | [`figures::ode_trajectories`] |
/// | lottery contour | [`figures::lottery_contour`] |
/// | lottery race of one neuron | [`figures::lottery_race`] |
/// | lottery predictions | [`figures::lottery_predictions`] (with `accuracy.csv`) |
/// | single-frequency snapshots | [`figures::sf_snapshots`] |
/// | single-frequency spectra | [`figures::sf_spectra`] |
pub fn figure_for_row(
    base: &Path,
    figure: &str,
    rel: &str,
    p: Option<usize>,
) -> Option<Box<dyn Fn() -> Result<Figure>>> {
    let path = base.join(rel);
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| base.to_path_buf());
    let parts: Vec<&str> = rel.split('/').collect();
    let pstr = p.map(|p| format!("p = {p}"));
    let context = match (parts.as_slice(), &pstr) {
        ([top, preset, ..], Some(ps)) if *top == "train" || *top == "analysis" => {
            format!("{preset}, {ps}")
        }
        ([top, preset, ..], None) if *top == "train" || *top == "analysis" => preset.to_string(),
        (_, Some(ps)) => ps.clone(),
        _ => folder_name(base),
    };
    let f: Box<dyn Fn() -> Result<Figure>> = match figure {
        "training curves" => Box::new(move || {
            figures::training_curves(&path, opt(dir.join("stages.csv")).as_deref(), &context)
        }),
        "IPR and parameter norm over epochs" => Box::new(move || {
            figures::progress_curves(&path, opt(dir.join("stages.csv")).as_deref(), &context)
        }),
        "final spectra of W_in and W_out" => Box::new(move || figures::spectra(&path, &context)),
        "per-neuron features" => Box::new(move || figures::neuron_phases(&path, &context)),
        "phase-symmetry moments and magnitude distribution" => {
            Box::new(move || figures::frequency_groups(&path, &context))
        }
        "logits of all pairs" => Box::new(move || figures::logits(&path, &context)),
        "grokking stage boundaries" => Box::new(move || {
            figures::grokking(
                &path,
                &dir.join("training_log.csv"),
                opt(dir.join("progress.csv")).as_deref(),
                &context,
            )
        }),
        "accuracy grids" => Box::new(move || {
            figures::accuracy_grids(
                &path,
                opt(dir.join("pair_classes.csv")).as_deref(),
                opt(dir.join("stages.csv")).as_deref(),
                &context,
            )
        }),
        "memorisation and common-to-rare masks" => {
            Box::new(move || figures::pair_masks(&path, &context))
        }
        "decoded weights at stage boundaries" => {
            Box::new(move || figures::stage_weights(&path, &context))
        }
        "decoupled-ODE trajectories" => {
            Box::new(move || figures::ode_trajectories(&path, &context))
        }
        "lottery contour" => Box::new(move || figures::lottery_contour(&path, &context)),
        "lottery race of one neuron" => Box::new(move || figures::lottery_race(&path, &context)),
        "lottery predictions" => Box::new(move || {
            figures::lottery_predictions(&path, opt(dir.join("accuracy.csv")).as_deref(), &context)
        }),
        "single-frequency snapshots" => Box::new(move || figures::sf_snapshots(&path, &context)),
        "single-frequency spectra" => Box::new(move || figures::sf_spectra(&path, &context)),
        _ => return None,
    };
    Some(f)
}

/// Rows of a `figures.csv` not drawn: (path, reason).
pub(super) type Skipped = Vec<(String, String)>;

/// The jobs of a folder and the rows of its `figures.csv` left undrawn.
pub(super) type Jobs = (Vec<Job>, Skipped);

/// The `figures.csv` row of the weights decoded at the stage boundaries.
const STAGE_WEIGHTS: &str = "decoded weights at stage boundaries";

/// The jobs of a `p_PPP` folder: one per row of its `figures.csv`.
pub(super) fn modulus_jobs(base: &Path, p: Option<usize>) -> Result<Jobs> {
    let rows = read::figures_index(&base.join("figures.csv"))?;
    let mut jobs: Vec<Job> = vec![];
    let mut skipped = vec![];
    for (figure, rel, _) in rows {
        if figure == STAGE_WEIGHTS && !base.join(&rel).exists() {
            // A grokking run too short to reach a stage boundary saves no weights there (no
            // `stages/`): nothing to draw, said in the index. Any other missing file is an
            // error naming it (the folder is incomplete).
            let why = "no stage boundary was reached: no weights to decode";
            skipped.push((rel.clone(), why.into()));
            continue;
        }
        match figure_for_row(base, &figure, &rel, p) {
            Some(draw) => {
                let mut stem = stem_of(&rel);
                if jobs.iter().any(|j| j.stem == stem) {
                    // Two rows on one path (a folder and a CSV file of the same name): add the figure.
                    stem = format!("{stem}_{}", stem_of(&figure.replace([' ', '-'], "_")));
                }
                jobs.push(Job { stem, draw })
            }
            None => skipped.push((
                rel.clone(),
                format!("figure '{figure}' is not known to this version of modadd plot"),
            )),
        }
    }
    Ok((jobs, skipped))
}

/// The jobs of a single-command folder: every figure whose CSV file is present.
pub(super) fn folder_jobs(dir: &Path, kind: &FolderKind) -> Vec<Job> {
    let ctx = folder_name(dir);
    match kind {
        FolderKind::Train => train_jobs(dir, &ctx),
        FolderKind::Analyze => analyze_jobs(dir, &ctx),
        FolderKind::Ode => ode_jobs(dir, &ctx),
        FolderKind::Lottery => lottery_jobs(dir, &ctx),
        FolderKind::ClosedForm => closed_form_jobs(dir, ctx),
        FolderKind::Reproduce { .. } | FolderKind::Modulus { .. } => vec![],
    }
}

/// The jobs of a `train` folder: the training log always; progress, stages, accuracy grids,
/// pair classes and per-stage weights when their files are present.
pub(super) fn train_jobs(dir: &Path, ctx: &str) -> Vec<Job> {
    let f = |name: &str| dir.join(name);
    let mut jobs = vec![];
    let stages = opt(f("stages.csv"));
    let (c, s) = (ctx.to_string(), stages.clone());
    let log = f("training_log.csv");
    jobs.push(job("training_log", move || {
        figures::training_curves(&log, s.as_deref(), &c)
    }));
    if let Some(pr) = opt(f("progress.csv")) {
        let (c, s) = (ctx.to_string(), stages.clone());
        jobs.push(job("progress", move || {
            figures::progress_curves(&pr, s.as_deref(), &c)
        }));
    }
    if let Some(st) = stages.clone() {
        let c = ctx.to_string();
        let log = f("training_log.csv");
        let pr = opt(f("progress.csv"));
        jobs.push(job("stages", move || {
            figures::grokking(&st, &log, pr.as_deref(), &c)
        }));
    }
    // A run records grids only at chosen epochs and stage boundaries: a header-only file
    // (none recorded) has no figure.
    if let Some(g) = opt(f("accuracy_grids.csv")).filter(|g| has_data_rows(g)) {
        let (c, s) = (ctx.to_string(), stages.clone());
        let pc = opt(f("pair_classes.csv"));
        jobs.push(job("accuracy_grids", move || {
            figures::accuracy_grids(&g, pc.as_deref(), s.as_deref(), &c)
        }));
    }
    if let Some(pc) = opt(f("pair_classes.csv")) {
        let c = ctx.to_string();
        jobs.push(job("pair_classes", move || figures::pair_masks(&pc, &c)));
    }
    let sd = f("stages");
    if has_stage_analysis(&sd) {
        let c = ctx.to_string();
        jobs.push(job("stages_weights", move || {
            figures::stage_weights(&sd, &c)
        }));
    }
    jobs
}

/// The jobs of an `analyze` folder: one per analysis CSV file present.
pub(super) fn analyze_jobs(dir: &Path, ctx: &str) -> Vec<Job> {
    type Draw = fn(&Path, &str) -> Result<Figure>;
    let list: [(&str, Draw); 6] = [
        ("spectrum", figures::spectra),
        ("neurons", figures::neuron_phases),
        ("frequency_groups", figures::frequency_groups),
        ("logits", figures::logits),
        ("harmonics", figures::harmonics),
        ("swaps", figures::swaps),
    ];
    let mut jobs = vec![];
    for (name, draw) in list {
        if let Some(path) = opt(dir.join(format!("{name}.csv"))) {
            let c = ctx.to_string();
            jobs.push(job(name, move || draw(&path, &c)));
        }
    }
    jobs
}

/// The jobs of an `ode` folder: trajectories and the lottery contour, when present.
pub(super) fn ode_jobs(dir: &Path, ctx: &str) -> Vec<Job> {
    let mut jobs = vec![];
    if let Some(t) = opt(dir.join("trajectories.csv")) {
        let c = ctx.to_string();
        jobs.push(job("trajectories", move || {
            figures::ode_trajectories(&t, &c)
        }));
    }
    if let Some(t) = opt(dir.join("contour.csv")) {
        let c = ctx.to_string();
        jobs.push(job("contour", move || figures::lottery_contour(&t, &c)));
    }
    jobs
}

/// The jobs of a `lottery` folder: predictions (with accuracy when present) and the race.
pub(super) fn lottery_jobs(dir: &Path, ctx: &str) -> Vec<Job> {
    let mut jobs = vec![];
    if let Some(t) = opt(dir.join("predictions.csv")) {
        let c = ctx.to_string();
        let a = opt(dir.join("accuracy.csv"));
        jobs.push(job("predictions", move || {
            figures::lottery_predictions(&t, a.as_deref(), &c)
        }));
    }
    if let Some(t) = opt(dir.join("race.csv")) {
        let c = ctx.to_string();
        jobs.push(job("race", move || figures::lottery_race(&t, &c)));
    }
    jobs
}

/// The job of a closed-form folder: accuracy by width (with its neurons when present).
pub(super) fn closed_form_jobs(dir: &Path, ctx: String) -> Vec<Job> {
    let t = dir.join("accuracy_by_width.csv");
    let n = opt(dir.join("neurons.csv"));
    let p = closed_form_p(dir);
    vec![job("accuracy_by_width", move || {
        figures::closed_form(&t, n.as_deref(), p, &ctx)
    })]
}

/// True when a sub-folder of `dir` (a stage snapshot) holds an analysis.
pub(super) fn has_stage_analysis(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .any(|e| e.path().join("analysis/spectrum.csv").is_file())
        })
        .unwrap_or(false)
}

/// p of a closed-form folder: the number of columns of `weights/W_in.csv` (headerless CSV).
pub(super) fn closed_form_p(dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("weights/W_in.csv")).ok()?;
    let first = text.lines().next()?;
    let n = first.split(',').count();
    (n >= 3).then_some(n)
}

/// The name of folder `dir` as a reader knows it (its last component, resolved), for titles.
pub(super) fn folder_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_string()))
        .unwrap_or_else(|| dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_follow_the_csv_path() {
        assert_eq!(
            stem_of("train/standard/training_log.csv"),
            "train_standard_training_log"
        );
        assert_eq!(stem_of("train/grokking/stages"), "train_grokking_stages");
    }
}
