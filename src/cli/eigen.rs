use std::path::PathBuf;

use anyhow::Result;

use crate::io::file_sha256;
use crate::model::load_model;
use crate::pipeline::eigen::write_eigen;
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
}

pub fn run(args: Args) -> Result<()> {
    let model = load_model(&args.inputs.model)?;
    let data = super::load_data(&args.inputs.data)?;
    if model.config().n_inputs != data.test.n_pixels() {
        return Err(crate::error::Error::Invalid(format!(
            "the model takes {} inputs but the images have {} pixels ({})",
            model.config().n_inputs,
            data.test.n_pixels(),
            data.test.shape
        ))
        .into());
    }
    let _lock = FolderLock::acquire(&args.out)?;
    check_kind(&args.out, "eigen")?;
    let sha = file_sha256(&args.inputs.model)?;
    write_eigen(&model, &args.inputs.model, &sha, Some(&data), &args.out, args.show, &args.ks, true)?;
    println!("eigen baseline of {} written to {}", args.inputs.model.display(), args.out.display());
    Ok(())
}
