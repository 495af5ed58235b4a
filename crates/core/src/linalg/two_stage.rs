//! Two-stage reductions, for values only: a symmetric matrix to tridiagonal form (its
//! eigenvalues, [`tridiagonalize`]) and a general matrix to bidiagonal form (its singular values,
//! [`bidiagonalize`]).
//!
//! A one-stage Householder tridiagonalization (`faer`'s, or LAPACK's `dsytrd`) spends half its
//! `4/3·k³` flops in symmetric matrix–vector products that stream the whole trailing matrix from
//! memory once per column: at k = 4096 (a 134 MB Gram matrix) it is bound by memory bandwidth and
//! was measured at ~76 % of a Llama-8B-shaped matrix's time. The two-stage scheme of LAPACK's
//! `dsytrd_2stage` (Haidar, Ltaief and Dongarra, "Parallel reduction to condensed forms for
//! symmetric eigenvalue problems using aggregated fine-grained and memory-aware kernels", SC'11)
//! moves nearly all of that work into matrix–matrix products:
//!
//! 1. **dense → band** ([`reduce_to_band`]): each panel of `b` columns below the band is
//!    QR-factored (`faer`), and the trailing matrix is updated two-sidedly by its block reflector
//!    `Q = I − V T⁻¹ Vᵀ` with GEMMs of inner dimension `b` and `2b`;
//! 2. **band → tridiagonal** ([`band_to_tridiagonal`]): bulge chasing with Householder reflectors
//!    of length ≤ `b` on the band alone (`k × 2b` values, in cache), `O(k²·b)` flops.
//!
//! Both stages apply orthogonal similarity transformations, so the tridiagonal has the matrix's
//! eigenvalues up to a backward error of a few `ε·‖A‖`, like the one-stage reduction. No
//! eigenvectors are wanted, so the reflectors are never stored or applied back. The
//! bidiagonalization is the same idea with reflectors from both sides (its stage 1 alternates a
//! column panel's QR and a row panel's LQ). Written here because no maintained Rust crate offers a
//! two-stage reduction (`faer` has the one-stage ones), and linking a LAPACK binary is what the
//! project avoids.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder::make_householder_in_place;
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, ColMut, Mat, MatMut, MatRef, Par};

use crate::linalg::vector::{axpy, dot};
use crate::CoreError;

/// The diagonal `d` and off-diagonal `e` of a tridiagonal matrix with the eigenvalues of the
/// symmetric matrix whose lower triangle is `a` (overwritten), reduced through a band of
/// half-bandwidth `b ≥ 1`.
pub(crate) fn tridiagonalize(mut a: MatMut<'_, f64>, b: usize, par: Par) -> Result<(Vec<f64>, Vec<f64>), CoreError> {
    let n = a.nrows();
    reduce_to_band(a.rb_mut(), b, par)?;
    let ld = 2 * b;
    let mut band = vec![0.0; n * ld];
    for c in 0..n {
        let rows = (b + 1).min(n - c);
        for (off, dst) in band[c * ld..c * ld + rows].iter_mut().enumerate() {
            *dst = a[(c + off, c)];
        }
    }
    Ok(band_to_tridiagonal(&mut band, n, b))
}

