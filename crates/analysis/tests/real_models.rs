//! svdiag against NumPy f64 on real pretrained checkpoints (all-MiniLM-L6-v2, Silero VAD, g2p_en,
//! torchvision MobileNetV2, MTCNN, SmolLM2-135M in GGUF Q4_1/Q8_0), fetched
//! by `scripts/fetch-example-models.sh` into `$SVDIAG_MODELS` (default `/tmp/svdiag-models`).
//! Reference values: `tests/data/reference/real_models.py` → `real_models.json` (NumPy version and
//! each file's sha256 recorded). Contract: every metric within 1e-9 relative, except the condition
//! number of a numerically rank-deficient matrix (Silero's STFT basis), which is noise / σ_r ≈ 0 in
//! both implementations and is only checked to be huge.
//!
//! These tests need the downloaded models, so they are `#[ignore]`d in a plain `cargo test` (and
//! shown as ignored); `scripts/test.sh` fetches the models and runs them with `--include-ignored`,
//! where a missing model is a failure.

#![allow(clippy::print_stderr)]

use std::path::PathBuf;

use serde_json::Value;
use svdiag_analysis::{analyze, AnalysisOptions, NoProgress, Plan};
use svdiag_core::metrics::METRIC_FIELDS;
use svdiag_core::{MetricOptions, Normalization, RenyiOrder};

fn models_dir() -> PathBuf {
    std::env::var_os("SVDIAG_MODELS").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp/svdiag-models"))
}

fn check_model(model: &str) {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/reference/real_models.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let entry = &reference["models"][model];
    let path = models_dir().join(entry["file"].as_str().unwrap());
    assert!(path.is_file(), "{} is missing: run scripts/fetch-example-models.sh", path.display());
    let want = entry["matrices"].as_object().unwrap();
    let plan = Plan::new(&[path], None).unwrap();
    let mut worst = 0.0f64;
    for (norm, q, key) in [(Normalization::Sigma, "2", "sigma/q=2.0"), (Normalization::Energy, "inf", "energy/q=inf")] {
        let q: RenyiOrder = q.parse().unwrap();
        let options = AnalysisOptions { metrics: MetricOptions { normalization: norm, q }, ..Default::default() };
        let a = analyze(&plan, &options, &NoProgress);
        assert!(a.failed.is_empty(), "{:?}", a.failed);
        assert_eq!(a.matrices.len(), want.len(), "{model}: matrices analyzed vs NumPy's");
        for rec in &a.matrices {
            let w = &want[&rec.name][key];
            let r = rec.matrix_shape[0].min(rec.matrix_shape[1]) as u64;
            let rank_deficient = w["numerical_rank"].as_u64().unwrap() < r;
            for field in METRIC_FIELDS {
                let g = rec.metrics.get(field).unwrap();
                if field == "condition_number" && rank_deficient {
                    // σ_r is rounding noise in both implementations (NumPy may even return exactly 0)
                    assert!(g > 1e12, "{model} {}: condition number {g:e} of a rank-deficient matrix", rec.name);
                    continue;
                }
                let x = w[field].as_f64().unwrap();
                let rel = (g - x).abs() / x.abs();
                assert!(rel <= 1e-9, "{model} {} {field} ({key}): svdiag {g:e}, numpy {x:e}, rel {rel:e}", rec.name);
                worst = worst.max(rel);
            }
        }
    }
    eprintln!("{model}: worst relative difference from NumPy f64 over all metrics: {worst:e}");
}

#[test]
#[ignore = "needs the example models: scripts/test.sh fetches them and runs this"]
fn minilm_matches_numpy_f64() {
    check_model("minilm-l6-v2");
}

#[test]
#[ignore = "needs the example models: scripts/test.sh fetches them and runs this"]
fn silero_vad_matches_numpy_f64() {
    check_model("silero-vad");
}

#[test]
#[ignore = "needs the example models: scripts/test.sh fetches them and runs this"]
fn g2p_npz_matches_numpy_f64() {
    check_model("g2p-en");
}

#[test]
#[ignore = "needs the example models: scripts/test.sh fetches them and runs this"]
fn legacy_pytorch_pickles_match_numpy_f64() {
    for model in ["mobilenet-v2", "mtcnn-pnet", "mtcnn-rnet", "mtcnn-onet"] {
        check_model(model);
    }
}

#[test]
#[ignore = "needs the example models: scripts/test.sh fetches them and runs this"]
fn smollm2_gguf_matches_gguf_py_dequantization() {
    check_model("smollm2-135m");
}
