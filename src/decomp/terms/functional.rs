//! `functional`: `‖B − T‖²_M / ‖B‖²_M`, the relative error in the functional inner product
//! with `M` the training inputs' second moment
//! ([`Functional`](crate::interaction::functional::Functional)): fidelity on what the inputs
//! excite, exact from Gram matrices, so patterns are free where inputs never reach; unlike a
//! cosine it fixes the dictionary's scale too.

use super::{Grads, Input, Need, Schedule, Term};
use crate::decomp::recipe::Recipe;

pub struct FunctionalFidelity;

impl Term for FunctionalFidelity {
    fn name(&self) -> &'static str {
        "functional"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.functional
    }

    fn needs(&self) -> &'static [Need] {
        &[Need::Inputs]
    }

    fn check(&self, recipe: &Recipe) -> Result<(), String> {
        if recipe.stages == 1 {
            Ok(())
        } else {
            Err("fits the whole tensor, so it cannot drive a boosted second stage (stages = 2)".into())
        }
    }

    fn heavy(&self) -> bool {
        true
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let f = x.data.functional.expect("the second moment is built when the term is active");
        f.error_loss(x.data.target.inter, x.triples, weight, grads.triples(x.triples))
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["tensor=0.5", "functional=0.7"])
    }
}
