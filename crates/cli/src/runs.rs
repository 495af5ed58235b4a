//! The run commands: `trend`, `watch`, `compare`, `delta`. Each analyzes checkpoints with the
//! result store (unless `--no-cache`), then hands the analyses to the pure builders of
//! `svdiag_analysis::{trend, compare, delta}` and the renderers of `svdiag_report::runs`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use svdiag_analysis::runs::{self, Checkpoint, Run, StepSource};
use svdiag_analysis::store::SpectrumStore;
use svdiag_analysis::trend::{Alert, AlertRules, DriftRule, JumpRule, Trend};
use svdiag_analysis::{Analysis, AnalysisOptions, Plan, Progress, CANCELLED};
use svdiag_formats::ReadOptions;
use svdiag_report::runs::Side;
use svdiag_report::Format;
use svdiag_store::Store;

use crate::args::{AlertArgs, CompareArgs, DeltaArgs, RunSettings, TrendArgs, WatchArgs};
use crate::output::output_format;
use crate::{output, progress};

/// Exit code when alerts fired.
pub const ALERT_EXIT: u8 = 3;

/// What every run command needs: options, filter, store, and who is told of progress.
struct Session<'o> {
    options: AnalysisOptions,
    filter: Option<regex::Regex>,
    read: ReadOptions,
    store: Option<Store>,
    quiet: bool,
    computed: usize,
    reused: usize,
    /// A caller's observer (the Python package's progress and Ctrl-C): it replaces the bar on stderr,
    /// and its [`Progress::cancelled`] stops the command before its next matrix or checkpoint.
    observer: Option<&'o dyn Progress>,
    /// Spectra computed elsewhere (a distributed sweep's): the matrices they cover are not read.
    spectra: Option<&'o dyn svdiag_analysis::cluster::Spectra>,
}

/// The analysis options of a run command's settings.
pub(crate) fn run_options(s: &RunSettings) -> AnalysisOptions {
    AnalysisOptions {
        metrics: svdiag_core::MetricOptions { normalization: s.normalization, q: s.q },
        threads: s.threads,
        method: s.method,
        ..Default::default()
    }
}

impl<'o> Session<'o> {
    fn new(s: &RunSettings, observer: Option<&'o dyn Progress>) -> anyhow::Result<Self> {
        let filter = s.filter.as_deref().map(regex::Regex::new).transpose().context("invalid --filter pattern")?;
        let options = run_options(s);
        let store = if s.no_cache {
            None
        } else {
            match s.cache.clone().or_else(svdiag_store::default_path) {
                None => {
                    eprintln!("warning: no result store (no --cache, $SVDIAG_CACHE, $XDG_CACHE_HOME or $HOME); every spectrum is computed");
                    None
                }
                Some(path) => match Store::open(&path) {
                    Ok(store) => Some(store),
                    Err(e) => {
                        eprintln!("warning: {e}; every spectrum is computed");
                        None
                    }
                },
            }
        };
        Ok(Self {
            options,
            filter,
            read: ReadOptions { allow_globals: s.allow_global.clone() },
            store,
            quiet: s.quiet,
            computed: 0,
            reused: 0,
            observer,
            spectra: None,
        })
    }

