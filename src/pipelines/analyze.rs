//! The `analyze` command's library side: which activation and task a weight file was trained
//! with (from the `config.json` of its run), and the analysis written to a folder.

use crate::error::{Error, Result};
use crate::formats::weights::read_weights_any;
use crate::names::{names, parse_name};
use crate::numerics::activation::Activation;
use crate::numerics::task::Task;
use crate::science::analysis::export::analyze_task_to_dir;
use crate::science::analysis::Summary;
use std::path::{Path, PathBuf};

/// Analyses the weights at `weights` (any accepted form) into `out` ([`analyze_task_to_dir`]),
/// under `activation` or else the training activation of their run, on `task` or else their
/// run's task, else addition. Returns the activation used and the summary.
///
/// # Errors
/// [`Error::UnknownName`] when no activation is given and no run's `config.json` is found;
/// the readers' and the analysis' errors.
pub fn analyze_weights(
    weights: &Path,
    activation: Option<Activation>,
    task: Option<Task>,
    out: &Path,
    force: bool,
) -> Result<(Activation, Summary)> {
    let act = match activation {
        Some(a) => a,
        None => training_activation_near(weights)?.ok_or_else(|| Error::UnknownName {
            kind: "activation",
            name: "(none: no --activation and no config.json beside the weights)".into(),
            expected: names::<Activation>().join(", "),
        })?,
    };
    let net = read_weights_any(weights)?;
    let task = match task {
        Some(t) => t,
        None => training_task_near(weights)?.unwrap_or(Task::Add),
    };
    let summary = analyze_task_to_dir(&net, act, task, out, force)?;
    Ok((act, summary))
}

/// The `config.json` of a run beside a weight path, parsed: looks in `path` itself (a run
/// folder), then its parent (e.g. `run/final`), then its grandparent (e.g.
/// `run/checkpoints/epoch_000200`). `Ok(None)` when there is no such file.
fn config_near(path: &Path) -> Result<Option<(PathBuf, serde_json::Value)>> {
    let dir = if path.is_dir() {
        Some(path)
    } else {
        path.parent()
    };
    let candidates = dir
        .into_iter()
        .flat_map(|d| d.ancestors().take(3))
        .map(|d| d.join("config.json"));
    for cfg in candidates {
        if !cfg.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&cfg).map_err(|e| Error::io(&cfg, e))?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Parse {
            path: cfg.clone(),
            line: e.line(),
            message: e.to_string(),
        })?;
        return Ok(Some((cfg, v)));
    }
    Ok(None)
}

/// The training activation recorded in a run's `config.json` beside a weight path (found as
/// described at [`training_task_near`]). `Ok(None)` when there is no such file.
pub fn training_activation_near(path: &Path) -> Result<Option<Activation>> {
    let Some((cfg, v)) = config_near(path)? else {
        return Ok(None);
    };
    match v.get("activation").and_then(|a| a.as_str()) {
        Some(name) => parse_name::<Activation>(name).map(Some),
        None => Err(Error::Parse {
            path: cfg,
            line: 1,
            message: "no \"activation\" field".into(),
        }),
    }
}

/// The task recorded in a run's `config.json` beside a weight path: looks in `path` itself
/// (a run folder), then its parent (e.g. `run/final`), then its grandparent (e.g.
/// `run/checkpoints/epoch_000200`). `Ok(None)` when there is no such file or it names no task.
pub fn training_task_near(path: &Path) -> Result<Option<Task>> {
    let Some((cfg, v)) = config_near(path)? else {
        return Ok(None);
    };
    match v.get("task") {
        None => Ok(None),
        Some(t) => serde_json::from_value(t.clone())
            .map(Some)
            .map_err(|e| Error::Parse {
                path: cfg,
                line: 1,
                message: format!("bad \"task\" field: {e}"),
            }),
    }
}
