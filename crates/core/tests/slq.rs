//! `--approx`: the nominal 95 % intervals of the SLQ estimates cover the exact values in at least
//! 95 % of cases on matrices with known spectra (flat, heavy-tailed, low rank plus noise).

mod common;

use common::*;
use svdiag_core::linalg::slq::{estimate, SlqOptions};
use svdiag_core::{MetricOptions, Metrics, Normalization, RenyiOrder, Spectrum};

fn spectrum(kind: &str, r: usize, rng: &mut Rng) -> Vec<f64> {
    let mut s: Vec<f64> = match kind {
        "flat" => (0..r).map(|_| 1.0 + 0.05 * rng.uniform()).collect(),
        "heavy" => (0..r).map(|i| ((i + 1) as f64).powf(-0.8) * (1.0 + 0.1 * rng.uniform())).collect(),
        _ => (0..r).map(|i| if i < 5 { 20.0 / (i + 1) as f64 } else { 0.3 + 0.2 * rng.uniform() }).collect(),
    };
    s.sort_by(|a, b| b.total_cmp(a));
    s
}

#[test]
fn nominal_95_percent_intervals_cover_the_exact_values() {
    let mut rng = Rng::new(31);
    let (mut cases, mut covered) = (0, [0usize; 3]);
    let mut worst_rel_se: f64 = 0.0;
    for normalization in [Normalization::Sigma, Normalization::Energy] {
        for kind in ["flat", "heavy", "lowrank"] {
            for t in 0..20u64 {
                let (m, n) = if t % 2 == 0 { (240, 160) } else { (160, 240) };
                let s = spectrum(kind, 160, &mut rng);
                let w = with_spectrum(m, n, &s, 1000 + t);
                let opts = MetricOptions { normalization, q: RenyiOrder::default() };
                let exact = Metrics::compute(&Spectrum::of(&w).unwrap(), w.l12_norm(), &opts);
                let a = estimate(&w, normalization, &SlqOptions { seed: t, ..Default::default() }).unwrap();
                let want = [exact.entropy.unwrap(), exact.kl_uniform.unwrap(), exact.nuclear_norm.unwrap()];
                for (c, (e, x)) in [a.entropy, a.kl_uniform, a.nuclear_norm].iter().zip(want).enumerate() {
                    if e.low <= x && x <= e.high {
                        covered[c] += 1;
                    }
                    assert!(e.low < e.value && e.value < e.high, "{kind}: degenerate interval {e:?}");
                }
                worst_rel_se = worst_rel_se.max(a.entropy.stderr / want[0]);
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 120);
    for (c, name) in ["entropy", "kl_uniform", "nuclear_norm"].iter().enumerate() {
        assert!(covered[c] * 100 >= cases * 95, "{name}: {} of {cases} intervals cover the exact value", covered[c]);
    }
    // and they are informative: the entropy is known to better than 1 % relative
    assert!(worst_rel_se < 0.01, "{worst_rel_se}");
}
