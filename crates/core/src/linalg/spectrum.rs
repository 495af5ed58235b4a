//! Singular values in f64 by `faer`'s SVD (values only).

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::svd::{self, ComputeSvdVectors};
use faer::{MatRef, Par};

use crate::{CoreError, Matrix};

/// The singular values `σ_1 ≥ … ≥ σ_r ≥ 0` of an `rows × cols` matrix, `r = min(rows, cols)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    rows: usize,
    cols: usize,
    values: Vec<f64>,
}

impl Spectrum {
    /// Computes the singular values of `matrix` in f64, sequentially on the calling thread
    /// (callers parallelize across matrices; one matrix's result never depends on the thread count).
    pub fn of(matrix: &Matrix) -> Result<Self, CoreError> {
        let mut s = singular_values(matrix.transposed_view())?;
        Ok(Self::from_values(matrix.rows(), matrix.cols(), std::mem::take(&mut s)))
    }

    /// Wraps singular values computed elsewhere; sorts them in non-increasing order.
    ///
    /// # Panics
    /// If `values.len() != min(rows, cols)` or a value is negative or not finite.
    pub fn from_values(rows: usize, cols: usize, mut values: Vec<f64>) -> Self {
        assert_eq!(values.len(), rows.min(cols), "need min(rows, cols) singular values");
        assert!(values.iter().all(|v| v.is_finite() && *v >= 0.0), "singular values must be finite and ≥ 0");
        values.sort_by(|a, b| b.total_cmp(a));
        Self { rows, cols, values }
    }

    /// Rows `m` of the matrix.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns `n` of the matrix.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `r = min(m, n)`: the number of singular values, zeros included.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True for a matrix with a zero dimension.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The singular values, non-increasing.
    pub fn values(&self) -> &[f64] {
        &self.values
    }
}

/// Singular values of a faer view, values only, with explicit sequential parallelism.
pub fn singular_values(a: MatRef<'_, f64>) -> Result<Vec<f64>, CoreError> {
    let (m, n) = a.shape();
    let r = m.min(n);
    if r == 0 {
        return Ok(Vec::new());
    }
    let par = Par::Seq;
    let req = svd::svd_scratch::<f64>(m, n, ComputeSvdVectors::No, ComputeSvdVectors::No, par, Default::default());
    let mut buf = MemBuffer::try_new(req).map_err(|_| CoreError::OutOfMemory {
        rows: m,
        cols: n,
        bytes: req.unaligned_bytes_required(),
    })?;
    let mut s = Diag::<f64>::zeros(r);
    svd::svd(a, s.as_mut(), None, None, par, MemStack::new(&mut buf), Default::default())
        .map_err(|_| CoreError::NoConvergence { rows: m, cols: n })?;
    // faer returns non-negative values sorted non-increasing; clamp a -0.0 for tidy output.
    Ok(s.column_vector().iter().map(|&x| x.max(0.0)).collect())
}
