//! `bilens bench CASE`: times a hot path several times and prints one JSON object.
//!
//! Each case is a variant of [`Case`]. Timings are summarised as best and median seconds
//! ([`Timing`]), and the load average is recorded with them: on a shared machine the numbers
//! mean little without it.

use std::path::PathBuf;
use std::time::Instant;

use crate::linalg::matmul;
use anyhow::{Result, bail};
use faer::{Accum, Mat, Par};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Value, json};

use crate::model::{ModelConfig, TrainConfig, train};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    case: Case,
}

#[derive(clap::Subcommand)]
enum Case {
    /// Train the default classifier N times: best/median seconds, test accuracy, and achieved
    /// GFLOP/s against faer's throughput on the same GEMMs at the same thread count.
    Train(TrainArgs),
    /// Time the fit loop of a decomposition preset (after setup): milliseconds per step.
    Decompose(DecomposeArgs),
    /// A synthetic layer (N(0,1)/√fan-in weights) of any size, read from its weights alone:
    /// setup seconds, milliseconds per step and peak memory, then the seconds of its
    /// rank-matched eigen baseline.
    Layer(LayerArgs),
    /// The whole `decompose` command of every concept preset as a user waits for it (a fresh
    /// process: loading, fit, analyses, figures), and this machine's GEMM throughput on the
    /// fit's largest product.
    Concepts(ConceptArgs),
    /// The whole `study` command (embedded digits unless `--data`) in a fresh folder.
    Study(StudyArgs),
}

#[derive(clap::Args)]
struct ConceptArgs {
    /// The base model (e.g. the reference's e20).
    #[arg(long)]
    model: PathBuf,
    /// Folder of MNIST-format IDX files (default: the embedded digits).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Presets to time (default: every `concept_` preset that needs no start).
    #[arg(long = "preset")]
    presets: Vec<String>,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
}

#[derive(clap::Args)]
struct StudyArgs {
    #[arg(long)]
    data: Option<PathBuf>,
    #[arg(long, default_value_t = 1)]
    repeats: usize,
}

#[derive(clap::Args)]
struct LayerArgs {
    #[arg(long)]
    inputs: usize,
    #[arg(long)]
    hidden: usize,
    #[arg(long)]
    outputs: usize,
    /// Embedding width (default: none, the layer reads its inputs, as a language model's MLP).
    #[arg(long)]
    embed: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    choice: super::PresetChoice,
    #[arg(long, default_value_t = 10)]
    steps: usize,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
}

#[derive(clap::Args)]
struct DecomposeArgs {
    #[command(flatten)]
    inputs: super::ModelAndData,
    #[command(flatten)]
    choice: super::PresetChoice,
    /// Steps per timed fit.
    #[arg(long, default_value_t = 50)]
    steps: usize,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Folder of MNIST-format IDX files (default: the embedded digits).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Number of timed training runs.
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    #[arg(long, default_value_t = 20)]
    epochs: usize,
}

