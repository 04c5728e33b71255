//! The Fourier conventions of SPEC 6 and the per-neuron analyses built on them, checked against
//! a naive complex DFT written here independently, against known answers, and as identities.

use modadd::numerics::init::{random_phase_offsets, Init};
use modadd::numerics::network::{Network, Tying};
use modadd::science::fourier::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;

/// Round-off for sums of p terms of size <= |v|_max: a few ulps times p.
fn tol(p: usize, vmax: f64) -> f64 {
    16.0 * f64::EPSILON * p as f64 * vmax.max(1.0)
}

const MODULI: [usize; 8] = [3, 5, 7, 9, 15, 23, 59, 97];

fn random_vec(p: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..p).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect()
}

/// Naive complex DFT X_k = sum_j v[j] e^{-2 pi i k j / p}, k = 0..p-1, with the angle computed
/// as written (no reduction mod p): an independent reference.
fn naive_dft(v: &[f64]) -> Vec<(f64, f64)> {
    let p = v.len();
    (0..p)
        .map(|k| {
            let (mut re, mut im) = (0.0, 0.0);
            for (j, &x) in v.iter().enumerate() {
                let a = -2.0 * PI * (k as f64) * (j as f64) / p as f64;
                re += x * a.cos();
                im += x * a.sin();
            }
            (re, im)
        })
        .collect()
}

/// The naive DFT itself, on known answers: a delta and a pure complex exponential.
#[test]
fn naive_dft_reference_is_right_on_known_answers() {
    let p = 7;
    let mut delta = vec![0.0; p];
    delta[0] = 1.0;
    for (re, im) in naive_dft(&delta) {
        assert!((re - 1.0).abs() < 1e-15 && im.abs() < 1e-15);
    }
    // v[j] = cos(2 pi 2 j / p): X_2 = X_5 = p/2, others 0.
    let v: Vec<f64> = (0..p)
        .map(|j| (2.0 * PI * 2.0 * j as f64 / p as f64).cos())
        .collect();
    for (k, (re, im)) in naive_dft(&v).into_iter().enumerate() {
        let want = if k == 2 || k == 5 {
            p as f64 / 2.0
        } else {
            0.0
        };
        assert!((re - want).abs() < 1e-13 && im.abs() < 1e-13, "k = {k}");
    }
}

#[test]
fn spectrum_matches_the_naive_dft_sign_normalisation_and_phase() {
    for (i, &p) in MODULI.iter().enumerate() {
        let v = random_vec(p, i as u64);
        let s = spectrum(&v);
        let x = naive_dft(&v);
        let t = tol(p, 1.0);
        assert!((s.constant - x[0].0 / p as f64).abs() < t);
        for (k, &(re, im)) in x.iter().enumerate().take(1 + (p - 1) / 2).skip(1) {
            let c = s.at(k);
            // c_k = Re X_k, s_k = -Im X_k
            assert!((c.cos_sum - re).abs() < t, "p = {p}, k = {k}");
            assert!((c.sin_sum + im).abs() < t, "p = {p}, k = {k}");
            // alpha_k = (2/p)|X_k|, phi_k = arg X_k
            assert!((c.magnitude - 2.0 / p as f64 * re.hypot(im)).abs() < t);
            assert!(
                wrap(c.phase - im.atan2(re)).abs() < 1e-9,
                "p = {p}, k = {k}"
            );
        }
    }
}

#[test]
fn pure_cosine_gives_its_amplitude_and_phase() {
    for &p in &MODULI {
        for k in 1..=(p - 1) / 2 {
            let (amp, phase) = (1.7, -2.3 + 0.1 * k as f64);
            let v: Vec<f64> = (0..p)
                .map(|j| 0.4 + amp * (2.0 * PI * k as f64 * j as f64 / p as f64 + phase).cos())
                .collect();
            let s = spectrum(&v);
            assert!((s.constant - 0.4).abs() < tol(p, 2.0));
            for (i, c) in s.components.iter().enumerate() {
                if i + 1 == k {
                    assert!((c.magnitude - amp).abs() < tol(p, 2.0));
                    assert!(wrap(c.phase - phase).abs() < 1e-12);
                } else {
                    assert!(
                        c.magnitude < tol(p, 2.0),
                        "p = {p}, k = {k}, leak at {}",
                        i + 1
                    );
                }
            }
            assert_eq!(dominant_frequency(&s), Some(k));
            assert!((ipr(&s) - 1.0).abs() < 1e-12);
        }
    }
}

