//! `duplicate`: `mean((NᵀN − I)²)` over a bank's unit `[plus | minus]` patterns (SPEC §5.12):
//! discourages two components showing the same pattern.

use super::{Grads, Input, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops::{self, Images};

pub struct Duplicate;

impl Term for Duplicate {
    fn name(&self) -> &'static str {
        "duplicate"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.duplicate
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        super::display::each_displayed(x, weight, grads, |p, r, g| ops::duplicate(p, Images { h: p.len() / (2 * r), w: 1, n: 2 * r }, g))
    }
}
