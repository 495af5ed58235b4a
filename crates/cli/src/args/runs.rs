//! The arguments of the run commands: `trend`, `watch`, `compare`, `delta`, and what they share.

use std::path::PathBuf;

use clap::Args;
use svdiag_analysis::Method;
use svdiag_core::{Normalization, RenyiOrder};
use svdiag_report::Format;

use super::parse::*;

/// Where and how a run command writes its report.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format [default: table on a terminal; else from the -o extension (.json, .csv,
    /// .html); else json]. html: one self-contained page with the plots (trend and compare).
    #[arg(short, long, value_parser = parse_format, value_name = "table|json|csv|html")]
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

    /// Include what the HTML report draws of every update's spectrum in the JSON (each record's
    /// `esd`), for `svdiag report`. Implied by --format html.
    #[arg(long)]
    pub plot_data: bool,

    /// Metric columns of the table, comma-separated canonical names.
    #[arg(long, value_delimiter = ',', value_parser = parse_column, value_name = "NAMES")]
    pub columns: Vec<String>,

    #[command(flatten)]
    pub settings: RunSettings,
}
