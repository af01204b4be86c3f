//! Loss terms, each a small unit that returns its value and adds `weight · gradient` into
//! the gradients it touches (SPEC §5). Tensor terms act on the whole decomposition written as
//! CP triples; bank terms act on one displayed bank's factors.

use faer::{Mat, MatRef};
use serde::{Deserialize, Serialize};

use super::bank::{Bank, FactorGrads, Factors, Form};
use super::image_ops::{self, Grad, Images};
use crate::interaction::{CpTensor, Interaction};
use crate::linalg;

/// Gradients on CP triples: `(dD, dU, dW)`.
pub struct TripleGrads {
    pub d: Mat<f32>,
    pub u: Mat<f32>,
    pub w: Mat<f32>,
}

impl TripleGrads {
    pub fn zeros(t: &CpTensor) -> Self {
        Self { d: Mat::zeros(t.heads.nrows(), t.rank()), u: Mat::zeros(t.u.nrows(), t.rank()), w: Mat::zeros(t.w.nrows(), t.rank()) }
    }
}

/// What a decomposition is fitted to: the interaction tensor `B`, optionally minus an
/// already-fitted CP tensor (the second stage of a boosted fit fits what the first missed).
pub struct Target<'a> {
    pub inter: &'a Interaction,
    pub minus: Option<CpTensor>,
    norm_sq: f64,
}

impl<'a> Target<'a> {
    pub fn new(inter: &'a Interaction, minus: Option<CpTensor>) -> Self {
        let norm_sq = match &minus {
            None => inter.norm_sq(),
            Some(s) => inter.norm_sq() - 2.0 * inter.inner(s, None) + s.norm_sq(None),
        };
        Self { inter, minus, norm_sq }
    }

    /// `⟨sym T, target⟩`, gradient (weighted) accumulated into `g`.
    fn inner(&self, t: &CpTensor, weight: f32, g: Option<&mut TripleGrads>) -> f64 {
        match g {
            None => self.inter.inner(t, None) - self.minus.as_ref().map_or(0.0, |s| t.inner(s, None)),
            Some(g) => {
                let mut v = self.inter.inner(t, Some((weight, &mut g.d, &mut g.u, &mut g.w)));
                if let Some(s) = &self.minus {
                    v -= t.inner(s, Some((-weight, &mut g.d, &mut g.u, &mut g.w)));
                }
                v
            }
        }
    }

    /// Exact tensor cosine to the target.
    pub fn cosine(&self, t: &CpTensor) -> f64 {
        let denom = (t.norm_sq(None) * self.norm_sq).sqrt();
        if denom > 0.0 { self.inner(t, 0.0, None) / denom } else { 0.0 }
    }

    /// `weight · (1 − cos(T, target))`; returns the cosine.
    pub fn cosine_loss(&self, t: &CpTensor, weight: f32, g: &mut TripleGrads) -> f64 {
        let n = t.norm_sq(None);
        let denom = (n * self.norm_sq).sqrt();
        if denom == 0.0 {
            return 0.0;
        }
        let cos = self.inner(t, 0.0, None) / denom;
        // ∂cos = ∂⟨T,B⟩/(‖T‖‖B‖) − cos·∂‖T‖²/(2‖T‖²).
        self.inner(t, -weight / denom as f32, Some(g));
        t.norm_sq(Some(((weight as f64 * cos / (2.0 * n)) as f32, &mut g.d, &mut g.u, &mut g.w)));
        cos
    }
}

/// Logit distillation data (SPEC §5.14): images, the base model's logits on them, and one
/// global scale `s` (their standard deviation).
pub struct DistillSet {
    /// `n × I`.
    pub x: Mat<f32>,
    /// `n × C` target logits.
    pub logits: Mat<f32>,
    pub scale: f32,
}

impl DistillSet {
    /// `s` = unbiased std over all target logits, clamped at 1e-4 as in the reference.
    pub fn new(x: Mat<f32>, logits: Mat<f32>) -> Self {
        let n = (logits.nrows() * logits.ncols()) as f64;
        let vals = || (0..logits.ncols()).flat_map(|j| (0..logits.nrows()).map(move |i| (i, j))).map(|(i, j)| logits[(i, j)] as f64);
        let mean = vals().sum::<f64>() / n;
        let var = vals().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        Self { x, logits, scale: (var.sqrt() as f32).max(1e-4) }
    }

