//! The fast exact route: singular values from the eigenvalues of the f64 Gram matrix, with an
//! a-posteriori accuracy guard.
//!
//! For `W ∈ R^{m×n}` with `k = min(m, n)` and `L = max(m, n)`, the `k × k` Gram matrix of the
//! smaller side (`WᵀW` or `WWᵀ`) has the eigenvalues `λ_i = σ_i²`. Forming it is one GEMM
//! (`L·k²` multiply-adds, lower triangle only; [`crate::linalg::syrk`]'s kernel or `faer`'s), accumulated
//! over blocks of the long side widened to f64 one at a time, so the widened copy of the whole
//! matrix is never held. Its symmetric eigenvalues cost less than a bidiagonal SVD of `W`.
//!
//! The price is accuracy at the bottom of the spectrum: every computed `λ̂_i` carries an absolute
//! error of order `ε·λ_1`, so a singular value `σ_i` is only known to `≈ ε·(σ_1/σ_i)²` relative.
//! [`spectrum`] therefore estimates that error, propagates it through every metric the run
//! reports, and
//! - keeps the Gram values when every metric stays within [`METRIC_TOLERANCE`];
//! - when only `condition_number` is too sensitive (it depends on `σ_min` alone), recomputes
//!   `σ_min` from a triangular factor of `W` (LU for square, QR otherwise: backward stable, so
//!   `σ_min` comes out as accurate as from a direct SVD) by Lanczos on the inverse factor;
//! - otherwise (small singular values the Gram matrix cannot resolve, rank deficiency, or a
//!   spectrum whose entropy leans on them) falls back to the direct SVD of [`crate::linalg::spectrum`].
//!
//! The error scale `τ` of each eigenvalue. Forming `Ĝ` in f64 perturbs it by `‖E‖_F ≤ c·ε·tr(G)`
//! (measured `c ≤ 1.7`, even for matrices of positive entries whose sums do not cancel), and the
//! eigen-solver (a Householder tridiagonalization, one-stage or two-stage, then bisection:
//! [`crate::linalg::tridiagonal`]) is backward stable with an error of a few `ε·‖G‖`. We take
//! `τ = ε·(2·tr(G) + √k·‖G‖_F)`: 8–25× the largest eigenvalue error measured against an exactly
//! rounded (double-double) Gram matrix on Gaussian matrices of 600×600 and 3000×300; `tests/gram.rs`
//! checks that it covers the errors on Gaussian, graded, positive and low-rank-plus-noise matrices
//! with a factor 5 to spare (up to the reference SVD's own error), and
//! propagate it to first order with independent errors: `|ΔF| ≤ τ·‖∂F/∂λ‖₂`.

use std::ops::Range;

use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::solvers::Solve;
use faer::linalg::triangular_solve;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use crate::entropy::{MetricOptions, Normalization};
pub(crate) use crate::linalg::syrk::LongBlock;
use crate::linalg::syrk::{syrk_lower, syrk_lower_panel, Packs, PANEL_ALIGN};
use crate::matrix::{fill_checked, Blocks};
use crate::{CoreError, Matrix, Spectrum};
use rayon::prelude::*;

/// Relative accuracy (by the estimate `τ`) every metric of the Gram route must keep; above it the
/// route refines `σ_min` or falls back to the direct SVD. Half the 1e-9 contract with NumPy's
/// `dgesdd`, whose own rounding takes part of it, with `τ` itself an overestimate.
pub const METRIC_TOLERANCE: f64 = 5e-10;

/// Convergence tolerance of the Lanczos iteration that refines `σ_min`.
const REFINE_TOLERANCE: f64 = 1e-14;

/// How the singular values of a matrix were computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Route {
    /// Direct SVD of the matrix (bidiagonalization; `faer`).
    Svd,
    /// Eigenvalues of the f64 Gram matrix, within the guard's bound.
    Gram,
    /// Gram eigenvalues, with `σ_min` recomputed from a triangular factor of the matrix.
    GramRefined,
    /// From low-rank factors, without forming the matrix ([`crate::linalg::factored`]: a LoRA update).
    Factored,
}

