//! Opening the inputs and deciding, for every tensor, whether it is a matrix to analyze.

use std::path::{Path, PathBuf};

use regex::Regex;
use svdiag_core::Dtype;
use svdiag_formats::adapter::AdapterConfig;
use svdiag_formats::inputs::{self, ResolvedInput};
use svdiag_formats::{FormatError, ReadOptions, TensorInfo, TensorSource};

/// What stops a run before any matrix is analyzed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// An input could not be resolved or a file could not be opened / is invalid.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// `--filter` selected no tensor.
    #[error("filter '{filter}' matches no tensor name in the input ({tensors} tensors; names are matched unanchored)")]
    FilterMatchesNothing {
        /// The pattern.
        filter: String,
        /// How many tensors there were to match.
        tensors: usize,
    },
    /// No input path was given.
    #[error("no input given")]
    NoInput,
}

/// A tensor that is analyzed as a matrix.
#[derive(Debug, Clone)]
pub struct Task {
    /// Index of the file in [`Plan::sources`].
    pub source: usize,
    /// Index of the tensor in that file.
    pub tensor: usize,
    /// Rows of the matrix analyzed.
    pub rows: usize,
    /// Columns of the matrix analyzed.
    pub cols: usize,
    /// For one gate of a stacked recurrent weight: which rows of the tensor.
    pub gate: Option<Gate>,
    /// For a LoRA update `ΔW = s·B·A` of a PEFT adapter: its factors (`tensor` is `lora_B`'s).
    pub lora: Option<crate::lora::LoraTask>,
}

/// One gate's block in a stacked LSTM/GRU weight (`--split-gates`): rows in PyTorch's layout,
/// columns in Keras's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    /// The gate's name in its framework's order: PyTorch `i f g o` (LSTM) or `r z n` (GRU);
    /// Keras `i f c o` (LSTM) or `z r h` (GRU).
    pub label: &'static str,
    /// First row of the gate's block (0 for a column gate).
    pub first_row: usize,
    /// First column of the gate's block (0 for a row gate).
    pub first_col: usize,
    /// True for Keras's gates, stacked along the columns.
    pub columns: bool,
}

/// A tensor that is not analyzed, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Skipped {
    /// Tensor name.
    pub name: String,
    /// File it is stored in.
    pub file: String,
    /// Storage dtype.
    pub dtype: Dtype,
    /// Shape as stored.
    pub shape: Vec<usize>,
    /// Why it is not a matrix svdiag analyzes.
    pub reason: String,
}

/// One checkpoint file as read.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileSummary {
    /// Path.
    pub path: String,
    /// Format name.
    pub format: &'static str,
    /// Number of tensors in the file.
    pub tensors: usize,
    /// Size of the file in bytes (files on disk).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// SHA-256 of the whole file, hex, as `sha256sum` prints it (when asked for: [`Plan::hash_inputs`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// One path the user named, and what it resolved to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct InputSummary {
    /// The path as given.
    pub path: String,
    /// How the files were found.
    pub resolved_as: String,
    /// The files read.
    pub files: Vec<FileSummary>,
}

/// Every input opened and validated; every tensor classified.
pub struct Plan<'a> {
    /// The opened files, or tensors in memory (borrowed for `'a`).
    pub sources: Vec<Box<dyn TensorSource + 'a>>,
    /// The inputs as given.
    pub inputs: Vec<InputSummary>,
    /// Matrices to analyze.
    pub tasks: Vec<Task>,
    /// Tensors not analyzed, with reasons.
    pub skipped: Vec<Skipped>,
    /// Tensors the filter left out.
    pub filtered_out: usize,
    /// Things worth telling that are not errors (e.g. an index that disagrees with its shards).
    pub warnings: Vec<String>,
    /// The filter pattern, if any.
    pub filter: Option<String>,
}

