//! Command-line arguments. Parsing validates each value; `main` turns them into settings.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use svdiag_analysis::Method;
use svdiag_core::{Normalization, RenyiOrder};
use svdiag_report::Format;

/// Spectral diagnostics of neural-network checkpoints.
///
/// For every weight matrix: singular entropy (Shannon, Rényi, KL from uniform), effective and
/// stable rank, spectral/Frobenius/nuclear norms, condition number, numerical rank — from singular
/// values computed in f64.
#[derive(Debug, Parser)]
#[command(name = "svdiag", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 all matrices analyzed; 1 some tensors failed; 2 nothing analyzed (bad arguments or input); 3 (trend, watch) alerts fired."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Spectral metrics for every matrix of one or more checkpoints.
    Analyze(AnalyzeArgs),
    /// List the tensors of checkpoints (format, dtype, shape, what `analyze` would do) without
    /// computing anything.
    Inspect(InspectArgs),
    /// Where the entropy of a uniformly random distribution on n points lies: exact values, the
    /// seed document's approximations, and a Monte Carlo estimate.
    Theory(TheoryArgs),
    /// Write a copy of a safetensors checkpoint with one decile of singular values removed from the
    /// selected matrices (the others copied byte for byte), for perplexity studies.
    Ablate(AblateArgs),
    /// Entropies of a representation matrix Z (N samples × d, e.g. saved activations): von Neumann
    /// and Rényi entropy of ZZᵀ/tr, Vendi score, RankMe, truncated entropy.
    Repr(ReprArgs),
    /// A training run as time series: every matrix's metrics at every checkpoint, per-role and
    /// per-depth aggregates, and alerts on sudden jumps and sustained drifts (exit code 3).
    Trend(TrendArgs),
    /// Follow a running training job: analyze each new checkpoint once it is completely written,
    /// and print alerts as they happen.
    Watch(WatchArgs),
    /// Two checkpoints or two runs side by side (e.g. the same model trained with Muon and with
    /// AdamW): matrices matched by name, differences of every metric, verdicts with sign tests.
    Compare(CompareArgs),
    /// The spectra of the update ΔW = W_B − W_A of every matrix present in both checkpoints, with
    /// every metric (e.g. Muon's updates are flat).
    Delta(DeltaArgs),
}

/// Where and how a run command writes its report.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format [default: table on a terminal; else from the -o extension (.json, .csv); else json].
    #[arg(short, long, value_parser = parse_format, value_name = "table|json|csv")]
    pub format: Option<Format>,

    /// Write the report to FILE (atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The analysis settings shared by the run commands (trend, watch, compare, delta).
#[derive(Debug, Args)]
pub struct RunSettings {
    /// Analyze only tensors whose name matches this regular expression (unanchored).
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,

    /// How singular values become a distribution: sigma (p = σ/Σσ) or energy (p = σ²/Σσ²).
    #[arg(long, default_value = "sigma", value_name = "sigma|energy")]
    pub normalization: Normalization,

    /// Order of renyi_entropy: a number ≥ 0 or 'inf'.
    #[arg(long, default_value = "2", value_name = "Q", allow_negative_numbers = true)]
    pub q: RenyiOrder,

    /// How exact spectra are computed: auto (guarded Gram route) or svd (direct SVD).
    #[arg(long, default_value = "auto", value_name = "auto|svd")]
    pub method: Method,

    /// Worker threads (default: all cores). Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<usize>,

    /// The result store (SQLite) [default: $SVDIAG_CACHE, else $XDG_CACHE_HOME/svdiag/spectra.sqlite3,
    /// else ~/.cache/svdiag/spectra.sqlite3]. Spectra are stored by tensor content, settings and
    /// svdiag version, so that a re-run computes only what is new.
    #[arg(long, value_name = "FILE", conflicts_with = "no_cache")]
    pub cache: Option<PathBuf>,

    /// Neither read nor write the result store.
    #[arg(long)]
    pub no_cache: bool,

    /// No progress bar and no summary on stderr (failures and alerts are still reported).
    #[arg(short, long)]
    pub quiet: bool,

    /// Read this pickle global in PyTorch checkpoints as opaque data instead of refusing the file; repeatable.
    #[arg(long, value_name = "MODULE.NAME")]
    pub allow_global: Vec<String>,
}

/// The alert rules of trend and watch.
#[derive(Debug, Args)]
pub struct AlertArgs {
    /// A jump rule, METRIC[:rise|fall|any[:Z]], replacing the default kl_uniform:rise:6 (repeatable):
    /// a change between consecutive checkpoints whose robust z-score against the trajectory's own
    /// step-to-step changes (median, MAD) is beyond Z.
    #[arg(long = "alert", value_name = "RULE", value_parser = svdiag_analysis::trend::JumpRule::parse)]
    pub alerts: Vec<svdiag_analysis::trend::JumpRule>,

