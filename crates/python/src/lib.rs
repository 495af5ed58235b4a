//! `svdiag._native`: the thin PyO3 layer of the svdiag Python package.
//!
//! Each function extracts its arguments while holding the GIL (tensors arrive as zero-copy `uint8`
//! NumPy views of their storage, with a dtype tag and a shape), runs svdiag's crates with the GIL
//! released (`Python::detach`), and converts the result. Nothing here computes a metric, a guard
//! or a diagnosis: options come from the command line's own parser
//! ([`svdiag_cli::AnalyzeSettings::from_flags`]), analyses from `svdiag-analysis`, the JSON document
//! and the per-matrix columns from `svdiag-report`. The public API is the Python package around it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::types::{PyDict, PyList, PyTuple};
use svdiag_analysis::store::{Key, SpectrumStore, StoredSpectrum};
use svdiag_analysis::{analyze, Analysis, FileSummary, InputSummary, Plan, PlanError, Progress};
use svdiag_cli::sweep::{sweep_of, Sweep};
use svdiag_cli::AnalyzeSettings;
use svdiag_cli::DocumentsError;
use svdiag_core::linalg::gram::Route;
use svdiag_core::{CoreError, Dtype, Spectrum};
use svdiag_formats::memory::{MemoryData, MemorySource, MemoryTensor};
use svdiag_formats::FormatError;
use svdiag_report::columns::Values;
use svdiag_store::{Location, Store};

/// The exception classes, defined in Python (`svdiag/exceptions.py`) so that each can also derive
/// from the matching builtin (`FileNotFoundError`, `ValueError`, …).
mod exceptions {
    pyo3::import_exception!(svdiag.exceptions, CheckpointNotFoundError);
    pyo3::import_exception!(svdiag.exceptions, CheckpointReadError);
    pyo3::import_exception!(svdiag.exceptions, InvalidCheckpointError);
    pyo3::import_exception!(svdiag.exceptions, UnsafePickleError);
    pyo3::import_exception!(svdiag.exceptions, UnsupportedFormatError);
    pyo3::import_exception!(svdiag.exceptions, InvalidTensorError);
    pyo3::import_exception!(svdiag.exceptions, FilterMatchesNothingError);
    pyo3::import_exception!(svdiag.exceptions, InvalidOptionError);
    pyo3::import_exception!(svdiag.exceptions, NonFiniteError);
    pyo3::import_exception!(svdiag.exceptions, UnsupportedDtypeError);
    pyo3::import_exception!(svdiag.exceptions, SvdiagMemoryError);
    pyo3::import_exception!(svdiag.exceptions, ConvergenceError);
    pyo3::import_exception!(svdiag.exceptions, NotARunError);
    pyo3::import_exception!(svdiag.exceptions, NothingToAnalyzeError);
}
use exceptions::*;

/// The Python exception of a reader's error (one class per kind, same message as the CLI).
fn format_error(e: &FormatError) -> PyErr {
    let msg = e.to_string();
    match e {
        FormatError::NoCheckpoint { .. } => CheckpointNotFoundError::new_err(msg),
        FormatError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            CheckpointNotFoundError::new_err(format!("{msg}: {source}"))
        }
        FormatError::Io { source, .. } => CheckpointReadError::new_err(format!("{msg}: {source}")),
        FormatError::Invalid { .. } | FormatError::Index { .. } => InvalidCheckpointError::new_err(msg),
        FormatError::RefusedGlobal { global, runs_code, .. } => {
            // the hint names the Python option, not the command line's flag
            let msg = msg.replace(&format!("--allow-global {global}"), &format!("allow_globals=[{global:?}]"));
            UnsafePickleError::new_err((msg, global.clone(), *runs_code))
        }
        FormatError::Unsupported { .. } => UnsupportedFormatError::new_err(msg),
        FormatError::Tensor { .. } => InvalidTensorError::new_err(msg),
        _ => InvalidCheckpointError::new_err(msg),
    }
}

fn plan_error(e: &PlanError) -> PyErr {
    match e {
        PlanError::Format(f) => format_error(f),
        PlanError::FilterMatchesNothing { .. } => FilterMatchesNothingError::new_err(e.to_string()),
        _ => InvalidOptionError::new_err(e.to_string()),
    }
}

