//! The `svdiag` command line: arguments → settings → the analysis libraries → stdout/file.
//! The binary (`main.rs`) and the Python package's `svdiag` command both call [`run`], which owns
//! printing and exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | every selected matrix was analyzed |
//! | 1 | the run finished, but some tensors failed (listed in the output and on stderr) |
//! | 2 | nothing was analyzed: bad arguments, unreadable or invalid input, a filter matching nothing, output not writable |
//! | 3 | `trend`, `watch`: alerts fired (takes precedence over 1) |
#![allow(clippy::print_stderr, clippy::print_stdout)]

mod args;
mod output;
mod progress;
pub mod runs;
pub mod sweep;

use std::io::IsTerminal;

use anyhow::Context;
use clap::Parser;
use svdiag_analysis::{analyze, AnalysisOptions, Plan, Progress};
use svdiag_formats::ReadOptions;
use svdiag_report::Format;

use crate::args::{AblateArgs, AnalyzeArgs, Cli, Command, InspectArgs, ReportArgs, ReprArgs, TheoryArgs};

/// glibc raises its mmap threshold each time a large block is freed, after which the per-matrix
/// buffers (Gram matrices, widened blocks, eigen-solver workspaces) come from per-thread arenas that
/// keep their memory: with two workers that doubled peak RSS (351 MB instead of 165 MB on a 0.4 GB
/// bf16 checkpoint). A fixed threshold sends every large buffer back to the OS when it is freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn return_large_buffers_to_the_os() {
    // SAFETY: mallopt only changes an allocator tuning parameter; it is called before any thread
    // is started, and a refused setting (return value 0) leaves the default behaviour.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

/// A usage error in one line: clap's first, without its `error: `.
fn usage(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// Why [`run_documents`] produced no documents.
#[derive(Debug)]
pub enum DocumentsError {
    /// The arguments do not parse (clap's first line, without its `error: `).
    Usage(String),
    /// The command failed (the same error the command line prints).
    Failed(anyhow::Error),
}

/// A run command (`trend`, `compare` or `delta` and its arguments, without the program name)
/// computed as the command line computes it, returning its JSON document, its CSV and its exit code
/// instead of writing them (see [`runs::Documents`]): how the Python package reaches these commands.
/// `observer` receives the progress of each checkpoint's analysis and can cancel the command.
pub fn run_documents(argv: Vec<String>, observer: &dyn Progress) -> Result<runs::Documents, DocumentsError> {
    let cli = Cli::try_parse_from(std::iter::once("svdiag".to_string()).chain(argv))
        .map_err(|e| DocumentsError::Usage(usage(&e)))?;
    runs::documents(cli.command, observer).map_err(DocumentsError::Failed)
}

/// Elsewhere the allocator's defaults stay.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn return_large_buffers_to_the_os() {}

/// Runs one command line (`args` starts with the program name) and returns its exit code. Usage
/// errors print clap's message (help and version requests print to stdout and return 0).
pub fn run<I, T>(args: I) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args: Vec<T> = args.into_iter().collect();
    if args.iter().any(|a| {
        let a: std::ffi::OsString = a.clone().into();
        a == "--ray" || a.to_string_lossy().starts_with("--ray=")
    }) {
        eprintln!(
            "error: --ray computes on a Ray cluster through the Python package: pip install it, and run the svdiag \
             command it installs (python -m svdiag ... --ray ADDRESS)"
        );
        return 2;
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Analyze(args) if args.list => run_inspect(InspectArgs {
            paths: args.paths,
            format: args.format,
            filter: args.filter,
            allow_global: args.allow_global,
        }),
        Command::Analyze(args) => run_analyze(args),
        Command::Inspect(args) => run_inspect(args),
        Command::Theory(args) => run_theory(args),
        Command::Ablate(args) => run_ablate(args),
        Command::Repr(args) => run_repr(args),
        Command::Trend(args) => runs::run_trend(args),
        Command::Watch(args) => runs::run_watch(args),
        Command::Compare(args) => runs::run_compare(args),
        Command::Delta(args) => runs::run_delta(args),
        Command::Report(args) => run_report(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return 0;
            }
            eprintln!("error: {err:#}");
            2
        }
    }
}

/// What `svdiag analyze`'s flags decide besides the inputs and the output: the analysis options, the
/// tensor filter, the reading options, and whether stacked recurrent weights are split into gates.
/// The command line and the Python package build it the same way.
pub struct AnalyzeSettings {
    /// The analysis options.
    pub options: AnalysisOptions,
    /// `--filter`.
    pub filter: Option<regex::Regex>,
    /// `--allow-global`.
    pub read: ReadOptions,
    /// `--split-gates`.
    pub split_gates: bool,
    /// `--base`: the base model an adapter's updates are merged into.
    pub base: Option<std::path::PathBuf>,
}

