//! Claim 7 (grokking) at paper scale: the reference's `grokking` preset at p = 23 (ReLU,
//! M = 512, random init 0.1, AdamW lr 1e-4, wd 2, warm-up 10, train fraction 0.75 = 396 of
//! 529 pairs, plateau stop, f32), progress recorded every 10 epochs. Stages as SPEC 7 defines
//! them: stage I ends at the first epoch with train accuracy >= 0.95, stage II at the first
//! epoch with test accuracy >= 0.95.
//!
//! Two runs, each about 20 s of CPU in the (optimised) test profile:
//! - seed 42, the preset itself (in `cargo test`);
//! - seed 6, a split that holds out a single diagonal pair (`#[ignore]`d paper-scale step).
//!
//! # What decides the final test accuracy
//! The network never learns a held-out diagonal pair (x, x), and learns every other held-out
//! pair. So the final test accuracy is (133 - d)/133, d = the number of diagonal pairs in the
//! test set, and the paper's 0.95 (127/133) is reached exactly when d <= 6. Seed 42's split
//! holds out d = 9: it ends at 124/133 = 0.932 and never reaches 0.95. The reference's own
//! seed-42 draw (PyTorch's generator, not ours) holds out d = 5: it ends at 128/133 = 0.962,
//! the number it reports, and this crate trained on that draw ends at 0.962 too; the
//! reference's 0.977 checkpoint gets exactly 3 pairs wrong, all diagonal (d = 3).
//!
//! # Seed study (the source of every measured bound below)
//! `modadd train --preset grokking --p 23 --seed S --plateau-stop false` for S = 1..16 and 42
//! (50 000 epochs each; the plateau stop applied to the log afterwards and checked against
//! stopped runs of seeds 1, 4, 42, which end identically), sampled every 10 epochs up to the
//! stop as here; min / median / max over the 17 seeds:
//! - d: 1 / 7 / 9; plateau-stop epoch 20 000 / 25 000 / 31 000;
//! - at the stop, test pairs right minus (133 - d): 0 / 0 / 1 (one held-out diagonal pair on
//!   the decision boundary flickers); off-diagonal test pairs wrong at the end of the 50 000
//!   epochs: 0 of 2153 over all 17 seeds, held-out diagonal pairs right: 1 of 108;
//! - final test accuracy 0.932 / 0.947 / 0.992; 0.95 reached by 8 of 17 seeds (all with
//!   d <= 6; the 9 others have d >= 7), stage II end 9030 / 9650 / 14 670 among those 8;
//!   under the uniform split P(d <= 6) = 0.65, so 0.95 is reached in about 2 runs of 3;
//! - stage I end 1710 / 1790 / 1840 (the reference's published curve: 1744); train accuracy 1
//!   at 1990 / 2150 / 2390;
//! - plateau (1000 epochs from train accuracy 1): test accuracy minus the swap-in-train share,
//!   in pairs: 0 in all 17; true-test pairs right: 0 in all 17;
//! - first epoch at test accuracy 0.9 over first epoch at train accuracy 1: 3.07 / 3.99 / 4.39;
//! - common pairs at 0.95: 620 / 710 / 950, rare pairs: 1890 / 1980 / 2050; mean rare accuracy
//!   while the common pairs are memorised, over chance 1/p: 0 / 0.04 / 0.18, minimum 0 in all;
//! - IPR at stage I end 0.457 / 0.476 / 0.499, at the stop 0.813 / 0.833 / 0.846; rise from
//!   stage I end to the stop 0.338 / 0.355 / 0.382; rise from stage I end to stage II end
//!   (8 seeds) 0.234 / 0.249 / 0.325, from stage II end to the stop 0.054 / 0.113 / 0.142;
//! - parameter norm peak at epoch 9110 / 9190 / 9400 (value 50.4 / 50.7 / 51.1), relative fall
//!   from the peak to the stop 0.036 / 0.044 / 0.052.
//!
//! Bounds follow the rule of `common::seeds` (half the seed range beyond the extremes) unless
//! said otherwise; counts of pairs get one pair of room where the spread is zero.

use modadd::backend::Backend;
use modadd::science::grokking::{class_shares, classify, PairClass, STAGE_THRESHOLD};
use modadd::train::config::{Precision, TrainConfig};
use modadd::train::trainer::Trainer;
use std::sync::OnceLock;

/// Progress measures every this many epochs.
const EVERY: usize = 10;
/// Chance accuracy 1/p.
const CHANCE: f64 = 1.0 / 23.0;

