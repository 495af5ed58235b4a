//! Eigenvalues of a symmetric matrix: a Householder tridiagonalization (`faer`'s one-stage
//! reduction below order [`TWO_STAGE_ORDER`], where the matrix stays in cache; from it on, the
//! two-stage reduction of [`crate::linalg::two_stage`], whose work is matrix–matrix products),
//! then every eigenvalue of the tridiagonal by bisection on Sturm counts.
//!
//! Written here because `faer`'s values-only path (implicit QR on the tridiagonal) loses absolute
//! accuracy in the small eigenvalues: measured on 600×600 Gram matrices of Gaussian matrices, its
//! worst eigenvalue error was ≈ 500·ε·λ_1, against ≈ 20·ε·λ_1 for bisection on the same
//! tridiagonal (LAPACK's `dsyevd` ≈ 30). On the Gram route those small eigenvalues are the small
//! singular values, so this is the difference between accepting the Gram spectrum and falling back
//! to a direct SVD. No maintained crate offers a values-only tridiagonal solver of that accuracy
//! without linking a LAPACK binary.
//!
//! Bisection is backward stable (each count is exact for a tridiagonal whose entries are perturbed
//! by a few ulps), so every eigenvalue comes out within a few `ε·‖T‖` in absolute terms. The Sturm
//! recurrences of [`LANES`] eigenvalues run side by side so that the compiler vectorizes them.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::tridiag;
use faer::reborrow::ReborrowMut;
use faer::{Mat, MatMut, MatRef, Par};

use crate::CoreError;

/// Eigenvalues bisected together: enough independent division chains to keep the vector units
/// busy (each lane's recurrence is latency-bound). Measured on a tridiagonal of order 768, one
/// thread: 8 lanes ran 2.4× slower than 32; 64 lanes took 4.2 ms against 6.2 ms for 32 with
/// AVX-512 (4.0 ms for 128) and 8.0 ms against 12.2 ms with AVX2 code.
const LANES: usize = 64;

/// The eigenvalues of the symmetric `k × k` matrix whose lower triangle is `g`, non-increasing.
pub fn symmetric_eigenvalues(g: MatRef<'_, f64>) -> Result<Vec<f64>, CoreError> {
    let k = g.nrows();
    if k == 0 {
        return Ok(Vec::new());
    }
    let mut a = Mat::<f64>::zeros(k, k);
    a.copy_from_triangular_lower(g);
    symmetric_eigenvalues_in_place(a.as_mut())
}

/// [`symmetric_eigenvalues`] of the lower triangle of `a`, overwriting `a` (no copy of it).
pub fn symmetric_eigenvalues_in_place(a: MatMut<'_, f64>) -> Result<Vec<f64>, CoreError> {
    let k = a.nrows();
    if k == 0 {
        return Ok(Vec::new());
    }
    let par = tridiagonalization_par(k);
    let (d, e) = if k >= TWO_STAGE_ORDER {
        crate::linalg::two_stage::tridiagonalize(a, BANDWIDTH, par)?
    } else {
        one_stage(a, par)?
    };
    let mut values = tridiagonal_eigenvalues(&d, &e);
    values.reverse();
    Ok(values)
}

/// The diagonal and off-diagonal of `faer`'s one-stage Householder tridiagonalization of the
/// lower triangle of `a` (overwritten; order ≥ 1).
fn one_stage(mut a: MatMut<'_, f64>, par: Par) -> Result<(Vec<f64>, Vec<f64>), CoreError> {
    let k = a.nrows();
    let req = tridiag::tridiag_in_place_scratch::<f64>(k, par, Default::default());
    let mut mem = MemBuffer::try_new(req).map_err(|_| CoreError::OutOfMemory {
        rows: k,
        cols: k,
        bytes: req.unaligned_bytes_required(),
    })?;
    let bs = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(k, k);
    let mut householder = Mat::<f64>::zeros(bs, k - 1);
    tridiag::tridiag_in_place(a.rb_mut(), householder.as_mut(), par, MemStack::new(&mut mem), Default::default());
    let d = (0..k).map(|i| a[(i, i)]).collect();
    let e = (0..k - 1).map(|i| a[(i + 1, i)]).collect();
    Ok((d, e))
}

/// Orders from which the two-stage reduction is used. Measured one thread, AVX-512 (the table in
/// `docs/benchmarks.md`): `faer`'s one-stage reduction 0.030 s at 1024 against 0.037 s, 0.317 s
/// at 2048 against 0.211 s, 6.15 s at 4096 against 1.62 s.
pub(crate) const TWO_STAGE_ORDER: usize = 1536;

/// The half-bandwidth of the two-stage reduction's intermediate band: the GEMMs of stage 1 want
/// it wide, the bulge chase of stage 2 costs in proportion to it (16–64 measured at 2048 and
/// 4096: 48 is within 3 % of the best at both, on one thread and on two).
const BANDWIDTH: usize = 48;

