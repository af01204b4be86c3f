//! What each component responds to: the test images that activate it most in each direction
//! (SPEC §7.8, with the reference's index mismatch fixed: rows, patterns and activations all
//! follow the same strength order of [`Components`]).

use super::describe::class_name;
use crate::data::Dataset;
use crate::decomp::Components;
use crate::figures::{Cell, Grid, Scale};
use crate::image::ImageShape;

/// Indices of the `n` images with the largest and the `n` with the most negative activation
/// of component `r` (`act_r(x)`, before the head).
pub fn top_images(acts: &faer::Mat<f32>, r: usize, n: usize) -> (Vec<usize>, Vec<usize>) {
    let mut idx: Vec<usize> = (0..acts.nrows()).collect();
    idx.sort_by(|&i, &j| acts[(j, r)].total_cmp(&acts[(i, r)]));
    let pos = idx.iter().take(n).copied().collect();
    let neg = idx.iter().rev().take(n).copied().collect();
    (pos, neg)
}

/// The gallery of the `k` strongest components: plus and minus patterns, then the `n` test
/// images with the highest activation and the `n` with the lowest, each titled with its
/// label and activation.
pub fn gallery(c: &Components, test: &Dataset, shape: ImageShape, k: usize, n: usize, names: Option<&[String]>) -> Grid {
    let k = k.min(c.len());
    let acts = c.top(k).activations(test.x()); // only the rows drawn
    let mut rows = Vec::new();
    let mut titles = Vec::new();
    let mut labels = Vec::new();
    for r in 0..k {
        let (pos, neg) = top_images(&acts, r, n);
        let comp = &c.items[r];
        let (class, sign) = comp.head_class();
        labels.push(format!("#{} {}{}", r + 1, if sign < 0.0 { "−" } else { "+" }, class_name(names, class)));
        let mut row = vec![Cell::Pattern(comp.plus.clone()), Cell::Pattern(comp.minus.clone())];
        let mut t = vec![String::new(), String::new()];
        for &i in pos.iter().chain(&neg) {
            row.push(Cell::Digit(test.image(i).to_vec()));
            t.push(match test.label(i) {
                Some(label) => format!("{} · {:+.2}", class_name(names, label as usize), acts[(i, r)]),
                None => format!("{:+.2}", acts[(i, r)]),
            });
        }
        rows.push(row);
        titles.push(t);
    }
    Grid {
        title: "Activation gallery: test images that drive each component up and down".to_string(),
        column_titles: ["plus", "minus"].iter().map(|s| s.to_string()).chain((1..=n).map(|i| format!("high {i}"))).chain((1..=n).map(|i| format!("low {i}"))).collect(),
        row_labels: labels,
        rows,
        cell_titles: titles,
        image_side: (shape.height, shape.width),
        caption: "Rows: the strongest components (strength order, class and sign of the head). Image titles: true label · activation (a·x)(b·x) before the head; \
                  a high activation pushes the head's class up if the head weight is positive. Patterns: red positive, blue negative, one scale per row."
            .to_string(),
        scale: Scale::PerRow,
    }
}
