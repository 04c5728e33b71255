//! Tasks, the dataset of pairs, and train/test splits.
//!
//! The full dataset is every pair (x, y) in Z_p x Z_p listed x-major: index `x * p + y`.
//! A split draws one seeded permutation of those p^2 indices (Fisher–Yates driven by
//! `ChaCha8Rng::seed_from_u64(seed)`), puts the first `floor(f * p^2)` in the training set and the
//! rest in the test set. With `f = 1` the training and test sets are both the full dataset.
//! (The split uses ChaCha stream [`SPLIT_STREAM`] = 1; initialisers use stream 0 of the same seed,
//! so one seed fixes both without the two sharing random numbers.)
//! A split can also be given as an explicit list of training pairs ([`Split::from_train_pairs`]);
//! the test set is then every pair not in that list.

use crate::error::{Error, Result};
use crate::numerics::limits::{at_most, MAX_P};
use crate::numerics::rng::shuffle;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// ChaCha stream used for the split permutation.
pub const SPLIT_STREAM: u64 = 1;

/// Checks that `p` is an odd modulus with 3 <= p <= [`MAX_P`].
///
/// # Errors
/// [`Error::InvalidModulus`] for an even p or one below 3, [`Error::TooLarge`] above the limit.
pub fn check_modulus(p: usize) -> Result<usize> {
    if !(p >= 3 && p % 2 == 1) {
        return Err(Error::InvalidModulus { p });
    }
    at_most("modulus p", p, MAX_P, "the largest modulus accepted")?;
    Ok(p)
}

/// The function of (x, y) the network must learn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Task {
    /// (x + y) mod p (the paper's task).
    Add,
    /// (x - y) mod p (Gromov).
    Sub,
    /// (a x + b y) mod p (Gromov).
    Linear {
        /// Coefficient of x.
        a: u64,
        /// Coefficient of y.
        b: u64,
    },
}

impl Task {
    /// The label of (x, y) modulo p.
    pub fn label(&self, x: usize, y: usize, p: usize) -> usize {
        match *self {
            Task::Add => (x + y) % p,
            Task::Sub => (x + p - y) % p,
            Task::Linear { a, b } => {
                let p64 = p as u64;
                (((a % p64) * x as u64 + (b % p64) * y as u64) % p64) as usize
            }
        }
    }

    /// The command-line name: `add`, `sub`, `linear:A,B` (what [`Task::parse`] reads).
    pub fn name(&self) -> String {
        match *self {
            Task::Add => "add".into(),
            Task::Sub => "sub".into(),
            Task::Linear { a, b } => format!("linear:{a},{b}"),
        }
    }

    /// True when label(x, y) = label(y, x) for all pairs, so a tied model's x <-> y symmetry can be
    /// exploited (and the tied model can represent the task at all).
    pub fn is_symmetric(&self, p: usize) -> bool {
        match *self {
            Task::Add => true,
            Task::Sub => false,
            Task::Linear { a, b } => (a % p as u64) == (b % p as u64),
        }
    }

    /// Parses `add`, `sub` or `linear:A,B`.
    pub fn parse(s: &str) -> Result<Task> {
        let unknown = || Error::UnknownName {
            kind: "task",
            name: s.to_string(),
            expected: "add, sub, linear:A,B".into(),
        };
        match s {
            "add" => Ok(Task::Add),
            "sub" => Ok(Task::Sub),
            _ => {
                let rest = s.strip_prefix("linear:").ok_or_else(unknown)?;
                let (a, b) = rest.split_once(',').ok_or_else(unknown)?;
                let a = a.trim().parse().map_err(|_| unknown())?;
                let b = b.trim().parse().map_err(|_| unknown())?;
                Ok(Task::Linear { a, b })
            }
        }
    }
}

/// One example: the operands and the label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pair {
    /// First operand.
    pub x: u32,
    /// Second operand.
    pub y: u32,
    /// The task's label of (x, y).
    pub label: u32,
}