impl Route {
    /// The name used in output (`svd`, `gram`, `gram-refined`, `factored`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Svd => "svd",
            Self::Gram => "gram",
            Self::GramRefined => "gram-refined",
            Self::Factored => "factored",
        }
    }
}

/// The singular values of one matrix and how they were obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The singular values.
    pub spectrum: Spectrum,
    /// `Σ_j ‖W_{:,j}‖₂`, from the same pass over the entries.
    pub l12_norm: f64,
    /// The route taken.
    pub route: Route,
    /// Why the guard refined or fell back (empty for the plain Gram route).
    pub reason: String,
}

/// Values of the long side per widened block: about 4 MB of f64 per block, at least 256, and a
/// multiple of the Gram kernel's inner slice (so that no slice of a block is short).
fn block_len(short: usize, long: usize) -> usize {
    let slice = crate::linalg::syrk::KC;
    ((524_288 / short.max(1)).max(256) / slice * slice).min(long.max(1))
}

/// Calls `each(v, range)` for consecutive blocks of the long side of `src` (rows `range` when
/// `m ≥ n`, else columns `range`), widened to f64 into `buf` (NaN/Inf rejected with its position):
/// `v` is `k × range.len()` and the Gram matrix of the smaller side is `Σ v vᵀ` over the blocks.
/// The one blocking of the long side, shared by the Gram route and [`crate::linalg::slq`].
pub(crate) fn for_gram_blocks(
    src: &impl Blocks,
    buf: &mut Vec<f64>,
    mut each: impl FnMut(LongBlock<'_>, Range<usize>),
) -> Result<(), CoreError> {
    let (m, n) = (src.rows(), src.cols());
    let (k, long) = (m.min(n), m.max(n));
    let b = block_len(k, long);
    buf.resize(k * b, 0.0);
    let mut start = 0;
    while start < long {
        let end = (start + b).min(long);
        let len = end - start;
        let data = &mut buf[..k * len];
        if m >= n {
            // rows start..end, row-major len×n: column-major, it is the n×len block Bᵀ, and
            // WᵀW = Σ B Bᵀ over the blocks
            fill_checked(src, start..end, 0..n, data)?;
        } else {
            // columns start..end, row-major m×len: the m×len column block B itself, and WWᵀ = Σ B Bᵀ
            fill_checked(src, 0..m, start..end, data)?;
        }
        each(LongBlock { data, k, len, column_major: m >= n }, start..end);
        start = end;
    }
    Ok(())
}

impl<'a> LongBlock<'a> {
    /// The block as a `k × len` matrix view.
    pub(crate) fn view(&self) -> MatRef<'a, f64> {
        if self.column_major {
            MatRef::from_column_major_slice(self.data, self.k, self.len)
        } else {
            MatRef::from_row_major_slice(self.data, self.k, self.len)
        }
    }
}

/// The lower triangle of the `k × k` Gram matrix of the smaller side (column-major `k²` values;
/// the upper triangle is zero), and the squared column norms of `W`, in one pass over blocks of
/// the long side.
pub(crate) fn gram(src: &impl Blocks) -> Result<(Vec<f64>, Vec<f64>), CoreError> {
    gram_with(src, crate::linalg::syrk::preferred())
}

/// Gram products of at least this many multiply-adds (`long·k²/2`) are split into column panels
/// of the Gram matrix, run as rayon tasks: a worker of the analysis's pool that has no matrix left
/// takes some, so one large matrix (an embedding) uses every core instead of leaving them idle.
/// Below it, splitting would only add overhead.
const SPLIT_WORK: f64 = 2e9;

/// Panels of a split product: a fixed number, so that the split (and so every bit of the result)
/// depends on `k` alone, never on how many threads take the panels.
const PANELS: usize = 8;

