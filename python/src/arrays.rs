//! Values across the boundary: numpy arrays in and out of bilens's matrices, JSON values
//! (metrics, configs, recipes) as Python objects, and keyword arguments as TOML overrides.

use faer::{Mat, MatRef};
use numpy::ndarray::{Array, Array2, Dimension, StrideShape};
use numpy::{AllowTypeChange, Element, IntoPyArray, PyArrayLikeDyn};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};
use serde_json::Value;

use crate::BilensError;

/// The values (as f32, row-major) and shape of any array-like: a numpy array of any real dtype,
/// a list, or anything with `__array__` (a PyTorch CPU tensor).
pub fn floats(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<(Vec<f32>, Vec<usize>)> {
    // numpy would drop the imaginary part with a mere warning.
    if obj.getattr("dtype").and_then(|d| d.getattr("kind")).is_ok_and(|k| k.eq("c").unwrap_or(false)) {
        return Err(BilensError::new_err(format!("{name} must be an array of real numbers, found complex ones")));
    }
    let array: PyArrayLikeDyn<'_, f32, AllowTypeChange> =
        obj.extract().map_err(|e| BilensError::new_err(format!("{name} must be an array of real numbers: {e}")))?;
    let view = array.as_array();
    Ok((view.iter().copied().collect(), view.shape().to_vec()))
}

/// The values of `floats` after checking that every one is finite, as for weights read from a
/// file: exact metrics of weights with NaN or infinity mean nothing.
pub fn finite_floats(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<(Vec<f32>, Vec<usize>)> {
    let (values, shape) = floats(obj, name)?;
    match values.iter().position(|v| !v.is_finite()) {
        Some(bad) => Err(BilensError::new_err(format!("{name}: entry {bad} is not finite ({})", values[bad]))),
        None => Ok((values, shape)),
    }
}

/// A 2-D array-like of finite values as a matrix; `what` names its dimensions in the error.
pub fn matrix(obj: &Bound<'_, PyAny>, name: &str, what: &str) -> PyResult<Mat<f32>> {
    let (values, shape) = finite_floats(obj, name)?;
    match shape[..] {
        [rows, cols] => Ok(Mat::from_fn(rows, cols, |i, j| values[i * cols + j])),
        _ => Err(BilensError::new_err(format!("{name} must be a 2-D array ({what}), found shape {shape:?}"))),
    }
}

/// Integer labels (any integer dtype) in 0..=255, one per example, or `None`.
pub fn labels(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<Vec<u8>>> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else { return Ok(None) };
    let np = obj.py().import("numpy")?;
    let array = np.call_method1("asarray", (obj,))?;
    let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    if !["i", "u"].contains(&kind.as_str()) || array.getattr("ndim")?.extract::<usize>()? != 1 {
        return Err(BilensError::new_err(format!("{name} must be a 1-D array of integer labels")));
    }
    let values: Vec<i64> = array.call_method1("astype", ("int64",))?.call_method0("tolist")?.extract()?;
    values
        .iter()
        .map(|&v| u8::try_from(v).map_err(|_| BilensError::new_err(format!("{name}: label {v} is outside 0..=255"))))
        .collect::<PyResult<Vec<u8>>>()
        .map(Some)
}

/// A matrix as a new numpy array.
pub fn from_matrix<'py, T: Element + Copy>(py: Python<'py>, m: MatRef<'_, T>) -> Bound<'py, PyAny> {
    Array2::from_shape_fn((m.nrows(), m.ncols()), |(i, j)| m[(i, j)]).into_pyarray(py).into_any()
}

/// Row-major values of the given shape as a new numpy array.
pub fn from_values<'py, T: Element, D: Dimension>(
    py: Python<'py>,
    shape: impl Into<StrideShape<D>>,
    values: Vec<T>,
) -> PyResult<Bound<'py, PyAny>> {
    let array = Array::from_shape_vec(shape, values).map_err(|e| BilensError::new_err(e.to_string()))?;
    Ok(array.into_pyarray(py).into_any())
}

/// A JSON value as the Python object `json.loads` would give.
pub fn from_json<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => PyList::new(py, items.iter().map(|v| from_json(py, v)).collect::<PyResult<Vec<_>>>()?)?.into_any(),
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (k, v) in map {
                dict.set_item(k, from_json(py, v)?)?;
            }
            dict.into_any()
        }
    })
}

/// Anything serde can write, as a Python object (through JSON).
pub fn to_python<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    from_json(py, &serde_json::to_value(value).map_err(|e| BilensError::new_err(e.to_string()))?)
}

/// A keyword argument's value as TOML, the language of recipe and training overrides: a bool,
/// an integer, a number, a string or a list of those (numpy scalars included).
pub fn toml_value(key: &str, obj: &Bound<'_, PyAny>) -> PyResult<toml::Value> {
    if let Ok(b) = obj.extract::<bool>() {
        return Ok(toml::Value::Boolean(b));
    }
    if let Ok(i) = obj.extract::<i64>() {
        return Ok(toml::Value::Integer(i));
    }
    if let Ok(x) = obj.extract::<f64>() {
        return Ok(toml::Value::Float(x));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(toml::Value::String(s.to_str()?.to_string()));
    }
    if obj.cast::<PyList>().is_ok() || obj.cast::<PyTuple>().is_ok() {
        return obj.try_iter()?.map(|item| toml_value(key, &item?)).collect::<PyResult<Vec<_>>>().map(toml::Value::Array);
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        return toml_table(Some(d)).map(toml::Value::Table);
    }
    Err(BilensError::new_err(format!(
        "{key}: a value of type {} cannot be an override (give a bool, a number, a string, a list or a dict)",
        obj.get_type().name()?
    )))
}

/// Keyword arguments as a TOML table.
pub fn toml_table(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<toml::Table> {
    let mut table = toml::Table::new();
    for (key, value) in kwargs.into_iter().flat_map(|d| d.iter()) {
        let key: String = key.extract()?;
        table.insert(key.clone(), toml_value(&key, &value)?);
    }
    Ok(table)
}

/// Keyword arguments as `key=value` overrides (TOML values), as `--set` takes them; a dict
/// value is a group of fields (`pair_priors={"decision": 0.3}` is `pair_priors.decision=0.3`).
pub fn overrides(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Vec<String>> {
    Ok(toml_table(kwargs)?
        .into_iter()
        .flat_map(|(k, v)| match v {
            toml::Value::Table(fields) => fields.into_iter().map(|(f, v)| format!("{k}.{f}={v}")).collect(),
            v => vec![format!("{k}={v}")],
        })
        .collect())
}
