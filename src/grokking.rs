//! Grokking: progress measures, pair classes, the three stages, memorisation analysis.
//!
//! # Pair classes (for a split of the tied model)
//! - `train_common`: training pairs whose swap (y, x) is also a training pair (x = y included);
//! - `train_rare`: training pairs whose swap is not in the training set;
//! - `test_swap_in_train`: test pairs whose swap is a training pair;
//! - `test_true`: test pairs whose swap is a test pair too.
//!
//! The tied model is symmetric, `f(x, y) = f(y, x)`, so a `test_swap_in_train` pair is
//! classified exactly as its (rare) training swap: memorising the training set answers those
//! test pairs for free. That is the memorisation stage's test accuracy.
//!
//! # Progress measures (per recorded epoch, at the weights before that epoch's update)
//! - IPR (the reference pipeline): per neuron, `A_k^2 = c_k^2 + s_k^2` for k = 1..K (conventions of
//!   [`crate::fourier`]), `IPR = sum_k A_k^4 / (sum_k A_k^2)^2` (0 if all vanish); mean over neurons
//!   of `W_in`'s rows and, separately, of `W_out`'s columns; the value reported is the average of
//!   the two means. 1 means every neuron is a single frequency; 1/K is a flat spectrum.
//! - mean |sin D|: per neuron, k* = argmax_k A_k of theta_m (k >= 1), `phi` = phase of theta_m at
//!   k*, `psi` = phase of xi_m at k*, `D = wrap(2 phi - psi)`; the mean of |sin D| over neurons.
//! - parameter norm; accuracy of each pair class.
//!
//! # Stages (the reference rule)
//! Stage I (memorisation) ends at the first epoch with train accuracy >= 0.95; stage II (fast
//! generalisation) at the first epoch with test accuracy >= 0.95; stage III (clean-up under
//! weight decay) runs to the end. The epoch where the parameter norm peaks is reported too.

use crate::backend::Backend;
use crate::error::Result;
use crate::export::{fmt_f64, write_table, Manifest, StreamTable};
use crate::model::{Activation, Network};
use crate::real::{gemm, Real, Strides};
use crate::task::Split;
use crate::train::EpochRecord;
use std::collections::BTreeSet;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};

/// The class of a pair with respect to a split (see module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PairClass {
    /// Training pair whose swap is also a training pair.
    TrainCommon,
    /// Training pair whose swap is not.
    TrainRare,
    /// Test pair whose swap is a training pair.
    TestSwapInTrain,
    /// Test pair whose swap is a test pair.
    TestTrue,
}

impl PairClass {
    /// All classes in column order.
    pub const ALL: [PairClass; 4] = [
        PairClass::TrainCommon,
        PairClass::TrainRare,
        PairClass::TestSwapInTrain,
        PairClass::TestTrue,
    ];

    /// snake_case name used in CSV files.
    pub fn name(self) -> &'static str {
        match self {
            PairClass::TrainCommon => "train_common",
            PairClass::TrainRare => "train_rare",
            PairClass::TestSwapInTrain => "test_swap_in_train",
            PairClass::TestTrue => "test_true",
        }
    }
}

/// The class of every pair, x-major (`classes[x * p + y]`).
pub fn classify(split: &Split) -> Vec<PairClass> {
    let p = split.p;
    let mut in_train = vec![false; p * p];
    for q in &split.train {
        in_train[q.x as usize * p + q.y as usize] = true;
    }
    (0..p * p)
        .map(|i| {
            let (x, y) = (i / p, i % p);
            match (in_train[i], in_train[y * p + x]) {
                (true, true) => PairClass::TrainCommon,
                (true, false) => PairClass::TrainRare,
                (false, true) => PairClass::TestSwapInTrain,
                (false, false) => PairClass::TestTrue,
            }
        })
        .collect()
}

/// Fraction of each class (in [`PairClass::ALL`] order) among all p^2 pairs.
pub fn class_shares(classes: &[PairClass]) -> [f64; 4] {
    let mut n = [0usize; 4];
    for c in classes {
        n[*c as usize] += 1;
    }
    n.map(|k| k as f64 / classes.len() as f64)
}

