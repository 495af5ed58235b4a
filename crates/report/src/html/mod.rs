//! One self-contained HTML page from a JSON document of svdiag (`analyze`, `delta`, `trend`,
//! `compare`): a pure function of that document, so `svdiag report SAVED.json` redraws exactly
//! what the command drew, and the numbers on the page are the document's.
//!
//! - Everything is inline: the CSS, one script, the charts as SVG drawn here, and the document
//!   itself (compact, in `<script type="application/json" id="svdiag-data">`). A
//!   Content-Security-Policy forbids every network request and allows only this script and this
//!   style, by their SHA-256 hashes.
//! - Every string from a checkpoint (tensor names, paths, messages) is escaped.
//! - The overview and the tables are rendered here, not by the script, so the page reads without
//!   JavaScript; the script sorts and filters tables and switches the matrix detail, whose
//!   per-matrix charts wait in inert `<template>` elements.
//! - Spectra are drawn from the per-matrix `esd` summary (docs/metrics.md §9), not from every
//!   singular value, which keeps a 226-matrix page to a few MB.

mod analysis;
mod parts;
mod runs;
pub mod svg;

use std::fmt::Write;

use base64::Engine;
use serde_json::Value;
use sha2::Digest;

use svg::esc;

const SCRIPT: &str = include_str!("report.js");
const STYLE: &str = include_str!("report.css");

/// The page for a JSON document written by `analyze`, `delta`, `trend` or `compare`. `Err` says
/// why there is none (another command's document, or not a document of svdiag).
pub fn render(doc: &Value) -> Result<String, String> {
    if doc.get("tool").and_then(Value::as_str) != Some("svdiag") {
        return Err("not a JSON document written by svdiag (no \"tool\": \"svdiag\")".into());
    }
    let command = doc.get("command").and_then(Value::as_str).unwrap_or("");
    let body = match command {
        "analyze" | "delta" => analysis::body(doc),
        "trend" => runs::trend_body(doc),
        "compare" => runs::compare_body(doc),
        other => {
            return Err(format!(
                "a report is drawn for the documents of analyze, delta, trend and compare, not of '{other}'"
            ))
        }
    };
    Ok(page(doc, command, &body))
}

/// Renders a JSON text (see [`render`]).
pub fn render_text(json: &str) -> Result<String, String> {
    let doc: Value = serde_json::from_str(json).map_err(|e| format!("not valid JSON: {e}"))?;
    render(&doc)
}

/// `'sha256-…'` of an inline script or style, for the Content-Security-Policy.
pub fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text.as_bytes())))
}

/// The Content-Security-Policy of every page: nothing may be fetched, only the page's own script
/// and style run.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data:; base-uri 'none'; form-action 'none'",
        csp_hash(SCRIPT),
        csp_hash(STYLE)
    )
}

/// The document as JSON that is safe inside a `<script>` element: `<`, `>`, `&` and the two line
/// separators JavaScript treats as line ends are written as `\u` escapes (still the same JSON).
pub fn embedded_json(doc: &Value) -> String {
    let text = serde_json::to_string(doc).expect("a JSON value serializes");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            _ => out.push(c),
        }
    }
    out
}

fn page(doc: &Value, command: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 64 * 1024);
    let title = format!("svdiag {command}: {}", inputs_title(doc));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"svdiag {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n\
         <body data-command=\"{}\">\n<header><h1>{}</h1>",
        content_security_policy(),
        esc(doc["version"].as_str().unwrap_or("")),
        esc(&title),
        esc(command),
        esc(&title)
    );
    out.push_str(
        "<noscript><p class=\"note\">JavaScript is off: everything shows except sorting, filtering and \
         switching the matrix detail.</p></noscript></header>\n",
    );
    out.push_str(body);
    out.push_str(&footer(doc));
    let _ = write!(
        out,
        "<script type=\"application/json\" id=\"svdiag-data\">{}</script>\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        embedded_json(doc)
    );
    out
}

