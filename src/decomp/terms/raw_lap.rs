//! `raw_lap`: mean |Laplacian| of the displayed factors `[a | b]` (SPEC §5.5): penalises
//! curvature rather than edges.

use super::{Grads, Input, Need, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops::{self, Images};

pub struct RawLap;

impl Term for RawLap {
    fn name(&self) -> &'static str {
        "raw_lap"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.raw_lap
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Image]
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let image = x.image();
        super::raw::each_displayed(x, weight, grads, |v, n, g| ops::laplacian(v, Images::of(image, n), g))
    }
}
