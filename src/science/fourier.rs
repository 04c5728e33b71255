//! Fourier conventions, per-vector spectra, and per-neuron / whole-network Fourier analyses.
//!
//! # Conventions (used everywhere in this crate)
//! For a vector v in R^p (p odd), K = (p - 1) / 2 and w_k = 2 pi k / p:
//! ```text
//! c_k = sum_{j=0}^{p-1} v[j] cos(w_k j)        s_k = sum_{j=0}^{p-1} v[j] sin(w_k j)
//! a_0 = (1/p) sum_j v[j]                                  (the constant term)
//! alpha_k = (2/p) sqrt(c_k^2 + s_k^2)                     (magnitude, k = 1..K)
//! phi_k   = atan2(-s_k, c_k)                              (phase, in (-pi, pi])
//! ```
//! so that, exactly, `v[j] = a_0 + sum_{k=1..K} alpha_k cos(w_k j + phi_k)`.
//! For a neuron, the input layer (`theta_m`) gives (alpha, phi) and the output layer (`xi_m`)
//! gives (beta, psi). The phase misalignment is `D = wrap(2 phi - psi)` in [-pi, pi).
//!
//! ## Sign, normalisation and phase, spelled out
//! - **Sign.** In terms of the complex DFT `X_k = sum_j v[j] e^{-i w_k j}` (the sign of numpy's
//!   and rustfft's forward transform), `c_k = Re X_k` and `s_k = -Im X_k`, so
//!   `X_k = c_k - i s_k = (p/2) alpha_k e^{i phi_k}`.
//! - **Normalisation.** `alpha_k` is the *amplitude* of the cosine in v (a pure
//!   `A cos(w_k j + phi)` has `alpha_k = A`), i.e. `2/p` times `|X_k|`; the constant term is the
//!   mean `a_0 = X_0 / p`. No `1/sqrt(p)` anywhere except in the orthonormal basis below.
//! - **Phase.** `phi_k` is the phase *added* inside the cosine: `v[j] = A cos(w_k j + phi_k)`,
//!   `phi_k = arg X_k` in (-pi, pi]. A zero component has phase `atan2(0, 0) = 0`.
//! - **Orthonormal real basis** (the rows of the reference's Fourier basis): `1/sqrt(p)`, then
//!   `cos(w_k j) / sqrt(p/2)` and `sin(w_k j) / sqrt(p/2)` for k = 1..K. The coefficients of v in
//!   it are `sqrt(p) a_0`, `c_k / sqrt(p/2)`, `s_k / sqrt(p/2)`.
//!
//! # Network analyses
//! A network's neuron m has `theta_m` = row m of `W_in` and `xi_m` = column m of `W_out`.
//! [`NetworkSpectra::of`] takes the spectrum of both; [`neuron_features`] reads the dominant
//! frequency k*_m of `theta_m` and the four numbers (alpha, phi) of `theta_m` and (beta, psi) of
//! `xi_m` at k*_m, with D and the IPRs; [`frequency_groups`] gathers neurons by k* (frequency
//! balance, phase-symmetry moments, magnitude homogeneity); [`harmonic_ratios`] measures ReLU's
//! leakage into harmonics; [`best_cosine_fit`] the best single-cosine fit and its residual;
//! [`harmonic_projection`] keeps only chosen harmonics of each neuron's k*.
//! For an untied network, [`NetworkSpectra::of`] also takes the spectrum of every `eta_m` (row
//! m of `W_in_y`, the second operand's weights) into `input_y`; the per-neuron features stay
//! those of `theta_m` and `xi_m` (see [`crate::science::gromov`] for the untied comparison).

use std::f64::consts::PI;

/// Cosine and sine sums (c_k, s_k) of `v` for k = 0..=K (k = 0 gives (sum v, 0)).
pub fn cos_sin_sums(v: &[f64]) -> Vec<(f64, f64)> {
    let p = v.len();
    let k_max = (p - 1) / 2;
    (0..=k_max)
        .map(|k| {
            let mut c = 0.0;
            let mut s = 0.0;
            for (j, &x) in v.iter().enumerate() {
                // Reduce k j mod p first so the angle stays small and exact in integers.
                let a = 2.0 * PI * ((k * j) % p) as f64 / p as f64;
                c += x * a.cos();
                s += x * a.sin();
            }
            (c, s)
        })
        .collect()
}

