//! Writing results: atomic files, number formatting, CSV tables and the folder manifest.
//!
//! Every file is written to a temporary name beside its destination and renamed into place, so
//! a reader never sees half a file and an interrupted run leaves the old file (or none) intact.
//! Numbers are written in the shortest decimal form that reads back to the same value
//! ([`fmt_real`]). Every output folder gets `manifest.csv` with columns `file,rows,description`.

use crate::error::{Error, Result};
use crate::real::Real;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Writes a file atomically: `fill` writes into a temporary file beside `path`, which is then
/// synced and renamed onto `path`. Parent folders are created.
pub fn atomic_write<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> std::io::Result<()>,
{
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let f = fs::File::create(&tmp)?;
        let mut w = BufWriter::new(f);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(())
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Shortest decimal that reads back to exactly `v` (Rust's `Display`, or `LowerExp` for very
/// small or large magnitudes so that, e.g., 1e-30 is not written with 30 zeros).
pub fn fmt_real<T: Real>(v: T) -> String {
    let a = v.abs().f64();
    if v.is_finite() && a != 0.0 && !(1e-4..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Shortest round-trip form of an f64 (see [`fmt_real`]).
pub fn fmt_f64(v: f64) -> String {
    fmt_real(v)
}

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
        let mut entries = self.entries.clone();
        entries.sort_by(|a, b| a.file.cmp(&b.file));
        atomic_write(&dir.join("manifest.csv"), |w| {
            let mut c = csv::Writer::from_writer(w);
            c.write_record(["file", "rows", "description"])?;
            for e in &entries {
                c.write_record([e.file.as_str(), &e.rows.to_string(), e.description.as_str()])?;
            }
            c.flush()
        })
    }
}

/// Writes a CSV table atomically: a header and rows of already formatted fields.
/// Returns the number of data rows.
pub fn write_table(path: &Path, header: &[&str], rows: &[Vec<String>]) -> Result<usize> {
    atomic_write(path, |w| {
        let mut c = csv::Writer::from_writer(w);
        c.write_record(header)?;
        for r in rows {
            c.write_record(r)?;
        }
        c.flush()
    })?;
    Ok(rows.len())
}

/// Relative path with `/` separators, for manifests.
pub fn rel(base: &Path, path: &Path) -> String {
    let r: PathBuf = path.strip_prefix(base).unwrap_or(path).to_path_buf();
    r.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A CSV table written row by row during a run: rows go to `<name>.partial`, which
/// [`StreamTable::flush`] makes durable (at checkpoints) and [`StreamTable::finish`] renames to
/// `<name>`. A killed run leaves the `.partial` file, which resuming truncates and continues.
pub struct StreamTable {
    path: PathBuf,
    partial: PathBuf,
    w: csv::Writer<BufWriter<fs::File>>,
    rows: usize,
}

impl StreamTable {
    /// Starts the table at `path` with `header`. With `keep_upto = Some(e)` (resuming), the
    /// rows of an earlier `.partial` (or, failing that, finished) file whose first column (an
    /// epoch) is at most `e` are kept and returned; later rows are dropped.
    pub fn create(
        path: &Path,
        header: &[&str],
        keep_upto: Option<usize>,
    ) -> Result<(Self, Vec<csv::StringRecord>)> {
        let partial = {
            let mut s = path.as_os_str().to_owned();
            s.push(".partial");
            PathBuf::from(s)
        };
        let mut kept = Vec::new();
        if let Some(upto) = keep_upto {
            let src = if partial.exists() { &partial } else { path };
            if src.exists() {
                let mut rdr = csv::Reader::from_path(src).map_err(|e| Error::Parse {
                    path: src.to_path_buf(),
                    line: 1,
                    message: e.to_string(),
                })?;
                for (i, rec) in rdr.records().enumerate() {
                    let rec = rec.map_err(|e| Error::Parse {
                        path: src.to_path_buf(),
                        line: i + 2,
                        message: e.to_string(),
                    })?;
                    let epoch: usize =
                        rec.get(0)
                            .and_then(|s| s.parse().ok())
                            .ok_or_else(|| Error::Parse {
                                path: src.to_path_buf(),
                                line: i + 2,
                                message: "first column is not an epoch".into(),
                            })?;
                    if epoch <= upto {
                        kept.push(rec);
                    }
                }
            }
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let file = fs::File::create(&partial).map_err(|e| Error::io(&partial, e))?;
        let mut t = StreamTable {
            path: path.to_path_buf(),
            partial,
            w: csv::Writer::from_writer(BufWriter::new(file)),
            rows: 0,
        };
        t.write_record(header.iter().copied())?;
        t.rows = 0;
        for r in &kept {
            t.write_record(r.iter())?;
        }
        Ok((t, kept))
    }

    fn write_record<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) -> Result<()> {
        self.w
            .write_record(fields)
            .map_err(|e| Error::io(&self.partial, std::io::Error::other(e.to_string())))?;
        self.rows += 1;
        Ok(())
    }

    /// Appends one row of formatted fields.
    pub fn write(&mut self, fields: &[String]) -> Result<()> {
        self.write_record(fields.iter().map(|s| s.as_str()))
    }

    /// Pushes buffered rows to the file.
    pub fn flush(&mut self) -> Result<()> {
        self.w.flush().map_err(|e| Error::io(&self.partial, e))
    }

    /// Data rows written so far (kept rows included).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Flushes and renames `<name>.partial` to `<name>`; returns the number of data rows.
    pub fn finish(mut self) -> Result<usize> {
        self.flush()?;
        let rows = self.rows;
        let (partial, path) = (self.partial.clone(), self.path.clone());
        drop(self.w);
        fs::rename(&partial, &path).map_err(|e| Error::io(&path, e))?;
        Ok(rows)
    }
}
