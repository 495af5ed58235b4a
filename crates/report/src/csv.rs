//! CSV: one row per analyzed matrix, canonical field names as headers.
//!
//! Identity columns first (`name, file, dtype, shape, rows, cols, reshaped, gate, role, layer`), then the
//! settings that change values (`normalization, q`), then every metric in canonical order (§2, the
//! random-simplex baseline, the random-matrix baseline, the HTSR fields).
//! The last columns: `route`, how the spectrum was computed (`gram`, `gram-refined`, `svd`; empty in
//! `--quick` mode), and `diagnoses`, the matrix's diagnoses separated by `;`. An infinite value is written `inf`; an undefined one is left empty.

use svdiag_analysis::Analysis;

/// Renders the matrices as CSV (header line included): the cells of [`crate::columns::columns`].
pub fn render(analysis: &Analysis) -> String {
    let mut w = writer();
    let columns = crate::columns::columns(analysis);
    w.write_record(columns.iter().map(|c| c.name)).expect("write to memory");
    for i in 0..analysis.matrices.len() {
        w.write_record(columns.iter().map(|c| c.values.cell(i))).expect("write to memory");
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

/// One metric value as a CSV cell: an integer for counts, else a real (see [`crate::columns`]).
pub(crate) fn cell(v: Option<f64>, field: &str) -> String {
    if crate::is_count(field) && v.is_some_and(f64::is_finite) {
        crate::columns::int_cell(v.map(|x| x as u64))
    } else {
        crate::columns::float_cell(v)
    }
}
