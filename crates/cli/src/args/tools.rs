//! The arguments of the single-purpose commands: `inspect`, `theory`, `ablate`, `repr`.

use std::path::PathBuf;

use clap::Args;
use svdiag_core::RenyiOrder;
use svdiag_report::Format;

use super::parse::*;

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
  svdiag analyze model.safetensors --plot-data -o run.json && svdiag report run.json -o run.html
  svdiag trend ./run -o trend.json && svdiag report trend.json -o trend.html

The page is the one `--format html` writes for the same document: one self-contained file that
opens from disk and fetches nothing. Spectra are drawn from each matrix's `esd` summary, which
analyze and delta write with --plot-data (or --format html); a document without it gets every view
but the per-matrix spectra, and the page says so.

Exit codes: 0 written; 2 unreadable or not a document of analyze, delta, trend or compare.")]
pub struct ReportArgs {
    /// A JSON document written by svdiag analyze, delta, trend or compare.
    #[arg(value_name = "SAVED.json")]
    pub input: PathBuf,

    /// Write the page to FILE (atomically) [default: stdout].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}