/// Stage 1: overwrites the lower triangle of `a` (which holds a symmetric matrix) with a band
/// matrix of half-bandwidth `b` that has the same eigenvalues: entries `c ≤ r ≤ c + b` hold it,
/// the rest of the lower triangle is zero. The upper triangle is neither read nor written.
fn reduce_to_band(mut a: MatMut<'_, f64>, b: usize, par: Par) -> Result<(), CoreError> {
    let n = a.nrows();
    let oom = |bytes| CoreError::OutOfMemory { rows: n, cols: b, bytes };
    let req = qr_in_place_scratch::<f64>(n, b, b, par, Default::default());
    let mut mem = MemBuffer::try_new(req).map_err(|_| oom(req.unaligned_bytes_required()))?;
    // [Y V] and [V Y]: the rank-2b update −(Y Vᵀ + V Yᵀ) as one product of inner dimension 2b
    let mut left = Mat::<f64>::zeros(n, 2 * b);
    let mut right = Mat::<f64>::zeros(n, 2 * b);
    let mut t = Mat::<f64>::zeros(b, b);
    let mut z = Mat::<f64>::zeros(b, b);
    let mut j = 0;
    // a panel with fewer than 2 rows below the band has nothing to annihilate
    while j + b + 1 < n {
        let m = n - j - b;
        let kr = b.min(m);
        let (mut t, mut z) = (t.as_mut().submatrix_mut(0, 0, kr, kr), z.as_mut().submatrix_mut(0, 0, kr, kr));
        // the panel below the band: QR, keeping R (inside the band) and moving V out
        let panel = a.rb_mut().submatrix_mut(j + b, j, m, b);
        panel_qr(panel, t.rb_mut(), left.as_mut().submatrix_mut(0, kr, m, kr), par, &mut mem);
        let a22 = a.rb_mut().submatrix_mut(j + b, j + b, m, m);
        let (mut x, v) = left.as_mut().submatrix_mut(0, 0, m, 2 * kr).split_at_col_mut(kr);
        let v = v.rb();
        // X = A₂₂ V from the lower triangle: tril(A₂₂)·V + strictly_tril(A₂₂)ᵀ·V
        triangular::matmul(
            x.rb_mut(),
            BlockStructure::Rectangular,
            Accum::Replace,
            a22.rb(),
            BlockStructure::TriangularLower,
            v,
            BlockStructure::Rectangular,
            1.0,
            par,
        );
        triangular::matmul(
            x.rb_mut(),
            BlockStructure::Rectangular,
            Accum::Add,
            a22.rb().transpose(),
            BlockStructure::StrictTriangularUpper,
            v,
            BlockStructure::Rectangular,
            1.0,
            par,
        );
        // X ← X T⁻¹ (Q = I − V T⁻¹ Vᵀ), then M = T⁻ᵀ Vᵀ X and Y = X − ½ V M:
        // Qᵀ A₂₂ Q = A₂₂ − Y Vᵀ − V Yᵀ
        solve_lower_triangular_in_place(t.rb().transpose(), x.rb_mut().transpose_mut(), par);
        matmul(z.rb_mut(), Accum::Replace, v.transpose(), x.rb(), 1.0, par);
        solve_lower_triangular_in_place(t.rb().transpose(), z.rb_mut(), par);
        matmul(x.rb_mut(), Accum::Add, v, z.rb(), -0.5, par);
        let mut r = right.as_mut().submatrix_mut(0, 0, m, 2 * kr);
        r.rb_mut().submatrix_mut(0, 0, m, kr).copy_from(v);
        r.rb_mut().submatrix_mut(0, kr, m, kr).copy_from(x.rb());
        let l = left.as_ref().submatrix(0, 0, m, 2 * kr);
        triangular::matmul(
            a22,
            BlockStructure::TriangularLower,
            Accum::Add,
            l,
            BlockStructure::Rectangular,
            r.rb().transpose(),
            BlockStructure::Rectangular,
            -1.0,
            par,
        );
        j += b;
    }
    Ok(())
}

/// QR of `panel` in place (`faer`): its upper triangle keeps `R`, the Householder vectors move to
/// `v` (`rows × min(rows, cols)`, unit lower trapezoidal) and the panel below `R` becomes zero;
/// `t` (`min × min`) receives the block reflector's factor, `Q = I − V T⁻¹ Vᵀ`.
fn panel_qr(mut panel: MatMut<'_, f64>, mut t: MatMut<'_, f64>, mut v: MatMut<'_, f64>, par: Par, mem: &mut MemBuffer) {
    qr_in_place(panel.rb_mut(), t.rb_mut(), par, MemStack::new(mem), Default::default());
    let (m, kr) = v.shape();
    for c in 0..kr {
        for i in 0..m {
            v[(i, c)] = match i.cmp(&c) {
                std::cmp::Ordering::Less => 0.0,
                std::cmp::Ordering::Equal => 1.0,
                std::cmp::Ordering::Greater => std::mem::replace(&mut panel[(i, c)], 0.0),
            };
        }
    }
}

