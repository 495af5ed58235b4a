//! GGUF (llama.cpp): metadata, tensor infos, and dequantization to f64.
//!
//! GGUF stores dimensions fastest-varying first (`ne[0]` is the row length); svdiag reports shapes
//! in the usual row-major order (`[ne[n-1], …, ne[0]]`, i.e. PyTorch's `[out, in]` for a linear
//! layer), so a matrix is analyzed in the same orientation as the checkpoint it was converted from.
//!
//! Block-quantized types are dequantized exactly as ggml's reference `dequantize_row_*` (and the
//! `gguf` Python package) do, in f32 arithmetic, then widened to f64: the spectra are those of the
//! weights llama.cpp computes with, i.e. of the quantized weights, not of the original ones.
//! Written by hand: the Rust GGUF readers on crates.io either pull in a whole inference framework
//! or do not dequantize the K-quants.

// The dequantizers index elements the way ggml's reference code does (element e of a block);
// iterator chains would hide the correspondence.
#![allow(clippy::needless_range_loop)]

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use half::f16;
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
            tensors.push(TensorInfo { name, dtype: ty.dtype(), shape, byte_len: len });
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
            name => match Quantized::new(name, bytes) {
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

fn h(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// Dequantizes whole blocks of a ggml type to f64, following ggml's `dequantize_row_*` in f32.
/// `None` for types without a dequantizer here. `bytes.len()` is a whole number of blocks.
pub fn dequantize(name: &str, bytes: &[u8]) -> Option<Vec<f64>> {
    Quantized::new(name, bytes).map(|q| q.to_vec())
}

/// One block's dequantizer: the block's bytes to its `block` values.
type BlockFn = fn(&[u8], &mut [f32]);

/// The quantized blocks of a tensor (borrowed from the memory map), dequantized on demand a few
/// blocks at a time: the analysis widens a quantized matrix block by block into its Gram product
/// as it widens the other dtypes, and never holds an f64 copy of the whole tensor.
#[derive(Clone, Copy)]
pub struct Quantized<'a> {
    bytes: &'a [u8],
    name: &'static str,
    /// Elements per block, bytes per block.
    block: usize,
    size: usize,
    f: BlockFn,
}

impl std::fmt::Debug for Quantized<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Quantized({}, {} bytes)", self.name, self.bytes.len())
    }
}

impl<'a> Quantized<'a> {
    /// The whole blocks of `bytes` (a trailing partial block is ignored) of the ggml type `name`;
    /// `None` for a type without a dequantizer here.
    pub fn new(name: &str, bytes: &'a [u8]) -> Option<Self> {
        let (name, block, size, f): (&'static str, usize, usize, BlockFn) = match name {
            "Q4_0" => ("Q4_0", 32, 18, q4_0),
            "Q4_1" => ("Q4_1", 32, 20, q4_1),
            "Q5_0" => ("Q5_0", 32, 22, q5_0),
            "Q5_1" => ("Q5_1", 32, 24, q5_1),
            "Q8_0" => ("Q8_0", 32, 34, q8_0),
            "Q2_K" => ("Q2_K", 256, 84, q2_k),
            "Q3_K" => ("Q3_K", 256, 110, q3_k),
            "Q4_K" => ("Q4_K", 256, 144, q4_k),
            "Q5_K" => ("Q5_K", 256, 176, q5_k),
            "Q6_K" => ("Q6_K", 256, 210, q6_k),
            _ => return None,
        };
        let bytes = &bytes[..bytes.len() / size * size];
        Some(Self { bytes, name, block, size, f })
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        self.bytes.len() / self.size * self.block
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The ggml type's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The bytes of the blocks holding values `range` (for a content hash).
    pub fn block_bytes(&self, range: std::ops::Range<usize>) -> &'a [u8] {
        let first = range.start / self.block;
        let end = range.end.div_ceil(self.block);
        &self.bytes[first * self.size..end * self.size]
    }

