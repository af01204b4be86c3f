//! `bilens compare`: two run folders' dictionaries matched per class and sign, beside the same
//! match of their models' rank-matched eigenbases ([`crate::analysis::compare`]), as one JSON
//! object and, on request, a figure.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use super::analyses::{run_components, run_record};
use super::record::DataRecord;
use crate::analysis::compare::{compare, figure, rank_matched_eigenbasis};
use crate::decomp::Components;
use crate::figures::draw_grid;
use crate::image::ImageShape;

/// Patterns per class in the figure.
const FIGURE_PER_CLASS: usize = 4;

/// A finished decomposition run: its displayed components and the model it decomposed.
struct Run {
    shown: Components,
    model: PathBuf,
    data: Option<DataRecord>,
}

impl Run {
    fn read(dir: &Path) -> Result<Self> {
        let record = run_record(dir)?;
        let (shown, _) = run_components(dir).with_context(|| format!("{} holds no decomposition (factors.safetensors)", dir.display()))?;
        let model = record["inputs"]["model"].as_str().with_context(|| format!("{}/run.json records no model file", dir.display()))?;
        Ok(Self { shown, model: PathBuf::from(model), data: DataRecord::of_run(&record) })
    }

    /// The rank-matched eigenbasis of the run's model.
    fn eigenbasis(&self) -> Result<Components> {
        let model = crate::model::load_model(&self.model).with_context(|| format!("reading the run's model {}", self.model.display()))?;
        Ok(rank_matched_eigenbasis(&model, self.shown.n_patterns()))
    }
}

/// Compares the runs in `a` and `b` (the `top` heaviest patterns per class and sign); with
/// `out`, writes `compare.json` and the figure `compare.png` of matched concepts there.
pub fn compare_runs(a: &Path, b: &Path, top: usize, out: Option<&Path>) -> Result<Value> {
    if top == 0 {
        bail!("--top must be at least 1");
    }
    let (ra, rb) = (Run::read(a)?, Run::read(b)?);
    let concepts = compare(&ra.shown, &rb.shown, top)?;
    let eigen = compare(&ra.eigenbasis()?, &rb.eigenbasis()?, top)?;
    let result = json!({
        "run_a": a,
        "run_b": b,
        "top": top,
        "similarity": concepts.similarity,
        "tensor_similarity": concepts.tensor_similarity,
        "evidence_similarity": concepts.evidence_similarity,
        "eigen_rank_matched_similarity": eigen.similarity,
        "concepts": concepts,
        "eigen_rank_matched": eigen,
    });
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
