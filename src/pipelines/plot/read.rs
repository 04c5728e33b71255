//! Loading the CSV files `modadd` writes, with errors that name the file, the line and the column.
//!
//! [`Table`] holds one file as text; its column accessors parse a whole column at once and report
//! the first bad cell as [`Error::Parse`] with its 1-based line (the header is line 1). Columns are
//! found by name, so the order of columns in a file does not matter and extra columns are ignored.
//! A missing file is [`Error::Io`] with the path. The typed loaders below read exactly the columns
//! the figures draw; each says which ones.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One CSV file with a header row, kept as text.
#[derive(Debug)]
pub struct Table {
    path: PathBuf,
    headers: Vec<String>,
    records: Vec<csv::StringRecord>,
    lines: Vec<usize>,
}

impl Table {
    /// Reads `path`. Errors: [`Error::Io`] if it cannot be opened, [`Error::Parse`] for a record
    /// with the wrong number of fields or invalid UTF-8, or a file without a header.
    pub fn read(path: &Path) -> Result<Table> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(std::io::BufReader::new(file));
        let headers: Vec<String> = rdr
            .headers()
            .map_err(|e| csv_error(path, e))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        if headers.is_empty() || headers.iter().all(|h| h.is_empty()) {
            return Err(Error::Parse {
                path: path.into(),
                line: 1,
                message: "empty file: expected a header row".into(),
            });
        }
        let mut records = Vec::new();
        let mut lines = Vec::new();
        for rec in rdr.records() {
            let rec = rec.map_err(|e| csv_error(path, e))?;
            lines.push(
                rec.position()
                    .map_or(records.len() + 2, |p| p.line() as usize),
            );
            records.push(rec);
        }
        Ok(Table {
            path: path.into(),
            headers,
            records,
            lines,
        })
    }

    /// Reads `path` and checks that it has at least one data row.
    pub fn read_nonempty(path: &Path) -> Result<Table> {
        let t = Table::read(path)?;
        if t.records.is_empty() {
            return Err(Error::Parse {
                path: path.into(),
                line: 2,
                message: "no data rows after the header".into(),
            });
        }
        Ok(t)
    }

    /// The file read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True without data rows.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// True if the header names `name`.
    pub fn has(&self, name: &str) -> bool {
        self.headers.iter().any(|h| h == name)
    }

    /// The 1-based line of data row `row`.
    pub fn line(&self, row: usize) -> usize {
        self.lines[row]
    }

    fn col(&self, name: &str) -> Result<usize> {
        self.headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::Parse {
                path: self.path.clone(),
                line: 1,
                message: format!(
                    "missing column '{name}' (the header has: {})",
                    self.headers.join(", ")
                ),
            })
    }

    /// A parse error at data row `row` of column `name`.
    pub fn error_at(&self, row: usize, message: String) -> Error {
        Error::Parse {
            path: self.path.clone(),
            line: self.lines[row],
            message,
        }
    }

    /// The text of column `name`, trimmed.
    pub fn strings(&self, name: &str) -> Result<Vec<String>> {
        let c = self.col(name)?;
        Ok(self
            .records
            .iter()
            .map(|r| r.get(c).unwrap_or("").trim().to_string())
            .collect())
    }

    /// Column `name` as numbers; every cell must parse (`NaN` and `inf` are accepted).
    pub fn f64s(&self, name: &str) -> Result<Vec<f64>> {
        self.opt_f64s(name)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                v.ok_or_else(|| {
                    self.error_at(i, format!("column '{name}' is empty: expected a number"))
                })
            })
            .collect()
    }

    /// A numeric column where an empty cell means "undefined" (an empty frequency group, a
    /// harmonic that folds onto the constant term): empty cells read as NaN, which the figures
    /// leave out.
    pub fn f64s_or_nan(&self, name: &str) -> Result<Vec<f64>> {
        Ok(self
            .opt_f64s(name)?
            .into_iter()
            .map(|v| v.unwrap_or(f64::NAN))
            .collect())
    }

    /// Column `name` as numbers, `None` for an empty cell.
    pub fn opt_f64s(&self, name: &str) -> Result<Vec<Option<f64>>> {
        let c = self.col(name)?;
        self.records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let s = r.get(c).unwrap_or("").trim();
                if s.is_empty() {
                    Ok(None)
                } else {
                    s.parse::<f64>().map(Some).map_err(|_| {
                        self.error_at(i, format!("column '{name}': '{s}' is not a number"))
                    })
                }
            })
            .collect()
    }

    /// Column `name` as non-negative integers.
    pub fn usizes(&self, name: &str) -> Result<Vec<usize>> {
        self.opt_usizes(name)?
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                v.ok_or_else(|| {
                    self.error_at(
                        i,
                        format!("column '{name}' is empty: expected an integer >= 0"),
                    )
                })
            })
            .collect()
    }

    /// Column `name` as non-negative integers, `None` for an empty cell.
    pub fn opt_usizes(&self, name: &str) -> Result<Vec<Option<usize>>> {
        let c = self.col(name)?;
        self.records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let s = r.get(c).unwrap_or("").trim();
                if s.is_empty() {
                    Ok(None)
                } else {
                    s.parse::<usize>().map(Some).map_err(|_| {
                        self.error_at(i, format!("column '{name}': '{s}' is not an integer >= 0"))
                    })
                }
            })
            .collect()
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line() as usize);
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::io(path, source),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => Error::Parse {
            path: path.into(),
            line,
            message: format!("{len} fields, expected {expected_len} as in the header"),
        },
        csv::ErrorKind::Utf8 { .. } => Error::Parse {
            path: path.into(),
            line,
            message: "invalid UTF-8".into(),
        },
        other => Error::Parse {
            path: path.into(),
            line,
            message: format!("{other:?}"),
        },
    }
}