/// One frequency's magnitude and phase: (alpha_k, phi_k) with the conventions above.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Component {
    /// alpha_k = (2/p) sqrt(c_k^2 + s_k^2).
    pub magnitude: f64,
    /// phi_k = atan2(-s_k, c_k).
    pub phase: f64,
    /// c_k.
    pub cos_sum: f64,
    /// s_k.
    pub sin_sum: f64,
}

/// The spectrum of a vector: constant term and components k = 1..K.
#[derive(Clone, Debug, PartialEq)]
pub struct Spectrum {
    /// a_0 = mean of v.
    pub constant: f64,
    /// `components[k - 1]` is frequency k.
    pub components: Vec<Component>,
}

/// Spectrum of `v` (length p, odd) in the conventions of the module docs.
pub fn spectrum(v: &[f64]) -> Spectrum {
    let p = v.len() as f64;
    let sums = cos_sin_sums(v);
    Spectrum {
        constant: sums[0].0 / p,
        components: sums[1..]
            .iter()
            .map(|&(c, s)| Component {
                magnitude: 2.0 / p * c.hypot(s),
                phase: (-s).atan2(c),
                cos_sum: c,
                sin_sum: s,
            })
            .collect(),
    }
}

/// Wraps an angle into [-pi, pi).
pub fn wrap(a: f64) -> f64 {
    let t = (a + PI).rem_euclid(2.0 * PI) - PI;
    // rem_euclid can return 2 pi for tiny negative inputs through rounding.
    if t >= PI {
        t - 2.0 * PI
    } else {
        t
    }
}

/// Phase misalignment D = wrap(2 phi - psi) in [-pi, pi).
pub fn misalignment(phi: f64, psi: f64) -> f64 {
    wrap(2.0 * phi - psi)
}

impl Spectrum {
    /// The modulus p = 2K + 1 the spectrum was taken at.
    pub fn p(&self) -> usize {
        2 * self.components.len() + 1
    }

    /// K = (p - 1) / 2, the number of frequencies.
    pub fn k_max(&self) -> usize {
        self.components.len()
    }

    /// Component of frequency `k` in 1..=K.
    ///
    /// # Panics
    /// If `k` is 0 or above K.
    pub fn at(&self, k: usize) -> Component {
        assert!(
            k >= 1 && k <= self.k_max(),
            "frequency {k} outside 1..={}",
            self.k_max()
        );
        self.components[k - 1]
    }

    /// The vector back from its spectrum: `v[j] = a_0 + sum_{k=1..K} alpha_k cos(w_k j + phi_k)`.
    pub fn reconstruct(&self) -> Vec<f64> {
        let p = self.p();
        (0..p)
            .map(|j| {
                let mut v = self.constant;
                for (i, c) in self.components.iter().enumerate() {
                    let a = 2.0 * PI * (((i + 1) * j) % p) as f64 / p as f64;
                    v += c.magnitude * (a + c.phase).cos();
                }
                v
            })
            .collect()
    }

    /// The coefficients of v in the orthonormal real basis of the module docs, in the order
    /// (constant, cos 1, sin 1, ..., cos K, sin K): `sqrt(p) a_0, c_k / sqrt(p/2), s_k / sqrt(p/2)`.
    pub fn orthonormal_coefficients(&self) -> Vec<f64> {
        let p = self.p() as f64;
        let h = (p / 2.0).sqrt();
        let mut out = Vec::with_capacity(self.p());
        out.push(p.sqrt() * self.constant);
        for c in &self.components {
            out.push(c.cos_sum / h);
            out.push(c.sin_sum / h);
        }
        out
    }
}

/// Spectra of many vectors of one length p through a shared table of `cos(2 pi r / p)`,
/// `sin(2 pi r / p)` (r = 0..p-1), indexed by `(k j) mod p`: the same angles, in the same order,
/// as [`cos_sin_sums`], so the results are bit-identical to [`spectrum`].
#[derive(Clone, Debug)]
pub struct SpectrumTable {
    p: usize,
    cos: Vec<f64>,
    sin: Vec<f64>,
}

