//! Claim: the hand-derived gradients (src/grad.rs) are exact.
//!
//! (a) quickcheck properties in f64 against central finite differences over random p, M,
//!     activations, losses, tying, weights and splits;
//! (b) the fast chunked/merged/GEMM path against the naive per-example reference, which is
//!     itself the object of (a).

mod common;
use common::{assert_close, reorder_tol};
use modadd::numerics::activation::Activation;
use modadd::numerics::batch::Batch;
use modadd::numerics::grad::{loss_and_grad, reference_loss_and_grad, Grads, Workspace};
use modadd::numerics::init::Init;
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::numerics::task::{all_pairs, Pair, Split, Task};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

/// Step of the fourth-order central difference
/// `L'(w) ~ [8 (L(w+h) - L(w-h)) - (L(w+2h) - L(w-2h))] / (12 h)`.
/// Its truncation error is h^4/30 * |L^(5)| ~ 3e-14 * |L^(5)| and its rounding error about
/// eps * |L| / h ~ 2e-13 * |L|. With entries <= 0.6 (|h| <= 1.2), even u^8's fifth derivative
/// (6720 u^3 <= 1.2e4) keeps both below 1e-8 of the gradient's scale.
const FD_STEP: f64 = 1e-3;
/// Norm-wise relative bound for analytic vs finite differences: 100x the estimate above.
const FD_TOL: f64 = 1e-6;
/// A kinked activation (ReLU, |u|) is only differentiable away from 0: cases with a
/// pre-activation closer than this to the kink are discarded (the stencil, which moves h by up
/// to 2 * FD_STEP per weight, would straddle it).
const KINK_MARGIN: f64 = 4.0 * FD_STEP;

/// A well-conditioned random problem: small odd p, small width, bounded weights, any
/// activation, loss and tying, and a random non-empty subset of the pairs.
#[derive(Clone, Debug)]
struct Problem {
    net: Network<f64>,
    act: Activation,
    loss: Loss,
    pairs: Vec<Pair>,
}

impl Arbitrary for Problem {
    fn arbitrary(g: &mut Gen) -> Self {
        let p = *g.choose(&[3usize, 5, 7, 9]).unwrap();
        let width = 1 + usize::arbitrary(g) % 6;
        let tying = if bool::arbitrary(g) {
            Tying::Tied
        } else {
            Tying::Untied
        };
        let seed = u64::arbitrary(g);
        let scale = 0.3 + (u8::arbitrary(g) % 10) as f64 * 0.05;
        let mut net = Network::<f64>::init(p, width, Init::Random { scale }, tying, seed).unwrap();
        // Keep entries bounded so high powers stay well-conditioned.
        for w in net.param_slices_mut() {
            w.iter_mut().for_each(|v| *v = v.clamp(-0.6, 0.6));
        }
        let act = *g.choose(&Activation::ALL).unwrap();
        let loss = *g.choose(&[Loss::CeMean, Loss::CeSum, Loss::Mse]).unwrap();
        let task = if tying == Tying::Tied {
            Task::Add
        } else {
            *g.choose(&[Task::Add, Task::Sub, Task::Linear { a: 2, b: 3 }])
                .unwrap()
        };
        let f = *g.choose(&[0.3, 0.6, 1.0]).unwrap();
        let split = Split::seeded(p, task, f, u64::arbitrary(g)).unwrap();
        Problem {
            net,
            act,
            loss,
            pairs: split.train,
        }
    }
}

fn loss_of(net: &Network<f64>, act: Activation, loss: Loss, pairs: &[Pair]) -> f64 {
    reference_loss_and_grad(net, act, loss, pairs).0.loss
}

fn flatten(g: &Grads<f64>) -> Vec<f64> {
    g.slices().concat()
}

fn near_kink(pb: &Problem) -> bool {
    if !matches!(pb.act, Activation::Relu | Activation::Abs) {
        return false;
    }
    let wy = pb.net.w_in_second();
    pb.pairs.iter().any(|q| {
        (0..pb.net.width())
            .any(|m| (pb.net.w_in[(m, q.x as usize)] + wy[(m, q.y as usize)]).abs() < KINK_MARGIN)
    })
}

