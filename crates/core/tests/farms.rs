//! FARMS removes the aspect-ratio bias of alpha: heavy-tailed random matrices with one entry
//! distribution (Student t, 2.5 degrees of freedom: a power-law ESD tail) but different shapes get
//! different `alpha`, and much closer `alpha_farms`.

mod common;

use common::*;
use svdiag_core::baselines::farms::{Farms, FarmsParams};
use svdiag_core::baselines::htsr::Htsr;
use svdiag_core::{Matrix, Spectrum};

/// Student t with `nu` degrees of freedom: `z/√(χ²_ν/ν)`, the chi-square drawn as `2·Γ(ν/2)` by
/// Marsaglia–Tsang (valid for `ν/2 ≥ 1`).
fn student_t(rng: &mut Rng, nu: f64) -> f64 {
    let z = rng.normal();
    let (a, mut v);
    a = nu / 2.0;
    let d = a - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = rng.normal();
        let t = 1.0 + c * x;
        if t <= 0.0 {
            continue;
        }
        v = t * t * t;
        let u = rng.uniform();
        if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
            break;
        }
    }
    let chi2 = 2.0 * d * v;
    z / (chi2 / nu).sqrt()
}

#[test]
fn farms_alpha_is_nearly_shape_free_where_alpha_is_not() {
    let mut rng = Rng::new(99);
    let params = FarmsParams { window: Some(64), ..Default::default() };
    let (mut plain, mut farms) = (Vec::new(), Vec::new());
    for (m, n) in [(128, 128), (128, 512), (128, 1024)] {
        let w = Matrix::from_row_major((0..m * n).map(|_| student_t(&mut rng, 2.5)).collect(), m, n).unwrap();
        plain.push(Htsr::from_singular_values(Spectrum::of(&w).unwrap().values()).unwrap().fit.alpha);
        let f = Farms::of(&w, &params).unwrap();
        assert!(f.windows >= 3, "{m}×{n}: {} windows", f.windows);
        farms.push(f.fit.alpha);
    }
    let spread = |v: &[f64]| v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min);
    assert!(spread(&farms) < 0.5 * spread(&plain), "alpha {plain:?} vs alpha_farms {farms:?}");
}

#[test]
fn a_square_matrix_with_one_full_window_is_plain_alpha() {
    let mut rng = Rng::new(5);
    let w = Matrix::from_row_major((0..80 * 80).map(|_| rng.normal()).collect(), 80, 80).unwrap();
    let f = Farms::of(&w, &FarmsParams { window: Some(80), ..Default::default() }).unwrap();
    let h = Htsr::from_singular_values(Spectrum::of(&w).unwrap().values()).unwrap();
    assert_eq!(f.windows, 1);
    assert!((f.fit.alpha - h.fit.alpha).abs() < 1e-12);
}
