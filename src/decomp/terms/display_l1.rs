//! `display_l1`: `mean|plus| + mean|minus|` of the unit display patterns, a sparsity prior on
//! what people see.

use super::{Grads, Input, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops;

pub struct DisplayL1;

impl Term for DisplayL1 {
    fn name(&self) -> &'static str {
        "display_l1"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.display_l1
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        super::display::each_displayed(x, weight, grads, |p, _, g| {
            let (plus, minus) = p.split_at(p.len() / 2);
            let Some((w, g)) = g else { return ops::mean_abs(plus, None) + ops::mean_abs(minus, None) };
            let (gp, gm) = g.split_at_mut(g.len() / 2);
            ops::mean_abs(plus, Some((w, gp))) + ops::mean_abs(minus, Some((w, gm)))
        })
    }
}
