//! The stages of the exact route on the matrix shapes that dominate real checkpoints.
//!
//! `cargo bench -p svdiag-core --bench routes` (one thread: the CLI runs one matrix per worker).
//! Speed is measured here, never asserted in tests.

use faer::Mat;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use svdiag_core::entropy::MetricOptions;
use svdiag_core::linalg::{gram, tridiagonal};
use svdiag_core::Matrix;

fn main() {
    divan::main();
}

/// A seeded Gaussian-like matrix (sum of uniforms; the spectrum's shape is what matters).
fn random(rows: usize, cols: usize, seed: u64) -> Matrix {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let data = (0..rows * cols)
        .map(|_| (0..4).map(|_| (rng.next_u32() as f64) / (u32::MAX as f64) - 0.5).sum::<f64>())
        .collect();
    Matrix::from_row_major(data, rows, cols).unwrap()
}

const SHAPES: &[(usize, usize)] = &[(768, 768), (768, 3072), (3072, 768), (50257, 768), (1024, 1024)];

/// The guarded exact route end to end (Gram, eigenvalues, guard, any refinement or fallback).
#[divan::bench(args = SHAPES, sample_count = 5)]
fn guarded(bencher: divan::Bencher, shape: (usize, usize)) {
    let w = random(shape.0, shape.1, 1);
    let options = MetricOptions::default();
    bencher.bench_local(|| gram::spectrum(&w, &options).unwrap());
}

/// Only the Gram product and its eigenvalues (no guard).
#[divan::bench(args = SHAPES, sample_count = 5)]
fn gram_eigenvalues(bencher: divan::Bencher, shape: (usize, usize)) {
    let w = random(shape.0, shape.1, 1);
    bencher.bench_local(|| gram::gram_eigenvalues(&w).unwrap());
}

/// Tridiagonalization plus bisection of a k×k symmetric matrix.
#[divan::bench(args = [768, 1024, 2048], sample_count = 5)]
fn symmetric_eigenvalues(bencher: divan::Bencher, k: usize) {
    let w = random(k, 2 * k, 2);
    let g: Mat<f64> = w.transposed_view().transpose() * w.transposed_view();
    bencher.bench_local(|| tridiagonal::symmetric_eigenvalues(g.as_ref()).unwrap());
}

/// Bisection alone on a tridiagonal with a Gram-like spectrum.
#[divan::bench(args = [768, 1024, 4096], sample_count = 5)]
fn bisection(bencher: divan::Bencher, k: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let d: Vec<f64> = (0..k).map(|_| 1.0 + (rng.next_u32() as f64) / (u32::MAX as f64)).collect();
    let e: Vec<f64> = (0..k - 1).map(|_| (rng.next_u32() as f64) / (u32::MAX as f64)).collect();
    bencher.bench_local(|| tridiagonal::tridiagonal_eigenvalues(&d, &e));
}

/// The direct SVD (the fallback), for comparison.
#[divan::bench(args = [(768, 768), (1024, 1024)], sample_count = 5)]
fn direct_svd(bencher: divan::Bencher, shape: (usize, usize)) {
    let w = random(shape.0, shape.1, 1);
    bencher.bench_local(|| svdiag_core::linalg::spectrum::singular_values(w.transposed_view()).unwrap());
}

/// `faer`'s one-stage tridiagonalization alone (sequential), the contender of the two-stage one
/// that [`symmetric_eigenvalues`] takes from order 1536.
#[divan::bench(args = [768, 2048], sample_count = 5)]
fn faer_one_stage_tridiagonalization(bencher: divan::Bencher, k: usize) {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::evd::tridiag;
    let w = random(k, 2 * k, 2);
    let g: Mat<f64> = w.transposed_view().transpose() * w.transposed_view();
    let bs = faer::linalg::qr::no_pivoting::factor::recommended_block_size::<f64>(k, k);
    bencher.bench_local(|| {
        let mut a = g.clone();
        let mut mem = MemBuffer::new(tridiag::tridiag_in_place_scratch::<f64>(k, faer::Par::Seq, Default::default()));
        let mut householder = Mat::<f64>::zeros(bs, k - 1);
        tridiag::tridiag_in_place(
            a.as_mut(),
            householder.as_mut(),
            faer::Par::Seq,
            MemStack::new(&mut mem),
            Default::default(),
        );
    });
}

/// `faer`'s one-stage values-only SVD (sequential), the contender of the two-stage one that
/// [`direct_svd`] takes from order 256.
#[divan::bench(args = [(768, 768), (1024, 1024)], sample_count = 5)]
fn faer_one_stage_svd(bencher: divan::Bencher, shape: (usize, usize)) {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::svd::{self, ComputeSvdVectors};
    let w = random(shape.0, shape.1, 1);
    let (m, n) = (shape.1, shape.0);
    let req =
        svd::svd_scratch::<f64>(m, n, ComputeSvdVectors::No, ComputeSvdVectors::No, faer::Par::Seq, Default::default());
    bencher.bench_local(|| {
        let mut mem = MemBuffer::new(req);
        let mut s = faer::diag::Diag::<f64>::zeros(m.min(n));
        svd::svd(
            w.transposed_view(),
            s.as_mut(),
            None,
            None,
            faer::Par::Seq,
            MemStack::new(&mut mem),
            Default::default(),
        )
        .unwrap();
    });
}

/// `--quick`'s Lanczos spectral norm (its passes stream the matrix).
#[divan::bench(args = SHAPES, sample_count = 5)]
fn quick_spectral_norm(bencher: divan::Bencher, shape: (usize, usize)) {
    let w = random(shape.0, shape.1, 1);
    bencher.bench_local(|| svdiag_core::linalg::quick::spectral_norm(&w, 1e-10).unwrap());
}
