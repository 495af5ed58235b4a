//! The native side of `svdiag.distributed`: a command's matrices as tasks, one task computed (in a
//! cluster's worker, with the GIL released), the driver's result store, and the command's documents
//! assembled from that store. The algorithms are the core's; this only converts.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use svdiag_analysis::store::{Key, SpectrumStore, StoredSpectrum};
use svdiag_cli::sweep::{sweep_of, Sweep};
use svdiag_cli::DocumentsError;
use svdiag_core::linalg::gram::Route;
use svdiag_store::{Location, Store};

use crate::exceptions::{CheckpointReadError, InvalidOptionError};

fn sweep(argv: Vec<String>) -> PyResult<Sweep> {
    sweep_of(argv).map_err(documents_error)
}

fn documents_error(e: DocumentsError) -> PyErr {
    match e {
        DocumentsError::Usage(msg) => InvalidOptionError::new_err(msg),
        DocumentsError::Failed(e) => crate::command_error(&e),
    }
}

/// The tasks of a command line (`["trend", RUN, ...flags]`, `compare` or `analyze`): one dict per
/// matrix (`path`, `tensor`, `name`, `rows`, `cols`, `bytes`, `cost`, `memory`), and the settings
/// string its results are stored under.
#[pyfunction]
pub fn sweep_tasks<'py>(py: Python<'py>, argv: Vec<String>) -> PyResult<Bound<'py, PyTuple>> {
    let s = sweep(argv)?;
    let tasks = py.detach(|| s.tasks()).map_err(documents_error)?;
    let list = tasks
        .iter()
        .map(|t| {
            let d = PyDict::new(py);
            d.set_item("path", t.path.display().to_string())?;
            d.set_item("tensor", t.tensor)?;
            d.set_item("name", &t.name)?;
            d.set_item("rows", t.rows)?;
            d.set_item("cols", t.cols)?;
            d.set_item("bytes", t.bytes)?;
            d.set_item("cost", t.cost)?;
            d.set_item("memory", t.memory)?;
            Ok(d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(
        py,
        [
            list.into_pyobject(py)?.into_any(),
            svdiag_analysis::cluster::settings(&s.options).into_pyobject(py)?.into_any(),
        ],
    )
}

/// Computes one task (`path`, `tensor` index) with the options of `argv` on `threads` threads,
/// with the GIL released: `{"key", "rows", "cols", "singular_values" (f64 LE bytes), "l12_norm",
/// "route", "route_reason"}`, or `{"error": message}` for a tensor that cannot be analyzed (bad
/// data is the tensor's, not the worker's: it is returned, never raised).
#[pyfunction]
#[pyo3(signature = (argv, path, tensor, threads=None))]
pub fn sweep_compute<'py>(
    py: Python<'py>,
    argv: Vec<String>,
    path: PathBuf,
    tensor: usize,
    threads: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut s = sweep(argv)?;
    s.options.threads = threads.or(s.options.threads);
    let out = py.detach(|| svdiag_analysis::cluster::compute(&path, tensor, &s.options, &s.read));
    let d = PyDict::new(py);
    match out {
        Ok((key, spectrum)) => {
            d.set_item("key", PyBytes::new(py, &key.hash))?;
            d.set_item("rows", spectrum.rows)?;
            d.set_item("cols", spectrum.cols)?;
            let blob: Vec<u8> = spectrum.singular_values.iter().flat_map(|v| v.to_le_bytes()).collect();
            d.set_item("singular_values", PyBytes::new(py, &blob))?;
            d.set_item("l12_norm", spectrum.l12_norm)?;
            d.set_item("route", spectrum.route.name())?;
            d.set_item("route_reason", spectrum.route_reason)?;
        }
        Err(e) => d.set_item("error", e)?,
    }
    Ok(d)
}

/// The driver's result store: the svdiag store (its spectra are those a local run stores and
/// reuses), plus where each task's key was found, so that a resumed sweep reads nothing it has.
#[pyclass(module = "svdiag._native")]
pub struct SweepStore {
    store: Store,
    settings: String,
}

#[pymethods]
impl SweepStore {
    #[new]
    fn new(path: PathBuf, settings: String) -> PyResult<Self> {
        let store = Store::open(&path).map_err(|e| CheckpointReadError::new_err(e.to_string()))?;
        Ok(Self { store, settings })
    }

    /// Whether the store holds the spectrum of tensor `name` of the file at `path` as it is now.
    fn has(&self, path: PathBuf, name: &str) -> bool {
        Location::of_file(&path, name, &self.settings)
            .and_then(|l| self.store.location(&l))
            .and_then(|k| self.store.get(&k))
            .is_some()
    }

    /// Stores a task's result (a dict of [`sweep_compute`]) for tensor `name` of `path`.
    fn put(&self, path: PathBuf, name: &str, result: &Bound<'_, PyDict>) -> PyResult<()> {
        let get = |k: &str| result.get_item(k)?.ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(k.to_string()));
        let hash: Vec<u8> = get("key")?.extract()?;
        let rows: usize = get("rows")?.extract()?;
        let cols: usize = get("cols")?.extract()?;
        let blob: Vec<u8> = get("singular_values")?.extract()?;
        let route: String = get("route")?.extract()?;
        let route = [Route::Svd, Route::Gram, Route::GramRefined]
            .into_iter()
            .find(|r| r.name() == route)
            .ok_or_else(|| InvalidOptionError::new_err(format!("unknown route '{route}'")))?;
        let key =
            Key { hash: hash.try_into().map_err(|_| InvalidOptionError::new_err("a key is 32 bytes"))?, rows, cols };
        let spectrum = StoredSpectrum {
            rows,
            cols,
            singular_values: blob.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect(),
            l12_norm: get("l12_norm")?.extract()?,
            route,
            route_reason: get("route_reason")?.extract()?,
        };
        spectrum.validate(rows, cols).map_err(InvalidOptionError::new_err)?;
        let location = Location::of_file(&path, name, &self.settings)
            .ok_or_else(|| CheckpointReadError::new_err(format!("cannot read {}", path.display())))?;
        self.store.put(&key, &spectrum);
        self.store.put_location(&location, &key);
        Ok(())
    }

    /// Spectra in the store.
    fn __len__(&self) -> usize {
        self.store.len()
    }

    /// Problems the store met (unreadable or unwritable entries), in words.
    fn problems(&self) -> Vec<String> {
        self.store.problems()
    }
}

/// The documents of `argv` (as `run_command` returns them; `("analysis", json, columns, failed)` for
/// `analyze`), assembled from the spectra the sweep stored in `store`.
#[pyfunction]
#[pyo3(signature = (argv, store, progress=None))]
pub fn sweep_documents<'py>(
    py: Python<'py>,
    argv: Vec<String>,
    store: &SweepStore,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let s = sweep(argv)?;
    let watch = crate::Watch::default();
    let located = svdiag_store::Located { store: &store.store, settings: store.settings.clone() };
    let documents =
        crate::watched(py, &watch, progress.as_ref(), || s.documents(&watch, &located))?.map_err(documents_error)?;
    crate::documents_tuple(py, documents)
}
