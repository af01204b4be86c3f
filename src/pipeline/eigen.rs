//! The eigen baseline of a model as a folder: `truncation.csv`, figures and `run.json`.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use serde_json::{Value, json};

use super::folder::reuse;
use super::record::{DataRecord, Identity, RunClock};
use crate::analysis::eigen_baseline::eigen_baseline;
use crate::data::DataSplit;
use crate::io::{write_atomic, write_json};
use crate::model::Bilinear;

/// What an eigen baseline shows: `show` eigenvectors per sign in the figures, truncations to
/// every `k` of `ks`, at most `max_outputs` outputs decomposed.
#[derive(Clone, Debug, Serialize)]
pub struct EigenShape {
    pub show: usize,
    pub ks: Vec<usize>,
    pub max_outputs: usize,
}

/// Writes the eigen baseline of `model` (hash `model_sha256`; `inputs` names its files for
/// `run.json`) into `out`, unless it is there already from the same inputs.
pub fn write_eigen(
    model: &Bilinear,
    model_sha256: &str,
    inputs: Value,
    data: Option<&DataSplit>,
    out: &Path,
    shape: &EigenShape,
    fresh: bool,
) -> Result<()> {
    let identity =
        Identity::new("eigen", json!({ "model_sha256": model_sha256, "data_sha256": data.map(|d| &d.checksum), "shape": shape }));
    if reuse(out, &identity, &["truncation.csv"], fresh, &|w| eprintln!("warning: {w}"))? {
        return Ok(());
    }
    let clock = RunClock::start("eigen");
    let image = data.and_then(|d| d.test.shape).filter(|s| s.pixels() == model.config().n_inputs);
    let test = data.map(|d| &d.test).filter(|t| !t.is_empty());
    let names = data.and_then(|d| d.class_names.as_deref()).filter(|n| n.len() >= model.config().n_outputs);
    let baseline = eigen_baseline(model, test, image, shape.show, &shape.ks, shape.max_outputs, names);
    let mut csv = csv::Writer::from_writer(Vec::new());
    for r in &baseline.rows {
        csv.serialize(r)?;
    }
    write_atomic(&out.join("truncation.csv"), &csv.into_inner()?)?;
    for (name, figure) in &baseline.figures {
        figure.draw(&out.join(name))?;
    }
    let record = clock.finish(&identity, 0, json!(shape), data.map(DataRecord::of), inputs, &baseline.metrics)?;
    write_json(&out.join("run.json"), &record)
}
