//! The quick path (`--quick`): the metrics that need no eigen-decomposition, for monitoring every
//! few steps (docs/metrics.md §2 "cheap paths"): `frobenius_norm` and `l12_norm` from the entries,
//! `spectral_norm` by Lanczos on `WᵀW` to convergence, `stable_rank` from
//! both, and the `energy`-normalized Rényi-2 entropy exactly from `Σσ⁴ = ‖WᵀW‖_F²` (one Gram
//! product on the smaller side).
//!
//! Every pass streams the matrix from a [`Blocks`] source (the stored dtype, widened a few rows
//! at a time into a buffer that stays in cache): no f64 copy of the matrix is ever held, and each
//! Lanczos step reads the stored bytes (2 bytes per value for bf16) instead of a widened f64 copy.

use crate::linalg::lanczos::largest_eigenvalue;
use crate::linalg::vector::{axpy, dot};

use crate::matrix::Blocks;
use crate::CoreError;

/// The metrics `--quick` computes, in canonical names.
pub const QUICK_FIELDS: [&str; 5] = ["frobenius_norm", "spectral_norm", "stable_rank", "l12_norm", "renyi_entropy"];

/// Rows widened per block in the streaming passes: about 32 KB of f64, so that a block is still
/// in L1 when it is used (larger blocks measured no faster).
fn rows_per_block(n: usize) -> usize {
    (4096 / n.max(1)).max(1)
}

/// Calls `each(block)` with consecutive row blocks of `src` widened to f64 (row-major,
/// `rows × n`), reusing `buf`; `checked` also rejects NaN/Inf with its position.
fn for_row_blocks(
    src: &impl Blocks,
    buf: &mut Vec<f64>,
    checked: bool,
    mut each: impl FnMut(&[f64]),
) -> Result<(), CoreError> {
    let (m, n) = (src.rows(), src.cols());
    let b = rows_per_block(n);
    buf.resize(b * n, 0.0);
    let mut start = 0;
    while start < m {
        let end = (start + b).min(m);
        let block = &mut buf[..(end - start) * n];
        if checked {
            crate::matrix::fill_checked(src, start..end, 0..n, block)?;
        } else {
            src.fill(start..end, 0..n, block)?;
        }
        each(block);
        start = end;
    }
    Ok(())
}

/// `‖W‖_F²` and `Σ_j ‖W_{:,j}‖₂` (the L1,2 norm) in one pass over the entries; NaN or Inf is an
/// error naming its position.
pub fn entry_norms(src: &impl Blocks) -> Result<(f64, f64), CoreError> {
    let n = src.cols();
    let mut col_sq = vec![0.0; n];
    for_row_blocks(src, &mut Vec::new(), true, |block| {
        for row in block.chunks_exact(n.max(1)) {
            col_sq.iter_mut().zip(row).for_each(|(c, x)| *c += x * x);
        }
    })?;
    Ok((col_sq.iter().sum(), col_sq.iter().map(|c| c.sqrt()).sum()))
}

/// `σ_1` by symmetric Lanczos on `WᵀW` with full reorthogonalization, from a fixed start vector
/// (deterministic): `σ_1 = √λ_max(WᵀW)`, accurate to a few ε relative (the largest eigenvalue of a
/// Gram matrix loses nothing to squaring). Each step applies `WᵀW` in ONE pass over `W`, by blocks
/// of rows widened into a buffer that stays in cache (`Σ_b W_bᵀ(W_b v)`): the products are
/// memory-bound on large matrices, and Golub–Kahan's `W v`, `Wᵀu` read the matrix twice per step.
/// Stops when `σ_1` of the Lanczos tridiagonal changes by less than `tol` relative in two
/// consecutive steps, or when the Krylov space is exhausted (then it is exact).
pub fn spectral_norm(src: &impl Blocks, tol: f64) -> Result<f64, CoreError> {
    let (m, n) = (src.rows(), src.cols());
    if m.min(n) == 0 {
        return Ok(0.0);
    }
    // each row is used twice while it is in L1 (its dot product with v, then the update of the
    // result). Written by hand: no crate offers the fused `Σ_i (w_i·v) w_i` pass, and faer's
    // matrix-vector products on row blocks were slower (the pass is bound by memory bandwidth).
    let mut buf = Vec::new();
    let mut failure = None;
    let gram = |v: &[f64], out: &mut [f64]| {
        out.fill(0.0);
        let pass = for_row_blocks(src, &mut buf, false, |block| {
            // compiled for the CPU's vector extensions (AVX2 with FMA, …) and chosen at run time
            pulp::Arch::new().dispatch(GramPass { block, n, v, out: &mut *out })
        });
        if let Err(e) = pass {
            failure.get_or_insert(e);
        }
    };
    let lambda = largest_eigenvalue(n, gram, tol);
    match failure {
        Some(e) => Err(e),
        None => Ok(lambda.max(0.0).sqrt()),
    }
}

/// `out += Σ_i (w_i·v) w_i` over the rows `w_i` of a row-major block, as a `pulp` operation.
struct GramPass<'a> {
    block: &'a [f64],
    n: usize,
    v: &'a [f64],
    out: &'a mut [f64],
}

impl pulp::WithSimd for GramPass<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        for row in self.block.chunks_exact(self.n) {
            let t = dot(row, self.v);
            axpy(self.out, t, row);
        }
    }
}

/// `Σσ_i⁴ = ‖WᵀW‖_F²`, from the Gram matrix of the smaller side (formed in f64 by blocks, as on
/// the exact route; sequential).
pub fn sum_sigma4(src: &impl Blocks) -> Result<f64, CoreError> {
    let (g, _) = crate::linalg::gram::gram(src)?;
    let k = src.rows().min(src.cols());
    let mut s = 0.0;
    for (j, col) in g.chunks_exact(k.max(1)).enumerate() {
        s += col[j] * col[j] + 2.0 * col[j + 1..].iter().map(|x| x * x).sum::<f64>();
    }
    Ok(s)
}
