//! The results table of a study or sweep: one typed [`ResultRow`] per finished run, written as
//! `results.json` and `results.csv` and read back by the report.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::io::{write_atomic, write_json};
use crate::metrics::Metrics;

/// One finished run: what it was, and its metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub run_id: String,
    pub preset: String,
    /// The preset's family (`bilens presets` lists them).
    #[serde(default)]
    pub family: String,
    pub seed: u64,
    /// The `--set` overrides, space-separated.
    pub overrides: String,
    /// SHA-256 of the base model file every metric was measured against.
    #[serde(default)]
    pub model_sha256: String,
    #[serde(flatten)]
    pub metrics: Metrics,
}

impl ResultRow {
    /// The row as a flat JSON object (for tables and scatters keyed by column name): nested
    /// metrics become `outer.inner` columns.
    pub fn to_map(&self) -> Map<String, Value> {
        let Ok(Value::Object(m)) = serde_json::to_value(self) else { return Map::new() };
        let mut flat = Map::new();
        for (key, value) in m {
            match value {
                Value::Object(inner) => flat.extend(inner.into_iter().map(|(k, v)| (format!("{key}.{k}"), v))),
                v => {
                    flat.insert(key, v);
                }
            }
        }
        flat
    }

    /// The id of the run's configuration without its seed (runs that differ only in seed
    /// share it).
    pub fn configuration(&self) -> &str {
        self.run_id.rsplit_once("__seed=").map_or(&self.run_id, |(head, _)| head)
    }
}

/// Writes `results.json` and `results.csv` (columns in the order of the rows' fields).
pub fn write_results(json_path: &Path, csv_path: &Path, rows: &[ResultRow]) -> Result<()> {
    write_json(json_path, &rows)?;
    let maps: Vec<Map<String, Value>> = rows.iter().map(ResultRow::to_map).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    if let Some(first) = maps.first() {
        let columns: Vec<&String> = first.keys().collect();
        w.write_record(&columns)?;
        for row in &maps {
            w.write_record(columns.iter().map(|k| match row.get(*k) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            }))?;
        }
    }
    write_atomic(csv_path, &w.into_inner()?)
}

/// Reads `results.json`.
pub fn read_results(path: &Path) -> Result<Vec<ResultRow>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a bilens results table", path.display()))
}
