//! `symmetry`: `mean((a − b)²)` of displayed CP banks, a soft pull towards symmetric components.

use super::{Grads, Input, Schedule, Term};
use crate::decomp::form::Form;
use crate::decomp::recipe::Recipe;
use crate::image::ops;
use crate::linalg;

pub struct Symmetry;

impl Term for Symmetry {
    fn name(&self) -> &'static str {
        "symmetry"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.symmetry
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let mut total = 0.0;
        for (i, bank, f) in x.displayed().filter(|(_, b, _)| b.form == Form::Cp) {
            let diff = linalg::to_col_major((&f.a - &f.b).as_ref());
            let mut g = vec![0.0f32; diff.len()];
            total += ops::mean_square(&diff, Some((weight, &mut g)));
            let g = linalg::from_col_major(&g, f.a.nrows(), bank.rank());
            let fg = grads.factors(i, f);
            fg.a += &g;
            fg.b -= &g;
        }
        total
    }
}
