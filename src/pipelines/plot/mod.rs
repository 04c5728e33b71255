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
//! [`plot`] recognises the folder by the files in it ([`detect`](fn@detect)):
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
mod detect;
pub mod figures;
mod index;
mod jobs;
pub mod read;
pub mod report;
mod svg;

use crate::error::{Error, Result};
use crate::formats::atomic::atomic_write;
pub use detect::detect;
pub use figures::Figure;
pub use jobs::{figure_for_row, stem_of};
use jobs::{folder_jobs, folder_name, modulus_jobs, Job, Skipped};
pub use report::{FolderKind, PlotOptions, PlotReport, PlottedFigure};
use std::path::{Path, PathBuf};

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