impl AnalyzeSettings {
    /// From `svdiag analyze`'s flags alone (no paths, no output flags), through the command line's
    /// own parser: the same validation and the same messages (the first line of clap's).
    pub fn from_flags(flags: &[String]) -> Result<Self, String> {
        // a placeholder input, which is never opened: the callers bring their own sources
        let argv = ["svdiag", "analyze", "-"].into_iter().map(String::from).chain(flags.iter().cloned());
        match Cli::try_parse_from(argv) {
            Ok(Cli { command: Command::Analyze(args) }) => Self::from_args(&args).map_err(|e| format!("{e:#}")),
            Ok(_) => Err("not the flags of svdiag analyze".into()),
            Err(e) => Err(usage(&e)),
        }
    }

    fn from_args(args: &AnalyzeArgs) -> anyhow::Result<Self> {
        let filter = args.filter.as_deref().map(regex::Regex::new).transpose().context("invalid --filter pattern")?;
        let read = ReadOptions { allow_globals: args.allow_global.clone() };
        let options = AnalysisOptions {
            metrics: svdiag_core::MetricOptions { normalization: args.normalization, q: args.q },
            keep_spectrum: args.spectrum,
            plot_data: args.plot_data,
            threads: args.threads,
            quick: args.quick,
            method: args.method,
            polar: args.polar,
            approx: args.approx.as_deref().map(|when| {
                let mode = if when == "always" {
                    svdiag_analysis::ApproxMode::Always
                } else {
                    svdiag_analysis::ApproxMode::Auto
                };
                let o = svdiag_core::linalg::slq::SlqOptions {
                    probes: args.approx_probes,
                    seed: args.approx_seed,
                    ..Default::default()
                };
                (mode, o)
            }),
            farms: args.farms.then_some(svdiag_core::baselines::farms::FarmsParams {
                window: args.farms_window,
                ratio: args.farms_ratio,
                overlap: args.farms_overlap,
            }),
            thresholds: {
                let mut t = svdiag_analysis::Thresholds::default();
                for a in &args.thresholds {
                    t.set(a).map_err(anyhow::Error::msg)?;
                }
                t
            },
        };
        Ok(Self { options, filter, read, split_gates: args.split_gates, base: args.base.clone() })
    }

    /// With `--base`: `plan`'s LoRA updates merged into the base model and compared with its
    /// weights ([`MergedReport`]); `None` without `--base`.
    pub fn merged(&self, plan: &Plan<'_>, progress: &dyn Progress) -> anyhow::Result<Option<MergedReport>> {
        self.base.as_deref().map(|base| merged_into(plan, base, &self.read, &self.options, progress)).transpose()
    }

    /// Adds the gate matrices to `plan` when asked for (with a warning when there are none), and
    /// hashes its input files when the analysis keeps plot data (a report's provenance).
    pub fn prepare(&self, plan: &mut Plan<'_>) {
        if self.options.plot_data {
            plan.hash_inputs();
        }
        if self.split_gates && plan.split_gates() == 0 {
            plan.warnings.push("--split-gates: no stacked LSTM/GRU weights (weight_ih*/weight_hh* pairs, or Keras kernel/recurrent_kernel pairs) found".into());
        }
    }
}

fn run_analyze(args: AnalyzeArgs) -> anyhow::Result<u8> {
    let format = output::output_format(args.format, args.output.as_deref());
    let mut settings = AnalyzeSettings::from_args(&args)?;
    settings.options.plot_data |= format == Format::Html;
    let mut plan = Plan::with_options(&args.paths, settings.filter.as_ref(), &settings.read)?;
    settings.prepare(&mut plan);
    let options = &settings.options;
    let show_progress = !args.quiet && std::io::stderr().is_terminal();
    let progress = progress::Bar::new(show_progress);
    let analysis = analyze(&plan, options, &progress);
    let merged = settings.merged(&plan, &progress)?;
    progress.finish();

    let columns: Vec<&str> = args.columns.iter().map(String::as_str).collect();
    let mut text = svdiag_report::render(&analysis, format, &columns);
    if let Some(m) = &merged {
        match format {
            Format::Json => text = svdiag_report::json::with_section(&text, "base", m.json.clone()),
            Format::Table => {
                text.push_str("\nmerged into the base model (A: W, B: W + ΔW):\n");
                text.push_str(&m.table);
            }
            Format::Csv | Format::Html => {}
        }
    }
    let table_on_stdout = format == Format::Table && args.output.is_none();
    output::emit(args.output.as_deref(), text.as_bytes())?;
    if !table_on_stdout {
        if !args.quiet {
            eprint!("{}", svdiag_report::summary(&analysis));
        } else {
            for f in &analysis.failed {
                eprintln!("FAILED {} ({}): {}", f.name, f.file, f.error);
            }
        }
    }
    let merge_failed = merged.as_ref().is_some_and(|m| m.failed);
    Ok(if analysis.failed.is_empty() && !merge_failed { 0 } else { 1 })
}

