//! Typed errors of the readers. Every message names the file and says what is wrong with it.

use std::path::PathBuf;

/// Why a checkpoint or an input path could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The file or directory could not be opened or read.
    #[error("cannot read {}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid file of its format.
    #[error("{}: not a valid {format} file: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The format it was read as.
        format: &'static str,
        /// What is wrong, in words.
        reason: String,
    },
    /// A pickle calls a global outside the allow-list (nothing was called). The message is that of
    /// [`FormatError::Invalid`]; the global is kept so that callers can say what to allow.
    #[error("{}: not a valid {format} file: {reason}", path.display())]
    RefusedGlobal {
        /// The file.
        path: PathBuf,
        /// The format's name.
        format: &'static str,
        /// What is wrong, in words (names the global and whether it would run code).
        reason: String,
        /// The global, as `module.name`.
        global: String,
        /// True for globals whose only use in a pickle is to run code or reach the system.
        runs_code: bool,
    },
    /// The file is a checkpoint format this version does not read.
    #[error("{}: {format} files are not supported yet (svdiag reads safetensors, PyTorch, NumPy, GGUF, ONNX and Keras files)", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The format recognised from its first bytes.
        format: &'static str,
    },
    /// One tensor of an otherwise readable file cannot be read.
    #[error("{}: tensor '{name}': {reason}", path.display())]
    Tensor {
        /// The file.
        path: PathBuf,
        /// The tensor.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A sharded checkpoint's index file is unusable.
    #[error("{}: invalid shard index: {reason}", path.display())]
    Index {
        /// The index file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A directory holds no checkpoint svdiag can read.
    #[error("{}: no checkpoint in this directory (looked for model.safetensors, pytorch_model.bin, their shard indexes, and *.safetensors, *.bin, *.pt, *.pth, *.ckpt, *.npz, *.npy)", path.display())]
    NoCheckpoint {
        /// The directory.
        path: PathBuf,
    },
}
