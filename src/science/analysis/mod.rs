//! The analysis pipeline behind `modadd analyze`: every Fourier and mechanism measure of one
//! network, gathered ([`analyze`]) and written as tidy CSV files with a manifest
//! ([`write_analysis`](export::write_analysis), [`analyze_to_dir`](export::analyze_to_dir)).
//!
//! # Files written (all with a header row, shortest round-trip numbers, atomic writes)
//! | file | one row per | columns |
//! |---|---|---|
//! | `neurons.csv` | neuron m | `m, freq, freq_with_constant, alpha, phi, beta, psi, d, constant_in, constant_out, ipr_in, ipr_out, ipr_coef_in, ipr_coef_out, fit_residual_in, fit_residual_out` |
//! | `spectrum.csv` | (layer, m, k) | `layer, m, k, magnitude, phase, cos_sum, sin_sum` |
//! | `frequency_groups.csv` | frequency k | `k, neurons, moment_1..moment_4, a_mean, a_std, a_min, a_max, a_relative_spread` |
//! | `harmonics.csv` | (m, layer, r) | `m, layer, k_star, r, k, ratio` |
//! | `logits.csv` | (x, y, j) | `x, y, j, logit` |
//! | `swaps.csv` | activation | `activation, even_part, accuracy, loss` |
//! | `summary.csv` | metric | `metric, value, description` |
//!
//! Conventions are those of [`crate::science::fourier`]: `freq` is the dominant frequency k* of
//! `theta_m` (constant excluded), `freq_with_constant` the reference's rule (0 = constant);
//! (alpha, phi) are `theta_m`'s magnitude and phase at k*, (beta, psi) `xi_m`'s at the same k*,
//! `d = wrap(2 phi - psi)`. In `spectrum.csv`, `layer` is `in` (`theta_m`, row m of `W_in`) or
//! `out` (`xi_m`, column m of `W_out`); the row k = 0 holds the constant term: magnitude =
//! a_0 (signed), phase 0, `cos_sum` = `sum_j v[j]`, `sin_sum` 0. `fit_residual_*` is the relative
//! residual of the single-cosine fit at k* ([`crate::science::fourier::cosine_fit_residual_at`]).
//! `a_*` in `frequency_groups.csv` describe `a_m = alpha_m^2 beta_m` over the group. In
//! `harmonics.csv`, `k` is `fold(r k*)` and `ratio = magnitude at k / magnitude at k*` of that
//! layer (empty when the harmonic folds onto the constant term). Empty fields mean "undefined"
//! (an empty frequency group). Logits and accuracies are over all p^2 pairs of the addition task,
//! under the activation given (the training one).
//!
//! # Untied networks and other tasks
//! [`analyze_task`] evaluates the accuracy, the swaps and the peak shape on the task given
//! (`add`, `sub`, `linear:A,B`; [`analyze`] uses add); spurious peaks sit at `2 a x` and
//! `2 b y` ([`crate::science::mechanism::peak_shape_for`]). For an untied network (a `W_in_y`), and only
//! then, the files gain:
//! - `spectrum.csv`: rows of layer `in_y` (`eta_m`, row m of `W_in_y`) after each neuron's `in`
//!   and `out` rows;
//! - `neurons.csv`: columns `freq_y, alpha_y, phi_y, constant_in_y, ipr_in_y, ipr_coef_in_y,
//!   fit_residual_in_y` (dominant frequency of `eta_m`, its magnitude and phase there, ...) and
//!   the comparison with Gromov's closed form ([`crate::science::gromov::closed_form_match`]):
//!   `closed_form_k` (dominant frequency of `xi_m`), `closed_form_delta`
//!   (`wrap(phat + chihat - psihat)`, empty when undefined), `closed_form_consistent`
//!   (input frequencies are fold(k a), fold(k b)), `closed_form_similarity`;
//! - `summary.csv`: rows `ipr_in_y`, `ipr_coef_in_y`, `closed_form_phase_fraction`
//!   (|Delta| <= [`CLOSED_FORM_PHASE_TOL`]), `closed_form_mean_cos_delta`,
//!   `closed_form_frequency_fraction`, `closed_form_similarity`.
//!
//! A tied network's files are unchanged by this (byte-identical to the tied-only pipeline).

pub mod export;

use crate::numerics::activation::Activation;
use crate::numerics::network::Network;
use crate::numerics::task::{all_pairs, Task};
use crate::science::fourier::{
    cosine_fit_residual_at, frequency_groups, harmonic_ratios, ipr_per_coefficient,
    mean_abs_sin_misalignment, neuron_features, FrequencyGroup, NetworkSpectra, NeuronFeatures,
    Spectrum,
};
use crate::science::gromov::{closed_form_match, summarize_match, NeuronMatch};
use crate::science::mechanism::{
    activation_swaps, all_logits, peak_shape_for, PeakShape, SwapOutcome,
};

