//! Reports of the run commands: `svdiag trend` (time series, aggregates, alerts) and
//! `svdiag compare` (matched matrices, differences, verdicts). Table, JSON and CSV, like `analyze`.
//!
//! JSON and CSV are in long form: one row per matrix and checkpoint (trend), one per matrix
//! (compare), with every metric under its canonical name.

use std::fmt::Write;

use serde_json::{json, Map, Value};
use svdiag_analysis::compare::Comparison;
use svdiag_analysis::trend::Trend;
use svdiag_analysis::AnalysisOptions;
use svdiag_core::Metrics;

use crate::table::{number, sparkline};

/// Every metric of `m` under its canonical name; undefined and non-finite values are `null`.
pub fn metric_map(m: &Metrics) -> Map<String, Value> {
    crate::metric_fields()
        .map(|f| {
            let v = m.get(f).filter(|v| v.is_finite());
            let value = match v {
                Some(v) if crate::is_count(f) => json!(v as u64),
                Some(v) => json!(v),
                None => Value::Null,
            };
            (f.to_string(), value)
        })
        .collect()
}

fn settings(options: &AnalysisOptions) -> Value {
    json!({
        "normalization": options.metrics.normalization,
        "q": options.metrics.q,
        "method": options.method.name(),
        "svd": crate::svd_method(options),
        "reshape": crate::RESHAPE_RULE,
    })
}

fn head(command: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("tool".into(), json!("svdiag"));
    m.insert("version".into(), json!(crate::VERSION));
    m.insert("command".into(), json!(command));
    m
}

/// The trend as one JSON document.
pub fn trend_json(t: &Trend, options: &AnalysisOptions) -> String {
    let mut doc = head("trend");
    doc.insert("run".into(), json!({ "given": t.run.given, "layout": t.run.layout, "checkpoints": t.checkpoints }));
    doc.insert("settings".into(), settings(options));
    doc.insert("alert_rules".into(), json!(t.rules));
    doc.insert("alerts".into(), json!(t.alerts));
    doc.insert("aggregates".into(), json!(t.aggregates));
    let steps: Vec<u64> = t.checkpoints.iter().map(|c| c.checkpoint.step).collect();
    let mut rows = Vec::new();
    for s in &t.series {
        for (i, p) in s.points.iter().enumerate() {
            let Some(m) = p else { continue };
            let mut row = Map::new();
            row.insert("matrix".into(), json!(s.name));
            row.insert("role".into(), json!(s.identity.role.name()));
            row.insert("layer".into(), json!(s.identity.layer));
            row.insert("matrix_shape".into(), json!(s.matrix_shape));
            row.insert("step".into(), json!(steps[i]));
            row.extend(metric_map(m));
            rows.push(Value::Object(row));
        }
    }
    doc.insert("series".into(), Value::Array(rows));
    doc.insert("notes".into(), json!(t.notes));
    doc.insert(
        "failed".into(),
        json!(t
            .failed
            .iter()
            .map(|(step, file, name, error)| json!({"step": step, "file": file, "name": name, "error": error}))
            .collect::<Vec<_>>()),
    );
    let mut s = serde_json::to_string_pretty(&Value::Object(doc)).expect("serializes");
    s.push('\n');
    s
}

/// The trend's series as CSV in long form: `matrix, role, layer, rows, cols, step, checkpoint`,
/// then every metric.
pub fn trend_csv(t: &Trend) -> String {
    let mut w = crate::csv::writer();
    let fields: Vec<&str> = crate::metric_fields().collect();
    let mut header = vec!["matrix", "role", "layer", "rows", "cols", "step", "checkpoint"];
    header.extend(&fields);
    w.write_record(&header).expect("write to memory");
    for s in &t.series {
        for (i, p) in s.points.iter().enumerate() {
            let Some(m) = p else { continue };
            let c = &t.checkpoints[i].checkpoint;
            let mut row = vec![
                s.name.clone(),
                s.identity.role.name().to_string(),
                s.identity.layer.map(|l| l.to_string()).unwrap_or_default(),
                s.matrix_shape[0].to_string(),
                s.matrix_shape[1].to_string(),
                c.step.to_string(),
                c.path.display().to_string(),
            ];
            row.extend(fields.iter().map(|f| crate::csv::cell(m.get(f), f)));
            w.write_record(&row).expect("write to memory");
        }
    }
    crate::csv::finish(w)
}

