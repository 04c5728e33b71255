//! Tables written row by row while a run goes on, made durable at checkpoints, and cut back and
//! continued when the run resumes.
//!
//! # Recovery
//! Rows are appended to `<name>.partial`. At a checkpoint the driver calls
//! [`StreamTable::sync`] on every table *before* it writes the checkpoint, and stores the
//! returned [`TableMark`]s (bytes and data rows so far) in the checkpoint; [`StreamTable::finish`]
//! renames the file to `<name>` at the end of the run. A kill can leave rows after the last
//! checkpoint, the last of them torn half-way. Resuming from a checkpoint cuts each table back
//! to exactly the bytes its mark records ([`Keep::Mark`]); for checkpoints written before marks
//! existed, to the complete rows whose first column (an epoch) is at most the checkpoint's
//! ([`Keep::UpToEpoch`]). Either way the cut is one `ftruncate` of the file, so a second kill
//! while resuming loses nothing.

use crate::error::{Error, Result};
use crate::formats::atomic::sync_dir;
use crate::formats::killpoint::{kill_due, kill_now};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::{BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Where a streamed table stood when a checkpoint was written: enough to cut it back to exactly
/// that point when the run resumes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableMark {
    /// The table's file name in the run folder (without `.partial`).
    pub file: String,
    /// Bytes of the file (header included) at the checkpoint.
    pub bytes: u64,
    /// Data rows at the checkpoint.
    pub rows: usize,
}

/// How much of an earlier table a run keeps when it opens the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep<'a> {
    /// Nothing: a new run starts the table afresh.
    Nothing,
    /// Exactly the bytes of a checkpoint's mark.
    Mark(&'a TableMark),
    /// The complete rows whose first column (an epoch) is at most this, up to the first row
    /// past it (checkpoints without marks).
    UpToEpoch(usize),
}

/// A CSV table written row by row during a run (module docs).
pub struct StreamTable {
    path: PathBuf,
    partial: PathBuf,
    w: csv::Writer<BufWriter<fs::File>>,
    rows: usize,
}

/// `<path>.partial`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Bytes a table holds on disk: its `.partial` file when there is one, else the finished file,
/// else 0.
pub fn table_len(path: &Path) -> u64 {
    let partial = partial_path(path);
    [partial.as_path(), path]
        .iter()
        .find_map(|p| fs::metadata(p).ok())
        .map_or(0, |m| m.len())
}

fn parse_err(path: &Path, line: usize, message: impl Into<String>) -> Error {
    Error::Parse {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// Reads the records of a kept prefix, checking that it starts with `header`; `line` numbers
/// are 1-based.
fn records_of(path: &Path, header: &[&str], bytes: &[u8]) -> Result<Vec<csv::StringRecord>> {
    let mut rdr = csv::Reader::from_reader(bytes);
    let found = rdr
        .headers()
        .map_err(|e| parse_err(path, 1, e.to_string()))?;
    if found.iter().ne(header.iter().copied()) {
        return Err(parse_err(
            path,
            1,
            format!(
                "header is '{}', expected '{}'",
                found.iter().collect::<Vec<_>>().join(","),
                header.join(",")
            ),
        ));
    }
    rdr.records()
        .enumerate()
        .map(|(i, r)| r.map_err(|e| parse_err(path, i + 2, e.to_string())))
        .collect()
}

/// The length of the prefix of `bytes` that [`Keep::UpToEpoch`]`(upto)` keeps: the header and
/// the complete lines (ending in `\n`) up to the first whose epoch is past `upto`. A torn last
/// line is never kept; a complete line within the kept part whose first column is not an epoch
/// is an error (the file is damaged, not merely cut short).
fn prefix_upto_epoch(path: &Path, bytes: &[u8], upto: usize) -> Result<usize> {
    let mut end = 0;
    for (i, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        if line.last() != Some(&b'\n') {
            break; // torn: written in part when the run was killed
        }
        if i > 0 {
            let first = line.split(|&b| b == b',').next().unwrap_or_default();
            let epoch: usize = std::str::from_utf8(first)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| parse_err(path, i + 1, "first column is not an epoch"))?;
            if epoch > upto {
                break;
            }
        }
        end += line.len();
    }
    Ok(end)
}

/// Data rows of the table at `path` (its `.partial` file, else the finished one) that
/// [`Keep::UpToEpoch`]`(upto)` would keep; 0 when there is no table.
pub fn rows_upto_epoch(path: &Path, upto: usize) -> Result<usize> {
    let partial = partial_path(path);
    let src = if partial.exists() { &partial } else { path };
    let bytes = match fs::read(src) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(src, e)),
    };
    let len = prefix_upto_epoch(src, &bytes, upto)?;
    let lines = bytes[..len].iter().filter(|&&b| b == b'\n').count();
    Ok(lines.saturating_sub(1))
}

