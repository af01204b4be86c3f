//! `raw_l1`: `mean|[a | b]|` of the displayed factors (SPEC §5.1), a sparsity prior.

use super::{Grads, Input, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops;

pub struct RawL1;

impl Term for RawL1 {
    fn name(&self) -> &'static str {
        "raw_l1"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.raw_l1
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        super::raw::each_displayed(x, weight, grads, |v, _, g| ops::mean_abs(v, g))
    }
}