    /// `weight · mean((f(x)/s − y/s)²)` with `f(x)_c = Σ_r D_cr (u_r·x)(w_r·x)`; returns the MSE.
    ///
    /// Four products with the `n × I` images dominate a step; both projections go through
    /// one product with `[U | W]`, and both back-projections through one with `Xᵀ`.
    pub fn loss(&self, t: &CpTensor, weight: f32, g: &mut TripleGrads) -> f64 {
        let r = t.rank();
        let proj = linalg::mul(self.x.as_ref(), hcat(&t.u, &t.w).as_ref()); // n × 2R: [XU | XW]
        let (xu, xw) = (proj.as_ref().subcols(0, r), proj.as_ref().subcols(r, r));
        let acts = zip(xu, xw, |a, b| a * b);
        let z = linalg::mul(acts.as_ref(), t.heads.transpose());
        let (n, c) = (z.nrows(), z.ncols());
        let s2 = self.scale * self.scale;
        let coef = 2.0 * weight / (s2 * (n * c) as f32);
        let diff = zip(z.as_ref(), self.logits.as_ref(), |a, b| a - b);
        let mse: f64 = (0..c).map(|j| diff.col(j).iter().map(|&v| (v as f64).powi(2)).sum::<f64>()).sum();
        let dz = &diff * faer::Scale(coef);
        linalg::mul_add(g.d.as_mut(), dz.transpose(), acts.as_ref(), 1.0);
        let dacts = linalg::mul(dz.as_ref(), t.heads.as_ref());
        let back_in = hcat(&zip(dacts.as_ref(), xw, |a, b| a * b), &zip(dacts.as_ref(), xu, |a, b| a * b));
        let back = linalg::mul(self.x.transpose(), back_in.as_ref()); // I × 2R: [dU | dW]
        g.u += back.as_ref().subcols(0, r);
        g.w += back.as_ref().subcols(r, r);
        mse / (n * c) as f64 / s2 as f64
    }
}

/// `[a | b]`.
fn hcat(a: &Mat<f32>, b: &Mat<f32>) -> Mat<f32> {
    let mut out = Mat::zeros(a.nrows(), a.ncols() + b.ncols());
    out.as_mut().subcols_mut(0, a.ncols()).copy_from(a);
    out.as_mut().subcols_mut(a.ncols(), b.ncols()).copy_from(b);
    out
}

/// Elementwise `f(a, b)` over two equally shaped matrices, column by column.
fn zip(a: MatRef<'_, f32>, b: MatRef<'_, f32>, f: impl Fn(f32, f32) -> f32) -> Mat<f32> {
    let mut out = Mat::zeros(a.nrows(), a.ncols());
    for j in 0..a.ncols() {
        let (ca, cb) = (a.col(j), b.col(j));
        for (i, o) in out.col_mut(j).iter_mut().enumerate() {
            *o = f(ca[i], cb[i]);
        }
    }
    out
}

/// Labelled images for the activation-consistency prior.
pub struct LabelledSet {
    pub x: Mat<f32>,
    pub y: Vec<u8>,
}

/// Weights of the priors on displayed banks (0 = off). Names follow SPEC §5; the display
/// terms act on `plus`/`minus` patterns and sum the two (the notebook's convention).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Priors {
    /// `mean|[a|b]|` of the effective (un-normalised) factors.
    pub raw_l1: f32,
    /// `TV([a|b])`.
    pub raw_tv: f32,
    /// `Lap([a|b])`.
    pub raw_lap: f32,
    /// `mean|plus| + mean|minus|`.
    pub display_l1: f32,
    /// `TV(plus) + TV(minus)`.
    pub display_tv: f32,
    /// `mean((NᵀN − I)²)` over the normalised `[plus|minus]`.
    pub duplicate: f32,
    /// Energy far from the centre, on `[plus|minus]`.
    pub border: f32,
    /// `mean((a − b)²)`, CP banks only.
    pub symmetry: f32,
    /// `mean|D|`.
    pub head_l1: f32,
    /// Mean normalised entropy of `|D|` columns.
    pub head_entropy: f32,
    /// `MSE(normalize(a), anchor_a) + MSE(normalize(b), anchor_b)`.
    pub anchor: f32,
    /// `mean(δ²)` of template deformations.
    pub deform_l2: f32,
    /// `mean(σ)` of learnable masks.
    pub mask_width: f32,
    /// `mean(a²) + mean(b²) + mean(D²)` of residual banks.
    pub residual_l2: f32,
    /// Share of each component's squared activation on images of other classes.
    pub activation: f32,
}

