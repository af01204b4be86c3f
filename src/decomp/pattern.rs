//! How one side of a bank's components (an `inputs × r` factor matrix) is parameterised.
//!
//! A factor is built in up to three stages, each optional, so that every family of the
//! reference study is one configuration of the same pipeline (SPEC §6, §7.3–§7.5):
//!
//! `base` (free, softplus-nonnegative, or anchor + s·smooth(δ)) → `⊙ mask` (fixed or
//! learnable Gaussian) → `· exp(log_amp)` (per-component amplitude).
//!
//! [`Pattern::forward`] reads the parameters and returns the factor with a [`Tape`] of what
//! [`Pattern::backward`] needs to turn `∂L/∂factor` into gradients of the raw parameters.

use faer::Mat;

use crate::image::ImageShape;
use crate::image::ops::{self, Images};
use crate::image::templates::MaskParams;
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
    /// The image grid smoothing and learnable masks work on (`None` for inputs that are not
    /// images, where neither may be used).
    pub image: Option<ImageShape>,
    /// The sign each component keeps (`one_signed` recipes; see [`Pattern::project`]).
    pub signs: Option<Vec<f32>>,
}

/// What [`Pattern::backward`] needs from [`Pattern::forward`].
#[derive(Clone, Debug, Default)]
pub struct Tape {
    /// The base factor, when a learnable mask or an amplitude needs it.
    base: Option<Mat<f32>>,
    /// The learnable masks (fixed ones are read from [`Pattern::mask`]).
    mask: Option<Mat<f32>>,
}

/// Gradients of one pattern's raw parameters, in [`Pattern::params_mut`] order.
pub type PatternGrads = Vec<Mat<f32>>;

impl Pattern {
    pub fn new(base: Base, image: Option<ImageShape>) -> Self {
        Self { base, mask: None, log_amp: None, image, signs: None }
    }

    /// A free, unsmoothed factor (fitted factors read back from a file).
    pub fn fixed(values: Mat<f32>) -> Self {
        Self::new(Base::Free { raw: values, passes: 0 }, None)
    }

    pub fn rank(&self) -> usize {
        match &self.base {
            Base::Free { raw, .. } | Base::Softplus { raw } => raw.ncols(),
            Base::Anchored { anchor, .. } => anchor.ncols(),
        }
    }

    /// The factor matrix and the tape for [`Pattern::backward`].
    pub fn forward(&self) -> (Mat<f32>, Tape) {
        let base = match &self.base {
            Base::Free { raw, passes } => self.smooth(raw, *passes),
            Base::Softplus { raw } => {
                let mut m = raw.clone();
                linalg::map_in_place(m.as_mut(), |_, _, v| softplus(v));
                m
            }
            Base::Anchored { anchor, delta, scale, passes } => {
                let mut m = self.smooth(delta, *passes);
                for j in 0..m.ncols() {
                    let a = linalg::col(anchor.as_ref(), j);
                    linalg::col_mut(m.as_mut(), j).iter_mut().zip(a).for_each(|(v, &a)| *v = a + *v * scale);
                }
                m
            }
        };
        let learned = match &self.mask {
            Some(Mask::Learnable(p)) => Some(p.masks(self.shape())),
            _ => None,
        };
        let mask = match &self.mask {
            Some(Mask::Fixed(m)) => Some(m),
            _ => learned.as_ref(),
        };
        let amps = self.amplitudes();
        // The backward pass needs the base only through a learnable mask or an amplitude.
        let keep_base = learned.is_some() || amps.is_some();
        let (mut out, kept_base) = if keep_base { (base.clone(), Some(base)) } else { (base, None) };
        for j in 0..out.ncols() {
            let amp = amps.as_ref().map_or(1.0, |a| a[j]);
            let o = linalg::col_mut(out.as_mut(), j);
            match mask {
                Some(m) => o.iter_mut().zip(linalg::col(m.as_ref(), j)).for_each(|(v, &m)| *v *= m * amp),
                None if amp != 1.0 => o.iter_mut().for_each(|v| *v *= amp),
                None => {}
            }
        }
        (out, Tape { base: kept_base, mask: learned })
    }

    /// Keeps every component one-signed from now on, in the sign that holds most of its raw
    /// energy. Only free factors can be (the recipe is validated to have them).
    pub fn keep_dominant_signs(&mut self) {
        let Base::Free { raw, .. } = &self.base else { return };
        let sign_of = |j: usize| {
            let (plus, minus) = linalg::col(raw.as_ref(), j)
                .iter()
                .fold((0.0f64, 0.0f64), |(p, m), &v| if v > 0.0 { (p + (v as f64).powi(2), m) } else { (p, m + (v as f64).powi(2)) });
            if minus > plus { -1.0 } else { 1.0 }
        };
        self.signs = Some((0..raw.ncols()).map(sign_of).collect());
        self.project();
    }

