//! Losses, their derivatives with respect to the logits, and accuracy.
//!
//! For n pairs with logits z_i in R^p and labels c_i:
//! - cross-entropy, mean (the reference): `L = (1/n) sum_i [ logsumexp(z_i) - z_i[c_i] ]`;
//! - cross-entropy, sum (the theory): `L = sum_i [ logsumexp(z_i) - z_i[c_i] ]`.
//!   Gradient flow on the mean loss is the sum-loss flow with time divided by n
//!   (n = p^2 on the full dataset);
//! - MSE (Gromov): `L = (1/n) sum_i sum_j (z_i[j] - 1{j = c_i})^2`, a mean over pairs of the
//!   squared error summed over the p outputs (not divided by p).
//!
//! Per-pair derivatives: cross-entropy `softmax(z_i) - e_{c_i}`; MSE `2 (z_i - e_{c_i})`; each
//! multiplied by the normalisation (1/n or 1).
//!
//! Accuracy is the fraction of pairs with `argmax_j z_i[j] == c_i`. Tie rule: the smallest index
//! among the maximal logits wins (as `torch.argmax` documents). A pair whose logits hold a NaN
//! counts as wrong.

use crate::numerics::real::Real;
use serde::{Deserialize, Serialize};

/// A training or evaluation loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Mean over pairs of the cross-entropy (the reference).
    #[value(alias = "ce")]
    CeMean,
    /// Sum over pairs of the cross-entropy (the theory).
    CeSum,
    /// Mean over pairs of the squared error summed over outputs (Gromov).
    Mse,
}

impl Loss {
    /// `ce-mean`, `ce-sum` or `mse`.
    pub fn name(self) -> &'static str {
        match self {
            Loss::CeMean => "ce-mean",
            Loss::CeSum => "ce-sum",
            Loss::Mse => "mse",
        }
    }

    /// The factor applied to the sum of per-pair losses: 1/n for the means, 1 for the sum.
    pub fn normalisation(self, n: usize) -> f64 {
        match self {
            Loss::CeSum => 1.0,
            Loss::CeMean | Loss::Mse => 1.0 / n as f64,
        }
    }

    /// Per-pair loss of logits `z` with label `c`; overwrites `z` with d loss_i / d z (before the
    /// normalisation). Returns the per-pair loss (in f64).
    #[inline]
    pub fn pair_loss_and_grad<T: Real>(self, z: &mut [T], c: usize) -> f64 {
        match self {
            Loss::CeMean | Loss::CeSum => {
                let mut mx = T::neg_infinity();
                for &v in z.iter() {
                    if v > mx {
                        mx = v;
                    }
                }
                if !mx.is_finite() {
                    // NaN or infinite logits: propagate NaN.
                    let nan = T::nan();
                    z.iter_mut().for_each(|v| *v = nan);
                    return f64::NAN;
                }
                let zc = z[c];
                let mut s = T::zero();
                for v in z.iter_mut() {
                    *v = (*v - mx).exp();
                    s = s + *v;
                }
                let inv = T::one() / s;
                for v in z.iter_mut() {
                    *v = *v * inv;
                }
                z[c] = z[c] - T::one();
                (mx.f64() + s.f64().ln()) - zc.f64()
            }
            Loss::Mse => {
                let mut l = 0.0f64;
                let two = T::one() + T::one();
                for (j, v) in z.iter_mut().enumerate() {
                    let d = if j == c { *v - T::one() } else { *v };
                    l += d.f64() * d.f64();
                    *v = two * d;
                }
                l
            }
        }
    }
}

/// Index of the largest logit; ties go to the smallest index; `None` if any logit is NaN.
#[inline]
pub fn argmax<T: Real>(z: &[T]) -> Option<usize> {
    let mut best = 0;
    for (j, &v) in z.iter().enumerate() {
        if v.is_nan() {
            return None;
        }
        if v > z[best] {
            best = j;
        }
    }
    Some(best)
}

impl crate::names::Named for Loss {
    const KIND: &'static str = "loss";
}
