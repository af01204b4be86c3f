//! Faithfulness curves (SPEC §7.1.7, with the reference's ordering bug fixed): how fidelity
//! grows as the strongest components are kept, and falls as they are dropped, next to the
//! eigendecomposition baseline at the same component count.

use serde::Serialize;

use crate::data::Dataset;
use crate::decomp::Components;
use crate::figures::{LineChart, Series};
use crate::interaction::eigen::Eigen;
use crate::interaction::{CpTensor, Interaction};
use crate::model::accuracy;

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
pub fn curves(inter: &Interaction, eigen: &Eigen, shown: &Components, rest: Option<&Components>, test: &Dataset) -> Vec<Point> {
    let acc = |t: &CpTensor| accuracy(test, |x| t.logits(x));
    let rest_tensor = rest.filter(|r| !r.is_empty()).map(|r| r.tensor(&(0..r.len()).collect::<Vec<_>>()));
    let mut out = Vec::new();
    for k in ks(shown.len()) {
        let keep = shown.tensor(&(0..k).collect::<Vec<_>>());
        out.push(Point { k, mode: "keep", test_accuracy: acc(&keep), tensor_cosine: inter.cosine(&keep) });
        let kept: Vec<usize> = (k..shown.len()).collect();
        let dropped = match (kept.is_empty(), &rest_tensor) {
            (true, None) => None,
            (true, Some(r)) => Some(r.clone()),
            (false, None) => Some(shown.tensor(&kept)),
            (false, Some(r)) => Some(shown.tensor(&kept).concat(r)),
        };
        let (a, c) = dropped.map_or((None, 0.0), |t| (acc(&t), inter.cosine(&t)));
        out.push(Point { k, mode: "drop", test_accuracy: a, tensor_cosine: c });
        let e = eigen.top_overall(k);
        out.push(Point { k, mode: "eigen", test_accuracy: acc(&e), tensor_cosine: inter.cosine(&e) });
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
