//! The grokking measurements themselves: the batched spectral probe against the naive DFT of
//! `fourier::spectrum`, pair classes, the backend's correctness grid against naive logits, and
//! stage detection.

use modadd::backend::cpu::CpuBackend;
use modadd::backend::Backend;
use modadd::numerics::activation::Activation;
use modadd::numerics::init::Init;
use modadd::numerics::loss::{argmax, Loss};
use modadd::numerics::network::{Network, Tying};
use modadd::numerics::optim::OptimizerConfig;
use modadd::numerics::task::{Split, Task};
use modadd::science::grokking::probe::SpectralProbe;
use modadd::science::grokking::{class_accuracy, class_shares, classify, detect_stages, PairClass};
use modadd::train::record::EpochRecord;

/// The probe sums p terms per coefficient in another order than the naive DFT.
const PROBE_TOL: f64 = 1e-12;

/// The probe (two GEMMs per layer) against the per-neuron DFTs of `fourier`: the pipeline IPR
/// and the mean |sin D| at each neuron's dominant input frequency.
#[test]
fn probe_matches_the_naive_spectrum() {
    use modadd::science::fourier::{mean_abs_sin_misalignment, neuron_features, NetworkSpectra};
    for (p, m) in [(7, 5), (23, 40), (15, 9)] {
        let net = Network::<f64>::init(p, m, Init::Random { scale: 1.0 }, Tying::Tied, 3).unwrap();
        let m = SpectralProbe::new(p).measures(&net);
        let (ipr, sin_d) = (m.ipr, m.mean_abs_sin_d);
        let spectra = NetworkSpectra::of(&net);
        let want_ipr = spectra.mean_ipr().2;
        let want_sin_d = mean_abs_sin_misalignment(&neuron_features(&spectra));
        assert!((ipr - want_ipr).abs() < PROBE_TOL, "{ipr} vs {want_ipr}");
        assert!(
            (sin_d - want_sin_d).abs() < PROBE_TOL,
            "{sin_d} vs {want_sin_d}"
        );
    }
}

/// IPR is 1 for single-frequency neurons and |sin D| is 0 when xi's phase is twice theta's
/// (the diversified construction of Proposition 1).
#[test]
fn probe_on_aligned_single_frequency_neurons() {
    let offsets: Vec<f64> = (0..5).map(|k| 0.3 * k as f64).collect();
    let net = Network::<f64>::diversified(11, 6, 1.3, 0.7, &offsets).unwrap();
    let m = SpectralProbe::new(11).measures(&net);
    let (ipr, sin_d) = (m.ipr, m.mean_abs_sin_d);
    assert!((ipr - 1.0).abs() < PROBE_TOL, "{ipr}");
    assert!(sin_d < PROBE_TOL, "{sin_d}");
}

#[test]
fn pair_classes_partition_the_square() {
    let split = Split::seeded(23, Task::Add, 0.75, 42).unwrap();
    let classes = classify(&split);
    let shares = class_shares(&classes);
    assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    let n_train = split.train.len() as f64 / 529.0;
    assert!((shares[0] + shares[1] - n_train).abs() < 1e-15);
    // Rare training pairs and swap-in-train test pairs come in mirror images: equal counts.
    assert_eq!(shares[1], shares[2]);
    for q in &split.train {
        let (x, y) = (q.x as usize, q.y as usize);
        let c = classes[x * 23 + y];
        assert!(matches!(c, PairClass::TrainCommon | PairClass::TrainRare));
        let swap = classes[y * 23 + x];
        if c == PairClass::TrainRare {
            assert_eq!(swap, PairClass::TestSwapInTrain);
        }
    }
    let correct = vec![true; 529];
    assert_eq!(class_accuracy(&classes, &correct), [Some(1.0); 4]);
    let full = classify(&Split::seeded(5, Task::Add, 1.0, 0).unwrap());
    assert!(full.iter().all(|c| *c == PairClass::TrainCommon));
    assert_eq!(class_accuracy(&full, &[false; 25])[3], None);
}

/// The backend's grid (from the merged rows of the last step and test evaluation) equals the
/// argmax of the naive logits of every pair, for both tyings.
#[test]
fn correctness_grid_matches_naive_logits() {
    for tying in [Tying::Tied, Tying::Untied] {
        let p = 13;
        let split = Split::seeded(p, Task::Add, 0.6, 8).unwrap();
        let net = Network::<f64>::init(p, 24, Init::Random { scale: 1.0 }, tying, 2).unwrap();
        let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
        let opt = OptimizerConfig::adamw(0.0).build::<f64>(&sizes).unwrap();
        let mut b = CpuBackend::new(net.clone(), Activation::Relu, Loss::CeMean, &split, opt);
        b.eval_test();
        b.measure();
        let mut grid = Vec::new();
        b.correct_grid(&mut grid);
        let mut hits = 0;
        for x in 0..p {
            for y in 0..p {
                let want = argmax(&net.logits(Activation::Relu, x, y)) == Some((x + y) % p);
                assert_eq!(grid[x * p + y], want, "({x}, {y}) {tying:?}");
                hits += want as usize;
            }
        }
        assert!(hits > 0 && hits < p * p, "a grid with both outcomes");
    }
}

fn rec(epoch: usize, train_acc: f64, test_acc: f64, norm: f64) -> EpochRecord {
    EpochRecord {
        epoch,
        lr: 1e-4,
        train_loss: 1.0,
        train_acc,
        test_loss: 1.0,
        test_acc,
        grad_norm: 1.0,
        param_norm: norm,
    }
}

#[test]
fn stages_follow_the_reference_rule() {
    let log: Vec<EpochRecord> = (0..100)
        .map(|e| {
            let tr = if e >= 20 { 0.95 } else { 0.5 };
            let te = if e >= 60 { 0.97 } else { 0.3 };
            let norm = if e <= 70 { e as f64 } else { 140.0 - e as f64 };
            rec(e, tr, te, norm)
        })
        .collect();
    let s = detect_stages(&log);
    assert_eq!(s.memorised, Some(20));
    assert_eq!(s.generalised, Some(60));
    assert_eq!(s.norm_peak, Some((70, 70.0)));
    assert_eq!(s.last, Some(99));
    let none = detect_stages(&log[..10]);
    assert_eq!((none.memorised, none.generalised), (None, None));
}
