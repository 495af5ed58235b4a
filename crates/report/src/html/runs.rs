//! The pages of the run commands: `trend` (every matrix's trajectory per metric with the alerts
//! marked, a layer × step heat map per role) and `compare` (A against B per matrix with the
//! diagonal, per-layer differences, the verdicts, and the names found on one side only).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::Value;

use super::parts::{filter_controls, header, nav, num_cell, section, text_cell, url_component};
use super::svg::{colour, esc, min_max, nice_range, px, Chart};

/// Metrics with a trajectory panel.
const TREND_METRICS: [&str; 6] = ["kl_uniform", "kl_excess", "alpha", "stable_rank", "effective_rank", "spectral_norm"];
/// Metrics with a heat map per role.
const HEAT_METRICS: [&str; 3] = ["kl_excess", "alpha", "stable_rank"];
/// Every matrix's own line is drawn up to this many matrices × checkpoints (then the role medians
/// with their min–max band only).
const MAX_LINE_POINTS: usize = 20_000;
/// Heat maps show at most this many checkpoints (evenly spaced, first and last always).
const MAX_HEAT_STEPS: usize = 48;
/// Metrics compared on the scatter plots and per layer.
const COMPARE_METRICS: [&str; 4] = ["kl_excess", "entropy", "alpha", "stable_rank"];

/// One matrix's values over the checkpoints.
struct Series<'a> {
    name: &'a str,
    role: &'a str,
    layer: Option<u64>,
    rows: Vec<&'a Value>,
}

fn role_index(roles: &[&str], role: &str) -> usize {
    roles.iter().position(|r| *r == role).unwrap_or(0)
}

pub(super) fn trend_body(doc: &Value) -> String {
    let empty = Vec::new();
    let rows = doc["series"].as_array().unwrap_or(&empty);
    let steps: Vec<u64> =
        doc["run"]["checkpoints"].as_array().into_iter().flatten().filter_map(|c| c["step"].as_u64()).collect();
    let mut by_name: BTreeMap<&str, Series> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    for r in rows {
        let name = r["matrix"].as_str().unwrap_or("");
        by_name
            .entry(name)
            .or_insert_with(|| {
                order.push(name);
                Series { name, role: r["role"].as_str().unwrap_or(""), layer: r["layer"].as_u64(), rows: Vec::new() }
            })
            .rows
            .push(r);
    }
    let series: Vec<&Series> = order.iter().map(|n| &by_name[n]).collect();
    let roles: Vec<&str> = series.iter().map(|s| s.role).collect::<BTreeSet<_>>().into_iter().collect();
    let alerts = doc["alerts"].as_array().cloned().unwrap_or_default();

    let mut out = nav(&[
        ("summary", "Summary"),
        ("alerts", "Alerts"),
        ("trajectories", "Trajectories"),
        ("heatmaps", "Heat maps"),
        ("series", "Matrices"),
        ("checkpoints", "Checkpoints"),
        ("provenance", "Provenance"),
    ]);
    out.push_str("<main>\n");
    let mut s = format!(
        "<ul class=\"counts\"><li><b id=\"count-checkpoints\">{}</b> checkpoints, steps {} to {}</li><li><b id=\"count-matrices\">{}</b> matrices</li><li><b id=\"count-alerts\">{}</b> alerts</li><li><b>{}</b> failed tensors</li></ul>",
        steps.len(),
        steps.first().copied().unwrap_or(0),
        steps.last().copied().unwrap_or(0),
        series.len(),
        alerts.len(),
        doc["failed"].as_array().map_or(0, Vec::len)
    );
    for n in doc["notes"].as_array().into_iter().flatten() {
        let _ = write!(s, "<p class=\"warning\">note: {}</p>", esc(n.as_str().unwrap_or("")));
    }
    for f in doc["failed"].as_array().into_iter().flatten() {
        let _ = write!(
            s,
            "<p class=\"failed\">FAILED at step {}: <code>{}</code> ({}): {}</p>",
            f["step"],
            esc(f["name"].as_str().unwrap_or("")),
            esc(f["file"].as_str().unwrap_or("")),
            esc(f["error"].as_str().unwrap_or(""))
        );
    }
    out.push_str(&section(
        "summary",
        "Summary",
        "what the run holds; the alerts below are changes between checkpoints that crossed a rule.",
        &s,
    ));
    out.push_str(&alerts_table(&alerts));
    out.push_str(&trajectories(&series, &roles, &steps, &alerts));
    out.push_str(&heatmaps(&series, &roles, &steps));
    out.push_str(&series_table(&series, &alerts));
    out.push_str(&checkpoints(doc));
    out.push_str("</main>\n");
    out
}

