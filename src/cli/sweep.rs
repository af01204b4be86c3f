use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::pipeline::folder::StudyFolder;
use crate::pipeline::spec::Share;
use crate::pipeline::sweep::{SweepFile, run_sweep};

#[derive(clap::Args)]
pub struct Args {
    /// The sweep file (TOML): `[base]`, optional `model`/`data`, and `[[grid]]` tables.
    file: PathBuf,
    /// Output folder (rerun with the same folder to resume).
    #[arg(long, required_unless_present = "list")]
    out: Option<PathBuf>,
    /// Data folder, overriding the file's `data`.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Base model, overriding the file's `model` (and its `[base]` training).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Redo runs (and the base model) made from other inputs instead of stopping.
    #[arg(long)]
    fresh: bool,
    /// Run only shard I of N (counted from 0) of the run list, alongside the other shards in
    /// the same folder (a job array); then `sweep` without --shard writes the results table,
    /// the per-group analyses and the frontiers.
    #[arg(long, value_name = "I/N")]
    shard: Option<Share>,
    /// Print the run ids, one a line (to size a job array), and run nothing.
    #[arg(long, conflicts_with = "shard")]
    list: bool,
}

pub fn run(args: Args) -> Result<()> {
    let mut sweep = SweepFile::read(&args.file)?;
    if args.list {
        for spec in sweep.expand()? {
            println!("{}", spec.id);
        }
        return Ok(());
    }
    let out = args.out.context("--out is required")?;
    sweep.data = args.data.or(sweep.data);
    sweep.model = args.model.or(sweep.model);
    let share = args.shard.unwrap_or(Share::All);
    let rows = run_sweep(&sweep, &out, &share, args.fresh, &|msg| eprintln!("{msg}"))?;
    match share {
        Share::All => println!("{} runs finished; results in {}", rows.len(), StudyFolder::new(&out).results_csv().display()),
        _ => println!("{} runs of this shard finished in {}", rows.len(), out.display()),
    }
    Ok(())
}
