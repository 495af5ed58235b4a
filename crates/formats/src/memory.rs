//! Tensors a caller already holds in memory (e.g. NumPy arrays or torch tensors passed from
//! Python), served as borrowed byte slices: nothing is copied, and the slices are checked against
//! their dtype and shape exactly as a file's header is.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use svdiag_core::Dtype;

use crate::{FormatError, Precomputed, TensorData, TensorInfo, TensorSource};

/// One tensor in memory: little-endian, row-major (C order) elements of `dtype`.
#[derive(Debug, Clone)]
pub struct MemoryTensor<'a> {
    /// Its name (a state dict's key).
    pub name: String,
    /// Storage dtype.
    pub dtype: Dtype,
    /// Shape, row-major.
    pub shape: Vec<usize>,
    /// Its data.
    pub data: MemoryData<'a>,
}

/// The data of a tensor in memory.
#[derive(Debug, Clone)]
pub enum MemoryData<'a> {
    /// The elements, exactly `numel(shape) × dtype.size()` bytes.
    Bytes(&'a [u8]),
    /// Only its singular values, computed where its entries are (`shape` must be 2-D, and match them).
    Spectrum(Precomputed),
}

/// A set of tensors in memory, named `label` where a file would be named.
#[derive(Debug)]
pub struct MemorySource<'a> {
    label: PathBuf,
    tensors: Vec<TensorInfo>,
    data: Vec<MemoryData<'a>>,
}

impl<'a> MemorySource<'a> {
    /// Checks every tensor's byte length against its shape and dtype (a dtype without a fixed
    /// element size is refused) and wraps them.
    pub fn new(label: &str, tensors: Vec<MemoryTensor<'a>>) -> Result<Self, FormatError> {
        let mut infos = Vec::with_capacity(tensors.len());
        let mut data = Vec::with_capacity(tensors.len());
        for t in tensors {
            let bad = |reason: String| FormatError::Tensor { path: PathBuf::from(label), name: t.name.clone(), reason };
            let nominal = match (svdiag_core::numel(&t.shape), t.dtype.size()) {
                (Some(n), Some(size)) => n.checked_mul(size),
                (None, _) => return Err(bad(format!("shape {:?} has more elements than memory can hold", t.shape))),
                (_, None) if !t.dtype.is_real() => None, // listed and skipped like in a file
                (_, None) => return Err(bad(format!("dtype {} has no fixed element size in memory", t.dtype))),
            };
            let byte_len = match &t.data {
                MemoryData::Bytes(bytes) => {
                    if nominal.is_some_and(|n| n != bytes.len()) || (nominal.is_none() && t.dtype.is_real()) {
                        return Err(bad(format!(
                            "{} bytes cannot hold a {:?} tensor of {} ({} bytes expected)",
                            bytes.len(),
                            t.shape,
                            t.dtype,
                            nominal.map_or("more".to_string(), |e| e.to_string())
                        )));
                    }
                    bytes.len()
                }
                MemoryData::Spectrum(p) => {
                    // the matrix a stored shape is analyzed as: `[d0, d1·d2·…]` (a conv kernel's too)
                    let (rows, cols) = match t.shape.split_first() {
                        Some((&rows, rest)) if !rest.is_empty() => {
                            (rows, svdiag_core::numel(rest).ok_or_else(|| bad("shape overflows".into()))?)
                        }
                        _ => {
                            return Err(bad(format!(
                                "a spectrum needs a shape of 2 or more dimensions, got {:?}",
                                t.shape
                            )))
                        }
                    };
                    if p.singular_values.len() != rows.min(cols)
                        || p.singular_values.iter().any(|v| !v.is_finite() || *v < 0.0)
                    {
                        return Err(bad(format!("{rows}×{cols} needs {} finite singular values ≥ 0", rows.min(cols))));
                    }
                    nominal.unwrap_or(0) // the size the entries have where they are (progress counts it)
                }
            };
            infos.push(TensorInfo::new(t.name, t.dtype, t.shape, byte_len));
            data.push(t.data);
        }
        Ok(Self { label: PathBuf::from(label), tensors: infos, data })
    }
}

impl TensorSource for MemorySource<'_> {
    fn path(&self) -> &Path {
        &self.label
    }
    fn format(&self) -> &'static str {
        "memory"
    }
    fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
    fn read(&self, index: usize) -> Result<TensorData<'_>, FormatError> {
        Ok(match &self.data[index] {
            MemoryData::Bytes(bytes) => TensorData::Bytes(Cow::Borrowed(bytes)),
            MemoryData::Spectrum(p) => TensorData::Spectrum(p.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_lengths_are_checked_against_shape_and_dtype() {
        let bytes = [0u8; 24];
        let ok =
            MemoryTensor { name: "w".into(), dtype: Dtype::F32, shape: vec![2, 3], data: MemoryData::Bytes(&bytes) };
        let src = MemorySource::new("<memory>", vec![ok.clone()]).unwrap();
        assert_eq!(src.tensors()[0].byte_len, 24);
        assert!(matches!(src.read(0).unwrap(), TensorData::Bytes(b) if b.len() == 24));
        let short = MemoryTensor { shape: vec![2, 4], ..ok.clone() };
        let e = MemorySource::new("<memory>", vec![short]).unwrap_err().to_string();
        assert_eq!(e, "<memory>: tensor 'w': 24 bytes cannot hold a [2, 4] tensor of F32 (32 bytes expected)");
        let huge = MemoryTensor { shape: vec![usize::MAX, 2], ..ok.clone() };
        assert!(MemorySource::new("<memory>", vec![huge]).unwrap_err().to_string().contains("more elements"));
        let p = |values: Vec<f64>| Precomputed {
            singular_values: values,
            l12_norm: 1.0,
            how: "elsewhere".into(),
            route: None,
        };
        let spectrum = MemoryTensor { data: MemoryData::Spectrum(p(vec![2.0, 1.0])), ..ok.clone() };
        let src = MemorySource::new("<memory>", vec![spectrum.clone()]).unwrap();
        assert_eq!(src.tensors()[0].byte_len, 24);
        assert!(matches!(src.read(0).unwrap(), TensorData::Spectrum(q) if q.singular_values == [2.0, 1.0]));
        let wrong = MemoryTensor { data: MemoryData::Spectrum(p(vec![2.0])), ..ok.clone() };
        let e = MemorySource::new("<memory>", vec![wrong]).unwrap_err().to_string();
        assert_eq!(e, "<memory>: tensor 'w': 2×3 needs 2 finite singular values ≥ 0");
        // a conv kernel's spectrum is that of its [d0, d1·d2·…] matrix
        let conv = MemoryTensor { shape: vec![2, 1, 3], ..spectrum.clone() };
        assert!(MemorySource::new("<memory>", vec![conv]).is_ok());
        let conv = MemoryTensor { shape: vec![3, 2, 2], ..spectrum.clone() };
        let e = MemorySource::new("<memory>", vec![conv]).unwrap_err().to_string();
        assert_eq!(e, "<memory>: tensor 'w': 3×4 needs 3 finite singular values ≥ 0");
        let vector = MemoryTensor { shape: vec![6], ..spectrum };
        let e = MemorySource::new("<memory>", vec![vector]).unwrap_err().to_string();
        assert_eq!(e, "<memory>: tensor 'w': a spectrum needs a shape of 2 or more dimensions, got [6]");
    }
}
