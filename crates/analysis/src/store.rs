//! The interface to a persistent store of exact spectra, and the key a spectrum is stored under.
//!
//! The analysis only needs `get` and `put`; the SQLite store that implements them lives in its own
//! crate (`svdiag-store`), so this pipeline stays free of database code.
//!
//! What is stored is the expensive part, the singular values (with the L1,2 norm and the route
//! that produced them); the metrics are recomputed from them on every use, which costs
//! microseconds and keeps the store valid when metrics are added.

use svdiag_core::linalg::gram::Route;
use svdiag_core::Dtype;

use crate::options::AnalysisOptions;
use crate::stored::{Stored, StoredValues};

/// Version of the key derivation; change it whenever what the key covers changes.
const KEY_SCHEME: &str = "svdiag spectrum key v1";

/// The exact spectrum of one analyzed matrix, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSpectrum {
    /// Rows of the analyzed matrix.
    pub rows: usize,
    /// Columns of the analyzed matrix.
    pub cols: usize,
    /// The `min(rows, cols)` singular values, non-increasing.
    pub singular_values: Vec<f64>,
    /// The L1,2 norm (sum of the column norms).
    pub l12_norm: f64,
    /// How the values were computed.
    pub route: Route,
    /// Why the guard refined or fell back, if it did.
    pub route_reason: Option<String>,
}

impl StoredSpectrum {
    /// Checks what a store returned before it is used: the right number of finite, non-negative
    /// values for the shape. A store that fails this is corrupt or foreign, and its entry is not used.
    pub fn validate(&self, rows: usize, cols: usize) -> Result<(), String> {
        if (self.rows, self.cols) != (rows, cols) {
            return Err(format!("stored shape {}×{} is not {rows}×{cols}", self.rows, self.cols));
        }
        if self.singular_values.len() != rows.min(cols) {
            return Err(format!("{} stored values for min({rows}, {cols})", self.singular_values.len()));
        }
        if !self.singular_values.iter().all(|v| v.is_finite() && *v >= 0.0) || !self.l12_norm.is_finite() {
            return Err("stored values are not finite and non-negative".into());
        }
        Ok(())
    }
}

/// A persistent store of exact spectra, shared by the worker threads.
pub trait SpectrumStore: Sync {
    /// The spectrum stored under `key`, if any (already validated against the key's shape).
    fn get(&self, key: &Key) -> Option<StoredSpectrum>;
    /// Stores a spectrum; must be durable when it returns (an interrupted run keeps it).
    fn put(&self, key: &Key, value: &StoredSpectrum);
}

/// What a spectrum is stored under: a BLAKE3 hash of the matrix's content (its stored bytes,
/// dtype and analyzed shape), of the settings that change the spectrum or its route, and of the
/// tool's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// The hash.
    pub hash: [u8; 32],
    /// Rows of the analyzed matrix (to validate what comes back).
    pub rows: usize,
    /// Columns of the analyzed matrix.
    pub cols: usize,
}

impl Key {
    /// The hash in hexadecimal.
    pub fn hex(&self) -> String {
        self.hash.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// True when the records of a run with these options can come from a store: exact spectra only
/// (`--quick` and `--approx` estimates are never stored).
pub fn cacheable(options: &AnalysisOptions) -> bool {
    !options.quick && options.approx.is_none()
}

/// The settings that decide the spectrum and its route, in words (also stored beside each entry).
pub fn settings(options: &AnalysisOptions) -> String {
    // the Gram route's guard checks the metrics of this normalization and order
    format!("method={} normalization={} q={}", options.method.name(), options.metrics.normalization, options.metrics.q)
}

/// The key of one analyzed block of a stored tensor.
pub(crate) fn key(src: &Stored<'_>, dtype: Dtype, options: &AnalysisOptions) -> Key {
    let mut h = blake3::Hasher::new();
    for part in [KEY_SCHEME, env!("CARGO_PKG_VERSION"), &settings(options), &dtype.to_string()] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.update(&(src.rows as u64).to_le_bytes());
    h.update(&(src.cols as u64).to_le_bytes());
    for range in src.ranges() {
        let (start, end) = (range.start, range.end);
        match src.values {
            StoredValues::Bytes(bytes, _, size) => {
                h.update(&bytes[start * size..end * size]);
            }
            StoredValues::F64(values) => {
                for v in &values[start..end] {
                    h.update(&v.to_le_bytes());
                }
            }
            StoredValues::Quantized(q) => {
                // the blocks holding the values, and where the values start and end in them
                h.update(&(start as u64).to_le_bytes());
                h.update(&(end as u64).to_le_bytes());
                h.update(q.block_bytes(start..end));
            }
            StoredValues::Spectrum(_) => {}
        }
    }
    match src.values {
        StoredValues::Bytes(..) | StoredValues::F64(_) | StoredValues::Quantized(_) => {}
        StoredValues::Spectrum(p) => {
            for v in p.singular_values.iter().chain([&p.l12_norm]) {
                h.update(&v.to_le_bytes());
            }
        }
    }
    Key { hash: *h.finalize().as_bytes(), rows: src.rows, cols: src.cols }
}
