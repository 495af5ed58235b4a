//! Singular values in f64: the direct SVD ([`spectrum`]), the guarded Gram route ([`gram`], over
//! the packed Gram kernel `syrk` and the eigen-solver of [`tridiagonal`] and `two_stage`), a product of
//! low-rank factors without forming it ([`factored`]: LoRA updates), and the cheap
//! paths that never decompose: Lanczos iterations ([`lanczos`]), `--quick`'s streamed passes
//! ([`quick`]) and `--approx`'s stochastic Lanczos quadrature ([`slq`]).

pub mod factored;
pub mod gram;
pub mod lanczos;
pub mod quick;
pub mod slq;
pub mod spectrum;
mod syrk;
pub mod tridiagonal;
mod two_stage;
mod vector;
