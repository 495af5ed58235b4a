//! Lanczos iterations for the largest eigenvalue of a symmetric operator and the largest singular
//! value of a general one, given only as products with vectors: the spectral norm of `--quick` and
//! the refined `σ_min` of the Gram route's guard (as the norm of an inverse triangular factor).

use faer::Mat;

/// The stopping rule of the Lanczos loops: the estimate grows monotonically to `σ_1`; stop after
/// two steps in a row that move it by less than `tol` relative (one small step can be a plateau
/// before a jump).
struct Settled {
    tol: f64,
    last: f64,
    calm: u8,
}

impl Settled {
    fn new(tol: f64) -> Self {
        Self { tol, last: 0.0, calm: 0 }
    }

    /// Records the estimate of this step; true once it has settled.
    fn after(&mut self, s: f64) -> bool {
        self.calm = if (s - self.last).abs() <= self.tol * s { self.calm + 1 } else { 0 };
        self.last = s;
        self.calm >= 2
    }
}

/// `λ_max` of a symmetric positive semi-definite operator on `R^n` given by `apply(v, out)`, by
/// Lanczos with full reorthogonalization; the stopping rule of [`crate::linalg::quick::spectral_norm`], on `√λ`.
pub(crate) fn largest_eigenvalue(n: usize, mut apply: impl FnMut(&[f64], &mut [f64]), tol: f64) -> f64 {
    let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
    let mut q: Vec<f64> = (0..n).map(|i| 1.0 + ((i as f64) * 0.618_033_988_749_895).fract()).collect();
    let nq = dot(&q, &q).sqrt();
    q.iter_mut().for_each(|x| *x /= nq);
    let mut basis: Vec<Vec<f64>> = vec![q];
    let (mut alpha, mut beta): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
    let mut w = vec![0.0; n];
    let mut settled = Settled::new(tol);
    for k in 0..n {
        apply(&basis[k], &mut w);
        let a_k = dot(&basis[k], &w);
        // full reorthogonalization, twice (it also removes the α and β components)
        for _ in 0..2 {
            for b in &basis {
                let d = dot(&w, b);
                w.iter_mut().zip(b).for_each(|(p, q)| *p -= d * q);
            }
        }
        alpha.push(a_k);
        let theta = crate::linalg::tridiagonal::tridiagonal_eigenvalues(&alpha, &beta).last().copied().unwrap_or(0.0);
        let b_k = dot(&w, &w).sqrt();
        // the Krylov space is exhausted (to rounding): T's eigenvalues are the operator's
        if k + 1 == n || b_k <= 4.0 * f64::EPSILON * theta.abs().max(a_k.abs()) {
            return theta;
        }
        if settled.after(theta.max(0.0).sqrt()) {
            return theta;
        }
        beta.push(b_k);
        w.iter_mut().for_each(|x| *x /= b_k);
        basis.push(w.clone());
    }
    crate::linalg::tridiagonal::tridiagonal_eigenvalues(&alpha, &beta).last().copied().unwrap_or(0.0)
}

/// `σ_1` of a linear operator `B: R^n → R^m` given by `av(v) = B·v` and `atu(u) = Bᵀ·u` (both
/// write their result into `out`), by Golub–Kahan–Lanczos with full reorthogonalization and the
/// stopping rule of [`spectral_norm`]. For operators that are not stored matrices.
pub fn largest_singular_value(
    m: usize,
    n: usize,
    mut av: impl FnMut(&[f64], &mut Vec<f64>),
    mut atu: impl FnMut(&[f64], &mut Vec<f64>),
    tol: f64,
) -> f64 {
    let r = m.min(n);
    if r == 0 {
        return 0.0;
    }
    let norm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt();
    let reorth = |x: &mut [f64], basis: &[Vec<f64>]| {
        for _ in 0..2 {
            for b in basis {
                let d: f64 = x.iter().zip(b).map(|(p, q)| p * q).sum();
                x.iter_mut().zip(b).for_each(|(p, q)| *p -= d * q);
            }
        }
    };
    // a fixed, dense start vector
    let mut v: Vec<f64> = (0..n).map(|i| 1.0 + ((i as f64) * 0.618_033_988_749_895).fract()).collect();
    let nv = norm(&v);
    v.iter_mut().for_each(|x| *x /= nv);
    let (mut us, mut vs): (Vec<Vec<f64>>, Vec<Vec<f64>>) = (Vec::new(), vec![v]);
    let (mut alpha, mut beta) = (Vec::new(), Vec::new());
    let mut settled = Settled::new(tol);
    let mut u = Vec::with_capacity(m);
    let mut w = Vec::with_capacity(n);
    for k in 0..r {
        av(&vs[k], &mut u);
        if let Some(prev) = us.last() {
            let b: f64 = beta[k - 1];
            u.iter_mut().zip(prev).for_each(|(x, p): (&mut f64, &f64)| *x -= b * p);
        }
        reorth(&mut u, &us);
        let a_k = norm(&u);
        alpha.push(a_k);
        if a_k == 0.0 {
            break;
        }
        u.iter_mut().for_each(|x| *x /= a_k);
        us.push(u.clone());
        atu(&us[k], &mut w);
        w.iter_mut().zip(&vs[k]).for_each(|(x, p)| *x -= a_k * p);
        reorth(&mut w, &vs);
        let b_k = norm(&w);
        // B = Uᵀ·A·[V, v_next] is (k+1)×(k+2) with β_k in its last column: σ_1(B) ≤ σ_1(A), and
        // for a wide matrix the last column is what makes it exact once U spans all of R^m
        beta.push(b_k);
        let s = bidiagonal_norm(&alpha, &beta);
        beta.pop();
        if k + 1 == r || b_k == 0.0 {
            return s;
        }
        if settled.after(s) {
            return s;
        }
        beta.push(b_k);
        w.iter_mut().for_each(|x| *x /= b_k);
        vs.push(w.clone());
    }
    beta.resize(alpha.len(), 0.0);
    bidiagonal_norm(&alpha, &beta)
}

/// `σ_1` of the upper-bidiagonal `k × (k+1)` matrix with `alpha` (k) on the diagonal and
/// `beta` (k) above it.
fn bidiagonal_norm(alpha: &[f64], beta: &[f64]) -> f64 {
    let k = alpha.len();
    let b = Mat::from_fn(k, k + 1, |i, j| {
        if i == j {
            alpha[i]
        } else if j == i + 1 {
            beta[i]
        } else {
            0.0
        }
    });
    crate::linalg::spectrum::singular_values(b.as_ref()).ok().and_then(|s| s.first().copied()).unwrap_or(0.0)
}
