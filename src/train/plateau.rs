//! The plateau stop of the grokking preset.
//!
//! After the update of epoch e, when e >= 10000 and e is a multiple of 1000: stop if, over the
//! logged epochs e-999..=e, (max - min) < 1e-3 for both losses and < 0.005 for both accuracies.

use crate::train::record::EpochRecord;
use std::collections::VecDeque;

/// Plateau detector over the last 1000 epochs (module docs).
#[derive(Clone, Debug, Default)]
pub struct Plateau {
    window: VecDeque<EpochRecord>,
}

impl Plateau {
    /// Window length (epochs).
    pub const WINDOW: usize = 1000;
    /// First epoch at which a stop may happen.
    pub const START: usize = 10_000;

    /// Records an epoch's metrics.
    pub fn push(&mut self, r: EpochRecord) {
        if self.window.len() == Self::WINDOW {
            self.window.pop_front();
        }
        self.window.push_back(r);
    }

    /// True when epoch `epoch` (just recorded) ends a plateau.
    pub fn stop_at(&self, epoch: usize) -> bool {
        if epoch < Self::START
            || !epoch.is_multiple_of(Self::WINDOW)
            || self.window.len() < Self::WINDOW
        {
            return false;
        }
        let spread = |f: fn(&EpochRecord) -> f64| {
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for r in &self.window {
                lo = lo.min(f(r));
                hi = hi.max(f(r));
            }
            hi - lo
        };
        spread(|r| r.train_loss) < 1e-3
            && spread(|r| r.test_loss) < 1e-3
            && spread(|r| r.train_acc) < 0.005
            && spread(|r| r.test_acc) < 0.005
    }
}
