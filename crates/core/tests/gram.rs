//! The Gram route against the direct SVD: accepted when accurate, refined or refused otherwise.

mod common;

use std::ops::Range;

use common::*;
use svdiag_core::linalg::gram::{spectrum, Route};
use svdiag_core::Blocks;
use svdiag_core::{CoreError, Matrix, MetricOptions, Spectrum};

#[test]
fn gram_route_matches_svd_on_a_well_conditioned_matrix() {
    let s: Vec<f64> = (0..40).map(|i| 1.0 + i as f64 * 0.1).collect();
    for (m, n) in [(40, 40), (90, 40), (40, 90)] {
        let w = with_spectrum(m, n, &s, 7);
        let out = spectrum(&w, &MetricOptions::default()).unwrap();
        let svd = Spectrum::of(&w).unwrap();
        assert_eq!(out.route, Route::Gram, "{m}×{n}: {}", out.reason);
        for (a, b) in out.spectrum.values().iter().zip(svd.values()) {
            assert!((a - b).abs() <= 1e-12 * b, "{m}×{n}: {a} vs {b}");
        }
        assert!((out.l12_norm - w.l12_norm()).abs() <= 1e-13 * out.l12_norm);
    }
}

#[test]
fn rank_deficient_falls_back_to_svd() {
    let mut s = vec![1.0; 30];
    s.extend([0.0; 10]);
    let w = with_spectrum(40, 60, &s, 3);
    let out = spectrum(&w, &MetricOptions::default()).unwrap();
    assert_eq!(out.route, Route::Svd);
    assert!(out.reason.contains("σ_min/σ_1"), "{}", out.reason);
}

#[test]
fn ill_conditioned_min_is_refined() {
    // σ from 1 down to 1e-4: the entropy is resolved, σ_min is not
    let s: Vec<f64> = (0..50).map(|i| 10f64.powf(-4.0 * i as f64 / 49.0)).collect();
    for (m, n) in [(50, 50), (120, 50), (50, 120)] {
        let w = with_spectrum(m, n, &s, 11);
        let out = spectrum(&w, &MetricOptions::default()).unwrap();
        let svd = Spectrum::of(&w).unwrap();
        assert_eq!(out.route, Route::GramRefined, "{m}×{n}: {}", out.reason);
        let (a, b) = (out.spectrum.values()[49], svd.values()[49]);
        assert!((a - b).abs() <= 1e-11 * b, "{m}×{n}: σ_min {a} vs {b}");
    }
}

#[test]
fn non_finite_blocks_are_named() {
    let mut data = vec![1.0; 6 * 4];
    data[2 * 4 + 3] = f64::NAN;
    let w = Matrix::from_row_major(vec![1.0; 24], 6, 4).unwrap();
    struct Bad(Vec<f64>);
    impl Blocks for Bad {
        fn rows(&self) -> usize {
            6
        }
        fn cols(&self) -> usize {
            4
        }
        fn fill(&self, rows: Range<usize>, cols: Range<usize>, out: &mut [f64]) -> Result<(), CoreError> {
            let w = cols.len();
            for (i, r) in rows.enumerate() {
                out[i * w..(i + 1) * w].copy_from_slice(&self.0[r * 4 + cols.start..r * 4 + cols.end]);
            }
            Ok(())
        }
    }
    assert!(spectrum(&w, &MetricOptions::default()).is_ok());
    let e = spectrum(&Bad(data), &MetricOptions::default()).unwrap_err();
    assert_eq!(e, CoreError::NonFinite { row: 2, col: 3, value: "NaN".into() });
}

/// Test families: Gaussian, positive entries (sums that never cancel), graded columns (σ over three
/// decades), low rank plus small noise.
fn family(kind: &str, m: usize, n: usize, seed: u64) -> Matrix {
    let mut rng = Rng::new(seed);
    let mut data: Vec<f64> = (0..m * n).map(|_| rng.normal()).collect();
    match kind {
        "positive" => data.iter_mut().for_each(|x| *x = rng.uniform()),
        "graded" => {
            for (k, x) in data.iter_mut().enumerate() {
                *x *= 10f64.powf(-3.0 * (k % n) as f64 / n as f64);
            }
        }
        "lowrank" => {
            let u: Vec<f64> = (0..m * 5).map(|_| rng.normal()).collect();
            let v: Vec<f64> = (0..n * 5).map(|_| rng.normal()).collect();
            for r in 0..m {
                for c in 0..n {
                    let s: f64 = (0..5).map(|t| u[r * 5 + t] * v[c * 5 + t]).sum();
                    data[r * n + c] = s + 1e-3 * data[r * n + c];
                }
            }
        }
        _ => {}
    }
    Matrix::from_row_major(data, m, n).unwrap()
}

