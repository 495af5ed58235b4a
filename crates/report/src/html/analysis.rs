//! The page of one analysis (`analyze`, `delta`): summary and diagnoses first, then the depth
//! profiles per role, the distribution of `alpha`, the table of every matrix, and the detail of
//! one matrix (its eigenvalue histogram against the fitted Marchenko–Pastur law, its tail, its
//! entropy against the random baseline).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use serde_json::Value;

use super::parts::{filter_controls, header, nav, num_cell, number, section, text_cell, url_component};
use super::svg::{colour, esc, min_max, nice_range, px, Chart};

/// Columns of the matrix table: (JSON field, integer).
const TABLE_FIELDS: [(&str, bool); 12] = [
    ("entropy", false),
    ("kl_uniform", false),
    ("kl_excess", false),
    ("mp_ks", false),
    ("null_p", false),
    ("outliers_above", true),
    ("outliers_below", true),
    ("stable_rank", false),
    ("effective_rank", false),
    ("alpha", false),
    ("condition_number", false),
    ("numerical_rank", true),
];

/// Metrics of the depth profiles, with the band drawn behind them.
const DEPTH_METRICS: [(&str, Option<(f64, f64)>); 4] =
    [("kl_excess", None), ("entropy", None), ("alpha", Some((2.0, 6.0))), ("stable_rank", None)];

pub(super) fn body(doc: &Value) -> String {
    let empty = Vec::new();
    let matrices = doc["matrices"].as_array().unwrap_or(&empty);
    let flagged = flagged(doc);
    let mut out = String::new();
    out.push_str(&nav(&[
        ("summary", "Summary"),
        ("diagnoses", "Diagnoses"),
        ("depth", "Depth"),
        ("alpha-dist", "Alpha"),
        ("matrices", "Matrices"),
        ("detail", "Matrix detail"),
        ("provenance", "Provenance"),
    ]));
    out.push_str("<main>\n");
    out.push_str(&summary(doc));
    out.push_str(&diagnoses(doc));
    out.push_str(&depth_profiles(matrices));
    out.push_str(&alpha_distribution(matrices));
    out.push_str(&matrix_table(matrices, &flagged));
    out.push_str(&details(doc, matrices, &flagged));
    out.push_str("</main>\n");
    out
}

/// Names of the matrices a diagnosis names, with the kinds.
fn flagged(doc: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for d in doc["diagnoses"]["matrices"].as_array().into_iter().flatten() {
        if let (Some(s), Some(k)) = (d["subject"].as_str(), d["kind"].as_str()) {
            out.entry(s.to_string()).or_default().push(k.to_string());
        }
    }
    out
}

fn summary(doc: &Value) -> String {
    let s = &doc["summary"];
    let mut c = format!(
        "<ul class=\"counts\"><li><b id=\"count-matrices\">{}</b> matrices analyzed</li><li><b id=\"count-skipped\">{}</b> tensors skipped</li><li><b id=\"count-failed\">{}</b> failed</li><li><b>{}</b> left out by the filter</li><li>mode: <b>{}</b></li></ul>",
        s["matrices"], s["skipped"], s["failed"], s["filtered_out"],
        esc(doc["settings"]["mode"].as_str().unwrap_or(""))
    );
    let skipped = doc["skipped"].as_array().cloned().unwrap_or_default();
    if !skipped.is_empty() {
        let reasons = crate::group_reasons(skipped.iter().filter_map(|x| x["reason"].as_str()));
        c.push_str("<details><summary>Why tensors were skipped</summary><ul>");
        for (reason, n) in reasons {
            let names: Vec<String> = skipped
                .iter()
                .filter(|x| x["reason"].as_str() == Some(reason))
                .filter_map(|x| x["name"].as_str())
                .take(8)
                .map(|n| format!("<code>{}</code>", esc(n)))
                .collect();
            let _ = write!(c, "<li>{n} × {}: {}{}</li>", esc(reason), names.join(", "), if n > 8 { ", …" } else { "" });
        }
        c.push_str("</ul></details>");
    }
    let failed = doc["failed"].as_array().cloned().unwrap_or_default();
    if !failed.is_empty() {
        c.push_str("<h3>Failed</h3><ul class=\"failed\">");
        for f in &failed {
            let _ = write!(
                c,
                "<li><code>{}</code> ({}): {}</li>",
                esc(f["name"].as_str().unwrap_or("")),
                esc(f["file"].as_str().unwrap_or("")),
                esc(f["error"].as_str().unwrap_or(""))
            );
        }
        c.push_str("</ul>");
    }
    for w in doc["warnings"].as_array().into_iter().flatten() {
        let _ = write!(c, "<p class=\"warning\">warning: {}</p>", esc(w.as_str().unwrap_or("")));
    }
    let how = if failed.is_empty() {
        "what was read, and what was skipped and why (a skipped tensor is not a matrix: a bias, a norm, an integer table)."
    } else {
        "what was read, and what was skipped and why; the failed tensors are named with the reason (the command exits with code 1 when any tensor failed)."
    };
    section("summary", "Summary", how, &c)
}

