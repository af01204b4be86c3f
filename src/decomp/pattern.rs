//! How one side of a bank's components (a `784 × r` factor matrix) is parameterised.
//!
//! A factor is built in up to four stages, each optional, so that every family of the
//! reference study is one configuration of the same pipeline (SPEC §6, §7.3–§7.5):
//!
//! `base` (free, softplus-nonnegative, or anchor + s·smooth(δ)) → `⊙ mask` (fixed or
//! learnable Gaussian) → `· exp(log_amp)` (per-component amplitude).
//!
//! `forward` caches what `backward` needs; `backward` turns `∂L/∂factor` into gradients of
//! the raw parameters.

use faer::Mat;

use super::image_ops::{self, Images};
use super::templates::MaskParams;
use crate::linalg;

/// The first stage of a factor.
#[derive(Clone, Debug)]
pub enum Base {
    /// `smooth(raw, passes)`; `passes = 0` is a free factor.
    Free { raw: Mat<f32>, passes: usize },
    /// `softplus(raw)`: nonnegative strokes.
    Softplus { raw: Mat<f32> },
    /// `anchor + scale · smooth(delta, passes)`: a template with a smooth deformation.
    Anchored { anchor: Mat<f32>, delta: Mat<f32>, scale: f32, passes: usize },
}

/// A Gaussian locality mask multiplying the factor.
#[derive(Clone, Debug)]
pub enum Mask {
    Fixed(Mat<f32>),
    Learnable(MaskParams),
}

/// One side (a or b) of a bank.
#[derive(Clone, Debug)]
pub struct Pattern {
    pub base: Base,
    pub mask: Option<Mask>,
    /// Per-component log amplitudes (`r × 1`), if the family has them.
    pub log_amp: Option<Mat<f32>>,
    cache: Option<Cache>,
}

#[derive(Clone, Debug)]
struct Cache {
    base: Mat<f32>,
    mask: Option<Mat<f32>>,
}

/// Gradients of one pattern's raw parameters, in [`Pattern::params_mut`] order.
pub type PatternGrads = Vec<Mat<f32>>;

impl Pattern {
    pub fn new(base: Base) -> Self {
        Self { base, mask: None, log_amp: None, cache: None }
    }

    pub fn rank(&self) -> usize {
        match &self.base {
            Base::Free { raw, .. } | Base::Softplus { raw } => raw.ncols(),
            Base::Anchored { anchor, .. } => anchor.ncols(),
        }
    }

    /// The factor matrix (`784 × r`); caches intermediate values for [`Pattern::backward`].
    pub fn forward(&mut self) -> Mat<f32> {
        let base = match &self.base {
            Base::Free { raw, passes } => smooth(raw, *passes),
            Base::Softplus { raw } => Mat::from_fn(raw.nrows(), raw.ncols(), |i, j| softplus(raw[(i, j)])),
            Base::Anchored { anchor, delta, scale, passes } => anchor + smooth(delta, *passes) * faer::Scale(*scale),
        };
        let mask = self.mask.as_ref().map(|m| match m {
            Mask::Fixed(m) => m.clone(),
            Mask::Learnable(p) => p.masks(),
        });
        let mut out = match &mask {
            Some(m) => Mat::from_fn(base.nrows(), base.ncols(), |i, j| base[(i, j)] * m[(i, j)]),
            None => base.clone(),
        };
        if let Some(la) = &self.log_amp {
            for j in 0..out.ncols() {
                let amp = la[(j, 0)].exp();
                out.col_mut(j).iter_mut().for_each(|v| *v *= amp);
            }
        }
        self.cache = Some(Cache { base, mask });
        out
    }

    /// Raw parameters, in a fixed order (the optimiser keeps state by position).
    pub fn params_mut(&mut self) -> Vec<&mut Mat<f32>> {
        let mut out: Vec<&mut Mat<f32>> = match &mut self.base {
            Base::Free { raw, .. } | Base::Softplus { raw } => vec![raw],
            Base::Anchored { delta, .. } => vec![delta],
        };
        if let Some(Mask::Learnable(p)) = &mut self.mask {
            out.push(&mut p.centre_raw);
            out.push(&mut p.log_sigma);
        }
        if let Some(la) = &mut self.log_amp {
            out.push(la);
        }
        out
    }