/// Checks that a 0/1 column holds only 0 or 1.
fn flags(t: &Table, name: &str) -> Result<Vec<bool>> {
    t.usizes(name)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(t.error_at(i, format!("column '{name}': {v} is not 0 or 1"))),
        })
        .collect()
}

/// `training_log.csv` of `modadd train`: columns `epoch, train_loss, train_acc, test_loss,
/// test_acc, grad_norm, param_norm` (`lr` is not drawn).
#[derive(Debug, Clone)]
pub struct TrainingLog {
    /// Epoch of each row.
    pub epoch: Vec<f64>,
    /// Mean training loss.
    pub train_loss: Vec<f64>,
    /// Training accuracy in [0, 1].
    pub train_acc: Vec<f64>,
    /// Test loss.
    pub test_loss: Vec<f64>,
    /// Test accuracy in [0, 1].
    pub test_acc: Vec<f64>,
    /// Euclidean norm of the gradient.
    pub grad_norm: Vec<f64>,
    /// Euclidean norm of all parameters.
    pub param_norm: Vec<f64>,
}

/// Reads `training_log.csv`.
pub fn training_log(path: &Path) -> Result<TrainingLog> {
    let t = Table::read_nonempty(path)?;
    Ok(TrainingLog {
        epoch: t.f64s("epoch")?,
        train_loss: t.f64s("train_loss")?,
        train_acc: t.f64s("train_acc")?,
        test_loss: t.f64s("test_loss")?,
        test_acc: t.f64s("test_acc")?,
        grad_norm: t.f64s("grad_norm")?,
        param_norm: t.f64s("param_norm")?,
    })
}

/// `progress.csv` of `modadd train`: columns `epoch, ipr, mean_abs_sin_d, param_norm,
/// acc_train_common, acc_train_rare, acc_test_swap_in_train, acc_test_true` (class accuracies
/// may be empty: the class has no pairs).
#[derive(Debug, Clone)]
pub struct Progress {
    /// Epoch of each row.
    pub epoch: Vec<f64>,
    /// Pipeline IPR (1 = one frequency per neuron).
    pub ipr: Vec<f64>,
    /// Mean |sin D| over neurons.
    pub mean_abs_sin_d: Vec<f64>,
    /// Parameter norm.
    pub param_norm: Vec<f64>,
    /// Accuracy per pair class, in the order of [`PAIR_CLASSES`].
    pub class_acc: [Vec<Option<f64>>; 4],
}

/// The four pair classes of `pair_classes.csv`, in drawing order.
pub const PAIR_CLASSES: [&str; 4] = [
    "train_common",
    "train_rare",
    "test_swap_in_train",
    "test_true",
];