fn diagnoses(doc: &Value) -> String {
    let d = &doc["diagnoses"];
    if !d.is_object() {
        return section(
            "diagnoses",
            "Diagnoses",
            "diagnoses need the full spectrum.",
            "<p>None: this is a --quick analysis.</p>",
        );
    }
    let mut c = String::new();
    let all: Vec<&Value> =
        d["matrices"].as_array().into_iter().flatten().chain(d["model"].as_array().into_iter().flatten()).collect();
    if all.is_empty() {
        c.push_str("<p>No diagnosis fired at these thresholds.</p>");
    } else {
        c.push_str("<table class=\"diag\"><thead><tr><th>kind</th><th>subject</th><th>evidence, with the threshold it is held to</th><th>mitigations</th><th>caveat</th></tr></thead><tbody>");
        for x in all {
            let subject = x["subject"].as_str().unwrap_or("");
            let layers: Vec<String> = x["layers"].as_array().into_iter().flatten().map(|l| l.to_string()).collect();
            let _ = write!(
                c,
                "<tr class=\"diagnosis\" data-kind=\"{}\"><td>{}</td><td><a class=\"subject\" href=\"#m={}\">{}</a>{}</td><td>{}</td><td><ul>{}</ul></td><td class=\"caveat\">{}</td></tr>",
                esc(x["kind"].as_str().unwrap_or("")),
                esc(x["kind"].as_str().unwrap_or("")),
                esc(&url_component(subject)),
                esc(subject),
                if layers.is_empty() { String::new() } else { format!("<br>layers {}", esc(&layers.join(", "))) },
                evidence(&x["evidence"], &x["thresholds"]),
                x["mitigations"].as_array().into_iter().flatten().map(|m| format!("<li>{}</li>", esc(m.as_str().unwrap_or("")))).collect::<String>(),
                esc(x["caveat"].as_str().unwrap_or(""))
            );
        }
        c.push_str("</tbody></table>");
    }
    let cands = d["pruning_candidates"].as_array().cloned().unwrap_or_default();
    if !cands.is_empty() {
        c.push_str("<h3>Pruning candidates</h3><p class=\"how\">Layers whose matrices are closest to their random baseline (lowest mean kl_excess), ranked; a candidate to test by ablation, not a verdict.</p><table class=\"small\"><thead><tr><th>layer</th><th>kl_excess</th><th>alpha</th><th>score</th></tr></thead><tbody>");
        for p in cands {
            let _ = write!(
                c,
                "<tr><td>{}</td>{}{}{}</tr>",
                p["layer"],
                num_cell(&p["kl_excess"], false, None),
                num_cell(&p["alpha"], false, None),
                num_cell(&p["score"], false, None)
            );
        }
        c.push_str("</tbody></table>");
    }
    section(
        "diagnoses",
        "Diagnoses",
        "each row is a rule that fired: its evidence next to the thresholds it crossed (change them with --threshold NAME=VALUE), what to try, and what it cannot prove.",
        &c,
    )
}

