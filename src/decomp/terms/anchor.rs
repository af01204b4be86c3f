//! `anchor`: `MSE(normalize(a), anchor_a) + MSE(normalize(b), anchor_b)` (SPEC §5.19), keeping
//! template-anchored components close to their templates, or a dictionary refitted from another
//! run's (`start`) close to the patterns it started from.

use faer::Mat;

use super::{Grads, Input, Schedule, Term};
use crate::decomp::recipe::{Init, Recipe};
use crate::image::ops::{self, Images};
use crate::linalg;

pub struct Anchor;

impl Term for Anchor {
    fn name(&self) -> &'static str {
        "anchor"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.anchor
    }

    fn check(&self, recipe: &Recipe) -> Result<(), String> {
        match recipe.init {
            Init::Strokes | Init::Data => Ok(()),
            _ if !recipe.start.is_empty() => Ok(()),
            other => Err(format!(
                "needs anchors: template-anchored factors (init = \"strokes\" or \"data\") or a start dictionary (start = RUN), not init = {other:?}"
            )),
        }
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let mut total = 0.0;
        for (i, bank, f) in x.displayed() {
            let Some(anchors) = &bank.anchors else { continue };
            let fg = grads.factors(i, f);
            total += mse_to_anchor(weight, &f.a, &anchors.a, &mut fg.a);
            if bank.form.has_second_factor() {
                total += mse_to_anchor(weight, &f.b, &anchors.b, &mut fg.b);
            }
        }
        total
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["init=strokes", "anchor=0.5"])
    }
}

/// `mean((normalize(x) − anchor)²)` over all entries (anchors are unit-norm), with
/// `weight · ∇` added into `g`.
fn mse_to_anchor(weight: f32, x: &Mat<f32>, anchor: &Mat<f32>, g: &mut Mat<f32>) -> f64 {
    let columns = Images { h: x.nrows(), w: 1, n: x.ncols() };
    let xv = linalg::to_col_major(x.as_ref());
    let mut diff = ops::normalize_columns(&xv, columns);
    for (j, d) in diff.chunks_exact_mut(x.nrows()).enumerate() {
        d.iter_mut().zip(linalg::col(anchor.as_ref(), j)).for_each(|(v, &a)| *v -= a);
    }
    let mut gd = vec![0.0f32; diff.len()];
    let v = ops::mean_square(&diff, Some((weight, &mut gd)));
    linalg::add_col_major(g.as_mut(), &ops::normalize_columns_backward(&xv, &gd, columns));
    v
}
