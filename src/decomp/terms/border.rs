//! `border`: pattern energy weighted by its squared distance from the image centre (SPEC §5.11),
//! on the unit `[plus | minus]` patterns.

use super::{Grads, Input, Need, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops::{self, Images};

pub struct Border;

impl Term for Border {
    fn name(&self) -> &'static str {
        "border"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.border
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Image]
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let image = x.image();
        super::display::each_displayed(x, weight, grads, |p, r, g| ops::border(p, Images::of(image, 2 * r), g))
    }
}
