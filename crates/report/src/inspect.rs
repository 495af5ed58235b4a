//! `svdiag inspect`: what a checkpoint contains (format, names, dtypes, shapes, and what `analyze`
//! would do with each tensor), without computing any spectrum.

use std::fmt::Write;

use serde::Serialize;
use svdiag_analysis::{matrix_shape, Plan};
use svdiag_core::Dtype;

#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    head: crate::Head<'a>,
    tensors: Vec<Row<'a>>,
}

#[derive(Serialize)]
struct Row<'a> {
    file: String,
    format: &'static str,
    name: &'a str,
    dtype: Dtype,
    shape: &'a [usize],
    bytes: usize,
    /// `[m, n]` when `analyze` would analyze it, else null.
    matrix_shape: Option<[usize; 2]>,
    /// Why `analyze` would skip it, else null.
    skip_reason: Option<String>,
}

fn rows<'p>(plan: &'p Plan<'_>) -> Vec<Row<'p>> {
    let mut out = Vec::new();
    for source in &plan.sources {
        for info in source.tensors() {
            let (matrix_shape, skip_reason) = match matrix_shape(info) {
                Ok((m, n)) => (Some([m, n]), None),
                Err(reason) => (None, Some(reason)),
            };
            out.push(Row {
                file: source.path().display().to_string(),
                format: source.format(),
                name: &info.name,
                dtype: info.dtype,
                shape: &info.shape,
                bytes: info.byte_len,
                matrix_shape,
                skip_reason,
            });
        }
    }
    out
}

/// The inventory as one JSON document.
pub fn render_json(plan: &Plan) -> String {
    let doc = Document { head: crate::Head::new("inspect", &plan.inputs), tensors: rows(plan) };
    let mut s = serde_json::to_string_pretty(&doc).expect("inventory serializes");
    s.push('\n');
    s
}

/// The inventory as an aligned table, one line per tensor, in file order.
pub fn render_table(plan: &Plan) -> String {
    let rows = rows(plan);
    let head = ["file", "format", "name", "dtype", "shape", "bytes", "analyze"];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|r| {
            [
                r.file.clone(),
                r.format.to_string(),
                r.name.to_string(),
                r.dtype.to_string(),
                format!("[{}]", r.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
                r.bytes.to_string(),
                match (&r.matrix_shape, &r.skip_reason) {
                    (Some([m, n]), _) => format!("{m}×{n}"),
                    (None, Some(reason)) => format!("skip: {reason}"),
                    (None, None) => String::new(),
                },
            ]
        })
        .collect();
    let widths: Vec<usize> = (0..head.len())
        .map(|i| cells.iter().map(|c| c[i].chars().count()).chain([head[i].len()]).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            let pad = widths[i] - c.chars().count();
            if i == 5 {
                s.extend(std::iter::repeat_n(' ', pad));
                s.push_str(c);
            } else {
                s.push_str(c);
                s.extend(std::iter::repeat_n(' ', pad));
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };
    line(&head.map(String::from), &mut out);
    line(&widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>(), &mut out);
    for c in &cells {
        line(c, &mut out);
    }
    let matrices = rows.iter().filter(|r| r.matrix_shape.is_some()).count();
    let bytes: usize = rows.iter().map(|r| r.bytes).sum();
    let _ = writeln!(
        out,
        "\n{} in {}: {} to analyze, {} to skip; {bytes} bytes of tensor data",
        crate::plural(rows.len(), "tensor", "tensors"),
        crate::plural(plan.sources.len(), "file", "files"),
        crate::plural(matrices, "matrix", "matrices"),
        rows.len() - matrices,
    );
    for w in &plan.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
