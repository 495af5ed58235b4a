//! The two-stage reductions against NumPy: the Gram route at orders that take the two-stage
//! tridiagonalization (≥ 1536) and the direct SVD at orders that take the two-stage
//! bidiagonalization (≥ 256), on hashed matrices that `tests/data/reference/two_stage.py`
//! rebuilds bit for bit (its NumPy version is recorded in `two_stage.json`).

use serde_json::Value;
use svdiag_core::linalg::gram::spectrum;
use svdiag_core::metrics::METRIC_FIELDS;
use svdiag_core::{Matrix, MetricOptions, Metrics, RenyiOrder, Spectrum};

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/reference/two_stage.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The entries of `two_stage.py`: a hash of (seed, i, j) scaled exactly to [−0.5, 0.5), column `j`
/// times `2^−⌊grade·j/cols⌋`.
fn entries(rows: usize, cols: usize, seed: u64, grade: u64) -> Matrix {
    let mut data = Vec::with_capacity(rows * cols);
    for i in 0..rows as u64 {
        for j in 0..cols as u64 {
            let mut z = i
                .wrapping_mul(1_000_003)
                .wrapping_add(j.wrapping_mul(998_244_353))
                .wrapping_add(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let shift = (grade * j / cols as u64) as i32;
            data.push(((z >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2f64.powi(-shift));
        }
    }
    Matrix::from_row_major(data, rows, cols).unwrap()
}

fn check(name: &str, case: &Value, got: &Spectrum, l12: f64, route: &str) {
    let want: Vec<f64> = case["singular_values"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(got.values().len(), want.len(), "{name}");
    for (g, w) in got.values().iter().zip(&want) {
        assert!((g - w).abs() <= 1e-12 * want[0], "{name} ({route}): σ {g} vs NumPy {w}");
    }
    for (key, metrics) in case["metrics"].as_object().unwrap() {
        let (normalization, q) = key.split_once('/').unwrap();
        let options = MetricOptions {
            normalization: normalization.parse().unwrap(),
            q: RenyiOrder::new(q.parse().unwrap()).unwrap(),
        };
        let ours = Metrics::compute(got, l12, &options);
        for field in METRIC_FIELDS {
            let a = ours.get(field).unwrap();
            let b = metrics[field].as_f64().unwrap();
            assert!((a - b).abs() <= 1e-9 * b.abs(), "{name} ({route}) {key}: {field} {a} vs NumPy {b}");
        }
    }
}

#[test]
fn two_stage_routes_match_numpy() {
    let r = reference();
    let mut routes = Vec::new();
    for (name, case) in r["cases"].as_object().unwrap() {
        let field = |k: &str| case[k].as_u64().unwrap();
        let w = entries(field("rows") as usize, field("cols") as usize, field("seed"), field("grade"));
        // the entries are NumPy's, bit for bit
        let values = w.transposed_view();
        let sum: f64 = (0..w.rows()).map(|i| (0..w.cols()).map(|j| values[(j, i)]).sum::<f64>()).sum();
        assert!((sum - case["checksum"].as_f64().unwrap()).abs() <= 1e-9, "{name}: checksum {sum}");
        // (serde_json's float parsing may miss the last bit of Python's shortest repr)
        let corner = values[(w.cols() - 1, w.rows() - 1)];
        assert!((corner - case["corner"].as_f64().unwrap()).abs() <= 1e-16, "{name}: corner {corner}");
        if name.starts_with("gram") {
            let out = spectrum(&w, &MetricOptions::default()).unwrap();
            routes.push(out.route.name());
            check(name, case, &out.spectrum, out.l12_norm, out.route.name());
        } else {
            check(name, case, &Spectrum::of(&w).unwrap(), w.l12_norm(), "svd");
        }
    }
    // the Gram cases must have taken the Gram route (with the two-stage tridiagonalization)
    assert!(routes.iter().all(|r| r.starts_with("gram")), "{routes:?}");
    assert_eq!(routes.len(), 2);
}
