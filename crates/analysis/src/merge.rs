//! An adapter merged into its base model (`svdiag analyze ADAPTER --base MODEL`): for every LoRA
//! update of the adapter's plan, the base weight `W` it changes, read from the base model, and the
//! merged weight `W + ΔW`, formed in f64 when it is read. Both are [`TensorSource`]s read tensor by
//! tensor by [`crate::analyze`], so that their analyses can be compared ([`crate::compare`]) as any
//! two checkpoints are; memory holds one merged matrix per worker, never the model.

use std::path::{Path, PathBuf};

use svdiag_core::linalg::factored::merge_update;
use svdiag_formats::{FormatError, TensorData, TensorInfo, TensorSource};

use crate::lora::{LoraKind, LoraTask};
use crate::plan::{matrix_shape, Plan};

/// Where one adapted weight lives in each plan.
struct Entry {
    /// The base weight's source and tensor in the base plan.
    base: (usize, usize),
    /// The update's source in the adapter plan, and its factors.
    adapter: usize,
    lora: LoraTask,
    rows: usize,
    cols: usize,
}

/// The base weights the adapter changes, and the merged weights, as sources.
pub struct Merge<'p> {
    /// `W`, for every update that found its base weight.
    pub base: Box<dyn TensorSource + 'p>,
    /// `W + ΔW`, named as `W`.
    pub merged: Box<dyn TensorSource + 'p>,
    /// Updates without a base weight of their name and shape, in words.
    pub warnings: Vec<String>,
}

/// Pairs every LoRA update of `adapter` with the weight of its name in `base`.
pub fn merge<'p>(adapter: &'p Plan<'_>, base: &'p Plan<'_>, base_path: &Path) -> Merge<'p> {
    let mut entries = Vec::new();
    let mut warnings = Vec::new();
    for task in &adapter.tasks {
        let Some(lora) = &task.lora else { continue };
        let found = base.sources.iter().enumerate().find_map(|(si, s)| {
            s.tensors().iter().position(|t| t.name == lora.name).map(|ti| (si, ti, &s.tensors()[ti]))
        });
        let Some((si, ti, info)) = found else {
            warnings.push(format!("--base: {} has no weight '{}' for its update", base_path.display(), lora.name));
            continue;
        };
        match matrix_shape(info) {
            Ok((rows, cols)) if (rows, cols) == (task.rows, task.cols) => {
                entries.push(Entry { base: (si, ti), adapter: task.source, lora: lora.clone(), rows, cols })
            }
            Ok((rows, cols)) => warnings.push(format!(
                "--base: '{}' is {rows}×{cols} in {} but its update is {}×{}: not merged",
                lora.name,
                base_path.display(),
                task.rows,
                task.cols
            )),
            Err(reason) => warnings.push(format!("--base: '{}' in {}: {reason}", lora.name, base_path.display())),
        }
    }
    let infos: Vec<TensorInfo> = entries
        .iter()
        .map(|e| {
            let info = &base.sources[e.base.0].tensors()[e.base.1];
            TensorInfo { name: e.lora.name.clone(), ..info.clone() }
        })
        .collect();
    let path = base_path.to_path_buf();
    let base_view = BaseWeights {
        path: path.clone(),
        plan: base,
        entries: entries.iter().map(|e| e.base).collect(),
        infos: infos.clone(),
    };
    let merged = Merged { path: adapter_path(adapter), adapter, base, entries, infos };
    Merge { base: Box::new(base_view), merged: Box::new(merged), warnings }
}

fn adapter_path(plan: &Plan<'_>) -> PathBuf {
    plan.inputs.first().map_or_else(PathBuf::new, |i| PathBuf::from(&i.path))
}

/// The base weights that an adapter changes, read from the base model's files.
struct BaseWeights<'p> {
    path: PathBuf,
    plan: &'p Plan<'p>,
    entries: Vec<(usize, usize)>,
    infos: Vec<TensorInfo>,
}

impl TensorSource for BaseWeights<'_> {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> &'static str {
        "base weights"
    }
    fn tensors(&self) -> &[TensorInfo] {
        &self.infos
    }
    fn read(&self, index: usize) -> Result<TensorData<'_>, FormatError> {
        let (si, ti) = self.entries[index];
        self.plan.sources[si].read(ti)
    }
    fn release(&self, index: usize) {
        let (si, ti) = self.entries[index];
        self.plan.sources[si].release(ti);
    }
}

/// `W + ΔW`, formed when read.
struct Merged<'p> {
    path: PathBuf,
    adapter: &'p Plan<'p>,
    base: &'p Plan<'p>,
    entries: Vec<Entry>,
    infos: Vec<TensorInfo>,
}

impl Merged<'_> {
    fn merged(&self, e: &Entry) -> Result<Vec<f64>, String> {
        let source = &self.base.sources[e.base.0];
        let info = &source.tensors()[e.base.1];
        let data = source.read(e.base.1).map_err(|err| err.to_string())?;
        let w = crate::adapter::matrix_of(data, info, e.rows, e.cols).map_err(|err| format!("base weight: {err}"))?;
        source.release(e.base.1);
        let (a, b) = crate::adapter::factors(self.adapter.sources[e.adapter].as_ref(), &e.lora)?;
        let transposed = e.lora.kind != LoraKind::Linear;
        Ok(merge_update(w, &b, &a, e.lora.scale, transposed).map_err(|err| err.to_string())?.into_vec())
    }
}

impl TensorSource for Merged<'_> {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> &'static str {
        "merged"
    }
    fn tensors(&self) -> &[TensorInfo] {
        &self.infos
    }
    fn read(&self, index: usize) -> Result<TensorData<'_>, FormatError> {
        self.merged(&self.entries[index]).map(TensorData::F64).map_err(|reason| FormatError::Tensor {
            path: self.path.clone(),
            name: self.infos[index].name.clone(),
            reason,
        })
    }
}
