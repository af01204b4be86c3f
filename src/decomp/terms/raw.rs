//! The block the raw-factor priors act on: every displayed bank's effective factors `[a | b]`
//! (just `a` for symmetric banks), one image per column.

use super::{Grads, Input};
use crate::image::ops::Grad;
use crate::linalg;

/// `Σ_banks prior([a | b])` over the displayed banks, with `weight · ∇` added into each bank's
/// factor gradients; `prior(values, columns, grad)` sees one column-major block.
pub(super) fn each_displayed(x: &Input<'_>, weight: f32, grads: &mut Grads, prior: impl Fn(&[f32], usize, Grad<'_, f32>) -> f64) -> f64 {
    let mut total = 0.0;
    for (i, bank, f) in x.displayed() {
        let two = bank.form.has_second_factor();
        let mut values = linalg::to_col_major(f.a.as_ref());
        if two {
            values.extend(linalg::to_col_major(f.b.as_ref()));
        }
        let mut g = vec![0.0f32; values.len()];
        let columns = if two { 2 * bank.rank() } else { bank.rank() };
        total += prior(&values, columns, Some((weight, &mut g)));
        let half = f.a.nrows() * f.a.ncols();
        let fg = grads.factors(i, f);
        linalg::add_col_major(fg.a.as_mut(), &g[..half]);
        if two {
            linalg::add_col_major(fg.b.as_mut(), &g[half..]);
        }
    }
    total
}