    /// Values `start .. start + out.len()` into `out`, dequantizing only the blocks that hold them.
    ///
    /// # Panics
    /// Past [`Self::len`].
    pub fn dequantize_into(&self, start: usize, out: &mut [f64]) {
        assert!(start + out.len() <= self.len(), "values past the end of the quantized tensor");
        let mut y = [0f32; 256];
        let (mut at, end, mut done) = (start, start + out.len(), 0);
        while at < end {
            let (b, offset) = (at / self.block, at % self.block);
            (self.f)(&self.bytes[b * self.size..(b + 1) * self.size], &mut y[..self.block]);
            let take = (self.block - offset).min(end - at);
            for (d, &v) in out[done..done + take].iter_mut().zip(&y[offset..offset + take]) {
                *d = f64::from(v);
            }
            at += take;
            done += take;
        }
    }

    /// Every value, dequantized (for a caller that needs the whole matrix at once).
    pub fn to_vec(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.len()];
        self.dequantize_into(0, &mut out);
        out
    }
}

fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = h(b, 0);
    for j in 0..16 {
        y[j] = d * ((b[2 + j] & 0x0F) as i32 - 8) as f32;
        y[j + 16] = d * ((b[2 + j] >> 4) as i32 - 8) as f32;
    }
}

fn q4_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (h(b, 0), h(b, 2));
    for j in 0..16 {
        y[j] = d * f32::from(b[4 + j] & 0x0F) + m;
        y[j + 16] = d * f32::from(b[4 + j] >> 4) + m;
    }
}

fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = h(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for j in 0..16 {
        let lo = (b[6 + j] & 0x0F) | ((((qh >> j) & 1) as u8) << 4);
        let hi = (b[6 + j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
        y[j] = d * (lo as i32 - 16) as f32;
        y[j + 16] = d * (hi as i32 - 16) as f32;
    }
}

fn q5_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (h(b, 0), h(b, 2));
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    for j in 0..16 {
        let lo = (b[8 + j] & 0x0F) | ((((qh >> j) & 1) as u8) << 4);
        let hi = (b[8 + j] >> 4) | ((((qh >> (j + 16)) & 1) as u8) << 4);
        y[j] = d * f32::from(lo) + m;
        y[j + 16] = d * f32::from(hi) + m;
    }
}

fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = h(b, 0);
    for j in 0..32 {
        y[j] = f32::from(b[2 + j] as i8) * d;
    }
}

fn q2_k(b: &[u8], y: &mut [f32]) {
    let (scales, qs) = (&b[0..16], &b[16..80]);
    let (d, dmin) = (h(b, 80), h(b, 82));
    for e in 0..256 {
        let (chunk, r) = (e / 128, e % 128);
        let (shift, l) = (r / 32, r % 32);
        let sc = scales[e / 16];
        let q = (qs[chunk * 32 + l] >> (2 * shift)) & 3;
        y[e] = (d * f32::from(sc & 0x0F)) * f32::from(q) - dmin * f32::from(sc >> 4);
    }
}

fn q3_k(b: &[u8], y: &mut [f32]) {
    let (hmask, qs, sc) = (&b[0..32], &b[32..96], &b[96..108]);
    let d = h(b, 108);
    let mut scales = [0f32; 16];
    for (k, s) in scales.iter_mut().enumerate() {
        let low = if k < 8 { sc[k] & 0x0F } else { sc[k - 8] >> 4 };
        let high = (sc[8 + k % 4] >> (2 * (k / 4))) & 3;
        *s = f32::from(((low | (high << 4)) as i8).wrapping_sub(32));
    }
    for e in 0..256 {
        let (chunk, r) = (e / 128, e % 128);
        let (shift, l) = (r / 32, r % 32);
        let ql = (qs[chunk * 32 + l] >> (2 * shift)) & 3;
        let hbit = (hmask[e % 32] >> (e / 32)) & 1;
        let q = ql as i8 - if hbit == 1 { 0 } else { 4 };
        y[e] = (d * scales[e / 16]) * f32::from(q);
    }
}

