//! Crash recovery, in process: the states a kill can leave a run folder in (a torn last row,
//! rows past the checkpoint, a checkpoint newer than the tables or incomplete, temporary files,
//! a run killed while ending) all resume into the files of the run that was never killed; a
//! checkpoint that does not fit the run's configuration is an error naming the file.
//! (`tests/kill_resume.rs` kills the real binary.)

mod common;
use common::read_tree;
use modadd::error::Error;
use modadd::numerics::optim::OptimizerConfig;
use modadd::pipelines::train;
use modadd::train::config::{BackendKind, Precision, TrainConfig};
use modadd::train::driver::{Progress, RunOptions};
use modadd::train::recovery::choose_resume_point;
use std::collections::BTreeMap;
use std::path::Path;

/// A run of 120 epochs with checkpoints every 30 that crosses a stage boundary (so `stages/`
/// is written) and records grids.
fn config() -> TrainConfig {
    let mut c = TrainConfig::preset("standard", 7).unwrap();
    c.width = 48;
    c.epochs = 120;
    c.lr = 1e-2;
    c.checkpoint_every = 30;
    c.train_frac = 0.7;
    c.optimizer = OptimizerConfig::adamw(0.5);
    c.record.grid_epochs = vec![10, 70, 100];
    c
}

fn try_run_into(c: &TrainConfig, out: &Path) -> modadd::Result<()> {
    train::run(
        c,
        &RunOptions {
            out: out.to_path_buf(),
            force: false,
            progress: Progress::Quiet,
            multi: None,
        },
        BackendKind::Cpu,
    )
    .map(|_| ())
}

fn run_into(c: &TrainConfig, out: &Path) {
    try_run_into(c, out).unwrap();
}

fn resume(out: &Path) -> modadd::Result<()> {
    train::resume(out, None, Progress::Quiet, BackendKind::Cpu, None).map(|_| ())
}

/// The finished run, computed once per test.
fn full_run() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    run_into(&config(), d.path());
    let stages = d.path().join("stages");
    assert!(stages.is_dir(), "the run must cross a stage boundary");
    d
}

const TABLES: [&str; 3] = ["training_log.csv", "progress.csv", "accuracy_grids.csv"];

/// The byte offset just past the last row of `table` whose epoch is at most `upto`.
fn end_of_epoch(table: &[u8], upto: usize) -> usize {
    let mut end = 0;
    for (i, line) in table.split_inclusive(|&b| b == b'\n').enumerate() {
        if i > 0 {
            let e: usize = std::str::from_utf8(line.split(|&b| b == b',').next().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            if e > upto {
                break;
            }
        }
        end += line.len();
    }
    end
}

/// Writes into `dst` what a kill shortly after epoch `upto` leaves: config, split, the
/// checkpoints up to `ckpt`, stage folders up to `upto`, and each table as `.partial` holding
/// its rows up to `upto` plus `torn` bytes of the next row.
fn killed_copy(src: &Path, dst: &Path, upto: usize, ckpt: usize, torn: usize) {
    for f in ["config.json", "train_pairs.csv"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    for (rel, bytes) in read_tree(src) {
        let keep = if let Some(rest) = rel.strip_prefix("checkpoints/epoch_") {
            rest[..6].parse::<usize>().unwrap() <= ckpt
        } else if let Some(rest) = rel.strip_prefix("stages/") {
            let stage = rest.split('/').next().unwrap();
            let epoch =
                std::fs::read_to_string(src.join("stages").join(stage).join("epoch.csv")).unwrap();
            epoch.lines().nth(1).unwrap().parse::<usize>().unwrap() <= upto
        } else {
            false
        };
        if keep {
            let p = dst.join(&rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
    }
    for t in TABLES {
        let bytes = std::fs::read(src.join(t)).unwrap();
        let end = end_of_epoch(&bytes, upto);
        let end = (end + torn).min(bytes.len());
        std::fs::write(dst.join(format!("{t}.partial")), &bytes[..end]).unwrap();
    }
}

#[test]
fn a_torn_last_row_and_rows_past_the_checkpoint_are_dropped() {
    let full = full_run();
    let want = read_tree(full.path());
    // Rows up to 75 (checkpoint 60), then a row cut after 1, 7 and 40 bytes: inside the epoch
    // field (which must not be read as epoch 7), inside the numbers, further on.
    for torn in [1, 7, 40] {
        let d = tempfile::tempdir().unwrap();
        killed_copy(full.path(), d.path(), 75, 60, torn);
        resume(d.path()).unwrap();
        assert_eq!(read_tree(d.path()), want, "torn after {torn} bytes");
    }
}

#[test]
fn a_checkpoint_newer_than_the_tables_is_passed_over() {
    let full = full_run();
    let d = tempfile::tempdir().unwrap();
    // Checkpoint 90 exists, but the tables stop at epoch 75 (as an older version, which wrote
    // the checkpoint before the log, could leave them).
    killed_copy(full.path(), d.path(), 75, 90, 0);
    let (point, skipped) = choose_resume_point(d.path(), "training_log.csv").unwrap();
    assert_eq!(point.unwrap().epoch(), 60);
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].dir.ends_with("epoch_000090"));
    assert!(skipped[0].reason.contains("newer than"), "{:?}", skipped[0]);
    resume(d.path()).unwrap();
    assert_eq!(read_tree(d.path()), read_tree(full.path()));
}

#[test]
fn an_incomplete_checkpoint_is_passed_over() {
    let full = full_run();
    let d = tempfile::tempdir().unwrap();
    killed_copy(full.path(), d.path(), 95, 90, 3);
    // A checkpoint copied in part: W_out.npy cut short.
    let w = d.path().join("checkpoints/epoch_000090/W_out.npy");
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..bytes.len() - 8]).unwrap();
    let (point, skipped) = choose_resume_point(d.path(), "training_log.csv").unwrap();
    assert_eq!(point.unwrap().epoch(), 60);
    assert!(skipped[0].reason.contains("incomplete"), "{:?}", skipped[0]);
    resume(d.path()).unwrap();
    assert_eq!(read_tree(d.path()), read_tree(full.path()));
}

