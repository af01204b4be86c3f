//! `sign_purity`: mean sign impurity of the unit display patterns (the share of each
//! pattern's energy in its minority sign), the sign-purity metric as a prior. A one-signed
//! pattern (a stroke, a blob) reads at a glance; a ± mixture needs a legend.

use super::{Grads, Input, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops::{self, Images};

pub struct SignPurity;

impl Term for SignPurity {
    fn name(&self) -> &'static str {
        "sign_purity"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.sign_purity
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        super::display::each_displayed_image(x, weight, grads, |p, n, g| {
            let pixels = p.len() / n.max(1);
            ops::sign_impurity(p, Images { h: pixels, w: 1, n }, g)
        })
    }
}
