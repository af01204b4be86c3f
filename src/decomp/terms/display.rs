//! The block the display priors act on: every displayed bank's unit display patterns
//! `[plus | minus]` (SPEC §4.1, [`Form::display`](crate::decomp::Form::display)), one image per
//! column, `r` plus columns then `r` minus columns.

use super::{Grads, Input};
use crate::decomp::form::{FactorGrads, Factors, Form};
use crate::image::ops::{self, Grad, Images};
use crate::linalg;

/// `Σ_banks prior([plus | minus])` over the displayed banks, with `weight · ∇` taken back
/// through the normalisation and the form into each bank's factor gradients;
/// `prior(patterns, r, grad)` sees the `2r` unit patterns of one bank.
pub(super) fn each_displayed(x: &Input<'_>, weight: f32, grads: &mut Grads, prior: impl Fn(&[f32], usize, Grad<'_, f32>) -> f64) -> f64 {
    displayed(x, weight, grads, true, |p, r, g| prior(p, r / 2, g))
}

/// [`each_displayed`] for priors that are means over the non-zero images:
/// `prior(patterns, n, grad)` sees the bank's `n` patterns, without the all-zero minus patterns
/// of symmetric components (a third of the copying of such a bank, for the same value).
pub(super) fn each_displayed_image(
    x: &Input<'_>,
    weight: f32,
    grads: &mut Grads,
    prior: impl Fn(&[f32], usize, Grad<'_, f32>) -> f64,
) -> f64 {
    displayed(x, weight, grads, false, prior)
}

fn displayed(x: &Input<'_>, weight: f32, grads: &mut Grads, zero_minus: bool, prior: impl Fn(&[f32], usize, Grad<'_, f32>) -> f64) -> f64 {
    let mut total = 0.0;
    for (i, bank, f) in x.displayed() {
        total += through_display(bank.form, f, zero_minus, weight, grads.factors(i, f), &prior);
    }
    total
}

/// `prior(patterns, n, grad)` of one bank's `n` unit display patterns (with its symmetric
/// components' all-zero minus patterns when `zero_minus`), with `weight · ∇` taken back through
/// the normalisation and the form into `g`.
pub(super) fn through_display(
    form: Form,
    f: &Factors,
    zero_minus: bool,
    weight: f32,
    g: &mut FactorGrads,
    prior: impl FnOnce(&[f32], usize, Grad<'_, f32>) -> f64,
) -> f64 {
    let (r, pixels) = (f.a.ncols(), f.a.nrows());
    let with_minus = zero_minus || form.has_minus();
    let (plus, minus) = form.display(&f.a, &f.b);
    let mut src = linalg::to_col_major(plus.as_ref());
    if with_minus {
        src.extend(linalg::to_col_major(minus.as_ref()));
    }
    let n = if with_minus { 2 * r } else { r };
    // Normalisation is per column; the block's geometry does not matter to it.
    let columns = Images { h: pixels, w: 1, n };
    let patterns = ops::normalize_columns(&src, columns);
    let mut grad = vec![0.0f32; patterns.len()];
    let total = prior(&patterns, n, Some((weight, &mut grad)));
    let g_src = ops::normalize_columns_backward(&src, &grad, columns);
    let half = pixels * r;
    let gp = linalg::from_col_major(&g_src[..half], pixels, r);
    let gm = if with_minus { linalg::from_col_major(&g_src[half..], pixels, r) } else { faer::Mat::zeros(pixels, r) };
    let (ga, gb) = form.display_backward(gp, gm);
    g.a += &ga;
    g.b += &gb;
    total
}