fn core_error(e: &CoreError) -> PyErr {
    let msg = e.to_string();
    match e {
        CoreError::NonFinite { .. } => NonFiniteError::new_err(msg),
        CoreError::NotFloat(_) | CoreError::ByteLength { .. } => UnsupportedDtypeError::new_err(msg),
        CoreError::OutOfMemory { .. } => SvdiagMemoryError::new_err(msg),
        CoreError::NoConvergence { .. } => ConvergenceError::new_err(msg),
        CoreError::NoEntries => InvalidTensorError::new_err(msg),
        _ => ConvergenceError::new_err(msg),
    }
}

/// A dtype tag as the Python layer spells it (safetensors' names).
fn dtype(tag: &str) -> PyResult<Dtype> {
    Ok(match tag {
        "F64" => Dtype::F64,
        "F32" => Dtype::F32,
        "F16" => Dtype::F16,
        "BF16" => Dtype::BF16,
        // kept by name so that the tensor is listed as skipped with its reason, as from a file
        "I64" => Dtype::Other("I64"),
        "I32" => Dtype::Other("I32"),
        "I16" => Dtype::Other("I16"),
        "I8" => Dtype::Other("I8"),
        "U8" => Dtype::Other("U8"),
        "BOOL" => Dtype::Other("BOOL"),
        other => return Err(UnsupportedDtypeError::new_err(format!("dtype {other} is not supported"))),
    })
}

/// Counts for the progress display and the flag that stops the run (Ctrl-C, or a progress callback
/// that raised).
#[derive(Default)]
struct Watch {
    matrices: AtomicUsize,
    done: AtomicUsize,
    bytes: AtomicU64,
    bytes_done: AtomicU64,
    cancel: AtomicBool,
}

impl Progress for Watch {
    /// Adds to the totals: a run command starts once per checkpoint, and its bar grows with them.
    fn start(&self, matrices: usize, bytes: u64) {
        self.matrices.fetch_add(matrices, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    fn advance(&self, bytes: u64) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.bytes_done.fetch_add(bytes, Ordering::Relaxed);
    }
    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Runs `work` on a worker thread with the GIL released. Every 100 ms it takes the GIL to check
/// for Ctrl-C (`KeyboardInterrupt`) and to call `progress(done, total, bytes_done, bytes_total)`;
/// either raising sets the cancel flag (the run stops before its next matrix) and is re-raised once
/// the worker has returned.
fn watched<T: Send>(
    py: Python<'_>,
    watch: &Watch,
    progress: Option<&Py<PyAny>>,
    work: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    let mut raised: Option<PyErr> = None;
    let out = py.detach(|| {
        std::thread::scope(|s| {
            let handle = s.spawn(work);
            let tick = |raised: &mut Option<PyErr>| {
                Python::attach(|py| {
                    let report = || -> PyResult<()> {
                        py.check_signals()?;
                        if let Some(p) = progress {
                            let counts = (
                                watch.done.load(Ordering::Relaxed),
                                watch.matrices.load(Ordering::Relaxed),
                                watch.bytes_done.load(Ordering::Relaxed),
                                watch.bytes.load(Ordering::Relaxed),
                            );
                            p.call1(py, counts)?;
                        }
                        Ok(())
                    };
                    if raised.is_none() {
                        if let Err(e) = report() {
                            watch.cancel.store(true, Ordering::Relaxed);
                            *raised = Some(e);
                        }
                    }
                })
            };
            while !handle.is_finished() {
                std::thread::sleep(Duration::from_millis(100));
                tick(&mut raised);
            }
            tick(&mut raised);
            handle.join()
        })
    });
    match (raised, out) {
        (Some(e), _) => Err(e),
        (None, Ok(v)) => Ok(v),
        (None, Err(_)) => Err(pyo3::exceptions::PyRuntimeError::new_err("svdiag's worker thread panicked")),
    }
}

/// One column of the per-matrix table as `(name, kind, values)`: `kind` tells the Python layer
/// which DataFrame type to give it (`text`, `opt_text`, `shape`, `int`, `bool`, `float`, `list`).
fn column<'py>(py: Python<'py>, name: &str, values: &Values) -> PyResult<Bound<'py, PyTuple>> {
    let (kind, list): (&str, Bound<'py, PyAny>) = match values {
        Values::Text(v) => ("text", PyList::new(py, v)?.into_any()),
        Values::OptText(v) => ("opt_text", PyList::new(py, v)?.into_any()),
        Values::Shape(v) => {
            ("shape", PyList::new(py, v.iter().map(|s| PyTuple::new(py, s)).collect::<PyResult<Vec<_>>>()?)?.into_any())
        }
        Values::Int(v) => ("int", PyList::new(py, v)?.into_any()),
        Values::Bool(v) => ("bool", PyList::new(py, v)?.into_any()),
        Values::Float(v) => {
            ("float", PyArray1::from_vec(py, v.iter().map(|x| x.unwrap_or(f64::NAN)).collect()).into_any())
        }
        Values::Order(v) => ("float", PyArray1::from_vec(py, v.iter().map(|q| q.get()).collect()).into_any()),
        Values::List(v) => {
            ("list", PyList::new(py, v.iter().map(|l| PyTuple::new(py, l)).collect::<PyResult<Vec<_>>>()?)?.into_any())
        }
    };
    PyTuple::new(py, [name.into_pyobject(py)?.into_any(), kind.into_pyobject(py)?.into_any(), list])
}

