//! Every metric against matrices whose spectrum is known by construction: `W = U·diag(s)·Vᵀ`.
//!
//! Tolerances. Building `W` in f64 perturbs it by about `n·ε·σ_1`, so a computed singular value
//! `σ_i` can only be trusted to an absolute `c·n·ε·σ_1` (Weyl). Entropies, norms and ranks are
//! well-conditioned functions of the whole spectrum and are checked to 1e-12 relative; the condition
//! number inherits the relative error of `σ_r`, `≈ n·ε·κ`, and is checked against that bound.

mod common;

use common::*;
use svdiag_core::baselines::htsr::HTSR_FIELDS;
use svdiag_core::baselines::mp::MP_FIELDS;
use svdiag_core::entropy::{renyi, shannon};
use svdiag_core::{MetricOptions, Metrics, Normalization, RenyiOrder, Spectrum};

/// Independent expectations from `s` itself, written in a different algebraic form from the library.
struct Expected {
    entropy: f64,
    renyi2: f64,
    nuclear: f64,
    frobenius: f64,
    stable_rank: f64,
}

fn expected(s: &[f64]) -> Expected {
    let total: f64 = s.iter().sum();
    // H = log S − (Σ σ log σ)/S
    let slogs: f64 = s.iter().filter(|&&x| x > 0.0).map(|&x| x * x.ln()).sum();
    let sq: f64 = s.iter().map(|x| x * x).sum();
    Expected {
        entropy: total.ln() - slogs / total,
        renyi2: -(sq / (total * total)).ln(),
        nuclear: total,
        frobenius: sq.sqrt(),
        stable_rank: sq / (s[0] * s[0]),
    }
}

fn check(m: usize, n: usize, s: &[f64], seed: u64) {
    let w = with_spectrum(m, n, s, seed);
    let spectrum = Spectrum::of(&w).unwrap();
    let got = spectrum.values();
    let tol_abs = 64.0 * (m.max(n) as f64) * f64::EPSILON * s[0];
    for (i, (g, e)) in got.iter().zip(s).enumerate() {
        assert!((g - e).abs() <= tol_abs, "{m}×{n} σ_{i}: got {g:e}, want {e:e} (± {tol_abs:e})");
    }
    let metrics = Metrics::compute(&spectrum, w.l12_norm(), &MetricOptions::default());
    let e = expected(s);
    let r = s.len() as f64;
    let close = |name: &str, a: f64, b: f64| {
        assert!(rel(a, b) <= 1e-12 || (a - b).abs() <= 1e-13, "{m}×{n} {name}: got {a:e}, want {b:e}");
    };
    close("entropy", metrics.entropy.unwrap(), e.entropy);
    close("renyi_entropy", metrics.renyi_entropy.unwrap(), e.renyi2);
    close("kl_uniform", metrics.kl_uniform.unwrap(), r.ln() - e.entropy);
    if s.len() > 1 {
        close("normalized_entropy", metrics.normalized_entropy.unwrap(), e.entropy / r.ln());
    }
    close("effective_rank", metrics.effective_rank.unwrap(), e.entropy.exp());
    close("stable_rank", metrics.stable_rank.unwrap(), e.stable_rank);
    close("spectral_norm", metrics.spectral_norm, s[0]);
    close("frobenius_norm", metrics.frobenius_norm, e.frobenius);
    close("nuclear_norm", metrics.nuclear_norm.unwrap(), e.nuclear);
    let smin = *s.last().unwrap();
    let kappa = s[0] / smin;
    let cond = metrics.condition_number.unwrap();
    let cond_tol = 1e-12 + 64.0 * (m.max(n) as f64) * f64::EPSILON * kappa;
    assert!(rel(cond, kappa) <= cond_tol, "{m}×{n} condition_number {cond:e} vs {kappa:e} (rel tol {cond_tol:e})");
    let tol = s[0] * (m.max(n) as f64) * f64::EPSILON;
    let rank = s.iter().filter(|&&x| x > tol).count();
    assert_eq!(metrics.numerical_rank, Some(rank), "{m}×{n} numerical_rank");
    // l12 from the columns, computed here directly
    let cols: f64 = (0..n).map(|j| (0..m).map(|i| w.as_slice()[i * n + j].powi(2)).sum::<f64>().sqrt()).sum();
    close("l12_norm", metrics.l12_norm, cols);
    assert!(non_htsr(&metrics).is_empty(), "{:?}", metrics.undefined);
    // the HTSR norms are functions of σ² alone (the fit itself is checked against WeightWatcher)
    if let Some(h) = metrics.htsr {
        close("log_norm", h.log_norm, (e.frobenius * e.frobenius).log10());
        close("log_spectral_norm", h.log_spectral_norm, (s[0] * s[0]).log10());
        close("alpha_weighted", h.alpha_weighted, h.fit.alpha * (s[0] * s[0]).log10());
        let tail = got.iter().filter(|&&x| x * x >= h.fit.xmin).count();
        assert_eq!(h.num_tail, tail, "{m}×{n} num_tail");
    }
    // the random-simplex baseline: the exact moments for r, and the z-score derived from them
    let (mean, var) = svdiag_core::baselines::simplex::shannon_moments(s.len());
    assert_eq!(metrics.entropy_typical, Some(mean));
    close("entropy_zscore", metrics.entropy_zscore.unwrap(), (e.entropy - mean) / var.sqrt());
    let (qmean, qvar) = svdiag_core::baselines::simplex::renyi_approx(s.len(), 2.0);
    assert_eq!(metrics.renyi_entropy_typical, Some(qmean));
    close("renyi_entropy_zscore", metrics.renyi_entropy_zscore.unwrap(), (e.renyi2 - qmean) / qvar.unwrap().sqrt());
}

