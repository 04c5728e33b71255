//! Threads for the hot loop: how many, and the rayon pool that runs them.
//!
//! # Same bits for every thread count
//! Work is split only along dimensions that are not summed over: the rows of the logits, the
//! neurons of the backward pass, the elements of an optimiser update, the neurons of the lottery
//! race. Every number is then computed by the same operations in the same order whatever the
//! thread count, and the sums that run over rows (the loss, the accuracy, `dW_out` and the
//! scatter into `dW_in`) keep the single-threaded order. Results are bit-identical for any
//! number of threads, and to the single-threaded code (`tests/threads.rs`).
//!
//! # The setting
//! [`Threads::default`] takes the process-wide count: [`set_default_threads`] (the CLI's
//! `--threads N`), or else every core ([`available_threads`]). A pool is built once per count
//! and shared by every [`Threads`] of that count; one thread runs on the caller's thread,
//! without a pool. A thread working beside the pool (a stage snapshot written while the epochs
//! go on) calls [`alone_on_this_thread`], so that its numerics stay on it instead of queueing
//! work in the pool between the training's own parallel regions.

use crate::error::{Error, Result};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The process-wide thread count; 0 means every core.
static DEFAULT_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Pools built so far, one per thread count (built once, shared).
static POOLS: Mutex<Vec<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(Vec::new());

/// The number of cores this process may use (`std::thread::available_parallelism`, 1 if
/// unknown), read once: on Linux it reads the cgroup files, which the recorder must not do
/// every epoch.
pub fn available_threads() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    })
}

/// Sets the thread count that [`Threads::default`] takes from now on (the CLI's `--threads`).
///
/// # Errors
/// [`Error::InvalidParameter`] for 0.
pub fn set_default_threads(n: usize) -> Result<()> {
    check(n)?;
    DEFAULT_THREADS.store(n, Ordering::Relaxed);
    Ok(())
}

thread_local! {
    /// 1 on a thread that called [`alone_on_this_thread`], else 0 (the process-wide count).
    static THIS_THREAD: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// From now on, [`Threads::default`] on the calling thread is one thread (no pool), whatever
/// the process-wide count. The results do not change: every computation of the crate gives the
/// same bits on any thread count.
pub fn alone_on_this_thread() {
    THIS_THREAD.with(|t| t.set(1));
}

/// The thread count [`Threads::default`] takes: 1 on a thread that called
/// [`alone_on_this_thread`], else the one set by [`set_default_threads`], else every core.
pub fn default_threads() -> usize {
    if THIS_THREAD.with(|t| t.get()) == 1 {
        return 1;
    }
    match DEFAULT_THREADS.load(Ordering::Relaxed) {
        0 => available_threads(),
        n => n,
    }
}

fn check(n: usize) -> Result<()> {
    if n == 0 {
        return Err(Error::InvalidParameter {
            name: "threads",
            value: 0.0,
            expected: "a whole number >= 1",
        });
    }
    Ok(())
}

/// A thread count and the pool that runs it (none for one thread).
#[derive(Clone, Debug)]
pub struct Threads {
    count: usize,
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl Default for Threads {
    /// The process-wide count ([`default_threads`]).
    fn default() -> Self {
        Threads::new(default_threads()).expect("the default thread count is >= 1")
    }
}

impl Threads {
    /// `n` threads (the pool of that size is built on first use and then shared).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for 0, [`Error::BackendUnavailable`] if the threads cannot
    /// be started.
    pub fn new(n: usize) -> Result<Self> {
        check(n)?;
        if n == 1 {
            return Ok(Threads {
                count: 1,
                pool: None,
            });
        }
        let mut pools = POOLS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, pool)) = pools.iter().find(|(k, _)| *k == n) {
            return Ok(Threads {
                count: n,
                pool: Some(pool.clone()),
            });
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("modadd-{i}"))
            // A whole training run may go on inside the pool (pipelines::train): give its
            // threads a main thread's stack.
            .stack_size(8 << 20)
            .build()
            .map_err(|e| Error::BackendUnavailable {
                backend: "cpu",
                reason: format!("cannot start {n} threads: {e}"),
            })?;
        let pool = Arc::new(pool);
        pools.push((n, pool.clone()));
        Ok(Threads {
            count: n,
            pool: Some(pool),
        })
    }

    /// One thread: everything runs on the caller's thread.
    pub fn single() -> Self {
        Threads {
            count: 1,
            pool: None,
        }
    }

    /// The number of threads.
    pub fn count(&self) -> usize {
        self.count
    }

    /// True when work is split between threads (count > 1).
    pub fn parallel(&self) -> bool {
        self.pool.is_some()
    }

    /// Runs `f` with these threads: inside the pool (so rayon's parallel iterators and `join`
    /// in `f` use it), or on this thread for one thread.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(pool) => pool.install(f),
            None => f(),
        }
    }

    /// `[f(0), f(1), .., f(n - 1)]`, computed on these threads, in index order.
    pub fn map<R: Send>(&self, n: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
        match &self.pool {
            Some(pool) => pool.install(|| (0..n).into_par_iter().map(f).collect()),
            None => (0..n).map(f).collect(),
        }
    }
}

