//! `modadd plot RUN_DIR [--out DIR] [--force]`: SVG figures and an `index.html` from the CSV files
//! of a `modadd` output folder.
//!
//! Only CSV files are read (never weights, JSON or checkpoints), so the figures can be redrawn
//! anywhere the CSV files are. Every figure is drawn completely in memory, then written to a
//! temporary name and renamed, so a figure file is either whole or absent; every figure of a folder
//! is drawn before the first one is written, so a missing or malformed CSV file stops the command
//! with an error naming the file (and line) before anything is written for that folder.
//!
//! # Folders
//!
//! [`plot`] recognises the folder by the files in it ([`detect`]):
//!
//! | folder | recognised by | figures |
//! |---|---|---|
//! | `reproduce --out DIR` (all moduli) | `p_PPP/figures.csv` in sub-folders | each modulus into `DIR/p_PPP/figures/` (with `--out OUT`: `OUT/p_PPP/`), plus `index.html` in the output folder linking them |
//! | one modulus `DIR/p_PPP` | `figures.csv` | one figure per row of `figures.csv` (see [`figure_for_row`]) |
//! | `train` run | `training_log.csv` | training curves, progress measures, and when present grokking stages, accuracy grids, masks, decoded weights at the stage boundaries |
//! | `analyze` | `spectrum.csv` | spectra, phase relation, frequency groups, logits, harmonics, activation swaps |
//! | `closed-form` | `accuracy_by_width.csv` | accuracy by width |
//! | `ode` | `trajectories.csv` or `contour.csv` | trajectories, lottery contour |
//! | `lottery` | `predictions.csv` or `race.csv` | predictions, race |
//!
//! The output folder defaults to `RUN_DIR/figures` for every kind. It holds one SVG per figure,
//! named after the CSV path it draws (`train/standard/training_log.csv` ->
//! `train_standard_training_log.svg`), and `index.html`. An output folder that already holds an
//! `index.html` is refused ([`Error::OutputExists`]) unless `force` is set; with `force` the files
//! are overwritten (other files are left alone).
//!
//! # Marks
//!
//! Every data mark of a figure sits in a `<g class="marks" data-kind=".." data-series=".."
//! data-n="N">` group (N points, bars, whiskers or heatmap cells), inside one
//! `<g class="plot" data-title="panel title">` per panel, so the drawn marks can be checked against
//! the CSV rows.

mod charts;
pub mod figures;
mod index;
pub mod read;
pub mod report;
mod svg;

use crate::error::{Error, Result};
use crate::formats::atomic::atomic_write;
pub use figures::Figure;
pub use report::{FolderKind, PlotOptions, PlotReport, PlottedFigure};
use std::path::{Path, PathBuf};

fn modulus_of(dir: &Path) -> Option<usize> {
    let name = dir.file_name()?.to_str()?;
    name.strip_prefix("p_")?.parse().ok()
}

/// Recognises the kind of `modadd` output folder `dir` is, by the files in it (see the module docs).
/// Errors: [`Error::Io`] (`NotFound`) naming the folder and the files looked for.
pub fn detect(dir: &Path) -> Result<FolderKind> {
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
        ));
    }
    let has = |f: &str| dir.join(f).is_file();
    if has("figures.csv") {
        return Ok(FolderKind::Modulus { p: modulus_of(dir) });
    }
    let mut moduli = vec![];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let path = e.path();
            if let Some(p) = modulus_of(&path) {
                if path.join("figures.csv").is_file() {
                    moduli.push((p, path));
                }
            }
        }
    }
    if !moduli.is_empty() {
        moduli.sort();
        return Ok(FolderKind::Reproduce { moduli });
    }
    if has("training_log.csv") {
        return Ok(FolderKind::Train);
    }
    if has("spectrum.csv") {
        return Ok(FolderKind::Analyze);
    }
    if has("accuracy_by_width.csv") {
        return Ok(FolderKind::ClosedForm);
    }
    if has("trajectories.csv") || has("contour.csv") {
        return Ok(FolderKind::Ode);
    }
    if has("predictions.csv") || has("race.csv") {
        return Ok(FolderKind::Lottery);
    }
    Err(Error::io(
        dir,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "not a modadd output folder: found none of figures.csv or p_PPP/figures.csv (reproduce), training_log.csv (train), spectrum.csv (analyze), accuracy_by_width.csv (closed-form), trajectories.csv or contour.csv (ode), predictions.csv or race.csv (lottery)",
        ),
    ))
}