impl SpectrumTable {
    /// The table for vectors of length `p` (odd, >= 3; not checked here, see [`crate::numerics::task::check_modulus`]).
    pub fn new(p: usize) -> Self {
        let (cos, sin) = (0..p)
            .map(|r| {
                let a = 2.0 * PI * r as f64 / p as f64;
                (a.cos(), a.sin())
            })
            .unzip();
        SpectrumTable { p, cos, sin }
    }

    /// [`spectrum`] of `v`, which must have length p.
    ///
    /// # Panics
    /// If `v.len() != p`.
    pub fn spectrum(&self, v: &[f64]) -> Spectrum {
        let p = self.p;
        assert_eq!(
            v.len(),
            p,
            "vector of length {} for a table of p = {p}",
            v.len()
        );
        let pf = p as f64;
        let k_max = (p - 1) / 2;
        let constant = v.iter().sum::<f64>() / pf;
        let components = (1..=k_max)
            .map(|k| {
                let (mut c, mut s) = (0.0, 0.0);
                for (j, &x) in v.iter().enumerate() {
                    let r = (k * j) % p;
                    c += x * self.cos[r];
                    s += x * self.sin[r];
                }
                Component {
                    magnitude: 2.0 / pf * c.hypot(s),
                    phase: (-s).atan2(c),
                    cos_sum: c,
                    sin_sum: s,
                }
            })
            .collect();
        Spectrum {
            constant,
            components,
        }
    }
}

/// Dominant frequency of a spectrum: `argmax_{k = 1..K} alpha_k` (the constant term excluded);
/// ties go to the smallest k. `None` when every alpha_k is zero (or NaN).
pub fn dominant_frequency(s: &Spectrum) -> Option<usize> {
    let mut best: Option<(usize, f64)> = None;
    for (i, c) in s.components.iter().enumerate() {
        if c.magnitude > 0.0 && best.is_none_or(|(_, b)| c.magnitude > b) {
            best = Some((i + 1, c.magnitude));
        }
    }
    best.map(|(k, _)| k)
}

/// Dominant frequency by the reference's rule, which lets the constant term win (0 = constant,
/// a "DC neuron").
///
/// The reference takes the p coefficients of v in its basis `(1/sqrt(p), cos w_k j, sin w_k j)`
/// (the constant row normalised, the cosine and sine rows not), that is
/// `(sqrt(p) a_0, c_1, s_1, ..., c_K, s_K)`, picks the index i of the largest absolute value
/// (first on ties, as `torch.argmax`) and returns `k = (i + 1) / 2` (integer division).
/// It therefore compares `|c_k|` and `|s_k|` separately rather than the magnitude alpha_k, so it
/// can differ from [`dominant_frequency`] between two frequencies of similar size.
pub fn dominant_frequency_with_constant(s: &Spectrum) -> usize {
    let p = s.p() as f64;
    let mut best_i = 0;
    let mut best = (p.sqrt() * s.constant).abs();
    for (i, c) in s.components.iter().enumerate() {
        for (off, v) in [(1, c.cos_sum.abs()), (2, c.sin_sum.abs())] {
            if v > best {
                best = v;
                best_i = 2 * i + off;
            }
        }
    }
    best_i.div_ceil(2)
}

/// Inverse participation ratio over frequencies, the reference pipeline's definition:
/// with `A_k^2 = c_k^2 + s_k^2` for k = 1..K (the constant term excluded),
/// `IPR = sum_k A_k^4 / (sum_k A_k^2)^2`, and 0 when every A_k is zero.
/// It lies in [1/K, 1]; 1 means a single frequency. (Equivalently with alpha_k in place of A_k.)
pub fn ipr(s: &Spectrum) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for c in &s.components {
        let a2 = c.cos_sum * c.cos_sum + c.sin_sum * c.sin_sum;
        num += a2 * a2;
        den += a2;
    }
    if den > 0.0 {
        num / (den * den)
    } else {
        0.0
    }
}

