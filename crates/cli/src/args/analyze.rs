//! The arguments of `svdiag analyze`.

use std::path::PathBuf;

use clap::Args;
use svdiag_analysis::Method;
use svdiag_core::{Normalization, RenyiOrder};
use svdiag_report::Format;

use super::parse::*;

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  svdiag analyze model.safetensors
  svdiag analyze ./hf-model-dir --format json -o report.json
  svdiag analyze ./hf-model-dir -o report.html
  svdiag analyze a.safetensors b.safetensors --format csv --filter 'layers\\.\\d+\\.mlp'

Inputs (recognised by content, not extension): safetensors; PyTorch torch.save files (zip and
legacy; the pickle is decoded without executing anything, and only tensor-rebuilding globals are
accepted); NumPy .npy/.npz; GGUF (llama.cpp; quantized types are dequantized as llama.cpp does, so
the spectra are those of the quantized weights); ONNX (initializers, Constant nodes, external data);
Hugging Face model directories (model.safetensors, pytorch_model.bin or
their shard indexes); PEFT LoRA adapter directories (adapter_config.json with
adapter_model.safetensors or .bin): each update s·B·A is analyzed exactly from its factors, with
the lora_* fields of how much of the rank it uses. F64/F32/F16/BF16 tensors are widened to f64; 0-D/1-D tensors, integer/bool
tensors and matrices with a dimension below 2 are listed as skipped with the reason.
Tensors with more than 2 axes are analyzed as [d0, d1*d2*...].

Metrics, baselines, diagnoses and their thresholds, defined with their sources: docs/metrics.md
in the svdiag repository.

Exit codes: 0 all matrices analyzed; 1 some tensors failed (listed); 2 nothing analyzed (bad
arguments, unreadable or invalid input, filter matching nothing).")]
pub struct AnalyzeArgs {
    /// Checkpoint files (safetensors, PyTorch, NumPy, GGUF, ONNX, Keras), model directories or PEFT adapter directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// With a LoRA adapter: also analyze the merged weights W + ΔW of the modules it adapts, W read
    /// from this base model (a checkpoint or a model directory), and compare them with W as
    /// `svdiag compare` does: the JSON's `base` section, and a second table.
    #[arg(long, value_name = "MODEL")]
    pub base: Option<PathBuf>,

    /// Output format [default: table on a terminal; else from the -o extension (.json, .csv,
    /// .html); else json]. html: one self-contained page with the plots (docs/report.md).
    #[arg(short, long, value_parser = parse_format, value_name = "table|json|csv|html")]
    pub format: Option<Format>,

    /// Write the report to FILE (atomically: a temporary file renamed into place).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Analyze only tensors whose name matches this regular expression (unanchored).
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,

    /// How singular values become a distribution: sigma (p = σ/Σσ) or energy (p = σ²/Σσ²).
    #[arg(long, default_value = "sigma", value_name = "sigma|energy")]
    pub normalization: Normalization,

    /// Order of renyi_entropy: a number ≥ 0 or 'inf'.
    #[arg(long, default_value = "2", value_name = "Q", allow_negative_numbers = true)]
    pub q: RenyiOrder,

    /// Include every matrix's singular values in the JSON.
    #[arg(long, conflicts_with = "quick")]
    pub spectrum: bool,

    /// Include what the HTML report draws of every spectrum in the JSON (each record's `esd`: a
    /// histogram, the outliers and the tail, a few KB per matrix), so that `svdiag report` can draw
    /// it later. Implied by --format html.
    #[arg(long, conflicts_with = "quick")]
    pub plot_data: bool,

    /// Only the metrics that need no eigen-decomposition, for frequent monitoring:
    /// frobenius_norm, l12_norm (exact), spectral_norm (Lanczos, ≤1e-6 relative), stable_rank, and
    /// renyi_entropy with --normalization energy --q 2 (exact from ‖WᵀW‖_F).
    #[arg(long)]
    pub quick: bool,

    /// How exact spectra are computed: auto (the f64 Gram matrix's eigenvalues, guarded per matrix:
    /// σ_min recomputed or a direct SVD wherever a metric could miss 5e-10 relative) or svd (the
    /// direct SVD of every matrix; slower).
    #[arg(long, default_value = "auto", value_name = "auto|svd", conflicts_with = "quick")]
    pub method: Method,

