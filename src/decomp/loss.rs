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

    /// `⟨sym T, target⟩`.
    fn inner(&self, t: &CpTensor) -> f64 {
        self.inter.inner(t, None) - self.minus.as_ref().map_or(0.0, |s| t.inner(s, None))
    }

    /// Exact tensor cosine to the target.
    pub fn cosine(&self, t: &CpTensor) -> f64 {
        let denom = (t.norm_sq(None) * self.norm_sq).sqrt();
        if denom > 0.0 { self.inner(t) / denom } else { 0.0 }
    }

    /// `weight · (1 − cos(T, target))`; returns the cosine.
    ///
    /// Every product is computed once: the values first, then the gradients with weights that
    /// depend on them.
    pub fn cosine_loss(&self, t: &CpTensor, weight: f32, g: &mut TripleGrads) -> f64 {
        // ‖T‖² and ⟨T, B⟩ are independent; so are their gradients (the norm's goes to a
        // buffer of its own, added last, whatever the thread count).
        let (norm, inter) = linalg::join(|| t.grams(t), false, || self.inter.project(t), false);
        let n = norm.value();
        let denom = (n * self.norm_sq).sqrt();
        if denom == 0.0 {
            return 0.0;
        }
        let minus = self.minus.as_ref().map(|s| t.grams(s));
        let cos = (inter.value() - minus.as_ref().map_or(0.0, |m| m.value())) / denom;
        // ∂cos = ∂⟨T,B⟩/(‖T‖‖B‖) − cos·∂‖T‖²/(2‖T‖²), and ∂‖T‖² = 2 ∂_T⟨T, S⟩ at S = T.
        let w_inner = -weight / denom as f32;
        let w_norm = (weight as f64 * cos / n) as f32;
        let mut gn = TripleGrads::zeros(t);
        linalg::join(
            || {
                inter.add_grad(w_inner, &mut g.d, &mut g.u, &mut g.w);
                if let Some(m) = &minus {
                    m.add_grad(-w_inner, &mut g.d, &mut g.u, &mut g.w);
                }
            },
            false,
            || norm.add_grad(w_norm, &mut gn.d, &mut gn.u, &mut gn.w),
            false,
        );
        g.d += &gn.d;
        g.u += &gn.u;
        g.w += &gn.w;
        cos
    }
}

/// Logit distillation data (SPEC §5.14): images, the base model's logits on them, and one
/// global scale `s` (their standard deviation).
pub struct DistillSet {
    /// `n × I`. Read once by [`DistillSet::new`]; changing it afterwards is not seen by a sparse set.
    pub x: Mat<f32>,
    /// `n × C` target logits.
    pub logits: Mat<f32>,
    pub scale: f32,
    /// `x` in blocks of rows, kept sparse when it is mostly zeros (digits on a black background).
    sparse: Option<Vec<SparseBlock>>,
}

/// Rows `start .. start + len` of the images, as sparse rows (`len × I`) and as sparse rows of
/// the transpose (`I × len`), for the forward and the backward product.
struct SparseBlock {
    start: usize,
    rows: linalg::SparseRows,
    transposed: linalg::SparseRows,
}

/// Images per sparse block: a block's projections (`len × 2R`) stay in cache between the
/// forward and the backward product, and blocks are the unit of parallel work.
const SPARSE_BLOCK: usize = 1024;

/// Images denser than this go through dense products.
const MAX_SPARSE_DENSITY: f64 = 0.5;

impl DistillSet {
    /// `s` = unbiased std over all target logits, clamped at 1e-4 as in the reference.
    pub fn new(x: Mat<f32>, logits: Mat<f32>) -> Self {
        let n = (logits.nrows() * logits.ncols()) as f64;
        let vals = || (0..logits.ncols()).flat_map(|j| (0..logits.nrows()).map(move |i| (i, j))).map(|(i, j)| logits[(i, j)] as f64);
        let mean = vals().sum::<f64>() / n;
        let var = vals().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        let nonzero = (0..x.ncols()).map(|j| linalg::col(x.as_ref(), j).iter().filter(|&&v| v != 0.0).count()).sum::<usize>();
        let sparse = ((nonzero as f64) < MAX_SPARSE_DENSITY * (x.nrows() * x.ncols()) as f64).then(|| {
            (0..x.nrows())
                .step_by(SPARSE_BLOCK)
                .map(|start| {
                    let block = x.as_ref().subrows(start, SPARSE_BLOCK.min(x.nrows() - start));
                    SparseBlock {
                        start,
                        rows: linalg::SparseRows::from_dense(block),
                        transposed: linalg::SparseRows::from_dense(block.transpose()),
                    }
                })
                .collect()
        });
        Self { x, logits, scale: (var.sqrt() as f32).max(1e-4), sparse }
    }

