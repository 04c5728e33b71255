//! One full-batch training step (forward, loss, backward, AdamW) in f32 on the CPU backend,
//! beside its three products done alone by each GEMM we can use, and the per-epoch recording.
//!
//! Sizes (p, M): (23, 512), (97, 1024), (97, 9107) (the preset widths at p = 23 and 97, and
//! p = 97 at a small width); full dataset, tied model, Quad, mean CE, AdamW. The step merges
//! (x, y)/(y, x), so its products have n = p (p + 1) / 2 columns:
//!   logits   Z (p x n)     = W_out (p x M) A (M x n)
//!   dW_out     (p x M)     = G (p x n) A^T (n x M)
//!   dA         (M x n)     = W_out^T (M x p) G (p x n)
//! 6 p M n floating-point operations in all (the GFLOP/s figures of `benches/compare.py`).
//!
//! Groups (ids carry the size and the thread count `_tT`; threads 1 and every core, or the
//! list in `MODADD_BENCH_THREADS`, e.g. `1,2`):
//! - `step_quad_f32_cpu/step`: [`Backend::step`] on a backend with T threads.
//! - `products_f32_cpu/matrixmultiply`: the three products by `matrixmultiply` (the GEMM the
//!   step uses), on T threads split as the step splits them (the logits by columns, `dW_out`
//!   and `dA` by neurons); no chunking.
//! - `products_f32_cpu/faer`: the same products by `faer::linalg::matmul::matmul`
//!   (`Par::Seq`, or `Par::rayon(T)` inside a T-thread pool).
//! - `record_f32_cpu/record`: what the grokking recorder does per epoch (correctness grid,
//!   pair-class accuracies, IPR and mean |sin D| through the probe with kept buffers).
//!
//! Every timed loop runs inside its thread pool, as `modadd train` runs its epochs (entering a
//! pool from outside wakes its threads, which costs more than a p = 23 step's parallel work).
//!
//! Run: `cargo bench --bench step` (about 5 minutes on 2 cores); one group or size with a
//! filter, e.g. `cargo bench --bench step -- p97_m1024`. `benches/compare.py --bench` runs it
//! per size and prints the step against its products.

