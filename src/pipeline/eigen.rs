//! The eigen baseline of a model as a folder: `truncation.csv`, figures and `run.json`.

use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::folder::reuse;
use super::record::{DataRecord, Identity, RunClock};
use crate::analysis::eigen_baseline::eigen_baseline;
use crate::data::DataSplit;
use crate::io::{write_atomic, write_json};
use crate::model::Bilinear;

/// Writes the eigen baseline of `model` (file `model_path`, hash `model_sha256`) into `out`,
/// unless it is there already from the same inputs; `show` eigenvectors per sign in the
/// figures, truncations to every `k` of `ks`.
#[allow(clippy::too_many_arguments)]
pub fn write_eigen(
    model: &Bilinear,
    model_path: &Path,
    model_sha256: &str,
    data: Option<&DataSplit>,
    out: &Path,
    show: usize,
    ks: &[usize],
    fresh: bool,
) -> Result<()> {
    let identity =
        Identity::new("eigen", json!({ "model_sha256": model_sha256, "data_sha256": data.map(|d| &d.checksum), "show": show, "ks": ks }));
    if reuse(out, &identity, &["truncation.csv"], fresh, &|w| eprintln!("warning: {w}"))? {
        return Ok(());
    }
    let clock = RunClock::start("eigen");
    let image = data.map(|d| d.test.shape).filter(|s| s.pixels() == model.config().n_inputs);
    let baseline = eigen_baseline(model, data.map(|d| &d.test).filter(|t| !t.is_empty()), image, show, ks);
    let mut csv = csv::Writer::from_writer(Vec::new());
    for r in &baseline.rows {
        csv.serialize(r)?;
    }
    write_atomic(&out.join("truncation.csv"), &csv.into_inner()?)?;
    for (name, figure) in &baseline.figures {
        figure.draw(&out.join(name))?;
    }
    let inputs = json!({ "model": model_path, "model_sha256": model_sha256 });
    let record = clock.finish(&identity, 0, json!({ "show": show, "ks": ks }), data.map(DataRecord::of), inputs, &baseline.metrics)?;
    write_json(&out.join("run.json"), &record)
}
