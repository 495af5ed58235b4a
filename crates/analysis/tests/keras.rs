//! Keras weights (`tests/data/keras/`): the fixtures written with h5py (`generate.py`) and the files
//! written by Keras itself (`make_real.py`, under `real/`) analyze to the singular values that h5py +
//! NumPy's f64 SVD give for every weight matrix, named as Keras names them; optimizer state and
//! per-head biases are skipped with their reasons; the same weights as safetensors give bit-identical
//! metrics.

use std::path::{Path, PathBuf};

use svdiag_analysis::{analyze, Analysis, AnalysisOptions, NoProgress, Plan};

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/keras").join(rel)
}

fn analysis(path: &Path) -> Analysis {
    let plan = Plan::new(&[path.to_path_buf()], None).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let a = analyze(&plan, &AnalysisOptions { keep_spectrum: true, ..Default::default() }, &NoProgress);
    assert!(a.failed.is_empty(), "{}: {:?}", path.display(), a.failed);
    a
}

fn check_against(reference: &Path, dir: &str) -> usize {
    let reference: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(reference).unwrap()).unwrap();
    let mut compared = 0;
    for (file, matrices) in reference["files"].as_object().unwrap() {
        let a = analysis(&data(&format!("{dir}{file}")));
        let matrices = matrices.as_array().unwrap();
        let names: Vec<&str> = a.matrices.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(a.matrices.len(), matrices.len(), "{file}: the weight matrices, no more: {names:?}");
        for want in matrices {
            let name = want["name"].as_str().unwrap();
            let got =
                a.matrices.iter().find(|r| r.name == name).unwrap_or_else(|| panic!("{file}: {name} in {names:?}"));
            let shape: Vec<usize> = serde_json::from_value(want["matrix_shape"].clone()).unwrap();
            assert_eq!(got.matrix_shape.to_vec(), shape, "{file}: {name}");
            let np: Vec<f64> = serde_json::from_value(want["singular_values"].clone()).unwrap();
            let sv = got.singular_values.as_ref().unwrap();
            assert_eq!(sv.len(), np.len(), "{file}: {name}");
            for (i, (g, w)) in sv.iter().zip(&np).enumerate() {
                assert!((g - w).abs() <= 1e-9 * np[0], "{file}: {name}: σ_{i} {g} vs NumPy {w}");
            }
            compared += 1;
        }
    }
    compared
}

#[test]
fn h5py_written_layouts_match_numpy() {
    assert!(check_against(&data("reference.json"), "") >= 20);
}

#[test]
fn files_written_by_keras_match_h5py_and_numpy() {
    assert_eq!(check_against(&data("real/reference.json"), "real/"), 30);
}

#[test]
fn optimizer_state_and_per_head_biases_are_skipped_with_their_reasons() {
    for file in ["keras3.weights.h5", "model.keras", "real/model.keras", "real/legacy.h5"] {
        let plan = Plan::new(&[data(file)], None).unwrap();
        let optimizer = plan.skipped.iter().filter(|s| s.reason.starts_with("optimizer state")).count();
        assert!(optimizer >= 10, "{file}: {optimizer} optimizer tensors skipped");
        assert!(plan
            .skipped
            .iter()
            .any(|s| s.name.ends_with("query/bias") && s.reason.contains("one vector per head")));
        assert!(plan.tasks.iter().all(|t| !plan.info(t).name.starts_with("optimizer")), "{file}");
    }
}

#[test]
fn the_keras_roles_and_matrix_conventions() {
    let a = analysis(&data("real/model.keras"));
    let find = |n: &str| a.matrices.iter().find(|r| r.name == n).unwrap_or_else(|| panic!("{n}"));
    assert_eq!(find("mha/query/kernel").identity.role.name(), "attn_q");
    assert_eq!(find("mha/attention_output/kernel").identity.role.name(), "attn_o");
    assert_eq!(find("tokens/embeddings").identity.role.name(), "embedding");
    assert_eq!(find("conv/kernel").identity.role.name(), "conv");
    // conv (k, in, out) -> [k·in, out]; attention output (heads, head_dim, d) -> [heads·head_dim, d]
    assert_eq!((find("conv/kernel").shape.clone(), find("conv/kernel").matrix_shape), (vec![3, 16, 16], [48, 16]));
    let o = find("mha/attention_output/kernel");
    assert_eq!((o.shape.clone(), o.matrix_shape, o.reshaped), (vec![2, 8, 16], [16, 16], true));
    assert_eq!(find("head/kernel").dtype.name(), "BF16");
    assert_eq!(find("mlp/kernel").dtype.name(), "F16");
}

#[test]
fn the_same_weights_as_safetensors_give_bit_identical_metrics() {
    let keras = analysis(&data("keras3.weights.h5"));
    let twin = analysis(&data("twin.safetensors"));
    assert_eq!(keras.matrices.len(), twin.matrices.len());
    for k in &keras.matrices {
        let t = twin.matrices.iter().find(|t| t.name == k.name).unwrap_or_else(|| panic!("{}", k.name));
        assert_eq!(k.matrix_shape, t.matrix_shape, "{}", k.name);
        assert_eq!(k.dtype, t.dtype, "{}", k.name);
        assert_eq!(k.singular_values, t.singular_values, "{}", k.name);
        for f in svdiag_core::metrics::METRIC_FIELDS {
            let (a, b) = (k.metrics.get(f), t.metrics.get(f));
            assert!(a.map(f64::to_bits) == b.map(f64::to_bits), "{}: {f} {a:?} vs {b:?}", k.name);
        }
    }
}

#[test]
fn plain_hdf5_datasets_are_named_by_path_big_endian_and_compact_included() {
    let a = analysis(&data("plain.h5"));
    let names: Vec<&str> = a.matrices.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"weights/big_endian") && names.contains(&"weights/compact"), "{names:?}");
}

#[test]
fn split_gates_takes_the_keras_lstm_gates_along_the_columns() {
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("real/reference.json")).unwrap()).unwrap();
    let mut plan = Plan::new(&[data("real/model.weights.h5")], None).unwrap();
    assert_eq!(plan.split_gates(), 8, "4 gates of the kernel and 4 of the recurrent kernel");
    let a = analyze(&plan, &AnalysisOptions { keep_spectrum: true, ..Default::default() }, &NoProgress);
    assert!(a.failed.is_empty(), "{:?}", a.failed);
    let gates = reference["gates"].as_array().unwrap();
    assert_eq!(gates.len(), 8);
    for want in gates {
        let (name, gate) = (want["name"].as_str().unwrap(), want["gate"].as_str().unwrap());
        let got = a.matrices.iter().find(|r| r.name == name && r.gate == Some(gate)).unwrap();
        let shape: Vec<usize> = serde_json::from_value(want["matrix_shape"].clone()).unwrap();
        assert_eq!(got.matrix_shape.to_vec(), shape, "{name}[{gate}]");
        let np: Vec<f64> = serde_json::from_value(want["singular_values"].clone()).unwrap();
        for (g, w) in got.singular_values.as_ref().unwrap().iter().zip(&np) {
            assert!((g - w).abs() <= 1e-9 * np[0], "{name}[{gate}]: {g} vs NumPy {w}");
        }
    }
}
