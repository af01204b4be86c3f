use std::path::PathBuf;

use anyhow::Result;

use crate::decomp::experiment::Context;
use crate::sweep::{SweepFile, cached_base_model, run_all};

#[derive(clap::Args)]
pub struct Args {
    /// The sweep file (TOML): `[base]`, optional `model`/`data`, and `[[grid]]` tables.
    file: PathBuf,
    /// Output folder (rerun with the same folder to resume).
    #[arg(long)]
    out: PathBuf,
    /// Data folder, overriding the file's `data`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Base model, overriding the file's `model` (and its `[base]` training).
    #[arg(long)]
    model: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let mut sweep = SweepFile::read(&args.file)?;
    sweep.data = args.data.or(sweep.data);
    sweep.model = args.model.or(sweep.model);
    let specs = sweep.expand()?;
    let data = super::load_data(&sweep.data)?;
    let (model, model_path) = match &sweep.model {
        Some(path) => (crate::model::load_model(path)?, path.clone()),
        None => (cached_base_model(&args.out.join("base"), &sweep.base, &data)?, args.out.join("base/model.safetensors")),
    };
    let ctx = Context::new(model, &data)?;
    let done = specs.iter().filter(|s| args.out.join("runs").join(&s.id).join("run.json").exists()).count();
    eprintln!("{} runs, {} already finished", specs.len(), done);
    let bar = super::progress((specs.len() - done) as u64, "sweep {bar:30} {pos}/{len} runs {msg}");
    run_all(&ctx, &data, &model_path, &specs, &args.out, |spec, result| {
        bar.inc(1);
        match result {
            Ok(()) => bar.set_message(spec.id.clone()),
            Err(e) => bar.println(format!("failed: {}: {e:#}", spec.id)),
        }
    })?;
    bar.finish_and_clear();
    crate::study::analyse_runs(&ctx, &args.out, &specs)?;
    for (name, group) in crate::study::seed_groups(&specs) {
        crate::study::seed_analysis(&args.out, &name, &group)?;
    }
    crate::study::draw_frontiers(&crate::sweep::collect_results(&args.out, &specs)?, &args.out.join("analysis"))?;
    println!("{} runs finished; results in {}", specs.len(), args.out.join("results.csv").display());
    Ok(())
}