/// Stage 2: the diagonal and off-diagonal of a tridiagonal matrix with the eigenvalues of the
/// symmetric band matrix of half-bandwidth `b` held in `band` (overwritten): column `c`'s entries
/// `(c + o, c)` at `band[c·2b + o]` for `0 ≤ o < 2b` (those with `o > b` zero on entry; the
/// chase fills them in and empties them again).
///
/// Sweep `s` annihilates column `s` below its subdiagonal with one reflector `H` of length ≤ `b`
/// and applies it to the diagonal block it spans; applying `H` from the right to the block below
/// fills that block in (the bulge), whose first column the next reflector annihilates, and so
/// on down the band. The rest of each bulge lies in columns that later sweeps reduce.
fn band_to_tridiagonal(band: &mut [f64], n: usize, b: usize) -> (Vec<f64>, Vec<f64>) {
    let ld = 2 * b;
    assert_eq!(band.len(), n * ld, "band storage must be n × 2b");
    pulp::Arch::new().dispatch(Chase { band, n, b });
    let d = (0..n).map(|c| band[c * ld]).collect();
    let e = (0..n.saturating_sub(1)).map(|c| band[c * ld + 1]).collect();
    (d, e)
}

/// The bulge chase, as a `pulp` operation so that its loops are compiled for the CPU's vector
/// extensions and chosen at run time. Every reduction is written with a fixed number of partial
/// sums, so the result has the same bits on every instruction set.
struct Chase<'a> {
    band: &'a mut [f64],
    n: usize,
    b: usize,
}

impl pulp::WithSimd for Chase<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Self { band, n, b } = self;
        let ld = 2 * b;
        let mut v = vec![0.0; b];
        let mut w = vec![0.0; b];
        let mut u = vec![0.0; b];
        for s in 0..n.saturating_sub(2) {
            let len = b.min(n - 1 - s);
            if len < 2 {
                continue;
            }
            // the reflector that annihilates column s below its subdiagonal
            let col = &mut band[s * ld + 1..s * ld + 1 + len];
            let mut tau = reflector(col, &mut v[..len]);
            let (mut c0, mut len) = (s + 1, len);
            loop {
                two_sided(band, ld, c0, &v[..len], tau, &mut w[..len]);
                let r0 = c0 + len;
                if r0 >= n {
                    break;
                }
                let lm = b.min(n - r0);
                // the block below (rows r0..r0+lm of columns c0..c0+len) times H: the bulge
                let below = |c: usize| (c0 + c) * ld + r0 - (c0 + c)..(c0 + c) * ld + r0 - (c0 + c) + lm;
                apply_from_the_right(band, below, &v[..len], tau, &mut u[..lm]);
                if lm < 2 {
                    break;
                }
                // the next reflector annihilates the bulge's first column; it is applied to the
                // bulge's other columns from the left
                let first = &mut band[c0 * ld + len..c0 * ld + len + lm];
                let tau2 = reflector(first, &mut w[..lm]);
                for c in 1..len {
                    apply_from_the_left(&mut band[below(c)], &w[..lm], tau2);
                }
                std::mem::swap(&mut v, &mut w);
                (tau, c0, len) = (tau2, r0, lm);
            }
        }
    }
}

/// Turns `x` into `(β, 0, …, 0)` by a reflector `H = I − τ·v vᵀ` (`v[0] = 1`, written to `v`) and
/// returns `τ` (0 when `x` is already of that form).
#[inline(always)]
fn reflector(x: &mut [f64], v: &mut [f64]) -> f64 {
    let (head, tail) = x.split_first_mut().expect("a reflector of length ≥ 1");
    let info = make_householder_in_place(head, ColMut::from_slice_mut(tail));
    v[0] = 1.0;
    v[1..].copy_from_slice(tail);
    tail.fill(0.0);
    // faer's reflector is I − v vᵀ / τ_faer, infinite τ_faer for the identity
    if info.tau.is_finite() {
        info.tau.recip()
    } else {
        0.0
    }
}

