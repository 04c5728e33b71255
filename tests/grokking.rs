//! Claim 7 (grokking), on the reference's grokking preset at p = 23 (seed 42, f32, train
//! fraction 0.75, AdamW lr 1e-4, wd 2, plateau stop): one run, shared by the tests below,
//! progress recorded every 10 epochs. About 20 s of CPU in the (optimised) test profile.
//!
//! What holds and what does not (numbers printed by `report`):
//! - stage I: train accuracy reaches 1 within ~2200 epochs while test accuracy sits on a
//!   plateau equal to the share of test pairs whose swap is a training pair (the x <-> y
//!   symmetry answers them for free) and true-test accuracy stays at chance or below;
//! - common training pairs are memorised before rare ones, whose accuracy first falls;
//! - stage II: test accuracy then climbs while the IPR rises; stage III: the parameter norm
//!   peaks and falls under weight decay;
//! - the paper's 0.95 test-accuracy boundary is NOT reached: the run plateaus at 0.932
//!   (124 of 133 test pairs; seeds 1, 2, 3 give 0.940, 0.940, 0.947). PyTorch replaying this
//!   run from the same weights and split (benches/torch_parity.py) follows the same curve
//!   within f32 drift, so the difference from the reference's 0.96 lies in the draw of the
//!   split and initialisation, not in the step. The tests below therefore take the end of
//!   stage II as the first epoch within 0.01 of the final test accuracy, and one test pins
//!   the shortfall so that a change in it is noticed.

use modadd::science::grokking::{class_shares, classify, PairClass, STAGE_THRESHOLD};
use modadd::train::config::{Precision, TrainConfig};
use modadd::train::trainer::Trainer;
use std::sync::OnceLock;

/// Progress measures every this many epochs.
const EVERY: usize = 10;

struct Row {
    epoch: usize,
    train_acc: f64,
    test_acc: f64,
    ipr: f64,
    norm: f64,
    class_acc: [Option<f64>; 4],
}

struct Run {
    rows: Vec<Row>,
    swap_share_of_test: f64,
    n_test: usize,
    n_true_test: usize,
}

fn run() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let mut c = TrainConfig::preset("grokking", 23).unwrap();
        assert_eq!(c.precision, Precision::F32);
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
                    use modadd::backend::Backend;
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
        Run {
            rows,
            swap_share_of_test: shares[2] / test_share,
            n_test: split.test.len(),
            n_true_test: classes
                .iter()
                .filter(|c| **c == PairClass::TestTrue)
                .count(),
        }
    })
}

fn first(rows: &[Row], f: impl Fn(&Row) -> bool) -> Option<&Row> {
    rows.iter().find(|r| f(r))
}

/// Stage I end (reference rule), first epoch with train accuracy 1, end of stage II (first
/// epoch within 0.01 of the final test accuracy).
fn boundaries(r: &Run) -> (usize, usize, usize) {
    let s1 = first(&r.rows, |x| x.train_acc >= STAGE_THRESHOLD)
        .unwrap()
        .epoch;
    let full = first(&r.rows, |x| x.train_acc == 1.0).unwrap().epoch;
    let fin = r.rows.last().unwrap().test_acc;
    let s2 = first(&r.rows, |x| x.test_acc >= fin - 0.01).unwrap().epoch;
    (s1, full, s2)
}

fn at(r: &Run, epoch: usize) -> &Row {
    &r.rows[epoch / EVERY]
}

/// Prints the run's numbers (for the README and the notes); called by a test that asserts.
fn report() {
    let r = run();
    let (s1, full, s2) = boundaries(r);
    let last = r.rows.last().unwrap();
    let peak = r
        .rows
        .iter()
        .max_by(|a, b| a.norm.total_cmp(&b.norm))
        .unwrap();
    println!(
        "grokking p=23 seed 42: stage I end {s1} (train acc 1 at {full}), stage II end {s2}, \
         norm peak {:.3} at {}, final epoch {} test acc {:.4}, IPR {:.3} -> {:.3} -> {:.3}, \
         swap share {:.4}; rare acc by 100 epochs: {:?}",
        peak.norm,
        peak.epoch,
        last.epoch,
        last.test_acc,
        at(r, s1).ipr,
        at(r, s2).ipr,
        last.ipr,
        r.swap_share_of_test,
        r.rows
            .iter()
            .step_by(10)
            .take(25)
            .map(|x| x.class_acc[1].unwrap())
            .collect::<Vec<_>>()
    );
}