/// Adds every bank-level prior of `p` for one displayed bank; returns the total penalty.
pub fn bank_priors(p: &Priors, bank: &Bank, f: &Factors, g: &mut FactorGrads, act: Option<&LabelledSet>) -> f64 {
    let r = bank.rank();
    let symmetric = bank.form == Form::Symmetric;
    let mut total = 0.0;
    let raw_terms = p.raw_l1 != 0.0 || p.raw_tv != 0.0 || p.raw_lap != 0.0;
    if raw_terms {
        let raw = if symmetric { linalg::to_col_major(f.a.as_ref()) } else { concat(&f.a, &f.b) };
        let shape = Images::mnist(if symmetric { r } else { 2 * r });
        let mut graw = vec![0.0f32; raw.len()];
        total += weighted(p.raw_l1, |gr| image_ops::mean_abs(&raw, gr), &mut graw);
        total += weighted(p.raw_tv, |gr| image_ops::total_variation(&raw, shape, gr), &mut graw);
        total += weighted(p.raw_lap, |gr| image_ops::laplacian(&raw, shape, gr), &mut graw);
        split_into(&graw, &mut g.a, if symmetric { None } else { Some(&mut g.b) });
    }
    let display_terms = p.display_l1 != 0.0 || p.display_tv != 0.0 || p.duplicate != 0.0 || p.border != 0.0;
    if display_terms {
        total += display_priors(p, bank.form, f, g);
    }
    if p.symmetry != 0.0 && bank.form == Form::Cp {
        let diff = linalg::to_col_major((&f.a - &f.b).as_ref());
        let mut gd = vec![0.0f32; diff.len()];
        total += weighted(p.symmetry, |gr| image_ops::mean_square(&diff, gr), &mut gd);
        let gd = linalg::from_col_major(&gd, f.a.nrows(), r);
        g.a += &gd;
        g.b -= &gd;
    }
    if p.head_l1 != 0.0 || p.head_entropy != 0.0 {
        let d = linalg::to_col_major(f.d.as_ref());
        let mut gd = vec![0.0f32; d.len()];
        total += weighted(p.head_l1, |gr| image_ops::mean_abs(&d, gr), &mut gd);
        total += weighted(p.head_entropy, |gr| image_ops::head_entropy(&d, f.d.nrows(), gr), &mut gd);
        g.d += linalg::from_col_major(&gd, f.d.nrows(), r);
    }
    if let (Some((anchor_a, anchor_b)), true) = (&bank.anchors, p.anchor != 0.0) {
        total += anchor_mse(p.anchor, &f.a, anchor_a, &mut g.a);
        if !symmetric {
            total += anchor_mse(p.anchor, &f.b, anchor_b, &mut g.b);
        }
    }
    if let (Some(set), true) = (act, p.activation != 0.0) {
        total += activation_consistency(p.activation, set, f, g);
    }
    total
}