/// Inverse participation ratio over the p orthonormal coefficients u_i
/// (see [`Spectrum::orthonormal_coefficients`]; the constant term included), the per-coefficient
/// definition of the reference's notebooks: `IPR_coef = sum_i u_i^4 / (sum_i u_i^2)^2`, 0 for
/// the zero vector. Cosine and sine of one frequency count as two coefficients, so a single
/// cosine `A cos(w_k j + phi)` has `IPR_coef = cos^4 phi + sin^4 phi`, between 1/2 and 1.
pub fn ipr_per_coefficient(s: &Spectrum) -> f64 {
    let u = s.orthonormal_coefficients();
    let den: f64 = u.iter().map(|x| x * x).sum();
    if den > 0.0 {
        u.iter().map(|x| x.powi(4)).sum::<f64>() / (den * den)
    } else {
        0.0
    }
}

/// Spectra of every neuron of a network: `input[m]` of `theta_m` (row m of `W_in`),
/// `output[m]` of `xi_m` (column m of `W_out`).
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkSpectra {
    /// Modulus p.
    pub p: usize,
    /// Spectrum of `theta_m`, per neuron.
    pub input: Vec<Spectrum>,
    /// Spectrum of `xi_m`, per neuron.
    pub output: Vec<Spectrum>,
    /// Spectrum of `eta_m` (row m of `W_in_y`), per neuron, for an untied network; `None` for
    /// a tied one.
    pub input_y: Option<Vec<Spectrum>>,
}

impl NetworkSpectra {
    /// Takes the spectra of every neuron's `theta_m` and `xi_m` (and `eta_m` when untied), in f64.
    pub fn of<T: crate::numerics::real::Real>(net: &crate::numerics::network::Network<T>) -> Self {
        let table = SpectrumTable::new(net.p);
        let mut buf = vec![0.0; net.p];
        let mut input = Vec::with_capacity(net.width());
        let mut output = Vec::with_capacity(net.width());
        for m in 0..net.width() {
            for (j, b) in buf.iter_mut().enumerate() {
                *b = net.w_in[(m, j)].f64();
            }
            input.push(table.spectrum(&buf));
            for (j, b) in buf.iter_mut().enumerate() {
                *b = net.w_out[(j, m)].f64();
            }
            output.push(table.spectrum(&buf));
        }
        let input_y = net.w_in_y.as_ref().map(|wy| {
            (0..net.width())
                .map(|m| {
                    for (j, b) in buf.iter_mut().enumerate() {
                        *b = wy[(m, j)].f64();
                    }
                    table.spectrum(&buf)
                })
                .collect()
        });
        NetworkSpectra {
            p: net.p,
            input,
            output,
            input_y,
        }
    }

    /// Number of neurons M.
    pub fn width(&self) -> usize {
        self.input.len()
    }

    /// The pipeline IPR ([`ipr`]) averaged over neurons: (mean over `W_in` rows, mean over
    /// `W_out` columns, and their average, the reference's reported value).
    pub fn mean_ipr(&self) -> (f64, f64, f64) {
        let mean = |v: &[Spectrum]| v.iter().map(ipr).sum::<f64>() / v.len() as f64;
        let (a, b) = (mean(&self.input), mean(&self.output));
        (a, b, 0.5 * (a + b))
    }

    /// [`ipr_per_coefficient`] averaged the same way as [`NetworkSpectra::mean_ipr`].
    pub fn mean_ipr_per_coefficient(&self) -> (f64, f64, f64) {
        let mean = |v: &[Spectrum]| v.iter().map(ipr_per_coefficient).sum::<f64>() / v.len() as f64;
        let (a, b) = (mean(&self.input), mean(&self.output));
        (a, b, 0.5 * (a + b))
    }
}

