use std::path::PathBuf;

use anyhow::Result;

use crate::model::TrainConfig;
use crate::study::{Plan, run};

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
}

pub fn run_study(args: Args) -> Result<()> {
    let start = std::time::Instant::now();
    let data = super::load_data(&args.data)?;
    let base = TrainConfig { epochs: args.epochs, noise_std: args.noise_std, ..TrainConfig::default() };
    let plan = if args.quick { Plan::quick() } else { Plan::standard() };
    let report =
        run(&data, args.model.as_deref(), &base, &plan, &args.out, |msg| eprintln!("[{:6.1} s] {msg}", start.elapsed().as_secs_f64()))?;
    println!("study finished in {:.0} s; open {}", start.elapsed().as_secs_f64(), report.display());
    Ok(())
}