    /// A drift rule, METRIC[:rise|fall|any[:FRACTION[:WINDOW]]], replacing the default
    /// stable_rank:fall:0.5 (repeatable): a monotone change (Mann–Kendall p < 0.05) of at least
    /// FRACTION over the last WINDOW checkpoints [default: the later half of the run, at least 5].
    #[arg(long = "drift", value_name = "RULE", value_parser = svdiag_analysis::trend::DriftRule::parse)]
    pub drifts: Vec<svdiag_analysis::trend::DriftRule>,

    /// No alerts (exit code 3 never happens).
    #[arg(long, conflicts_with_all = ["alerts", "drifts"])]
    pub no_alerts: bool,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  svdiag trend runs/adamw                         # checkpoint-<step>/ directories, or step_<N>.safetensors files
  svdiag trend a.safetensors b.safetensors c.safetensors   # explicit checkpoints, in this order
  svdiag trend runs/adamw --format csv -o trend.csv
  svdiag trend runs/adamw --alert kl_uniform:rise:5 --drift stable_rank:fall:0.3:6

Exit codes: 0 no alert; 1 some tensors or checkpoints failed (listed); 2 nothing analyzed;
3 alerts fired (takes precedence over 1).")]
pub struct TrendArgs {
    /// A run directory, or checkpoint files / model directories in order.
    #[arg(required = true, value_name = "RUN_DIR|CKPT")]
    pub paths: Vec<PathBuf>,

    #[command(flatten)]
    pub out: OutputArgs,

    /// The metric drawn in the table.
    #[arg(long, default_value = "kl_uniform", value_parser = parse_column, value_name = "NAME")]
    pub metric: String,

    #[command(flatten)]
    pub alerts: AlertArgs,

    #[command(flatten)]
    pub settings: RunSettings,
}

#[derive(Debug, Args)]
#[command(after_help = "\
A checkpoint is analyzed once it is complete: its files (and shard index) have kept the same
sizes and modification times for --settle seconds, and every file opens and validates. One that
is still invalid then is reported, and read again once its files change.

Exit codes: 0 stopped without alerts; 1 some tensors failed; 3 alerts fired.")]
pub struct WatchArgs {
    /// The run directory the training job writes checkpoints into.
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,

    /// Seconds between looks at the directory.
    #[arg(long, default_value = "30", value_name = "SECS", value_parser = parse_seconds)]
    pub interval: f64,

    /// Seconds a checkpoint's files must stay unchanged before it is read.
    #[arg(long, default_value = "10", value_name = "SECS", value_parser = parse_seconds)]
    pub settle: f64,

    /// Stop after this many checkpoints have been analyzed [default: run until interrupted].
    #[arg(long, value_name = "N", value_parser = parse_positive)]
    pub stop_after: Option<usize>,

    /// Stop when no new checkpoint has appeared for this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub idle_timeout: Option<f64>,

    /// After each checkpoint, write the trend so far to FILE (JSON or CSV by extension; atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    #[command(flatten)]
    pub alerts: AlertArgs,

    #[command(flatten)]
    pub settings: RunSettings,
}

#[derive(Debug, Args)]
#[command(after_help = "\
A and B are checkpoints (files or model directories) or run directories; of a run, the last
checkpoint is compared, or the one at --step.

Example:
  svdiag compare runs/adamw runs/muon")]
pub struct CompareArgs {
    /// The first checkpoint or run.
    #[arg(value_name = "A")]
    pub a: PathBuf,

    /// The second checkpoint or run.
    #[arg(value_name = "B")]
    pub b: PathBuf,

    /// For runs: compare the checkpoints at this step.
    #[arg(long, value_name = "STEP")]
    pub step: Option<u64>,

    #[command(flatten)]
    pub out: OutputArgs,

    /// The metric shown per matrix and per role in the table.
    #[arg(long, default_value = "kl_uniform", value_parser = parse_column, value_name = "NAME")]
    pub metric: String,

    #[command(flatten)]
    pub settings: RunSettings,
}

#[derive(Debug, Args)]
#[command(after_help = "\
A and B are checkpoints (files or model directories) or run directories (their last checkpoints).
Matrices are paired by name; those only in one checkpoint, or with different shapes, are listed
and not analyzed. The update is formed in f64 from the stored values.

Exit codes: as for analyze.")]
pub struct DeltaArgs {
    /// The earlier checkpoint (file or model directory), or a run.
    #[arg(value_name = "A")]
    pub a: PathBuf,

    /// The later checkpoint, or a run.
    #[arg(value_name = "B")]
    pub b: PathBuf,