/// Cuts `partial` back to what `keep` keeps: the file at its end (`None`: none kept), kept rows.
fn cut_back(
    partial: &Path,
    header: &[&str],
    keep: Keep,
) -> Result<(Option<fs::File>, Vec<csv::StringRecord>)> {
    let mut f = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(partial)
        .map_err(|e| Error::io(partial, e))?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)
        .map_err(|e| Error::io(partial, e))?;
    let len = match keep {
        Keep::Mark(m) => {
            if (bytes.len() as u64) < m.bytes {
                return Err(parse_err(
                    partial,
                    1,
                    format!(
                        "holds {} bytes, the checkpoint's mark needs {}",
                        bytes.len(),
                        m.bytes
                    ),
                ));
            }
            m.bytes as usize
        }
        Keep::UpToEpoch(upto) => prefix_upto_epoch(partial, &bytes, upto)?,
        Keep::Nothing => 0,
    };
    let kept = if len > 0 {
        records_of(partial, header, &bytes[..len])?
    } else {
        Vec::new()
    };
    if let Keep::Mark(m) = keep {
        if kept.len() != m.rows {
            return Err(parse_err(
                partial,
                1,
                format!(
                    "holds {} rows in its first {} bytes, the checkpoint's mark says {}",
                    kept.len(),
                    m.bytes,
                    m.rows
                ),
            ));
        }
    }
    f.set_len(len as u64).map_err(|e| Error::io(partial, e))?;
    f.seek(std::io::SeekFrom::End(0))
        .map_err(|e| Error::io(partial, e))?;
    Ok((if len > 0 { Some(f) } else { None }, kept))
}

impl StreamTable {
    /// Opens the table at `path` with `header`, keeping what `keep` says of an earlier
    /// `.partial` (or, failing that, finished) file, and returns the kept data rows. The kept
    /// part stays where it is (the file is cut with one `ftruncate`) and new rows are appended.
    ///
    /// # Errors
    /// [`Error::Parse`] when the kept part is damaged (with [`Keep::Mark`]: shorter than the
    /// mark, or holding another number of rows); [`Error::Io`] on I/O failures.
    pub fn create(
        path: &Path,
        header: &[&str],
        keep: Keep,
    ) -> Result<(Self, Vec<csv::StringRecord>)> {
        let partial = partial_path(path);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        if keep != Keep::Nothing && !partial.exists() && path.exists() {
            // A finished table (the run was killed while ending): continue it.
            fs::rename(path, &partial).map_err(|e| Error::io(path, e))?;
        }
        if let Keep::Mark(m) = keep {
            if m.bytes > 0 && !partial.exists() {
                return Err(parse_err(
                    &partial,
                    1,
                    format!("missing, the checkpoint's mark needs {} bytes", m.bytes),
                ));
            }
        }
        let (file, kept) = if keep != Keep::Nothing && partial.exists() {
            cut_back(&partial, header, keep)?
        } else {
            (None, Vec::new())
        };
        let fresh = file.is_none();
        let file = match file {
            Some(f) => f,
            None => fs::File::create(&partial).map_err(|e| Error::io(&partial, e))?,
        };
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        let mut t = StreamTable {
            path: path.to_path_buf(),
            partial,
            w: csv::Writer::from_writer(BufWriter::new(file)),
            rows: 0,
        };
        if fresh {
            t.w.write_record(header)
                .map_err(|e| Error::io(&t.partial, std::io::Error::other(e.to_string())))?;
        }
        t.rows = kept.len();
        Ok((t, kept))
    }

    /// Appends one row of formatted fields.
    pub fn write(&mut self, fields: &[String]) -> Result<()> {
        if kill_due("table.row") {
            self.tear(fields);
        }
        self.w
            .write_record(fields)
            .map_err(|e| Error::io(&self.partial, std::io::Error::other(e.to_string())))?;
        self.rows += 1;
        Ok(())
    }

    /// The `table.row` kill point: writes what is buffered and half of this row, then dies.
    fn tear(&mut self, fields: &[String]) -> ! {
        let row = fields.join(",");
        let _ = self.w.flush();
        if let Ok(mut f) = fs::OpenOptions::new().append(true).open(&self.partial) {
            let _ = f.write_all(&row.as_bytes()[..row.len() / 2]);
        }
        kill_now()
    }

    /// Pushes buffered rows to the file and makes them durable (`fsync`); returns the table's
    /// mark (what a checkpoint records).
    pub fn sync(&mut self) -> Result<TableMark> {
        self.flush_mark()?.sync()
    }

