//! The same weights in different containers give the same metrics: every format's records are
//! compared, value for value, with the safetensors path (`tests/data/formats/generate.py` wrote
//! the other containers from `tests/data/reference/reference.safetensors`).

use std::path::{Path, PathBuf};

use svdiag_analysis::{analyze, AnalysisOptions, MatrixRecord, NoProgress, Plan};
use svdiag_core::{Matrix, MetricOptions, Metrics};

fn data(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data").join(rel)
}

fn records(path: &Path) -> Vec<MatrixRecord> {
    let plan = Plan::new(&[path.to_path_buf()], None).unwrap();
    let a = analyze(&plan, &AnalysisOptions { keep_spectrum: true, ..Default::default() }, &NoProgress);
    assert!(a.failed.is_empty(), "{}: {:?}", path.display(), a.failed);
    a.matrices
}

/// Same values, same dtype: the spectra and metrics are identical, not merely close.
fn assert_same(got: &MatrixRecord, want: &MatrixRecord, name: &str) {
    assert_eq!(got.dtype, want.dtype, "{name}");
    assert_eq!(got.shape, want.shape, "{name}");
    assert_eq!(got.matrix_shape, want.matrix_shape, "{name}");
    assert_eq!(got.metrics, want.metrics, "{name}");
    assert_eq!(got.singular_values, want.singular_values, "{name}");
}

/// Every matrix of `file` is bit-identical to the safetensors matrix of the same name, and `file`
/// holds all of them (`holds_bf16 = false` for containers without bfloat16).
fn assert_matches_safetensors(file: &str, holds_bf16: bool) {
    let reference = records(&data("reference/reference.safetensors"));
    let want: Vec<&MatrixRecord> = reference.iter().filter(|r| holds_bf16 || r.dtype.name() != "BF16").collect();
    let got = records(&data(file));
    assert_eq!(got.len(), want.len(), "{file}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.name, w.name, "{file}");
        assert_same(g, w, &format!("{file}: {}", g.name));
    }
}

#[test]
fn npz_and_pytorch_match_safetensors() {
    // these hold the F64/F32/F16 tensors (NumPy has no bfloat16)
    for file in [
        "formats/reference.npz",
        "formats/reference_compressed.npz",
        "formats/reference_zip.pt",
        "formats/reference_legacy.pt",
    ] {
        assert_matches_safetensors(file, false);
    }
}

#[test]
fn npy_c_fortran_and_big_endian_match_safetensors() {
    let reference = records(&data("reference/reference.safetensors"));
    let find = |name: &str| reference.iter().find(|r| r.name == name).unwrap();
    for (file, name) in [
        ("formats/gauss_f32.npy", "gauss_f32"),
        ("formats/gauss_f64_fortran.npy", "gauss_f64"),
        ("formats/conv_f32_bigendian.npy", "conv_f32"),
    ] {
        let got = records(&data(file));
        assert_eq!(got.len(), 1);
        // l12_norm depends on orientation: equality proves the Fortran/big-endian data was reordered right
        assert_same(&got[0], find(name), file);
    }
}

