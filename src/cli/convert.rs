use std::path::PathBuf;

use anyhow::Result;

use crate::model::{Layout, layout_of, load_model, save_as};

#[derive(clap::Args)]
pub struct Args {
    /// A bilinear layer in any layout bilens reads (study, exercise, mlp).
    model: PathBuf,
    /// The layout to write: `study` (bilens's), `exercise` (the bilinear-MLP paper's image
    /// model: `embed.weight`, `blocks.0.weight`, `head.weight`) or `mlp` (`w.weight`, `p.weight`).
    #[arg(long)]
    to: Layout,
    /// The file to write.
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: Args) -> Result<()> {
    let from = layout_of(&args.model)?;
    let model = load_model(&args.model)?;
    save_as(&model, args.to, &args.out, &Default::default())?;
    println!("{} ({from:?} layout) written to {} in the {:?} layout", args.model.display(), args.out.display(), args.to);
    Ok(())
}