    #[command(flatten)]
    pub out: OutputArgs,

    /// Include every update's singular values in the JSON.
    #[arg(long)]
    pub spectrum: bool,

    /// Metric columns of the table, comma-separated canonical names.
    #[arg(long, value_delimiter = ',', value_parser = parse_column, value_name = "NAMES")]
    pub columns: Vec<String>,

    #[command(flatten)]
    pub settings: RunSettings,
}

#[derive(Debug, Args)]
pub struct ReprArgs {
    /// A file holding the matrix (.npy, .npz, safetensors, …): rows are samples.
    pub input: PathBuf,

    /// The tensor to use when the file holds several.
    #[arg(long, value_name = "NAME")]
    pub tensor: Option<String>,

    /// Order α of matrix_renyi_entropy: a number ≥ 0 or 'inf'.
    #[arg(long, default_value = "2", value_name = "A", allow_negative_numbers = true)]
    pub alpha: RenyiOrder,

    /// Number of leading eigenvalues in truncated_entropy.
    #[arg(long, default_value = "10", value_name = "K", value_parser = parse_positive)]
    pub top_k: usize,

    /// Output format [default: table on a terminal, else json].
    #[arg(short, long, value_parser = parse_format, value_name = "table|json")]
    pub format: Option<Format>,
}

#[derive(Debug, Args)]
pub struct AblateArgs {
    /// The safetensors checkpoint to copy.
    pub input: PathBuf,

    /// The decile of singular values to zero, 1–10, by rank (1 = the largest tenth).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=10))]
    pub decile: u8,

    /// Only matrices of these roles, comma-separated (e.g. mlp_down,attn_o) [default: every matrix].
    #[arg(long, value_delimiter = ',', value_parser = parse_role, value_name = "ROLES")]
    pub roles: Vec<svdiag_core::Role>,

    /// Only tensors whose name matches this regular expression (unanchored).
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,

    /// The ablated copy (safetensors), written atomically.
    #[arg(short, long, value_name = "OUT.safetensors")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct TheoryArgs {
    /// Number of points (singular values).
    #[arg(long, value_parser = parse_positive, value_name = "N")]
    pub n: usize,

    /// Rényi order: a number ≥ 0 or 'inf'.
    #[arg(long, default_value = "2", value_name = "Q", allow_negative_numbers = true)]
    pub q: RenyiOrder,

    /// Monte Carlo samples (random points of the simplex).
    #[arg(long, default_value = "10000", value_name = "K", value_parser = parse_positive)]
    pub samples: usize,

    /// Seed of the Monte Carlo generator.
    #[arg(long, default_value = "0", value_name = "S")]
    pub seed: u64,

    /// Output format [default: table on a terminal, else json].
    #[arg(short, long, value_parser = parse_format, value_name = "table|json")]
    pub format: Option<Format>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Checkpoint files or model directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format [default: table on a terminal, else json].
    #[arg(short, long, value_parser = parse_format, value_name = "table|json")]
    pub format: Option<Format>,

    /// List only tensors whose name matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    pub filter: Option<String>,

    /// Read this pickle global as opaque data instead of refusing the file; repeatable.
    #[arg(long, value_name = "MODULE.NAME")]
    pub allow_global: Vec<String>,
}

#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  svdiag analyze model.safetensors
  svdiag analyze ./hf-model-dir --format json -o report.json
  svdiag analyze a.safetensors b.safetensors --format csv --filter 'layers\\.\\d+\\.mlp'

Inputs (recognised by content, not extension): safetensors; PyTorch torch.save files (zip and
legacy; the pickle is decoded without executing anything, and only tensor-rebuilding globals are
accepted); NumPy .npy/.npz; GGUF (llama.cpp; quantized types are dequantized as llama.cpp does, so
the spectra are those of the quantized weights); ONNX (initializers, Constant nodes, external data);
Hugging Face model directories (model.safetensors, pytorch_model.bin or
their shard indexes). F64/F32/F16/BF16 tensors are widened to f64; 0-D/1-D tensors, integer/bool
tensors and matrices with a dimension below 2 are listed as skipped with the reason.
Tensors with more than 2 axes are analyzed as [d0, d1*d2*...].

Exit codes: 0 all matrices analyzed; 1 some tensors failed (listed); 2 nothing analyzed (bad
arguments, unreadable or invalid input, filter matching nothing).")]
pub struct AnalyzeArgs {
    /// Checkpoint files (safetensors, PyTorch, NumPy, GGUF, ONNX) or model directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Output format [default: table on a terminal; else from the -o extension (.json, .csv); else json].
    #[arg(short, long, value_parser = parse_format, value_name = "table|json|csv")]
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