    /// Pushes buffered rows to the file (not yet durable) and returns the table's mark with a
    /// handle that makes them durable later, from any thread ([`PendingSync::sync`]), while
    /// rows go on being appended: a checkpoint written in the background.
    pub fn flush_mark(&mut self) -> Result<PendingSync> {
        self.w.flush().map_err(|e| Error::io(&self.partial, e))?;
        let f = self.w.get_ref().get_ref();
        let bytes = f.metadata().map_err(|e| Error::io(&self.partial, e))?.len();
        let file = f.try_clone().map_err(|e| Error::io(&self.partial, e))?;
        Ok(PendingSync {
            mark: TableMark {
                file: self
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                bytes,
                rows: self.rows,
            },
            file,
            path: self.partial.clone(),
        })
    }

    /// Data rows written so far (kept rows included).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Syncs and renames `<name>.partial` to `<name>` (then syncs the folder); returns the
    /// number of data rows.
    pub fn finish(mut self) -> Result<usize> {
        self.sync()?;
        let rows = self.rows;
        let (partial, path) = (self.partial.clone(), self.path.clone());
        drop(self.w);
        fs::rename(&partial, &path).map_err(|e| Error::io(&path, e))?;
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        Ok(rows)
    }
}

/// A table's mark whose bytes are written but not yet durable ([`StreamTable::flush_mark`]).
#[derive(Debug)]
pub struct PendingSync {
    mark: TableMark,
    file: fs::File,
    path: PathBuf,
}

impl PendingSync {
    /// Makes the table durable up to (at least) its mark (`fsync` of the file, whose later
    /// rows may be included) and returns the mark.
    pub fn sync(self) -> Result<TableMark> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(self.mark)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: [&str; 2] = ["epoch", "v"];

    fn table(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("t.csv");
        fs::write(partial_path(&path), text).unwrap();
        path
    }

    #[test]
    fn keeping_up_to_an_epoch_drops_a_torn_row_and_later_rows() {
        let d = tempfile::tempdir().unwrap();
        // "1" of the torn row must not be read as epoch 1.
        let path = table(d.path(), "epoch,v\n0,a\n1,b\n2,c\n1");
        assert_eq!(rows_upto_epoch(&path, 5).unwrap(), 3);
        let (mut t, kept) = StreamTable::create(&path, &HEADER, Keep::UpToEpoch(1)).unwrap();
        assert_eq!(kept.len(), 2);
        t.write(&["2".into(), "z".into()]).unwrap();
        assert_eq!(t.finish().unwrap(), 3);
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "epoch,v\n0,a\n1,b\n2,z\n"
        );
    }

    #[test]
    fn keeping_a_mark_cuts_to_its_bytes_and_checks_its_rows() {
        let d = tempfile::tempdir().unwrap();
        let text = "epoch,v\n0,a\n1,b\n2,";
        let path = table(d.path(), text);
        let mark = |bytes: u64, rows| TableMark {
            file: "t.csv".into(),
            bytes,
            rows,
        };
        let at_1 = mark("epoch,v\n0,a\n1,b\n".len() as u64, 2);
        let e = StreamTable::create(&path, &HEADER, Keep::Mark(&mark(at_1.bytes, 3)));
        assert!(e.err().unwrap().to_string().contains("mark says 3"));
        let e = StreamTable::create(&path, &HEADER, Keep::Mark(&mark(99, 2)));
        assert!(e.err().unwrap().to_string().contains("needs 99"));
        let (t, kept) = StreamTable::create(&path, &HEADER, Keep::Mark(&at_1)).unwrap();
        assert_eq!((kept.len(), t.rows()), (2, 2));
        drop(t);
        assert_eq!(
            fs::read(partial_path(&path)).unwrap().len() as u64,
            at_1.bytes
        );
    }

    #[test]
    fn a_damaged_kept_part_is_an_error_naming_the_line() {
        let d = tempfile::tempdir().unwrap();
        let path = table(d.path(), "epoch,v\n0,a\nx,b\n");
        let e = StreamTable::create(&path, &HEADER, Keep::UpToEpoch(3))
            .err()
            .unwrap();
        assert!(
            e.to_string().contains(":3: first column is not an epoch"),
            "{e}"
        );
        let path = table(d.path(), "step,v\n0,a\n");
        let e = StreamTable::create(&path, &HEADER, Keep::UpToEpoch(3))
            .err()
            .unwrap();
        assert!(e.to_string().contains("expected 'epoch,v'"), "{e}");
    }

    #[test]
    fn a_finished_table_is_continued() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("t.csv");
        fs::write(&path, "epoch,v\n0,a\n1,b\n").unwrap();
        let (t, kept) = StreamTable::create(&path, &HEADER, Keep::UpToEpoch(0)).unwrap();
        assert_eq!(kept.len(), 1);
        assert!(!path.exists() && partial_path(&path).exists());
        assert_eq!(t.finish().unwrap(), 1);
        assert_eq!(fs::read_to_string(&path).unwrap(), "epoch,v\n0,a\n");
    }
}