/// The column panels of a split `k × k` product, of about equal lower-triangle area, their
/// boundaries multiples of [`PANEL_ALIGN`]; `None` where the product is not split.
fn panels(k: usize, long: usize) -> Option<Vec<Range<usize>>> {
    if (long as f64) * (k as f64).powi(2) / 2.0 < SPLIT_WORK || k < 2 * PANEL_ALIGN {
        return None;
    }
    let mut bounds = vec![0];
    for p in 1..PANELS {
        // the first columns are the longest (k − j rows below the diagonal)
        let j = k as f64 * (1.0 - (1.0 - p as f64 / PANELS as f64).sqrt());
        let j = (j / PANEL_ALIGN as f64).round() as usize * PANEL_ALIGN;
        if j > bounds[bounds.len() - 1] && j < k {
            bounds.push(j);
        }
    }
    bounds.push(k);
    Some(bounds.windows(2).map(|w| w[0]..w[1]).collect())
}

/// `g += V Vᵀ` (lower triangle) on the column-major `k × k` matrix `g`: whole with `faer`'s
/// triangular product or this crate's kernel, or in `panels`, in parallel.
fn syrk_block(g: &mut [f64], v: LongBlock<'_>, own_kernel: bool, packs: &mut Packs, panels: Option<&[Range<usize>]>) {
    let k = v.k;
    let Some(panels) = panels else {
        if own_kernel {
            syrk_lower(g, v, packs);
        } else {
            let view = v.view();
            triangular::matmul(
                MatMut::from_column_major_slice_mut(g, k, k),
                BlockStructure::TriangularLower,
                Accum::Add,
                view,
                BlockStructure::Rectangular,
                view.transpose(),
                BlockStructure::Rectangular,
                1.0,
                Par::Seq,
            );
        }
        return;
    };
    thread_local! {
        static PACKS: std::cell::RefCell<Packs> = std::cell::RefCell::default();
    }
    let mut slabs = Vec::with_capacity(panels.len());
    let mut rest = g;
    for cols in panels {
        let (slab, tail) = rest.split_at_mut(cols.len() * k);
        slabs.push((cols.clone(), slab));
        rest = tail;
    }
    slabs.into_par_iter().for_each(|(cols, slab)| {
        if own_kernel {
            PACKS.with_borrow_mut(|packs| syrk_lower_panel(slab, cols, v, packs));
            return;
        }
        // the panel's diagonal block (lower triangle) and the rectangle below it
        let view = v.view();
        let w = cols.len();
        let own = view.subrows(cols.start, w);
        let (diagonal, below) = MatMut::from_column_major_slice_mut(slab, k, w).split_at_row_mut(cols.end);
        triangular::matmul(
            diagonal.subrows_mut(cols.start, w),
            BlockStructure::TriangularLower,
            Accum::Add,
            own,
            BlockStructure::Rectangular,
            own.transpose(),
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        );
        faer::linalg::matmul::matmul(
            below,
            Accum::Add,
            view.subrows(cols.end, k - cols.end),
            own.transpose(),
            1.0,
            Par::Seq,
        );
    });
}

/// [`gram`] with this crate's kernel ([`crate::linalg::syrk`]) or `faer`'s triangular product.
fn gram_with(src: &impl Blocks, own_kernel: bool) -> Result<(Vec<f64>, Vec<f64>), CoreError> {
    gram_in(src, own_kernel, panels(src.rows().min(src.cols()), src.rows().max(src.cols())).as_deref())
}