#[test]
fn reconstruction_is_exact_to_round_off() {
    for (i, &p) in MODULI.iter().enumerate() {
        let v = random_vec(p, 50 + i as u64);
        let r = spectrum(&v).reconstruct();
        for (a, b) in v.iter().zip(&r) {
            assert!((a - b).abs() < tol(p, 1.0), "p = {p}: {a} vs {b}");
        }
    }
}

#[test]
fn table_path_is_bit_identical_to_the_direct_sums() {
    for (i, &p) in MODULI.iter().enumerate() {
        let v = random_vec(p, 70 + i as u64);
        let a = spectrum(&v);
        let b = SpectrumTable::new(p).spectrum(&v);
        assert_eq!(a.components, b.components, "p = {p}");
        assert!((a.constant - b.constant).abs() < tol(p, 1.0));
    }
}

#[test]
fn orthonormal_coefficients_are_dot_products_with_the_basis_and_keep_the_norm() {
    for (i, &p) in MODULI.iter().enumerate() {
        let v = random_vec(p, 90 + i as u64);
        let u = spectrum(&v).orthonormal_coefficients();
        assert_eq!(u.len(), p);
        // Explicit basis rows.
        let mut rows: Vec<Vec<f64>> = vec![vec![1.0 / (p as f64).sqrt(); p]];
        for k in 1..=(p - 1) / 2 {
            for f in [f64::cos, f64::sin] {
                let r: Vec<f64> = (0..p)
                    .map(|j| f(2.0 * PI * (k * j) as f64 / p as f64))
                    .collect();
                let n = r.iter().map(|x| x * x).sum::<f64>().sqrt();
                rows.push(r.into_iter().map(|x| x / n).collect());
            }
        }
        for (row, ui) in rows.iter().zip(&u) {
            let d: f64 = row.iter().zip(&v).map(|(a, b)| a * b).sum();
            assert!((d - ui).abs() < tol(p, 1.0));
        }
        let n2: f64 = v.iter().map(|x| x * x).sum();
        let u2: f64 = u.iter().map(|x| x * x).sum();
        assert!((n2 - u2).abs() < tol(p, n2));
    }
}

#[test]
fn ipr_known_values() {
    let p = 11;
    let w = |k: usize, j: usize| 2.0 * PI * (k * j) as f64 / p as f64;
    // Two frequencies of equal magnitude: 1/2. Every frequency equal: 1/K. Zero: 0.
    let two: Vec<f64> = (0..p)
        .map(|j| w(1, j).cos() + (w(3, j) + 1.0).cos())
        .collect();
    assert!((ipr(&spectrum(&two)) - 0.5).abs() < 1e-12);
    let all: Vec<f64> = (0..p)
        .map(|j| (1..=5).map(|k| (w(k, j) + k as f64).cos()).sum())
        .collect();
    assert!((ipr(&spectrum(&all)) - 0.2).abs() < 1e-12);
    assert_eq!(ipr(&spectrum(&vec![0.0; p])), 0.0);
    // The constant does not count in the pipeline IPR but does in the per-coefficient one.
    let with_dc: Vec<f64> = (0..p).map(|j| 5.0 + w(2, j).cos()).collect();
    assert!((ipr(&spectrum(&with_dc)) - 1.0).abs() < 1e-12);
    // Per coefficient: u_0 = sqrt(p) a_0, u_cos2 = sqrt(p/2), so IPR_coef =
    // (a_0^4 + 1/4) / (a_0^2 + 1/2)^2.
    for a0 in [0.5, 5.0] {
        let v: Vec<f64> = (0..p).map(|j| a0 + w(2, j).cos()).collect();
        let want = (a0.powi(4) + 0.25) / (a0 * a0 + 0.5).powi(2);
        assert!(
            (ipr_per_coefficient(&spectrum(&v)) - want).abs() < 1e-12,
            "a_0 = {a0}"
        );
    }
    // Scale invariance.
    let v = random_vec(p, 3);
    let v3: Vec<f64> = v.iter().map(|x| -3.0 * x).collect();
    assert!((ipr(&spectrum(&v)) - ipr(&spectrum(&v3))).abs() < 1e-12);
    // Per coefficient, a single cosine with phase phi: cos^4 phi + sin^4 phi.
    for phi in [0.0, 0.3, PI / 4.0, 2.0] {
        let c: Vec<f64> = (0..p).map(|j| (w(4, j) + phi).cos()).collect();
        let want = phi.cos().powi(4) + phi.sin().powi(4);
        assert!(
            (ipr_per_coefficient(&spectrum(&c)) - want).abs() < 1e-12,
            "phi = {phi}"
        );
    }
}

