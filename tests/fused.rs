//! Claim: the fused AVX-512 kernels (`numerics::fused`, the default for f32, tied, Quad or
//! ReLU: the whole step for p <= 24, the backward pass for any p) compute the same loss,
//! accuracy and gradients as the GEMM path and the naive f64 reference, to single-precision
//! round-off; on every shape of the kernels' edges (p at and around the 8/16/24 accumulator
//! steps and their blocks above 24, widths not a multiple of 16, partial vectors of rows, rows
//! with x = y, subsets and duplicated rows) and on every thread count bit for bit.
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

/// Norm-wise relative bound between an f32 pass and the f64 reference for a case with M
/// neurons and n rows: each output is a chain of K <= max(M, n) f32 products (unit round-off
/// u = 2^-24), through two such chains in a row for the input-weight gradient, so at most
/// 2 K u of the terms' magnitude (Higham's gamma_K, twice). Measured over these cases: at most
/// 2.8e-6 (fused) and 6.4e-7 (GEMM), under 2 K u in every case.
fn f32_tol(m: usize, rows: usize) -> f64 {
    2.0 * m.max(rows) as f64 * f32::EPSILON as f64 / 2.0
}

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
        let tol = f32_tol(m, batch.rows());
        let scale = gr
            .slices()
            .concat()
            .iter()
            .fold(0.0f64, |s, v| s.max(v.abs()));
        assert!(scale > 0.0, "{what}: a zero gradient tests nothing");
        assert!(
            (ef.loss - er.loss).abs() <= tol * er.loss.abs().max(1e-30),
            "{what}: loss {} vs reference {}",
            ef.loss,
            er.loss
        );
        assert_close(
            &format!("{what}: fused vs f64"),
            &flatten(&gf),
            &flatten(&gr),
            1e-30,
            tol,
        );
        assert_close(
            &format!("{what}: fused vs GEMM"),
            &flatten(&gf),
            &flatten(&gg),
            1e-30,
            2.0 * tol,
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
            (ev.loss - evg.loss).abs() <= tol * evg.loss.abs().max(1e-30),
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
/// the untied network, other activations, and any p on a CPU without AVX-512F.
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
    // On an AVX-512 CPU the fused kernels sum in another order: the bits differ (which also
    // shows that the fused path ran: the whole step at p = 23, the backward pass at p = 29);
    // elsewhere Auto is the GEMM path.
    for p in [23, 29] {
        let pairs = all_pairs(p, Task::Add);
        let differs = !same(&tied(p, 40), Activation::Quad, &pairs, Tying::Tied);
        assert_eq!(differs, fused::available(), "p = {p}");
    }
}