/// Stage I end (first epoch at train accuracy >= 0.95): 1710..1840 over 17 seeds.
const STAGE_ONE_END: (usize, usize) = modadd::science::bounds::GROK_STAGE_ONE_END;
/// Stage II end (first epoch at test accuracy >= 0.95) where reached: 9030..14 670 over 8
/// seeds.
const STAGE_TWO_END: (usize, usize) = (6200, 17_500);
/// Test pairs by which the plateau may differ from the swap-in-train share, and true-test
/// pairs it may get right: 0 in all 17 seeds; one pair of room.
const PLATEAU_PAIRS: f64 = modadd::science::bounds::GROK_PLATEAU_PAIRS;
/// (first epoch at test accuracy 0.9) / (first epoch at train accuracy 1): 3.07..4.39.
const MIN_DELAY_RATIO: f64 = 2.4;
/// Mean rare-pair accuracy while common pairs are memorised, over chance: 0..0.18.
const MAX_RARE_DURING_OVER_CHANCE: f64 = 0.27;
/// IPR rise from stage I end to the last epoch: 0.338..0.382.
const MIN_IPR_RISE_TO_END: f64 = modadd::science::bounds::GROK_MIN_IPR_RISE_TO_END;
/// IPR rise from stage I end to stage II end: 0.234..0.325 (8 seeds).
const MIN_IPR_RISE_STAGE_TWO: f64 = 0.18;
/// IPR rise from stage II end to the last epoch (stage III): 0.054..0.142 (8 seeds).
const MIN_IPR_RISE_STAGE_THREE: f64 = 0.009;
/// Epoch of the parameter norm's peak: 9110..9400.
const NORM_PEAK_EPOCH: (usize, usize) = (8965, 9545);
/// Relative fall of the parameter norm from its peak to the last epoch: 0.036..0.052.
const MIN_NORM_FALL: f64 = modadd::science::bounds::GROK_MIN_NORM_FALL;

struct Row {
    epoch: usize,
    train_acc: f64,
    test_acc: f64,
    ipr: f64,
    norm: f64,
    class_acc: [Option<f64>; 4],
}

struct Run {
    seed: u64,
    rows: Vec<Row>,
    classes: Vec<PairClass>,
    swap_share_of_test: f64,
    n_test: usize,
    n_true_test: usize,
    /// Correctness of every pair (x-major) at the last epoch.
    last_grid: Vec<bool>,
}

fn train(seed: u64) -> Run {
    let mut c = TrainConfig::preset("grokking", 23).unwrap();
    assert_eq!(c.precision, Precision::F32);
    c.seed = seed;
    let split = c.split().unwrap();
    c.record.every = EVERY;
    let classes = classify(&split);
    let shares = class_shares(&classes);
    let test_share = shares[2] + shares[3];
    let probe = modadd::science::grokking::probe::SpectralProbe::new(23);
    let mut t = Trainer::<f32, _>::cpu(&c, &split).unwrap();
    let mut rows = Vec::new();
    let mut grid = Vec::new();
    while t.epoch < c.epochs {
        t.next_epoch_with(|r, b| {
            if r.epoch % EVERY == 0 {
                b.correct_grid(&mut grid);
                let ipr = probe.measures(&b.network()).ipr;
                rows.push(Row {
                    epoch: r.epoch,
                    train_acc: r.train_acc,
                    test_acc: r.test_acc,
                    ipr,
                    norm: r.param_norm,
                    class_acc: modadd::science::grokking::class_accuracy(&classes, &grid),
                });
            }
            Ok(())
        })
        .unwrap();
        if t.finished() {
            break;
        }
    }
    // The plateau stop falls on a multiple of 1000, so the last row is the last epoch run and
    // `grid` holds its correctness.
    assert_eq!(rows.last().unwrap().epoch, t.epoch - 1);
    Run {
        seed,
        rows,
        swap_share_of_test: shares[2] / test_share,
        n_test: split.test.len(),
        n_true_test: classes
            .iter()
            .filter(|c| **c == PairClass::TestTrue)
            .count(),
        classes,
        last_grid: grid,
    }
}

/// Seed 42: the preset.
fn run42() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| train(42))
}

/// Seed 6: one held-out diagonal pair.
fn run6() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| train(6))
}

fn first(rows: &[Row], f: impl Fn(&Row) -> bool) -> Option<&Row> {
    rows.iter().find(|r| f(r))
}

fn at(r: &Run, epoch: usize) -> &Row {
    &r.rows[epoch / EVERY]
}

/// SPEC 7's stage boundaries: (stage I end, first epoch at train accuracy 1, stage II end).
fn stages(r: &Run) -> (usize, usize, Option<usize>) {
    let s1 = first(&r.rows, |x| x.train_acc >= STAGE_THRESHOLD)
        .expect("stage I ends")
        .epoch;
    let full = first(&r.rows, |x| x.train_acc == 1.0)
        .expect("train accuracy reaches 1")
        .epoch;
    let s2 = first(&r.rows, |x| x.test_acc >= STAGE_THRESHOLD).map(|x| x.epoch);
    (s1, full, s2)
}

