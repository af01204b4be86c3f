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
raises the logits of classes with a positive head bar, one matching the minus row lowers them. Head bars: red ≥ 0, blue < 0 (as patterns), one per output (class) from the left.";

/// Heads with more outputs than this are not drawn as bars; the column title names the
/// largest output instead.
const MAX_HEAD_BARS: usize = 32;

/// A grid of the `k` strongest components of `c`, drawn on `image` (inputs that are not
/// images are wrapped into near-square blocks in reading order); `top_pixels = Some(q)` keeps
/// only pixels above the q-quantile of |pattern| (SPEC §9.3, display only).
pub fn component_grid(c: &Components, image: Option<ImageShape>, k: usize, title: &str, top_pixels: Option<f64>) -> Grid {
    let shown = &c.items[..k.min(c.len())];
    let n_inputs = shown.first().map_or(0, |comp| comp.plus.len());
    let shape = image.unwrap_or_else(|| {
        let width = (n_inputs as f64).sqrt().ceil().max(1.0) as usize;
        ImageShape::new(n_inputs.div_ceil(width).max(1), width)
    });
    let pattern = |v: &[f32]| {
        let mut values = match top_pixels {
            Some(q) => denoise_top_pixels(v, q),
            None => v.to_vec(),
        };
        values.resize(shape.pixels(), 0.0);
        Cell::Pattern(values)
    };
    let head_bars = shown.iter().all(|comp| comp.head.len() <= MAX_HEAD_BARS);
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
    let mut row_labels = vec![plus_name.to_string(), minus_name.to_string()];
    let mut rows = vec![
        shown.iter().map(|comp| pattern(&comp.plus)).collect(),
        shown.iter().map(|comp| if comp.form.has_minus() { pattern(&comp.minus) } else { Cell::Empty }).collect(),
    ];
    if head_bars {
        row_labels.push("head d".to_string());
        rows.push(shown.iter().map(|comp| Cell::Bars(comp.head.clone())).collect());
    }
    let mut notes = String::new();
    if top_pixels.is_some() {
        notes.push_str("Top pixels only (display filter). ");
    }
    if image.is_none() {
        notes.push_str(&format!(
            "The inputs are not images: each pattern shows its {n_inputs} values in reading order, {} per row. ",
            shape.width
        ));
    }
    if !head_bars {
        notes.push_str("The heads have too many outputs for bars: each title names the largest output and its sign. ");
    }
    Grid {
        title: title.to_string(),
        column_titles: titles,
        row_labels,
        rows,
        cell_titles: Vec::new(),
        image_side: (shape.height, shape.width),
        caption: format!("{notes}{CONVENTION} Columns are ordered by strength σ = ‖a‖‖b‖‖d‖ (share of the total in the title)."),
        scale: Scale::Shared,
    }
}
