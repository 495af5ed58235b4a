//! The HTSR metrics against WeightWatcher 0.7.7 itself (values from
//! tests/data/reference/weightwatcher_reference.py): the same α to 1e-6, by both spectrum routes.

use std::path::PathBuf;

use serde_json::Value;
use svdiag_analysis::{analyze, AnalysisOptions, Method, NoProgress, Plan};
use svdiag_core::baselines::htsr::HTSR_FIELDS;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/reference").join(name)
}

#[test]
fn htsr_fields_match_weightwatcher() {
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(data("weightwatcher.json")).unwrap()).unwrap();
    let want = reference["matrices"].as_object().unwrap();
    assert_eq!(reference["versions"]["weightwatcher"], "0.7.7");
    for method in [Method::Auto, Method::Svd] {
        let plan = Plan::new(&[data("htsr.safetensors")], None).unwrap();
        let a = analyze(&plan, &AnalysisOptions { method, ..Default::default() }, &NoProgress);
        assert_eq!(a.matrices.len(), want.len());
        for rec in &a.matrices {
            let w = &want[&rec.name];
            for field in HTSR_FIELDS {
                let got = rec.metrics.get(field).unwrap_or_else(|| panic!("{} {field} missing", rec.name));
                let x = w[field].as_f64().unwrap();
                let tol = if field == "num_tail" { 0.0 } else { 1e-6 * x.abs().max(1e-12) };
                assert!((got - x).abs() <= tol, "{} {field} via {method:?}: svdiag {got}, WeightWatcher {x}", rec.name);
            }
        }
    }
}
