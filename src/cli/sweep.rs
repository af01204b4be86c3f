use std::path::PathBuf;

use anyhow::Result;

use crate::decomp::{Context, ContextOptions};
use crate::pipeline::base::{BaseSource, base_model};
use crate::pipeline::folder::{FolderLock, StudyFolder};
use crate::pipeline::sweep::{Execution, SweepFile, execute};

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
    let specs = sweep.expand()?;
    let data = super::load_data(&sweep.data)?;
    let _lock = FolderLock::acquire(&args.out)?;
    let folder = StudyFolder::new(&args.out);
    let source = match &sweep.model {
        Some(path) => BaseSource::File(path.clone()),
        None => {
            sweep.base.validate(&data.train)?;
            BaseSource::Train(sweep.base.clone())
        }
    };
    let log = |msg: &str| eprintln!("{msg}");
    let base = base_model(&source, &data, &folder.base(), args.fresh, &log)?;
    let ctx = Context::new(base.model.clone(), Some(&data), &ContextOptions::default())?;
    let x = Execution { ctx: &ctx, base: &base, data: &data, folder: &folder, fresh: args.fresh, log: &log };
    execute(&x, &specs)?;
    println!("{} runs finished; results in {}", specs.len(), folder.results_csv().display());
    Ok(())
}
