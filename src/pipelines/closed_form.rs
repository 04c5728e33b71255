//! The `closed-form` command's library side: Gromov's closed-form network for a task, written
//! as a weight folder with its neurons and its accuracy at every width.

use crate::error::{Error, Result};
use crate::formats::manifest::Manifest;
use crate::formats::table::{fmt_f64, write_table};
use crate::formats::weights::write_weight_folder;
use crate::numerics::network::Network;
use crate::numerics::task::Task;
use crate::science::gromov::{accuracy_by_width, closed_form_from, closed_form_neurons};

/// The file whose presence marks a folder as holding a closed-form export.
pub const CLOSED_FORM_MARKER: &str = "accuracy_by_width.csv";

/// Writes the seeded closed-form network for `task` into `out` (created if needed), refusing a
/// folder that already holds one unless `force`:
///
/// | file | content |
/// |---|---|
/// | `weights/` | weight folder: `W_in.csv` (theta_m rows), `W_out.csv` (xi_m columns), `W_in_y.csv` (eta_m rows) |
/// | `neurons.csv` | `m, k, phi, chi`: each neuron's frequency and input phases (output phase phi + chi) |
/// | `accuracy_by_width.csv` | `width, accuracy`: accuracy on all p^2 pairs of the first N neurons, N = 1..width ([`accuracy_by_width`]) |
/// | `manifest.csv` | `file, rows, description` |
///
/// Returns the accuracy at the full width.
pub fn write_closed_form(
    out: &std::path::Path,
    p: usize,
    width: usize,
    task: Task,
    seed: u64,
    force: bool,
) -> Result<f64> {
    let neurons = closed_form_neurons(p, width, seed)?;
    let marker = out.join(CLOSED_FORM_MARKER);
    if marker.exists() && !force {
        return Err(Error::OutputExists {
            path: out.to_path_buf(),
            found: marker,
        });
    }
    let net: Network<f64> = closed_form_from(p, task, &neurons)?;
    let acc = accuracy_by_width(p, task, width, seed)?;
    let mut man = Manifest::new();
    let dir = out.join("weights");
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    write_weight_folder(&dir, &net)?;
    man.add(
        "weights",
        width,
        "weight folder: W_in.csv (M x p, theta_m), W_out.csv (p x M, xi_m), W_in_y.csv (M x p, eta_m)",
    );
    let rows: Vec<Vec<String>> = neurons
        .iter()
        .enumerate()
        .map(|(m, n)| {
            vec![
                m.to_string(),
                n.k.to_string(),
                fmt_f64(n.phi),
                fmt_f64(n.chi),
            ]
        })
        .collect();
    let n = write_table(&out.join("neurons.csv"), &["m", "k", "phi", "chi"], &rows)?;
    man.add(
        "neurons.csv",
        n,
        "per neuron: frequency k and input phases phi (theta), chi (eta); output phase phi + chi",
    );
    let rows: Vec<Vec<String>> = acc
        .iter()
        .enumerate()
        .map(|(i, a)| vec![(i + 1).to_string(), fmt_f64(*a)])
        .collect();
    let n = write_table(&marker, &["width", "accuracy"], &rows)?;
    man.add(
        CLOSED_FORM_MARKER,
        n,
        format!(
            "accuracy on all p^2 pairs of the task ({}) of the first N neurons, N = 1..{width}",
            task.name()
        ),
    );
    man.write(out)?;
    Ok(*acc.last().expect("width >= 1"))
}
