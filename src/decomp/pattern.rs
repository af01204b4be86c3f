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

/// What [`Pattern::backward`] needs from the forward pass.
#[derive(Clone, Debug)]
struct Cache {
    /// The base factor, when a learnable mask or an amplitude needs it.
    base: Option<Mat<f32>>,
    /// The learnable masks (fixed ones are read from [`Pattern::mask`]).
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
            Base::Softplus { raw } => {
                let mut m = raw.clone();
                linalg::map_in_place(m.as_mut(), |_, _, v| softplus(v));
                m
            }
            Base::Anchored { anchor, delta, scale, passes } => {
                let mut m = smooth(delta, *passes);
                for j in 0..m.ncols() {
                    let a = linalg::col(anchor.as_ref(), j);
                    linalg::col_mut(m.as_mut(), j).iter_mut().zip(a).for_each(|(v, &a)| *v = a + *v * scale);
                }
                m
            }
        };
        let learned = match &self.mask {
            Some(Mask::Learnable(p)) => Some(p.masks()),
            _ => None,
        };
        let mask = match &self.mask {
            Some(Mask::Fixed(m)) => Some(m),
            _ => learned.as_ref(),
        };
        let amps = self.amplitudes();
        // The backward pass needs the base only through a learnable mask or an amplitude.
        let keep_base = learned.is_some() || amps.is_some();
        let (mut out, cached_base) = if keep_base { (base.clone(), Some(base)) } else { (base, None) };
        for j in 0..out.ncols() {
            let amp = amps.as_ref().map_or(1.0, |a| a[j]);
            let o = linalg::col_mut(out.as_mut(), j);
            match mask {
                Some(m) => o.iter_mut().zip(linalg::col(m.as_ref(), j)).for_each(|(v, &m)| *v *= m * amp),
                None if amp != 1.0 => o.iter_mut().for_each(|v| *v *= amp),
                None => {}
            }
        }
        self.cache = Some(Cache { base: cached_base, mask: learned });
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

    /// Whether forward and backward are little more than a copy (a free factor without
    /// smoothing, mask or amplitude), so not worth handing to another thread.
    pub fn is_cheap(&self) -> bool {
        matches!(self.base, Base::Free { passes: 0, .. }) && self.mask.is_none() && self.log_amp.is_none()
    }

    /// `exp(log_amp)` per component, if the pattern has amplitudes.
    fn amplitudes(&self) -> Option<Vec<f32>> {
        self.log_amp.as_ref().map(|la| linalg::col(la.as_ref(), 0).iter().map(|v| v.exp()).collect())
    }

    /// Gradients of the raw parameters given `∂L/∂factor` (after [`Pattern::forward`]).
    pub fn backward(&self, d_out: &Mat<f32>) -> PatternGrads {
        self.backward_owned(d_out.clone())
    }

    /// [`Pattern::backward`], reusing `d_out`'s storage.
    pub fn backward_owned(&self, mut d: Mat<f32>) -> PatternGrads {
        let cache = self.cache.as_ref().expect("Pattern::backward called before forward");
        let r = d.ncols();
        let mask = match &self.mask {
            Some(Mask::Fixed(m)) => Some(m),
            Some(Mask::Learnable(_)) => cache.mask.as_ref(),
            None => None,
        };
        let amps = self.amplitudes();
        // ∂out/∂log_amp_j = out_j = base_j ⊙ mask_j · amp_j.
        let d_log_amp = amps.as_ref().map(|amps| {
            let base = cache.base.as_ref().expect("base cached for amplitudes");
            Mat::from_fn(r, 1, |j, _| {
                let (dc, bc) = (linalg::col(d.as_ref(), j), linalg::col(base.as_ref(), j));
                let sum: f32 = match mask {
                    Some(m) => dc.iter().zip(bc).zip(linalg::col(m.as_ref(), j)).map(|((&g, &b), &m)| g * b * m).sum(),
                    None => dc.iter().zip(bc).map(|(&g, &b)| g * b).sum(),
                };
                sum * amps[j]
            })
        });
        // Through the amplitude: d(masked) = d_out · amp.
        if let Some(amps) = &amps {
            for (j, &amp) in amps.iter().enumerate() {
                linalg::col_mut(d.as_mut(), j).iter_mut().for_each(|v| *v *= amp);
            }
        }
        // Through a learnable mask: d(mask) = d(masked) ⊙ base.
        let d_mask_params = match &self.mask {
            Some(Mask::Learnable(p)) => {
                let base = cache.base.as_ref().expect("base cached for learnable masks");
                let mut d_mask = d.clone();
                for j in 0..r {
                    linalg::col_mut(d_mask.as_mut(), j).iter_mut().zip(linalg::col(base.as_ref(), j)).for_each(|(v, &b)| *v *= b);
                }
                Some(p.backward(d_mask.as_ref()))
            }
            _ => None,
        };
        // d(base) = d(masked) ⊙ mask.
        if let Some(m) = mask {
            for j in 0..r {
                linalg::col_mut(d.as_mut(), j).iter_mut().zip(linalg::col(m.as_ref(), j)).for_each(|(v, &m)| *v *= m);
            }
        }
        let mut grads = vec![match &self.base {
            Base::Free { passes, .. } => smooth_adjoint(d, *passes),
            Base::Softplus { raw } => {
                linalg::map_in_place(d.as_mut(), |i, j, v| v * sigmoid(raw[(i, j)]));
                d
            }
            Base::Anchored { scale, passes, .. } => {
                let mut g = smooth_adjoint(d, *passes);
                linalg::map_in_place(g.as_mut(), |_, _, v| v * scale);
                g
            }
        }];
        if let Some((dc, ds)) = d_mask_params {
            grads.push(dc);
            grads.push(ds);
        }
        grads.extend(d_log_amp);
        grads
    }

    /// Penalties on the raw parameters themselves: `deform · mean(δ²)` (anchored bases) and
    /// `width · mean(σ)` (learnable masks, pushes masks narrower). Adds their gradients into
    /// `grads` (same order as [`Pattern::params_mut`]) and returns their value.
    pub fn parameter_penalty(&self, deform: f32, width: f32, grads: &mut PatternGrads) -> f64 {
        let mut total = 0.0;
        if let (Base::Anchored { delta, .. }, true) = (&self.base, deform != 0.0) {
            // deform · mean(δ²), gradient 2·deform·δ/len, accumulated in f64 as mean_square does.
            let scale = 2.0 * deform / (delta.nrows() * delta.ncols()).max(1) as f32;
            let mut sum = 0.0f64;
            for j in 0..delta.ncols() {
                let dc = linalg::col(delta.as_ref(), j);
                sum += dc.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>();
                linalg::col_mut(grads[0].as_mut(), j).iter_mut().zip(dc).for_each(|(g, &v)| *g += scale * v);
            }
            total += deform as f64 * sum / (delta.nrows() * delta.ncols()).max(1) as f64;
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

fn smooth_adjoint(m: Mat<f32>, passes: usize) -> Mat<f32> {
    if passes == 0 {
        return m;
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
