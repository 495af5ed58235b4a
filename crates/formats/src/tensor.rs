//! What every reader serves: the tensors of one file, listed, then read one at a time.

use std::borrow::Cow;
use std::path::Path;

use svdiag_core::Dtype;

use crate::FormatError;

/// What a checkpoint says about one tensor, before its data is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    /// Name as stored.
    pub name: String,
    /// Storage dtype.
    pub dtype: Dtype,
    /// Shape as stored (row-major / C order).
    pub shape: Vec<usize>,
    /// Bytes of data the tensor occupies in the file.
    pub byte_len: usize,
    /// How many leading axes index the rows of the matrix the tensor is analyzed as: 1 (the
    /// default, PyTorch's convention `[d0, d1·d2·…]`), or more where the format's convention puts
    /// the output axis last (Keras convolution kernels `(kh, kw, in, out)` are `[kh·kw·in, out]`).
    pub row_axes: usize,
    /// Why the reader knows this is not a weight of the model (e.g. optimizer state saved beside
    /// the weights): listed as skipped with this reason, never analyzed.
    pub not_a_weight: Option<String>,
}

impl TensorInfo {
    /// A tensor with the default matrix convention, to be analyzed if it is a matrix.
    pub fn new(name: String, dtype: Dtype, shape: Vec<usize>, byte_len: usize) -> Self {
        Self { name, dtype, shape, byte_len, row_axes: 1, not_a_weight: None }
    }
}

/// The data of one tensor, as a reader delivers it.
#[derive(Debug)]
pub enum TensorData<'a> {
    /// Little-endian, row-major (C order) elements of the tensor's dtype: borrowed from a memory
    /// map when the file stores them so, owned when the reader had to decompress or reorder them.
    Bytes(Cow<'a, [u8]>),
    /// Values already converted to f64, row-major.
    F64(Vec<f64>),
    /// Quantized blocks (GGUF), row-major, dequantized on demand.
    Quantized(crate::quant::Quantized<'a>),
    /// No entries: the tensor's singular values, computed elsewhere (see [`Precomputed`]).
    Spectrum(Precomputed),
}

/// The singular values of a matrix computed where its entries live (e.g. a Gram matrix and its
/// eigenvalues formed by torch on a GPU, accepted by the Gram route's guard), so that only they
/// reach the analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct Precomputed {
    /// `σ_1 ≥ … ≥ σ_r`, `r = min(rows, cols)` of the matrix as analyzed.
    pub singular_values: Vec<f64>,
    /// `Σ_j ‖W_{:,j}‖₂` of the matrix as analyzed.
    pub l12_norm: f64,
    /// Where and how they were computed (the record's `route_reason`; none when empty).
    pub how: String,
    /// The route that computed them, when it is one of svdiag's own (a spectrum computed on
    /// another machine of a cluster); `None`: the Gram route of a device.
    pub route: Option<svdiag_core::linalg::gram::Route>,
}

/// A checkpoint file opened for reading: its tensors and their data.
pub trait TensorSource: Send + Sync {
    /// The file's path as the user gave it (or as found in a model directory).
    fn path(&self) -> &Path;
    /// Format name, e.g. `safetensors`.
    fn format(&self) -> &'static str;
    /// The tensors, in file order.
    fn tensors(&self) -> &[TensorInfo];
    /// The data of tensor `index` (an index into [`TensorSource::tensors`]). An error here concerns
    /// this tensor only (e.g. a corrupt compressed entry); the other tensors remain readable.
    fn read(&self, index: usize) -> Result<TensorData<'_>, FormatError>;
    /// Tells the reader that tensor `index` will not be read again, so its pages may be dropped
    /// from memory. A hint; the default does nothing.
    fn release(&self, _index: usize) {}
}

/// How files are read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Pickle globals (`module.name`) to decode as opaque data instead of refusing the file
    /// (`--allow-global`). They are never called.
    pub allow_globals: Vec<String>,
}