/// Phase tolerance (radians, pi/8) of `closed_form_phase_fraction` in `summary.csv`.
pub const CLOSED_FORM_PHASE_TOL: f64 = std::f64::consts::PI / 8.0;

/// Largest harmonic multiplier written to `harmonics.csv` (r = 2..=5, SPEC 6).
pub const HARMONIC_MAX: usize = 5;

/// Everything [`analyze`] measures on one network.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The activation the network is evaluated with (its training activation).
    pub activation: Activation,
    /// Spectra of every `theta_m` and `xi_m`.
    pub spectra: NetworkSpectra,
    /// Per-neuron features.
    pub features: Vec<NeuronFeatures>,
    /// Neurons grouped by dominant frequency, k = 1..K.
    pub groups: Vec<FrequencyGroup>,
    /// Accuracy and loss under every activation (the training one included).
    pub swaps: Vec<SwapOutcome>,
    /// Logits of all pairs, x-major, p per pair.
    pub logits: Vec<f64>,
    /// Shape of the logit table (correct and spurious peaks).
    pub peaks: PeakShape,
    /// The task the accuracy, swaps and peaks refer to.
    pub task: Task,
    /// For an untied network: every neuron compared with Gromov's closed form for `task`.
    pub closed_form: Option<Vec<NeuronMatch>>,
}

/// Headline numbers of an [`Analysis`] (the rows of `summary.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// (name, value, description) in the order written.
    pub metrics: Vec<(&'static str, f64, &'static str)>,
}

impl Summary {
    /// The value of a metric by name.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, v, _)| *v)
    }
}

/// Runs every analysis on `net` evaluated with `activation` on the addition task
/// (`analyze_task(net, activation, Task::Add)`).
pub fn analyze<T: crate::numerics::real::Real>(
    net: &Network<T>,
    activation: Activation,
) -> Analysis {
    analyze_task(net, activation, Task::Add)
}

/// Runs every analysis on `net` (tied or untied) evaluated with `activation` on `task` (see
/// the module docs for what an untied network adds).
pub fn analyze_task<T: crate::numerics::real::Real>(
    net: &Network<T>,
    activation: Activation,
    task: Task,
) -> Analysis {
    let spectra = NetworkSpectra::of(net);
    let features = neuron_features(&spectra);
    let groups = frequency_groups(&features, (net.p - 1) / 2);
    let swaps = activation_swaps(net, &all_pairs(net.p, task));
    let logits = all_logits(net, activation);
    let peaks = peak_shape_for(&logits, net.p, task);
    let closed_form = net.w_in_y.is_some().then(|| closed_form_match(net, task));
    Analysis {
        task,
        closed_form,
        activation,
        spectra,
        features,
        groups,
        swaps,
        logits,
        peaks,
    }
}

impl Analysis {
    /// Modulus p.
    pub fn p(&self) -> usize {
        self.spectra.p
    }

    /// The accuracy and loss under the analysis activation.
    pub fn own(&self) -> SwapOutcome {
        *self
            .swaps
            .iter()
            .find(|s| s.activation == self.activation)
            .expect("activation_swaps covers every activation")
    }

    /// Mean over neurons of the harmonic ratio at multiplier r (2..=[`HARMONIC_MAX`]) of one
    /// layer's spectra around each neuron's k* (neurons whose harmonic is undefined skipped;
    /// NaN if none).
    pub fn mean_harmonic(&self, layer: &[Spectrum], r: usize) -> f64 {
        let v: Vec<f64> = self
            .features
            .iter()
            .zip(layer)
            .filter_map(|(f, s)| harmonic_ratios(s, f.freq, r).last().and_then(|h| h.ratio))
            .collect();
        v.iter().sum::<f64>() / v.len() as f64
    }

