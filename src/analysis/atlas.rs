//! The concept atlas (issue 10): for each class, the rank-one patterns that weigh most in its
//! logit, each drawn over the outline of that class's mean training image and titled in words,
//! so a reader sees where on the image each concept looks and whether it is evidence for the
//! class or against.

use anyhow::{Result, ensure};

use super::describe::{class_name, describe_sides};
use crate::data::Dataset;
use crate::decomp::Components;
use crate::figures::{Cell, Grid, Scale};
use crate::image::ImageShape;

/// Patterns per class in every run folder's `atlas.png` and in the report.
pub const PER_CLASS: usize = 8;

/// A pixel is inside a class's outline where its mean image reaches this share of its maximum.
pub const OUTLINE_LEVEL: f32 = 0.3;

/// One rank-one pattern of a dictionary as seen by one class.
#[derive(Clone, Copy)]
pub struct Entry<'a> {
    /// The component, by position in the dictionary, and whether this is its minus pattern.
    pub component: usize,
    pub minus: bool,
    pub pattern: &'a [f32],
    /// Its part of the class's logit: `|d_c| q ‖p‖²`, signed + when matching it raises the class.
    pub weight: f64,
    /// Its signed share of the class's total pattern weight.
    pub share: f64,
}

/// The `per_class` heaviest patterns of every class, strongest first except that a component's
/// second pattern follows its first (a contrast's counter-evidence beside its evidence, the
/// pair being what a reader reads): what the atlas draws (the report draws the same selection
/// in its page).
pub fn heaviest(c: &Components, per_class: usize) -> Vec<Vec<Entry<'_>>> {
    (0..c.outputs)
        .map(|class| {
            let mut entries = entries(c, class);
            let total: f64 = entries.iter().map(|e| e.weight.abs()).sum();
            entries.iter_mut().for_each(|e| e.share = e.weight / total.max(1e-300));
            entries.sort_by(|x, y| y.weight.abs().total_cmp(&x.weight.abs()));
            entries.truncate(per_class);
            partners_together(entries)
        })
        .collect()
}

