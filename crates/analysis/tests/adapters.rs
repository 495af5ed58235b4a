//! PEFT LoRA adapters (`tests/data/adapters/generate.py`, PEFT's layout): every update ΔW = s·B·A,
//! analyzed from its factors, agrees with NumPy's f64 SVD of the formed product; the rank used is
//! reported; what is not a LoRA pair is named and skipped with its reason.

use std::path::{Path, PathBuf};

use svdiag_analysis::{analyze, Analysis, AnalysisOptions, NoProgress, Plan};

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/adapters").join(rel)
}

fn analysis(path: &Path) -> Analysis {
    let plan = Plan::new(&[path.to_path_buf()], None).unwrap();
    let a = analyze(&plan, &AnalysisOptions { keep_spectrum: true, ..Default::default() }, &NoProgress);
    assert!(a.failed.is_empty(), "{}: {:?}", path.display(), a.failed);
    a
}

fn reference() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(data("reference.json")).unwrap()).unwrap()
}

/// Every §2 metric but `condition_number` (infinite for a rank-deficient update; NumPy's is the ratio
/// of rounding noise) and `numerical_rank` (checked on its own).
fn fields() -> impl Iterator<Item = &'static str> {
    svdiag_core::metrics::METRIC_FIELDS.into_iter().filter(|f| !matches!(*f, "condition_number" | "numerical_rank"))
}

#[test]
fn every_update_matches_numpy_on_the_formed_product() {
    let reference = reference();
    let mut compared = 0;
    for (case, updates) in reference["cases"].as_object().unwrap() {
        let a = analysis(&data(case));
        for want in updates.as_array().unwrap() {
            let name = want["name"].as_str().unwrap();
            let got = a.matrices.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("{case}: {name} missing"));
            let label = format!("{case}: {name}");
            let shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
            assert_eq!(got.matrix_shape.to_vec(), shape, "{label}");
            assert_eq!(got.route.map(|r| r.name()), Some("factored"), "{label}");
            let adapter = got.metrics.adapter.unwrap_or_else(|| panic!("{label}: no LoRA fields"));
            // the singular values: the first r to 1e-9 of σ₁, the others exactly 0 (ΔW has rank ≤ r;
            // NumPy's SVD of the formed product returns rounding noise there)
            let sv = got.singular_values.as_ref().unwrap();
            let np: Vec<f64> = serde_json::from_value(want["singular_values"].clone()).unwrap();
            assert_eq!(sv.len(), np.len(), "{label}");
            for (i, (g, w)) in sv.iter().zip(&np).enumerate() {
                if i < adapter.rank {
                    assert!((g - w).abs() <= 1e-9 * np[0], "{label}: σ_{i} {g} vs {w}");
                } else {
                    assert_eq!(*g, 0.0, "{label}: σ_{i}");
                    assert!(*w <= 1e-12 * np[0], "{label}: NumPy's σ_{i} {w} is not rounding noise");
                }
            }
            for f in fields() {
                let (g, w) = (got.metrics.get(f).unwrap(), want["metrics"][f].as_f64().unwrap());
                assert!((g - w).abs() <= 1e-9 * w.abs().max(1e-300), "{label}: {f} {g} vs {w}");
            }
            assert_eq!(got.metrics.numerical_rank, Some(adapter.rank), "{label}");
            assert_eq!(want["metrics"]["numerical_rank"].as_u64(), Some(adapter.rank as u64), "{label}");
            // infinite for a rank-deficient update, with its reason
            assert!(got.metrics.undefined.iter().any(|u| u.field == "condition_number"), "{label}");
            // the rank used: effective and stable rank against r; energy ranks from NumPy's values
            let er = got.metrics.effective_rank.unwrap() / adapter.rank as f64;
            assert_eq!(adapter.effective_rank_used, Some(er), "{label}");
            let energy: Vec<f64> = np.iter().map(|v| v * v).collect();
            let total: f64 = energy.iter().sum();
            for (share, k) in [0.90, 0.95, 0.99].into_iter().zip(adapter.energy_rank) {
                let kept: f64 = energy[..k].iter().sum();
                let short: f64 = energy[..k - 1].iter().sum();
                assert!(
                    kept >= share * total * (1.0 - 1e-12) && short < share * total,
                    "{label}: energy rank {k} at {share}"
                );
            }
            assert!(got.metrics.null.is_none(), "{label}: an update takes no Gaussian null");
            compared += 1;
        }
    }
    assert_eq!(compared, 11);
}