    /// The progress of one analysis: the bar on stderr (drawn when stderr is a terminal and not
    /// `--quiet`), or the caller's observer.
    fn progress(&self) -> Reporter<'_> {
        match self.observer {
            Some(o) => Reporter::Observer(o),
            None => Reporter::Bar(progress::Bar::new(!self.quiet && std::io::stderr().is_terminal())),
        }
    }

    /// Fails once the observer asked to stop: a cancelled command computes nothing more.
    fn check_cancelled(&self) -> anyhow::Result<()> {
        if self.observer.is_some_and(|o| o.cancelled()) {
            anyhow::bail!("{CANCELLED}");
        }
        Ok(())
    }

    /// Analyzes one checkpoint (file or model directory).
    fn analyze(&mut self, path: &Path) -> anyhow::Result<Analysis> {
        self.check_cancelled()?;
        let mut plan = Plan::with_options(&[path.to_path_buf()], self.filter.as_ref(), &self.read)?;
        if let Some(spectra) = self.spectra {
            plan.use_spectra(spectra);
        }
        let progress = self.progress();
        let store = self.store.as_ref().map(|s| s as &dyn SpectrumStore);
        let analysis = svdiag_analysis::analyze_with_store(&plan, &self.options, progress.get(), store);
        progress.finish();
        self.check_cancelled()?;
        self.reused += analysis.reused;
        self.computed += analysis.matrices.len() - analysis.reused;
        Ok(analysis)
    }

    /// The closing lines on stderr: how many spectra were computed and reused, and where from.
    fn summary(&self) -> String {
        self.summary_of(self.computed + self.reused, self.reused)
    }

    fn summary_of(&self, total: usize, reused: usize) -> String {
        let computed = total - reused;
        let mut s = match &self.store {
            Some(store) => format!(
                "spectra: {computed} computed, {reused} from the result store {} ({} entries)\n",
                store.path().display(),
                store.len()
            ),
            None => format!("spectra: {computed} computed (no result store)\n"),
        };
        if let Some(store) = &self.store {
            for p in store.problems() {
                s.push_str(&format!("  store: {p}\n"));
            }
        }
        s
    }
}

fn rules(a: &AlertArgs) -> AlertRules {
    if a.no_alerts {
        return AlertRules { jumps: Vec::new(), drifts: Vec::new() };
    }
    AlertRules {
        jumps: if a.alerts.is_empty() { vec![JumpRule::default_rule()] } else { a.alerts.clone() },
        drifts: if a.drifts.is_empty() { vec![DriftRule::default_rule()] } else { a.drifts.clone() },
    }
}

fn render_trend(t: &Trend, format: Format, metric: &str, options: &AnalysisOptions) -> String {
    match format {
        Format::Table => svdiag_report::runs::trend_table(t, metric),
        Format::Json => svdiag_report::runs::trend_json(t, options),
        Format::Csv => svdiag_report::runs::trend_csv(t),
        Format::Html => svdiag_report::html_of(&svdiag_report::runs::trend_json(t, options)),
    }
}

/// Where an analysis reports its progress.
enum Reporter<'o> {
    Bar(progress::Bar),
    Observer(&'o dyn Progress),
}

impl Reporter<'_> {
    fn get(&self) -> &dyn Progress {
        match self {
            Reporter::Bar(b) => b,
            Reporter::Observer(o) => *o,
        }
    }

    fn finish(&self) {
        if let Reporter::Bar(b) = self {
            b.finish();
        }
    }
}

/// A trend and what went into it: the session (options, store), and the checkpoints that could not
/// be analyzed.
struct TrendOutcome<'o> {
    trend: Trend,
    session: Session<'o>,
    bad: Vec<String>,
}

fn trend_of<'o>(
    args: &TrendArgs,
    observer: Option<&'o dyn Progress>,
    spectra: Option<&'o dyn svdiag_analysis::cluster::Spectra>,
) -> anyhow::Result<TrendOutcome<'o>> {
    let mut run = runs::discover(&args.paths)?;
    let mut session = Session::new(&args.settings, observer)?;
    session.spectra = spectra;
    let total = run.checkpoints.len();
    let mut analyses = Vec::new();
    let mut kept = Vec::new();
    let mut bad = Vec::new();
    for (i, c) in run.checkpoints.iter().enumerate() {
        if !session.quiet {
            eprintln!("[{}/{total}] step {}: {}", i + 1, c.step, c.path.display());
        }
        match session.analyze(&c.path) {
            Ok(a) => {
                analyses.push(a);
                kept.push(c.clone());
            }
            Err(e) if session.check_cancelled().is_err() => return Err(e),
            Err(e) => {
                eprintln!("checkpoint {} (step {}) not analyzed: {e:#}", c.path.display(), c.step);
                bad.push(format!("checkpoint {} (step {}) not analyzed: {e:#}", c.path.display(), c.step));
            }
        }
    }
    if analyses.is_empty() {
        anyhow::bail!("no checkpoint of the run could be analyzed");
    }
    run.checkpoints = kept;
    let mut trend = Trend::build(run, &analyses, &rules(&args.alerts));
    trend.notes.extend(bad.iter().cloned());
    Ok(TrendOutcome { trend, session, bad })
}