/// `fused::project` (the recorder's Fourier sums in f32) against the same sums in f64: both
/// strides (W_in's columns, W_out's rows), row counts around its groups of six, table widths
/// up to 32. Each output is a p-term f32 sum: within 2 p u sum_x |w t| (u = 2^-24).
#[test]
fn projection_matches_f64_sums() {
    if !fused::available() {
        eprintln!("skipped: this CPU has no AVX-512F");
        return;
    }
    let mut rng = 12345u64;
    let mut next = || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((rng >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    };
    for &(m, p, k) in &[
        (1, 3, 2),
        (7, 5, 4),
        (13, 23, 22),
        (64, 33, 32),
        (37, 11, 17),
    ] {
        let w: Vec<f32> = (0..m * p).map(|_| next()).collect();
        let t: Vec<f32> = (0..p * k).map(|_| next()).collect();
        for (rs, cs) in [(1, m), (p, 1)] {
            for (m0, mb) in [(0, m), (m / 2, m - m / 2)] {
                let mut out = vec![f32::NAN; mb * k];
                let mut rows = Vec::new();
                fused::project_table(&t, p, k, &mut rows);
                assert!(fused::project(
                    &w,
                    (rs, cs),
                    (m0, mb),
                    (&rows, p, k),
                    &mut out
                ));
                for i in 0..mb {
                    for c in 0..k {
                        let terms =
                            (0..p).map(|x| w[(m0 + i) * rs + x * cs] as f64 * t[x + c * p] as f64);
                        let exact: f64 = terms.clone().sum();
                        let bound = 2.0 * p as f64 * f32::EPSILON as f64 / 2.0
                            * terms.map(f64::abs).sum::<f64>();
                        let got = out[i * k + c] as f64;
                        assert!(
                            (got - exact).abs() <= bound,
                            "m={m} p={p} k={k} ({rs},{cs}) row {i} col {c}: {got} vs {exact}"
                        );
                    }
                }
            }
        }
    }
    // Wider than two vectors, or a table of more than 33 rows: not taken.
    let mut out = vec![0.0; 33];
    assert!(!fused::project(
        &[0.0; 33],
        (1, 1),
        (0, 1),
        (&[0.0; 33], 1, 33),
        &mut out
    ));
}

/// `fused::energies` against the sums in k order: sum e_k and sum e_k^2 to f64 reordering
/// round-off (K terms: 2 K eps relative), the first index of the largest energy exactly (ties
/// planted), and a NaN row stops it where the scalar code takes over.
#[test]
fn energies_match_the_scalar_sums() {
    if !fused::available() {
        eprintln!("skipped: this CPU has no AVX-512F");
        return;
    }
    for k in [1usize, 5, 11, 16] {
        let mut rows: Vec<f32> = (0..4 * 2 * k)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 7.0)
            .collect();
        // Row 1: energies tied at k0 = 0 and the last k (c = 3 at both, s = 0).
        for v in &mut rows[2 * k..4 * k] {
            *v = 0.0;
        }
        rows[2 * k] = 3.0;
        rows[2 * k + k - 1] = 3.0;
        let mut out = vec![fused::Energies::default(); 4];
        assert_eq!(fused::energies(&rows, k, &mut out), 4);
        for (r, e) in out.iter().enumerate() {
            let row = &rows[r * 2 * k..(r + 1) * 2 * k];
            let en: Vec<f64> = (0..k)
                .map(|i| (row[i] as f64).powi(2) + (row[k + i] as f64).powi(2))
                .collect();
            let (s2, s4): (f64, f64) = (en.iter().sum(), en.iter().map(|e| e * e).sum());
            let best = (0..k).fold(0, |b, i| if en[i] > en[b] { i } else { b });
            let tol = 2.0 * k as f64 * f64::EPSILON;
            assert!(
                (e.sum - s2).abs() <= tol * s2 && (e.sum_sq - s4).abs() <= tol * s4,
                "k={k} row {r}"
            );
            assert_eq!(e.best, best, "k={k} row {r}");
        }
        assert_eq!(out[1].best, 0, "ties go to the first frequency");
        rows[2 * 2 * k] = f32::NAN;
        assert_eq!(
            fused::energies(&rows, k, &mut out),
            2,
            "stops at the NaN row"
        );
    }
    assert_eq!(
        fused::energies(&[0.0; 34], 17, &mut [fused::Energies::default()]),
        0
    );
}

/// `fused::spectra` (sums with the neurons in the lanes, energies per lane) against
/// `fused::project`'s sums of the same layers (the same f32 FMA chains, so the same bits) and
/// the energies in k order in f64 as the probe's scalar loop: every number bit for bit, for
/// K = 1 to 12, widths around the 16 lanes, a tie between the first and last frequency (the
/// first wins), and a neuron with a NaN weight (its NaN energies never the best, as in the
/// scalar loop).
#[test]
fn spectra_equal_the_scalar_energies_of_the_projected_sums() {
    if !fused::available() {
        eprintln!("skipped: this CPU has no AVX-512F");
        return;
    }
    let bits = |v: f64| if v.is_nan() { u64::MAX } else { v.to_bits() };
    for k in [1usize, 2, 5, 11, 12] {
        let p = 2 * k + 1;
        let table: Vec<f32> = (0..p * 2 * k)
            .map(|i| ((i * 29 % 31) as f32 - 15.0) / 8.0)
            .collect();
        let mut rows = Vec::new();
        fused::project_table(&table, p, 2 * k, &mut rows);
        for m in [1usize, 15, 16, 17, 40] {
            let val = |i: usize, s: f32| ((i * 7919 % 1009) as f32 / 504.5 - 1.0) * s;
            let mut w_in: Vec<f32> = (0..m * p).map(|i| val(i, 0.7)).collect();
            let w_out: Vec<f32> = (0..m * p).map(|i| val(i + 11, 0.3)).collect();
            if m > 3 {
                w_in[3] = f32::NAN; // neuron 3, x = 0
            }
            let (mut si, mut so) = (vec![0f32; m * 2 * k], vec![0f32; m * 2 * k]);
            assert!(fused::project(
                &w_in,
                (1, m),
                (0, m),
                (&rows, p, 2 * k),
                &mut si
            ));
            assert!(fused::project(
                &w_out,
                (p, 1),
                (0, m),
                (&rows, p, 2 * k),
                &mut so
            ));
            let want = scalar_spectra(&si, &so, k);
            let mut w_out_t = vec![0f32; m * p];
            fused::transpose(&w_out, (m, p, p), &mut w_out_t, m);
            let mut got = vec![fused::Spectra::default(); m];
            assert!(fused::spectra(
                (&w_in, m, 0),
                &w_out_t,
                (&rows, p, k),
                &mut got
            ));
            for (n, (g, w)) in got.iter().zip(&want).enumerate() {
                let (gb, wb): (Vec<u64>, Vec<u64>) = (
                    g.sums.iter().chain(&g.at_best).map(|&v| bits(v)).collect(),
                    w.sums.iter().chain(&w.at_best).map(|&v| bits(v)).collect(),
                );
                assert_eq!(gb, wb, "K={k} M={m} neuron {n}: {g:?} vs {w:?}");
            }
        }
    }
}