fn alerts_table(alerts: &[Value]) -> String {
    if alerts.is_empty() {
        return section("alerts", "Alerts", "a jump is a change between two checkpoints far outside the run's typical step-to-step change; a drift is a steady trend over a window.", "<p>No alert fired.</p>");
    }
    let mut c = String::from("<div class=\"scroll\"><table id=\"alert-table\" class=\"sortable data\">");
    c.push_str(&header(&[
        ("kind", false),
        ("metric", false),
        ("matrix", false),
        ("role", false),
        ("layer", true),
        ("from step", true),
        ("to step", true),
        ("from", true),
        ("to", true),
        ("score", true),
        ("threshold", true),
        ("message", false),
    ]));
    c.push_str("<tbody>");
    for a in alerts {
        let name = a["matrix"].as_str().unwrap_or("");
        let _ = write!(
            c,
            "<tr class=\"alert-row\" data-name=\"{}\">{}{}<td><a href=\"#s={}\">{}</a></td>{}{}{}{}{}{}{}{}<td>{}{}</td></tr>",
            esc(name),
            text_cell(a["kind"].as_str().unwrap_or("")),
            text_cell(a["metric"].as_str().unwrap_or("")),
            esc(&url_component(name)),
            esc(name),
            text_cell(a["role"].as_str().unwrap_or("")),
            num_cell(&a["layer"], true, Some("no layer")),
            num_cell(&a["from_step"], true, None),
            num_cell(&a["to_step"], true, None),
            num_cell(&a["from_value"], false, None),
            num_cell(&a["to_value"], false, None),
            num_cell(&a["score"], false, None),
            num_cell(&a["threshold"], false, None),
            esc(a["message"].as_str().unwrap_or("")),
            a["caveat"].as_str().filter(|c| !c.is_empty()).map(|c| format!("<br><span class=\"caveat\">{}</span>", esc(c))).unwrap_or_default()
        );
    }
    c.push_str("</tbody></table></div>");
    section(
        "alerts",
        "Alerts",
        "each alert names the matrix, the metric, the two steps and values, and its score against the rule's threshold (the rules are in the JSON's alert_rules); it is marked ■ on the trajectories.",
        &c,
    )
}