#[test]
fn dominant_frequency_rules() {
    let p = 13;
    let w = |k: usize, j: usize| 2.0 * PI * (k * j) as f64 / p as f64;
    // Frequency 1 with magnitude 1 at phase pi/4 (|c| = |s| = (p/2)/sqrt 2) against frequency 2
    // with magnitude 0.9 at phase 0 (|c| = 0.9 p/2): the magnitude rule picks 1, the reference's
    // per-coefficient rule picks 2.
    let v: Vec<f64> = (0..p)
        .map(|j| (w(1, j) + PI / 4.0).cos() + 0.9 * w(2, j).cos())
        .collect();
    let s = spectrum(&v);
    assert_eq!(dominant_frequency(&s), Some(1));
    assert_eq!(dominant_frequency_with_constant(&s), 2);
    // A large constant wins under the reference rule only: sqrt(p) a_0 vs max |c_k|, |s_k|.
    let dc: Vec<f64> = v.iter().map(|x| x + 3.0).collect();
    assert_eq!(dominant_frequency_with_constant(&spectrum(&dc)), 0);
    assert_eq!(dominant_frequency(&spectrum(&dc)), Some(1));
    // Ties go to the smallest k; the zero vector has none.
    // (An exact tie needs equal magnitudes bit for bit, so the spectrum is built by hand.)
    let comp = |m: f64| Component {
        magnitude: m,
        phase: 0.0,
        cos_sum: m * p as f64 / 2.0,
        sin_sum: 0.0,
    };
    let tie = Spectrum {
        constant: 0.0,
        components: (1..=6)
            .map(|k| comp(if k == 2 || k == 5 { 1.0 } else { 0.5 }))
            .collect(),
    };
    assert_eq!(dominant_frequency(&tie), Some(2));
    assert_eq!(dominant_frequency_with_constant(&tie), 2);
    assert_eq!(dominant_frequency(&spectrum(&vec![0.0; p])), None);
}

#[test]
fn wrap_and_misalignment_land_in_minus_pi_to_pi() {
    for i in -100..=100 {
        let a = i as f64 * 0.37;
        let w = wrap(a);
        assert!((-PI..PI).contains(&w), "{a} -> {w}");
        assert!(((a - w) / (2.0 * PI)).round() * 2.0 * PI - (a - w) < 1e-12);
    }
    assert_eq!(wrap(PI), -PI);
    assert!((misalignment(1.0, 2.0) - 0.0).abs() < 1e-15);
    assert!((misalignment(2.0, 0.5) - wrap(3.5)).abs() < 1e-15);
}

#[test]
fn phase_moments_of_evenly_spaced_phases() {
    for n in 1..=8usize {
        let phases: Vec<f64> = (0..n)
            .map(|i| 0.3 + 2.0 * PI * i as f64 / n as f64)
            .collect();
        for l in 1..=4u32 {
            let m = phase_moment(&phases, l).unwrap();
            let want = if (l as usize).is_multiple_of(n) {
                1.0
            } else {
                0.0
            };
            assert!((m - want).abs() < 1e-12, "N = {n}, l = {l}: {m}");
        }
    }
    assert_eq!(phase_moment(&[], 1), None);
}

#[test]
fn harmonic_folding_and_ratios() {
    assert_eq!(fold_frequency(3, 11), Some(3));
    assert_eq!(fold_frequency(8, 11), Some(3));
    assert_eq!(fold_frequency(11, 11), None);
    assert_eq!(fold_frequency(27, 11), Some(5));
    let p = 23;
    let w = |k: usize, j: usize| 2.0 * PI * ((k * j) % p) as f64 / p as f64;
    // Fundamental 4, harmonics 8, 12 -> 11, 16 -> 7, 20 -> 3 with amplitudes 1/r^2.
    let v: Vec<f64> = (0..p)
        .map(|j| {
            (1..=5)
                .map(|r| (w(4 * r, j) + r as f64).cos() / (r * r) as f64)
                .sum()
        })
        .collect();
    let h = harmonic_ratios(&spectrum(&v), 4, 5);
    let ks: Vec<Option<usize>> = h.iter().map(|x| x.k).collect();
    assert_eq!(ks, vec![Some(8), Some(11), Some(7), Some(3)]);
    for x in &h {
        let want = 1.0 / (x.r * x.r) as f64;
        assert!((x.ratio.unwrap() - want).abs() < 1e-12, "r = {}", x.r);
    }
}

