//! A planned matrix as its reader stores it, widened to f64 block by block on demand.

use std::ops::Range;

use svdiag_core::{Blocks, CoreError, Dtype};
use svdiag_formats::{TensorData, TensorInfo};

use crate::plan::{Plan, Task};
use crate::record::{failed, Failed};

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
    /// Quantized blocks, dequantized as they are widened.
    Quantized(svdiag_formats::quant::Quantized<'a>),
    /// No entries at hand, only the matrix's singular values ([`svdiag_formats::Precomputed`]).
    Spectrum(&'a svdiag_formats::Precomputed),
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
                StoredValues::Quantized(q) => q.dequantize_into(start, dst),
                StoredValues::Spectrum(_) => return Err(CoreError::NoEntries),
            }
        }
        Ok(())
    }
}

/// `bytes` as the stored values of `elements` elements of `dtype` (`rows × cols` in the error), or
/// why they are not: a dtype without a fixed size, or a length that does not match.
pub(crate) fn bytes_of(
    bytes: &[u8],
    dtype: Dtype,
    elements: Option<usize>,
    rows: usize,
    cols: usize,
) -> Result<StoredValues<'_>, CoreError> {
    let size = svdiag_core::matrix::check_byte_len(bytes.len(), dtype, elements, rows, cols)?;
    Ok(StoredValues::Bytes(bytes, dtype, size))
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
            bytes_of(bytes, info.dtype, Some(stored), stored / task.cols.max(1), task.cols).map_err(fail)?
        }
        TensorData::F64(values) if values.len() == stored => StoredValues::F64(values),
        TensorData::F64(values) => {
            return Err(failed(
                info,
                &file,
                format!("reader returned {} values for a tensor of {stored} elements", values.len()),
            ))
        }
        TensorData::Quantized(q) if q.len() == stored => StoredValues::Quantized(*q),
        TensorData::Quantized(q) => {
            return Err(failed(
                info,
                &file,
                format!("{} blocks hold {} values for a tensor of {stored} elements", q.name(), q.len()),
            ))
        }
        TensorData::Spectrum(_) if task.gate.is_some() => {
            return Err(failed(info, &file, "a matrix given by its spectrum cannot be split into gates".into()))
        }
        TensorData::Spectrum(p) => StoredValues::Spectrum(p),
    };
    let first_row = task.gate.map_or(0, |g| g.first_row);
    if (first_row + task.rows).checked_mul(task.cols).is_none_or(|end| end > stored) {
        return Err(failed(info, &file, format!("{}×{} block does not fit the stored tensor", task.rows, task.cols)));
    }
    f(&Stored { values, rows: task.rows, cols: task.cols, first_row }, info, &file)
}
