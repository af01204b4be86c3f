//! `distill`: logit distillation (SPEC §5.14), `mean((f(x)/s − y/s)²)` between the
//! decomposition's logits and the base model's on fixed training images; the fit's fidelity on
//! data. The second stage of a boosted fit uses `second_distill`.

use faer::{Mat, MatRef};

use super::{Grads, Input, Need, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::interaction::{CpGrads, CpTensor};
use crate::linalg::{self, ImageBlock, ImageRows, PaddedRows};

pub struct Distill;

impl Term for Distill {
    fn name(&self) -> &'static str {
        "distill"
    }

    fn weight(&self, recipe: &Recipe, at: Schedule) -> f32 {
        if at.stage == 2 { recipe.second_distill } else { recipe.distill }
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::DistillImages]
    }

    fn heavy(&self) -> bool {
        true
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let set = x.data.distill.as_ref().expect("the distillation set is built when the term is active");
        set.loss(x.triples, weight, grads.triples(x.triples))
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["tensor=0.5", "distill=0.7"])
    }
}

/// Logit distillation data (SPEC §5.14): images, the base model's logits on them, and one
/// global scale `s` (their standard deviation).
pub struct DistillSet {
    /// `n × I`, kept sparse when it is mostly zeros (digits on a black background).
    pub images: ImageRows,
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
        Self { images: ImageRows::new(x), logits, scale: (var.sqrt() as f32).max(1e-4) }
    }

    /// `weight · mean((f(x)/s − y/s)²)` with `f(x)_c = Σ_r D_cr (u_r·x)(w_r·x)`; returns the MSE.
    ///
    /// Four products with the `n × I` images dominate a step; both projections go through
    /// one product with `[U | W]`, and both back-projections through one with `Xᵀ`. Mostly-zero
    /// images (MNIST) take sparse products, the rest dense ones.
    pub fn loss(&self, t: &CpTensor, weight: f32, g: &mut CpGrads) -> f64 {
        match self.images.blocks() {
            Some(blocks) => self.sparse_loss(blocks, t, weight, g),
            None => self.dense_loss(t, weight, g),
        }
    }

    fn dense_loss(&self, t: &CpTensor, weight: f32, g: &mut CpGrads) -> f64 {
        let r = t.rank();
        let proj = linalg::mul(self.images.x(), linalg::side_by_side(&t.u, &t.w).as_ref()); // n × 2R: [XU | XW]
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
        let back_in = linalg::side_by_side(&zip(dacts.as_ref(), xw, |a, b| a * b), &zip(dacts.as_ref(), xu, |a, b| a * b));
        let back = linalg::mul(self.images.x().transpose(), back_in.as_ref()); // I × 2R: [dU | dW]
        g.u += back.as_ref().subcols(0, r);
        g.w += back.as_ref().subcols(r, r);
        mse / (n * c) as f64 / s2 as f64
    }

    /// [`DistillSet::loss`] through sparse products, block by block: per block, the
    /// projections `X_b [U | W]`, the logits and their error, and the back-projection
    /// `X_bᵀ [dacts ⊙ XW | dacts ⊙ XU]`; block results are summed in block order, so the
    /// result does not depend on the number of threads.
    fn sparse_loss(&self, blocks: &[ImageBlock], t: &CpTensor, weight: f32, g: &mut CpGrads) -> f64 {
        let (r, c, pixels) = (t.rank(), t.heads.nrows(), t.u.nrows());
        let n = self.images.x().nrows();
        let width = linalg::padded_width(2 * r);
        let uw = linalg::padded_row_major(linalg::side_by_side(&t.u, &t.w).as_ref(), width); // [U | W]
        let s2 = self.scale * self.scale;
        let coef = 2.0 * weight / (s2 * (n * c) as f32);
        let parts = ImageRows::each_block(blocks, |b| self.sparse_block(b, t, &uw, width, coef));
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
    fn sparse_block(&self, b: &ImageBlock, t: &CpTensor, uw: &[f32], width: usize, coef: f32) -> (PaddedRows, Mat<f32>, f64) {
        let (r, c, len) = (t.rank(), t.heads.nrows(), b.rows.nrows());
        let mut proj = PaddedRows::zeros(len * width); // [XU | XW | 0], row-major
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
        linalg::matmul(
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
        let mut back = PaddedRows::zeros(b.transposed.nrows() * width);
        b.transposed.mul_add_row_major(&proj, width, &mut back);
        (back, gd, sse)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_distillation_matches_the_dense_products() {
        let (n, pixels, rank, classes) = (linalg::IMAGE_BLOCK + 300, 50, 5, 3);
        let x = linalg::sparse_images(n, pixels);
        let t = CpTensor::random(classes, pixels, rank, &mut linalg::rng(1));
        let logits = linalg::randn(&mut linalg::rng(2), n, classes, 1.0);
        let set = DistillSet::new(x, logits);
        assert!(set.images.blocks().is_some());
        let run = |sparse: bool| {
            let mut g = CpGrads::zeros(&t);
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
}
