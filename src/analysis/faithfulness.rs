//! Faithfulness curves (SPEC §7.1.7, with the reference's ordering bug fixed): how fidelity
//! grows as the strongest components are kept, and falls as they are dropped, next to the
//! eigendecomposition baseline at the same component count.

use faer::{Mat, MatRef};
use serde::Serialize;

use crate::data::Dataset;
use crate::decomp::Components;
use crate::figures::{LineChart, Series};
use crate::interaction::Interaction;
use crate::interaction::eigen::Eigen;
use crate::linalg;
use crate::model::accuracy_of_logits;

/// One point of a curve.
#[derive(Clone, Debug, Serialize)]
pub struct Point {
    pub k: usize,
    /// `keep` (the k strongest displayed components alone), `drop` (everything else,
    /// residual included), or `eigen` (the k globally largest-|λ| pixel eigenpairs).
    pub mode: &'static str,
    /// `None` without labelled test images.
    pub test_accuracy: Option<f64>,
    pub tensor_cosine: f64,
}

/// Component counts evaluated: powers of two and their midpoints up to `max`, and `max`.
pub fn ks(max: usize) -> Vec<usize> {
    let mut out: Vec<usize> = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256].into_iter().filter(|&k| k < max).collect();
    out.push(max);
    out
}

/// Keep/drop curves of the displayed components `shown` (strength order), with `rest` the
/// remaining (residual) components, and the eigen baseline.
///
/// The test images are projected once per dictionary: the logits of `k` components are their
/// activations' columns times their heads, and the eigen baseline's `k` largest terms are the
/// first `k` of its largest `max k`. Likewise the tensor cosines come from the inner products
/// of each dictionary's terms (kept, dropped and eigen sets are runs of consecutive terms).
pub fn curves(inter: &Interaction, eigen: &Eigen, shown: &Components, rest: Option<&Components>, test: &Dataset) -> Vec<Point> {
    let x = test.x();
    let ks = ks(shown.len());
    let (acts, heads) = (shown.activations(x), shown.heads());
    let top = eigen.top_overall(*ks.last().expect("ks ends with the component count"));
    let top_acts = top.activations(x);
    let rest = rest.filter(|r| !r.is_empty());
    let rest_logits = rest.map(|r| r.logits(x));
    // The terms of the shown components, then the rest's: components 0..k are the terms
    // `0..starts[k]`, and dropping them leaves `starts[k]..` to the end.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(shown.items.iter().scan(0, |n, c| {
            *n += c.form.triples_per_component();
            Some(*n)
        }))
        .collect();
    let terms = match rest {
        Some(r) => shown.tensor_all().concat(&r.tensor_all()),
        None => shown.tensor_all(),
    };
    let (inners, eigen_inners) = (inter.term_inners(&terms), inter.term_inners(&top));
    // Accuracy of the logits of columns `cols` of `acts` with `heads`, plus `extra`.
    let acc = |acts: &Mat<f32>, heads: MatRef<'_, f32>, cols: std::ops::Range<usize>, extra: Option<&Mat<f32>>| {
        let mut z = linalg::mul(acts.as_ref().subcols(cols.start, cols.len()), heads.subcols(cols.start, cols.len()).transpose());
        if let Some(e) = extra {
            z += e;
        }
        accuracy_of_logits(test, z.as_ref())
    };
    let mut out = Vec::new();
    for k in ks {
        out.push(Point {
            k,
            mode: "keep",
            test_accuracy: acc(&acts, heads.as_ref(), 0..k, None),
            tensor_cosine: inners.cosine(0..starts[k]),
        });
        let (a, c) = if starts[k] == terms.rank() {
            (None, 0.0)
        } else {
            (acc(&acts, heads.as_ref(), k..shown.len(), rest_logits.as_ref()), inners.cosine(starts[k]..terms.rank()))
        };
        out.push(Point { k, mode: "drop", test_accuracy: a, tensor_cosine: c });
        // A layer of fewer eigenpairs than `k` (outputs × embedding) is whole with all of them.
        let eigen_k = k.min(top.rank());
        out.push(Point {
            k,
            mode: "eigen",
            test_accuracy: acc(&top_acts, top.heads.as_ref(), 0..eigen_k, None),
            tensor_cosine: eigen_inners.cosine(0..eigen_k),
        });
    }
    out
}

/// The curves as a chart of `value` (accuracy or cosine) against k.
pub fn chart(points: &[Point], value: fn(&Point) -> Option<f64>, y_label: &str, title: &str) -> LineChart {
    let series = ["keep", "drop", "eigen"]
        .into_iter()
        .map(|mode| Series {
            name: match mode {
                "keep" => "keep the k strongest".to_string(),
                "drop" => "drop the k strongest".to_string(),
                _ => "eigen baseline, k components".to_string(),
            },
            points: points.iter().filter(|p| p.mode == mode).filter_map(|p| Some((p.k as f64, value(p)?))).collect(),
        })
        .collect();
    LineChart {
        title: title.to_string(),
        x_label: "k (components, strongest first)".to_string(),
        y_label: y_label.to_string(),
        series,
        log_x: true,
        log_y: false,
        markers: true,
    }
}