/// Train accuracy reaches 1 long before test accuracy reaches 0.9 (stage I, then II).
#[test]
fn memorisation_precedes_generalisation() {
    let r = run();
    let (_, full, _) = boundaries(r);
    let t90 = first(&r.rows, |x| x.test_acc >= 0.9)
        .expect("test accuracy reaches 0.9")
        .epoch;
    assert!(
        t90 >= 3 * full,
        "train acc 1 at {full}, test acc 0.9 at {t90}"
    );
    assert!(at(r, full).test_acc < 0.8);
}

/// On the memorisation plateau (the 1000 epochs after train accuracy reaches 1), test
/// accuracy equals the share of test pairs whose swap is in the training set, within 3 test
/// pairs (a true-test pair can be right by chance: 1/p each), and true-test accuracy stays
/// near chance (at most 2 of the true-test pairs, expectation n/p = 36/23).
#[test]
fn plateau_accuracy_is_the_swap_share() {
    let r = run();
    let (_, full, _) = boundaries(r);
    for e in (full..full + 1000).step_by(EVERY) {
        let row = at(r, e);
        let gap = (row.test_acc - r.swap_share_of_test).abs();
        assert!(
            gap <= 3.0 / r.n_test as f64 + 1e-12,
            "epoch {e}: test acc {} vs share {}",
            row.test_acc,
            r.swap_share_of_test
        );
        let true_acc = row.class_acc[3].unwrap();
        assert!(
            true_acc <= 2.0 / r.n_true_test as f64 + 1e-12,
            "epoch {e}: true-test acc {true_acc}"
        );
        // The symmetry makes swap-in-train test pairs exactly as right as rare train pairs.
        assert_eq!(row.class_acc[1], row.class_acc[2]);
    }
}

/// Common pairs (both orders trained) are memorised before rare ones, and the rare pairs'
/// accuracy first falls: while the common pairs are memorised it is pushed below chance
/// (1/p; seed 1 starts at 0.062 and drops to 0, this seed starts at 0 and stays at or
/// below one rare pair in 104).
#[test]
fn common_pairs_before_rare_and_rare_first_fall() {
    let r = run();
    let common = first(&r.rows, |x| x.class_acc[0].unwrap() >= 0.95)
        .unwrap()
        .epoch;
    let rare = first(&r.rows, |x| x.class_acc[1].unwrap() >= 0.95)
        .unwrap()
        .epoch;
    assert!(common < rare, "common {common}, rare {rare}");
    let chance = 1.0 / 23.0;
    let during: Vec<f64> = r.rows[1..common / EVERY]
        .iter()
        .map(|x| x.class_acc[1].unwrap())
        .collect();
    let mean = during.iter().sum::<f64>() / during.len() as f64;
    assert!(
        mean < 0.5 * chance,
        "rare accuracy while common pairs are memorised: mean {mean}"
    );
    assert_eq!(during.iter().copied().fold(f64::INFINITY, f64::min), 0.0);
}

/// The IPR rises through stage II, and the parameter norm peaks after stage I and then falls
/// in stage III.
#[test]
fn ipr_rises_in_stage_two_and_norm_falls_in_stage_three() {
    let r = run();
    let (s1, _, s2) = boundaries(r);
    let (i1, i2) = (at(r, s1).ipr, at(r, s2).ipr);
    assert!(
        i2 > i1 + 0.1,
        "IPR {i1} at stage I end, {i2} at stage II end"
    );
    let peak = r
        .rows
        .iter()
        .max_by(|a, b| a.norm.total_cmp(&b.norm))
        .unwrap();
    let last = r.rows.last().unwrap();
    assert!(
        peak.epoch > s1,
        "norm peak at {} before stage I end {s1}",
        peak.epoch
    );
    assert!(
        last.norm < 0.98 * peak.norm,
        "norm {} vs peak {}",
        last.norm,
        peak.norm
    );
    assert!(
        last.ipr > i2,
        "IPR keeps rising in stage III: {} vs {i2}",
        last.ipr
    );
}

/// The reference reports 0.96; this seed ends at 124/133 = 0.932 (module docs). The test
/// pins that the run generalises well past the plateau yet below the paper's 0.95, so a change
/// in either direction is seen and the docs updated.
#[test]
fn final_test_accuracy_falls_short_of_the_papers_095() {
    report();
    let r = run();
    let last = r.rows.last().unwrap();
    assert!(last.test_acc >= 0.9, "final test acc {}", last.test_acc);
    assert!(
        last.test_acc < 0.95,
        "final test acc {} now reaches 0.95: update the docs",
        last.test_acc
    );
    assert!(
        last.class_acc[3].unwrap() > 0.5,
        "true-test pairs generalise"
    );
}