fn trajectories(series: &[&Series], roles: &[&str], steps: &[u64], alerts: &[Value]) -> String {
    if steps.is_empty() {
        return section("trajectories", "Trajectories", "no checkpoint was analyzed.", "");
    }
    let each_line = series.len() * steps.len() <= MAX_LINE_POINTS;
    let (s0, s1) = (steps[0] as f64, *steps.last().unwrap() as f64);
    let mut c = String::from("<div class=\"grid\">");
    for metric in TREND_METRICS {
        let vals = min_max(series.iter().flat_map(|s| s.rows.iter().filter_map(|r| r[metric].as_f64())));
        let Some((lo, hi)) = vals else { continue };
        let (lo, hi) = nice_range(lo, hi);
        let mut ch = Chart::new(
            &format!("traj-{metric}"),
            420.0,
            250.0,
            (s0, s1 + (s1 - s0).max(1.0) * 0.2),
            (lo, hi),
            &format!("{metric} over the training steps"),
            &format!(
                "{metric} of {} matrices over {} checkpoints; bold lines are the median per role",
                series.len(),
                steps.len()
            ),
        );
        ch.axes("step", metric, false, false);
        // per role: median and min–max over its matrices at each step
        for (ri, role) in roles.iter().enumerate() {
            let members: Vec<&&Series> = series.iter().filter(|s| s.role == *role).collect();
            let mut med = Vec::new();
            let mut band_lo = Vec::new();
            let mut band_hi = Vec::new();
            for &st in steps {
                let mut v: Vec<f64> = members
                    .iter()
                    .filter_map(|s| {
                        s.rows.iter().find(|r| r["step"].as_u64() == Some(st)).and_then(|r| r[metric].as_f64())
                    })
                    .collect();
                v.sort_by(f64::total_cmp);
                let m = (!v.is_empty()).then(|| {
                    if v.len() % 2 == 1 {
                        v[v.len() / 2]
                    } else {
                        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
                    }
                });
                med.push((st as f64, m));
                band_lo.push((st as f64, v.first().copied()));
                band_hi.push((st as f64, v.last().copied()));
            }
            let col = colour(ri);
            if !each_line {
                ch.line("band-line", &band_lo, &format!(" stroke=\"{col}\""));
                ch.line("band-line", &band_hi, &format!(" stroke=\"{col}\""));
            }
            ch.line("role-median", &med, &format!(" stroke=\"{col}\" data-role=\"{}\"", esc(role)));
            if let Some(&(x, Some(y))) = med.iter().rev().find(|p| p.1.is_some()) {
                ch.end_label(x, y, col, role);
            }
        }
        if each_line {
            for s in series {
                let pts: Vec<(f64, Option<f64>)> =
                    s.rows.iter().map(|r| (r["step"].as_f64().unwrap_or(0.0), r[metric].as_f64())).collect();
                ch.line("traj", &pts, &format!(" data-matrix=\"{}\"", esc(s.name)));
            }
        }
        for a in alerts.iter().filter(|a| a["metric"].as_str() == Some(metric)) {
            if let (Some(st), Some(v)) = (a["to_step"].as_f64(), a["to_value"].as_f64()) {
                let (x, y) = (ch.x.at(st), ch.y.at(v.clamp(lo, hi)));
                let title = format!(
                    "{} {}: {} (step {} → {})",
                    a["kind"].as_str().unwrap_or(""),
                    a["matrix"].as_str().unwrap_or(""),
                    a["message"].as_str().unwrap_or(""),
                    a["from_step"],
                    a["to_step"]
                );
                ch.marker_px(
                    "alert",
                    "square",
                    x,
                    y,
                    &title,
                    &format!(" data-matrix=\"{}\"", esc(a["matrix"].as_str().unwrap_or(""))),
                );
            }
        }
        let _ = write!(c, "<figure>{}</figure>", ch.finish());
    }
    c.push_str("</div>");
    let how = if each_line {
        "x is the training step; each thin grey line is one matrix, each bold line the median of a role (named at its end); ■ marks an alert at the step it fired (hover for the rule and values)."
    } else {
        "x is the training step; each bold line is the median of a role (named at its end), the thin lines of its colour its minimum and maximum over the role's matrices (this run is too large to draw every matrix's line; the table below has them); ■ marks an alert."
    };
    section("trajectories", "Trajectories", how, &c)
}

