//! Diagnoses (docs/metrics.md §8: patterns of spectral health made quantitative): pure
//! functions of the analyzed records.
//!
//! Per matrix:
//! - **spectral_saturation** (rank collapse): `kl_excess ≥ collapse_kl_excess` and
//!   `stable_rank ≤ collapse_stable_rank_fraction · r`.
//! - **isotropy** (under-training): the spectrum is indistinguishable from that of a Gaussian
//!   matrix of its shape: the Monte Carlo test against that null ([`crate::null`]) does not reject
//!   at `isotropy_level` (`null_p > isotropy_level`); and, only where the user sets them, bounds on
//!   the effect sizes (`|kl_excess| ≤ isotropy_kl_excess`, `mp_ks ≤ isotropy_mp_ks`).
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
    /// isotropy: an optional bound on `|kl_excess|` besides the test (none by default: a fixed
    /// bound cannot suit every shape).
    pub isotropy_kl_excess: Option<f64>,
    /// isotropy: an optional bound on `mp_ks` besides the test (none by default).
    pub isotropy_mp_ks: Option<f64>,
    /// isotropy: the significance level of the test against the null of the shape (fires when
    /// `null_p > isotropy_level`).
    pub isotropy_level: f64,
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
            isotropy_kl_excess: None,
            isotropy_mp_ks: None,
            isotropy_level: 0.01,
            imbalance_shallow_isotropic: 0.25,
            imbalance_deep_isotropic: 0.5,
            imbalance_min_layers: 4.0,
            pruning_fraction: 0.25,
        }
    }
}