/// [`gram_with`], whole or in the given column panels.
fn gram_in(
    src: &impl Blocks,
    own_kernel: bool,
    panels: Option<&[Range<usize>]>,
) -> Result<(Vec<f64>, Vec<f64>), CoreError> {
    let (m, n) = (src.rows(), src.cols());
    let k = m.min(n);
    // zeroed by writing, not by `vec![0.0; _]`: calloc maps the zero page, the kernel's first
    // read of a tile keeps it, and its first write then takes a copy-on-write fault whose TLB
    // flush interrupts every other core running this process (measured: 2.3 s of system time
    // instead of 0.7 on GPT-2 with two workers)
    let mut g = Vec::new();
    g.resize(k * k, 0.0);
    let mut col_sq = vec![0.0; n];
    let mut packs = Packs::default();
    for_gram_blocks(src, &mut Vec::new(), |v, range| {
        if m < n {
            // row-major k×len: add each row's squares to its columns' sums
            let sums = &mut col_sq[range];
            for row in v.data.chunks_exact(v.len) {
                sums.iter_mut().zip(row).for_each(|(sq, x)| *sq += x * x);
            }
        }
        syrk_block(&mut g, v, own_kernel, &mut packs, panels);
    })?;
    if m >= n {
        for (j, sq) in col_sq.iter_mut().enumerate() {
            *sq = g[j * k + j];
        }
    }
    Ok((g, col_sq))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both kernels form the same Gram matrix (to rounding) and the same column norms, for tall
    /// and wide matrices over several blocks.
    #[test]
    fn both_kernels_agree() {
        for &(m, n) in &[(1500, 70), (70, 1500), (257, 257), (9, 3000)] {
            let data = (0..m * n).map(|x| ((x * 7919 % 1009) as f64) / 500.0 - 1.0).collect();
            let w = Matrix::from_row_major(data, m, n).unwrap();
            let (g1, c1) = gram_with(&w, true).unwrap();
            let (g2, c2) = gram_with(&w, false).unwrap();
            let k = m.min(n);
            let scale: f64 = (0..k).map(|i| g2[i * k + i]).sum();
            for j in 0..k {
                for i in 0..k {
                    assert!((g1[j * k + i] - g2[j * k + i]).abs() <= 1e-14 * scale, "{m}×{n} ({i},{j})");
                }
            }
            for (a, b) in c1.iter().zip(&c2) {
                assert!((a - b).abs() <= 1e-14 * a.abs().max(1.0), "{m}×{n} column norms");
            }
        }
    }

    /// A product split into column panels: this crate's kernel gives the whole product's bits, `faer`'s
    /// agrees to rounding, and neither depends on how many threads take the panels.
    #[test]
    fn panels_give_the_same_product_on_any_number_of_threads() {
        let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
        for &(m, n) in &[(2000, 300), (300, 2000), (700, 700)] {
            let data = (0..m * n).map(|x| ((x * 7919 % 1009) as f64) / 500.0 - 1.0).collect();
            let w = Matrix::from_row_major(data, m, n).unwrap();
            let k = m.min(n);
            let bounds = [0, 48, 96, 192, k - k % 48, k];
            let panels: Vec<Range<usize>> = bounds.windows(2).filter(|b| b[0] < b[1]).map(|b| b[0]..b[1]).collect();
            for own_kernel in [true, false] {
                let whole = gram_in(&w, own_kernel, None).unwrap();
                let scale: f64 = (0..k).map(|i| whole.0[i * k + i]).sum();
                let one = pool(1).install(|| gram_in(&w, own_kernel, Some(&panels)).unwrap());
                let three = pool(3).install(|| gram_in(&w, own_kernel, Some(&panels)).unwrap());
                assert_eq!(one, three, "{m}×{n}, own kernel {own_kernel}: the bits depend on the threads");
                if own_kernel {
                    assert_eq!(one, whole, "{m}×{n}: the panels differ from the whole product");
                } else {
                    for (a, b) in one.0.iter().zip(&whole.0) {
                        assert!((a - b).abs() <= 1e-13 * scale, "{m}×{n}: {a} vs {b}");
                    }
                }
            }
        }
    }

    #[test]
    fn panels_split_only_large_products_by_area() {
        assert_eq!(panels(768, 3072), None);
        let p = panels(4096, 128_256).unwrap();
        assert_eq!((p.len(), p[0].start, p[p.len() - 1].end), (PANELS, 0, 4096));
        assert!(p.iter().all(|r| r.start % PANEL_ALIGN == 0 && r.start < r.end));
        let area = |r: &Range<usize>| r.clone().map(|j| 4096 - j).sum::<usize>() as f64;
        let (lo, hi) = p.iter().map(area).fold((f64::MAX, 0.0f64), |(lo, hi), a| (lo.min(a), hi.max(a)));
        assert!(hi / lo < 1.5, "panel areas {lo}..{hi}"); // equal but for the rounding to PANEL_ALIGN
    }
}

