//! What the page is made from, read once: the study folder's records, its base model and the
//! test images. Absent or unreadable parts become notes on the page, never a failed report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::Value;

use crate::data::{self, DataSplit};
use crate::model::Bilinear;
use crate::pipeline::ResultRow;

/// The study as read from disk.
pub struct Study {
    pub dir: PathBuf,
    /// `base/run.json`.
    pub base: Option<Value>,
    /// One row per finished run (`results.json`), in its order.
    pub rows: Vec<ResultRow>,
    /// Each run's `run.json`, by run id (absent when unreadable).
    pub records: HashMap<String, Value>,
    /// Problems met while reading (shown at the top of the page).
    pub notes: Vec<String>,
}

/// Reads a JSON file; `Ok(None)` when it does not exist.
pub fn read_json(path: &Path) -> Result<Option<Value>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?))
}

/// A CSV file with a header; cells that parse as numbers become JSON numbers.
pub type Csv = (Vec<String>, Vec<Vec<Value>>);

/// Reads a CSV file with a header.
pub fn read_csv(path: &Path) -> Result<Csv> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        rows.push(record.with_context(|| format!("parsing {}", path.display()))?.iter().map(csv_cell).collect());
    }
    Ok((headers, rows))
}

fn csv_cell(s: &str) -> Value {
    if let Ok(i) = s.parse::<i64>() {
        return Value::from(i);
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => Value::from(f),
        _ => Value::String(s.to_string()),
    }
}

impl Study {
    /// Reads what exists; never fails.
    pub fn read(dir: &Path) -> Self {
        let mut notes = Vec::new();
        let base = read_json(&dir.join("base/run.json")).unwrap_or_else(|e| {
            notes.push(format!("{e:#}"));
            None
        });
        let results = dir.join("results.json");
        let rows = match crate::pipeline::results::read_results(&results) {
            Ok(rows) => rows,
            Err(_) if !results.exists() => Vec::new(),
            Err(e) => {
                notes.push(format!("{e:#}"));
                Vec::new()
            }
        };
        let mut study = Self { dir: dir.to_path_buf(), base, rows, records: HashMap::new(), notes };
        for r in &study.rows {
            if let Ok(Some(record)) = read_json(&study.run_dir(&r.run_id).join("run.json")) {
                study.records.insert(r.run_id.clone(), record);
            }
        }
        study
    }

    /// `DIR/runs/<run_id>`.
    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.dir.join("runs").join(run_id)
    }

    /// A run's `run.json`, if readable.
    pub fn record(&self, run_id: &str) -> Option<&Value> {
        self.records.get(run_id)
    }

    /// The base model: `base/model.safetensors`, else the model `run` names; `None` with a note.
    pub fn base_model(&self, run: Option<&Value>, notes: &mut Vec<String>) -> Option<Bilinear> {
        let named = run.and_then(|r| r["inputs"]["model"].as_str()).map(PathBuf::from);
        for path in std::iter::once(self.dir.join("base/model.safetensors")).chain(named).filter(|p| p.exists()) {
            match crate::model::load_model(&path) {
                Ok(m) => return Some(m),
                Err(e) => notes.push(format!("{e:#}")),
            }
        }
        notes.push("No base model found (base/model.safetensors or the run's recorded model): logits are shown without the output bias and without the base model's.".into());
        None
    }

    /// The data `run` (else the base model) recorded, else the embedded digits with a note.
    pub fn recorded_data(&self, run: Option<&Value>, notes: &mut Vec<String>) -> DataSplit {
        let source = run.or(self.base.as_ref()).and_then(|r| r["data"]["source"].as_str()).unwrap_or(data::EMBEDDED_SOURCE);
        if source == data::EMBEDDED_SOURCE {
            return data::embedded();
        }
        match data::load(Some(Path::new(source))).context("loading the recorded data") {
            Ok(split) => split,
            Err(e) => {
                notes.push(format!(
                    "The runs used {source}, which could not be read ({e:#}); test images come from the embedded digits (pass --data to choose)."
                ));
                data::embedded()
            }
        }
    }
}