#[test]
fn scales_follow_the_config_and_its_patterns() {
    let a = analysis(&data("lora"));
    let scale = |name: &str| a.matrices.iter().find(|r| r.name == name).unwrap().metrics.adapter.unwrap();
    // r = 4, alpha = 8: s = 2; rank_pattern gives layer 1's q_proj r = 2 (s = 4); alpha_pattern
    // gives every down_proj alpha 3 (s = 3/4)
    assert_eq!(
        (scale("model.layers.0.self_attn.q_proj.weight").rank, scale("model.layers.0.self_attn.q_proj.weight").scale),
        (4, 2.0)
    );
    assert_eq!(
        (scale("model.layers.1.self_attn.q_proj.weight").rank, scale("model.layers.1.self_attn.q_proj.weight").scale),
        (2, 4.0)
    );
    assert_eq!(scale("model.layers.1.mlp.down_proj.weight").scale, 0.75);
    let rs = analysis(&data("rslora"));
    assert!(rs.matrices.iter().all(|r| r.metrics.adapter.unwrap().scale == 16.0 / 8f64.sqrt()));
    // the update is named after the weight it changes, so it has that weight's role and layer
    let q = a.matrices.iter().find(|r| r.name == "model.layers.1.self_attn.q_proj.weight").unwrap();
    assert_eq!((q.identity.role.name(), q.identity.layer), ("attn_q", Some(1)));
    let conv = a.matrices.iter().find(|r| r.name == "model.conv.weight").unwrap();
    assert_eq!((conv.shape.clone(), conv.matrix_shape, conv.reshaped), (vec![8, 3, 3, 3], [8, 27], true));
    let emb = a.matrices.iter().find(|r| r.name == "model.embed_tokens.weight").unwrap();
    assert_eq!(emb.matrix_shape, [64, 24]);
    let gpt2 = analysis(&data("gpt2"));
    assert_eq!(gpt2.matrices[0].matrix_shape, [32, 96], "fan_in_fan_out: ΔW is stored [in, out]");
    // a full matrix saved with the adapter is a weight like any other
    let score = a.matrices.iter().find(|r| r.name == "base_model.model.score.weight").unwrap();
    assert!(score.metrics.adapter.is_none() && score.route.map(|r| r.name()) != Some("factored"));
}

#[test]
fn what_is_not_a_lora_pair_is_named_and_skipped() {
    let reason = |a: &Analysis, name: &str| {
        a.skipped
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} not skipped: {:?}", a.skipped))
            .reason
            .clone()
    };
    let a = analysis(&data("lora"));
    let p = "base_model.model.model.layers.1.";
    assert!(reason(&a, &format!("{p}mlp.up_proj.lora_A.weight")).contains("without its partner"));
    for f in ["lora_A", "lora_B"] {
        assert!(reason(&a, &format!("{p}self_attn.k_proj.{f}.weight")).contains("ranks differ"));
    }
    assert_eq!((a.matrices.len(), a.skipped.len()), (8, 3));
    let dora = analysis(&data("dora"));
    assert!(reason(&dora, "base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector")
        .starts_with("DoRA magnitude vector"));
    assert_eq!(dora.matrices.len(), 1);
    assert!(dora.warnings.iter().any(|w| w.contains("DoRA")));
    let ia3 = analysis(&data("ia3"));
    assert!(ia3.matrices.is_empty() && ia3.skipped.len() == 2);
    assert!(ia3.skipped.iter().all(|s| s.reason.contains("adapter of type IA3")));
    let bare = analysis(&data("noconfig"));
    assert!(bare.matrices.is_empty() && bare.skipped.len() == 2);
    assert!(bare.skipped.iter().all(|s| s.reason.contains("without an adapter_config.json")));
    // the weights file named directly finds the config beside it
    let file = analysis(&data("lora/adapter_model.safetensors"));
    assert_eq!(file.matrices.len(), 8);
}

