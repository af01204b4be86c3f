//! The `bilens` command line: a thin layer over the library, one file per subcommand.

mod bench;
mod convert;
mod decompose;
mod eigen;
mod eval;
mod presets;
mod report;
mod study;
mod sweep;
mod train;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Weight-based interpretability of bilinear classifiers.
#[derive(Parser)]
#[command(name = "bilens", version, about, long_about = None)]
struct Cli {
    /// Threads for matrix products and parallel loops (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a bilinear classifier; writes model.safetensors, config.json and run.json.
    Train(train::Args),
    /// Evaluate a model: prints one JSON object (test_accuracy, tensor_norm, ...).
    Eval(eval::Args),
    /// Rewrite a model file in another layout (study, exercise, mlp).
    Convert(convert::Args),
    /// Eigendecomposition baseline: spectra, eigenvector grid, truncated eigen-models.
    Eigen(eigen::Args),
    /// Fit a decomposition preset to a model's interaction tensor and measure it.
    Decompose(decompose::Args),
    /// List the named decomposition recipes (or show one with --show NAME).
    Presets(presets::Args),
    /// Run a resumable grid of presets × overrides × seeds (see examples/sweeps/tiny.toml).
    Sweep(sweep::Args),
    /// The whole study: base model, eigen baseline, key presets over seeds, analyses, report.
    Study(study::Args),
    /// Time a hot path (e.g. `bench train`); prints one JSON object.
    Bench(bench::Args),
    /// One self-contained HTML report of a study folder, with a draw-a-digit panel.
    Report(report::Args),
}

/// Entry point of the binary: errors are printed with their causes, never as panics.
pub fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = set_threads(cli.threads).and_then(|()| run(cli.command));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `--threads N` sizes rayon's global pool, which every matrix product and parallel loop uses
/// (without it: all cores).
fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    let Some(n) = threads else { return Ok(()) };
    anyhow::ensure!(
        (1..=crate::linalg::MAX_THREADS).contains(&n),
        "--threads {n} is out of range: allowed 1..={}",
        crate::linalg::MAX_THREADS
    );
    rayon::ThreadPoolBuilder::new().num_threads(n).build_global()?;
    Ok(())
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Convert(a) => convert::run(a),
        Command::Eigen(a) => eigen::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Decompose(a) => decompose::run(a),
        Command::Presets(a) => presets::run(a),
        Command::Sweep(a) => sweep::run(a),
        Command::Study(a) => study::run_study_command(a),
        Command::Report(a) => report::run(a),
    }
}

/// The inputs most commands share: a model file and a data folder.
#[derive(clap::Args)]
struct ModelAndData {
    /// A bilinear model in safetensors (bilens or PyTorch state_dict names).
    #[arg(long)]
    model: PathBuf,
    /// Folder of MNIST-format IDX files (default: the embedded digits).
    #[arg(long)]
    data: Option<PathBuf>,
}

/// A preset and its `--set` overrides (decompose, bench).
#[derive(clap::Args)]
struct PresetChoice {
    /// A named recipe (`bilens presets` lists them).
    #[arg(long)]
    preset: String,
    /// Override a recipe field, e.g. `--set rank=32 --set steps=80 --set optimizer=muon`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Loads `--data DIR`, or the embedded default set when no folder is given.
fn load_data(dir: &Option<PathBuf>) -> anyhow::Result<crate::data::DataSplit> {
    Ok(crate::data::load(dir.as_deref())?)
}

/// A progress bar on stderr; indicatif hides it when stderr is not a terminal.
fn progress(len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
