//! Kill anywhere, resume exactly: the real binary is killed with SIGKILL at many points of a
//! run (inside checkpoint writes, between the tables and a checkpoint, half-way through a row,
//! while stage snapshots, final weights, summary and manifest are written, at random moments
//! from outside), then resumed; the whole folder must equal, byte for byte, the folder of the
//! run that was never killed, with no temporary file left.
//!
//! Exact points use the `MODADD_KILL_AT=<point>:<n>` test hook (`modadd::formats::killpoint`),
//! aimed with the trace (`MODADD_KILL_TRACE`) of an unkilled run: the n-th pass of a point is
//! chosen where the trace shows it falls (a checkpoint's files lie between `checkpoint.tables`
//! and `checkpoint.done`).
#![cfg(unix)]

mod common;
use common::read_tree;
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_modadd");

/// A small run (p = 7, M = 48, 120 epochs, checkpoints every 30) that crosses a stage boundary
/// and records grids: about a third of a second.
const SMALL: &[&str] = &[
    "train",
    "--p",
    "7",
    "--width",
    "48",
    "--epochs",
    "120",
    "--lr",
    "0.01",
    "--checkpoint-every",
    "30",
    "--train-frac",
    "0.7",
    "--weight-decay",
    "0.5",
    "--grid-epochs",
    "10,70,100",
    "--quiet",
];

/// The failing shape: `quad_random` at p = 23 (M = 512), 1200 epochs, a checkpoint
/// every 200.
const QUAD23: &[&str] = &[
    "train",
    "--preset",
    "quad_random",
    "--p",
    "23",
    "--epochs",
    "1200",
    "--checkpoint-every",
    "200",
    "--quiet",
];

/// A tiny sweep: p = 5, every preset but grokking, 11 units.
const SWEEP: &[&str] = &[
    "reproduce",
    "--p",
    "5",
    "--epochs",
    "20",
    "--width",
    "8",
    "--quiet",
];

fn cmd(args: &[&str], out: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("MODADD_KILL_AT")
        .env_remove("MODADD_KILL_TRACE");
    c
}

