//! `raw_tv`: total variation of the displayed factors `[a | b]` (SPEC §5.4), a smoothness prior.

use super::{Grads, Input, Need, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops::{self, Images};

pub struct RawTv;

impl Term for RawTv {
    fn name(&self) -> &'static str {
        "raw_tv"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.raw_tv
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Image]
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let image = x.image();
        super::raw::each_displayed(x, weight, grads, |v, n, g| ops::total_variation(v, Images::of(image, n), g))
    }
}