/// Whether threshold `t` is the one evidence field `k` is held to (`collapse_kl_excess` for
/// `kl_excess`; the significance level for the joint p-value).
fn held_to(t: &str, k: &str) -> bool {
    t.strip_suffix(k).is_some_and(|p| p.ends_with('_')) || (t == "isotropy_level" && k == "null_p")
}

/// `name: value` lines of an evidence object; where a threshold is named after an evidence field
/// (`collapse_kl_excess` for `kl_excess`), it is shown on the same line.
fn evidence(v: &Value, thresholds: &Value) -> String {
    let mut out = String::from("<ul class=\"kv\">");
    for (k, x) in v.as_object().into_iter().flatten() {
        let _ = write!(out, "<li>{} <b data-field=\"{}\" data-v=\"{}\">{}</b>", esc(k), esc(k), x, number(x, false));
        for (t, tv) in thresholds.as_object().into_iter().flatten() {
            if held_to(t, k) {
                let _ = write!(out, " <span class=\"vs\">threshold {} ({})</span>", number(tv, false), esc(t));
            }
        }
        out.push_str("</li>");
    }
    let keys: Vec<&String> = v.as_object().map(|m| m.keys().collect()).unwrap_or_default();
    for (t, tv) in thresholds.as_object().into_iter().flatten() {
        if !keys.iter().any(|k| held_to(t, k)) {
            let _ = write!(out, "<li class=\"vs\">threshold {} {}</li>", esc(t), number(tv, false));
        }
    }
    out.push_str("</ul>");
    out
}

/// The values of one metric per role and layer (mean over the matrices of a role and layer).
fn by_role(matrices: &[Value], metric: &str) -> BTreeMap<String, Vec<(f64, f64)>> {
    let mut acc: BTreeMap<String, BTreeMap<u64, (f64, usize)>> = BTreeMap::new();
    for m in matrices {
        let (Some(layer), Some(v), Some(role)) = (m["layer"].as_u64(), m[metric].as_f64(), m["role"].as_str()) else {
            continue;
        };
        let e = acc.entry(role.to_string()).or_default().entry(layer).or_insert((0.0, 0));
        e.0 += v;
        e.1 += 1;
    }
    acc.into_iter().map(|(r, pts)| (r, pts.into_iter().map(|(l, (s, n))| (l as f64, s / n as f64)).collect())).collect()
}

