//! Spectrum surgery (SCIENCE.md §8): a matrix with one decile of its singular values removed.

use std::ops::Range;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

use crate::{CoreError, Matrix};

/// The rank positions (0-based, in non-increasing order of `σ`) of decile `d ∈ 1..=10` of `r`
/// singular values: `⌊(d−1)·r/10⌋ .. ⌊d·r/10⌋` (deciles of small `r` can be empty).
pub fn decile_range(r: usize, d: u8) -> Range<usize> {
    let d = usize::from(d.clamp(1, 10));
    (d - 1) * r / 10..d * r / 10
}

/// `W' = Σ_{i ∉ decile} σ_i u_i v_iᵀ`, row-major, from the thin SVD of `W` (f64); also the rank
/// positions that were zeroed.
pub fn zero_decile(w: &Matrix, decile: u8) -> Result<(Vec<f64>, Range<usize>), CoreError> {
    let (m, n) = (w.rows(), w.cols());
    let a: Mat<f64> = w.transposed_view().transpose().to_owned();
    let svd = a.thin_svd().map_err(|_| CoreError::NoConvergence { rows: m, cols: n })?;
    let r = m.min(n);
    let range = decile_range(r, decile);
    let (u, s, v) = (svd.U(), svd.S().column_vector(), svd.V());
    // U·diag(s') as a copy with the decile's columns scaled by 0
    let us = Mat::from_fn(m, r, |i, j| if range.contains(&j) { 0.0 } else { u[(i, j)] * s[j] });
    let mut out = Mat::<f64>::zeros(m, n);
    matmul(out.as_mut(), Accum::Replace, us.as_ref(), v.transpose(), 1.0, Par::Seq);
    let data = (0..m).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| out[(i, j)]).collect();
    Ok((data, range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deciles_partition_the_ranks() {
        let r = 37;
        let mut covered = Vec::new();
        for d in 1..=10 {
            covered.extend(decile_range(r, d));
        }
        assert_eq!(covered, (0..r).collect::<Vec<_>>());
        assert_eq!(decile_range(100, 3), 20..30);
        assert!(decile_range(5, 1).is_empty());
    }
}