fn geometric(r: usize, ratio: f64) -> Vec<f64> {
    (0..r).map(|i| if r == 1 { 1.0 } else { ratio.powf(i as f64 / (r - 1) as f64) }).collect()
}

#[test]
fn square_well_conditioned() {
    check(40, 40, &geometric(40, 0.1), 1);
}

#[test]
fn square_ill_conditioned_to_1e_8() {
    check(48, 48, &geometric(48, 1e-8), 2);
}

#[test]
fn wide_and_tall() {
    check(12, 50, &geometric(12, 1e-3), 3);
    check(50, 12, &geometric(12, 1e-3), 4);
    check(600, 8, &geometric(8, 1e-8), 5); // very tall: QR path inside the SVD
    check(8, 600, &[5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.25, 0.125], 6);
}

#[test]
fn flat_spectrum_is_maximal_entropy() {
    let s = vec![2.0; 30];
    check(30, 45, &s, 7);
    let w = with_spectrum(30, 45, &s, 7);
    let m = Metrics::compute(&Spectrum::of(&w).unwrap(), 0.0, &MetricOptions::default());
    assert!(m.kl_uniform.unwrap().abs() < 1e-13);
    assert!((m.normalized_entropy.unwrap() - 1.0).abs() < 1e-13);
    assert!((m.effective_rank.unwrap() - 30.0).abs() < 1e-11);
    // a flat spectrum is far above where a random distribution's entropy lies
    let (mean, var) = svdiag_core::baselines::simplex::shannon_moments(30);
    assert_eq!(m.entropy_typical, Some(mean));
    assert!(rel(m.entropy_zscore.unwrap(), (30f64.ln() - mean) / var.sqrt()) < 1e-10);
    assert!(m.entropy_zscore.unwrap() > 2.0);
}

#[test]
fn one_by_n_and_n_by_one() {
    for (m, n) in [(1usize, 17usize), (17, 1)] {
        let w = gaussian(m, n, 9);
        let norm: f64 = w.as_slice().iter().map(|x| x * x).sum::<f64>().sqrt();
        let sp = Spectrum::of(&w).unwrap();
        assert_eq!(sp.len(), 1);
        assert!(rel(sp.values()[0], norm) < 1e-14);
        let met = Metrics::compute(&sp, w.l12_norm(), &MetricOptions::default());
        assert_eq!(met.entropy, Some(0.0));
        assert_eq!(met.kl_uniform, Some(0.0));
        assert_eq!(met.effective_rank, Some(1.0));
        assert_eq!(met.normalized_entropy, None);
        assert_eq!(non_htsr(&met), ["normalized_entropy", "entropy_zscore", "renyi_entropy_zscore"]);
        assert_htsr_undefined(&met);
        assert_eq!(met.condition_number, Some(1.0));
        assert_eq!(met.numerical_rank, Some(1));
    }
}

#[test]
fn rank_deficient() {
    // 5 non-zero singular values out of 20: entropies see the zeros as p = 0
    let mut s = vec![3.0, 2.0, 1.5, 1.0, 0.5];
    s.extend(std::iter::repeat_n(0.0, 15));
    let w = with_spectrum(20, 30, &s, 11);
    let sp = Spectrum::of(&w).unwrap();
    let met = Metrics::compute(&sp, w.l12_norm(), &MetricOptions::default());
    assert_eq!(met.numerical_rank, Some(5));
    let e = expected(&s);
    assert!(rel(met.entropy.unwrap(), e.entropy) < 1e-12);
    assert!(rel(met.kl_uniform.unwrap(), 20f64.ln() - e.entropy) < 1e-12);
    // σ_r is rounding noise (~1e-15), so κ is huge or infinite
    assert!(met.condition_number.unwrap() > 1e12);
}

#[test]
fn exact_zero_singular_value_gives_infinite_condition_number() {
    let w = svdiag_core::Matrix::from_row_major(vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0], 2, 3).unwrap();
    let met = Metrics::compute(&Spectrum::of(&w).unwrap(), w.l12_norm(), &MetricOptions::default());
    assert_eq!(met.condition_number, Some(f64::INFINITY));
    assert_eq!(non_htsr(&met), ["condition_number"]);
    assert_htsr_undefined(&met);
    assert_eq!(met.numerical_rank, Some(1));
}

