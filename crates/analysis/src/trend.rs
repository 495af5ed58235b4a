//! A training run as time series: every matrix's metrics at every checkpoint, per-role and
//! per-depth aggregates, and alerts (sudden jumps and sustained drifts).
//!
//! Pure: it takes the analyses of the checkpoints (however they were computed) and returns
//! numbers; reading files and printing are elsewhere.

use std::collections::BTreeMap;

use svdiag_core::stats;
use svdiag_core::{Metrics, TensorIdentity};

use crate::runs::{Checkpoint, Run};
use crate::Analysis;

/// Which way a change is alarming.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// An increase.
    Rise,
    /// A decrease.
    Fall,
    /// Either.
    Any,
}

impl Direction {
    fn sign_ok(self, v: f64) -> bool {
        match self {
            Self::Rise => v > 0.0,
            Self::Fall => v < 0.0,
            Self::Any => v != 0.0,
        }
    }
    /// The name used in rules and reports (`rise`, `fall`, `any`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rise => "rise",
            Self::Fall => "fall",
            Self::Any => "any",
        }
    }
    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "rise" => Ok(Self::Rise),
            "fall" => Ok(Self::Fall),
            "any" => Ok(Self::Any),
            _ => Err(format!("unknown direction '{s}' (expected rise, fall or any)")),
        }
    }
}

/// A sudden change between consecutive checkpoints: the change's robust z-score against the
/// trajectory's own earlier step-to-step changes ([`stats::robust_step_z`]) beyond `z`. Scored
/// against the past only, an alert never depends on later checkpoints (`watch` and `trend` agree),
/// and the first [`JUMP_HISTORY`] changes (the early phase of training, where changes are largest)
/// are never scored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JumpRule {
    /// Canonical metric name.
    pub metric: String,
    /// Which way is alarming.
    pub direction: Direction,
    /// Robust z-score threshold.
    pub z: f64,
}

/// A sustained drift: over the last `window` checkpoints (at least 5) the metric moves
/// monotonically (Mann–Kendall, one-sided p below `p`) by at least `fraction` of its value at the
/// window's start.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DriftRule {
    /// Canonical metric name.
    pub metric: String,
    /// Which way is alarming.
    pub direction: Direction,
    /// Relative change over the window that fires the alert.
    pub fraction: f64,
    /// Checkpoints in the window; `None`: the later half of the run, at least 5.
    pub window: Option<usize>,
    /// One-sided Mann–Kendall p-value threshold.
    pub p: f64,
}

/// Step-to-step changes smaller than this fraction of the median change count as regular
/// (the floor of [`stats::robust_step_z`]).
pub const JUMP_FLOOR: f64 = 0.5;
/// Step-to-step changes a change is scored against, at least.
pub const JUMP_HISTORY: usize = 3;
/// Fewest checkpoints for a jump alert ([`JUMP_HISTORY`] changes before the scored one).
pub const MIN_JUMP_POINTS: usize = JUMP_HISTORY + 2;
/// Fewest checkpoints in a drift window.
pub const MIN_DRIFT_POINTS: usize = 5;

impl JumpRule {
    /// The default: a rise of `kl_uniform` with robust z ≥ 6.
    pub fn default_rule() -> Self {
        Self { metric: "kl_uniform".into(), direction: Direction::Rise, z: 6.0 }
    }

    /// Parses `METRIC[:DIRECTION[:Z]]`, e.g. `kl_uniform:rise:6`, `stable_rank:fall`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = s.split(':');
        let metric = known_metric(parts.next().unwrap_or(""))?;
        let direction = parts.next().map_or(Ok(Direction::Rise), Direction::parse)?;
        let z = parts.next().map_or(Ok(6.0), |z| positive(z, "z threshold"))?;
        if parts.next().is_some() {
            return Err(format!("'{s}': expected METRIC[:rise|fall|any[:Z]]"));
        }
        Ok(Self { metric, direction, z })
    }
}

