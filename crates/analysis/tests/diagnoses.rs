//! Diagnoses on a planted model: Gaussian (untrained) deep layers, structured shallow layers, one
//! collapsed matrix; and nothing where nothing was planted.

mod common;

use common::{write, Rng};
use svdiag_analysis::{analyze, AnalysisOptions, NoProgress, Plan, Thresholds};

fn gaussian(rng: &mut Rng, m: usize, n: usize) -> Vec<f64> {
    (0..m * n).map(|_| 0.02 * rng.normal()).collect()
}

/// A trained-looking matrix: Gaussian plus a few strong directions and a decaying spectrum.
fn structured(rng: &mut Rng, m: usize, n: usize, rank: usize, strength: f64) -> Vec<f64> {
    let mut w = gaussian(rng, m, n);
    for k in 0..rank {
        let u: Vec<f64> = (0..m).map(|_| rng.normal()).collect();
        let v: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let s = strength / (1.0 + k as f64);
        for i in 0..m {
            for j in 0..n {
                w[i * n + j] += s * u[i] * v[j] / ((m * n) as f64).sqrt();
            }
        }
    }
    w
}

fn run(tensors: &[(String, usize, usize, Vec<f64>)]) -> svdiag_analysis::Analysis {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    write(&path, tensors);
    let plan = Plan::new(&[path], None).unwrap();
    analyze(&plan, &AnalysisOptions::default(), &NoProgress)
}

#[test]
fn planted_imbalance_isotropy_and_collapse_are_diagnosed() {
    let mut rng = Rng(11);
    let mut t = Vec::new();
    for layer in 0..8 {
        for (role, m, n) in [("q_proj", 96, 96), ("up_proj", 192, 96)] {
            let name =
                format!("model.layers.{layer}.{}.{role}.weight", if role == "q_proj" { "self_attn" } else { "mlp" });
            // shallow layers trained, deep layers still at their Gaussian initialization
            let w = if layer < 4 { structured(&mut rng, m, n, 12, 0.6) } else { gaussian(&mut rng, m, n) };
            t.push((name, m, n, w));
        }
    }
    // a collapsed head: a few directions and almost nothing else
    t.push(("lm_head.weight".to_string(), 256, 96, structured(&mut rng, 256, 96, 2, 400.0)));
    let a = run(&t);
    assert!(a.failed.is_empty(), "{:?}", a.failed);
    let d = &a.diagnoses;
    let iso: Vec<&str> = d.matrices.iter().filter(|x| x.kind == "isotropy").map(|x| x.subject.as_str()).collect();
    // every deep (Gaussian) matrix and no shallow one
    assert_eq!(iso.len(), 8, "{iso:?}");
    assert!(iso.iter().all(|s| ["4", "5", "6", "7"].iter().any(|l| s.contains(&format!("layers.{l}.")))), "{iso:?}");
    let sat: Vec<&str> =
        d.matrices.iter().filter(|x| x.kind == "spectral_saturation").map(|x| x.subject.as_str()).collect();
    assert_eq!(sat, ["lm_head.weight"]);
    let sat = d.matrices.iter().find(|x| x.kind == "spectral_saturation").unwrap();
    assert!(sat.evidence["kl_excess"] >= 0.5 && sat.evidence["stable_rank_fraction"] <= 0.05, "{sat:?}");
    assert!(!sat.mitigations.is_empty() && !sat.caveat.is_empty());
    let imb: Vec<&str> = d.model.iter().filter(|x| x.kind == "layer_imbalance").map(|x| x.subject.as_str()).collect();
    assert_eq!(imb, ["attn_q", "mlp_up"]);
    assert_eq!(d.model[0].layers, [4, 5, 6, 7]);
    // depth profiles: one point per layer, shallow above deep
    let q = &d.depth_profile["attn_q"];
    assert_eq!(q.len(), 8);
    assert!(q[..4].iter().all(|p| p.kl_excess > q[4..].iter().map(|p| p.kl_excess).fold(f64::MIN, f64::max)));
    // pruning: 25 % of 8 layers = 2 candidates
    assert_eq!(d.pruning_candidates.len(), 2);

    // a stricter isotropy threshold changes the verdicts
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    write(&path, &t);
    let plan = Plan::new(&[path], None).unwrap();
    let mut thresholds = Thresholds::default();
    thresholds.set("isotropy_kl_excess=0").unwrap();
    let strict = analyze(&plan, &AnalysisOptions { thresholds, ..Default::default() }, &NoProgress);
    assert!(strict.diagnoses.matrices.iter().all(|x| x.kind != "isotropy"));
}

#[test]
fn an_all_trained_model_has_no_isotropy_or_imbalance() {
    let mut rng = Rng(12);
    let t: Vec<_> = (0..6)
        .map(|l| (format!("model.layers.{l}.self_attn.q_proj.weight"), 96, 96, structured(&mut rng, 96, 96, 12, 0.6)))
        .collect();
    let a = run(&t);
    assert!(a.diagnoses.model.is_empty(), "{:?}", a.diagnoses.model);
    assert!(a.diagnoses.matrices.iter().all(|x| x.kind != "isotropy"), "{:?}", a.diagnoses.matrices);
}

#[test]
fn thresholds_reject_bad_assignments() {
    let mut t = Thresholds::default();
    assert!(t.set("nope=1").unwrap_err().contains("unknown threshold"));
    assert!(t.set("isotropy_mp_ks").unwrap_err().contains("NAME=VALUE"));
    assert!(t.set("isotropy_mp_ks=-1").is_err());
    t.set("pruning_fraction=0.5").unwrap();
    assert_eq!(t.pruning_fraction, 0.5);
}
