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

/// With `q = act²` (each component's activation, [`Form::activation`]) and `h_r = argmax_c |d_cr|`, the value
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

    pub(super) fn of_bank(&self, bank: usize) -> &Projections {
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

/// `mean_n score(c_n)` over the labelled images, where `c_nk = d_yk act_k(x_n)` (the activation of [`Form::activation`]) are the
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
    form: Form,
}

impl Projections {
    pub(super) fn of(images: &ImageRows, form: Form, f: &Factors) -> Self {
        let second = form.has_second_factor();
        let rows = if second { images.project(linalg::side_by_side(&f.a, &f.b).as_ref()) } else { images.project(f.a.as_ref()) };
        let rank = f.a.ncols();
        Self { rows, width: linalg::padded_width(if second { 2 * rank } else { rank }), rank, form }
    }

    /// `(a_k·x_i, b_k·x_i)` of image `i`.
    pub(super) fn of_image(&self, i: usize) -> (&[f32], &[f32]) {
        let row = &self.rows[i * self.width..][..self.width];
        (&row[..self.rank], if self.form.has_second_factor() { &row[self.rank..2 * self.rank] } else { &row[..self.rank] })
    }

    /// The activations of image `i` (`(a_k·x_i)(b_k·x_i)`, or `(a_k·x_i)² − (b_k·x_i)²` for
    /// split components: [`Form::activation`]), component by component.
    fn activations(&self, i: usize) -> impl Iterator<Item = f32> + '_ {
        let (xa, xb) = self.of_image(i);
        xa.iter().zip(xb).map(|(&a, &b)| self.form.activation(a, b))
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
        self.backprop_projections(images, g, |i, to_a, to_b| {
            let (da, (xa, xb)) = (&dact[i * r..][..r], self.of_image(i));
            match self.form {
                Form::Cp => (0..r).for_each(|k| (to_a[k], to_b[k]) = (da[k] * xb[k], da[k] * xa[k])),
                Form::Split => (0..r).for_each(|k| (to_a[k], to_b[k]) = (2.0 * da[k] * xa[k], -2.0 * da[k] * xb[k])),
                Form::Symmetric => to_a.iter_mut().zip(da).zip(xa).for_each(|((o, d), x)| *o = 2.0 * d * x),
            }
        });
    }

    /// Adds into `g` the gradient through the projections: `fill(i, da, db)` writes the
    /// gradient on image `i`'s `a_k·x_i` into `da` and on its `b_k·x_i` into `db` (empty for
    /// a symmetric bank, whose `b` is its `a`).
    pub(super) fn backprop_projections(&self, images: &ImageRows, g: &mut FactorGrads, fill: impl Fn(usize, &mut [f32], &mut [f32])) {
        let r = self.rank;
        let second = self.form.has_second_factor();
        let mut d_in = PaddedRows::zeros(self.rows.len());
        for (i, row) in d_in.chunks_exact_mut(self.width).enumerate() {
            let (to_a, rest) = row.split_at_mut(r);
            fill(i, to_a, if second { &mut rest[..r] } else { &mut [] });
        }
        let back = images.back_project(&d_in, self.width, if second { 2 * r } else { r });
        g.a += back.as_ref().subcols(0, r);
        if second {
            g.b += back.as_ref().subcols(r, r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// The priors on the labelled images read each component's activation as the fit's tensor
    /// means it (split components `(a·x)² − (b·x)²`, not `(a·x)(b·x)`), and back-project the
    /// gradient of `Σ w ⊙ act` as its f64 finite differences say.
    #[test]
    fn projections_follow_each_form() {
        let (n, inputs, r) = (5, 7, 3);
        let rng = &mut linalg::rng(3);
        let x = linalg::randn(rng, n, inputs, 1.0);
        let images = ImageRows::new(x.clone());
        let w = linalg::randn(rng, n, r, 1.0);
        for form in [Form::Cp, Form::Symmetric, Form::Split] {
            let (a, b) = (linalg::randn(rng, inputs, r, 0.5), linalg::randn(rng, inputs, r, 0.5));
            let b = if form.has_second_factor() { b } else { a.clone() };
            let f = Factors { a: a.clone(), b: b.clone(), d: Mat::zeros(2, r) };
            let p = Projections::of(&images, form, &f);
            // Σ_ik w_ik act_k(x_i) in f64, from factors (a, b).
            let loss = |a: &Mat<f32>, b: &Mat<f32>| -> f64 {
                let dot = |m: &Mat<f32>, i: usize, k: usize| (0..inputs).map(|j| x[(i, j)] as f64 * m[(j, k)] as f64).sum::<f64>();
                (0..n)
                    .flat_map(|i| (0..r).map(move |k| (i, k)))
                    .map(|(i, k)| w[(i, k)] as f64 * form.activation(dot(a, i, k), dot(b, i, k)))
                    .sum()
            };
            let rows = p.activation_rows();
            for i in 0..n {
                for k in 0..r {
                    let dot = |m: &Mat<f32>| (0..inputs).map(|j| x[(i, j)] as f64 * m[(j, k)] as f64).sum::<f64>();
                    let want = form.activation(dot(&a), dot(&b));
                    assert!((rows[i * r + k] as f64 - want).abs() < 1e-4 * (1.0 + want.abs()), "{form:?}: activation ({i}, {k})");
                }
            }
            let dact: Vec<f32> = (0..n).flat_map(|i| (0..r).map(move |k| (i, k))).map(|(i, k)| w[(i, k)]).collect();
            let mut g = FactorGrads::zeros(&f);
            p.backprop(&images, &dact, &mut g);
            let h = 1e-3f32;
            for (side, grad) in [(0, &g.a), (1, &g.b)].into_iter().take(if form.has_second_factor() { 2 } else { 1 }) {
                for (j, k) in [(0, 0), (3, 1), (6, 2)] {
                    let bump = |s: f32| {
                        let (mut a, mut b) = (a.clone(), b.clone());
                        let m = if side == 0 { &mut a } else { &mut b };
                        m[(j, k)] += s;
                        if !form.has_second_factor() {
                            b = a.clone();
                        }
                        loss(&a, &b)
                    };
                    let fd = (bump(h) - bump(-h)) / (2.0 * h as f64);
                    assert!(
                        (grad[(j, k)] as f64 - fd).abs() < 1e-3 * (1.0 + fd.abs()),
                        "{form:?}: side {side} ({j}, {k}): {} vs {fd}",
                        grad[(j, k)]
                    );
                }
            }
        }
    }
}
