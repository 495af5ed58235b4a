//! svdiag against NumPy f64 (`tests/data/reference/generate.py`, numpy version and seed recorded in
//! `reference.json`), through the whole pipeline: safetensors file → widening → spectrum → metrics.
//!
//! Tolerance: every metric within 1e-9 relative (the contract); in practice the agreement
//! is ~1e-13. Two quantities are conditioned by the smallest singular value and are compared with
//! the bound that perturbation theory allows (see `cond_tol`): singular values (absolute
//! `64·max(m,n)·ε·σ_1`), and the condition number of a numerically rank-deficient matrix, whose
//! `σ_r` is rounding noise in both implementations (only `> 1e12` is checked there).

use std::path::PathBuf;

use serde_json::Value;
use svdiag_analysis::{analyze, AnalysisOptions, MatrixRecord, Method, NoProgress, Plan};
use svdiag_core::linalg::gram::Route;
use svdiag_core::metrics::METRIC_FIELDS;
use svdiag_core::{MetricOptions, Normalization, RenyiOrder};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/reference").join(name)
}

fn reference() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("reference.json")).unwrap()).unwrap()
}

fn run(normalization: Normalization, q: RenyiOrder) -> Vec<MatrixRecord> {
    run_with(normalization, q, Method::Auto)
}

fn run_with(normalization: Normalization, q: RenyiOrder, method: Method) -> Vec<MatrixRecord> {
    let plan = Plan::new(&[data("reference.safetensors")], None).unwrap();
    let options = AnalysisOptions {
        metrics: MetricOptions { normalization, q },
        keep_spectrum: true,
        plot_data: false,
        threads: Some(2),
        quick: false,
        method,
        thresholds: Default::default(),
        farms: None,
        polar: false,
        approx: None,
    };
    let a = analyze(&plan, &options, &NoProgress);
    assert!(a.failed.is_empty(), "{:?}", a.failed);
    a.matrices
}

#[test]
fn every_metric_matches_numpy_f64_by_the_direct_svd() {
    // 1e-9 is the contract; the implementations agree far more closely than that.
    let worst = compare_with_numpy(Method::Svd);
    assert!(worst < 1e-11, "worst relative difference {worst:e}");
}

#[test]
fn every_metric_matches_numpy_f64_by_the_guarded_gram_route() {
    // the guard keeps every metric within 5e-10 (by its error estimate)
    let worst = compare_with_numpy(Method::Auto);
    assert!(worst < 5e-10, "worst relative difference {worst:e}");
}

