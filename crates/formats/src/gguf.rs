//! GGUF (llama.cpp): metadata and tensor infos; quantized tensors are dequantized by
//! [`crate::quant`].
//!
//! GGUF stores dimensions fastest-varying first (`ne[0]` is the row length); svdiag reports shapes
//! in the usual row-major order (`[ne[n-1], …, ne[0]]`, i.e. PyTorch's `[out, in]` for a linear
//! layer), so a matrix is analyzed in the same orientation as the checkpoint it was converted from.
//!
//! Written by hand: the Rust GGUF readers on crates.io either pull in a whole inference framework
//! or do not dequantize the K-quants.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use svdiag_core::Dtype;

use crate::{FormatError, TensorData, TensorInfo, TensorSource};

const MAX_TENSORS: u64 = 1 << 20;
const MAX_KV: u64 = 1 << 20;
const MAX_DIMS: u32 = 4;
const MAX_ARRAY_DEPTH: usize = 8;
const DEFAULT_ALIGNMENT: u64 = 32;

/// A ggml tensor type: its name, elements per block and bytes per block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GgmlType {
    /// ggml's number for the type.
    pub id: u32,
    /// ggml's name (`Q4_K`, `F16`, …).
    pub name: &'static str,
    /// Elements per block (1 for plain types).
    pub block: usize,
    /// Bytes per block.
    pub bytes: usize,
}

/// ggml's type table (ggml.c `type_traits`); dequantization exists for the ones [`dequantize`]
/// handles, the others are listed so that they can be named in errors.
const TYPES: &[(u32, &str, usize, usize)] = &[
    (0, "F32", 1, 4),
    (1, "F16", 1, 2),
    (2, "Q4_0", 32, 18),
    (3, "Q4_1", 32, 20),
    (6, "Q5_0", 32, 22),
    (7, "Q5_1", 32, 24),
    (8, "Q8_0", 32, 34),
    (9, "Q8_1", 32, 36),
    (10, "Q2_K", 256, 84),
    (11, "Q3_K", 256, 110),
    (12, "Q4_K", 256, 144),
    (13, "Q5_K", 256, 176),
    (14, "Q6_K", 256, 210),
    (15, "Q8_K", 256, 292),
    (16, "IQ2_XXS", 256, 66),
    (17, "IQ2_XS", 256, 74),
    (18, "IQ3_XXS", 256, 98),
    (19, "IQ1_S", 256, 50),
    (20, "IQ4_NL", 32, 18),
    (21, "IQ3_S", 256, 110),
    (22, "IQ2_S", 256, 82),
    (23, "IQ4_XS", 256, 136),
    (24, "I8", 1, 1),
    (25, "I16", 1, 2),
    (26, "I32", 1, 4),
    (27, "I64", 1, 8),
    (28, "F64", 1, 8),
    (29, "IQ1_M", 256, 56),
    (30, "BF16", 1, 2),
    (34, "TQ1_0", 256, 54),
    (35, "TQ2_0", 256, 66),
    (39, "MXFP4", 32, 17),
];

impl GgmlType {
    fn from_id(id: u32) -> Option<Self> {
        TYPES.iter().find(|t| t.0 == id).map(|&(id, name, block, bytes)| Self { id, name, block, bytes })
    }

    fn dtype(self) -> Dtype {
        match self.name {
            "F32" => Dtype::F32,
            "F16" => Dtype::F16,
            "BF16" => Dtype::BF16,
            "F64" => Dtype::F64,
            "I8" | "I16" | "I32" | "I64" => Dtype::Other(self.name),
            q => Dtype::Quantized(q),
        }
    }
}

struct Entry {
    ty: GgmlType,
    /// Absolute byte range in the file.
    start: usize,
    len: usize,
}

/// A memory-mapped GGUF file.
pub struct GgufFile {
    path: PathBuf,
    map: Mmap,
    entries: Vec<Entry>,
    tensors: Vec<TensorInfo>,
    /// `general.architecture`, when present.
    pub architecture: Option<String>,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n).map_err(|_| "length overflows".to_string())?;
        match self.pos.checked_add(n).filter(|&e| e <= self.buf.len()) {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(format!("needs {n} bytes at offset {}, the file ends first (truncated?)", self.pos)),
        }
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4")))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8")))
    }
    fn string(&mut self) -> Result<String, String> {
        let n = self.u64()?;
        let b = self.take(n)?;
        std::str::from_utf8(b).map(str::to_string).map_err(|_| format!("string at offset {} is not UTF-8", self.pos))
    }
    fn remaining(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    /// Skips (or reads, for the few keys svdiag uses) one metadata value of type `ty`.
    fn value(&mut self, ty: u32, depth: usize) -> Result<Meta, String> {
        Ok(match ty {
            0 | 1 | 7 => Meta::Int(u64::from(self.take(1)?[0])),
            2 | 3 => {
                self.take(2)?;
                Meta::Other
            }
            4 => Meta::Int(u64::from(self.u32()?)),
            5 | 6 => {
                self.take(4)?;
                Meta::Other
            }
            10 => Meta::Int(self.u64()?),
            11 | 12 => {
                self.take(8)?;
                Meta::Other
            }
            8 => Meta::Str(self.string()?),
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err("metadata arrays nested too deeply".into());
                }
                let elem = self.u32()?;
                let count = self.u64()?;
                // every element takes at least one byte (strings eight): a count beyond the file is a lie
                if count > self.remaining() {
                    return Err(format!("metadata array of {count} elements is longer than the file"));
                }
                for _ in 0..count {
                    self.value(elem, depth + 1)?;
                }
                Meta::Other
            }
            other => return Err(format!("unknown metadata value type {other}")),
        })
    }
}