/// The trend as a terminal table: one line per matrix with a compact trend of `metric`, then the
/// per-role aggregates, the alerts and the notes.
pub fn trend_table(t: &Trend, metric: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "run: {} ({})",
        t.run.given.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(" "),
        t.run.layout
    );
    let first = t.checkpoints.first();
    let last = t.checkpoints.last();
    if let (Some(f), Some(l)) = (first, last) {
        let sources: std::collections::BTreeSet<&str> =
            t.checkpoints.iter().map(|c| c.checkpoint.step_source.describe()).collect();
        let _ = writeln!(
            out,
            "{} checkpoints, steps {} … {} (step {})",
            t.checkpoints.len(),
            f.checkpoint.step,
            l.checkpoint.step,
            sources.into_iter().collect::<Vec<_>>().join("; ")
        );
    }
    let _ = writeln!(out, "{metric} per matrix, first → last checkpoint:");
    let alerted: std::collections::BTreeSet<&str> = t.alerts.iter().map(|a| a.matrix.as_str()).collect();
    let head = ["layer", "role", "name", "shape", "trend", "first", "last", "min", "max", ""];
    let mut rows: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for s in &t.series {
        let values: Vec<Option<f64>> = s.points.iter().map(|p| p.as_ref().and_then(|m| m.get(metric))).collect();
        let defined: Vec<f64> = values.iter().flatten().copied().collect();
        let int = crate::is_count(metric);
        rows.push(vec![
            s.identity.layer.map(|l| l.to_string()).unwrap_or_default(),
            s.identity.role.name().to_string(),
            s.name.clone(),
            format!("{}×{}", s.matrix_shape[0], s.matrix_shape[1]),
            sparkline(&values),
            number(defined.first().copied(), int),
            number(defined.last().copied(), int),
            number(defined.iter().copied().reduce(f64::min), int),
            number(defined.iter().copied().reduce(f64::max), int),
            if alerted.contains(s.name.as_str()) { "ALERT".into() } else { String::new() },
        ]);
    }
    out.push_str(&align(&rows, &[false, false, false, true, false, true, true, true, true, false]));
    let roles: Vec<_> = t.aggregates.iter().filter(|a| a.group == "role" && a.metric == metric).collect();
    if !roles.is_empty() {
        let _ = writeln!(out, "median {metric} per role:");
        let width = roles.iter().map(|a| a.key.len()).max().unwrap_or(0);
        for a in roles {
            let defined: Vec<f64> = a.medians.iter().flatten().copied().collect();
            let _ = writeln!(
                out,
                "  {:<width$}  {}  {} → {}  ({} matrices)",
                a.key,
                sparkline(&a.medians),
                number(defined.first().copied(), false),
                number(defined.last().copied(), false),
                a.matrices
            );
        }
    }
    let depth: Vec<_> = t.aggregates.iter().filter(|a| a.group == "depth" && a.metric == metric).collect();
    if !depth.is_empty() {
        let last: Vec<Option<f64>> = depth.iter().map(|a| a.medians.last().copied().flatten()).collect();
        let _ = writeln!(
            out,
            "median {metric} by depth at the last checkpoint (layer {} → {}): {}",
            depth[0].key,
            depth[depth.len() - 1].key,
            sparkline(&last)
        );
    }
    out.push_str(&alerts_block(t));
    for n in &t.notes {
        let _ = writeln!(out, "note: {n}");
    }
    for (step, file, name, error) in &t.failed {
        let _ = writeln!(out, "FAILED at step {step}: {name} ({file}): {error}");
    }
    out
}

