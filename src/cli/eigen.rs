use std::path::PathBuf;

use anyhow::Result;

use crate::pipeline::eigen::{EigenShape, write_eigen};
use crate::pipeline::folder::{FolderLock, check_kind};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: super::ModelAndData,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// Eigenvectors of each sign shown per digit.
    #[arg(long, default_value_t = 4)]
    show: usize,
    /// Eigenvectors kept per class in the truncated models.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4,6,8,12,16,24,32,48,64,96")]
    ks: Vec<usize>,
    /// Outputs decomposed (those with the largest norms); truncations need all of them.
    #[arg(long, default_value_t = 64)]
    max_outputs: usize,
}

pub fn run(args: Args) -> Result<()> {
    let super::Loaded { model, data, model_sha256, record } = args.inputs.load()?;
    let _lock = FolderLock::acquire(&args.out)?;
    check_kind(&args.out, "eigen")?;
    let shape = EigenShape { show: args.show, ks: args.ks, max_outputs: args.max_outputs };
    write_eigen(&model, &model_sha256, record, data.as_ref(), &args.out, &shape, true)?;
    println!("eigen baseline of {} written to {}", args.inputs.model.display(), args.out.display());
    Ok(())
}