    /// Change a diagnosis threshold (repeatable), e.g. --threshold isotropy_level=0.001. Names:
    /// collapse_kl_excess (0.5), collapse_stable_rank_fraction (0.05), isotropy_level (0.01: the
    /// significance level of the test against a Gaussian matrix of the same shape),
    /// isotropy_kl_excess and isotropy_mp_ks (optional bounds, none by default),
    /// imbalance_shallow_isotropic (0.25), imbalance_deep_isotropic (0.5), imbalance_min_layers
    /// (4), pruning_fraction (0.25).
    #[arg(long = "threshold", value_name = "NAME=VALUE", value_parser = parse_threshold)]
    pub thresholds: Vec<String>,

    /// Estimate entropy, kl_uniform, effective_rank, normalized_entropy and nuclear_norm by
    /// stochastic Lanczos quadrature with 95 % intervals, plus the --quick metrics: auto (default
    /// when given) only where that is cheaper than the exact route, always on every matrix.
    #[arg(long, value_name = "auto|always", num_args = 0..=1, default_missing_value = "auto", value_parser = ["auto", "always"], conflicts_with_all = ["quick", "spectrum"])]
    pub approx: Option<String>,

    /// Rademacher probes of --approx (more: narrower intervals).
    #[arg(long, default_value = "16", value_name = "N", value_parser = parse_probes, requires = "approx")]
    pub approx_probes: usize,

    /// Seed of the --approx probes.
    #[arg(long, default_value = "0", value_name = "S", requires = "approx")]
    pub approx_seed: u64,

    /// Also measure the polar factor UVᵀ of each matrix (Muon's update direction): its computed
    /// spectrum's kl_uniform (≈ 0), stable rank (≈ r) and condition number (≈ 1) as a sanity check,
    /// and polar_distance = √(1 − (Σσ)²/(r·Σσ²)), how far W's direction is from it. Needs an SVD
    /// with vectors per matrix.
    #[arg(long, conflicts_with = "quick")]
    pub polar: bool,

    /// Also fit alpha_farms: the power law of the pooled ESD of fixed-aspect-ratio windows (FARMS),
    /// free of the aspect-ratio bias of alpha. Needs each matrix in f64 once more.
    #[arg(long, conflicts_with = "quick")]
    pub farms: bool,

    /// FARMS window's shorter side [default: half the matrix's shorter side, at least 16].
    #[arg(long, value_name = "N", requires = "farms", value_parser = parse_window)]
    pub farms_window: Option<usize>,

    /// FARMS window aspect ratio, longer over shorter side (≥ 1).
    #[arg(long, value_name = "Q", default_value = "1", requires = "farms", value_parser = parse_ratio)]
    pub farms_ratio: f64,

    /// Fraction of a FARMS window shared with the next one along each axis, in [0, 0.95].
    #[arg(long, value_name = "F", default_value = "0.5", requires = "farms", value_parser = parse_overlap)]
    pub farms_overlap: f64,

    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,

    /// Metric columns of the table, comma-separated canonical names.
    #[arg(long, value_delimiter = ',', value_parser = parse_column, value_name = "NAMES")]
    pub columns: Vec<String>,

    /// No progress bar and no summary on stderr (failures are still reported).
    #[arg(short, long)]
    pub quiet: bool,

    /// Also analyze each gate of stacked LSTM/GRU weights (`weight_ih*`, `weight_hh*`) on its own;
    /// gates are labelled in PyTorch's order (LSTM i f g o, GRU r z n). Keras's `kernel` and
    /// `recurrent_kernel` stack them along the columns, in Keras's order (LSTM i f c o, GRU z r h).
    #[arg(long)]
    pub split_gates: bool,

    /// Read this pickle global (e.g. `lightning.fabric.utilities.data.AttributeDict`) in PyTorch
    /// checkpoints as opaque data instead of refusing the file; repeatable. It is never called.
    #[arg(long, value_name = "MODULE.NAME")]
    pub allow_global: Vec<String>,

    /// Only list the tensors, as `svdiag inspect` does, without computing spectra.
    #[arg(long)]
    pub list: bool,
}
