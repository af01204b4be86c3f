//! `residual_l2`: `mean(a²) + mean(b²) + mean(D²)` of residual banks, the penalty that keeps a
//! free residual small; its weight can be annealed linearly over the fit (`residual_anneal`).

use super::{Grads, Input, Schedule, Term};
use crate::decomp::form::Role;
use crate::decomp::recipe::Recipe;

pub struct ResidualL2;

impl Term for ResidualL2 {
    fn name(&self) -> &'static str {
        "residual_l2"
    }

    fn weight(&self, recipe: &Recipe, at: Schedule) -> f32 {
        match recipe.residual_anneal[..] {
            [start, end] => start + (end - start) * at.step as f32 / (at.steps.max(2) - 1) as f32,
            _ => recipe.priors.residual_l2,
        }
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let mut total = 0.0;
        for (i, _, f) in x.banks_with(Role::Residual) {
            let g = grads.factors(i, f);
            for (m, gm) in [(&f.a, &mut g.a), (&f.b, &mut g.b), (&f.d, &mut g.d)] {
                let n = (m.nrows() * m.ncols()).max(1) as f32;
                total += m.squared_norm_l2() as f64 / n as f64;
                *gm += m * faer::Scale(2.0 * weight / n);
            }
        }
        total
    }
}