/// Runs to the end; panics with stderr unless it succeeds.
fn run_ok(mut c: Command) {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The unkilled run's folder and the points it passed, in order.
fn reference(args: &[&str], dir: &Path) -> (BTreeMap<String, Vec<u8>>, Vec<String>, Duration) {
    let trace = dir.join("trace");
    let out = dir.join("ref");
    let mut c = cmd(args, &out);
    c.env("MODADD_KILL_TRACE", &trace);
    let t0 = Instant::now();
    run_ok(c);
    let took = t0.elapsed();
    let points = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (read_tree(&out), points, took)
}

/// A kill: the `n`-th pass of `point`.
#[derive(Clone, Debug)]
struct Kill {
    point: String,
    n: usize,
}

/// How often each point occurs, and at which positions of the trace.
fn passes(trace: &[String], point: &str) -> Vec<usize> {
    trace
        .iter()
        .enumerate()
        .filter(|(_, p)| *p == point)
        .map(|(i, _)| i)
        .collect()
}

/// The ordinal (1-based) of the pass of `point` at trace position `pos`.
fn ordinal(trace: &[String], point: &str, pos: usize) -> usize {
    trace[..=pos].iter().filter(|p| *p == point).count()
}

/// `k` passes of `point` spread evenly over the run (first and last included).
fn spread(trace: &[String], point: &str, k: usize) -> Vec<Kill> {
    let n = passes(trace, point).len();
    assert!(n > 0, "the run never passes {point}");
    let mut v: Vec<usize> = (0..k).map(|i| 1 + i * (n - 1) / (k - 1).max(1)).collect();
    v.dedup();
    v.into_iter()
        .map(|n| Kill {
            point: point.into(),
            n,
        })
        .collect()
}

/// Kills inside the checkpoint written `which`-th (0-based): at the first and last file, with
/// the folder filled but not yet renamed, and renamed.
fn inside_checkpoint(trace: &[String], which: usize) -> Vec<Kill> {
    let start = passes(trace, "checkpoint.tables")[which];
    let end = passes(trace, "checkpoint.done")[which];
    let at = |point: &str| -> Vec<usize> {
        passes(trace, point)
            .into_iter()
            .filter(|&i| i > start && i < end)
            .map(|i| ordinal(trace, point, i))
            .collect()
    };
    let files = at("atomic.filled");
    assert!(files.len() >= 3, "a checkpoint writes at least 3 files");
    let mut v = vec![
        Kill {
            point: "atomic.filled".into(),
            n: files[0],
        },
        Kill {
            point: "atomic.renamed".into(),
            n: at("atomic.renamed")[files.len() - 1],
        },
        Kill {
            point: "atomic.filled".into(),
            n: *files.last().unwrap(),
        },
    ];
    for p in ["dir.filled", "dir.renamed"] {
        v.push(Kill {
            point: p.into(),
            n: at(p)[0],
        });
    }
    v
}

/// Runs `args` killed at `kill` (it must die of SIGKILL there), then `resume` (killed again at
/// `again` when given, then once more without), and returns the folder.
fn kill_and_resume(
    args: &[&str],
    resume: &dyn Fn(&Path) -> Command,
    out: &Path,
    kill: &Kill,
    again: Option<&Kill>,
) -> BTreeMap<String, Vec<u8>> {
    let arm = |mut c: Command, k: &Kill| {
        c.env("MODADD_KILL_AT", format!("{}:{}", k.point, k.n))
            .stderr(Stdio::null());
        let s = c.status().unwrap();
        assert_eq!(s.signal(), Some(9), "{k:?} did not kill the run: {s:?}");
    };
    arm(cmd(args, out), kill);
    if let Some(k) = again {
        arm(resume(out), k);
    }
    run_ok(resume(out));
    read_tree(out)
}

fn train_resume(out: &Path) -> Command {
    cmd(&["train", "--resume", "--quiet"], out)
}

/// Asserts `got` equals `want`, naming the first files that differ.
fn assert_same(got: &BTreeMap<String, Vec<u8>>, want: &BTreeMap<String, Vec<u8>>, what: &str) {
    if got != want {
        let keys: std::collections::BTreeSet<_> = got.keys().chain(want.keys()).collect();
        let diff: Vec<_> = keys
            .into_iter()
            .filter(|k| got.get(*k) != want.get(*k))
            .take(5)
            .collect();
        panic!("{what}: the resumed folder differs from the unkilled run in {diff:?}");
    }
}

/// Random moments from outside: `child.kill()` (SIGKILL) after a seeded fraction of the
/// reference run's duration; a run that ended before its kill counts as not killed. Returns how
/// many were killed and resumed.
fn external_kills(
    args: &[&str],
    resume: &dyn Fn(&Path) -> Command,
    root: &Path,
    want: &BTreeMap<String, Vec<u8>>,
    took: Duration,
    fractions: &[f64],
) -> usize {
    let mut killed = 0;
    for (i, f) in fractions.iter().enumerate() {
        let out = root.join(format!("ext{i}"));
        let mut child = cmd(args, &out).spawn().unwrap();
        std::thread::sleep(took.mul_f64(*f));
        let _ = child.kill();
        let s = child.wait().unwrap();
        if s.signal() != Some(9) {
            continue;
        }
        killed += 1;
        if out.join("config.json").exists() || args[0] == "reproduce" {
            run_ok(resume(&out));
        } else {
            // Killed before the run existed: `--resume` says so; start it again.
            let o = train_resume(&out).output().unwrap();
            assert_eq!(o.status.code(), Some(2));
            assert!(String::from_utf8_lossy(&o.stderr).contains("start it again"));
            run_ok(cmd(args, &out));
        }
        assert_same(&read_tree(&out), want, &format!("external kill at {f}"));
    }
    killed
}

/// Fractions of a run, drawn once from a fixed seed (xorshift), in [0.05, 0.95).
fn fractions(seed: u64, k: usize) -> Vec<f64> {
    let mut s = seed;
    (0..k)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            0.05 + 0.9 * (s >> 11) as f64 / (1u64 << 53) as f64
        })
        .collect()
}

