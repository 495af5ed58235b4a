//! Analyzing the planned matrices in parallel.

use std::sync::atomic::{AtomicUsize, Ordering};

use std::ops::Range;

use svdiag_core::gram::{self, Blocks, Route};
use svdiag_core::{CoreError, Dtype, Matrix, MetricOptions, Metrics, Spectrum, TensorIdentity, Undefined};
use svdiag_formats::{TensorData, TensorInfo};

use crate::plan::{InputSummary, Plan, Skipped, Task};

/// Settings of one analysis.
#[derive(Debug, Clone, Default)]
pub struct AnalysisOptions {
    /// Normalization and Rényi order.
    pub metrics: MetricOptions,
    /// Keep every matrix's singular values in its record.
    pub keep_spectrum: bool,
    /// Worker threads; `None` = all cores.
    pub threads: Option<usize>,
    /// `--quick`: only the metrics that need no eigen-decomposition (see `svdiag_core::quick`).
    pub quick: bool,
    /// How exact spectra are computed.
    pub method: Method,
    /// Thresholds of the diagnoses.
    pub thresholds: crate::Thresholds,
    /// `--farms`: also fit `alpha_farms` with these window parameters.
    pub farms: Option<svdiag_core::farms::FarmsParams>,
    /// `--polar`: also measure the polar factor `UVᵀ`.
    pub polar: bool,
    /// `--approx`: SLQ estimates of the entropies, where (or, with `always`, wherever) they are
    /// cheaper than the exact route.
    pub approx: Option<(ApproxMode, svdiag_core::slq::SlqOptions)>,
}

/// When `--approx` estimates instead of computing exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproxMode {
    /// Only where the estimate is cheaper than the exact Gram route ([`svdiag_core::slq::worth_it`]).
    Auto,
    /// On every matrix (to measure the trade-off).
    Always,
}

/// How the exact mode computes singular values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// The Gram route with its accuracy guard, which refines or falls back to the direct SVD
    /// matrix by matrix (`svdiag_core::gram`).
    #[default]
    Auto,
    /// The direct SVD of every matrix.
    Svd,
}

impl Method {
    /// The name used on the command line and in reports (`auto`, `svd`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Svd => "svd",
        }
    }
}

/// How a matrix is named across checkpoints: its tensor name, with `[gate]` for one gate of a
/// stacked recurrent weight (`--split-gates`). Trends, comparisons and deltas match on it.
pub fn matrix_key(name: &str, gate: Option<&str>) -> String {
    match gate {
        Some(g) => format!("{name}[{g}]"),
        None => name.to_string(),
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "svd" => Ok(Self::Svd),
            _ => Err(format!("unknown method '{s}' (expected 'auto' or 'svd')")),
        }
    }
}

/// Relative convergence tolerance of the Lanczos spectral norm in quick mode (the contract is
/// 1e-6 of the exact value; Lanczos converges far past it at this setting).
pub const QUICK_TOLERANCE: f64 = 1e-10;

/// Progress callbacks, called from worker threads.
pub trait Progress: Sync {
    /// Once, before the first matrix: how many matrices and bytes there are.
    fn start(&self, _matrices: usize, _bytes: u64) {}
    /// After each matrix (analyzed or failed), with its stored size.
    fn advance(&self, _bytes: u64) {}
}

/// Reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

/// The analysis of one matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixRecord {
    /// Tensor name as stored.
    pub name: String,
    /// File it came from.
    pub file: String,
    /// Storage dtype (widened to f64 before any arithmetic).
    pub dtype: Dtype,
    /// Shape as stored.
    pub shape: Vec<usize>,
    /// `[m, n]` as analyzed.
    pub matrix_shape: [usize; 2],
    /// True when the stored tensor had more than 2 axes and was reshaped to `[d0, d1·d2·…]`.
    pub reshaped: bool,
    /// For one gate of a stacked recurrent weight (`--split-gates`): the gate's label.
    pub gate: Option<&'static str>,
    /// First row of the gate in the stored matrix (0 without a gate); orders the gates.
    pub gate_row: usize,
    /// Role and layer from the name.
    pub identity: TensorIdentity,
    /// The metrics.
    pub metrics: Metrics,
    /// The singular values, when asked for.
    pub singular_values: Option<Vec<f64>>,
    /// How the spectrum was computed (`None` in quick mode).
    pub route: Option<Route>,
    /// Why the Gram route refined `σ_min` or fell back to the direct SVD.
    pub route_reason: Option<String>,
    /// The SLQ estimates with their intervals (`--approx`, where used).
    pub approx: Option<svdiag_core::slq::Approx>,
}

