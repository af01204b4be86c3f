use std::path::PathBuf;

use anyhow::Result;

use crate::decomp::ContextOptions;
use crate::study::{Plan, StudyOptions, base_source, run_study};

#[derive(clap::Args)]
pub struct Args {
    /// Folder of MNIST-format IDX files (default: the embedded digits).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Decompose this model instead of training one.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Output folder (rerun with the same folder to resume).
    #[arg(long)]
    out: PathBuf,
    /// Epochs of base-model training.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Input-noise σ of base-model training.
    #[arg(long, default_value_t = 0.4)]
    noise_std: f32,
    /// A few short runs instead of the full plan (a smoke test).
    #[arg(long)]
    quick: bool,
    /// Redo stages made from other inputs instead of stopping.
    #[arg(long)]
    fresh: bool,
}

pub fn run_study_command(args: Args) -> Result<()> {
    let start = std::time::Instant::now();
    let data = super::load_data(&args.data)?;
    let options = StudyOptions {
        base: base_source(args.model, args.epochs, args.noise_std, &data)?,
        plan: if args.quick { Plan::quick() } else { Plan::standard() },
        context: ContextOptions::default(),
        fresh: args.fresh,
    };
    let report = run_study(&data, &options, &args.out, &|msg| eprintln!("[{:6.1} s] {msg}", start.elapsed().as_secs_f64()))?;
    println!("study finished in {:.0} s; open {}", start.elapsed().as_secs_f64(), report.display());
    Ok(())
}
