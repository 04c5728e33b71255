//! The analysis written as tidy CSV tables (see the files in [`super`]'s docs), one function
//! per file.

use crate::error::Error;
use crate::error::Result;
use crate::formats::manifest::Manifest;
use crate::formats::table::{fmt_f64, write_table};
use crate::numerics::activation::Activation;
use crate::numerics::limits::check_analysable;
use crate::numerics::network::Network;
use crate::numerics::task::Task;
use crate::science::analysis::analyze_task;
use crate::science::analysis::Summary;
use crate::science::analysis::{Analysis, HARMONIC_MAX};
use crate::science::fourier::{
    cosine_fit_residual_at, dominant_frequency, harmonic_ratios, ipr, ipr_per_coefficient, Spectrum,
};
use std::path::Path;
fn opt(v: Option<f64>) -> String {
    v.map(fmt_f64).unwrap_or_default()
}

fn spectrum_rows(rows: &mut Vec<Vec<String>>, layer: &str, m: usize, s: &Spectrum) {
    rows.push(vec![
        layer.into(),
        m.to_string(),
        "0".into(),
        fmt_f64(s.constant),
        "0".into(),
        fmt_f64(s.constant * s.p() as f64),
        "0".into(),
    ]);
    for (i, c) in s.components.iter().enumerate() {
        rows.push(vec![
            layer.into(),
            m.to_string(),
            (i + 1).to_string(),
            fmt_f64(c.magnitude),
            fmt_f64(c.phase),
            fmt_f64(c.cos_sum),
            fmt_f64(c.sin_sum),
        ]);
    }
}

/// Writes the files of the module docs into `out` (created if needed) and `manifest.csv`.
/// Returns the manifest.
pub fn write_analysis(a: &Analysis, out: &Path) -> Result<Manifest> {
    let mut man = Manifest::new();
    write_neurons(a, out, &mut man)?;
    write_spectrum(a, out, &mut man)?;
    write_groups(a, out, &mut man)?;
    write_harmonics(a, out, &mut man)?;
    write_logits(a, out, &mut man)?;
    write_swaps(a, out, &mut man)?;
    write_summary(a, out, &mut man)?;
    man.write(out)?;
    Ok(man)
}

/// Writes `neurons.csv`: one row per neuron, and records it in `man`.
fn write_neurons(a: &Analysis, out: &Path, man: &mut Manifest) -> Result<()> {
    let rows: Vec<Vec<String>> = a
        .features
        .iter()
        .map(|f| {
            let (si, so) = (&a.spectra.input[f.m], &a.spectra.output[f.m]);
            let mut row = vec![
                f.m.to_string(),
                f.freq.to_string(),
                f.freq_with_constant.to_string(),
                fmt_f64(f.alpha),
                fmt_f64(f.phi),
                fmt_f64(f.beta),
                fmt_f64(f.psi),
                fmt_f64(f.misalignment),
                fmt_f64(f.constant_in),
                fmt_f64(f.constant_out),
                fmt_f64(f.ipr_in),
                fmt_f64(f.ipr_out),
                fmt_f64(f.ipr_coef_in),
                fmt_f64(f.ipr_coef_out),
                fmt_f64(cosine_fit_residual_at(si, f.freq)),
                fmt_f64(cosine_fit_residual_at(so, f.freq)),
            ];
            if let (Some(sy), Some(cf)) = (&a.spectra.input_y, &a.closed_form) {
                let (sy, c) = (&sy[f.m], &cf[f.m]);
                let ky = dominant_frequency(sy).unwrap_or(1);
                let cy = sy.at(ky);
                row.extend([
                    ky.to_string(),
                    fmt_f64(cy.magnitude),
                    fmt_f64(cy.phase),
                    fmt_f64(sy.constant),
                    fmt_f64(ipr(sy)),
                    fmt_f64(ipr_per_coefficient(sy)),
                    fmt_f64(cosine_fit_residual_at(sy, ky)),
                    c.k.to_string(),
                    opt(c.phase_residual),
                    c.frequencies_consistent.to_string(),
                    fmt_f64(c.similarity),
                ]);
            }
            row
        })
        .collect();
    let mut header = vec![
        "m",
        "freq",
        "freq_with_constant",
        "alpha",
        "phi",
        "beta",
        "psi",
        "d",
        "constant_in",
        "constant_out",
        "ipr_in",
        "ipr_out",
        "ipr_coef_in",
        "ipr_coef_out",
        "fit_residual_in",
        "fit_residual_out",
    ];
    if a.closed_form.is_some() {
        header.extend(UNTIED_NEURON_COLUMNS);
    }
    let n = write_table(&out.join("neurons.csv"), &header, &rows)?;
    man.add("neurons.csv", n, "per neuron: dominant frequency k* of theta_m, (alpha, phi) of theta_m and (beta, psi) of xi_m at k*, D = wrap(2 phi - psi), IPRs, single-cosine fit residuals");
    Ok(())
}