/// The alerts, one per line, with the rules that were applied.
pub fn alerts_block(t: &Trend) -> String {
    let mut out = String::new();
    let rules: Vec<String> = t
        .rules
        .jumps
        .iter()
        .map(|r| format!("jump {}:{}:z≥{}", r.metric, r.direction.name(), r.z))
        .chain(t.rules.drifts.iter().map(|r| {
            format!(
                "drift {}:{}:{}%{}",
                r.metric,
                r.direction.name(),
                100.0 * r.fraction,
                r.window.map(|w| format!(" over {w} checkpoints")).unwrap_or_default()
            )
        }))
        .collect();
    if t.alerts.is_empty() {
        let _ = writeln!(out, "alerts: none ({})", if rules.is_empty() { "no rules".into() } else { rules.join(", ") });
    } else {
        let _ = writeln!(out, "alerts: {} ({})", t.alerts.len(), rules.join(", "));
        for a in &t.alerts {
            let _ = writeln!(out, "  ALERT {} at step {}: {}", a.kind, a.to_step, a.message);
        }
        let mut diagnoses: Vec<&str> = t.alerts.iter().filter_map(|a| a.diagnosis).collect();
        diagnoses.sort_unstable();
        diagnoses.dedup();
        if !diagnoses.is_empty() {
            let _ =
                writeln!(out, "  evidence of: {} (mitigations and caveats in the JSON 'alerts')", diagnoses.join(", "));
        }
    }
    out
}

