//! `svdiag repr`: the entropies of one representation matrix, as a table or JSON.

use std::fmt::Write;

use svdiag_core::representation::{Representation, REPR_FIELDS};

/// One line per field, with its definition.
pub fn render_table(path: &str, tensor: &str, r: &Representation) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "svdiag {} · {path} · {tensor} · Z: {} samples × {} dims · α = {} · top-k = {}\n",
        crate::VERSION,
        r.samples,
        r.dim,
        if r.alpha.is_infinite() { "inf".to_string() } else { r.alpha.to_string() },
        r.top_k
    );
    let meaning = [
        "−Σ λ log λ, λ = eigenvalues of ZZᵀ/tr",
        "log(Σ λ^α)/(1−α)",
        "exp(entropy) of the cosine kernel / N",
        "effective rank of Z: exp(H(σ/Σσ))",
        "−Σ λ log λ over the top-k eigenvalues",
    ];
    let width = REPR_FIELDS.iter().map(|f| f.len()).max().unwrap_or(0);
    for (f, m) in REPR_FIELDS.iter().zip(meaning) {
        let _ = writeln!(out, "{f:<width$}  {:>12}  {m}", crate::table::number(r.get(f), false));
    }
    out
}

#[derive(serde::Serialize)]
struct Document<'a> {
    tool: &'static str,
    version: &'static str,
    command: &'static str,
    input: &'a str,
    tensor: &'a str,
    #[serde(flatten)]
    values: &'a Representation,
}

/// The JSON document (with a final newline).
pub fn render_json(path: &str, tensor: &str, r: &Representation) -> String {
    let doc = Document { tool: "svdiag", version: crate::VERSION, command: "repr", input: path, tensor, values: r };
    let mut s = serde_json::to_string_pretty(&doc).expect("report serializes");
    s.push('\n');
    s
}
