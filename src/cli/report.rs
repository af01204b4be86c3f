use std::path::PathBuf;

use anyhow::Result;

use crate::report::{Options, write_with};

#[derive(clap::Args)]
pub struct Args {
    /// The study folder (base/, eigen/, results.json, runs/, analysis/; any may be missing).
    dir: PathBuf,
    /// Output HTML file (default: DIR/report.html).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Run for the draw-a-digit panel: a run id, a preset or an id prefix
    /// (default: the first combo_cp_top1_res8 run, else the first run).
    #[arg(long = "main", value_name = "RUN_ID")]
    main_run: Option<String>,
    /// Folder of MNIST-format IDX files for the panel's test images (default: the data the runs recorded).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Component cards per run.
    #[arg(long, default_value_t = 12)]
    cards: usize,
}

pub fn run(args: Args) -> Result<()> {
    let out = args.out.clone().unwrap_or_else(|| args.dir.join("report.html"));
    let opts = Options { dir: args.dir, main_run: args.main_run, data: args.data, cards: args.cards };
    write_with(&opts, &out)?;
    println!("report written to {}", out.display());
    Ok(())
}
