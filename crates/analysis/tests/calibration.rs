//! The isotropy test is calibrated: on 1000 seeded Gaussian matrices of 250 shapes and three
//! scales it fires at its nominal rate (a random matrix is called isotropic with probability at
//! least 1 − level), and the p-values are uniform; the same matrix at any scale gets the same
//! p-values; and planted structure well past the detection threshold is found.
//!
//! The matrices are dense Gaussian matrices decomposed by the analysis itself, while the null is
//! drawn through the bidiagonal model, so these tests also check that model against the real thing.

#![allow(clippy::print_stderr)]

mod common;

use common::{write, Rng};
use svdiag_analysis::{analyze, AnalysisOptions, NoProgress, Plan};

fn analyzed(tensors: &[(String, usize, usize, Vec<f64>)]) -> svdiag_analysis::Analysis {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    write(&path, tensors);
    let plan = Plan::new(&[path], None).unwrap();
    let a = analyze(&plan, &AnalysisOptions::default(), &NoProgress);
    assert!(a.failed.is_empty(), "{:?}", a.failed);
    a
}

/// The Kolmogorov–Smirnov distance of a sample from the uniform law on [0, 1].
fn ks_uniform(mut p: Vec<f64>) -> f64 {
    p.sort_by(f64::total_cmp);
    let n = p.len() as f64;
    p.iter().enumerate().map(|(i, &x)| (x - i as f64 / n).abs().max(((i + 1) as f64 / n - x).abs())).fold(0.0, f64::max)
}

/// 1000 seeded Gaussian matrices, four of each of 250 shapes (smaller side 16–96, aspect ratio
/// 1–4, scales 0.01, 1, 30): every shape draws its own null, so the count of false rejections is
/// close to binomial and measures the test's level.
#[test]
fn on_gaussian_matrices_isotropy_fires_at_its_nominal_rate_and_p_values_are_uniform() {
    let mut rng = Rng(20261130);
    let (mut fired, mut tested) = (0, 0);
    let (mut null_p, mut ks_p, mut kl_p) = (Vec::new(), Vec::new(), Vec::new());
    let mut shapes = std::collections::BTreeSet::new();
    while shapes.len() < 250 {
        let m = 16 + (rng.uniform() * 81.0) as usize;
        let n = m + (rng.uniform() * 3.0 * m as f64) as usize;
        shapes.insert(if rng.uniform() < 0.5 { (m, n) } else { (n, m) });
    }
    for chunk in shapes.iter().collect::<Vec<_>>().chunks(50) {
        let mut t = Vec::new();
        for (s, &&(m, n)) in chunk.iter().enumerate() {
            for k in 0..4 {
                let scale = [0.01, 1.0, 30.0][(s + k) % 3];
                let w: Vec<f64> = (0..m * n).map(|_| scale * rng.normal()).collect();
                t.push((format!("{m}x{n}.matrix{k}"), m, n, w));
            }
        }
        let a = analyzed(&t);
        let iso: std::collections::BTreeSet<&str> =
            a.diagnoses.matrices.iter().filter(|d| d.kind == "isotropy").map(|d| d.subject.as_str()).collect();
        for r in &a.matrices {
            let test = r.metrics.null.expect("every Gaussian matrix is tested");
            tested += 1;
            fired += usize::from(iso.contains(r.name.as_str()));
            assert_eq!(iso.contains(r.name.as_str()), test.null_p > 0.01, "{}", r.name);
            null_p.push(test.null_p);
            ks_p.push(test.mp_ks_p);
            kl_p.push(test.kl_excess_p);
        }
        let c = a.diagnoses.calibration.as_ref().unwrap();
        assert_eq!((c.level, c.matrices_tested), (0.01, 200));
    }
    assert_eq!(tested, 1000);
    // nominal: at least 99 %; the binomial standard deviation of the count of rejections is 3.1
    eprintln!("isotropy fired on {fired} of {tested} Gaussian matrices");
    assert!(fired >= 985, "isotropy fired on {fired} of {tested} Gaussian matrices");
    // uniform p-values: the 1 % critical value of the KS distance for n = 1000 is 0.0515 (the
    // matrices of one shape share a null, which adds a little dependence)
    for (name, p) in [("null_p", null_p), ("mp_ks_p", ks_p), ("kl_excess_p", kl_p)] {
        let d = ks_uniform(p);
        eprintln!("{name}: KS distance from uniform {d:.4}");
        assert!(d < 0.0515, "{name}: KS distance from uniform {d}");
    }
}

#[test]
fn the_test_does_not_depend_on_the_scale() {
    let mut rng = Rng(5);
    let base: Vec<f64> = (0..96 * 200).map(|_| rng.normal()).collect();
    let t: Vec<_> = [1e-3, 1.0, 1e3]
        .iter()
        .map(|&c| (format!("scale {c}"), 96, 200, base.iter().map(|x| x * c).collect::<Vec<f64>>()))
        .collect();
    let a = analyzed(&t);
    let p: Vec<_> = a.matrices.iter().map(|r| r.metrics.null.unwrap()).collect();
    for q in &p[1..] {
        assert_eq!((q.null_p, q.mp_ks_p, q.kl_excess_p), (p[0].null_p, p[0].mp_ks_p, p[0].kl_excess_p));
    }
}

/// `G/√n + θ·u vᵀ` (unit u, v): a spike of strength θ against the bulk edge; the
/// Baik–Ben Arous–Péché threshold for a visible outlier is θ = c^{1/4} in these units
/// (c = M/N), and far above it every spike is found.
#[test]
fn strong_planted_spikes_are_always_distinguished() {
    let mut rng = Rng(9);
    let (m, n) = (200, 100);
    let c: f64 = 0.5;
    let t: Vec<_> = (0..20)
        .map(|k| {
            let mut w: Vec<f64> = (0..m * n).map(|_| rng.normal() / (m as f64).sqrt()).collect();
            let u: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
            let v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
            let (nu, nv) = (u.iter().map(|x| x * x).sum::<f64>().sqrt(), v.iter().map(|x| x * x).sum::<f64>().sqrt());
            let theta = 2.0 * c.powf(0.25);
            for i in 0..m {
                for j in 0..n {
                    w[i * n + j] += theta * u[i] / nu * v[j] / nv;
                }
            }
            (format!("spiked{k}"), m, n, w)
        })
        .collect();
    let a = analyzed(&t);
    assert!(a.diagnoses.matrices.iter().all(|d| d.kind != "isotropy"), "{:?}", a.diagnoses.matrices);
    assert!(a.matrices.iter().all(|r| r.metrics.null.unwrap().null_p <= 0.01));
}
