//! Data (`bilens.Data`, `bilens.mnist`, `bilens.load_data`) and the `data=` argument every
//! command takes.

use std::path::PathBuf;

use bilens::DataSplit;
use bilens::data::Dataset;
use bilens::image::ImageShape;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple};

use crate::arrays::{floats, from_values, labels};
use crate::{BilensError, OrRaise, detached};

/// Train and test inputs (row-major, one example per row; images flattened) with their labels
/// when there are any, and where they came from.
#[pyclass(frozen, module = "bilens")]
pub struct Data {
    pub split: DataSplit,
    /// The numpy arrays, made on first use and read-only (they are views of what runs read).
    arrays: [PyOnceLock<Py<PyAny>>; 4],
}

impl Data {
    pub fn of(split: DataSplit) -> Self {
        Self { split, arrays: std::array::from_fn(|_| PyOnceLock::new()) }
    }

    /// Field `slot` (0 train_x, 1 train_y, 2 test_x, 3 test_y), made once.
    fn array<'py>(&self, py: Python<'py>, slot: usize) -> PyResult<Bound<'py, PyAny>> {
        let made = self.arrays[slot].get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            let set = if slot < 2 { &self.split.train } else { &self.split.test };
            let array = match slot % 2 {
                0 => from_values(py, (set.len(), set.n_inputs), set.pixels.clone())?,
                _ => match &set.labels {
                    Some(l) => from_values(py, l.len(), l.clone())?,
                    None => return Ok(py.None()),
                },
            };
            let read_only = PyDict::new(py);
            read_only.set_item("write", false)?;
            array.call_method("setflags", (), Some(&read_only))?;
            Ok(array.unbind())
        })?;
        Ok(made.bind(py).clone())
    }
}

#[pymethods]
impl Data {
    /// Data from arrays: inputs [n, inputs] (or images [n, height, width]), labels [n] of
    /// integers (or None), `shape` = (height, width) when flat inputs are images.
    #[new]
    #[pyo3(signature = (train_x, test_x, train_y = None, test_y = None, shape = None, source = "arrays"))]
    fn new(
        train_x: &Bound<'_, PyAny>,
        test_x: &Bound<'_, PyAny>,
        train_y: Option<&Bound<'_, PyAny>>,
        test_y: Option<&Bound<'_, PyAny>>,
        shape: Option<(usize, usize)>,
        source: &str,
    ) -> PyResult<Self> {
        let (train, train_shape) = floats(train_x, "train_x")?;
        let (test, test_shape) = floats(test_x, "test_x")?;
        let per_example = |s: &[usize]| s.get(1..).filter(|d| !d.is_empty()).map(|d| d.to_vec());
        let (Some(dims), Some(test_dims)) = (per_example(&train_shape), per_example(&test_shape)) else {
            return Err(BilensError::new_err(format!(
                "train_x and test_x must be [n, inputs] or [n, height, width], found {train_shape:?} and {test_shape:?}"
            )));
        };
        if dims != test_dims || dims.len() > 2 {
            return Err(BilensError::new_err(format!(
                "train_x and test_x must be [n, inputs] or [n, height, width] alike, found {train_shape:?} and {test_shape:?}"
            )));
        }
        let image = match (&dims[..], shape) {
            ([h, w], Some(given)) if (*h, *w) != given => {
                return Err(BilensError::new_err(format!(
                    "shape = {given:?} but the images are {h} × {w}: give shape only for flat inputs [n, inputs]"
                )));
            }
            (_, Some((h, w))) => Some(ImageShape::new(h, w)),
            ([h, w], None) => Some(ImageShape::new(*h, *w)),
            _ => None,
        };
        let n_inputs = dims.iter().product();
        let split = DataSplit::from_sets((train, labels(train_y, "train_y")?), (test, labels(test_y, "test_y")?), n_inputs, image, source)
            .or_raise()?;
        Ok(Self::of(split))
    }

