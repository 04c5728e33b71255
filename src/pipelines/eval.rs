//! The `eval` command's library side: loss, accuracy and the exact gradient of weights on a set
//! of pairs, at a chosen precision, optionally written as `eval.csv` and the gradient in the
//! weight format (`grad/W_in.csv`, `grad/W_out.csv`) to compare with any framework.

use crate::error::{Error, Result};
use crate::formats::manifest::Manifest;
use crate::formats::pairs::read_pairs_csv;
use crate::formats::table::{fmt_f64, write_table};
use crate::formats::weights::{read_weights_any, write_weight_folder};
use crate::numerics::activation::Activation;
use crate::numerics::batch::Batch;
use crate::numerics::grad::{loss_and_grad, Eval, Grads, Workspace};
use crate::numerics::loss::Loss;
use crate::numerics::network::Network;
use crate::numerics::real::Real;
use crate::numerics::task::{all_pairs, Pair, Task};
use crate::train::config::Precision;
use std::path::{Path, PathBuf};

/// What to evaluate and where to write it.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalRequest {
    /// Weights in any accepted form (see [`read_weights_any`]).
    pub weights: PathBuf,
    /// The activation to evaluate with.
    pub activation: Activation,
    /// The loss.
    pub loss: Loss,
    /// The task the labels come from.
    pub task: Task,
    /// The precision of the evaluation.
    pub precision: Precision,
    /// A pairs file (`x,y`); `None` for all p^2 pairs.
    pub pairs: Option<PathBuf>,
    /// Folder for `eval.csv`, `grad/` and `manifest.csv`.
    pub out: Option<PathBuf>,
    /// Overwrite an earlier evaluation in `out`.
    pub force: bool,
}

/// The result of an evaluation.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalReport {
    /// Modulus p.
    pub p: usize,
    /// Number of neurons M.
    pub width: usize,
    /// Number of (ordered) pairs evaluated.
    pub pairs: usize,
    /// Loss and accuracy.
    pub eval: Eval,
    /// Euclidean norm of the gradient.
    pub grad_norm: f64,
}

/// The pairs of an evaluation: those of the pairs file at `path` labelled by `task`, or all p^2
/// pairs; an empty list is an error.
pub fn eval_pairs(path: Option<&Path>, p: usize, task: Task) -> Result<Vec<Pair>> {
    let pairs: Vec<Pair> = match path {
        Some(path) => read_pairs_csv(path, p)?
            .into_iter()
            .map(|(x, y)| Pair {
                x: x as u32,
                y: y as u32,
                label: task.label(x, y, p) as u32,
            })
            .collect(),
        None => all_pairs(p, task),
    };
    if pairs.is_empty() {
        return Err(Error::EmptyPairs {
            what: "evaluation pair list",
        });
    }
    Ok(pairs)
}

/// Runs the evaluation `req` asks for (refusing an `out` that holds one unless `force`, before
/// computing anything) and writes its files.
pub fn eval(req: &EvalRequest) -> Result<EvalReport> {
    let net = read_weights_any(&req.weights)?;
    let pairs = eval_pairs(req.pairs.as_deref(), net.p, req.task)?;
    if let Some(out) = &req.out {
        let marker = out.join("eval.csv");
        if marker.exists() && !req.force {
            return Err(Error::OutputExists {
                path: out.clone(),
                found: marker,
            });
        }
    }
    match req.precision {
        Precision::F32 => eval_with::<f32>(&net.cast(), req, &pairs),
        Precision::F64 => eval_with::<f64>(&net, req, &pairs),
    }
}

fn eval_with<T: Real>(net: &Network<T>, req: &EvalRequest, pairs: &[Pair]) -> Result<EvalReport> {
    let batch = Batch::<T>::new(pairs, net.tying());
    let mut grads = Grads::zeros_like(net);
    let ev = loss_and_grad(
        net,
        req.activation,
        req.loss,
        &batch,
        &mut Workspace::new(),
        &mut grads,
    );
    let report = EvalReport {
        p: net.p,
        width: net.width(),
        pairs: pairs.len(),
        eval: ev,
        grad_norm: grads.norm(),
    };
    if let Some(out) = &req.out {
        write_eval(out, req, &report, grads)?;
    }
    Ok(report)
}

/// Writes `eval.csv` (activation, loss name, precision, pairs, loss, accuracy, gradient norm),
/// the gradient as a weight folder `grad/`, and `manifest.csv`.
fn write_eval<T: Real>(
    out: &Path,
    req: &EvalRequest,
    r: &EvalReport,
    grads: Grads<T>,
) -> Result<()> {
    let rows = vec![vec![
        req.activation.name().to_string(),
        req.loss.name().to_string(),
        T::NAME.to_string(),
        r.pairs.to_string(),
        fmt_f64(r.eval.loss),
        fmt_f64(r.eval.accuracy),
        fmt_f64(r.grad_norm),
    ]];
    let mut m = Manifest::new();
    let n = write_table(
        &out.join("eval.csv"),
        &[
            "activation",
            "loss_name",
            "precision",
            "pairs",
            "loss",
            "accuracy",
            "grad_norm",
        ],
        &rows,
    )?;
    m.add(
        "eval.csv",
        n,
        "loss and accuracy of the weights on the pairs",
    );
    let g = Network::new(grads.w_in, grads.w_out, grads.w_in_y)?;
    write_weight_folder(&out.join("grad"), &g)?;
    m.add(
        "grad",
        r.width,
        "gradient of the loss in the weight format (grad/W_in.csv M x p, grad/W_out.csv p x M)",
    );
    m.write(out)
}