/// Ranges of `block` items covering `0..n` (the last one shorter): `(start, len)` of block `b`.
pub fn block(n: usize, block: usize, b: usize) -> (usize, usize) {
    let start = b * block;
    (start, block.min(n - start))
}

/// A pointer into a buffer that the tasks of one parallel region write through, each task
/// to its own elements (strided blocks that no slice split can express: the rows of a
/// column-major matrix, a neuron block of every tensor). Whoever dereferences it upholds
/// that no two tasks touch the same element and that the buffer outlives the region.
pub struct SharedMut<T>(*mut T);

impl<T> SharedMut<T> {
    /// The start of `buf`.
    pub fn new(buf: &mut [T]) -> Self {
        SharedMut(buf.as_mut_ptr())
    }

    /// A null pointer (an unused slot).
    pub fn null() -> Self {
        SharedMut(std::ptr::null_mut())
    }

    /// The pointer (a method, so that closures capture the whole `SharedMut`).
    pub fn get(&self) -> *mut T {
        self.0
    }
}

impl<T> Clone for SharedMut<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for SharedMut<T> {}

// SAFETY: a raw pointer; the tasks that write through it write disjoint elements (the type's
// contract, upheld at each dereference).
unsafe impl<T: Send> Send for SharedMut<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for SharedMut<T> {}

/// The size of `parts` near-equal blocks covering `n` items, rounded up to a multiple of
/// `align` (at least `align`).
pub fn block_size(n: usize, parts: usize, align: usize) -> usize {
    let b = n.div_ceil(parts.max(1)).max(1);
    b.div_ceil(align) * align
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_threads_is_refused() {
        assert!(Threads::new(0).is_err());
        assert!(set_default_threads(0).is_err());
    }

    #[test]
    fn pools_are_shared_and_map_keeps_order() {
        let a = Threads::new(3).unwrap();
        let b = Threads::new(3).unwrap();
        assert!(Arc::ptr_eq(
            a.pool.as_ref().unwrap(),
            b.pool.as_ref().unwrap()
        ));
        assert_eq!(
            a.map(100, |i| i * i),
            (0..100).map(|i| i * i).collect::<Vec<_>>()
        );
        assert_eq!(Threads::single().map(5, |i| i), vec![0, 1, 2, 3, 4]);
        assert_eq!(a.install(rayon::current_num_threads), 3);
    }

    #[test]
    fn blocks_cover_the_range() {
        assert_eq!(block_size(512, 2, 16), 256);
        assert_eq!(block_size(100, 3, 16), 48);
        assert_eq!(block_size(5, 4, 16), 16);
        let bs = block_size(100, 3, 16);
        let total: usize = (0..100usize.div_ceil(bs))
            .map(|b| block(100, bs, b).1)
            .sum();
        assert_eq!(total, 100);
    }
}
