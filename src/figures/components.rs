//! The component figure of a dictionary (SPEC §9–§10, with the reference's missing labels
//! and colour key added): the strongest components as columns; rows are the positive
//! pattern, the negative pattern and the class head.

use std::path::Path;

use anyhow::Result;

use super::{Cell, Grid, Scale, draw_grid};
use crate::decomp::bank::Form;
use crate::decomp::components::Components;
use crate::metrics::patterns::denoise_top_pixels;

/// What the colours mean, printed under every component figure.
pub const CONVENTION: &str = "patterns: red = positive pixel weight, blue = negative, white = 0, one symmetric scale per figure. \
A component adds d_c·(a·x)(b·x) = (d_c/4)[‖a+b‖²(plus·x)² − ‖a−b‖²(minus·x)²] to logit c: an image matching the plus row (either sign) \
raises the logits of classes with a positive head bar, one matching the minus row lowers them. Head bars: blue ≥ 0, red < 0, classes 0–9.";

/// A grid of the `k` strongest components; `top_pixels = Some(q)` keeps only pixels above the
/// q-quantile of |pattern| (SPEC §9.3, display only).
pub fn component_grid(c: &Components, k: usize, title: &str, top_pixels: Option<f64>) -> Grid {
    let k = k.min(c.len());
    let pattern = |m: &faer::Mat<f32>, r: usize| {
        let col: Vec<f32> = m.col(r).iter().copied().collect();
        Cell::Pattern(match top_pixels {
            Some(q) => denoise_top_pixels(&col, q),
            None => col,
        })
    };
    let minus_row = |r: usize| if c.form[r] == Form::Symmetric { Cell::Empty } else { pattern(&c.minus, r) };
    let total: f32 = c.strength.iter().sum();
    let titles = (0..k)
        .map(|r| {
            let (class, sign) = c.head_class(r);
            format!("#{} {}{}\nσ {:.0}%", r + 1, if sign < 0.0 { "−" } else { "+" }, class, 100.0 * c.strength[r] / total.max(1e-12))
        })
        .collect();
    let label = |form: &[Form], cp: &str, split: &str| {
        if form.iter().take(k).all(|f| *f == Form::Split) { split.to_string() } else { cp.to_string() }
    };
    Grid {
        title: title.to_string(),
        column_titles: titles,
        row_labels: vec![label(&c.form, "plus (a+b)", "positive p"), label(&c.form, "minus (a−b)", "negative n"), "head d".to_string()],
        rows: vec![
            (0..k).map(|r| pattern(&c.plus, r)).collect(),
            (0..k).map(minus_row).collect(),
            (0..k).map(|r| Cell::Bars(c.heads.col(r).iter().copied().collect())).collect(),
        ],
        cell_titles: Vec::new(),
        image_side: (28, 28),
        caption: format!(
            "{}{CONVENTION} Columns are ordered by strength σ = ‖a‖‖b‖‖d‖ (share of the total in the title).",
            if top_pixels.is_some() { "Top pixels only (display filter). " } else { "" }
        ),
        scale: Scale::Shared,
    }
}

/// Draws [`component_grid`] to `path`.
pub fn draw_components(c: &Components, k: usize, title: &str, top_pixels: Option<f64>, path: &Path) -> Result<()> {
    draw_grid(&component_grid(c, k, title, top_pixels), path)
}
