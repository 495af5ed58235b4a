//! Finding the checkpoints of a training run and their steps.
//!
//! A run is named either as one directory or as several checkpoint paths:
//! - a directory of Hugging Face Trainer checkpoints, `checkpoint-<step>/` (also `step-`, `step_`,
//!   `ckpt-`, `epoch-`, `global_step`, `iter-` prefixes), each a model directory;
//! - a directory of checkpoint files with a step or epoch number in their names
//!   (`step_1000.safetensors`, `model-epoch3.pt`, `ckpt-200.bin`);
//! - explicit paths, taken in the order given.
//!
//! Discovered checkpoints are ordered by step. The step comes from the name, else from the
//! checkpoint's own metadata (Hugging Face `trainer_state.json` `global_step`, or a `step` /
//! `global_step` entry of a safetensors header's `__metadata__`); each checkpoint says which.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

/// Where a checkpoint's step came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepSource {
    /// The directory or file name (`checkpoint-1000`, `step_1000.safetensors`).
    Name,
    /// `trainer_state.json` (`global_step`) in the checkpoint directory.
    TrainerState,
    /// The safetensors header's `__metadata__` (`step` or `global_step`).
    Metadata,
    /// No step found: the position in the order given (0, 1, 2, …).
    Position,
}

impl StepSource {
    /// In words, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Name => "from the name",
            Self::TrainerState => "from trainer_state.json",
            Self::Metadata => "from the safetensors metadata",
            Self::Position => "position in the order given (no step in the name or metadata)",
        }
    }
}

/// One checkpoint of a run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Checkpoint {
    /// The file or model directory.
    pub path: PathBuf,
    /// The training step (or epoch, when that is all the name gives).
    pub step: u64,
    /// Where the step came from.
    pub step_source: StepSource,
}

/// The checkpoints of a run, in order.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Run {
    /// What the user named.
    pub given: Vec<PathBuf>,
    /// How the checkpoints were found and ordered, in words.
    pub layout: String,
    /// The checkpoints, ordered.
    pub checkpoints: Vec<Checkpoint>,
}

/// Why no run could be found.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A path cannot be read.
    #[error("cannot read {path}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The directory holds no recognizable checkpoints.
    #[error("{0}")]
    NotARun(String),
}

static DIR_STEP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(?:checkpoint|ckpt|step|global_step|iter|iteration|epoch)[-_]?(\d+)$").expect("valid regex")
});
/// A step in a file name: a keyword then digits, else the last run of digits that is not a shard
/// counter (`-00001-of-00004`).
static FILE_STEP: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:checkpoint|ckpt|step|global_step|iter|iteration|epoch)[-_=]?(\d+)").expect("valid regex")
});
static DIGITS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d+)").expect("valid regex"));
static SHARD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+-of-\d+").expect("valid regex"));

/// The step in a file or directory name, if it has one.
pub fn step_from_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    if path.is_dir() {
        return DIR_STEP.captures(name).and_then(|c| c[1].parse().ok());
    }
    let stem = path.file_stem()?.to_str()?;
    if SHARD.is_match(stem) {
        return None;
    }
    if let Some(c) = FILE_STEP.captures(stem) {
        return c[1].parse().ok();
    }
    DIGITS.captures_iter(stem).last().and_then(|c| c[1].parse().ok())
}

/// The step recorded inside a checkpoint: `trainer_state.json`'s `global_step` for a directory,
/// `step`/`global_step` in a safetensors file's `__metadata__`.
pub fn step_from_metadata(path: &Path) -> Option<(u64, StepSource)> {
    if path.is_dir() {
        let state = path.join("trainer_state.json");
        let meta = std::fs::metadata(&state).ok()?;
        if meta.len() > 64 << 20 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).ok()?).ok()?;
        return v.get("global_step")?.as_u64().map(|s| (s, StepSource::TrainerState));
    }
    if path.extension().is_some_and(|e| e == "safetensors") {
        let file = svdiag_formats::safetensors::SafetensorsFile::open(path).ok()?;
        let meta = file.metadata()?;
        let step = meta.get("step").or_else(|| meta.get("global_step"))?;
        return step.trim().parse().ok().map(|s| (s, StepSource::Metadata));
    }
    None
}