/// A colour on a sequential blue–yellow ramp for `f ∈ [0, 1]`.
fn ramp(f: f64) -> String {
    let f = f.clamp(0.0, 1.0);
    // from Okabe–Ito blue (0,114,178) to yellow (240,228,66)
    let lerp = |a: f64, b: f64| (a + (b - a) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", lerp(0.0, 240.0), lerp(114.0, 228.0), lerp(178.0, 66.0))
}

fn heatmaps(series: &[&Series], roles: &[&str], steps: &[u64]) -> String {
    let layered: Vec<&&Series> = series.iter().filter(|s| s.layer.is_some()).collect();
    if layered.is_empty() || steps.is_empty() {
        return section(
            "heatmaps",
            "Heat maps",
            "no matrix has a layer number in its name, so there is no layer axis.",
            "",
        );
    }
    let shown: Vec<u64> = if steps.len() <= MAX_HEAT_STEPS {
        steps.to_vec()
    } else {
        (0..MAX_HEAT_STEPS).map(|j| steps[j * (steps.len() - 1) / (MAX_HEAT_STEPS - 1)]).collect()
    };
    let mut c = String::from("<div class=\"controls\"><label>Metric <select id=\"heat-metric\">");
    for m in HEAT_METRICS {
        let _ = write!(c, "<option value=\"{m}\">{m}</option>");
    }
    c.push_str("</select></label></div>");
    for (mi, metric) in HEAT_METRICS.iter().enumerate() {
        let _ = write!(c, "<div class=\"grid heat\" data-metric=\"{metric}\"{}>", if mi == 0 { "" } else { " hidden" });
        for role in roles {
            let members: Vec<&&&Series> = layered.iter().filter(|s| s.role == *role).collect();
            if members.is_empty() {
                continue;
            }
            let layers: Vec<u64> =
                members.iter().filter_map(|s| s.layer).collect::<BTreeSet<_>>().into_iter().collect();
            let cell = |layer: u64, st: u64| -> Option<f64> {
                let v: Vec<f64> = members
                    .iter()
                    .filter(|s| s.layer == Some(layer))
                    .filter_map(|s| {
                        s.rows.iter().find(|r| r["step"].as_u64() == Some(st)).and_then(|r| r[*metric].as_f64())
                    })
                    .collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            };
            let Some((lo, hi)) = min_max(layers.iter().flat_map(|&l| shown.iter().filter_map(move |&st| cell(l, st))))
            else {
                continue;
            };
            let mut ch = Chart::new(
                &format!("heat-{metric}-{role}"),
                420.0,
                60.0 + 12.0 * layers.len().max(4) as f64,
                (-0.5, shown.len() as f64 - 0.5),
                (-0.5, layers.len() as f64 - 0.5),
                &format!("{metric} of {role} by layer and step"),
                &format!(
                    "heat map of {metric} for role {role}: {} layers × {} checkpoints, from {} (blue) to {} (yellow)",
                    layers.len(),
                    shown.len(),
                    crate::table::number(Some(lo), false),
                    crate::table::number(Some(hi), false)
                ),
            );
            let (w, h) = ((ch.x.at(1.0) - ch.x.at(0.0)).abs(), (ch.y.at(0.0) - ch.y.at(1.0)).abs());
            let mut cells = String::new();
            for (li, &l) in layers.iter().enumerate() {
                for (si, &st) in shown.iter().enumerate() {
                    let Some(v) = cell(l, st) else { continue };
                    let f = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                    let _ = write!(
                        cells,
                        "<rect class=\"cell\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>layer {l}, step {st}: {}</title></rect>",
                        px(ch.x.at(si as f64) - w / 2.0),
                        px(ch.y.at(li as f64) - h / 2.0),
                        px(w + 0.3),
                        px(h + 0.3),
                        ramp(f),
                        crate::table::number(Some(v), false)
                    );
                }
            }
            ch.raw(&cells);
            // layer numbers on the rows and steps under a few columns
            let mut ticks = String::new();
            let every = layers.len().div_ceil(12).max(1);
            for (li, l) in layers.iter().enumerate().filter(|(li, _)| li % every == 0) {
                let _ = write!(
                    ticks,
                    "<text x=\"{}\" y=\"{}\" dy=\"0.32em\" text-anchor=\"end\">{l}</text>",
                    px(ch.x.r.0 - 4.0),
                    px(ch.y.at(li as f64))
                );
            }
            let every = shown.len().div_ceil(6).max(1);
            for (si, st) in shown.iter().enumerate().filter(|(si, _)| si % every == 0 || *si + 1 == shown.len()) {
                let _ = write!(
                    ticks,
                    "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{st}</text>",
                    px(ch.x.at(si as f64)),
                    px(ch.y.r.0 + 13.0)
                );
            }
            let _ = write!(
                ticks,
                "<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">step{}</text><text class=\"label\" transform=\"translate(12 {}) rotate(-90)\" text-anchor=\"middle\">layer</text>",
                px((ch.x.r.0 + ch.x.r.1) / 2.0),
                px(ch.y.r.0 + 28.0),
                if shown.len() < steps.len() { format!(" ({} of {} checkpoints)", shown.len(), steps.len()) } else { String::new() },
                px((ch.y.r.0 + ch.y.r.1) / 2.0)
            );
            ch.raw(&ticks);
            let _ = write!(
                c,
                "<figure><figcaption>{} · {metric} from {} (blue) to {} (yellow)</figcaption>{}</figure>",
                esc(role),
                crate::table::number(Some(lo), false),
                crate::table::number(Some(hi), false),
                ch.finish()
            );
        }
        c.push_str("</div>");
    }
    let how = format!(
        "one map per role: rows are layers (0 at the bottom), columns checkpoints{}; the colour runs from the role's lowest value (blue) to its highest (yellow) — hover a cell for its value. A band of colour changing at one column is a jump at that step.",
        if shown.len() < steps.len() { format!(" ({} of {} checkpoints shown, evenly spaced)", shown.len(), steps.len()) } else { String::new() }
    );
    section("heatmaps", "Heat maps: layer × step", &how, &c)
}

/// A 100×22 sparkline of one matrix's values.
fn sparkline(values: &[(f64, Option<f64>)], alerted_steps: &[f64]) -> String {
    let Some((lo, hi)) = min_max(values.iter().filter_map(|p| p.1)) else { return String::new() };
    let (s0, s1) = (values.first().map_or(0.0, |p| p.0), values.last().map_or(1.0, |p| p.0));
    let x = super::svg::Scale::new((s0, s1), (2.0, 98.0));
    let y = super::svg::Scale::new((lo, hi), (20.0, 2.0));
    let mut d = String::new();
    for (i, (s, v)) in values.iter().enumerate() {
        if let Some(v) = v {
            let _ = write!(d, "{}{} {}", if i == 0 || d.is_empty() { "M" } else { "L" }, px(x.at(*s)), px(y.at(*v)));
        }
    }
    let mut marks = String::new();
    for s in alerted_steps {
        let _ = write!(marks, "<path class=\"alert\" d=\"M{} 1V21\"/>", px(x.at(*s)));
    }
    format!("<svg class=\"spark\" viewBox=\"0 0 100 22\" width=\"100\" height=\"22\" aria-hidden=\"true\">{marks}<path d=\"{d}\"/></svg>")
}

fn series_table(series: &[&Series], alerts: &[Value]) -> String {
    let metric = "kl_excess";
    let mut c = filter_controls("series-table", true);
    c.push_str("<div class=\"scroll\"><table id=\"series-table\" class=\"sortable data\">");
    c.push_str(&header(&[
        ("name", false),
        ("role", false),
        ("layer", true),
        ("kl_excess (trend)", false),
        ("first", true),
        ("last", true),
        ("min", true),
        ("max", true),
        ("alpha first", true),
        ("alpha last", true),
        ("alerts", true),
    ]));
    c.push_str("<tbody>");
    for s in series {
        let mine: Vec<&Value> = alerts.iter().filter(|a| a["matrix"].as_str() == Some(s.name)).collect();
        let pts: Vec<(f64, Option<f64>)> =
            s.rows.iter().map(|r| (r["step"].as_f64().unwrap_or(0.0), r[metric].as_f64())).collect();
        let defined: Vec<&Value> = s.rows.iter().map(|r| &r[metric]).filter(|v| v.is_f64()).collect();
        let null = Value::Null;
        let first = defined.first().copied().unwrap_or(&null);
        let last = defined.last().copied().unwrap_or(&null);
        let min =
            defined.iter().copied().min_by(|a, b| a.as_f64().unwrap().total_cmp(&b.as_f64().unwrap())).unwrap_or(&null);
        let max =
            defined.iter().copied().max_by(|a, b| a.as_f64().unwrap().total_cmp(&b.as_f64().unwrap())).unwrap_or(&null);
        let alphas: Vec<&Value> = s.rows.iter().map(|r| &r["alpha"]).filter(|v| v.is_f64()).collect();
        let alerted: Vec<f64> = mine.iter().filter_map(|a| a["to_step"].as_f64()).collect();
        let _ = write!(
            c,
            "<tr id=\"s-{}\" data-name=\"{}\"{}><td class=\"name\">{}</td>{}<td class=\"n\" data-v=\"{}\">{}</td><td>{}</td>{}{}{}{}{}{}<td class=\"n\" data-v=\"{}\">{}</td></tr>",
            esc(&url_component(s.name)),
            esc(s.name),
            if mine.is_empty() { "" } else { " class=\"flagged\"" },
            esc(s.name),
            text_cell(s.role),
            s.layer.map(|l| l.to_string()).unwrap_or_default(),
            s.layer.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            sparkline(&pts, &alerted),
            num_cell(first, false, None),
            num_cell(last, false, None),
            num_cell(min, false, None),
            num_cell(max, false, None),
            num_cell(alphas.first().copied().unwrap_or(&null), false, None),
            num_cell(alphas.last().copied().unwrap_or(&null), false, None),
            mine.len(),
            mine.len()
        );
    }
    c.push_str("</tbody></table></div>");
    section(
        "series",
        "Every matrix",
        "one row per matrix: its kl_excess over the run (red ticks at alerts), first, last, minimum and maximum, and alpha at the first and last checkpoint; sort by a column, filter by name, or show only the matrices with alerts.",
        &c,
    )
}

fn checkpoints(doc: &Value) -> String {
    let mut c = String::from("<table class=\"small\"><thead><tr><th>step</th><th>checkpoint</th><th>step from</th><th>matrices</th><th>failed</th><th>reused from the store</th></tr></thead><tbody>");
    for ck in doc["run"]["checkpoints"].as_array().into_iter().flatten() {
        let _ = write!(
            c,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            ck["step"],
            esc(ck["path"].as_str().unwrap_or("")),
            esc(ck["step_source"].as_str().unwrap_or("")),
            ck["matrices"],
            ck["failed"],
            ck["reused"]
        );
    }
    c.push_str("</tbody></table>");
    section("checkpoints", "Checkpoints", "what was analyzed at each step and where the step number came from.", &c)
}

pub(super) fn compare_body(doc: &Value) -> String {
    let empty = Vec::new();
    let pairs = doc["matrices"].as_array().unwrap_or(&empty);
    let roles: Vec<&str> =
        pairs.iter().filter_map(|p| p["role"].as_str()).collect::<BTreeSet<_>>().into_iter().collect();
    let mut out = nav(&[
        ("summary", "Summary"),
        ("verdicts", "Verdicts"),
        ("scatter", "A vs B"),
        ("layers", "Per layer"),
        ("pairs", "Matrices"),
        ("unmatched", "Unmatched"),
        ("provenance", "Provenance"),
    ]);
    out.push_str("<main>\n");
    let side = |s: &Value| {
        format!(
            "<code>{}</code> (checkpoint <code>{}</code>{}; {})",
            esc(s["given"].as_str().unwrap_or("")),
            esc(s["checkpoint"].as_str().unwrap_or("")),
            s["step"].as_u64().map(|st| format!(", step {st}")).unwrap_or_default(),
            esc(s["chosen"].as_str().unwrap_or(""))
        )
    };
    let s = format!(
        "<ul class=\"counts\"><li>A: {}</li><li>B: {}</li><li><b id=\"count-pairs\">{}</b> matrices matched by name, <b>{}</b> only in A, <b>{}</b> only in B, <b>{}</b> with different shapes</li></ul>",
        side(&doc["a"]),
        side(&doc["b"]),
        pairs.len(),
        doc["only_in_a"].as_array().map_or(0, Vec::len),
        doc["only_in_b"].as_array().map_or(0, Vec::len),
        doc["shape_mismatch"].as_array().map_or(0, Vec::len)
    );
    out.push_str(&section(
        "summary",
        "Summary",
        "A and B are matched matrix by matrix by name; differences are B − A.",
        &s,
    ));
    out.push_str(&verdicts(doc));
    out.push_str(&scatter(pairs, &roles));
    out.push_str(&per_layer(pairs, &roles));
    out.push_str(&pairs_table(pairs));
    out.push_str(&unmatched(doc));
    out.push_str("</main>\n");
    out
}

fn verdicts(doc: &Value) -> String {
    let v = doc["verdicts"].as_array().cloned().unwrap_or_default();
    if v.is_empty() {
        return section(
            "verdicts",
            "Verdicts",
            "a verdict is stated only where a metric moved the same way in most matched matrices (sign test).",
            "<p>No verdict: no metric moved consistently.</p>",
        );
    }
    let mut c = String::from("<table class=\"data\"><thead><tr><th>verdict</th><th>metric</th><th>group</th><th>matrices</th><th>B higher</th><th>B lower</th><th>median B − A</th><th>median relative</th><th>sign test p</th></tr></thead><tbody>");
    for x in &v {
        let e = &x["evidence"];
        let _ = write!(
            c,
            "<tr class=\"verdict\"><td>{}</td>{}<td>{} {}</td>{}{}{}{}{}{}</tr>",
            esc(x["text"].as_str().unwrap_or("")),
            text_cell(x["metric"].as_str().unwrap_or("")),
            esc(e["group"].as_str().unwrap_or("")),
            esc(e["key"].as_str().unwrap_or("")),
            num_cell(&e["n"], true, None),
            num_cell(&e["higher"], true, None),
            num_cell(&e["lower"], true, None),
            num_cell(&e["median_diff"], false, None),
            num_cell(&e["median_relative"], false, None),
            num_cell(&e["sign_test_p"], false, None)
        );
    }
    c.push_str("</tbody></table>");
    section("verdicts", "Verdicts", "each verdict states how a metric moved from A to B and the evidence: how many matched matrices moved up and down, the median change, and the two-sided sign-test p-value.", &c)
}

fn scatter(pairs: &[Value], roles: &[&str]) -> String {
    let mut c = String::from("<div class=\"grid\">");
    for metric in COMPARE_METRICS {
        let pts: Vec<(f64, f64, &Value)> =
            pairs.iter().filter_map(|p| Some((p["a"][metric].as_f64()?, p["b"][metric].as_f64()?, p))).collect();
        let Some((lo, hi)) = min_max(pts.iter().flat_map(|p| [p.0, p.1])) else { continue };
        let (lo, hi) = nice_range(lo, hi);
        let mut ch = Chart::new(
            &format!("scatter-{metric}"),
            360.0,
            320.0,
            (lo, hi),
            (lo, hi),
            &format!("{metric}: B against A, one point per matrix"),
            &format!(
                "{} matched matrices; {} above the diagonal (B higher), {} below",
                pts.len(),
                pts.iter().filter(|p| p.1 > p.0).count(),
                pts.iter().filter(|p| p.1 < p.0).count()
            ),
        );
        ch.axes(&format!("{metric} in A"), &format!("{metric} in B"), false, false);
        ch.line("diagonal", &[(lo, Some(lo)), (hi, Some(hi))], "");
        for (a, b, p) in &pts {
            let role = p["role"].as_str().unwrap_or("");
            let (x, y) = (ch.x.at(*a), ch.y.at(*b));
            let shape = ["dot", "square", "tri-up", "tri-down"][role_index(roles, role) % 4];
            ch.marker_px(
                "pt",
                shape,
                x,
                y,
                &format!(
                    "{}: A {} → B {}",
                    p["matrix"].as_str().unwrap_or(""),
                    crate::table::number(Some(*a), false),
                    crate::table::number(Some(*b), false)
                ),
                &format!(" fill=\"{}\" data-role=\"{}\"", colour(role_index(roles, role)), esc(role)),
            );
        }
        let _ = write!(c, "<figure>{}</figure>", ch.finish());
    }
    c.push_str("</div>");
    c.push_str(&legend(roles));
    section("scatter", "A against B", "one point per matched matrix, its value in A across and in B up; points above the dashed diagonal grew from A to B. Colour and shape give the role (legend below); hover a point for its name.", &c)
}

/// The role legend: colour and marker shape.
fn legend(roles: &[&str]) -> String {
    let mut out = String::from("<p class=\"legend\">");
    for (i, r) in roles.iter().enumerate() {
        let shape = ["●", "■", "▲", "▼"][i % 4];
        let _ = write!(out, "<span class=\"key c{}\">{shape} {}</span> ", i % 8, esc(r));
    }
    out.push_str("</p>");
    out
}

fn per_layer(pairs: &[Value], roles: &[&str]) -> String {
    let mut c = String::from("<div class=\"grid\">");
    for metric in COMPARE_METRICS {
        let mut by: BTreeMap<&str, BTreeMap<u64, (f64, usize)>> = BTreeMap::new();
        for p in pairs {
            let (Some(l), Some(d), Some(r)) = (p["layer"].as_u64(), p["diff"][metric].as_f64(), p["role"].as_str())
            else {
                continue;
            };
            let e = by.entry(r).or_default().entry(l).or_insert((0.0, 0));
            e.0 += d;
            e.1 += 1;
        }
        let vals: Vec<(f64, f64)> =
            by.values().flat_map(|m| m.iter().map(|(l, (s, n))| (*l as f64, s / *n as f64))).collect();
        let (Some((l0, l1)), Some((lo, hi))) =
            (min_max(vals.iter().map(|v| v.0)), min_max(vals.iter().map(|v| v.1).chain([0.0])))
        else {
            continue;
        };
        let (lo, hi) = nice_range(lo, hi);
        let mut ch = Chart::new(
            &format!("layers-{metric}"),
            420.0,
            250.0,
            (l0 - 0.5, l1 + 0.5 + (l1 - l0).max(1.0) * 0.2),
            (lo, hi),
            &format!("change of {metric} (B − A) by layer, one line per role"),
            &format!("B − A of {metric} by layer for {} roles", by.len()),
        );
        ch.axes("layer", &format!("Δ {metric} (B − A)"), false, false);
        ch.line("zero", &[(l0 - 0.5, Some(0.0)), (l1 + 0.5, Some(0.0))], "");
        for (role, pts) in &by {
            let col = colour(role_index(roles, role));
            let line: Vec<(f64, Option<f64>)> =
                pts.iter().map(|(l, (s, n))| (*l as f64, Some(s / *n as f64))).collect();
            ch.line("role-line", &line, &format!(" stroke=\"{col}\" data-role=\"{}\"", esc(role)));
            if let Some(&(x, Some(y))) = line.last() {
                ch.end_label(x, y, col, role);
            }
        }
        let _ = write!(c, "<figure>{}</figure>", ch.finish());
    }
    c.push_str("</div>");
    section("layers", "Differences per layer", "x is the layer, y the change B − A (the mean where a role has several matrices in a layer), one line per role named at its end; above the zero line B is higher.", &c)
}

fn pairs_table(pairs: &[Value]) -> String {
    let mut cols: Vec<(String, bool)> = vec![("name".into(), false), ("role".into(), false), ("layer".into(), true)];
    for m in ["kl_excess", "alpha", "stable_rank"] {
        cols.extend([(format!("{m} A"), true), (format!("{m} B"), true), (format!("Δ {m}"), true)]);
    }
    let cols_ref: Vec<(&str, bool)> = cols.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    let mut c = filter_controls("pair-table", false);
    c.push_str("<div class=\"scroll\"><table id=\"pair-table\" class=\"sortable data\">");
    c.push_str(&header(&cols_ref));
    c.push_str("<tbody>");
    for p in pairs {
        let name = p["matrix"].as_str().unwrap_or("");
        let _ = write!(
            c,
            "<tr data-name=\"{}\"><td class=\"name\">{}</td>{}<td class=\"n\" data-v=\"{}\">{}</td>",
            esc(name),
            esc(name),
            text_cell(p["role"].as_str().unwrap_or("")),
            p["layer"].as_u64().map(|l| l.to_string()).unwrap_or_default(),
            p["layer"].as_u64().map(|l| l.to_string()).unwrap_or_else(|| "-".into())
        );
        for m in ["kl_excess", "alpha", "stable_rank"] {
            c.push_str(&num_cell(&p["a"][m], false, None));
            c.push_str(&num_cell(&p["b"][m], false, None));
            c.push_str(&num_cell(&p["diff"][m], false, None));
        }
        c.push_str("</tr>");
    }
    c.push_str("</tbody></table></div>");
    section(
        "pairs",
        "Every matched matrix",
        "A, B and B − A for three headline metrics (all of them are in the JSON); sort by a column, filter by name.",
        &c,
    )
}

fn unmatched(doc: &Value) -> String {
    let list = |v: &Value| -> String {
        let items: Vec<String> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str())
            .map(|n| format!("<li><code>{}</code></li>", esc(n)))
            .collect();
        if items.is_empty() {
            "<p>none</p>".into()
        } else {
            format!("<ul>{}</ul>", items.join(""))
        }
    };
    let mut c = format!(
        "<h3>Only in A</h3><div id=\"only-a\">{}</div><h3>Only in B</h3><div id=\"only-b\">{}</div>",
        list(&doc["only_in_a"]),
        list(&doc["only_in_b"])
    );
    let mism = doc["shape_mismatch"].as_array().cloned().unwrap_or_default();
    if !mism.is_empty() {
        c.push_str("<h3>Different shapes</h3><ul>");
        for m in mism {
            let _ = write!(
                c,
                "<li><code>{}</code>: A {} B {}</li>",
                esc(m["matrix"].as_str().unwrap_or("")),
                esc(&m["a"].to_string()),
                esc(&m["b"].to_string())
            );
        }
        c.push_str("</ul>");
    }
    section("unmatched", "Matrices on one side only", "names found in only one of the two checkpoints (renamed, added or removed layers), and matrices whose shapes differ; none of them enters the comparison.", &c)
}
