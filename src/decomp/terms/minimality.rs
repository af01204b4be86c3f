//! `minimality`: how many components carry each labelled image's logit. For image `n` of
//! class `y` the contributions are `c_k = d_yk act_k(x)`; their effective number
//! `(Σ_k |c_k|)² / Σ_k c_k²` is 1 when one component carries the logit and `r` when all share
//! it equally — a smooth stand-in for the explanation size (as stochastic parameter
//! decomposition asks few components to matter on each input). The term is its mean over the
//! images of [`LabelledSet`](super::LabelledSet).

use super::Priors;
use super::activation::ClassContributions;

pub static MINIMALITY: ClassContributions = ClassContributions { name: "minimality", weight, score: effective_number };

fn weight(priors: &Priors) -> f32 {
    priors.minimality
}

/// `(Σ|c|)² / Σc²` of one image's contributions `c`, with its gradient written into `dc`
/// (0 when every contribution is 0).
fn effective_number(c: &[f64], dc: &mut [f64]) -> f64 {
    let l1: f64 = c.iter().map(|v| v.abs()).sum();
    let l2: f64 = c.iter().map(|v| v * v).sum();
    if l2 < 1e-30 {
        return 0.0;
    }
    // ∂/∂c_k of l1²/l2 = 2 l1 sign(c_k)/l2 − 2 l1² c_k/l2².
    for (d, &ck) in dc.iter_mut().zip(c) {
        *d = 2.0 * l1 * ck.signum() / l2 - 2.0 * l1 * l1 * ck / (l2 * l2);
    }
    l1 * l1 / l2
}