#[test]
fn best_cosine_fit_is_optimal_with_the_parseval_residual() {
    for (i, &p) in [7usize, 13, 23].iter().enumerate() {
        let mut v = random_vec(p, 200 + i as u64);
        for (j, x) in v.iter_mut().enumerate() {
            *x += 3.0 * (2.0 * PI * ((2 * j) % p) as f64 / p as f64 + 0.5).cos();
        }
        let fit = best_cosine_fit(&v);
        assert_eq!(fit.k, 2);
        let s = spectrum(&v);
        let parseval: f64 = s
            .components
            .iter()
            .enumerate()
            .filter(|(i, _)| i + 1 != fit.k)
            .map(|(_, c)| c.magnitude * c.magnitude)
            .sum::<f64>()
            * p as f64
            / 2.0;
        assert!((fit.residual * fit.residual - parseval).abs() < tol(p, 10.0));
        assert!((cosine_fit_residual_at(&s, fit.k) - fit.relative_residual).abs() < 1e-12);
        // No nearby (constant, amplitude, phase) and no other frequency does better.
        let res = |k: usize, a0: f64, a: f64, ph: f64| -> f64 {
            v.iter()
                .enumerate()
                .map(|(j, x)| {
                    let f = a0 + a * (2.0 * PI * ((k * j) % p) as f64 / p as f64 + ph).cos();
                    (x - f) * (x - f)
                })
                .sum::<f64>()
                .sqrt()
        };
        for d in [-1e-3, 1e-3] {
            assert!(res(fit.k, fit.constant + d, fit.amplitude, fit.phase) > fit.residual);
            assert!(res(fit.k, fit.constant, fit.amplitude + d, fit.phase) > fit.residual);
            assert!(res(fit.k, fit.constant, fit.amplitude, fit.phase + d) > fit.residual);
        }
        for k in 1..=(p - 1) / 2 {
            let c = s.at(k);
            assert!(res(k, s.constant, c.magnitude, c.phase) >= fit.residual - 1e-12);
        }
    }
    // A pure cosine has zero residual.
    let c: Vec<f64> = (0..9)
        .map(|j| (2.0 * PI * 4.0 * j as f64 / 9.0).cos())
        .collect();
    assert!(best_cosine_fit(&c).relative_residual < 1e-14);
}

#[test]
fn network_spectra_read_rows_of_w_in_and_columns_of_w_out() {
    let p = 11;
    let net: Network<f64> =
        Network::init(p, 6, Init::Random { scale: 1.0 }, Tying::Tied, 5).unwrap();
    let sp = NetworkSpectra::of(&net);
    for m in 0..6 {
        let row: Vec<f64> = (0..p).map(|j| net.w_in[(m, j)]).collect();
        let col: Vec<f64> = (0..p).map(|j| net.w_out[(j, m)]).collect();
        assert_eq!(sp.input[m].components, spectrum(&row).components);
        assert_eq!(sp.output[m].components, spectrum(&col).components);
    }
    // The f32 path: the spectra of f32 weights against the naive DFT of this file, applied to
    // the f32 values (exact in f64), to f64 round-off ...
    let n32: Network<f32> = net.cast();
    let sp32 = NetworkSpectra::of(&n32);
    let vmax = net.w_in.amax().max(net.w_out.amax());
    let t = tol(p, vmax);
    let (mut moved, mut worst_move) = (0.0f64, 0.0f64);
    for m in 0..6 {
        let row: Vec<f64> = (0..p).map(|j| n32.w_in[(m, j)] as f64).collect();
        let col: Vec<f64> = (0..p).map(|j| n32.w_out[(j, m)] as f64).collect();
        for (s32, s64, v) in [
            (&sp32.input[m], &sp.input[m], &row),
            (&sp32.output[m], &sp.output[m], &col),
        ] {
            let x = naive_dft(v);
            for (k, &(re, im)) in x.iter().enumerate().take(1 + (p - 1) / 2).skip(1) {
                let c = s32.at(k);
                assert!((c.cos_sum - re).abs() < t, "m = {m}, k = {k}");
                assert!((c.sin_sum + im).abs() < t, "m = {m}, k = {k}");
                // ... and against the f64 weights' spectrum, within what rounding the weights to
                // f32 can move it: each weight moves by at most u |v|, u = 2^-24, so
                // |delta alpha_k| <= (2/p) sqrt(2) p u vmax.
                let d = (c.magnitude - s64.at(k).magnitude).abs();
                worst_move = worst_move.max(d);
                moved += d;
            }
        }
    }
    let u = f32::EPSILON as f64 / 2.0;
    assert!(
        worst_move <= 2.0 * 2f64.sqrt() * u * vmax + t,
        "{worst_move:e}"
    );
    assert!(moved > 0.0, "the f32 path must see the rounded weights");
}