/// `svdiag trend`.
pub fn run_trend(args: TrendArgs) -> anyhow::Result<u8> {
    let format = output_format(args.out.format, args.out.output.as_deref());
    let TrendOutcome { trend, session, bad } = trend_of(&args, None, None)?;
    let text = render_trend(&trend, format, &args.metric, &session.options);
    let table_on_stdout = format == Format::Table && args.out.output.is_none();
    output::emit(args.out.output.as_deref(), text.as_bytes())?;
    if !table_on_stdout {
        eprint!("{}", svdiag_report::runs::alerts_block(&trend));
    }
    if !session.quiet {
        eprint!("{}", session.summary());
    }
    Ok(exit_code(&trend, !bad.is_empty()))
}

fn exit_code(t: &Trend, checkpoint_failed: bool) -> u8 {
    if !t.alerts.is_empty() {
        ALERT_EXIT
    } else if checkpoint_failed || !t.failed.is_empty() {
        1
    } else {
        0
    }
}

/// A checkpoint's files with their sizes and modification times.
type Snapshot = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// The files of a checkpoint with their sizes and modification times: equal snapshots taken
/// `--settle` seconds apart mean nothing is writing to it.
fn snapshot(path: &Path) -> Snapshot {
    let mut out = Vec::new();
    let mut add = |p: &Path| {
        if let Ok(m) = std::fs::metadata(p) {
            out.push((p.to_path_buf(), m.len(), m.modified().ok()));
        }
    };
    if path.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            let mut files: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
            files.sort();
            for f in files {
                add(&f);
            }
        }
    } else {
        add(path);
    }
    out
}

