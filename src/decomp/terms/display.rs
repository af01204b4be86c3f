//! The block the display priors act on: every displayed bank's unit display patterns
//! `[plus | minus]` (SPEC §4.1, [`Form::display`](crate::decomp::Form::display)), one image per
//! column, `r` plus columns then `r` minus columns.

use super::{Grads, Input};
use crate::image::ops::{self, Grad, Images};
use crate::linalg;

/// `Σ_banks prior([plus | minus])` over the displayed banks, with `weight · ∇` taken back
/// through the normalisation and the form into each bank's factor gradients;
/// `prior(patterns, r, grad)` sees the `2r` unit patterns of one bank.
pub(super) fn each_displayed(x: &Input<'_>, weight: f32, grads: &mut Grads, prior: impl Fn(&[f32], usize, Grad<'_, f32>) -> f64) -> f64 {
    let mut total = 0.0;
    for (i, bank, f) in x.displayed() {
        let (r, pixels) = (bank.rank(), f.a.nrows());
        let (plus, minus) = bank.form.display(&f.a, &f.b);
        let mut src = linalg::to_col_major(plus.as_ref());
        src.extend(linalg::to_col_major(minus.as_ref()));
        // Normalisation is per column; the block's geometry does not matter to it.
        let columns = Images { h: pixels, w: 1, n: 2 * r };
        let patterns = ops::normalize_columns(&src, columns);
        let mut g = vec![0.0f32; patterns.len()];
        total += prior(&patterns, r, Some((weight, &mut g)));
        let g_src = ops::normalize_columns_backward(&src, &g, columns);
        let half = pixels * r;
        let (gp, gm) = (linalg::from_col_major(&g_src[..half], pixels, r), linalg::from_col_major(&g_src[half..], pixels, r));
        let (ga, gb) = bank.form.display_backward(gp, gm);
        let fg = grads.factors(i, f);
        fg.a += &ga;
        fg.b += &gb;
    }
    total
}
