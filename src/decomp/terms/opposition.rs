//! `opposition`: the mean squared cosine between a class's evidence and counter-evidence
//! patterns (a plus pattern with a positive head and any pattern counting against the same class,
//! or the reverse). A pattern and a near-copy that count for and against one class cancel on every
//! input that excites them, so the minimality prior alone can shorten explanations by making such
//! opposing twins (the `opposing_twins` metric); this prior keeps evidence and counter-evidence
//! apart. Classes and signs come from the heads' largest entries and carry no gradient.

use super::{Grads, Input, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::image::ops::Grad;

pub struct Opposition;

impl Term for Opposition {
    fn name(&self) -> &'static str {
        "opposition"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.opposition
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        super::display::each_displayed_with_heads(x, weight, grads, |patterns, r, heads, g| {
            // (class, evidence sign) of plus pattern k and of minus pattern r + k.
            let labels: Vec<(usize, f32)> = (0..r)
                .map(|k| {
                    let class = crate::model::argmax((0..heads.nrows()).map(|c| heads[(c, k)].abs()));
                    (class, heads[(class, k)].signum())
                })
                .collect();
            let label = |j: usize| if j < r { labels[j] } else { (labels[j - r].0, -labels[j - r].1) };
            opposing_cosines(patterns, 2 * r, &label, g)
        })
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["opposition=0.5"])
    }
}

/// `mean cos²` over the pairs of the `n` unit columns of `patterns` that `label` puts in one
/// class with opposite signs (all-zero columns, such as a symmetric bank's minus patterns, are
/// left out), with `weight · ∇` added into `grad`; 0 without such pairs.
fn opposing_cosines(patterns: &[f32], n: usize, label: &dyn Fn(usize) -> (usize, f32), grad: Grad<'_, f32>) -> f64 {
    let pixels = patterns.len() / n.max(1);
    let col = |j: usize| &patterns[j * pixels..(j + 1) * pixels];
    let live: Vec<usize> = (0..n).filter(|&j| col(j).iter().any(|&v| v != 0.0)).collect();
    let mut pairs = Vec::new();
    for (i, &j) in live.iter().enumerate() {
        for &l in &live[i + 1..] {
            let ((cj, sj), (cl, sl)) = (label(j), label(l));
            if cj == cl && sj != sl {
                let cos: f64 = col(j).iter().zip(col(l)).map(|(&a, &b)| a as f64 * b as f64).sum();
                pairs.push((j, l, cos));
            }
        }
    }
    if pairs.is_empty() {
        return 0.0;
    }
    let count = pairs.len() as f64;
    if let Some((weight, g)) = grad {
        // ∂cos²/∂n_j = 2 cos · n_l (the caller takes it back through the normalisation).
        for &(j, l, cos) in &pairs {
            let coef = (weight as f64 * 2.0 * cos / count) as f32;
            for p in 0..pixels {
                g[j * pixels + p] += coef * patterns[l * pixels + p];
                g[l * pixels + p] += coef * patterns[j * pixels + p];
            }
        }
    }
    pairs.iter().map(|(_, _, cos)| cos * cos).sum::<f64>() / count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_opposing_pairs_of_one_class_count() {
        // Columns: (1, 0), (0.6, 0.8), (1, 0): 0 and 1 oppose in class 0, 2 is class 1.
        let patterns = [1.0, 0.0, 0.6, 0.8, 1.0, 0.0];
        let labels = [(0, 1.0), (0, -1.0), (1, -1.0)];
        let mut g = [0.0f32; 6];
        let value = opposing_cosines(&patterns, 3, &|j| labels[j], Some((1.0, &mut g)));
        assert!((value - 0.36).abs() < 1e-6, "{value}");
        // ∂/∂n_0 = 2·0.6·n_1, ∂/∂n_1 = 2·0.6·n_0, nothing for the other class.
        let want = [0.72, 0.96, 1.2, 0.0, 0.0, 0.0];
        g.iter().zip(want).for_each(|(got, want)| assert!((got - want).abs() < 1e-6, "{g:?}"));
        assert_eq!(opposing_cosines(&patterns, 3, &|_| (0, 1.0), None), 0.0, "one sign: no pairs");
    }
}
