//! The eigendecomposition baseline of a model as files: the truncation table (accuracy and
//! cosine of the top-k eigen-model per class), eigenvector grids and spectra (SPEC §3.4).

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use serde_json::json;

use crate::data::DataSplit;
use crate::figures::{self, Cell, Grid, LineChart, Scale, Series};
use crate::interaction::eigen::{Basis, Eigen};
use crate::interaction::{CpTensor, Interaction};
use crate::model::{Bilinear, accuracy};
use crate::run::{DataRecord, RunClock, file_sha256, write_atomic, write_json};

/// Eigenvectors kept per class in the truncated models, by default.
pub const DEFAULT_KS: [usize; 13] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96];

/// Fidelity of the model that keeps the top-k eigenvectors of every class.
#[derive(Serialize)]
struct TruncationRow {
    basis: Basis,
    k: usize,
    components: usize,
    tensor_cosine: f64,
    test_accuracy: f64,
    test_accuracy_with_bias: f64,
}

/// The eigen baseline of `model` into `out`: truncation table, figures and `run.json`.
pub fn write(model: &Bilinear, model_path: &Path, data: &DataSplit, out: &Path, show: usize, ks: &[usize]) -> Result<()> {
    let clock = RunClock::start("eigen");
    let inter = Interaction::new(model);
    let embedding = Eigen::embedding(&inter);
    let pixel = Eigen::pixel(&inter);

    let mut rows = Vec::new();
    for eig in [&embedding, &pixel] {
        for &k in ks {
            let t = eig.truncated(k);
            rows.push(TruncationRow {
                basis: eig.basis,
                k,
                components: t.rank(),
                tensor_cosine: inter.cosine(&t),
                test_accuracy: cp_accuracy(&t, None, &data.test),
                test_accuracy_with_bias: cp_accuracy(&t, Some(model), &data.test),
            });
        }
    }
    let mut csv = csv::Writer::from_writer(Vec::new());
    for r in &rows {
        csv.serialize(r)?;
    }
    write_atomic(&out.join("truncation.csv"), &csv.into_inner()?)?;

    draw_eigenvectors(&embedding, show, &out.join("eigenvectors.png"))?;
    draw_eigenvectors(&pixel, show, &out.join("eigenvectors_pixel.png"))?;
    figures::draw_lines(&spectrum_chart(&embedding), &out.join("eigenspectrum.png"))?;
    figures::draw_lines(
        &truncation_chart(&rows, |r| r.test_accuracy_with_bias, "test accuracy (with bias)"),
        &out.join("truncation_accuracy.png"),
    )?;
    figures::draw_lines(&truncation_chart(&rows, |r| r.tensor_cosine, "tensor cosine"), &out.join("truncation_cosine.png"))?;

    let extremes = |eig: &Eigen, pick: fn(&[f64]) -> f64| eig.values.iter().map(|v| pick(v)).collect::<Vec<_>>();
    let metrics = json!({
        "tensor_norm": inter.norm(),
        "test_accuracy": model.accuracy(&data.test),
        "embedding_largest_eigenvalue": extremes(&embedding, |v| v[v.len() - 1]),
        "embedding_smallest_eigenvalue": extremes(&embedding, |v| v[0]),
        "pixel_largest_eigenvalue": extremes(&pixel, |v| v[v.len() - 1]),
        "pixel_smallest_eigenvalue": extremes(&pixel, |v| v[0]),
        "truncation": rows,
    });
    let inputs = json!({ "model": model_path, "model_sha256": file_sha256(model_path)? });
    let record = clock.finish(0, json!({ "show": show, "ks": ks }), Some(DataRecord::of(data)), inputs, &metrics)?;
    write_json(&out.join("run.json"), &record)
}

/// Test accuracy of the quadratic model `xᵀ T_c x` (+ the base model's bias when given).
fn cp_accuracy(t: &CpTensor, bias_from: Option<&Bilinear>, test: &crate::data::Dataset) -> f64 {
    accuracy(test, |x| {
        let mut z = t.logits(x);
        if let Some(m) = bias_from {
            for j in 0..z.ncols() {
                for i in 0..z.nrows() {
                    z[(i, j)] += m.bias[j];
                }
            }
        }
        z
    })
}

/// Rows are digits; columns the `show` most positive then the `show` most negative
/// eigenvectors, each titled with its eigenvalue.
fn draw_eigenvectors(eig: &Eigen, show: usize, path: &std::path::Path) -> Result<()> {
    let mut rows = Vec::new();
    let mut titles = Vec::new();
    for (c, values) in eig.values.iter().enumerate() {
        let n = values.len();
        let order: Vec<usize> = (0..show.min(n)).map(|i| n - 1 - i).chain((0..show.min(n)).collect::<Vec<_>>()).collect();
        rows.push(order.iter().map(|&k| Cell::Pattern(eig.vectors[c].col(k).iter().copied().collect())).collect());
        titles.push(order.iter().map(|&k| format!("{:+.3}", values[k])).collect());
    }
    let basis = match eig.basis {
        Basis::Embedding => "embedding-space eigenvectors projected to pixels",
        Basis::Pixel => "unit pixel-space eigenvectors",
    };
    let grid = Grid {
        title: format!("Top positive and negative eigenvectors per digit ({basis})"),
        column_titles: (1..=show).map(|i| format!("+{i}")).chain((1..=show).map(|i| format!("−{i}"))).collect(),
        row_labels: (0..eig.values.len()).map(|c| format!("digit {c}")).collect(),
        rows,
        cell_titles: titles,
        image_side: (28, 28),
        caption: "red = positive pixel weight, blue = negative, white = 0; each row shares one symmetric colour scale; titles give λ"
            .to_string(),
        scale: Scale::PerRow,
    };
    figures::draw_grid(&grid, path)
}

fn spectrum_chart(eig: &Eigen) -> LineChart {
    LineChart {
        title: "Eigenvalue spectrum per digit (embedding space, sorted)".to_string(),
        x_label: "eigenvalue index".to_string(),
        y_label: "eigenvalue λ".to_string(),
        series: eig
            .values
            .iter()
            .enumerate()
            .map(|(c, v)| Series { name: format!("digit {c}"), points: v.iter().enumerate().map(|(i, &l)| (i as f64, l)).collect() })
            .collect(),
        log_x: false,
        log_y: false,
        markers: false,
    }
}

fn truncation_chart(rows: &[TruncationRow], value: fn(&TruncationRow) -> f64, y_label: &str) -> LineChart {
    let series = [Basis::Embedding, Basis::Pixel]
        .into_iter()
        .map(|b| Series {
            name: format!("{b:?} eigenvectors").to_lowercase(),
            points: rows.iter().filter(|r| r.basis == b).map(|r| (r.k as f64, value(r))).collect(),
        })
        .collect();
    LineChart {
        title: format!("Truncated eigen-model: {y_label} vs eigenvectors kept per class"),
        x_label: "k (top-|λ| eigenvectors kept per class)".to_string(),
        y_label: y_label.to_string(),
        series,
        log_x: true,
        log_y: false,
        markers: true,
    }
}
