//! # svdiag-core
//!
//! The pure mathematics of svdiag: no files, no printing, no threads of its own (the parallel parts
//! of one large matrix are rayon tasks in the caller's pool: see [`linalg::gram`]).
//!
//! The data flow of one matrix is
//! `bytes + dtype` → [`Matrix`] (f64, widened) → [`Spectrum`] (singular values in f64, by `faer`)
//! → [`Metrics`] (the canonical fields of docs/metrics.md §2).
//!
//! ```
//! use svdiag_core::{Dtype, Matrix, MetricOptions, Metrics, Spectrum};
//!
//! // A 2×3 f32 matrix, stored row-major and little-endian as in a checkpoint.
//! let values: [f32; 6] = [3.0, 0.0, 0.0, 0.0, 4.0, 0.0];
//! let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
//! let matrix = Matrix::from_le_bytes(&bytes, Dtype::F32, 2, 3).unwrap();
//! let spectrum = Spectrum::of(&matrix).unwrap();
//! assert_eq!(spectrum.values(), &[4.0, 3.0]);
//! let metrics = Metrics::compute(&spectrum, matrix.l12_norm(), &MetricOptions::default());
//! assert_eq!(metrics.spectral_norm, 4.0);
//! assert!((metrics.nuclear_norm.unwrap() - 7.0).abs() < 1e-15);
//! ```
#![deny(missing_docs)]

pub mod baselines;
pub mod dtype;
pub mod entropy;
pub mod error;
pub mod esd;
pub mod linalg;
pub mod matrix;
pub mod metrics;
pub mod naming;
pub mod representation;
pub mod special;
pub mod stats;
pub mod surgery;

pub use dtype::Dtype;
pub use entropy::{MetricOptions, Normalization, RenyiOrder};
pub use error::CoreError;
pub use linalg::spectrum::Spectrum;
pub use matrix::{Blocks, Matrix};
pub use metrics::{Metrics, Undefined};
pub use naming::{Role, TensorIdentity};

/// The number of elements of a tensor of this shape: 0 when any dimension is 0 (whatever the
/// others), `None` when the product overflows. The one definition every reader uses.
pub fn numel(shape: &[usize]) -> Option<usize> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}
