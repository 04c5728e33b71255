//! The folder manifest: every output folder gets `manifest.csv` with columns
//! `file,rows,description`, one row per file or subfolder written.

use crate::error::Result;
use crate::formats::atomic::{atomic_write, atomic_write_tagged};
use std::path::Path;

/// One line of a folder's manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct ManifestEntry {
    /// Path relative to the folder, with `/` separators.
    pub file: String,
    /// Data rows (header excluded) for CSV files; entries for binary arrays.
    pub rows: usize,
    /// What the file holds.
    pub description: String,
}

/// Collects what a command wrote to a folder and writes `manifest.csv` at the end.
#[derive(Clone, Debug, Default)]
pub struct Manifest {
    /// Entries in the order written.
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// Empty manifest.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a file.
    pub fn add(&mut self, file: impl Into<String>, rows: usize, description: impl Into<String>) {
        let file = file.into();
        self.entries.retain(|e| e.file != file);
        self.entries.push(ManifestEntry {
            file,
            rows,
            description: description.into(),
        });
    }

    /// Writes `dir/manifest.csv` (atomically), entries sorted by file name.
    pub fn write(&self, dir: &Path) -> Result<()> {
        atomic_write(&dir.join("manifest.csv"), |w| self.write_csv(w))
    }

    /// [`Manifest::write`] for a folder other processes may write the manifest of too: through
    /// the temporary name of `tag` ([`atomic_write_tagged`]).
    pub fn write_tagged(&self, dir: &Path, tag: &str) -> Result<()> {
        atomic_write_tagged(&dir.join("manifest.csv"), tag, |w| self.write_csv(w))
    }

    fn write_csv(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let mut entries = self.entries.clone();
        entries.sort_by(|a, b| a.file.cmp(&b.file));
        let mut c = csv::Writer::from_writer(w);
        c.write_record(["file", "rows", "description"])?;
        for e in &entries {
            c.write_record([e.file.as_str(), &e.rows.to_string(), e.description.as_str()])?;
        }
        c.flush()
    }
}