/// The run the draw-a-digit panel starts with: `wanted` as an exact run id, else the first run
/// whose preset is `wanted`, else the first whose id starts with it; without `wanted`, the
/// first run of the first of [`MAIN_PRESETS`] present (bilens's recommended concepts, its
/// faithful ones, then the reference's main recipe), else the first run.
pub fn main_run<'a>(rows: &'a [ResultRow], wanted: Option<&str>) -> Result<Option<&'a str>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.run_id.as_str()).collect();
    match wanted {
        Some(w) => {
            let by_preset = rows.iter().find(|r| r.preset == w).map(|r| r.run_id.as_str());
            let found = ids.iter().copied().find(|i| *i == w).or(by_preset).or_else(|| ids.iter().copied().find(|i| i.starts_with(w)));
            found.map(Some).with_context(|| format!("--main {w}: no run with that id, preset or id prefix among {} run(s)", ids.len()))
        }
        None => {
            Ok(MAIN_PRESETS.iter().find_map(|p| rows.iter().find(|r| r.preset == *p)).map(|r| r.run_id.as_str()).or(ids.first().copied()))
        }
    }
}

/// The presets whose runs the panel prefers to start with, in order.
pub const MAIN_PRESETS: [&str; 5] =
    ["concept_contrast_polished", "concept_contrast", "concept_stable", "concept_faithful", "combo_cp_top1_res8"];

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A results row with only its identity set.
    pub(crate) fn row(run_id: &str) -> ResultRow {
        ResultRow {
            run_id: run_id.into(),
            preset: run_id.split("__").next().unwrap().into(),
            family: String::new(),
            seed: 0,
            overrides: String::new(),
            model_sha256: String::new(),
            metrics: Default::default(),
        }
    }

    #[test]
    fn main_run_prefers_the_requested_then_the_concept_then_the_combo_preset() {
        let rows: Vec<ResultRow> =
            ["provided_sparse__seed=0", "combo_cp_top1_res8__steps=60__seed=0", "combo_cp_top1_res8__seed=1"].map(row).into();
        assert_eq!(main_run(&rows, None).unwrap(), Some("combo_cp_top1_res8__steps=60__seed=0"));
        assert_eq!(main_run(&rows, Some("combo_cp_top1_res8__seed=1")).unwrap(), Some("combo_cp_top1_res8__seed=1"));
        assert_eq!(main_run(&rows, Some("provided_sparse")).unwrap(), Some("provided_sparse__seed=0"));
        assert!(main_run(&rows, Some("nope")).is_err());
        assert_eq!(main_run(&rows[..1], None).unwrap(), Some("provided_sparse__seed=0"));
        assert_eq!(main_run(&[], None).unwrap(), None);
        let with_concepts: Vec<ResultRow> = ["combo_cp_top1_res8__seed=0", "concept_faithful__seed=2"].map(row).into();
        assert_eq!(main_run(&with_concepts, None).unwrap(), Some("concept_faithful__seed=2"));
        let recommended: Vec<ResultRow> = ["concept_faithful__seed=0", "concept_stable__seed=1"].map(row).into();
        assert_eq!(main_run(&recommended, None).unwrap(), Some("concept_stable__seed=1"));
        let contrasts: Vec<ResultRow> = ["concept_stable__seed=0", "concept_contrast__seed=1"].map(row).into();
        assert_eq!(main_run(&contrasts, None).unwrap(), Some("concept_contrast__seed=1"));
        let polished: Vec<ResultRow> = ["concept_contrast__seed=0", "concept_contrast_polished__seed=2"].map(row).into();
        assert_eq!(main_run(&polished, None).unwrap(), Some("concept_contrast_polished__seed=2"));
    }
}
