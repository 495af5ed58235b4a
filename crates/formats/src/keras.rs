//! Keras weights: HDF5 files (`.h5`, `.weights.h5`) and `.keras` archives, read with the
//! memory-safe HDF5 subset of [`crate::hdf5`] and served from a memory map.
//!
//! Three layouts are recognised:
//! - **Keras 3** (`model.weights.h5`, inside `.keras`, or `save_weights("x.weights.h5")`): a layer's
//!   variables are `layers/<attribute>/vars/<index>`, its user-given name is the `vars` group's
//!   `name` attribute, and the role of each index follows Keras's variable order for the layer's
//!   kind (`dense`: kernel, bias; an RNN `cell`: kernel, recurrent_kernel, bias; …). A tensor is
//!   named by the user names of the layers that hold it and its role: `mha/query/kernel`.
//! - **Legacy full model** (`model.save("x.h5")`): `model_weights/<layer>/<weight name>`, named by
//!   the weight name (`conv1/kernel`, `dense/kernel:0`); the layers' classes come from the
//!   `model_config` attribute.
//! - **Legacy weights only** (Keras 2 `save_weights("x.h5")`): `<layer>/<weight name>`, with the
//!   `layer_names` attribute at the root.
//!
//! Any other HDF5 file's datasets are listed by their paths. Optimizer state saved beside the
//! weights (`optimizer/`, `optimizer_weights/`) is listed as not a weight. bfloat16, which Keras
//! stores as 2-byte opaque elements with a `dtype="bfloat16"` attribute, is read as BF16.
//!
//! Kernels whose output axis is last are analyzed with their leading axes as rows
//! ([`TensorInfo::row_axes`]): convolutions `(kh, kw, in, out)` as `[kh·kw·in, out]`, and the
//! attention output `(heads, head_dim, d)` as `[heads·head_dim, d]`; query, key and value kernels
//! `(d, heads, head_dim)` take the default `[d, heads·head_dim]`.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use svdiag_core::Dtype;

use crate::hdf5::{self, Object, Storage, Type};
use crate::{FormatError, TensorData, TensorInfo, TensorSource};

/// The member of a `.keras` archive that holds the weights.
pub const KERAS_WEIGHTS_MEMBER: &str = "model.weights.h5";

/// A Keras weights file (or any HDF5 file of the supported subset), opened.
pub struct KerasFile {
    path: PathBuf,
    format: &'static str,
    map: Arc<Mmap>,
    tensors: Vec<TensorInfo>,
    data: Vec<Data>,
}

/// Where one tensor's elements are, in the file's coordinates.
enum Data {
    Bytes { range: Range<usize>, swap: Option<usize> },
    Unallocated,
}

impl KerasFile {
    /// Opens an HDF5 file.
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        let map = Arc::new(crate::mmap::map_file(path)?);
        let len = map.len();
        Self::build(path, "keras-hdf5", map, 0..len)
    }

    /// The weights of a `.keras` archive: its `model.weights.h5` member, which Keras stores
    /// uncompressed, served from the archive's memory map.
    pub(crate) fn from_archive(
        path: &Path,
        archive: &crate::archive::Archive,
        member: usize,
    ) -> Result<Self, FormatError> {
        let (map, range) = archive.stored_member(member).ok_or_else(|| FormatError::Invalid {
            path: path.to_path_buf(),
            format: "keras",
            reason: format!(
                "the member '{KERAS_WEIGHTS_MEMBER}' is compressed; Keras stores it uncompressed, and svdiag reads it \
                 only so (in place)"
            ),
        })?;
        Self::build(path, "keras", map, range)
    }

    fn build(path: &Path, format: &'static str, map: Arc<Mmap>, h5: Range<usize>) -> Result<Self, FormatError> {
        let invalid = |reason: String| FormatError::Invalid { path: path.to_path_buf(), format, reason };
        let objects = hdf5::objects(&map[h5.clone()]).map_err(|e| invalid(format!("HDF5: {e}")))?;
        let mut tensors = Vec::new();
        let mut data = Vec::new();
        for (object, info) in describe(&objects) {
            let dataset = object.dataset.as_ref().expect("described objects are datasets");
            // big-endian floats are swapped element by element when read
            let swap = matches!(dataset.ty, Type::Float { big_endian: true, .. }).then(|| dataset.ty.size());
            data.push(match &dataset.storage {
                Storage::Bytes(r) => Data::Bytes { range: h5.start + r.start..h5.start + r.end, swap },
                Storage::Unallocated => Data::Unallocated,
            });
            tensors.push(info);
        }
        Ok(Self { path: path.to_path_buf(), format, map, tensors, data })
    }
}