fn depth_profiles(matrices: &[Value]) -> String {
    let roles: BTreeSet<String> =
        matrices.iter().filter(|m| m["layer"].is_u64()).filter_map(|m| m["role"].as_str().map(String::from)).collect();
    let roles: Vec<String> = roles.into_iter().collect();
    if roles.is_empty() {
        return section(
            "depth",
            "Depth profiles",
            "no matrix has a layer number in its name, so there is no depth to plot.",
            "",
        );
    }
    let mut c = String::from("<div class=\"grid\">");
    for (metric, band) in DEPTH_METRICS {
        let series = by_role(matrices, metric);
        let vals: Vec<f64> =
            series.values().flatten().map(|p| p.1).chain(band.map(|b| [b.0, b.1]).into_iter().flatten()).collect();
        let layers: Vec<f64> = series.values().flatten().map(|p| p.0).collect();
        if vals.is_empty() {
            let _ = write!(
                c,
                "<figure class=\"empty\"><figcaption>{metric}: undefined for every matrix</figcaption></figure>"
            );
            continue;
        }
        let (lo, hi) = min_max(vals.iter().copied()).expect("vals is not empty");
        let (lo, hi) = nice_range(lo, hi);
        // no layer with a value (only the band): an empty range, which the scale replaces by [0, 1]
        let (l0, l1) = min_max(layers.iter().copied()).unwrap_or((f64::INFINITY, f64::NEG_INFINITY));
        let mut ch = Chart::new(
            &format!("depth-{metric}"),
            420.0,
            250.0,
            (l0, l1 + (l1 - l0).max(1.0) * 0.22),
            (lo, hi),
            &format!("{metric} by layer, one line per role"),
            &format!("{metric} of every role's matrices against the layer index, layers {l0} to {l1}"),
        );
        if let Some((a, b)) = band {
            ch.hband("band", a, b);
        }
        ch.axes("layer", metric, false, false);
        for (ri, role) in roles.iter().enumerate() {
            let Some(pts) = series.get(role) else { continue };
            let points: Vec<(f64, Option<f64>)> = pts.iter().map(|&(l, v)| (l, Some(v))).collect();
            let col = colour(ri);
            ch.line("role-line", &points, &format!(" stroke=\"{col}\" data-role=\"{}\"", esc(role)));
            for &(l, v) in pts {
                let (x, y) = (ch.x.at(l), ch.y.at(v));
                ch.marker_px(
                    "pt",
                    "dot",
                    x,
                    y,
                    &format!("{role}, layer {l}: {metric} = {}", crate::table::number(Some(v), false)),
                    &format!(" fill=\"{col}\""),
                );
            }
            if let Some(&(l, v)) = pts.last() {
                ch.end_label(l, v, col, role);
            }
        }
        let _ = write!(c, "<figure>{}</figure>", ch.finish());
    }
    c.push_str("</div>");
    section(
        "depth",
        "Depth profiles per role",
        "each line is one role (named at its end), x the layer index (0 nearest the input), y the metric (the mean where a role has several matrices in a layer); the shaded band on alpha is 2–6, where Martin and Mahoney place well-trained layers. Matrices without a layer (embeddings, heads) are in the table.",
        &c,
    )
}

fn alpha_distribution(matrices: &[Value]) -> String {
    let alphas: Vec<f64> = matrices.iter().filter_map(|m| m["alpha"].as_f64()).collect();
    if alphas.is_empty() {
        return section("alpha-dist", "Distribution of alpha", "no matrix has a power-law fit.", "");
    }
    let max = alphas.iter().copied().fold(0.0, f64::max);
    let hi = max.clamp(8.0, 40.0).ceil();
    let width = if hi <= 12.0 { 0.25 } else { 0.5 };
    let bins = ((hi - 1.0) / width).ceil() as usize;
    let edges: Vec<f64> = (0..=bins).map(|j| 1.0 + j as f64 * width).collect();
    let mut counts = vec![0.0; bins];
    let mut beyond = 0;
    for a in &alphas {
        if *a >= hi {
            beyond += 1;
        }
        let j = (((a - 1.0) / width).floor().max(0.0) as usize).min(bins - 1);
        counts[j] += 1.0;
    }
    let top = counts.iter().copied().fold(0.0, f64::max);
    let mut ch = Chart::new(
        "alpha-hist",
        640.0,
        240.0,
        (1.0, hi),
        (0.0, (top * 1.15).ceil().max(1.0)),
        "Histogram of alpha over all matrices",
        &format!(
            "{} matrices with a power-law fit; {} between 2 and 6",
            alphas.len(),
            alphas.iter().filter(|a| (2.0..=6.0).contains(*a)).count()
        ),
    );
    ch.axes("alpha (power-law exponent of the eigenvalue tail)", "matrices", false, false);
    ch.bars("bar", &edges, &counts);
    ch.vline("guide", 2.0, "alpha = 2");
    ch.vline("guide", 6.0, "alpha = 6");
    if beyond > 0 {
        ch.note("note", 0, &format!("{beyond} with alpha ≥ {hi} in the last bin"));
    }
    let c = format!("<figure>{}</figure>", ch.finish());
    section(
        "alpha-dist",
        "Distribution of alpha",
        "one bar per bin of alpha over every matrix with a fit; the lines mark 2 and 6. Below 2 the tail is very heavy (often over-fit or a few dominant directions), above 6 it is light (often under-trained or random-like).",
        &c,
    )
}