/// `svdiag watch`.
pub fn run_watch(args: WatchArgs) -> anyhow::Result<u8> {
    if !args.run_dir.is_dir() {
        anyhow::bail!("{} is not a directory", args.run_dir.display());
    }
    let mut session = Session::new(&args.settings, None)?;
    let rules = rules(&args.alerts);
    let interval = Duration::from_secs_f64(args.interval);
    let settle = Duration::from_secs_f64(args.settle);
    // per pending checkpoint: its last snapshot and when it was first seen unchanged
    let mut pending: BTreeMap<PathBuf, (Snapshot, Instant)> = BTreeMap::new();
    // the checkpoints analyzed so far, in step order, and their analyses (same order)
    let mut done: Vec<Checkpoint> = Vec::new();
    let mut analyses: Vec<Analysis> = Vec::new();
    // checkpoints found invalid, with their files as they were then: retried once they change
    let mut invalid: BTreeMap<PathBuf, Snapshot> = BTreeMap::new();
    let mut printed: BTreeSet<(String, String, String, u64)> = BTreeSet::new();
    let mut any_alert = false;
    let mut any_failed = false;
    let mut last_new = Instant::now();
    eprintln!(
        "watching {} every {}s (a checkpoint is read once unchanged for {}s); stop with Ctrl-C",
        args.run_dir.display(),
        args.interval,
        args.settle
    );
    loop {
        let found = match runs::discover_dir(&args.run_dir) {
            Ok(run) => run.checkpoints,
            Err(runs::RunError::NotARun(_)) => Vec::new(), // nothing there yet
            Err(e) => return Err(e.into()),
        };
        for c in found {
            if done.iter().any(|d| d.path == c.path) {
                continue;
            }
            let snap = snapshot(&c.path);
            if invalid.get(&c.path) == Some(&snap) {
                continue;
            }
            let now = Instant::now();
            let stable_since = match pending.get(&c.path) {
                Some((old, since)) if *old == snap => *since,
                _ => {
                    pending.insert(c.path.clone(), (snap, now));
                    last_new = now;
                    continue;
                }
            };
            if now.duration_since(stable_since) < settle {
                continue;
            }
            match session.analyze(&c.path) {
                Ok(a) => {
                    pending.remove(&c.path);
                    invalid.remove(&c.path);
                    last_new = Instant::now();
                    println!(
                        "step {}: {} — {} analyzed ({} from the store), {} failed",
                        c.step,
                        c.path.display(),
                        a.matrices.len(),
                        a.reused,
                        a.failed.len()
                    );
                    any_failed |= !a.failed.is_empty();
                    let at = done.partition_point(|d| d.step <= c.step);
                    done.insert(at, c);
                    analyses.insert(at, a);
                }
                Err(e) => {
                    // unchanged for --settle seconds and still invalid: report it, and look again
                    // only if its files change (a writer that paused longer than --settle)
                    println!("step {}: {} not analyzed (yet): {e:#}", c.step, c.path.display());
                    if let Some((snap, _)) = pending.remove(&c.path) {
                        invalid.insert(c.path.clone(), snap);
                    }
                    continue;
                }
            }
            let run = Run {
                given: vec![args.run_dir.clone()],
                layout: "checkpoints found while watching, ordered by step".into(),
                checkpoints: done.clone(),
            };
            let trend = Trend::build(run, &analyses, &rules);
            for a in &trend.alerts {
                if printed.insert(alert_key(a)) {
                    println!("ALERT {} at step {}: {}", a.kind, a.to_step, a.message);
                    any_alert = true;
                }
            }
            if let Some(path) = &args.output {
                let format = output_format(None, Some(path));
                let text = render_trend(
                    &trend,
                    if format == Format::Table { Format::Json } else { format },
                    "kl_uniform",
                    &session.options,
                );
                output::write_atomically(path, text.as_bytes())?;
            }
            if args.stop_after.is_some_and(|n| done.len() >= n) {
                return Ok(watch_exit(&session, any_alert, any_failed || !invalid.is_empty()));
            }
        }
        if args.idle_timeout.is_some_and(|t| last_new.elapsed() >= Duration::from_secs_f64(t)) {
            eprintln!("no new checkpoint for {}s; stopping", args.idle_timeout.unwrap_or_default());
            return Ok(watch_exit(&session, any_alert, any_failed || !invalid.is_empty()));
        }
        std::thread::sleep(interval.min(settle.max(Duration::from_millis(100))));
    }
}

fn alert_key(a: &Alert) -> (String, String, String, u64) {
    (a.kind.to_string(), a.matrix.clone(), a.metric.clone(), a.to_step)
}

fn watch_exit(session: &Session, any_alert: bool, any_failed: bool) -> u8 {
    if !session.quiet {
        eprint!("{}", session.summary());
    }
    if any_alert {
        ALERT_EXIT
    } else if any_failed {
        1
    } else {
        0
    }
}

/// One side of a comparison: a run directory (its last checkpoint, or the one at `step`) or a
/// checkpoint.
pub(crate) fn side(path: &Path, step: Option<u64>) -> anyhow::Result<Side> {
    let given = path.display().to_string();
    if path.is_dir() {
        if let Ok(run) = runs::discover_dir(path) {
            let chosen = match step {
                Some(s) => run.checkpoints.iter().find(|c| c.step == s).with_context(|| {
                    let steps: Vec<String> = run.checkpoints.iter().map(|c| c.step.to_string()).collect();
                    format!("{given}: no checkpoint at step {s} (steps: {})", steps.join(", "))
                })?,
                None => run.checkpoints.last().expect("a run has checkpoints"),
            };
            let how = if step.is_some() { "the checkpoint at --step" } else { "the last checkpoint" };
            let source = if chosen.step_source == StepSource::Name {
                String::new()
            } else {
                format!(", step {}", chosen.step_source.describe())
            };
            return Ok(Side {
                given: given.clone(),
                checkpoint: chosen.path.display().to_string(),
                step: Some(chosen.step),
                chosen: format!("run {given}: {how}, step {}{source}, of {}", chosen.step, run.checkpoints.len()),
            });
        }
    }
    if step.is_some() {
        anyhow::bail!("--step needs run directories; {given} is a checkpoint");
    }
    Ok(Side { given: given.clone(), checkpoint: given, step: None, chosen: "checkpoint".into() })
}