/// What one neuron has learned, read at its dominant input frequency.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NeuronFeatures {
    /// Neuron index m.
    pub m: usize,
    /// Dominant frequency k* of `theta_m` by [`dominant_frequency`] (constant excluded);
    /// 1 when `theta_m` has no frequency content at all (then alpha = 0).
    pub freq: usize,
    /// Dominant frequency by the reference's rule ([`dominant_frequency_with_constant`]; 0 = DC).
    pub freq_with_constant: usize,
    /// alpha = magnitude of `theta_m` at k*.
    pub alpha: f64,
    /// phi = phase of `theta_m` at k*.
    pub phi: f64,
    /// beta = magnitude of `xi_m` at k* (the input's k*, as in the reference).
    pub beta: f64,
    /// psi = phase of `xi_m` at k*.
    pub psi: f64,
    /// D = wrap(2 phi - psi) in [-pi, pi).
    pub misalignment: f64,
    /// Constant term a_0 of `theta_m`.
    pub constant_in: f64,
    /// Constant term of `xi_m`.
    pub constant_out: f64,
    /// Pipeline IPR of `theta_m`.
    pub ipr_in: f64,
    /// Pipeline IPR of `xi_m`.
    pub ipr_out: f64,
    /// Per-coefficient IPR of `theta_m`.
    pub ipr_coef_in: f64,
    /// Per-coefficient IPR of `xi_m`.
    pub ipr_coef_out: f64,
}

/// Per-neuron features (see [`NeuronFeatures`]) of every neuron.
pub fn neuron_features(spectra: &NetworkSpectra) -> Vec<NeuronFeatures> {
    spectra
        .input
        .iter()
        .zip(&spectra.output)
        .enumerate()
        .map(|(m, (si, so))| {
            let k = dominant_frequency(si).unwrap_or(1);
            let (ci, co) = (si.at(k), so.at(k));
            NeuronFeatures {
                m,
                freq: k,
                freq_with_constant: dominant_frequency_with_constant(si),
                alpha: ci.magnitude,
                phi: ci.phase,
                beta: co.magnitude,
                psi: co.phase,
                misalignment: misalignment(ci.phase, co.phase),
                constant_in: si.constant,
                constant_out: so.constant,
                ipr_in: ipr(si),
                ipr_out: ipr(so),
                ipr_coef_in: ipr_per_coefficient(si),
                ipr_coef_out: ipr_per_coefficient(so),
            }
        })
        .collect()
}

/// Mean of |sin D| over neurons (0 = every neuron phase-aligned, D = 0 or pi; the random-phase
/// value is 2/pi ≈ 0.637). NaN for no neurons.
pub fn mean_abs_sin_misalignment(features: &[NeuronFeatures]) -> f64 {
    features
        .iter()
        .map(|f| f.misalignment.sin().abs())
        .sum::<f64>()
        / features.len() as f64
}

/// Phase-symmetry moment of order l: `|(1/n) sum_{i} e^{i l phi_i}|` over the n phases given;
/// `None` for an empty set. 0 means the phases' l-th harmonics cancel (the condition of
/// Proposition 1 for l = 2, 4), 1 that `l phi_i` are all equal mod 2 pi.
pub fn phase_moment(phases: &[f64], l: u32) -> Option<f64> {
    if phases.is_empty() {
        return None;
    }
    let (mut re, mut im) = (0.0, 0.0);
    for &phi in phases {
        let (s, c) = (l as f64 * phi).sin_cos();
        re += c;
        im += s;
    }
    let n = phases.len() as f64;
    Some((re / n).hypot(im / n))
}

/// Mean, population standard deviation, minimum and maximum of a set of numbers.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    /// Arithmetic mean.
    pub mean: f64,
    /// Population standard deviation sqrt(mean (x - mean)^2).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Spread {
    /// The spread of `v`; `None` when empty.
    pub fn of(v: &[f64]) -> Option<Spread> {
        if v.is_empty() {
            return None;
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        Some(Spread {
            mean,
            std: var.sqrt(),
            min: v.iter().copied().fold(f64::INFINITY, f64::min),
            max: v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        })
    }

    /// Coefficient of variation std / |mean| (NaN for mean 0).
    pub fn relative(&self) -> f64 {
        self.std / self.mean.abs()
    }
}