impl DriftRule {
    /// The default: `stable_rank` falling by half over the later half of the run.
    pub fn default_rule() -> Self {
        Self { metric: "stable_rank".into(), direction: Direction::Fall, fraction: 0.5, window: None, p: 0.05 }
    }

    /// Parses `METRIC[:DIRECTION[:FRACTION[:WINDOW]]]`, e.g. `stable_rank:fall:0.5:8`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut parts = s.split(':');
        let metric = known_metric(parts.next().unwrap_or(""))?;
        let direction = parts.next().map_or(Ok(Direction::Fall), Direction::parse)?;
        let fraction = parts.next().map_or(Ok(0.5), |f| positive(f, "fraction"))?;
        let window = parts
            .next()
            .map(|w| match w.parse::<usize>() {
                Ok(n) if n >= MIN_DRIFT_POINTS => Ok(n),
                _ => Err(format!("drift window '{w}' must be a whole number ≥ {MIN_DRIFT_POINTS}")),
            })
            .transpose()?;
        if parts.next().is_some() {
            return Err(format!("'{s}': expected METRIC[:rise|fall|any[:FRACTION[:WINDOW]]]"));
        }
        Ok(Self { metric, direction, fraction, window, p: 0.05 })
    }
}

fn known_metric(name: &str) -> Result<String, String> {
    // every metric a record can carry (the FARMS and polar fields only with their flags)
    let all = svdiag_core::metrics::METRIC_FIELDS
        .iter()
        .chain(&svdiag_core::metrics::BASELINE_FIELDS)
        .chain(&svdiag_core::baselines::mp::MP_FIELDS)
        .chain(&svdiag_core::baselines::htsr::HTSR_FIELDS);
    if all.clone().any(|f| *f == name) {
        Ok(name.to_string())
    } else {
        Err(format!("unknown metric '{name}' (one of: {})", all.copied().collect::<Vec<_>>().join(", ")))
    }
}

fn positive(s: &str, what: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{what} '{s}' must be a positive number")),
    }
}

/// The alert rules of a trend.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AlertRules {
    /// Sudden changes.
    pub jumps: Vec<JumpRule>,
    /// Sustained drifts.
    pub drifts: Vec<DriftRule>,
}

impl Default for AlertRules {
    fn default() -> Self {
        Self { jumps: vec![JumpRule::default_rule()], drifts: vec![DriftRule::default_rule()] }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alert {
    /// `jump` or `drift`.
    pub kind: &'static str,
    /// The metric.
    pub metric: String,
    /// The matrix (tensor name, with `[gate]` for one gate of a stacked recurrent weight).
    pub matrix: String,
    /// Its role.
    pub role: &'static str,
    /// Its layer, if any.
    pub layer: Option<u32>,
    /// The step before the change (jump) or at the window's start (drift).
    pub from_step: u64,
    /// The step after the change or at the window's end.
    pub to_step: u64,
    /// The metric at `from_step`.
    pub from_value: f64,
    /// The metric at `to_step`.
    pub to_value: f64,
    /// `to_value − from_value`.
    pub change: f64,
    /// Jump: the change's robust z-score. Drift: the relative change over the window.
    pub score: f64,
    /// The threshold `score` crossed (z, or the fraction with the drift's sign).
    pub threshold: f64,
    /// Jump: the median step-to-step change of the trajectory. Drift: the Mann–Kendall p-value.
    pub reference: f64,
    /// One sentence.
    pub message: String,
    /// The diagnosis this pattern is evidence of (docs/metrics.md §8): `late_stage_degradation` for a
    /// jump up of `kl_uniform`, `spectral_saturation` for a drift down of `stable_rank`.
    pub diagnosis: Option<&'static str>,
    /// The usual mitigations for that diagnosis.
    pub mitigations: &'static [&'static str],
    /// What the alert does not prove.
    pub caveat: &'static str,
}

const GENERIC_CAVEAT: &str = "an alert says that a number moved unusually, not why: look at the matrix's spectrum and the validation loss at these steps";

/// The diagnosis, mitigations and caveat of an alert of `kind` on `metric` that moved by `change`.
fn reading(kind: &str, metric: &str, change: f64) -> (Option<&'static str>, &'static [&'static str], &'static str) {
    use crate::diagnose::{DEGRADATION_CAVEAT, DEGRADATION_MITIGATIONS, SATURATION_CAVEAT, SATURATION_MITIGATIONS};
    match (kind, metric) {
        ("jump", "kl_uniform") if change > 0.0 => {
            (Some("late_stage_degradation"), DEGRADATION_MITIGATIONS, DEGRADATION_CAVEAT)
        }
        (_, "stable_rank") if change < 0.0 => (Some("spectral_saturation"), SATURATION_MITIGATIONS, SATURATION_CAVEAT),
        _ => (None, &[], GENERIC_CAVEAT),
    }
}

/// One checkpoint's place in the trend.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CheckpointSummary {
    /// The checkpoint.
    #[serde(flatten)]
    pub checkpoint: Checkpoint,
    /// Matrices analyzed.
    pub matrices: usize,
    /// Matrices whose analysis failed.
    pub failed: usize,
    /// Spectra taken from the result store (not in the report, which must not depend on the store).
    #[serde(skip)]
    pub reused: usize,
}

/// One matrix across the run.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSeries {
    /// Tensor name, with `[gate]` for a gate.
    pub name: String,
    /// Role and layer.
    pub identity: TensorIdentity,
    /// `[m, n]` as analyzed (at its last checkpoint).
    pub matrix_shape: [usize; 2],
    /// The metrics at each checkpoint (`None` where the matrix is absent or failed).
    pub points: Vec<Option<Metrics>>,
}