impl TensorSource for KerasFile {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> &'static str {
        self.format
    }
    fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
    fn read(&self, index: usize) -> Result<TensorData<'_>, FormatError> {
        match &self.data[index] {
            // ranges were checked against the file when it was opened
            Data::Bytes { range, swap: None } => Ok(TensorData::Bytes(Cow::Borrowed(&self.map[range.clone()]))),
            Data::Bytes { range, swap: Some(size) } => {
                let mut bytes = self.map[range.clone()].to_vec();
                bytes.chunks_exact_mut(*size).for_each(<[u8]>::reverse);
                Ok(TensorData::Bytes(Cow::Owned(bytes)))
            }
            Data::Unallocated => Err(FormatError::Invalid {
                path: self.path.clone(),
                format: self.format,
                reason: format!("dataset '{}' was never written (no storage allocated)", self.tensors[index].name),
            }),
        }
    }
    fn release(&self, index: usize) {
        if let Data::Bytes { range, .. } = &self.data[index] {
            crate::mmap::release(&self.map, range.clone());
        }
    }
}

/// The dtype of a dataset. Opaque elements are bfloat16 only where Keras says so ([`describe`]).
fn dtype_of(ty: &Type) -> Dtype {
    match *ty {
        Type::Float { size: 2, .. } => Dtype::F16,
        Type::Float { size: 4, .. } => Dtype::F32,
        Type::Float { .. } => Dtype::F64,
        Type::Opaque { .. } => Dtype::Other("opaque"),
        Type::Int { size, signed } => Dtype::Other(match (size, signed) {
            (1, true) => "I8",
            (1, false) => "U8",
            (2, true) => "I16",
            (2, false) => "U16",
            (4, true) => "I32",
            (4, false) => "U32",
            (_, true) => "I64",
            (_, false) => "U64",
        }),
        Type::FixedString { .. } | Type::VlenString => Dtype::Other("string"),
        Type::Other { class, .. } => Dtype::Other(class),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Keras3,
    LegacyModel,
    LegacyWeights,
    Plain,
}

const OPTIMIZER: &str = "optimizer state saved beside the weights (e.g. Adam's moments, shaped like the kernels): \
                         not a weight of the model";

/// Every dataset of the file, named and described as Keras means it.
fn describe(objects: &[Object]) -> Vec<(&Object, TensorInfo)> {
    let by_path: HashMap<&str, &Object> = objects.iter().map(|o| (o.path.as_str(), o)).collect();
    let root = by_path.get("");
    let layout = if by_path.get("model_weights").is_some_and(|o| o.dataset.is_none()) {
        Layout::LegacyModel
    } else if root.is_some_and(|r| r.attributes.iter().any(|(n, _)| n == "layer_names")) {
        Layout::LegacyWeights
    } else if objects.iter().any(|o| o.dataset.is_some() && o.path.contains("/vars/") || o.path.starts_with("vars/")) {
        Layout::Keras3
    } else {
        Layout::Plain
    };
    let config = match layout {
        Layout::LegacyModel => by_path
            .get("model_weights")
            .and_then(|o| o.text("model_config"))
            .or_else(|| root.and_then(|r| r.text("model_config")))
            .map(layer_classes)
            .unwrap_or_default(),
        _ => HashMap::new(),
    };
    let mut out: Vec<(&Object, TensorInfo)> = Vec::new();
    for object in objects {
        let Some(dataset) = &object.dataset else { continue };
        let path = object.path.as_str();
        let ndim = dataset.shape.len();
        let byte_len = dataset.shape.iter().product::<usize>() * dataset.ty.size();
        let mut info = TensorInfo::new(path.to_string(), dtype_of(&dataset.ty), dataset.shape.clone(), byte_len);
        if path.starts_with("optimizer/") || path.starts_with("optimizer_weights/") {
            info.not_a_weight = Some(OPTIMIZER.to_string());
            out.push((object, info));
            continue;
        }
        let mut bf16 = false;
        let (name, hint) = match layout {
            Layout::Keras3 => keras3_name(path, &by_path),
            Layout::LegacyModel => {
                let rest = path.strip_prefix("model_weights/").and_then(|p| p.split_once('/')).map(|(_, r)| r);
                let name = rest.unwrap_or(path).to_string();
                let layer = name.split('/').next().and_then(|layer| config.get(layer)).cloned().unwrap_or_default();
                // legacy files store a bfloat16 layer's weights as 2-byte opaque elements without
                // the dtype attribute: the layer's dtype policy tells
                bf16 = layer.dtype == "bfloat16";
                (name, layer.class)
            }
            Layout::LegacyWeights => {
                let name = path.split_once('/').map_or(path, |(_, r)| r).to_string();
                (name.clone(), name)
            }
            Layout::Plain => (path.to_string(), String::new()),
        };
        info.row_axes = row_axes(ndim, &hint, &name);
        if ndim >= 2 && (name.ends_with("/bias") || name.ends_with("/bias:0")) {
            // attention layers keep a bias per head: `(heads, head_dim)`
            info.not_a_weight = Some(format!("a bias of shape {:?} (one vector per head): no matrix", dataset.shape));
        }
        info.name = name;
        if matches!(dataset.ty, Type::Opaque { size: 2 }) && (bf16 || object.text("dtype") == Some("bfloat16")) {
            info.dtype = Dtype::BF16;
        }
        out.push((object, info));
    }
    // two datasets may not share a name: those that would are named by their paths
    let mut seen = HashSet::new();
    let duplicated: HashSet<String> =
        out.iter().filter(|(_, i)| !seen.insert(i.name.clone())).map(|(_, i)| i.name.clone()).collect();
    for (object, info) in &mut out {
        if duplicated.contains(&info.name) {
            info.name = object.path.clone();
        }
    }
    out
}

/// A Keras 3 variable's name (`<layer names>/<role>`) and a hint of its layer's kind (the
/// attribute name, e.g. `conv2d_1`, `output_dense`).
fn keras3_name(path: &str, by_path: &HashMap<&str, &Object>) -> (String, String) {
    let Some((owner, index)) = path.rsplit_once("/vars/").or_else(|| path.strip_prefix("vars/").map(|i| ("", i)))
    else {
        return (path.to_string(), String::new());
    };
    let mut names = Vec::new();
    let mut prefix = String::new();
    for part in owner.split('/').filter(|p| !p.is_empty()) {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        if let Some(name) = by_path.get(format!("{prefix}/vars").as_str()).and_then(|o| o.text("name")) {
            names.push(name.to_string());
        }
    }
    let segment = owner.rsplit('/').next().unwrap_or_default();
    let role = variable_role(segment, index).map_or_else(|| index.to_string(), str::to_string);
    let name = if names.is_empty() {
        format!("{}/{role}", owner.replace("layers/", ""))
    } else {
        format!("{}/{role}", names.join("/"))
    };
    (name, segment.to_string())
}

/// The role of variable `index` of a Keras 3 layer, from its attribute name (Keras numbers the
/// variables in the order the layer creates them).
fn variable_role(segment: &str, index: &str) -> Option<&'static str> {
    let kind = segment.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_');
    let kind = if kind.is_empty() { segment } else { kind };
    let roles: &[&str] = if kind == "cell" {
        &["kernel", "recurrent_kernel", "bias"]
    } else if kind.starts_with("separable_conv") {
        &["depthwise_kernel", "pointwise_kernel", "bias"]
    } else if kind.ends_with("dense") || kind.contains("conv") {
        &["kernel", "bias"]
    } else if kind.ends_with("embedding") {
        &["embeddings"]
    } else if kind == "batch_normalization" {
        &["gamma", "beta", "moving_mean", "moving_variance"]
    } else if kind == "layer_normalization" {
        &["gamma", "beta"]
    } else {
        &[]
    };
    index.parse::<usize>().ok().and_then(|i| roles.get(i)).copied()
}

