//! Claim: the fused AVX-512 kernels (`numerics::fused`, the default for f32, tied, Quad or
//! ReLU, p <= 24) compute the same loss, accuracy and gradients as the GEMM path and the naive
//! f64 reference, to single-precision round-off; on every shape of the kernels' edges (p at
//! and around the 8/16/24 accumulator steps, widths not a multiple of 16, partial vectors of
//! rows, rows with x = y, subsets and duplicated rows) and on every thread count bit for bit.
//!
//! Without AVX-512F the fused path does not run: each test then prints "skipped" and checks
//! only that `Kernel::Auto` falls back to the GEMM path's bits.

mod common;
use common::assert_close;
use modadd::numerics::activation::Activation;
use modadd::numerics::batch::Batch;
use modadd::numerics::fused;
use modadd::numerics::grad::{
    evaluate, loss_and_grad, reference_loss_and_grad, Eval, Grads, Kernel, Workspace,
};
use modadd::numerics::init::Init;
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::numerics::parallel::Threads;
use modadd::numerics::real::Real;
use modadd::numerics::task::{all_pairs, Pair, Split, Task};

/// Norm-wise relative bound between an f32 pass and the f64 reference. Each output is a sum
/// of K <= max(M, n) = 300 products in f32 (unit round-off u = 2^-24 = 6e-8), through two
/// such sums in a row for the input-weight gradient: worst case 2 K u = 3.6e-5 of the terms'
/// magnitude, and cancellation in the gradient can raise that by the ratio of the terms to
/// the result, a few times here. The GEMM path is held to the same 1e-4 in
/// `tests/gradients.rs`.
const F32_TOL: f64 = 1e-4;

fn flatten<T: Real>(g: &Grads<T>) -> Vec<f64> {
    g.slices().concat().iter().map(|v| v.f64()).collect()
}

fn run(
    net: &Network<f32>,
    act: Activation,
    loss: Loss,
    batch: &Batch<f32>,
    ws: Workspace<f32>,
) -> (Eval, Grads<f32>, Vec<bool>) {
    let mut ws = ws;
    let mut g = Grads::zeros_like(net);
    let e = loss_and_grad(net, act, loss, batch, &mut ws, &mut g);
    (e, g, ws.correct().to_vec())
}

/// (p, M, activation, loss, rows): p around the accumulator steps 8, 16 and 24, widths with
/// a partial vector of neurons and fewer neurons than 16, row sets of every kind.
fn cases() -> Vec<(usize, usize, Activation, Loss, Vec<Pair>, bool)> {
    let mut v = vec![];
    let acts = [Activation::Quad, Activation::Relu];
    for (i, &(p, m)) in [
        (3, 3),
        (5, 16),
        (7, 37),
        (9, 64),
        (15, 20),
        (17, 33),
        (23, 512),
        (21, 47),
    ]
    .iter()
    .enumerate()
    {
        let act = acts[i % 2];
        let loss = [Loss::CeMean, Loss::CeSum, Loss::Mse][i % 3];
        // Every pair, merged into p (p + 1) / 2 rows (x <= y, the diagonal once).
        v.push((p, m, act, loss, all_pairs(p, Task::Add), true));
        // A seeded subset, merged: rows of weight 1 and 2.
        let sub = Split::seeded(p, Task::Add, 0.6, i as u64).unwrap().train;
        v.push((p, m, acts[(i + 1) % 2], loss, sub.clone(), true));
        // The subset as plain rows, some twice, both orders: x = y and x > y rows.
        let mut plain = sub.clone();
        plain.extend(sub.iter().take(5).copied());
        v.push((p, m, act, loss, plain, false));
    }
    v
}

fn batch_of(pairs: &[Pair], merged: bool) -> Batch<f32> {
    if merged {
        Batch::new(pairs, Tying::Tied)
    } else {
        Batch::plain(pairs)
    }
}