fn matrix_table(matrices: &[Value], flagged: &BTreeMap<String, Vec<String>>) -> String {
    let mut cols: Vec<(&str, bool)> =
        vec![("name", false), ("role", false), ("layer", true), ("shape", false), ("dtype", false)];
    cols.extend(TABLE_FIELDS.iter().map(|(f, _)| (*f, true)));
    cols.extend([("route", false), ("diagnoses", false)]);
    let mut c = filter_controls("matrix-table", true);
    let _ =
        write!(c, "<div class=\"scroll\"><table id=\"matrix-table\" class=\"sortable data\">{}<tbody>", header(&cols));
    for (i, m) in matrices.iter().enumerate() {
        let name = m["name"].as_str().unwrap_or("");
        let kinds = flagged.get(name).map(|k| k.join(", ")).unwrap_or_default();
        let shape = m["matrix_shape"]
            .as_array()
            .map(|s| s.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("×"))
            .unwrap_or_default();
        let _ = write!(
            c,
            "<tr id=\"row-{i}\" data-i=\"{i}\" data-name=\"{}\" tabindex=\"0\"{}><td class=\"name\">{}</td>{}<td class=\"n\" data-v=\"{}\">{}</td>{}{}",
            esc(name),
            if kinds.is_empty() { "" } else { " class=\"flagged\"" },
            esc(name),
            text_cell(m["role"].as_str().unwrap_or("")),
            m["layer"].as_u64().map(|l| l.to_string()).unwrap_or_default(),
            m["layer"].as_u64().map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            text_cell(&shape),
            text_cell(m["dtype"].as_str().unwrap_or("")),
        );
        for (f, int) in TABLE_FIELDS {
            c.push_str(&num_cell(&m[f], int, m["undefined"][f].as_str()));
        }
        let route = m["route"].as_str().unwrap_or("");
        let _ = write!(
            c,
            "<td>{}</td><td class=\"kinds\">{}</td></tr>",
            if route.is_empty() {
                String::new()
            } else {
                format!(
                    "<span class=\"badge\" title=\"{}\">{}</span>",
                    esc(m["route_reason"].as_str().unwrap_or("")),
                    esc(route)
                )
            },
            esc(&kinds)
        );
    }
    c.push_str("</tbody></table></div>");
    section(
        "matrices",
        "Every matrix",
        "one row per matrix with its headline metrics (every field is in the JSON). Click a header to sort (again to reverse), type a regular expression to filter, click a row or press Enter to show its spectrum below. A dash is an undefined value; hover it for the reason.",
        &c,
    )
}

fn details(doc: &Value, matrices: &[Value], flagged: &BTreeMap<String, Vec<String>>) -> String {
    if matrices.is_empty() {
        return section("detail", "Matrix detail", "nothing was analyzed.", "");
    }
    let first = matrices.iter().position(|m| flagged.contains_key(m["name"].as_str().unwrap_or(""))).unwrap_or(0);
    let mut c =
        format!("<div id=\"detail-view\" data-i=\"{first}\">{}</div>", detail(doc, first, &matrices[first], true));
    // the templates leave the table of every number to the script, which fills it from the
    // embedded document when a matrix is shown (it is the largest part of a detail)
    for (i, m) in matrices.iter().enumerate() {
        let _ = write!(c, "<template id=\"tpl-{i}\">{}</template>", detail(doc, i, m, false));
    }
    section(
        "detail",
        "Matrix detail",
        "left: the histogram of the eigenvalues λ = σ² (log axis, no 1/N) with the counts the fitted Marchenko–Pastur law expects per bin (dashed), its bulk edges (dotted) and the Tracy–Widom cut-offs that counted the outliers (solid); ▲ outliers above, ▼ below; values at or below the rank tolerance cannot sit on a log axis and are counted in the corner. Middle: the fraction of eigenvalues ≥ λ on log-log axes with the fitted power law from xmin. Right: the matrix's kl_uniform against the random baseline of its shape; the gap is kl_excess.",
        &c,
    )
}