/// `entries` in their order, each followed by the other pattern of its component if that one is
/// among them.
fn partners_together(mut entries: Vec<Entry<'_>>) -> Vec<Entry<'_>> {
    let mut out = Vec::with_capacity(entries.len());
    while !entries.is_empty() {
        let first = entries.remove(0);
        out.push(first);
        if let Some(i) = entries.iter().position(|e| e.component == first.component) {
            out.push(entries.remove(i));
        }
    }
    out
}

/// Classes the atlas figure draws at most (the first ones): more rows than this would not fit
/// a figure at a readable size.
pub const MAX_CLASSES: usize = 64;

/// The `per_class` heaviest patterns of every class (rows, named by `names`; the first
/// [`MAX_CLASSES`]), over the class's mean-image outline, titled with their signed share of the
/// class's total pattern weight and their description.
pub fn atlas(c: &Components, train: &Dataset, shape: ImageShape, per_class: usize, names: Option<&[String]>) -> Result<Grid> {
    let labels = train.labels.as_ref().filter(|l| !l.is_empty());
    let labels = labels.ok_or_else(|| anyhow::anyhow!("the concept atlas needs labelled training images"))?;
    ensure!(train.n_inputs == shape.pixels() && c.inputs == shape.pixels(), "the concept atlas needs image inputs of {shape}");
    let (mut rows, mut titles, mut row_labels) = (Vec::new(), Vec::new(), Vec::new());
    let classes = c.outputs;
    for (class, entries) in heaviest(c, per_class).into_iter().enumerate().take(MAX_CLASSES) {
        let region = outline(train, labels, class);
        titles.push(
            entries
                .iter()
                .map(|e| {
                    let words = describe_sides(&c.items[e.component], Some(shape));
                    format!("#{} {:+.1}% {}", e.component + 1, 100.0 * e.share, words[usize::from(e.minus)])
                })
                .collect(),
        );
        let mut cells: Vec<Cell> = entries.iter().map(|e| Cell::Outlined { pattern: e.pattern.to_vec(), region: region.clone() }).collect();
        cells.resize(per_class, Cell::Empty);
        rows.push(cells);
        row_labels.push(class_name(names, class));
    }
    Ok(Grid {
        title: "Concept atlas: each class's heaviest patterns over the outline of its mean image".into(),
        column_titles: Vec::new(),
        row_labels,
        rows,
        cell_titles: titles,
        image_side: (shape.height, shape.width),
        caption: format!(
            "{}{} After each share, the pattern in words. Patterns: red positive, blue negative, white 0, one scale per row.",
            caption(),
            if classes > MAX_CLASSES { format!(" The first {MAX_CLASSES} of the {classes} classes are drawn.") } else { String::new() }
        ),
        scale: Scale::PerRow,
    })
}

/// What the atlas shows, in words (the figure's caption and the report's).
pub fn caption() -> String {
    format!(
        "Each row is a class; its cells are the rank-one patterns p of the dictionary with the largest part |d_c|·‖p‖² of that class's logit, \
         strongest first, a component's second pattern (a contrast's counter-evidence) beside its first. Titles: the component's number, \
         then the signed share of the class's total: + when an image matching the pattern (either sign) raises the class, \
         − when it lowers it (counter-evidence). Black outline: where the class's mean training image reaches {:.0}% of its maximum.",
        100.0 * OUTLINE_LEVEL
    )
}

/// Every rank-one pattern of `c` with its signed weight in the logit of `class`.
pub(super) fn entries(c: &Components, class: usize) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    for (component, comp) in c.iter().enumerate() {
        let head_norm = comp.head.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
        let d = comp.head.get(class).copied().unwrap_or(0.0) as f64;
        if d == 0.0 || head_norm == 0.0 {
            continue;
        }
        let [plus, minus] = comp.pattern_weights().map(|w| w * d.abs() / head_norm);
        out.push(Entry { component, minus: false, pattern: &comp.plus, weight: d.signum() * plus, share: 0.0 });
        if comp.form.has_minus() {
            out.push(Entry { component, minus: true, pattern: &comp.minus, weight: -d.signum() * minus, share: 0.0 });
        }
    }
    out
}

/// Pixels where the mean training image of `class` reaches [`OUTLINE_LEVEL`] of its maximum
/// (none when the class has no images).
pub fn outline(train: &Dataset, labels: &[u8], class: usize) -> Vec<bool> {
    let mut mean = vec![0f32; train.n_inputs];
    for (i, _) in labels.iter().enumerate().filter(|(_, l)| **l as usize == class) {
        mean.iter_mut().zip(train.image(i)).for_each(|(m, &v)| *m += v);
    }
    above_level(&mean)
}

