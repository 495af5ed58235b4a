//! `svdiag ablate`: the written matrices have exactly the expected spectrum, every other tensor is
//! byte-identical, and bad requests fail with a clear message.

use std::path::Path;

use assert_cmd::Command;
use serde_json::{json, Value};
use svdiag_core::{Dtype, Matrix, Spectrum};
use svdiag_formats::{TensorData, TensorSource};

/// `W = U[:, :r]·diag(s)·V[:, :r]ᵀ` with Householder `U`, `V` (exact orthogonal factors).
fn known(m: usize, n: usize, s: &[f64]) -> Vec<f64> {
    let house = |k: usize, shift: f64| {
        let v: Vec<f64> = (0..k).map(|i| 1.0 + ((i as f64 + shift) * 0.7).sin()).collect();
        let vv: f64 = v.iter().map(|x| x * x).sum();
        move |i: usize, j: usize| f64::from(u8::from(i == j)) - 2.0 * v[i] * v[j] / vv
    };
    let (u, v) = (house(m, 0.3), house(n, 1.9));
    (0..m * n).map(|idx| (0..s.len()).map(|k| u(idx / n, k) * s[k] * v(idx % n, k)).sum()).collect()
}

fn bytes(values: &[f64], dtype: Dtype) -> Vec<u8> {
    dtype.narrow_le(values).unwrap()
}

fn write(path: &Path, tensors: &[(&str, &str, Vec<usize>, Vec<u8>)]) {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, dtype, shape, b) in tensors {
        header.insert(
            name.to_string(),
            json!({"dtype": dtype, "shape": shape, "data_offsets": [data.len(), data.len() + b.len()]}),
        );
        data.extend_from_slice(b);
    }
    header.insert("__metadata__".into(), json!({"format": "pt"}));
    let h = serde_json::to_vec(&Value::Object(header)).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend_from_slice(&data);
    std::fs::write(path, out).unwrap();
}

fn spectrum(src: &dyn TensorSource, name: &str, m: usize, n: usize) -> Vec<f64> {
    let i = src.tensors().iter().position(|t| t.name == name).unwrap();
    let TensorData::Bytes(b) = src.read(i).unwrap() else { panic!() };
    let w = Matrix::from_le_bytes(&b, src.tensors()[i].dtype, m, n).unwrap();
    Spectrum::of(&w).unwrap().values().to_vec()
}