    /// `weight · mean((f(x)/s − y/s)²)` with `f(x)_c = Σ_r D_cr (u_r·x)(w_r·x)`; returns the MSE.
    ///
    /// Four products with the `n × I` images dominate a step; both projections go through
    /// one product with `[U | W]`, and both back-projections through one with `Xᵀ`. Mostly-zero
    /// images (MNIST) take sparse products, the rest dense ones.
    pub fn loss(&self, t: &CpTensor, weight: f32, g: &mut TripleGrads) -> f64 {
        match &self.sparse {
            Some(blocks) => self.sparse_loss(blocks, t, weight, g),
            None => self.dense_loss(t, weight, g),
        }
    }

    fn dense_loss(&self, t: &CpTensor, weight: f32, g: &mut TripleGrads) -> f64 {
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

    /// [`DistillSet::loss`] through sparse products, block by block: per block, the
    /// projections `X_b [U | W]`, the logits and their error, and the back-projection
    /// `X_bᵀ [dacts ⊙ XW | dacts ⊙ XU]`; block results are summed in block order, so the
    /// result does not depend on the number of threads.
    fn sparse_loss(&self, blocks: &[SparseBlock], t: &CpTensor, weight: f32, g: &mut TripleGrads) -> f64 {
        let (r, c, pixels) = (t.rank(), t.heads.nrows(), t.u.nrows());
        let n = self.x.nrows();
        let width = (2 * r).div_ceil(linalg::SIMD_WIDTH) * linalg::SIMD_WIDTH;
        // [U | W] row-major, zero-padded to `width` columns.
        let mut uw = vec![0.0f32; pixels * width];
        for k in 0..r {
            let (u, w) = (linalg::col(t.u.as_ref(), k), linalg::col(t.w.as_ref(), k));
            for p in 0..pixels {
                uw[p * width + k] = u[p];
                uw[p * width + r + k] = w[p];
            }
        }
        let s2 = self.scale * self.scale;
        let coef = 2.0 * weight / (s2 * (n * c) as f32);
        let block = |b: &SparseBlock| linalg::sequential(|| self.sparse_block(b, t, &uw, width, coef));
        let parts: Vec<(Vec<f32>, Mat<f32>, f64)> = if linalg::parallel() {
            use rayon::prelude::*;
            blocks.par_iter().map(block).collect()
        } else {
            blocks.iter().map(block).collect()
        };
        let mut mse = 0.0;
        for (_, gd, m) in &parts {
            g.d += gd;
            mse += m;
        }
        // [dU | dW] += Σ_blocks back-projections, summed in block order, pixel by pixel.
        let mut sum = vec![0.0f32; width];
        for p in 0..pixels {
            sum.copy_from_slice(&parts[0].0[p * width..][..width]);
            for (back, _, _) in &parts[1..] {
                sum.iter_mut().zip(&back[p * width..][..width]).for_each(|(s, v)| *s += v);
            }
            for k in 0..r {
                g.u[(p, k)] += sum[k];
                g.w[(p, k)] += sum[r + k];
            }
        }
        mse / (n * c) as f64 / s2 as f64
    }

    /// One block of [`DistillSet::sparse_loss`]: `(X_bᵀ back_in` row-major `I × width`, its
    /// share of `dD`, its sum of squared errors).
    fn sparse_block(&self, b: &SparseBlock, t: &CpTensor, uw: &[f32], width: usize, coef: f32) -> (Vec<f32>, Mat<f32>, f64) {
        let (r, c, len) = (t.rank(), t.heads.nrows(), b.rows.nrows());
        let mut proj = vec![0.0f32; len * width]; // [XU | XW | 0], row-major
        b.rows.mul_add_row_major(uw, width, &mut proj);
        let mut acts = vec![0.0f32; len * r];
        for (a, p) in acts.chunks_exact_mut(r).zip(proj.chunks_exact(width)) {
            for ((a, &xu), &xw) in a.iter_mut().zip(&p[..r]).zip(&p[r..2 * r]) {
                *a = xu * xw;
            }
        }
        let acts_m = MatRef::from_row_major_slice(&acts, len, r);
        let mut dz = linalg::mul(acts_m, t.heads.transpose()); // z, then its error, then dz
        let mut sse = 0.0f64;
        for j in 0..c {
            let target = &linalg::col(self.logits.as_ref(), j)[b.start..b.start + len];
            for (z, &y) in linalg::col_mut(dz.as_mut(), j).iter_mut().zip(target) {
                let diff = *z - y;
                sse += (diff as f64).powi(2);
                *z = coef * diff;
            }
        }
        let gd = linalg::mul(dz.transpose(), acts_m);
        let mut dacts = vec![0.0f32; len * r];
        faer::linalg::matmul::matmul(
            faer::MatMut::from_row_major_slice_mut(&mut dacts, len, r),
            faer::Accum::Replace,
            dz.as_ref(),
            t.heads.as_ref(),
            1.0,
            faer::Par::Seq,
        );
        // The projections' storage becomes the back-projection's input [dacts ⊙ XW | dacts ⊙ XU].
        for (p, da) in proj.chunks_exact_mut(width).zip(dacts.chunks_exact(r)) {
            let (xu, rest) = p.split_at_mut(r);
            for ((u, w), &da) in xu.iter_mut().zip(&mut rest[..r]).zip(da) {
                (*u, *w) = (da * *w, da * *u);
            }
        }
        let mut back = vec![0.0f32; b.transposed.nrows() * width];
        b.transposed.mul_add_row_major(&proj, width, &mut back);
        (back, gd, sse)
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
    let half = ga.nrows() * ga.ncols();
    linalg::add_col_major(ga.as_mut(), &g[..half]);
    if let Some(gb) = gb {
        linalg::add_col_major(gb.as_mut(), &g[half..]);
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
    let (gs, gt) = (linalg::from_col_major(&gsrc[..half], f.a.nrows(), r), linalg::from_col_major(&gsrc[half..], f.a.nrows(), r));
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
    let mut diff = image_ops::normalize_columns(&xv, shape);
    for (j, d) in diff.chunks_exact_mut(x.nrows()).enumerate() {
        d.iter_mut().zip(linalg::col(anchor.as_ref(), j)).for_each(|(v, &a)| *v -= a);
    }
    let mut gd = vec![0.0f32; diff.len()];
    let v = image_ops::mean_square(&diff, Some((weight, &mut gd)));
    let gx = image_ops::normalize_columns_backward(&xv, &gd, shape);
    linalg::add_col_major(g.as_mut(), &gx);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Sparse images (about 30% nonzero) over more than one block.
    fn sparse_images(n: usize, pixels: usize) -> Mat<f32> {
        Mat::from_fn(n, pixels, |i, j| if (i * 7 + j * 13) % 10 < 3 { ((i + 2 * j) % 11) as f32 / 11.0 } else { 0.0 })
    }

    #[test]
    fn sparse_distillation_matches_the_dense_products() {
        let (n, pixels, rank, classes) = (SPARSE_BLOCK + 300, 50, 5, 3);
        let x = sparse_images(n, pixels);
        let t = CpTensor::random(classes, pixels, rank, &mut linalg::rng(1));
        let logits = linalg::randn(&mut linalg::rng(2), n, classes, 1.0);
        let set = DistillSet::new(x, logits);
        assert!(set.sparse.is_some());
        let run = |sparse: bool| {
            let mut g = TripleGrads::zeros(&t);
            let v = if sparse { set.loss(&t, 0.7, &mut g) } else { set.dense_loss(&t, 0.7, &mut g) };
            (v, g)
        };
        let ((vs, gs), (vd, gd)) = (run(true), run(false));
        assert!((vs - vd).abs() < 1e-5 * vd.abs(), "{vs} vs {vd}");
        for (a, b) in [(&gs.d, &gd.d), (&gs.u, &gd.u), (&gs.w, &gd.w)] {
            let err = (a - b).norm_l2() / b.norm_l2();
            assert!(err < 1e-5, "relative gradient difference {err}");
        }
    }

    #[test]
    fn sparse_products_match_dense_ones() {
        let (rows, cols) = (37, 2 * linalg::SPARSE_COLUMN_GROUP + 11);
        let x = sparse_images(rows, cols);
        let sp = linalg::SparseRows::from_dense(x.as_ref());
        assert!(sp.density() < 0.5);
        for width in [linalg::SIMD_WIDTH, 3 * linalg::SIMD_WIDTH, 10 * linalg::SIMD_WIDTH] {
            let b = linalg::randn(&mut linalg::rng(3), cols, width, 1.0);
            let b_rows = linalg::to_row_major(b.as_ref());
            let mut out = vec![1.0; rows * width];
            sp.mul_add_row_major(&b_rows, width, &mut out);
            let mut dense = linalg::mul(x.as_ref(), b.as_ref());
            linalg::map_in_place(dense.as_mut(), |_, _, v| v + 1.0);
            let err = (linalg::row_major(&out, rows, width) - &dense).norm_l2() / dense.norm_l2();
            assert!(err < 1e-6, "width {width}: {err}");
        }
    }
}