/// The eigenvalues of the Gram matrix of the smaller side, before any guard.
#[derive(Debug, Clone, PartialEq)]
pub struct GramEigenvalues {
    /// `λ̂_1 ≥ … ≥ λ̂_k` (may dip below 0 by rounding).
    pub lambda: Vec<f64>,
    /// The error scale `τ` of each eigenvalue (module docs).
    pub tau: f64,
    /// `Σ_j ‖W_{:,j}‖₂`.
    pub l12_norm: f64,
}

/// Forms the Gram matrix of the smaller side block by block and computes its eigenvalues.
pub fn gram_eigenvalues(src: &impl Blocks) -> Result<GramEigenvalues, CoreError> {
    let k = src.rows().min(src.cols());
    let (mut g, col_sq) = gram(src)?;
    let l12_norm = col_sq.iter().map(|s| s.sqrt()).sum();
    let trace: f64 = (0..k).map(|i| g[i * k + i]).sum();
    let lambda =
        crate::linalg::tridiagonal::symmetric_eigenvalues_in_place(MatMut::from_column_major_slice_mut(&mut g, k, k))?;
    let tau = error_scale(trace, &lambda);
    Ok(GramEigenvalues { lambda, tau, l12_norm })
}

/// The error scale `τ = ε·(2·tr G + √k·‖G‖_F)` of each eigenvalue of a Gram matrix with trace
/// `trace` and eigenvalues `lambda` (module docs).
fn error_scale(trace: f64, lambda: &[f64]) -> f64 {
    let frobenius_g = lambda.iter().map(|l| l * l).sum::<f64>().sqrt();
    f64::EPSILON * (2.0 * trace + (lambda.len() as f64).sqrt() * frobenius_g)
}

/// The guard's decision on the eigenvalues `λ_1 ≥ … ≥ λ_k` (`k = min(rows, cols)`) of a Gram matrix
/// formed in f64 elsewhere (e.g. by torch on a GPU, with `trace = tr G`): `Ok` with the singular
/// values where every metric the run reports stays within [`METRIC_TOLERANCE`], as on the Gram
/// route here; otherwise `Err` with the reason: the matrix needs `σ_min` recomputed from a factor of
/// it, or its direct SVD, and only its entries can give either.
pub fn accept_eigenvalues(
    lambda: &[f64],
    trace: f64,
    rows: usize,
    cols: usize,
    options: &MetricOptions,
) -> Result<Vec<f64>, String> {
    let k = rows.min(cols);
    if lambda.len() != k || lambda.iter().any(|l| !l.is_finite()) || lambda.windows(2).any(|w| w[0] < w[1]) {
        return Err(format!("expected {k} finite eigenvalues in non-increasing order"));
    }
    let sigma: Vec<f64> = lambda.iter().map(|&l| l.max(0.0).sqrt()).collect();
    if k == 0 || lambda[0] <= 0.0 {
        return Ok(vec![0.0; k]); // the zero matrix: exact
    }
    match check(lambda, error_scale(trace, lambda), rows.max(cols), options) {
        Verdict::Accept => Ok(sigma),
        Verdict::RefineMin(why) | Verdict::Svd(why) => Err(why),
    }
}

