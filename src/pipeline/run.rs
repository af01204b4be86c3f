//! One decomposition run: fit a recipe against a [`Context`], measure it ([`decompose`]), and
//! write its folder ([`write_run`]): `metrics.json`, `components.csv`, `history.csv`,
//! `factors.safetensors`, `components.png`, `components_top_pixels.png`, whatever else the
//! caller shows of the run (its analyses), then `run.json`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use rayon::prelude::*;
use serde_json::{Value, json};

use super::record::{DataRecord, Identity, RunClock};
use crate::analysis::table::component_table;
use crate::analysis::views::component_grid;
use crate::decomp::context::{Context, ContextOptions, Fitted, fit_recipe};
use crate::decomp::factors::save_factors;
use crate::decomp::fit::{Step, history_csv};
use crate::decomp::{Components, Recipe, Role, presets};
use crate::figures::{Grid, draw_grid};
use crate::image::ImageShape;
use crate::io::{write_atomic, write_json};
use crate::metrics::{Metrics, evaluate};

/// A fitted and measured decomposition.
pub struct Outcome {
    pub fitted: Fitted,
    pub metrics: Metrics,
}

/// The recipe of `preset` with a TOML file of overrides (`config`), then `key=value`
/// overrides (`sets`), applied: what `bilens decompose --preset P --config F --set k=v` runs.
pub fn recipe_of(preset: &str, config: Option<&Path>, sets: &[String]) -> Result<Recipe> {
    let mut recipe = presets::find(preset)?.recipe;
    if let Some(path) = config {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        recipe = recipe.with_toml(&text).with_context(|| format!("applying {}", path.display()))?;
    }
    recipe.with_overrides(sets)
}

/// Fits `recipe` with `seed` against `ctx` and measures the result.
pub fn decompose(ctx: &Context, recipe: &Recipe, seed: u64, on_step: &mut dyn FnMut(&Step<'_>)) -> Result<Outcome> {
    let fitted = fit_recipe(ctx, recipe, seed, on_step)?;
    let metrics = evaluate(ctx, &fitted.decomposition, fitted.class_changes());
    Ok(Outcome { fitted, metrics })
}

/// The files of a finished run folder; `run.json` comes last.
pub const RUN_OUTPUTS: [&str; 6] =
    ["metrics.json", "components.csv", "history.csv", "factors.safetensors", "components.png", "components_top_pixels.png"];

/// What determines a decomposition run's results (the `start` and `start_with` dictionaries'
/// bytes included: a run started from a refitted dictionary is not the same run).
pub fn run_identity(model_sha256: &str, data_sha256: Option<&str>, options: &ContextOptions, recipe: &Recipe, seed: u64) -> Identity {
    let mut facts = json!({ "model_sha256": model_sha256, "data_sha256": data_sha256, "context": options, "recipe": recipe, "seed": seed });
    // An unreadable start is reported by the fit; here it only has no checksum.
    for (key, file) in [("start_sha256", recipe.start_file()), ("start_with_sha256", recipe.start_with_file())] {
        if let Some(file) = file {
            facts[key] = json!(crate::io::atomic::file_sha256(&file).ok());
        }
    }
    Identity::new("decompose", facts)
}

/// Writes a run folder's results (each atomically), then `also(fingerprint)` (the caller's
/// analyses of the folder), and last its `run.json`: a folder with `run.json` holds everything.
pub fn write_run(
    dir: &Path,
    title: &str,
    ctx: &Context,
    recipe: &Recipe,
    outcome: &Outcome,
    record: RunFacts<'_>,
    also: impl FnOnce(&str) -> Result<()> + Send,
) -> Result<()> {
    write_json(&dir.join("metrics.json"), &outcome.metrics)?;
    let d = &outcome.fitted.decomposition;
    let shown = Components::of(d, |r| r == Role::Displayed);
    let mut table = csv::Writer::from_writer(Vec::new());
    let class_names = ctx.class_names();
    for row in component_table(&shown, ctx.image, class_names) {
        table.serialize(row)?;
    }
    write_atomic(&dir.join("components.csv"), &table.into_inner()?)?;
    write_atomic(&dir.join("history.csv"), &history_csv(&outcome.fitted.history)?)?;
    let meta = BTreeMap::from([("recipe".to_string(), serde_json::to_string(recipe)?)]);
    save_factors(d, &dir.join("factors.safetensors"), meta)?;
    let mut inputs = record.inputs;
    inputs["layer"] = json!({ "config": ctx.model.config(), "space": ctx.inter.space(), "storage": ctx.inter.storage() });
    inputs["notes"] = json!(ctx.notes());
    let run = record.clock.finish(record.identity, record.seed, recipe, record.data, inputs, &outcome.metrics)?;
    // The figures and the caller's analyses read what is written above, not each other.
    let figures = || {
        component_figures(title, &shown, ctx.image, class_names).par_iter().try_for_each(|(file, grid)| draw_grid(grid, &dir.join(file)))
    };
    let (drawn, analysed) = rayon::join(figures, || also(&run.fingerprint));
    drawn.and(analysed)?;
    write_json(&dir.join("run.json"), &run)
}

/// The figures of a run's displayed components `shown`, with their file names: the 16
/// strongest (`components.png`) and the same with top pixels only (`components_top_pixels.png`).
pub fn component_figures(
    title: &str,
    shown: &Components,
    image: Option<ImageShape>,
    names: Option<&[String]>,
) -> [(&'static str, Grid); 2] {
    let k = shown.len().min(16);
    [
        ("components.png", component_grid(shown, image, names, k, &format!("{title}: {k} strongest displayed components"), None)),
        ("components_top_pixels.png", component_grid(shown, image, names, k, &format!("{title}: top pixels (q = 0.70)"), Some(0.70))),
    ]
}

/// What a decomposition run records it read: the model's record (see
/// [`super::inputs::SourcedModel`]) with the preset, its overrides and the file of overrides.
pub fn run_inputs(model: &Value, preset: &str, overrides: &[String], config_file: Option<&Path>) -> Value {
    let mut inputs = model.clone();
    inputs["preset"] = json!(preset);
    inputs["overrides"] = json!(overrides);
    inputs["config_file"] = json!(config_file);
    inputs
}

/// The provenance [`write_run`] records.
pub struct RunFacts<'a> {
    pub clock: &'a RunClock,
    pub identity: &'a Identity,
    pub seed: u64,
    pub data: Option<DataRecord>,
    pub inputs: Value,
}