/// Accuracy of each class (in [`PairClass::ALL`] order) from a correctness grid; `None` for an
/// empty class.
pub fn class_accuracy(classes: &[PairClass], correct: &[bool]) -> [Option<f64>; 4] {
    let mut hit = [0usize; 4];
    let mut n = [0usize; 4];
    for (c, &ok) in classes.iter().zip(correct) {
        n[*c as usize] += 1;
        hit[*c as usize] += ok as usize;
    }
    std::array::from_fn(|i| (n[i] > 0).then(|| hit[i] as f64 / n[i] as f64))
}

/// Batched Fourier projections of all neurons: two GEMMs per layer against precomputed
/// cos/sin tables (the fast twin of [`crate::fourier::spectrum`], tested against it).
#[derive(Clone, Debug)]
pub struct SpectralProbe {
    p: usize,
    k_max: usize,
    /// cos(w_k j), p x K column-major (k = 1..K).
    cos: Vec<f64>,
    /// sin(w_k j), p x K column-major.
    sin: Vec<f64>,
}

/// Per-neuron cos/sin sums of one layer, neuron-major: `c[m * K + k0]` for k = k0 + 1.
#[derive(Clone, Debug)]
pub struct LayerSums {
    /// Number of neurons M.
    pub width: usize,
    /// c_k per neuron, M x K row-major.
    pub c: Vec<f64>,
    /// s_k per neuron, M x K row-major.
    pub s: Vec<f64>,
}

impl LayerSums {
    /// (c_k, s_k) of neuron m at frequency k (1-based).
    pub fn at(&self, m: usize, k: usize) -> (f64, f64) {
        let i = m * (self.c.len() / self.width) + (k - 1);
        (self.c[i], self.s[i])
    }
}

impl SpectralProbe {
    /// Tables for modulus p.
    pub fn new(p: usize) -> Self {
        let k_max = (p - 1) / 2;
        let mut cos = vec![0.0; p * k_max];
        let mut sin = vec![0.0; p * k_max];
        for k in 1..=k_max {
            for j in 0..p {
                let a = 2.0 * PI * ((k * j) % p) as f64 / p as f64;
                cos[j + (k - 1) * p] = a.cos();
                sin[j + (k - 1) * p] = a.sin();
            }
        }
        SpectralProbe { p, k_max, cos, sin }
    }

    /// Sums of the neurons (rows of the M x p view `sv` of `data`) against the tables, as two
    /// GEMMs in the network's own precision T (f32 runs get f32 SIMD; f64 networks, which the
    /// tests compare with the naive DFT, stay in f64), widened to f64 afterwards.
    fn sums<T: Real>(&self, data: &[T], sv: Strides, width: usize) -> LayerSums {
        let n = width * self.k_max;
        let cos: Vec<T> = self.cos.iter().map(|&v| T::of(v)).collect();
        let sin: Vec<T> = self.sin.iter().map(|&v| T::of(v)).collect();
        let (mut c, mut s) = (vec![T::zero(); n], vec![T::zero(); n]);
        let st = Strides::col_major(self.p, self.k_max);
        // Neuron-major output (the K sums of a neuron contiguous): M x K row-major.
        let so = Strides::col_major(self.k_max, width).t();
        gemm(T::one(), data, sv, &cos, st, T::zero(), &mut c, so);
        gemm(T::one(), data, sv, &sin, st, T::zero(), &mut s, so);
        LayerSums {
            width,
            c: c.iter().map(|v| v.f64()).collect(),
            s: s.iter().map(|v| v.f64()).collect(),
        }
    }

    /// (input-layer sums of theta_m, output-layer sums of xi_m).
    pub fn layer_sums<T: Real>(&self, net: &Network<T>) -> (LayerSums, LayerSums) {
        let (p, m) = (self.p, net.width());
        (
            self.sums(net.w_in.as_slice(), Strides::col_major(m, p), m),
            self.sums(net.w_out.as_slice(), Strides::col_major(p, m).t(), m),
        )
    }

