//! `mask_width`: `mean(σ)` of learnable Gaussian masks (SPEC §5.18), pushing masks narrower.

use super::{Grads, Input, Need, Schedule, Term};
use crate::decomp::pattern::sigmoid;
use crate::decomp::recipe::{MaskKind, Recipe};

pub struct MaskWidth;

impl Term for MaskWidth {
    fn name(&self) -> &'static str {
        "mask_width"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.mask_width
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Image]
    }

    fn check(&self, recipe: &Recipe) -> Result<(), String> {
        if recipe.mask == MaskKind::Learnable { Ok(()) } else { Err("needs learnable masks (mask = \"learnable\")".into()) }
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let mut total = 0.0;
        for (i, bank, _) in x.displayed() {
            for (side, offset) in bank.sides() {
                let Some((masks, at)) = side.learnable_mask() else { continue };
                let sigmas = masks.sigmas();
                let n = sigmas.len() as f32;
                total += sigmas.iter().map(|&s| s as f64).sum::<f64>() / n as f64;
                // σ = 0.18 + 0.47·sigmoid(log σ).
                let g = &mut grads.params(i, bank)[offset + at];
                for (r, &ls) in masks.log_sigma.col(0).iter().enumerate() {
                    let s = sigmoid(ls);
                    g[(r, 0)] += weight / n * 0.47 * s * (1.0 - s);
                }
            }
        }
        total
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["mask=learnable", "mask_width=0.2"])
    }
}