    /// Gradients of the raw parameters given `∂L/∂factor` (after [`Pattern::forward`]).
    pub fn backward(&self, d_out: &Mat<f32>) -> PatternGrads {
        let cache = self.cache.as_ref().expect("Pattern::backward called before forward");
        let (rows, r) = (d_out.nrows(), d_out.ncols());
        let mut grads = Vec::new();
        let amp = |j: usize| self.log_amp.as_ref().map_or(1.0, |la| la[(j, 0)].exp());
        // Through the amplitude: d(masked) = d_out · amp.
        let d_masked = Mat::from_fn(rows, r, |i, j| d_out[(i, j)] * amp(j));
        let d_base = match &cache.mask {
            Some(m) => Mat::from_fn(rows, r, |i, j| d_masked[(i, j)] * m[(i, j)]),
            None => d_masked.clone(),
        };
        grads.push(match &self.base {
            Base::Free { passes, .. } => smooth_adjoint(&d_base, *passes),
            Base::Softplus { raw } => Mat::from_fn(rows, r, |i, j| d_base[(i, j)] * sigmoid(raw[(i, j)])),
            Base::Anchored { scale, passes, .. } => smooth_adjoint(&d_base, *passes) * faer::Scale(*scale),
        });
        if let Some(Mask::Learnable(p)) = &self.mask {
            let d_mask = Mat::from_fn(rows, r, |i, j| d_masked[(i, j)] * cache.base[(i, j)]);
            let (dc, ds) = p.backward(d_mask.as_ref());
            grads.push(dc);
            grads.push(ds);
        }
        if let Some(la) = &self.log_amp {
            // ∂out/∂log_amp_j = out_j.
            let masked = |i: usize, j: usize| cache.base[(i, j)] * cache.mask.as_ref().map_or(1.0, |m| m[(i, j)]);
            grads.push(Mat::from_fn(la.nrows(), 1, |j, _| (0..rows).map(|i| d_out[(i, j)] * masked(i, j) * amp(j)).sum()));
        }
        grads
    }

    /// Penalties on the raw parameters themselves: `deform · mean(δ²)` (anchored bases) and
    /// `width · mean(σ)` (learnable masks, pushes masks narrower). Adds their gradients into
    /// `grads` (same order as [`Pattern::params_mut`]) and returns their value.
    pub fn parameter_penalty(&self, deform: f32, width: f32, grads: &mut PatternGrads) -> f64 {
        let mut total = 0.0;
        if let (Base::Anchored { delta, .. }, true) = (&self.base, deform != 0.0) {
            let v = linalg::to_col_major(delta.as_ref());
            let mut g = linalg::to_col_major(grads[0].as_ref());
            total += deform as f64 * image_ops::mean_square(&v, Some((deform, &mut g)));
            grads[0] = linalg::from_col_major(&g, delta.nrows(), delta.ncols());
        }
        if let (Some(Mask::Learnable(p)), true) = (&self.mask, width != 0.0) {
            let sig = p.sigmas();
            let n = sig.len() as f32;
            total += width as f64 * sig.iter().map(|&s| s as f64).sum::<f64>() / n as f64;
            for (r, &ls) in p.log_sigma.col(0).iter().enumerate() {
                let s = sigmoid(ls);
                grads[2][(r, 0)] += width / n * 0.47 * s * (1.0 - s);
            }
        }
        total
    }
}

fn smooth(m: &Mat<f32>, passes: usize) -> Mat<f32> {
    if passes == 0 {
        return m.clone();
    }
    let v = image_ops::smooth(&linalg::to_col_major(m.as_ref()), Images::mnist(m.ncols()), passes);
    linalg::from_col_major(&v, m.nrows(), m.ncols())
}

fn smooth_adjoint(m: &Mat<f32>, passes: usize) -> Mat<f32> {
    if passes == 0 {
        return m.clone();
    }
    let v = image_ops::smooth_adjoint(&linalg::to_col_major(m.as_ref()), Images::mnist(m.ncols()), passes);
    linalg::from_col_major(&v, m.nrows(), m.ncols())
}

pub(crate) fn softplus(x: f32) -> f32 {
    if x > 20.0 { x } else { x.exp().ln_1p() }
}

pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