/// An analysis as `(json, columns, failed)`: the document `svdiag analyze --format json` writes, the
/// per-matrix columns of the CSV in order, and the number of failed matrices.
fn result<'py>(py: Python<'py>, analysis: &Analysis, command: &'static str) -> PyResult<Bound<'py, PyTuple>> {
    result_with(py, analysis, command, None)
}

/// [`result`], with `analyze --base`'s section when there is one.
fn result_with<'py>(
    py: Python<'py>,
    analysis: &Analysis,
    command: &'static str,
    base: Option<&svdiag_cli::MergedReport>,
) -> PyResult<Bound<'py, PyTuple>> {
    let mut json = svdiag_report::json::render_for(analysis, command);
    if let Some(m) = base {
        json = svdiag_report::json::with_section(&json, "base", m.json.clone());
    }
    let columns = svdiag_report::columns::columns(analysis)
        .iter()
        .map(|c| column(py, c.name, &c.values))
        .collect::<PyResult<Vec<_>>>()?;
    PyTuple::new(
        py,
        [
            json.into_pyobject(py)?.into_any(),
            PyList::new(py, columns)?.into_any(),
            analysis.failed.len().into_pyobject(py)?.into_any(),
        ],
    )
}

fn settings(flags: &[String]) -> PyResult<AnalyzeSettings> {
    AnalyzeSettings::from_flags(flags).map_err(InvalidOptionError::new_err)
}

/// Analyzes checkpoint files or model directories (`paths`), as `svdiag analyze PATHS FLAGS`.
#[pyfunction]
#[pyo3(signature = (paths, flags, progress=None))]
fn analyze_paths<'py>(
    py: Python<'py>,
    paths: Vec<PathBuf>,
    flags: Vec<String>,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let settings = settings(&flags)?;
    analyze_plan(py, &settings, progress, || Plan::with_options(&paths, settings.filter.as_ref(), &settings.read))
}

/// Plans (with the GIL released), analyzes under [`watched`], and converts the result.
fn analyze_plan<'py, 'a>(
    py: Python<'py>,
    settings: &AnalyzeSettings,
    progress: Option<Py<PyAny>>,
    plan: impl FnOnce() -> Result<Plan<'a>, PlanError> + Send,
) -> PyResult<Bound<'py, PyTuple>> {
    let watch = Watch::default();
    type Merged = Option<Result<svdiag_cli::MergedReport, String>>;
    let (analysis, merged) = watched(py, &watch, progress.as_ref(), || -> Result<(Analysis, Merged), PlanError> {
        let mut plan = plan()?;
        settings.prepare(&mut plan);
        let analysis = analyze(&plan, &settings.options, &watch);
        let merged = settings.merged(&plan, &watch).map_err(|e| format!("{e:#}")).transpose();
        Ok((analysis, merged))
    })?
    .map_err(|e| plan_error(&e))?;
    let merged = merged.transpose().map_err(InvalidOptionError::new_err)?;
    result_with(py, &analysis, "analyze", merged.as_ref())
}

