//! `decision`: keeps each training image's decision. Agreement with the base model is decided
//! by the few digits whose top two logits are close, while the functional fidelity weighs every
//! logit error alike. This prior is the distillation loss of Hinton et al.,
//! `T² · KL(softmax(y/T) ‖ softmax(z/T))` between the base model's logits `y` and the
//! displayed banks' logits `z` (bias left out of both), at a temperature `T` that is a fixed
//! share of the base logits' spread, so near-ties weigh most. The term is its mean over the
//! `decision_images` training images nearest a tie ([`DecisionSet`]); it needs every bank
//! displayed (no residual).

use faer::{Mat, MatRef};

use super::activation::Projections;
use super::{Grads, Input, Need, Recipe, Schedule, Term};
use crate::linalg::{self, ImageRows};

pub struct Decision;

/// `T` over the standard deviation of the base model's logits on the images. On e20 and s7
/// with `concept_stable`, 0.1 moved agreement less and 0.5 cost more smoothness.
const TEMPERATURE: f64 = 0.25;

impl Term for Decision {
    fn name(&self) -> &'static str {
        "decision"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.decision
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::DecisionImages]
    }

    fn heavy(&self) -> bool {
        true
    }

    fn check(&self, recipe: &Recipe) -> Result<(), String> {
        match recipe.residual_rank {
            0 => Ok(()),
            _ => Err("reads the displayed banks' logits, which leave out a residual bank; set residual_rank = 0".into()),
        }
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let set = x.data.decisions.as_ref().expect("the decision images are built when the term is active");
        let banks: Vec<_> = x.displayed().map(|(i, b, f)| (i, f, Projections::of(&set.images, b.form, f))).collect();
        let n = set.images.x().nrows();
        let rows: Vec<Vec<f32>> = banks.iter().map(|(_, _, p)| p.activation_rows()).collect();
        let acts: Vec<MatRef<'_, f32>> =
            rows.iter().zip(&banks).map(|(a, (_, f, _))| MatRef::from_row_major_slice(a, n, f.d.ncols())).collect();
        // The logits' products are small, and sequential so that their sums (over the images
        // for `dD`) do not depend on the thread count.
        let mut z = Mat::<f32>::zeros(n, set.log_p.ncols());
        linalg::sequential(|| banks.iter().zip(&acts).for_each(|((_, f, _), a)| linalg::mul_add(z.as_mut(), *a, f.d.transpose(), 1.0)));
        let (value, dz) = set.loss(z.as_ref(), weight);
        for ((i, f, p), a) in banks.into_iter().zip(&acts) {
            let g = grads.factors(i, f);
            let dact = linalg::sequential(|| {
                linalg::mul_add(g.d.as_mut(), dz.transpose(), *a, 1.0);
                linalg::to_row_major(linalg::mul(dz.as_ref(), f.d.as_ref()).as_ref())
            });
            p.backprop(&set.images, &dact, g);
        }
        value
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["decision=0.5", "residual_rank=0", "decision_images=24"])
    }
}

/// Training images and the base model's decisions on them, `softmax(y/T)` and its logarithm,
/// made once.
pub struct DecisionSet {
    pub images: ImageRows,
    /// `p` and `log p`, `n × C` each.
    p: Mat<f64>,
    log_p: Mat<f64>,
    t: f64,
}

impl DecisionSet {
    /// `x` (`n × inputs`) and the base model's logits on it without bias (`n × C`).
    pub fn new(x: Mat<f32>, logits: MatRef<'_, f32>) -> Self {
        let values = || (0..logits.ncols()).flat_map(|c| logits.col(c).iter().map(|&v| v as f64));
        let count = (logits.nrows() * logits.ncols()).max(1) as f64;
        let mean = values().sum::<f64>() / count;
        let spread = (values().map(|v| (v - mean).powi(2)).sum::<f64>() / count).sqrt();
        let t = TEMPERATURE * spread.max(1e-6);
        let (mut p, mut log_p) = (Mat::zeros(logits.nrows(), logits.ncols()), Mat::zeros(logits.nrows(), logits.ncols()));
        let (mut q, mut log_q) = (vec![0.0; logits.ncols()], vec![0.0; logits.ncols()]);
        for i in 0..logits.nrows() {
            softmax((0..logits.ncols()).map(|c| logits[(i, c)] as f64 / t), &mut q, &mut log_q);
            for c in 0..logits.ncols() {
                (p[(i, c)], log_p[(i, c)]) = (q[c], log_q[c]);
            }
        }
        Self { images: ImageRows::new(x), p, log_p, t }
    }

