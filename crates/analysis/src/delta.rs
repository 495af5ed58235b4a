//! The update between two checkpoints: for each matrix present in both with the same shape, the
//! spectrum and every metric of `ΔW = W_B − W_A` (computed in f64 from the stored values).

use std::sync::atomic::AtomicUsize;

use svdiag_core::linalg::gram;
use svdiag_core::Blocks;
use svdiag_core::{CoreError, Dtype};

use crate::measure::measure;
use crate::pool::in_parallel;
use crate::record::failed;
use crate::run::collect;
use crate::stored::{with_stored, Stored, StoredValues};
use crate::{Analysis, AnalysisOptions, MatrixRecord, Plan, Progress, Task};

/// The deltas, and what could not be paired.
#[derive(Debug, Clone)]
pub struct Delta {
    /// One record per paired matrix: the metrics of `W_B − W_A` (its `file` reads `A → B`).
    pub analysis: Analysis,
    /// Matrices only in A.
    pub only_a: Vec<String>,
    /// Matrices only in B.
    pub only_b: Vec<String>,
    /// Matrices in both whose shapes differ: `(name, A's shape, B's shape)`.
    pub mismatched: Vec<(String, [usize; 2], [usize; 2])>,
}

fn task_name(plan: &Plan, t: &Task) -> String {
    crate::matrix_key(&plan.info(t).name, t.gate.map(|g| g.label))
}

/// Pairs the matrices of `a` and `b` by name and analyzes each `W_B − W_A`. Metrics use the
/// options as in `analyze` (the exact route unless `--quick`/`--approx` say otherwise); the
/// updates' spectra are kept in `store` like any other (keyed by the update's f64 values).
pub fn analyze_delta(
    a: &Plan,
    b: &Plan,
    options: &AnalysisOptions,
    progress: &dyn Progress,
    store: Option<&dyn crate::store::SpectrumStore>,
) -> Delta {
    let store = store.filter(|_| crate::store::cacheable(options));
    let in_a: std::collections::BTreeMap<String, &Task> = a.tasks.iter().map(|t| (task_name(a, t), t)).collect();
    let mut pairs = Vec::new();
    let mut only_b = Vec::new();
    let mut mismatched = Vec::new();
    for tb in &b.tasks {
        let name = task_name(b, tb);
        match in_a.get(&name) {
            Some(ta) if (ta.rows, ta.cols) == (tb.rows, tb.cols) => pairs.push((*ta, tb)),
            Some(ta) => mismatched.push((name, [ta.rows, ta.cols], [tb.rows, tb.cols])),
            None => only_b.push(name),
        }
    }
    let paired: std::collections::BTreeSet<String> = b.tasks.iter().map(|t| task_name(b, t)).collect();
    let only_a = in_a.keys().filter(|k| !paired.contains(*k)).cloned().collect();
    pairs.sort_by_key(|(t, _)| std::cmp::Reverse(t.rows.saturating_mul(t.cols)));
    progress.start(pairs.len(), pairs.iter().map(|(ta, tb)| (a.info(ta).byte_len + b.info(tb).byte_len) as u64).sum());
    let reused = AtomicUsize::new(0);
    let results = in_parallel(&pairs, options.threads, |(ta, tb)| {
        if progress.cancelled() {
            let file = b.sources[tb.source].path().display().to_string();
            return Err(failed(b.info(tb), &file, crate::CANCELLED.into()));
        }
        let out = one(a, ta, b, tb, options, store, &reused);
        a.sources[ta.source].release(ta.tensor);
        b.sources[tb.source].release(tb.tensor);
        progress.advance((a.info(ta).byte_len + b.info(tb).byte_len) as u64);
        out
    });
    let mut analysis = collect(results, options);
    analysis.reused = reused.into_inner();
    analysis.inputs = a.inputs.iter().chain(&b.inputs).cloned().collect();
    analysis.skipped = b.skipped.clone();
    analysis.warnings = a.warnings.iter().chain(&b.warnings).cloned().collect();
    analysis.filter = b.filter.clone();
    Delta { analysis, only_a, only_b, mismatched }
}

fn one(
    a: &Plan,
    ta: &Task,
    b: &Plan,
    tb: &Task,
    options: &AnalysisOptions,
    store: Option<&dyn crate::store::SpectrumStore>,
    reused: &AtomicUsize,
) -> Result<MatrixRecord, crate::Failed> {
    let wa = with_stored(a, ta, |src, info, file| gram::whole(src).map_err(|e| failed(info, file, e.to_string())))?;
    with_stored(b, tb, |src, info, file| {
        let fail = |e: CoreError| failed(info, file, e.to_string());
        // W_B widened straight into the buffer that becomes ΔW (two f64 matrices in memory, not three)
        let mut diff = vec![0.0; tb.rows * tb.cols];
        src.fill(0..tb.rows, 0..tb.cols, &mut diff).map_err(fail)?;
        diff.iter_mut().zip(wa.as_slice()).for_each(|(d, a)| *d -= a);
        let delta = Stored::whole(StoredValues::F64(&diff), ta.rows, ta.cols);
        let m = measure(&delta, Dtype::F64, options, store, reused).map_err(fail)?;
        let pair = format!("{} → {}", a.sources[ta.source].path().display(), file);
        Ok(m.into_record(info, pair, Dtype::F64, tb, options))
    })
}