fn is_checkpoint_file(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    path.is_file()
        && svdiag_formats::inputs::EXTENSIONS.iter().any(|group| group.contains(&ext))
        && !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

/// The step of one checkpoint: its name, else its metadata, else `None`.
fn step_of(path: &Path) -> Option<(u64, StepSource)> {
    step_from_name(path).map(|s| (s, StepSource::Name)).or_else(|| step_from_metadata(path))
}

/// Finds the checkpoints of a run (see the module documentation).
pub fn discover(paths: &[PathBuf]) -> Result<Run, RunError> {
    match paths {
        [] => Err(RunError::NotARun("no run directory or checkpoint given".into())),
        [dir] if dir.is_dir() => discover_dir(dir),
        _ => {
            let mut checkpoints = Vec::new();
            for (i, p) in paths.iter().enumerate() {
                std::fs::metadata(p).map_err(|source| RunError::Io { path: p.clone(), source })?;
                let (step, step_source) = step_of(p).unwrap_or((i as u64, StepSource::Position));
                checkpoints.push(Checkpoint { path: p.clone(), step, step_source });
            }
            Ok(Run { given: paths.to_vec(), layout: "checkpoints in the order given".into(), checkpoints })
        }
    }
}

/// A directory of checkpoint directories or of checkpoint files.
pub fn discover_dir(dir: &Path) -> Result<Run, RunError> {
    let io = |source| RunError::Io { path: dir.to_path_buf(), source };
    let mut subdirs = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.is_dir() {
            if let Some(step) = step_from_name(&p) {
                subdirs.push(Checkpoint { path: p, step, step_source: StepSource::Name });
            }
        } else if is_checkpoint_file(&p) {
            files.push(p);
        }
    }
    let layout;
    let mut checkpoints = if !subdirs.is_empty() {
        layout = format!("{} checkpoint directories (checkpoint-<step>/) ordered by step", subdirs.len());
        subdirs
    } else {
        if files.iter().any(|f| SHARD.is_match(&f.to_string_lossy()))
            || svdiag_formats::inputs::INDEX_FILES.iter().any(|i| dir.join(i).is_file())
        {
            return Err(RunError::NotARun(format!(
                "{} is one (sharded) checkpoint, not a run: name a directory of checkpoint-<step>/ directories, or several checkpoints",
                dir.display()
            )));
        }
        let mut out = Vec::new();
        let mut unnumbered = Vec::new();
        for f in files {
            match step_of(&f) {
                Some((step, step_source)) => out.push(Checkpoint { path: f, step, step_source }),
                None => unnumbered.push(f),
            }
        }
        if !unnumbered.is_empty() {
            let names: Vec<String> = unnumbered.iter().take(5).map(|p| p.display().to_string()).collect();
            return Err(RunError::NotARun(format!(
                "{}: no step in the name or metadata of {} (e.g. {}); rename them with their step (step_1000.safetensors) or name the checkpoints in order",
                dir.display(),
                if unnumbered.len() == 1 { "1 file".to_string() } else { format!("{} files", unnumbered.len()) },
                names.join(", ")
            )));
        }
        layout = format!("{} checkpoint files ordered by the step in their names or metadata", out.len());
        out
    };
    if checkpoints.is_empty() {
        return Err(RunError::NotARun(format!(
            "{}: no checkpoints found (expected checkpoint-<step>/ directories or checkpoint files named with a step)",
            dir.display()
        )));
    }
    checkpoints.sort_by(|a, b| a.step.cmp(&b.step).then_with(|| a.path.cmp(&b.path)));
    if let Some(w) = checkpoints.windows(2).find(|w| w[0].step == w[1].step) {
        return Err(RunError::NotARun(format!(
            "{} and {} have the same step {}; name the checkpoints explicitly in order",
            w[0].path.display(),
            w[1].path.display(),
            w[0].step
        )));
    }
    Ok(Run { given: vec![dir.to_path_buf()], layout, checkpoints })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_from_names() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["checkpoint-1500", "global_step20", "epoch_3", "runs", "checkpoint-best"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let step = |name: &str| step_from_name(&dir.path().join(name));
        assert_eq!(step("checkpoint-1500"), Some(1500));
        assert_eq!(step("global_step20"), Some(20));
        assert_eq!(step("epoch_3"), Some(3));
        assert_eq!(step("runs"), None);
        assert_eq!(step("checkpoint-best"), None);
        // files (need not exist to be named)
        assert_eq!(step("step_1000.safetensors"), Some(1000));
        assert_eq!(step("model-epoch7.pt"), Some(7));
        assert_eq!(step("gpt2_iter=300.bin"), Some(300));
        assert_eq!(step("weights_42.npz"), Some(42));
        assert_eq!(step("model-00001-of-00004.safetensors"), None, "a shard counter is not a step");
    }

    #[test]
    fn a_run_directory_in_step_order_and_what_is_not_one() {
        let dir = tempfile::tempdir().unwrap();
        for s in [900, 80, 1000] {
            let d = dir.path().join(format!("checkpoint-{s}"));
            std::fs::create_dir(&d).unwrap();
        }
        let run = discover(&[dir.path().to_path_buf()]).unwrap();
        let steps: Vec<u64> = run.checkpoints.iter().map(|c| c.step).collect();
        assert_eq!(steps, [80, 900, 1000], "numeric order, not text order");

        // a directory of files whose step is only in trainer_state-like metadata is refused
        let flat = tempfile::tempdir().unwrap();
        std::fs::write(flat.path().join("final.safetensors"), b"x").unwrap();
        let err = discover(&[flat.path().to_path_buf()]).unwrap_err().to_string();
        assert!(err.contains("no step in the name or metadata of 1 file"), "{err}");
        // a sharded checkpoint is one checkpoint, not a run
        std::fs::write(flat.path().join("model-00001-of-00002.safetensors"), b"x").unwrap();
        let err = discover(&[flat.path().to_path_buf()]).unwrap_err().to_string();
        assert!(err.contains("is one (sharded) checkpoint, not a run"), "{err}");
    }

    #[test]
    fn the_step_from_trainer_state_when_the_name_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let ck = dir.path().join("latest");
        std::fs::create_dir(&ck).unwrap();
        std::fs::write(ck.join("trainer_state.json"), br#"{"global_step": 4200, "epoch": 1.5}"#).unwrap();
        let a = dir.path().join("first.safetensors");
        std::fs::write(&a, b"x").unwrap();
        let run = discover(&[a, ck]).unwrap();
        assert_eq!(run.checkpoints[0].step_source, StepSource::Position);
        assert_eq!((run.checkpoints[1].step, run.checkpoints[1].step_source), (4200, StepSource::TrainerState));
    }
}
