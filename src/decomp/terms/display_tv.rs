//! `display_tv`: `TV(plus) + TV(minus)` of the unit display patterns, a smoothness prior on
//! what people see.

use super::{Grads, Input, Need, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops::{self, Images};

pub struct DisplayTv;

impl Term for DisplayTv {
    fn name(&self) -> &'static str {
        "display_tv"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.display_tv
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Image]
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let image = x.image();
        super::display::each_displayed(x, weight, grads, |p, r, g| {
            let half = Images::of(image, r);
            let (plus, minus) = p.split_at(p.len() / 2);
            let Some((w, g)) = g else { return ops::total_variation(plus, half, None) + ops::total_variation(minus, half, None) };
            let (gp, gm) = g.split_at_mut(g.len() / 2);
            ops::total_variation(plus, half, Some((w, gp))) + ops::total_variation(minus, half, Some((w, gm)))
        })
    }
}
