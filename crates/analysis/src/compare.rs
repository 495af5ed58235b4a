//! Two analyses side by side: matrices matched by name, per-matrix differences of every metric,
//! per-role and per-depth summaries, and verdicts in words with their evidence (sign tests).
//!
//! Pure: it takes two [`Analysis`] values and returns numbers and sentences.

use std::collections::BTreeMap;

use svdiag_core::stats;
use svdiag_core::{Metrics, TensorIdentity};

use crate::Analysis;

/// One matrix present in both.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// Tensor name (with `[gate]` for a gate).
    pub name: String,
    /// Role and layer.
    pub identity: TensorIdentity,
    /// `[m, n]`.
    pub matrix_shape: [usize; 2],
    /// The metrics in A.
    pub a: Metrics,
    /// The metrics in B.
    pub b: Metrics,
}

impl Pair {
    /// `B − A` of one metric, where both are finite.
    pub fn diff(&self, metric: &str) -> Option<f64> {
        let d = self.b.get(metric)? - self.a.get(metric)?;
        d.is_finite().then_some(d)
    }
}

/// A summary of one metric's differences over a group of matrices.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GroupSummary {
    /// `all`, `blocks` (matrices with a layer index), `role` or `depth`.
    pub group: &'static str,
    /// The role name, the layer index, or empty.
    pub key: String,
    /// The metric.
    pub metric: String,
    /// Matrices with the metric defined in both.
    pub n: usize,
    /// Matrices where B is higher.
    pub higher: usize,
    /// Matrices where B is lower.
    pub lower: usize,
    /// Median of `B − A`.
    pub median_diff: Option<f64>,
    /// Median of `(B − A)/|A|`.
    pub median_relative: Option<f64>,
    /// Two-sided sign test p-value of higher against lower.
    pub sign_test_p: f64,
}

/// A sentence about one metric, with its evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Verdict {
    /// The metric.
    pub metric: String,
    /// The sentence.
    pub text: String,
    /// The evidence (the `blocks` summary, or `all` when there are no block matrices).
    pub evidence: GroupSummary,
}

/// The metrics summarized per group; the first four also get a verdict.
pub const COMPARED: [&str; 6] =
    ["kl_uniform", "stable_rank", "effective_rank", "alpha", "spectral_norm", "condition_number"];

/// What each verdict's metric means when B is lower, and when higher.
const MEANINGS: [(&str, &str, &str); 4] = [
    ("kl_uniform", "flatter (closer to uniform)", "more concentrated (further from uniform)"),
    (
        "stable_rank",
        "lower in stable rank (energy in fewer directions)",
        "higher in stable rank (energy in more directions)",
    ),
    ("effective_rank", "lower in effective rank", "higher in effective rank"),
    ("alpha", "heavier-tailed (lower alpha)", "lighter-tailed (higher alpha)"),
];

/// Significance level of the verdicts' sign tests.
pub const VERDICT_P: f64 = 0.05;

/// The comparison.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// Matrices in both, in display order.
    pub pairs: Vec<Pair>,
    /// Names only in A.
    pub only_a: Vec<String>,
    /// Names only in B.
    pub only_b: Vec<String>,
    /// Names in both with different shapes: `(name, A's shape, B's shape)`; not compared.
    pub mismatched: Vec<(String, [usize; 2], [usize; 2])>,
    /// Summaries over all, block matrices, each role and each depth.
    pub summaries: Vec<GroupSummary>,
    /// One verdict per metric of [`COMPARED`]`[..4]` with enough matrices.
    pub verdicts: Vec<Verdict>,
}

fn key(r: &crate::MatrixRecord) -> String {
    crate::matrix_key(&r.name, r.gate)
}

