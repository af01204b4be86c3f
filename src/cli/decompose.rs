use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::json;

use crate::decomp::experiment::{self, Context};
use crate::decomp::presets;
use crate::decomp::recipe::Recipe;
use crate::model::load_model;
use crate::run::{DataRecord, RunClock, file_sha256, write_json};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: super::ModelAndData,
    #[command(flatten)]
    choice: super::PresetChoice,
    /// TOML file of overrides (applied before `--set`).
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
}

/// The preset's recipe with the TOML file and `--set` overrides applied.
pub fn recipe(preset: &str, config: Option<&Path>, sets: &[String]) -> Result<Recipe> {
    let mut recipe = presets::find(preset)?.recipe;
    if let Some(path) = config {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        recipe = recipe.with_toml(&text).with_context(|| format!("applying {}", path.display()))?;
    }
    recipe.with_overrides(sets)
}

pub fn run(args: Args) -> Result<()> {
    let clock = RunClock::start("decompose");
    let recipe = recipe(&args.choice.preset, args.config.as_deref(), &args.choice.sets)?;
    let data = super::load_data(&args.inputs.data)?;
    let ctx = Context::new(load_model(&args.inputs.model)?, &data)?;
    recipe.validate(ctx.inter.n_classes())?;
    let total = (recipe.steps * recipe.stages) as u64;
    let bar = super::progress(total, "{prefix} {bar:30} {pos}/{len} steps {msg}");
    bar.set_prefix(args.choice.preset.clone());
    let mut outcome = experiment::run(&ctx, &recipe, args.seed, |_, _, loss, cos| {
        bar.inc(1);
        bar.set_message(format!("loss {loss:.4} cosine {cos:.4}"));
    })?;
    bar.finish_and_clear();
    experiment::write_outputs(&args.out, &args.choice.preset, &recipe, &mut outcome)?;
    let inputs = json!({ "model": args.inputs.model, "model_sha256": file_sha256(&args.inputs.model)?, "preset": args.choice.preset, "overrides": args.choice.sets, "config_file": args.config });
    let record = clock.finish(args.seed, &recipe, Some(DataRecord::of(&data)), inputs, &outcome.metrics)?;
    write_json(&args.out.join("run.json"), &record)?;
    let m = &outcome.metrics;
    println!(
        "{}: tensor cosine {:.4} (displayed {:.4}), test accuracy {:.4} ({:.4} with bias), selectivity {:.3}; results in {}",
        args.choice.preset,
        m.tensor_cosine,
        m.displayed_cosine,
        m.test_accuracy,
        m.test_accuracy_with_bias,
        m.class_selectivity,
        args.out.display()
    );
    Ok(())
}