/// The 6-bit scales and mins of Q4_K/Q5_K (ggml `get_scale_min_k4`).
fn scale_min_k4(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let (mut sc, mut mn) = ([0u8; 8], [0u8; 8]);
    for j in 0..4 {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (s[j + 8] & 0x0F) | ((s[j] >> 2) & 0x30);
        mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 2) & 0x30);
    }
    (sc, mn)
}

fn q4_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (h(b, 0), h(b, 2));
    let (sc, mn) = scale_min_k4(&b[4..16]);
    let qs = &b[16..144];
    for e in 0..256 {
        let (chunk, r) = (e / 64, e % 64);
        let (nib, l) = (r / 32, r % 32);
        let q = (qs[chunk * 32 + l] >> (4 * nib)) & 0x0F;
        let g = e / 32;
        y[e] = (d * f32::from(sc[g])) * f32::from(q) - dmin * f32::from(mn[g]);
    }
}

fn q5_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (h(b, 0), h(b, 2));
    let (sc, mn) = scale_min_k4(&b[4..16]);
    let (qh, qs) = (&b[16..48], &b[48..176]);
    for e in 0..256 {
        let (chunk, r) = (e / 64, e % 64);
        let (nib, l) = (r / 32, r % 32);
        let q = ((qs[chunk * 32 + l] >> (4 * nib)) & 0x0F) | (((qh[e % 32] >> (e / 32)) & 1) << 4);
        let g = e / 32;
        y[e] = (d * f32::from(sc[g])) * f32::from(q) - dmin * f32::from(mn[g]);
    }
}

fn q6_k(b: &[u8], y: &mut [f32]) {
    let (ql, qh, sc) = (&b[0..128], &b[128..192], &b[192..208]);
    let d = h(b, 208);
    for e in 0..256 {
        let (chunk, r) = (e / 128, e % 128);
        let low = (ql[chunk * 64 + r % 64] >> (4 * (r / 64))) & 0x0F;
        let high = (qh[chunk * 32 + r % 32] >> (2 * (r / 32))) & 3;
        let q = (low | (high << 4)) as i8 - 32;
        y[e] = (d * f32::from(sc[e / 16] as i8)) * f32::from(q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Any range of values, across block edges, is what dequantizing every block gives there; a
    /// type without a dequantizer is `None`.
    #[test]
    fn ranges_dequantize_only_their_blocks_to_the_same_values() {
        for (name, size) in [("Q5_0", 22), ("Q8_0", 34), ("Q4_K", 144), ("Q6_K", 210)] {
            let blocks = 5;
            let mut bytes: Vec<u8> = (0..blocks * size).map(|i| (i * 37 % 251) as u8).collect();
            for b in 0..blocks {
                // finite f16 scales (0.01) wherever the type keeps one at the block's start or end
                for at in [0, 2, size - 2] {
                    bytes[b * size + at..b * size + at + 2].copy_from_slice(&f16::from_f32(0.01).to_le_bytes());
                }
            }
            bytes.extend([7, 7, 7]); // a trailing partial block is not a block
            let q = Quantized::new(name, &bytes).unwrap();
            let all = q.to_vec();
            assert_eq!(all.len(), q.len());
            assert_eq!(q.len(), blocks * if size > 40 { 256 } else { 32 });
            for (start, len) in [(0, 1), (3, 40), (31, 2), (q.len() - 5, 5), (17, q.len() - 17), (0, 0)] {
                let mut out = vec![f64::NAN; len];
                q.dequantize_into(start, &mut out);
                assert_eq!(out, all[start..start + len], "{name} {start}+{len}");
            }
            let block = q.len() / blocks;
            assert_eq!(q.block_bytes(block - 1..block + 1).len(), 2 * size);
        }
        assert!(Quantized::new("IQ2_XXS", &[0; 66]).is_none());
        assert!(dequantize("TQ1_0", &[0; 54]).is_none());
    }
}
