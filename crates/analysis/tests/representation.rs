//! `svdiag repr`'s entropies against NumPy f64 and the vendi-score package
//! (tests/data/representation/generate.py; values committed).

use std::path::PathBuf;

use serde_json::Value;
use svdiag_core::representation::Representation;
use svdiag_formats::TensorData;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/representation").join(name)
}

fn load(name: &str) -> svdiag_core::Matrix {
    let src = svdiag_formats::open(&data(name)).unwrap();
    let info = &src.tensors()[0];
    let (n, d) = (info.shape[0], info.shape[1]);
    match src.read(0).unwrap() {
        TensorData::Bytes(b) => svdiag_core::Matrix::from_le_bytes(&b, info.dtype, n, d).unwrap(),
        TensorData::F64(v) => svdiag_core::Matrix::from_row_major(v, n, d).unwrap(),
        TensorData::Quantized(q) => svdiag_core::Matrix::from_row_major(q.to_vec(), n, d).unwrap(),
        TensorData::Spectrum(_) => panic!("files serve entries"),
    }
}

#[test]
fn representation_entropies_match_numpy_and_vendi_score() {
    let reference: Value = serde_json::from_str(&std::fs::read_to_string(data("reference.json")).unwrap()).unwrap();
    let top_k = reference["top_k"].as_u64().unwrap() as usize;
    let mut compared = 0;
    for (name, want) in reference["matrices"].as_object().unwrap() {
        let z = load(name);
        for (alpha_key, renyi) in want["matrix_renyi_entropy"].as_object().unwrap() {
            let alpha: f64 = if alpha_key == "inf" { f64::INFINITY } else { alpha_key.parse().unwrap() };
            let r = Representation::of(&z, alpha, top_k).unwrap();
            let checks = [
                ("von_neumann_entropy", r.von_neumann_entropy, &want["von_neumann_entropy"]),
                ("matrix_renyi_entropy", r.matrix_renyi_entropy, renyi),
                ("vendi_score", r.vendi_score, &want["vendi_score"]),
                ("vendi_score (NumPy)", r.vendi_score, &want["vendi_score_numpy"]),
                ("rankme", r.rankme, &want["rankme"]),
                ("truncated_entropy", r.truncated_entropy, &want["truncated_entropy"]),
            ];
            for (field, got, w) in checks {
                let w = w.as_f64().unwrap();
                assert!((got - w).abs() <= 1e-9 * w.abs(), "{name} α={alpha_key} {field}: svdiag {got}, reference {w}");
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 3 * 3 * 6);
}

#[test]
fn degenerate_representations_are_refused_with_reasons() {
    let zero = svdiag_core::Matrix::from_row_major(vec![0.0; 12], 3, 4).unwrap();
    assert!(Representation::of(&zero, 2.0, 5).unwrap_err().contains("all zeros"));
    let mut v = vec![1.0; 12];
    v[4..8].iter_mut().for_each(|x| *x = 0.0);
    let zero_row = svdiag_core::Matrix::from_row_major(v, 3, 4).unwrap();
    assert!(Representation::of(&zero_row, 2.0, 5).unwrap_err().contains("row 1"));
    assert!(Representation::of(&zero_row, -1.0, 5).is_err());
}
