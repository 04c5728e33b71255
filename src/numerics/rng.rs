//! Seeded randomness written in this crate, so a stream of bits depends on nothing but the seed:
//! uniform integers by rejection, Fisher–Yates shuffles, 53-bit uniforms and Box–Muller normals,
//! all from `ChaCha8Rng` (stream 0 for initialisers, stream 1 for splits).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::f64::consts::PI;

/// Uniform integer in 0..n by rejection, from the generator's 64-bit outputs.
///
/// Written out (rather than `gen_range`) so the stream is fixed by this crate, not by `rand`'s
/// sampling internals.
pub(crate) fn uniform_below(rng: &mut ChaCha8Rng, n: u64) -> u64 {
    debug_assert!(n > 0);
    let zone = u64::MAX - (u64::MAX % n) - 1;
    loop {
        let v: u64 = rng.random();
        if v <= zone {
            return v % n;
        }
    }
}

/// Fisher–Yates shuffle (from the last index down) with [`uniform_below`].
pub(crate) fn shuffle<T>(v: &mut [T], rng: &mut ChaCha8Rng) {
    for i in (1..v.len()).rev() {
        let j = uniform_below(rng, i as u64 + 1) as usize;
        v.swap(i, j);
    }
}

/// A 53-bit uniform on [0, 1).
pub(crate) fn unit_f64(rng: &mut ChaCha8Rng) -> f64 {
    (rng.random::<u64>() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Standard normals by Box–Muller, both outputs used, in a fixed order.
pub(crate) struct Normals {
    spare: Option<f64>,
}

impl Normals {
    pub(crate) fn new() -> Self {
        Normals { spare: None }
    }
    pub(crate) fn next(&mut self, rng: &mut ChaCha8Rng) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let u1 = unit_f64(rng);
        let u2 = unit_f64(rng);
        // 1 - u1 lies in (0, 1], so the log is finite.
        let r = (-2.0 * (1.0 - u1).ln()).sqrt();
        let (s, c) = (2.0 * PI * u2).sin_cos();
        self.spare = Some(r * s);
        r * c
    }
}
