//! Decompositions (`bilens.decompose`, `bilens.Decomposition`) and the presets they start from:
//! the same run as `bilens decompose`, kept in memory, and written to a folder on request.

use std::path::PathBuf;

use bilens::analysis::describe::describe;
use bilens::analysis::explain::{check_input, read};
use bilens::decomp::{Components, Role};
use bilens::figures::render_grid;
use bilens::pipeline::analyses::analyse_run;
use bilens::pipeline::folder::{FolderLock, check_kind};
use bilens::pipeline::inputs::{SourcedModel, matching_data};
use bilens::pipeline::record::{DataRecord, Identity, RunClock};
use bilens::pipeline::run::{RunFacts, component_figures, decompose as fit_and_measure, recipe_of, run_identity, run_inputs, write_run};
use bilens::{Context, ContextOptions, Outcome, Recipe};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::arrays::{finite_floats, from_matrix, from_values, overrides, to_python};
use crate::data::DataChoice;
use crate::model::Model;
use crate::{BilensError, OrRaise, Progress, detached, warn};

/// The named recipes: a list of dicts with `name`, `family` and `description`.
#[pyfunction]
fn presets(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let rows = bilens::presets().into_iter().map(|p| {
        let row = PyDict::new(py);
        row.set_item("name", p.name)?;
        row.set_item("family", p.family)?;
        row.set_item("description", p.recipe.description)?;
        Ok(row)
    });
    PyList::new(py, rows.collect::<PyResult<Vec<_>>>()?)
}

/// The full recipe of one preset, as a dict: every key can be overridden in `decompose`.
#[pyfunction]
fn preset<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    to_python(py, &bilens::preset(name).or_raise()?.recipe)
}

/// Fits a preset to the model's interaction tensor and measures it, as `bilens decompose` does.
#[pyfunction]
#[pyo3(signature = (model, preset = "provided_sparse", data = None, seed = 0, *, config = None, threads = None, progress = true, **overrides))]
#[allow(clippy::too_many_arguments)]
fn decompose(
    py: Python<'_>,
    model: &Bound<'_, PyAny>,
    preset: &str,
    data: Option<&Bound<'_, PyAny>>,
    seed: u64,
    config: Option<PathBuf>,
    threads: Option<usize>,
    progress: bool,
    overrides: Option<&Bound<'_, PyDict>>,
) -> PyResult<Decomposition> {
    let mut clock = RunClock::start("decompose");
    let sets = self::overrides(overrides)?;
    let recipe = recipe_of(preset, config.as_deref(), &sets).or_raise()?;
    let model = match model.cast::<Model>() {
        Ok(m) => ModelArg::Given(Box::new(m.get().source.clone())),
        Err(_) => ModelArg::File(model.extract().map_err(|_| BilensError::new_err("model must be a bilens.Model or a path"))?),
    };
    let data = DataChoice::of(py, data)?;
    let total = recipe.total_steps();
    let mut bar = Progress::new(py, progress, total, preset)?;
    let fitted = detached(py, threads, || {
        let source = match model {
            ModelArg::Given(source) => *source,
            ModelArg::File(path) => SourcedModel::read(&path, None)?,
        };
        let (data, note) = match data {
            DataChoice::Without => (None, None),
            DataChoice::Default => matching_data(None, source.model.config().n_inputs)?,
            DataChoice::Given(d) => matching_data(Some(*d), source.model.config().n_inputs)?,
        };
        let options = ContextOptions::default();
        let ctx = Context::new(source.model.clone(), data.as_ref(), &options)?;
        recipe.validate(&ctx.limits())?;
        let identity = run_identity(&source.sha256, data.as_ref().map(|d| d.checksum.as_str()), &options, &recipe, seed);
        // Steps counted as they come: the pairs' fit is a stage of its own length.
        let mut done = 0;
        let outcome = fit_and_measure(&ctx, &recipe, seed, &mut |s| {
            done += 1;
            bar.advance(done, total, || format!("loss {:.4} cosine {:.4}", s.loss, s.tensor_cosine));
        })?;
        Ok((ctx, outcome, identity, data.as_ref().map(DataRecord::of), source.record, note))
    });
    bar.close()?;
    let (ctx, outcome, identity, data, model_record, note) = fitted?;
    clock.stop();
    for note in note.iter().chain(ctx.notes()) {
        warn(py, note)?;
    }
    Ok(Decomposition { ctx, outcome, recipe, preset: preset.to_string(), sets, config, seed, threads, model_record, identity, data, clock })
}