/// The probe's scalar loop on projected sums (rows of 2K: c_1..c_K, then s_1..s_K): the
/// energies in f64 in k order, their sums, and (c, s) of both layers at the input layer's
/// first k of largest energy (`e > best`, best starting at -1).
fn scalar_spectra(si: &[f32], so: &[f32], k: usize) -> Vec<fused::Spectra> {
    let at = |v: &[f32], n: usize, i: usize| v[n * 2 * k + i] as f64;
    (0..si.len() / (2 * k))
        .map(|n| {
            let (mut s, mut best, mut best_e) = ([0.0f64; 4], 0, -1.0);
            for i in 0..k {
                let e = at(si, n, i) * at(si, n, i) + at(si, n, k + i) * at(si, n, k + i);
                let eo = at(so, n, i) * at(so, n, i) + at(so, n, k + i) * at(so, n, k + i);
                s[0] += e;
                s[1] += e * e;
                s[2] += eo;
                s[3] += eo * eo;
                if e > best_e {
                    best_e = e;
                    best = i;
                }
            }
            fused::Spectra {
                sums: s,
                at_best: [
                    at(si, n, best),
                    at(si, n, k + best),
                    at(so, n, best),
                    at(so, n, k + best),
                ],
            }
        })
        .collect()
}

/// `fused::spectra` on a tie: energies equal at the first and the last frequency only; the
/// first wins, as in the scalar loop. K > 12 is refused.
#[test]
fn spectra_take_the_first_of_tied_frequencies() {
    if !fused::available() {
        eprintln!("skipped: this CPU has no AVX-512F");
        return;
    }
    let (k, p) = (4, 9);
    let mut table = vec![0f32; p * 2 * k];
    table[0] = 1.0; // c_1 at x = 0 (column 0 of the p x 2K table)
    table[(2 * k - 1) * p] = 1.0; // s_K at x = 0 (column 2K - 1)
    let mut rows = Vec::new();
    fused::project_table(&table, p, 2 * k, &mut rows);
    let mut w_in = vec![0f32; p];
    w_in[0] = 2.0;
    let mut got = [fused::Spectra::default()];
    assert!(fused::spectra(
        (&w_in, 1, 0),
        &[0f32; 9],
        (&rows, p, k),
        &mut got
    ));
    assert_eq!(got[0].sums[0], 8.0, "e_1 = e_K = 4");
    assert_eq!(
        (got[0].at_best[0], got[0].at_best[1]),
        (2.0, 0.0),
        "the first of the tied frequencies: (c_1, s_1), not (c_K, s_K) = (0, 2)"
    );
    assert!(
        !fused::spectra((&w_in, 1, 0), &[0f32; 9], (&rows, p, 13), &mut got),
        "K > 12"
    );
}

/// The recorder's measures of an f32 network (fused projection and energies) agree with the
/// same network's in f64 (GEMM, scalar sums) to f32 round-off: the weights are the same
/// numbers, and each Fourier sum is a chain of p = 23 f32 products, at most p u = 1.4e-6
/// relative to its terms (u = 2^-24); the IPR and the mean |sin D| average such errors over
/// the neurons (measured: 6e-9 and 1.2e-8).
#[test]
fn probe_measures_in_f32_match_f64() {
    use modadd::science::grokking::probe::SpectralProbe;
    const P_U: f64 = 23.0 * f32::EPSILON as f64 / 2.0;
    let probe = SpectralProbe::new(23);
    for (m, seed) in [(512, 1u64), (37, 2)] {
        let net =
            Network::<f32>::init(23, m, Init::Random { scale: 0.4 }, Tying::Tied, seed).unwrap();
        let (a, b) = (probe.measures(&net), probe.measures(&net.cast::<f64>()));
        assert!(
            (a.ipr - b.ipr).abs() <= P_U * b.ipr,
            "M={m}: IPR {} vs {}",
            a.ipr,
            b.ipr
        );
        assert!(
            (a.mean_abs_sin_d - b.mean_abs_sin_d).abs() <= P_U,
            "M={m}: |sin D| {} vs {}",
            a.mean_abs_sin_d,
            b.mean_abs_sin_d
        );
    }
}
