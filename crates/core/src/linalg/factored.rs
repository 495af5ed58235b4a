//! The exact spectrum of a matrix given by low-rank factors, `ΔW = s·L·R` (`L`: `m × r`,
//! `R`: `r × n`), without forming the `m × n` product: a LoRA update `s·B·A` is one.
//!
//! With the thin QR factorizations `L = Q₁R₁` and `Rᵀ = Q₂R₂` (`Q₁`, `Q₂` with orthonormal columns),
//! `ΔW = Q₁ (s·R₁R₂ᵀ) Q₂ᵀ`, so the nonzero singular values of `ΔW` are those of the small core
//! `s·R₁R₂ᵀ` (at most `r × r`), and the other `min(m, n) − rank` are exactly zero. Householder QR
//! and the SVD of the core are backward stable, so each singular value comes out within a few
//! `ε·σ₁` of the exact product's, as from a direct SVD of the formed matrix, at `O((m + n)·r²)`
//! instead of `O(m·n·min(m, n))`. The column norms of `ΔW` (for `l12_norm`) are those of
//! `s·R₁R`, because `Q₁` keeps lengths.

use faer::{Mat, MatRef};

use crate::linalg::spectrum::singular_values;
use crate::{CoreError, Matrix};

/// The singular values of `s·L·R` (`min(m, n)` of them, non-increasing; those past its rank are
/// exactly 0) and `Σ_j ‖(s·L·R)_{:,j}‖₂`.
///
/// # Panics
/// If `L`'s columns and `R`'s rows differ in number.
pub fn singular_values_of_product(
    l: MatRef<'_, f64>,
    r: MatRef<'_, f64>,
    scale: f64,
) -> Result<(Vec<f64>, f64), CoreError> {
    assert_eq!(l.ncols(), r.nrows(), "L is m × r and R is r × n");
    let (m, n) = (l.nrows(), r.ncols());
    let k = m.min(n);
    if l.ncols() == 0 || k == 0 {
        return Ok((vec![0.0; k], 0.0));
    }
    // R₁ (min(m, r) × r) and R₂ (min(n, r) × r): the triangular factors of L and Rᵀ
    let r1 = l.qr().thin_R().to_owned();
    let r2 = r.transpose().qr().thin_R().to_owned();
    // the core s·R₁R₂ᵀ, and s·R₁R whose columns have the lengths of ΔW's
    let core: Mat<f64> = &r1 * r2.transpose() * scale;
    let columns: Mat<f64> = &r1 * r * scale;
    let l12 = (0..n).map(|j| columns.col(j).norm_l2()).sum();
    let mut values = singular_values(core.as_ref())?;
    values.resize(k, 0.0);
    Ok((values, l12))
}

/// The singular values and `l12_norm` of the update `s·B·A` (`B`: `out × r`, `A`: `r × in`), or of
/// its transpose `(s·B·A)ᵀ` when `transposed` (the same singular values; the column norms of the
/// transpose), as [`singular_values_of_product`] gives them.
pub fn lora_update(b: &Matrix, a: &Matrix, scale: f64, transposed: bool) -> Result<(Vec<f64>, f64), CoreError> {
    // Matrix holds row-major values: its transposed view, transposed back, is the matrix itself
    let (b, a) = (b.transposed_view().transpose(), a.transposed_view().transpose());
    if transposed {
        singular_values_of_product(a.transpose(), b.transpose(), scale)
    } else {
        singular_values_of_product(b, a, scale)
    }
}

