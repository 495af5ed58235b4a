//! A memory-safe parser of the part of HDF5 that Keras writes, for [`crate::keras`].
//!
//! Written by hand because the C library is not a safe parser of untrusted files, and the pure-Rust
//! crates that exist either serve no borrowed slice of a contiguous dataset or abort on hostile
//! shapes; this subset is small. Sections refer to the *HDF5 File Format Specification*, version 4.
//!
//! Supported: superblock versions 0 and 1 (II.A), version-1 object headers with continuation
//! blocks (IV.A.1.a), symbol-table groups (a version-1 B-tree of type 0, symbol-table nodes and a
//! local heap: III.A.1, III.B, III.C, III.D), datasets with contiguous or compact layout and no
//! filters (IV.A.2.i), floating-point, integer, string and opaque datatypes (IV.A.2.d), and
//! attributes (IV.A.2.m) whose variable-length strings live in the global heap (III.E).
//!
//! Refused with the feature's name: later superblocks and object headers (files written with
//! `libver="latest"`), groups of link messages (`track_order=True`, or the latest format), chunked,
//! filtered, virtual and external storage, shared messages, dense attribute storage.
//!
//! Every offset, size and count is checked against the bytes before use; every structure (object
//! header, continuation block, B-tree node, symbol-table node) is visited at most once, so a cycle
//! in the group graph is refused and the work is bounded by the file's size.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

/// Nesting of groups deeper than this is refused.
const MAX_DEPTH: usize = 64;
/// Rank of a dataspace (the library's own limit).
const MAX_RANK: usize = 32;
/// Elements of one string attribute that are decoded.
const MAX_ATTRIBUTE_STRINGS: usize = 1 << 16;
/// Nesting of datatypes (a variable-length type holds its base type).
const MAX_TYPE_DEPTH: usize = 4;
/// The undefined address: all bits set.
const UNDEFINED: u64 = u64::MAX;

/// What is wrong with the file, in words.
pub(crate) type Error = String;

/// An element type as the file declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Type {
    /// IEEE floating point of 2, 4 or 8 bytes (the bit layout checked).
    Float { size: usize, big_endian: bool },
    /// Integers.
    Int { size: usize, signed: bool },
    /// Fixed-length strings of `size` bytes.
    FixedString { size: usize },
    /// Variable-length strings (in the global heap).
    VlenString,
    /// Opaque elements of `size` bytes (Keras 3 stores bfloat16 so, with a `dtype` attribute).
    Opaque { size: usize },
    /// Anything else, by its class name: listed, never read.
    Other { size: usize, class: &'static str },
}

impl Type {
    pub(crate) fn size(&self) -> usize {
        match *self {
            Type::Float { size, .. }
            | Type::Int { size, .. }
            | Type::FixedString { size }
            | Type::Opaque { size }
            | Type::Other { size, .. } => size,
            Type::VlenString => 16,
        }
    }
}

/// An attribute's value, decoded when it is text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Strings(Vec<String>),
    Other,
}

/// Where a dataset's elements are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Storage {
    /// A byte range of the file, checked to lie inside it and to hold exactly the elements.
    Bytes(Range<usize>),
    /// Never written: no storage allocated (it would read as its fill value).
    Unallocated,
}

/// A dataset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dataset {
    pub ty: Type,
    pub shape: Vec<usize>,
    pub storage: Storage,
}

/// A group or a dataset, with its path from the root (`a/b/c`) and its attributes.
#[derive(Debug, Clone)]
pub(crate) struct Object {
    pub path: String,
    pub attributes: Vec<(String, Value)>,
    /// `None` for a group.
    pub dataset: Option<Dataset>,
}

impl Object {
    /// The text of attribute `name`, when it is one string.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        match self.attributes.iter().find(|(n, _)| n == name).map(|(_, v)| v) {
            Some(Value::Strings(s)) if s.len() == 1 => Some(&s[0]),
            _ => None,
        }
    }
}

