//! Models (`bilens.Model`, `bilens.load_model`) and their interaction tensors
//! (`bilens.Interaction`): reading and writing every layout, exact norms, inner products and
//! cosines against CP factors, eigendecompositions, logits.

use std::path::PathBuf;

use bilens::interaction::eigen::Basis;
use bilens::model::{Layout, save_as};
use bilens::pipeline::inputs::SourcedModel;
use bilens::{Bilinear, CpTensor, Eigen};
use faer::Mat;
use numpy::ndarray::Ix3;
use pyo3::prelude::*;

use crate::arrays::{finite_floats, floats, from_matrix, from_values, matrix, to_python};
use crate::data::Data;
use crate::{BilensError, OrRaise, detached};

/// A bilinear layer `y = W_u ((W_l h) ⊙ (W_r h)) + b`, reading `h = W_e x` (a classifier with an
/// embedding) or `h = x`. Its logits are exactly quadratic in `x`: `y_c = xᵀ B_c x + b_c`.
#[pyclass(frozen, module = "bilens")]
pub struct Model {
    pub source: SourcedModel,
}

#[pymethods]
impl Model {
    /// A model from its weights, shaped as PyTorch stores them: `w_e` [embed, inputs] (or None),
    /// `w_l` and `w_r` [hidden, embed], `w_u` [outputs, hidden], `bias` [outputs] (or None).
    #[staticmethod]
    #[pyo3(signature = (*, w_l, w_r, w_u, w_e = None, bias = None))]
    fn from_arrays(
        w_l: &Bound<'_, PyAny>,
        w_r: &Bound<'_, PyAny>,
        w_u: &Bound<'_, PyAny>,
        w_e: Option<&Bound<'_, PyAny>>,
        bias: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let w_e = w_e.filter(|e| !e.is_none()).map(|e| matrix(e, "w_e", "embed × inputs")).transpose()?;
        let bias = match bias.filter(|b| !b.is_none()) {
            Some(b) => match finite_floats(b, "bias")? {
                (values, shape) if shape.len() == 1 => Some(values),
                (_, shape) => return Err(BilensError::new_err(format!("bias must be a 1-D array, found shape {shape:?}"))),
            },
            None => None,
        };
        let w_l = matrix(w_l, "w_l", "hidden × embed")?;
        let w_r = matrix(w_r, "w_r", "hidden × embed")?;
        let w_u = matrix(w_u, "w_u", "outputs × hidden")?;
        let model = Bilinear::new(w_e, w_l, w_r, w_u, bias).or_raise()?;
        Ok(Self { source: SourcedModel::in_memory(model).or_raise()? })
    }