/// Reads `progress.csv`.
pub fn progress(path: &Path) -> Result<Progress> {
    let t = Table::read_nonempty(path)?;
    Ok(Progress {
        epoch: t.f64s("epoch")?,
        ipr: t.f64s("ipr")?,
        mean_abs_sin_d: t.f64s("mean_abs_sin_d")?,
        param_norm: t.f64s("param_norm")?,
        class_acc: [
            t.opt_f64s("acc_train_common")?,
            t.opt_f64s("acc_train_rare")?,
            t.opt_f64s("acc_test_swap_in_train")?,
            t.opt_f64s("acc_test_true")?,
        ],
    })
}

/// One row of `stages.csv`: `boundary, epoch, value` (epoch empty when not reached).
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// `stage1_end`, `stage2_end`, `norm_peak`, `last_epoch`.
    pub boundary: String,
    /// The epoch, if reached.
    pub epoch: Option<f64>,
    /// The value (the peak norm for `norm_peak`).
    pub value: Option<f64>,
}

/// Reads `stages.csv` (may have no rows).
pub fn stages(path: &Path) -> Result<Vec<Stage>> {
    let t = Table::read(path)?;
    let b = t.strings("boundary")?;
    let e = t.opt_f64s("epoch")?;
    let v = t.opt_f64s("value")?;
    Ok(b.into_iter()
        .zip(e)
        .zip(v)
        .map(|((boundary, epoch), value)| Stage {
            boundary,
            epoch,
            value,
        })
        .collect())
}

/// `accuracy_grids.csv`: one p x p grid of `correct` per epoch (columns `epoch, x, y, correct`).
#[derive(Debug, Clone)]
pub struct Grid {
    /// The epoch.
    pub epoch: usize,
    /// The modulus (grid side).
    pub p: usize,
    /// `correct[x * p + y]`.
    pub correct: Vec<bool>,
}

/// Reads `accuracy_grids.csv`; every grid must cover all p^2 pairs exactly once.
pub fn accuracy_grids(path: &Path) -> Result<Vec<Grid>> {
    let t = Table::read_nonempty(path)?;
    let epoch = t.usizes("epoch")?;
    let x = t.usizes("x")?;
    let y = t.usizes("y")?;
    let c = flags(&t, "correct")?;
    let p = x.iter().chain(&y).max().map_or(0, |m| m + 1);
    let mut order: Vec<usize> = Vec::new();
    for &e in &epoch {
        if !order.contains(&e) {
            order.push(e);
        }
    }
    let mut grids: Vec<Grid> = order
        .iter()
        .map(|&e| Grid {
            epoch: e,
            p,
            correct: vec![false; p * p],
        })
        .collect();
    let mut seen = vec![vec![false; p * p]; grids.len()];
    for i in 0..t.len() {
        let g = order.iter().position(|&e| e == epoch[i]).unwrap_or(0);
        let cell = x[i] * p + y[i];
        if seen[g][cell] {
            return Err(t.error_at(
                i,
                format!(
                    "pair ({}, {}) at epoch {} appears twice",
                    x[i], y[i], epoch[i]
                ),
            ));
        }
        seen[g][cell] = true;
        grids[g].correct[cell] = c[i];
    }
    for (g, s) in grids.iter().zip(&seen) {
        let n = s.iter().filter(|b| **b).count();
        if n != p * p {
            return Err(Error::Shape {
                what: format!("{} at epoch {}", path.display(), g.epoch),
                found: format!("{n} pairs"),
                expected: format!("all {} pairs of a {p} x {p} grid", p * p),
            });
        }
    }
    Ok(grids)
}

/// `pair_classes.csv`: class index (into [`PAIR_CLASSES`]) of every pair (columns `x, y, class`).
#[derive(Debug, Clone)]
pub struct PairClasses {
    /// The modulus.
    pub p: usize,
    /// `class[x * p + y]`, `None` for a pair not listed.
    pub class: Vec<Option<usize>>,
}

