//! The eigen baseline of a model as a folder: `truncation.csv`, figures and `run.json`.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;
use serde_json::{Value, json};

use super::folder::reuse;
use super::record::{DataRecord, Identity, RunClock};
use crate::analysis::eigen_baseline::{MAX_TRUNCATION_TERMS, eigen_baseline, truncation_fits};
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

/// The most eigenvectors of each sign drawn per output: a wider grid does not fit a figure.
pub const MAX_SHOW: usize = 64;

impl EigenShape {
    /// Checks every setting before any work, for a model of `outputs` outputs, and names in
    /// notes the truncations that will be left out (a setting in range that yields nothing
    /// should not pass in silence).
    pub fn check(&self, outputs: usize) -> Result<Vec<String>> {
        anyhow::ensure!((1..=MAX_SHOW).contains(&self.show), "--show {} is out of range: allowed 1..={MAX_SHOW}", self.show);
        anyhow::ensure!(self.max_outputs >= 1, "--max-outputs 0 is out of range: allowed 1 or more");
        if let Some(k) = self.ks.iter().find(|k| !(1..=MAX_TRUNCATION_TERMS).contains(k)) {
            anyhow::bail!("--ks {k} is out of range: allowed 1..={MAX_TRUNCATION_TERMS}");
        }
        if self.max_outputs < outputs {
            return Ok(vec![format!(
                "no truncations: they need all {outputs} outputs decomposed, and --max-outputs is {}",
                self.max_outputs
            )]);
        }
        let over: Vec<String> = self.ks.iter().filter(|&&k| !truncation_fits(k, outputs)).map(|k| k.to_string()).collect();
        Ok(match over.is_empty() {
            true => Vec::new(),
            false => vec![format!(
                "truncations to k = {} left out: with {outputs} outputs they keep more than {MAX_TRUNCATION_TERMS} terms",
                over.join(", ")
            )],
        })
    }
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
    for note in shape.check(model.config().n_outputs)? {
        eprintln!("note: {note}");
    }
    let identity =
        Identity::new("eigen", json!({ "model_sha256": model_sha256, "data_sha256": data.map(|d| &d.checksum), "shape": shape }));
    if reuse(out, &identity, &["truncation.csv"], fresh, &|w| eprintln!("warning: {w}"))? {
        return Ok(());
    }
    let clock = RunClock::start("eigen");
    let image = data.and_then(|d| d.test.shape).filter(|s| s.pixels() == model.config().n_inputs);
    let test = data.map(|d| &d.test).filter(|t| !t.is_empty());
    let names = data.and_then(|d| d.class_names.as_deref()).filter(|n| n.len() >= model.config().n_outputs);
    let baseline = eigen_baseline(model, test, image, shape.show, &shape.ks, shape.max_outputs, names)?;
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