/// A matrix that could not be analyzed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Failed {
    /// Tensor name.
    pub name: String,
    /// File.
    pub file: String,
    /// Storage dtype.
    pub dtype: Dtype,
    /// Shape as stored.
    pub shape: Vec<usize>,
    /// What went wrong.
    pub error: String,
}

/// The result of a run.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The inputs as given and the files read.
    pub inputs: Vec<InputSummary>,
    /// The settings used.
    pub options: AnalysisOptions,
    /// One record per analyzed matrix, in display order (embeddings, layers, head).
    pub matrices: Vec<MatrixRecord>,
    /// Tensors that are not matrices, with reasons.
    pub skipped: Vec<Skipped>,
    /// Matrices whose analysis failed, with reasons.
    pub failed: Vec<Failed>,
    /// Tensors left out by the filter.
    pub filtered_out: usize,
    /// The filter pattern, if any.
    pub filter: Option<String>,
    /// Notes that are not failures.
    pub warnings: Vec<String>,
    /// The diagnoses of SCIENCE.md §7.
    pub diagnoses: crate::Diagnoses,
    /// Records whose spectrum came from the result store instead of being computed.
    pub reused: usize,
}

/// Analyzes every task of the plan; never stops at a bad matrix (it goes to `failed`).
pub fn analyze(plan: &Plan, options: &AnalysisOptions, progress: &dyn Progress) -> Analysis {
    analyze_with_store(plan, options, progress, None)
}

/// [`analyze`], taking exact spectra from `store` where it holds them and putting every spectrum
/// it computes there (one entry per matrix, as soon as it is computed: an interrupted run loses
/// nothing it finished). `--quick` and `--approx` records are neither read nor stored.
pub fn analyze_with_store(
    plan: &Plan,
    options: &AnalysisOptions,
    progress: &dyn Progress,
    store: Option<&dyn crate::store::SpectrumStore>,
) -> Analysis {
    let store = store.filter(|_| crate::store::cacheable(options));
    let reused = AtomicUsize::new(0);
    // Largest first, so that one big matrix does not start last and leave the other cores idle.
    let mut order: Vec<&Task> = plan.tasks.iter().collect();
    order.sort_by_key(|t| std::cmp::Reverse(t.rows.saturating_mul(t.cols)));
    progress.start(order.len(), plan.task_bytes());
    let results = in_parallel(&order, options.threads, |task| {
        let out = analyze_one(plan, task, options, store, &reused);
        plan.sources[task.source].release(task.tensor);
        progress.advance(plan.info(task).byte_len as u64);
        out
    });
    let mut analysis = collect(results, options);
    analysis.reused = reused.into_inner();
    analysis.inputs = plan.inputs.clone();
    analysis.skipped = plan.skipped.clone();
    analysis.filtered_out = plan.filtered_out;
    analysis.filter = plan.filter.clone();
    analysis.warnings = plan.warnings.clone();
    analysis
}

/// Runs `work` on every item, largest first as given: each worker takes the next item from a
/// shared queue (greedy longest-first), so at most `threads` matrices are in memory at once and no
/// core idles behind one big matrix.
pub(crate) fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    threads: Option<usize>,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let worker = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else { break };
            done.push(work(item));
        }
        done
    };
    match rayon::ThreadPoolBuilder::new().num_threads(threads.unwrap_or(0)).build() {
        Ok(pool) => pool.broadcast(|_| worker()).into_iter().flatten().collect(),
        Err(_) => worker(), // no threads to be had: run on this one
    }
}

/// Sorts the records into display order and diagnoses them; the inputs are left empty.
pub(crate) fn collect(results: Vec<Result<MatrixRecord, Failed>>, options: &AnalysisOptions) -> Analysis {
    let mut matrices = Vec::new();
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(m) => matrices.push(m),
            Err(f) => failed.push(f),
        }
    }
    matrices.sort_by(|a, b| {
        TensorIdentity::display_order((&a.identity, &a.name), (&b.identity, &b.name))
            .then_with(|| a.file.cmp(&b.file))
            .then_with(|| (a.gate.is_some(), a.gate_row).cmp(&(b.gate.is_some(), b.gate_row)))
    });
    failed.sort_by(|a, b| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
    let diagnoses = crate::diagnose::diagnose(&matrices, &options.thresholds);
    Analysis {
        reused: 0,
        diagnoses,
        inputs: Vec::new(),
        options: options.clone(),
        matrices,
        skipped: Vec::new(),
        failed,
        filtered_out: 0,
        filter: None,
        warnings: Vec::new(),
    }
}