/// Reads `pair_classes.csv`.
pub fn pair_classes(path: &Path) -> Result<PairClasses> {
    let t = Table::read_nonempty(path)?;
    let x = t.usizes("x")?;
    let y = t.usizes("y")?;
    let names = t.strings("class")?;
    let p = x.iter().chain(&y).max().map_or(0, |m| m + 1);
    let mut class = vec![None; p * p];
    for (i, n) in names.iter().enumerate() {
        let c = PAIR_CLASSES.iter().position(|k| k == n).ok_or_else(|| {
            t.error_at(
                i,
                format!(
                    "unknown class '{n}': expected one of {}",
                    PAIR_CLASSES.join(", ")
                ),
            )
        })?;
        class[x[i] * p + y[i]] = Some(c);
    }
    Ok(PairClasses { p, class })
}

/// One layer of `spectrum.csv` as a neurons x frequencies matrix of magnitudes.
#[derive(Debug, Clone)]
pub struct LayerSpectrum {
    /// `in`, `out` or `in_y` (or `W_in`, `W_out` in `single_freq/spectra.csv`).
    pub layer: String,
    /// Neurons (rows).
    pub neurons: usize,
    /// The frequencies k of the columns, ascending (0 = the constant term when present).
    pub ks: Vec<usize>,
    /// `magnitude[m * ks.len() + c]`.
    pub magnitude: Vec<f64>,
}

impl LayerSpectrum {
    /// Magnitude of neuron `m` at column `c`.
    pub fn at(&self, m: usize, c: usize) -> f64 {
        self.magnitude[m * self.ks.len() + c]
    }

    /// Neuron `m`'s dominant frequency: the k >= 1 with the largest |magnitude| (smallest k on ties).
    pub fn dominant(&self, m: usize) -> usize {
        let mut best = (0usize, f64::NEG_INFINITY);
        for (c, &k) in self.ks.iter().enumerate() {
            let a = self.at(m, c).abs();
            if k >= 1 && a > best.1 {
                best = (k, a);
            }
        }
        best.0
    }
}

/// Builds layer matrices from parallel columns `layer, m, k, magnitude`; every (m, k) must occur
/// once per layer. `what` names the file (and selection) in errors.
pub fn layer_spectra(
    t: &Table,
    rows: &[usize],
    layer: &[String],
    m: &[usize],
    k: &[usize],
    mag: &[f64],
    what: &str,
) -> Result<Vec<LayerSpectrum>> {
    let mut names: Vec<String> = Vec::new();
    for &i in rows {
        if !names.contains(&layer[i]) {
            names.push(layer[i].clone());
        }
    }
    let mut out = Vec::new();
    for name in names {
        let sel: Vec<usize> = rows.iter().copied().filter(|&i| layer[i] == name).collect();
        let mut ks: Vec<usize> = sel.iter().map(|&i| k[i]).collect();
        ks.sort_unstable();
        ks.dedup();
        let neurons = sel.iter().map(|&i| m[i]).max().map_or(0, |v| v + 1);
        let mut magnitude = vec![f64::NAN; neurons * ks.len()];
        let mut seen = vec![false; neurons * ks.len()];
        for &i in &sel {
            let c = ks.binary_search(&k[i]).unwrap_or(0);
            let cell = m[i] * ks.len() + c;
            if seen[cell] {
                return Err(t.error_at(
                    i,
                    format!("layer {name}, neuron {}, k = {} appears twice", m[i], k[i]),
                ));
            }
            seen[cell] = true;
            magnitude[cell] = mag[i];
        }
        if sel.len() != neurons * ks.len() {
            return Err(Error::Shape {
                what: format!("{what}, layer {name}"),
                found: format!("{} (neuron, k) rows", sel.len()),
                expected: format!(
                    "neurons x frequencies = {neurons} x {} = {}",
                    ks.len(),
                    neurons * ks.len()
                ),
            });
        }
        out.push(LayerSpectrum {
            layer: name,
            neurons,
            ks,
            magnitude,
        });
    }
    Ok(out)
}

/// Reads `spectrum.csv` of `modadd analyze` (columns `layer, m, k, magnitude`), one matrix per layer
/// in file order (`in`, `out`, and `in_y` for untied models).
pub fn spectrum(path: &Path) -> Result<Vec<LayerSpectrum>> {
    let t = Table::read_nonempty(path)?;
    let layer = t.strings("layer")?;
    let m = t.usizes("m")?;
    let k = t.usizes("k")?;
    let mag = t.f64s("magnitude")?;
    let rows: Vec<usize> = (0..t.len()).collect();
    layer_spectra(&t, &rows, &layer, &m, &k, &mag, &path.display().to_string())
}