    /// The reference pipeline's IPR (average of the `W_in` and `W_out` means) and the mean
    /// |sin D| over neurons (module docs). One pass per neuron: each energy is computed once;
    /// the dominant frequency is the first k of largest energy.
    pub fn measures<T: Real>(&self, net: &Network<T>) -> (f64, f64) {
        let (si, so) = self.layer_sums(net);
        let width = si.width;
        let (mut ipr_in, mut ipr_out, mut sin_d) = (0.0, 0.0, 0.0);
        for m in 0..width {
            let (mut s2i, mut s4i, mut s2o, mut s4o) = (0.0, 0.0, 0.0, 0.0);
            let (mut best, mut best_e) = (1, -1.0);
            for k0 in 0..self.k_max {
                let i = m * self.k_max + k0;
                let ei = si.c[i] * si.c[i] + si.s[i] * si.s[i];
                let eo = so.c[i] * so.c[i] + so.s[i] * so.s[i];
                s2i += ei;
                s4i += ei * ei;
                s2o += eo;
                s4o += eo * eo;
                if ei > best_e {
                    best_e = ei;
                    best = k0 + 1;
                }
            }
            if s2i > 0.0 {
                ipr_in += s4i / (s2i * s2i);
            }
            if s2o > 0.0 {
                ipr_out += s4o / (s2o * s2o);
            }
            // |sin D| without trigonometry: with phi = atan2(-s, c), psi = atan2(-so, co),
            // sin 2phi = -2 s c / r^2, cos 2phi = (c^2 - s^2) / r^2, cos psi = co / ro,
            // sin psi = -so / ro, so sin(2 phi - psi) = ((c^2 - s^2) so - 2 s c co) / (r^2 ro).
            // A zero vector has phase 0 (atan2(0, 0) = 0).
            let (c, s) = si.at(m, best);
            let (co, so_) = so.at(m, best);
            let r2 = c * c + s * s;
            let ro = co.hypot(so_);
            let (sin2, cos2) = if r2 > 0.0 {
                (-2.0 * s * c / r2, (c * c - s * s) / r2)
            } else {
                (0.0, 1.0)
            };
            let (cos_psi, sin_psi) = if ro > 0.0 {
                (co / ro, -so_ / ro)
            } else {
                (1.0, 0.0)
            };
            sin_d += (sin2 * cos_psi - cos2 * sin_psi).abs();
        }
        let w = width as f64;
        (0.5 * (ipr_in / w + ipr_out / w), sin_d / w)
    }
}

/// One row of `progress.csv`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProgressRow {
    /// Epoch (measured before its update).
    pub epoch: usize,
    /// The training-log metrics of that epoch.
    pub log: EpochRecord,
    /// Reference-pipeline IPR.
    pub ipr: f64,
    /// Mean |sin D| over neurons.
    pub mean_abs_sin_d: f64,
    /// Accuracy per pair class ([`PairClass::ALL`] order); `None` for an empty class.
    pub class_acc: [Option<f64>; 4],
}

/// Header of `progress.csv`.
pub const PROGRESS_HEADER: [&str; 12] = [
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "ipr",
    "mean_abs_sin_d",
    "param_norm",
    "acc_train_common",
    "acc_train_rare",
    "acc_test_swap_in_train",
    "acc_test_true",
];

impl ProgressRow {
    fn fields(&self) -> Vec<String> {
        let opt = |v: Option<f64>| v.map(fmt_f64).unwrap_or_default();
        vec![
            self.epoch.to_string(),
            fmt_f64(self.log.train_loss),
            fmt_f64(self.log.train_acc),
            fmt_f64(self.log.test_loss),
            fmt_f64(self.log.test_acc),
            fmt_f64(self.ipr),
            fmt_f64(self.mean_abs_sin_d),
            fmt_f64(self.log.param_norm),
            opt(self.class_acc[0]),
            opt(self.class_acc[1]),
            opt(self.class_acc[2]),
            opt(self.class_acc[3]),
        ]
    }
}

