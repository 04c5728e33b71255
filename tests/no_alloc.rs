//! No allocation inside the epoch loop: after a first epoch (which sizes the workspace and the
//! probe's buffers), an epoch's measurements, update and default recording (the correctness
//! grid, the pair-class accuracies, the spectral probe) allocate nothing, on one thread and on
//! two. Counted by a global allocator over every thread of the process (the pool's too).
//!
//! The shape is the fused path's (f32, Quad, p <= 24 on an AVX-512F CPU; elsewhere the GEMM
//! path, whose product routine takes a packing buffer from the allocator per call above its
//! small sizes, so there the test only reports the count).

use modadd::backend::cpu::CpuBackend;
use modadd::backend::Backend;
use modadd::numerics::activation::Activation;
use modadd::numerics::init::Init;
use modadd::numerics::loss::Loss;
use modadd::numerics::network::{Network, Tying};
use modadd::numerics::optim::OptimizerConfig;
use modadd::numerics::parallel::{set_default_threads, Threads};
use modadd::numerics::task::{Split, Task};
use modadd::science::grokking::probe::{ProbeBuffers, SpectralProbe};
use modadd::science::grokking::{class_accuracy, classify};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as the caller's contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as the caller's contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn an_epoch_and_its_recording_allocate_nothing() {
    let (p, m) = (23, 96);
    let fused = std::arch::is_x86_feature_detected!("avx512f");
    for (t, frac) in [(1, 1.0), (2, 1.0), (2, 0.6)] {
        set_default_threads(t).unwrap();
        let split = Split::seeded(p, Task::Add, frac, 7).unwrap();
        let net = Network::<f32>::init(p, m, Init::Random { scale: 0.1 }, Tying::Tied, 3).unwrap();
        let opt = OptimizerConfig::adamw(0.1)
            .build::<f32>(&[m * p, p * m])
            .unwrap();
        let threads = Threads::new(t).unwrap();
        let mut b =
            CpuBackend::with_threads(net, Activation::Quad, Loss::CeMean, &split, opt, threads);
        let (probe, classes) = (SpectralProbe::new(p), classify(&split));
        let (mut grid, mut buf) = (Vec::new(), ProbeBuffers::<f32>::new());
        let pool = b.threads().clone();
        let mut epoch = |b: &mut CpuBackend<f32>| {
            let _ = b.eval_test();
            let _ = b.measure();
            b.correct_grid(&mut grid);
            let _ = class_accuracy(&classes, &grid);
            let _ = probe.measures_with(&b.weights(), &mut buf);
            b.update(1e-3);
        };
        // As `modadd train` runs its epochs: inside the pool.
        let count = pool.install(|| {
            epoch(&mut b);
            ALLOCATIONS.store(0, Ordering::Relaxed);
            COUNTING.store(true, Ordering::Relaxed);
            for _ in 0..3 {
                epoch(&mut b);
            }
            COUNTING.store(false, Ordering::Relaxed);
            ALLOCATIONS.load(Ordering::Relaxed)
        });
        if fused {
            assert_eq!(
                count, 0,
                "{t} threads, train fraction {frac}: {count} allocations"
            );
        } else {
            eprintln!("no AVX-512F (GEMM path): {count} allocations in 3 epochs");
        }
    }
}
