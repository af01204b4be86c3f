use std::path::{Path, PathBuf};

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
    // Written atomically, the output would replace the input (read-only or not): a layout
    // that keeps less (no bias, other names and metadata) would lose the original for good.
    let same = |a: &Path, b: &Path| std::fs::canonicalize(a).ok().is_some_and(|a| std::fs::canonicalize(b).is_ok_and(|b| a == b));
    anyhow::ensure!(
        !same(&args.model, &args.out),
        "--out {} is the input model itself: write the converted model to another file",
        args.out.display()
    );
    let from = layout_of(&args.model)?;
    let model = load_model(&args.model)?;
    save_as(&model, args.to, &args.out, &Default::default())?;
    println!("{} ({from:?} layout) written to {} in the {:?} layout", args.model.display(), args.out.display(), args.to);
    Ok(())
}