/// `neurons.csv` of `modadd analyze`: columns `m, freq, alpha, phi, beta, psi, d`.
#[derive(Debug, Clone)]
pub struct Neurons {
    /// Neuron index.
    pub m: Vec<usize>,
    /// Dominant frequency k* (constant excluded).
    pub freq: Vec<usize>,
    /// Input magnitude at k*.
    pub alpha: Vec<f64>,
    /// Input phase at k*.
    pub phi: Vec<f64>,
    /// Output magnitude at k*.
    pub beta: Vec<f64>,
    /// Output phase at k*.
    pub psi: Vec<f64>,
    /// Misalignment D = wrap(2 phi - psi).
    pub d: Vec<f64>,
}

/// Reads `neurons.csv`.
pub fn neurons(path: &Path) -> Result<Neurons> {
    let t = Table::read_nonempty(path)?;
    Ok(Neurons {
        m: t.usizes("m")?,
        freq: t.usizes("freq")?,
        alpha: t.f64s("alpha")?,
        phi: t.f64s("phi")?,
        beta: t.f64s("beta")?,
        psi: t.f64s("psi")?,
        d: t.f64s("d")?,
    })
}

/// `frequency_groups.csv`: columns `k, neurons, moment_1..moment_4, a_mean, a_std, a_min, a_max`.
#[derive(Debug, Clone)]
pub struct FrequencyGroups {
    /// Frequency of each group.
    pub k: Vec<usize>,
    /// Neurons in the group.
    pub neurons: Vec<usize>,
    /// `moments[l - 1][g]` = |mean e^{i l phi}| over group g.
    pub moments: [Vec<f64>; 4],
    /// Mean of a = alpha^2 beta.
    pub a_mean: Vec<f64>,
    /// Standard deviation of a.
    pub a_std: Vec<f64>,
    /// Smallest a.
    pub a_min: Vec<f64>,
    /// Largest a.
    pub a_max: Vec<f64>,
}

/// Reads `frequency_groups.csv`.
pub fn frequency_groups(path: &Path) -> Result<FrequencyGroups> {
    let t = Table::read_nonempty(path)?;
    Ok(FrequencyGroups {
        k: t.usizes("k")?,
        neurons: t.usizes("neurons")?,
        moments: [
            t.f64s_or_nan("moment_1")?,
            t.f64s_or_nan("moment_2")?,
            t.f64s_or_nan("moment_3")?,
            t.f64s_or_nan("moment_4")?,
        ],
        a_mean: t.f64s_or_nan("a_mean")?,
        a_std: t.f64s_or_nan("a_std")?,
        a_min: t.f64s_or_nan("a_min")?,
        a_max: t.f64s_or_nan("a_max")?,
    })
}

/// `logits.csv`: the p x p x p logits (columns `x, y, j, logit`).
#[derive(Debug, Clone)]
pub struct Logits {
    /// The modulus.
    pub p: usize,
    /// `logit[(x * p + y) * p + j]`.
    pub logit: Vec<f64>,
}

impl Logits {
    /// The p logits of pair (x, y).
    pub fn pair(&self, x: usize, y: usize) -> &[f64] {
        let s = (x * self.p + y) * self.p;
        &self.logit[s..s + self.p]
    }
}

/// Reads `logits.csv`; every (x, y, j) must occur exactly once.
pub fn logits(path: &Path) -> Result<Logits> {
    let t = Table::read_nonempty(path)?;
    let x = t.usizes("x")?;
    let y = t.usizes("y")?;
    let j = t.usizes("j")?;
    let v = t.f64s("logit")?;
    let p = x.iter().chain(&y).chain(&j).max().map_or(0, |m| m + 1);
    let mut logit = vec![f64::NAN; p * p * p];
    let mut seen = vec![false; p * p * p];
    for i in 0..t.len() {
        let c = (x[i] * p + y[i]) * p + j[i];
        if seen[c] {
            return Err(t.error_at(
                i,
                format!("({}, {}, j = {}) appears twice", x[i], y[i], j[i]),
            ));
        }
        seen[c] = true;
        logit[c] = v[i];
    }
    if t.len() != p * p * p {
        return Err(Error::Shape {
            what: path.display().to_string(),
            found: format!("{} rows", t.len()),
            expected: format!("p^3 = {} rows (p = {p})", p * p * p),
        });
    }
    Ok(Logits { p, logit })
}

