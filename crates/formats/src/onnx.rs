//! ONNX models: graph initializers and `Constant` nodes holding tensors; `raw_data`, the packed
//! typed fields (`float_data`, `double_data`, `int32_data` for float16/bfloat16) and external data
//! files next to the model.
//!
//! The protobuf is decoded by hand, lazily, over the memory map: only the byte ranges of tensor
//! data are recorded, so a model is never copied into memory. (A generated `prost` decoder would
//! materialize every tensor of the model at once.) Every length is checked against the bytes that
//! remain; external data paths must stay inside the model's directory.

use std::borrow::Cow;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use memmap2::Mmap;
use svdiag_core::Dtype;

use crate::{FormatError, TensorData, TensorInfo, TensorSource};

const MAX_DIMS: usize = 64;
const MAX_TENSORS: usize = 1 << 20;
const MAX_EXTERNAL_FILES: usize = 1 << 16;

/// Where a tensor's elements are.
#[derive(Debug, Clone)]
enum Loc {
    /// Little-endian elements in the model file (`raw_data`, or packed `float_data`/`double_data`).
    Model(Range<usize>),
    /// Packed varints holding 16-bit patterns (`int32_data` of FLOAT16/BFLOAT16).
    Varint16(Range<usize>),
    /// Little-endian elements in an external data file.
    External { file: usize, range: Range<usize> },
    /// Not readable, with the reason (reported when the tensor is read).
    Unreadable(String),
}

/// An opened ONNX model.
pub struct OnnxFile {
    path: PathBuf,
    map: Mmap,
    external: Vec<(PathBuf, Mmap)>,
    locs: Vec<Loc>,
    tensors: Vec<TensorInfo>,
}

/// A protobuf wire-format reader over a byte slice.
struct Wire<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Absolute offset of `buf[0]` in the file.
    base: usize,
}

enum Field<'a> {
    Varint(u64),
    Fixed64,
    Fixed32,
    /// Bytes and their absolute range in the file.
    Bytes(&'a [u8], Range<usize>),
}

impl<'a> Wire<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }
    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint longer than 10 bytes".into())
    }
    /// The next `(field number, value)`, or `None` at the end.
    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>, String> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (num, ty) = (key >> 3, key & 7);
        let field = match ty {
            0 => Field::Varint(self.varint()?),
            1 => {
                self.skip(8)?;
                Field::Fixed64
            }
            5 => {
                self.skip(4)?;
                Field::Fixed32
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| "length overflows")?;
                let start = self.pos;
                self.skip(len)?;
                Field::Bytes(&self.buf[start..start + len], self.base + start..self.base + start + len)
            }
            other => return Err(format!("unsupported protobuf wire type {other} (field {num})")),
        };
        Ok(Some((num, field)))
    }
    fn skip(&mut self, n: usize) -> Result<(), String> {
        match self.pos.checked_add(n).filter(|&e| e <= self.buf.len()) {
            Some(e) => {
                self.pos = e;
                Ok(())
            }
            None => Err(format!("field of {n} bytes runs past the end of its message")),
        }
    }
}

fn string(b: &[u8]) -> Result<String, String> {
    std::str::from_utf8(b).map(str::to_string).map_err(|_| "string is not UTF-8".into())
}

/// A `TensorProto`, as far as svdiag needs it.
#[derive(Default)]
struct TensorProto {
    name: String,
    dims: Vec<i64>,
    data_type: i32,
    raw: Option<Range<usize>>,
    float_data: Option<Range<usize>>,
    double_data: Option<Range<usize>>,
    int32_data: Option<Range<usize>>,
    unpacked: bool,
    external: Vec<(String, String)>,
    data_location: i32,
}

fn tensor_proto(buf: &[u8], base: usize) -> Result<TensorProto, String> {
    let mut t = TensorProto::default();
    let mut w = Wire::new(buf, base);
    while let Some((num, f)) = w.next()? {
        match (num, f) {
            (1, Field::Varint(d)) => t.dims.push(d as i64),
            (1, Field::Bytes(b, _)) => {
                let mut p = Wire::new(b, 0);
                while p.pos < b.len() {
                    t.dims.push(p.varint()? as i64);
                    if t.dims.len() > MAX_DIMS {
                        return Err(format!("more than {MAX_DIMS} dimensions"));
                    }
                }
            }
            (2, Field::Varint(v)) => t.data_type = v as i32,
            (4, Field::Bytes(_, r)) => t.float_data = Some(r),
            (10, Field::Bytes(_, r)) => t.double_data = Some(r),
            (5, Field::Bytes(_, r)) => t.int32_data = Some(r),
            (4 | 5 | 10, _) => t.unpacked = true,
            (8, Field::Bytes(b, _)) => t.name = string(b)?,
            (9, Field::Bytes(_, r)) => t.raw = Some(r),
            (13, Field::Bytes(b, _)) => {
                let (mut k, mut v) = (String::new(), String::new());
                let mut e = Wire::new(b, 0);
                while let Some((n, f)) = e.next()? {
                    match (n, f) {
                        (1, Field::Bytes(b, _)) => k = string(b)?,
                        (2, Field::Bytes(b, _)) => v = string(b)?,
                        _ => {}
                    }
                }
                t.external.push((k, v));
            }
            (14, Field::Varint(v)) => t.data_location = v as i32,
            _ => {}
        }
        if t.dims.len() > MAX_DIMS {
            return Err(format!("more than {MAX_DIMS} dimensions"));
        }
    }
    Ok(t)
}