/// Checkpoints of runs written before crash-safe resume have no `files` and `tables` in
/// `state.json`; they resume by epoch, and a torn row is dropped there too.
#[test]
fn checkpoints_without_marks_resume_by_epoch() {
    let full = full_run();
    let d = tempfile::tempdir().unwrap();
    killed_copy(full.path(), d.path(), 75, 90, 9);
    let mut legacy = BTreeMap::new();
    for e in [0, 30, 60, 90] {
        let p = d
            .path()
            .join(format!("checkpoints/epoch_{e:06}/state.json"));
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let o = v.as_object_mut().unwrap();
        assert!(o.remove("files").is_some() && o.remove("tables").is_some());
        let text = serde_json::to_string_pretty(&v).unwrap();
        std::fs::write(&p, &text).unwrap();
        legacy.insert(format!("checkpoints/epoch_{e:06}/state.json"), text);
    }
    let (point, skipped) = choose_resume_point(d.path(), "training_log.csv").unwrap();
    assert_eq!(point.unwrap().epoch(), 60, "the log lacks epochs 76..=90");
    assert!(
        skipped[0].reason.contains("training_log.csv"),
        "{skipped:?}"
    );
    resume(d.path()).unwrap();
    // Everything equals the uninterrupted run, except the old checkpoints' state.json, which
    // the resumed run does not rewrite (epoch 90's is rewritten in the current format).
    let mut got = read_tree(d.path());
    let mut want = read_tree(full.path());
    for e in [0, 30, 60] {
        let k = format!("checkpoints/epoch_{e:06}/state.json");
        assert_eq!(got.remove(&k).unwrap(), legacy[&k].as_bytes());
        want.remove(&k);
    }
    assert_eq!(got, want);
}

#[test]
fn temporaries_left_by_a_kill_are_removed() {
    let full = full_run();
    let d = tempfile::tempdir().unwrap();
    killed_copy(full.path(), d.path(), 100, 90, 0);
    for (f, dir) in [
        (
            ".W_in.npy.a1b2c3.tmp",
            "checkpoints/.epoch_000120.x9y8z7.tmp",
        ),
        (".W_in.csv.q1w2e3.tmp", "stages/.stage2_end.r4t5y6.tmp"),
    ] {
        std::fs::create_dir_all(d.path().join(dir)).unwrap();
        std::fs::write(d.path().join(dir).join(f), b"half").unwrap();
    }
    std::fs::write(d.path().join(".summary.csv.k8l9m0.tmp"), b"").unwrap();
    resume(d.path()).unwrap();
    assert_eq!(read_tree(d.path()), read_tree(full.path()));
}