/// The held-out diagonal pairs (x, x), and the wrong test pairs at the last epoch split into
/// diagonal and off-diagonal ones.
struct Ending {
    d: usize,
    wrong_diag: usize,
    wrong_off_diag: usize,
    right: usize,
}

fn ending(r: &Run) -> Ending {
    let p = 23;
    let (mut d, mut wrong_diag, mut wrong_off_diag, mut right) = (0, 0, 0, 0);
    for (i, c) in r.classes.iter().enumerate() {
        if !matches!(c, PairClass::TestSwapInTrain | PairClass::TestTrue) {
            continue;
        }
        let diag = i / p == i % p;
        d += diag as usize;
        match (r.last_grid[i], diag) {
            (true, _) => right += 1,
            (false, true) => wrong_diag += 1,
            (false, false) => wrong_off_diag += 1,
        }
    }
    Ending {
        d,
        wrong_diag,
        wrong_off_diag,
        right,
    }
}

/// Prints the run's numbers (for the README and the notes).
fn report(r: &Run) {
    let (s1, full, s2) = stages(r);
    let last = r.rows.last().unwrap();
    let peak = r
        .rows
        .iter()
        .max_by(|a, b| a.norm.total_cmp(&b.norm))
        .unwrap();
    let e = ending(r);
    println!(
        "grokking p = 23 seed {}: stage I end {s1} (train acc 1 at {full}), stage II end {s2:?}, \
         norm peak {:.3} at {} (fall {:.4}), last epoch {} test acc {:.4} ({} of {}; d = {}, \
         wrong diagonal {}, wrong off-diagonal {}), IPR {:.3} at stage I end -> {:.3}, swap share \
         {:.4}",
        r.seed,
        peak.norm,
        peak.epoch,
        1.0 - last.norm / peak.norm,
        last.epoch,
        last.test_acc,
        e.right,
        r.n_test,
        e.d,
        e.wrong_diag,
        e.wrong_off_diag,
        at(r, s1).ipr,
        last.ipr,
        r.swap_share_of_test,
    );
}

/// Stage I: train accuracy passes 0.95 inside the seed distribution's window, and test
/// accuracy sits on the swap-share plateau; generalisation comes long after.
fn check_memorisation(r: &Run) {
    let (s1, full, _) = stages(r);
    assert!(
        (STAGE_ONE_END.0..=STAGE_ONE_END.1).contains(&s1),
        "seed {}: stage I ends at {s1}",
        r.seed
    );
    // Plateau: the 1000 epochs after train accuracy reaches 1.
    for e in (full..full + 1000).step_by(EVERY) {
        let row = at(r, e);
        let gap = (row.test_acc - r.swap_share_of_test).abs() * r.n_test as f64;
        assert!(
            gap <= PLATEAU_PAIRS + 1e-9,
            "seed {} epoch {e}: test acc {} vs swap share {}",
            r.seed,
            row.test_acc,
            r.swap_share_of_test
        );
        let true_right = row.class_acc[3].unwrap() * r.n_true_test as f64;
        assert!(
            true_right <= PLATEAU_PAIRS + 1e-9,
            "seed {} epoch {e}: {true_right} true-test pairs right",
            r.seed
        );
        // The tied model is symmetric: a swap-in-train test pair is exactly as right as its
        // (rare) training swap.
        assert_eq!(row.class_acc[1], row.class_acc[2]);
    }
    let t90 = first(&r.rows, |x| x.test_acc >= 0.9)
        .expect("test accuracy reaches 0.9")
        .epoch;
    assert!(
        t90 as f64 >= MIN_DELAY_RATIO * full as f64,
        "seed {}: train acc 1 at {full}, test acc 0.9 at {t90}",
        r.seed
    );
}

/// Common pairs (both orders trained) reach 0.95 before rare ones, whose accuracy first falls
/// below chance while the common pairs are memorised.
fn check_common_before_rare(r: &Run) {
    let common = first(&r.rows, |x| x.class_acc[0].unwrap() >= 0.95)
        .unwrap()
        .epoch;
    let rare = first(&r.rows, |x| x.class_acc[1].unwrap() >= 0.95)
        .unwrap()
        .epoch;
    assert!(common < rare, "common {common}, rare {rare}");
    let during: Vec<f64> = r.rows[1..common / EVERY]
        .iter()
        .map(|x| x.class_acc[1].unwrap())
        .collect();
    let mean = during.iter().sum::<f64>() / during.len() as f64;
    assert!(
        mean <= MAX_RARE_DURING_OVER_CHANCE * CHANCE,
        "rare accuracy while common pairs are memorised: mean {mean}"
    );
    assert_eq!(during.iter().copied().fold(f64::INFINITY, f64::min), 0.0);
}