impl Plan<'static> {
    /// Resolves and opens every input, then classifies every tensor. Any unreadable or invalid
    /// file stops the plan: a checkpoint that is partly corrupt is not silently half-analyzed.
    pub fn new(paths: &[PathBuf], filter: Option<&Regex>) -> Result<Self, PlanError> {
        Self::with_options(paths, filter, &ReadOptions::default())
    }

    /// [`Plan::new`] with reading options (e.g. pickle globals declared inert).
    pub fn with_options(paths: &[PathBuf], filter: Option<&Regex>, read: &ReadOptions) -> Result<Self, PlanError> {
        if paths.is_empty() {
            return Err(PlanError::NoInput);
        }
        let mut sources: Vec<Box<dyn TensorSource>> = Vec::new();
        let mut inputs_out = Vec::new();
        let mut warnings = Vec::new();
        let mut adapters = Vec::new();
        for path in paths {
            let resolved = inputs::resolve(path)?;
            let first = sources.len();
            for file in &resolved.files {
                if let Some(i) = sources.iter().position(|s| s.path() == file.as_path()) {
                    warnings.push(format!("{} is named more than once; read once", sources[i].path().display()));
                    continue;
                }
                sources.push(svdiag_formats::open_with(file, read)?);
            }
            check_index(&resolved, &sources[first..], &mut warnings);
            if let Some(config) = &resolved.adapter {
                adapters.extend((first..sources.len()).map(|i| (i, config.clone())));
            }
            inputs_out.push(InputSummary {
                path: display(&resolved.given),
                resolved_as: resolved.how.clone(),
                files: sources[first..]
                    .iter()
                    .map(|s| FileSummary {
                        path: display(s.path()),
                        format: s.format(),
                        tensors: s.tensors().len(),
                        bytes: std::fs::metadata(s.path()).ok().map(|m| m.len()),
                        sha256: None,
                    })
                    .collect(),
            });
        }

        Plan::classify(sources, inputs_out, warnings, filter, &adapters)
    }
}