/// Writes `spectrum.csv`: the spectrum of every neuron's input and output weights, and records it in `man`.
fn write_spectrum(a: &Analysis, out: &Path, man: &mut Manifest) -> Result<()> {
    let p = a.p();
    let mut rows = Vec::with_capacity(2 * a.features.len() * (p + 1) / 2);
    for (m, (si, so)) in a.spectra.input.iter().zip(&a.spectra.output).enumerate() {
        spectrum_rows(&mut rows, "in", m, si);
        spectrum_rows(&mut rows, "out", m, so);
        if let Some(sy) = &a.spectra.input_y {
            spectrum_rows(&mut rows, "in_y", m, &sy[m]);
        }
    }
    let n = write_table(
        &out.join("spectrum.csv"),
        &[
            "layer",
            "m",
            "k",
            "magnitude",
            "phase",
            "cos_sum",
            "sin_sum",
        ],
        &rows,
    )?;
    man.add("spectrum.csv", n, "Fourier spectrum of every theta_m (layer in) and xi_m (layer out), k = 0 (constant) to K; alpha_k = 2/p sqrt(c_k^2 + s_k^2), phase atan2(-s_k, c_k)");
    Ok(())
}

/// Writes `frequency_groups.csv`: one row per frequency group, and records it in `man`.
fn write_groups(a: &Analysis, out: &Path, man: &mut Manifest) -> Result<()> {
    let rows: Vec<Vec<String>> = a
        .groups
        .iter()
        .map(|g| {
            let m = |l: usize| opt(g.moments.map(|v| v[l]));
            let s = g.magnitude;
            vec![
                g.k.to_string(),
                g.neurons.len().to_string(),
                m(0),
                m(1),
                m(2),
                m(3),
                opt(s.map(|s| s.mean)),
                opt(s.map(|s| s.std)),
                opt(s.map(|s| s.min)),
                opt(s.map(|s| s.max)),
                opt(s.map(|s| s.relative())),
            ]
        })
        .collect();
    let n = write_table(
        &out.join("frequency_groups.csv"),
        &[
            "k",
            "neurons",
            "moment_1",
            "moment_2",
            "moment_3",
            "moment_4",
            "a_mean",
            "a_std",
            "a_min",
            "a_max",
            "a_relative_spread",
        ],
        &rows,
    )?;
    man.add("frequency_groups.csv", n, "per frequency k: neurons with k* = k, phase-symmetry moments |mean e^{i l phi}| for l = 1..4, spread of a = alpha^2 beta");
    Ok(())
}

/// Writes `harmonics.csv`: the harmonic ratios of every neuron, and records it in `man`.
fn write_harmonics(a: &Analysis, out: &Path, man: &mut Manifest) -> Result<()> {
    let mut rows = Vec::new();
    for f in &a.features {
        for (layer, s) in [
            ("in", &a.spectra.input[f.m]),
            ("out", &a.spectra.output[f.m]),
        ] {
            for h in harmonic_ratios(s, f.freq, HARMONIC_MAX) {
                rows.push(vec![
                    f.m.to_string(),
                    layer.into(),
                    f.freq.to_string(),
                    h.r.to_string(),
                    h.k.map(|k| k.to_string()).unwrap_or_default(),
                    opt(h.ratio),
                ]);
            }
        }
    }
    let n = write_table(
        &out.join("harmonics.csv"),
        &["m", "layer", "k_star", "r", "k", "ratio"],
        &rows,
    )?;
    man.add("harmonics.csv", n, "harmonic leakage: magnitude at fold(r k*) over magnitude at k*, r = 2..5, per neuron and layer");
    Ok(())
}

