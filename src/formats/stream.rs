//! Tables written row by row while a run goes on, and continued when it resumes.

use crate::error::{Error, Result};
use std::fs;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

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
