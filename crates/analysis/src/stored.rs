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
    /// First column of the analyzed block in the stored matrix (Keras's column-stacked gates).
    pub(crate) first_col: usize,
    /// Columns of the stored matrix (a row's length): `cols` unless the block is a column gate.
    pub(crate) stride: usize,
}

impl<'a> Stored<'a> {
    /// The whole stored matrix.
    pub(crate) fn whole(values: StoredValues<'a>, rows: usize, cols: usize) -> Self {
        Self { values, rows, cols, first_row: 0, first_col: 0, stride: cols }
    }

    /// The element ranges of the analyzed block in the stored values: one for a block of whole
    /// rows, one per row for a column block.
    pub(crate) fn ranges(&self) -> Vec<Range<usize>> {
        let row = |r: usize| {
            let start = (self.first_row + r) * self.stride + self.first_col;
            start..start + self.cols
        };
        if self.first_col == 0 && self.cols == self.stride {
            let start = row(0).start;
            std::iter::once(start..start + self.rows * self.cols).collect()
        } else {
            (0..self.rows).map(row).collect()
        }
    }
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
            let start = (self.first_row + r) * self.stride + self.first_col + cols.start;
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
            let cols = crate::plan::matrix_shape(info).map_or(task.cols, |(_, c)| c);
            bytes_of(bytes, info.dtype, Some(stored), stored / cols.max(1), cols).map_err(fail)?
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
    let (first_row, first_col) = task.gate.map_or((0, 0), |g| (g.first_row, g.first_col));
    // a row's length in the stored matrix: the analyzed columns, or all the gates' for a column gate
    let stride = if task.gate.is_some_and(|g| g.columns) {
        crate::plan::matrix_shape(info).map_or(usize::MAX, |(_, c)| c)
    } else {
        task.cols
    };
    let fits = first_col.checked_add(task.cols).is_some_and(|c| c <= stride)
        && (first_row + task.rows).checked_mul(stride).is_some_and(|end| end <= stored);
    if !fits {
        return Err(failed(info, &file, format!("{}×{} block does not fit the stored tensor", task.rows, task.cols)));
    }
    f(&Stored { values, rows: task.rows, cols: task.cols, first_row, first_col, stride }, info, &file)
}
