//! NumPy `.npy` and `.npz`.
//!
//! The `.npy` header is a Python dict literal (`{'descr': '<f4', 'fortran_order': False,
//! 'shape': (3, 4), }`). It is parsed here by hand, strictly and with caps, because svdiag needs the
//! exact data offset to serve the array from a memory map and must refuse hostile headers before
//! allocating anything; the crates that read `.npy` read whole arrays into memory instead.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use svdiag_core::Dtype;

use crate::archive::{Archive, EntryData};
use crate::{FormatError, TensorData, TensorInfo, TensorSource};

const MAGIC: &[u8] = b"\x93NUMPY";
/// Real headers are ~128 bytes; numpy itself refuses more than 10 000 by default.
const MAX_HEADER: usize = 1 << 16;
const MAX_DIMS: usize = 32;

/// Element type of an array: the svdiag dtype, its size and byte order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elem {
    pub dtype: Dtype,
    pub size: usize,
    pub big_endian: bool,
}

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub elem: Elem,
    pub shape: Vec<usize>,
    pub fortran_order: bool,
    /// Offset of the data from the start of the `.npy` bytes.
    pub data_offset: usize,
    /// `numel × size`, checked.
    pub data_len: usize,
}

/// Parses the header at the start of `bytes` (which may be only a prefix of the file).
pub(crate) fn parse_header(bytes: &[u8]) -> Result<Header, String> {
    if !bytes.starts_with(MAGIC) {
        return Err("missing the \\x93NUMPY magic".into());
    }
    let (major, minor) = match bytes.get(6..8) {
        Some(v) => (v[0], v[1]),
        None => return Err("truncated before the version".into()),
    };
    let (len_size, utf8) = match major {
        1 => (2, false),
        2 => (4, false),
        3 => (4, true),
        _ => return Err(format!("unsupported .npy version {major}.{minor}")),
    };
    let len_bytes = bytes.get(8..8 + len_size).ok_or("truncated in the header length")?;
    let header_len = if len_size == 2 {
        usize::from(u16::from_le_bytes([len_bytes[0], len_bytes[1]]))
    } else {
        u32::from_le_bytes(len_bytes.try_into().expect("4 bytes")) as usize
    };
    if header_len > MAX_HEADER {
        return Err(format!("header length {header_len} is over the {MAX_HEADER}-byte limit"));
    }
    let start = 8 + len_size;
    let text = bytes.get(start..start + header_len).ok_or("truncated in the header")?;
    let text = if utf8 {
        std::str::from_utf8(text).map_err(|_| "header is not UTF-8")?
    } else {
        std::str::from_utf8(text).ok().filter(|t| t.is_ascii()).ok_or("header is not ASCII")?
    };
    let dict = parse_dict(text)?;
    let descr = dict.descr.ok_or("header has no 'descr'")?;
    let elem = elem(&descr)?;
    let shape = dict.shape.ok_or("header has no 'shape'")?;
    let fortran_order = dict.fortran_order.ok_or("header has no 'fortran_order'")?;
    let numel = svdiag_core::numel(&shape).ok_or("shape overflows")?;
    let data_len = numel.checked_mul(elem.size).ok_or("shape overflows")?;
    Ok(Header { elem, shape, fortran_order, data_offset: start + header_len, data_len })
}