/// `B ← B·H` with `H = I − τ·v vᵀ` for the block whose column `i` is `band[column(i)]` (`v.len()`
/// columns of `u.len()` rows; `u` is workspace): `u = B v`, then `B −= τ·u vᵀ`. Both chases'
/// reflectors from the right.
#[inline(always)]
fn apply_from_the_right(
    band: &mut [f64],
    column: impl Fn(usize) -> std::ops::Range<usize>,
    v: &[f64],
    tau: f64,
    u: &mut [f64],
) {
    u.fill(0.0);
    for (i, &vi) in v.iter().enumerate() {
        axpy(u, vi, &band[column(i)]);
    }
    for (i, &vi) in v.iter().enumerate() {
        axpy(&mut band[column(i)], -tau * vi, u);
    }
}

/// `x ← H x` with `H = I − τ·w wᵀ` for one column segment `x`: both chases' reflectors from the
/// left.
#[inline(always)]
fn apply_from_the_left(x: &mut [f64], w: &[f64], tau: f64) {
    let f = -tau * dot(w, x);
    axpy(x, f, w);
}

/// `D ← H D H` for the symmetric diagonal block `D` of order `v.len()` starting at column `c0`
/// (lower triangle in `band`), `H = I − τ·v vᵀ`; `p` is workspace of the same length.
#[inline(always)]
fn two_sided(band: &mut [f64], ld: usize, c0: usize, v: &[f64], tau: f64, p: &mut [f64]) {
    if tau == 0.0 {
        return;
    }
    let len = v.len();
    // p = τ·D v from the lower triangle
    p.fill(0.0);
    for c in 0..len {
        let col = &band[(c0 + c) * ld..(c0 + c) * ld + (len - c)];
        // column c of the block: D[c.., c]
        p[c] += col[0] * v[c] + dot(&col[1..], &v[c + 1..]);
        axpy(&mut p[c + 1..], v[c], &col[1..]);
    }
    for x in p.iter_mut() {
        *x *= tau;
    }
    // w = p − ½τ(pᵀv) v, then D ← D − v wᵀ − w vᵀ
    let half = 0.5 * tau * dot(p, v);
    for (x, &vi) in p.iter_mut().zip(v) {
        *x -= half * vi;
    }
    for c in 0..len {
        let col = &mut band[(c0 + c) * ld..(c0 + c) * ld + (len - c)];
        let (vc, wc) = (v[c], p[c]);
        for ((x, &vr), &wr) in col.iter_mut().zip(&v[c..]).zip(&p[c..]) {
            *x -= vr * wc + wr * vc;
        }
    }
}

/// The diagonal `d` and superdiagonal `e` of an upper bidiagonal matrix with the singular values
/// of `a`, by the two-stage bidiagonalization (the SVD's counterpart of [`tridiagonalize`]): a
/// tall matrix is first reduced to the `R` of its QR factorization (same singular values), `R` to
/// an upper band of half-bandwidth `b` by alternating block reflectors from the left (QR of a
/// column panel) and from the right (QR of the transposed row panel), the band to bidiagonal form
/// by a bulge chase. Every step is orthogonal, so the bidiagonal's singular values carry an
/// absolute error of a few `ε·‖A‖`, as with a one-stage bidiagonalization.
pub(crate) fn bidiagonalize(a: MatRef<'_, f64>, b: usize, par: Par) -> Result<(Vec<f64>, Vec<f64>), CoreError> {
    let a = if a.nrows() >= a.ncols() { a } else { a.transpose() };
    let (m, n) = a.shape();
    if n == 0 {
        return Ok((Vec::new(), Vec::new()));
    }
    let oom = |bytes| CoreError::OutOfMemory { rows: m, cols: n, bytes };
    let mut r = try_zeros(n, n)?;
    if m > n {
        let mut tall = try_zeros(m, n)?;
        tall.copy_from(a);
        let bs = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(m, n);
        let mut coeff = Mat::<f64>::zeros(bs, n);
        let req = qr_in_place_scratch::<f64>(m, n, bs, par, Default::default());
        let mut mem = MemBuffer::try_new(req).map_err(|_| oom(req.unaligned_bytes_required()))?;
        qr_in_place(tall.as_mut(), coeff.as_mut(), par, MemStack::new(&mut mem), Default::default());
        r.copy_from_triangular_upper(tall.as_ref().submatrix(0, 0, n, n));
    } else {
        r.copy_from(a);
    }
    reduce_to_upper_band(r.as_mut(), b, par)?;
    // column c holds rows c − 2b ..= c + b at offsets 0 ..= 3b (the chase's fill stays inside)
    let ld = 3 * b + 1;
    let mut band = vec![0.0; n * ld];
    for c in 0..n {
        for row in c.saturating_sub(b)..=c {
            band[c * ld + row + 2 * b - c] = r[(row, c)];
        }
    }
    drop(r);
    Ok(pulp::Arch::new().dispatch(BidiagonalChase { band: &mut band, n, b }))
}