/// The detail of matrix `i`: caption, three charts, and (with `numbers`) every number.
fn detail(doc: &Value, i: usize, m: &Value, numbers: bool) -> String {
    let name = m["name"].as_str().unwrap_or("");
    let shape = m["matrix_shape"]
        .as_array()
        .map(|s| s.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(" × "))
        .unwrap_or_default();
    let mut out = format!(
        "<article class=\"matrix\" data-i=\"{i}\" data-name=\"{}\"><h3>{}</h3><p class=\"caption\">{shape}, {}, role {}{}",
        esc(name),
        esc(name),
        esc(m["dtype"].as_str().unwrap_or("")),
        esc(m["role"].as_str().unwrap_or("")),
        m["layer"].as_u64().map(|l| format!(", layer {l}")).unwrap_or_default()
    );
    for (f, int) in [
        ("alpha", false),
        ("kl_excess", false),
        ("mp_ks", false),
        ("null_p", false),
        ("outliers_above", true),
        ("outliers_below", true),
        ("stable_rank", false),
    ] {
        let _ = write!(out, " · {f} <b data-field=\"{f}\" data-v=\"{}\">{}</b>", m[f], number(&m[f], int));
    }
    out.push_str("</p><div class=\"plots\">");
    match m.get("esd") {
        Some(esd) if esd.is_object() => {
            out.push_str(&esd_chart(i, m, esd));
            out.push_str(&tail_chart(i, m, esd));
        }
        _ => {
            let why = if doc["settings"]["mode"] == "quick" {
                "--quick computes no spectrum, so there is nothing to draw."
            } else {
                "this document has no spectrum summary: analyze with --format html, or keep it in the JSON with --plot-data (in Python: run(..., plot_data=True))."
            };
            let _ = write!(out, "<p class=\"no-esd\">{why}</p>");
        }
    }
    out.push_str(&kl_chart(i, m));
    out.push_str(
        "</div><details class=\"numbers\"><summary>Every number of this matrix</summary><table class=\"small\"><tbody>",
    );
    for (k, v) in m.as_object().into_iter().flatten().filter(|_| numbers) {
        if matches!(k.as_str(), "esd" | "singular_values" | "undefined" | "notes") {
            continue;
        }
        let text = match v {
            Value::String(s) => esc(s),
            Value::Number(_) => format!("{}", v),
            Value::Null => format!("- <span class=\"why\">{}</span>", esc(m["undefined"][k].as_str().unwrap_or(""))),
            other => esc(&other.to_string()),
        };
        let _ = write!(out, "<tr><th scope=\"row\">{}</th><td>{text}</td></tr>", esc(k));
    }
    out.push_str("</tbody></table></details></article>");
    out
}

/// Values as the table writes them, comma-separated.
fn values(v: &[f64]) -> String {
    v.iter().map(|x| crate::table::number(Some(*x), false)).collect::<Vec<_>>().join(", ")
}

fn log10(v: f64) -> Option<f64> {
    (v > 0.0 && v.is_finite()).then(|| v.log10())
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().into_iter().flatten().filter_map(Value::as_f64).collect()
}