fn elem(descr: &str) -> Result<Elem, String> {
    let (order, code) = match descr.as_bytes().first() {
        Some(b'<' | b'=') => (false, &descr[1..]),
        Some(b'>') => (true, &descr[1..]),
        Some(b'|') => (false, &descr[1..]),
        _ => (false, descr),
    };
    let (dtype, size) = match code {
        "f8" => (Dtype::F64, 8),
        "f4" => (Dtype::F32, 4),
        "f2" => (Dtype::F16, 2),
        "b1" => (Dtype::Other("BOOL"), 1),
        "u1" => (Dtype::Other("U8"), 1),
        "i1" => (Dtype::Other("I8"), 1),
        "u2" => (Dtype::Other("U16"), 2),
        "i2" => (Dtype::Other("I16"), 2),
        "u4" => (Dtype::Other("U32"), 4),
        "i4" => (Dtype::Other("I32"), 4),
        "u8" => (Dtype::Other("U64"), 8),
        "i8" => (Dtype::Other("I64"), 8),
        "c8" => (Dtype::Other("C64"), 8),
        "c16" => (Dtype::Other("C128"), 16),
        "V2" => (Dtype::Other("V2 (raw 2-byte values, e.g. bfloat16 without its dtype)"), 2),
        c if c.starts_with('O') => return Err("object arrays are refused: they hold pickled Python objects".into()),
        c => return Err(format!("unsupported dtype descr '{c}'")),
    };
    Ok(Elem { dtype, size, big_endian: order && size > 1 })
}

#[derive(Default)]
struct Dict {
    descr: Option<String>,
    fortran_order: Option<bool>,
    shape: Option<Vec<usize>>,
}

/// The dict literal numpy writes: string keys; values a string, True/False, or a tuple of ints.
fn parse_dict(text: &str) -> Result<Dict, String> {
    let mut p = Parser { s: text.as_bytes(), i: 0 };
    let mut d = Dict::default();
    p.ws();
    p.eat(b'{')?;
    loop {
        p.ws();
        if p.peek() == Some(b'}') {
            break;
        }
        let key = p.string()?;
        p.ws();
        p.eat(b':')?;
        p.ws();
        match key.as_str() {
            "descr" => {
                if p.peek() == Some(b'[') {
                    return Err("structured (record) arrays are not matrices".into());
                }
                d.descr = Some(p.string()?)
            }
            "fortran_order" => d.fortran_order = Some(p.boolean()?),
            "shape" => d.shape = Some(p.tuple()?),
            other => return Err(format!("unexpected header key '{other}'")),
        }
        p.ws();
        match p.peek() {
            Some(b',') => p.i += 1,
            Some(b'}') => {}
            _ => return Err("malformed header dict".into()),
        }
    }
    Ok(d)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }
    fn eat(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("malformed header: expected '{}'", c as char))
        }
    }
    fn string(&mut self) -> Result<String, String> {
        let q = self.peek().filter(|c| *c == b'\'' || *c == b'"').ok_or("malformed header: expected a string")?;
        self.i += 1;
        let start = self.i;
        while self.peek().is_some_and(|c| c != q) {
            self.i += 1;
        }
        let s = std::str::from_utf8(&self.s[start..self.i]).map_err(|_| "header string is not UTF-8")?.to_string();
        self.eat(q)?;
        Ok(s)
    }
    fn boolean(&mut self) -> Result<bool, String> {
        for (word, v) in [("True", true), ("False", false)] {
            if self.s[self.i..].starts_with(word.as_bytes()) {
                self.i += word.len();
                return Ok(v);
            }
        }
        Err("malformed header: expected True or False".into())
    }
    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.eat(b'(')?;
        let mut dims = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(b')') {
                self.i += 1;
                return Ok(dims);
            }
            let start = self.i;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.i += 1;
            }
            let digits = std::str::from_utf8(&self.s[start..self.i]).expect("ASCII digits");
            let d: usize = digits.parse().map_err(|_| format!("malformed shape dimension '{digits}'"))?;
            dims.push(d);
            if dims.len() > MAX_DIMS {
                return Err(format!("more than {MAX_DIMS} dimensions"));
            }
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b')') => {}
                _ => return Err("malformed shape tuple".into()),
            }
        }
    }
}

/// Brings array bytes to little-endian C order (borrowing when they already are).
pub(crate) fn to_c_order<'a>(data: Cow<'a, [u8]>, header: &Header) -> Cow<'a, [u8]> {
    let size = header.elem.size;
    let mut data = data;
    if header.elem.big_endian {
        let mut owned = data.into_owned();
        for chunk in owned.chunks_exact_mut(size) {
            chunk.reverse();
        }
        data = Cow::Owned(owned);
    }
    if header.fortran_order && header.shape.len() > 1 {
        data = Cow::Owned(fortran_to_c(&data, &header.shape, size));
    }
    data
}