/// Stage boundaries of a run (module docs), from its training log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stages {
    /// First epoch with train accuracy >= 0.95 (end of stage I).
    pub memorised: Option<usize>,
    /// First epoch with test accuracy >= 0.95 (end of stage II).
    pub generalised: Option<usize>,
    /// Epoch and value of the largest parameter norm (first occurrence).
    pub norm_peak: Option<(usize, f64)>,
    /// Last logged epoch.
    pub last: Option<usize>,
}

/// The accuracy threshold of both stage boundaries.
pub const STAGE_THRESHOLD: f64 = 0.95;

/// Detects the stages from the training log (module docs).
pub fn detect_stages(log: &[EpochRecord]) -> Stages {
    let memorised = log
        .iter()
        .find(|r| r.train_acc >= STAGE_THRESHOLD)
        .map(|r| r.epoch);
    let generalised = log
        .iter()
        .find(|r| r.test_acc >= STAGE_THRESHOLD)
        .map(|r| r.epoch);
    let norm_peak = log
        .iter()
        .fold(None, |best: Option<(usize, f64)>, r| match best {
            Some((_, v)) if v >= r.param_norm => best,
            _ => Some((r.epoch, r.param_norm)),
        });
    Stages {
        memorised,
        generalised,
        norm_peak,
        last: log.last().map(|r| r.epoch),
    }
}

/// What to record during a run.
#[derive(Clone, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct RecordConfig {
    /// Record progress measures every this many epochs (0: never).
    pub every: usize,
    /// Epochs at which to write the p x p accuracy grid (stage boundaries are always added).
    pub grid_epochs: Vec<usize>,
}

/// Writes `progress.csv`, `accuracy_grids.csv`, `pair_classes.csv`, `stages.csv`, and at each
/// stage boundary `stages/<boundary>/` (the weight folder, `epoch.csv`, and the Fourier
/// analysis of [`crate::analysis`] in `analysis/`) of a run.
pub struct Recorder {
    out: PathBuf,
    p: usize,
    probe: SpectralProbe,
    classes: Vec<PairClass>,
    cfg: RecordConfig,
    grid_epochs: BTreeSet<usize>,
    progress: StreamTable,
    grids: StreamTable,
    grid: Vec<bool>,
    memorised: bool,
    generalised: bool,
    activation: Activation,
}

/// Header of `accuracy_grids.csv`.
pub const GRID_HEADER: [&str; 4] = ["epoch", "x", "y", "correct"];

impl Recorder {
    /// Starts the recorder for a run in `out`. When resuming after the checkpoint of epoch
    /// `resume_upto`, rows up to it are kept and `log` (the kept training log) restores which
    /// boundaries were already crossed.
    pub fn new(
        out: &Path,
        split: &Split,
        cfg: &RecordConfig,
        resume_upto: Option<usize>,
        log: &[EpochRecord],
        activation: Activation,
    ) -> Result<Self> {
        let (progress, _) =
            StreamTable::create(&out.join("progress.csv"), &PROGRESS_HEADER, resume_upto)?;
        let (grids, _) =
            StreamTable::create(&out.join("accuracy_grids.csv"), &GRID_HEADER, resume_upto)?;
        let st = detect_stages(log);
        Ok(Recorder {
            out: out.to_path_buf(),
            p: split.p,
            probe: SpectralProbe::new(split.p),
            classes: classify(split),
            grid_epochs: cfg.grid_epochs.iter().copied().collect(),
            cfg: cfg.clone(),
            progress,
            grids,
            grid: Vec::new(),
            memorised: st.memorised.is_some(),
            generalised: st.generalised.is_some(),
            activation,
        })
    }