/// A matrix given by its singular values: `(name, dtype, [rows, cols], singular_values, l12_norm, how)`.
type SpectrumItem = (String, String, Vec<usize>, Vec<f64>, f64, String);

/// Analyzes tensors held in memory: `tensors` is a list of `(name, data, dtype, shape)` with `data`
/// a C-contiguous `uint8` view of the tensor's storage (never copied), `spectra` matrices whose
/// singular values were computed where they live (accepted by [`gram_verdict`]); named `label`.
#[pyfunction]
#[pyo3(signature = (tensors, label, flags, progress=None, spectra=Vec::new()))]
fn analyze_tensors<'py>(
    py: Python<'py>,
    tensors: Vec<(String, PyReadonlyArray1<'py, u8>, String, Vec<usize>)>,
    label: String,
    flags: Vec<String>,
    progress: Option<Py<PyAny>>,
    spectra: Vec<SpectrumItem>,
) -> PyResult<Bound<'py, PyTuple>> {
    let settings = settings(&flags)?;
    if settings.base.is_some() {
        return Err(InvalidOptionError::new_err(
            "base= merges a PEFT adapter's updates into a base model: give the adapter's directory or file, not weights in memory",
        ));
    }
    let mut memory = Vec::with_capacity(tensors.len());
    for (name, data, tag, shape) in &tensors {
        let bytes = data.as_slice().map_err(|e| PyValueError::new_err(format!("tensor '{name}': {e}")))?;
        memory.push(MemoryTensor {
            name: name.clone(),
            dtype: dtype(tag)?,
            shape: shape.clone(),
            data: MemoryData::Bytes(bytes),
        });
    }
    for (name, tag, shape, singular_values, l12_norm, how) in spectra {
        let data = MemoryData::Spectrum(svdiag_formats::Precomputed { singular_values, l12_norm, how, route: None });
        memory.push(MemoryTensor { name, dtype: dtype(&tag)?, shape, data });
    }
    let n = memory.len();
    let source = MemorySource::new(&label, memory).map_err(|e| format_error(&e))?;
    let inputs = vec![InputSummary {
        path: label.clone(),
        resolved_as: "tensors in memory".into(),
        files: vec![FileSummary { path: label.clone(), format: "memory", tensors: n, bytes: None, sha256: None }],
    }];
    analyze_plan(py, &settings, progress, || {
        Plan::from_sources(vec![Box::new(source)], inputs, settings.filter.as_ref())
    })
}

/// One matrix (`rows × cols` elements of `dtype` in `data`, row-major): its singular values (f64),
/// its metrics by canonical name, the route and the guard's reason, as `analyze` measures it.
#[pyfunction]
fn measure<'py>(
    py: Python<'py>,
    data: PyReadonlyArray1<'py, u8>,
    dtype_tag: &str,
    rows: usize,
    cols: usize,
    flags: Vec<String>,
) -> PyResult<Bound<'py, PyTuple>> {
    let settings = settings(&flags)?;
    let dtype = dtype(dtype_tag)?;
    let bytes = data.as_slice().map_err(|e| PyValueError::new_err(e.to_string()))?;
    let mut options = settings.options;
    options.keep_spectrum = true;
    let m =
        py.detach(|| svdiag_analysis::measure_bytes(bytes, dtype, rows, cols, &options)).map_err(|e| core_error(&e))?;
    let values = m.spectrum.as_ref().map(|s| PyArray1::from_slice(py, s.values()));
    let metrics = metrics_dict(py, &m.metrics)?;
    PyTuple::new(
        py,
        [
            values.into_pyobject(py)?.into_any(),
            metrics.into_any(),
            m.route.map(|r| r.name()).into_pyobject(py)?.into_any(),
            m.route_reason.into_pyobject(py)?.into_any(),
        ],
    )
}