enum Meta {
    Int(u64),
    Str(String),
    Other,
}

impl GgufFile {
    /// Maps and validates a GGUF file: header, metadata, tensor infos, alignment and data ranges.
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        let map = crate::mmap::map_file(path)?;
        let bad = |reason: String| FormatError::Invalid { path: path.to_path_buf(), format: "GGUF", reason };
        let mut c = Cursor { buf: &map, pos: 0 };
        if c.take(4).map_err(&bad)? != b"GGUF" {
            return Err(bad("missing the GGUF magic".into()));
        }
        let version = c.u32().map_err(&bad)?;
        if !(2..=3).contains(&version) {
            return Err(bad(format!("GGUF version {version} is not supported (2 and 3 are)")));
        }
        let n_tensors = c.u64().map_err(&bad)?;
        let n_kv = c.u64().map_err(&bad)?;
        if n_tensors > MAX_TENSORS || n_tensors > c.remaining() {
            return Err(bad(format!("{n_tensors} tensors declared, more than the file can hold")));
        }
        if n_kv > MAX_KV || n_kv > c.remaining() {
            return Err(bad(format!("{n_kv} metadata entries declared, more than the file can hold")));
        }
        let mut alignment = DEFAULT_ALIGNMENT;
        let mut architecture = None;
        for _ in 0..n_kv {
            let key = c.string().map_err(&bad)?;
            let ty = c.u32().map_err(&bad)?;
            let v = c.value(ty, 0).map_err(|e| bad(format!("metadata '{key}': {e}")))?;
            match (key.as_str(), v) {
                ("general.alignment", Meta::Int(a)) => alignment = a,
                ("general.architecture", Meta::Str(s)) => architecture = Some(s),
                _ => {}
            }
        }
        if alignment == 0 || !alignment.is_power_of_two() || alignment > 1 << 20 {
            return Err(bad(format!("alignment {alignment} is not a power of two up to 1 MiB")));
        }
        let mut infos = Vec::with_capacity(n_tensors as usize);
        for _ in 0..n_tensors {
            let name = c.string().map_err(&bad)?;
            let n_dims = c.u32().map_err(&bad)?;
            if n_dims > MAX_DIMS {
                return Err(bad(format!("tensor '{name}' has {n_dims} dimensions (GGUF allows {MAX_DIMS})")));
            }
            let mut ne = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                let d = c.u64().map_err(&bad)?;
                ne.push(usize::try_from(d).map_err(|_| bad(format!("tensor '{name}': dimension {d} overflows")))?);
            }
            let ty_id = c.u32().map_err(&bad)?;
            let offset = c.u64().map_err(&bad)?;
            infos.push((name, ne, ty_id, offset));
        }
        let data_start = (c.pos as u64).div_ceil(alignment) * alignment;
        let data_len = (map.len() as u64).saturating_sub(data_start);
        let mut entries = Vec::with_capacity(infos.len());
        let mut tensors = Vec::with_capacity(infos.len());
        for (name, ne, ty_id, offset) in infos {
            let ty = GgmlType::from_id(ty_id)
                .ok_or_else(|| bad(format!("tensor '{name}' has unknown ggml type {ty_id}")))?;
            let numel = svdiag_core::numel(&ne);
            let row = ne.first().copied().unwrap_or(1);
            if row % ty.block != 0 {
                return Err(bad(format!(
                    "tensor '{name}': row length {row} is not a multiple of the {} block size {}",
                    ty.name, ty.block
                )));
            }
            let len = numel
                .and_then(|n| (n / ty.block).checked_mul(ty.bytes))
                .ok_or_else(|| bad(format!("tensor '{name}': shape {ne:?} overflows")))?;
            if offset % alignment != 0 {
                return Err(bad(format!("tensor '{name}': data offset {offset} is not aligned to {alignment}")));
            }
            // the data section itself may start past the end of a truncated file (found by fuzzing)
            if data_start > map.len() as u64 || offset.checked_add(len as u64).is_none_or(|end| end > data_len) {
                return Err(bad(format!(
                    "tensor '{name}': {len} bytes at data offset {offset} run past the end of the file ({data_len} data bytes)"
                )));
            }
            let start = (data_start + offset) as usize;
            let shape: Vec<usize> = ne.iter().rev().copied().collect();
            tensors.push(TensorInfo::new(name, ty.dtype(), shape, len));
            entries.push(Entry { ty, start, len });
        }
        Ok(Self { path: path.to_path_buf(), map, entries, tensors, architecture })
    }
}

impl TensorSource for GgufFile {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> &'static str {
        "gguf"
    }
    fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
    fn read(&self, index: usize) -> Result<TensorData<'_>, FormatError> {
        let e = &self.entries[index];
        let bytes = &self.map[e.start..e.start + e.len];
        match e.ty.name {
            "F32" | "F16" | "BF16" | "F64" | "I8" | "I16" | "I32" | "I64" => Ok(TensorData::Bytes(Cow::Borrowed(bytes))),
            name => match crate::quant::Quantized::new(name, bytes) {
                Some(q) => Ok(TensorData::Quantized(q)),
                None => Err(FormatError::Tensor {
                    path: self.path.clone(),
                    name: self.tensors[index].name.clone(),
                    reason: format!("unsupported quantization {name} (svdiag dequantizes Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)"),
                }),
            },
        }
    }
    fn release(&self, index: usize) {
        let e = &self.entries[index];
        crate::mmap::release(&self.map, e.start..e.start + e.len);
    }
}