/// `harmonics.csv`: columns `m, layer, r, ratio`.
#[derive(Debug, Clone)]
pub struct Harmonics {
    /// `in` or `out`.
    pub layer: Vec<String>,
    /// Harmonic order r.
    pub r: Vec<usize>,
    /// Magnitude at fold(r k*) over magnitude at k*.
    pub ratio: Vec<f64>,
}

/// Reads `harmonics.csv`.
pub fn harmonics(path: &Path) -> Result<Harmonics> {
    let t = Table::read_nonempty(path)?;
    Ok(Harmonics {
        layer: t.strings("layer")?,
        r: t.usizes("r")?,
        ratio: t.f64s_or_nan("ratio")?,
    })
}

/// `swaps.csv`: columns `activation, even_part, accuracy`.
#[derive(Debug, Clone)]
pub struct Swaps {
    /// Test-time activation.
    pub activation: Vec<String>,
    /// Whether it has a non-zero even part.
    pub even_part: Vec<bool>,
    /// Accuracy on all pairs.
    pub accuracy: Vec<f64>,
}

/// Reads `swaps.csv`.
pub fn swaps(path: &Path) -> Result<Swaps> {
    let t = Table::read_nonempty(path)?;
    let even = t.strings("even_part")?;
    let even_part = even
        .iter()
        .enumerate()
        .map(|(i, s)| match s.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(t.error_at(i, format!("column 'even_part': '{s}' is not true or false"))),
        })
        .collect::<Result<_>>()?;
    Ok(Swaps {
        activation: t.strings("activation")?,
        even_part,
        accuracy: t.f64s("accuracy")?,
    })
}

/// `trajectories.csv` of `modadd ode`: columns `run, d0, t, alpha, beta, d`.
#[derive(Debug, Clone)]
pub struct Trajectories {
    /// Run index of each row.
    pub run: Vec<usize>,
    /// Initial misalignment of the row's run.
    pub d0: Vec<f64>,
    /// Time.
    pub t: Vec<f64>,
    /// Input magnitude.
    pub alpha: Vec<f64>,
    /// Output magnitude.
    pub beta: Vec<f64>,
    /// Misalignment D.
    pub d: Vec<f64>,
}

impl Trajectories {
    /// The row indices of each run, runs in order of first appearance.
    pub fn runs(&self) -> Vec<Vec<usize>> {
        group_rows(&self.run)
    }
}

/// Row indices grouped by key, groups in order of first appearance.
pub fn group_rows<K: PartialEq + Clone>(keys: &[K]) -> Vec<Vec<usize>> {
    let mut order: Vec<K> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        match order.iter().position(|o| o == k) {
            Some(g) => groups[g].push(i),
            None => {
                order.push(k.clone());
                groups.push(vec![i]);
            }
        }
    }
    groups
}

/// Reads `trajectories.csv`.
pub fn trajectories(path: &Path) -> Result<Trajectories> {
    let t = Table::read_nonempty(path)?;
    Ok(Trajectories {
        run: t.usizes("run")?,
        d0: t.f64s("d0")?,
        t: t.f64s("t")?,
        alpha: t.f64s("alpha")?,
        beta: t.f64s("beta")?,
        d: t.f64s("d")?,
    })
}

/// `contour.csv` of `modadd ode`: columns `magnitude, d0, beta, capped_at`.
#[derive(Debug, Clone)]
pub struct Contour {
    /// Initial magnitude alpha0 = beta0.
    pub magnitude: Vec<f64>,
    /// Initial misalignment.
    pub d0: Vec<f64>,
    /// Final beta.
    pub beta: Vec<f64>,
    /// Time beta passed the cap, if it did.
    pub capped_at: Vec<Option<f64>>,
}

/// Reads `contour.csv`.
pub fn contour(path: &Path) -> Result<Contour> {
    let t = Table::read_nonempty(path)?;
    Ok(Contour {
        magnitude: t.f64s("magnitude")?,
        d0: t.f64s("d0")?,
        beta: t.f64s("beta")?,
        capped_at: t.opt_f64s("capped_at")?,
    })
}