    /// Sizes: `n_inputs`, `n_embed` (None without embedding), `n_hidden`, `n_outputs`.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.source.model.config())
    }

    /// SHA-256 of the file the model was read from, or of the file `save()` writes for a model
    /// built in memory: what run records identify it by.
    #[getter]
    fn sha256(&self) -> &str {
        &self.source.sha256
    }

    /// The file the model was read from, or None.
    #[getter]
    fn path(&self) -> Option<&str> {
        self.source.record["model"].as_str()
    }

    #[getter]
    fn w_e<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyAny>> {
        self.source.model.w_e.as_ref().map(|e| from_matrix(py, e.as_ref()))
    }

    #[getter]
    fn w_l<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        from_matrix(py, self.source.model.w_l.as_ref())
    }

    #[getter]
    fn w_r<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        from_matrix(py, self.source.model.w_r.as_ref())
    }

    #[getter]
    fn w_u<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        from_matrix(py, self.source.model.w_u.as_ref())
    }

    #[getter]
    fn bias<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let bias = &self.source.model.bias;
        from_values(py, bias.len(), bias.clone())
    }

    /// Writes the model as safetensors in `layout`: "study" (bilens's and the reference study's
    /// `w_e`, `w_lr_param`, `w_u`, `bias`), "exercise" (`embed.weight`, `blocks.0.weight`,
    /// `head.weight`; no bias) or "mlp" (`w.weight`, `p.weight`; no embedding, no bias).
    #[pyo3(signature = (path, layout = "study"))]
    fn save(&self, path: PathBuf, layout: &str) -> PyResult<()> {
        let layout: Layout = layout.parse().or_raise()?;
        save_as(&self.source.model, layout, &path, &Default::default()).or_raise()
    }

    /// The interaction tensor `B` of the model, in factored form.
    fn interaction(&self, py: Python<'_>) -> PyResult<Interaction> {
        let model = &self.source.model;
        detached(py, None, || Ok(Interaction { inter: bilens::Interaction::new(model) }))
    }

    /// Eigendecompositions of the outputs' quadratic forms, `B_c = Σ_k λ_ck v_ck v_ckᵀ`:
    /// `(values, vectors)` with values [outputs, K] ascending (as `numpy.linalg.eigh`) and
    /// input-space eigenvectors [outputs, inputs, K] (column k belongs to value k).
    #[pyo3(signature = (basis = "pixel", outputs = None, threads = None))]
    fn eigen<'py>(
        &self,
        py: Python<'py>,
        basis: &str,
        outputs: Option<Vec<usize>>,
        threads: Option<usize>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let basis = match basis {
            "pixel" => Basis::Pixel,
            "embedding" => Basis::Embedding,
            other => return Err(BilensError::new_err(format!("unknown basis '{other}' (expected pixel or embedding)"))),
        };
        let n = self.source.model.config().n_outputs;
        let outputs = outputs.unwrap_or_else(|| (0..n).collect());
        if let Some(bad) = outputs.iter().find(|&&o| o >= n) {
            return Err(BilensError::new_err(format!("output {bad} is out of range: the model has {n} outputs")));
        }
        let model = &self.source.model;
        let eigen = detached(py, threads, || {
            Ok(Eigen::of_outputs(&bilens::Interaction::new(model), basis, &outputs, bilens::interaction::eigen::Wanted::All))
        })?;
        let k = eigen.values.first().map_or(0, Vec::len);
        let inputs = eigen.vectors.first().map_or(0, |v| v.nrows());
        let values = from_values(py, (outputs.len(), k), eigen.values.concat())?;
        let vectors: Vec<f32> = eigen.vectors.iter().flat_map(|v| (0..inputs).flat_map(move |i| (0..k).map(move |j| v[(i, j)]))).collect();
        Ok((values, from_values(py, Ix3(outputs.len(), inputs, k), vectors)?))
    }

    /// Logits (with the bias) of inputs `x`: [n, inputs] (or [n, height, width]) gives
    /// [n, outputs]; one input [inputs] gives [outputs].
    fn logits<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        let (values, shape) = floats(x, "x")?;
        let d = self.source.model.config().n_inputs;
        let n = match shape[..] {
            [n, ..] if shape.len() > 1 && shape[1..].iter().product::<usize>() == d => n,
            [i] if i == d => 1,
            _ => {
                return Err(BilensError::new_err(format!(
                    "x must be [n, {d}] or [{d}] (the model reads {d} inputs), found shape {shape:?}"
                )));
            }
        };
        let model = &self.source.model;
        let z = detached(py, None, || Ok(model.logits(Mat::from_fn(n, d, |i, j| values[i * d + j]).as_ref())))?;
        match shape.len() {
            1 => from_values(py, z.ncols(), (0..z.ncols()).map(|j| z[(0, j)]).collect()),
            _ => Ok(from_matrix(py, z.as_ref())),
        }
    }

    /// Share of `data`'s test set classified correctly (with the bias); None without labels.
    fn accuracy(&self, py: Python<'_>, data: &Data) -> PyResult<Option<f64>> {
        let d = self.source.model.config().n_inputs;
        if data.split.test.n_inputs != d {
            return Err(BilensError::new_err(format!(
                "the model takes {d} inputs but the data has {} per example",
                data.split.test.n_inputs
            )));
        }
        let (model, test) = (&self.source.model, &data.split.test);
        detached(py, None, || Ok(model.accuracy(test)))
    }

    fn __repr__(&self) -> String {
        let c = self.source.model.config();
        let embed = c.n_embed.map_or("None".to_string(), |e| e.to_string());
        format!("Model(n_inputs={}, n_embed={embed}, n_hidden={}, n_outputs={})", c.n_inputs, c.n_hidden, c.n_outputs)
    }
}

