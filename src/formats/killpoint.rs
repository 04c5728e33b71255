//! A testing hook: kill the process at an exact point of its write path.
//!
//! With the environment variable `MODADD_KILL_AT=<point>:<n>` (read once, at the first point
//! passed), the process sends itself `SIGKILL` the `n`-th time (1-based) it passes the named
//! point, so a test can interrupt a run inside a checkpoint write, between a table and a
//! checkpoint, or half-way through a row, and check that resuming recovers. Without the
//! variable (the normal case) a point costs one relaxed atomic load. It is a test hook, not a
//! feature: nothing else reads it, and it never changes what is written.
//!
//! # The points
//! | point | where |
//! |---|---|
//! | `atomic.filled` | [`crate::formats::atomic::atomic_write`]: the temporary file is written, not yet synced or renamed |
//! | `atomic.renamed` | the same, renamed into place, folder not yet synced (for a file inside a folder [`crate::formats::atomic::atomic_dir`] is filling, written in place: synced) |
//! | `dir.filled` | [`crate::formats::atomic::atomic_dir`]: the temporary folder is complete, not yet renamed |
//! | `dir.renamed` | the same, renamed into place |
//! | `table.row` | [`crate::formats::stream::StreamTable`]: a row is appended; the kill first writes half of it to the file (a torn row) |
//! | `epoch` | the training driver, before each epoch |
//! | `checkpoint.tables` | the driver at a checkpoint: tables synced, checkpoint not yet written |
//! | `checkpoint.done` | the driver: checkpoint written |
//! | `finish` | the driver's end of a run, between its files (log renamed, observer's files, final weights, summary) |
//! | `unit` | `reproduce`, before each unit of work |
//!
//! With `MODADD_KILL_TRACE=<file>`, every point passed is appended to `<file>` as a line, so a
//! test can count the passes of each point in a whole run and aim its kills (in a checkpoint
//! write, at the last row, ...). On platforms other than Unix the hook aborts the process
//! instead of `SIGKILL` (there is none).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The environment variable that arms the hook.
pub const KILL_AT_VAR: &str = "MODADD_KILL_AT";

/// The environment variable naming the file every point passed is appended to.
pub const KILL_TRACE_VAR: &str = "MODADD_KILL_TRACE";

/// The trace file, opened once from [`KILL_TRACE_VAR`].
fn trace() -> Option<&'static Mutex<std::fs::File>> {
    static TRACE: OnceLock<Option<Mutex<std::fs::File>>> = OnceLock::new();
    TRACE
        .get_or_init(|| {
            let path = std::env::var_os(KILL_TRACE_VAR)?;
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ok()?;
            Some(Mutex::new(f))
        })
        .as_ref()
}

/// The armed point and pass count, parsed once from [`KILL_AT_VAR`].
fn armed() -> Option<&'static (String, usize)> {
    static ARMED: OnceLock<Option<(String, usize)>> = OnceLock::new();
    ARMED
        .get_or_init(|| {
            let v = std::env::var(KILL_AT_VAR).ok()?;
            let (point, n) = v.rsplit_once(':')?;
            Some((point.to_string(), n.parse().ok().filter(|&n| n > 0)?))
        })
        .as_ref()
}

/// Passes of the armed point so far.
static PASSES: AtomicUsize = AtomicUsize::new(0);

/// True when this pass of `point` is the one [`KILL_AT_VAR`] names (counting it, and tracing
/// it when [`KILL_TRACE_VAR`] is set).
pub fn kill_due(point: &str) -> bool {
    if let Some(t) = trace() {
        let mut f = t.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(f, "{point}");
    }
    match armed() {
        Some((p, n)) if p == point => PASSES.fetch_add(1, Ordering::Relaxed) + 1 == *n,
        _ => false,
    }
}

/// Passes `point`: kills the process here when [`KILL_AT_VAR`] says so (module docs).
pub fn kill_point(point: &str) {
    if kill_due(point) {
        kill_now();
    }
}

/// Ends the process at once, as `kill -9` would: no destructors, no buffered output flushed.
pub fn kill_now() -> ! {
    #[cfg(unix)]
    // SAFETY: kill(2) on our own pid has no memory effects; SIGKILL cannot be caught, so the
    // call does not return.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    std::process::abort()
}
