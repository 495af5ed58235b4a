//! # svdiag-report
//!
//! Pure functions from an [`Analysis`] to text: an aligned terminal [`table`], one [`json`]
//! document, [`csv`] with one row per matrix, or one self-contained [`html`] page drawn from the
//! JSON document. Nothing here prints or touches files, and the
//! output depends only on the analysis (never on timing or thread count), so it can be
//! snapshot-tested and is byte-identical across runs.
#![deny(missing_docs)]

pub mod columns;
pub mod csv;
pub mod html;
pub mod inspect;
pub mod json;
pub mod representation;
pub mod runs;
pub mod table;
pub mod theory;

use std::str::FromStr;

pub use svdiag_analysis::Analysis;
pub use svdiag_core::baselines::farms::FARMS_FIELDS;
pub use svdiag_core::baselines::htsr::HTSR_FIELDS;
pub use svdiag_core::baselines::mp::MP_FIELDS;
pub use svdiag_core::baselines::null::NULL_FIELDS;
pub use svdiag_core::metrics::{BASELINE_FIELDS, METRIC_FIELDS};
pub use svdiag_core::surgery::POLAR_FIELDS;

/// Output formats of `svdiag analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned table for a terminal.
    Table,
    /// One JSON document.
    Json,
    /// One CSV row per matrix.
    Csv,
    /// One self-contained HTML page ([`html`]).
    Html,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "table" => Ok(Self::Table),
            "json" => Ok(Self::Json),
            "csv" => Ok(Self::Csv),
            "html" => Ok(Self::Html),
            _ => Err(format!("unknown format '{s}' (expected table, json, csv or html)")),
        }
    }
}

/// The version written into reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// How singular values are computed, as written into reports.
pub const SVD_METHOD: &str = "faer SVD, singular values only, in f64 (inputs widened from their storage dtype)";

/// Every per-matrix metric field in output order: docs/metrics.md §2, the random-simplex baseline (§3),
/// the random-matrix baseline (§4), the HTSR fields (§5), the FARMS fields (`--farms`), the polar factor (`--polar`),
/// and the p-values under the null of the shape (§4; last, so that earlier columns keep their places).
pub fn metric_fields() -> impl Iterator<Item = &'static str> {
    METRIC_FIELDS
        .into_iter()
        .chain(BASELINE_FIELDS)
        .chain(MP_FIELDS)
        .chain(HTSR_FIELDS)
        .chain(FARMS_FIELDS)
        .chain(POLAR_FIELDS)
        .chain(NULL_FIELDS)
}

/// Fields written as integers.
pub fn is_count(field: &str) -> bool {
    matches!(
        field,
        "numerical_rank"
            | "num_tail"
            | "outliers_above"
            | "outliers_below"
            | "farms_windows"
            | "lora_rank"
            | "lora_energy_rank_90"
            | "lora_energy_rank_95"
            | "lora_energy_rank_99"
    )
}

/// The fields of an adapter's update (LoRA), in output order: written only by an analysis that has
/// adapter updates, after every other column.
pub use svdiag_core::linalg::factored::ADAPTER_FIELDS;

/// How the exact spectra of a run were computed, as written into reports.
pub fn svd_method(options: &svdiag_analysis::AnalysisOptions) -> &'static str {
    match options.method {
        svdiag_analysis::Method::Svd => SVD_METHOD,
        svdiag_analysis::Method::Auto => {
            "f64 Gram matrix of the smaller side (widened block by block) and its eigenvalues (faer \
             tridiagonalization, bisection), guarded per matrix: sigma_min refined from an LU/QR \
             factor or a direct faer SVD where the Gram values could miss 5e-10 relative (see each \
             matrix's route)"
        }
    }
}

/// The reshape convention, as written into reports.
pub const RESHAPE_RULE: &str =
    "tensors with more than 2 axes are analyzed as [d0, d1*d2*...] (conv [out, in, kh, kw] -> [out, in*kh*kw]); \
     Keras convolution and attention-output kernels, whose output axis is last, as [d0*...*d(n-2), d(n-1)] \
     (conv (kh, kw, in, out) -> [kh*kw*in, out])";

/// Renders the analysis in the chosen format. `columns` selects the table's metric columns
/// (canonical names); JSON and CSV always carry every metric.
pub fn render(analysis: &Analysis, format: Format, columns: &[&str]) -> String {
    render_for(analysis, format, columns, "analyze")
}

