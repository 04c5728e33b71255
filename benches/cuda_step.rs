//! One full-batch training step (forward, loss, backward, AdamW update), f32, on the CPU backend
//! and on the CUDA backend, at (p, M) = (23, 512), (97, 1024) and (97, 9107 = the reference width
//! formula), full split (all p^2 pairs; the tied model's merged rows: p(p+1)/2).
//!
//! Run on a machine with a GPU: `cargo bench --features cuda --bench cuda_step`.
//! Bench ids: `step/cpu/p23_m512`, `step/cuda/p23_m512` (steps queued back to back, the
//! per-step scalars left on the device: the throughput of `CudaBackend::run_epochs`),
//! `step/cuda_sync/p23_m512` (one `Backend::step` call: queue, wait, fetch the scalars).
//! The CPU at (97, 9107) takes seconds per step; it runs only with MODADD_BENCH_CPU_LARGE=1.
//! The same step in PyTorch and a plain cuBLAS GEMM of the same shapes:
//! `python3 benches/pytorch_gpu_step.py`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use modadd::backend::cpu::CpuBackend;
use modadd::backend::cuda::{cuda_available, CudaBackend};
use modadd::backend::Backend;
use modadd::numerics::activation::Activation;
use modadd::numerics::init::{reference_width, Init};
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::numerics::optim::OptimizerConfig;
use modadd::numerics::task::{Split, Task};
use std::time::{Duration, Instant};

const SIZES: [(usize, usize); 3] = [(23, 512), (97, 1024), (97, 0)];
/// The standard preset's learning rate (the value does not change the work).
const LR: f32 = 5e-5;

fn setup(p: usize, m: usize) -> (Network<f32>, Split, modadd::numerics::optim::Optimizer<f32>) {
    let net = Network::<f32>::init(p, m, Init::Random { scale: 0.1 }, Tying::Tied, 42).unwrap();
    let split = Split::seeded(p, Task::Add, 1.0, 42).unwrap();
    let sizes: Vec<usize> = net.param_slices().iter().map(|s| s.len()).collect();
    let opt = OptimizerConfig::adamw(0.0).build::<f32>(&sizes).unwrap();
    (net, split, opt)
}

fn bench_step(c: &mut Criterion) {
    let gpu = match cuda_available() {
        Ok(()) => true,
        Err(e) => {
            eprintln!("cuda benches skipped: no CUDA device ({e})");
            false
        }
    };
    let cpu_large = std::env::var_os("MODADD_BENCH_CPU_LARGE").is_some();
    let mut g = c.benchmark_group("step");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for (p, m) in SIZES {
        let m = if m == 0 { reference_width(p) } else { m };
        let id = format!("p{p}_m{m}");
        g.throughput(Throughput::Elements((p * p) as u64));
        if m <= 1024 || cpu_large {
            let (net, split, opt) = setup(p, m);
            let mut b = CpuBackend::new(net, Activation::Relu, Loss::CeMean, &split, opt);
            g.bench_function(BenchmarkId::new("cpu", &id), |bch| bch.iter(|| b.step(LR)));
        }
        if gpu {
            let (net, split, opt) = setup(p, m);
            let mut b = CudaBackend::new(net, Activation::Relu, Loss::CeMean, &split, opt).unwrap();
            if p == SIZES[0].0 && m == SIZES[0].1 {
                eprintln!("device: {}", b.device_name());
            }
            // Warm up (JIT, caches) outside the timed part.
            for _ in 0..20 {
                b.enqueue_step(LR).unwrap();
            }
            b.synchronize().unwrap();
            g.bench_function(BenchmarkId::new("cuda", &id), |bch| {
                bch.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        b.enqueue_step(LR).unwrap();
                    }
                    b.synchronize().unwrap();
                    t.elapsed()
                })
            });
            g.bench_function(BenchmarkId::new("cuda_sync", &id), |bch| {
                bch.iter(|| b.step(LR))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench_step);
criterion_main!(benches);
