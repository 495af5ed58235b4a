//! Analyzing the planned matrices in parallel.

use std::sync::atomic::AtomicUsize;

use svdiag_core::TensorIdentity;

use crate::measure::measure;
use crate::options::AnalysisOptions;
use crate::plan::{InputSummary, Plan, Skipped, Task};
use crate::record::{failed, Failed, MatrixRecord};
use crate::stored::with_stored;

/// Progress callbacks, called from worker threads.
pub trait Progress: Sync {
    /// Once, before the first matrix: how many matrices and bytes there are.
    fn start(&self, _matrices: usize, _bytes: u64) {}
    /// After each matrix (analyzed or failed), with its stored size.
    fn advance(&self, _bytes: u64) {}
    /// Asked before each matrix: true stops the run (the matrices not yet started are reported as
    /// failed with [`CANCELLED`]; a caller that cancels discards the analysis).
    fn cancelled(&self) -> bool {
        false
    }
}

/// The error of a matrix that was not started because the run was cancelled.
pub const CANCELLED: &str = "not analyzed: the run was cancelled";

/// Reports nothing.
pub struct NoProgress;
impl Progress for NoProgress {}

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
    /// The diagnoses of docs/metrics.md §8.
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
    let results = crate::pool::in_parallel(&order, options.threads, |task| {
        if progress.cancelled() {
            return Err(failed(
                plan.info(task),
                &plan.sources[task.source].path().display().to_string(),
                CANCELLED.into(),
            ));
        }
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
    crate::null::attach(&mut matrices, options);
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

fn analyze_one(
    plan: &Plan,
    task: &Task,
    options: &AnalysisOptions,
    store: Option<&dyn crate::store::SpectrumStore>,
    reused: &AtomicUsize,
) -> Result<MatrixRecord, Failed> {
    if let Some(lora) = &task.lora {
        return crate::adapter::analyze(plan, task, lora, options);
    }
    with_stored(plan, task, |src, info, file| {
        let m = measure(src, info.dtype, options, store, reused).map_err(|e| failed(info, file, e.to_string()))?;
        Ok(m.into_record(info, file.to_string(), info.dtype, task, options))
    })
}