/// The neurons whose dominant frequency is k (the group N_k) and how diversified they are.
#[derive(Clone, Debug, PartialEq)]
pub struct FrequencyGroup {
    /// Frequency k in 1..=K.
    pub k: usize,
    /// Neuron indices m with k*_m = k (frequency balance: `neurons.len()` per k).
    pub neurons: Vec<usize>,
    /// Phase-symmetry moments `|mean_{m in N_k} e^{i l phi_m}|` for l = 1, 2, 3, 4 (index l - 1);
    /// `None` for an empty group.
    pub moments: Option<[f64; 4]>,
    /// Spread of `a_m = alpha_m^2 beta_m` over the group (magnitude homogeneity; a_m is the
    /// per-neuron constant of Proposition 1, see [`crate::science::mechanism`]); `None` for an empty group.
    pub magnitude: Option<Spread>,
}

/// Groups neurons by dominant frequency k = 1..K (every k listed, empty groups included).
pub fn frequency_groups(features: &[NeuronFeatures], k_max: usize) -> Vec<FrequencyGroup> {
    (1..=k_max)
        .map(|k| {
            let members: Vec<&NeuronFeatures> = features.iter().filter(|f| f.freq == k).collect();
            let phases: Vec<f64> = members.iter().map(|f| f.phi).collect();
            let moments = (!phases.is_empty()).then(|| {
                let mut out = [0.0; 4];
                for (l, o) in out.iter_mut().enumerate() {
                    *o = phase_moment(&phases, l as u32 + 1).unwrap_or(f64::NAN);
                }
                out
            });
            let a: Vec<f64> = members.iter().map(|f| f.alpha * f.alpha * f.beta).collect();
            FrequencyGroup {
                k,
                neurons: members.iter().map(|f| f.m).collect(),
                moments,
                magnitude: Spread::of(&a),
            }
        })
        .collect()
}

/// Folds a frequency r into 1..=K: `f = r mod p`, then `p - f` if f > K; `None` when
/// `f = 0` (r a multiple of p: the harmonic lands on the constant term).
pub fn fold_frequency(r: usize, p: usize) -> Option<usize> {
    let f = r % p;
    match f {
        0 => None,
        f if f > (p - 1) / 2 => Some(p - f),
        f => Some(f),
    }
}

/// One harmonic's leakage ratio.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Harmonic {
    /// Multiplier r.
    pub r: usize,
    /// The folded frequency `fold(r k*)`; `None` when it is the constant term.
    pub k: Option<usize>,
    /// `alpha_{fold(r k*)} / alpha_{k*}`; `None` when the harmonic folds onto the constant term
    /// or alpha_{k*} = 0.
    pub ratio: Option<f64>,
}

/// Harmonic leakage of a spectrum around the fundamental `k_star`:
/// `alpha_{fold(r k*)} / alpha_{k*}` for r = 2..=r_max (see [`fold_frequency`]).
/// A ReLU neuron `relu(cos)` leaks into every harmonic roughly like 1/r^2 (SPEC 7, claim 5).
pub fn harmonic_ratios(s: &Spectrum, k_star: usize, r_max: usize) -> Vec<Harmonic> {
    let p = s.p();
    let base = s.at(k_star).magnitude;
    (2..=r_max)
        .map(|r| {
            let k = fold_frequency(r * k_star, p);
            let ratio = k.filter(|_| base > 0.0).map(|k| s.at(k).magnitude / base);
            Harmonic { r, k, ratio }
        })
        .collect()
}

/// Relative residual of fitting v by its constant plus its component at frequency k alone:
/// `sqrt(sum_{k' != k} alpha_{k'}^2 / sum_{k'} alpha_{k'}^2)` (by Parseval, the
/// `||v - a_0 - alpha_k cos(w_k j + phi_k)|| / ||v - a_0||` of [`best_cosine_fit`] when k is
/// dominant); 0 when v is constant.
///
/// # Panics
/// If `k` is 0 or above K.
pub fn cosine_fit_residual_at(s: &Spectrum, k: usize) -> f64 {
    let total: f64 = s.components.iter().map(|c| c.magnitude * c.magnitude).sum();
    let at = s.at(k).magnitude;
    if total > 0.0 {
        ((total - at * at).max(0.0) / total).sqrt()
    } else {
        0.0
    }
}