/// How many leading axes are rows: all but the last for kernels whose output axis is last
/// (convolutions, the attention output), else 1.
fn row_axes(ndim: usize, hint: &str, name: &str) -> usize {
    let hint = hint.to_ascii_lowercase();
    let output_last = hint.contains("conv") || hint == "output_dense" || name.contains("attention_output");
    if ndim >= 3 && output_last {
        ndim - 1
    } else {
        1
    }
}

/// A layer of a legacy `model_config`: its class, and its dtype policy's name (`bfloat16`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct LayerConfig {
    class: String,
    dtype: String,
}

/// Layer name → its class and dtype policy, from a legacy `model_config` (JSON; nested models
/// included).
fn layer_classes(config: &str) -> HashMap<String, LayerConfig> {
    fn visit(v: &serde_json::Value, out: &mut HashMap<String, LayerConfig>, depth: usize) {
        if depth > 64 {
            return;
        }
        match v {
            serde_json::Value::Object(m) => {
                if let (Some(class), Some(name)) = (
                    m.get("class_name").and_then(|c| c.as_str()),
                    m.get("config").and_then(|c| c.get("name")).and_then(|n| n.as_str()),
                ) {
                    let config = &m["config"];
                    let dtype =
                        config["dtype"]["config"]["name"].as_str().or(config["dtype"].as_str()).unwrap_or_default();
                    out.entry(name.to_string())
                        .or_insert_with(|| LayerConfig { class: class.to_string(), dtype: dtype.to_string() });
                }
                m.values().for_each(|x| visit(x, out, depth + 1));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| visit(x, out, depth + 1)),
            _ => {}
        }
    }
    let mut out = HashMap::new();
    if let Ok(v) = serde_json::from_str::<serde_json::Value>(config) {
        visit(&v, &mut out, 0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_take_their_roles_in_keras_order() {
        assert_eq!(variable_role("dense_3", "0"), Some("kernel"));
        assert_eq!(variable_role("query_dense", "1"), Some("bias"));
        assert_eq!(variable_role("cell", "1"), Some("recurrent_kernel"));
        assert_eq!(variable_role("conv2d", "0"), Some("kernel"));
        assert_eq!(variable_role("separable_conv2d_1", "1"), Some("pointwise_kernel"));
        assert_eq!(variable_role("embedding", "0"), Some("embeddings"));
        assert_eq!(variable_role("dense", "2"), None);
        assert_eq!(variable_role("custom", "0"), None);
    }

    #[test]
    fn output_last_kernels_take_their_leading_axes_as_rows() {
        assert_eq!(row_axes(4, "conv2d", "c/kernel"), 3);
        assert_eq!(row_axes(3, "Conv1D", "c/kernel"), 2);
        assert_eq!(row_axes(3, "output_dense", "mha/attention_output/kernel"), 2);
        assert_eq!(row_axes(3, "MultiHeadAttention", "mha/attention_output/kernel"), 2);
        assert_eq!(row_axes(3, "query_dense", "mha/query/kernel"), 1);
        assert_eq!(row_axes(2, "conv2d", "c/kernel"), 1);
    }

    #[test]
    fn a_legacy_model_config_gives_the_layer_classes() {
        let config = r#"{"class_name": "Sequential", "config": {"name": "seq", "layers": [
            {"class_name": "Conv2D", "config": {"name": "c1"}},
            {"class_name": "Functional", "config": {"name": "inner", "layers": [{"class_name": "Dense", "config": {"name": "d",
                "dtype": {"class_name": "DTypePolicy", "config": {"name": "bfloat16"}}}}]}}]}}"#;
        let m = layer_classes(config);
        assert_eq!(m["c1"].class, "Conv2D");
        assert_eq!(m["d"].class, "Dense");
        assert_eq!(m["seq"].class, "Sequential");
        assert_eq!(m["d"].dtype, "bfloat16");
        assert_eq!(m["c1"].dtype, "");
    }
}