impl<'a> Plan<'a> {
    /// Hashes every input file on disk (SHA-256 of its bytes, streamed: one more read of each
    /// file), for the provenance of a report; a file that cannot be read again gets a warning.
    pub fn hash_inputs(&mut self) {
        use sha2::Digest;
        for file in self.inputs.iter_mut().flat_map(|i| i.files.iter_mut()).filter(|f| f.bytes.is_some()) {
            let hashed = std::fs::File::open(&file.path).and_then(|mut f| {
                let mut h = sha2::Sha256::new();
                std::io::copy(&mut f, &mut h)?;
                Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>())
            });
            match hashed {
                Ok(hex) => file.sha256 = Some(hex),
                Err(e) => self.warnings.push(format!("cannot hash {} for the report: {e}", file.path)),
            }
        }
    }

    /// A plan over sources that are already open (e.g. tensors held in memory by a caller), described
    /// by `inputs`.
    pub fn from_sources(
        sources: Vec<Box<dyn TensorSource + 'a>>,
        inputs: Vec<InputSummary>,
        filter: Option<&Regex>,
    ) -> Result<Self, PlanError> {
        if sources.is_empty() {
            return Err(PlanError::NoInput);
        }
        Self::classify(sources, inputs, Vec::new(), filter, &[])
    }

    /// Classifies every tensor of the sources: a matrix task, skipped with its reason, or left out
    /// by the filter.
    fn classify(
        sources: Vec<Box<dyn TensorSource + 'a>>,
        inputs_out: Vec<InputSummary>,
        mut warnings: Vec<String>,
        filter: Option<&Regex>,
        adapters: &[(usize, AdapterConfig)],
    ) -> Result<Self, PlanError> {
        let mut tasks = Vec::new();
        let mut skipped = Vec::new();
        let mut filtered_out = 0;
        let mut total = 0;
        for (si, source) in sources.iter().enumerate() {
            for (ti, info) in source.tensors().iter().enumerate() {
                total += 1;
                if filter.is_some_and(|f| !f.is_match(&info.name)) {
                    filtered_out += 1;
                    continue;
                }
                match matrix_shape(info) {
                    Ok((rows, cols)) => tasks.push(Task { source: si, tensor: ti, rows, cols, gate: None, lora: None }),
                    Err(reason) => skipped.push(Skipped {
                        name: info.name.clone(),
                        file: display(source.path()),
                        dtype: info.dtype,
                        shape: info.shape.clone(),
                        reason,
                    }),
                }
            }
        }
        let mut quantized: Vec<(&str, usize)> = Vec::new();
        for t in &tasks {
            if let svdiag_core::Dtype::Quantized(q) = sources[t.source].tensors()[t.tensor].dtype {
                match quantized.iter_mut().find(|(name, _)| *name == q) {
                    Some((_, n)) => *n += 1,
                    None => quantized.push((q, 1)),
                }
            }
        }
        if !quantized.is_empty() {
            let n: usize = quantized.iter().map(|(_, n)| n).sum();
            let types: Vec<String> = quantized.iter().map(|(q, n)| format!("{q} ×{n}")).collect();
            warnings.push(format!(
                "{n} {} stored quantized ({}): their spectra are those of the dequantized, quantized weights, not of the original full-precision ones",
                if n == 1 { "matrix is" } else { "matrices are" },
                types.join(", ")
            ));
        }
        if let Some(f) = filter {
            if tasks.is_empty() && skipped.is_empty() {
                return Err(PlanError::FilterMatchesNothing { filter: f.as_str().to_string(), tensors: total });
            }
        }
        let mut plan = Self {
            sources,
            inputs: inputs_out,
            tasks,
            skipped,
            filtered_out,
            warnings,
            filter: filter.map(|f| f.as_str().to_string()),
        };
        plan.pair_lora_factors(adapters);
        Ok(plan)
    }

    /// Replaces the LoRA factors of every file by their updates ([`crate::lora::pair`]), with the
    /// file's adapter config (`adapters`: source index and config); without one, lists them as
    /// skipped.
    fn pair_lora_factors(&mut self, adapters: &[(usize, AdapterConfig)]) {
        let mut updates = 0;
        for si in 0..self.sources.len() {
            let config = adapters.iter().find(|(i, _)| *i == si).map(|(_, c)| c);
            let file = display(self.sources[si].path());
            let infos = self.sources[si].tensors(); // disjoint from the task and skipped lists changed below
            let candidates: Vec<usize> = self
                .tasks
                .iter()
                .filter(|t| t.source == si)
                .map(|t| t.tensor)
                .chain(
                    self.skipped
                        .iter()
                        .filter(|s| s.file == file)
                        .filter_map(|s| infos.iter().position(|i| i.name == s.name)),
                )
                .collect();
            let pairing = crate::lora::pair(infos, &candidates, config);
            if pairing.decided.is_empty() && pairing.warnings.is_empty() {
                continue;
            }
            self.tasks.retain(|t| t.source != si || !pairing.decided.contains(&t.tensor));
            self.skipped.retain(|s| s.file != file || !pairing.decided.iter().any(|&ti| infos[ti].name == s.name));
            for (ti, reason) in pairing.skipped {
                let info = &infos[ti];
                self.skipped.push(Skipped {
                    name: info.name.clone(),
                    file: file.clone(),
                    dtype: info.dtype,
                    shape: info.shape.clone(),
                    reason,
                });
            }
            for (lora, rows, cols) in pairing.updates {
                updates += 1;
                self.tasks.push(Task { source: si, tensor: lora.b, rows, cols, gate: None, lora: Some(lora) });
            }
            self.warnings.extend(pairing.warnings);
        }
        if updates > 0 {
            self.warnings.push(format!(
                "{updates} LoRA update{} ΔW = s·B·A analyzed exactly from {} factors (route 'factored'); being low-rank by \
                 construction, they take no Gaussian null and none of the diagnoses of full weights",
                if updates == 1 { "" } else { "s" },
                if updates == 1 { "its" } else { "their" }
            ));
        }
    }

    /// Adds one task per gate for every stacked recurrent weight (PyTorch `weight_ih*`/`weight_hh*`
    /// of LSTM, LSTMCell, GRU, GRUCell, and `w_ih`/`w_hh`), next to the stacked matrix. The number
    /// of gates comes from the recurrent weight `[G·h, h]` (G = 4: LSTM `i f g o`; G = 3: GRU
    /// `r z n`). Returns how many gate matrices were added.
    pub fn split_gates(&mut self) -> usize {
        static RECURRENT: std::sync::LazyLock<Regex> =
            std::sync::LazyLock::new(|| Regex::new(r"^(.*?)(weight_|w_)(ih|hh)(.*)$").expect("valid regex"));
        let mut added = Vec::new();
        for t in self.tasks.iter().filter(|t| t.gate.is_none()) {
            let source = &self.sources[t.source];
            let name = &source.tensors()[t.tensor].name;
            let Some(c) = RECURRENT.captures(name) else { continue };
            let partner = format!("{}{}hh{}", &c[1], &c[2], &c[4]);
            let Some(hh) = source.tensors().iter().find(|i| i.name == partner) else { continue };
            let [rows_hh, h] = hh.shape[..] else { continue };
            let gates: &[&'static str] = match (h > 0).then(|| rows_hh / h) {
                Some(4) if rows_hh == 4 * h => &["i", "f", "g", "o"],
                Some(3) if rows_hh == 3 * h => &["r", "z", "n"],
                _ => continue,
            };
            if t.rows != gates.len() * h || h < 2 {
                continue;
            }
            for (k, label) in gates.iter().enumerate() {
                let gate = Gate { label, first_row: k * h, first_col: 0, columns: false };
                added.push(Task { rows: h, gate: Some(gate), ..t.clone() });
            }
        }
        added.extend(self.keras_gates());
        let n = added.len();
        self.tasks.extend(added);
        n
    }

    /// One task per gate of every Keras recurrent kernel (`…/kernel` and `…/recurrent_kernel` of
    /// an LSTM or GRU cell, `[in, G·u]` and `[u, G·u]`): the gates are stacked along the columns,
    /// `i f c o` (LSTM, G = 4) or `z r h` (GRU, G = 3).
    fn keras_gates(&self) -> Vec<Task> {
        static KERAS: std::sync::LazyLock<Regex> =
            std::sync::LazyLock::new(|| Regex::new(r"^(.*/)(kernel|recurrent_kernel)(:0)?$").expect("valid regex"));
        let mut added = Vec::new();
        for t in self.tasks.iter().filter(|t| t.gate.is_none() && t.lora.is_none()) {
            let source = &self.sources[t.source];
            let name = &source.tensors()[t.tensor].name;
            let Some(c) = KERAS.captures(name) else { continue };
            let partner = format!("{}recurrent_kernel{}", &c[1], c.get(3).map_or("", |m| m.as_str()));
            let Some(recurrent) = source.tensors().iter().find(|i| i.name == partner) else { continue };
            let [u, cols_rec] = recurrent.shape[..] else { continue };
            let gates: &[&'static str] = match (u > 0).then(|| cols_rec / u) {
                Some(4) if cols_rec == 4 * u => &["i", "f", "c", "o"],
                Some(3) if cols_rec == 3 * u => &["z", "r", "h"],
                _ => continue,
            };
            if t.cols != cols_rec || u < 2 {
                continue;
            }
            for (k, label) in gates.iter().enumerate() {
                let gate = Gate { label, first_row: 0, first_col: k * u, columns: true };
                added.push(Task { cols: u, gate: Some(gate), ..t.clone() });
            }
        }
        added
    }

    /// The stored tensor behind a task.
    pub fn info(&self, task: &Task) -> &TensorInfo {
        &self.sources[task.source].tensors()[task.tensor]
    }

    /// Total bytes of tensor data the tasks will read.
    pub fn task_bytes(&self) -> u64 {
        self.tasks.iter().map(|t| self.info(t).byte_len as u64).sum()
    }
}

