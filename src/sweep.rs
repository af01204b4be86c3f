//! Resumable sweeps: a grid of presets × overrides × seeds, fitted against one cached base
//! model, each run in its own folder. A run counts as finished only once its `run.json`
//! (written last, atomically) exists, so a killed sweep restarted with the same command
//! redoes exactly the unfinished runs; the results table is rebuilt from finished run
//! folders, so every configuration appears in it exactly once.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, Result, bail};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::data::DataSplit;
use crate::decomp::experiment::{self, Context};
use crate::model::{Bilinear, TrainConfig, load_model, save_model, train};
use crate::run::{DataRecord, RunClock, write_atomic, write_json};

/// A sweep file (TOML). Paths are relative to the file's folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// A base model to decompose; without it one is trained with `[base]` and cached.
    pub model: Option<PathBuf>,
    /// Folder of MNIST-format IDX files; without it the embedded digits.
    pub data: Option<PathBuf>,
    #[serde(default)]
    pub base: TrainConfig,
    /// Grids, each `presets × (every combination of the list-valued overrides) × seeds`.
    pub grid: Vec<Grid>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub presets: Vec<String>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Recipe overrides; a list value is a grid axis, a scalar applies to every run.
    #[serde(default)]
    pub set: toml::Table,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// One configuration of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    pub id: String,
    pub preset: String,
    pub sets: Vec<String>,
    pub seed: u64,
}

impl SweepFile {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut file: SweepFile = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        file.model = file.model.map(|m| dir.join(m));
        file.data = file.data.map(|d| dir.join(d));
        Ok(file)
    }

    /// Every configuration, with unique ids (duplicates across grids are merged).
    pub fn expand(&self) -> Result<Vec<RunSpec>> {
        let mut out: Vec<RunSpec> = Vec::new();
        for grid in &self.grid {
            let mut combos: Vec<Vec<String>> = vec![Vec::new()];
            for (key, value) in &grid.set {
                let values: Vec<&toml::Value> = match value {
                    toml::Value::Array(vs) => vs.iter().collect(),
                    v => vec![v],
                };
                combos =
                    combos.into_iter().flat_map(|c| values.iter().map(move |v| [c.clone(), vec![format!("{key}={v}")]].concat())).collect();
            }
            for preset in &grid.presets {
                let recipe = crate::decomp::presets::find(preset)?.recipe;
                for sets in &combos {
                    recipe.with_overrides(sets).with_context(|| format!("sweep grid for preset {preset}"))?;
                    for &seed in &grid.seeds {
                        let id = run_id(preset, sets, seed);
                        if !out.iter().any(|r| r.id == id) {
                            out.push(RunSpec { id, preset: preset.clone(), sets: sets.clone(), seed });
                        }
                    }
                }
            }
        }
        if out.is_empty() {
            bail!("the sweep has no runs (each [[grid]] needs at least one preset)");
        }
        Ok(out)
    }
}

/// A readable, file-system-safe id: `preset__key=value__…__seed=S`.
pub fn run_id(preset: &str, sets: &[String], seed: u64) -> String {
    let parts: Vec<String> = std::iter::once(preset.to_string()).chain(sets.iter().cloned()).chain([format!("seed={seed}")]).collect();
    parts.join("__").chars().map(|c| if c.is_ascii_alphanumeric() || "_=.-".contains(c) { c } else { '-' }).collect()
}

/// Loads `dir/model.safetensors` if a finished training run is there, else trains one with
/// `cfg` on `data` and saves it (with its `run.json`) into `dir`.
pub fn cached_base_model(dir: &Path, cfg: &TrainConfig, data: &DataSplit) -> Result<Bilinear> {
    let path = dir.join("model.safetensors");
    if dir.join("run.json").exists() {
        return load_model(&path);
    }
    let clock = RunClock::start("train");
    let (model, report) = train(cfg, &data.train, |_, _| {})?;
    save_model(&model, &path, Default::default())?;
    let metrics =
        json!({ "test_accuracy": model.accuracy(&data.test), "epoch_losses": report.epoch_losses, "train_seconds": report.seconds });
    write_json(&dir.join("run.json"), &clock.finish(cfg.seed, cfg, Some(DataRecord::of(data)), json!({}), metrics)?)?;
    Ok(model)
}

