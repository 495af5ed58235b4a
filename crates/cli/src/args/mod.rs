//! Command-line arguments. Parsing validates each value; `main` turns them into settings.

mod analyze;
mod parse;
mod runs;
mod tools;

use clap::{Parser, Subcommand};

pub use analyze::AnalyzeArgs;
pub use runs::{AlertArgs, CompareArgs, DeltaArgs, RunSettings, TrendArgs, WatchArgs};
pub use tools::{AblateArgs, InspectArgs, ReportArgs, ReprArgs, TheoryArgs};

/// Spectral diagnostics of neural-network checkpoints.
///
/// For every weight matrix: singular entropy (Shannon, Rényi, KL from uniform), effective and
/// stable rank, spectral/Frobenius/nuclear norms, condition number, numerical rank — from singular
/// values computed in f64.
#[derive(Debug, Parser)]
#[command(name = "svdiag", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit codes: 0 all matrices analyzed; 1 some tensors failed; 2 nothing analyzed (bad arguments or input); 3 (trend, watch) alerts fired.\n\nEvery metric, baseline, diagnosis and threshold, with its definition and its source: docs/metrics.md in the svdiag repository."
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
    /// mean-field approximations of Su (2026), and a Monte Carlo estimate.
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
    /// Draw the HTML report of a saved JSON document (of analyze, delta, trend or compare) without
    /// computing anything again.
    Report(ReportArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use svdiag_core::Normalization;
    use svdiag_report::Format;

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
