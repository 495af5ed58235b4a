//! Diagnoses (docs/metrics.md §8: patterns of spectral health made quantitative): pure
//! functions of the analyzed records.
//!
//! Per matrix:
//! - **spectral_saturation** (rank collapse): `kl_excess ≥ collapse_kl_excess` and
//!   `stable_rank ≤ collapse_stable_rank_fraction · r`.
//! - **isotropy** (under-training): the spectrum is indistinguishable from its random baseline:
//!   `|kl_excess| ≤ isotropy_kl_excess`, `mp_ks ≤ isotropy_mp_ks`, and no outliers at either end.
//!   Judged against `random_baseline_kl`, never against 0.
//!
//! Per model:
//! - **layer_imbalance**, per role with at least `imbalance_min_layers` layers: the shallow half
//!   moved away from the baseline (at most `imbalance_shallow_isotropic` of its matrices isotropic)
//!   while the deep half did not (at least `imbalance_deep_isotropic` of its matrices isotropic).
//! - **pruning candidates** (AlphaPruning-style): layers ranked by the mean of their rank in
//!   `kl_excess` (high first) and in `alpha` (low first); the top `pruning_fraction` are listed.
//!
//! Every diagnosis carries the numbers that triggered it, the thresholds, the usual
//! mitigations, and a caveat: these are observations, not proofs (docs/metrics.md §8).

use std::collections::BTreeMap;

use crate::record::MatrixRecord;

/// The configurable thresholds, with documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Thresholds {
    /// spectral_saturation: minimum `kl_excess`.
    pub collapse_kl_excess: f64,
    /// spectral_saturation: maximum `stable_rank / r`.
    pub collapse_stable_rank_fraction: f64,
    /// isotropy: maximum `|kl_excess|`.
    pub isotropy_kl_excess: f64,
    /// isotropy: maximum `mp_ks`.
    pub isotropy_mp_ks: f64,
    /// layer_imbalance: maximum fraction of isotropic matrices in the shallow half.
    pub imbalance_shallow_isotropic: f64,
    /// layer_imbalance: minimum fraction of isotropic matrices in the deep half.
    pub imbalance_deep_isotropic: f64,
    /// layer_imbalance: minimum number of layers of a role.
    pub imbalance_min_layers: f64,
    /// pruning: fraction of layers listed as candidates.
    pub pruning_fraction: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            collapse_kl_excess: 0.5,
            collapse_stable_rank_fraction: 0.05,
            isotropy_kl_excess: 0.02,
            isotropy_mp_ks: 0.1,
            imbalance_shallow_isotropic: 0.25,
            imbalance_deep_isotropic: 0.5,
            imbalance_min_layers: 4.0,
            pruning_fraction: 0.25,
        }
    }
}

impl Thresholds {
    /// The names accepted by [`Thresholds::set`].
    pub const NAMES: [&'static str; 8] = [
        "collapse_kl_excess",
        "collapse_stable_rank_fraction",
        "isotropy_kl_excess",
        "isotropy_mp_ks",
        "imbalance_shallow_isotropic",
        "imbalance_deep_isotropic",
        "imbalance_min_layers",
        "pruning_fraction",
    ];

    /// Sets one threshold from `NAME=VALUE`.
    pub fn set(&mut self, assignment: &str) -> Result<(), String> {
        let (name, value) = assignment.split_once('=').ok_or_else(|| format!("'{assignment}' is not NAME=VALUE"))?;
        let v: f64 = value.trim().parse().map_err(|_| format!("'{value}' is not a number"))?;
        if !v.is_finite() || v < 0.0 {
            return Err(format!("threshold {name} must be a finite number ≥ 0, got {value}"));
        }
        let slot = match name.trim() {
            "collapse_kl_excess" => &mut self.collapse_kl_excess,
            "collapse_stable_rank_fraction" => &mut self.collapse_stable_rank_fraction,
            "isotropy_kl_excess" => &mut self.isotropy_kl_excess,
            "isotropy_mp_ks" => &mut self.isotropy_mp_ks,
            "imbalance_shallow_isotropic" => &mut self.imbalance_shallow_isotropic,
            "imbalance_deep_isotropic" => &mut self.imbalance_deep_isotropic,
            "imbalance_min_layers" => &mut self.imbalance_min_layers,
            "pruning_fraction" => &mut self.pruning_fraction,
            other => return Err(format!("unknown threshold '{other}' (one of: {})", Self::NAMES.join(", "))),
        };
        *slot = v;
        Ok(())
    }
}