impl MatrixSeries {
    /// `(checkpoint index, value)` of one metric where defined.
    pub fn values(&self, metric: &str) -> Vec<(usize, f64)> {
        self.points.iter().enumerate().filter_map(|(i, m)| Some((i, m.as_ref()?.get(metric)?))).collect()
    }
}

/// Medians of one metric over a group of matrices, per checkpoint.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Aggregate {
    /// `role` or `depth`.
    pub group: &'static str,
    /// The role name, or the layer index.
    pub key: String,
    /// The metric.
    pub metric: String,
    /// The median at each checkpoint (`None` where no matrix of the group has a value).
    pub medians: Vec<Option<f64>>,
    /// Matrices in the group (at the last checkpoint).
    pub matrices: usize,
}

/// Metrics aggregated per role and per depth.
pub const AGGREGATED: [&str; 4] = ["kl_uniform", "stable_rank", "effective_rank", "alpha"];

/// The whole trend.
#[derive(Debug, Clone)]
pub struct Trend {
    /// How the checkpoints were found.
    pub run: Run,
    /// Per checkpoint: what was analyzed.
    pub checkpoints: Vec<CheckpointSummary>,
    /// Per matrix, in display order.
    pub series: Vec<MatrixSeries>,
    /// Per role and per depth.
    pub aggregates: Vec<Aggregate>,
    /// Alerts, by step then matrix.
    pub alerts: Vec<Alert>,
    /// The rules applied.
    pub rules: AlertRules,
    /// Things to know (too few checkpoints for a rule, failures).
    pub notes: Vec<String>,
    /// Failures, as `(step, file, tensor, reason)`.
    pub failed: Vec<(u64, String, String, String)>,
}