impl Comparison {
    /// Matches the matrices of `a` and `b` by name and compares them.
    pub fn build(a: &Analysis, b: &Analysis) -> Self {
        let in_a: BTreeMap<String, &crate::MatrixRecord> = a.matrices.iter().map(|r| (key(r), r)).collect();
        let in_b: BTreeMap<String, &crate::MatrixRecord> = b.matrices.iter().map(|r| (key(r), r)).collect();
        let mut pairs = Vec::new();
        let mut mismatched = Vec::new();
        for (name, ra) in &in_a {
            let Some(rb) = in_b.get(name) else { continue };
            if ra.matrix_shape != rb.matrix_shape {
                mismatched.push((name.clone(), ra.matrix_shape, rb.matrix_shape));
                continue;
            }
            pairs.push(Pair {
                name: name.clone(),
                identity: rb.identity,
                matrix_shape: rb.matrix_shape,
                a: ra.metrics.clone(),
                b: rb.metrics.clone(),
            });
        }
        pairs.sort_by(|x, y| TensorIdentity::display_order((&x.identity, &x.name), (&y.identity, &y.name)));
        let only_a = in_a.keys().filter(|k| !in_b.contains_key(*k)).cloned().collect();
        let only_b = in_b.keys().filter(|k| !in_a.contains_key(*k)).cloned().collect();

        let mut summaries = Vec::new();
        for metric in COMPARED {
            let all: Vec<&Pair> = pairs.iter().collect();
            summaries.push(summarize("all", String::new(), metric, &all));
            let blocks: Vec<&Pair> = pairs.iter().filter(|p| p.identity.layer.is_some()).collect();
            if !blocks.is_empty() {
                summaries.push(summarize("blocks", String::new(), metric, &blocks));
            }
        }
        let mut roles: BTreeMap<&str, Vec<&Pair>> = BTreeMap::new();
        let mut depths: BTreeMap<u32, Vec<&Pair>> = BTreeMap::new();
        for p in &pairs {
            roles.entry(p.identity.role.name()).or_default().push(p);
            if let Some(l) = p.identity.layer {
                depths.entry(l).or_default().push(p);
            }
        }
        for metric in COMPARED {
            for (role, members) in &roles {
                summaries.push(summarize("role", role.to_string(), metric, members));
            }
            for (layer, members) in &depths {
                summaries.push(summarize("depth", layer.to_string(), metric, members));
            }
        }
        let verdicts = MEANINGS
            .iter()
            .filter_map(|(metric, lower, higher)| {
                let evidence = summaries
                    .iter()
                    .find(|s| s.group == "blocks" && s.metric == *metric && s.n > 0)
                    .or_else(|| summaries.iter().find(|s| s.group == "all" && s.metric == *metric && s.n > 0))?
                    .clone();
                Some(Verdict { metric: metric.to_string(), text: verdict_text(&evidence, lower, higher), evidence })
            })
            .collect();
        Self { pairs, only_a, only_b, mismatched, summaries, verdicts }
    }
}

fn summarize(group: &'static str, key: String, metric: &str, members: &[&Pair]) -> GroupSummary {
    let diffs: Vec<f64> = members.iter().filter_map(|p| p.diff(metric)).collect();
    let relative: Vec<f64> = members
        .iter()
        .filter_map(|p| {
            let a = p.a.get(metric)?;
            let d = p.diff(metric)?;
            (a != 0.0).then(|| d / a.abs())
        })
        .collect();
    let higher = diffs.iter().filter(|d| **d > 0.0).count();
    let lower = diffs.iter().filter(|d| **d < 0.0).count();
    GroupSummary {
        group,
        key,
        metric: metric.to_string(),
        n: diffs.len(),
        higher,
        lower,
        median_diff: stats::median(&diffs),
        median_relative: stats::median(&relative),
        sign_test_p: stats::sign_test(higher, lower),
    }
}

fn verdict_text(s: &GroupSummary, lower: &str, higher: &str) -> String {
    let what = if s.group == "blocks" { "block matrices" } else { "matrices" };
    let median = s.median_diff.map_or("n/a".to_string(), |m| format!("{m:+.3}"));
    let evidence = |count: usize, dir: &str| {
        format!(
            "{dir} {} in {count} of {} {what}, median {median}, sign test p = {}",
            s.metric,
            s.n,
            p_value(s.sign_test_p)
        )
    };
    if s.sign_test_p < VERDICT_P && s.lower > s.higher {
        format!("B's matrices are {lower}: {}", evidence(s.lower, "lower"))
    } else if s.sign_test_p < VERDICT_P && s.higher > s.lower {
        format!("B's matrices are {higher}: {}", evidence(s.higher, "higher"))
    } else {
        format!(
            "no consistent difference in {}: higher in {}, lower in {} of {} {what}, median {median}, sign test p = {}",
            s.metric,
            s.higher,
            s.lower,
            s.n,
            p_value(s.sign_test_p)
        )
    }
}

/// A p-value in two significant digits (`1e-5`, `0.03`, `1`).
pub fn p_value(p: f64) -> String {
    if p >= 0.01 {
        format!("{}", (p * 100.0).round() / 100.0)
    } else {
        format!("{p:.0e}")
    }
}
