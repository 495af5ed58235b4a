//! Typed errors of the numerical core.

/// What can go wrong between raw tensor bytes and a spectrum.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum CoreError {
    /// The byte buffer does not hold exactly `rows × cols` elements of the dtype.
    #[error("{len} bytes cannot hold a {rows}×{cols} {dtype} matrix ({expected} bytes expected)")]
    ByteLength {
        /// Bytes given.
        len: usize,
        /// Bytes a `rows × cols` matrix of this dtype needs (saturating).
        expected: usize,
        /// Rows requested.
        rows: usize,
        /// Columns requested.
        cols: usize,
        /// Storage dtype.
        dtype: crate::Dtype,
    },
    /// An element is NaN or ±Inf: no spectrum is defined.
    #[error("element [{row}, {col}] is {value}; spectra of non-finite matrices are undefined")]
    NonFinite {
        /// Row of the first offending element.
        row: usize,
        /// Column of the first offending element.
        col: usize,
        /// `NaN`, `inf` or `-inf`.
        value: String,
    },
    /// The dtype holds no real numbers (integers, booleans).
    #[error("dtype {0} is not a floating-point type")]
    NotFloat(crate::Dtype),
    /// The workspace for the decomposition could not be allocated.
    #[error(
        "out of memory: the singular value decomposition of a {rows}×{cols} matrix needs {bytes} bytes of workspace"
    )]
    OutOfMemory {
        /// Rows of the matrix.
        rows: usize,
        /// Columns of the matrix.
        cols: usize,
        /// Workspace bytes requested.
        bytes: usize,
    },
    /// The matrix's entries are not at hand: only its singular values, computed elsewhere, are.
    #[error("the matrix's entries are not at hand (its spectrum was computed where they are)")]
    NoEntries,
    /// Two matrices that must have one shape do not (a LoRA update and its base weight).
    #[error("the update is {}×{} but the base weight is {}×{}", update[0], update[1], base[0], base[1])]
    ShapeMismatch {
        /// `[rows, cols]` of the update.
        update: [usize; 2],
        /// `[rows, cols]` of the base weight.
        base: [usize; 2],
    },
    /// The iterative SVD did not converge (never observed on finite input; reported, not hidden).
    #[error("the singular value decomposition of a {rows}×{cols} matrix did not converge")]
    NoConvergence {
        /// Rows of the matrix.
        rows: usize,
        /// Columns of the matrix.
        cols: usize,
    },
}

impl From<crate::dtype::NotFloat> for CoreError {
    fn from(e: crate::dtype::NotFloat) -> Self {
        CoreError::NotFloat(e.0)
    }
}
