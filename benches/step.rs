//! One full-batch training step (forward, loss, backward, AdamW) in f32 on the CPU backend,
//! beside the three GEMMs of the same shapes that dominate it.
//!
//! Sizes (p, M): (23, 512), (59, 1024), (97, 1024); full dataset, tied model, ReLU, mean CE.
//! The step merges (x, y)/(y, x), so its GEMMs have n = p (p + 1) / 2 columns.
//! Run: `cargo bench --bench step`.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use modadd::backend::cpu::CpuBackend;
use modadd::backend::Backend;
use modadd::numerics::activation::Activation;
use modadd::numerics::init::Init;
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::numerics::optim::OptimizerConfig;
use modadd::numerics::real::{gemm, Strides};
use modadd::numerics::task::{Split, Task};

const SIZES: [(usize, usize); 3] = [(23, 512), (59, 1024), (97, 1024)];

fn step(c: &mut Criterion) {
    let mut g = c.benchmark_group("step_f32_cpu");
    for (p, m) in SIZES {
        let split = Split::seeded(p, Task::Add, 1.0, 42).unwrap();
        let net = Network::<f32>::init(p, m, Init::Random { scale: 0.1 }, Tying::Tied, 42).unwrap();
        let opt = OptimizerConfig::adamw(0.0)
            .build::<f32>(&[m * p, p * m])
            .unwrap();
        let mut b = CpuBackend::new(net, Activation::Relu, Loss::CeMean, &split, opt);
        g.throughput(Throughput::Elements((p * p) as u64));
        g.bench_function(BenchmarkId::new("step", format!("p{p}_m{m}")), |bch| {
            bch.iter(|| black_box(b.step(black_box(1e-5))))
        });
    }
    g.finish();
}

fn gemms(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm3_f32_cpu");
    for (p, m) in SIZES {
        let n = p * (p + 1) / 2;
        let w_out = vec![0.01f32; p * m];
        let a = vec![0.02f32; m * n];
        let mut z = vec![0f32; p * n];
        let mut gw = vec![0f32; p * m];
        let mut da = vec![0f32; m * n];
        g.throughput(Throughput::Elements((p * p) as u64));
        g.bench_function(
            BenchmarkId::new("three_gemms", format!("p{p}_m{m}")),
            |bch| {
                bch.iter(|| {
                    // logits: Z (p x n) = W_out (p x M) A (M x n)
                    gemm(
                        1.0,
                        &w_out,
                        Strides::col_major(p, m),
                        &a,
                        Strides::col_major(m, n),
                        0.0,
                        &mut z,
                        Strides::col_major(p, n),
                    );
                    // dW_out (p x M) = G (p x n) A^T (n x M)
                    gemm(
                        1.0,
                        &z,
                        Strides::col_major(p, n),
                        &a,
                        Strides::col_major(m, n).t(),
                        0.0,
                        &mut gw,
                        Strides::col_major(p, m),
                    );
                    // dA (M x n) = W_out^T (M x p) G (p x n)
                    gemm(
                        1.0,
                        &w_out,
                        Strides::col_major(p, m).t(),
                        &z,
                        Strides::col_major(p, n),
                        0.0,
                        &mut da,
                        Strides::col_major(m, n),
                    );
                    black_box((&z, &gw, &da));
                })
            },
        );
    }
    g.finish();
}

/// The per-epoch cost of recording progress measures (IPR and mean |sin D| through the batched
/// probe, the correctness grid, pair-class accuracies) on the grokking preset's split, beside
/// one step of the same run: the recording budget is 20 % of the step.
fn recording(c: &mut Criterion) {
    use modadd::science::grokking::probe::SpectralProbe;
    use modadd::science::grokking::{class_accuracy, classify};
    let mut g = c.benchmark_group("record_f32_cpu");
    let (p, m) = (23, 512);
    let split = Split::seeded(p, Task::Add, 0.75, 42).unwrap();
    let net = Network::<f32>::init(p, m, Init::Random { scale: 0.1 }, Tying::Tied, 42).unwrap();
    let opt = OptimizerConfig::adamw(2.0)
        .build::<f32>(&[m * p, p * m])
        .unwrap();
    let mut b = CpuBackend::new(net, Activation::Relu, Loss::CeMean, &split, opt);
    let probe = SpectralProbe::new(p);
    let classes = classify(&split);
    let mut grid = Vec::new();
    g.bench_function(
        BenchmarkId::new("grokking_step", format!("p{p}_m{m}")),
        |bch| {
            bch.iter(|| {
                black_box(b.eval_test());
                black_box(b.step(black_box(1e-5)))
            })
        },
    );
    g.bench_function(BenchmarkId::new("record", format!("p{p}_m{m}")), |bch| {
        bch.iter(|| {
            b.correct_grid(&mut grid);
            let acc = class_accuracy(&classes, &grid);
            black_box((probe.measures(&b.network()), acc))
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = step, gemms, recording
}
criterion_main!(benches);
