//! `activation`: activation consistency (SPEC §7.7), the share of each displayed component's
//! squared activation that falls on labelled images of other classes than its head's.

use faer::Mat;

use super::{Grads, Input, LabelledSet, Need, Priors, Schedule, Term};
use crate::decomp::form::{FactorGrads, Factors, Form};
use crate::decomp::recipe::Recipe;
use crate::linalg;

pub struct Activation;

impl Term for Activation {
    fn name(&self) -> &'static str {
        "activation"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.activation
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::LabelledImages]
    }

    fn heavy(&self) -> bool {
        true
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        each_displayed_labelled(x, grads, |set, form, f, g| activation_consistency(weight, set, form, f, g))
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["activation=0.4"])
    }
}

/// With `q = ((a·x)(b·x))²` and `h_r = argmax_c |d_cr|`, the value
/// `mean_r [mean_n(q ⊙ [y ≠ h_r]) / max(mean_n q, 1e-8)]`, with `weight · ∇` added into `g`.
fn activation_consistency(weight: f32, set: &LabelledSet, form: Form, f: &Factors, g: &mut FactorGrads) -> f64 {
    let (xa, xb) = activations(set, form, f);
    let (n, r) = (xa.nrows(), xa.ncols());
    let head: Vec<usize> = (0..r).map(|k| crate::model::argmax(f.d.col(k).iter().map(|v| v.abs()))).collect();
    let mut total = 0.0f64;
    let mut dact = Mat::<f32>::zeros(n, r);
    for k in 0..r {
        let act = |i: usize| xa[(i, k)] * xb[(i, k)];
        let (mut energy, mut off) = (0.0f64, 0.0f64);
        for i in 0..n {
            let q = (act(i) as f64).powi(2);
            energy += q;
            if set.y[i] as usize != head[k] {
                off += q;
            }
        }
        let (e, o) = (energy / n as f64, off / n as f64);
        let denom = e.max(1e-8);
        total += o / denom;
        for i in 0..n {
            let other = if set.y[i] as usize != head[k] { 1.0 } else { 0.0 };
            // d(o/e)/dq_i = (other/denom − o·[e > 1e-8]/denom²)/n, then dq/dact = 2·act.
            let dq = (other / denom - if e > 1e-8 { o / (denom * denom) } else { 0.0 }) / n as f64;
            dact[(i, k)] = (weight as f64 / r as f64 * dq * 2.0 * act(i) as f64) as f32;
        }
    }
    backprop_activations(set, form, &xa, &xb, &dact, g);
    total / r as f64
}

/// `term(labelled images, form, factors, gradient)` summed over the displayed banks, for the
/// priors that read the labelled images.
pub(super) fn each_displayed_labelled(
    x: &Input<'_>,
    grads: &mut Grads,
    term: impl Fn(&LabelledSet, Form, &Factors, &mut FactorGrads) -> f64,
) -> f64 {
    let set = x.data.labelled.as_ref().expect("labelled images are built when the term is active");
    x.displayed().map(|(i, bank, f)| term(set, bank.form, f, grads.factors(i, f))).sum()
}

/// A prior on each labelled image's contributions to its class logit, one registry entry per
/// `score` (minimality, cancellation): the term is [`mean_over_class_contributions`].
pub(super) struct ClassContributions {
    pub name: &'static str,
    pub weight: fn(&Priors) -> f32,
    pub score: fn(&[f64], &mut [f64]) -> f64,
}

impl Term for ClassContributions {
    fn name(&self) -> &'static str {
        self.name
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        (self.weight)(&recipe.priors)
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::LabelledImages]
    }

    fn heavy(&self) -> bool {
        true
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        each_displayed_labelled(x, grads, |set, form, f, g| mean_over_class_contributions(weight, set, form, f, g, self.score))
    }
}

/// `mean_n score(c_n)` over the labelled images, where `c_nk = d_yk (a_k·x_n)(b_k·x_n)` are the
/// components' contributions to image `n`'s class `y` and `score(c, dc)` returns a value and
/// writes its gradient with respect to `c` into `dc`; `weight · ∇` is added into `g`.
pub(super) fn mean_over_class_contributions(
    weight: f32,
    set: &LabelledSet,
    form: Form,
    f: &Factors,
    g: &mut FactorGrads,
    score: impl Fn(&[f64], &mut [f64]) -> f64,
) -> f64 {
    let (xa, xb) = activations(set, form, f);
    let (n, r) = (xa.nrows(), xa.ncols());
    let mut total = 0.0f64;
    // d value / d c_nk, scaled by weight / n.
    let mut dc = Mat::<f32>::zeros(n, r);
    let (mut c, mut dci) = (vec![0.0f64; r], vec![0.0f64; r]);
    for i in 0..n {
        let y = set.y[i] as usize;
        for (k, ck) in c.iter_mut().enumerate() {
            *ck = f.d[(y, k)] as f64 * xa[(i, k)] as f64 * xb[(i, k)] as f64;
        }
        dci.fill(0.0);
        total += score(&c, &mut dci);
        for (k, &d) in dci.iter().enumerate() {
            dc[(i, k)] = (weight as f64 * d / n as f64) as f32;
        }
    }
    let dact = Mat::from_fn(n, r, |i, k| dc[(i, k)] * f.d[(set.y[i] as usize, k)]);
    backprop_activations(set, form, &xa, &xb, &dact, g);
    for i in 0..n {
        let y = set.y[i] as usize;
        for k in 0..r {
            g.d[(y, k)] += dc[(i, k)] * xa[(i, k)] * xb[(i, k)];
        }
    }
    total / n as f64
}

/// The projections `X A` and `X B` of the labelled images (one product when `b` is `a`).
pub(super) fn activations(set: &LabelledSet, form: Form, f: &Factors) -> (Mat<f32>, Mat<f32>) {
    let xa = linalg::mul(set.x.as_ref(), f.a.as_ref());
    let xb = if form.has_second_factor() { linalg::mul(set.x.as_ref(), f.b.as_ref()) } else { xa.clone() };
    (xa, xb)
}

/// Adds into `g` the gradient through the activations `(a_k·x_i)(b_k·x_i)` given `dact`, the
/// gradient on them (`xa = X A`, `xb = X B`); a symmetric bank's `b` is its `a`, so its two
/// halves are one product.
pub(super) fn backprop_activations(set: &LabelledSet, form: Form, xa: &Mat<f32>, xb: &Mat<f32>, dact: &Mat<f32>, g: &mut FactorGrads) {
    let (n, r) = (xa.nrows(), xa.ncols());
    if !form.has_second_factor() {
        let d_in = Mat::from_fn(n, r, |i, k| 2.0 * dact[(i, k)] * xa[(i, k)]);
        linalg::mul_add(g.a.as_mut(), set.x.transpose(), d_in.as_ref(), 1.0);
        return;
    }
    let da_in = Mat::from_fn(n, r, |i, k| dact[(i, k)] * xb[(i, k)]);
    let db_in = Mat::from_fn(n, r, |i, k| dact[(i, k)] * xa[(i, k)]);
    linalg::mul_add(g.b.as_mut(), set.x.transpose(), db_in.as_ref(), 1.0);
    linalg::mul_add(g.a.as_mut(), set.x.transpose(), da_in.as_ref(), 1.0);
}