use criterion::{
    black_box, criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use modadd::backend::cpu::CpuBackend;
use modadd::backend::Backend;
use modadd::numerics::activation::Activation;
use modadd::numerics::init::Init;
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::numerics::optim::OptimizerConfig;
use modadd::numerics::parallel::{
    available_threads, block, block_size, set_default_threads, Threads,
};
use modadd::numerics::real::{gemm, Strides};
use modadd::numerics::task::{Split, Task};
use rayon::prelude::*;

const SIZES: [(usize, usize); 3] = [(23, 512), (97, 1024), (97, 9107)];

fn thread_counts() -> Vec<usize> {
    match std::env::var("MODADD_BENCH_THREADS") {
        Ok(s) if !s.is_empty() => s
            .split(',')
            .map(|v| {
                v.trim()
                    .parse()
                    .expect("MODADD_BENCH_THREADS: a list like 1,2")
            })
            .collect(),
        _ => {
            let mut v = vec![1, available_threads()];
            v.dedup();
            v
        }
    }
}

/// Big sizes take one step per sample (a step is hundreds of milliseconds there).
fn configure<M: criterion::measurement::Measurement>(
    g: &mut criterion::BenchmarkGroup<'_, M>,
    p: usize,
    m: usize,
) {
    if p * p * m > 20_000_000 {
        g.sampling_mode(SamplingMode::Flat).sample_size(10);
    } else {
        g.sampling_mode(SamplingMode::Auto).sample_size(30);
    }
}

fn backend(p: usize, m: usize, frac: f64, wd: f64, act: Activation, t: usize) -> CpuBackend<f32> {
    let split = Split::seeded(p, Task::Add, frac, 42).unwrap();
    let net = Network::<f32>::init(p, m, Init::Random { scale: 0.1 }, Tying::Tied, 42).unwrap();
    let opt = OptimizerConfig::adamw(wd)
        .build::<f32>(&[m * p, p * m])
        .unwrap();
    let threads = Threads::new(t).unwrap();
    CpuBackend::with_threads(net, act, Loss::CeMean, &split, opt, threads)
}

fn step(c: &mut Criterion) {
    let mut g = c.benchmark_group("step_quad_f32_cpu");
    for (p, m) in SIZES {
        configure(&mut g, p, m);
        g.throughput(Throughput::Elements((p * p) as u64));
        for t in thread_counts() {
            let mut b = backend(p, m, 1.0, 0.0, Activation::Quad, t);
            let threads = b.threads().clone();
            // Inside the pool, as `modadd train` runs its epochs (entering it from outside
            // wakes its threads each time).
            g.bench_function(BenchmarkId::new("step", format!("p{p}_m{m}_t{t}")), |bch| {
                threads.install(|| bch.iter(|| black_box(b.step(black_box(1e-5)))))
            });
        }
    }
    g.finish();
}

/// The operands of the three products at (p, M) on n = p (p + 1) / 2 columns.
struct Operands {
    p: usize,
    m: usize,
    n: usize,
    w_out: Vec<f32>,
    a: Vec<f32>,
    z: Vec<f32>,
    gw: Vec<f32>,
    da: Vec<f32>,
}

impl Operands {
    fn new(p: usize, m: usize) -> Self {
        let n = p * (p + 1) / 2;
        let fill = |len: usize, s: f32| (0..len).map(|i| s * ((i % 17) as f32 - 8.0)).collect();
        Operands {
            p,
            m,
            n,
            w_out: fill(p * m, 0.01),
            a: fill(m * n, 0.02),
            z: fill(p * n, 0.0),
            gw: vec![0.0; p * m],
            da: vec![0.0; m * n],
        }
    }
}

/// The three products by matrixmultiply, split over `t` threads as the step splits them.
fn products_mm(o: &mut Operands, t: &Threads) {
    let (p, m, n) = (o.p, o.m, o.n);
    let k = t.count();
    let (w_out, a) = (&o.w_out[..], &o.a[..]);
    let (cb, mb) = (block_size(n, k, 1), block_size(m, k, 16).min(m));
    let z = &mut o.z;
    let run_logits = |(b, zb): (usize, &mut [f32])| {
        let (c0, nc) = block(n, cb, b);
        gemm(
            1.0,
            w_out,
            Strides::col_major(p, m),
            &a[c0 * m..],
            Strides::col_major(m, nc),
            0.0,
            zb,
            Strides::col_major(p, nc),
        );
    };
    if t.parallel() {
        t.install(|| z.par_chunks_mut(p * cb).enumerate().for_each(run_logits));
    } else {
        z.chunks_mut(p * cb).enumerate().for_each(run_logits);
    }
    let z_ro = &o.z[..];
    let run_back = |(b, (gw, da)): (usize, (&mut [f32], &mut [f32]))| {
        let (m0, nb) = block(m, mb, b);
        // dW_out[:, block] = G A[block, :]^T
        gemm(
            1.0,
            z_ro,
            Strides::col_major(p, n),
            &a[m0..],
            Strides {
                rows: n,
                cols: nb,
                rs: m,
                cs: 1,
            },
            0.0,
            gw,
            Strides::col_major(p, nb),
        );
        // dA[block, :] = W_out[:, block]^T G (block-major, as the step stores it)
        gemm(
            1.0,
            &w_out[m0 * p..],
            Strides::col_major(p, nb).t(),
            z_ro,
            Strides::col_major(p, n),
            0.0,
            da,
            Strides::col_major(nb, n),
        );
    };
    if t.parallel() {
        t.install(|| {
            o.gw.par_chunks_mut(p * mb)
                .zip(o.da.par_chunks_mut(mb * n))
                .enumerate()
                .for_each(run_back)
        });
    } else {
        o.gw.chunks_mut(p * mb)
            .zip(o.da.chunks_mut(mb * n))
            .enumerate()
            .for_each(run_back);
    }
}

/// The three products by faer.
fn products_faer(o: &mut Operands, t: &Threads) {
    use faer::linalg::matmul::matmul;
    use faer::{Accum, MatMut, MatRef, Par};
    let (p, m, n) = (o.p, o.m, o.n);
    let par = if t.parallel() {
        Par::rayon(t.count())
    } else {
        Par::Seq
    };
    t.install(|| {
        let w_out = MatRef::from_column_major_slice(&o.w_out, p, m);
        let a = MatRef::from_column_major_slice(&o.a, m, n);
        matmul(
            MatMut::from_column_major_slice_mut(&mut o.z, p, n),
            Accum::Replace,
            w_out,
            a,
            1.0f32,
            par,
        );
        let g = MatRef::from_column_major_slice(&o.z, p, n);
        matmul(
            MatMut::from_column_major_slice_mut(&mut o.gw, p, m),
            Accum::Replace,
            g,
            a.transpose(),
            1.0f32,
            par,
        );
        matmul(
            MatMut::from_column_major_slice_mut(&mut o.da, m, n),
            Accum::Replace,
            w_out.transpose(),
            g,
            1.0f32,
            par,
        );
    });
}

fn products(c: &mut Criterion) {
    let mut g = c.benchmark_group("products_f32_cpu");
    for (p, m) in SIZES {
        configure(&mut g, p, m);
        let mut o = Operands::new(p, m);
        g.throughput(Throughput::Elements((6 * p * m * o.n) as u64));
        for t in thread_counts() {
            let threads = Threads::new(t).unwrap();
            let id = format!("p{p}_m{m}_t{t}");
            g.bench_function(BenchmarkId::new("matrixmultiply", &id), |bch| {
                threads.install(|| bch.iter(|| products_mm(black_box(&mut o), &threads)))
            });
            g.bench_function(BenchmarkId::new("faer", &id), |bch| {
                threads.install(|| bch.iter(|| products_faer(black_box(&mut o), &threads)))
            });
        }
    }
    g.finish();
}

/// The per-epoch cost of the default recording (correctness grid, pair-class accuracies, IPR
/// and mean |sin D| through the probe with kept buffers, reading the weights without a copy),
/// to set beside the step of the same size and threads.
fn recording(c: &mut Criterion) {
    use modadd::science::grokking::probe::{ProbeBuffers, SpectralProbe};
    use modadd::science::grokking::{class_accuracy, classify};
    let mut g = c.benchmark_group("record_f32_cpu");
    for (p, m) in [(23, 512), (97, 9107)] {
        configure(&mut g, p, m);
        for t in thread_counts() {
            let mut b = backend(p, m, 1.0, 0.0, Activation::Quad, t);
            b.step(1e-5);
            let split = Split::seeded(p, Task::Add, 1.0, 42).unwrap();
            let probe = SpectralProbe::new(p);
            let classes = classify(&split);
            let mut grid = Vec::new();
            let mut buf = ProbeBuffers::new();
            // The probe runs on the process-wide threads: set them to t for this bench.
            set_default_threads(t).unwrap();
            let threads = b.threads().clone();
            g.bench_function(
                BenchmarkId::new("record", format!("p{p}_m{m}_t{t}")),
                |bch| {
                    threads.install(|| {
                        bch.iter(|| {
                            b.correct_grid(&mut grid);
                            let acc = class_accuracy(&classes, &grid);
                            black_box((probe.measures_with(&b.weights(), &mut buf), acc))
                        })
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(std::time::Duration::from_secs(3))
        .warm_up_time(std::time::Duration::from_secs(1));
    targets = step, products, recording
}
criterion_main!(benches);
