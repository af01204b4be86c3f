//! `activation`: activation consistency (SPEC §7.7), the share of each displayed component's
//! squared activation that falls on labelled images of other classes than its head's.

use super::{Grads, Input, LabelledSet, Need, Priors, Schedule, Term};
use crate::decomp::bank::Bank;
use crate::decomp::form::{FactorGrads, Factors, Form, Role};
use crate::decomp::recipe::Recipe;
use crate::linalg::{self, ImageRows, PaddedRows};

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
        each_displayed_labelled(x, grads, |set, p, f, g| activation_consistency(weight, set, p, f, g))
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["activation=0.4"])
    }
}

/// With `q = ((a·x)(b·x))²` and `h_r = argmax_c |d_cr|`, the value
/// `mean_r [mean_n(q ⊙ [y ≠ h_r]) / max(mean_n q, 1e-8)]`, with `weight · ∇` added into `g`.
fn activation_consistency(weight: f32, set: &LabelledSet, p: &Projections, f: &Factors, g: &mut FactorGrads) -> f64 {
    let (n, r) = (set.y.len(), p.rank);
    let head: Vec<usize> = (0..r).map(|k| crate::model::argmax(f.d.col(k).iter().map(|v| v.abs()))).collect();
    let (mut energy, mut off) = (vec![0.0f64; r], vec![0.0f64; r]);
    for (i, &y) in set.y.iter().enumerate() {
        for (k, act) in p.activations(i).enumerate() {
            let q = (act as f64).powi(2);
            energy[k] += q / n as f64;
            if y as usize != head[k] {
                off[k] += q / n as f64;
            }
        }
    }
    let denom: Vec<f64> = energy.iter().map(|e| e.max(1e-8)).collect();
    let total: f64 = off.iter().zip(&denom).map(|(o, d)| o / d).sum();
    let mut dact = vec![0.0f32; n * r];
    for (i, &y) in set.y.iter().enumerate() {
        for (k, act) in p.activations(i).enumerate() {
            let other = if y as usize != head[k] { 1.0 } else { 0.0 };
            // d(o/e)/dq_i = (other/denom − o·[e > 1e-8]/denom²)/n, then dq/dact = 2·act.
            let dq = (other / denom[k] - if energy[k] > 1e-8 { off[k] / (denom[k] * denom[k]) } else { 0.0 }) / n as f64;
            dact[i * r + k] = (weight as f64 / r as f64 * dq * 2.0 * act as f64) as f32;
        }
    }
    p.backprop(&set.images, &dact, g);
    total / r as f64
}

/// `term(labelled images, their projections, factors, gradient)` summed over the displayed
/// banks, for the priors that read the labelled images.
pub(super) fn each_displayed_labelled(
    x: &Input<'_>,
    grads: &mut Grads,
    term: impl Fn(&LabelledSet, &Projections, &Factors, &mut FactorGrads) -> f64,
) -> f64 {
    let set = x.data.labelled.as_ref().expect("labelled images are built when the term is active");
    x.displayed().map(|(i, _, f)| term(set, x.projections.of_bank(i), f, grads.factors(i, f))).sum()
}

/// The labelled images' projections on each displayed bank's factors at one step, made once
/// before the terms run and read by every prior on the labelled images (minimality,
/// cancellation and activation project the same images on the same factors). Made before,
/// not on first use: a lazy cell filled inside the terms' parallel jobs could be asked for
/// again by a job the filling thread steals while it waits.
pub struct LabelledProjections(Vec<Option<Projections>>);

impl LabelledProjections {
    /// The projections of `set` on every displayed bank (none without a set: pass one only
    /// when an active term reads it).
    pub fn new(banks: &[Bank], factors: &[Factors], set: Option<&LabelledSet>) -> Self {
        let of = |(b, f): (&Bank, &Factors)| set.filter(|_| b.role == Role::Displayed).map(|s| Projections::of(&s.images, b.form, f));
        Self(banks.iter().zip(factors).map(of).collect())
    }

    fn of_bank(&self, bank: usize) -> &Projections {
        self.0[bank].as_ref().expect("projections are made for every displayed bank when a term reads them")
    }
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
        each_displayed_labelled(x, grads, |set, p, f, g| mean_over_class_contributions(weight, set, p, f, g, self.score))
    }
}