/// The Gram route's guard on eigenvalues `λ_1 ≥ … ≥ λ_k` of a Gram matrix formed in f64 elsewhere
/// (torch, on the device the weights live on), with its trace: `(True, singular_values, None)` where
/// every reported metric meets the tolerance, else `(False, None, reason)`: that matrix needs its
/// entries (σ_min from a factor, or the direct SVD).
#[pyfunction]
fn gram_verdict(
    eigenvalues: Vec<f64>,
    trace: f64,
    rows: usize,
    cols: usize,
    flags: Vec<String>,
) -> PyResult<(bool, Option<Vec<f64>>, Option<String>)> {
    let settings = settings(&flags)?;
    Ok(
        match svdiag_core::linalg::gram::accept_eigenvalues(&eigenvalues, trace, rows, cols, &settings.options.metrics)
        {
            Ok(values) => (true, Some(values), None),
            Err(why) => (false, None, Some(why)),
        },
    )
}

/// The metrics of given singular values of an `rows × cols` matrix (`l12_norm`, which needs the
/// matrix's columns, is undefined).
#[pyfunction]
fn metrics_of<'py>(
    py: Python<'py>,
    singular_values: Vec<f64>,
    rows: usize,
    cols: usize,
    flags: Vec<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let settings = settings(&flags)?;
    if singular_values.len() != rows.min(cols) {
        return Err(PyValueError::new_err(format!(
            "a {rows}×{cols} matrix has {} singular values, got {}",
            rows.min(cols),
            singular_values.len()
        )));
    }
    if let Some(bad) = singular_values.iter().find(|v| !v.is_finite() || **v < 0.0) {
        return Err(PyValueError::new_err(format!("singular values must be finite and ≥ 0, got {bad}")));
    }
    let spectrum = Spectrum::from_values(rows, cols, singular_values);
    let m = svdiag_core::Metrics::compute(&spectrum, f64::NAN, &settings.options.metrics);
    metrics_dict(py, &m)
}

fn metrics_dict<'py>(py: Python<'py>, m: &svdiag_core::Metrics) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for field in svdiag_report::metric_fields() {
        match m.get(field).filter(|v| !v.is_nan()) {
            Some(v) if svdiag_report::is_count(field) && v.is_finite() => d.set_item(field, v as u64)?,
            Some(v) => d.set_item(field, v)?,
            None => d.set_item(field, py.None())?,
        }
    }
    Ok(d)
}

/// The Python exception of a run command's failure: the first typed error in its chain decides.
fn command_error(e: &anyhow::Error) -> PyErr {
    for cause in e.chain() {
        if let Some(p) = cause.downcast_ref::<PlanError>() {
            return with_context(plan_error(p), e);
        }
        if let Some(f) = cause.downcast_ref::<FormatError>() {
            return with_context(format_error(f), e);
        }
        if let Some(r) = cause.downcast_ref::<svdiag_analysis::runs::RunError>() {
            return match r {
                svdiag_analysis::runs::RunError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                    CheckpointNotFoundError::new_err(format!("{e:#}"))
                }
                svdiag_analysis::runs::RunError::Io { .. } => CheckpointReadError::new_err(format!("{e:#}")),
                _ => NotARunError::new_err(format!("{e:#}")),
            };
        }
    }
    NothingToAnalyzeError::new_err(format!("{e:#}"))
}

/// `err` of the same class with the whole chain as its message (`A: path: …`), as the CLI prints it.
fn with_context(err: PyErr, e: &anyhow::Error) -> PyErr {
    Python::attach(|py| match err.get_type(py).call1((format!("{e:#}"),)) {
        Ok(v) => PyErr::from_value(v),
        Err(other) => other,
    })
}

/// A run command (`trend`, `compare`, `delta` with its arguments): `("rendered", json, csv, code)`
/// for trend and compare, `("analysis", json, columns, failed)` for delta (as `analyze_paths`).
/// Progress and Ctrl-C as for `analyze_paths`, counted over every checkpoint the command reads.
#[pyfunction]
#[pyo3(signature = (argv, progress=None))]
fn run_command<'py>(py: Python<'py>, argv: Vec<String>, progress: Option<Py<PyAny>>) -> PyResult<Bound<'py, PyTuple>> {
    let watch = Watch::default();
    let documents =
        watched(py, &watch, progress.as_ref(), || svdiag_cli::run_documents(argv, &watch))?.map_err(|e| match e {
            svdiag_cli::DocumentsError::Usage(msg) => InvalidOptionError::new_err(msg),
            svdiag_cli::DocumentsError::Failed(e) => command_error(&e),
        })?;
    documents_tuple(py, documents)
}

