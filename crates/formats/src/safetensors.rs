//! The safetensors reader: `safetensors` validates the header, `memmap2` serves the data.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use safetensors::tensor::{Dtype as StDtype, SafeTensorError, SafeTensors};
use svdiag_core::Dtype;

use crate::{FormatError, TensorData, TensorInfo, TensorSource};

/// The length prefix of a safetensors file.
const N_LEN: usize = 8;

/// A memory-mapped, validated safetensors file.
#[derive(Debug)]
pub struct SafetensorsFile {
    path: PathBuf,
    map: Mmap,
    tensors: Vec<TensorInfo>,
    ranges: Vec<Range<usize>>,
    metadata: Option<std::collections::BTreeMap<String, String>>,
}

impl SafetensorsFile {
    /// Maps `path` and validates its header: the length prefix, UTF-8 JSON, every tensor's dtype,
    /// shape and offsets, offsets contiguous and covering the data exactly to the end of the file.
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        let map = crate::mmap::map_file(path)?;
        let bad = |reason: String| FormatError::Invalid { path: path.to_path_buf(), format: "safetensors", reason };
        if map.len() < N_LEN {
            return Err(bad(format!("file is {} bytes, too short for the 8-byte header length", map.len())));
        }
        let (header_len, metadata) = SafeTensors::read_metadata(&map).map_err(|e| bad(explain(&e, &map)))?;
        let data_start = N_LEN + header_len;
        let mut entries: Vec<(String, TensorInfo, Range<usize>)> = metadata
            .tensors()
            .into_iter()
            .map(|(name, info)| {
                let (s, e) = info.data_offsets;
                let t = TensorInfo::new(name.clone(), dtype(info.dtype), info.shape.clone(), e - s);
                (name, t, data_start + s..data_start + e)
            })
            .collect();
        entries.sort_by(|a, b| (a.2.start, &a.0).cmp(&(b.2.start, &b.0)));
        let (tensors, ranges) = entries.into_iter().map(|(_, t, r)| (t, r)).unzip();
        let metadata = metadata.metadata().as_ref().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
        Ok(Self { path: path.to_path_buf(), map, tensors, ranges, metadata })
    }

    /// The header's free-form `__metadata__`, if any.
    pub fn metadata(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        self.metadata.as_ref()
    }
}

impl TensorSource for SafetensorsFile {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> &'static str {
        "safetensors"
    }
    fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
    fn read(&self, index: usize) -> Result<TensorData<'_>, FormatError> {
        // ranges were validated against the file length in `open`
        Ok(TensorData::Bytes(Cow::Borrowed(&self.map[self.ranges[index].clone()])))
    }

    fn release(&self, index: usize) {
        crate::mmap::release(&self.map, self.ranges[index].clone());
    }
}

fn dtype(d: StDtype) -> Dtype {
    match d {
        StDtype::F64 => Dtype::F64,
        StDtype::F32 => Dtype::F32,
        StDtype::F16 => Dtype::F16,
        StDtype::BF16 => Dtype::BF16,
        StDtype::BOOL => Dtype::Other("BOOL"),
        StDtype::U8 => Dtype::Other("U8"),
        StDtype::I8 => Dtype::Other("I8"),
        StDtype::I16 => Dtype::Other("I16"),
        StDtype::U16 => Dtype::Other("U16"),
        StDtype::I32 => Dtype::Other("I32"),
        StDtype::U32 => Dtype::Other("U32"),
        StDtype::I64 => Dtype::Other("I64"),
        StDtype::U64 => Dtype::Other("U64"),
        StDtype::C64 => Dtype::Other("C64"),
        StDtype::F8_E5M2 => Dtype::Other("F8_E5M2"),
        StDtype::F8_E4M3 => Dtype::Other("F8_E4M3"),
        StDtype::F8_E8M0 => Dtype::Other("F8_E8M0"),
        StDtype::F8_E4M3FNUZ => Dtype::Other("F8_E4M3FNUZ"),
        StDtype::F8_E5M2FNUZ => Dtype::Other("F8_E5M2FNUZ"),
        StDtype::F4 => Dtype::Other("F4"),
        StDtype::F6_E2M3 => Dtype::Other("F6_E2M3"),
        StDtype::F6_E3M2 => Dtype::Other("F6_E3M2"),
        _ => Dtype::Other("unknown"),
    }
}