/// `weight · f`, with `f`'s gradient scaled by `weight` into `g`; skipped when weight is 0.
fn weighted(weight: f32, f: impl FnOnce(Grad<'_, f32>) -> f64, g: &mut [f32]) -> f64 {
    if weight == 0.0 { 0.0 } else { weight as f64 * f(Some((weight, g))) }
}

fn concat(a: &Mat<f32>, b: &Mat<f32>) -> Vec<f32> {
    let mut v = linalg::to_col_major(a.as_ref());
    v.extend(linalg::to_col_major(b.as_ref()));
    v
}

/// Adds a column-major gradient of `[a|b]` (or of `a` alone) into the factor gradients.
fn split_into(g: &[f32], ga: &mut Mat<f32>, gb: Option<&mut Mat<f32>>) {
    let (rows, r) = (ga.nrows(), ga.ncols());
    *ga += linalg::from_col_major(&g[..rows * r], rows, r);
    if let Some(gb) = gb {
        *gb += linalg::from_col_major(&g[rows * r..], rows, r);
    }
}

/// The display patterns (SPEC §4.1, §6): CP `plus = N(a+b)`, `minus = N(a−b)`; split
/// `N(a)`, `N(b)`; symmetric `N(a)` and zeros. Returned un-normalised (the sums), so callers
/// can normalise and back-propagate.
pub fn display_sources(form: Form, f: &Factors) -> (Mat<f32>, Mat<f32>) {
    match form {
        Form::Cp => (&f.a + &f.b, &f.a - &f.b),
        Form::Split => (f.a.clone(), f.b.clone()),
        Form::Symmetric => (f.a.clone(), Mat::zeros(f.a.nrows(), f.a.ncols())),
    }
}

fn display_priors(p: &Priors, form: Form, f: &Factors, g: &mut FactorGrads) -> f64 {
    let r = f.a.ncols();
    let (s, t) = display_sources(form, f);
    let src = concat(&s, &t);
    let two = Images::mnist(2 * r);
    let one = Images::mnist(r);
    let pats = image_ops::normalize_columns(&src, two);
    let half = r * 784;
    let mut gp = vec![0.0f32; pats.len()];
    let mut total = 0.0;
    for (lo, hi) in [(0, half), (half, 2 * half)] {
        let block = &pats[lo..hi];
        total += weighted(p.display_l1, |gr| image_ops::mean_abs(block, gr), &mut gp[lo..hi]);
        total += weighted(p.display_tv, |gr| image_ops::total_variation(block, one, gr), &mut gp[lo..hi]);
    }
    total += weighted(p.duplicate, |gr| image_ops::duplicate(&pats, two, gr), &mut gp);
    total += weighted(p.border, |gr| image_ops::border(&pats, two, gr), &mut gp);
    let gsrc = image_ops::normalize_columns_backward(&src, &gp, two);
    let (gs, gt) = (linalg::from_col_major(&gsrc[..half], 784, r), linalg::from_col_major(&gsrc[half..], 784, r));
    match form {
        Form::Cp => {
            g.a += &gs + &gt;
            g.b += &gs - &gt;
        }
        Form::Split => {
            g.a += &gs;
            g.b += &gt;
        }
        Form::Symmetric => g.a += &gs,
    }
    total
}

/// `weight · mean((normalize(x) − anchor)²)` over all entries (anchors are unit-norm).
fn anchor_mse(weight: f32, x: &Mat<f32>, anchor: &Mat<f32>, g: &mut Mat<f32>) -> f64 {
    let shape = Images::mnist(x.ncols());
    let xv = linalg::to_col_major(x.as_ref());
    let nx = image_ops::normalize_columns(&xv, shape);
    let av = linalg::to_col_major(anchor.as_ref());
    let diff: Vec<f32> = nx.iter().zip(&av).map(|(a, b)| a - b).collect();
    let mut gd = vec![0.0f32; diff.len()];
    let v = image_ops::mean_square(&diff, Some((weight, &mut gd)));
    let gx = image_ops::normalize_columns_backward(&xv, &gd, shape);
    *g += linalg::from_col_major(&gx, x.nrows(), x.ncols());
    weight as f64 * v
}

/// Activation consistency (SPEC §7.7): with `q = ((a·x)(b·x))²` and `h_r = argmax_c |d_cr|`,
/// `mean_r [mean_n(q ⊙ [y ≠ h_r]) / max(mean_n q, 1e-8)]`.
fn activation_consistency(weight: f32, set: &LabelledSet, f: &Factors, g: &mut FactorGrads) -> f64 {
    let (xa, xb) = (linalg::mul(set.x.as_ref(), f.a.as_ref()), linalg::mul(set.x.as_ref(), f.b.as_ref()));
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
    let da_in = Mat::from_fn(n, r, |i, k| dact[(i, k)] * xb[(i, k)]);
    let db_in = Mat::from_fn(n, r, |i, k| dact[(i, k)] * xa[(i, k)]);
    linalg::mul_add(g.a.as_mut(), set.x.transpose(), da_in.as_ref(), 1.0);
    linalg::mul_add(g.b.as_mut(), set.x.transpose(), db_in.as_ref(), 1.0);
    weight as f64 * total / r as f64
}

/// `weight · [mean(a²) + mean(b²) + mean(D²)]`, the penalty that keeps a residual small.
pub fn residual_l2(weight: f32, f: &Factors, g: &mut FactorGrads) -> f64 {
    let mut total = 0.0;
    for (m, gm) in [(&f.a, &mut g.a), (&f.b, &mut g.b), (&f.d, &mut g.d)] {
        let n = (m.nrows() * m.ncols()).max(1) as f32;
        total += m.squared_norm_l2() as f64 / n as f64;
        *gm += m * faer::Scale(2.0 * weight / n);
    }
    weight as f64 * total
}
