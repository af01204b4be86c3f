//! `bilens compare`: two run folders' dictionaries matched per class and sign, beside the same
//! match of their models' rank-matched eigenbases ([`crate::analysis::compare`]), and — where
//! run A's data can be read — the same match by the patterns' responses on its training inputs
//! and how alike the two models are on its test inputs: as one JSON object and, on request, a
//! figure.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use super::analyses::{run_components, run_record};
use super::record::DataRecord;
use crate::analysis::compare::{InputMetric, compare, compare_by, figure, rank_matched_eigenbasis};
use crate::data::{DataSplit, EMBEDDED_SOURCE};
use crate::decomp::Components;
use crate::figures::draw_grid;
use crate::image::ImageShape;
use crate::model::Bilinear;

/// Patterns per class in the figure.
const FIGURE_PER_CLASS: usize = 4;

/// A finished decomposition run: its displayed components and the model it decomposed.
struct Run {
    shown: Components,
    model: Bilinear,
    data: Option<DataRecord>,
}

impl Run {
    fn read(dir: &Path) -> Result<Self> {
        let record = run_record(dir)?;
        let (shown, _) = run_components(dir).with_context(|| format!("{} holds no decomposition (factors.safetensors)", dir.display()))?;
        let path = record["inputs"]["model"].as_str().with_context(|| format!("{}/run.json records no model file", dir.display()))?;
        let model = crate::model::load_model(Path::new(path)).with_context(|| format!("reading the run's model {path}"))?;
        Ok(Self { shown, model, data: DataRecord::of_run(&record) })
    }

    /// The rank-matched eigenbasis of the run's model.
    fn eigenbasis(&self) -> Components {
        rank_matched_eigenbasis(&self.model, self.shown.n_patterns())
    }

    /// The data the run recorded, read again and checked by checksum; `None` when it recorded
    /// none or they cannot be read as they were.
    fn recorded_data(&self) -> Option<DataSplit> {
        let record = self.data.as_ref()?;
        let source = (record.source != EMBEDDED_SOURCE).then(|| PathBuf::from(&record.source));
        crate::data::load(source.as_deref()).ok().filter(|d| d.checksum == record.sha256)
    }
}

/// How alike two models are on `x` (one input per row): the share of inputs on which they
/// predict the same class, and the cosine of their logits with each input's mean over the
/// classes taken out (the part a prediction depends on).
fn models_alike(a: &Bilinear, b: &Bilinear, x: faer::MatRef<'_, f32>) -> (f64, f64) {
    let (za, zb) = (a.logits(x), b.logits(x));
    let centred = |z: &faer::Mat<f32>, i: usize| -> Vec<f64> {
        let mean = z.row(i).iter().map(|&v| v as f64).sum::<f64>() / z.ncols() as f64;
        z.row(i).iter().map(|&v| v as f64 - mean).collect()
    };
    let (mut same, mut ab, mut aa, mut bb) = (0usize, 0.0, 0.0, 0.0);
    for i in 0..x.nrows() {
        let argmax = |z: &faer::Mat<f32>| crate::model::argmax(z.row(i).iter().copied());
        same += (argmax(&za) == argmax(&zb)) as usize;
        for (u, v) in centred(&za, i).into_iter().zip(centred(&zb, i)) {
            (ab, aa, bb) = (ab + u * v, aa + u * u, bb + v * v);
        }
    }
    let cosine = if aa * bb > 0.0 { ab / (aa * bb).sqrt() } else { 0.0 };
    (same as f64 / x.nrows().max(1) as f64, cosine)
}

/// Compares the runs in `a` and `b` (the `top` heaviest patterns per class and sign); with
/// `out`, writes `compare.json` and the figure `compare.png` of matched concepts there.
pub fn compare_runs(a: &Path, b: &Path, top: usize, out: Option<&Path>) -> Result<Value> {
    if top == 0 {
        bail!("--top must be at least 1");
    }
    let (ra, rb) = (Run::read(a)?, Run::read(b)?);
    let concepts = compare(&ra.shown, &rb.shown, top)?;
    let (eigen_a, eigen_b) = (ra.eigenbasis(), rb.eigenbasis());
    let eigen = compare(&eigen_a, &eigen_b, top)?;
    let mut result = json!({
        "run_a": a,
        "run_b": b,
        "top": top,
        "similarity": concepts.similarity,
        "tensor_similarity": concepts.tensor_similarity,
        "evidence_similarity": concepts.evidence_similarity,
        "span_similarity": concepts.span_similarity,
        "eigen_rank_matched_similarity": eigen.similarity,
        "eigen_rank_matched_span_similarity": eigen.span_similarity,
        "similarity_on_inputs": null,
        "eigen_rank_matched_similarity_on_inputs": null,
        "models_agreement": null,
        "models_logit_cosine": null,
    });
    let data = ra.recorded_data().filter(|d| d.train.n_inputs == ra.shown.inputs && !d.train.is_empty());
    if let Some(data) = data {
        let metric = InputMetric::of(data.train.x());
        let on_inputs = |x: &Components, y: &Components| compare_by(x, y, top, |p, q| metric.abs_cosine(p, q)).map(|c| c.similarity);
        result["similarity_on_inputs"] = json!(on_inputs(&ra.shown, &rb.shown)?);
        result["eigen_rank_matched_similarity_on_inputs"] = json!(on_inputs(&eigen_a, &eigen_b)?);
        if !data.test.is_empty() && rb.model.config().n_inputs == data.test.n_inputs {
            let (agreement, cosine) = models_alike(&ra.model, &rb.model, data.test.x());
            (result["models_agreement"], result["models_logit_cosine"]) = (json!(agreement), json!(cosine));
        }
    }
    result["concepts"] = json!(concepts);
    result["eigen_rank_matched"] = json!(eigen);
    if let Some(out) = out {
        std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
        crate::io::write_json(&out.join("compare.json"), &result)?;
        let (inputs, outputs) = (ra.shown.inputs, ra.shown.outputs);
        // The image grid A's data recorded; a run made without data is drawn as a square image.
        if let Some(shape) = ra.data.as_ref().and_then(|d| d.image_shape(inputs)).or_else(|| square_image(inputs)) {
            let names = ra.data.as_ref().and_then(|d| d.class_names(outputs));
            draw_grid(&figure(&concepts, shape, outputs, FIGURE_PER_CLASS.min(2 * top), names), &out.join("compare.png"))?;
        }
    }
    Ok(result)
}

/// The square image of `inputs` pixels, if there is one large enough to draw.
fn square_image(inputs: usize) -> Option<ImageShape> {
    let side = (inputs as f64).sqrt().round() as usize;
    Some(ImageShape::new(side, side)).filter(|s| s.pixels() == inputs && s.supports_image_work())
}