/// Orders from which the tridiagonalization is split into parallel parts (its matrix–vector
/// products and updates, as `faer` splits them): below, one core is as fast.
const PARALLEL_ORDER: usize = 1024;

/// How many parts `faer` splits a large tridiagonalization into: a fixed number, so that the
/// order of every sum (and so every bit) depends on the order alone; rayon's threads (the
/// analysis's idle workers) take the parts, or the calling thread runs them all.
const PARTS: usize = 4;

pub(crate) fn tridiagonalization_par(k: usize) -> Par {
    if k >= PARALLEL_ORDER {
        Par::rayon(PARTS)
    } else {
        Par::Seq
    }
}

/// All eigenvalues of the symmetric tridiagonal matrix with diagonal `d` and off-diagonal `e`
/// (`e.len() + 1 == d.len()`), non-decreasing, each to an absolute accuracy of a few `ε·‖T‖`.
pub fn tridiagonal_eigenvalues(d: &[f64], e: &[f64]) -> Vec<f64> {
    tridiagonal_eigenvalues_within(d, e, 0.0)
}

/// [`tridiagonal_eigenvalues`] to an absolute accuracy of `relative · ‖T‖` (at best a few
/// `ε·‖T‖`): fewer bisection steps where full accuracy is not needed (a Monte Carlo null).
pub fn tridiagonal_eigenvalues_within(d: &[f64], e: &[f64], relative: f64) -> Vec<f64> {
    bisect(d, e, relative, 0)
}

/// The eigenvalues of index `first..` (counted from the smallest, 0-based) of
/// [`tridiagonal_eigenvalues`], non-decreasing: the others are never bisected.
pub(crate) fn tridiagonal_eigenvalues_from(d: &[f64], e: &[f64], first: usize) -> Vec<f64> {
    bisect(d, e, 0.0, first)
}

fn bisect(d: &[f64], e: &[f64], relative: f64, first: usize) -> Vec<f64> {
    let k = d.len();
    assert_eq!(e.len() + 1, k.max(1), "off-diagonal must have k − 1 entries");
    if k == 0 {
        return Vec::new();
    }
    let e2: Vec<f64> = e.iter().map(|x| x * x).collect();
    // Gershgorin interval
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for i in 0..k {
        let r = if i > 0 { e[i - 1].abs() } else { 0.0 } + if i + 1 < k { e[i].abs() } else { 0.0 };
        lo = lo.min(d[i] - r);
        hi = hi.max(d[i] + r);
    }
    let norm = lo.abs().max(hi.abs());
    if norm == 0.0 || first >= k {
        return vec![0.0; k.saturating_sub(first)];
    }
    // a pivot this small is replaced (LAPACK's `pivmin` rule), so the recurrence never divides by 0
    let pivmin = f64::MIN_POSITIVE * e2.iter().copied().fold(1.0, f64::max);
    let (lo, hi) = (lo - 2.0 * f64::EPSILON * norm, hi + 2.0 * f64::EPSILON * norm);
    let tol = (2.0 * f64::EPSILON).max(relative) * norm;
    // compiled for the CPU's vector extensions (AVX2/AVX-512) and chosen at run time
    pulp::Arch::new().dispatch(Bisect { d, e2: &e2, lo, hi, tol, pivmin, first })
}

/// The bisection loop, as a `pulp` operation so that it is compiled for the CPU's vector
/// extensions and chosen at run time.
struct Bisect<'a> {
    d: &'a [f64],
    e2: &'a [f64],
    lo: f64,
    hi: f64,
    tol: f64,
    pivmin: f64,
    first: usize,
}

impl pulp::WithSimd for Bisect<'_> {
    type Output = Vec<f64>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Vec<f64> {
        let Self { d, e2, lo, hi, tol, pivmin, first } = self;
        let k = d.len();
        let mut out = vec![0.0; k - first];
        for (g, chunk) in out.chunks_mut(LANES).enumerate() {
            let first = first + g * LANES;
            let mut a = [lo; LANES];
            let mut b = [hi; LANES];
            // index of the eigenvalue each lane looks for (lanes past the end repeat the last one)
            let want: [f64; LANES] = std::array::from_fn(|l| (first + l).min(k - 1) as f64);
            while (0..LANES).any(|l| b[l] - a[l] > tol) {
                let x: [f64; LANES] = std::array::from_fn(|l| 0.5 * (a[l] + b[l]));
                let below = sturm_counts(d, e2, pivmin, &x);
                for l in 0..LANES {
                    if below[l] > want[l] {
                        b[l] = x[l];
                    } else {
                        a[l] = x[l];
                    }
                }
            }
            for (l, v) in chunk.iter_mut().enumerate() {
                *v = 0.5 * (a[l] + b[l]);
            }
        }
        out
    }
}

