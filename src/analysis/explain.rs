//! Why the model gave an image its logits: `logit_c = Σ_r d_cr (a_r·x)(b_r·x) + residual_c +
//! bias_c`, with the components that voted most for and against each top class.

use faer::MatRef;

use crate::decomp::Components;
use crate::figures::{Cell, Grid, Scale};
use crate::image::ImageShape;

/// Contributions `d_cr · act_r(x)` of every displayed component to every class, `C × R`.
pub fn contributions(c: &Components, x: &[f32]) -> faer::Mat<f32> {
    let acts = c.activations(MatRef::from_row_major_slice(x, 1, x.len()));
    faer::Mat::from_fn(c.outputs, c.len(), |class, r| c.items[r].head[class] * acts[(0, r)])
}

/// One row per (image, top class): the image, then the `m` components voting most for the
/// class and the `m` voting most against it, each titled with its contribution.
/// `rest(x)` gives the logits not explained by `shown` (residual branch and bias).
pub fn explanations(
    shown: &Components,
    rest: impl Fn(&[f32]) -> Vec<f32>,
    images: &[(&[f32], Option<u8>)],
    shape: ImageShape,
    top_classes: usize,
    m: usize,
) -> Grid {
    let mut rows = Vec::new();
    let mut titles = Vec::new();
    let mut labels = Vec::new();
    for (x, label) in images {
        let contrib = contributions(shown, x);
        let other = rest(x);
        let logits: Vec<f32> = (0..contrib.nrows()).map(|c| contrib.row(c).iter().sum::<f32>() + other[c]).collect();
        let mut classes: Vec<usize> = (0..logits.len()).collect();
        classes.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        for &class in classes.iter().take(top_classes) {
            let mut order: Vec<usize> = (0..shown.len()).collect();
            order.sort_by(|&a, &b| contrib[(class, b)].total_cmp(&contrib[(class, a)]));
            let picks: Vec<usize> = order.iter().take(m).chain(order.iter().rev().take(m)).copied().collect();
            let mut row = vec![Cell::Digit(x.to_vec())];
            let mut t = vec![label.map_or(String::new(), |l| format!("label {l}"))];
            for &r in &picks {
                // Show the pattern this image actually matches more strongly.
                let c = &shown.items[r];
                let (p, q) = (dot(c.plus.iter(), x), dot(c.minus.iter(), x));
                row.push(Cell::Pattern(if p.abs() >= q.abs() { c.plus.clone() } else { c.minus.clone() }));
                t.push(format!("#{} {:+.2}", r + 1, contrib[(class, r)]));
            }
            labels.push(format!("class {class}: {:.2}\n(other {:+.2})", logits[class], other[class]));
            rows.push(row);
            titles.push(t);
        }
    }
    Grid {
        title: "Per-image explanations: the components voting for and against the top classes".to_string(),
        column_titles: std::iter::once("input".to_string()).chain((1..=m).map(|i| format!("for {i}"))).chain((1..=m).map(|i| format!("against {i}"))).collect(),
        row_labels: labels,
        rows,
        cell_titles: titles,
        image_side: (shape.height, shape.width),
        caption: "Each row: one input and one of its highest logits; the logit is the sum of the component contributions d_c·(a·x)(b·x) shown in the titles, plus 'other' \
                  (residual branch and output bias). Each pattern shown is the one (plus or minus) the input projects on more strongly."
            .to_string(),
        scale: Scale::PerCell,
    }
}

fn dot<'a>(a: impl Iterator<Item = &'a f32>, x: &[f32]) -> f32 {
    a.zip(x).map(|(p, v)| p * v).sum()
}
