//! `spread`: mean spread of the unit display patterns (the variance of pixel position under
//! each pattern's energy, relative to a uniform image's), a differentiable stand-in for
//! locality that pulls each pattern's energy together around its centre.

use super::{Grads, Input, Need, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops::{self, Images};

pub struct Spread;

impl Term for Spread {
    fn name(&self) -> &'static str {
        "spread"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.spread
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Image]
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let image = x.image();
        super::display::each_displayed_image(x, weight, grads, |p, n, g| ops::spread(p, Images::of(image, n), g))
    }
}