/// For each shift `x`, the number of eigenvalues below it: the negative pivots of `T − x·I = LDLᵀ`
/// (counted in f64 so that the lanes vectorize).
#[inline(always)]
fn sturm_counts(d: &[f64], e2: &[f64], pivmin: f64, x: &[f64; LANES]) -> [f64; LANES] {
    let mut count = [0.0f64; LANES];
    let mut q = [0.0f64; LANES];
    for l in 0..LANES {
        q[l] = guard(d[0] - x[l], pivmin);
        count[l] += if q[l] < 0.0 { 1.0 } else { 0.0 };
    }
    for (&di, &e2i) in d[1..].iter().zip(e2) {
        for l in 0..LANES {
            q[l] = guard(di - x[l] - e2i / q[l], pivmin);
            count[l] += if q[l] < 0.0 { 1.0 } else { 0.0 };
        }
    }
    count
}

#[inline(always)]
fn guard(q: f64, pivmin: f64) -> f64 {
    if q.abs() < pivmin {
        -pivmin
    } else {
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_tridiagonals() {
        // the second-difference matrix: λ_j = 2 − 2 cos(jπ/(k+1))
        let k = 37;
        let d = vec![2.0; k];
        let e = vec![-1.0; k - 1];
        let got = tridiagonal_eigenvalues(&d, &e);
        for (j, v) in got.iter().enumerate() {
            let want = 2.0 - 2.0 * ((j + 1) as f64 * std::f64::consts::PI / (k + 1) as f64).cos();
            assert!((v - want).abs() < 4.0 * f64::EPSILON * 4.0, "{j}: {v} vs {want}");
        }
        // diagonal with repeated values and a zero
        let got = tridiagonal_eigenvalues(&[3.0, 0.0, 3.0, -1.0], &[0.0, 0.0, 0.0]);
        for (g, w) in got.iter().zip([-1.0, 0.0, 3.0, 3.0]) {
            assert!((g - w).abs() <= 4.0 * f64::EPSILON * 3.0, "{got:?}");
        }
        assert!((tridiagonal_eigenvalues(&[5.0], &[])[0] - 5.0).abs() <= 4.0 * f64::EPSILON * 5.0);
        assert_eq!(tridiagonal_eigenvalues(&[0.0, 0.0], &[0.0]), vec![0.0, 0.0]);
    }

    /// A large tridiagonalization (one-stage, and two-stage from [`TWO_STAGE_ORDER`]) is split
    /// into a fixed number of parts: the same bits on one thread as on three, and the same
    /// eigenvalues (to rounding) as `faer`'s sequential one-stage reduction.
    #[test]
    fn parallel_parts_do_not_change_the_bits() {
        assert_eq!(tridiagonalization_par(PARALLEL_ORDER - 1), Par::Seq);
        for k in [PARALLEL_ORDER + 37, TWO_STAGE_ORDER + 37] {
            let a = Mat::from_fn(k, k, |i, j| {
                let (i, j) = (i.max(j), i.min(j));
                ((i * 7919 + j * 104_729) % 1009) as f64 / 1009.0 - 0.5
            });
            let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
            let one = pool(1).install(|| symmetric_eigenvalues(a.as_ref()).unwrap());
            let three = pool(3).install(|| symmetric_eigenvalues(a.as_ref()).unwrap());
            assert_eq!(one, three);
            // the split against the sequential one-stage reduction of the same matrix
            let unsplit = sequential_eigenvalues(a.clone().as_mut());
            assert_eq!(one.len(), unsplit.len());
            let scale = one.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (x, y) in one.iter().zip(&unsplit) {
                assert!((x - y).abs() <= 1e-12 * scale, "{k}: {x} vs {y}");
            }
        }
    }

    /// The eigenvalues by `faer`'s sequential one-stage tridiagonalization (the reference for the
    /// split and the two-stage ones).
    fn sequential_eigenvalues(a: MatMut<'_, f64>) -> Vec<f64> {
        let (d, e) = one_stage(a, Par::Seq).unwrap();
        let mut v = tridiagonal_eigenvalues(&d, &e);
        v.reverse();
        v
    }

    #[test]
    fn dense_symmetric() {
        // A = Q diag(λ) Qᵀ with a Householder Q
        let lambda = [9.0, 4.0, 1.0, 1e-3, 0.0, -2.0];
        let k = lambda.len();
        let v: Vec<f64> = (0..k).map(|i| 1.0 + i as f64 * 0.37).collect();
        let vv: f64 = v.iter().map(|x| x * x).sum();
        let q = Mat::from_fn(k, k, |i, j| f64::from(u8::from(i == j)) - 2.0 * v[i] * v[j] / vv);
        let a = Mat::from_fn(k, k, |i, j| (0..k).map(|t| q[(i, t)] * lambda[t] * q[(j, t)]).sum::<f64>());
        let got = symmetric_eigenvalues(a.as_ref()).unwrap();
        for (g, w) in got.iter().zip(lambda) {
            assert!((g - w).abs() < 1e-13 * 9.0, "{g} vs {w}");
        }
    }
}