/// Reorders a column-major (Fortran) array into row-major order.
pub(crate) fn fortran_to_c(data: &[u8], shape: &[usize], size: usize) -> Vec<u8> {
    let n = data.len() / size.max(1);
    let mut out = vec![0u8; data.len()];
    // strides of the Fortran layout, in elements
    let mut fstride = vec![1usize; shape.len()];
    for k in 1..shape.len() {
        fstride[k] = fstride[k - 1] * shape[k - 1];
    }
    let mut idx = vec![0usize; shape.len()];
    for c in 0..n {
        let f: usize = idx.iter().zip(&fstride).map(|(i, s)| i * s).sum();
        out[c * size..(c + 1) * size].copy_from_slice(&data[f * size..(f + 1) * size]);
        // advance the C-order multi-index (last axis fastest)
        for k in (0..shape.len()).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

/// A memory-mapped `.npy` file: one tensor, named after the file.
pub struct NpyFile {
    path: PathBuf,
    map: Mmap,
    header: Header,
    tensors: Vec<TensorInfo>,
}

impl NpyFile {
    /// Maps and validates a `.npy` file (its data must fill the file exactly).
    pub fn open(path: &Path) -> Result<Self, FormatError> {
        let map = crate::mmap::map_file(path)?;
        let bad = |reason: String| FormatError::Invalid { path: path.to_path_buf(), format: "NumPy .npy", reason };
        let header = parse_header(&map).map_err(bad)?;
        let available = map.len() - header.data_offset.min(map.len());
        if available != header.data_len {
            return Err(bad(format!(
                "header declares {} bytes of {} data for shape {:?}, the file holds {available}",
                header.data_len, header.elem.dtype, header.shape
            )));
        }
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "array".into());
        let tensors = vec![TensorInfo::new(name, header.elem.dtype, header.shape.clone(), header.data_len)];
        Ok(Self { path: path.to_path_buf(), map, header, tensors })
    }
}

impl TensorSource for NpyFile {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> &'static str {
        "npy"
    }
    fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
    fn read(&self, _index: usize) -> Result<TensorData<'_>, FormatError> {
        let bytes = &self.map[self.header.data_offset..];
        Ok(TensorData::Bytes(to_c_order(Cow::Borrowed(bytes), &self.header)))
    }
    fn release(&self, _index: usize) {
        crate::mmap::release(&self.map, self.header.data_offset..self.map.len());
    }
}

/// A `.npz` archive: one tensor per `.npy` member (stored or deflated), named without `.npy`.
pub struct NpzFile {
    path: PathBuf,
    archive: Archive,
    members: Vec<(usize, Header)>,
    tensors: Vec<TensorInfo>,
}

impl NpzFile {
    /// Parses every `.npy` member's header of an opened archive (data is read per tensor, later).
    pub(crate) fn from_archive(path: &Path, archive: Archive) -> Result<Self, FormatError> {
        let bad = |reason: String| FormatError::Invalid { path: path.to_path_buf(), format: "NumPy .npz", reason };
        let mut members = Vec::new();
        let mut tensors = Vec::new();
        for (i, entry) in archive.entries().iter().enumerate() {
            let Some(name) = entry.name.strip_suffix(".npy") else { continue };
            let prefix =
                archive.prefix(i, MAX_HEADER + 16).map_err(|e| bad(format!("member '{}': {e}", entry.name)))?;
            let header = parse_header(&prefix).map_err(|e| bad(format!("member '{}': {e}", entry.name)))?;
            let declared = header.data_offset.checked_add(header.data_len);
            if declared != Some(entry.size as usize) {
                return Err(bad(format!(
                    "member '{}' holds {} bytes but its header declares {} bytes of {} data for shape {:?}",
                    entry.name, entry.size, header.data_len, header.elem.dtype, header.shape
                )));
            }
            tensors.push(TensorInfo::new(name.to_string(), header.elem.dtype, header.shape.clone(), header.data_len));
            members.push((i, header));
        }
        if tensors.is_empty() {
            return Err(bad("no .npy member in the archive".into()));
        }
        Ok(Self { path: path.to_path_buf(), archive, members, tensors })
    }
}