#[test]
fn diversified_network_features_are_recovered() {
    let (p, n) = (13, 3);
    let (alpha, beta) = (0.6, 1.7);
    let offsets = random_phase_offsets((p - 1) / 2, 4);
    let net: Network<f64> = Network::diversified(p, n, alpha, beta, &offsets).unwrap();
    let sp = NetworkSpectra::of(&net);
    let f = neuron_features(&sp);
    for nf in &f {
        let k = nf.m / n + 1;
        let phi = offsets[k - 1] + 2.0 * PI * (nf.m % n) as f64 / n as f64;
        assert_eq!(nf.freq, k);
        assert_eq!(nf.freq_with_constant, k);
        assert!((nf.alpha - alpha).abs() < 1e-13 && (nf.beta - beta).abs() < 1e-13);
        assert!(wrap(nf.phi - phi).abs() < 1e-12);
        assert!(wrap(nf.psi - 2.0 * phi).abs() < 1e-12);
        assert!(nf.misalignment.abs() < 1e-12);
        assert!((nf.ipr_in - 1.0).abs() < 1e-12 && (nf.ipr_out - 1.0).abs() < 1e-12);
    }
    assert!(mean_abs_sin_misalignment(&f) < 1e-12);
    let (a, b, avg) = sp.mean_ipr();
    assert!((a - 1.0).abs() < 1e-12 && (b - 1.0).abs() < 1e-12 && (avg - 1.0).abs() < 1e-12);
    let groups = frequency_groups(&f, (p - 1) / 2);
    for g in &groups {
        assert_eq!(g.neurons.len(), n);
        let mom = g.moments.unwrap();
        // N = 3 evenly spaced phases: moments 0 for l = 1, 2, 4 and 1 for l = 3.
        for (l, want) in [(0, 0.0), (1, 0.0), (2, 1.0), (3, 0.0)] {
            assert!((mom[l] - want).abs() < 1e-12, "k = {}, l = {}", g.k, l + 1);
        }
        let s = g.magnitude.unwrap();
        assert!((s.mean - alpha * alpha * beta).abs() < 1e-12 && s.std < 1e-12);
    }
}

#[test]
fn spread_and_empty_groups() {
    let s = Spread::of(&[1.0, 3.0]).unwrap();
    assert_eq!((s.mean, s.std, s.min, s.max), (2.0, 1.0, 1.0, 3.0));
    assert_eq!(s.relative(), 0.5);
    assert_eq!(Spread::of(&[]), None);
    let g = frequency_groups(&[], 3);
    assert_eq!(g.len(), 3);
    assert!(g
        .iter()
        .all(|g| g.neurons.is_empty() && g.moments.is_none() && g.magnitude.is_none()));
}

#[test]
fn network_means_and_random_misalignment_level() {
    let p = 7;
    let net: Network<f64> =
        Network::init(p, 9, Init::Random { scale: 1.0 }, Tying::Tied, 8).unwrap();
    let sp = NetworkSpectra::of(&net);
    let (a, b, avg) = sp.mean_ipr();
    let mean = |v: &[Spectrum], f: fn(&Spectrum) -> f64| v.iter().map(f).sum::<f64>() / 9.0;
    assert!((a - mean(&sp.input, ipr)).abs() < 1e-15);
    assert!((b - mean(&sp.output, ipr)).abs() < 1e-15);
    assert!((avg - 0.5 * (a + b)).abs() < 1e-15);
    let (a, b, avg) = sp.mean_ipr_per_coefficient();
    assert!((a - mean(&sp.input, ipr_per_coefficient)).abs() < 1e-15);
    assert!((b - mean(&sp.output, ipr_per_coefficient)).abs() < 1e-15);
    assert!((avg - 0.5 * (a + b)).abs() < 1e-15);
    // Mean |sin D| over evenly spread D is 2/pi (the random-phase level quoted in the docs).
    let f0 = neuron_features(&sp)[0];
    let n = 10_000;
    let fs: Vec<NeuronFeatures> = (0..n)
        .map(|i| NeuronFeatures {
            misalignment: -PI + 2.0 * PI * (i as f64 + 0.5) / n as f64,
            ..f0
        })
        .collect();
    assert!((mean_abs_sin_misalignment(&fs) - 2.0 / PI).abs() < 1e-6);
}

