//! The pieces a distributed sweep needs (the Python package's `svdiag.distributed`): the matrices of
//! a plan as independent tasks, one task's exact spectrum computed where the file is, and a plan
//! whose spectra come from elsewhere, so that the driver assembles records, trends and comparisons
//! with the same code as a local run, without reading a tensor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use svdiag_formats::{FormatError, Precomputed, TensorData, TensorInfo, TensorSource};

use crate::options::AnalysisOptions;
use crate::plan::Plan;
use crate::store::{Key, StoredSpectrum};
use crate::stored::with_stored;

/// One matrix of a plan, to be computed on its own: where it is and what it costs.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TaskSpec {
    /// The checkpoint file.
    pub path: PathBuf,
    /// The tensor's index in the file (as its reader lists it).
    pub tensor: usize,
    /// The tensor's name.
    pub name: String,
    /// Rows of the matrix analyzed.
    pub rows: usize,
    /// Columns of the matrix analyzed.
    pub cols: usize,
    /// Bytes of the tensor in the file.
    pub bytes: u64,
    /// Multiply-adds of the exact route, `m·n² + 4/3·n³` with `n = min(m, n)`: the order to
    /// schedule in, largest first.
    pub cost: f64,
    /// f64 bytes the computation holds at most (the Gram matrix and the widened rows): what a
    /// task asks its scheduler for, besides the mapped file.
    pub memory: u64,
}

/// The tasks of a plan: every matrix read from a file. LoRA updates and gates are not tasks (the
/// driver computes updates from their small factors; gates are refused by the callers).
pub fn tasks(plan: &Plan<'_>) -> Vec<TaskSpec> {
    plan.tasks
        .iter()
        .filter(|t| t.lora.is_none() && t.gate.is_none())
        .map(|t| {
            let info = plan.info(t);
            let (m, n) = (t.rows.max(t.cols) as f64, t.rows.min(t.cols) as f64);
            let small = t.rows.min(t.cols) as u64;
            TaskSpec {
                path: plan.sources[t.source].path().to_path_buf(),
                tensor: t.tensor,
                name: info.name.clone(),
                rows: t.rows,
                cols: t.cols,
                bytes: info.byte_len as u64,
                cost: m * n * n + 4.0 / 3.0 * n * n * n,
                memory: 3 * 8 * small * small + 8 * 256 * t.rows.max(t.cols) as u64,
            }
        })
        .collect()
}

/// The settings under which a task's key and location are stored: those that change its spectrum,
/// and svdiag's version.
pub fn settings(options: &AnalysisOptions) -> String {
    format!("{} svdiag={}", crate::store::settings(options), env!("CARGO_PKG_VERSION"))
}

/// Tensor `tensor` of checkpoint file `path`: its content key and exact spectrum, as a local run
/// computes and stores them; only the key when `known` says the store has it (the same tensor in
/// another file: a frozen layer, a copied checkpoint). An error is the tensor's (bad data,
/// unreadable), in words.
pub fn compute(
    path: &Path,
    tensor: usize,
    options: &AnalysisOptions,
    read: &svdiag_formats::ReadOptions,
    known: &(dyn Fn(&Key) -> bool + Sync),
) -> Result<(Key, Option<StoredSpectrum>), String> {
    let source = svdiag_formats::open_with(path, read).map_err(|e| e.to_string())?;
    let plan = Plan::from_sources(vec![source], Vec::new(), None).map_err(|e| e.to_string())?;
    let task = plan
        .tasks
        .iter()
        .find(|t| t.tensor == tensor && t.lora.is_none() && t.gate.is_none())
        .ok_or_else(|| format!("{}: tensor #{tensor} is not a matrix to analyze", path.display()))?;
    with_stored(&plan, task, |src, info, file| {
        let key = crate::store::key(src, info.dtype, options);
        if known(&key) {
            return Ok((key, None));
        }
        let (spectrum, l12_norm, route, route_reason) = crate::measure::exact(src, options, &mut None)
            .map_err(|e| crate::record::failed(info, file, e.to_string()))?;
        let spectrum = StoredSpectrum {
            rows: task.rows,
            cols: task.cols,
            singular_values: spectrum.values().to_vec(),
            l12_norm,
            route,
            route_reason,
        };
        Ok((key, Some(spectrum)))
    })
    .map_err(|f| f.error)
}

/// Where the driver finds spectra computed elsewhere: by file and tensor.
pub trait Spectra: Sync {
    /// The spectrum of `info` (a tensor of file `path`), if one was computed.
    fn spectrum(&self, path: &Path, info: &TensorInfo) -> Option<StoredSpectrum>;
}

impl Plan<'_> {
    /// Serves every matrix that `spectra` has as its precomputed spectrum (with its route), so that
    /// analyzing the plan reads no tensor of those; the others are read as usual.
    pub fn use_spectra(&mut self, spectra: &dyn Spectra) {
        let sources = std::mem::take(&mut self.sources);
        for (si, source) in sources.into_iter().enumerate() {
            let mut found = HashMap::new();
            for t in self.tasks.iter().filter(|t| t.source == si && t.lora.is_none() && t.gate.is_none()) {
                let info = &source.tensors()[t.tensor];
                if let Some(s) = spectra.spectrum(source.path(), info).filter(|s| s.validate(t.rows, t.cols).is_ok()) {
                    found.insert(t.tensor, s);
                }
            }
            self.sources.push(if found.is_empty() { source } else { Box::new(Located { inner: source, found }) });
        }
    }
}

/// A file whose computed matrices are served by their spectra.
struct Located<'a> {
    inner: Box<dyn TensorSource + 'a>,
    found: HashMap<usize, StoredSpectrum>,
}

impl TensorSource for Located<'_> {
    fn path(&self) -> &Path {
        self.inner.path()
    }
    fn format(&self) -> &'static str {
        self.inner.format()
    }
    fn tensors(&self) -> &[TensorInfo] {
        self.inner.tensors()
    }
    fn read(&self, index: usize) -> Result<TensorData<'_>, FormatError> {
        match self.found.get(&index) {
            Some(s) => Ok(TensorData::Spectrum(Precomputed {
                singular_values: s.singular_values.clone(),
                l12_norm: s.l12_norm,
                how: s.route_reason.clone().unwrap_or_default(),
                route: Some(s.route),
            })),
            None => self.inner.read(index),
        }
    }
    fn release(&self, index: usize) {
        if !self.found.contains_key(&index) {
            self.inner.release(index);
        }
    }
}
