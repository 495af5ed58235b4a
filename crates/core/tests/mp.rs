//! The random-matrix baseline on Gaussian matrices (no false outliers, `kl_excess` ≈ 0) and on
//! planted spikes at both ends (every one found).

mod common;

use common::*;
use svdiag_core::{Matrix, MetricOptions, Metrics, Normalization, RenyiOrder, Spectrum};

fn gaussian(m: usize, n: usize, scale: f64, rng: &mut Rng) -> Matrix {
    Matrix::from_row_major((0..m * n).map(|_| scale * rng.normal()).collect(), m, n).unwrap()
}

fn metrics(w: &Matrix, normalization: Normalization) -> Metrics {
    let opts = MetricOptions { normalization, q: RenyiOrder::default() };
    Metrics::compute(&Spectrum::of(w).unwrap(), w.l12_norm(), &opts)
}

/// 200 seeded Gaussian matrices of assorted shapes and scales: at most 5 % with any outlier, the
/// fitted scale within 4 % of the true one (M ≥ 50), and `kl_excess` centred on 0 within its noise.
#[test]
fn gaussian_matrices_have_no_outliers_and_no_excess() {
    let shapes = [(64, 64), (100, 100), (128, 64), (64, 200), (256, 128), (300, 60), (50, 400), (160, 160)];
    let mut rng = Rng::new(2024);
    let (mut flagged, mut count) = (0, 0);
    for normalization in [Normalization::Sigma, Normalization::Energy] {
        let mut excess = Vec::new();
        for k in 0..100 {
            let (m, n) = shapes[k % shapes.len()];
            let scale = [0.02, 1.0, 7.0][k % 3];
            let met = metrics(&gaussian(m, n, scale, &mut rng), normalization);
            let b = met.mp.unwrap();
            assert!((b.scale / scale - 1.0).abs() < 0.04, "{m}×{n}: fitted scale {} vs {scale}", b.scale);
            if b.outliers_above + b.outliers_below > 0 {
                flagged += 1;
            }
            count += 1;
            excess.push((met.kl_excess.unwrap(), met.kl_uniform.unwrap()));
        }
        let mean = excess.iter().map(|e| e.0).sum::<f64>() / excess.len() as f64;
        let sd = (excess.iter().map(|e| (e.0 - mean).powi(2)).sum::<f64>() / (excess.len() - 1) as f64).sqrt();
        // centred within noise (3 standard errors), and small against the KL itself
        assert!(
            mean.abs() <= 3.0 * sd / (excess.len() as f64).sqrt() + 1e-3,
            "{normalization}: mean {mean:e}, sd {sd:e}"
        );
        for (e, kl) in &excess {
            assert!(e.abs() < 0.1 * kl + 0.01, "{normalization}: kl_excess {e} against kl_uniform {kl}");
        }
    }
    assert_eq!(count, 200);
    assert!(flagged * 20 <= count, "{flagged} of {count} Gaussian matrices flagged with outliers");
}

/// `G + Σ θ_i u_i v_iᵀ` with θ above the BBP threshold, and small singular values planted below
/// the lower edge of rectangular matrices: every planted outlier is found, nothing else.
#[test]
fn planted_outliers_are_found_at_both_ends() {
    let mut rng = Rng::new(77);
    for (m, n) in [(200, 100), (120, 300), (150, 150), (400, 80)] {
        let (big, small) = (m.max(n) as f64, m.min(n) as f64);
        let c = small / big;
        // spikes in units of √N (bulk edge 1 + √c): θ ≥ 2 > c^{1/4}
        let thetas = [2.0, 3.5, 6.0];
        let mut s: Vec<f64> = Vec::new();
        // build from a Gaussian's own SVD so that the bulk stays exactly Gaussian
        let g = gaussian(m, n, 1.0, &mut rng);
        let bulk = Spectrum::of(&g).unwrap().values().to_vec();
        for t in thetas {
            // the BBP outlier position for a spike θ: √((1+θ²)(c+θ²))/θ, times √N
            s.push(big.sqrt() * ((1.0 + t * t) * (c + t * t)).sqrt() / t);
        }
        s.extend_from_slice(&bulk[3..]);
        let below = if m != n { 3 } else { 0 };
        let r = s.len();
        let lower_edge = big.sqrt() - small.sqrt();
        for k in 0..below {
            s[r - 1 - k] = lower_edge * (0.1 + 0.1 * k as f64);
        }
        s.sort_by(|a, b| b.total_cmp(a));
        let w = with_spectrum(m, n, &s, 5);
        let met = metrics(&w, Normalization::Sigma);
        let b = met.mp.unwrap();
        assert_eq!(b.outliers_above, 3, "{m}×{n}: {b:?}");
        assert_eq!(b.outliers_below, below, "{m}×{n}: {b:?}");
        assert!((b.scale - 1.0).abs() < 0.03, "{m}×{n}: scale {}", b.scale);
        if m == n {
            assert!(met.notes.iter().any(|n| n.field == "outliers_below"));
        }
    }
}