impl Thresholds {
    /// The names accepted by [`Thresholds::set`].
    pub const NAMES: [&'static str; 9] = [
        "collapse_kl_excess",
        "collapse_stable_rank_fraction",
        "isotropy_kl_excess",
        "isotropy_mp_ks",
        "isotropy_level",
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
            "isotropy_kl_excess" => {
                self.isotropy_kl_excess = Some(v);
                return Ok(());
            }
            "isotropy_mp_ks" => {
                self.isotropy_mp_ks = Some(v);
                return Ok(());
            }
            "isotropy_level" => {
                if !(v > 0.0 && v < 1.0) {
                    return Err(format!("threshold isotropy_level is a significance level in (0, 1), got {value}"));
                }
                &mut self.isotropy_level
            }
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

/// How the isotropy test was calibrated, and what its level means over a whole model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Calibration {
    /// The null hypothesis, in words.
    pub null: &'static str,
    /// Monte Carlo samples per shape.
    pub samples: usize,
    /// The seed of every null.
    pub seed: u64,
    /// The per-matrix significance level (`isotropy_level`).
    pub level: f64,
    /// Matrices tested (those with a Marchenko–Pastur fit).
    pub matrices_tested: usize,
    /// Matrices distinguishable from the null at the level (`null_p ≤ level`).
    pub nonrandom: usize,
    /// How many of the tested matrices would be called non-random if every one were random: `level ·
    /// matrices_tested` (the expected number of false calls at this level).
    pub expected_false_nonrandom: f64,
    /// Matrices called non-random with the false-discovery rate across the model held at the
    /// level (Benjamini–Hochberg on the `null_p` of every tested matrix).
    pub nonrandom_fdr: usize,
    /// How the level is set, in words.
    pub multiple_testing: &'static str,
}

const NULL_IN_WORDS: &str = "a matrix of i.i.d. Gaussian entries of the same shape (any scale), sampled by seeded Monte Carlo through the bidiagonal model of its singular values";
const MULTIPLE_TESTING: &str = "isotropy is a per-matrix verdict at the level: a random matrix is called isotropic with probability at least 1 − level, so it needs no correction for the number of matrices; the claim 'non-random' across a model is read with nonrandom_fdr, which holds the false-discovery rate at the level (Benjamini–Hochberg)";

/// Benjamini–Hochberg: how many of the p-values are discoveries at false-discovery rate `q`.
fn benjamini_hochberg(mut p: Vec<f64>, q: f64) -> usize {
    p.sort_by(f64::total_cmp);
    let m = p.len() as f64;
    p.iter().enumerate().filter(|(i, &pi)| pi <= (*i as f64 + 1.0) / m * q).map(|(i, _)| i + 1).max().unwrap_or(0)
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
    /// How the isotropy test was calibrated (absent when no matrix was tested).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
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
const ISOTROPY_CAVEAT: &str = "a test of the singular values only: it says this spectrum could be that of a Gaussian matrix of the same shape (at the stated level, so about 1 in 100 random matrices is called non-random), not that the matrix is untrained; training that moved only the singular vectors is invisible to any spectral test, and a weak deviation needs a larger matrix to be seen";
const IMBALANCE_MITIGATIONS: &[&str] =
    &["Scaling: apply 1/√L scaling to residual branches", "Adaptive LR: use layer-wise learning rates"];
const IMBALANCE_CAVEAT: &str = "one checkpoint shows where the layers are, not how they got there: compare with earlier checkpoints (svdiag trend)";

fn map<const N: usize>(pairs: [(&'static str, f64); N]) -> BTreeMap<&'static str, f64> {
    pairs.into_iter().collect()
}

/// Whether the matrix is indistinguishable from a Gaussian matrix of its shape: the test against
/// the null does not reject at `isotropy_level`, and, where the user set them, the effect sizes
/// stay within `isotropy_kl_excess` and `isotropy_mp_ks`. `None` without a test.
fn is_isotropic(r: &MatrixRecord, t: &Thresholds) -> Option<bool> {
    let (mp, excess, test) = (r.metrics.mp?, r.metrics.kl_excess?, r.metrics.null?);
    Some(
        test.null_p > t.isotropy_level
            && t.isotropy_kl_excess.is_none_or(|b| excess.abs() <= b)
            && t.isotropy_mp_ks.is_none_or(|b| mp.ks <= b),
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
    if records.iter().any(|r| r.metrics.adapter.is_some()) {
        // an adapter's update ΔW = s·B·A is low-rank by construction: the diagnoses of full weights
        // (saturation, isotropy, imbalance, pruning) would misread it; only full matrices take them
        let full: Vec<MatrixRecord> = records.iter().filter(|r| r.metrics.adapter.is_none()).cloned().collect();
        return diagnose(&full, t);
    }
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
            let (mp, test) = (m.mp.expect("checked by is_isotropic"), m.null.expect("checked by is_isotropic"));
            let evidence = map([
                ("kl_uniform", kl),
                ("random_baseline_kl", baseline),
                ("kl_excess", excess),
                ("kl_excess_p", test.kl_excess_p),
                ("kl_excess_null_low", test.kl_excess_q[0]),
                ("kl_excess_null_high", test.kl_excess_q[1]),
                ("mp_ks", mp.ks),
                ("mp_ks_p", test.mp_ks_p),
                ("mp_ks_null_q99", test.mp_ks_q99),
                ("outliers_above", mp.outliers_above as f64),
                ("outliers_above_p", test.outliers_above_p),
                ("outliers_below", mp.outliers_below as f64),
                ("outliers_below_p", test.outliers_below_p),
                ("null_p", test.null_p),
                ("null_samples", test.samples as f64),
            ]);
            out.matrices.push(Diagnosis {
                kind: "isotropy",
                subject: r.name.clone(),
                evidence,
                thresholds: [
                    ("isotropy_level", Some(t.isotropy_level)),
                    ("isotropy_kl_excess", t.isotropy_kl_excess),
                    ("isotropy_mp_ks", t.isotropy_mp_ks),
                ]
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?)))
                .collect(),
                layers: r.identity.layer.into_iter().collect(),
                mitigations: ISOTROPY_MITIGATIONS,
                caveat: ISOTROPY_CAVEAT,
            });
        }
    }

    let p: Vec<f64> = records.iter().filter_map(|r| r.metrics.null.map(|n| n.null_p)).collect();
    out.calibration = records.iter().find_map(|r| r.metrics.null).map(|first| Calibration {
        null: NULL_IN_WORDS,
        samples: first.samples,
        seed: svdiag_core::baselines::null::SEED,
        level: t.isotropy_level,
        matrices_tested: p.len(),
        nonrandom: p.iter().filter(|&&x| x <= t.isotropy_level).count(),
        expected_false_nonrandom: t.isotropy_level * p.len() as f64,
        nonrandom_fdr: benjamini_hochberg(p.clone(), t.isotropy_level),
        multiple_testing: MULTIPLE_TESTING,
    });

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
