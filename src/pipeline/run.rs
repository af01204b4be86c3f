//! One decomposition run: fit a recipe against a [`Context`], measure it ([`decompose`]), and
//! write its folder ([`write_run`]): `metrics.json`, `components.csv`, `history.csv`,
//! `factors.safetensors`, `components.png`, `components_top_pixels.png`, then `run.json`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};

use super::record::{DataRecord, Identity, RunClock};
use crate::analysis::views::component_grid;
use crate::decomp::context::{Context, ContextOptions, Fitted, fit_recipe};
use crate::decomp::factors::save_factors;
use crate::decomp::fit::{Step, history_csv};
use crate::decomp::{Components, Recipe, Role};
use crate::figures::draw_grid;
use crate::io::{write_atomic, write_json};
use crate::metrics::{Metrics, component_table, evaluate};

/// A fitted and measured decomposition.
pub struct Outcome {
    pub fitted: Fitted,
    pub metrics: Metrics,
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

/// What determines a decomposition run's results.
pub fn run_identity(model_sha256: &str, data_sha256: Option<&str>, options: &ContextOptions, recipe: &Recipe, seed: u64) -> Identity {
    Identity::new(
        "decompose",
        json!({ "model_sha256": model_sha256, "data_sha256": data_sha256, "context": options, "recipe": recipe, "seed": seed }),
    )
}

/// Writes a run folder's results (each atomically) and, last, its `run.json`.
pub fn write_run(dir: &Path, title: &str, ctx: &Context, recipe: &Recipe, outcome: &Outcome, record: RunFacts<'_>) -> Result<()> {
    write_json(&dir.join("metrics.json"), &outcome.metrics)?;
    let d = &outcome.fitted.decomposition;
    let shown = Components::of(d, |r| r == Role::Displayed);
    let mut table = csv::Writer::from_writer(Vec::new());
    for row in component_table(&shown, ctx.image) {
        table.serialize(row)?;
    }
    write_atomic(&dir.join("components.csv"), &table.into_inner()?)?;
    write_atomic(&dir.join("history.csv"), &history_csv(&outcome.fitted.history)?)?;
    let meta = BTreeMap::from([("recipe".to_string(), serde_json::to_string(recipe)?)]);
    save_factors(d, &dir.join("factors.safetensors"), meta)?;
    let k = shown.len().min(16);
    for (file, caption, top) in [
        ("components.png", format!("{title}: {k} strongest displayed components"), None),
        ("components_top_pixels.png", format!("{title}: top pixels (q = 0.70)"), Some(0.70)),
    ] {
        draw_grid(&component_grid(&shown, ctx.image, k, &caption, top), &dir.join(file))?;
    }
    let mut inputs = record.inputs;
    inputs["layer"] = json!({ "config": ctx.model.config(), "space": ctx.inter.space(), "storage": ctx.inter.storage() });
    inputs["notes"] = json!(ctx.notes());
    let run = record.clock.finish(record.identity, record.seed, recipe, record.data, inputs, &outcome.metrics)?;
    write_json(&dir.join("run.json"), &run)
}

/// The provenance [`write_run`] records.
pub struct RunFacts<'a> {
    pub clock: &'a RunClock,
    pub identity: &'a Identity,
    pub seed: u64,
    pub data: Option<DataRecord>,
    pub inputs: Value,
}
