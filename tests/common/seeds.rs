//! Seed studies. A bound that comes from measurement comes from a distribution over seeds: the
//! test that asserts it measures one seed (its preset's), and the same test run with
//! `MODADD_SEEDS` set measures every seed listed and prints the spread, which is how the
//! (min, median, max) quoted next to each such bound were made, e.g.
//! `MODADD_SEEDS=1-8,42 cargo test --test activation_swaps -- --ignored --nocapture`.
//! The rule that turns a spread into a bound, unless the paper gives the number: half the
//! seed range beyond the seed extreme ([`Spread::lower_bound`], [`Spread::upper_bound`]).

/// The seeds to measure: `default` (the test's own), or those listed in `MODADD_SEEDS`
/// (comma-separated seeds and inclusive ranges `a-b`).
pub fn seeds(default: &[u64]) -> Vec<u64> {
    match std::env::var("MODADD_SEEDS") {
        Ok(s) if !s.trim().is_empty() => parse_seeds(&s),
        _ => default.to_vec(),
    }
}

/// `"1-3,42"` -> `[1, 2, 3, 42]`.
pub fn parse_seeds(s: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u64, u64) = (a.trim().parse().unwrap(), b.trim().parse().unwrap());
                out.extend(a..=b);
            }
            None => out.push(part.parse().unwrap()),
        }
    }
    out
}

/// Minimum, median and maximum of a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    /// The spread of `v` (not empty, no NaN).
    pub fn of(v: &[f64]) -> Spread {
        assert!(
            !v.is_empty() && v.iter().all(|x| !x.is_nan()),
            "spread of {v:?}"
        );
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            0.5 * (s[n / 2 - 1] + s[n / 2])
        };
        Spread {
            min: s[0],
            median,
            max: s[n - 1],
            n,
        }
    }

    /// The rule for a lower bound from a seed distribution: min - (max - min) / 2.
    pub fn lower_bound(&self) -> f64 {
        self.min - 0.5 * (self.max - self.min)
    }

    /// The rule for an upper bound: max + (max - min) / 2.
    pub fn upper_bound(&self) -> f64 {
        self.max + 0.5 * (self.max - self.min)
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "n = {}: min {:.4}, median {:.4}, max {:.4} (rule: >= {:.4} / <= {:.4})",
            self.n,
            self.min,
            self.median,
            self.max,
            self.lower_bound(),
            self.upper_bound()
        )
    }
}

/// Prints the spread of each named column over the seeds measured (only when more than one
/// seed ran, i.e. in a seed study).
pub fn print_spreads(what: &str, columns: &[(&str, Vec<f64>)]) {
    if columns.first().is_none_or(|(_, v)| v.len() < 2) {
        return;
    }
    for (name, v) in columns {
        println!("SPREAD {what}: {name}: {}", Spread::of(v));
    }
}

#[test]
fn parse_seeds_reads_lists_and_ranges() {
    assert_eq!(parse_seeds("1-3, 42"), vec![1, 2, 3, 42]);
    assert_eq!(parse_seeds("7"), vec![7]);
}

#[test]
fn spread_and_the_bound_rule() {
    let s = Spread::of(&[3.0, 1.0, 2.0, 5.0]);
    assert_eq!((s.min, s.median, s.max, s.n), (1.0, 2.5, 5.0, 4));
    assert_eq!((s.lower_bound(), s.upper_bound()), (-1.0, 7.0));
}
