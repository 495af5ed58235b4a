//! CSV: one row per analyzed matrix, canonical field names as headers.
//!
//! Identity columns first (`name, file, dtype, shape, rows, cols, reshaped, gate, role, layer`), then the
//! settings that change values (`normalization, q`), then every metric in canonical order (§2, the
//! random-simplex baseline, the random-matrix baseline, the HTSR fields).
//! The last columns: `route`, how the spectrum was computed (`gram`, `gram-refined`, `svd`; empty in
//! `--quick` mode), and `diagnoses`, the matrix's diagnoses separated by `;`. An infinite value is written `inf`; an undefined one is left empty.

use svdiag_analysis::Analysis;

const IDENTITY: [&str; 12] =
    ["name", "file", "dtype", "shape", "rows", "cols", "reshaped", "gate", "role", "layer", "normalization", "q"];

/// Renders the matrices as CSV (header line included).
pub fn render(analysis: &Analysis) -> String {
    let mut w = writer();
    let fields: Vec<&str> = crate::metric_fields().collect();
    let header: Vec<&str> = IDENTITY.iter().chain(fields.iter()).copied().chain(["route", "diagnoses"]).collect();
    w.write_record(&header).expect("write to memory");
    let opts = analysis.options.metrics;
    for r in &analysis.matrices {
        let mut row: Vec<String> = vec![
            r.name.clone(),
            r.file.clone(),
            r.dtype.to_string(),
            r.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x"),
            r.matrix_shape[0].to_string(),
            r.matrix_shape[1].to_string(),
            r.reshaped.to_string(),
            r.gate.unwrap_or_default().to_string(),
            r.identity.role.name().to_string(),
            r.identity.layer.map(|l| l.to_string()).unwrap_or_default(),
            opts.normalization.to_string(),
            opts.q.to_string(),
        ];
        row.extend(fields.iter().map(|f| cell(r.metrics.get(f), f)));
        row.push(r.route.map(|x| x.name()).unwrap_or_default().to_string());
        let kinds: Vec<&str> =
            analysis.diagnoses.matrices.iter().filter(|d| d.subject == r.name).map(|d| d.kind).collect();
        row.push(kinds.join(";"));
        w.write_record(&row).expect("write to memory");
    }
    finish(w)
}

/// A CSV writer into memory with `\n` line ends.
pub(crate) fn writer() -> ::csv::Writer<Vec<u8>> {
    ::csv::WriterBuilder::new().terminator(::csv::Terminator::Any(b'\n')).from_writer(Vec::new())
}

/// The written CSV as text.
pub(crate) fn finish(w: ::csv::Writer<Vec<u8>>) -> String {
    String::from_utf8(w.into_inner().expect("flush to memory")).expect("CSV of UTF-8 fields is UTF-8")
}

/// One metric value as a CSV cell: `inf`, an integer for counts, the shortest exact decimal
/// otherwise, empty when undefined.
pub(crate) fn cell(v: Option<f64>, field: &str) -> String {
    match v {
        Some(v) if v.is_infinite() => "inf".to_string(),
        Some(v) if crate::is_count(field) => format!("{}", v as u64),
        Some(v) => format!("{v:?}"),
        None => String::new(),
    }
}
