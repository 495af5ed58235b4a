//! From what the user names (files, model directories) to the checkpoint files to read.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::FormatError;

/// Shard indexes of a Hugging Face model directory, in order of preference.
pub const INDEX_FILES: [&str; 2] = ["model.safetensors.index.json", "pytorch_model.bin.index.json"];
/// Single-file checkpoints of a Hugging Face model directory, in order of preference.
pub const SINGLE_FILES: [&str; 2] = ["model.safetensors", "pytorch_model.bin"];
/// Otherwise, checkpoint files by extension, in order of preference (the first extension present wins).
pub const EXTENSIONS: [&[&str]; 2] = [&["safetensors"], &["bin", "pt", "pth", "ckpt", "npz", "npy"]];
/// An index larger than this is refused (real ones are well under 1 MB).
const MAX_INDEX_BYTES: u64 = 64 << 20;

/// One input as resolved: the checkpoint files, and for a sharded directory the index's
/// promise of which tensor lives in which file (checked against the shards after opening them).
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedInput {
    /// What the user named.
    pub given: PathBuf,
    /// The files to read, in a deterministic order.
    pub files: Vec<PathBuf>,
    /// For a sharded checkpoint: tensor name → shard file, from the index.
    pub weight_map: Option<BTreeMap<String, PathBuf>>,
    /// How the files were found, in words (for the report).
    pub how: String,
    /// For a PEFT adapter (a directory holding `adapter_config.json`, or its weights file): the
    /// config that says how its LoRA factors combine.
    pub adapter: Option<crate::adapter::AdapterConfig>,
}

/// Resolves one command-line path: a file is itself; a directory is a Hugging Face model directory.
pub fn resolve(path: &Path) -> Result<ResolvedInput, FormatError> {
    let meta = std::fs::metadata(path).map_err(|source| FormatError::Io { path: path.to_path_buf(), source })?;
    if !meta.is_dir() {
        let adapter =
            crate::adapter::config_beside(path).map(|c| crate::adapter::AdapterConfig::read(&c)).transpose()?;
        let how = if adapter.is_some() {
            format!("file, with the {} beside it", crate::adapter::CONFIG)
        } else {
            "file".into()
        };
        return Ok(ResolvedInput {
            given: path.to_path_buf(),
            files: vec![path.to_path_buf()],
            weight_map: None,
            how,
            adapter,
        });
    }
    let config = path.join(crate::adapter::CONFIG);
    if config.is_file() {
        let adapter = crate::adapter::AdapterConfig::read(&config)?;
        let Some(name) = crate::adapter::FILES.into_iter().find(|f| path.join(f).is_file()) else {
            return Err(FormatError::Invalid {
                path: path.to_path_buf(),
                format: "PEFT adapter directory",
                reason: format!("{} but no {}", crate::adapter::CONFIG, crate::adapter::FILES.join(" or ")),
            });
        };
        return Ok(ResolvedInput {
            given: path.to_path_buf(),
            files: vec![path.join(name)],
            weight_map: None,
            how: format!("PEFT adapter: {name} with {}", crate::adapter::CONFIG),
            adapter: Some(adapter),
        });
    }
    for name in INDEX_FILES {
        let index = path.join(name);
        if index.is_file() {
            let weight_map = read_index(&index)?;
            let mut files: Vec<PathBuf> = weight_map.values().cloned().collect();
            files.sort();
            files.dedup();
            let how = format!("sharded checkpoint: {} files listed in {name}", files.len());
            return Ok(ResolvedInput {
                given: path.to_path_buf(),
                files,
                weight_map: Some(weight_map),
                how,
                adapter: None,
            });
        }
    }
    for name in SINGLE_FILES {
        let single = path.join(name);
        if single.is_file() {
            return Ok(ResolvedInput {
                given: path.to_path_buf(),
                files: vec![single],
                weight_map: None,
                how: name.into(),
                adapter: None,
            });
        }
    }
    let io = |source| FormatError::Io { path: path.to_path_buf(), source };
    let mut all = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io)? {
        let p = entry.map_err(io)?.path();
        if p.is_file() {
            all.push(p);
        }
    }
    all.sort();
    for extensions in EXTENSIONS {
        let files: Vec<PathBuf> = all
            .iter()
            .filter(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| extensions.contains(&e)))
            .cloned()
            .collect();
        if !files.is_empty() {
            let how = format!("{} {} files in the directory", files.len(), extensions.join("/"));
            return Ok(ResolvedInput { given: path.to_path_buf(), files, weight_map: None, how, adapter: None });
        }
    }
    Err(FormatError::NoCheckpoint { path: path.to_path_buf() })
}

/// Reads a shard index (`model.safetensors.index.json`, `pytorch_model.bin.index.json`): `{"weight_map": {"tensor": "shard-file", …}}`.
/// Shard names must be plain file names in the same directory (no paths, no `..`).
fn read_index(index: &Path) -> Result<BTreeMap<String, PathBuf>, FormatError> {
    let bad = |reason: String| FormatError::Index { path: index.to_path_buf(), reason };
    let file = std::fs::File::open(index).map_err(|source| FormatError::Io { path: index.to_path_buf(), source })?;
    let mut text = Vec::new();
    file.take(MAX_INDEX_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|source| FormatError::Io { path: index.to_path_buf(), source })?;
    if text.len() as u64 > MAX_INDEX_BYTES {
        return Err(bad(format!("larger than the {} MiB limit", MAX_INDEX_BYTES >> 20)));
    }
    let value: serde_json::Value = serde_json::from_slice(&text).map_err(|e| bad(format!("not valid JSON ({e})")))?;
    let map =
        value.get("weight_map").and_then(|m| m.as_object()).ok_or_else(|| bad("no \"weight_map\" object".into()))?;
    let dir = index.parent().unwrap_or(Path::new("."));
    let mut out = BTreeMap::new();
    for (name, shard) in map {
        let shard = shard.as_str().ok_or_else(|| bad(format!("shard of tensor '{name}' is not a string")))?;
        let plain = !shard.is_empty()
            && Path::new(shard).file_name().is_some_and(|f| f == shard)
            && shard != ".."
            && !shard.contains(['/', '\\']);
        if !plain {
            return Err(bad(format!(
                "shard '{shard}' of tensor '{name}' is not a plain file name in the model directory"
            )));
        }
        out.insert(name.clone(), dir.join(shard));
    }
    if out.is_empty() {
        return Err(bad("\"weight_map\" is empty".into()));
    }
    Ok(out)
}