/// One diagnosis: what, about what, on which evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnosis {
    /// `spectral_saturation`, `isotropy`, `layer_imbalance`.
    pub kind: &'static str,
    /// The matrix name, or the role for a per-model diagnosis.
    pub subject: String,
    /// The numbers that triggered it.
    pub evidence: BTreeMap<&'static str, f64>,
    /// The thresholds they were compared with.
    pub thresholds: BTreeMap<&'static str, f64>,
    /// The layers concerned (per-model diagnoses).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<u32>,
    /// The usual remedies practitioners try for this pattern.
    pub mitigations: &'static [&'static str],
    /// What the numbers do not prove.
    pub caveat: &'static str,
}

/// A layer ranked as a pruning candidate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PruningCandidate {
    /// The layer index.
    pub layer: u32,
    /// Mean `kl_excess` of its matrices.
    pub kl_excess: f64,
    /// Mean `alpha` of its matrices (`None` if no matrix has a fit).
    pub alpha: Option<f64>,
    /// The combined rank score (lower = stronger candidate).
    pub score: f64,
}

/// One layer of a depth profile.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct DepthPoint {
    /// The layer index.
    pub layer: u32,
    /// Mean `kl_excess` of the role's matrices in this layer.
    pub kl_excess: f64,
}

/// Every diagnosis of a run.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Diagnoses {
    /// Per matrix, in the order of the records (only matrices with a diagnosis).
    pub matrices: Vec<Diagnosis>,
    /// Per model.
    pub model: Vec<Diagnosis>,
    /// Layers ranked as pruning candidates, strongest first.
    pub pruning_candidates: Vec<PruningCandidate>,
    /// `kl_excess` by depth for each role with layered matrices (mean over the role's matrices in
    /// each layer).
    pub depth_profile: BTreeMap<&'static str, Vec<DepthPoint>>,
    /// The thresholds used.
    pub thresholds: Thresholds,
}

pub(crate) const DEGRADATION_MITIGATIONS: &[&str] = &[
    "Early stopping: keep a checkpoint from before the rise",
    "Curriculum: switch to a higher-quality data curriculum (the model may face a data difficulty mismatch)",
    "Scaling: the model may be capacity constrained (increase width)",
];
pub(crate) const DEGRADATION_CAVEAT: &str = "a sudden rise of kl_uniform is a common warning sign of memorization, not proof of it: in a measured memorizing run kl_uniform rose smoothly with no spike; check the validation loss at these steps";
pub(crate) const SATURATION_MITIGATIONS: &[&str] = &[
    "Curriculum: sort training data (easy → hard)",
    "Scaling: increase model width (d_model)",
    "Regularization: add spectral regularization or weight decay",
];
pub(crate) const SATURATION_CAVEAT: &str = "a high kl_uniform is an observation, not proof of overfitting: in a measured pair of runs the model that generalized had the higher lm_head kl_uniform; combine with outliers, alpha, stable rank and trends";
const ISOTROPY_MITIGATIONS: &[&str] = &[
    "Initialization: check the standard deviation (e.g. 1/√N)",
    "Learning rate: increase it to break the initial symmetry",
];
const ISOTROPY_CAVEAT: &str =
    "near the random baseline is not proof of under-training: Muon-trained matrices stay close to it although well trained";