/// A training checkpoint: the state dict under "model" beside plain data (an argparse namespace,
/// numbers, a list), a transposed view and two tensors sharing a storage.
#[test]
fn nested_pytorch_checkpoint_with_views_and_shared_storage() {
    let reference = records(&data("reference/reference.safetensors"));
    let g = reference.iter().find(|r| r.name == "gauss_f32").unwrap();
    let got = records(&data("formats/nested_checkpoint.pt"));
    let names: Vec<&str> = got.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["model.gauss_f32", "model.gauss_f32_T", "model.shared_a", "model.shared_b"]);
    assert_same(&got[0], g, "model.gauss_f32");
    assert_same(&got[2], g, "model.shared_a");

    // the raw values of gauss_f32, to build the expected views here
    let plan = Plan::new(&[data("formats/gauss_f32.npy")], None).unwrap();
    let svdiag_formats::TensorData::Bytes(bytes) = plan.sources[0].read(0).unwrap() else { panic!() };
    let w: Vec<f64> = bytes.chunks_exact(4).map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap()))).collect();
    let check = |rec: &MatrixRecord, values: Vec<f64>, rows: usize, cols: usize| {
        // the same computation (the default guarded Gram route) on the expected matrix
        let m = Matrix::from_row_major(values, rows, cols).unwrap();
        let out = svdiag_core::linalg::gram::spectrum(&m, &MetricOptions::default()).unwrap();
        assert_eq!(rec.matrix_shape, [rows, cols], "{}", rec.name);
        // the p-values under the null are the analysis's, not the spectrum's
        let mut got = rec.metrics.clone();
        got.null = None;
        got.undefined.retain(|u| !svdiag_core::baselines::null::NULL_FIELDS.contains(&u.field));
        assert_eq!(got, Metrics::compute(&out.spectrum, out.l12_norm, &MetricOptions::default()), "{}", rec.name);
    };
    // the transpose, gathered from a (1, 48)-strided view
    let t: Vec<f64> = (0..48).flat_map(|i| (0..64).map(move |j| (i, j))).map(|(i, j)| w[j * 48 + i]).collect();
    check(&got[1], t, 48, 64);
    // storage = w ++ w[..10]; shared_b = storage[10..10 + 3072] as 32×96
    let storage: Vec<f64> = w.iter().chain(&w[..10]).copied().collect();
    check(&got[3], storage[10..10 + 3072].to_vec(), 32, 96);
}

/// GGUF stores dimensions reversed; the same weights must come out in the same orientation
/// (`l12_norm`, the sum of column norms, would differ otherwise), bit for bit.
#[test]
fn gguf_plain_types_match_safetensors_in_orientation_and_value() {
    assert_matches_safetensors("formats/reference.gguf", true);
}

/// Every quantization type against the `gguf` package's dequantization (metrics computed by NumPy
/// in f64 from its output, `tests/data/formats/gguf_reference.json`): within 1e-9 relative.
#[test]
fn gguf_quantizations_match_gguf_py() {
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("formats/gguf_reference.json")).unwrap()).unwrap();
    let want = reference["tensors"].as_object().unwrap();
    let got = records(&data("formats/quants.gguf"));
    assert_eq!(got.len(), want.len());
    for rec in &got {
        let w = &want[&rec.name];
        assert_eq!(rec.dtype.name(), w["type"], "{}", rec.name);
        let w = &w["sigma/q=2.0"];
        for field in svdiag_core::metrics::METRIC_FIELDS {
            let (g, x) = (rec.metrics.get(field).unwrap(), w[field].as_f64().unwrap());
            assert!((g - x).abs() <= 1e-9 * x.abs(), "{} {field}: svdiag {g:e}, gguf-py + numpy {x:e}", rec.name);
        }
    }
}

/// ONNX: raw_data, float_data, double_data, int32_data (FLOAT16 bits), BFLOAT16, a Constant node,
/// and external data, all bit-identical to the safetensors path.
#[test]
fn onnx_every_storage_matches_safetensors() {
    assert_matches_safetensors("formats/reference.onnx", true);
    let reference = records(&data("reference/reference.safetensors"));
    let external = records(&data("formats/external.onnx"));
    assert_eq!(external.len(), 3);
    for g in &external {
        let w = reference.iter().find(|r| r.name == g.name).unwrap();
        assert_same(g, w, &format!("external.onnx: {}", g.name));
    }
}

/// A framework checkpoint with a plain-data class svdiag does not know: refused by default, with a
/// hint; read (the class as an opaque value, never called) when the user names it.
#[test]
fn unknown_pickle_globals_are_refused_unless_declared_inert() {
    let path = data("formats/lightning_like.ckpt");
    let Err(e) = Plan::new(std::slice::from_ref(&path), None) else { panic!("accepted an unknown global") };
    let msg = e.to_string();
    assert!(msg.contains("lightning.fabric.utilities.data.AttributeDict"), "{msg}");
    assert!(msg.contains("--allow-global"), "{msg}");
    let read =
        svdiag_formats::ReadOptions { allow_globals: vec!["lightning.fabric.utilities.data.AttributeDict".into()] };
    let plan = Plan::with_options(&[path], None, &read).unwrap();
    let a = analyze(&plan, &AnalysisOptions::default(), &NoProgress);
    let names: Vec<&str> = a.matrices.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["state_dict.w"]);
}
