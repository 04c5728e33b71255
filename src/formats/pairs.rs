//! The pairs file: a CSV list of pairs (x, y) with header `x,y`, read by `--train-pairs` and
//! `--pairs` and written as a run's `train_pairs.csv`.

use crate::error::{Error, Result};
use crate::numerics::task::Pair;
use std::path::Path;

/// Reads pairs from a CSV file with header `x,y` (extra columns are ignored).
///
/// Errors name the file and the 1-based line of a malformed row; pairs are checked against `p`.
pub fn read_pairs_csv(path: &Path, p: usize) -> Result<Vec<(usize, usize)>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(file);
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