impl Trend {
    /// Builds the series, aggregates and alerts from one analysis per checkpoint (same order as
    /// `run.checkpoints`).
    pub fn build(run: Run, analyses: &[Analysis], rules: &AlertRules) -> Self {
        assert_eq!(run.checkpoints.len(), analyses.len(), "one analysis per checkpoint");
        let n = analyses.len();
        let mut by_name: BTreeMap<String, MatrixSeries> = BTreeMap::new();
        let mut failed = Vec::new();
        for (i, (c, a)) in run.checkpoints.iter().zip(analyses).enumerate() {
            for r in &a.matrices {
                let s = by_name.entry(crate::matrix_key(&r.name, r.gate)).or_insert_with(|| MatrixSeries {
                    name: crate::matrix_key(&r.name, r.gate),
                    identity: r.identity,
                    matrix_shape: r.matrix_shape,
                    points: vec![None; n],
                });
                s.matrix_shape = r.matrix_shape;
                s.points[i] = Some(r.metrics.clone());
            }
            for f in &a.failed {
                failed.push((c.step, f.file.clone(), f.name.clone(), f.error.clone()));
            }
        }
        let mut series: Vec<MatrixSeries> = by_name.into_values().collect();
        series.sort_by(|a, b| TensorIdentity::display_order((&a.identity, &a.name), (&b.identity, &b.name)));
        let checkpoints = run
            .checkpoints
            .iter()
            .zip(analyses)
            .map(|(c, a)| CheckpointSummary {
                checkpoint: c.clone(),
                matrices: a.matrices.len(),
                failed: a.failed.len(),
                reused: a.reused,
            })
            .collect();
        let steps: Vec<u64> = run.checkpoints.iter().map(|c| c.step).collect();
        let mut notes = Vec::new();
        let mut alerts = Vec::new();
        for rule in &rules.jumps {
            if n < MIN_JUMP_POINTS {
                notes.push(format!(
                    "jump alerts on {} need {MIN_JUMP_POINTS} checkpoints or more; this run has {n}",
                    rule.metric
                ));
            }
            for s in &series {
                alerts.extend(jump_alerts(s, &steps, rule));
            }
        }
        for rule in &rules.drifts {
            let window = rule.window.unwrap_or(n.div_ceil(2).max(MIN_DRIFT_POINTS));
            if n < window {
                notes.push(format!(
                    "drift alerts on {} need {window} checkpoints or more; this run has {n}",
                    rule.metric
                ));
                continue;
            }
            for s in &series {
                alerts.extend(drift_alert(s, &steps, rule, window));
            }
        }
        let order: BTreeMap<&str, usize> = series.iter().enumerate().map(|(i, s)| (s.name.as_str(), i)).collect();
        alerts.sort_by_key(|a| (a.to_step, order.get(a.matrix.as_str()).copied(), a.kind));
        let aggregates = aggregates(&series, n);
        Self { run, checkpoints, series, aggregates, alerts, rules: rules.clone(), notes, failed }
    }
}

fn jump_alerts(s: &MatrixSeries, steps: &[u64], rule: &JumpRule) -> Vec<Alert> {
    let points = s.values(&rule.metric);
    if points.len() < MIN_JUMP_POINTS {
        return Vec::new();
    }
    let x: Vec<f64> = points.iter().map(|p| p.1).collect();
    let (d, z) = stats::robust_step_z(&x, JUMP_FLOOR, JUMP_HISTORY);
    let mut out = Vec::new();
    for i in 0..d.len() {
        let Some(z_i) = z[i] else { continue };
        let typical = stats::median(&d[..i]).unwrap_or(0.0);
        let fires = match rule.direction {
            Direction::Rise => z_i >= rule.z,
            Direction::Fall => z_i <= -rule.z,
            Direction::Any => z_i.abs() >= rule.z,
        };
        if !fires || !rule.direction.sign_ok(d[i]) {
            continue;
        }
        let (from, to) = (steps[points[i].0], steps[points[i + 1].0]);
        let (diagnosis, mitigations, caveat) = reading("jump", &rule.metric, d[i]);
        out.push(Alert {
            diagnosis,
            mitigations,
            caveat,
            kind: "jump",
            metric: rule.metric.clone(),
            matrix: s.name.clone(),
            role: s.identity.role.name(),
            layer: s.identity.layer,
            from_step: from,
            to_step: to,
            from_value: x[i],
            to_value: x[i + 1],
            change: d[i],
            score: z_i,
            threshold: rule.z,
            reference: typical,
            message: format!(
                "{} of {}: {} → {} between steps {from} and {to} ({:+.4}; the typical step-to-step change before was {:+.2e}; robust z = {:.1}, threshold {})",
                rule.metric,
                s.name,
                short(x[i]),
                short(x[i + 1]),
                d[i],
                typical,
                z_i,
                rule.z
            ),
        });
    }
    out
}