/// ONNX `TensorProto.DataType` → svdiag dtype and element size.
fn data_type(t: i32) -> (Dtype, usize) {
    match t {
        1 => (Dtype::F32, 4),
        11 => (Dtype::F64, 8),
        10 => (Dtype::F16, 2),
        16 => (Dtype::BF16, 2),
        2 => (Dtype::Other("U8"), 1),
        3 => (Dtype::Other("I8"), 1),
        4 => (Dtype::Other("U16"), 2),
        5 => (Dtype::Other("I16"), 2),
        6 => (Dtype::Other("I32"), 4),
        7 => (Dtype::Other("I64"), 8),
        8 => (Dtype::Other("STRING"), 0),
        9 => (Dtype::Other("BOOL"), 1),
        12 => (Dtype::Other("U32"), 4),
        13 => (Dtype::Other("U64"), 8),
        14 => (Dtype::Other("C64"), 8),
        15 => (Dtype::Other("C128"), 16),
        _ => (Dtype::Other("unknown ONNX type"), 0),
    }
}

impl OnnxFile {
    /// Maps and scans a model: graph initializers and `Constant` nodes.
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        let map = crate::mmap::map_file(path)?;
        let bad = |reason: String| FormatError::Invalid { path: path.to_path_buf(), format: "ONNX", reason };
        let mut protos: Vec<TensorProto> = Vec::new();
        let mut graph_seen = false;
        let mut model = Wire::new(&map, 0);
        while let Some((num, f)) = model.next().map_err(|e| bad(format!("model: {e}")))? {
            let (7, Field::Bytes(g, r)) = (num, f) else { continue };
            graph_seen = true;
            let mut graph = Wire::new(g, r.start);
            while let Some((num, f)) = graph.next().map_err(|e| bad(format!("graph: {e}")))? {
                match (num, f) {
                    (5, Field::Bytes(t, r)) => {
                        protos.push(tensor_proto(t, r.start).map_err(|e| bad(format!("initializer: {e}")))?)
                    }
                    (1, Field::Bytes(n, r)) => {
                        if let Some(t) = constant_node(n, r.start).map_err(|e| bad(format!("node: {e}")))? {
                            protos.push(t);
                        }
                    }
                    _ => {}
                }
                if protos.len() > MAX_TENSORS {
                    return Err(bad(format!("more than {MAX_TENSORS} tensors")));
                }
            }
        }
        if !graph_seen {
            return Err(bad("no graph in the model (not an ONNX file?)".into()));
        }
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let mut external: Vec<(PathBuf, Mmap)> = Vec::new();
        let mut locs = Vec::with_capacity(protos.len());
        let mut tensors = Vec::with_capacity(protos.len());
        for (i, t) in protos.into_iter().enumerate() {
            let name = if t.name.is_empty() { format!("initializer_{i}") } else { t.name.clone() };
            let err = |reason: String| bad(format!("tensor '{name}': {reason}"));
            let shape: Vec<usize> = t
                .dims
                .iter()
                .map(|&d| usize::try_from(d).map_err(|_| err(format!("dimension {d}"))))
                .collect::<Result<_, _>>()?;
            let numel = svdiag_core::numel(&shape).ok_or_else(|| err("shape overflows".into()))?;
            let (dtype, size) = data_type(t.data_type);
            let byte_len = numel.checked_mul(size).ok_or_else(|| err("shape overflows".into()))?;
            let loc = locate(&t, &dir, &mut external, numel, size, byte_len).unwrap_or_else(Loc::Unreadable);
            tensors.push(TensorInfo::new(name, dtype, shape, byte_len));
            locs.push(loc);
        }
        Ok(Self { path: path.to_path_buf(), map, external, locs, tensors })
    }
}

/// The tensor of a `Constant` node (`value` attribute), named after the node's output.
fn constant_node(buf: &[u8], base: usize) -> Result<Option<TensorProto>, String> {
    let mut w = Wire::new(buf, base);
    let (mut op, mut output, mut value) = (String::new(), String::new(), None);
    while let Some((num, f)) = w.next()? {
        match (num, f) {
            (2, Field::Bytes(b, _)) if output.is_empty() => output = string(b)?,
            (4, Field::Bytes(b, _)) => op = string(b)?,
            (5, Field::Bytes(a, r)) => {
                let mut attr = Wire::new(a, r.start);
                let (mut name, mut t) = (String::new(), None);
                while let Some((n, f)) = attr.next()? {
                    match (n, f) {
                        (1, Field::Bytes(b, _)) => name = string(b)?,
                        (5, Field::Bytes(b, r)) => t = Some(tensor_proto(b, r.start)?),
                        _ => {}
                    }
                }
                if name == "value" {
                    value = t;
                }
            }
            _ => {}
        }
    }
    Ok(match (op.as_str(), value) {
        ("Constant", Some(mut t)) => {
            if t.name.is_empty() {
                t.name = output;
            }
            Some(t)
        }
        _ => None,
    })
}

