//! The eigendecomposition baseline of a model (SPEC §3.4): the truncation table (accuracy and
//! cosine of the top-k eigen-model per class), eigenvector grids and spectra.

use serde::Serialize;
use serde_json::{Value, json};

use super::describe::class_name;
use crate::data::Dataset;
use crate::figures::{Cell, Figure, Grid, LineChart, Scale, Series};
use crate::image::ImageShape;
use crate::interaction::eigen::{Basis, Eigen, Wanted};
use crate::interaction::{CpTensor, Interaction, Space};
use crate::model::{Bilinear, accuracy, add_bias};

/// Eigenvectors kept per class in the truncated models, by default.
pub const DEFAULT_KS: [usize; 13] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96];

/// Fidelity of the model that keeps the top-k eigenvectors of every class.
#[derive(Clone, Debug, Serialize)]
pub struct TruncationRow {
    pub basis: Basis,
    pub k: usize,
    pub components: usize,
    pub tensor_cosine: f64,
    pub test_accuracy: Option<f64>,
    pub test_accuracy_with_bias: Option<f64>,
}

/// The eigen baseline of one model.
pub struct EigenBaseline {
    pub rows: Vec<TruncationRow>,
    /// Summary numbers (norm, accuracy, extreme eigenvalues per class, the truncation rows).
    pub metrics: Value,
    /// `(file name, figure)`; eigenvector grids only when the inputs are images.
    pub figures: Vec<(&'static str, Figure)>,
}

/// The most rank-one terms a truncation may hold (a layer with a thousand outputs truncates
/// only to small `k`).
pub const MAX_TRUNCATION_TERMS: usize = 4096;

/// Whether a truncation to `k` eigenvectors of each of `outputs` outputs is made: it holds at
/// most [`MAX_TRUNCATION_TERMS`] terms.
pub fn truncation_fits(k: usize, outputs: usize) -> bool {
    k * outputs <= MAX_TRUNCATION_TERMS
}

/// The eigen baseline of `model`: the spectra of at most `max_outputs` outputs (those with the
/// largest norms), and, when every output is decomposed, truncations to each `k` of `ks`
/// (accuracy on `test` when it has labels) and figures showing `show` eigenvectors of each
/// sign per output (named by `names` where given).
pub fn eigen_baseline(
    model: &Bilinear,
    test: Option<&Dataset>,
    image: Option<ImageShape>,
    show: usize,
    ks: &[usize],
    max_outputs: usize,
    names: Option<&[String]>,
) -> Result<EigenBaseline, crate::error::Error> {
    let inter = Interaction::new(model);
    inter.check_readable("eigendecompose")?;
    let norms = inter.output_norms_sq();
    let mut outputs: Vec<usize> = (0..norms.len()).collect();
    outputs.sort_by(|&a, &b| norms[b].total_cmp(&norms[a]));
    outputs.truncate(max_outputs.max(1));
    outputs.sort_unstable();
    let all = outputs.len() == norms.len();
    // What the truncations, figures and extremes read: the solver finds only these where it can.
    let truncated = ks.iter().copied().filter(|&k| all && truncation_fits(k, outputs.len())).max().unwrap_or(0);
    let wanted = Wanted::Ends(show.max(truncated).max(1));
    let embedding = Eigen::of_outputs(&inter, Basis::Embedding, &outputs, wanted);
    // In input space both bases are the same eigenproblem.
    let pixel = match inter.space() {
        Space::Input => Eigen { basis: Basis::Pixel, ..embedding.clone() },
        Space::Embedding => Eigen::of_outputs(&inter, Basis::Pixel, &outputs, wanted),
    };
    let mut rows = Vec::new();
    for eig in [&embedding, &pixel].into_iter().filter(|_| all) {
        for &k in ks.iter().filter(|&&k| k <= truncated) {
            let t = eig.truncated(k);
            rows.push(TruncationRow {
                basis: eig.basis,
                k,
                components: t.rank(),
                tensor_cosine: inter.cosine(&t),
                test_accuracy: test.and_then(|d| cp_accuracy(&t, None, d)),
                test_accuracy_with_bias: test.and_then(|d| cp_accuracy(&t, Some(&model.bias), d)),
            });
        }
    }
    let mut figures = vec![("eigenspectrum.png", Figure::Lines(spectrum_chart(&embedding)))];
    if !rows.is_empty() {
        figures.push(("truncation_cosine.png", Figure::Lines(truncation_chart(&rows, |r| Some(r.tensor_cosine), "tensor cosine"))));
    }
    if rows.iter().any(|r| r.test_accuracy_with_bias.is_some()) {
        figures.push((
            "truncation_accuracy.png",
            Figure::Lines(truncation_chart(&rows, |r| r.test_accuracy_with_bias, "test accuracy (with bias)")),
        ));
    }
    if let Some(shape) = image {
        figures.push(("eigenvectors.png", Figure::Grid(eigenvector_grid(&embedding, shape, show, names))));
        figures.push(("eigenvectors_pixel.png", Figure::Grid(eigenvector_grid(&pixel, shape, show, names))));
    }
    let extremes = |eig: &Eigen, pick: fn(&[f64]) -> f64| eig.values.iter().map(|v| pick(v)).collect::<Vec<_>>();
    let metrics = json!({
        "tensor_norm": inter.norm(),
        "space": inter.space(),
        "storage": inter.storage(),
        "output_norms": norms.iter().map(|n| n.sqrt()).collect::<Vec<f64>>(),
        "outputs_decomposed": outputs,
        "test_accuracy": test.and_then(|d| model.accuracy(d)),
        "embedding_largest_eigenvalue": extremes(&embedding, |v| v[v.len() - 1]),
        "embedding_smallest_eigenvalue": extremes(&embedding, |v| v[0]),
        "pixel_largest_eigenvalue": extremes(&pixel, |v| v[v.len() - 1]),
        "pixel_smallest_eigenvalue": extremes(&pixel, |v| v[0]),
        "truncation": rows,
    });
    Ok(EigenBaseline { rows, metrics, figures })
}

/// Test accuracy of the quadratic model `xᵀ T_c x` (+ `bias` when given); `None` without labels.
fn cp_accuracy(t: &CpTensor, bias: Option<&[f32]>, test: &Dataset) -> Option<f64> {
    accuracy(test, |x| {
        let mut z = t.logits(x);
        if let Some(b) = bias {
            add_bias(&mut z, b);
        }
        z
    })
}

/// Rows are outputs; columns the `show` most positive then the `show` most negative
/// eigenvectors, each titled with its eigenvalue.
fn eigenvector_grid(eig: &Eigen, shape: ImageShape, show: usize, names: Option<&[String]>) -> Grid {
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
    Grid {
        title: format!("Top positive and negative eigenvectors per output ({basis})"),
        column_titles: (1..=show).map(|i| format!("+{i}")).chain((1..=show).map(|i| format!("−{i}"))).collect(),
        row_labels: eig.outputs.iter().map(|&c| names.map_or_else(|| format!("output {c}"), |n| class_name(Some(n), c))).collect(),
        rows,
        cell_titles: titles,
        image_side: (shape.height, shape.width),
        caption: "red = positive pixel weight, blue = negative, white = 0; each row shares one symmetric colour scale; titles give λ"
            .to_string(),
        scale: Scale::PerRow,
    }
}

/// The spectra of the first ten outputs decomposed.
fn spectrum_chart(eig: &Eigen) -> LineChart {
    LineChart {
        title: "Eigenvalue spectrum per output (sorted)".to_string(),
        x_label: "eigenvalue index".to_string(),
        y_label: "eigenvalue λ".to_string(),
        series: eig
            .values
            .iter()
            .zip(&eig.outputs)
            .take(10)
            .map(|(v, c)| Series { name: format!("output {c}"), points: v.iter().enumerate().map(|(i, &l)| (i as f64, l)).collect() })
            .collect(),
        log_x: false,
        log_y: false,
        markers: false,
    }
}

fn truncation_chart(rows: &[TruncationRow], value: fn(&TruncationRow) -> Option<f64>, y_label: &str) -> LineChart {
    let series = [Basis::Embedding, Basis::Pixel]
        .into_iter()
        .map(|b| Series {
            name: format!("{b:?} eigenvectors").to_lowercase(),
            points: rows.iter().filter(|r| r.basis == b).filter_map(|r| Some((r.k as f64, value(r)?))).collect(),
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
