//! Measuring a LoRA update `ΔW = s·B·A` planned by [`crate::lora`]: exactly from its factors,
//! without forming the `out × in` matrix ([`svdiag_core::linalg::factored`]).

use svdiag_core::linalg::gram::Route;
use svdiag_core::{CoreError, Dtype, Matrix, Metrics, Spectrum};
use svdiag_formats::{TensorData, TensorInfo, TensorSource};

use crate::lora::{LoraKind, LoraTask};
use crate::measure::Measured;
use crate::options::AnalysisOptions;
use crate::plan::{Plan, Task};
use crate::record::{failed, Failed, MatrixRecord};

/// A stored tensor (a LoRA factor, a base weight) as an f64 matrix of `rows × cols`, row-major.
pub(crate) fn matrix_of(
    data: TensorData<'_>,
    info: &TensorInfo,
    rows: usize,
    cols: usize,
) -> Result<Matrix, CoreError> {
    match data {
        TensorData::Bytes(bytes) => Matrix::from_le_bytes(&bytes, info.dtype, rows, cols),
        TensorData::F64(values) => Matrix::from_row_major(values, rows, cols),
        TensorData::Quantized(q) => Matrix::from_row_major(q.to_vec(), rows, cols),
        TensorData::Spectrum(_) => Err(CoreError::NoEntries),
    }
}

/// The factors `A` (`r × in`) and `B` (`out × r`) of an update, in f64, from their file.
pub(crate) fn factors(source: &dyn TensorSource, lora: &LoraTask) -> Result<(Matrix, Matrix), String> {
    let (ia, ib) = (&source.tensors()[lora.a], &source.tensors()[lora.b]);
    let read = |i: usize| source.read(i).map_err(|e| e.to_string());
    let (da, db) = (read(lora.a)?, read(lora.b)?);
    let r = lora.rank;
    let inner = match lora.kind {
        LoraKind::Embedding => ia.shape[1],
        LoraKind::Linear | LoraKind::Transposed => svdiag_core::numel(&ia.shape[1..]).unwrap_or(0),
    };
    let a = matrix_of(da, ia, r, inner).map_err(|e| e.to_string())?;
    let b = matrix_of(db, ib, ib.shape[0], r).map_err(|e| e.to_string())?;
    Ok((a, b))
}

/// Analyzes one LoRA update from its factors.
pub(crate) fn analyze(
    plan: &Plan<'_>,
    task: &Task,
    lora: &LoraTask,
    options: &AnalysisOptions,
) -> Result<MatrixRecord, Failed> {
    let source = &plan.sources[task.source];
    let file = source.path().display().to_string();
    let (ia, ib) = (&source.tensors()[lora.a], &source.tensors()[lora.b]);
    let info = TensorInfo::new(lora.name.clone(), ib.dtype, lora.shape.clone(), ia.byte_len + ib.byte_len);
    let fail = |e: String| failed(&info, &file, e);
    let (a, b) = factors(source.as_ref(), lora).map_err(fail)?;
    let transposed = lora.kind != LoraKind::Linear;
    let (values, l12) =
        svdiag_core::linalg::factored::lora_update(&b, &a, lora.scale, transposed).map_err(|e| fail(e.to_string()))?;
    if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
        return Err(fail(format!("the update has a non-finite singular value ({bad}): its factors hold NaN or ±Inf")));
    }
    let spectrum = Spectrum::from_values(task.rows, task.cols, values);
    let mut metrics = Metrics::compute(&spectrum, l12, &options.metrics);
    metrics.set_adapter(spectrum.values(), lora.rank, lora.scale);
    let reason = format!(
        "exact from its factors: ΔW = s·B·A with s = {} (r = {}), the SVD of the r×r core after a QR of each factor",
        lora.scale, lora.rank
    );
    let measured = Measured {
        metrics,
        spectrum: Some(spectrum),
        route: Some(Route::Factored),
        route_reason: Some(reason),
        approx: None,
    };
    let dtype: Dtype = ib.dtype;
    Ok(measured.into_record(&info, file, dtype, task, options))
}