/// The modulus, the task and the pairs of one split.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// Modulus p.
    pub p: usize,
    /// The task the labels come from.
    pub task: Task,
    /// Training pairs, in the order they were drawn.
    pub train: Vec<Pair>,
    /// Test pairs, in x-major order.
    pub test: Vec<Pair>,
    /// True when the training set is the whole dataset (train fraction 1); then `test == train`.
    pub full: bool,
}

/// Every pair of Z_p x Z_p in x-major order (index `x * p + y`).
pub fn all_pairs(p: usize, task: Task) -> Vec<Pair> {
    let mut v = Vec::with_capacity(p * p);
    for x in 0..p {
        for y in 0..p {
            v.push(Pair {
                x: x as u32,
                y: y as u32,
                label: task.label(x, y, p) as u32,
            });
        }
    }
    v
}

impl Split {
    /// Seeded split with training fraction `f` in (0, 1].
    ///
    /// Train = the first `floor(f * p^2)` entries of a seeded permutation of the x-major indices;
    /// test = the remaining pairs in x-major order. `f = 1` gives train = test = all pairs.
    pub fn seeded(p: usize, task: Task, f: f64, seed: u64) -> Result<Split> {
        check_modulus(p)?;
        if !(f.is_finite() && f > 0.0 && f <= 1.0) {
            return Err(Error::InvalidParameter {
                name: "train fraction",
                value: f,
                expected: "a number in (0, 1]",
            });
        }
        let all = all_pairs(p, task);
        if f == 1.0 {
            return Ok(Split {
                p,
                task,
                train: all.clone(),
                test: all,
                full: true,
            });
        }
        let n_train = (f * (p * p) as f64).floor() as usize;
        if n_train == 0 {
            return Err(Error::InvalidParameter {
                name: "train fraction",
                value: f,
                expected: "a fraction that leaves at least one training pair",
            });
        }
        let mut idx: Vec<usize> = (0..p * p).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(SPLIT_STREAM);
        shuffle(&mut idx, &mut rng);
        let train: Vec<Pair> = idx[..n_train].iter().map(|&i| all[i]).collect();
        let mut rest: Vec<usize> = idx[n_train..].to_vec();
        rest.sort_unstable();
        let test: Vec<Pair> = rest.iter().map(|&i| all[i]).collect();
        Ok(Split {
            p,
            task,
            train,
            test,
            full: false,
        })
    }

    /// Split from an explicit list of training pairs; the test set is every other pair.
    ///
    /// If the list holds every pair, the split is the full one (train = test = all pairs).
    /// Duplicates and pairs outside Z_p are errors.
    pub fn from_train_pairs(p: usize, task: Task, pairs: &[(usize, usize)]) -> Result<Split> {
        check_modulus(p)?;
        if pairs.is_empty() {
            return Err(Error::EmptyPairs {
                what: "training pair list",
            });
        }
        let mut seen = HashSet::new();
        let mut train = Vec::with_capacity(pairs.len());
        for &(x, y) in pairs {
            if x >= p || y >= p {
                return Err(Error::PairOutOfRange { x, y, p });
            }
            if !seen.insert((x, y)) {
                return Err(Error::InvalidParameter {
                    name: "duplicate training pair index",
                    value: (x * p + y) as f64,
                    expected: "each pair (x, y) listed once",
                });
            }
            train.push(Pair {
                x: x as u32,
                y: y as u32,
                label: task.label(x, y, p) as u32,
            });
        }
        let all = all_pairs(p, task);
        if train.len() == p * p {
            return Ok(Split {
                p,
                task,
                train,
                test: all,
                full: true,
            });
        }
        let test = all
            .into_iter()
            .filter(|q| !seen.contains(&(q.x as usize, q.y as usize)))
            .collect();
        Ok(Split {
            p,
            task,
            train,
            test,
            full: false,
        })
    }
}
