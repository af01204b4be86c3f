//! The component figure of a dictionary (SPEC §9–§10, with the reference's missing labels
//! and colour key added): the strongest components as columns; rows are the positive
//! pattern, the negative pattern and the class head.

use crate::decomp::{Components, Form};
use crate::figures::{Cell, Grid, Scale};
use crate::image::ImageShape;
use crate::metrics::patterns::denoise_top_pixels;

/// What the colours mean, printed under every component figure.
pub const CONVENTION: &str = "patterns: red = positive pixel weight, blue = negative, white = 0, one symmetric scale per figure. \
A component adds d_c·(a·x)(b·x) = (d_c/4)[‖a+b‖²(plus·x)² − ‖a−b‖²(minus·x)²] to logit c: an image matching the plus row (either sign) \
raises the logits of classes with a positive head bar, one matching the minus row lowers them. Head bars: red ≥ 0, blue < 0 (as patterns), classes 0–9.";

/// A grid of the `k` strongest components of `c`, drawn on `shape`; `top_pixels = Some(q)`
/// keeps only pixels above the q-quantile of |pattern| (SPEC §9.3, display only).
pub fn component_grid(c: &Components, shape: ImageShape, k: usize, title: &str, top_pixels: Option<f64>) -> Grid {
    let shown = &c.items[..k.min(c.len())];
    let pattern = |v: &[f32]| {
        Cell::Pattern(match top_pixels {
            Some(q) => denoise_top_pixels(v, q),
            None => v.to_vec(),
        })
    };
    let total: f32 = c.strengths().iter().sum();
    let titles = shown
        .iter()
        .enumerate()
        .map(|(r, comp)| {
            let (class, sign) = comp.head_class();
            format!("#{} {}{}\nσ {:.0}%", r + 1, if sign < 0.0 { "−" } else { "+" }, class, 100.0 * comp.strength / total.max(1e-12))
        })
        .collect();
    // Rows are named for the form when every shown component has it, else as CP components.
    let form = if shown.iter().all(|comp| comp.form == Form::Split) { Form::Split } else { Form::Cp };
    let (plus_name, minus_name) = form.pattern_names();
    Grid {
        title: title.to_string(),
        column_titles: titles,
        row_labels: vec![plus_name.to_string(), minus_name.to_string(), "head d".to_string()],
        rows: vec![
            shown.iter().map(|comp| pattern(&comp.plus)).collect(),
            shown.iter().map(|comp| if comp.form.has_minus() { pattern(&comp.minus) } else { Cell::Empty }).collect(),
            shown.iter().map(|comp| Cell::Bars(comp.head.clone())).collect(),
        ],
        cell_titles: Vec::new(),
        image_side: (shape.height, shape.width),
        caption: format!(
            "{}{CONVENTION} Columns are ordered by strength σ = ‖a‖‖b‖‖d‖ (share of the total in the title).",
            if top_pixels.is_some() { "Top pixels only (display filter). " } else { "" }
        ),
        scale: Scale::Shared,
    }
}