const FAMILIES: [&str; 4] = ["gauss", "positive", "graded", "lowrank"];
const SHAPES: [(usize, usize); 5] = [(200, 200), (600, 150), (150, 600), (500, 500), (2000, 250)];

#[test]
fn tau_covers_the_observed_eigenvalue_errors_with_room() {
    for kind in FAMILIES {
        for (i, &(m, n)) in SHAPES.iter().enumerate() {
            let w = family(kind, m, n, 100 + i as u64);
            let g = svdiag_core::linalg::gram::gram_eigenvalues(&w).unwrap();
            let svd = Spectrum::of(&w).unwrap();
            let worst = g.lambda.iter().zip(svd.values()).map(|(l, s)| (l - s * s).abs()).fold(0.0, f64::max);
            // the direct SVD's own error in σ² is 2σ·δσ ≲ 2·σ_1·(k·ε·σ_1): part of the comparison
            let svd_err = 2.0 * svd.values()[0].powi(2) * (m.min(n) as f64) * f64::EPSILON;
            assert!(worst <= g.tau / 5.0 + svd_err, "{kind} {m}×{n}: worst |Δλ| {worst:.2e} vs τ {:.2e}", g.tau);
        }
    }
}

/// From order `TWO_STAGE_ORDER` (1536) the eigenvalues come from the two-stage reduction: `τ`
/// must cover its errors as well.
#[test]
fn tau_covers_the_two_stage_reduction_s_errors() {
    for (i, kind) in ["gauss", "graded", "lowrank"].into_iter().enumerate() {
        let (m, n) = if i == 1 { (1600, 1700) } else { (1700, 1600) };
        let w = family(kind, m, n, 300 + i as u64);
        let g = svdiag_core::linalg::gram::gram_eigenvalues(&w).unwrap();
        // the reference: faer's one-stage SVD (`Spectrum::of` takes the two-stage one at this order)
        let svd = w.transposed_view().singular_values().unwrap();
        assert_eq!(g.lambda.len(), svd.len());
        let worst = g.lambda.iter().zip(&svd).map(|(l, s)| (l - s * s).abs()).fold(0.0, f64::max);
        let svd_err = 2.0 * svd[0].powi(2) * (m.min(n) as f64) * f64::EPSILON;
        assert!(worst <= g.tau / 5.0 + svd_err, "{kind} {m}×{n}: worst |Δλ| {worst:.2e} vs τ {:.2e}", g.tau);
    }
}

#[test]
fn every_metric_the_guard_accepts_is_within_1e9_of_the_direct_svd() {
    use svdiag_core::{metrics::METRIC_FIELDS, Metrics, Normalization, RenyiOrder};
    let mut routes = std::collections::BTreeMap::new();
    for kind in FAMILIES {
        for (i, &(m, n)) in SHAPES.iter().enumerate() {
            let w = family(kind, m, n, 200 + i as u64);
            let svd = Spectrum::of(&w).unwrap();
            for normalization in [Normalization::Sigma, Normalization::Energy] {
                for q in [0.0, 0.5, 2.0, f64::INFINITY] {
                    let opts = MetricOptions { normalization, q: RenyiOrder::new(q).unwrap() };
                    let out = spectrum(&w, &opts).unwrap();
                    *routes.entry(out.route.name()).or_insert(0) += 1;
                    let got = Metrics::compute(&out.spectrum, out.l12_norm, &opts);
                    let want = Metrics::compute(&svd, w.l12_norm(), &opts);
                    for field in METRIC_FIELDS {
                        let (a, b) = (got.get(field).unwrap(), want.get(field).unwrap());
                        assert!(
                            (a - b).abs() <= 1e-9 * b.abs(),
                            "{kind} {m}×{n} {normalization} q={q} via {:?}: {field} {a} vs {b}",
                            out.route
                        );
                    }
                }
            }
        }
    }
    // the test must exercise the fast route, not only the fallback
    assert!(routes.get("gram").copied().unwrap_or(0) >= 40, "{routes:?}");
}
