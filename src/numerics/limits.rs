//! Limits: the largest sizes the crate accepts from any input (the command line, `config.json`,
//! weight folders, `.npy` and `.pth` checkpoints, pairs files), each checked before anything of
//! that size is allocated, so a hostile or mistaken input gets one line naming the value and
//! the limit, never an out-of-memory abort.
//!
//! | limit | value | why |
//! |---|---|---|
//! | [`MAX_P`] | 2047 | every command lists the p^2 pairs (12 bytes each) and keeps p x p grids: 50 MB at 2047, 21 times the paper's largest modulus |
//! | [`MAX_WIDTH`] | 2^20 = 1 048 576 neurons | the reference width formula reaches it at p = 1041 |
//! | [`MAX_MATRIX_ELEMENTS`] | 2^26 = 67 108 864 (M x p of one matrix) | 512 MiB as f64; a training run holds about eight matrices of this size (weights, gradients, two AdamW moments), so the largest run fits in 4 GiB (f64) or 2 GiB (f32); the width formula reaches it at p = 411 |
//! | [`ANALYSIS_MAX_P`] | 251 | the analysis (`analyze`, stage snapshots, `reproduce`) holds all p^3 logits with their CSV rows: about [`ANALYSIS_BYTES_PER_P3`] = 270 bytes per logit (measured: 66 MB at p = 61, 248 MB at 97, 920 MB at 151), which stays under [`ANALYSIS_MEMORY_BUDGET`] = 4 GiB up to p = 251 |
//!
//! The readers add limits of their own, in bytes, each documented where it is enforced
//! (`crate::formats`): a reader never allocates more than a small multiple of the bytes it
//! was given, plus a fixed amount.

use crate::error::{Error, Result};

/// Largest modulus p any command accepts (module docs).
pub const MAX_P: usize = 2047;

/// Largest width M (neurons) any command accepts (module docs).
pub const MAX_WIDTH: usize = 1 << 20;

/// Most elements one weight matrix (M x p) may have (module docs).
pub const MAX_MATRIX_ELEMENTS: usize = 1 << 26;

/// Memory the analysis of one network may take.
pub const ANALYSIS_MEMORY_BUDGET: usize = 4 << 30;

/// Bytes the analysis takes per logit (p^3 logits: p^2 pairs x p outputs), measured as peak
/// resident memory of `modadd analyze` divided by p^3 at p = 61, 97, 151 (290, 272, 267),
/// rounded up from the larger p.
pub const ANALYSIS_BYTES_PER_P3: usize = 270;

/// Largest p whose analysis fits [`ANALYSIS_MEMORY_BUDGET`]: the largest odd p with
/// `ANALYSIS_BYTES_PER_P3 * p^3 <= ANALYSIS_MEMORY_BUDGET`.
pub const ANALYSIS_MAX_P: usize = 251;

/// Checks a width M: 1 <= M <= [`MAX_WIDTH`].
///
/// # Errors
/// [`Error::InvalidWidth`] for 0, [`Error::TooLarge`] above the limit.
pub fn check_width(width: usize) -> Result<usize> {
    if width == 0 {
        return Err(Error::InvalidWidth { width });
    }
    at_most("width M", width, MAX_WIDTH, "the largest width accepted")?;
    Ok(width)
}

/// Checks that an M x p weight matrix (`what`) is within [`MAX_WIDTH`], [`MAX_P`] and
/// [`MAX_MATRIX_ELEMENTS`] (p is not checked for oddness here).
///
/// # Errors
/// [`Error::TooLarge`] naming `what` and the value over its limit.
pub fn check_matrix(what: &str, m: usize, p: usize) -> Result<()> {
    at_most(
        &format!("{what}: width M"),
        m,
        MAX_WIDTH,
        "the largest width accepted",
    )?;
    at_most(
        &format!("{what}: modulus p"),
        p,
        MAX_P,
        "the largest modulus accepted",
    )?;
    at_most(
        &format!("{what}: M x p"),
        m.saturating_mul(p),
        MAX_MATRIX_ELEMENTS,
        "elements of one weight matrix (512 MiB as f64)",
    )
}

/// Checks that the analysis of a network at modulus `p` fits in memory ([`ANALYSIS_MAX_P`]).
///
/// # Errors
/// [`Error::TooLarge`] giving the memory the analysis would need.
pub fn check_analysable(p: usize) -> Result<()> {
    if p <= ANALYSIS_MAX_P {
        return Ok(());
    }
    let need = (ANALYSIS_BYTES_PER_P3 as f64) * (p as f64).powi(3);
    Err(Error::TooLarge {
        what: "modulus p for the analysis".into(),
        value: p as u128,
        max: ANALYSIS_MAX_P,
        reason: format!(
            "the analysis holds all p^3 logits with their rows, about {ANALYSIS_BYTES_PER_P3} p^3 \
             bytes = {:.1} GB here, over its {} GiB budget",
            need / 1e9,
            ANALYSIS_MEMORY_BUDGET >> 30
        ),
    })
}

/// `value <= max`, else [`Error::TooLarge`] with `what` and `reason`.
pub fn at_most(what: &str, value: usize, max: usize, reason: &str) -> Result<()> {
    if value <= max {
        Ok(())
    } else {
        Err(Error::TooLarge {
            what: what.into(),
            value: value as u128,
            max,
            reason: reason.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analysis_limit_is_the_largest_odd_p_within_the_budget() {
        let need = |p: usize| ANALYSIS_BYTES_PER_P3 * p * p * p;
        const { assert!(ANALYSIS_MAX_P % 2 == 1) };
        assert!(need(ANALYSIS_MAX_P) <= ANALYSIS_MEMORY_BUDGET);
        assert!(need(ANALYSIS_MAX_P + 2) > ANALYSIS_MEMORY_BUDGET);
        assert!(check_analysable(ANALYSIS_MAX_P).is_ok());
        let e = check_analysable(ANALYSIS_MAX_P + 2)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("253") && e.contains("251") && e.contains("4 GiB"),
            "{e}"
        );
    }

    #[test]
    fn the_table_of_reasons_holds() {
        // 12-byte pairs at MAX_P: about 50 MB.
        const { assert!(MAX_P * MAX_P * 12 < 51_000_000) };
        // The reference width formula max(512, ceil(512 p^2 / 529)) reaches MAX_WIDTH at 1041
        // and MAX_MATRIX_ELEMENTS (with M x p) at 411.
        let w = |p: usize| (512 * p * p).div_ceil(529).max(512);
        assert!(w(1039) <= MAX_WIDTH && w(1041) > MAX_WIDTH);
        assert!(w(409) * 409 <= MAX_MATRIX_ELEMENTS && w(411) * 411 > MAX_MATRIX_ELEMENTS);
        const { assert!(MAX_MATRIX_ELEMENTS * 8 == 512 << 20) };
    }

    #[test]
    fn checks_name_the_value_and_the_limit() {
        assert!(check_width(MAX_WIDTH).is_ok());
        let e = check_width(MAX_WIDTH + 1).unwrap_err().to_string();
        assert!(e.contains("1048577") && e.contains("1048576"), "{e}");
        assert!(matches!(check_width(0), Err(Error::InvalidWidth { .. })));
        assert!(check_matrix("W_in", 100_000, 23).is_ok());
        let e = check_matrix("W_in", 100_000, 701).unwrap_err().to_string();
        assert!(e.contains("W_in: M x p = 70100000"), "{e}");
        assert!(check_matrix("W_in", 3, MAX_P + 2).is_err());
    }
}