/// Every group and dataset of the file, parents before children, children in name order.
pub(crate) fn objects(bytes: &[u8]) -> Result<Vec<Object>, Error> {
    let mut file = File::superblock(bytes)?;
    let root = file.root;
    let mut out = Vec::new();
    if !file.walk(root, String::new(), 0, &mut out)? {
        return Err("the root object is not a group".into());
    }
    Ok(out)
}

/// The file being parsed: its bytes, the sizes its superblock declares, and what was visited.
struct File<'b> {
    bytes: &'b [u8],
    offset_size: usize,
    length_size: usize,
    leaf_k: usize,
    internal_k: usize,
    root: u64,
    /// Addresses of every structure read (object headers, continuation blocks, B-tree and symbol
    /// nodes): none is read twice.
    visited: HashSet<u64>,
    /// Global heap collections, parsed once: object index → byte range.
    heaps: HashMap<u64, HashMap<u16, Range<usize>>>,
}

/// A checked reader of little-endian fields from `bytes[pos..]`.
struct Cursor<'b> {
    bytes: &'b [u8],
    pos: usize,
    what: &'static str,
}

impl<'b> Cursor<'b> {
    fn at(bytes: &'b [u8], pos: u64, what: &'static str) -> Result<Self, Error> {
        match usize::try_from(pos) {
            Ok(pos) if pos <= bytes.len() => Ok(Self { bytes, pos, what }),
            _ => Err(format!("the {what} at address {pos} lies past the end of the file ({} bytes)", bytes.len())),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'b [u8], Error> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
            format!("the {} is truncated: {n} bytes at byte {} run past the end of the file", self.what, self.pos)
        })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn skip(&mut self, n: usize) -> Result<(), Error> {
        self.take(n).map(|_| ())
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes")))
    }
    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    /// An unsigned integer of `n` (1–8) bytes; all bits set reads as [`UNDEFINED`].
    fn uint(&mut self, n: usize) -> Result<u64, Error> {
        let b = self.take(n)?;
        if b.iter().all(|&x| x == 0xff) {
            return Ok(UNDEFINED);
        }
        Ok(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }
    /// A structure's signature and version byte, checked.
    fn signed(&mut self, sig: &[u8; 4], version: u8) -> Result<(), Error> {
        self.signature(sig)?;
        let got = self.u8()?;
        if got != version {
            return Err(format!("{} version {got} is not {version}", self.what));
        }
        Ok(())
    }
    fn signature(&mut self, sig: &[u8; 4]) -> Result<(), Error> {
        let got = self.take(4)?;
        if got != sig {
            return Err(format!(
                "the {} at byte {} lacks its signature '{}' (found {:?})",
                self.what,
                self.pos - 4,
                String::from_utf8_lossy(sig),
                String::from_utf8_lossy(got)
            ));
        }
        Ok(())
    }
}

/// A size read from the file, as a `usize` no larger than the file (nothing in it can be larger).
fn bounded(n: u64, limit: usize, what: &str) -> Result<usize, Error> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= limit)
        .ok_or_else(|| format!("{what} of {n} bytes is larger than the file ({limit} bytes)"))
}