const IMBALANCE_MITIGATIONS: &[&str] =
    &["Scaling: apply 1/√L scaling to residual branches", "Adaptive LR: use layer-wise learning rates"];
const IMBALANCE_CAVEAT: &str = "one checkpoint shows where the layers are, not how they got there: compare with earlier checkpoints (svdiag trend)";

fn map<const N: usize>(pairs: [(&'static str, f64); N]) -> BTreeMap<&'static str, f64> {
    pairs.into_iter().collect()
}

fn is_isotropic(r: &MatrixRecord, t: &Thresholds) -> Option<bool> {
    let (mp, excess) = (r.metrics.mp?, r.metrics.kl_excess?);
    Some(
        excess.abs() <= t.isotropy_kl_excess
            && mp.ks <= t.isotropy_mp_ks
            && mp.outliers_above == 0
            && mp.outliers_below == 0,
    )
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Diagnoses the records of one run.
pub fn diagnose(records: &[MatrixRecord], t: &Thresholds) -> Diagnoses {
    let mut out = Diagnoses { thresholds: *t, ..Default::default() };
    for r in records {
        let m = &r.metrics;
        let (Some(excess), Some(sr)) = (m.kl_excess, m.stable_rank) else { continue };
        let rank = r.matrix_shape[0].min(r.matrix_shape[1]) as f64;
        let kl = m.kl_uniform.unwrap_or(f64::NAN);
        let baseline = m.mp.map_or(f64::NAN, |b| b.random_baseline_kl);
        if excess >= t.collapse_kl_excess && sr <= t.collapse_stable_rank_fraction * rank {
            out.matrices.push(Diagnosis {
                kind: "spectral_saturation",
                subject: r.name.clone(),
                evidence: map([
                    ("kl_uniform", kl),
                    ("random_baseline_kl", baseline),
                    ("kl_excess", excess),
                    ("stable_rank", sr),
                    ("stable_rank_fraction", sr / rank),
                ]),
                thresholds: map([
                    ("collapse_kl_excess", t.collapse_kl_excess),
                    ("collapse_stable_rank_fraction", t.collapse_stable_rank_fraction),
                ]),
                layers: r.identity.layer.into_iter().collect(),
                mitigations: SATURATION_MITIGATIONS,
                caveat: SATURATION_CAVEAT,
            });
        }
        if is_isotropic(r, t) == Some(true) {
            let mp = m.mp.expect("checked by is_isotropic");
            out.matrices.push(Diagnosis {
                kind: "isotropy",
                subject: r.name.clone(),
                evidence: map([
                    ("kl_uniform", kl),
                    ("random_baseline_kl", baseline),
                    ("kl_excess", excess),
                    ("mp_ks", mp.ks),
                    ("outliers_above", mp.outliers_above as f64),
                    ("outliers_below", mp.outliers_below as f64),
                ]),
                thresholds: map([("isotropy_kl_excess", t.isotropy_kl_excess), ("isotropy_mp_ks", t.isotropy_mp_ks)]),
                layers: r.identity.layer.into_iter().collect(),
                mitigations: ISOTROPY_MITIGATIONS,
                caveat: ISOTROPY_CAVEAT,
            });
        }
    }

    // depth profile per role: mean kl_excess of the role's matrices in each layer
    let mut by_role: BTreeMap<&'static str, BTreeMap<u32, Vec<&MatrixRecord>>> = BTreeMap::new();
    for r in records {
        if let (Some(layer), Some(_)) = (r.identity.layer, r.metrics.kl_excess) {
            by_role.entry(r.identity.role.name()).or_default().entry(layer).or_default().push(r);
        }
    }
    for (role, layers) in &by_role {
        let profile: Vec<(u32, f64)> = layers
            .iter()
            .map(|(&l, rs)| (l, rs.iter().filter_map(|r| r.metrics.kl_excess).sum::<f64>() / rs.len() as f64))
            .collect();
        if profile.len() as f64 >= t.imbalance_min_layers {
            let half = profile.len() / 2;
            let split = profile[half].0;
            let fraction = |rs: Vec<&MatrixRecord>| {
                rs.iter().filter(|r| is_isotropic(r, t) == Some(true)).count() as f64 / rs.len().max(1) as f64
            };
            let shallow = fraction(layers.range(..split).flat_map(|(_, rs)| rs.iter().copied()).collect());
            let deep = fraction(layers.range(split..).flat_map(|(_, rs)| rs.iter().copied()).collect());
            if shallow <= t.imbalance_shallow_isotropic && deep >= t.imbalance_deep_isotropic {
                let mut shallow_excess: Vec<f64> = profile[..half].iter().map(|p| p.1).collect();
                let mut deep_excess: Vec<f64> = profile[half..].iter().map(|p| p.1).collect();
                out.model.push(Diagnosis {
                    kind: "layer_imbalance",
                    subject: role.to_string(),
                    evidence: map([
                        ("shallow_isotropic_fraction", shallow),
                        ("deep_isotropic_fraction", deep),
                        ("shallow_median_kl_excess", median(&mut shallow_excess)),
                        ("deep_median_kl_excess", median(&mut deep_excess)),
                    ]),
                    thresholds: map([
                        ("imbalance_shallow_isotropic", t.imbalance_shallow_isotropic),
                        ("imbalance_deep_isotropic", t.imbalance_deep_isotropic),
                        ("imbalance_min_layers", t.imbalance_min_layers),
                    ]),
                    layers: profile[half..].iter().map(|p| p.0).collect(),
                    mitigations: IMBALANCE_MITIGATIONS,
                    caveat: IMBALANCE_CAVEAT,
                });
            }
        }
        out.depth_profile
            .insert(role, profile.into_iter().map(|(layer, kl_excess)| DepthPoint { layer, kl_excess }).collect());
    }

    // pruning candidates: per layer, mean kl_excess (high first) and mean alpha (low first)
    let mut layers: BTreeMap<u32, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for r in records {
        if let (Some(layer), Some(e)) = (r.identity.layer, r.metrics.kl_excess) {
            let slot = layers.entry(layer).or_default();
            slot.0.push(e);
            if let Some(h) = r.metrics.htsr {
                slot.1.push(h.fit.alpha);
            }
        }
    }
    let mut cands: Vec<PruningCandidate> = layers
        .into_iter()
        .map(|(layer, (e, a))| PruningCandidate {
            layer,
            kl_excess: e.iter().sum::<f64>() / e.len() as f64,
            alpha: (!a.is_empty()).then(|| a.iter().sum::<f64>() / a.len() as f64),
            score: 0.0,
        })
        .collect();
    let n = cands.len();
    if n >= 2 {
        let mut by_kl: Vec<usize> = (0..n).collect();
        by_kl.sort_by(|&i, &j| cands[j].kl_excess.total_cmp(&cands[i].kl_excess));
        let mut by_alpha: Vec<usize> = (0..n).collect();
        by_alpha.sort_by(|&i, &j| {
            cands[i].alpha.unwrap_or(f64::INFINITY).total_cmp(&cands[j].alpha.unwrap_or(f64::INFINITY))
        });
        for (rank, &i) in by_kl.iter().enumerate() {
            cands[i].score += rank as f64 / 2.0;
        }
        for (rank, &i) in by_alpha.iter().enumerate() {
            cands[i].score += rank as f64 / 2.0;
        }
        cands.sort_by(|a, b| a.score.total_cmp(&b.score).then(a.layer.cmp(&b.layer)));
        let keep = ((n as f64 * t.pruning_fraction).ceil() as usize).clamp(1, n);
        cands.truncate(keep);
        out.pruning_candidates = cands;
    }
    out
}