/// `W + s·B·A` (or `W + (s·B·A)ᵀ` when `transposed`), row-major: a base weight merged with its LoRA
/// update, formed in f64 (what `merge_and_unload` computes, without rounding to the storage dtype).
///
/// # Errors
/// [`CoreError::ShapeMismatch`] when the update's shape is not `W`'s.
pub fn merge_update(w: Matrix, b: &Matrix, a: &Matrix, scale: f64, transposed: bool) -> Result<Matrix, CoreError> {
    let (b, a) = (b.transposed_view().transpose(), a.transposed_view().transpose());
    let delta: Mat<f64> = if transposed { a.transpose() * b.transpose() * scale } else { b * a * scale };
    if (delta.nrows(), delta.ncols()) != (w.rows(), w.cols()) {
        return Err(CoreError::ShapeMismatch { update: [delta.nrows(), delta.ncols()], base: [w.rows(), w.cols()] });
    }
    let (rows, cols) = (w.rows(), w.cols());
    let mut merged = w.into_vec();
    for (i, row) in merged.chunks_exact_mut(cols.max(1)).enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x += delta[(i, j)];
        }
    }
    Matrix::from_row_major(merged, rows, cols)
}

/// How much of an adapter's rank its update uses (the LoRA fields of a record).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct AdapterUse {
    /// The adapter's rank `r` for this module.
    pub rank: usize,
    /// The scale `s` of `ΔW = s·B·A` (`lora_alpha/r`, or `lora_alpha/√r` with rsLoRA).
    pub scale: f64,
    /// `effective_rank / r` (undefined for a zero update).
    pub effective_rank_used: Option<f64>,
    /// `stable_rank / r` (undefined for a zero update).
    pub stable_rank_used: Option<f64>,
    /// The smallest `k` with `σ_1² + … + σ_k² ≥ p·‖ΔW‖_F²`, for `p` = 90 %, 95 %, 99 % (0 for a
    /// zero update).
    pub energy_rank: [usize; 3],
}

/// The record fields of [`AdapterUse`], in output order (after every other metric).
pub const ADAPTER_FIELDS: [&str; 7] = [
    "lora_rank",
    "lora_scale",
    "lora_effective_rank_used",
    "lora_stable_rank_used",
    "lora_energy_rank_90",
    "lora_energy_rank_95",
    "lora_energy_rank_99",
];

/// The shares of `‖ΔW‖_F²` the energy ranks keep.
pub const ENERGY_SHARES: [f64; 3] = [0.90, 0.95, 0.99];

impl AdapterUse {
    /// From the update's singular values (non-increasing) and its effective and stable ranks.
    pub fn of(values: &[f64], rank: usize, scale: f64, effective_rank: Option<f64>, stable_rank: Option<f64>) -> Self {
        let total: f64 = values.iter().map(|v| v * v).sum();
        let energy_rank = ENERGY_SHARES.map(|share| {
            if total == 0.0 {
                return 0;
            }
            let mut kept = 0.0;
            for (i, v) in values.iter().enumerate() {
                kept += v * v;
                // the relative slack keeps a share that is met up to rounding from needing one more
                if kept >= share * total * (1.0 - 4.0 * f64::EPSILON) {
                    return i + 1;
                }
            }
            values.len()
        });
        let per_rank = |x: Option<f64>| x.filter(|_| rank > 0).map(|x| x / rank as f64);
        Self {
            rank,
            scale,
            effective_rank_used: per_rank(effective_rank),
            stable_rank_used: per_rank(stable_rank),
            energy_rank,
        }
    }