impl<'b> File<'b> {
    /// The superblock at byte 0 (II.A); a user block before it is refused.
    fn superblock(bytes: &'b [u8]) -> Result<Self, Error> {
        let mut c = Cursor::at(bytes, 0, "superblock")?;
        if c.take(8)? != b"\x89HDF\r\n\x1a\n" {
            return Err("no HDF5 signature at byte 0 (a file with a user block is not read)".into());
        }
        let version = c.u8()?;
        if version > 1 {
            return Err(format!(
                "superblock version {version} is not supported (only versions 0 and 1, which h5py and Keras write by \
                 default; version 2 and 3 come from libver='latest')"
            ));
        }
        c.skip(4)?; // free-space, root symbol table entry and shared-header versions, reserved
        let offset_size = usize::from(c.u8()?);
        let length_size = usize::from(c.u8()?);
        for (what, n) in [("offsets", offset_size), ("lengths", length_size)] {
            if ![2, 4, 8].contains(&n) {
                return Err(format!("size of {what} {n} is not 2, 4 or 8"));
            }
        }
        c.skip(1)?;
        let leaf_k = usize::from(c.u16()?);
        let internal_k = usize::from(c.u16()?);
        if leaf_k == 0 || internal_k == 0 {
            return Err("a group B-tree K of 0".into());
        }
        c.skip(4)?; // consistency flags
        if version == 1 {
            c.skip(4)?; // indexed-storage K, reserved
        }
        let base = c.uint(offset_size)?;
        if base != 0 {
            return Err(format!("base address {base} is not 0 (a file with a user block is not read)"));
        }
        c.skip(offset_size)?; // free-space info
        let eof = c.uint(offset_size)?;
        if eof != UNDEFINED && eof > bytes.len() as u64 {
            return Err(format!("the superblock declares {eof} bytes, but the file holds {} (truncated)", bytes.len()));
        }
        let driver = c.uint(offset_size)?;
        if driver != UNDEFINED {
            return Err("a file-driver information block (e.g. the family or multi driver) is not supported".into());
        }
        // the root group's symbol table entry: name offset, object header address, cache
        c.skip(offset_size)?;
        let root = c.uint(offset_size)?;
        Ok(Self {
            bytes,
            offset_size,
            length_size,
            leaf_k,
            internal_k,
            root,
            visited: HashSet::new(),
            heaps: HashMap::new(),
        })
    }

    fn first_visit(&mut self, addr: u64, what: &str) -> Result<(), Error> {
        if !self.visited.insert(addr) {
            return Err(format!(
                "the {what} at address {addr} is reached a second time: a cycle, or a second link to the same \
                 object (each structure is read once; files with either are refused)"
            ));
        }
        Ok(())
    }

    /// Reads the object at `addr` (named `path`) and, for a group, its members, depth first; true
    /// when the object is a group.
    fn walk(&mut self, addr: u64, path: String, depth: usize, out: &mut Vec<Object>) -> Result<bool, Error> {
        if depth > MAX_DEPTH {
            return Err(format!("groups nested deeper than {MAX_DEPTH} levels at '{path}'"));
        }
        let name = if path.is_empty() { "/" } else { path.as_str() };
        self.first_visit(addr, "object header").map_err(|e| format!("'{name}': {e}"))?;
        let header = self.object_header(addr).map_err(|e| format!("object '{name}': {e}"))?;
        let members = match (&header.group, &header.dataset) {
            (Some(_), Some(_)) => return Err(format!("object '{name}' is both a group and a dataset")),
            (Some((btree, heap)), None) => {
                let (btree, heap) = (*btree, *heap);
                Some(self.group_members(btree, heap).map_err(|e| format!("group '{name}': {e}"))?)
            }
            (None, _) => None,
        };
        let is_group = members.is_some();
        out.push(Object { path: path.clone(), attributes: header.attributes, dataset: header.dataset });
        for (child, child_addr) in members.into_iter().flatten() {
            let child_path = if path.is_empty() { child } else { format!("{path}/{child}") };
            self.walk(child_addr, child_path, depth + 1, out)?;
        }
        Ok(is_group)
    }