/// `mean_n score(c_n)` over the labelled images, where `c_nk = d_yk (a_k·x_n)(b_k·x_n)` are the
/// components' contributions to image `n`'s class `y` and `score(c, dc)` returns a value and
/// writes its gradient with respect to `c` into `dc`; `weight · ∇` is added into `g`.
pub(super) fn mean_over_class_contributions(
    weight: f32,
    set: &LabelledSet,
    p: &Projections,
    f: &Factors,
    g: &mut FactorGrads,
    score: impl Fn(&[f64], &mut [f64]) -> f64,
) -> f64 {
    let (n, r) = (set.y.len(), p.rank);
    let heads: Vec<Vec<f64>> = (0..f.d.nrows()).map(|c| f.d.row(c).iter().map(|&v| v as f64).collect()).collect();
    let mut d_heads = vec![vec![0.0f64; r]; heads.len()];
    let mut dact = vec![0.0f32; n * r];
    let (mut acts, mut c, mut dc) = (vec![0.0f64; r], vec![0.0f64; r], vec![0.0f64; r]);
    let mut total = 0.0f64;
    for (i, &y) in set.y.iter().enumerate() {
        let (head, d_head) = (&heads[y as usize], &mut d_heads[y as usize]);
        acts.iter_mut().zip(p.activations(i)).for_each(|(a, v)| *a = v as f64);
        c.iter_mut().zip(head).zip(&acts).for_each(|((c, d), act)| *c = d * act);
        dc.fill(0.0);
        total += score(&c, &mut dc);
        for k in 0..r {
            let d = weight as f64 / n as f64 * dc[k];
            dact[i * r + k] = (d * head[k]) as f32;
            d_head[k] += d * acts[k];
        }
    }
    p.backprop(&set.images, &dact, g);
    for (cls, d_head) in d_heads.iter().enumerate() {
        for (k, d) in d_head.iter().enumerate() {
            g.d[(cls, k)] += *d as f32;
        }
    }
    total / n as f64
}

/// The labelled images' projections on a bank's factors, image by image: row `i` holds
/// `[X A | X B]` (or `X A` alone when `b` is `a`), from one product with the images.
pub(super) struct Projections {
    rows: PaddedRows,
    width: usize,
    rank: usize,
    second: bool,
}

impl Projections {
    pub(super) fn of(images: &ImageRows, form: Form, f: &Factors) -> Self {
        let second = form.has_second_factor();
        let rows = if second { images.project(linalg::side_by_side(&f.a, &f.b).as_ref()) } else { images.project(f.a.as_ref()) };
        let rank = f.a.ncols();
        Self { rows, width: linalg::padded_width(if second { 2 * rank } else { rank }), rank, second }
    }

    /// `(a_k·x_i, b_k·x_i)` of image `i`.
    fn of_image(&self, i: usize) -> (&[f32], &[f32]) {
        let row = &self.rows[i * self.width..][..self.width];
        (&row[..self.rank], if self.second { &row[self.rank..2 * self.rank] } else { &row[..self.rank] })
    }

    /// The activations `(a_k·x_i)(b_k·x_i)` of image `i`, component by component.
    fn activations(&self, i: usize) -> impl Iterator<Item = f32> + '_ {
        let (xa, xb) = self.of_image(i);
        xa.iter().zip(xb).map(|(a, b)| a * b)
    }

    /// The activations of every image, row-major `n × r`.
    pub(super) fn activation_rows(&self) -> Vec<f32> {
        (0..self.rows.len() / self.width).flat_map(|i| self.activations(i)).collect()
    }

    /// Adds into `g` the gradient through the activations given `dact` (`n × r`, row-major),
    /// the gradient on them; a symmetric bank's `b` is its `a`, so its two halves are one
    /// product.
    pub(super) fn backprop(&self, images: &ImageRows, dact: &[f32], g: &mut FactorGrads) {
        let r = self.rank;
        let mut d_in = PaddedRows::zeros(self.rows.len());
        for (i, (row, da)) in d_in.chunks_exact_mut(self.width).zip(dact.chunks_exact(r)).enumerate() {
            let (xa, xb) = self.of_image(i);
            if self.second {
                let (to_a, to_b) = row.split_at_mut(r);
                for k in 0..r {
                    (to_a[k], to_b[k]) = (da[k] * xb[k], da[k] * xa[k]);
                }
            } else {
                row.iter_mut().zip(da).zip(xa).for_each(|((o, d), x)| *o = 2.0 * d * x);
            }
        }
        let back = images.back_project(&d_in, self.width, if self.second { 2 * r } else { r });
        g.a += back.as_ref().subcols(0, r);
        if self.second {
            g.b += back.as_ref().subcols(r, r);
        }
    }
}
