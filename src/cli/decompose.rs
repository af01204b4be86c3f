use std::path::PathBuf;

use anyhow::Result;

use crate::decomp::{Context, ContextOptions};
use crate::pipeline::analyses::analyse_run;
use crate::pipeline::folder::{FolderLock, check_kind};
use crate::pipeline::record::{DataRecord, RunClock};
use crate::pipeline::run::{RunFacts, decompose, recipe_of, run_identity, run_inputs, write_run};

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

pub fn run(args: Args) -> Result<()> {
    let clock = RunClock::start("decompose");
    let recipe = recipe_of(&args.choice.preset, args.config.as_deref(), &args.choice.sets)?;
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
    let total = recipe.total_steps() as u64;
    let bar = super::progress(total, "{prefix} {bar:30} {pos}/{len} steps {msg}");
    bar.set_prefix(args.choice.preset.clone());
    let outcome = decompose(&ctx, &recipe, args.seed, &mut |s| {
        bar.inc(1);
        bar.set_message(format!("loss {:.4} cosine {:.4}", s.loss, s.tensor_cosine));
    })?;
    bar.finish_and_clear();
    let inputs = run_inputs(&record, &args.choice.preset, &args.choice.sets, args.config.as_deref());
    let facts = RunFacts { clock: &clock, identity: &identity, seed: args.seed, data: data.as_ref().map(DataRecord::of), inputs };
    write_run(&args.out, &args.choice.preset, &ctx, &recipe, &outcome, facts, |run| analyse_run(&ctx, &args.out, run))?;
    let m = &outcome.metrics;
    let pct = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.4}"));
    let r = &m.readout;
    println!(
        "{}: agreement {}, logit R² {}, weighted coherence {}, weighted locality {}, sign purity {}, explanation size {}, cancellation {}; tensor cosine {:.4} (displayed {:.4}), test accuracy {} ({} with bias), selectivity {:.3}; results in {}",
        args.choice.preset,
        pct(r.agreement),
        pct(r.logit_r2),
        pct(r.coherence_weighted),
        pct(r.locality_7x7_weighted),
        pct(r.sign_purity_weighted),
        r.explanation_size.map_or("–".to_string(), |v| format!("{v:.2}")),
        r.cancellation.map_or("–".to_string(), |v| format!("{v:.2}")),
        m.tensor_cosine,
        m.displayed_cosine,
        pct(m.test_accuracy),
        pct(m.test_accuracy_with_bias),
        m.class_selectivity,
        args.out.display()
    );
    Ok(())
}