/// The 2-D shape a tensor is analyzed as (`[d0, d1·d2·…]`, or with more row axes where its
/// format says so: [`TensorInfo::row_axes`]), or why it is not a matrix.
pub fn matrix_shape(info: &TensorInfo) -> Result<(usize, usize), String> {
    if let Some(reason) = &info.not_a_weight {
        return Err(reason.clone());
    }
    if !info.dtype.is_real() {
        return Err(format!(
            "dtype {} is not a floating-point type (F64, F32, F16, BF16 and quantized types are analyzed)",
            info.dtype
        ));
    }
    match info.shape.len() {
        0 => return Err("0-D tensor (a scalar): no matrix".into()),
        1 => return Err("1-D tensor (a bias, norm or vector): no matrix".into()),
        _ => {}
    }
    let split = info.row_axes.clamp(1, info.shape.len() - 1);
    let rows = svdiag_core::numel(&info.shape[..split]).ok_or("shape overflows")?;
    let cols = svdiag_core::numel(&info.shape[split..]).ok_or("shape overflows")?;
    if rows.min(cols) < 2 {
        return Err(format!("{rows}×{cols} matrix has a dimension below 2: its spectrum is a single value or empty"));
    }
    Ok((rows, cols))
}

/// Compares a shard index with what the shards hold.
fn check_index(resolved: &ResolvedInput, sources: &[Box<dyn TensorSource>], warnings: &mut Vec<String>) {
    let Some(map) = &resolved.weight_map else {
        return;
    };
    let mut missing = Vec::new();
    for (name, file) in map {
        let found = sources
            .iter()
            .find(|s| s.path() == file.as_path())
            .is_some_and(|s| s.tensors().iter().any(|t| &t.name == name));
        if !found {
            missing.push(name.as_str());
        }
    }
    if !missing.is_empty() {
        warnings.push(format!(
            "{}: the index lists {} tensor(s) not found in their shard, e.g. '{}'",
            display(&resolved.given),
            missing.len(),
            missing[0]
        ));
    }
    let unlisted: usize = sources
        .iter()
        .flat_map(|s| s.tensors().iter().map(move |t| (s, t)))
        .filter(|(s, t)| map.get(&t.name).is_none_or(|f| f.as_path() != s.path()))
        .count();
    if unlisted > 0 {
        warnings.push(format!(
            "{}: {unlisted} tensor(s) in the shards are not listed in the index (analyzed anyway)",
            display(&resolved.given)
        ));
    }
}

fn display(p: &Path) -> String {
    p.display().to_string()
}
