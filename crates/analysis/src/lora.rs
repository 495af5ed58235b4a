//! PEFT LoRA adapters, as planned: each module's factor pair `lora_A` (`r × in`) and `lora_B`
//! (`out × r`) is one update `ΔW = s·B·A` (`s = lora_alpha/r`, or `lora_alpha/√r` with rsLoRA;
//! per-module `r` and `lora_alpha` from `rank_pattern`/`alpha_pattern`). What is not a LoRA pair
//! (DoRA magnitudes, other adapter types, unmatched or mismatched factors, factors without a
//! config) is listed as skipped with the reason, never misread as a weight. A pure function of the
//! tensor list and the config; [`crate::adapter`] measures the updates.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use svdiag_formats::adapter::AdapterConfig;
use svdiag_formats::TensorInfo;

/// How a module's factors make its update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoraKind {
    /// A linear or conv layer: `ΔW = s·B·A` (`[out, in·kh·kw]`).
    Linear,
    /// A linear layer whose base stores its weight transposed (`fan_in_fan_out`, `Conv1D`):
    /// `ΔW = (s·B·A)ᵀ` (`[in, out]`).
    Transposed,
    /// An embedding: `lora_embedding_A` (`r × vocab`), `lora_embedding_B` (`dim × r`),
    /// `ΔW = (s·B·A)ᵀ` (`[vocab, dim]`).
    Embedding,
}

/// A planned LoRA update.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraTask {
    /// The name of the base weight it updates (`<module>.weight`).
    pub name: String,
    /// The tensor indices of `lora_A` and `lora_B` in the task's file.
    pub a: usize,
    /// See [`LoraTask::a`].
    pub b: usize,
    /// How the factors combine.
    pub kind: LoraKind,
    /// The rank `r`.
    pub rank: usize,
    /// The scale `s`.
    pub scale: f64,
    /// The shape of the base weight the update has.
    pub shape: Vec<usize>,
}

/// `<module>.<kind>[.<adapter name>]` after `base_model.model.` and before an optional `.weight`.
static FACTOR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:base_model\.model\.)?(.+)\.(lora_A|lora_B|lora_embedding_A|lora_embedding_B|lora_magnitude_vector)(?:\.([^.]+))?$")
        .expect("valid regex")
});

/// The factor kinds a name can end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Factor {
    A,
    B,
    EmbeddingA,
    EmbeddingB,
    Magnitude,
}

/// The module, the factor and the adapter name (empty when saved without one) of a LoRA tensor name.
fn factor_name(name: &str) -> Option<(String, Factor, String)> {
    let bare = name.strip_suffix(".weight").unwrap_or(name);
    let c = FACTOR.captures(bare)?;
    let factor = match &c[2] {
        "lora_A" => Factor::A,
        "lora_B" => Factor::B,
        "lora_embedding_A" => Factor::EmbeddingA,
        "lora_embedding_B" => Factor::EmbeddingB,
        _ => Factor::Magnitude,
    };
    Some((c[1].to_string(), factor, c.get(3).map_or(String::new(), |m| m.as_str().to_string())))
}

/// The rank and alpha PEFT gives `module`: the first `rank_pattern`/`alpha_pattern` key that
/// matches the end of its name (`^(.*\.)?(KEY)$`, as PEFT matches it), else the defaults.
fn rank_and_alpha(config: &AdapterConfig, module: &str) -> Result<(usize, f64), String> {
    fn first<T: Copy>(patterns: &[(String, T)], module: &str, what: &str) -> Result<Option<T>, String> {
        for (key, value) in patterns {
            let re = Regex::new(&format!(r"^(?:.*\.)?(?:{key})$"))
                .map_err(|e| format!("{what} key '{key}' is not a pattern: {e}"))?;
            if re.is_match(module) {
                return Ok(Some(*value));
            }
        }
        Ok(None)
    }
    let rank = first(&config.rank_pattern, module, "rank_pattern")?.unwrap_or(config.r);
    let alpha = first(&config.alpha_pattern, module, "alpha_pattern")?.unwrap_or(config.lora_alpha);
    Ok((rank, alpha))
}

/// What [`pair`] decided for one file's tensors.
#[derive(Debug, Default)]
pub(crate) struct Pairing {
    /// The updates, with their matrix shapes (rows, cols); `b` is the task's tensor.
    pub updates: Vec<(LoraTask, usize, usize)>,
    /// Tensors not analyzed, with the reason.
    pub skipped: Vec<(usize, String)>,
    /// Every tensor index decided here (the caller drops its earlier plan for them).
    pub decided: Vec<usize>,
    /// Notes for the run.
    pub warnings: Vec<String>,
}

