//! The `bilens` command line: a thin layer over the library, one file per subcommand.

mod bench;
mod compare;
mod convert;
mod decompose;
mod eigen;
mod eval;
mod explain;
mod presets;
mod report;
mod study;
mod sweep;
mod train;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::pipeline::inputs::{SourcedModel, matching_data};

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
    /// Why the model predicts what it does for one input, in the words of a run's components.
    Explain(explain::Args),
    /// Match two runs' concepts per class and sign, beside their models' eigenbases: one JSON object.
    Compare(compare::Args),
    /// List the named decomposition recipes (or show one with --show NAME).
    Presets(presets::Args),
    /// Run a resumable grid of presets × overrides × seeds (see examples/sweeps/tiny.toml).
    Sweep(sweep::Args),
    /// The whole study: base model, eigen baseline, key presets over seeds, the recommended
    /// dictionary matched across two base models, analyses, report.
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
/// (without it: all cores); faer's solvers split their work the same way at any size.
fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    crate::linalg::fix_solver_splits();
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
        Command::Explain(a) => explain::run(a),
        Command::Compare(a) => compare::run(a),
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

/// The inputs most commands share: a model file and, optionally, its data.
#[derive(clap::Args)]
struct ModelAndData {
    /// A bilinear layer in safetensors: the study's, the exercise's or an MLP's tensor names.
    #[arg(long)]
    model: PathBuf,
    /// Inputs to measure on: a folder of IDX files, or a `.npy`/`.safetensors` array of shape
    /// [n, inputs] (default: the embedded digits, when the model reads 784 inputs).
    #[arg(long, conflicts_with = "no_data")]
    data: Option<PathBuf>,
    /// Work from the weights alone: no accuracy and no data-aware metrics.
    #[arg(long)]
    no_data: bool,
    /// Read the layer through these output directions: a `[k, outputs]` array (`.npy`, or the
    /// `.safetensors` tensor `directions`), so a wide layer's chosen outputs are studied.
    #[arg(long)]
    directions: Option<PathBuf>,
    /// The classes' names, one a line (default: names the data know: `class_names.txt` in
    /// the data folder, Fashion-MNIST's).
    #[arg(long, conflicts_with = "no_data")]
    class_names: Option<PathBuf>,
}

/// A model as the commands read it, with its data and what identifies it.
struct Loaded {
    model: crate::model::Bilinear,
    data: Option<crate::data::DataSplit>,
    /// SHA-256 of the model file, combined with the directions' when there are any.
    model_sha256: String,
    /// The files read, for `run.json`.
    record: serde_json::Value,
}

impl ModelAndData {
    /// The model (read through `--directions` when given) and its data: `--data`, or the
    /// embedded digits when the model reads as many inputs as they have, or none (`--no-data`,
    /// or a model of another input size, with a note). Explicit data of the wrong size is an
    /// error.
    fn load(&self) -> anyhow::Result<Loaded> {
        let SourcedModel { model, sha256, record } = SourcedModel::read(&self.model, self.directions.as_deref())?;
        let data = if self.no_data {
            None
        } else {
            let given = self.data.as_deref().map(|path| crate::data::load(Some(path))).transpose()?;
            let (data, note) = matching_data(given, model.config().n_inputs)?;
            if let Some(note) = note {
                eprintln!("note: {note}");
            }
            match (data, &self.class_names) {
                (Some(data), Some(file)) => Some(data.with_class_names(crate::data::classes::read(file)?, file)?),
                (data, _) => data,
            }
        };
        Ok(Loaded { model, data, model_sha256: sha256, record })
    }
}

/// A preset and its `--set` overrides (decompose, bench).
#[derive(clap::Args)]
struct PresetChoice {
    /// A named recipe (`bilens presets` lists them).
    #[arg(long, default_value = "provided_sparse")]
    preset: String,
    /// Override a recipe field, e.g. `--set rank=32 --set steps=80 --set optimizer=muon`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
}

/// Loads `--data DIR`, or the embedded default set when no folder is given.
fn load_data(dir: &Option<PathBuf>) -> anyhow::Result<crate::data::DataSplit> {
    crate::data::load(dir.as_deref())
}

/// A progress bar on stderr; indicatif hides it when stderr is not a terminal.
fn progress(len: u64, template: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar
}
