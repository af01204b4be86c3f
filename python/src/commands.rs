//! The folder-writing commands, `bilens.train`, `bilens.sweep`, `bilens.study`,
//! `bilens.report`, and `bilens.compare` of two run folders: each calls the library function
//! its command-line subcommand calls.

use std::path::PathBuf;

use bilens::TrainConfig;
use bilens::decomp::ContextOptions;
use bilens::pipeline::base::train_command;
use bilens::pipeline::compare::compare_runs;
use bilens::pipeline::inputs::SourcedModel;
use bilens::pipeline::spec::Share;
use bilens::pipeline::sweep::{SweepFile, run_sweep};
use bilens::report::{Options, write_with};
use bilens::study::{Plan, StudyOptions, base_source, run_study};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::arrays::{from_json, toml_table};
use crate::data::DataChoice;
use crate::model::Model;
use crate::{OrRaise, Progress, detached, logger};

/// Trains a bilinear classifier, as `bilens train`; with `out`, writes its folder too.
#[pyfunction]
#[pyo3(signature = (data = None, recipe = "study", *, out = None, threads = None, progress = true, **overrides))]
fn train(
    py: Python<'_>,
    data: Option<&Bound<'_, PyAny>>,
    recipe: &str,
    out: Option<PathBuf>,
    threads: Option<usize>,
    progress: bool,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<Model> {
    let cfg = TrainConfig::recipe(recipe).or_raise()?.with_table(toml_table(overrides)?).or_raise()?;
    let data = DataChoice::of(py, data)?.required("training")?;
    let mut bar = Progress::new(py, progress, cfg.epochs, "train")?;
    let trained = detached(py, threads, || {
        let on_epoch = |epoch: usize, loss: f64| bar.advance(epoch + 1, cfg.epochs, || format!("loss {loss:.4}"));
        match &out {
            Some(dir) => {
                train_command(&cfg, &data, dir, on_epoch)?;
                SourcedModel::read(&dir.join("model.safetensors"), None)
            }
            None => SourcedModel::in_memory(bilens::train(&cfg, &data.train, on_epoch)?.0),
        }
    });
    bar.close()?;
    Ok(Model { source: trained? })
}

/// Runs a sweep file (presets × overrides × seeds against one base model) into `out`,
/// resumably, as `bilens sweep`; returns the results table (one dict per run). `shard` ("I/N",
/// as `--shard`) or `runs` (ids) does only that share of the runs, beside other processes
/// sharing `out`, and returns its rows (`bilens.sweep` with an executor fans out through it).
#[pyfunction]
#[pyo3(signature = (file, out, *, data = None, model = None, fresh = false, threads = None, log = None, shard = None, runs = None))]
#[allow(clippy::too_many_arguments)]
fn sweep<'py>(
    py: Python<'py>,
    file: PathBuf,
    out: PathBuf,
    data: Option<PathBuf>,
    model: Option<PathBuf>,
    fresh: bool,
    threads: Option<usize>,
    log: Option<Py<PyAny>>,
    shard: Option<String>,
    runs: Option<Vec<String>>,
) -> PyResult<Bound<'py, PyList>> {
    let log = logger(py, log)?;
    let rows = detached(py, threads, || {
        let share = match (shard, runs) {
            (None, None) => Share::All,
            (Some(shard), None) => shard.parse()?,
            (None, Some(ids)) => Share::Runs(ids),
            (Some(_), Some(_)) => return Err(bilens::Error::Invalid("give shard or runs, not both".into()).into()),
        };
        let mut sweep = SweepFile::read(&file)?;
        sweep.data = data.or(sweep.data);
        sweep.model = model.or(sweep.model);
        run_sweep(&sweep, &out, &share, fresh, &|line| log.call((line,)))
    });
    log.finish()?;
    let rows = rows?.iter().map(|row| from_json(py, &serde_json::Value::Object(row.to_map()))).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, rows)
}

/// The run ids of a sweep file, in the order shards partition them (as `bilens sweep --list`).
#[pyfunction]
fn sweep_runs(file: PathBuf) -> PyResult<Vec<String>> {
    Ok(SweepFile::read(&file).and_then(|s| s.expand()).or_raise()?.into_iter().map(|s| s.id).collect())
}

/// The whole study into `out` (base model, eigen baseline, key presets over seeds, analyses,
/// report), resumably, as `bilens study`; returns the report's path.
#[pyfunction]
#[pyo3(signature = (out, *, data = None, model = None, epochs = 20, noise_std = 0.4, quick = false, fresh = false, threads = None, log = None))]
#[allow(clippy::too_many_arguments)]
fn study(
    py: Python<'_>,
    out: PathBuf,
    data: Option<&Bound<'_, PyAny>>,
    model: Option<PathBuf>,
    epochs: usize,
    noise_std: f32,
    quick: bool,
    fresh: bool,
    threads: Option<usize>,
    log: Option<Py<PyAny>>,
) -> PyResult<PathBuf> {
    let data = DataChoice::of(py, data)?.required("the study")?;
    let log = logger(py, log)?;
    let report = detached(py, threads, || {
        let options = StudyOptions {
            base: base_source(model, epochs, noise_std, &data)?,
            plan: if quick { Plan::quick() } else { Plan::standard() },
            context: ContextOptions::default(),
            fresh,
        };
        run_study(&data, &options, &out, &|line| log.call((line,)))
    });
    log.finish()?;
    report
}

/// The self-contained HTML report of a study or sweep folder, as `bilens report`; returns its
/// path (`out`, by default `dir/report.html`).
#[pyfunction]
#[pyo3(signature = (dir, out = None, *, main = None, data = None, cards = 12, threads = None))]
fn report(
    py: Python<'_>,
    dir: PathBuf,
    out: Option<PathBuf>,
    main: Option<String>,
    data: Option<PathBuf>,
    cards: usize,
    threads: Option<usize>,
) -> PyResult<PathBuf> {
    let out = out.unwrap_or_else(|| dir.join("report.html"));
    let options = Options { dir, main_run: main, data, cards };
    detached(py, threads, || write_with(&options, &out))?;
    Ok(out)
}

/// Matches two run folders' concepts per class and evidence sign, beside their models'
/// rank-matched eigenbases, as `bilens compare`; returns its JSON object as a dict (with
/// `out`, also writes `compare.json` and the figure `compare.png` there).
#[pyfunction]
#[pyo3(signature = (run_a, run_b, top = 4, *, out = None, threads = None))]
fn compare<'py>(
    py: Python<'py>,
    run_a: PathBuf,
    run_b: PathBuf,
    top: usize,
    out: Option<PathBuf>,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let result = detached(py, threads, || compare_runs(&run_a, &run_b, top, out.as_deref()))?;
    from_json(py, &result)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(train, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_runs, m)?)?;
    m.add_function(wrap_pyfunction!(study, m)?)?;
    m.add_function(wrap_pyfunction!(report, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    Ok(())
}