    /// The headline numbers (see `summary.csv` in the module docs).
    pub fn summary(&self) -> Summary {
        let (ipr_in, ipr_out, ipr) = self.spectra.mean_ipr();
        let (ipc_in, ipc_out, ipc) = self.spectra.mean_ipr_per_coefficient();
        let used = self.groups.iter().filter(|g| !g.neurons.is_empty()).count();
        let sizes: Vec<usize> = self.groups.iter().map(|g| g.neurons.len()).collect();
        // Neuron-weighted mean of the phase moments over non-empty groups.
        let moment = |l: usize| {
            let (mut s, mut n) = (0.0, 0usize);
            for g in &self.groups {
                if let Some(m) = g.moments {
                    s += m[l] * g.neurons.len() as f64;
                    n += g.neurons.len();
                }
            }
            s / n as f64
        };
        let fit: f64 = self
            .features
            .iter()
            .zip(&self.spectra.input)
            .map(|(f, s)| cosine_fit_residual_at(s, f.freq))
            .sum::<f64>()
            / self.features.len() as f64;
        let own = self.own();
        let pairs = self.peaks.pairs.max(1) as f64;
        let h = |layer: &[Spectrum], r: usize| self.mean_harmonic(layer, r);
        let (hi, ho) = (&self.spectra.input, &self.spectra.output);
        let mut summary = Summary {
            metrics: vec![
                ("p", self.p() as f64, "modulus"),
                ("width", self.features.len() as f64, "number of neurons M"),
                ("accuracy", own.accuracy, "accuracy on all p^2 pairs under the training activation"),
                ("loss", own.loss, "mean cross-entropy on all p^2 pairs under the training activation"),
                ("ipr", ipr, "pipeline IPR: average of the W_in and W_out neuron means"),
                ("ipr_in", ipr_in, "pipeline IPR, mean over W_in rows"),
                ("ipr_out", ipr_out, "pipeline IPR, mean over W_out columns"),
                ("ipr_coef", ipc, "per-coefficient IPR (constant included): average of the two layer means"),
                ("ipr_coef_in", ipc_in, "per-coefficient IPR, mean over W_in rows"),
                ("ipr_coef_out", ipc_out, "per-coefficient IPR, mean over W_out columns"),
                ("mean_abs_sin_d", mean_abs_sin_misalignment(&self.features), "mean over neurons of |sin D|, D = wrap(2 phi - psi)"),
                ("frequencies_used", used as f64, "frequencies k in 1..K that are some neuron's dominant frequency"),
                ("min_group_size", sizes.iter().copied().min().unwrap_or(0) as f64, "fewest neurons at one frequency"),
                ("max_group_size", sizes.iter().copied().max().unwrap_or(0) as f64, "most neurons at one frequency"),
                ("dc_neurons", self.features.iter().filter(|f| f.freq_with_constant == 0).count() as f64, "neurons whose constant term wins under the reference's rule"),
                ("moment_1", moment(0), "neuron-weighted mean over frequency groups of |mean e^{i phi}|"),
                ("moment_2", moment(1), "same for l = 2 (Proposition 1 wants 0)"),
                ("moment_3", moment(2), "same for l = 3"),
                ("moment_4", moment(3), "same for l = 4 (Proposition 1 wants 0)"),
                ("fit_residual_in", fit, "mean relative residual of the single-cosine fit of theta_m at k*"),
                ("correct_max_fraction", self.peaks.correct_max as f64 / pairs, "pairs x != y whose largest logit is x + y"),
                ("three_peak_fraction", self.peaks.three_peaks as f64 / pairs, "pairs x != y whose top three logits are x + y, then 2x and 2y"),
                ("spurious_ratio", self.peaks.spurious_ratio, "mean (f[2x] + f[2y] - 2m) / (2 (f[x+y] - m)), m the mean of the other logits (1/2 for Proposition 1)"),
                ("harmonic_in_r2", h(hi, 2), "mean over neurons of the W_in harmonic ratio at r = 2"),
                ("harmonic_in_r3", h(hi, 3), "same, r = 3"),
                ("harmonic_in_r4", h(hi, 4), "same, r = 4"),
                ("harmonic_in_r5", h(hi, 5), "same, r = 5"),
                ("harmonic_out_r2", h(ho, 2), "mean over neurons of the W_out harmonic ratio at r = 2 (around the input's k*)"),
                ("harmonic_out_r3", h(ho, 3), "same, r = 3"),
                ("harmonic_out_r4", h(ho, 4), "same, r = 4"),
                ("harmonic_out_r5", h(ho, 5), "same, r = 5"),
            ],
        };
        if let (Some(sy), Some(cf)) = (&self.spectra.input_y, &self.closed_form) {
            let n = sy.len() as f64;
            let s = summarize_match(cf, CLOSED_FORM_PHASE_TOL);
            summary.metrics.extend([
                ("ipr_in_y", sy.iter().map(crate::science::fourier::ipr).sum::<f64>() / n, "pipeline IPR, mean over W_in_y rows (untied)"),
                ("ipr_coef_in_y", sy.iter().map(ipr_per_coefficient).sum::<f64>() / n, "per-coefficient IPR, mean over W_in_y rows"),
                ("closed_form_phase_fraction", s.phase_fraction, "neurons with |wrap(phat + chihat - psihat)| <= pi/8 (Gromov's closed form)"),
                ("closed_form_mean_cos_delta", s.mean_cos_residual, "mean cos(phat + chihat - psihat) over neurons where defined (1 = closed form)"),
                ("closed_form_frequency_fraction", s.frequency_fraction, "neurons whose theta and eta peak at fold(k a), fold(k b), k the dominant frequency of xi"),
                ("closed_form_similarity", s.mean_similarity, "mean cosine similarity of neurons to their closed-form neuron (1 = closed form)"),
            ]);
        }
        summary
    }
}