/// An `m × n` matrix of zeros, or `OutOfMemory` when it cannot be allocated: a
/// copy of a large matrix (the direct SVD of a 128256×4096 embedding copies 4.2 GB) must fail as
/// an error naming the matrix, not abort the process.
fn try_zeros(m: usize, n: usize) -> Result<Mat<f64>, CoreError> {
    let mut out = Mat::<f64>::new();
    out.try_reserve(m, n).map_err(|_| CoreError::OutOfMemory {
        rows: m,
        cols: n,
        bytes: m.saturating_mul(n).saturating_mul(std::mem::size_of::<f64>()),
    })?;
    out.resize_with(m, n, |_, _| 0.0);
    Ok(out)
}

/// Stage 1 of [`bidiagonalize`]: overwrites the square `a` with an upper band matrix (entries
/// `(r, c)` with `0 ≤ c − r ≤ b`; the rest zero) that has the same singular values, by block
/// reflectors from the left (a column panel's QR) and the right (the transposed row panel's QR),
/// each applied to the trailing matrix with GEMMs of inner dimension `b`.
fn reduce_to_upper_band(mut a: MatMut<'_, f64>, b: usize, par: Par) -> Result<(), CoreError> {
    let n = a.nrows();
    let oom = |bytes| CoreError::OutOfMemory { rows: n, cols: b, bytes };
    let req = qr_in_place_scratch::<f64>(n, b, b, par, Default::default());
    let mut mem = MemBuffer::try_new(req).map_err(|_| oom(req.unaligned_bytes_required()))?;
    let mut v = Mat::<f64>::zeros(n, b);
    let mut panel_t = Mat::<f64>::zeros(n, b);
    let mut x = Mat::<f64>::zeros(n, b);
    let mut t = Mat::<f64>::zeros(b, b);
    let mut j = 0;
    while j < n {
        let w = b.min(n - j);
        let (m1, n2) = (n - j, n - j - w);
        // from the left: QR of the column panel A[j.., j..j+w], then Q₁ᵀ on A[j.., j+w..]
        if m1 > 1 {
            let kr = w.min(m1);
            let mut t = t.as_mut().submatrix_mut(0, 0, kr, kr);
            let mut v = v.as_mut().submatrix_mut(0, 0, m1, kr);
            panel_qr(a.rb_mut().submatrix_mut(j, j, m1, w), t.rb_mut(), v.rb_mut(), par, &mut mem);
            if n2 > 0 {
                let trailing = a.rb_mut().submatrix_mut(j, j + w, m1, n2);
                // Q₁ᵀ A = A − V T⁻ᵀ (Vᵀ A)
                let mut z = x.as_mut().transpose_mut().submatrix_mut(0, 0, kr, n2);
                matmul(z.rb_mut(), Accum::Replace, v.rb().transpose(), trailing.rb(), 1.0, par);
                solve_lower_triangular_in_place(t.rb().transpose(), z.rb_mut(), par);
                matmul(trailing, Accum::Add, v.rb(), z.rb(), -1.0, par);
            }
        }
        // from the right: the row panel A[j..j+w, j+w..] = [L 0]·Q₂ᵀ by the QR of its transpose
        if n2 > 1 {
            let kr = w.min(n2);
            let mut p = panel_t.as_mut().submatrix_mut(0, 0, n2, w);
            p.copy_from(a.rb().submatrix(j, j + w, w, n2).transpose());
            let mut t = t.as_mut().submatrix_mut(0, 0, kr, kr);
            let mut v = v.as_mut().submatrix_mut(0, 0, n2, kr);
            panel_qr(p.rb_mut(), t.rb_mut(), v.rb_mut(), par, &mut mem);
            a.rb_mut().submatrix_mut(j, j + w, w, n2).copy_from(p.rb().transpose());
            // A₂₂ Q₂ = A₂₂ − (A₂₂ V) T⁻¹ Vᵀ
            let mut a22 = a.rb_mut().submatrix_mut(j + w, j + w, n2, n2);
            let mut y = x.as_mut().submatrix_mut(0, 0, n2, kr);
            matmul(y.rb_mut(), Accum::Replace, a22.rb(), v.rb(), 1.0, par);
            solve_lower_triangular_in_place(t.rb().transpose(), y.rb_mut().transpose_mut(), par);
            matmul(a22.rb_mut(), Accum::Add, y.rb(), v.rb().transpose(), -1.0, par);
        }
        j += w;
    }
    Ok(())
}