/// Reads a model from a safetensors file in any layout bilens knows (study, exercise, mlp);
/// `directions`, a [k, outputs] array file (.npy or .safetensors), reads a wide layer through
/// chosen output directions, as `--directions` does.
#[pyfunction]
#[pyo3(signature = (path, directions = None))]
fn load_model(py: Python<'_>, path: PathBuf, directions: Option<PathBuf>) -> PyResult<Model> {
    let source = detached(py, None, || SourcedModel::read(&path, directions.as_deref()))?;
    Ok(Model { source })
}

/// The symmetrised interaction tensor `B` of a model (`B_c = W_eᵀ sym(W_lᵀ diag(W_u[c]) W_r) W_e`),
/// kept in factored form: norms, inner products and cosines are exact and never build it.
#[pyclass(frozen, module = "bilens")]
pub struct Interaction {
    inter: bilens::Interaction,
}

impl Interaction {
    /// CP factors as bilens's tensor, after checking their shapes against `B`.
    fn cp(&self, heads: &Bound<'_, PyAny>, u: &Bound<'_, PyAny>, w: &Bound<'_, PyAny>) -> PyResult<CpTensor> {
        let (c, i) = (self.inter.n_classes(), self.inter.n_inputs());
        let heads = matrix(heads, "heads", "outputs × rank")?;
        let u = matrix(u, "u", "inputs × rank")?;
        let w = matrix(w, "w", "inputs × rank")?;
        let r = heads.ncols();
        if heads.nrows() != c || (u.nrows(), u.ncols()) != (i, r) || (w.nrows(), w.ncols()) != (i, r) {
            return Err(BilensError::new_err(format!(
                "CP factors must be heads [{c}, R], u and w [{i}, R] for this tensor; found heads {:?}, u {:?}, w {:?}",
                (heads.nrows(), heads.ncols()),
                (u.nrows(), u.ncols()),
                (w.nrows(), w.ncols())
            )));
        }
        Ok(CpTensor::new(heads, u, w))
    }
}

#[pymethods]
impl Interaction {
    /// `‖B‖_F`, exact (f64).
    fn norm(&self) -> f64 {
        self.inter.norm()
    }

    /// `‖B_c‖_F` of every output, [outputs].
    fn output_norms<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let norms: Vec<f64> = self.inter.output_norms_sq().iter().map(|n| n.sqrt()).collect();
        from_values(py, norms.len(), norms)
    }

    /// `⟨sym T, B⟩` for the CP tensor `T_c = Σ_r heads[c, r] u_r w_rᵀ` (heads [outputs, R],
    /// u and w [inputs, R]), symmetrised: `sym T_c = ½ (T_c + T_cᵀ)`.
    fn inner(&self, py: Python<'_>, heads: &Bound<'_, PyAny>, u: &Bound<'_, PyAny>, w: &Bound<'_, PyAny>) -> PyResult<f64> {
        let t = self.cp(heads, u, w)?;
        detached(py, None, || Ok(self.inter.inner(&t, None)))
    }

    /// Tensor cosine `⟨sym T, B⟩ / (‖sym T‖ ‖B‖)` of the CP tensor given as in `inner` (0 for a
    /// zero tensor).
    fn cosine(&self, py: Python<'_>, heads: &Bound<'_, PyAny>, u: &Bound<'_, PyAny>, w: &Bound<'_, PyAny>) -> PyResult<f64> {
        let t = self.cp(heads, u, w)?;
        detached(py, None, || Ok(self.inter.cosine(&t)))
    }

    /// Where the forms act: "embedding" (narrower than the inputs) or "input".
    #[getter]
    fn space<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inter.space())
    }

    /// How the forms are held: "stacked" (every `Q_c` formed) or "factored" (through the hidden units).
    #[getter]
    fn storage<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.inter.storage())
    }

    #[getter]
    fn n_outputs(&self) -> usize {
        self.inter.n_classes()
    }

    #[getter]
    fn n_inputs(&self) -> usize {
        self.inter.n_inputs()
    }

    fn __repr__(&self) -> String {
        format!("Interaction(n_outputs={}, n_inputs={}, norm={:.6})", self.inter.n_classes(), self.inter.n_inputs(), self.inter.norm())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Model>()?;
    m.add_class::<Interaction>()?;
    m.add_function(wrap_pyfunction!(load_model, m)?)?;
    Ok(())
}