/// Writes `logits.csv`: the logits of every pair, and records it in `man`.
fn write_logits(a: &Analysis, out: &Path, man: &mut Manifest) -> Result<()> {
    let p = a.p();
    let mut rows = Vec::with_capacity(p * p * p);
    for x in 0..p {
        for y in 0..p {
            for j in 0..p {
                rows.push(vec![
                    x.to_string(),
                    y.to_string(),
                    j.to_string(),
                    fmt_f64(a.logits[(x * p + y) * p + j]),
                ]);
            }
        }
    }
    let n = write_table(&out.join("logits.csv"), &["x", "y", "j", "logit"], &rows)?;
    man.add(
        "logits.csv",
        n,
        "logits f(x, y)[j] of every pair under the training activation",
    );
    Ok(())
}

/// Writes `swaps.csv`: accuracy and loss under every activation, and records it in `man`.
fn write_swaps(a: &Analysis, out: &Path, man: &mut Manifest) -> Result<()> {
    let rows: Vec<Vec<String>> = a
        .swaps
        .iter()
        .map(|s| {
            vec![
                s.activation.name().into(),
                s.even_part.to_string(),
                fmt_f64(s.accuracy),
                fmt_f64(s.loss),
            ]
        })
        .collect();
    let n = write_table(
        &out.join("swaps.csv"),
        &["activation", "even_part", "accuracy", "loss"],
        &rows,
    )?;
    man.add("swaps.csv", n, "accuracy and mean cross-entropy on all pairs with the activation swapped at test time (Observation 4)");
    Ok(())
}

/// Writes `summary.csv`: the headline numbers, and records it in `man`.
fn write_summary(a: &Analysis, out: &Path, man: &mut Manifest) -> Result<()> {
    let summary = a.summary();
    let rows: Vec<Vec<String>> = summary
        .metrics
        .iter()
        .map(|(name, v, d)| vec![name.to_string(), fmt_f64(*v), d.to_string()])
        .collect();
    let n = write_table(
        &out.join("summary.csv"),
        &["metric", "value", "description"],
        &rows,
    )?;
    man.add(
        "summary.csv",
        n,
        format!(
            "headline numbers under the training activation ({}), one metric per row",
            a.activation.name()
        ),
    );
    Ok(())
}

/// The columns `neurons.csv` gains for an untied network (see the module docs).
pub const UNTIED_NEURON_COLUMNS: [&str; 11] = [
    "freq_y",
    "alpha_y",
    "phi_y",
    "constant_in_y",
    "ipr_in_y",
    "ipr_coef_in_y",
    "fit_residual_in_y",
    "closed_form_k",
    "closed_form_delta",
    "closed_form_consistent",
    "closed_form_similarity",
];

/// The file whose presence marks a folder as holding an analysis.
pub const MARKER: &str = "neurons.csv";

/// Analyses `net` under `activation` and writes the files into `out`, refusing a folder that
/// already holds an analysis unless `force`. Returns the analysis' summary.
pub fn analyze_to_dir(
    net: &Network<f64>,
    activation: Activation,
    out: &Path,
    force: bool,
) -> Result<Summary> {
    analyze_task_to_dir(net, activation, Task::Add, out, force)
}

/// [`analyze_to_dir`] on `task` ([`analyze_task`]).
pub fn analyze_task_to_dir(
    net: &Network<f64>,
    activation: Activation,
    task: Task,
    out: &Path,
    force: bool,
) -> Result<Summary> {
    check_analysable(net.p)?;
    let marker = out.join(MARKER);
    if marker.exists() && !force {
        return Err(Error::OutputExists {
            path: out.to_path_buf(),
            found: marker,
        });
    }
    let a = analyze_task(net, activation, task);
    write_analysis(&a, out)?;
    Ok(a.summary())
}
