//! # svdiag-formats
//!
//! Checkpoint readers. Every reader treats its file as untrusted: lengths, offsets and shapes are
//! validated before any tensor byte is touched, and tensor data is served straight from a
//! memory map, one tensor at a time, so that reading never costs more memory than the tensor
//! being analyzed.
//!
//! - [`safetensors`]: `.safetensors` files (validated by the `safetensors` crate, memory-mapped).
//! - [`keras`]: Keras `.keras`, `.weights.h5` and legacy `.h5` files, through a memory-safe parser of
//!   the HDF5 subset Keras writes (never the C library).
//! - [`inputs`]: what a user names on the command line — files, Hugging Face model directories
//!   (single file or sharded with `model.safetensors.index.json`) — resolved to checkpoint files.
#![deny(missing_docs)]

pub mod adapter;
mod archive;
pub mod error;
pub mod gguf;
mod hdf5;
pub mod inputs;
pub mod keras;
pub mod memory;
mod mmap;
pub mod npy;
pub mod onnx;
mod pickle;
pub mod pytorch;
pub mod quant;
pub mod safetensors;
mod tensor;

use std::path::Path;

pub use error::FormatError;
pub use tensor::{Precomputed, ReadOptions, TensorData, TensorInfo, TensorSource};

/// Opens a checkpoint file, choosing the reader by content (magic bytes), not by extension.
pub fn open(path: &Path) -> Result<Box<dyn TensorSource>, FormatError> {
    open_with(path, &ReadOptions::default())
}

/// [`open`] with options.
pub fn open_with(path: &Path, opts: &ReadOptions) -> Result<Box<dyn TensorSource>, FormatError> {
    match sniff(path)? {
        Some(Kind::Npy) => Ok(Box::new(npy::NpyFile::open(path)?)),
        Some(Kind::Gguf) => Ok(Box::new(gguf::GgufFile::open(path)?)),
        Some(Kind::Onnx) => Ok(Box::new(onnx::OnnxFile::open(path)?)),
        Some(Kind::Zip) => open_zip(path, opts),
        Some(Kind::Hdf5) => Ok(Box::new(keras::KerasFile::open(path)?)),
        Some(Kind::TorchLegacy) => Ok(Box::new(pytorch::PytorchFile::open_legacy(path, opts)?)),
        Some(Kind::Unsupported(format)) => Err(FormatError::Unsupported { path: path.to_path_buf(), format }),
        None => Ok(Box::new(safetensors::SafetensorsFile::open(path)?)),
    }
}

/// A zip is a PyTorch checkpoint when it has a `data.pkl` member, a Keras archive when it has
/// `model.weights.h5`, else a NumPy `.npz`.
fn open_zip(path: &Path, opts: &ReadOptions) -> Result<Box<dyn TensorSource>, FormatError> {
    let archive = archive::Archive::open(path)?;
    if let Some(i) = archive.entries().iter().position(|e| e.name == keras::KERAS_WEIGHTS_MEMBER) {
        return Ok(Box::new(keras::KerasFile::from_archive(path, &archive, i)?));
    }
    let has = |name: &str| archive.entries().iter().any(|e| e.name == name);
    if has("config.json") && has("metadata.json") {
        return Err(FormatError::Unsupported {
            path: path.to_path_buf(),
            format: "sharded Keras archive (no model.weights.h5: analyze its weight shards, the .h5 files, instead)",
        });
    }
    let pkl = archive.entries().iter().position(|e| e.name == "data.pkl" || e.name.ends_with("/data.pkl"));
    Ok(match pkl {
        Some(i) => Box::new(pytorch::PytorchFile::from_zip(path, archive, i, opts)?),
        None => Box::new(npy::NpzFile::from_archive(path, archive)?),
    })
}

enum Kind {
    Npy,
    Gguf,
    Onnx,
    Zip,
    Hdf5,
    TorchLegacy,
    Unsupported(&'static str),
}

/// Recognises a format by its first bytes; the ones this version cannot read yet are named, so that
/// the user hears "this is a GGUF file" rather than "invalid safetensors header".
fn sniff(path: &Path) -> Result<Option<Kind>, FormatError> {
    use std::io::Read;
    let io = |source| FormatError::Io { path: path.to_path_buf(), source };
    let mut head = Vec::with_capacity(16);
    let file = std::fs::File::open(path).map_err(io)?;
    file.take(16).read_to_end(&mut head).map_err(io)?;
    Ok(if head.starts_with(b"GGUF") {
        Some(Kind::Gguf)
    } else if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        Some(Kind::Zip)
    } else if head.starts_with(b"\x93NUMPY") {
        Some(Kind::Npy)
    } else if head.starts_with(pytorch::LEGACY_MAGIC) {
        Some(Kind::TorchLegacy)
    } else if head.len() >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]) {
        Some(Kind::Unsupported("Python pickle (not from torch.save)"))
    } else if head.starts_with(b"\x89HDF\r\n\x1a\n") {
        Some(Kind::Hdf5)
    } else if head.get(8) == Some(&b'{') {
        None // safetensors: an 8-byte length, then the JSON header
    } else if head.first() == Some(&0x08) || path.extension().is_some_and(|e| e == "onnx") {
        // ONNX has no magic number; a ModelProto starts with field 1 (ir_version, a varint): 0x08
        Some(Kind::Onnx)
    } else if hdf5_after_user_block(path) {
        Some(Kind::Hdf5) // refused by the reader, with the reason
    } else {
        None
    })
}

/// True when an HDF5 signature follows a user block (at byte 512, 1024, 2048, …), where the format
/// allows it.
fn hdf5_after_user_block(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else { return false };
    let len = file.metadata().map_or(0, |m| m.len());
    let mut at = 512u64;
    while at + 8 <= len && at <= 1 << 20 {
        let mut sig = [0u8; 8];
        if file.seek(SeekFrom::Start(at)).is_err() || file.read_exact(&mut sig).is_err() {
            return false;
        }
        if &sig == b"\x89HDF\r\n\x1a\n" {
            return true;
        }
        at *= 2;
    }
    false
}