/// Left- or right-aligned columns separated by two spaces.
fn align(rows: &[Vec<String>], right: &[bool]) -> String {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c > 0 {
                line.push_str("  ");
            }
            if right[c] {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// What the two sides of a comparison are, for the reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Side {
    /// As given.
    pub given: String,
    /// The checkpoint analyzed (for a run: its chosen checkpoint).
    pub checkpoint: String,
    /// Its step, when known.
    pub step: Option<u64>,
    /// How it was chosen, in words.
    pub chosen: String,
}

/// The comparison as one JSON document.
pub fn compare_json(c: &Comparison, a: &Side, b: &Side, options: &AnalysisOptions) -> String {
    let mut doc = head("compare");
    doc.insert("a".into(), json!(a));
    doc.insert("b".into(), json!(b));
    doc.insert("settings".into(), settings(options));
    doc.insert("verdicts".into(), json!(c.verdicts));
    doc.insert("summaries".into(), json!(c.summaries));
    let pairs: Vec<Value> = c
        .pairs
        .iter()
        .map(|p| {
            let diff: Map<String, Value> =
                crate::metric_fields().map(|f| (f.to_string(), p.diff(f).map_or(Value::Null, |d| json!(d)))).collect();
            json!({
                "matrix": p.name,
                "role": p.identity.role.name(),
                "layer": p.identity.layer,
                "matrix_shape": p.matrix_shape,
                "a": metric_map(&p.a),
                "b": metric_map(&p.b),
                "diff": diff,
            })
        })
        .collect();
    doc.insert("matrices".into(), Value::Array(pairs));
    doc.insert("only_in_a".into(), json!(c.only_a));
    doc.insert("only_in_b".into(), json!(c.only_b));
    doc.insert(
        "shape_mismatch".into(),
        json!(c.mismatched.iter().map(|(n, x, y)| json!({"matrix": n, "a": x, "b": y})).collect::<Vec<_>>()),
    );
    let mut s = serde_json::to_string_pretty(&Value::Object(doc)).expect("serializes");
    s.push('\n');
    s
}

/// The comparison as CSV in long form: `matrix, role, layer, rows, cols, metric, a, b, diff`.
pub fn compare_csv(c: &Comparison) -> String {
    let mut w = crate::csv::writer();
    w.write_record(["matrix", "role", "layer", "rows", "cols", "metric", "a", "b", "diff"]).expect("write to memory");
    for p in &c.pairs {
        for f in crate::metric_fields() {
            let (a, b) = (p.a.get(f), p.b.get(f));
            if a.is_none() && b.is_none() {
                continue;
            }
            w.write_record([
                p.name.clone(),
                p.identity.role.name().to_string(),
                p.identity.layer.map(|l| l.to_string()).unwrap_or_default(),
                p.matrix_shape[0].to_string(),
                p.matrix_shape[1].to_string(),
                f.to_string(),
                crate::csv::cell(a, f),
                crate::csv::cell(b, f),
                crate::csv::cell(p.diff(f), f),
            ])
            .expect("write to memory");
        }
    }
    crate::csv::finish(w)
}

/// The comparison as a terminal table: the two sides, the verdicts, per-role medians of `B − A`,
/// then one line per matrix.
pub fn compare_table(c: &Comparison, a: &Side, b: &Side, metric: &str) -> String {
    let mut out = String::new();
    for (label, s) in [("A", a), ("B", b)] {
        let _ = writeln!(out, "{label}: {} ({})", s.checkpoint, s.chosen);
    }
    let _ = writeln!(out, "{} matched by name", crate::plural(c.pairs.len(), "matrix", "matrices"));
    let _ =
        writeln!(out, "verdicts (sign tests over the matched matrices; p < {}):", svdiag_analysis::compare::VERDICT_P);
    for v in &c.verdicts {
        let _ = writeln!(out, "  {}", v.text);
    }
    let roles: Vec<_> = c.summaries.iter().filter(|s| s.group == "role" && s.metric == metric).collect();
    if !roles.is_empty() {
        let _ = writeln!(out, "{metric}, B − A per role:");
        let mut rows = vec![["role", "n", "B higher", "B lower", "median B − A", "median relative", "sign test p"]
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()];
        for s in roles {
            rows.push(vec![
                s.key.clone(),
                s.n.to_string(),
                s.higher.to_string(),
                s.lower.to_string(),
                number(s.median_diff, false),
                s.median_relative.map_or("-".into(), |r| format!("{:+.1} %", 100.0 * r)),
                svdiag_analysis::compare::p_value(s.sign_test_p),
            ]);
        }
        out.push_str(&indent(&align(&rows, &[false, true, true, true, true, true, true])));
    }
    let _ = writeln!(out, "per matrix:");
    let mut rows = vec![["layer", "role", "name", "shape"]
        .iter()
        .map(|s| s.to_string())
        .chain([
            format!("{metric} A"),
            format!("{metric} B"),
            "B − A".into(),
            "stable_rank A".into(),
            "stable_rank B".into(),
        ])
        .collect::<Vec<_>>()];
    let int = crate::is_count(metric);
    for p in &c.pairs {
        rows.push(vec![
            p.identity.layer.map(|l| l.to_string()).unwrap_or_default(),
            p.identity.role.name().to_string(),
            p.name.clone(),
            format!("{}×{}", p.matrix_shape[0], p.matrix_shape[1]),
            number(p.a.get(metric), int),
            number(p.b.get(metric), int),
            number(p.diff(metric), int),
            number(p.a.stable_rank, false),
            number(p.b.stable_rank, false),
        ]);
    }
    out.push_str(&indent(&align(&rows, &[false, false, false, true, true, true, true, true, true])));
    unmatched(&mut out, &c.only_a, &c.only_b, &c.mismatched);
    out
}

/// The lines that name what could not be paired (compare and delta).
pub fn unmatched(
    out: &mut String,
    only_a: &[String],
    only_b: &[String],
    mismatched: &[(String, [usize; 2], [usize; 2])],
) {
    for (label, names) in [("only in A", only_a), ("only in B", only_b)] {
        if !names.is_empty() {
            let shown: Vec<&str> = names.iter().take(8).map(String::as_str).collect();
            let more = if names.len() > 8 { format!(", … ({} in all)", names.len()) } else { String::new() };
            let _ = writeln!(out, "{label}, not compared: {}{more}", shown.join(", "));
        }
    }
    for (n, x, y) in mismatched {
        let _ = writeln!(out, "shapes differ, not compared: {n} (A {}×{}, B {}×{})", x[0], x[1], y[0], y[1]);
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}