/// Stage III: the parameter norm peaks inside the seed window, after stage I, and falls under
/// weight decay; the IPR keeps rising to the end.
fn check_norm_and_ipr(r: &Run) {
    let (s1, _, _) = stages(r);
    let last = r.rows.last().unwrap();
    let peak = r
        .rows
        .iter()
        .max_by(|a, b| a.norm.total_cmp(&b.norm))
        .unwrap();
    assert!(
        (NORM_PEAK_EPOCH.0..=NORM_PEAK_EPOCH.1).contains(&peak.epoch),
        "seed {}: norm peak at {}",
        r.seed,
        peak.epoch
    );
    let fall = 1.0 - last.norm / peak.norm;
    assert!(fall >= MIN_NORM_FALL, "seed {}: norm fall {fall}", r.seed);
    let rise = last.ipr - at(r, s1).ipr;
    assert!(
        rise >= MIN_IPR_RISE_TO_END,
        "seed {}: IPR rise {rise}",
        r.seed
    );
}

/// The final test accuracy is (133 - d)/133: every off-diagonal test pair right, every wrong
/// pair a held-out diagonal one, and at most one held-out diagonal pair right (the flicker of
/// the seed study).
fn check_ending(r: &Run) -> Ending {
    let e = ending(r);
    assert_eq!(
        e.wrong_off_diag, 0,
        "seed {}: off-diagonal test pairs wrong",
        r.seed
    );
    assert!(
        e.wrong_diag + 1 >= e.d,
        "seed {}: {} of {} held-out diagonal pairs wrong",
        r.seed,
        e.wrong_diag,
        e.d
    );
    let last = r.rows.last().unwrap();
    assert_eq!(
        last.test_acc,
        e.right as f64 / r.n_test as f64,
        "the grid and the log agree"
    );
    e
}

#[test]
fn seed42_memorises_first_with_the_swap_share_plateau() {
    report(run42());
    check_memorisation(run42());
}

#[test]
fn seed42_common_pairs_before_rare_and_rare_first_fall() {
    check_common_before_rare(run42());
}

#[test]
fn seed42_norm_falls_and_ipr_rises_after_memorisation() {
    check_norm_and_ipr(run42());
}

/// Seed 42's split holds out 9 diagonal pairs, so the law caps it at 125/133 < 0.95: stage II
/// in SPEC 7's sense never ends, as in every seed with d >= 7, while the network generalises to
/// every off-diagonal test pair. (The reference's seed-42 split holds out 5: 0.962.)
#[test]
fn seed42_ends_at_133_minus_d_and_never_reaches_095() {
    let r = run42();
    let e = check_ending(r);
    assert_eq!(e.d, 9, "seed 42's split");
    let (_, _, s2) = stages(r);
    assert_eq!(s2, None, "0.95 = 127/133 needs d <= 6");
    assert!(r.rows.last().unwrap().test_acc < STAGE_THRESHOLD);
}

/// Seed 6 holds out one diagonal pair: stage II ends (test accuracy >= 0.95) inside the seed
/// window, the IPR rises through stage II and on through stage III, the norm falls, and the
/// run ends at (133 - d)/133 >= 0.95.
#[test]
#[ignore = "paper scale: grokking preset p = 23 at seed 6 to its plateau stop, ~20 s CPU"]
fn seed6_reaches_095_stage_two_then_cleans_up() {
    let r = run6();
    report(r);
    check_memorisation(r);
    check_common_before_rare(r);
    check_norm_and_ipr(r);
    let e = check_ending(r);
    assert_eq!(e.d, 1, "seed 6's split");
    let (s1, _, s2) = stages(r);
    let s2 = s2.expect("stage II ends: d <= 6");
    assert!(
        (STAGE_TWO_END.0..=STAGE_TWO_END.1).contains(&s2),
        "stage II ends at {s2}"
    );
    let (i1, i2, i3) = (at(r, s1).ipr, at(r, s2).ipr, r.rows.last().unwrap().ipr);
    assert!(
        i2 - i1 >= MIN_IPR_RISE_STAGE_TWO,
        "IPR {i1} at stage I end, {i2} at stage II end"
    );
    assert!(i3 - i2 >= MIN_IPR_RISE_STAGE_THREE, "IPR {i2} -> {i3}");
    assert!(r.rows.last().unwrap().test_acc >= STAGE_THRESHOLD);
}
