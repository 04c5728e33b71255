//! The pairs file: a CSV list of pairs (x, y) with header `x,y`, read by `--train-pairs` and
//! `--pairs` and written as a run's `train_pairs.csv`.

use crate::error::{Error, Result};
use crate::numerics::limits::at_most;
use crate::numerics::task::Pair;
use std::io::Read;
use std::path::Path;

/// A reader that fails once a line runs past [`PAIRS_MAX_LINE`] bytes, so the CSV reader never
/// buffers a longer record.
struct LineGuard<R> {
    inner: R,
    /// Bytes since the last newline.
    run: usize,
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            self.run = if b == b'\n' { 0 } else { self.run + 1 };
            if self.run > PAIRS_MAX_LINE {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("a line longer than {PAIRS_MAX_LINE} bytes"),
                ));
            }
        }
        Ok(n)
    }
}

/// Longest line of a pairs file: two numbers below p fit in a dozen bytes; the rest is room
/// for extra columns (ignored).
pub const PAIRS_MAX_LINE: usize = 4096;

/// Reads pairs from a CSV file with header `x,y` (extra columns are ignored).
///
/// Errors name the file and the 1-based line of a malformed row; pairs are checked against `p`.
///
/// # Limits
/// At most p^2 rows (there are only p^2 pairs) and lines of at most [`PAIRS_MAX_LINE`] bytes,
/// both checked while reading, so memory stays within 16 bytes per row plus one line.
pub fn read_pairs_csv(path: &Path, p: usize) -> Result<Vec<(usize, usize)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(LineGuard {
            inner: std::io::BufReader::new(file),
            run: 0,
        });
    let parse_err = |line: usize, message: String| Error::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let headers = rdr
        .headers()
        .map_err(|e| parse_err(1, e.to_string()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (cx, cy) = match (col("x"), col("y")) {
        (Some(a), Some(b)) => (a, b),
        _ => {
            return Err(parse_err(
                1,
                format!(
                    "header is '{}', expected columns x,y",
                    headers.iter().collect::<Vec<_>>().join(",")
                ),
            ))
        }
    };
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec.map_err(|e| parse_err(line, e.to_string()))?;
        let get = |c: usize, name: &str| -> Result<usize> {
            let s = rec.get(c).unwrap_or("");
            s.parse::<usize>().map_err(|_| {
                parse_err(
                    line,
                    format!("{name} = '{s}' is not a non-negative integer"),
                )
            })
        };
        at_most(
            &format!("{}: rows", path.display()),
            i + 1,
            p.saturating_mul(p),
            "p^2: there are only p^2 pairs (x, y)",
        )?;
        let (x, y) = (get(cx, "x")?, get(cy, "y")?);
        if x >= p || y >= p {
            return Err(parse_err(
                line,
                format!("pair ({x}, {y}) is outside Z_p x Z_p with p = {p}"),
            ));
        }
        out.push((x, y));
    }
    Ok(out)
}

/// Writes pairs as CSV with header `x,y`.
pub fn write_pairs_csv<W: std::io::Write>(w: W, pairs: &[Pair]) -> std::io::Result<()> {
    let mut wtr = csv::Writer::from_writer(w);
    wtr.write_record(["x", "y"])?;
    for q in pairs {
        wtr.write_record([q.x.to_string(), q.y.to_string()])?;
    }
    wtr.flush()
}
