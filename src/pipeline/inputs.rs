//! What a run reads, chosen and identified the same way by the command line and the Python
//! package: a model ([`SourcedModel`]: from a file, through output directions, or built in
//! memory) and the data it is measured on ([`matching_data`]).

use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};

use crate::data::DataSplit;
use crate::error::Error;
use crate::io::{file_sha256, recorded_path, sha256_hex};
use crate::model::{Bilinear, Layout, encode, load_model};

/// A model with what identifies it in run records.
#[derive(Clone, Debug)]
pub struct SourcedModel {
    pub model: Bilinear,
    /// SHA-256 of the model file (combined with the directions' when there are any).
    pub sha256: String,
    /// The files read, for `run.json` (`model`, `model_sha256`, `directions`).
    pub record: Value,
}

impl SourcedModel {
    /// The model in the file at `path`, read through `directions` when given: a `[k, outputs]`
    /// array (`.npy`, or the `.safetensors` tensor `directions`), so a decomposition studies a
    /// wide layer's chosen outputs.
    pub fn read(path: &Path, directions: Option<&Path>) -> Result<Self> {
        let mut model = load_model(path)?;
        let mut sha256 = file_sha256(path)?;
        let mut record = json!({ "model": recorded_path(path), "model_sha256": sha256 });
        if let Some(file) = directions {
            let array = crate::io::arrays::read_array(file, "directions")?;
            let outputs = model.config().n_outputs;
            let k = match array.shape[..] {
                [k, o] if o == outputs && (1..=outputs).contains(&k) => k,
                _ => {
                    return Err(Error::Invalid(format!(
                        "{}: directions must be [k, {outputs}] with k in 1..={outputs} (the model has {outputs} outputs), found {:?}",
                        file.display(),
                        array.shape
                    ))
                    .into());
                }
            };
            model = model.project_outputs(faer::MatRef::from_row_major_slice(&array.values, k, outputs));
            sha256 = sha256_hex(format!("{sha256}:{}", array.sha256).as_bytes());
            record["directions"] = json!({ "file": recorded_path(file), "sha256": array.sha256, "shape": array.shape });
        }
        Ok(Self { model, sha256, record })
    }

    /// A model that was never read from a file (built from arrays, or trained in memory),
    /// identified by the SHA-256 of the file `save_model` writes for it: saved and read back,
    /// it is the same model to every run record.
    pub fn in_memory(model: Bilinear) -> Result<Self> {
        let sha256 = sha256_hex(&encode(&model, Layout::Study, &Default::default())?);
        Ok(Self { record: json!({ "model": null, "model_sha256": sha256 }), model, sha256 })
    }
}

/// The data a model reading `n_inputs` inputs is measured on: `given` data, which must have as
/// many inputs (an error otherwise); without it, the embedded digits when they fit, or none —
/// then the note says why (the run works from the weights alone).
pub fn matching_data(given: Option<DataSplit>, n_inputs: usize) -> Result<(Option<DataSplit>, Option<String>)> {
    match given {
        Some(data) if data.test.n_inputs != n_inputs => Err(Error::Invalid(format!(
            "the model takes {n_inputs} inputs but the data has {} per example ({})",
            data.test.n_inputs, data.source
        ))
        .into()),
        Some(data) => Ok((Some(data), None)),
        None => {
            let data = crate::data::embedded();
            if data.test.n_inputs == n_inputs {
                Ok((Some(data), None))
            } else {
                let note = format!(
                    "the model reads {n_inputs} inputs, the embedded digits {}: working from the weights alone (give data for accuracy and data-aware metrics)",
                    data.test.n_inputs
                );
                Ok((None, Some(note)))
            }
        }
    }
}