/// `--base`: the adapter's updates merged into the base model, compared with the base weights.
pub struct MergedReport {
    /// The comparison document (`svdiag compare`'s, with `merge_warnings` and `merge_failed`), the
    /// analyze document's `base` section.
    pub json: serde_json::Value,
    /// The comparison as a table.
    pub table: String,
    /// Whether a matrix of either side failed.
    pub failed: bool,
}

fn merged_into(
    adapter: &Plan<'_>,
    base: &std::path::Path,
    read: &ReadOptions,
    options: &AnalysisOptions,
    progress: &dyn Progress,
) -> anyhow::Result<MergedReport> {
    use svdiag_analysis::InputSummary;
    use svdiag_report::runs::Side;
    if !adapter.tasks.iter().any(|t| t.lora.is_some()) {
        anyhow::bail!("--base: the inputs hold no LoRA update to merge (give a PEFT adapter directory)");
    }
    let base_plan = Plan::with_options(&[base.to_path_buf()], None, read).context("--base")?;
    let m = svdiag_analysis::merge::merge(adapter, &base_plan, base);
    if m.base.tensors().is_empty() {
        anyhow::bail!(
            "--base: no update of the adapter matches a weight of {}: {}",
            base.display(),
            m.warnings.join("; ")
        );
    }
    let given = base.display().to_string();
    let summary = |how: &str| vec![InputSummary { path: given.clone(), resolved_as: how.into(), files: Vec::new() }];
    let plan_a = Plan::from_sources(vec![m.base], summary("base weights W of the adapted modules"), None)?;
    let plan_b = Plan::from_sources(vec![m.merged], summary("merged weights W + ΔW"), None)?;
    let (a, b) = (analyze(&plan_a, options, progress), analyze(&plan_b, options, progress));
    let c = svdiag_analysis::compare::Comparison::build(&a, &b);
    let side =
        |chosen: &str| Side { given: given.clone(), checkpoint: given.clone(), step: None, chosen: chosen.into() };
    let (sa, sb) = (side("the base weights W of the adapted modules"), side("the merged weights W + ΔW"));
    let mut json: serde_json::Value =
        serde_json::from_str(&svdiag_report::runs::compare_json(&c, &sa, &sb, options)).context("comparison")?;
    let failed: Vec<_> = a.failed.iter().chain(&b.failed).collect();
    if let Some(doc) = json.as_object_mut() {
        doc.insert("merge_warnings".into(), serde_json::json!(m.warnings));
        doc.insert("merge_failed".into(), serde_json::json!(failed));
    }
    let mut table = svdiag_report::runs::compare_table(&c, &sa, &sb, "kl_uniform");
    for w in &m.warnings {
        table.push_str(&format!("warning: {w}\n"));
    }
    for f in &failed {
        table.push_str(&format!("FAILED {} ({}): {}\n", f.name, f.file, f.error));
    }
    Ok(MergedReport { json, table, failed: !failed.is_empty() })
}

fn run_inspect(args: InspectArgs) -> anyhow::Result<u8> {
    let filter = args.filter.as_deref().map(regex::Regex::new).transpose().context("invalid --filter pattern")?;
    let read = ReadOptions { allow_globals: args.allow_global };
    let plan = Plan::with_options(&args.paths, filter.as_ref(), &read)?;
    let text = if output::table_or_json(args.format, "inspect")? {
        svdiag_report::inspect::render_table(&plan)
    } else {
        svdiag_report::inspect::render_json(&plan)
    };
    output::write_stdout(text.as_bytes())?;
    Ok(0)
}