    /// Zeroes the raw weights whose sign is not their component's: the projection onto
    /// one-signed factors, run after every optimiser step. Smoothing, masks and amplitudes keep
    /// signs, so the factor is as one-signed as its raw weights.
    pub fn project(&mut self) {
        let (Some(signs), Base::Free { raw, .. }) = (&self.signs, &mut self.base) else { return };
        for (j, &s) in signs.iter().enumerate() {
            linalg::col_mut(raw.as_mut(), j).iter_mut().filter(|v| **v * s < 0.0).for_each(|v| *v = 0.0);
        }
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

    /// Zero gradients for every raw parameter, in [`Pattern::params_mut`] order.
    pub fn zero_grads(&self) -> PatternGrads {
        let mut shapes = vec![match &self.base {
            Base::Free { raw, .. } | Base::Softplus { raw } => (raw.nrows(), raw.ncols()),
            Base::Anchored { delta, .. } => (delta.nrows(), delta.ncols()),
        }];
        if let Some(Mask::Learnable(p)) = &self.mask {
            shapes.push((p.centre_raw.nrows(), 2));
            shapes.push((p.log_sigma.nrows(), 1));
        }
        if let Some(la) = &self.log_amp {
            shapes.push((la.nrows(), 1));
        }
        shapes.into_iter().map(|(r, c)| Mat::zeros(r, c)).collect()
    }

    /// The template deformation `δ` of an anchored base and its position among the raw
    /// parameters (always first).
    pub fn deformation(&self) -> Option<(&Mat<f32>, usize)> {
        match &self.base {
            Base::Anchored { delta, .. } => Some((delta, 0)),
            _ => None,
        }
    }

    /// The learnable masks and the position of their `log_sigma` among the raw parameters.
    pub fn learnable_mask(&self) -> Option<(&MaskParams, usize)> {
        match &self.mask {
            Some(Mask::Learnable(p)) => Some((p, 2)),
            _ => None,
        }
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

    /// Gradients of the raw parameters given `∂L/∂factor` (`d`, consumed) and the tape of the
    /// forward pass that made the factor.
    pub fn backward(&self, tape: &Tape, mut d: Mat<f32>) -> PatternGrads {
        let r = d.ncols();
        let mask = match &self.mask {
            Some(Mask::Fixed(m)) => Some(m),
            Some(Mask::Learnable(_)) => tape.mask.as_ref(),
            None => None,
        };
        let amps = self.amplitudes();
        // ∂out/∂log_amp_j = out_j = base_j ⊙ mask_j · amp_j.
        let d_log_amp = amps.as_ref().map(|amps| {
            let base = tape.base.as_ref().expect("base kept for amplitudes");
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
                let base = tape.base.as_ref().expect("base kept for learnable masks");
                let mut d_mask = d.clone();
                for j in 0..r {
                    linalg::col_mut(d_mask.as_mut(), j).iter_mut().zip(linalg::col(base.as_ref(), j)).for_each(|(v, &b)| *v *= b);
                }
                Some(p.backward(self.shape(), d_mask.as_ref()))
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
            Base::Free { passes, .. } => self.smooth_adjoint(d, *passes),
            Base::Softplus { raw } => {
                linalg::map_in_place(d.as_mut(), |i, j, v| v * sigmoid(raw[(i, j)]));
                d
            }
            Base::Anchored { scale, passes, .. } => {
                let mut g = self.smooth_adjoint(d, *passes);
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

    /// The image grid; recipes that smooth or mask are validated to have one.
    fn shape(&self) -> ImageShape {
        self.image.expect("smoothing and learnable masks need an image shape (checked when the recipe is validated)")
    }

    fn smooth(&self, m: &Mat<f32>, passes: usize) -> Mat<f32> {
        if passes == 0 {
            return m.clone();
        }
        let v = ops::smooth(&linalg::to_col_major(m.as_ref()), Images::of(self.shape(), m.ncols()), passes);
        linalg::from_col_major(&v, m.nrows(), m.ncols())
    }

    fn smooth_adjoint(&self, m: Mat<f32>, passes: usize) -> Mat<f32> {
        if passes == 0 {
            return m;
        }
        let v = ops::smooth_adjoint(&linalg::to_col_major(m.as_ref()), Images::of(self.shape(), m.ncols()), passes);
        linalg::from_col_major(&v, m.nrows(), m.ncols())
    }
}

pub(crate) fn softplus(x: f32) -> f32 {
    if x > 20.0 { x } else { x.exp().ln_1p() }
}

pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