/// Turns the crate's terse errors into a sentence that says what is wrong and where.
fn explain(e: &SafeTensorError, buf: &[u8]) -> String {
    let file_len = buf.len();
    let declared = buf.get(..N_LEN).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    match e {
        SafeTensorError::HeaderTooSmall => format!("file is {file_len} bytes, too short for the 8-byte header length"),
        SafeTensorError::HeaderTooLarge => format!(
            "header length field says {} bytes, over the 100 MB limit (not a safetensors file, or corrupt)",
            declared.unwrap_or(0)
        ),
        SafeTensorError::InvalidHeaderLength => format!(
            "header length field says {} bytes but only {} bytes follow it (truncated, or not a safetensors file)",
            declared.unwrap_or(0),
            file_len - N_LEN
        ),
        SafeTensorError::InvalidHeader(err) => format!("header is not valid UTF-8 ({err})"),
        SafeTensorError::InvalidHeaderDeserialization(err) => format!("header is not valid safetensors JSON ({err})"),
        SafeTensorError::InvalidOffset(name) => {
            format!("data offsets of tensor '{name}' overlap, leave a gap or run backwards")
        }
        SafeTensorError::TensorInvalidInfo => match diagnose(buf) {
            Diagnosis::Mismatch { name, declared, needed } => {
                format!("tensor '{name}' declares {declared} bytes of data but its dtype and shape need {needed}")
            }
            _ => "a tensor's byte length does not match its dtype and shape".to_string(),
        },
        SafeTensorError::MetadataIncompleteBuffer => match diagnose(buf) {
            Diagnosis::DataEnd(end) if end > file_len => {
                format!("tensor data should end at byte {end} but the file has {file_len} bytes (truncated)")
            }
            Diagnosis::DataEnd(end) => {
                format!("tensor data ends at byte {end} but the file has {file_len} bytes (trailing bytes)")
            }
            _ => "tensor data does not cover the file exactly (truncated or trailing bytes)".to_string(),
        },
        SafeTensorError::ValidationOverflow => "a tensor's shape or byte size overflows".to_string(),
        SafeTensorError::MisalignedSlice => "a sub-byte tensor does not end on a byte boundary".to_string(),
        other => other.to_string(),
    }
}

enum Diagnosis {
    Mismatch { name: String, declared: u64, needed: u128 },
    DataEnd(usize),
    Unknown,
}

/// Re-reads an already size-checked header loosely, only to name the culprit in an error message.
fn diagnose(buf: &[u8]) -> Diagnosis {
    let Some(n) = buf.get(..N_LEN).and_then(|b| usize::try_from(u64::from_le_bytes(b.try_into().ok()?)).ok()) else {
        return Diagnosis::Unknown;
    };
    let Some(header) = N_LEN.checked_add(n).and_then(|end| buf.get(N_LEN..end)) else {
        return Diagnosis::Unknown;
    };
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice::<serde_json::Value>(header) else {
        return Diagnosis::Unknown;
    };
    let mut max_end = 0u64;
    for (name, v) in &map {
        if name == "__metadata__" {
            continue;
        }
        let offsets = v.get("data_offsets").and_then(|o| o.as_array());
        let (Some(s), Some(e)) = (
            offsets.and_then(|o| o.first()).and_then(|x| x.as_u64()),
            offsets.and_then(|o| o.get(1)).and_then(|x| x.as_u64()),
        ) else {
            continue;
        };
        max_end = max_end.max(e);
        let bytes: u128 = match v.get("dtype").and_then(|d| d.as_str()) {
            Some("F64" | "I64" | "U64" | "C64") => 8,
            Some("F32" | "I32" | "U32") => 4,
            Some("F16" | "BF16" | "I16" | "U16") => 2,
            Some("BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" | "F8_E4M3FNUZ" | "F8_E5M2FNUZ") => 1,
            _ => continue,
        };
        let numel = v
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|s| s.iter().try_fold(1u128, |acc, d| acc.checked_mul(u128::from(d.as_u64()?))));
        if let Some(numel) = numel {
            let needed = numel.saturating_mul(bytes);
            if e >= s && needed != u128::from(e - s) {
                return Diagnosis::Mismatch { name: name.clone(), declared: e - s, needed };
            }
        }
    }
    usize::try_from(max_end).ok().and_then(|e| e.checked_add(N_LEN + n)).map_or(Diagnosis::Unknown, Diagnosis::DataEnd)
}
