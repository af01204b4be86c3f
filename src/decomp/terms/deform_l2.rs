//! `deform_l2`: `mean(δ²)` of the template deformations of anchored displayed factors
//! (`anchor + s·smooth(δ)`), a penalty on the raw parameters themselves.

use super::{Grads, Input, Schedule, Term};
use crate::decomp::recipe::{Init, Recipe};
use crate::linalg;

pub struct DeformL2;

impl Term for DeformL2 {
    fn name(&self) -> &'static str {
        "deform_l2"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.deform_l2
    }

    fn check(&self, recipe: &Recipe) -> Result<(), String> {
        match recipe.init {
            Init::Strokes | Init::Data => Ok(()),
            other => Err(format!("needs template-anchored factors (init = \"strokes\" or \"data\"), not init = {other:?}")),
        }
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let mut total = 0.0;
        for (i, bank, _) in x.displayed() {
            for (side, offset) in bank.sides() {
                let Some((delta, at)) = side.deformation() else { continue };
                let len = (delta.nrows() * delta.ncols()).max(1);
                // Accumulated in f64, as mean_square does.
                total += (0..delta.ncols())
                    .map(|j| linalg::col(delta.as_ref(), j).iter().map(|&v| (v as f64).powi(2)).sum::<f64>())
                    .sum::<f64>()
                    / len as f64;
                let scale = 2.0 * weight / len as f32;
                grads.params(i, bank)[offset + at] += delta * faer::Scale(scale);
            }
        }
        total
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["init=strokes", "deform_l2=0.3"])
    }
}