    /// A version-1 object header (IV.A.1.a) and its continuation blocks, decoded.
    fn object_header(&mut self, addr: u64) -> Result<Header, Error> {
        let mut c = Cursor::at(self.bytes, addr, "object header")?;
        let version = c.u8()?;
        if version != 1 {
            let v2 = self.bytes.get(c.pos - 1..c.pos + 3) == Some(b"OHDR");
            return Err(if v2 {
                "a version-2 object header ('OHDR', written with libver='latest' or track_order=True) is not supported"
                    .into()
            } else {
                format!("object header version {version} is not 1")
            });
        }
        c.skip(1)?;
        let total = usize::from(c.u16()?);
        c.skip(4)?; // reference count
        let size = c.u32()? as usize;
        c.skip(4)?; // alignment of the first message to 8 bytes
        let mut blocks = vec![(c.pos, size)];
        let mut header = Header::default();
        let mut seen = 0;
        while let Some((start, len)) = blocks.pop() {
            let end = start.checked_add(len).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
                format!("a header block of {len} bytes at byte {start} runs past the end of the file")
            })?;
            let mut m = Cursor { bytes: &self.bytes[..end], pos: start, what: "header message" };
            while m.pos + 8 <= end && seen < total {
                let kind = m.u16()?;
                let msize = usize::from(m.u16()?);
                let flags = m.u8()?;
                m.skip(3)?;
                let body = m.take(msize)?;
                let body_at = m.pos - msize;
                seen += 1;
                if kind == 0x0010 {
                    let mut b = Cursor { bytes: body, pos: 0, what: "continuation message" };
                    let at = b.uint(self.offset_size)?;
                    let n = b.uint(self.length_size)?;
                    self.first_visit(at, "header continuation block")?;
                    let at = bounded(at, self.bytes.len(), "a continuation address")?;
                    blocks.push((at, bounded(n, self.bytes.len(), "a continuation block")?));
                    continue;
                }
                self.message(kind, flags, body, body_at, &mut header)?;
            }
        }
        if seen < total {
            return Err(format!("the header declares {total} messages but holds {seen}"));
        }
        Ok(header)
    }

    /// Decodes one header message into `header` (IV.A.2).
    fn message(&mut self, kind: u16, flags: u8, body: &[u8], body_at: usize, header: &mut Header) -> Result<(), Error> {
        if flags & 0x02 != 0 {
            return Err(format!("shared header message (type {kind:#06x}) is not supported"));
        }
        let mut c = Cursor { bytes: body, pos: 0, what: "header message" };
        match kind {
            0x0001 => header.space = Some(self.dataspace(&mut c)?),
            0x0003 => header.ty = Some(datatype(&mut c, 0)?),
            0x0008 => header.layout = Some(self.layout(&mut c, body_at)?),
            0x000C => {
                let attribute = self.attribute(&mut c)?;
                header.attributes.push(attribute);
            }
            0x0011 => {
                c.what = "symbol table message";
                header.group = Some((c.uint(self.offset_size)?, c.uint(self.offset_size)?));
            }
            0x0002 | 0x0006 | 0x000A => {
                return Err(
                    "a group of link messages (the newer group format: track_order=True or libver='latest') is not \
                     supported"
                        .into(),
                )
            }
            0x0007 => return Err("external data files are not supported".into()),
            0x000B => return Err("filtered (compressed) datasets are not supported".into()),
            0x0015 => return Err("dense attribute storage is not supported".into()),
            // NIL, fill values, modification times, comment, B-tree K values, reference count
            0x0000 | 0x0004 | 0x0005 | 0x000D | 0x000E | 0x0012 | 0x0013 | 0x0016 => {}
            _ if flags & 0x80 != 0 => {
                return Err(format!("header message type {kind:#06x} must be understood to read the object"))
            }
            _ => {}
        }
        if let (Some(space), Some(ty), Some(layout)) = (&header.space, &header.ty, &header.layout) {
            if header.dataset.is_none() {
                header.dataset = Some(self.dataset(space, ty, layout)?);
            }
        }
        Ok(())
    }

    /// The dataspace message (IV.A.2.b): `None` for a null dataspace, `[]` for a scalar.
    fn dataspace(&self, c: &mut Cursor) -> Result<Option<Vec<usize>>, Error> {
        c.what = "dataspace message";
        let version = c.u8()?;
        let rank = usize::from(c.u8()?);
        let flags = c.u8()?;
        let null = match version {
            1 => {
                c.skip(5)?;
                false
            }
            2 => c.u8()? == 2,
            v => return Err(format!("dataspace version {v} is not 1 or 2")),
        };
        if rank > MAX_RANK {
            return Err(format!("a dataspace of rank {rank}, over {MAX_RANK}"));
        }
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            let d = c.uint(self.length_size)?;
            dims.push(usize::try_from(d).map_err(|_| format!("dimension {d} does not fit in memory"))?);
        }
        if flags & 0x02 != 0 {
            return Err("a dataspace with a permutation index is not supported".into());
        }
        Ok((!null).then_some(dims))
    }

    /// The data layout message (IV.A.2.i), before it is checked against the dataset's size.
    fn layout(&self, c: &mut Cursor, body_at: usize) -> Result<Layout, Error> {
        c.what = "data layout message";
        let version = c.u8()?;
        match version {
            1 | 2 => {
                let rank = usize::from(c.u8()?);
                let class = c.u8()?;
                c.skip(5)?;
                match class {
                    1 => {
                        let at = c.uint(self.offset_size)?;
                        c.skip(rank.saturating_mul(4))?;
                        Ok(Layout::Contiguous { at, len: None })
                    }
                    0 => {
                        c.skip(rank.saturating_mul(4))?;
                        let n = c.u32()? as usize;
                        let start = body_at + c.pos;
                        c.skip(n)?;
                        Ok(Layout::Compact(start..start + n))
                    }
                    2 => Err("chunked storage is not supported (write datasets without chunks or compression)".into()),
                    k => Err(format!("layout class {k} is not known")),
                }
            }
            3 | 4 => match c.u8()? {
                0 => {
                    let n = usize::from(c.u16()?);
                    let start = body_at + c.pos;
                    c.skip(n)?;
                    Ok(Layout::Compact(start..start + n))
                }
                1 => {
                    let at = c.uint(self.offset_size)?;
                    let len = c.uint(self.length_size)?;
                    Ok(Layout::Contiguous { at, len: Some(len) })
                }
                2 => Err("chunked storage is not supported (write datasets without chunks or compression)".into()),
                3 => Err("virtual datasets are not supported".into()),
                k => Err(format!("layout class {k} is not known")),
            },
            v => Err(format!("data layout version {v} is not 1 to 4")),
        }
    }

    /// A dataset from its dataspace, datatype and layout, with its bytes checked to lie in the file
    /// and to hold exactly its elements.
    fn dataset(&self, space: &Option<Vec<usize>>, ty: &Type, layout: &Layout) -> Result<Dataset, Error> {
        let shape = space.clone().ok_or("a dataset with a null dataspace")?;
        let elements = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        let want = elements
            .and_then(|n| n.checked_mul(ty.size()))
            .ok_or_else(|| format!("shape {shape:?} of {}-byte elements overflows the addressable size", ty.size()))?;
        let storage = match *layout {
            Layout::Contiguous { at: UNDEFINED, .. } => Storage::Unallocated,
            Layout::Contiguous { at, len } => {
                if let Some(len) = len.filter(|&l| l != want as u64) {
                    return Err(format!("contiguous storage of {len} bytes for {want} bytes of elements"));
                }
                let start = bounded(at, self.bytes.len(), "a data address")?;
                let end = start.checked_add(want).filter(|&e| e <= self.bytes.len()).ok_or_else(|| {
                    format!(
                        "{want} bytes of data at byte {start} run past the end of the file ({} bytes)",
                        self.bytes.len()
                    )
                })?;
                Storage::Bytes(start..end)
            }
            Layout::Compact(ref range) => {
                if range.len() != want {
                    return Err(format!("compact storage of {} bytes for {want} bytes of elements", range.len()));
                }
                Storage::Bytes(range.clone())
            }
        };
        Ok(Dataset { ty: ty.clone(), shape, storage })
    }

    /// An attribute message (IV.A.2.m), its value decoded when it is text.
    fn attribute(&mut self, c: &mut Cursor) -> Result<(String, Value), Error> {
        c.what = "attribute message";
        let version = c.u8()?;
        let flags = c.u8()?;
        if !(1..=3).contains(&version) {
            return Err(format!("attribute message version {version} is not 1 to 3"));
        }
        if version > 1 && flags & 0x03 != 0 {
            return Err("an attribute with a shared datatype or dataspace is not supported".into());
        }
        let name_len = usize::from(c.u16()?);
        let type_len = usize::from(c.u16()?);
        let space_len = usize::from(c.u16()?);
        if version == 3 {
            c.skip(1)?; // name character set
        }
        let pad = |n: usize| if version == 1 { n.div_ceil(8) * 8 } else { n };
        let name = c.take(pad(name_len))?;
        let name = name[..name_len.min(name.len())].split(|&b| b == 0).next().unwrap_or_default();
        let name = String::from_utf8_lossy(name).into_owned();
        let ty = datatype(&mut Cursor { bytes: c.take(pad(type_len))?, pos: 0, what: "attribute datatype" }, 0)?;
        let space =
            self.dataspace(&mut Cursor { bytes: c.take(pad(space_len))?, pos: 0, what: "attribute dataspace" })?;
        let elements = match &space {
            None => 0,
            Some(dims) => dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("attribute shape overflows")?,
        };
        let value = match ty {
            Type::FixedString { size } if elements <= MAX_ATTRIBUTE_STRINGS => {
                let data = c.take(elements.checked_mul(size).ok_or("attribute size overflows")?)?;
                Value::Strings(
                    data.chunks(size.max(1))
                        .take(elements)
                        .map(|s| {
                            let s = s.split(|&b| b == 0).next().unwrap_or_default();
                            String::from_utf8_lossy(s).trim_end().to_string()
                        })
                        .collect(),
                )
            }
            Type::VlenString if elements <= MAX_ATTRIBUTE_STRINGS => {
                let mut strings = Vec::with_capacity(elements);
                for _ in 0..elements {
                    let len = c.u32()? as usize;
                    let heap = c.uint(self.offset_size)?;
                    let index = c.u32()?;
                    strings.push(self.global_string(heap, index, len)?);
                }
                Value::Strings(strings)
            }
            _ => Value::Other,
        };
        Ok((name, value))
    }

    /// Object `index` of the global heap collection at `addr` (III.E): its first `len` bytes, as text.
    fn global_string(&mut self, addr: u64, index: u32, len: usize) -> Result<String, Error> {
        if len == 0 && (addr == 0 || addr == UNDEFINED) {
            return Ok(String::new());
        }
        if !self.heaps.contains_key(&addr) {
            let objects = self.global_heap(addr)?;
            self.heaps.insert(addr, objects);
        }
        let range = u16::try_from(index)
            .ok()
            .and_then(|i| self.heaps[&addr].get(&i))
            .ok_or_else(|| format!("a string refers to object {index}, which the global heap at {addr} lacks"))?;
        if len > range.len() {
            return Err(format!("a string of {len} bytes in a global heap object of {}", range.len()));
        }
        Ok(String::from_utf8_lossy(&self.bytes[range.start..range.start + len]).into_owned())
    }

    fn global_heap(&self, addr: u64) -> Result<HashMap<u16, Range<usize>>, Error> {
        let mut c = Cursor::at(self.bytes, addr, "global heap")?;
        c.signed(b"GCOL", 1)?;
        c.skip(3)?;
        let size = bounded(c.uint(self.length_size)?, self.bytes.len(), "a global heap")?;
        let start = c.pos - 8 - self.length_size;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("the global heap runs past the end of the file")?;
        let mut c = Cursor { bytes: &self.bytes[..end], pos: c.pos, what: "global heap object" };
        let mut objects = HashMap::new();
        while c.pos + 8 + self.length_size <= end {
            let index = c.u16()?;
            c.skip(6)?; // reference count, reserved
            let n = bounded(c.uint(self.length_size)?, end, "a global heap object")?;
            if index == 0 {
                break; // free space: the rest of the collection
            }
            let at = c.pos;
            c.skip(n.div_ceil(8) * 8).or_else(|_| c.skip(n))?;
            objects.insert(index, at..at + n);
        }
        Ok(objects)
    }

    /// The members of a symbol-table group: name and object header address, in name order.
    fn group_members(&mut self, btree: u64, heap: u64) -> Result<Vec<(String, u64)>, Error> {
        let names = self.local_heap(heap)?;
        let mut entries = Vec::new();
        self.btree_node(btree, None, &mut entries)?;
        entries
            .into_iter()
            .map(|(name_offset, addr)| {
                let start = usize::try_from(name_offset).ok().filter(|&s| s < names.len()).ok_or_else(|| {
                    format!("a name at offset {name_offset} past the local heap of {} bytes", names.len())
                })?;
                let name = &names[start..];
                let end = name.iter().position(|&b| b == 0).ok_or("a member name without its terminating NUL")?;
                let name = std::str::from_utf8(&name[..end]).map_err(|_| "a member name that is not UTF-8")?;
                if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                    return Err(format!("a member named {name:?}"));
                }
                Ok((name.to_string(), addr))
            })
            .collect()
    }

    /// The data segment of a local heap (III.D).
    fn local_heap(&self, addr: u64) -> Result<&'b [u8], Error> {
        let mut c = Cursor::at(self.bytes, addr, "local heap")?;
        c.signed(b"HEAP", 0)?;
        c.skip(3)?;
        let size = bounded(c.uint(self.length_size)?, self.bytes.len(), "a local heap")?;
        c.skip(self.length_size)?; // free list
        let at = bounded(c.uint(self.offset_size)?, self.bytes.len(), "a local heap address")?;
        let mut d = Cursor { bytes: self.bytes, pos: at, what: "local heap data" };
        d.take(size)
    }

    /// A node of a group's version-1 B-tree (III.A.1), its symbol-table nodes' entries appended to
    /// `entries` (name offset in the local heap, object header address).
    fn btree_node(&mut self, addr: u64, level: Option<u8>, entries: &mut Vec<(u64, u64)>) -> Result<(), Error> {
        self.first_visit(addr, "B-tree node")?;
        let mut c = Cursor::at(self.bytes, addr, "B-tree node")?;
        c.signature(b"TREE")?;
        let kind = c.u8()?;
        if kind != 0 {
            return Err(format!("a group B-tree node of type {kind} (type 0 expected)"));
        }
        let node_level = c.u8()?;
        if level.is_some_and(|parent| node_level >= parent) {
            return Err(format!("a B-tree node at level {node_level} below a node at level {}", level.unwrap_or(0)));
        }
        let used = usize::from(c.u16()?);
        if used > 2 * self.internal_k.max(self.leaf_k) {
            return Err(format!("a B-tree node with {used} entries, over 2·K"));
        }
        c.skip(2 * self.offset_size)?; // siblings
        let mut children = Vec::with_capacity(used);
        c.skip(self.length_size)?; // key 0
        for _ in 0..used {
            children.push(c.uint(self.offset_size)?);
            c.skip(self.length_size)?;
        }
        for child in children {
            if node_level == 0 {
                self.symbol_node(child, entries)?;
            } else {
                self.btree_node(child, Some(node_level), entries)?;
            }
        }
        Ok(())
    }

    /// A symbol-table node (III.B): its entries (III.C).
    fn symbol_node(&mut self, addr: u64, entries: &mut Vec<(u64, u64)>) -> Result<(), Error> {
        self.first_visit(addr, "symbol table node")?;
        let mut c = Cursor::at(self.bytes, addr, "symbol table node")?;
        c.signed(b"SNOD", 1)?;
        c.skip(1)?;
        let n = usize::from(c.u16()?);
        if n > 2 * self.leaf_k {
            return Err(format!("a symbol table node with {n} entries, over 2·K ({})", 2 * self.leaf_k));
        }
        for _ in 0..n {
            let name = c.uint(self.offset_size)?;
            let header = c.uint(self.offset_size)?;
            let cache = c.u32()?;
            c.skip(4 + 16)?;
            if cache == 2 {
                return Err("a symbolic link is not supported".into());
            }
            entries.push((name, header));
        }
        Ok(())
    }
}