fn finite_difference(pb: &Problem) -> Vec<f64> {
    let mut out = Vec::new();
    let mut net = pb.net.clone();
    let n_tensors = net.param_slices().len();
    for t in 0..n_tensors {
        let len = net.param_slices()[t].len();
        for i in 0..len {
            let orig = net.param_slices()[t][i];
            let mut at = |d: f64| {
                net.param_slices_mut()[t][i] = orig + d;
                loss_of(&net, pb.act, pb.loss, &pb.pairs)
            };
            let (l1, lm1) = (at(FD_STEP), at(-FD_STEP));
            let (l2, lm2) = (at(2.0 * FD_STEP), at(-2.0 * FD_STEP));
            net.param_slices_mut()[t][i] = orig;
            out.push((8.0 * (l1 - lm1) - (l2 - lm2)) / (12.0 * FD_STEP));
        }
    }
    out
}

fn prop_reference_matches_finite_differences(pb: Problem) -> TestResult {
    if near_kink(&pb) {
        return TestResult::discard();
    }
    let (_, g) = reference_loss_and_grad(&pb.net, pb.act, pb.loss, &pb.pairs);
    let analytic = flatten(&g);
    let fd = finite_difference(&pb);
    let err = common::rel_max_err(&fd, &analytic, 1e-8);
    if err <= FD_TOL {
        TestResult::passed()
    } else {
        TestResult::error(format!(
            "{:?} {:?} p={} M={}: FD error {err:e}",
            pb.act,
            pb.loss,
            pb.net.p,
            pb.net.width()
        ))
    }
}

#[test]
fn reference_gradient_matches_central_differences() {
    QuickCheck::new()
        .tests(150)
        .quickcheck(prop_reference_matches_finite_differences as fn(Problem) -> TestResult);
}

fn prop_fast_matches_reference(pb: Problem) -> TestResult {
    let batch = Batch::new(&pb.pairs, pb.net.tying());
    let mut grads = Grads::zeros_like(&pb.net);
    let fast = loss_and_grad(
        &pb.net,
        pb.act,
        pb.loss,
        &batch,
        &mut Workspace::new(),
        &mut grads,
    );
    let (slow, g) = reference_loss_and_grad(&pb.net, pb.act, pb.loss, &pb.pairs);
    let tol = reorder_tol(pb.pairs.len() * pb.net.width());
    let le = (fast.loss - slow.loss).abs() / slow.loss.abs().max(1e-300);
    if le > tol || fast.accuracy != slow.accuracy {
        return TestResult::error(format!(
            "loss {} vs {}, acc {} vs {}",
            fast.loss, slow.loss, fast.accuracy, slow.accuracy
        ));
    }
    let err = common::rel_max_err(&flatten(&grads), &flatten(&g), 1e-300);
    if err <= tol {
        TestResult::passed()
    } else {
        TestResult::error(format!("gradient error {err:e} > {tol:e}"))
    }
}

#[test]
fn fast_path_matches_naive_reference() {
    QuickCheck::new()
        .tests(200)
        .quickcheck(prop_fast_matches_reference as fn(Problem) -> TestResult);
}

/// Larger than one chunk (p^2 = 1681 > 512 rows, merged to 861) so the chunked accumulation of
/// dW_out and the scatter across chunks are exercised, for both tyings.
#[test]
fn fast_path_matches_reference_across_chunks() {
    for tying in [Tying::Tied, Tying::Untied] {
        for act in [Activation::Relu, Activation::Quad] {
            let net = Network::<f64>::init(41, 7, Init::Random { scale: 0.5 }, tying, 3).unwrap();
            let pairs = all_pairs(41, Task::Add);
            let batch = Batch::new(&pairs, tying);
            assert!(batch.rows() > modadd::numerics::grad::CHUNK);
            let mut grads = Grads::zeros_like(&net);
            let fast = loss_and_grad(
                &net,
                act,
                Loss::CeMean,
                &batch,
                &mut Workspace::new(),
                &mut grads,
            );
            let (slow, g) = reference_loss_and_grad(&net, act, Loss::CeMean, &pairs);
            let tol = reorder_tol(pairs.len() * 7);
            assert!((fast.loss - slow.loss).abs() <= tol * slow.loss);
            assert_eq!(fast.accuracy, slow.accuracy);
            assert_close(
                "chunked gradient",
                &flatten(&grads),
                &flatten(&g),
                1e-300,
                tol,
            );
        }
    }
}