/// The eigenvalue histogram with the Marchenko–Pastur fit, edges, cut-offs and outliers.
fn esd_chart(i: usize, m: &Value, esd: &Value) -> String {
    let counts: Vec<f64> = floats(&esd["counts"]);
    let edges = match esd["log10_range"].as_array().map(|r| (r[0].as_f64(), r[1].as_f64())) {
        Some((Some(lo), Some(hi))) if !counts.is_empty() => svdiag_core::esd::bin_edges([lo, hi], counts.len()),
        _ => Vec::new(),
    };
    let expected = floats(&esd["mp_expected"]);
    let above = floats(&esd["outliers_above"]);
    let below = floats(&esd["outliers_below"]);
    let cuts = esd["mp_cuts"].as_array().map(|c| (c[0].as_f64(), c[1].as_f64())).unwrap_or((None, None));
    let sq = |f: &str| m[f].as_f64().map(|s| s * s);
    let (edge_lo, edge_hi) = (sq("mp_lower_edge").and_then(log10), sq("mp_upper_edge").and_then(log10));
    let mut xs: Vec<f64> = edges.clone();
    xs.extend([cuts.0.and_then(log10), cuts.1.and_then(log10), edge_lo, edge_hi].into_iter().flatten());
    xs.extend(above.iter().chain(&below).filter_map(|v| log10(*v)));
    let near_zero = esd["near_zero"].as_u64().unwrap_or(0);
    let n = esd["values"].as_u64().unwrap_or(0);
    let mut desc = format!("Histogram of {n} eigenvalues on a log axis; {near_zero} at or below the rank tolerance");
    if xs.is_empty() {
        return format!(
            "<figure class=\"esd empty\"><p>{}: every singular value is at or below the rank tolerance.</p></figure>",
            esc(&desc)
        );
    }
    let (x0, x1) = min_max(xs.iter().copied()).expect("xs is not empty");
    let pad = ((x1 - x0) * 0.04).max(0.05);
    let top = counts.iter().chain(&expected).copied().fold(1.0, f64::max) * 1.3;
    let _ = write!(
        desc,
        "; {} outliers above and {} below the Tracy–Widom cut-offs",
        m["outliers_above"], m["outliers_below"]
    );
    let mut ch = Chart::new(
        &format!("esd-{i}"),
        420.0,
        260.0,
        (x0 - pad, x1 + pad),
        (0.0, top),
        "Eigenvalue histogram with the Marchenko–Pastur fit",
        &desc,
    );
    ch.axes("λ = σ² (log axis)", "eigenvalues per bin", true, false);
    ch.bars("bar", &edges, &counts);
    if expected.len() + 1 == edges.len() {
        let pts: Vec<(f64, Option<f64>)> =
            edges.windows(2).zip(&expected).map(|(w, e)| ((w[0] + w[1]) / 2.0, Some(*e))).collect();
        ch.line("mp", &pts, "");
    }
    if let Some(e) = edge_lo {
        ch.vline("edge", e, "Marchenko–Pastur lower bulk edge σ₋²");
    }
    if let Some(e) = edge_hi {
        ch.vline("edge", e, "Marchenko–Pastur upper bulk edge σ₊²");
    }
    if let Some(c) = cuts.0.and_then(log10) {
        ch.vline("cut cut-lower", c, "lower outlier cut-off (edge minus the Tracy–Widom margin)");
    }
    if let Some(c) = cuts.1.and_then(log10) {
        ch.vline("cut cut-upper", c, "upper outlier cut-off (edge plus the Tracy–Widom margin)");
    }
    let y_up = ch.y.r.1 + 10.0;
    let xs_above: Vec<f64> = above.iter().filter_map(|v| log10(*v)).map(|l| ch.x.at(l)).collect();
    let xs_below: Vec<f64> = below.iter().filter_map(|v| log10(*v)).map(|l| ch.x.at(l)).collect();
    ch.markers("out-above", "tri-up", &xs_above, y_up, &format!("outliers above (λ): {}", values(&above)));
    ch.markers("out-below", "tri-down", &xs_below, y_up + 14.0, &format!("outliers below (λ): {}", values(&below)));
    let tol = esd["tolerance"].as_f64();
    ch.raw(&format!(
        "<text class=\"near-zero\" data-count=\"{near_zero}\" x=\"{}\" y=\"{}\">{near_zero} value{} ≤ tol {} (rank deficit)</text>",
        px(ch.x.r.0 + 6.0),
        px(ch.y.r.1 + 40.0),
        if near_zero == 1 { "" } else { "s" },
        crate::table::number(tol, false)
    ));
    let shown_above = m["outliers_above"].as_u64().unwrap_or(0);
    if shown_above as usize > above.len() {
        ch.note("note", 4, &format!("{} of {shown_above} outliers above drawn", above.len()));
    }
    format!("<figure class=\"esd\">{}</figure>", ch.finish())
}

