//! Pairs prepared for the hot loop: operands, labels and multiplicities.
//!
//! The tied model is symmetric in (x, y); when the task's labels are too (addition), the pairs
//! (x, y) and (y, x) have identical logits and gradients. [`Batch::new`] then keeps one
//! representative per (unordered pair, label) with weight w_i = the number of times it occurs
//! (1 or 2 for a set of distinct pairs), which halves the work on swap-closed data and is exact
//! on any subset. Losses and accuracies are still normalised by the number of ordered pairs.

use crate::numerics::network::Tying;
use crate::numerics::real::Real;
use crate::numerics::task::Pair;
use std::collections::BTreeMap;

/// Pairs prepared for the hot loop: operands, labels and multiplicities.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch<T: Real> {
    /// First operands.
    pub x: Vec<u32>,
    /// Second operands.
    pub y: Vec<u32>,
    /// Labels.
    pub label: Vec<u32>,
    /// Multiplicity of each row (1, or 2 for a merged (x, y)/(y, x)).
    pub weight: Vec<T>,
    /// Number of ordered pairs represented (sum of weights): the n of the mean losses.
    pub n: usize,
    /// True when rows stand for both orders (x, y) and (y, x) (tied model): the row holds
    /// (min, max) and its results apply to either order.
    pub merged: bool,
}

impl<T: Real> Batch<T> {
    /// Prepares `pairs` for a model of the given tying.
    ///
    /// For a tied model, pairs (x, y) and (y, x) with the same label are merged into one row of
    /// weight 2 (exact: their logits and gradients coincide). Rows are then ordered by
    /// (min(x, y), max(x, y), label). Otherwise the pairs are kept as they are, weight 1.
    pub fn new(pairs: &[Pair], tying: Tying) -> Self {
        if tying == Tying::Tied {
            // Key on the label too, so the merge is exact for any task: rows with the same
            // unordered operands and label have identical logits and gradients.
            let mut map: BTreeMap<(u32, u32, u32), u32> = BTreeMap::new();
            for q in pairs {
                *map.entry((q.x.min(q.y), q.x.max(q.y), q.label))
                    .or_insert(0) += 1;
            }
            let mut b = Batch::empty();
            b.merged = true;
            for ((a, c, l), w) in map {
                b.x.push(a);
                b.y.push(c);
                b.label.push(l);
                b.weight.push(T::of(w as f64));
                b.n += w as usize;
            }
            return b;
        }
        Self::plain(pairs)
    }

    /// Prepares `pairs` as they are, each with weight 1 (no merging).
    pub fn plain(pairs: &[Pair]) -> Self {
        Batch {
            x: pairs.iter().map(|q| q.x).collect(),
            y: pairs.iter().map(|q| q.y).collect(),
            label: pairs.iter().map(|q| q.label).collect(),
            weight: vec![T::one(); pairs.len()],
            n: pairs.len(),
            merged: false,
        }
    }

    fn empty() -> Self {
        Batch {
            x: vec![],
            y: vec![],
            label: vec![],
            weight: vec![],
            n: 0,
            merged: false,
        }
    }

    /// Number of rows (after merging).
    pub fn rows(&self) -> usize {
        self.x.len()
    }
}
