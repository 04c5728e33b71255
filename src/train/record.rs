//! One row of the training log.

use crate::error::{Error, Result};
use crate::formats::table::fmt_f64;
use std::path::Path;

/// One row of the training log.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochRecord {
    /// Epoch index (0-based).
    pub epoch: usize,
    /// Learning rate of this epoch's update.
    pub lr: f64,
    /// Training loss before the update.
    pub train_loss: f64,
    /// Training accuracy before the update.
    pub train_acc: f64,
    /// Test loss before the update (= train loss on a full split).
    pub test_loss: f64,
    /// Test accuracy before the update.
    pub test_acc: f64,
    /// Gradient norm before the update.
    pub grad_norm: f64,
    /// Parameter norm before the update.
    pub param_norm: f64,
}

/// Header of `training_log.csv`.
pub const LOG_HEADER: [&str; 8] = [
    "epoch",
    "lr",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "grad_norm",
    "param_norm",
];

impl EpochRecord {
    /// The CSV fields, in [`LOG_HEADER`] order, shortest round-trip.
    pub fn fields(&self) -> [String; 8] {
        [
            self.epoch.to_string(),
            fmt_f64(self.lr),
            fmt_f64(self.train_loss),
            fmt_f64(self.train_acc),
            fmt_f64(self.test_loss),
            fmt_f64(self.test_acc),
            fmt_f64(self.grad_norm),
            fmt_f64(self.param_norm),
        ]
    }

    pub(crate) fn parse(rec: &csv::StringRecord) -> Option<EpochRecord> {
        let f = |i: usize| rec.get(i)?.parse::<f64>().ok();
        Some(EpochRecord {
            epoch: rec.get(0)?.parse().ok()?,
            lr: f(1)?,
            train_loss: f(2)?,
            train_acc: f(3)?,
            test_loss: f(4)?,
            test_acc: f(5)?,
            grad_norm: f(6)?,
            param_norm: f(7)?,
        })
    }
}

/// The log rows `rows` of the file `path` as records; errors name the file and the line.
pub(crate) fn parse_log(path: &Path, rows: &[csv::StringRecord]) -> Result<Vec<EpochRecord>> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| {
            EpochRecord::parse(r).ok_or_else(|| Error::Parse {
                path: path.to_path_buf(),
                line: i + 2,
                message: "malformed training-log row".into(),
            })
        })
        .collect()
}
