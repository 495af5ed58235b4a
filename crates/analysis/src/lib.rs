//! # svdiag-analysis
//!
//! The pipeline of `svdiag analyze`:
//! paths → [`Plan`] (files opened and validated, tensors listed, each either a matrix [`Task`] or a
//! [`Skipped`] entry) → [`analyze`] (in parallel, one matrix per worker at a time) → [`Analysis`]
//! (one [`MatrixRecord`] per matrix, plus what was skipped or failed, and why).
//!
//! Memory: a worker holds one matrix widened to f64 and its SVD workspace; tensor bytes are read
//! from memory maps and released after use. Peak memory is therefore about
//! `threads × (largest matrix in f64 + workspace)`, independent of the model's size.
//!
//! Determinism: each matrix is decomposed sequentially on one worker, and the records are sorted
//! by a fixed key, so the results do not depend on the number of threads.
#![deny(missing_docs)]

mod adapter;
pub mod cluster;
pub mod compare;
pub mod delta;
pub mod diagnose;
pub mod lora;
mod measure;
pub mod merge;
pub mod null;
mod options;
mod plan;
mod pool;
mod record;
mod run;
pub mod runs;
pub mod store;
mod stored;
pub mod surgery;
pub mod trend;

pub use diagnose::{DepthPoint, Diagnoses, Diagnosis, PruningCandidate, Thresholds};

pub use measure::{measure_bytes, Measured};
pub use options::{AnalysisOptions, ApproxMode, Method, QUICK_TOLERANCE};
pub use plan::{matrix_shape, FileSummary, Gate, InputSummary, Plan, PlanError, Skipped, Task};
pub use record::{matrix_key, Failed, MatrixRecord};
pub use run::{analyze, analyze_with_store, Analysis, NoProgress, Progress, CANCELLED};