#[test]
fn a_run_killed_while_ending_resumes() {
    let full = full_run();
    let want = read_tree(full.path());
    // Killed after the log was renamed into place and final/ written, before the other tables
    // were renamed and before summary.csv and manifest.csv.
    let d = tempfile::tempdir().unwrap();
    for (rel, bytes) in &want {
        let p = d.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    for f in ["summary.csv", "manifest.csv", "stages.csv"] {
        std::fs::remove_file(d.path().join(f)).unwrap();
    }
    for t in ["progress.csv", "accuracy_grids.csv"] {
        std::fs::rename(d.path().join(t), d.path().join(format!("{t}.partial"))).unwrap();
    }
    resume(d.path()).unwrap();
    assert_eq!(read_tree(d.path()), want);
}

/// Resuming with a checkpoint that does not fit `config.json` is an error naming the file and
/// the mismatch, never a panic, and leaves the checkpoint as it was.
#[test]
fn a_checkpoint_that_does_not_fit_the_run_is_an_error_naming_the_file() {
    let full = full_run();
    let fresh = |edit: &dyn Fn(&Path)| {
        let d = tempfile::tempdir().unwrap();
        killed_copy(full.path(), d.path(), 75, 60, 0);
        edit(d.path());
        let e = resume(d.path()).unwrap_err();
        assert!(matches!(e, Error::Checkpoint { .. }), "{e:?}");
        assert!(e.is_user_error());
        (d, e.to_string())
    };
    let set_config = |d: &Path, f: &dyn Fn(&mut TrainConfig)| {
        let p = d.join("config.json");
        let mut c = TrainConfig::read(&p).unwrap();
        f(&mut c);
        c.write(&p).unwrap();
    };
    let (_d, msg) = fresh(&|d| set_config(d, &|c| c.width = 40));
    assert!(
        msg.contains("epoch_000060/W_in.npy") && msg.contains("48 x 7") && msg.contains("40 x 7"),
        "{msg}"
    );
    let (_d, msg) = fresh(&|d| {
        set_config(d, &|c| {
            c.optimizer = OptimizerConfig::Sgd { weight_decay: 0.0 }
        })
    });
    assert!(
        msg.contains("state.json") && msg.contains("'adamw'"),
        "{msg}"
    );
    let (_d, msg) = fresh(&|d| set_config(d, &|c| c.precision = Precision::F64));
    assert!(msg.contains("f32") && msg.contains("f64"), "{msg}");
    // An optimiser moment of another length (taken from W_out's moment).
    let (_d, msg) = fresh(&|d| {
        let ck = d.join("checkpoints/epoch_000060");
        let w_in_len = std::fs::read(ck.join("adam_m_0.npy")).unwrap().len();
        // p = 7, M = 48: W_in and W_out have the same count; use a truncated array instead.
        let mut v: Vec<f32> = vec![0.0; 10];
        v[0] = 1.0;
        std::fs::write(
            ck.join("adam_m_0.npy"),
            modadd::formats::npy::npy_vector_bytes(&v).unwrap(),
        )
        .unwrap();
        // Keep the checkpoint complete for its file list: fix the listed size.
        let sp = ck.join("state.json");
        let text = std::fs::read_to_string(&sp).unwrap();
        let new_len = std::fs::read(ck.join("adam_m_0.npy")).unwrap().len();
        let text = text.replacen(
            &format!("\"file\": \"adam_m_0.npy\",\n      \"bytes\": {w_in_len}"),
            &format!("\"file\": \"adam_m_0.npy\",\n      \"bytes\": {new_len}"),
            1,
        );
        std::fs::write(&sp, text).unwrap();
    });
    assert!(
        msg.contains("adam_m_0.npy") && msg.contains("10 values") && msg.contains("336"),
        "{msg}"
    );
}

/// A stage snapshot is written on a thread of its own while the epochs go on; when it fails
/// (here a file stands where the `stages` folder goes) the run fails with the error naming that
/// path, and no checkpoint after the boundary is written: a checkpoint waits for the snapshots
/// started before it, so a resumed run never starts past a boundary whose snapshot is missing.
#[test]
fn a_failed_stage_snapshot_fails_the_run_before_the_next_checkpoint() {
    let full = full_run();
    let boundary: usize = std::fs::read_dir(full.path().join("stages"))
        .unwrap()
        .map(|e| {
            let text = std::fs::read_to_string(e.unwrap().path().join("epoch.csv")).unwrap();
            text.lines()
                .nth(1)
                .unwrap()
                .trim()
                .parse::<usize>()
                .unwrap()
        })
        .min()
        .unwrap();
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("stages"), b"in the way").unwrap();
    let e = try_run_into(&config(), d.path()).unwrap_err();
    match &e {
        Error::Io { path, .. } => assert!(path.starts_with(d.path().join("stages")), "{e}"),
        other => panic!("expected an I/O error naming stages/, got {other}"),
    }
    for c in std::fs::read_dir(d.path().join("checkpoints")).unwrap() {
        let name = c.unwrap().file_name().into_string().unwrap();
        let epoch: usize = name.trim_start_matches("epoch_").parse().unwrap();
        assert!(
            epoch <= boundary,
            "checkpoint {name} after the boundary at {boundary}"
        );
    }
}