/// Merging (x, y) with (y, x) for the tied model is exact: the merged batch has half the rows
/// (plus the diagonal) and the same loss and gradient as the unmerged one.
#[test]
fn tied_merge_halves_rows_and_keeps_gradient() {
    let p = 13;
    let net = Network::<f64>::init(p, 9, Init::Random { scale: 0.4 }, Tying::Tied, 11).unwrap();
    let pairs = all_pairs(p, Task::Add);
    let merged = Batch::<f64>::new(&pairs, Tying::Tied);
    let plain = Batch::<f64>::plain(&pairs);
    assert_eq!(merged.rows(), p * (p + 1) / 2);
    assert_eq!(merged.n, p * p);
    let mut g1 = Grads::zeros_like(&net);
    let mut g2 = Grads::zeros_like(&net);
    let e1 = loss_and_grad(
        &net,
        Activation::Relu,
        Loss::CeSum,
        &merged,
        &mut Workspace::new(),
        &mut g1,
    );
    let e2 = loss_and_grad(
        &net,
        Activation::Relu,
        Loss::CeSum,
        &plain,
        &mut Workspace::new(),
        &mut g2,
    );
    let tol = reorder_tol(p * p * 9);
    assert!((e1.loss - e2.loss).abs() <= tol * e2.loss);
    assert_close("merged vs plain", &flatten(&g1), &flatten(&g2), 1e-300, tol);
}

/// The f32 fast path agrees with the f64 reference to single-precision accuracy: relative
/// error of a few hundred f32 ulps accumulated over M-term sums (bound 1e-4).
#[test]
fn f32_path_matches_f64_reference() {
    const F32_TOL: f64 = 1e-4;
    let net = Network::<f64>::init(23, 64, Init::Random { scale: 0.1 }, Tying::Tied, 42).unwrap();
    let net32 = net.cast::<f32>();
    let pairs = all_pairs(23, Task::Add);
    let mut g = Grads::zeros_like(&net32);
    let fast = loss_and_grad(
        &net32,
        Activation::Relu,
        Loss::CeMean,
        &Batch::new(&pairs, Tying::Tied),
        &mut Workspace::new(),
        &mut g,
    );
    let (slow, gr) = reference_loss_and_grad(&net32, Activation::Relu, Loss::CeMean, &pairs);
    assert!((fast.loss - slow.loss).abs() <= F32_TOL * slow.loss);
    let g64: Vec<f64> = g.slices().concat().iter().map(|&v| v as f64).collect();
    assert_close("f32 gradient", &g64, &flatten(&gr), 1e-300, F32_TOL);
}

/// The naive logits of `Network::logits` match the documented formula by hand on a 1-neuron
/// network: f(x, y)[j] = xi[j] * sigma(theta[x] + theta[y]).
#[test]
fn logits_follow_the_documented_formula() {
    let w_in = nalgebra::DMatrix::from_row_slice(1, 3, &[0.5, -1.0, 2.0]);
    let w_out = nalgebra::DMatrix::from_row_slice(3, 1, &[1.0, 2.0, -3.0]);
    let net = Network::new(w_in, w_out, None).unwrap();
    // x = 0, y = 2: h = 0.5 + 2 = 2.5, quad -> 6.25.
    assert_eq!(net.logits(Activation::Quad, 0, 2), vec![6.25, 12.5, -18.75]);
    // x = y = 1: h = -2, relu -> 0.
    assert_eq!(net.logits(Activation::Relu, 1, 1), vec![0.0, 0.0, 0.0]);
}
