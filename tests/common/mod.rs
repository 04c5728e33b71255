//! Shared test helpers: the tolerance policy and checkers that are themselves tested.
#![allow(dead_code)]

pub mod seeds;
pub mod zips;

/// f64 machine epsilon.
pub const EPS64: f64 = f64::EPSILON;

/// Relative agreement of two computations of the same f64 sum of `n` terms in different orders:
/// each can be off by about n * eps relative to the sum of absolute values.
pub fn reorder_tol(n: usize) -> f64 {
    16.0 * n as f64 * EPS64
}

/// max_i |a_i - b_i| / max(max_i |b_i|, floor): a norm-wise relative error (NaN if any input is).
pub fn rel_max_err(a: &[f64], b: &[f64], floor: f64) -> f64 {
    assert_eq!(a.len(), b.len(), "rel_max_err: lengths differ");
    if a.iter().chain(b).any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let scale = b.iter().fold(floor, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

/// Asserts `rel_max_err(a, b, floor) <= tol`, naming `what` and the worst index.
pub fn assert_close(what: &str, a: &[f64], b: &[f64], floor: f64, tol: f64) {
    let err = rel_max_err(a, b, floor);
    // Written so that a NaN error fails too.
    if err.is_nan() || err > tol {
        let (i, _) = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .enumerate()
            .fold(
                (0, -1.0),
                |(bi, bv), (i, v)| if v > bv { (i, v) } else { (bi, bv) },
            );
        panic!(
            "{what}: relative error {err:e} > {tol:e} (worst index {i}: {} vs {})",
            a[i], b[i]
        );
    }
}

#[test]
fn assert_close_accepts_equal_vectors() {
    assert_close("same", &[1.0, -2.0], &[1.0, -2.0], 1e-12, 0.0);
}

#[test]
#[should_panic(expected = "relative error")]
fn assert_close_rejects_a_real_difference() {
    assert_close("differs", &[1.0, -2.0], &[1.0, -2.001], 1e-12, 1e-6);
}

#[test]
#[should_panic(expected = "relative error")]
fn assert_close_rejects_nan() {
    assert_close("nan", &[f64::NAN], &[1.0], 1e-12, 1.0);
}

/// Every file under `dir` (recursively) with its bytes, keyed by relative path: two run folders
/// are byte-identical iff their trees compare equal.
pub fn read_tree(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    out
}
