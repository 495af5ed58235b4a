//! `svdiag ablate`: a copy of a safetensors checkpoint with one decile of singular values removed
//! from the selected matrices (docs/metrics.md §11), for perplexity studies in any evaluation harness.
//!
//! The copy keeps every tensor's name, dtype, shape and position; tensors that are not selected are
//! copied byte for byte; a selected matrix becomes `Σ_{i ∉ decile} σ_i u_i v_iᵀ` (its f64 thin
//! SVD), rounded back to its own dtype. The header's `__metadata__` is kept, with
//! `svdiag_ablation` added to say what was done.

use std::io::Write;
use std::ops::Range;
use std::path::Path;

use svdiag_core::{CoreError, Matrix, Role, TensorIdentity};
use svdiag_formats::safetensors::SafetensorsFile;
use svdiag_formats::{FormatError, TensorData, TensorSource};

/// What to remove, and where.
#[derive(Debug, Clone)]
pub struct AblateOptions {
    /// The decile of singular values to zero, `1..=10` (1 = the largest tenth).
    pub decile: u8,
    /// Only matrices of these roles (empty: every role).
    pub roles: Vec<Role>,
    /// Only tensors whose name matches.
    pub filter: Option<regex::Regex>,
}

/// One ablated matrix.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Ablated {
    /// Tensor name.
    pub name: String,
    /// `[m, n]` as decomposed.
    pub matrix_shape: [usize; 2],
    /// Rank positions zeroed (0-based, largest first).
    pub zeroed: Range<usize>,
}

/// What `ablate` wrote.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Ablation {
    /// The ablated matrices, in file order.
    pub ablated: Vec<Ablated>,
    /// Tensors copied unchanged.
    pub copied: usize,
}

/// Why an ablation could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SurgeryError {
    /// The input could not be read.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A selected matrix could not be decomposed (NaN/Inf, …).
    #[error("{name}: {source}")]
    Matrix {
        /// Tensor name.
        name: String,
        /// The reason.
        source: CoreError,
    },
    /// The input is a checkpoint of another format.
    #[error(
        "{path}: ablate copies safetensors checkpoints, and this is a {format} file (convert it to safetensors first)"
    )]
    NotSafetensors {
        /// The input.
        path: String,
        /// Its format.
        format: &'static str,
    },
    /// A tensor's dtype has no safetensors name to write back.
    #[error("{0}: dtype cannot be written back to safetensors")]
    Dtype(String),
    /// Writing failed.
    #[error("cannot write the ablated checkpoint: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads the safetensors file at `input` and writes the ablated copy to `out`.
pub fn ablate(input: &Path, options: &AblateOptions, out: &mut impl Write) -> Result<Ablation, SurgeryError> {
    // recognise the format by content first, so that another format gets a plain answer
    let format = svdiag_formats::open(input)?.format();
    if format != "safetensors" {
        return Err(SurgeryError::NotSafetensors { path: input.display().to_string(), format });
    }
    let file = SafetensorsFile::open(input)?;
    let tensors = file.tensors();
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    let mut selected = Vec::with_capacity(tensors.len());
    for t in tensors {
        if matches!(t.dtype, svdiag_core::Dtype::Other("unknown")) {
            return Err(SurgeryError::Dtype(t.name.clone()));
        }
        let identity = TensorIdentity::from_name(&t.name, t.shape.len());
        let wanted = crate::matrix_shape(t).is_ok()
            && (options.roles.is_empty() || options.roles.contains(&identity.role))
            && options.filter.as_ref().is_none_or(|f| f.is_match(&t.name));
        selected.push(wanted);
        header.insert(
            t.name.clone(),
            serde_json::json!({"dtype": t.dtype.name(), "shape": t.shape, "data_offsets": [offset, offset + t.byte_len]}),
        );
        offset += t.byte_len;
    }
    let mut metadata: serde_json::Map<String, serde_json::Value> =
        file.metadata().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone().into())).collect();
    let roles: Vec<&str> = options.roles.iter().map(|r| r.name()).collect();
    metadata.insert(
        "svdiag_ablation".into(),
        format!(
            "decile {} of the singular values zeroed in {} by svdiag {}",
            options.decile,
            if roles.is_empty() { "every matrix".to_string() } else { format!("roles {}", roles.join(",")) },
            env!("CARGO_PKG_VERSION")
        )
        .into(),
    );
    header.insert("__metadata__".into(), serde_json::Value::Object(metadata));
    let mut h = serde_json::to_vec(&header).expect("JSON of strings and numbers");
    h.resize(h.len().next_multiple_of(8), b' ');
    out.write_all(&(h.len() as u64).to_le_bytes())?;
    out.write_all(&h)?;

    let mut report = Ablation::default();
    for (i, t) in tensors.iter().enumerate() {
        let data = file.read(i)?;
        let TensorData::Bytes(bytes) = data else { unreachable!("safetensors reads bytes") };
        if selected[i] {
            let (m, n) = crate::matrix_shape(t).expect("selected matrices have a shape");
            let err = |source| SurgeryError::Matrix { name: t.name.clone(), source };
            let w = Matrix::from_le_bytes(&bytes, t.dtype, m, n).map_err(err)?;
            let (values, zeroed) = svdiag_core::surgery::zero_decile(&w, options.decile).map_err(err)?;
            out.write_all(&t.dtype.narrow_le(&values).map_err(|e| err(e.into()))?)?;
            report.ablated.push(Ablated { name: t.name.clone(), matrix_shape: [m, n], zeroed });
        } else {
            out.write_all(&bytes)?;
            report.copied += 1;
        }
        file.release(i);
    }
    out.flush()?;
    Ok(report)
}
