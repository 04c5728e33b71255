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
//!   [`crate::science::fourier`]), `IPR = sum_k A_k^4 / (sum_k A_k^2)^2` (0 if all vanish); mean over neurons
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

//!
//! | file | concept |
//! |---|---|
//! | this one | pair classes and stage detection |
//! | [`probe`] | the batched spectral probe (IPR, mean \|sin D\|) |
//! | [`recorder`] | the run recorder, an observer of the training driver |

pub mod probe;
pub mod recorder;

use crate::numerics::task::Split;
use crate::train::record::EpochRecord;

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