/// `lottery/race.csv`: columns `epoch, k, alpha, beta, d`.
#[derive(Debug, Clone)]
pub struct Race {
    /// Epoch of each row.
    pub epoch: Vec<f64>,
    /// Frequency of each row.
    pub k: Vec<usize>,
    /// Input magnitude at k.
    pub alpha: Vec<f64>,
    /// Output magnitude at k.
    pub beta: Vec<f64>,
    /// Misalignment at k.
    pub d: Vec<f64>,
}

/// Reads `race.csv`.
pub fn race(path: &Path) -> Result<Race> {
    let t = Table::read_nonempty(path)?;
    Ok(Race {
        epoch: t.f64s("epoch")?,
        k: t.usizes("k")?,
        alpha: t.f64s("alpha")?,
        beta: t.f64s("beta")?,
        d: t.f64s("d")?,
    })
}

/// `lottery/predictions.csv`: columns `neuron, by_misalignment, by_ode, final_winner` (the last may
/// be empty).
#[derive(Debug, Clone)]
pub struct Predictions {
    /// Frequency predicted by the smallest-|D| rule.
    pub by_misalignment: Vec<usize>,
    /// Frequency predicted by the ODE race.
    pub by_ode: Vec<usize>,
    /// The final dominant frequency, if known.
    pub final_winner: Vec<Option<usize>>,
}

/// Reads `predictions.csv`.
pub fn predictions(path: &Path) -> Result<Predictions> {
    let t = Table::read_nonempty(path)?;
    Ok(Predictions {
        by_misalignment: t.usizes("by_misalignment")?,
        by_ode: t.usizes("by_ode")?,
        final_winner: t.opt_usizes("final_winner")?,
    })
}

/// `lottery/accuracy.csv`: `(rule, accuracy)` rows.
pub fn lottery_accuracy(path: &Path) -> Result<Vec<(String, f64)>> {
    let t = Table::read(path)?;
    Ok(t.strings("rule")?
        .into_iter()
        .zip(t.f64s("accuracy")?)
        .collect())
}

/// `single_freq/snapshots.csv`: columns `preset, epoch, m, k, phi, psi, d`.
#[derive(Debug, Clone)]
pub struct Snapshots {
    /// Preset of each row.
    pub preset: Vec<String>,
    /// Checkpoint epoch.
    pub epoch: Vec<usize>,
    /// Neuron's frequency.
    pub k: Vec<usize>,
    /// Input phase.
    pub phi: Vec<f64>,
    /// Output phase.
    pub psi: Vec<f64>,
    /// Misalignment.
    pub d: Vec<f64>,
}

/// Reads `snapshots.csv`.
pub fn snapshots(path: &Path) -> Result<Snapshots> {
    let t = Table::read_nonempty(path)?;
    Ok(Snapshots {
        preset: t.strings("preset")?,
        epoch: t.usizes("epoch")?,
        k: t.usizes("k")?,
        phi: t.f64s("phi")?,
        psi: t.f64s("psi")?,
        d: t.f64s("d")?,
    })
}

/// One (preset, epoch) block of `single_freq/spectra.csv`.
#[derive(Debug, Clone)]
pub struct SpectraSnapshot {
    /// The preset.
    pub preset: String,
    /// The checkpoint epoch.
    pub epoch: usize,
    /// One matrix per layer (`W_in`, `W_out`).
    pub layers: Vec<LayerSpectrum>,
}

/// Reads `single_freq/spectra.csv` (columns `preset, epoch, layer, m, k, magnitude`), blocks in file
/// order.
pub fn sf_spectra(path: &Path) -> Result<Vec<SpectraSnapshot>> {
    let t = Table::read_nonempty(path)?;
    let preset = t.strings("preset")?;
    let epoch = t.usizes("epoch")?;
    let layer = t.strings("layer")?;
    let m = t.usizes("m")?;
    let k = t.usizes("k")?;
    let mag = t.f64s("magnitude")?;
    let keys: Vec<(String, usize)> = preset.iter().cloned().zip(epoch.iter().copied()).collect();
    group_rows(&keys)
        .into_iter()
        .map(|rows| {
            let (pr, ep) = keys[rows[0]].clone();
            let what = format!("{} ({pr}, epoch {ep})", path.display());
            Ok(SpectraSnapshot {
                layers: layer_spectra(&t, &rows, &layer, &m, &k, &mag, &what)?,
                preset: pr,
                epoch: ep,
            })
        })
        .collect()
}

