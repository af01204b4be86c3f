use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::json;

use crate::decomp::{Context, ContextOptions, Recipe, presets};
use crate::pipeline::folder::{FolderLock, check_kind};
use crate::pipeline::record::{DataRecord, RunClock};
use crate::pipeline::run::{RunFacts, decompose, run_identity, write_run};

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
    let super::Loaded { model, data, model_sha256, record } = args.inputs.load()?;
    let options = ContextOptions::default();
    let ctx = Context::new(model, data.as_ref(), &options)?;
    for note in ctx.notes() {
        eprintln!("note: {note}");
    }
    recipe.validate(&ctx.limits())?;
    let _lock = FolderLock::acquire(&args.out)?;
    check_kind(&args.out, "decompose")?;
    let identity = run_identity(&model_sha256, data.as_ref().map(|d| d.checksum.as_str()), &options, &recipe, args.seed);
    let total = (recipe.steps * recipe.stages) as u64;
    let bar = super::progress(total, "{prefix} {bar:30} {pos}/{len} steps {msg}");
    bar.set_prefix(args.choice.preset.clone());
    let outcome = decompose(&ctx, &recipe, args.seed, &mut |s| {
        bar.inc(1);
        bar.set_message(format!("loss {:.4} cosine {:.4}", s.loss, s.tensor_cosine));
    })?;
    bar.finish_and_clear();
    let mut inputs = record;
    inputs["preset"] = json!(args.choice.preset);
    inputs["overrides"] = json!(args.choice.sets);
    inputs["config_file"] = json!(args.config);
    let facts = RunFacts { clock: &clock, identity: &identity, seed: args.seed, data: data.as_ref().map(DataRecord::of), inputs };
    write_run(&args.out, &args.choice.preset, &ctx, &recipe, &outcome, facts)?;
    crate::pipeline::analyses::analyse_run(&ctx, &args.out)?;
    let m = &outcome.metrics;
    let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
    println!(
        "{}: tensor cosine {:.4} (displayed {:.4}), test accuracy {} ({} with bias), selectivity {:.3}; results in {}",
        args.choice.preset,
        m.tensor_cosine,
        m.displayed_cosine,
        pct(m.test_accuracy),
        pct(m.test_accuracy_with_bias),
        m.class_selectivity,
        args.out.display()
    );
    Ok(())
}
