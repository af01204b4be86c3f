//! `head_l1`: `mean|D|` of the displayed heads, pushing each component towards few classes.

use super::{Grads, Input, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops;
use crate::linalg;

pub struct HeadL1;

impl Term for HeadL1 {
    fn name(&self) -> &'static str {
        "head_l1"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.head_l1
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let mut total = 0.0;
        for (i, _, f) in x.displayed() {
            let d = linalg::to_col_major(f.d.as_ref());
            let mut g = vec![0.0f32; d.len()];
            total += ops::mean_abs(&d, Some((weight, &mut g)));
            linalg::add_col_major(grads.factors(i, f).d.as_mut(), &g);
        }
        total
    }
}