/// The singular values of the matrix `src` by the Gram route, guarded (see the module docs):
/// the result is the Gram spectrum, the Gram spectrum with a refined `σ_min`, or the direct SVD.
/// `options` are the metric settings the caller will report (the guard checks those metrics).
pub fn spectrum(src: &impl Blocks, options: &MetricOptions) -> Result<Outcome, CoreError> {
    let (m, n) = (src.rows(), src.cols());
    let (k, long) = (m.min(n), m.max(n));
    let GramEigenvalues { lambda, tau, l12_norm } = gram_eigenvalues(src)?;
    let lambda_1 = lambda.first().copied().unwrap_or(0.0).max(0.0);
    let sigma: Vec<f64> = lambda.iter().map(|&l| l.max(0.0).sqrt()).collect();
    let outcome = |values: Vec<f64>, route, reason: String| Outcome {
        spectrum: Spectrum::from_values(m, n, values),
        l12_norm,
        route,
        reason,
    };
    if k == 0 || lambda_1 == 0.0 {
        // the zero matrix (or an empty one): exact
        return Ok(outcome(vec![0.0; k], Route::Gram, String::new()));
    }
    match check(&lambda, tau, long, options) {
        Verdict::Accept => Ok(outcome(sigma, Route::Gram, String::new())),
        Verdict::RefineMin(why) => {
            let full = whole(src)?;
            let mut values = sigma;
            values[k - 1] = smallest_singular_value(&full);
            Ok(outcome(values, Route::GramRefined, why))
        }
        Verdict::Svd(why) => {
            let full = whole(src)?;
            let values = crate::linalg::spectrum::singular_values(full.transposed_view())?;
            Ok(outcome(values, Route::Svd, why))
        }
    }
}

/// The whole matrix widened (only for a refinement, the fallback, or the other routes).
pub fn whole(src: &impl Blocks) -> Result<Matrix, CoreError> {
    let (m, n) = (src.rows(), src.cols());
    let mut data = vec![0.0; m * n];
    fill_checked(src, 0..m, 0..n, &mut data)?;
    Matrix::from_row_major(data, m, n)
}

/// What the guard decided.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    Accept,
    RefineMin(String),
    Svd(String),
}

/// The guard. `e` is the error scale of each eigenvalue (module docs); to first order a smooth
/// function `F(λ)` of the spectrum moves by `Σ ∂F/∂λ_i · δλ_i`, estimated as `e·‖∇F‖₂`. Each
/// reported metric's estimate must stay under [`METRIC_TOLERANCE`]; the first-order regime is
/// enforced by requiring `λ_min > 16·e`.
fn check(lambda: &[f64], e: f64, long: usize, options: &MetricOptions) -> Verdict {
    let k = lambda.len();
    let lambda_1 = lambda[0];
    let lambda_min = lambda[k - 1];
    // every σ_i must be resolved well away from 0 and from the numerical-rank threshold, or the
    // count of non-zero values (numerical_rank, renyi q = 0) is not determined
    let rank_tol = lambda_1 * ((long as f64) * f64::EPSILON).powi(2);
    if lambda_min <= 16.0 * e + rank_tol {
        return Verdict::Svd(format!(
            "σ_min/σ_1 ≈ {:.1e} is below what the Gram matrix resolves (≈ {:.1e})",
            lambda_min.max(0.0).sqrt() / lambda_1.sqrt(),
            (16.0 * e / lambda_1).sqrt()
        ));
    }
    let sigma: Vec<f64> = lambda.iter().map(|l| l.sqrt()).collect();
    let norm = |g: &mut dyn Iterator<Item = f64>| e * g.map(|x| x * x).sum::<f64>().sqrt();
    let nuclear: f64 = sigma.iter().sum();
    let d_nuclear = norm(&mut sigma.iter().map(|s| 0.5 / s));
    if d_nuclear > METRIC_TOLERANCE * nuclear {
        return Verdict::Svd(format!("nuclear_norm could be off by {:.1e} relative", d_nuclear / nuclear));
    }
    // p = x/Σx with x = σ (dx/dλ = 1/2σ) or x = λ (dx/dλ = 1); for Φ(p) with gradient g in p,
    // ∂Φ/∂x_i = (g_i − ⟨g, p⟩)/Σx
    let (x, dx): (Vec<f64>, Vec<f64>) = match options.normalization {
        Normalization::Sigma => sigma.iter().map(|&s| (s, 0.5 / s)).unzip(),
        Normalization::Energy => lambda.iter().map(|&l| (l, 1.0)).unzip(),
    };
    let total: f64 = x.iter().sum();
    let p: Vec<f64> = x.iter().map(|v| v / total).collect();
    let bound = |g: &dyn Fn(usize) -> f64| {
        let mean: f64 = (0..k).map(|i| g(i) * p[i]).sum();
        norm(&mut (0..k).map(|i| (g(i) - mean) / total * dx[i]))
    };
    let h = crate::entropy::shannon(&p);
    let d_h = bound(&|i| -(p[i].ln() + 1.0));
    let kl = ((k as f64).ln() - h).max(1e-4);
    // entropy, effective_rank (its relative error is H's absolute one), kl_uniform, normalized_entropy
    if d_h > METRIC_TOLERANCE * kl.min(1.0) {
        return Verdict::Svd(format!("entropy could be off by {d_h:.1e} (kl_uniform {kl:.3})"));
    }
    let q = options.q.get();
    let d_renyi = if q == 0.0 || q == 1.0 {
        0.0 // the count (resolved above) and Shannon (checked above)
    } else if q.is_infinite() {
        bound(&|i| if i == 0 { -1.0 / p[0] } else { 0.0 })
    } else {
        let t: f64 = p.iter().map(|v| v.powf(q)).sum();
        bound(&|i| q * p[i].powf(q - 1.0) / ((1.0 - q) * t))
    };
    let renyi = crate::entropy::renyi(&p, q).max(1e-4);
    if d_renyi > METRIC_TOLERANCE * renyi.min(1.0) {
        return Verdict::Svd(format!("renyi_entropy could be off by {d_renyi:.1e}"));
    }
    // log condition_number = ½(log λ_1 − log λ_min)
    let d_cond = norm(&mut [0.5 / lambda_1, 0.5 / lambda_min].into_iter());
    if d_cond > METRIC_TOLERANCE {
        return Verdict::RefineMin(format!(
            "condition_number from the Gram matrix could be off by {d_cond:.1e} relative: σ_min recomputed"
        ));
    }
    Verdict::Accept
}