    /// One of [`ADAPTER_FIELDS`] by name.
    pub fn get(&self, field: &str) -> Option<f64> {
        match field {
            "lora_rank" => Some(self.rank as f64),
            "lora_scale" => Some(self.scale),
            "lora_effective_rank_used" => self.effective_rank_used,
            "lora_stable_rank_used" => self.stable_rank_used,
            "lora_energy_rank_90" => Some(self.energy_rank[0] as f64),
            "lora_energy_rank_95" => Some(self.energy_rank[1] as f64),
            "lora_energy_rank_99" => Some(self.energy_rank[2] as f64),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_merged_update_is_the_base_plus_the_formed_product() {
        let w = Matrix::from_row_major(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3).unwrap();
        let b = Matrix::from_row_major(vec![1.0, 2.0], 2, 1).unwrap(); // 2 × r, r = 1
        let a = Matrix::from_row_major(vec![1.0, 0.0, -1.0], 1, 3).unwrap(); // r × 3
        let m = merge_update(w.clone(), &b, &a, 0.5, false).unwrap();
        assert_eq!(m.as_slice(), &[1.5, 2.0, 2.5, 5.0, 5.0, 5.0]);
        // transposed: W is 3 × 2 and the update (s·B·A)ᵀ
        let wt = Matrix::from_row_major(vec![0.0; 6], 3, 2).unwrap();
        let t = merge_update(wt, &b, &a, 2.0, true).unwrap();
        assert_eq!(t.as_slice(), &[2.0, 4.0, 0.0, 0.0, -2.0, -4.0]);
        let bad = merge_update(w, &b, &Matrix::from_row_major(vec![1.0; 2], 1, 2).unwrap(), 1.0, false);
        assert!(matches!(bad, Err(CoreError::ShapeMismatch { update: [2, 2], base: [2, 3] })));
    }

    use super::*;

    fn formed(l: MatRef<'_, f64>, r: MatRef<'_, f64>, s: f64) -> (Vec<f64>, f64) {
        let w: Mat<f64> = l * r * s;
        let l12 = (0..w.ncols()).map(|j| w.col(j).norm_l2()).sum();
        (singular_values(w.as_ref()).unwrap(), l12)
    }

    /// Against the SVD of the formed product, for tall, wide, rank above a side, and negative scale.
    #[test]
    fn agrees_with_the_formed_product() {
        for &(m, n, rank, s) in &[(40, 30, 4, 2.0), (12, 50, 3, 0.5), (6, 9, 8, -1.5), (30, 30, 1, 1.0)] {
            let l = Mat::from_fn(m, rank, |i, j| ((i * 31 + j * 17) % 23) as f64 / 7.0 - 1.4);
            let r = Mat::from_fn(rank, n, |i, j| ((i * 13 + j * 29) % 19) as f64 / 5.0 - 1.8);
            let (got, l12) = singular_values_of_product(l.as_ref(), r.as_ref(), s).unwrap();
            let (want, want_l12) = formed(l.as_ref(), r.as_ref(), s);
            assert_eq!(got.len(), m.min(n));
            let top = want[0];
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= 1e-13 * top, "{m}×{n} r={rank}: σ_{i} {g} vs {w}");
            }
            // past the rank: exactly zero (the formed product only rounds to near zero)
            assert!(got[rank.min(m.min(n))..].iter().all(|&v| v == 0.0));
            assert!((l12 - want_l12).abs() <= 1e-13 * want_l12, "{l12} vs {want_l12}");
        }
    }

    #[test]
    fn energy_ranks_count_the_directions_that_hold_the_energy() {
        // energies 64, 16, 9, 4, 1 (of 94): 64 < 84.6 ≤ 80 + 9; 95 % = 89.3 ≤ 93; 99 % = 93.06 ≤ 94
        let u = AdapterUse::of(&[8.0, 4.0, 3.0, 2.0, 1.0, 0.0], 8, 2.0, Some(4.0), Some(94.0 / 64.0));
        assert_eq!(u.energy_rank, [3, 4, 5]);
        assert_eq!((u.effective_rank_used, u.stable_rank_used), (Some(0.5), Some(94.0 / 64.0 / 8.0)));
        assert_eq!(u.get("lora_energy_rank_95"), Some(4.0));
        // one direction holds everything; a zero update has no energy
        assert_eq!(AdapterUse::of(&[3.0, 0.0], 4, 1.0, Some(1.0), Some(1.0)).energy_rank, [1, 1, 1]);
        let zero = AdapterUse::of(&[0.0, 0.0], 4, 1.0, None, None);
        assert_eq!((zero.energy_rank, zero.stable_rank_used), ([0, 0, 0], None));
    }

    #[test]
    fn a_zero_factor_gives_a_zero_spectrum() {
        let l = Mat::<f64>::zeros(5, 2);
        let r = Mat::from_fn(2, 7, |i, j| (i + j) as f64);
        let (values, l12) = singular_values_of_product(l.as_ref(), r.as_ref(), 2.0).unwrap();
        assert_eq!((values, l12), (vec![0.0; 5], 0.0));
    }
}
