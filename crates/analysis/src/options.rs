//! The settings of one analysis.

use svdiag_core::MetricOptions;

/// Settings of one analysis.
#[derive(Debug, Clone, Default)]
pub struct AnalysisOptions {
    /// Normalization and Rényi order.
    pub metrics: MetricOptions,
    /// Keep every matrix's singular values in its record.
    pub keep_spectrum: bool,
    /// Keep what a report draws of every spectrum ([`svdiag_core::esd::Esd`], a few KB per matrix).
    pub plot_data: bool,
    /// Worker threads; `None` = all cores.
    pub threads: Option<usize>,
    /// `--quick`: only the metrics that need no eigen-decomposition (see `svdiag_core::linalg::quick`).
    pub quick: bool,
    /// How exact spectra are computed.
    pub method: Method,
    /// Thresholds of the diagnoses.
    pub thresholds: crate::Thresholds,
    /// `--farms`: also fit `alpha_farms` with these window parameters.
    pub farms: Option<svdiag_core::baselines::farms::FarmsParams>,
    /// `--polar`: also measure the polar factor `UVᵀ`.
    pub polar: bool,
    /// `--approx`: SLQ estimates of the entropies, where (or, with `always`, wherever) they are
    /// cheaper than the exact route.
    pub approx: Option<(ApproxMode, svdiag_core::linalg::slq::SlqOptions)>,
}

/// When `--approx` estimates instead of computing exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproxMode {
    /// Only where the estimate is cheaper than the exact Gram route ([`svdiag_core::linalg::slq::worth_it`]).
    Auto,
    /// On every matrix (to measure the trade-off).
    Always,
}

/// How the exact mode computes singular values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// The Gram route with its accuracy guard, which refines or falls back to the direct SVD
    /// matrix by matrix (`svdiag_core::linalg::gram`).
    #[default]
    Auto,
    /// The direct SVD of every matrix.
    Svd,
}

impl Method {
    /// The name used on the command line and in reports (`auto`, `svd`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Svd => "svd",
        }
    }
}

impl std::str::FromStr for Method {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "svd" => Ok(Self::Svd),
            _ => Err(format!("unknown method '{s}' (expected 'auto' or 'svd')")),
        }
    }
}

/// Relative convergence tolerance of the Lanczos spectral norm in quick mode (the contract is
/// 1e-6 of the exact value; Lanczos converges far past it at this setting).
pub const QUICK_TOLERANCE: f64 = 1e-10;