/// Draws every figure of the `modadd` output folder `run_dir` (see the module docs for the folder
/// kinds and the output layout) and writes them with `index.html`.
///
/// Errors: [`Error::Io`] for a folder that is not a `modadd` output folder, a missing file or a
/// failed write; [`Error::Parse`] (file, line, what is wrong) for a malformed CSV file;
/// [`Error::Shape`] for CSV files whose rows do not fill their grid (spectra, logits, accuracy
/// grids); [`Error::OutputExists`] if the output folder has an `index.html` and `force` is off.
pub fn plot(run_dir: &Path, opts: &PlotOptions) -> Result<PlotReport> {
    let kind = detect(run_dir)?;
    let out = opts.out.clone().unwrap_or_else(|| run_dir.join("figures"));
    let top_index = out.join("index.html");
    if top_index.exists() && !opts.force {
        return Err(Error::OutputExists {
            path: out,
            found: top_index,
        });
    }
    let mut report = PlotReport {
        kind: kind.clone(),
        out: out.clone(),
        figures: vec![],
        skipped: vec![],
        indexes: vec![],
    };
    match &kind {
        FolderKind::Reproduce { moduli } => {
            let mut listed = vec![];
            for (p, dir) in moduli {
                // Each modulus's figures beside its data (`p_PPP/figures/`, where `reproduce`
                // writes them), or under `--out` as `OUT/p_PPP/`.
                let (sub_out, link) = match &opts.out {
                    None => (dir.join("figures"), format!("../p_{p:03}/figures")),
                    Some(o) => (o.join(format!("p_{p:03}")), format!("p_{p:03}")),
                };
                let jobs = modulus_jobs(dir, Some(*p))?;
                let (figs, skipped) = render_and_write(dir, &sub_out, jobs.0, jobs.1)?;
                let page = index::figures_page(
                    &format!("modadd figures, p = {p}"),
                    &folder_name(dir),
                    &figs,
                    &skipped,
                );
                let idx = sub_out.join("index.html");
                write_atomic(&idx, page.as_bytes())?;
                report.indexes.push(idx);
                listed.push((*p, link, figs.len()));
                report.skipped.extend(
                    skipped
                        .into_iter()
                        .map(|(w, r)| (format!("p_{p:03}/{w}"), r)),
                );
                report.figures.extend(figs);
            }
            let page = index::moduli_page("modadd figures", &folder_name(run_dir), &listed);
            write_atomic(&top_index, page.as_bytes())?;
            report.indexes.push(top_index);
        }
        other => {
            let (jobs, skipped) = match other {
                FolderKind::Modulus { p } => modulus_jobs(run_dir, *p)?,
                _ => (folder_jobs(run_dir, other), vec![]),
            };
            let (figs, skipped) = render_and_write(run_dir, &out, jobs, skipped)?;
            let title = match other {
                FolderKind::Modulus { p: Some(p) } => format!("modadd figures, p = {p}"),
                _ => format!("modadd figures: {}", folder_name(run_dir)),
            };
            let page = index::figures_page(&title, &folder_name(run_dir), &figs, &skipped);
            write_atomic(&top_index, page.as_bytes())?;
            report.indexes.push(top_index);
            report.skipped = skipped;
            report.figures = figs;
        }
    }
    Ok(report)
}

fn folder_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().to_string()))
        .unwrap_or_else(|| dir.display().to_string())
}

/// One figure to draw: the SVG file stem and how to draw it.
struct Job {
    stem: String,
    draw: Box<dyn Fn() -> Result<Figure>>,
}

fn job(stem: impl Into<String>, draw: impl Fn() -> Result<Figure> + 'static) -> Job {
    Job {
        stem: stem.into(),
        draw: Box::new(draw),
    }
}