/// Compares every metric and singular value with the NumPy fixtures; returns the worst relative
/// difference of the metrics other than `condition_number`.
fn compare_with_numpy(method: Method) -> f64 {
    let reference = reference();
    let mats = reference["matrices"].as_object().unwrap();
    let mut compared = 0;
    let mut worst = 0.0f64;
    for norm in [Normalization::Sigma, Normalization::Energy] {
        for q in ["0", "0.5", "1", "2", "3", "inf"] {
            let q: RenyiOrder = q.parse().unwrap();
            let records = run_with(norm, q, method);
            assert_eq!(records.len(), mats.len(), "one record per reference matrix");
            for rec in &records {
                let r = &mats[&rec.name];
                assert_eq!(rec.dtype.name(), r["dtype"]);
                assert_eq!(serde_json::to_value(&rec.shape).unwrap(), r["shape"]);
                assert_eq!(serde_json::to_value(rec.matrix_shape).unwrap(), r["matrix_shape"]);
                assert_eq!(rec.reshaped, rec.shape.len() > 2);
                let setting = r["settings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|s| s["normalization"] == norm.to_string() && same_q(&s["q"], q))
                    .unwrap();
                let want = &setting["metrics"];
                let (m, n) = (rec.matrix_shape[0], rec.matrix_shape[1]);
                let numpy_rank = want["numerical_rank"].as_u64().unwrap() as usize;
                for field in METRIC_FIELDS {
                    let got = rec.metrics.get(field);
                    let w = &want[field];
                    let ctx = format!("{} {field} ({norm}, q={q})", rec.name);
                    match (got, w) {
                        (None, Value::Null) => {}
                        (Some(g), Value::String(s)) if s == "inf" => {
                            assert!(g.is_infinite(), "{ctx}: {g}")
                        }
                        (Some(g), Value::Number(x)) => {
                            let x = x.as_f64().unwrap();
                            if field == "condition_number" && numpy_rank < m.min(n) {
                                assert!(g > 1e12 && x > 1e12, "{ctx}: both should be huge: {g:e} vs {x:e}");
                                continue;
                            }
                            let rel = (g - x).abs() / x.abs().max(1e-300);
                            let tol = if field == "condition_number" { cond_tol(m, n, x) } else { 1e-9 };
                            assert!(
                                rel <= tol || (g - x).abs() < 1e-13,
                                "{ctx}: svdiag {g:e}, numpy {x:e}, rel {rel:e}"
                            );
                            if field != "condition_number" {
                                worst = worst.max(if (g - x).abs() < 1e-13 { 0.0 } else { rel });
                            }
                            compared += 1;
                        }
                        _ => panic!("{ctx}: svdiag {got:?}, numpy {w}"),
                    }
                }
                let sv_ref: Vec<f64> =
                    r["singular_values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
                let sv = rec.singular_values.as_ref().unwrap();
                assert_eq!(sv.len(), sv_ref.len());
                let tol = 64.0 * m.max(n) as f64 * f64::EPSILON * sv_ref[0].max(f64::MIN_POSITIVE);
                // the Gram route's error scale for σ² (svdiag_core::linalg::gram): ε·(2·tr G + √k·‖G‖_F)
                let tr: f64 = sv_ref.iter().map(|s| s * s).sum();
                let g_f = sv_ref.iter().map(|s| s.powi(4)).sum::<f64>().sqrt();
                let tau = f64::EPSILON * (2.0 * tr + (m.min(n) as f64).sqrt() * g_f);
                for (i, (a, b)) in sv.iter().zip(&sv_ref).enumerate() {
                    let ok = match rec.route {
                        Some(Route::Gram | Route::GramRefined) => (a * a - b * b).abs() <= tau + 2.0 * b * tol,
                        _ => (a - b).abs() <= tol,
                    };
                    assert!(ok, "{} σ_{i} via {:?}: {a:e} vs {b:e}", rec.name, rec.route);
                }
            }
        }
    }
    assert!(compared > 1000, "compared only {compared} values");
    worst
}

/// `κ = σ_1/σ_r` inherits `σ_r`'s relative error, bounded by `c·max(m,n)·ε·κ`.
fn cond_tol(m: usize, n: usize, kappa: f64) -> f64 {
    1e-9_f64.max(64.0 * m.max(n) as f64 * f64::EPSILON * kappa)
}

fn same_q(v: &Value, q: RenyiOrder) -> bool {
    match v {
        Value::String(s) => s == "inf" && q.get().is_infinite(),
        Value::Number(x) => x.as_f64() == Some(q.get()),
        _ => false,
    }
}

#[test]
fn skipped_tensors_are_listed_with_reasons() {
    let reference = reference();
    let plan = Plan::new(&[data("reference.safetensors")], None).unwrap();
    let mut names: Vec<&str> = plan.skipped.iter().map(|s| s.name.as_str()).collect();
    names.sort();
    let want: Vec<&str> = reference["skipped"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(names, want);
    let reason = |n: &str| plan.skipped.iter().find(|s| s.name == n).unwrap().reason.clone();
    assert!(reason("bias_f32").contains("1-D tensor"));
    assert!(reason("scalar_f32").contains("0-D tensor"));
    assert!(reason("position_ids_i64").contains("dtype I64 is not a floating-point type"));
    assert!(reason("row_vector_f32").contains("1×16 matrix has a dimension below 2"));
}

#[test]
fn zero_matrix_is_analyzed_with_reasons_not_failed() {
    let recs = run(Normalization::Sigma, RenyiOrder::default());
    let z = recs.iter().find(|r| r.name == "zeros_f32").unwrap();
    assert_eq!(z.metrics.spectral_norm, 0.0);
    assert_eq!(z.metrics.numerical_rank, Some(0));
    assert!(z.metrics.entropy.is_none());
    assert!(z.metrics.undefined.iter().any(|u| u.field == "entropy" && u.reason.contains("zero matrix")));
}

#[test]
fn nan_and_inf_fail_per_tensor_and_the_rest_is_analyzed() {
    let plan = Plan::new(&[data("nonfinite.safetensors")], None).unwrap();
    let a = analyze(&plan, &AnalysisOptions::default(), &NoProgress);
    assert_eq!(a.matrices.len(), 1);
    assert_eq!(a.matrices[0].name, "good");
    let errors: Vec<(&str, &str)> = a.failed.iter().map(|f| (f.name.as_str(), f.error.as_str())).collect();
    assert_eq!(
        errors,
        [
            ("has_inf", "element [0, 2] is -inf; spectra of non-finite matrices are undefined"),
            ("has_nan", "element [3, 7] is NaN; spectra of non-finite matrices are undefined"),
        ]
    );
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let plan = Plan::new(&[data("reference.safetensors")], None).unwrap();
    let one =
        analyze(&plan, &AnalysisOptions { threads: Some(1), keep_spectrum: true, ..Default::default() }, &NoProgress);
    let four =
        analyze(&plan, &AnalysisOptions { threads: Some(4), keep_spectrum: true, ..Default::default() }, &NoProgress);
    assert_eq!(one.matrices, four.matrices);
}

/// `--quick` against the exact path on every reference matrix: exact where it should be exact
/// (`frobenius_norm`, `l12_norm`, the energy Rényi-2 entropy from ‖WᵀW‖_F), ≤1e-6 relative for the
/// Lanczos spectral norm and the stable rank (the contract; in practice ~1e-12), and nothing else.
#[test]
fn quick_mode_agrees_with_exact() {
    let plan = Plan::new(&[data("reference.safetensors")], None).unwrap();
    let metrics = MetricOptions { normalization: Normalization::Energy, q: RenyiOrder::default() };
    let exact = analyze(&plan, &AnalysisOptions { metrics, ..Default::default() }, &NoProgress);
    let quick = analyze(&plan, &AnalysisOptions { metrics, quick: true, ..Default::default() }, &NoProgress);
    assert_eq!(exact.matrices.len(), quick.matrices.len());
    let mut worst_sigma = 0.0f64;
    for (e, q) in exact.matrices.iter().zip(&quick.matrices) {
        assert_eq!(e.name, q.name);
        let (e, q, name) = (&e.metrics, &q.metrics, &e.name);
        let rel = |a: f64, b: f64| if b == 0.0 { a.abs() } else { (a - b).abs() / b.abs() };
        assert!(rel(q.frobenius_norm, e.frobenius_norm) < 1e-12, "{name} frobenius");
        assert!(rel(q.l12_norm, e.l12_norm) < 1e-15, "{name} l12");
        let rs = rel(q.spectral_norm, e.spectral_norm);
        assert!(rs < 1e-6, "{name} spectral_norm {} vs {} ({rs:e})", q.spectral_norm, e.spectral_norm);
        worst_sigma = worst_sigma.max(rs);
        match (q.stable_rank, e.stable_rank) {
            (Some(a), Some(b)) => assert!(rel(a, b) < 1e-6, "{name} stable_rank"),
            (None, None) => {}
            other => panic!("{name} stable_rank {other:?}"),
        }
        match (q.renyi_entropy, e.renyi_entropy) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-10 * b.abs().max(1.0), "{name} renyi {a} vs {b}"),
            (None, None) => {}
            other => panic!("{name} renyi_entropy {other:?}"),
        }
        for field in ["entropy", "kl_uniform", "nuclear_norm", "condition_number", "numerical_rank", "entropy_zscore"] {
            assert_eq!(q.get(field), None, "{name} {field} is not a quick metric");
            assert!(q.undefined.iter().any(|u| u.field == field), "{name} {field} has a reason");
        }
    }
    assert!(worst_sigma < 1e-10, "Lanczos converges well past the contract: {worst_sigma:e}");
}
