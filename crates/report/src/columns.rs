//! The per-matrix table as typed columns, in the canonical order: identity (`name, file, dtype,
//! shape, rows, cols, reshaped, gate, role, layer`), the settings that change values
//! (`normalization, q`), every metric in canonical order, then `route` and `diagnoses`.
//!
//! One definition serves the CSV (each column renders its own cells) and the Python package's
//! DataFrame (each column keeps its type: counts stay integers with a missing value, metrics stay
//! floats), so the two cannot disagree on names, order or values.

use svdiag_analysis::Analysis;
use svdiag_core::RenyiOrder;

/// The values of one column, one per analyzed matrix.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Text that is always present.
    Text(Vec<String>),
    /// Text that may be absent (`gate`, `route`).
    OptText(Vec<Option<&'static str>>),
    /// A shape (`shape`: the tensor as stored).
    Shape(Vec<Vec<usize>>),
    /// A non-negative integer that may be undefined (dimensions, `layer`, the counting metrics).
    Int(Vec<Option<u64>>),
    /// A flag.
    Bool(Vec<bool>),
    /// A real number that may be undefined (`None`) or infinite.
    Float(Vec<Option<f64>>),
    /// The Rényi order `q` of the run.
    Order(Vec<RenyiOrder>),
    /// A list of names (`diagnoses`).
    List(Vec<Vec<&'static str>>),
}

/// One named column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The canonical name.
    pub name: &'static str,
    /// Its values.
    pub values: Values,
}

impl Values {
    /// The CSV cell of row `i`: `inf` for an infinite value, empty for an undefined or absent one,
    /// the shortest exact decimal for a real, `AxB` for a shape, `;`-separated names for a list.
    pub fn cell(&self, i: usize) -> String {
        match self {
            Values::Text(v) => v[i].clone(),
            Values::OptText(v) => v[i].unwrap_or_default().to_string(),
            Values::Shape(v) => v[i].iter().map(|d| d.to_string()).collect::<Vec<_>>().join("x"),
            Values::Int(v) => int_cell(v[i]),
            Values::Bool(v) => v[i].to_string(),
            Values::Float(v) => float_cell(v[i]),
            Values::Order(v) => v[i].to_string(),
            Values::List(v) => v[i].join(";"),
        }
    }
}

/// An integer cell: empty when undefined.
pub(crate) fn int_cell(v: Option<u64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// A real cell: `inf` when infinite, the shortest exact decimal otherwise, empty when undefined.
pub(crate) fn float_cell(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_infinite() => "inf".to_string(),
        Some(x) => format!("{x:?}"),
        None => String::new(),
    }
}

/// The columns of `analysis`, one row per analyzed matrix in display order.
pub fn columns(analysis: &Analysis) -> Vec<Column> {
    let rs = &analysis.matrices;
    let opts = analysis.options.metrics;
    let col = |name: &'static str, values: Values| Column { name, values };
    let mut out = vec![
        col("name", Values::Text(rs.iter().map(|r| r.name.clone()).collect())),
        col("file", Values::Text(rs.iter().map(|r| r.file.clone()).collect())),
        col("dtype", Values::Text(rs.iter().map(|r| r.dtype.to_string()).collect())),
        col("shape", Values::Shape(rs.iter().map(|r| r.shape.clone()).collect())),
        col("rows", Values::Int(rs.iter().map(|r| Some(r.matrix_shape[0] as u64)).collect())),
        col("cols", Values::Int(rs.iter().map(|r| Some(r.matrix_shape[1] as u64)).collect())),
        col("reshaped", Values::Bool(rs.iter().map(|r| r.reshaped).collect())),
        col("gate", Values::OptText(rs.iter().map(|r| r.gate).collect())),
        col("role", Values::Text(rs.iter().map(|r| r.identity.role.name().to_string()).collect())),
        col("layer", Values::Int(rs.iter().map(|r| r.identity.layer.map(u64::from)).collect())),
        col("normalization", Values::Text(rs.iter().map(|_| opts.normalization.to_string()).collect())),
        col("q", Values::Order(rs.iter().map(|_| opts.q).collect())),
    ];
    // a metric's column: integers for the counts, floats (NaN where undefined) for the rest
    let metric = |field: &'static str| {
        let values = rs.iter().map(|r| r.metrics.get(field));
        col(
            field,
            if crate::is_count(field) {
                Values::Int(values.map(|v| v.map(|x| x as u64)).collect())
            } else {
                Values::Float(values.collect())
            },
        )
    };
    out.extend(crate::metric_fields().map(metric));
    out.push(col("route", Values::OptText(rs.iter().map(|r| r.route.map(|x| x.name())).collect())));
    out.push(col(
        "diagnoses",
        Values::List(
            rs.iter()
                .map(|r| analysis.diagnoses.matrices.iter().filter(|d| d.subject == r.name).map(|d| d.kind).collect())
                .collect(),
        ),
    ));
    if rs.iter().any(|r| r.metrics.adapter.is_some()) {
        out.extend(crate::ADAPTER_FIELDS.into_iter().map(metric));
    }
    out
}
