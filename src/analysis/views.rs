//! The component figure of a dictionary (SPEC §9–§10, with the reference's missing labels
//! and colour key added): the strongest components as columns; rows are the positive
//! pattern, the negative pattern and the class head.

use super::describe::class_name;
use crate::decomp::{Components, Form};
use crate::figures::{Cell, Grid, Scale};
use crate::image::ImageShape;
use crate::metrics::patterns::denoise_top_pixels;

/// What the colours mean, printed under every component figure.
pub const CONVENTION: &str = "patterns: red = positive pixel weight, blue = negative, white = 0, one symmetric scale per figure. \
A component adds d_c·(a·x)(b·x) = (d_c/4)[‖a+b‖²(plus·x)² − ‖a−b‖²(minus·x)²] to logit c: an image matching the plus row (either sign) \
raises the logits of classes with a positive head bar, one matching the minus row lowers them. Head bars: red ≥ 0, blue < 0 (as patterns), one per output (class) from the left.";

/// [`CONVENTION`] for a figure of symmetric components, which have one pattern each.
const SYMMETRIC_CONVENTION: &str = "patterns: red = positive pixel weight, blue = negative, white = 0, one symmetric scale per figure. \
A symmetric component adds d_c·(v·x)² to logit c: an image matching its pattern (either sign) raises the logits of classes with a positive \
head bar and lowers those with a negative one. Head bars: red ≥ 0, blue < 0 (as patterns), one per output (class) from the left.";

/// [`CONVENTION`] for a figure of evidence-split components (contrasts), whose two patterns
/// are evidence and counter-evidence.
const SPLIT_CONVENTION: &str = "patterns: red = positive pixel weight, blue = negative, white = 0, one symmetric scale per figure. \
An evidence-split component (a contrast) adds d_c·[(p·x)² − (n·x)²] to logit c: an image matching the positive row p (either sign) raises \
the logits of classes with a positive head bar, one matching the negative row n lowers them, so an image matching both moves them little. \
Head bars: red ≥ 0, blue < 0 (as patterns), one per output (class) from the left.";

/// Heads with more outputs than this are not drawn as bars; the column title names the
/// largest output instead.
const MAX_HEAD_BARS: usize = 32;

/// A grid of the `k` strongest components of `c`, drawn on `image` (inputs that are not
/// images are wrapped into near-square blocks in reading order); `top_pixels = Some(q)` keeps
/// only pixels above the q-quantile of |pattern| (SPEC §9.3, display only).
pub fn component_grid(
    c: &Components,
    image: Option<ImageShape>,
    names: Option<&[String]>,
    k: usize,
    title: &str,
    top_pixels: Option<f64>,
) -> Grid {
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
            let share = share_text(100.0 * comp.strength / total.max(1e-12));
            format!("#{} {}{}\n{share}% of strength", r + 1, if sign < 0.0 { "−" } else { "+" }, class_name(names, class))
        })
        .collect();
    // Rows are named for the form when every shown component has it, else as CP components;
    // the minus row only when some component has a minus pattern.
    let form = [Form::Split, Form::Symmetric].into_iter().find(|f| shown.iter().all(|comp| comp.form == *f)).unwrap_or(Form::Cp);
    let (plus_name, minus_name) = form.pattern_names();
    let mut row_labels = vec![plus_name.to_string()];
    let mut rows = vec![shown.iter().map(|comp| pattern(&comp.plus)).collect()];
    if shown.iter().any(|comp| comp.form.has_minus()) {
        row_labels.push(minus_name.to_string());
        rows.push(shown.iter().map(|comp| if comp.form.has_minus() { pattern(&comp.minus) } else { Cell::Empty }).collect());
    }
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
        caption: format!(
            "{notes}{} Columns are ordered by strength σ (SPEC §9.1: ‖a‖‖b‖‖d‖ for CP components, ‖v‖²‖d‖ for symmetric ones, (‖p‖² + ‖n‖²)‖d‖ for split ones; its share of the total in the title).",
            match form {
                Form::Symmetric => SYMMETRIC_CONVENTION,
                Form::Split => SPLIT_CONVENTION,
                Form::Cp => CONVENTION,
            }
        ),
        scale: Scale::Shared,
    }
}

/// A percentage with two significant digits (at least one decimal below 10%), so that the
/// shares of a dictionary of hundreds of components still tell them apart.
fn share_text(percent: f32) -> String {
    let decimals = if percent >= 10.0 {
        0
    } else if percent >= 1.0 {
        1
    } else {
        2
    };
    format!("{percent:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::random_components;
    use crate::decomp::Component;

    #[test]
    fn each_form_is_drawn_as_it_is() {
        let mut c = random_components(2, 6, 2);
        let symmetric = component_grid(
            &Components { items: c.items.iter().filter(|k| k.form == Form::Symmetric).cloned().collect(), ..c.clone() },
            None,
            None,
            8,
            "t",
            None,
        );
        assert_eq!(symmetric.row_labels, ["pattern v", "head d"], "one pattern row, no empty minus row");
        assert!(symmetric.caption.contains("(v·x)²") && symmetric.column_titles.iter().all(|t| t.contains("% of strength")));
        c.items.iter_mut().for_each(|k| k.strength = 1.0);
        c.items[0].strength = 1000.0;
        let mixed = component_grid(&c, None, None, 8, "t", None);
        assert_eq!(mixed.row_labels, ["plus (a+b)", "minus (a−b)", "head d"]);
        assert!(mixed.column_titles[1].ends_with("\n0.10% of strength"), "small shares keep two digits: {}", mixed.column_titles[1]);
        assert_eq!((share_text(42.4), share_text(4.24), share_text(0.424)), ("42".into(), "4.2".into(), "0.42".into()));
        let contrasts = Components { items: c.items.iter().cloned().map(|k| Component { form: Form::Split, ..k }).collect(), ..c.clone() };
        let split = component_grid(&contrasts, None, None, 8, "t", None);
        assert_eq!(split.row_labels, ["positive p", "negative n", "head d"]);
        assert!(split.caption.contains("(p·x)² − (n·x)²") && !split.caption.contains("(a·x)(b·x)"), "{}", split.caption);
    }
}
