//! The `lottery` command's library side: both rules' predicted winners for initial weights,
//! scored against final weights, written as CSV.

use crate::error::{Error, Result};
use crate::formats::manifest::Manifest;
use crate::formats::table::{fmt_f64, write_table};
use crate::formats::weights::read_weights_any;
use crate::numerics::network::Network;
use crate::science::dynamics::lottery::{
    dominant_frequencies, lottery_accuracy, predict_lottery, LotteryOptions,
};
use crate::science::dynamics::TimeScale;
use std::path::Path;

/// Runs `modadd lottery`: predictions of both rules for the network in `init_dir`, written to
/// `out/predictions.csv` (neuron, by_misalignment, min_abs_d, by_ode, ode_time, final_winner);
/// given `final_dir`, also `out/accuracy.csv` (rule, accuracy). Returns the accuracies
/// (misalignment rule, ODE rule) when final weights are given.
pub fn run_lottery_command(
    init_dir: &Path,
    final_dir: Option<&Path>,
    scale: TimeScale,
    out: &Path,
) -> Result<Option<(f64, f64)>> {
    let init = read_weights_any(init_dir)?;
    if init.w_in_y.is_some() {
        return Err(Error::Shape {
            what: "initial weights".into(),
            found: "an untied network (W_in_y.csv)".into(),
            expected: "a tied network (the lottery is derived for the tied model)".into(),
        });
    }
    let preds = predict_lottery(&init, scale, &LotteryOptions::default())?;
    let winners = match final_dir {
        Some(d) => Some(final_winners(d, &init)?),
        None => None,
    };
    let rows: Vec<Vec<String>> = preds
        .iter()
        .map(|q| {
            vec![
                q.neuron.to_string(),
                q.by_misalignment.to_string(),
                fmt_f64(q.min_misalignment),
                q.by_ode.map(|k| k.to_string()).unwrap_or_default(),
                q.ode_time.map(fmt_f64).unwrap_or_default(),
                winners
                    .as_ref()
                    .map(|w| w[q.neuron].to_string())
                    .unwrap_or_default(),
            ]
        })
        .collect();
    let mut m = Manifest::new();
    let n = write_table(
        &out.join("predictions.csv"),
        &[
            "neuron",
            "by_misalignment",
            "min_abs_d",
            "by_ode",
            "ode_time",
            "final_winner",
        ],
        &rows,
    )?;
    m.add(
        "predictions.csv",
        n,
        format!(
            "per-neuron winning frequency: smallest |D_k(0)| rule and decoupled-ODE race ({} loss time); final_winner = argmax_k alpha_k of the final weights (empty without them)",
            scale.name()
        ),
    );
    let acc = match &winners {
        Some(w) => {
            let (a, b) = lottery_accuracy(&preds, w)?;
            let n = write_table(
                &out.join("accuracy.csv"),
                &["rule", "accuracy"],
                &[
                    vec!["smallest_misalignment".into(), fmt_f64(a)],
                    vec!["ode_race".into(), fmt_f64(b)],
                ],
            )?;
            m.add(
                "accuracy.csv",
                n,
                "fraction of neurons whose final dominant frequency each rule predicted",
            );
            Some((a, b))
        }
        None => None,
    };
    m.write(out)?;
    Ok(acc)
}

/// The dominant frequency of every neuron of the final weights at `dir`, which must have the
/// initial weights' p and width.
fn final_winners(dir: &Path, init: &Network<f64>) -> Result<Vec<usize>> {
    let f = read_weights_any(dir)?;
    if f.p != init.p || f.width() != init.width() {
        return Err(Error::Shape {
            what: "final weights".into(),
            found: format!("p = {}, M = {}", f.p, f.width()),
            expected: format!(
                "p = {}, M = {} (as the initial weights)",
                init.p,
                init.width()
            ),
        });
    }
    Ok(dominant_frequencies(&f))
}