struct CompareOutcome<'o> {
    comparison: svdiag_analysis::compare::Comparison,
    a: Side,
    b: Side,
    session: Session<'o>,
    failed: Vec<svdiag_analysis::Failed>,
}

fn compare_of<'o>(
    args: &CompareArgs,
    observer: Option<&'o dyn Progress>,
    spectra: Option<&'o dyn svdiag_analysis::cluster::Spectra>,
) -> anyhow::Result<CompareOutcome<'o>> {
    let (a, b) = (side(&args.a, args.step)?, side(&args.b, args.step)?);
    let mut session = Session::new(&args.settings, observer)?;
    session.spectra = spectra;
    let analysis_a = session.analyze(Path::new(&a.checkpoint)).with_context(|| format!("A: {}", a.checkpoint))?;
    let analysis_b = session.analyze(Path::new(&b.checkpoint)).with_context(|| format!("B: {}", b.checkpoint))?;
    let comparison = svdiag_analysis::compare::Comparison::build(&analysis_a, &analysis_b);
    if comparison.pairs.is_empty() {
        anyhow::bail!("no matrix of A matches a matrix of B by name and shape; nothing to compare");
    }
    let failed = analysis_a.failed.iter().chain(&analysis_b.failed).cloned().collect();
    Ok(CompareOutcome { comparison, a, b, session, failed })
}

/// `svdiag compare`.
pub fn run_compare(args: CompareArgs) -> anyhow::Result<u8> {
    let format = output_format(args.out.format, args.out.output.as_deref());
    let CompareOutcome { comparison: c, a, b, session, failed } = compare_of(&args, None, None)?;
    let text = match format {
        Format::Table => svdiag_report::runs::compare_table(&c, &a, &b, &args.metric),
        Format::Json => svdiag_report::runs::compare_json(&c, &a, &b, &session.options),
        Format::Csv => svdiag_report::runs::compare_csv(&c),
        Format::Html => svdiag_report::html_of(&svdiag_report::runs::compare_json(&c, &a, &b, &session.options)),
    };
    output::emit(args.out.output.as_deref(), text.as_bytes())?;
    for f in &failed {
        eprintln!("FAILED {} ({}): {}", f.name, f.file, f.error);
    }
    if !session.quiet {
        if format != Format::Table || args.out.output.is_some() {
            for v in &c.verdicts {
                eprintln!("{}", v.text);
            }
            let mut s = String::new();
            svdiag_report::runs::unmatched(&mut s, &c.only_a, &c.only_b, &c.mismatched);
            eprint!("{s}");
        }
        eprint!("{}", session.summary());
    }
    Ok(if failed.is_empty() { 0 } else { 1 })
}

fn delta_of<'o>(
    args: &DeltaArgs,
    observer: Option<&'o dyn Progress>,
) -> anyhow::Result<(svdiag_analysis::delta::Delta, Session<'o>)> {
    let session = Session::new(&args.settings, observer)?;
    let mut options = session.options.clone();
    options.keep_spectrum = args.spectrum;
    options.plot_data = args.plot_data || output_format(args.out.format, args.out.output.as_deref()) == Format::Html;
    let (side_a, side_b) = (side(&args.a, None)?, side(&args.b, None)?);
    for (label, s) in [("A", &side_a), ("B", &side_b)] {
        if !session.quiet && s.step.is_some() {
            eprintln!("{label}: {} ({})", s.checkpoint, s.chosen);
        }
    }
    let mut a = Plan::with_options(&[PathBuf::from(&side_a.checkpoint)], session.filter.as_ref(), &session.read)?;
    let mut b = Plan::with_options(&[PathBuf::from(&side_b.checkpoint)], session.filter.as_ref(), &session.read)?;
    if options.plot_data {
        a.hash_inputs();
        b.hash_inputs();
    }
    let progress = session.progress();
    let store = session.store.as_ref().map(|s| s as &dyn SpectrumStore);
    let mut delta = svdiag_analysis::delta::analyze_delta(&a, &b, &options, progress.get(), store);
    progress.finish();
    session.check_cancelled()?;
    if delta.analysis.matrices.is_empty() && delta.analysis.failed.is_empty() {
        anyhow::bail!("no matrix of {} matches a matrix of {} by name and shape", args.a.display(), args.b.display());
    }
    let mut s = String::new();
    svdiag_report::runs::unmatched(&mut s, &delta.only_a, &delta.only_b, &delta.mismatched);
    delta.analysis.warnings.extend(s.lines().map(str::to_string));
    Ok((delta, session))
}