    /// `mean_n T² KL(p_n ‖ q_n)` with `q_n = softmax(z_n/T)`, and `weight ·` its gradient with
    /// respect to `z` (`T (q − p) / n`), in f64 image by image.
    fn loss(&self, z: MatRef<'_, f32>, weight: f32) -> (f64, Mat<f32>) {
        let (n, classes, t) = (z.nrows(), z.ncols(), self.t);
        let mut dz = Mat::zeros(n, classes);
        let (mut q, mut log_q) = (vec![0.0f64; classes], vec![0.0f64; classes]);
        let mut total = 0.0;
        for i in 0..n {
            softmax((0..classes).map(|c| z[(i, c)] as f64 / t), &mut q, &mut log_q);
            for c in 0..classes {
                let (p, log_p) = (self.p[(i, c)], self.log_p[(i, c)]);
                total += t * t * p * (log_p - log_q[c]);
                dz[(i, c)] = (weight as f64 / n as f64 * t * (q[c] - p)) as f32;
            }
        }
        (total / n as f64, dz)
    }
}

/// `softmax(v)` into `q` and its logarithm into `log_q` (one exponential per entry).
fn softmax(v: impl Iterator<Item = f64>, q: &mut [f64], log_q: &mut [f64]) {
    log_q.iter_mut().zip(v).for_each(|(o, v)| *o = v);
    let max = log_q.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    q.iter_mut().zip(log_q.iter()).for_each(|(q, v)| *q = (v - max).exp());
    let sum: f64 = q.iter().sum();
    q.iter_mut().for_each(|q| *q /= sum);
    let log_sum = sum.ln() + max;
    log_q.iter_mut().for_each(|v| *v -= log_sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(logits: &Mat<f32>) -> DecisionSet {
        DecisionSet::new(Mat::zeros(logits.nrows(), 4), logits.as_ref())
    }

    #[test]
    fn the_same_decisions_cost_nothing_and_a_flipped_one_costs() {
        let y = Mat::from_fn(3, 4, |i, c| ((i * 7 + c * 3) % 5) as f32 - 2.0);
        let s = set(&y);
        let (value, dz) = s.loss(y.as_ref(), 1.0);
        assert!(value.abs() < 1e-12 && dz.norm_l2() < 1e-6, "{value}");
        // Adding one amount to every class of an image changes no probability.
        let shifted = Mat::from_fn(3, 4, |i, c| y[(i, c)] + i as f32 * 3.0);
        let (value, dz) = s.loss(shifted.as_ref(), 1.0);
        assert!(value.abs() < 1e-9 && dz.norm_l2() < 1e-6, "{value}");
        // Swapping image 0's top two classes makes another decision.
        let mut flipped = y.clone();
        let (top, second) = (1, 0);
        assert!(y[(0, top)] > y[(0, second)]);
        (flipped[(0, top)], flipped[(0, second)]) = (y[(0, second)], y[(0, top)]);
        let (value, dz) = s.loss(flipped.as_ref(), 1.0);
        assert!(value > 1e-3, "{value}");
        assert!(dz[(0, second)] > 0.0 && dz[(0, top)] < 0.0, "the gradient pushes the classes back");
    }

    #[test]
    fn the_gradient_is_the_derivative_of_the_value() {
        let y = Mat::from_fn(3, 4, |i, c| ((i * 5 + c * 2) % 7) as f32 * 0.8 - 2.0);
        let z = Mat::from_fn(3, 4, |i, c| y[(i, c)] + ((i + 2 * c) % 3) as f32 * 0.7 - 0.5);
        let s = set(&y);
        let (_, dz) = s.loss(z.as_ref(), 1.0);
        for (i, c) in [(0, 0), (1, 3), (2, 1)] {
            let at = |d: f32| {
                let mut m = z.clone();
                m[(i, c)] += d;
                s.loss(m.as_ref(), 1.0).0
            };
            let fd = (at(1e-2) - at(-1e-2)) / 2e-2;
            assert!((fd - dz[(i, c)] as f64).abs() < 1e-3 * fd.abs().max(1e-2), "({i},{c}): {fd} vs {}", dz[(i, c)]);
        }
    }
}
