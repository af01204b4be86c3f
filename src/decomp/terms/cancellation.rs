//! `cancellation`: the share of each labelled image's class logit that its components spend
//! cancelling each other. With contributions `c_k = d_yk act_k(x)` the share is
//! `1 − |Σ_k c_k| / Σ_k |c_k|`: 0 when every component pushes the same way, near 1 when the
//! logit is the small difference of large sums. The minimality prior alone rewards a pair of
//! near-identical patterns with opposite heads (two large terms that cancel make the effective
//! number small); this prior charges for what such a pair cancels (the `cancellation` metric
//! as a prior). The term is its mean over the images of [`LabelledSet`](super::LabelledSet).

use super::Priors;
use super::activation::ClassContributions;

pub static CANCELLATION: ClassContributions = ClassContributions { name: "cancellation", weight, score: cancelled_share };

fn weight(priors: &Priors) -> f32 {
    priors.cancellation
}

/// `1 − |Σc| / Σ|c|` of one image's contributions `c`, with its gradient written into `dc`
/// (0 when every contribution is 0).
fn cancelled_share(c: &[f64], dc: &mut [f64]) -> f64 {
    let l1: f64 = c.iter().map(|v| v.abs()).sum();
    if l1 < 1e-30 {
        return 0.0;
    }
    let net: f64 = c.iter().sum();
    // ∂/∂c_k = −sign(Σc)/l1 + |Σc| sign(c_k)/l1².
    for (d, &ck) in dc.iter_mut().zip(c) {
        *d = -net.signum() / l1 + net.abs() * ck.signum() / (l1 * l1);
    }
    1.0 - net.abs() / l1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_share_known_values() {
        let mut dc = [0.0; 3];
        assert_eq!(cancelled_share(&[1.0, 2.0, 0.5], &mut dc), 0.0, "one sign: nothing cancels");
        assert!((cancelled_share(&[3.0, -2.0, 0.0], &mut dc) - 0.8).abs() < 1e-12, "5 of mass for a net of 1");
        assert_eq!(cancelled_share(&[0.0, 0.0, 0.0], &mut dc), 0.0);
    }
}