#[test]
fn fused_agrees_with_the_reference_and_the_gemm_path() {
    if !fused::available() {
        eprintln!("skipped: this CPU has no AVX-512F (the fused kernels do not run)");
    }
    for (p, m, act, loss, pairs, merged) in cases() {
        let net = Network::<f64>::init(p, m, Init::Random { scale: 0.4 }, Tying::Tied, 7)
            .unwrap()
            .cast::<f32>();
        let batch = batch_of(&pairs, merged);
        let what = format!(
            "p={p} M={m} {act:?} {loss:?} rows={} merged={merged}",
            batch.rows()
        );
        let (ef, gf, cf) = run(&net, act, loss, &batch, Workspace::new());
        let (eg, gg, cg) = run(
            &net,
            act,
            loss,
            &batch,
            Workspace::new().with_kernel(Kernel::Gemm),
        );
        let (er, gr) = reference_loss_and_grad(&net, act, loss, &pairs);
        let scale = gr
            .slices()
            .concat()
            .iter()
            .fold(0.0f64, |s, v| s.max(v.abs()));
        assert!(scale > 0.0, "{what}: a zero gradient tests nothing");
        assert!(
            (ef.loss - er.loss).abs() <= F32_TOL * er.loss.abs().max(1e-30),
            "{what}: loss {} vs reference {}",
            ef.loss,
            er.loss
        );
        assert_close(
            &format!("{what}: fused vs f64"),
            &flatten(&gf),
            &flatten(&gr),
            1e-30,
            F32_TOL,
        );
        assert_close(
            &format!("{what}: fused vs GEMM"),
            &flatten(&gf),
            &flatten(&gg),
            1e-30,
            2.0 * F32_TOL,
        );
        // The classification agrees wherever the reference's top two logits are not within
        // round-off of each other; on these random nets the accuracies are equal.
        assert_eq!(cf, cg, "{what}: per-row correctness");
        assert_eq!(ef.accuracy, eg.accuracy, "{what}: accuracy");
        let ev = evaluate(&net, act, loss, &batch, &mut Workspace::new());
        let evg = evaluate(
            &net,
            act,
            loss,
            &batch,
            &mut Workspace::new().with_kernel(Kernel::Gemm),
        );
        assert!(
            (ev.loss - evg.loss).abs() <= F32_TOL * evg.loss.abs().max(1e-30),
            "{what}: evaluate {} vs GEMM {}",
            ev.loss,
            evg.loss
        );
    }
}

#[test]
fn fused_bits_do_not_depend_on_the_thread_count() {
    for (p, m, act, loss, pairs, merged) in cases() {
        let net = Network::<f32>::init(p, m, Init::Random { scale: 0.4 }, Tying::Tied, 3).unwrap();
        let batch = batch_of(&pairs, merged);
        let bits = |t: usize| {
            let ws = Workspace::with_threads(Threads::new(t).unwrap());
            let (e, g, c) = run(&net, act, loss, &batch, ws);
            let mut ev_ws = Workspace::with_threads(Threads::new(t).unwrap());
            let ev = evaluate(&net, act, loss, &batch, &mut ev_ws);
            let gb: Vec<u32> = g.slices().concat().iter().map(|v| v.to_bits()).collect();
            (
                e.loss.to_bits(),
                e.accuracy.to_bits(),
                gb,
                c,
                ev.loss.to_bits(),
            )
        };
        let one = bits(1);
        for t in [2, 3] {
            assert!(
                one == bits(t),
                "p={p} M={m} {act:?}: {t} threads differ from 1"
            );
        }
    }
}

/// Where the fused kernels do not apply, `Kernel::Auto` is the GEMM path bit for bit: f64,
/// the untied network, other activations, p above 24, and any p on a CPU without AVX-512F.
#[test]
fn outside_the_fused_cases_auto_is_the_gemm_path() {
    let same = |net: &Network<f32>, act: Activation, pairs: &[Pair], tying: Tying| {
        let batch = Batch::new(pairs, tying);
        let (ea, ga, _) = run(net, act, Loss::CeMean, &batch, Workspace::new());
        let (eg, gg, _) = run(
            net,
            act,
            Loss::CeMean,
            &batch,
            Workspace::new().with_kernel(Kernel::Gemm),
        );
        ea.loss.to_bits() == eg.loss.to_bits() && ga == gg
    };
    let tied =
        |p, m| Network::<f32>::init(p, m, Init::Random { scale: 0.4 }, Tying::Tied, 1).unwrap();
    let untied =
        Network::<f32>::init(11, 20, Init::Random { scale: 0.4 }, Tying::Untied, 1).unwrap();
    assert!(same(
        &tied(25, 40),
        Activation::Quad,
        &all_pairs(25, Task::Add),
        Tying::Tied
    ));
    assert!(same(
        &tied(11, 40),
        Activation::Abs,
        &all_pairs(11, Task::Add),
        Tying::Tied
    ));
    assert!(same(
        &untied,
        Activation::Quad,
        &all_pairs(11, Task::Sub),
        Tying::Untied
    ));
    let differs = !same(
        &tied(23, 40),
        Activation::Quad,
        &all_pairs(23, Task::Add),
        Tying::Tied,
    );
    // On an AVX-512 CPU the fused kernels sum in another order: the bits differ (which also
    // shows that the fused path ran); elsewhere Auto is the GEMM path.
    assert_eq!(differs, fused::available());
}
