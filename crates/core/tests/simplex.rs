//! The random-simplex baseline against SciPy (`tests/data/reference/simplex.py` → `simplex.json`,
//! versions recorded there) and against Monte Carlo.

use serde_json::Value;
use svdiag_core::baselines::simplex::{monte_carlo, renyi_approx, shannon_moments};
use svdiag_core::special::{digamma, ln_gamma, trigamma};

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/reference/simplex.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close(got: f64, want: f64, rel: f64, what: &str) {
    assert!(
        (got - want).abs() <= rel * want.abs().max(1e-300) || (got - want).abs() < 1e-15,
        "{what}: {got:e} vs SciPy {want:e}"
    );
}

#[test]
fn special_functions_match_scipy() {
    let r = reference();
    for (name, f) in [("digamma", digamma as fn(f64) -> f64), ("trigamma", trigamma), ("gammaln", ln_gamma)] {
        for (x, want) in r[name].as_object().unwrap() {
            let x: f64 = x.parse().unwrap();
            close(f(x), want.as_f64().unwrap(), 1e-13, &format!("{name}({x})"));
        }
    }
}

#[test]
fn exact_shannon_moments_match_scipy() {
    let r = reference();
    for (n, v) in r["shannon"].as_object().unwrap() {
        let n: usize = n.parse().unwrap();
        let (mean, var) = shannon_moments(n);
        close(mean, v[0].as_f64().unwrap(), 1e-13, &format!("E[H], n={n}"));
        close(var, v[1].as_f64().unwrap(), 1e-9, &format!("Var[H], n={n}"));
    }
    // Su's (2026) mean-field claims: E[H] ≈ log n − (1 − γ), Var[H] ≈ (π²/3 − 3)/n for large n
    let n = 100_000;
    let (mean, var) = shannon_moments(n);
    assert!((mean - ((n as f64).ln() - 0.422_784_335_098_467_1)).abs() < 1e-4);
    assert!((var * n as f64 / (std::f64::consts::PI.powi(2) / 3.0 - 3.0) - 1.0).abs() < 1e-3);
}

#[test]
fn renyi_approximations_match_the_document() {
    let r = reference();
    for (key, v) in r["renyi"].as_object().unwrap() {
        let (n, q) = key.split_once('/').unwrap();
        let (mean, var) = renyi_approx(n.parse().unwrap(), q.parse().unwrap());
        close(mean, v[0].as_f64().unwrap(), 1e-13, key);
        close(var.unwrap(), v[1].as_f64().unwrap(), 1e-12, key);
    }
    // q = 2 → log(n/2) and 1/n
    let (mean, var) = renyi_approx(64, 2.0);
    assert!((mean - 32f64.ln()).abs() < 1e-14 && (var.unwrap() - 1.0 / 64.0).abs() < 1e-15);
}

/// The exact moments and the Monte Carlo agree within their standard errors (4σ), and NumPy's own
/// Monte Carlo (a different generator) agrees with the exact variance too.
#[test]
fn monte_carlo_agrees_with_the_exact_moments() {
    for n in [3usize, 10, 50] {
        let (mean, var) = shannon_moments(n);
        let mc = monte_carlo(n, 2.0, 40_000, 11);
        assert!((mc.shannon_mean.value - mean).abs() < 4.0 * mc.shannon_mean.se, "n={n}: mean {mc:?} vs {mean}");
        assert!((mc.shannon_var.value - var).abs() < 4.0 * mc.shannon_var.se, "n={n}: var {mc:?} vs {var}");
        let np = &reference()["monte_carlo_numpy_seed7"][n.to_string()];
        let np_var = np["var"].as_f64().unwrap();
        assert!(
            (np_var - var).abs() < 4.0 * var * (2.0 / 200_000f64).sqrt() * 1.5,
            "n={n}: numpy var {np_var} vs {var}"
        );
    }
    // same seed, same numbers
    assert_eq!(monte_carlo(7, 2.0, 100, 3), monte_carlo(7, 2.0, 100, 3));
}