#[test]
fn zero_matrix_has_defined_norms_and_reasons_for_the_rest() {
    let w = svdiag_core::Matrix::from_row_major(vec![0.0; 12], 3, 4).unwrap();
    let met = Metrics::compute(&Spectrum::of(&w).unwrap(), w.l12_norm(), &MetricOptions::default());
    assert_eq!((met.spectral_norm, met.frobenius_norm, met.nuclear_norm, met.l12_norm), (0.0, 0.0, Some(0.0), 0.0));
    assert_eq!(met.numerical_rank, Some(0));
    assert_eq!(met.entropy, None);
    assert_eq!(met.stable_rank, None);
    assert_eq!(met.condition_number, None);
    assert_htsr_undefined(&met);
    assert_eq!(
        non_htsr(&met),
        [
            "entropy",
            "renyi_entropy",
            "kl_uniform",
            "normalized_entropy",
            "effective_rank",
            "entropy_zscore",
            "renyi_entropy_zscore",
            "stable_rank",
            "condition_number"
        ]
    );
}

#[test]
fn energy_normalization_and_renyi_orders() {
    let s = geometric(16, 1e-2);
    let w = with_spectrum(16, 24, &s, 13);
    let sp = Spectrum::of(&w).unwrap();
    let total: f64 = s.iter().map(|x| x * x).sum();
    let p: Vec<f64> = s.iter().map(|x| x * x / total).collect();
    for q in [0.0, 0.5, 1.0, 2.0, 3.0, f64::INFINITY] {
        let opts = MetricOptions { normalization: Normalization::Energy, q: RenyiOrder::new(q).unwrap() };
        let met = Metrics::compute(&sp, 0.0, &opts);
        let want = if q == 0.0 {
            16f64.ln()
        } else if q == 1.0 {
            -p.iter().map(|x| x * x.ln()).sum::<f64>()
        } else if q.is_infinite() {
            -p[0].ln()
        } else {
            p.iter().map(|x| x.powf(q)).sum::<f64>().ln() / (1.0 - q)
        };
        assert!(rel(met.renyi_entropy.unwrap(), want) < 1e-12, "q={q}");
        assert!(rel(met.entropy.unwrap(), shannon(&p)) < 1e-12);
    }
    // energy Rényi-2 from the Frobenius norms of W and WᵀW (docs/metrics.md §2 cheap path)
    let fro2: f64 = w.as_slice().iter().map(|x| x * x).sum();
    let sum4: f64 = s.iter().map(|x| x.powi(4)).sum();
    assert!(rel(renyi(&p, 2.0), -(sum4 / (fro2 * fro2)).ln()) < 1e-12);
}

/// The Lanczos spectral norm of `--quick` on known spectra: tall, wide, square, a flat spectrum
/// (σ_1 = σ_2 = …, the hardest case for power iteration) and a tight top gap.
#[test]
fn lanczos_spectral_norm_on_known_spectra() {
    let cases: Vec<(usize, usize, Vec<f64>)> = vec![
        (60, 20, geometric(20, 1e-3)),
        (20, 60, geometric(20, 1e-3)),
        (40, 40, vec![3.0; 40]),
        (50, 30, (0..30).map(|i| 2.0 - 1e-6 * i as f64).collect()),
        (8, 27, geometric(8, 0.5)),
    ];
    for (m, n, s) in cases {
        let w = with_spectrum(m, n, &s, 21);
        let got = svdiag_core::linalg::quick::spectral_norm(&w, 1e-13).unwrap();
        assert!(rel(got, s[0]) < 1e-12, "{m}×{n}: {got} vs {}", s[0]);
        // Σσ⁴ from the Gram matrix
        let s4: f64 = s.iter().map(|x| x.powi(4)).sum();
        assert!(rel(svdiag_core::linalg::quick::sum_sigma4(&w).unwrap(), s4) < 1e-12, "{m}×{n} Σσ⁴");
    }
}

#[test]
fn numel_is_zero_when_any_dimension_is_zero() {
    assert_eq!(svdiag_core::numel(&[]), Some(1));
    assert_eq!(svdiag_core::numel(&[3, 4, 5]), Some(60));
    assert_eq!(svdiag_core::numel(&[1 << 40, 1 << 40, 0]), Some(0));
    assert_eq!(svdiag_core::numel(&[1 << 40, 1 << 40]), None);
}

/// The undefined fields of §2–§3 (the HTSR and random-matrix ones are checked separately).
fn non_htsr(met: &Metrics) -> Vec<&'static str> {
    met.undefined.iter().map(|u| u.field).filter(|f| !HTSR_FIELDS.contains(f) && !MP_FIELDS.contains(f)).collect()
}

/// Fewer than two eigenvalues above 1e-5: every HTSR field is undefined, with the reason.
fn assert_htsr_undefined(met: &Metrics) {
    assert_eq!(met.htsr, None);
    for field in HTSR_FIELDS {
        let u = met.undefined.iter().find(|u| u.field == field).unwrap_or_else(|| panic!("{field} has no reason"));
        assert!(u.reason.contains("power-law fit"), "{}", u.reason);
    }
    // these matrices are too small (or zero) for a Marchenko–Pastur fit as well
    assert_eq!(met.mp, None);
    for field in MP_FIELDS {
        assert!(met.undefined.iter().any(|u| u.field == field), "{field} has no reason");
    }
}