/// Pairs the LoRA factors among `candidates` (tensor indices of one file, those the filter kept)
/// with `config`, the adapter config of that file, if any.
pub(crate) fn pair(infos: &[TensorInfo], candidates: &[usize], config: Option<&AdapterConfig>) -> Pairing {
    let mut out = Pairing::default();
    let Some(config) = config else {
        // LoRA factors without a config: the scale (and so the update) is unknown
        for &ti in candidates.iter().filter(|&&ti| factor_name(&infos[ti].name).is_some()) {
            out.decided.push(ti);
            out.skipped.push((
                ti,
                format!(
                    "LoRA factor without an {} beside this file to give its update's scale: analyze the adapter's directory with its config",
                    svdiag_formats::adapter::CONFIG
                ),
            ));
        }
        return out;
    };
    if config.peft_type != "LORA" {
        let reason = format!(
            "tensor of an adapter of type {} ({}): svdiag analyzes LoRA adapters (ΔW = s·B·A), not {}",
            config.peft_type,
            config.path.display(),
            config.peft_type
        );
        out.decided = candidates.to_vec();
        out.skipped = candidates.iter().map(|&ti| (ti, reason.clone())).collect();
        return out;
    }
    let mut groups: BTreeMap<(String, String), BTreeMap<Factor, usize>> = BTreeMap::new();
    for &ti in candidates {
        if let Some((module, factor, adapter)) = factor_name(&infos[ti].name) {
            groups.entry((module, adapter)).or_default().insert(factor, ti);
            out.decided.push(ti);
        }
    }
    for ((module, adapter), factors) in groups {
        if let Some(&ti) = factors.get(&Factor::Magnitude) {
            out.skipped.push((
                ti,
                "DoRA magnitude vector: it rescales each column of the merged weight W + s·B·A, so it is \
                 not a matrix; this module's LoRA pair is analyzed as s·B·A, the update before that rescaling"
                    .into(),
            ));
        }
        let get = |f| factors.get(&f).copied();
        let (a, b, embedding) = match (get(Factor::A), get(Factor::B), get(Factor::EmbeddingA), get(Factor::EmbeddingB))
        {
            (Some(a), Some(b), None, None) => (a, b, false),
            (None, None, Some(a), Some(b)) => (a, b, true),
            (None, None, None, None) => continue,
            _ => {
                for (&f, &ti) in factors.iter().filter(|(f, _)| **f != Factor::Magnitude) {
                    let (a, b) = if matches!(f, Factor::EmbeddingA | Factor::EmbeddingB) {
                        ("lora_embedding_A", "lora_embedding_B")
                    } else {
                        ("lora_A", "lora_B")
                    };
                    out.skipped.push((
                        ti,
                        format!(
                            "LoRA factor without its partner: module '{module}' needs both {a} and {b} in this file"
                        ),
                    ));
                }
                continue;
            }
        };
        match lora_task(config, &module, &adapter, &infos[a], &infos[b], a, b, embedding) {
            Ok(update) => out.updates.push(update),
            Err(reason) => {
                out.skipped.push((a, reason.clone()));
                out.skipped.push((b, reason));
            }
        }
    }
    if config.use_dora {
        out.warnings.push(format!(
            "{}: a DoRA adapter; each update is analyzed as s·B·A, before the learned magnitudes rescale the merged weight's columns",
            config.path.display()
        ));
    }
    out
}

/// The task of one factor pair, with the update's matrix shape, or why the pair cannot be one.
#[allow(clippy::too_many_arguments)]
fn lora_task(
    config: &AdapterConfig,
    module: &str,
    adapter: &str,
    a: &TensorInfo,
    b: &TensorInfo,
    ai: usize,
    bi: usize,
    embedding: bool,
) -> Result<(LoraTask, usize, usize), String> {
    for f in [a, b] {
        if !f.dtype.is_real() {
            return Err(format!("LoRA factor '{}' has dtype {}, not a floating-point type", f.name, f.dtype));
        }
    }
    let shapes = || format!("lora_A {:?}, lora_B {:?}", a.shape, b.shape);
    let (rank, rows, cols, shape, kind) = if embedding {
        let (&[r, vocab], &[dim, rb]) = (&a.shape[..], &b.shape[..]) else {
            return Err(format!("embedding LoRA factors must be 2-D ({})", shapes()));
        };
        if r != rb {
            return Err(format!("the factors' ranks differ ({})", shapes()));
        }
        (r, vocab, dim, vec![vocab, dim], LoraKind::Embedding)
    } else {
        if a.shape.len() < 2 || b.shape.len() < 2 || b.shape[2..].iter().any(|&d| d != 1) {
            return Err(format!("lora_A must be [r, in, …] and lora_B [out, r, 1, …] ({})", shapes()));
        }
        let (r, out) = (a.shape[0], b.shape[0]);
        if b.shape[1] != r {
            return Err(format!("the factors' ranks differ ({})", shapes()));
        }
        let inner = svdiag_core::numel(&a.shape[1..]).ok_or("shape overflows")?;
        if config.fan_in_fan_out {
            (r, inner, out, vec![inner, out], LoraKind::Transposed)
        } else {
            let shape = std::iter::once(out).chain(a.shape[1..].iter().copied()).collect();
            (r, out, inner, shape, LoraKind::Linear)
        }
    };
    let (configured, alpha) = rank_and_alpha(config, module)?;
    if rank != configured {
        return Err(format!(
            "the factors have rank {rank}, but {} gives module '{module}' r = {configured}",
            config.path.display()
        ));
    }
    if rows.min(cols) < 2 {
        return Err(format!("the update is {rows}×{cols}: a dimension below 2"));
    }
    let name = if adapter.is_empty() { format!("{module}.weight") } else { format!("{module}.weight[{adapter}]") };
    let task = LoraTask { name, a: ai, b: bi, kind, rank, scale: config.scale(rank, alpha), shape };
    Ok((task, rows, cols))
}