/// `accuracy_by_width.csv` of `modadd closed-form`: `(width, accuracy)` rows.
pub fn accuracy_by_width(path: &Path) -> Result<(Vec<f64>, Vec<f64>)> {
    let t = Table::read_nonempty(path)?;
    Ok((t.f64s("width")?, t.f64s("accuracy")?))
}

/// `figures.csv` of a `reproduce` modulus folder: `(figure, path, columns)` rows.
pub fn figures_index(path: &Path) -> Result<Vec<(String, String, String)>> {
    let t = Table::read_nonempty(path)?;
    let f = t.strings("figure")?;
    let p = t.strings("path")?;
    let c = t.strings("columns")?;
    Ok(f.into_iter()
        .zip(p)
        .zip(c)
        .map(|((f, p), c)| (f, p, c))
        .collect())
}

/// The single number in a one-column file such as `stages/<boundary>/epoch.csv`.
pub fn single_number(path: &Path, column: &str) -> Result<f64> {
    let t = Table::read_nonempty(path)?;
    Ok(t.f64s(column)?[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn missing_file_names_it() {
        let d = tempfile::tempdir().unwrap();
        let e = training_log(&d.path().join("training_log.csv")).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
        assert!(e.to_string().contains("training_log.csv"), "{e}");
    }

    #[test]
    fn bad_number_names_file_line_and_column() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "race.csv",
            "epoch,k,alpha,beta,d\n0,1,0.1,0.2,0\n200,1,abc,0.2,0\n",
        );
        let e = race(&p).unwrap_err();
        match &e {
            Error::Parse {
                path,
                line,
                message,
            } => {
                assert_eq!(path, &p);
                assert_eq!(*line, 3);
                assert!(
                    message.contains("alpha") && message.contains("abc"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("race.csv:3:"), "{e}");
    }

    #[test]
    fn missing_column_is_line_one() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "contour.csv", "magnitude,d0\n0.01,0\n");
        match contour(&p).unwrap_err() {
            Error::Parse { line, message, .. } => {
                assert_eq!(line, 1);
                assert!(message.contains("'beta'"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ragged_row_and_empty_file() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "a.csv", "width,accuracy\n1,0.5\n2\n");
        match accuracy_by_width(&p).unwrap_err() {
            Error::Parse { line, .. } => assert_eq!(line, 3),
            other => panic!("{other:?}"),
        }
        let p = write(d.path(), "b.csv", "");
        assert!(matches!(
            accuracy_by_width(&p).unwrap_err(),
            Error::Parse { line: 1, .. }
        ));
        let p = write(d.path(), "c.csv", "width,accuracy\n");
        assert!(matches!(
            accuracy_by_width(&p).unwrap_err(),
            Error::Parse { line: 2, .. }
        ));
    }

    #[test]
    fn spectrum_needs_every_cell() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "spectrum.csv",
            "layer,m,k,magnitude\nin,0,0,1\nin,0,1,2\nin,1,0,1\n",
        );
        assert!(matches!(spectrum(&p).unwrap_err(), Error::Shape { .. }));
        let p = write(
            d.path(),
            "spectrum2.csv",
            "layer,m,k,magnitude\nin,0,0,1\nin,0,1,2\nin,1,0,1\nin,1,1,-3\nout,0,1,1\nout,1,1,1\n",
        );
        let s = spectrum(&p).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].neurons, s[0].ks.clone()), (2, vec![0, 1]));
        assert_eq!(s[0].dominant(1), 1);
        assert_eq!(s[1].ks, vec![1]);
    }

    #[test]
    fn grids_must_be_complete() {
        let d = tempfile::tempdir().unwrap();
        let p = write(
            d.path(),
            "g.csv",
            "epoch,x,y,correct\n5,0,0,1\n5,0,1,0\n5,1,0,1\n",
        );
        assert!(matches!(
            accuracy_grids(&p).unwrap_err(),
            Error::Shape { .. }
        ));
        let p = write(d.path(), "g2.csv", "epoch,x,y,correct\n5,0,0,2\n");
        assert!(matches!(
            accuracy_grids(&p).unwrap_err(),
            Error::Parse { line: 2, .. }
        ));
    }
}