    /// Change a diagnosis threshold (repeatable), e.g. --threshold isotropy_kl_excess=0.01. Names:
    /// collapse_kl_excess (0.5), collapse_stable_rank_fraction (0.05), isotropy_kl_excess (0.02),
    /// isotropy_mp_ks (0.1), imbalance_shallow_isotropic (0.25), imbalance_deep_isotropic (0.5),
    /// imbalance_min_layers (4), pruning_fraction (0.25).
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
    /// gates are labelled in PyTorch's order (LSTM i f g o, GRU r z n).
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

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// `s` as a `T` inside `range`, or an error that says what was expected.
fn parse_in<T: std::str::FromStr + PartialOrd>(
    s: &str,
    range: impl std::ops::RangeBounds<T>,
    expected: &str,
) -> Result<T, String> {
    match s.parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not {expected}")),
    }
}

fn parse_threads(s: &str) -> Result<usize, String> {
    parse_in(s, 1.., "a positive number of threads")
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    parse_in(s, 0.0..=86_400.0, "a number of seconds in [0, 86400]")
}

fn parse_positive(s: &str) -> Result<usize, String> {
    parse_in(s, 1.., "a positive whole number")
}

fn parse_probes(s: &str) -> Result<usize, String> {
    parse_in(s, 4..=10_000, "a number of probes in 4..=10000")
}

fn parse_ratio(s: &str) -> Result<f64, String> {
    // the upper bound keeps out inf (and NaN is in no range)
    parse_in(s, 1.0..=f64::MAX, "an aspect ratio ≥ 1")
}

fn parse_overlap(s: &str) -> Result<f64, String> {
    parse_in(s, 0.0..=0.95, "an overlap in [0, 0.95]")
}

fn parse_window(s: &str) -> Result<usize, String> {
    parse_in(s, 2.., "a window size ≥ 2")
}

fn parse_role(s: &str) -> Result<svdiag_core::Role, String> {
    svdiag_core::Role::from_canonical(s).ok_or_else(|| {
        let all: Vec<&str> = svdiag_core::Role::ALL.iter().map(|r| r.name()).collect();
        format!("unknown role '{s}' (one of: {})", all.join(", "))
    })
}

fn parse_threshold(s: &str) -> Result<String, String> {
    svdiag_analysis::Thresholds::default().set(s).map(|()| s.to_string())
}

fn parse_column(s: &str) -> Result<String, String> {
    if svdiag_report::metric_fields().any(|f| f == s) {
        Ok(s.to_string())
    } else {
        Err(format!("unknown metric '{s}' (one of: {})", svdiag_report::metric_fields().collect::<Vec<_>>().join(", ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<AnalyzeArgs, clap::Error> {
        let cli = Cli::try_parse_from(["svdiag", "analyze"].iter().chain(args))?;
        match cli.command {
            Command::Analyze(a) => Ok(a),
            _ => unreachable!("parsed analyze"),
        }
    }

    #[test]
    fn defaults() {
        let a = parse(&["m.safetensors"]).unwrap();
        assert_eq!(a.normalization, Normalization::Sigma);
        assert_eq!(a.q.get(), 2.0);
        assert_eq!(a.format, None);
        assert!(!a.spectrum && !a.quiet && a.threads.is_none() && a.columns.is_empty());
    }

    #[test]
    fn each_flag() {
        let a = parse(&[
            "a",
            "b",
            "--format",
            "csv",
            "-o",
            "x.csv",
            "--filter",
            "mlp",
            "--normalization",
            "energy",
            "--q",
            "inf",
            "--spectrum",
            "--threads",
            "3",
            "--columns",
            "entropy,l12_norm",
            "--quiet",
        ])
        .unwrap();
        assert_eq!(a.paths.len(), 2);
        assert_eq!(a.format, Some(Format::Csv));
        assert_eq!(a.output.as_deref(), Some(std::path::Path::new("x.csv")));
        assert_eq!(a.filter.as_deref(), Some("mlp"));
        assert_eq!(a.normalization, Normalization::Energy);
        assert!(a.q.get().is_infinite());
        assert!(a.spectrum && a.quiet);
        assert_eq!(a.threads, Some(3));
        assert_eq!(a.columns, ["entropy", "l12_norm"]);
    }

    #[test]
    fn rejects_bad_values() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["m", "--q", "-1"]).is_err());
        assert!(parse(&["m", "--q", "nan"]).is_err());
        assert!(parse(&["m", "--normalization", "l1"]).is_err());
        assert!(parse(&["m", "--format", "xml"]).is_err());
        assert!(parse(&["m", "--threads", "0"]).is_err());
        assert!(parse(&["m", "--columns", "entropy,foo"]).is_err());
    }
}