#[test]
fn ablated_spectra_are_exact_and_the_rest_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let s_down: Vec<f64> = (0..40).map(|i| 10.0 * 0.9f64.powi(i)).collect();
    let s_o: Vec<f64> = (0..30).map(|i| 5.0 - 0.1 * i as f64).collect();
    let down = known(40, 60, &s_down);
    let o = known(30, 30, &s_o);
    let q = known(30, 30, &s_o);
    let input = dir.path().join("in.safetensors");
    let tensors = vec![
        ("model.layers.0.mlp.down_proj.weight", "F64", vec![40, 60], bytes(&down, Dtype::F64)),
        ("model.layers.0.self_attn.o_proj.weight", "F32", vec![30, 30], bytes(&o, Dtype::F32)),
        ("model.layers.0.self_attn.q_proj.weight", "BF16", vec![30, 30], bytes(&q, Dtype::BF16)),
        ("model.layers.0.mlp.down_proj.bias", "F32", vec![40], bytes(&[0.5; 40], Dtype::F32)),
        ("position_ids", "I64", vec![4], (0..4i64).flat_map(|v| v.to_le_bytes()).collect()),
    ];
    write(&input, &tensors);
    let output = dir.path().join("out.safetensors");
    let out = Command::cargo_bin("svdiag")
        .unwrap()
        .args(["ablate", "in.safetensors", "--decile", "3", "--roles", "mlp_down,attn_o", "-o", "out.safetensors"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("2 matrices ablated (decile 3), 3 tensors copied unchanged"), "{stderr}");

    let src = svdiag_formats::open(&output).unwrap();
    let orig = svdiag_formats::open(&input).unwrap();
    // same names, dtypes, shapes, order
    let key = |s: &dyn TensorSource| {
        s.tensors().iter().map(|t| (t.name.clone(), t.dtype, t.shape.clone())).collect::<Vec<_>>()
    };
    assert_eq!(key(src.as_ref()), key(orig.as_ref()));
    // untouched tensors: byte-identical
    for name in ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.down_proj.bias", "position_ids"] {
        let get = |s: &dyn TensorSource| {
            let i = s.tensors().iter().position(|t| t.name == name).unwrap();
            match s.read(i).unwrap() {
                TensorData::Bytes(b) => b.into_owned(),
                _ => panic!("safetensors serves bytes"),
            }
        };
        assert_eq!(get(src.as_ref()), get(orig.as_ref()), "{name}");
    }
    // decile 3 of 40 values = ranks 8..12, of 30 = ranks 6..9
    let expect = |s: &[f64], zero: std::ops::Range<usize>| {
        let mut e: Vec<f64> = s.iter().enumerate().map(|(i, &v)| if zero.contains(&i) { 0.0 } else { v }).collect();
        e.sort_by(|a, b| b.total_cmp(a));
        e
    };
    let got = spectrum(src.as_ref(), "model.layers.0.mlp.down_proj.weight", 40, 60);
    for (g, w) in got.iter().zip(expect(&s_down, 8..12)) {
        assert!((g - w).abs() <= 1e-12 * s_down[0], "F64: {g} vs {w}");
    }
    // F32: the write rounds each entry to f32 (relative 6e-8), which moves σ by ≲ ‖E‖₂
    let got = spectrum(src.as_ref(), "model.layers.0.self_attn.o_proj.weight", 30, 30);
    for (g, w) in got.iter().zip(expect(&s_o, 6..9)) {
        assert!((g - w).abs() <= 3e-6 * s_o[0], "F32: {g} vs {w}");
    }
}

#[test]
fn bad_requests_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let o = Command::cargo_bin("svdiag").unwrap().args(args).current_dir(dir.path()).output().unwrap();
        (o.status.code().unwrap(), String::from_utf8(o.stderr).unwrap())
    };
    write(&dir.path().join("m.safetensors"), &[("w", "F32", vec![4, 4], bytes(&[1.0; 16], Dtype::F32))]);
    let (code, err) = run(&["ablate", "m.safetensors", "--decile", "11", "-o", "x.safetensors"]);
    assert_eq!(code, 2, "{err}");
    let (code, err) = run(&["ablate", "m.safetensors", "--decile", "2", "--roles", "mlp", "-o", "x.safetensors"]);
    assert!(code == 2 && err.contains("unknown role 'mlp'"), "{err}");
    let (code, err) = run(&["ablate", "m.safetensors", "--decile", "2", "-o", "m.safetensors"]);
    assert!(code == 2 && err.contains("is the input file"), "{err}");
    std::fs::write(dir.path().join("bad.safetensors"), b"\x05\x00\x00\x00\x00\x00\x00\x00{}").unwrap();
    let (code, err) = run(&["ablate", "bad.safetensors", "--decile", "2", "-o", "y.safetensors"]);
    assert!(code == 2 && err.contains("bad.safetensors"), "{err}");
    assert!(!dir.path().join("y.safetensors").exists(), "no partial output");
    // another format: said plainly
    let npy =
        [b"\x93NUMPY\x01\x00".as_slice(), &[118, 0], b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"]
            .concat();
    let mut npy = npy;
    npy.resize(10 + 118, b' ');
    *npy.last_mut().unwrap() = b'\n';
    npy.extend_from_slice(&[0u8; 16]);
    std::fs::write(dir.path().join("w.npy"), npy).unwrap();
    let (code, err) = run(&["ablate", "w.npy", "--decile", "2", "-o", "z.safetensors"]);
    assert!(code == 2 && err.contains("ablate copies safetensors checkpoints, and this is a npy file"), "{err}");
}