#[test]
fn train_killed_anywhere_resumes_byte_identically() {
    let root = tempfile::tempdir().unwrap();
    let (want, trace, took) = reference(SMALL, root.path());
    let mut kills = Vec::new();
    kills.extend(inside_checkpoint(&trace, 0));
    kills.extend(inside_checkpoint(&trace, 2));
    kills.extend(spread(&trace, "checkpoint.tables", 2));
    kills.extend(spread(&trace, "checkpoint.done", 2));
    kills.extend(spread(&trace, "table.row", 6));
    kills.extend(spread(&trace, "epoch", 3));
    kills.extend(spread(&trace, "finish", 4));
    kills.extend(spread(&trace, "dir.filled", 4));
    // atomic.filled 1 and 2 are train_pairs.csv and config.json: before the run exists.
    kills.extend(
        spread(&trace, "atomic.filled", 8)
            .into_iter()
            .filter(|k| k.n > 2),
    );
    for (i, k) in kills.iter().enumerate() {
        let out = root.path().join(format!("k{i}"));
        let got = kill_and_resume(SMALL, &train_resume, &out, k, None);
        assert_same(&got, &want, &format!("{k:?}"));
    }
    // Killed twice: once in the run, once while resuming (counted from the resumed run's
    // start: its third file, inside its first checkpoint; its 20th row, torn).
    let twice = [
        (
            &kills[1],
            Kill {
                point: "atomic.filled".into(),
                n: 3,
            },
        ),
        (
            &kills[8],
            Kill {
                point: "table.row".into(),
                n: 20,
            },
        ),
    ];
    for (i, (a, b)) in twice.iter().enumerate() {
        let out = root.path().join(format!("twice{i}"));
        let got = kill_and_resume(SMALL, &train_resume, &out, a, Some(b));
        assert_same(&got, &want, &format!("{a:?} then {b:?}"));
    }
    let ext = external_kills(
        SMALL,
        &train_resume,
        root.path(),
        &want,
        took,
        &fractions(0x5eed_0001, 6),
    );
    eprintln!(
        "train p = 7: {} kills at exact points, 2 double kills, {ext} of 6 external kills; \
         all resumed byte-identically",
        kills.len()
    );
    assert!(kills.len() >= 30, "{} exact kills", kills.len());
}

#[test]
fn quad_random_p23_killed_anywhere_resumes_byte_identically() {
    let root = tempfile::tempdir().unwrap();
    let (want, trace, took) = reference(QUAD23, root.path());
    let mut kills = inside_checkpoint(&trace, 3);
    kills.extend(spread(&trace, "table.row", 3));
    kills.push(Kill {
        point: "checkpoint.tables".into(),
        n: 4,
    });
    for (i, k) in kills.iter().enumerate() {
        let out = root.path().join(format!("k{i}"));
        let got = kill_and_resume(QUAD23, &train_resume, &out, k, None);
        assert_same(&got, &want, &format!("{k:?}"));
    }
    let ext = external_kills(
        QUAD23,
        &train_resume,
        root.path(),
        &want,
        took,
        &fractions(0x5eed_0023, 3),
    );
    eprintln!(
        "quad_random p = 23: {} kills at exact points, {ext} of 3 external kills; all resumed \
         byte-identically",
        kills.len()
    );
}

#[test]
fn reproduce_killed_anywhere_reruns_byte_identically() {
    let root = tempfile::tempdir().unwrap();
    let (want, trace, took) = reference(SWEEP, root.path());
    let rerun = |out: &Path| cmd(SWEEP, out);
    let mut kills = spread(&trace, "unit", 6);
    kills.extend(spread(&trace, "dir.filled", 4));
    kills.extend(spread(&trace, "finish", 3));
    kills.extend(spread(&trace, "atomic.filled", 6));
    kills.extend(spread(&trace, "table.row", 2));
    for (i, k) in kills.iter().enumerate() {
        let out = root.path().join(format!("k{i}"));
        let got = kill_and_resume(SWEEP, &rerun, &out, k, None);
        assert_same(&got, &want, &format!("{k:?}"));
    }
    let ext = external_kills(
        SWEEP,
        &rerun,
        root.path(),
        &want,
        took,
        &fractions(0x5eed_0005, 3),
    );
    eprintln!(
        "reproduce p = 5: {} kills at exact points, {ext} of 3 external kills; all re-ran \
         byte-identically",
        kills.len()
    );
}