/// The messages of one object header that matter here.
#[derive(Default)]
struct Header {
    space: Option<Option<Vec<usize>>>,
    ty: Option<Type>,
    layout: Option<Layout>,
    group: Option<(u64, u64)>,
    attributes: Vec<(String, Value)>,
    dataset: Option<Dataset>,
}

enum Layout {
    /// `len` is declared by layout versions 3 and 4.
    Contiguous { at: u64, len: Option<u64> },
    /// Inside the layout message itself: its byte range in the file.
    Compact(Range<usize>),
}

/// A datatype message (IV.A.2.d).
fn datatype(c: &mut Cursor, depth: usize) -> Result<Type, Error> {
    if depth > MAX_TYPE_DEPTH {
        return Err("datatypes nested too deeply".into());
    }
    c.what = "datatype message";
    let head = c.u8()?;
    let (class, version) = (head & 0x0f, head >> 4);
    if !(1..=5).contains(&version) {
        return Err(format!("datatype version {version} is not known"));
    }
    let bits = c.take(3)?;
    let (b0, b1) = (bits[0], bits[1]);
    let size = c.u32()? as usize;
    Ok(match class {
        0 => {
            c.skip(4)?;
            if ![1, 2, 4, 8].contains(&size) || b0 & 0x01 != 0 {
                Type::Other { size, class: "integer of an unusual size or byte order" }
            } else {
                Type::Int { size, signed: b0 & 0x08 != 0 }
            }
        }
        1 => {
            let offset = c.u16()?;
            let precision = c.u16()?;
            let (exp_at, exp_size, mant_at, mant_size) = (c.u8()?, c.u8()?, c.u8()?, c.u8()?);
            let bias = c.u32()?;
            let ieee = match size {
                2 => (15, 10, 5, 10, 15),
                4 => (31, 23, 8, 23, 127),
                8 => (63, 52, 11, 52, 1023),
                _ => (0, 0, 0, 0, 0),
            };
            let layout = (b1, exp_at, exp_size, mant_size, bias);
            let byte_order = b0 & 0x41;
            if offset == 0
                && usize::from(precision) == 8 * size
                && mant_at == 0
                && layout == ieee
                && (byte_order == 0 || byte_order == 1)
                && b0 & 0x30 == 0x20
            {
                Type::Float { size, big_endian: byte_order == 1 }
            } else {
                Type::Other { size, class: "floating point of a layout other than IEEE binary16/32/64" }
            }
        }
        3 => Type::FixedString { size },
        5 => {
            let tag = usize::from(b0);
            c.skip(tag.div_ceil(8) * 8)?;
            Type::Opaque { size }
        }
        9 => {
            let base = datatype(c, depth + 1)?;
            match (b0 & 0x0f, base) {
                (1, _) => Type::VlenString,
                _ => Type::Other { size: 16, class: "variable-length sequence" },
            }
        }
        2 => Type::Other { size, class: "time" },
        4 => Type::Other { size, class: "bit field" },
        6 => Type::Other { size, class: "compound" },
        7 => Type::Other { size, class: "reference" },
        8 => Type::Other { size, class: "enumeration" },
        10 => Type::Other { size, class: "array" },
        k => return Err(format!("datatype class {k} is not known")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_the_signature_is_refused() {
        assert!(objects(b"not an hdf5 file at all").unwrap_err().contains("no HDF5 signature"));
    }

    #[test]
    fn a_later_superblock_is_named() {
        let mut b = b"\x89HDF\r\n\x1a\n".to_vec();
        b.extend_from_slice(&[3; 64]);
        assert!(objects(&b).unwrap_err().contains("superblock version 3"));
    }
}
