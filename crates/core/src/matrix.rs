//! A weight matrix widened to f64.

use std::ops::Range;

use faer::MatRef;

use crate::{CoreError, Dtype};

/// An `rows × cols` matrix in f64, stored row-major (the layout of every checkpoint format that
/// stores C-order tensors), so that widening is one sequential pass over the stored bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

/// Checks that `len` bytes are exactly `elements` values of `dtype` (a matrix of `rows × cols`,
/// named in the error) and returns the element size; fails for a dtype without a fixed size.
pub fn check_byte_len(
    len: usize,
    dtype: Dtype,
    elements: Option<usize>,
    rows: usize,
    cols: usize,
) -> Result<usize, CoreError> {
    let size = dtype.size().ok_or(CoreError::NotFloat(dtype))?;
    let expected = elements.and_then(|n| n.checked_mul(size));
    if expected != Some(len) {
        return Err(CoreError::ByteLength { len, expected: expected.unwrap_or(usize::MAX), rows, cols, dtype });
    }
    Ok(size)
}

impl Matrix {
    /// Widens `rows × cols` little-endian elements of `dtype` (row-major) to f64.
    ///
    /// Fails if the length does not match exactly, if the dtype is not a float, or if any element
    /// is NaN or ±Inf (the first one is named by its position).
    pub fn from_le_bytes(bytes: &[u8], dtype: Dtype, rows: usize, cols: usize) -> Result<Self, CoreError> {
        let count = rows.checked_mul(cols);
        check_byte_len(bytes.len(), dtype, count, rows, cols)?;
        let mut data = vec![0.0; count.unwrap_or(0)];
        dtype.widen_le(bytes, &mut data)?;
        Self::from_row_major(data, rows, cols)
    }

    /// Takes ownership of `rows × cols` row-major f64 values; fails on NaN/Inf.
    ///
    /// # Panics
    /// If `data.len() != rows * cols` (a programming error, not bad input).
    pub fn from_row_major(data: Vec<f64>, rows: usize, cols: usize) -> Result<Self, CoreError> {
        assert_eq!(Some(data.len()), rows.checked_mul(cols), "row-major data of the wrong length");
        if let Some(k) = data.iter().position(|v| !v.is_finite()) {
            let v = data[k];
            let value = if v.is_nan() {
                "NaN".to_string()
            } else if v > 0.0 {
                "inf".to_string()
            } else {
                "-inf".to_string()
            };
            return Err(CoreError::NonFinite { row: k / cols, col: k % cols, value });
        }
        Ok(Self { rows, cols, data })
    }

    /// Number of rows `m`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns `n`.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The row-major values.
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The row-major values, owned.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// `Wᵀ` as a column-major `cols × rows` faer view of the same memory (no copy).
    /// `Wᵀ` has the same singular values as `W`.
    pub fn transposed_view(&self) -> MatRef<'_, f64> {
        MatRef::from_column_major_slice(&self.data, self.cols, self.rows)
    }

    /// `Σ_j ‖W_{:,j}‖₂`, the SVD-free nuclear-norm proxy (`l12_norm`, docs/metrics.md §2).
    pub fn l12_norm(&self) -> f64 {
        let mut sq = vec![0.0f64; self.cols];
        for row in self.data.chunks_exact(self.cols.max(1)) {
            for (s, &w) in sq.iter_mut().zip(row) {
                *s += w * w;
            }
        }
        sq.iter().map(|s| s.sqrt()).sum()
    }
}

/// A row-major `rows × cols` matrix that can be widened to f64 a block at a time.
pub trait Blocks {
    /// Rows `m`.
    fn rows(&self) -> usize;
    /// Columns `n`.
    fn cols(&self) -> usize;
    /// Writes the block `W[rows, cols]` into `out`, row-major (`out.len()` is the block's size).
    fn fill(&self, rows: Range<usize>, cols: Range<usize>, out: &mut [f64]) -> Result<(), CoreError>;
}

/// A whole [`Matrix`] is a [`Blocks`] source (tests, and callers that already hold f64 values).
impl Blocks for Matrix {
    fn rows(&self) -> usize {
        Matrix::rows(self)
    }
    fn cols(&self) -> usize {
        Matrix::cols(self)
    }
    fn fill(&self, rows: Range<usize>, cols: Range<usize>, out: &mut [f64]) -> Result<(), CoreError> {
        let n = Matrix::cols(self);
        let w = cols.len();
        for (i, r) in rows.enumerate() {
            out[i * w..(i + 1) * w].copy_from_slice(&self.as_slice()[r * n + cols.start..r * n + cols.end]);
        }
        Ok(())
    }
}

/// Widens one block and rejects NaN/Inf with the element's position in the whole matrix.
pub(crate) fn fill_checked(
    src: &impl Blocks,
    rows: Range<usize>,
    cols: Range<usize>,
    out: &mut [f64],
) -> Result<(), CoreError> {
    src.fill(rows.clone(), cols.clone(), out)?;
    if let Some(k) = out.iter().position(|v| !v.is_finite()) {
        let v = out[k];
        let w = cols.len();
        let value = if v.is_nan() {
            "NaN"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        return Err(CoreError::NonFinite { row: rows.start + k / w, col: cols.start + k % w, value: value.into() });
    }
    Ok(())
}
