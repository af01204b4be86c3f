//! `minimality`: how many components carry each labelled image's logit. For image `n` of
//! class `y` the contributions are `c_k = d_yk (a_k·x)(b_k·x)`; their effective number
//! `(Σ_k |c_k|)² / Σ_k c_k²` is 1 when one component carries the logit and `r` when all share
//! it equally — a smooth stand-in for the explanation size (as stochastic parameter
//! decomposition asks few components to matter on each input). The term is its mean over the
//! images of [`LabelledSet`].

use faer::Mat;

use super::{Grads, Input, LabelledSet, Need, Schedule, Term};
use crate::decomp::form::{FactorGrads, Factors, Form};
use crate::decomp::recipe::Recipe;

pub struct Minimality;

impl Term for Minimality {
    fn name(&self) -> &'static str {
        "minimality"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.minimality
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::LabelledImages]
    }

    fn heavy(&self) -> bool {
        true
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        super::activation::each_displayed_labelled(x, grads, |set, form, f, g| effective_components(weight, set, form, f, g))
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["minimality=0.4"])
    }
}

/// `mean_n (Σ_k |c_nk|)² / Σ_k c_nk²` (images whose contributions are all zero count 0), with
/// `weight · ∇` added into `g`.
fn effective_components(weight: f32, set: &LabelledSet, form: Form, f: &Factors, g: &mut FactorGrads) -> f64 {
    let (xa, xb) = super::activation::activations(set, form, f);
    let (n, r) = (xa.nrows(), xa.ncols());
    let mut total = 0.0f64;
    // d value / d c_nk, scaled by weight / n.
    let mut dc = Mat::<f32>::zeros(n, r);
    let mut c = Vec::with_capacity(r);
    for i in 0..n {
        let y = set.y[i] as usize;
        c.clear();
        c.extend((0..r).map(|k| f.d[(y, k)] as f64 * xa[(i, k)] as f64 * xb[(i, k)] as f64));
        let l1: f64 = c.iter().map(|v| v.abs()).sum();
        let l2: f64 = c.iter().map(|v| v * v).sum();
        if l2 < 1e-30 {
            continue;
        }
        total += l1 * l1 / l2;
        // ∂/∂c_k of l1²/l2 = 2 l1 sign(c_k)/l2 − 2 l1² c_k/l2².
        for (k, &ck) in c.iter().enumerate() {
            let grad = 2.0 * l1 * ck.signum() / l2 - 2.0 * l1 * l1 * ck / (l2 * l2);
            dc[(i, k)] = (weight as f64 * grad / n as f64) as f32;
        }
    }
    let dact = Mat::from_fn(n, r, |i, k| dc[(i, k)] * f.d[(set.y[i] as usize, k)]);
    super::activation::backprop_activations(set, form, &xa, &xb, &dact, g);
    for i in 0..n {
        let y = set.y[i] as usize;
        for k in 0..r {
            g.d[(y, k)] += dc[(i, k)] * xa[(i, k)] * xb[(i, k)];
        }
    }
    total / n as f64
}
