//! Invariants that hold for every matrix: bounds, and invariance under transpose, positive scaling
//! and orthogonal rotation. Matrices are drawn by proptest (seeded by its own persistence).

mod common;

use common::*;
use proptest::prelude::*;
use svdiag_core::{Matrix, MetricOptions, Metrics, Normalization, RenyiOrder, Spectrum};

fn metrics(w: &Matrix, normalization: Normalization) -> Metrics {
    let opts = MetricOptions { normalization, q: RenyiOrder::default() };
    Metrics::compute(&Spectrum::of(w).unwrap(), w.l12_norm(), &opts)
}

fn matrix() -> impl Strategy<Value = Matrix> {
    (2usize..14, 2usize..14).prop_flat_map(|(m, n)| {
        prop::collection::vec(-10.0f64..10.0, m * n).prop_map(move |v| Matrix::from_row_major(v, m, n).unwrap())
    })
}

fn norm_strategy() -> impl Strategy<Value = Normalization> {
    prop_oneof![Just(Normalization::Sigma), Just(Normalization::Energy)]
}

const ENTROPIC: [&str; 5] = ["entropy", "renyi_entropy", "kl_uniform", "normalized_entropy", "effective_rank"];

fn assert_close(a: &Metrics, b: &Metrics, fields: &[&str], tol: f64) {
    for f in fields {
        let (x, y) = (a.get(f).unwrap(), b.get(f).unwrap());
        assert!((x - y).abs() <= tol * y.abs().max(1.0), "{f}: {x} vs {y}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn bounds(w in matrix(), norm in norm_strategy()) {
        let m = metrics(&w, norm);
        let r = w.rows().min(w.cols()) as f64;
        let h = m.entropy.unwrap();
        prop_assert!(h >= 0.0 && h <= r.ln() + 1e-12);
        prop_assert!(m.kl_uniform.unwrap() >= -1e-12);
        let ne = m.normalized_entropy.unwrap();
        prop_assert!((-1e-12..=1.0 + 1e-12).contains(&ne));
        let er = m.effective_rank.unwrap();
        prop_assert!(er >= 1.0 - 1e-12 && er <= r + 1e-9);
        let sr = m.stable_rank.unwrap();
        prop_assert!(sr >= 1.0 - 1e-12 && sr <= m.numerical_rank.unwrap() as f64 + 1e-9);
        prop_assert!(m.spectral_norm <= m.frobenius_norm * (1.0 + 1e-12));
        prop_assert!(m.frobenius_norm <= m.nuclear_norm.unwrap() * (1.0 + 1e-12));
        prop_assert!(m.condition_number.unwrap() >= 1.0);
        // ‖W‖_F from the entries equals √Σσ²
        let fro = w.as_slice().iter().map(|x| x * x).sum::<f64>().sqrt();
        prop_assert!(rel(m.frobenius_norm, fro) < 1e-12);
        // l12 lies between ‖W‖_F and √n·‖W‖_F
        prop_assert!(m.l12_norm >= fro * (1.0 - 1e-12) && m.l12_norm <= fro * (w.cols() as f64).sqrt() * (1.0 + 1e-12));
    }

    #[test]
    fn renyi_is_non_increasing_in_q(w in matrix(), norm in norm_strategy()) {
        let sp = Spectrum::of(&w).unwrap();
        let mut last = f64::INFINITY;
        for q in [0.0, 0.5, 1.0, 2.0, 4.0, f64::INFINITY] {
            let opts = MetricOptions { normalization: norm, q: RenyiOrder::new(q).unwrap() };
            let h = Metrics::compute(&sp, 0.0, &opts).renyi_entropy.unwrap();
            prop_assert!(h <= last + 1e-12, "H_{} = {} > {}", q, h, last);
            last = h;
        }
    }

    #[test]
    fn transpose_invariance(w in matrix(), norm in norm_strategy()) {
        let t = Matrix::from_row_major(transpose(w.as_slice(), w.rows(), w.cols()), w.cols(), w.rows()).unwrap();
        let (a, b) = (metrics(&w, norm), metrics(&t, norm));
        assert_close(&a, &b, &ENTROPIC, 1e-10);
        assert_close(&a, &b, &["stable_rank", "spectral_norm", "frobenius_norm", "nuclear_norm"], 1e-10);
        prop_assert_eq!(a.numerical_rank, b.numerical_rank);
    }

    #[test]
    fn scaling_invariance(w in matrix(), c in 1e-3f64..1e3, norm in norm_strategy()) {
        let scaled = Matrix::from_row_major(w.as_slice().iter().map(|x| x * c).collect(), w.rows(), w.cols()).unwrap();
        let (a, b) = (metrics(&w, norm), metrics(&scaled, norm));
        assert_close(&a, &b, &ENTROPIC, 1e-10);
        assert_close(&a, &b, &["stable_rank"], 1e-10);
        for f in ["spectral_norm", "frobenius_norm", "nuclear_norm", "l12_norm"] {
            prop_assert!(rel(b.get(f).unwrap(), c * a.get(f).unwrap()) < 1e-10, "{}", f);
        }
    }

    #[test]
    fn rotation_invariance(w in matrix(), seed in any::<u64>(), norm in norm_strategy()) {
        let (m, n) = (w.rows(), w.cols());
        let mut rng = common::Rng::new(seed);
        let q = orthogonal(m, &mut rng);
        let rotated = Matrix::from_row_major(matmul(&q, w.as_slice(), m, m, n), m, n).unwrap();
        let (a, b) = (metrics(&w, norm), metrics(&rotated, norm));
        assert_close(&a, &b, &ENTROPIC, 1e-10);
        assert_close(&a, &b, &["stable_rank", "spectral_norm", "frobenius_norm", "nuclear_norm"], 1e-10);
        // a left rotation keeps every column norm, so l12 too
        prop_assert!(rel(b.l12_norm, a.l12_norm) < 1e-12);
    }
}