/// A run command's documents as Python values (see [`run_command`]).
fn documents_tuple(py: Python<'_>, documents: svdiag_cli::runs::Documents) -> PyResult<Bound<'_, PyTuple>> {
    match documents {
        svdiag_cli::runs::Documents::Rendered(json, csv, code) => PyTuple::new(
            py,
            [
                "rendered".into_pyobject(py)?.into_any(),
                json.into_pyobject(py)?.into_any(),
                csv.into_pyobject(py)?.into_any(),
                code.into_pyobject(py)?.into_any(),
            ],
        ),
        svdiag_cli::runs::Documents::Delta(analysis, _) => analysis_tuple(py, &analysis, "delta"),
        svdiag_cli::runs::Documents::Analyzed(analysis, _) => analysis_tuple(py, &analysis, "analyze"),
    }
}

/// `("analysis", json, columns, failed)`.
fn analysis_tuple<'py>(py: Python<'py>, analysis: &Analysis, command: &'static str) -> PyResult<Bound<'py, PyTuple>> {
    let out = result(py, analysis, command)?;
    let items: Vec<Bound<'_, PyAny>> =
        std::iter::once("analysis".into_pyobject(py)?.into_any()).chain(out.iter()).collect();
    PyTuple::new(py, items)
}

/// `svdiag inspect PATHS` as its JSON document; `flags` as for `analyze` (only `--filter` and
/// `--allow-global` matter), through the command line's parser.
#[pyfunction]
fn inspect_paths(py: Python<'_>, paths: Vec<PathBuf>, flags: Vec<String>) -> PyResult<String> {
    let settings = settings(&flags)?;
    py.detach(|| {
        Plan::with_options(&paths, settings.filter.as_ref(), &settings.read)
            .map(|plan| svdiag_report::inspect::render_json(&plan))
    })
    .map_err(|e| plan_error(&e))
}

/// The self-contained HTML page of a JSON document of `analyze`, `delta`, `trend` or `compare`
/// (the renderer of `--format html` and `svdiag report`).
#[pyfunction]
fn render_html(py: Python<'_>, json: String) -> PyResult<String> {
    py.detach(|| svdiag_report::html::render_text(&json)).map_err(PyValueError::new_err)
}

/// The `svdiag` command line (`argv` without the program name); returns its exit code.
#[pyfunction]
fn cli(py: Python<'_>, argv: Vec<String>) -> u8 {
    py.detach(|| svdiag_cli::run(std::iter::once("svdiag".to_string()).chain(argv)))
}

/// The per-matrix metric fields in canonical order, and the counting ones among them.
#[pyfunction]
fn metric_fields() -> (Vec<&'static str>, Vec<&'static str>) {
    let all: Vec<&'static str> = svdiag_report::metric_fields().collect();
    let counts = all.iter().copied().filter(|f| svdiag_report::is_count(f)).collect();
    (all, counts)
}

/// The native module.
// ---- svdiag.distributed: a command's matrices as tasks, one task computed (in a cluster's worker,
// with the GIL released), the driver's result store, and the command's documents assembled from
// that store. The algorithms are the core's; this only converts.
fn sweep(argv: Vec<String>) -> PyResult<Sweep> {
    sweep_of(argv).map_err(documents_error)
}

fn documents_error(e: DocumentsError) -> PyErr {
    match e {
        DocumentsError::Usage(msg) => InvalidOptionError::new_err(msg),
        DocumentsError::Failed(e) => command_error(&e),
    }
}

/// The tasks of a command line (`["trend", RUN, ...flags]`, `compare` or `analyze`): one dict per
/// matrix (`path`, `tensor`, `name`, `rows`, `cols`, `bytes`, `cost`, `memory`), and the settings
/// string its results are stored under.
#[pyfunction]
fn sweep_tasks<'py>(py: Python<'py>, argv: Vec<String>) -> PyResult<Bound<'py, PyTuple>> {
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
/// "route", "route_reason"}`; `{"key", "rows", "cols", "known": True}` when the key is one of
/// `known` (the store has its spectrum); or `{"error": message}` for a tensor that cannot be
/// analyzed (bad data is the tensor's, not the worker's: it is returned, never raised).
#[pyfunction]
#[pyo3(signature = (argv, path, tensor, threads=None, known=None))]
fn sweep_compute<'py>(
    py: Python<'py>,
    argv: Vec<String>,
    path: PathBuf,
    tensor: usize,
    threads: Option<usize>,
    known: Option<std::collections::HashSet<Vec<u8>>>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut s = sweep(argv)?;
    s.options.threads = threads.or(s.options.threads);
    let known = known.unwrap_or_default();
    let is_known = |k: &Key| known.contains(&k.hash[..]);
    let out = py.detach(|| svdiag_analysis::cluster::compute(&path, tensor, &s.options, &s.read, &is_known));
    let d = PyDict::new(py);
    match out {
        Ok((key, None)) => {
            d.set_item("key", PyBytes::new(py, &key.hash))?;
            d.set_item("rows", key.rows)?;
            d.set_item("cols", key.cols)?;
            d.set_item("known", true)?;
        }
        Ok((key, Some(spectrum))) => {
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
struct SweepStore {
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

    /// The keys of every stored spectrum (32 bytes each), for the tasks to skip what is stored.
    fn keys(&self) -> Vec<Vec<u8>> {
        self.store.keys()
    }

    /// Stores a task's result (a dict of [`sweep_compute`]) for tensor `name` of `path`: its
    /// spectrum and where it was found, or only where, for a key the store already has.
    fn put(&self, path: PathBuf, name: &str, result: &Bound<'_, PyDict>) -> PyResult<()> {
        let get = |k: &str| result.get_item(k)?.ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(k.to_string()));
        let hash: Vec<u8> = get("key")?.extract()?;
        let rows: usize = get("rows")?.extract()?;
        let cols: usize = get("cols")?.extract()?;
        let location = || {
            Location::of_file(&path, name, &self.settings)
                .ok_or_else(|| CheckpointReadError::new_err(format!("cannot read {}", path.display())))
        };
        let key =
            Key { hash: hash.try_into().map_err(|_| InvalidOptionError::new_err("a key is 32 bytes"))?, rows, cols };
        if result.get_item("known")?.is_some() {
            self.store.put_location(&location()?, &key);
            return Ok(());
        }
        let blob: Vec<u8> = get("singular_values")?.extract()?;
        let route: String = get("route")?.extract()?;
        let route = [Route::Svd, Route::Gram, Route::GramRefined]
            .into_iter()
            .find(|r| r.name() == route)
            .ok_or_else(|| InvalidOptionError::new_err(format!("unknown route '{route}'")))?;
        let spectrum = StoredSpectrum {
            rows,
            cols,
            singular_values: blob.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect(),
            l12_norm: get("l12_norm")?.extract()?,
            route,
            route_reason: get("route_reason")?.extract()?,
        };
        spectrum.validate(rows, cols).map_err(InvalidOptionError::new_err)?;
        let location = location()?;
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
fn sweep_documents<'py>(
    py: Python<'py>,
    argv: Vec<String>,
    store: &SweepStore,
    progress: Option<Py<PyAny>>,
) -> PyResult<Bound<'py, PyTuple>> {
    let s = sweep(argv)?;
    let watch = Watch::default();
    let located = svdiag_store::Located { store: &store.store, settings: store.settings.clone() };
    let documents =
        watched(py, &watch, progress.as_ref(), || s.documents(&watch, &located))?.map_err(documents_error)?;
    documents_tuple(py, documents)
}

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(analyze_paths, m)?)?;
    m.add_function(wrap_pyfunction!(analyze_tensors, m)?)?;
    m.add_function(wrap_pyfunction!(measure, m)?)?;
    m.add_function(wrap_pyfunction!(metrics_of, m)?)?;
    m.add_function(wrap_pyfunction!(gram_verdict, m)?)?;
    m.add_function(wrap_pyfunction!(inspect_paths, m)?)?;
    m.add_function(wrap_pyfunction!(run_command, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_tasks, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_compute, m)?)?;
    m.add_function(wrap_pyfunction!(sweep_documents, m)?)?;
    m.add_class::<SweepStore>()?;
    m.add_function(wrap_pyfunction!(cli, m)?)?;
    m.add_function(wrap_pyfunction!(render_html, m)?)?;
    m.add_function(wrap_pyfunction!(metric_fields, m)?)?;
    Ok(())
}