/// Stage 2 of [`bidiagonalize`]: the upper band (half-bandwidth `b`) in `band` — column `c`'s
/// entry `(r, c)` at `band[c·(3b+1) + r + 2b − c]` — chased to upper bidiagonal form; returns its
/// diagonal `d` and superdiagonal `e`.
///
/// Sweep `s` annihilates row `s` beyond its superdiagonal with a reflector from the right on the
/// columns it spans, which fills in the diagonal block below the band; a reflector from the left
/// annihilates that bulge's first column and, applied to the rows it spans, fills in a block to
/// the right of the band, whose first row the next reflector from the right annihilates; and so on
/// down the band. The rest of each bulge lies in rows and columns later sweeps reduce.
struct BidiagonalChase<'a> {
    band: &'a mut [f64],
    n: usize,
    b: usize,
}

impl pulp::WithSimd for BidiagonalChase<'_> {
    type Output = (Vec<f64>, Vec<f64>);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> Self::Output {
        let Self { band, n, b } = self;
        let ld = 3 * b + 1;
        // the rows r0..r1 of column c
        let at = |c: usize, r0: usize, r1: usize| c * ld + r0 + 2 * b - c..c * ld + r1 + 2 * b - c;
        let (mut v, mut w) = (vec![0.0; b], vec![0.0; b]);
        let (mut u, mut x) = (vec![0.0; 2 * b], vec![0.0; b]);
        for s in 0..n.saturating_sub(2) {
            let len = b.min(n - 1 - s);
            if len < 2 {
                continue;
            }
            // row s beyond its superdiagonal, by a reflector from the right on columns s+1..
            let (mut ra, mut c0, mut len) = (s, s + 1, len);
            let mut tau = row_reflector(band, &at, ra, c0, &mut x[..len], &mut v[..len]);
            loop {
                // A[ra+1..c0+len, c0..c0+len] ← A·H
                let rows = c0 + len - (ra + 1);
                apply_from_the_right(band, |i| at(c0 + i, ra + 1, c0 + len), &v[..len], tau, &mut u[..rows]);
                if len < 2 {
                    break;
                }
                // the bulge's first column, by a reflector from the left on rows c0..c0+len,
                // applied to those rows up to the end of the new fill
                let tau_l = reflector(&mut band[at(c0, c0, c0 + len)], &mut w[..len]);
                let lm = b.min(n - (c0 + len));
                for c in c0 + 1..c0 + len + lm {
                    apply_from_the_left(&mut band[at(c, c0, c0 + len)], &w[..len], tau_l);
                }
                if lm < 2 {
                    break;
                }
                // the fill's first row (row c0), by a reflector from the right on its columns
                (ra, c0, len) = (c0, c0 + len, lm);
                tau = row_reflector(band, &at, ra, c0, &mut x[..len], &mut v[..len]);
            }
        }
        let d = (0..n).map(|c| band[c * ld + 2 * b]).collect();
        let e = (1..n).map(|c| band[c * ld + 2 * b - 1]).collect();
        (d, e)
    }
}