/// The log-log complementary CDF with the fitted power law from `xmin`.
fn tail_chart(i: usize, m: &Value, esd: &Value) -> String {
    let pts: Vec<(f64, f64)> = esd["ccdf"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((log10(p[0].as_f64()?)?, log10(p[1].as_f64()?)?)))
        .collect();
    if pts.is_empty() {
        return String::new();
    }
    let n = esd["values"].as_f64().unwrap_or(1.0).max(1.0);
    let (x0, x1) = min_max(pts.iter().map(|p| p.0)).expect("pts is not empty");
    let desc = format!(
        "Fraction of eigenvalues at or above λ, log-log; alpha {}, xmin {}, {} eigenvalues in the tail",
        number(&m["alpha"], false),
        number(&m["xmin"], false),
        number(&m["num_tail"], true)
    );
    let pad = ((x1 - x0) * 0.04).max(0.05);
    let mut ch = Chart::new(
        &format!("tail-{i}"),
        420.0,
        260.0,
        (x0 - pad, x1 + pad),
        ((1.0 / n).log10() - 0.1, 0.05),
        "Tail of the eigenvalues with the power-law fit",
        &desc,
    );
    ch.axes("λ = σ² (log axis)", "P(Λ ≥ λ) (log axis)", true, true);
    let line: Vec<(f64, Option<f64>)> = pts.iter().map(|&(x, y)| (x, Some(y))).collect();
    ch.line("ccdf", &line, "");
    if let (Some(alpha), Some(xmin), Some(tail)) = (m["alpha"].as_f64(), m["xmin"].as_f64(), m["num_tail"].as_f64()) {
        if let Some(lx) = log10(xmin) {
            // P(Λ ≥ λ) = (num_tail/n)·(λ/xmin)^−(α−1) above xmin: a straight line on log-log axes
            let p0 = (tail / n).log10();
            let fit = [(lx, Some(p0)), (x1, Some(p0 - (alpha - 1.0) * (x1 - lx)))];
            ch.line("fit", &fit, "");
            ch.vline("xmin", lx, &format!("xmin = {}", crate::table::number(Some(xmin), false)));
            ch.note(
                "note",
                0,
                &format!("alpha {} · KS {}", number(&m["alpha"], false), number(&m["ks_distance"], false)),
            );
        }
    } else {
        ch.note("note", 0, "no power-law fit");
    }
    format!("<figure class=\"tail\">{}</figure>", ch.finish())
}

/// `kl_uniform` against the random baseline of the shape.
fn kl_chart(i: usize, m: &Value) -> String {
    let (Some(kl), Some(base)) = (m["kl_uniform"].as_f64(), m["random_baseline_kl"].as_f64()) else {
        return String::new();
    };
    let top = kl.max(base).max(1e-6) * 1.2;
    let mut ch = Chart::new(
        &format!("kl-{i}"),
        260.0,
        260.0,
        (0.0, 2.0),
        (0.0, top),
        "kl_uniform against the random baseline",
        &format!(
            "kl_uniform {} against the random baseline {}: kl_excess {}",
            number(&m["kl_uniform"], false),
            number(&m["random_baseline_kl"], false),
            number(&m["kl_excess"], false)
        ),
    );
    ch.axes("", "kl_uniform (nats)", false, false);
    ch.bars("kl-matrix", &[0.25, 0.85], &[kl]);
    ch.bars("kl-random", &[1.15, 1.75], &[base]);
    let y = ch.y.r.0 + 15.0;
    ch.raw(&format!(
        "<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">this matrix</text><text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">random</text>",
        px(ch.x.at(0.55)),
        px(y),
        px(ch.x.at(1.45)),
        px(y)
    ));
    ch.note("note", 0, &format!("kl_excess {}", number(&m["kl_excess"], false)));
    format!("<figure class=\"kl\">{}</figure>", ch.finish())
}