/// Runs every unfinished configuration of `specs` into `out/runs/<id>/` (in parallel, one
/// single-threaded run per core) and rewrites `out/results.csv` and `out/results.json`
/// after each. Failed runs are reported and left unfinished; the others go on.
pub fn run_all(
    ctx: &Context,
    data: &DataSplit,
    model_path: &Path,
    specs: &[RunSpec],
    out: &Path,
    on_done: impl Fn(&RunSpec, &Result<()>) + Sync,
) -> Result<()> {
    let todo: Vec<&RunSpec> = specs.iter().filter(|s| !is_finished(&out.join("runs").join(&s.id))).collect();
    let table_lock = Mutex::new(());
    let failures: Vec<String> = todo
        .par_iter()
        .filter_map(|spec| {
            let result = crate::linalg::sequential(|| run_one(ctx, data, model_path, spec, &out.join("runs").join(&spec.id)));
            on_done(spec, &result);
            let _guard = table_lock.lock().unwrap_or_else(|e| e.into_inner());
            let table = write_results(out, specs);
            match (result, table) {
                (Ok(()), Ok(())) => None,
                (Err(e), _) | (Ok(()), Err(e)) => Some(format!("{}: {e:#}", spec.id)),
            }
        })
        .collect();
    write_results(out, specs)?;
    if !failures.is_empty() {
        bail!("{} run(s) failed:\n  {}", failures.len(), failures.join("\n  "));
    }
    Ok(())
}

fn is_finished(dir: &Path) -> bool {
    dir.join("run.json").exists()
}

fn run_one(ctx: &Context, data: &DataSplit, model_path: &Path, spec: &RunSpec, dir: &Path) -> Result<()> {
    let clock = RunClock::start("decompose");
    let recipe = crate::decomp::presets::find(&spec.preset)?.recipe.with_overrides(&spec.sets)?;
    let mut outcome = experiment::run(ctx, &recipe, spec.seed, |_, _, _, _| {})?;
    experiment::write_outputs(dir, &spec.id, &recipe, &mut outcome)?;
    let inputs = json!({ "model": model_path, "preset": spec.preset, "overrides": spec.sets, "run_id": spec.id });
    write_json(&dir.join("run.json"), &clock.finish(spec.seed, &recipe, Some(DataRecord::of(data)), inputs, &outcome.metrics)?)
}

/// One row per finished run, in `specs` order: id, preset, seed, overrides, then metrics.
pub fn collect_results(out: &Path, specs: &[RunSpec]) -> Result<Vec<serde_json::Map<String, Value>>> {
    let mut rows = Vec::new();
    for spec in specs {
        let dir = out.join("runs").join(&spec.id);
        if !is_finished(&dir) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join("metrics.json")).with_context(|| format!("reading metrics of {}", spec.id))?;
        let metrics: serde_json::Map<String, Value> = serde_json::from_str(&text)?;
        let mut row = serde_json::Map::new();
        row.insert("run_id".into(), json!(spec.id));
        row.insert("preset".into(), json!(spec.preset));
        row.insert("seed".into(), json!(spec.seed));
        row.insert("overrides".into(), json!(spec.sets.join(" ")));
        row.extend(metrics);
        rows.push(row);
    }
    Ok(rows)
}

fn write_results(out: &Path, specs: &[RunSpec]) -> Result<()> {
    let rows = collect_results(out, specs)?;
    write_json(&out.join("results.json"), &rows)?;
    // Columns: the union of all rows' keys in first-seen order (runs written by an older
    // bilens may lack newer metrics; their cells stay empty).
    let mut columns: Vec<&String> = Vec::new();
    for key in rows.iter().flat_map(|r| r.keys()) {
        if !columns.contains(&key) {
            columns.push(key);
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    if !rows.is_empty() {
        w.write_record(&columns)?;
        for row in &rows {
            w.write_record(columns.iter().map(|k| match row.get(*k) {
                Some(Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
                None => String::new(),
            }))?;
        }
    }
    write_atomic(&out.join("results.csv"), &w.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_expand_to_unique_ids() {
        let file: SweepFile = toml::from_str(
            r#"
            [[grid]]
            presets = ["provided_sparse", "evidence_split_r32"]
            seeds = [0, 1]
            set = { steps = 5, rank = [4, 8] }
            [[grid]]
            presets = ["provided_sparse"]
            seeds = [1]
            set = { steps = 5, rank = 4 }
            "#,
        )
        .unwrap();
        let specs = file.expand().unwrap();
        assert_eq!(specs.len(), 8, "2 presets × 2 ranks × 2 seeds, the second grid repeats one");
        assert!(
            specs.iter().any(|s| s.id == "provided_sparse__rank=8__steps=5__seed=1"),
            "{:?}",
            specs.iter().map(|s| &s.id).collect::<Vec<_>>()
        );
        let bad: SweepFile = toml::from_str("[[grid]]\npresets = [\"nope\"]\n").unwrap();
        assert!(bad.expand().unwrap_err().to_string().contains("nope"));
        let bad_key: SweepFile = toml::from_str("[[grid]]\npresets = [\"provided_sparse\"]\nset = { rnak = 3 }\n").unwrap();
        assert!(format!("{:#}", bad_key.expand().unwrap_err()).contains("rnak"));
    }
}
