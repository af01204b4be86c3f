//! `coherence`: `1 − mean coherence` of the unit display patterns, the readability metric as
//! a prior. A zero-padded 3×3 mean keeps most of a smooth pattern's energy and a ninth of
//! speckle's, so the prior removes pixel-scale noise without flattening strokes.

use super::{Grads, Input, Need, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops::{self, Images};

pub struct Coherence;

impl Term for Coherence {
    fn name(&self) -> &'static str {
        "coherence"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.coherence
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Image]
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let image = x.image();
        super::display::each_displayed_image(x, weight, grads, |p, n, g| {
            let all = Images::of(image, n);
            1.0 - ops::coherence(p, all, g.map(|(w, g)| (-w, g)))
        })
    }
}
