use std::path::PathBuf;

use anyhow::Result;

use crate::pipeline::folder::StudyFolder;
use crate::pipeline::sweep::{SweepFile, run_sweep};

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
    /// Redo runs (and the base model) made from other inputs instead of stopping.
    #[arg(long)]
    fresh: bool,
}

pub fn run(args: Args) -> Result<()> {
    let mut sweep = SweepFile::read(&args.file)?;
    sweep.data = args.data.or(sweep.data);
    sweep.model = args.model.or(sweep.model);
    let rows = run_sweep(&sweep, &args.out, args.fresh, &|msg| eprintln!("{msg}"))?;
    println!("{} runs finished; results in {}", rows.len(), StudyFolder::new(&args.out).results_csv().display());
    Ok(())
}