enum ModelArg {
    Given(Box<SourcedModel>),
    File(PathBuf),
}

/// A fitted and measured decomposition of a model's interaction tensor (the result of
/// `bilens.decompose`): metrics, factors, components, figures; `save(dir)` writes the folder
/// `bilens decompose --out dir` writes.
#[pyclass(frozen, module = "bilens")]
pub struct Decomposition {
    ctx: Context,
    outcome: Outcome,
    recipe: Recipe,
    preset: String,
    /// The overrides as `key=value`, and the file of overrides, as run records name them.
    sets: Vec<String>,
    config: Option<PathBuf>,
    seed: u64,
    /// The thread count it ran with, so that `save` records the same one.
    threads: Option<usize>,
    model_record: serde_json::Value,
    identity: Identity,
    data: Option<DataRecord>,
    clock: RunClock,
}

impl Decomposition {
    fn shown(&self, residual: bool) -> Components {
        Components::of(&self.outcome.fitted.decomposition, |r| residual || r == Role::Displayed)
    }
}

#[pymethods]
impl Decomposition {
    /// Every metric, as in `metrics.json` (None where a metric needs data or images it lacked).
    #[getter]
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.outcome.metrics)
    }

    /// The whole decomposition (displayed, then residual banks) as CP factors: `heads`
    /// [outputs, R], `u` and `w` [inputs, R], the tensor `T_c = sym(Σ_r heads[c, r] u_r w_rᵀ)`
    /// (an evidence-split component is two triples). `interaction().cosine(**factors)` is the
    /// tensor cosine.
    #[getter]
    fn factors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let t = self.outcome.fitted.decomposition.tensor();
        let dict = PyDict::new(py);
        dict.set_item("heads", from_matrix(py, t.heads.as_ref()))?;
        dict.set_item("u", from_matrix(py, t.u.as_ref()))?;
        dict.set_item("w", from_matrix(py, t.w.as_ref()))?;
        Ok(dict)
    }

    /// Each bank's effective factors as `factors.safetensors` stores them: dicts with `form`
    /// ("cp", "symmetric", "split"), `role` ("displayed", "residual"), `a`, `b` [inputs, r] and
    /// `heads` [outputs, r].
    #[getter]
    fn banks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let d = &self.outcome.fitted.decomposition;
        let banks = d.banks.iter().zip(d.factors()).map(|(bank, f)| {
            let row = PyDict::new(py);
            row.set_item("form", to_python(py, &bank.form)?)?;
            row.set_item("role", to_python(py, &bank.role)?)?;
            row.set_item("a", from_matrix(py, f.a.as_ref()))?;
            row.set_item("b", from_matrix(py, f.b.as_ref()))?;
            row.set_item("heads", from_matrix(py, f.d.as_ref()))?;
            Ok(row)
        });
        PyList::new(py, banks.collect::<PyResult<Vec<_>>>()?)
    }

    /// The components, strongest first, as dicts: `plus` and `minus` (unit patterns; matching
    /// `plus` raises the head's outputs, matching `minus` lowers them), `head`, `strength`,
    /// `form`, `role`, `class` and `sign` (the output the head votes for most), `bank`,
    /// `index`, and the factors `a`, `b`. Displayed components only, unless `residual`.
    #[pyo3(signature = (residual = false))]
    fn components<'py>(&self, py: Python<'py>, residual: bool) -> PyResult<Bound<'py, PyList>> {
        let vector = |v: &[f32]| from_values(py, v.len(), v.to_vec());
        let names = self.ctx.class_names();
        let rows = self.shown(residual).items.into_iter().map(|c| {
            let row = PyDict::new(py);
            let (class, sign) = c.head_class();
            row.set_item("description", describe(&c, self.ctx.image, names))?;
            row.set_item("plus", vector(&c.plus)?)?;
            row.set_item("minus", vector(&c.minus)?)?;
            row.set_item("head", vector(&c.head)?)?;
            row.set_item("strength", c.strength)?;
            row.set_item("form", to_python(py, &c.form)?)?;
            row.set_item("role", to_python(py, &c.role)?)?;
            row.set_item("class", class)?;
            row.set_item("sign", sign as i32)?;
            row.set_item("bank", c.bank)?;
            row.set_item("index", c.index)?;
            row.set_item("a", vector(&c.a)?)?;
            row.set_item("b", vector(&c.b)?)?;
            Ok(row)
        });
        PyList::new(py, rows.collect::<PyResult<Vec<_>>>()?)
    }

    /// Why the model predicts what it does for one input (a vector or an image of the model's
    /// inputs, used as it is), in the words of this dictionary: a dict with the prediction,
    /// the dictionary's, `evidence_for` and `evidence_against` (each part's `description`,
    /// `contribution` and `share` of the logit before the bias) and `text`, the sentence
    /// `bilens explain` prints.
    #[pyo3(signature = (image, top = 4))]
    fn explain<'py>(&self, py: Python<'py>, image: &Bound<'py, PyAny>, top: usize) -> PyResult<Bound<'py, PyAny>> {
        let (x, dims) = finite_floats(image, "image")?;
        check_input("image", x.len(), &dims, self.ctx.model.config().n_inputs, self.ctx.image)
            .map_err(|e| BilensError::new_err(format!("{e:#}")))?;
        let residual = Components::of(&self.outcome.fitted.decomposition, |r| r == Role::Residual);
        let reading = read(&self.shown(false), &residual, &self.ctx.model, &x, self.ctx.image, self.ctx.class_names(), top)
            .map_err(|e| BilensError::new_err(format!("{e:#}")))?;
        let out = to_python(py, &reading)?;
        out.set_item("text", reading.to_string())?;
        Ok(out)
    }

    /// The recipe that was fitted (the preset with its overrides), as a dict.
    #[getter]
    fn recipe<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.recipe)
    }

    #[getter]
    fn preset(&self) -> &str {
        &self.preset
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.seed
    }

    /// Seconds the decomposition took (loading, fitting and measuring), as `run.json` records.
    #[getter]
    fn seconds(&self) -> f64 {
        self.clock.elapsed()
    }

    /// The component figure as PNG bytes, drawn by bilens: the 16 strongest displayed
    /// components (plus and minus patterns, heads), or with top pixels only.
    #[pyo3(signature = (top_pixels = false))]
    fn figure<'py>(&self, py: Python<'py>, top_pixels: bool) -> PyResult<Bound<'py, PyBytes>> {
        let shown = self.shown(false);
        let [(_, all), (_, top)] = component_figures(&self.preset, &shown, self.ctx.image, self.ctx.class_names());
        let png = detached(py, None, || render_grid(if top_pixels { &top } else { &all }))?;
        Ok(PyBytes::new(py, &png))
    }

    /// Writes the run folder `bilens decompose --out dir` writes: metrics.json,
    /// components.csv, history.csv, factors.safetensors, the two figures, with labelled image
    /// data the analyses (concept atlas, gallery, explanations, faithfulness), then run.json.
    fn save(&self, py: Python<'_>, dir: PathBuf) -> PyResult<()> {
        detached(py, self.threads, || {
            let _lock = FolderLock::acquire(&dir)?;
            check_kind(&dir, "decompose")?;
            let inputs = run_inputs(&self.model_record, &self.preset, &self.sets, self.config.as_deref());
            let facts = RunFacts { clock: &self.clock, identity: &self.identity, seed: self.seed, data: self.data.clone(), inputs };
            write_run(&dir, &self.preset, &self.ctx, &self.recipe, &self.outcome, facts, |run| analyse_run(&self.ctx, &dir, run))
        })
    }

    /// The component figure and the key metrics, for Jupyter.
    fn _repr_html_(slf: &Bound<'_, Self>) -> PyResult<String> {
        slf.py().import("bilens._html")?.call_method1("decomposition_html", (slf,))?.extract()
    }

    fn __repr__(&self) -> String {
        let m = &self.outcome.metrics;
        format!(
            "Decomposition(preset={:?}, seed={}, tensor_cosine={:.4}, displayed_components={}, residual_components={})",
            self.preset, self.seed, m.tensor_cosine, m.displayed_components, m.residual_components
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Decomposition>()?;
    m.add_function(wrap_pyfunction!(presets, m)?)?;
    m.add_function(wrap_pyfunction!(preset, m)?)?;
    m.add_function(wrap_pyfunction!(decompose, m)?)?;
    Ok(())
}
