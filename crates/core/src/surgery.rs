//! Spectrum surgery (docs/metrics.md §11): a matrix with one decile of its singular values removed.

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

/// The per-matrix fields of `--polar`.
pub const POLAR_FIELDS: [&str; 4] =
    ["polar_kl_uniform", "polar_stable_rank", "polar_condition_number", "polar_distance"];

/// The polar factor `P = UVᵀ` of `W` (Muon's update direction) and how far `W`'s direction is from it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Polar {
    /// `kl_uniform` of `P`'s computed spectrum (0 for an exactly flat one).
    pub kl_uniform: f64,
    /// `stable_rank` of `P` (`r` when flat).
    pub stable_rank: f64,
    /// `σ_1(P)/σ_r(P)` (1 when flat).
    pub condition_number: f64,
    /// `min_c ‖cW − P‖_F / ‖P‖_F = √(1 − (Σσ)²/(r·Σσ²))`: 0 when `W` is already a scaled
    /// orthogonal matrix, → 1 as its spectrum concentrates.
    pub distance: f64,
}

impl Polar {
    /// Forms `P = UVᵀ` from the thin SVD of `w` and measures it (its singular values by the direct
    /// SVD); `Err` for a matrix with a zero singular value (no unique polar factor).
    pub fn of(w: &Matrix) -> Result<Self, &'static str> {
        let (m, n) = (w.rows(), w.cols());
        let a: Mat<f64> = w.transposed_view().transpose().to_owned();
        let svd = a.thin_svd().map_err(|_| "the SVD for the polar factor did not converge")?;
        let s = svd.S().column_vector();
        let r = m.min(n);
        let tol = s[0] * (m.max(n) as f64) * f64::EPSILON;
        if r == 0 || s[r - 1] <= tol {
            return Err("rank-deficient matrix: its polar factor is not unique");
        }
        let mut p = Mat::<f64>::zeros(m, n);
        matmul(p.as_mut(), Accum::Replace, svd.U(), svd.V().transpose(), 1.0, Par::Seq);
        let pm = Matrix::from_row_major(
            (0..m).flat_map(|i| (0..n).map(move |j| (i, j))).map(|(i, j)| p[(i, j)]).collect(),
            m,
            n,
        )
        .map_err(|_| "the polar factor is not finite")?;
        let ps = crate::Spectrum::of(&pm).map_err(|_| "the SVD of the polar factor did not converge")?;
        let sp = ps.values();
        let total: f64 = sp.iter().sum();
        let prob: Vec<f64> = sp.iter().map(|v| v / total).collect();
        let sum: f64 = s.iter().sum();
        let sum2: f64 = s.iter().map(|x| x * x).sum();
        Ok(Self {
            kl_uniform: (r as f64).ln() - crate::entropy::shannon(&prob),
            stable_rank: sp.iter().map(|v| v * v).sum::<f64>() / (sp[0] * sp[0]),
            condition_number: sp[0] / sp[r - 1],
            distance: (1.0 - sum * sum / (r as f64 * sum2)).max(0.0).sqrt(),
        })
    }

    /// A field by canonical name.
    pub fn get(&self, field: &str) -> Option<f64> {
        Some(match field {
            "polar_kl_uniform" => self.kl_uniform,
            "polar_stable_rank" => self.stable_rank,
            "polar_condition_number" => self.condition_number,
            "polar_distance" => self.distance,
            _ => return None,
        })
    }
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

    #[test]
    fn the_polar_factor_is_flat_and_the_distance_is_exact() {
        // W = diag(3, 1) padded: P = [I 0], distance √(1 − 16/(2·10)) = √0.2
        let w = Matrix::from_row_major(vec![3.0, 0.0, 0.0, 0.0, 1.0, 0.0], 2, 3).unwrap();
        let p = Polar::of(&w).unwrap();
        assert!(p.kl_uniform.abs() < 1e-15 && (p.stable_rank - 2.0).abs() < 1e-14, "{p:?}");
        assert!((p.condition_number - 1.0).abs() < 1e-14);
        assert!((p.distance - 0.2f64.sqrt()).abs() < 1e-15);
        let singular = Matrix::from_row_major(vec![1.0, 2.0, 2.0, 4.0], 2, 2).unwrap();
        assert!(Polar::of(&singular).unwrap_err().contains("rank-deficient"));
    }
}