    /// Records epoch `r` from the backend's state (weights and correctness before the update).
    pub fn on_epoch<T: Real, B: Backend<T>>(&mut self, r: &EpochRecord, b: &B) -> Result<()> {
        let mut boundary = None;
        if !self.memorised && r.train_acc >= STAGE_THRESHOLD {
            self.memorised = true;
            boundary = Some("stage1_end");
        }
        if !self.generalised && r.test_acc >= STAGE_THRESHOLD {
            self.generalised = true;
            boundary = Some(if boundary.is_some() {
                "stage1_and_stage2_end"
            } else {
                "stage2_end"
            });
        }
        let want_row = self.cfg.every > 0 && r.epoch.is_multiple_of(self.cfg.every);
        let want_grid = boundary.is_some() || self.grid_epochs.contains(&r.epoch);
        if !(want_row || want_grid) {
            return Ok(());
        }
        b.correct_grid(&mut self.grid);
        let net = b.network();
        if want_row {
            let (ipr, mean_abs_sin_d) = self.probe.measures(&net);
            let row = ProgressRow {
                epoch: r.epoch,
                log: *r,
                ipr,
                mean_abs_sin_d,
                class_acc: class_accuracy(&self.classes, &self.grid),
            };
            self.progress.write(&row.fields())?;
        }
        if want_grid {
            for (i, &ok) in self.grid.iter().enumerate() {
                self.grids.write(&[
                    r.epoch.to_string(),
                    (i / self.p).to_string(),
                    (i % self.p).to_string(),
                    (ok as u8).to_string(),
                ])?;
            }
        }
        if let Some(name) = boundary {
            let dir = self.out.join("stages").join(name);
            crate::weights::write_weight_folder(&dir, &net)?;
            // The decoded Fourier weights: the full analysis (neurons.csv, spectrum.csv, ...).
            crate::analysis::analyze_to_dir(
                &net.cast(),
                self.activation,
                &dir.join("analysis"),
                true,
            )?;
            write_table(
                &dir.join("epoch.csv"),
                &["epoch"],
                &[vec![r.epoch.to_string()]],
            )?;
        }
        Ok(())
    }

    /// Makes the rows written so far durable (called at checkpoints).
    pub fn flush(&mut self) -> Result<()> {
        self.progress.flush()?;
        self.grids.flush()
    }

    /// Finishes the tables and writes `pair_classes.csv` and `stages.csv` from the full log.
    pub fn finish(self, log: &[EpochRecord], manifest: &mut Manifest) -> Result<()> {
        let out = self.out.clone();
        let p = self.p;
        let n = self.progress.finish()?;
        manifest.add(
            "progress.csv",
            n,
            "progress measures per recorded epoch (before its update): losses, accuracies, IPR, mean |sin D|, norm, pair-class accuracies",
        );
        let n = self.grids.finish()?;
        manifest.add(
            "accuracy_grids.csv",
            n,
            "p x p correctness grids (epoch, x, y, correct) at chosen epochs and stage boundaries",
        );
        let rows: Vec<Vec<String>> = self
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| vec![(i / p).to_string(), (i % p).to_string(), c.name().into()])
            .collect();
        let n = write_table(&out.join("pair_classes.csv"), &["x", "y", "class"], &rows)?;
        manifest.add(
            "pair_classes.csv",
            n,
            "class of every pair with respect to the split",
        );
        let st = detect_stages(log);
        let e = |v: Option<usize>| v.map(|e| e.to_string()).unwrap_or_default();
        let rows = vec![
            vec!["stage1_end".into(), e(st.memorised), String::new()],
            vec!["stage2_end".into(), e(st.generalised), String::new()],
            vec![
                "norm_peak".into(),
                e(st.norm_peak.map(|x| x.0)),
                st.norm_peak.map(|x| fmt_f64(x.1)).unwrap_or_default(),
            ],
            vec!["last_epoch".into(), e(st.last), String::new()],
        ];
        let n = write_table(
            &out.join("stages.csv"),
            &["boundary", "epoch", "value"],
            &rows,
        )?;
        manifest.add(
            "stages.csv",
            n,
            "stage boundaries: first epoch train acc >= 0.95, first epoch test acc >= 0.95, parameter-norm peak",
        );
        if out.join("stages").is_dir() {
            manifest.add(
                "stages",
                [st.memorised, st.generalised].iter().flatten().count(),
                "weights (weight folder) and their Fourier analysis (analysis/) at each stage boundary",
            );
        }
        Ok(())
    }
}