/// True when the CSV file at `path` has a row after its header (a file that cannot be read
/// counts as having rows, so reading it reports the error).
fn has_data_rows(path: &Path) -> bool {
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

fn opt(path: PathBuf) -> Option<PathBuf> {
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
type Skipped = Vec<(String, String)>;

type Jobs = (Vec<Job>, Skipped);

/// The jobs of a `p_PPP` folder: one per row of its `figures.csv`.
fn modulus_jobs(base: &Path, p: Option<usize>) -> Result<Jobs> {
    let rows = read::figures_index(&base.join("figures.csv"))?;
    let mut jobs: Vec<Job> = vec![];
    let mut skipped = vec![];
    for (figure, rel, _) in rows {
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
fn folder_jobs(dir: &Path, kind: &FolderKind) -> Vec<Job> {
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
fn train_jobs(dir: &Path, ctx: &str) -> Vec<Job> {
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
fn analyze_jobs(dir: &Path, ctx: &str) -> Vec<Job> {
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
fn ode_jobs(dir: &Path, ctx: &str) -> Vec<Job> {
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
fn lottery_jobs(dir: &Path, ctx: &str) -> Vec<Job> {
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
fn closed_form_jobs(dir: &Path, ctx: String) -> Vec<Job> {
    let t = dir.join("accuracy_by_width.csv");
    let n = opt(dir.join("neurons.csv"));
    let p = closed_form_p(dir);
    vec![job("accuracy_by_width", move || {
        figures::closed_form(&t, n.as_deref(), p, &ctx)
    })]
}

fn has_stage_analysis(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .any(|e| e.path().join("analysis/spectrum.csv").is_file())
        })
        .unwrap_or(false)
}

/// p of a closed-form folder: the number of columns of `weights/W_in.csv` (headerless CSV).
fn closed_form_p(dir: &Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("weights/W_in.csv")).ok()?;
    let first = text.lines().next()?;
    let n = first.split(',').count();
    (n >= 3).then_some(n)
}

/// Draws every job in memory, then writes the SVGs (atomically) into `out`.
fn render_and_write(
    base: &Path,
    out: &Path,
    jobs: Vec<Job>,
    skipped: Vec<(String, String)>,
) -> Result<(Vec<PlottedFigure>, Skipped)> {
    let mut drawn = Vec::with_capacity(jobs.len());
    for j in &jobs {
        drawn.push((j.stem.clone(), (j.draw)()?));
    }
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut figs = vec![];
    for (stem, fig) in drawn {
        let file = out.join(format!("{stem}.svg"));
        let sources: Vec<PathBuf> = fig
            .sources
            .iter()
            .map(|s| {
                s.strip_prefix(base)
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|_| s.clone())
            })
            .collect();
        // The data files, relative to the plotted folder, close the SVG's description.
        let data = sources
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let svg = fig.svg.replacen(
            "</desc>",
            &format!(" Data: {}.</desc>", svg::escape(&data)),
            1,
        );
        write_atomic(&file, svg.as_bytes())?;
        figs.push(PlottedFigure {
            bytes: svg.len(),
            file,
            title: fig.title,
            caption: fig.caption,
            sources,
        });
    }
    Ok((figs, skipped))
}

/// Writes `bytes` to `path` atomically ([`atomic_write`]): `path` never holds a partial file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    atomic_write(path, |w| w.write_all(bytes))
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

    #[test]
    fn detect_names_what_it_looked_for() {
        let d = tempfile::tempdir().unwrap();
        let e = detect(d.path()).unwrap_err();
        assert!(e.to_string().contains("training_log.csv"), "{e}");
        std::fs::write(d.path().join("contour.csv"), "x\n").unwrap();
        assert_eq!(detect(d.path()).unwrap(), FolderKind::Ode);
        let p = d.path().join("p_011");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("figures.csv"), "figure,path,columns\n").unwrap();
        assert_eq!(detect(&p).unwrap(), FolderKind::Modulus { p: Some(11) });
        assert_eq!(
            detect(d.path()).unwrap(),
            FolderKind::Reproduce {
                moduli: vec![(11, p.clone())]
            }
        );
    }

    #[test]
    fn atomic_write_leaves_no_temporary() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("a/b.svg");
        write_atomic(&f, b"<svg/>").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"<svg/>");
        let names: Vec<_> = std::fs::read_dir(f.parent().unwrap())
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(names.len(), 1);
    }
}
