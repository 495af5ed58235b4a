//! Shared helpers for the core tests: a seeded generator and known-spectrum matrices.
#![allow(dead_code, missing_docs)]

use svdiag_core::Matrix;

/// SplitMix64: a tiny seeded generator, enough for reproducible test matrices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Row-major dense matrix helpers.
pub fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for p in 0..k {
            let aip = a[i * k + p];
            for j in 0..n {
                c[i * n + j] += aip * b[p * n + j];
            }
        }
    }
    c
}

pub fn transpose(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    let mut t = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            t[j * m + i] = a[i * n + j];
        }
    }
    t
}

/// A random n×n orthogonal matrix as a product of `n` Householder reflections.
pub fn orthogonal(n: usize, rng: &mut Rng) -> Vec<f64> {
    let mut q = vec![0.0; n * n];
    for i in 0..n {
        q[i * n + i] = 1.0;
    }
    for _ in 0..n.min(8) {
        let v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        reflect_rows(&mut q, n, n, &v);
    }
    q
}

/// Applies `H = I − 2vvᵀ/vᵀv` from the left to an m×n row-major matrix (H is m×m).
pub fn reflect_rows(a: &mut [f64], m: usize, n: usize, v: &[f64]) {
    let vv: f64 = v.iter().map(|x| x * x).sum();
    for j in 0..n {
        let dot: f64 = (0..m).map(|i| v[i] * a[i * n + j]).sum();
        let f = 2.0 * dot / vv;
        for i in 0..m {
            a[i * n + j] -= f * v[i];
        }
    }
}

/// `U·diag(s)·Vᵀ` for an m×n matrix with the given singular values (len min(m, n)).
pub fn with_spectrum(m: usize, n: usize, s: &[f64], seed: u64) -> Matrix {
    let r = m.min(n);
    assert_eq!(s.len(), r);
    let mut rng = Rng::new(seed);
    let u = orthogonal(m, &mut rng);
    let v = orthogonal(n, &mut rng);
    // D is m×n with s on the diagonal
    let mut d = vec![0.0; m * n];
    for i in 0..r {
        d[i * n + i] = s[i];
    }
    let ud = matmul(&u, &d, m, m, n);
    let w = matmul(&ud, &transpose(&v, n, n), m, n, n);
    Matrix::from_row_major(w, m, n).unwrap()
}

pub fn gaussian(m: usize, n: usize, seed: u64) -> Matrix {
    let mut rng = Rng::new(seed);
    Matrix::from_row_major((0..m * n).map(|_| rng.normal()).collect(), m, n).unwrap()
}

/// Relative difference with a floor on the denominator.
pub fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-300)
}