/// The inputs in a few words, for the title.
fn inputs_title(doc: &Value) -> String {
    match doc["command"].as_str() {
        Some("trend") => {
            let given: Vec<&str> =
                doc["run"]["given"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            if given.is_empty() {
                "run".into()
            } else {
                given.join(", ")
            }
        }
        Some("compare") => format!("{} vs {}", side_name(&doc["a"]), side_name(&doc["b"])),
        _ => {
            let paths: Vec<&str> =
                doc["inputs"].as_array().into_iter().flatten().filter_map(|i| i["path"].as_str()).collect();
            match paths.len() {
                0 => "no input".into(),
                1 => paths[0].to_string(),
                n => format!("{} and {} more", paths[0], n - 1),
            }
        }
    }
}

fn side_name(side: &Value) -> String {
    side["given"].as_str().unwrap_or("?").to_string()
}

/// The provenance footer: version, command, inputs, settings, and what was downsampled.
fn footer(doc: &Value) -> String {
    let mut out = String::from("<footer id=\"provenance\"><h2>Provenance</h2><dl>");
    let _ = write!(
        out,
        "<dt>tool</dt><dd>svdiag {}</dd><dt>command</dt><dd><code>svdiag {}</code></dd>",
        esc(doc["version"].as_str().unwrap_or("")),
        esc(doc["command"].as_str().unwrap_or(""))
    );
    if let Some(inputs) = doc["inputs"].as_array() {
        out.push_str("<dt>inputs</dt><dd><ul>");
        for i in inputs {
            let _ = write!(
                out,
                "<li><code>{}</code> ({})<ul>",
                esc(i["path"].as_str().unwrap_or("")),
                esc(i["resolved_as"].as_str().unwrap_or(""))
            );
            for f in i["files"].as_array().into_iter().flatten() {
                let _ = write!(
                    out,
                    "<li><code>{}</code>: {}, {} tensors{}{}</li>",
                    esc(f["path"].as_str().unwrap_or("")),
                    esc(f["format"].as_str().unwrap_or("")),
                    f["tensors"],
                    f["bytes"].as_u64().map(|b| format!(", {}", bytes(b))).unwrap_or_default(),
                    f["sha256"]
                        .as_str()
                        .map(|h| format!(", SHA-256 <code class=\"hash\">{}</code>", esc(h)))
                        .unwrap_or_default()
                );
            }
            out.push_str("</ul></li>");
        }
        out.push_str("</ul></dd>");
    }
    for side in ["a", "b"] {
        if doc[side].is_object() {
            let _ = write!(out, "<dt>{side}</dt><dd>{}</dd>", key_values(&doc[side]));
        }
    }
    if doc["run"].is_object() {
        let given: Vec<String> =
            doc["run"]["given"].as_array().into_iter().flatten().map(|g| esc(g.as_str().unwrap_or(""))).collect();
        let _ = write!(
            out,
            "<dt>run</dt><dd><code>{}</code> ({})</dd>",
            given.join(", "),
            esc(doc["run"]["layout"].as_str().unwrap_or(""))
        );
    }
    let _ = write!(out, "<dt>settings</dt><dd>{}</dd>", key_values(&doc["settings"]));
    use svdiag_core::esd::{BINS, CCDF_SPREAD, CCDF_TOP, MAX_OUTLIERS};
    let _ = write!(
        out,
        "<dt>drawn</dt><dd>Spectra are drawn from each matrix's <code>esd</code> summary: {BINS} log-spaced bins \
         of λ = σ², the values at or below the rank tolerance counted beside them, at most {MAX_OUTLIERS} \
         outliers per side, and the complementary CDF at up to {} ranks (all of the top {CCDF_TOP}). Every \
         number in the tables is the JSON document's, which this page embeds in full (element \
         <code>#svdiag-data</code>). The page records no date and no command line, so that the same \
         analysis always gives the same bytes (any thread count, any output path): the settings above \
         and the inputs' hashes identify it.</dd>",
        CCDF_TOP + CCDF_SPREAD
    );
    out.push_str("</dl></footer>\n");
    out
}

/// An object's scalar fields as `key: value` pairs (nested objects as JSON).
fn key_values(v: &Value) -> String {
    let Some(map) = v.as_object() else { return String::new() };
    let mut out = String::from("<ul class=\"kv\">");
    for (k, v) in map {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ = write!(out, "<li><b>{}</b>: {}</li>", esc(k), esc(&text));
    }
    out.push_str("</ul>");
    out
}

/// A byte count in words (`1.2 GB`).
fn bytes(b: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_json_cannot_close_its_script_and_parses_to_the_same_value() {
        let doc = serde_json::json!({"name": "</script><script>alert(1)</script>\u{2028}&"});
        let text = embedded_json(&doc);
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('\u{2028}'));
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_script_and_style() {
        let policy = content_security_policy();
        assert!(policy.starts_with("default-src 'none';"));
        // SHA-256 of "abc", base64 (FIPS 180-2 test vector)
        assert_eq!(csp_hash("abc"), "'sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0='");
        assert!(policy.contains(&csp_hash(SCRIPT)) && policy.contains(&csp_hash(STYLE)));
    }

    #[test]
    fn other_documents_are_refused_with_a_reason() {
        let e = render(&serde_json::json!({"tool": "svdiag", "command": "inspect"})).unwrap_err();
        assert!(e.contains("not of 'inspect'"), "{e}");
        assert!(render(&serde_json::json!({"a": 1})).unwrap_err().contains("not a JSON document written by svdiag"));
    }
}