#[test]
fn a_broken_config_is_an_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("svdiag-adapter-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(data("lora/adapter_model.safetensors"), dir.join("adapter_model.safetensors")).unwrap();
    std::fs::write(dir.join("adapter_config.json"), r#"{"peft_type": "LORA", "lora_alpha": 8}"#).unwrap();
    let e = Plan::new(std::slice::from_ref(&dir), None).err().unwrap().to_string();
    assert!(e.contains("adapter_config.json") && e.contains("no r"), "{e}");
    std::fs::remove_file(dir.join("adapter_model.safetensors")).unwrap();
    std::fs::write(dir.join("adapter_config.json"), r#"{"peft_type": "LORA", "r": 4, "lora_alpha": 8}"#).unwrap();
    let e = Plan::new(std::slice::from_ref(&dir), None).err().unwrap().to_string();
    assert!(e.contains("no adapter_model.safetensors or adapter_model.bin"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--base`: W from the base model and W + ΔW formed in f64 match NumPy's SVD of the same matrices;
/// an update without its base weight is named in a warning.
#[test]
fn merged_into_the_base_model_matches_numpy() {
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("merged_reference.json")).unwrap()).unwrap();
    let options = AnalysisOptions { keep_spectrum: true, ..Default::default() };
    let mut compared = 0;
    for (case, modules) in reference["cases"].as_object().unwrap() {
        let adapter = Plan::new(&[data(case)], None).unwrap();
        let base_path = data(&format!("{case}_base"));
        let base = Plan::new(std::slice::from_ref(&base_path), None).unwrap();
        let m = svdiag_analysis::merge::merge(&adapter, &base, &base_path);
        let modules = modules.as_array().unwrap();
        assert_eq!(m.base.tensors().len(), modules.len(), "{case}");
        if case == "lora" {
            assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
            assert!(m.warnings[0].contains("no weight 'model.layers.1.mlp.down_proj.weight'"), "{:?}", m.warnings);
        }
        let plan_a = Plan::from_sources(vec![m.base], vec![], None).unwrap();
        let plan_b = Plan::from_sources(vec![m.merged], vec![], None).unwrap();
        for (side, plan) in [("base", &plan_a), ("merged", &plan_b)] {
            let a = analyze(plan, &options, &NoProgress);
            assert!(a.failed.is_empty(), "{case} {side}: {:?}", a.failed);
            for module in modules {
                let want = &module[side];
                let name = want["name"].as_str().unwrap();
                let got = a.matrices.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("{case} {side}: {name}"));
                let label = format!("{case} {side}: {name}");
                let shape: Vec<usize> = serde_json::from_value(want["shape"].clone()).unwrap();
                assert_eq!(got.matrix_shape.to_vec(), shape, "{label}");
                let np: Vec<f64> = serde_json::from_value(want["singular_values"].clone()).unwrap();
                for (g, w) in got.singular_values.as_ref().unwrap().iter().zip(&np) {
                    assert!((g - w).abs() <= 1e-9 * np[0], "{label}: {g} vs NumPy {w}");
                }
                for f in svdiag_core::metrics::METRIC_FIELDS {
                    let (Some(g), Some(w)) = (got.metrics.get(f), want["metrics"][f].as_f64()) else { continue };
                    assert!((g - w).abs() <= 1e-9 * w.abs().max(1e-300), "{label}: {f} {g} vs {w}");
                }
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 2 * (6 + 1));
}