fn run_ablate(args: AblateArgs) -> anyhow::Result<u8> {
    let same = |a: &std::path::Path, b: &std::path::Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    };
    if same(&args.input, &args.output) {
        anyhow::bail!("-o {} is the input file: write the ablated copy elsewhere", args.output.display());
    }
    let filter = args.filter.as_deref().map(regex::Regex::new).transpose().context("invalid --filter pattern")?;
    let options = svdiag_analysis::surgery::AblateOptions { decile: args.decile, roles: args.roles, filter };
    let report = output::write_atomically_with(&args.output, |w| {
        svdiag_analysis::surgery::ablate(&args.input, &options, w).map_err(anyhow::Error::from)
    })?;
    if report.ablated.is_empty() {
        // the (unchanged) copy stays, but say so loudly: the selection matched no matrix
        eprintln!("warning: no matrix matched the selection; {} is an unchanged copy", args.output.display());
    }
    for a in &report.ablated {
        eprintln!(
            "ablated {} ({}×{}): rank positions {}..{} zeroed",
            a.name, a.matrix_shape[0], a.matrix_shape[1], a.zeroed.start, a.zeroed.end
        );
    }
    eprintln!(
        "{} ablated (decile {}), {} copied unchanged → {}",
        svdiag_report::plural(report.ablated.len(), "matrix", "matrices"),
        args.decile,
        svdiag_report::plural(report.copied, "tensor", "tensors"),
        args.output.display()
    );
    Ok(0)
}

fn run_repr(args: ReprArgs) -> anyhow::Result<u8> {
    let source = svdiag_formats::open(&args.input)?;
    let path = args.input.display().to_string();
    let tensors = source.tensors();
    let index = match &args.tensor {
        Some(name) => {
            tensors.iter().position(|t| &t.name == name).with_context(|| format!("{path}: no tensor named '{name}'"))?
        }
        None => {
            let candidates: Vec<usize> = (0..tensors.len()).filter(|&i| tensors[i].shape.len() >= 2).collect();
            match candidates.as_slice() {
                [i] => *i,
                [] => anyhow::bail!("{path}: no tensor with 2 or more axes"),
                many => anyhow::bail!(
                    "{path} holds {} matrices; choose one with --tensor ({})",
                    many.len(),
                    many.iter().take(8).map(|&i| tensors[i].name.as_str()).collect::<Vec<_>>().join(", ")
                ),
            }
        }
    };
    let info = &tensors[index];
    let (n, d) = svdiag_analysis::matrix_shape(info).map_err(|e| anyhow::anyhow!("{path}: {}: {e}", info.name))?;
    let z = match source.read(index)? {
        svdiag_formats::TensorData::Bytes(b) => svdiag_core::Matrix::from_le_bytes(&b, info.dtype, n, d),
        svdiag_formats::TensorData::F64(v) => svdiag_core::Matrix::from_row_major(v, n, d),
        svdiag_formats::TensorData::Quantized(q) => svdiag_core::Matrix::from_row_major(q.to_vec(), n, d),
        svdiag_formats::TensorData::Spectrum(_) => Err(svdiag_core::CoreError::NoEntries),
    }
    .map_err(|e| anyhow::anyhow!("{path}: {}: {e}", info.name))?;
    let r = svdiag_core::representation::Representation::of(&z, args.alpha.get(), args.top_k)
        .map_err(|e| anyhow::anyhow!("{path}: {}: {e}", info.name))?;
    let text = if output::table_or_json(args.format, "repr")? {
        svdiag_report::representation::render_table(&path, &info.name, &r)
    } else {
        svdiag_report::representation::render_json(&path, &info.name, &r)
    };
    output::write_stdout(text.as_bytes())?;
    Ok(0)
}

/// `svdiag report`: the page of a saved document, nothing computed again.
fn run_report(args: ReportArgs) -> anyhow::Result<u8> {
    let path = &args.input;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let page = svdiag_report::html::render_text(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    output::emit(args.output.as_deref(), page.as_bytes())?;
    Ok(0)
}

fn run_theory(args: TheoryArgs) -> anyhow::Result<u8> {
    const MAX_DRAWS: usize = 2_000_000_000;
    if args.n.saturating_mul(args.samples) > MAX_DRAWS {
        anyhow::bail!(
            "--n {} × --samples {} is over {MAX_DRAWS} random draws; use fewer samples (the standard errors shrink as 1/√samples)",
            args.n,
            args.samples
        );
    }
    let theory = svdiag_report::theory::Theory::compute(args.n, args.q, args.samples, args.seed);
    let text = if output::table_or_json(args.format, "theory")? {
        svdiag_report::theory::render_table(&theory)
    } else {
        svdiag_report::theory::render_json(&theory)
    };
    output::write_stdout(text.as_bytes())?;
    Ok(0)
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().filter_map(|e| e.downcast_ref::<std::io::Error>()).any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
