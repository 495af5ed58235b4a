//! What an analysis finds for one matrix: its record, or why it failed, and the name that matches
//! it across checkpoints.

use svdiag_core::linalg::gram::Route;
use svdiag_core::{Dtype, Metrics, TensorIdentity};
use svdiag_formats::TensorInfo;

/// How a matrix is named across checkpoints: its tensor name, with `[gate]` for one gate of a
/// stacked recurrent weight (`--split-gates`). Trends, comparisons and deltas match on it.
pub fn matrix_key(name: &str, gate: Option<&str>) -> String {
    match gate {
        Some(g) => format!("{name}[{g}]"),
        None => name.to_string(),
    }
}

/// The analysis of one matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixRecord {
    /// Tensor name as stored.
    pub name: String,
    /// File it came from.
    pub file: String,
    /// Storage dtype (widened to f64 before any arithmetic).
    pub dtype: Dtype,
    /// Shape as stored.
    pub shape: Vec<usize>,
    /// `[m, n]` as analyzed.
    pub matrix_shape: [usize; 2],
    /// True when the stored tensor had more than 2 axes and was reshaped to `[d0, d1·d2·…]`.
    pub reshaped: bool,
    /// For one gate of a stacked recurrent weight (`--split-gates`): the gate's label.
    pub gate: Option<&'static str>,
    /// First row of the gate in the stored matrix (its first column for Keras's column-stacked
    /// gates; 0 without a gate); orders the gates.
    pub gate_row: usize,
    /// Role and layer from the name.
    pub identity: TensorIdentity,
    /// The metrics.
    pub metrics: Metrics,
    /// The singular values, when asked for.
    pub singular_values: Option<Vec<f64>>,
    /// What a report draws of the spectrum, when asked for (exact modes).
    pub esd: Option<svdiag_core::esd::Esd>,
    /// How the spectrum was computed (`None` in quick mode).
    pub route: Option<Route>,
    /// Why the Gram route refined `σ_min` or fell back to the direct SVD.
    pub route_reason: Option<String>,
    /// The SLQ estimates with their intervals (`--approx`, where used).
    pub approx: Option<svdiag_core::linalg::slq::Approx>,
}

/// A matrix that could not be analyzed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Failed {
    /// Tensor name.
    pub name: String,
    /// File.
    pub file: String,
    /// Storage dtype.
    pub dtype: Dtype,
    /// Shape as stored.
    pub shape: Vec<usize>,
    /// What went wrong.
    pub error: String,
}

pub(crate) fn failed(info: &TensorInfo, file: &str, error: String) -> Failed {
    Failed { name: info.name.clone(), file: file.to_string(), dtype: info.dtype, shape: info.shape.clone(), error }
}