/// [`render`], naming the command in the JSON (`analyze`, `delta`).
pub fn render_for(analysis: &Analysis, format: Format, columns: &[&str], command: &'static str) -> String {
    match format {
        Format::Table => table::render(analysis, columns),
        Format::Json => json::render_for(analysis, command),
        Format::Csv => csv::render(analysis),
        Format::Html => html_of(&json::render_for(analysis, command)),
    }
}

/// The page of a JSON document this crate wrote (for the commands that render JSON first).
pub fn html_of(json: &str) -> String {
    html::render_text(json).expect("svdiag's own JSON documents have a page")
}

/// Groups reasons for a short summary: `[(reason, count)]`, most frequent first, then by text.
pub fn group_reasons<'a>(reasons: impl Iterator<Item = &'a str>) -> Vec<(&'a str, usize)> {
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for r in reasons {
        *counts.entry(r).or_default() += 1;
    }
    let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

/// The one-paragraph summary of what was skipped and what failed (for the end of a run).
pub fn summary(analysis: &Analysis) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = write!(out, "{} analyzed", plural(analysis.matrices.len(), "matrix", "matrices"));
    if analysis.filtered_out > 0 {
        let _ = write!(out, ", {} left out by the filter", plural(analysis.filtered_out, "tensor", "tensors"));
    }
    let _ = writeln!(out, ", {} skipped, {} failed", analysis.skipped.len(), analysis.failed.len());
    if !analysis.skipped.is_empty() {
        for (reason, n) in group_reasons(analysis.skipped.iter().map(|s| s.reason.as_str())) {
            let _ = write!(out, "  skipped {n} × {reason}");
            if n <= 3 {
                let names: Vec<&str> =
                    analysis.skipped.iter().filter(|s| s.reason == reason).map(|s| s.name.as_str()).collect();
                let _ = write!(out, ": {}", names.join(", "));
            }
            let _ = writeln!(out);
        }
    }
    for f in &analysis.failed {
        let _ = writeln!(out, "  FAILED {} ({}): {}", f.name, f.file, f.error);
    }
    let undefined: usize = analysis.matrices.iter().filter(|m| !m.metrics.undefined.is_empty()).count();
    if analysis.options.quick {
        let _ = writeln!(
            out,
            "  --quick: computed {} (renyi_entropy only with --normalization energy --q 2); the rest needs the full spectrum",
            svdiag_core::linalg::quick::QUICK_FIELDS[..4].join(", ")
        );
    } else {
        let count = |route| analysis.matrices.iter().filter(|m| m.route == Some(route)).count();
        let (refined, svd) =
            (count(svdiag_core::linalg::gram::Route::GramRefined), count(svdiag_core::linalg::gram::Route::Svd));
        if analysis.options.method == svdiag_analysis::Method::Auto && refined + svd > 0 {
            let _ = writeln!(
                out,
                "  spectra: {} by the Gram route, {refined} with σ_min recomputed, {svd} by direct SVD (the guard's reasons are in the JSON 'route_reason')",
                count(svdiag_core::linalg::gram::Route::Gram)
            );
        }
    }
    if analysis.options.approx.is_some() {
        let n = analysis.matrices.iter().filter(|m| m.approx.is_some()).count();
        let _ = writeln!(
            out,
            "  --approx: {n} of {} matrices estimated by stochastic Lanczos quadrature (95 % intervals in the JSON 'approx'); the rest computed exactly, where that is not slower",
            analysis.matrices.len()
        );
    }
    if !analysis.options.quick && undefined > 0 {
        let _ = writeln!(
            out,
            "  note: {} metrics without a finite value (reasons in the JSON 'undefined' field)",
            plural(undefined, "matrix has", "matrices have")
        );
    }
    for w in &analysis.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    out
}

/// `1 matrix`, `2 matrices`.
pub fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The fields every JSON document of svdiag starts with.
#[derive(serde::Serialize)]
pub(crate) struct Head<'a> {
    pub tool: &'static str,
    pub version: &'static str,
    pub command: &'static str,
    pub inputs: &'a [svdiag_analysis::InputSummary],
}

impl<'a> Head<'a> {
    pub(crate) fn new(command: &'static str, inputs: &'a [svdiag_analysis::InputSummary]) -> Self {
        Self { tool: "svdiag", version: VERSION, command, inputs }
    }
}