    /// Training inputs, [n, inputs] float32 (pixels in [0, 1] for images).
    #[getter]
    fn train_x<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, 0)
    }

    /// Training labels, [n] uint8, or None.
    #[getter]
    fn train_y<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, 1)
    }

    #[getter]
    fn test_x<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, 2)
    }

    #[getter]
    fn test_y<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.array(py, 3)
    }

    /// (height, width) of image inputs, or None.
    #[getter]
    fn shape(&self) -> Option<(usize, usize)> {
        self.split.train.shape.map(|s| (s.height, s.width))
    }

    #[getter]
    fn n_inputs(&self) -> usize {
        self.split.train.n_inputs
    }

    /// One more than the largest label (0 without labels).
    #[getter]
    fn n_classes(&self) -> usize {
        self.split.train.n_classes
    }

    /// Where the data came from (a folder, a file, "arrays" or the embedded digits).
    #[getter]
    fn source(&self) -> &str {
        &self.split.source
    }

    /// SHA-256 of what was read, recorded with every run.
    #[getter]
    fn checksum(&self) -> &str {
        &self.split.checksum
    }

    fn __repr__(&self) -> String {
        let (train, test) = (&self.split.train, &self.split.test);
        let labelled = |s: &Dataset| if s.labels.is_some() { "labelled" } else { "unlabelled" };
        format!(
            "Data(train={} {}, test={} {}, n_inputs={}, shape={:?}, source={:?})",
            train.len(),
            labelled(train),
            test.len(),
            labelled(test),
            train.n_inputs,
            self.shape(),
            self.split.source
        )
    }
}

/// The embedded digits: 10,000 real MNIST training digits shipped with bilens, the first 8,000
/// for training and the last 2,000 for testing.
#[pyfunction]
fn mnist() -> Data {
    Data::of(bilens::embedded_digits())
}

/// Data from a folder of MNIST-format IDX files (`DIR`, `DIR/MNIST/raw` or `DIR/raw`, gzipped
/// or not), or from a .npy/.safetensors array of inputs (the first 80% train, unlabelled).
#[pyfunction]
fn load_data(py: Python<'_>, path: PathBuf) -> PyResult<Data> {
    Ok(Data::of(detached(py, None, || Ok(bilens::load_data(&path)?))?))
}

/// What a `data=` argument asks for.
pub enum DataChoice {
    /// None: as the command line without `--data` (the embedded digits when the model reads as
    /// many inputs, else the weights alone).
    Default,
    /// False: the weights alone (`--no-data`).
    Without,
    Given(Box<DataSplit>),
}

impl DataChoice {
    /// None, False, "mnist" (the embedded digits), a path, a `Data`, or a tuple
    /// `(train_x, train_y, test_x, test_y)`.
    pub fn of(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(Self::Default) };
        if obj.extract::<bool>().is_ok_and(|b| !b) {
            return Ok(Self::Without);
        }
        if let Ok(data) = obj.cast::<Data>() {
            return Ok(Self::Given(Box::new(data.get().split.clone())));
        }
        if obj.cast::<PyString>().is_ok_and(|s| s.to_str().is_ok_and(|s| s == "mnist")) {
            return Ok(Self::Given(Box::new(bilens::embedded_digits())));
        }
        if let Ok(t) = obj.cast::<PyTuple>()
            && t.len() == 4
        {
            let data = Data::new(&t.get_item(0)?, &t.get_item(2)?, Some(&t.get_item(1)?), Some(&t.get_item(3)?), None, "arrays")?;
            return Ok(Self::Given(Box::new(data.split)));
        }
        match obj.extract::<PathBuf>() {
            Ok(path) => Ok(Self::Given(Box::new(load_data(py, path)?.split))),
            Err(_) => Err(BilensError::new_err(format!(
                "data must be None, False, \"mnist\", a path, a bilens.Data or (train_x, train_y, test_x, test_y); found {}",
                obj.get_type().name()?
            ))),
        }
    }

    /// The data training and studies need: given, or the embedded digits.
    pub fn required(self, what: &str) -> PyResult<DataSplit> {
        match self {
            Self::Default => Ok(bilens::embedded_digits()),
            Self::Given(d) => Ok(*d),
            Self::Without => Err(BilensError::new_err(format!("{what} needs data; data=False gives none"))),
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Data>()?;
    m.add_function(wrap_pyfunction!(mnist, m)?)?;
    m.add_function(wrap_pyfunction!(load_data, m)?)?;
    Ok(())
}