/// The best least-squares fit of v by a constant plus one cosine.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CosineFit {
    /// The frequency used (the dominant one).
    pub k: usize,
    /// Constant a_0.
    pub constant: f64,
    /// Amplitude alpha_k.
    pub amplitude: f64,
    /// Phase phi_k.
    pub phase: f64,
    /// Residual `||v - fit||_2`.
    pub residual: f64,
    /// `||v - fit||_2 / ||v - a_0||_2`: the share of the non-constant part not explained
    /// (0 for a pure cosine, 0 also for a constant v).
    pub relative_residual: f64,
}

/// Best fit of v by `a_0 + A cos(w_k j + phi)` over k in 1..=K, A >= 0 and phi: by orthogonality
/// of the Fourier basis the optimum at each k is `A = alpha_k`, `phi = phi_k`, with squared
/// residual `(p/2) sum_{k' != k} alpha_{k'}^2` (Parseval), so the best k is the dominant one.
/// The residual is computed directly from v, not from that identity.
pub fn best_cosine_fit(v: &[f64]) -> CosineFit {
    let s = spectrum(v);
    let k = dominant_frequency(&s).unwrap_or(1);
    let c = s.at(k);
    let p = v.len();
    let (mut res, mut dev) = (0.0, 0.0);
    for (j, &x) in v.iter().enumerate() {
        let a = 2.0 * PI * ((k * j) % p) as f64 / p as f64;
        let fit = s.constant + c.magnitude * (a + c.phase).cos();
        res += (x - fit) * (x - fit);
        dev += (x - s.constant) * (x - s.constant);
    }
    CosineFit {
        k,
        constant: s.constant,
        amplitude: c.magnitude,
        phase: c.phase,
        residual: res.sqrt(),
        relative_residual: if dev > 0.0 { (res / dev).sqrt() } else { 0.0 },
    }
}

/// Keeps, in every neuron, only the harmonics `r k*_m` (r in `multiples`, folded into 1..=K by
/// [`fold_frequency`]; multiples that fold onto the constant are skipped) of its dominant input
/// frequency k*_m, in both layers, and drops everything else (the constant terms included):
/// ```text
/// theta'_m[j] = sum_{k in F_m} alpha_{m,k} cos(w_k j + phi_{m,k})
/// xi'_m[j]    = sum_{k in F_m} beta_{m,k}  cos(w_k j + psi_{m,k}),   F_m = {fold(r k*_m) : r in multiples}
/// ```
/// with the magnitudes and phases of `spectra` (each frequency counted once). `multiples = [1]`
/// gives the single-frequency part of the network, the form Proposition 1 assumes; `[1, 3]`
/// adds the third harmonic that trained networks carry (see `tests/trained_features.rs`).
/// The result is tied (an untied network's `W_in_y` is dropped).
pub fn harmonic_projection(
    spectra: &NetworkSpectra,
    features: &[NeuronFeatures],
    multiples: &[usize],
) -> crate::numerics::network::Network<f64> {
    let p = spectra.p;
    let width = spectra.width();
    let mut w_in = nalgebra::DMatrix::<f64>::zeros(width, p);
    let mut w_out = nalgebra::DMatrix::<f64>::zeros(p, width);
    for (m, f) in features.iter().enumerate() {
        let mut ks: Vec<usize> = multiples
            .iter()
            .filter_map(|&r| fold_frequency(r * f.freq, p))
            .collect();
        ks.sort_unstable();
        ks.dedup();
        for &k in &ks {
            let (ci, co) = (spectra.input[m].at(k), spectra.output[m].at(k));
            for j in 0..p {
                let a = 2.0 * PI * ((k * j) % p) as f64 / p as f64;
                w_in[(m, j)] += ci.magnitude * (a + ci.phase).cos();
                w_out[(j, m)] += co.magnitude * (a + co.phase).cos();
            }
        }
    }
    crate::numerics::network::Network {
        p,
        w_in,
        w_out,
        w_in_y: None,
    }
}