pub fn run(args: Args) -> Result<()> {
    let report = match args.case {
        Case::Train(a) => bench_train(&a)?,
        Case::Decompose(a) => bench_decompose(&a)?,
        Case::Layer(a) => bench_layer(&a)?,
        Case::Concepts(a) => bench_concepts(&a)?,
        Case::Study(a) => bench_study(&a)?,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Times `fit` on a freshly initialised decomposition, excluding the shared setup (base model,
/// data splits, distillation targets) and the final evaluation.
fn bench_decompose(args: &DecomposeArgs) -> Result<Value> {
    let super::Loaded { model, data, .. } = args.inputs.load()?;
    let (timing, _) = time_fit(model, data.as_ref(), &args.choice, args.steps, args.repeats)?;
    Ok(json!({
        "case": "decompose",
        "preset": args.choice.preset,
        "overrides": args.choice.sets,
        "threads": crate::linalg::threads(),
        "steps": args.steps,
        "ms_per_step": { "best": 1e3 * timing.best, "median": 1e3 * timing.median },
        "load_average": load_average(),
    }))
}

/// A synthetic layer decomposed from its weights alone, as [`bench_decompose`] times it, with
/// the setup (interaction tensor, its norms, the first initialisation) and the peak memory.
fn bench_layer(args: &LayerArgs) -> Result<Value> {
    let cfg = ModelConfig { n_inputs: args.inputs, n_embed: args.embed, n_hidden: args.hidden, n_outputs: args.outputs };
    for (name, v) in [("inputs", args.inputs), ("hidden", args.hidden), ("outputs", args.outputs), ("embed", args.embed.unwrap_or(1))] {
        let max = crate::model::MAX_WIDTH;
        anyhow::ensure!((1..=max).contains(&v), "--{name} {v} is out of range: allowed 1..={max}");
    }
    let model = crate::model::Bilinear::init(cfg, &mut crate::linalg::rng(args.seed));
    let (timing, setup) = time_fit(model.clone(), None, &args.choice, args.steps, args.repeats)?;
    let peak_memory = peak_memory_mib();
    // The rank-matched eigen baseline a run's metrics carry: as many terms as the displayed
    // bank draws patterns.
    let recipe = crate::pipeline::run::recipe_of(&args.choice.preset, None, &args.choice.sets)?;
    let n_patterns = recipe.rank * if recipe.form.has_minus() { 2 } else { 1 };
    let inter = crate::interaction::Interaction::new(&model);
    let start = Instant::now();
    crate::interaction::eigen::Eigen::rank_matched(&inter, n_patterns);
    let eigen_seconds = start.elapsed().as_secs_f64();
    Ok(json!({
        "case": "layer",
        "layer": cfg,
        "seed": args.seed,
        "preset": args.choice.preset,
        "overrides": args.choice.sets,
        "threads": crate::linalg::threads(),
        "steps": args.steps,
        "setup_seconds": setup,
        "ms_per_step": { "best": 1e3 * timing.best, "median": 1e3 * timing.median },
        "peak_memory_mib": peak_memory,
        "eigen_baseline": { "patterns": n_patterns, "seconds": eigen_seconds, "peak_memory_mib": peak_memory_mib() },
        "load_average": load_average(),
    }))
}

/// Per-step timings of `repeats` fits of `steps` steps of the chosen preset, each from a
/// fresh initialisation, and the seconds the setup took (context, fit data, first
/// initialisation).
fn time_fit(
    model: crate::model::Bilinear,
    data: Option<&crate::data::DataSplit>,
    choice: &super::PresetChoice,
    steps: usize,
    repeats: usize,
) -> Result<(Timing, f64)> {
    use crate::decomp::context::{Context, ContextOptions, initial};
    use crate::decomp::fit::fit;
    if repeats == 0 || steps == 0 {
        bail!("--repeats and --steps must be at least 1");
    }
    let mut sets = choice.sets.clone();
    sets.push(format!("steps={steps}"));
    let recipe = crate::pipeline::run::recipe_of(&choice.preset, None, &sets)?;
    anyhow::ensure!(recipe.stages == 1, "bench times single-stage presets");
    let start = Instant::now();
    let ctx = Context::new(model, data, &ContextOptions::default())?;
    recipe.validate(&ctx.limits())?;
    let fit_data = ctx.fit_data(&recipe, 1, None)?;
    let mut first = Some(initial(&ctx, &recipe, 0)?);
    let setup = start.elapsed().as_secs_f64();
    let mut runs = Vec::new();
    for seed in 0..repeats as u64 {
        let mut d = match first.take() {
            Some(d) => d,
            None => initial(&ctx, &recipe, seed)?,
        };
        let start = Instant::now();
        fit(&mut d, &recipe, &fit_data, 1, &mut |_| {})?;
        runs.push(start.elapsed().as_secs_f64() / steps as f64);
    }
    Ok((Timing::of(runs), setup))
}

/// Seconds of `repeats` runs of this program with `args` (and this run's thread count), each
/// into a fresh folder appended as `--out`: whole-process timings, as a user waits.
fn time_command(args: &[String], repeats: usize) -> Result<Timing> {
    anyhow::ensure!(repeats >= 1, "--repeats must be at least 1");
    let exe = std::env::current_exe()?;
    let scratch = std::env::temp_dir().join(format!("bilens-bench-{}", std::process::id()));
    let one = |k: usize| -> Result<f64> {
        let out = scratch.join(format!("run{k}"));
        let start = Instant::now();
        let status = std::process::Command::new(&exe)
            .arg("--threads")
            .arg(crate::linalg::threads().to_string())
            .args(args)
            .arg("--out")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "`bilens {}` failed ({status})", args.join(" "));
        let seconds = start.elapsed().as_secs_f64();
        std::fs::remove_dir_all(&out)?;
        Ok(seconds)
    };
    let runs = (0..repeats).map(one).collect::<Result<Vec<f64>>>();
    // Removed also after a failed run, whose partial folder would otherwise stay behind.
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(Timing::of(runs?))
}

fn bench_concepts(args: &ConceptArgs) -> Result<Value> {
    let presets: Vec<String> = if args.presets.is_empty() {
        // A refit needs another run to start from, which this benchmark does not make.
        crate::decomp::presets::all().into_iter().filter(|p| p.family == "concepts" && !p.recipe.needs_start()).map(|p| p.name).collect()
    } else {
        args.presets.clone()
    };
    let load_before = load_average();
    let mut runs = serde_json::Map::new();
    for preset in &presets {
        let steps = crate::decomp::presets::find(preset)?.recipe.total_steps();
        let mut command =
            vec!["decompose".to_string(), "--model".into(), args.model.display().to_string(), "--preset".into(), preset.clone()];
        if let Some(d) = &args.data {
            command.extend(["--data".to_string(), d.display().to_string()]);
        }
        runs.insert(preset.clone(), json!({ "steps": steps, "seconds": time_command(&command, args.repeats)? }));
    }
    Ok(json!({
        "case": "concepts",
        "model": args.model,
        "threads": crate::linalg::threads(),
        "presets": runs,
        "gemm_ceiling_gflops": gemm_gflops(784, 784, 256),
        "load_average": { "before": load_before, "after": load_average() },
    }))
}

fn bench_study(args: &StudyArgs) -> Result<Value> {
    let mut command = vec!["study".to_string()];
    if let Some(d) = &args.data {
        command.extend(["--data".to_string(), d.display().to_string()]);
    }
    let load_before = load_average();
    let seconds = time_command(&command, args.repeats)?;
    Ok(json!({
        "case": "study",
        "threads": crate::linalg::threads(),
        "seconds": seconds,
        "gemm_ceiling_gflops": gemm_gflops(784, 784, 256),
        "load_average": { "before": load_before, "after": load_average() },
    }))
}

/// faer's best GFLOP/s over 20 products `(m × k)·(k × n)` at this run's thread count: the
/// ceiling the concept fit's largest products (the inputs' second moment times the patterns)
/// run against.
fn gemm_gflops(m: usize, k: usize, n: usize) -> f64 {
    let a = Mat::<f32>::from_fn(m, k, |i, j| ((i + 3 * j) % 7) as f32 * 0.1);
    let b = Mat::<f32>::from_fn(k, n, |i, j| ((2 * i + j) % 5) as f32 * 0.1);
    let mut c = Mat::<f32>::zeros(m, n);
    let best = (0..20)
        .map(|_| {
            let start = Instant::now();
            matmul(c.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0, crate::linalg::par());
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    2.0 * (m * k * n) as f64 / best / 1e9
}

/// The process's peak resident memory in MiB (Linux `VmHWM`), or null.
fn peak_memory_mib() -> Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    kib.map_or(Value::Null, |k| json!(k / 1024.0))
}

/// Best and median of repeated timings, in seconds.
#[derive(Serialize)]
struct Timing {
    best: f64,
    median: f64,
    runs: Vec<f64>,
}

impl Timing {
    fn of(runs: Vec<f64>) -> Self {
        let mut sorted = runs.clone();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 };
        Self { best: sorted[0], median, runs }
    }
}

/// The 1-, 5- and 15-minute load averages (Linux), or null.
fn load_average() -> Value {
    match std::fs::read_to_string("/proc/loadavg") {
        Ok(text) => json!(text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")),
        Err(_) => Value::Null,
    }
}

fn bench_train(args: &TrainArgs) -> Result<Value> {
    if args.repeats == 0 {
        bail!("--repeats must be at least 1");
    }
    let data = super::load_data(&args.data)?;
    let cfg = TrainConfig { epochs: args.epochs, ..TrainConfig::default() };
    let load_before = load_average();
    let (mut seconds, mut models) = (Vec::new(), Vec::new());
    for _ in 0..args.repeats {
        let (model, report) = train(&cfg, &data.train, |_, _| {})?;
        seconds.push(report.seconds);
        models.push(model);
    }
    let model = &models[0];
    let deterministic = models.iter().all(|m| m.w_e == model.w_e && m.w_l == model.w_l && m.bias == model.bias);
    let shapes = model.config();
    let gflop = train_gemm_flop(shapes, data.train.len() * cfg.epochs) / 1e9;
    let ceiling = (0..3).map(|_| gemm_ceiling_seconds(shapes, &cfg, data.train.len())).fold(f64::INFINITY, f64::min);
    let time = Timing::of(seconds);
    Ok(json!({
        "case": "train",
        "threads": crate::linalg::threads(),
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "train_images": data.train.len(),
        "seconds": &time,
        "test_accuracy": model.accuracy(&data.test),
        "deterministic": deterministic,
        "gemm_gflop": gflop,
        "gflops": { "best": gflop / time.best, "median": gflop / time.median },
        "gemm_ceiling": { "seconds": ceiling, "gflops": gflop / ceiling },
        "fraction_of_ceiling": ceiling / time.best,
        "load_average": { "before": load_before, "after": load_average() },
    }))
}

/// The matrix products of one training step on a shard of `rows` images, as `(m, n, k)` of
/// `C (m×n) = A (m×k) · B (k×n)`, one image per column as training stores activations:
/// forward (L and R fused, 2h wide), then backward.
fn step_gemms(c: ModelConfig, rows: usize) -> [(usize, usize, usize); 8] {
    let (d, e, h, h2, o, n) = (c.n_inputs, c.n_read(), c.n_hidden, 2 * c.n_hidden, c.n_outputs, rows);
    [(e, n, d), (h2, n, e), (o, n, h), (o, h, n), (h, n, o), (h2, e, n), (e, n, h2), (e, d, n)]
}

/// Floating-point operations of the GEMMs of training on `images` images (all epochs).
fn train_gemm_flop(c: ModelConfig, images: usize) -> f64 {
    step_gemms(c, 1).iter().map(|&(m, n, k)| 2.0 * (m * n * k) as f64).sum::<f64>() * images as f64
}

/// Seconds faer takes for the GEMMs alone of a training run with `cfg`, split as training
/// splits them: each thread runs sequential products on its even share of every batch.
/// Operands are column-major and allocated up front; the slowest thread's time is returned.
fn gemm_ceiling_seconds(c: ModelConfig, cfg: &TrainConfig, images: usize) -> f64 {
    let threads = crate::linalg::threads().min(cfg.batch_size);
    let batches: Vec<usize> = (0..images).step_by(cfg.batch_size).map(|s| cfg.batch_size.min(images - s)).collect();
    let per_thread: Vec<f64> = (0..threads)
        .into_par_iter()
        .map(|t| {
            let rows: Vec<usize> = batches.iter().map(|&b| (t + 1) * b / threads - t * b / threads).collect();
            let mut sizes = rows.clone();
            sizes.sort_unstable();
            sizes.dedup();
            let fill = |m, n| Mat::<f32>::from_fn(m, n, |i, j| ((i + 3 * j) % 7) as f32 * 0.1);
            let mut operands: Vec<(usize, Vec<[Mat<f32>; 3]>)> = sizes
                .iter()
                .map(|&r| (r, step_gemms(c, r).iter().map(|&(m, n, k)| [fill(m, k), fill(k, n), fill(m, n)]).collect()))
                .collect();
            let start = Instant::now();
            for _ in 0..cfg.epochs {
                for r in &rows {
                    let (_, ops) = operands.iter_mut().find(|(size, _)| size == r).expect("sizes hold every shard size");
                    for [a, b, out] in ops.iter_mut() {
                        matmul(out.as_mut(), Accum::Replace, a.as_ref(), b.as_ref(), 1.0, Par::Seq);
                    }
                }
            }
            start.elapsed().as_secs_f64()
        })
        .collect();
    per_thread.into_iter().fold(0.0, f64::max)
}