/// The reflector from the right that turns row `r`'s entries in columns `c0..c0 + x.len()` into
/// `(β, 0, …, 0)`: gathered into `x`, reduced, scattered back; `v` receives it, `τ` is returned.
#[inline(always)]
fn row_reflector(
    band: &mut [f64],
    at: &impl Fn(usize, usize, usize) -> std::ops::Range<usize>,
    r: usize,
    c0: usize,
    x: &mut [f64],
    v: &mut [f64],
) -> f64 {
    for (i, xi) in x.iter_mut().enumerate() {
        *xi = band[at(c0 + i, r, r + 1).start];
    }
    let tau = reflector(x, v);
    for (i, xi) in x.iter().enumerate() {
        band[at(c0 + i, r, r + 1).start] = *xi;
    }
    tau
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::tridiagonal::tridiagonal_eigenvalues;

    /// A seeded symmetric matrix with entries in [−0.5, 0.5).
    fn symmetric(k: usize, seed: u64) -> Mat<f64> {
        let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let mut a = Mat::<f64>::zeros(k, k);
        for c in 0..k {
            for r in c..k {
                let x = next();
                a[(r, c)] = x;
                a[(c, r)] = x;
            }
        }
        a
    }

    fn eigenvalues_by(a: &Mat<f64>, b: usize) -> Vec<f64> {
        let mut copy = a.clone();
        let (d, e) = tridiagonalize(copy.as_mut(), b, Par::Seq).unwrap();
        tridiagonal_eigenvalues(&d, &e)
    }

    /// Against `faer`'s dense self-adjoint eigenvalues, on orders around and below multiples of the
    /// bandwidth (partial last panels, a single panel, a matrix already banded).
    #[test]
    fn same_eigenvalues_as_a_dense_solver() {
        for (k, b) in
            [(1, 4), (2, 4), (3, 4), (5, 4), (9, 4), (17, 4), (40, 8), (64, 16), (100, 7), (130, 32), (33, 32)]
        {
            let a = symmetric(k, (k * 31 + b) as u64);
            let mut want = a.self_adjoint_eigenvalues(faer::Side::Lower).unwrap();
            want.sort_by(f64::total_cmp);
            let got = eigenvalues_by(&a, b);
            assert_eq!(got.len(), k);
            let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-13 * scale * (k as f64).sqrt(), "k {k} b {b}: {g} vs {w}");
            }
        }
    }

    /// A known spectrum: `A = Q diag(λ) Qᵀ` with `Q` a product of reflectors.
    #[test]
    fn known_spectrum() {
        let k = 150;
        let lambda: Vec<f64> = (0..k).map(|i| if i % 7 == 0 { 0.0 } else { (i as f64 - 40.0) * 0.37 }).collect();
        let mut a = Mat::from_fn(k, k, |i, j| if i == j { lambda[i] } else { 0.0 });
        for seed in 0..3 {
            let v: Vec<f64> = (0..k).map(|i| ((i * 7 + seed * 13) % 11) as f64 - 5.0).collect();
            let vv: f64 = v.iter().map(|x| x * x).sum();
            let h = Mat::from_fn(k, k, |i, j| f64::from(u8::from(i == j)) - 2.0 * v[i] * v[j] / vv);
            a = &h * &a * &h;
        }
        let mut want = lambda.clone();
        want.sort_by(f64::total_cmp);
        for b in [3, 16, 64] {
            let got = eigenvalues_by(&a, b);
            assert_eq!(got.len(), k);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-12 * 70.0, "b {b}: {g} vs {w}");
            }
        }
    }

    /// The singular values by [`bidiagonalize`], then `faer`'s SVD of the bidiagonal.
    fn singular_values(a: faer::MatRef<'_, f64>, b: usize, par: Par) -> Result<Vec<f64>, CoreError> {
        let (d, e) = bidiagonalize(a, b, par)?;
        let n = d.len();
        let bd = Mat::from_fn(n, n, |i, j| {
            if i == j {
                d[i]
            } else if j == i + 1 {
                e[i]
            } else {
                0.0
            }
        });
        Ok(if n == 0 { Vec::new() } else { bd.singular_values().unwrap() })
    }

    /// A seeded `m × n` matrix with entries in [−0.5, 0.5).
    fn general(m: usize, n: usize, seed: u64) -> Mat<f64> {
        let s = symmetric(m.max(n), seed);
        s.as_ref().submatrix(0, 0, m, n).to_owned()
    }

    /// Singular values against `faer`'s one-stage SVD: square, tall and wide, orders around and
    /// below multiples of the bandwidth, and a rank-deficient matrix (repeated columns).
    #[test]
    fn same_singular_values_as_a_one_stage_svd() {
        let mut rank_deficient = general(60, 45, 9);
        for c in 30..45 {
            let col = rank_deficient.col(c - 30).to_owned();
            rank_deficient.col_mut(c).copy_from(&col);
        }
        let cases = [
            (general(1, 1, 1), 4),
            (general(2, 2, 2), 4),
            (general(3, 3, 3), 4),
            (general(9, 9, 4), 4),
            (general(17, 17, 5), 4),
            (general(64, 64, 6), 16),
            (general(100, 100, 7), 7),
            (general(130, 70, 8), 32),
            (general(70, 130, 9), 8),
            (general(33, 33, 10), 32),
            (general(200, 3, 11), 4),
            (rank_deficient, 8),
        ];
        for (a, b) in cases {
            let (m, n) = a.shape();
            let want = a.singular_values().unwrap();
            let got = singular_values(a.as_ref(), b, Par::Seq).unwrap();
            assert_eq!(got.len(), m.min(n));
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= 1e-13 * want[0] * (m.max(n) as f64).sqrt(), "{m}×{n} b {b}: {g} vs {w}");
            }
        }
    }

    /// Known singular values: `A = U diag(σ) Vᵀ` with `U`, `V` products of reflectors.
    #[test]
    fn known_singular_values() {
        let (m, n) = (120, 90);
        let sigma: Vec<f64> = (0..n).map(|i| if i % 9 == 0 { 0.0 } else { 10f64.powf(-(i as f64) / 30.0) }).collect();
        let reflector = |k: usize, seed: usize| {
            let v: Vec<f64> = (0..k).map(|i| ((i * 7 + seed * 13) % 11) as f64 - 5.0).collect();
            let vv: f64 = v.iter().map(|x| x * x).sum();
            Mat::from_fn(k, k, |i, j| f64::from(u8::from(i == j)) - 2.0 * v[i] * v[j] / vv)
        };
        let s = Mat::from_fn(m, n, |i, j| if i == j { sigma[i] } else { 0.0 });
        let a = &reflector(m, 1) * &reflector(m, 2) * &s * &reflector(n, 3) * &reflector(n, 4);
        let mut want = sigma.clone();
        want.sort_by(|x, y| y.total_cmp(x));
        for b in [3, 16, 64] {
            for a in [a.as_ref(), a.as_ref().transpose()] {
                let got = singular_values(a, b, Par::Seq).unwrap();
                assert_eq!(got.len(), n);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-13, "b {b}: {g} vs {w}");
                }
            }
        }
    }

    /// The parallel split of stage 1 is fixed by the order alone: the same bits on 1 and 3 threads.
    #[test]
    fn threads_do_not_change_the_bits() {
        let a = symmetric(300, 5);
        let pool = |n| rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap();
        let run = || {
            let mut c = a.clone();
            tridiagonalize(c.as_mut(), 16, Par::rayon(4)).unwrap()
        };
        assert_eq!(pool(1).install(run), pool(3).install(run));
        let a = general(310, 290, 6);
        let svd = || singular_values(a.as_ref(), 16, Par::rayon(4)).unwrap();
        assert_eq!(pool(1).install(svd), pool(3).install(svd));
    }
}