/// `σ_min` of `W` from a backward-stable triangular factor of its tall orientation `T` (`L × k`):
/// `LU` when square, the `R` of `QR` otherwise, then `1/σ_1` of the inverse factor by Lanczos.
fn smallest_singular_value(w: &Matrix) -> f64 {
    let (m, n) = (w.rows(), w.cols());
    let k = m.min(n);
    // Wᵀ as stored is column-major n×m; the tall orientation is W (m ≥ n) or Wᵀ
    let t: Mat<f64> = if m >= n { w.transposed_view().transpose().to_owned() } else { w.transposed_view().to_owned() };
    let mut col = Mat::<f64>::zeros(k, 1);
    let load = |col: &mut Mat<f64>, x: &[f64]| {
        for (i, &v) in x.iter().enumerate() {
            col[(i, 0)] = v;
        }
    };
    let store = |col: &Mat<f64>, out: &mut Vec<f64>| {
        out.clear();
        out.extend((0..k).map(|i| col[(i, 0)]));
    };
    let inv_norm = if m == n {
        let lu = t.partial_piv_lu();
        let mut col2 = col.clone();
        crate::linalg::lanczos::largest_singular_value(
            k,
            k,
            |x, out| {
                load(&mut col, x);
                lu.solve_in_place(col.as_mut());
                store(&col, out);
            },
            |x, out| {
                load(&mut col2, x);
                lu.solve_transpose_in_place(col2.as_mut());
                store(&col2, out);
            },
            REFINE_TOLERANCE,
        )
    } else {
        let qr = t.qr();
        let r = qr.thin_R();
        let mut col2 = col.clone();
        crate::linalg::lanczos::largest_singular_value(
            k,
            k,
            |x, out| {
                load(&mut col, x);
                triangular_solve::solve_upper_triangular_in_place(r, col.as_mut(), Par::Seq);
                store(&col, out);
            },
            |x, out| {
                load(&mut col2, x);
                triangular_solve::solve_lower_triangular_in_place(r.transpose(), col2.as_mut(), Par::Seq);
                store(&col2, out);
            },
            REFINE_TOLERANCE,
        )
    };
    if inv_norm.is_finite() && inv_norm > 0.0 {
        1.0 / inv_norm
    } else {
        0.0
    }
}