/// The stored tensor (or one gate's block of rows of it), widened block by block on demand.
pub(crate) struct Stored<'a> {
    pub(crate) values: StoredValues<'a>,
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    /// First row of the analyzed block in the stored matrix.
    pub(crate) first_row: usize,
}

pub(crate) enum StoredValues<'a> {
    Bytes(&'a [u8], Dtype, usize),
    F64(&'a [f64]),
}

impl Blocks for Stored<'_> {
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
    fn fill(&self, rows: Range<usize>, cols: Range<usize>, out: &mut [f64]) -> Result<(), CoreError> {
        let w = cols.len();
        for (i, r) in rows.enumerate() {
            let start = (self.first_row + r) * self.cols + cols.start;
            let dst = &mut out[i * w..(i + 1) * w];
            match self.values {
                StoredValues::Bytes(bytes, dtype, size) => {
                    dtype.widen_le(&bytes[start * size..(start + w) * size], dst)?
                }
                StoredValues::F64(values) => dst.copy_from_slice(&values[start..start + w]),
            }
        }
        Ok(())
    }
}

fn analyze_one(
    plan: &Plan,
    task: &Task,
    options: &AnalysisOptions,
    store: Option<&dyn crate::store::SpectrumStore>,
    reused: &AtomicUsize,
) -> Result<MatrixRecord, Failed> {
    with_stored(plan, task, |src, info, file| {
        let m = measure(src, info.dtype, options, store, reused).map_err(|e| failed(info, file, e.to_string()))?;
        Ok(m.into_record(info, file.to_string(), info.dtype, task, options))
    })
}

