//! The types of the plot pipeline: folder kinds, options, and what was drawn.

use std::path::PathBuf;

/// What kind of `modadd` output folder a path is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FolderKind {
    /// `modadd reproduce --out DIR`: the `p_PPP` folders in it.
    Reproduce {
        /// The moduli and their folders, sorted by p.
        moduli: Vec<(usize, PathBuf)>,
    },
    /// One `p_PPP` folder of `reproduce` (has `figures.csv`).
    Modulus {
        /// The modulus, from the folder name (`None` if the name is not `p_PPP`).
        p: Option<usize>,
    },
    /// A `modadd train` run folder.
    Train,
    /// A `modadd analyze` output folder.
    Analyze,
    /// A `modadd ode` output folder.
    Ode,
    /// A `modadd lottery` output folder.
    Lottery,
    /// A `modadd closed-form` output folder.
    ClosedForm,
}

/// Options of [`plot`](super::plot).
#[derive(Debug, Clone, Default)]
pub struct PlotOptions {
    /// Output folder; `None` = `RUN_DIR/figures`.
    pub out: Option<PathBuf>,
    /// Overwrite an output folder that already holds an `index.html`.
    pub force: bool,
}

/// One written figure.
#[derive(Debug, Clone)]
pub struct PlottedFigure {
    /// The SVG file written.
    pub file: PathBuf,
    /// Its title.
    pub title: String,
    /// What it shows.
    pub caption: String,
    /// The CSV files (and folders) it was drawn from, relative to the run folder.
    pub sources: Vec<PathBuf>,
    /// Size of the SVG in bytes.
    pub bytes: usize,
}

/// What [`plot`](super::plot) did.
#[derive(Debug, Clone)]
pub struct PlotReport {
    /// The folder kind found.
    pub kind: FolderKind,
    /// The output folder.
    pub out: PathBuf,
    /// Every figure written, in index order (all moduli together for a `reproduce` folder).
    pub figures: Vec<PlottedFigure>,
    /// Rows of a `figures.csv` that were not drawn: (`p_PPP/path` or figure name, reason).
    pub skipped: Vec<(String, String)>,
    /// The `index.html` files written (the top one last).
    pub indexes: Vec<PathBuf>,
}
