//! `coherence_used`: `1 − coherence` of the display patterns, each weighted by its use: its part
//! of its component's contribution to the class of each labelled image, `|d_yk| q (s·x)²` for
//! pattern `s` of component `k` (`q = ¼` for a CP pattern, 1 otherwise), averaged over the
//! images. The `coherence` prior weighs every pattern alike, so the few that carry most decisions
//! can stay as speckled as the rest (the `coherence_top_vote` metric); this one charges them
//! most, and its gradient also moves use from speckled patterns to smooth ones.
//!
//! Per displayed bank `V = Σ_j w_j (1 − c_j) / Σ_j w_j` with `w_j` the uses and `c_j` the
//! coherences; `∂V/∂c_j = −w_j / W` and `∂V/∂w_j = (1 − c_j − V) / W`.

use super::activation::Projections;
use super::{Grads, Input, LabelledSet, Need, Schedule, Term};
use crate::decomp::form::{FactorGrads, Factors, Form};
use crate::decomp::recipe::Recipe;
use crate::image::ImageShape;
use crate::image::ops::{self, Images};

pub struct CoherenceUsed;

impl Term for CoherenceUsed {
    fn name(&self) -> &'static str {
        "coherence_used"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.coherence_used
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Image, Need::LabelledImages]
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let set = x.data.labelled.as_ref().expect("labelled images are built when the term is active");
        let image = x.image();
        x.displayed()
            .map(|(i, bank, f)| used_coherence(weight, set, x.projections.of_bank(i), bank.form, f, image, grads.factors(i, f)))
            .sum()
    }
}

/// `V` of one bank, with `weight · ∇V` added into `g`.
fn used_coherence(weight: f32, set: &LabelledSet, p: &Projections, form: Form, f: &Factors, image: ImageShape, g: &mut FactorGrads) -> f64 {
    let (pixels, r, n) = (f.a.nrows(), f.a.ncols(), set.y.len());
    let sides = if form.has_minus() { 2 } else { 1 };
    let q = if form == Form::Cp { 0.25 } else { 1.0 };
    // Pattern `side · r + k` projected on an image, from the factors' projections.
    let along = |xa: f32, xb: f32, side: usize| form.display_projection(xa as f64, xb as f64, side);
    let mut uses = vec![0.0f64; sides * r];
    for (i, &y) in set.y.iter().enumerate() {
        let (xa, xb) = p.of_image(i);
        for side in 0..sides {
            for k in 0..r {
                let s = along(xa[k], xb[k], side);
                uses[side * r + k] += (f.d[(y as usize, k)] as f64).abs() * q * s * s / n as f64;
            }
        }
    }
    let total: f64 = uses.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    // Through the coherences: −w_j / W on each pattern's coherence.
    let one = Images::of(image, 1);
    let mut coherence = Vec::new();
    let value = super::display::through_display(form, f, false, weight, g, |patterns, _, grad| {
        let (weight, out) = grad.expect("the display pipeline asks for the gradient");
        // Each pattern's coherence, its gradient added as it is computed.
        coherence = patterns
            .chunks_exact(pixels)
            .zip(out.chunks_exact_mut(pixels))
            .zip(&uses)
            .map(|((p, gp), w)| ops::coherence(p, one, Some((-(weight as f64 * w / total) as f32, gp))))
            .collect();
        uses.iter().zip(&coherence).map(|(w, c)| w * (1.0 - c)).sum::<f64>() / total
    });
    // Through the uses: (1 − c_j − V) / W on each use.
    let d_use: Vec<f64> = coherence.iter().map(|c| weight as f64 * (1.0 - c - value) / total).collect();
    let (mut d_a, mut d_b) = (vec![0.0f32; n * r], vec![0.0f32; n * r]);
    for (i, &y) in set.y.iter().enumerate() {
        let (xa, xb) = p.of_image(i);
        for k in 0..r {
            let d = f.d[(y as usize, k)] as f64;
            let sign = if d == 0.0 { 0.0 } else { d.signum() };
            for side in 0..sides {
                let (du, s) = (d_use[side * r + k], along(xa[k], xb[k], side));
                g.d[(y as usize, k)] += (du * sign * q * s * s / n as f64) as f32;
                let ds = (du * d.abs() * q * 2.0 * s / n as f64) as f32;
                let (da, db) = (&mut d_a[i * r + k], &mut d_b[i * r + k]);
                match (form, side) {
                    (Form::Cp, 0) => (*da, *db) = (*da + ds, *db + ds),
                    (Form::Cp, _) => (*da, *db) = (*da + ds, *db - ds),
                    (_, 0) => *da += ds,
                    _ => *db += ds,
                }
            }
        }
    }
    p.backprop_projections(&set.images, g, |i, to_a, to_b| {
        to_a.copy_from_slice(&d_a[i * r..][..r]);
        if !to_b.is_empty() {
            to_b.copy_from_slice(&d_b[i * r..][..r]);
        }
    });
    value
}