/// `svdiag delta`.
pub fn run_delta(args: DeltaArgs) -> anyhow::Result<u8> {
    let format = output_format(args.out.format, args.out.output.as_deref());
    let (delta, session) = delta_of(&args, None)?;
    let columns: Vec<&str> = args.columns.iter().map(String::as_str).collect();
    let text = svdiag_report::render_for(&delta.analysis, format, &columns, "delta");
    output::emit(args.out.output.as_deref(), text.as_bytes())?;
    if !(session.quiet || format == Format::Table && args.out.output.is_none()) {
        eprint!("{}", svdiag_report::summary(&delta.analysis));
        eprint!("{}", session.summary_of(delta.analysis.matrices.len(), delta.analysis.reused));
    } else if session.quiet {
        for f in &delta.analysis.failed {
            eprintln!("FAILED {} ({}): {}", f.name, f.file, f.error);
        }
    }
    Ok(if delta.analysis.failed.is_empty() { 0 } else { 1 })
}

/// What a run command computed, for a caller that renders it itself (the Python package).
pub enum Documents {
    /// `trend`, `compare`: the JSON document, the CSV, the exit code.
    Rendered(String, String, u8),
    /// `delta`: the analysis of the updates `W_B − W_A` (render it with command `delta`), the exit code.
    Delta(Box<Analysis>, u8),
    /// `analyze` (a distributed sweep's): the analysis (render it with command `analyze`), the exit code.
    Analyzed(Box<Analysis>, u8),
}

/// A run command (`trend`, `compare` or `delta`) computed as the command line computes it; nothing is
/// written but warnings on stderr. `observer` is told of each checkpoint's matrices (no bar is drawn)
/// and stops the command when it asks to (the command then fails with [`CANCELLED`]).
pub fn documents(args: crate::args::Command, observer: &dyn Progress) -> anyhow::Result<Documents> {
    documents_with(args, observer, None)
}

/// [`documents`], with the spectra a distributed sweep computed (`trend` and `compare`): the
/// matrices they cover are not read again.
pub fn documents_with<'o>(
    args: crate::args::Command,
    observer: &'o dyn Progress,
    spectra: Option<&'o dyn svdiag_analysis::cluster::Spectra>,
) -> anyhow::Result<Documents> {
    let observer = Some(observer);
    use crate::args::Command;
    Ok(match args {
        Command::Trend(a) => {
            let TrendOutcome { trend, session, bad } = trend_of(&a, observer, spectra)?;
            let code = exit_code(&trend, !bad.is_empty());
            let json = svdiag_report::runs::trend_json(&trend, &session.options);
            Documents::Rendered(json, svdiag_report::runs::trend_csv(&trend), code)
        }
        Command::Compare(a) => {
            let CompareOutcome { comparison: c, a: side_a, b: side_b, session, failed } =
                compare_of(&a, observer, spectra)?;
            let json = svdiag_report::runs::compare_json(&c, &side_a, &side_b, &session.options);
            Documents::Rendered(json, svdiag_report::runs::compare_csv(&c), u8::from(!failed.is_empty()))
        }
        Command::Delta(a) => {
            let (delta, _) = delta_of(&a, observer)?;
            let code = u8::from(!delta.analysis.failed.is_empty());
            Documents::Delta(Box::new(delta.analysis), code)
        }
        _ => anyhow::bail!("not a run command (trend, compare, delta)"),
    })
}