/// An odd modulus in 3..=99 and a vector of that length with entries in [-10, 10].
#[derive(Clone, Debug)]
struct OddVector(Vec<f64>);

impl quickcheck::Arbitrary for OddVector {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        let p = 3 + 2 * (usize::arbitrary(g) % 49);
        let seed = u64::arbitrary(g);
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        OddVector((0..p).map(|_| 20.0 * rng.random::<f64>() - 10.0).collect())
    }
}

quickcheck::quickcheck! {
    /// Reconstruction and Parseval, `||v||^2 = p a_0^2 + (p/2) sum_k alpha_k^2`, as properties.
    fn prop_reconstruction_and_parseval(v: OddVector) -> bool {
        let v = v.0;
        let p = v.len();
        let s = spectrum(&v);
        let back = s.reconstruct();
        let ok_back = v.iter().zip(&back).all(|(a, b)| (a - b).abs() < tol(p, 10.0));
        let n2: f64 = v.iter().map(|x| x * x).sum();
        let parseval = p as f64 * s.constant * s.constant
            + p as f64 / 2.0 * s.components.iter().map(|c| c.magnitude * c.magnitude).sum::<f64>();
        ok_back && (n2 - parseval).abs() < tol(p, n2)
    }
}

#[test]
fn harmonic_projection_keeps_exactly_the_chosen_harmonics() {
    // A diversified network is its own single-frequency part.
    let p = 11;
    let offsets = random_phase_offsets((p - 1) / 2, 2);
    let net: Network<f64> = Network::diversified(p, 3, 0.9, 1.1, &offsets).unwrap();
    let sp = NetworkSpectra::of(&net);
    let f = neuron_features(&sp);
    let proj = harmonic_projection(&sp, &f, &[1]);
    assert!((&proj.w_in - &net.w_in).amax() < 1e-13);
    assert!((&proj.w_out - &net.w_out).amax() < 1e-13);
    // A neuron with a constant, k* = 2, its third harmonic 6 -> fold 5 (p = 11), and noise at 1.
    let w = |k: usize, j: usize| 2.0 * PI * ((k * j) % p) as f64 / p as f64;
    let theta: Vec<f64> = (0..p)
        .map(|j| {
            0.3 + 2.0 * (w(2, j) + 0.4).cos() + 0.5 * (w(6, j) - 1.0).cos() + 0.1 * w(1, j).sin()
        })
        .collect();
    let xi: Vec<f64> = (0..p)
        .map(|j| -0.2 + 1.5 * (w(2, j) + 0.8).cos() + 0.4 * (w(6, j) + 2.0).cos())
        .collect();
    let one = Network::new(
        nalgebra::DMatrix::from_row_slice(1, p, &theta),
        nalgebra::DMatrix::from_column_slice(p, 1, &xi),
        None,
    )
    .unwrap();
    let sp = NetworkSpectra::of(&one);
    let f = neuron_features(&sp);
    assert_eq!(f[0].freq, 2);
    for (mult, want_in, want_out) in [
        (
            vec![1],
            (0..p)
                .map(|j| 2.0 * (w(2, j) + 0.4).cos())
                .collect::<Vec<f64>>(),
            (0..p)
                .map(|j| 1.5 * (w(2, j) + 0.8).cos())
                .collect::<Vec<f64>>(),
        ),
        (
            vec![1, 3],
            (0..p)
                .map(|j| 2.0 * (w(2, j) + 0.4).cos() + 0.5 * (w(6, j) - 1.0).cos())
                .collect(),
            (0..p)
                .map(|j| 1.5 * (w(2, j) + 0.8).cos() + 0.4 * (w(6, j) + 2.0).cos())
                .collect(),
        ),
    ] {
        let pr = harmonic_projection(&sp, &f, &mult);
        for j in 0..p {
            assert!((pr.w_in[(0, j)] - want_in[j]).abs() < 1e-13, "{mult:?}");
            assert!((pr.w_out[(j, 0)] - want_out[j]).abs() < 1e-13, "{mult:?}");
        }
    }
}
