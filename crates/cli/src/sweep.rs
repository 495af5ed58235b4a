//! What a distributed sweep (the Python package's `svdiag.distributed`) asks of a command line:
//! the checkpoints it reads and their matrices as independent tasks, the options a task is computed
//! with, and the command's documents assembled from the spectra the sweep stored.
//!
//! `analyze`, `trend` and `compare` in exact mode are distributed; the options that need a matrix's
//! entries on the driver (`--quick`, `--approx`, `--polar`, `--farms`, `--split-gates`, `--base`)
//! are refused with the reason.

use std::path::PathBuf;

use clap::Parser;
use svdiag_analysis::cluster::TaskSpec;
use svdiag_analysis::{AnalysisOptions, Plan};
use svdiag_formats::ReadOptions;

use crate::args::{Cli, Command};
use crate::{AnalyzeSettings, DocumentsError};

/// A command line's checkpoints and the options of its spectra.
pub struct Sweep {
    /// The command (`analyze`, `trend` or `compare`).
    pub command: Command,
    /// The options every task is computed with.
    pub options: AnalysisOptions,
    /// How files are read.
    pub read: ReadOptions,
    /// `--filter`.
    pub filter: Option<regex::Regex>,
}

/// The sweep of `argv` (a command and its arguments, without the program name): its options,
/// without touching a file (a worker that only computes a task needs nothing else).
pub fn sweep_of(argv: Vec<String>) -> Result<Sweep, DocumentsError> {
    let cli = Cli::try_parse_from(std::iter::once("svdiag".to_string()).chain(argv))
        .map_err(|e| DocumentsError::Usage(crate::usage(&e)))?;
    let failed = |e: anyhow::Error| DocumentsError::Failed(e);
    let filter_of = |f: &Option<String>| {
        f.as_deref()
            .map(regex::Regex::new)
            .transpose()
            .map_err(|e| failed(anyhow::anyhow!("invalid --filter pattern: {e}")))
    };
    let (options, read, filter) = match &cli.command {
        Command::Analyze(args) => {
            let s = AnalyzeSettings::from_args(args).map_err(failed)?;
            let refused = [
                (s.options.quick, "--quick"),
                (s.options.approx.is_some(), "--approx"),
                (s.options.polar, "--polar"),
                (s.options.farms.is_some(), "--farms"),
                (s.split_gates, "--split-gates"),
                (s.base.is_some(), "--base"),
            ];
            if let Some((_, flag)) = refused.iter().find(|(on, _)| *on) {
                return Err(failed(anyhow::anyhow!(
                    "{flag} is not distributed: a distributed sweep computes exact spectra only (run it locally)"
                )));
            }
            (s.options, s.read, s.filter)
        }
        Command::Trend(crate::args::TrendArgs { settings: s, .. })
        | Command::Compare(crate::args::CompareArgs { settings: s, .. }) => {
            (crate::runs::run_options(s), ReadOptions { allow_globals: s.allow_global.clone() }, filter_of(&s.filter)?)
        }
        _ => return Err(failed(anyhow::anyhow!("only analyze, trend and compare are distributed"))),
    };
    Ok(Sweep { command: cli.command, options, read, filter })
}

impl Sweep {
    /// The checkpoints (files or model directories) the command analyzes, in its order: a run's
    /// are discovered, a comparison's sides chosen, as the command does.
    pub fn checkpoints(&self) -> Result<Vec<PathBuf>, DocumentsError> {
        let failed = |e: anyhow::Error| DocumentsError::Failed(e);
        Ok(match &self.command {
            Command::Trend(args) => {
                let run = svdiag_analysis::runs::discover(&args.paths).map_err(|e| failed(e.into()))?;
                run.checkpoints.into_iter().map(|c| c.path).collect()
            }
            Command::Compare(args) => {
                let a = crate::runs::side(&args.a, args.step).map_err(failed)?;
                let b = crate::runs::side(&args.b, args.step).map_err(failed)?;
                vec![PathBuf::from(a.checkpoint), PathBuf::from(b.checkpoint)]
            }
            Command::Analyze(args) => args.paths.clone(),
            _ => Vec::new(),
        })
    }

    /// Every matrix of every checkpoint, as a task. A checkpoint that cannot be planned (a corrupt
    /// file) has no task: the documents report it as the local command does.
    pub fn tasks(&self) -> Result<Vec<TaskSpec>, DocumentsError> {
        let mut out: Vec<TaskSpec> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for c in &self.checkpoints()? {
            let Ok(plan) = Plan::with_options(std::slice::from_ref(c), self.filter.as_ref(), &self.read) else {
                continue;
            };
            for t in svdiag_analysis::cluster::tasks(&plan) {
                // two checkpoints of a command may share a file (compare A A): one task
                if seen.insert((t.path.clone(), t.tensor)) {
                    out.push(t);
                }
            }
        }
        Ok(out)
    }
}

impl Sweep {
    /// The command's documents, as the command line computes them, with every matrix that
    /// `spectra` covers served by its stored spectrum (no tensor of those is read).
    pub fn documents(
        self,
        observer: &dyn svdiag_analysis::Progress,
        spectra: &dyn svdiag_analysis::cluster::Spectra,
    ) -> Result<crate::runs::Documents, DocumentsError> {
        match self.command {
            Command::Analyze(args) => {
                let settings = AnalyzeSettings::from_args(&args).map_err(DocumentsError::Failed)?;
                let mut plan = Plan::with_options(&args.paths, settings.filter.as_ref(), &settings.read)
                    .map_err(|e| DocumentsError::Failed(e.into()))?;
                settings.prepare(&mut plan);
                plan.use_spectra(spectra);
                let analysis = svdiag_analysis::analyze(&plan, &settings.options, observer);
                let code = u8::from(!analysis.failed.is_empty());
                Ok(crate::runs::Documents::Analyzed(Box::new(analysis), code))
            }
            command => crate::runs::documents_with(command, observer, Some(spectra)).map_err(DocumentsError::Failed),
        }
    }
}
