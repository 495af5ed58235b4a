//! Entropies of a representation matrix (docs/metrics.md §10): `Z ∈ R^{N×d}`, `N` samples of dimension
//! `d` (activations, embeddings), not weights.
//!
//! `K = ZZᵀ` and `ZᵀZ` share their non-zero eigenvalues, so everything is computed from the Gram
//! matrix of the smaller side (the guarded-free eigenvalues of [`crate::linalg::gram::gram_eigenvalues`];
//! negative rounding residue is clamped to 0). With `λ_i` the eigenvalues of `ρ = K / tr K`:
//! - `von_neumann_entropy = −Σ λ_i log λ_i`;
//! - `matrix_renyi_entropy = log(Σ λ_i^α)/(1−α)` (`α = 1`: von Neumann; `α = ∞`: `−log λ_max`);
//! - `vendi_score = exp(entropy)` of the cosine-similarity kernel divided by `N` (rows of `Z`
//!   scaled to unit norm, so the kernel has a unit diagonal) — the vendi-score package's `score_dual`;
//! - `rankme = exp(−Σ p_k log p_k)`, `p_k = σ_k / Σσ` over the singular values of `Z` (RankMe,
//!   without its `1e-7` float guard);
//! - `truncated_entropy = −Σ_{i ≤ k} λ_i log λ_i` over the `k` largest eigenvalues of `ρ`, not
//!   renormalized (the top-`k` share of the von Neumann entropy, UNComp's truncated matrix entropy).

use crate::entropy::{renyi, shannon};
use crate::linalg::gram::gram_eigenvalues;
use crate::Matrix;

/// The canonical field names, in order.
pub const REPR_FIELDS: [&str; 5] =
    ["von_neumann_entropy", "matrix_renyi_entropy", "vendi_score", "rankme", "truncated_entropy"];

/// The entropies of one representation matrix.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Representation {
    /// `N`, the samples (rows).
    pub samples: usize,
    /// `d`, the dimension (columns).
    pub dim: usize,
    /// The Rényi order used.
    pub alpha: f64,
    /// The `k` of the truncated entropy (clamped to the number of eigenvalues).
    pub top_k: usize,
    /// `−Σ λ log λ` of `ρ = K/tr K`.
    pub von_neumann_entropy: f64,
    /// `log(Σ λ^α)/(1−α)`.
    pub matrix_renyi_entropy: f64,
    /// `exp(entropy)` of the unit-diagonal cosine kernel divided by `N`.
    pub vendi_score: f64,
    /// The effective rank of `Z`.
    pub rankme: f64,
    /// `−Σ_{i≤k} λ_i log λ_i`.
    pub truncated_entropy: f64,
}

/// The eigenvalues (non-increasing) of `ZᵀZ`/`ZZᵀ`, rounding residue below 0 clamped to 0.
fn eigenvalues(z: &Matrix) -> Result<Vec<f64>, String> {
    Ok(gram_eigenvalues(z).map_err(|e| e.to_string())?.lambda.iter().map(|l| l.max(0.0)).collect())
}

/// `λ / Σλ`, or `None` when every value is 0.
fn normalized(lambda: &[f64]) -> Option<Vec<f64>> {
    let total: f64 = lambda.iter().sum();
    (total > 0.0).then(|| lambda.iter().map(|l| l / total).collect())
}

impl Representation {
    /// The entropies of `z` (`N × d`); `Err` for a zero matrix, a zero row (no cosine
    /// similarity), or an invalid `alpha`.
    pub fn of(z: &Matrix, alpha: f64, top_k: usize) -> Result<Self, String> {
        if alpha.is_nan() || alpha < 0.0 {
            return Err(format!("Rényi order α must be ≥ 0 or 'inf', got {alpha}"));
        }
        let lambda = eigenvalues(z)?;
        let rho = normalized(&lambda).ok_or("Z is all zeros: no density matrix")?;
        let (n, d) = (z.rows(), z.cols());
        let data = z.as_slice();
        let mut unit = Vec::with_capacity(n * d);
        for (i, row) in data.chunks_exact(d.max(1)).enumerate() {
            let norm = row.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 {
                return Err(format!("row {i} of Z is all zeros: its cosine similarity is undefined (Vendi score)"));
            }
            unit.extend(row.iter().map(|x| x / norm));
        }
        let unit = Matrix::from_row_major(unit, n, d).map_err(|e| e.to_string())?;
        // K/N with unit diagonal has trace 1: its eigenvalues are the normalized Gram's
        let vendi = normalized(&eigenvalues(&unit)?).ok_or("no Vendi kernel")?;
        // RankMe: the distribution of the singular values σ = √λ of Z
        let sigma: Vec<f64> = lambda.iter().map(|l| l.sqrt()).collect();
        let p = normalized(&sigma).ok_or("Z is all zeros: no density matrix")?;
        let k = top_k.clamp(1, rho.len());
        Ok(Self {
            samples: n,
            dim: d,
            alpha,
            top_k: k,
            von_neumann_entropy: shannon(&rho),
            matrix_renyi_entropy: renyi(&rho, alpha),
            vendi_score: shannon(&vendi).exp(),
            rankme: shannon(&p).exp(),
            truncated_entropy: shannon(&rho[..k]),
        })
    }

    /// A field by canonical name.
    pub fn get(&self, field: &str) -> Option<f64> {
        Some(match field {
            "von_neumann_entropy" => self.von_neumann_entropy,
            "matrix_renyi_entropy" => self.matrix_renyi_entropy,
            "vendi_score" => self.vendi_score,
            "rankme" => self.rankme,
            "truncated_entropy" => self.truncated_entropy,
            _ => return None,
        })
    }
}