/// Where the tensor's `byte_len` bytes are, checked.
fn locate(
    t: &TensorProto,
    dir: &Path,
    external: &mut Vec<(PathBuf, Mmap)>,
    numel: usize,
    size: usize,
    byte_len: usize,
) -> Result<Loc, String> {
    if t.data_location == 1 {
        let get = |k: &str| t.external.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        let location = get("location").ok_or("external data without a location")?;
        let rel = Path::new(location);
        if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(format!(
                "external data location '{location}' is not a plain path inside the model's directory"
            ));
        }
        let parse =
            |k: &str| get(k).map(|v| v.parse::<usize>().map_err(|_| format!("external {k} '{v}' is not a number")));
        let offset = parse("offset").transpose()?.unwrap_or(0);
        let length = parse("length").transpose()?.unwrap_or(byte_len);
        if length != byte_len {
            return Err(format!("external data is {length} bytes, the shape needs {byte_len}"));
        }
        let file = dir.join(rel);
        let index = match external.iter().position(|(p, _)| *p == file) {
            Some(i) => i,
            None => {
                if external.len() >= MAX_EXTERNAL_FILES {
                    return Err("too many external data files".into());
                }
                let m = crate::mmap::map_file(&file).map_err(|e| e.to_string())?;
                external.push((file.clone(), m));
                external.len() - 1
            }
        };
        let end = offset.checked_add(length).filter(|&e| e <= external[index].1.len());
        let end =
            end.ok_or_else(|| format!("external data {offset}+{length} runs past the end of {}", file.display()))?;
        return Ok(Loc::External { file: index, range: offset..end });
    }
    let check = |r: &Range<usize>, what: &str, elem: usize| {
        if r.len() == numel * elem {
            Ok(())
        } else {
            Err(format!("{what} holds {} bytes, the shape needs {}", r.len(), numel * elem))
        }
    };
    if let Some(r) = &t.raw {
        check(r, "raw_data", size)?;
        return Ok(Loc::Model(r.clone()));
    }
    if t.unpacked {
        return Err("unpacked repeated data fields are not supported (ONNX writers pack them)".into());
    }
    match t.data_type {
        1 | 14 => {
            let r = t.float_data.clone().unwrap_or(0..0);
            check(&r, "float_data", size)?;
            Ok(Loc::Model(r))
        }
        11 | 15 => {
            let r = t.double_data.clone().unwrap_or(0..0);
            check(&r, "double_data", size)?;
            Ok(Loc::Model(r))
        }
        10 | 16 => Ok(Loc::Varint16(t.int32_data.clone().unwrap_or(0..0))),
        _ => Err("data in a typed field svdiag does not read".into()),
    }
}

impl TensorSource for OnnxFile {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> &'static str {
        "onnx"
    }
    fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
    fn read(&self, index: usize) -> Result<TensorData<'_>, FormatError> {
        let err = |reason: String| FormatError::Tensor {
            path: self.path.clone(),
            name: self.tensors[index].name.clone(),
            reason,
        };
        match &self.locs[index] {
            Loc::Model(r) => Ok(TensorData::Bytes(Cow::Borrowed(&self.map[r.clone()]))),
            Loc::External { file, range } => {
                Ok(TensorData::Bytes(Cow::Borrowed(&self.external[*file].1[range.clone()])))
            }
            Loc::Varint16(r) => {
                let want = self.tensors[index].byte_len / 2;
                let mut w = Wire::new(&self.map[r.clone()], 0);
                let mut out = Vec::with_capacity(want * 2);
                while w.pos < w.buf.len() {
                    let v = w.varint().map_err(err)?;
                    let v = u16::try_from(v).map_err(|_| err(format!("16-bit value {v} out of range")))?;
                    out.extend_from_slice(&v.to_le_bytes());
                    if out.len() > want * 2 {
                        break;
                    }
                }
                if out.len() != want * 2 {
                    return Err(err(format!("int32_data holds {} values, the shape needs {want}", out.len() / 2)));
                }
                Ok(TensorData::Bytes(Cow::Owned(out)))
            }
            Loc::Unreadable(why) => Err(err(why.clone())),
        }
    }
    fn release(&self, index: usize) {
        match &self.locs[index] {
            Loc::Model(r) | Loc::Varint16(r) => crate::mmap::release(&self.map, r.clone()),
            Loc::External { file, range } => crate::mmap::release(&self.external[*file].1, range.clone()),
            Loc::Unreadable(_) => {}
        }
    }
}