/// Pixels of `image` that reach [`OUTLINE_LEVEL`] of its maximum (none for a blank image): the
/// region a figure outlines.
pub(super) fn above_level(image: &[f32]) -> Vec<bool> {
    let max = image.iter().fold(0f32, |m, &v| m.max(v));
    image.iter().map(|&v| max > 0.0 && v >= OUTLINE_LEVEL * max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::random_components;

    const SHAPE: ImageShape = ImageShape { height: 8, width: 8 };

    /// 8×8 "digits": class k is a blob centred on pixel (k mod 8, k mod 5), four images each.
    fn digits() -> Dataset {
        let labels: Vec<u8> = (0..40).map(|i| (i % 10) as u8).collect();
        let pixels = labels
            .iter()
            .flat_map(|&k| {
                (0..64).map(move |p| (1.0 - (((p / 8) as f32 - (k % 8) as f32).hypot((p % 8) as f32 - (k % 5) as f32)) / 3.0).max(0.0))
            })
            .collect();
        let mut d = Dataset::vectors(pixels, 64, Some(SHAPE));
        (d.labels, d.n_classes) = (Some(labels), 10);
        d
    }

    #[test]
    fn rows_are_classes_cells_are_strongest_first_with_partners_together_and_shares_are_signed() {
        let c = random_components(3, 6, 2);
        let grid = atlas(&c, &digits(), SHAPE, 5, None).unwrap();
        assert_eq!(grid.rows.len(), c.outputs);
        let mut pairs = 0;
        for (row, titles) in grid.rows.iter().zip(&grid.cell_titles) {
            // "#k share% words"
            let cells: Vec<(usize, f64)> = titles
                .iter()
                .map(|t| {
                    let (number, rest) = t.strip_prefix('#').and_then(|t| t.split_once(' ')).expect(t);
                    assert!(rest.split_once("% ").is_some_and(|(_, words)| !words.is_empty()), "described: {t}");
                    (number.parse().unwrap(), rest.split('%').next().unwrap().parse().unwrap())
                })
                .collect();
            // The first cell of each component, strongest first; its second cell right after it.
            let mut firsts = Vec::new();
            for (i, &(k, share)) in cells.iter().enumerate() {
                match cells[..i].iter().position(|&(j, _)| j == k) {
                    Some(at) => {
                        assert_eq!(at + 1, i, "#{k}'s patterns apart: {titles:?}");
                        pairs += 1;
                    }
                    None => firsts.push(share),
                }
            }
            assert!(firsts.windows(2).all(|w| w[0].abs() >= w[1].abs()), "not strongest first: {titles:?}");
            assert!(cells.iter().map(|(_, s)| s.abs()).sum::<f64>() <= 100.0 + 1e-9);
            assert!(row.iter().all(|cell| matches!(cell, Cell::Outlined { region, .. } if region.iter().any(|&r| r))));
        }
        assert!(pairs > 0, "some CP component shows both patterns in a row");
        crate::figures::render_grid(&grid).unwrap();
    }

    /// Keeping partners together changes the order of a row, never which patterns it draws.
    #[test]
    fn partners_move_within_the_heaviest_patterns_and_the_strongest_leads() {
        let c = random_components(5, 6, 0);
        for (class, row) in heaviest(&c, 5).iter().enumerate() {
            let mut by_weight = entries(&c, class);
            by_weight.sort_by(|x, y| y.weight.abs().total_cmp(&x.weight.abs()));
            let chosen: Vec<(usize, bool)> = by_weight[..5].iter().map(|e| (e.component, e.minus)).collect();
            let mut drawn: Vec<(usize, bool)> = row.iter().map(|e| (e.component, e.minus)).collect();
            assert_eq!(drawn[0], chosen[0]);
            drawn.sort();
            let mut chosen = chosen;
            chosen.sort();
            assert_eq!(drawn, chosen, "class {class}: the same five patterns");
        }
    }

    #[test]
    fn a_pure_negative_symmetric_component_is_counter_evidence_of_its_class() {
        let mut c = random_components(1, 1, 1);
        let comp = &mut c.items[0];
        comp.head.iter_mut().for_each(|v| *v = 0.0);
        comp.head[2] = -1.0;
        let names: Vec<String> = (0..10).map(|c| format!("kind {c}")).collect();
        let grid = atlas(&c, &digits(), SHAPE, 2, Some(&names)).unwrap();
        assert!(grid.cell_titles[2][0].starts_with("#1 -100.0% "), "{}", grid.cell_titles[2][0]);
        assert_eq!(grid.row_labels[2], "kind 2");
        assert!(grid.cell_titles[0].is_empty() && grid.rows[0].iter().all(|cell| *cell == Cell::Empty));
    }

    #[test]
    fn unlabelled_or_non_image_inputs_are_refused() {
        let c = random_components(0, 2, 2);
        let mut d = digits();
        d.labels = None;
        assert!(atlas(&c, &d, SHAPE, 2, None).unwrap_err().to_string().contains("labelled"));
        assert!(atlas(&c, &digits(), ImageShape::new(10, 10), 2, None).is_err());
    }
}