fn drift_alert(s: &MatrixSeries, steps: &[u64], rule: &DriftRule, window: usize) -> Option<Alert> {
    let points = s.values(&rule.metric);
    let tail = &points[points.len().saturating_sub(window)..];
    if tail.len() < MIN_DRIFT_POINTS {
        return None;
    }
    let x: Vec<f64> = tail.iter().map(|p| p.1).collect();
    let (first, last) = (x[0], x[x.len() - 1]);
    if first == 0.0 || !first.is_finite() || !last.is_finite() {
        return None;
    }
    let relative = (last - first) / first.abs();
    let (_, z) = stats::mann_kendall(&x)?;
    let p = match rule.direction {
        Direction::Rise => stats::normal_sf(z),
        Direction::Fall => stats::normal_sf(-z),
        Direction::Any => (2.0 * stats::normal_sf(z.abs())).min(1.0),
    };
    let big = match rule.direction {
        Direction::Rise => relative >= rule.fraction,
        Direction::Fall => relative <= -rule.fraction,
        Direction::Any => relative.abs() >= rule.fraction,
    };
    if !big || p >= rule.p {
        return None;
    }
    let (from, to) = (steps[tail[0].0], steps[tail[tail.len() - 1].0]);
    let (diagnosis, mitigations, caveat) = reading("drift", &rule.metric, last - first);
    Some(Alert {
        diagnosis,
        mitigations,
        caveat,
        kind: "drift",
        metric: rule.metric.clone(),
        matrix: s.name.clone(),
        role: s.identity.role.name(),
        layer: s.identity.layer,
        from_step: from,
        to_step: to,
        from_value: first,
        to_value: last,
        change: last - first,
        score: relative,
        threshold: if relative < 0.0 { -rule.fraction } else { rule.fraction },
        reference: p,
        message: format!(
            "{} of {} drifted {} → {} ({:+.0} %) over the {} checkpoints from step {from} to {to} (Mann–Kendall p = {:.1e}; threshold {:.0} %)",
            rule.metric,
            s.name,
            short(first),
            short(last),
            100.0 * relative,
            tail.len(),
            p,
            100.0 * rule.fraction
        ),
    })
}

fn short(v: f64) -> String {
    format!("{v:.4}")
}

fn aggregates(series: &[MatrixSeries], n: usize) -> Vec<Aggregate> {
    let mut out = Vec::new();
    let mut groups: BTreeMap<(&'static str, String, u32), Vec<&MatrixSeries>> = BTreeMap::new();
    for s in series {
        groups.entry(("role", s.identity.role.name().to_string(), 0)).or_default().push(s);
        if let Some(l) = s.identity.layer {
            groups.entry(("depth", l.to_string(), l)).or_default().push(s);
        }
    }
    let mut keys: Vec<_> = groups.keys().cloned().collect();
    keys.sort_by(|a, b| (a.0, a.2, &a.1).cmp(&(b.0, b.2, &b.1)));
    for key in keys {
        let members = &groups[&key];
        for metric in AGGREGATED {
            let medians: Vec<Option<f64>> = (0..n)
                .map(|i| {
                    let v: Vec<f64> =
                        members.iter().filter_map(|s| s.points[i].as_ref().and_then(|m| m.get(metric))).collect();
                    stats::median(&v)
                })
                .collect();
            if medians.iter().all(Option::is_none) {
                continue;
            }
            out.push(Aggregate {
                group: key.0,
                key: key.1.clone(),
                metric: metric.to_string(),
                medians,
                matrices: members.iter().filter(|s| s.points[n - 1].is_some()).count(),
            });
        }
    }
    out
}