impl TensorSource for NpzFile {
    fn path(&self) -> &Path {
        &self.path
    }
    fn format(&self) -> &'static str {
        "npz"
    }
    fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }
    fn read(&self, index: usize) -> Result<TensorData<'_>, FormatError> {
        let (entry, header) = &self.members[index];
        let tensor_err = |reason: String| FormatError::Tensor {
            path: self.path.clone(),
            name: self.tensors[index].name.clone(),
            reason,
        };
        let bytes = match self.archive.data(*entry).map_err(tensor_err)? {
            EntryData::Mapped(b) => Cow::Borrowed(&b[header.data_offset..]),
            EntryData::Inflated(mut v) => {
                v.drain(..header.data_offset);
                Cow::Owned(v)
            }
        };
        Ok(TensorData::Bytes(to_c_order(bytes, header)))
    }
    fn release(&self, index: usize) {
        self.archive.release(self.members[index].0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut h = header.as_bytes().to_vec();
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(b' ');
        }
        h.push(b'\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn parses_numpy_headers() {
        let b = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", &[]);
        let h = parse_header(&b).unwrap();
        assert_eq!(
            (h.elem.dtype, h.shape.clone(), h.fortran_order, h.data_offset, h.data_len),
            (Dtype::F32, vec![3, 4], false, 128, 48)
        );
        let h = parse_header(&npy("{'descr': '>f8', 'fortran_order': True, 'shape': (5,), }", &[])).unwrap();
        assert!(h.elem.big_endian && h.fortran_order);
        assert_eq!(h.shape, [5]);
        let h = parse_header(&npy("{'descr': '<f2', 'fortran_order': False, 'shape': (), }", &[])).unwrap();
        assert!(h.shape.is_empty());
    }

    #[test]
    fn refuses_bad_headers() {
        let cases = [
            ("{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", "object arrays are refused"),
            ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", "structured"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }",
                "overflows",
            ),
            ("{'descr': '<f4', 'fortran_order': False}", "no 'shape'"),
            ("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", "True or False"),
            (
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), '__class__': 'os.system'}",
                "unexpected header key",
            ),
            ("{'descr': '<q9', 'fortran_order': False, 'shape': (2,), }", "unsupported dtype"),
        ];
        for (h, want) in cases {
            let err = parse_header(&npy(h, &[])).unwrap_err();
            assert!(err.contains(want), "{h}: {err}");
        }
        assert!(parse_header(b"\x93NUMPY\x01").unwrap_err().contains("truncated"));
        assert!(parse_header(b"\x93NUMPY\x09\x00\x00\x00").unwrap_err().contains("version"));
        assert!(parse_header(b"\x93NUMPY\x02\x00\xff\xff\xff\x7f").unwrap_err().contains("limit"));
        assert!(parse_header(b"PK\x03\x04").unwrap_err().contains("magic"));
    }

    #[test]
    fn fortran_order_becomes_c_order() {
        // 2×3 matrix [[1,2,3],[4,5,6]] stored column-major: 1,4,2,5,3,6
        let f: Vec<u8> = [1u8, 4, 2, 5, 3, 6].to_vec();
        assert_eq!(fortran_to_c(&f, &[2, 3], 1), [1, 2, 3, 4, 5, 6]);
        // 2×2×2: element (i,j,k) at i + 2j + 4k in Fortran order
        let f: Vec<u8> = (0..8).collect();
        let c = fortran_to_c(&f, &[2, 2, 2], 1);
        let want: Vec<u8> =
            (0..2).flat_map(|i| (0..2).flat_map(move |j| (0..2).map(move |k| (i + 2 * j + 4 * k) as u8))).collect();
        assert_eq!(c, want);
    }
}
