//! The same weights in different containers give the same metrics: every format's records are
//! compared, value for value, with the safetensors path (`tests/data/formats/generate.py` wrote
//! the other containers from `tests/data/reference/reference.safetensors`).

use std::path::{Path, PathBuf};

use svdiag_analysis::{analyze, AnalysisOptions, MatrixRecord, NoProgress, Plan};

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

#[test]
fn npz_stored_and_compressed_match_safetensors() {
    let reference = records(&data("reference/reference.safetensors"));
    for file in ["formats/reference.npz", "formats/reference_compressed.npz"] {
        let got = records(&data(file));
        // the npz holds the F64/F32/F16 tensors (NumPy has no bfloat16)
        let want: Vec<&MatrixRecord> = reference.iter().filter(|r| r.dtype.name() != "BF16").collect();
        assert_eq!(got.len(), want.len(), "{file}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.name, w.name);
            assert_same(g, w, &format!("{file}: {}", g.name));
        }
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
