//! `anchor_strength`: `mean (ln s − ln s₀)²` over an anchored bank's display patterns, with
//! `s = ‖d‖‖p‖²` a pattern's strength (the weight by which the atlas and `bilens compare`
//! rank it) and `s₀` its strength as the bank started. The `anchor` prior holds where each
//! pattern points; this one holds how much it weighs, so that two models' dictionaries refitted
//! from one start keep one order of importance: without it, the patterns stay alike but a
//! class's fourth and fifth concepts trade places on one model and not the other.

use faer::Mat;

use super::{Grads, Input, Schedule, Term};
use crate::decomp::form::{Factors, Form};
use crate::decomp::recipe::Recipe;

pub struct AnchorStrength;

impl Term for AnchorStrength {
    fn name(&self) -> &'static str {
        "anchor_strength"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.anchor_strength
    }

    fn check(&self, recipe: &Recipe) -> Result<(), String> {
        super::anchor::Anchor.check(recipe)
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let mut total = 0.0;
        for (i, bank, f) in x.displayed() {
            let Some(anchors) = &bank.anchors else { continue };
            let (plus, minus) = bank.form.display(&f.a, &f.b);
            // (component, side, ln s − ln s₀) for every pattern that has a strength now and at the start.
            let residuals: Vec<(usize, usize, f64)> = strengths_of(&plus, &minus, &f.d)
                .iter()
                .zip(&anchors.strengths)
                .enumerate()
                .flat_map(|(k, (now, start))| (0..2).map(move |side| (k, side, now[side], start[side])))
                .filter(|&(_, _, now, start)| now > 0.0 && start > 0.0)
                .map(|(k, side, now, start)| (k, side, now.ln() - start.ln()))
                .collect();
            let n = residuals.len().max(1) as f64;
            let (mut g_plus, mut g_minus) = (Mat::zeros(plus.nrows(), plus.ncols()), Mat::zeros(minus.nrows(), minus.ncols()));
            let fg = grads.factors(i, f);
            for &(k, side, r) in &residuals {
                total += r * r / n;
                // ∂(ln s)/∂p = 2p/‖p‖², ∂(ln s)/∂d = d/‖d‖².
                let scale = weight as f64 * 2.0 * r / n;
                let (p, g) = if side == 0 { (&plus, &mut g_plus) } else { (&minus, &mut g_minus) };
                let p_sq = norm_sq(p.col(k).iter());
                for j in 0..p.nrows() {
                    g[(j, k)] += (scale * 2.0 * p[(j, k)] as f64 / p_sq) as f32;
                }
                let d_sq = norm_sq(f.d.col(k).iter());
                for c in 0..f.d.nrows() {
                    fg.d[(c, k)] += (scale * f.d[(c, k)] as f64 / d_sq) as f32;
                }
            }
            let (ga, gb) = bank.form.display_backward(g_plus, g_minus);
            fg.a += ga;
            if bank.form.has_second_factor() {
                fg.b += gb;
            }
        }
        total
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["init=strokes", "form=split", "anchor_strength=0.5"])
    }
}

/// Each component's display patterns' strengths `‖d‖‖p‖²` (plus, minus).
pub fn strengths(form: Form, f: &Factors) -> Vec<[f64; 2]> {
    let (plus, minus) = form.display(&f.a, &f.b);
    strengths_of(&plus, &minus, &f.d)
}

/// [`strengths`] from display patterns already formed.
fn strengths_of(plus: &Mat<f32>, minus: &Mat<f32>, d: &Mat<f32>) -> Vec<[f64; 2]> {
    (0..d.ncols())
        .map(|k| {
            let head = norm_sq(d.col(k).iter()).sqrt();
            [head * norm_sq(plus.col(k).iter()), head * norm_sq(minus.col(k).iter())]
        })
        .collect()
}

fn norm_sq<'a>(v: impl Iterator<Item = &'a f32>) -> f64 {
    v.map(|&e| e as f64 * e as f64).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_patterns_strength_is_its_heads_norm_times_its_squared_norm() {
        let f = Factors {
            a: Mat::from_fn(2, 2, |i, k| [[3.0, 4.0], [1.0, 0.0]][k][i]),
            b: Mat::from_fn(2, 2, |i, k| [[0.0, 0.0], [1.0, 2.0]][k][i]),
            d: Mat::from_fn(2, 2, |c, k| [[0.0, -2.0], [0.5, 0.0]][k][c]),
        };
        assert_eq!(strengths(Form::Split, &f), [[50.0, 0.0], [0.5, 2.5]]);
        // CP displays (a + b, a − b); a symmetric component has no minus pattern.
        assert_eq!(strengths(Form::Cp, &f), [[50.0, 50.0], [4.0, 2.0]]);
        assert_eq!(strengths(Form::Symmetric, &f), [[50.0, 0.0], [0.5, 0.0]]);
    }
}
