//! `bilens._bilens`, the extension module of the Python package: a thin layer over the bilens
//! library. Every function calls what the command line calls (the library facade and
//! `bilens::pipeline`), lets go of the interpreter during long work, and raises bilens's errors
//! as `bilens.BilensError`. Progress bars, log lines and notebook HTML are written in Python
//! (`bilens/_progress.py`, `bilens/_html.py`).

mod arrays;
mod commands;
mod data;
mod decompose;
mod model;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

pyo3::create_exception!(
    bilens,
    BilensError,
    pyo3::exceptions::PyValueError,
    "An error reported by bilens (a setting out of range, inputs that do not fit, a file that cannot be read, ...), with its causes."
);

/// Raises an error as `BilensError`, with its whole chain of causes.
trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T, E: Into<anyhow::Error>> OrRaise<T> for Result<T, E> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(|e| BilensError::new_err(format!("{:#}", e.into())))
    }
}

/// Runs `work` on a thread of its own with the interpreter released (other Python threads go
/// on), on `threads` threads for matrix products and parallel loops (all cores when `None`).
/// The calling thread wakes ten times a second to run Python's signal handlers, since they run
/// nowhere else: on Ctrl-C (`KeyboardInterrupt`) it asks the work to stop
/// ([`bilens::interrupt`]), waits until it has, and raises.
fn detached<T: Send>(py: Python<'_>, threads: Option<usize>, work: impl FnOnce() -> anyhow::Result<T> + Send) -> PyResult<T> {
    std::thread::scope(|scope| {
        let caller = std::thread::current();
        let worker = scope.spawn(move || {
            let result = bilens::with_threads(threads, work);
            caller.unpark();
            result
        });
        while !worker.is_finished() {
            py.detach(|| std::thread::park_timeout(Duration::from_millis(100)));
            if let Err(interrupt) = py.check_signals() {
                bilens::interrupt::request();
                let _ = py.detach(|| worker.join());
                bilens::interrupt::clear();
                return Err(interrupt);
            }
        }
        match py.detach(|| worker.join()) {
            Ok(result) => result.or_raise()?.or_raise(),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// A Python callable called from detached work: each call attaches to the interpreter. The
/// first exception it raises is kept and raised once the work is done ([`Callback::finish`]).
struct Callback {
    function: Py<PyAny>,
    error: Mutex<Option<PyErr>>,
}

impl Callback {
    fn new(function: Py<PyAny>) -> Self {
        Self { function, error: Mutex::new(None) }
    }

    fn call_method<A>(&self, name: &str, args: A)
    where
        A: for<'py> pyo3::call::PyCallArgs<'py>,
    {
        Python::attach(|py| {
            if let Err(e) = self.function.call_method1(py, name, args) {
                self.error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
            }
        });
    }

    fn call<A>(&self, args: A)
    where
        A: for<'py> pyo3::call::PyCallArgs<'py>,
    {
        Python::attach(|py| {
            if let Err(e) = self.function.call1(py, args) {
                self.error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(e);
            }
        });
    }

    fn finish(self) -> PyResult<()> {
        match self.error.into_inner().unwrap_or_else(|p| p.into_inner()) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A progress bar from `bilens._progress.bar` (tqdm's, when tqdm is importable), advanced at
/// most ten times a second and at the end, so that a fast fit does not wait on the interpreter.
struct Progress {
    bar: Option<Callback>,
    shown: Instant,
}

impl Progress {
    fn new(py: Python<'_>, enabled: bool, total: usize, description: &str) -> PyResult<Self> {
        let bar = match enabled {
            true => py.import("bilens._progress")?.call_method1("bar", (total, description))?,
            false => py.None().into_bound(py),
        };
        let bar = (!bar.is_none()).then(|| Callback::new(bar.unbind()));
        Ok(Self { bar, shown: Instant::now() })
    }

    /// Shows `done` of `total` steps, with `message` (computed only when shown).
    fn advance(&mut self, done: usize, total: usize, message: impl FnOnce() -> String) {
        let Some(bar) = &self.bar else { return };
        if done == total || self.shown.elapsed() >= Duration::from_millis(100) {
            bar.call_method("advance", (done, message()));
            self.shown = Instant::now();
        }
    }

    fn close(self) -> PyResult<()> {
        let Some(bar) = self.bar else { return Ok(()) };
        bar.call_method("close", ());
        bar.finish()
    }
}

/// Where log lines of sweeps and studies go: `log(line)`, or `bilens._progress.log` (stderr).
fn logger(py: Python<'_>, log: Option<Py<PyAny>>) -> PyResult<Callback> {
    let function = match log {
        Some(f) => f,
        None => py.import("bilens._progress")?.getattr("log")?.unbind(),
    };
    Ok(Callback::new(function))
}

/// Issues a Python `UserWarning` (bilens's notes: data left out, a model read without data).
fn warn(py: Python<'_>, message: &str) -> PyResult<()> {
    let text = std::ffi::CString::new(message.replace('\0', " ")).unwrap_or_default();
    PyErr::warn(py, &py.get_type::<pyo3::exceptions::PyUserWarning>(), &text, 2)
}

#[pymodule]
fn _bilens(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("BilensError", m.py().get_type::<BilensError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    model::register(m)?;
    data::register(m)?;
    decompose::register(m)?;
    commands::register(m)?;
    Ok(())
}