/// Reads a task's tensor, checks that the reader delivered exactly the stored tensor, and hands
/// the analyzed block (the whole matrix, or one gate's rows) to `f`.
pub(crate) fn with_stored<R>(
    plan: &Plan,
    task: &Task,
    f: impl FnOnce(&Stored<'_>, &TensorInfo, &str) -> Result<R, Failed>,
) -> Result<R, Failed> {
    let source = &plan.sources[task.source];
    let info = plan.info(task);
    let file = source.path().display().to_string();
    let fail = |e: CoreError| failed(info, &file, e.to_string());
    // the reader must deliver the whole stored tensor, exactly, gate or not
    let stored = svdiag_core::numel(&info.shape).unwrap_or(usize::MAX);
    let data = match source.read(task.tensor) {
        Ok(data) => data,
        Err(svdiag_formats::FormatError::Tensor { reason, .. }) => return Err(failed(info, &file, reason)),
        Err(e) => return Err(failed(info, &file, e.to_string())),
    };
    let values = match &data {
        TensorData::Bytes(bytes) => {
            let size = info.dtype.size().ok_or(CoreError::NotFloat(info.dtype)).map_err(fail)?;
            if Some(bytes.len()) != stored.checked_mul(size) {
                return Err(fail(CoreError::ByteLength {
                    len: bytes.len(),
                    expected: stored.saturating_mul(size),
                    rows: stored / task.cols.max(1),
                    cols: task.cols,
                    dtype: info.dtype,
                }));
            }
            StoredValues::Bytes(bytes, info.dtype, size)
        }
        TensorData::F64(values) if values.len() == stored => StoredValues::F64(values),
        TensorData::F64(values) => {
            return Err(failed(
                info,
                &file,
                format!("reader returned {} values for a tensor of {stored} elements", values.len()),
            ))
        }
    };
    let first_row = task.gate.map_or(0, |g| g.first_row);
    if (first_row + task.rows).checked_mul(task.cols).is_none_or(|end| end > stored) {
        return Err(failed(info, &file, format!("{}×{} block does not fit the stored tensor", task.rows, task.cols)));
    }
    f(&Stored { values, rows: task.rows, cols: task.cols, first_row }, info, &file)
}

/// What [`measure`] finds for one matrix.
pub(crate) struct Measured {
    pub(crate) metrics: Metrics,
    pub(crate) spectrum: Option<Spectrum>,
    pub(crate) route: Option<Route>,
    pub(crate) route_reason: Option<String>,
    pub(crate) approx: Option<svdiag_core::slq::Approx>,
}

impl Measured {
    /// The record of `task`'s matrix (stored as `info` in `file`, analyzed in `dtype`).
    pub(crate) fn into_record(
        self,
        info: &TensorInfo,
        file: String,
        dtype: Dtype,
        task: &Task,
        options: &AnalysisOptions,
    ) -> MatrixRecord {
        MatrixRecord {
            name: info.name.clone(),
            file,
            dtype,
            shape: info.shape.clone(),
            matrix_shape: [task.rows, task.cols],
            reshaped: info.shape.len() > 2,
            gate: task.gate.map(|g| g.label),
            gate_row: task.gate.map_or(0, |g| g.first_row),
            identity: TensorIdentity::from_name(&info.name, info.shape.len()),
            metrics: self.metrics,
            singular_values: self.spectrum.filter(|_| options.keep_spectrum).map(|s| s.values().to_vec()),
            route: self.route,
            route_reason: self.route_reason,
            approx: self.approx,
        }
    }
}

/// The spectrum and metrics of one matrix, by the route the options ask for (from the store
/// where it has them).
pub(crate) fn measure(
    src: &Stored<'_>,
    dtype: Dtype,
    options: &AnalysisOptions,
    store: Option<&dyn crate::store::SpectrumStore>,
    reused: &AtomicUsize,
) -> Result<Measured, CoreError> {
    let (rows, cols) = (src.rows, src.cols);
    let key = store.map(|_| crate::store::key(src, dtype, options));
    let slq =
        options.approx.filter(|(mode, o)| *mode == ApproxMode::Always || svdiag_core::slq::worth_it(rows, cols, o));
    let mut approx = None;
    // the whole matrix in f64, widened at most once, only for the paths that need it
    let mut widened: Option<Matrix> = None;
    let (mut metrics, spectrum, route, route_reason) = if let Some((_, o)) = slq {
        let a = svdiag_core::slq::estimate(src, options.metrics.normalization, &o)?;
        approx = Some(a);
        let quick = Metrics::quick(src, &options.metrics, QUICK_TOLERANCE)?;
        (quick.with_approx(&a, rows.min(cols)), None, None, None)
    } else if options.quick {
        (Metrics::quick(src, &options.metrics, QUICK_TOLERANCE)?, None, None, None)
    } else if let Some(hit) = key.as_ref().and_then(|k| store?.get(k)).filter(|h| h.validate(rows, cols).is_ok()) {
        reused.fetch_add(1, Ordering::Relaxed);
        let spectrum = Spectrum::from_values(rows, cols, hit.singular_values);
        (Metrics::compute(&spectrum, hit.l12_norm, &options.metrics), Some(spectrum), Some(hit.route), hit.route_reason)
    } else {
        let (spectrum, l12_norm, route, reason) = if options.method == Method::Svd {
            let matrix = whole(&mut widened, src)?;
            (Spectrum::of(matrix)?, matrix.l12_norm(), Route::Svd, None)
        } else {
            let out = gram::spectrum(src, &options.metrics)?;
            (out.spectrum, out.l12_norm, out.route, (!out.reason.is_empty()).then_some(out.reason))
        };
        if let (Some(store), Some(key)) = (store, &key) {
            store.put(
                key,
                &crate::store::StoredSpectrum {
                    rows,
                    cols,
                    singular_values: spectrum.values().to_vec(),
                    l12_norm,
                    route,
                    route_reason: reason.clone(),
                },
            );
        }
        (Metrics::compute(&spectrum, l12_norm, &options.metrics), Some(spectrum), Some(route), reason)
    };
    if options.polar && !options.quick {
        match svdiag_core::surgery::Polar::of(whole(&mut widened, src)?) {
            Ok(p) => metrics.polar = Some(p),
            Err(reason) => metrics.undefined.extend(Undefined::all(&svdiag_core::surgery::POLAR_FIELDS, reason)),
        }
    }
    if let (Some(params), false) = (&options.farms, options.quick) {
        match svdiag_core::farms::Farms::of(whole(&mut widened, src)?, params) {
            Ok(f) => metrics.farms = Some(f),
            Err(reason) => metrics.undefined.extend(Undefined::all(&svdiag_core::farms::FARMS_FIELDS, reason)),
        }
    }
    Ok(Measured { metrics, spectrum, route, route_reason, approx })
}

/// The matrix widened to f64, computed on first use and kept for the other uses.
fn whole<'a>(cache: &'a mut Option<Matrix>, src: &Stored<'_>) -> Result<&'a Matrix, CoreError> {
    if cache.is_none() {
        *cache = Some(gram::whole(src)?);
    }
    Ok(cache.as_ref().expect("just filled"))
}

pub(crate) fn failed(info: &TensorInfo, file: &str, error: String) -> Failed {
    Failed { name: info.name.clone(), file: file.to_string(), dtype: info.dtype, shape: info.shape.clone(), error }
}
