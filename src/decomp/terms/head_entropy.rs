//! `head_entropy`: mean normalised entropy of the displayed heads' `|D|` columns (SPEC §5.10):
//! 0 for one-hot heads, 1 for uniform ones.

use super::{Grads, Input, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops;
use crate::linalg;

pub struct HeadEntropy;

impl Term for HeadEntropy {
    fn name(&self) -> &'static str {
        "head_entropy"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.head_entropy
    }

    /// Heads well away from zero: the entropy is too curved near zero entries for the test's
    /// finite-difference step.
    fn probe(&self) -> Recipe {
        super::probe_with(&["head_entropy=0.1", "head_init_scale=0.5"])
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let mut total = 0.0;
        for (i, _, f) in x.displayed().filter(|(_, _, f)| f.d.nrows() >= 2) {
            let d = linalg::to_col_major(f.d.as_ref());
            let mut g = vec![0.0f32; d.len()];
            total += ops::head_entropy(&d, f.d.nrows(), Some((weight, &mut g)));
            linalg::add_col_major(grads.factors(i, f).d.as_mut(), &g);
        }
        total
    }
}
