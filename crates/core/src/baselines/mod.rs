//! Where a spectrum would be without training, and how far it is from there: the entropy of a
//! uniformly random distribution on the simplex ([`simplex`]), the Marchenko–Pastur law of a random
//! matrix of the same shape ([`mp`]), and the heavy-tail exponents ([`htsr`], with the aspect-ratio
//! correction of [`farms`]); and the distribution of the statistics over random matrices of the
//! same shape, which turns them into p-values ([`null`]).

pub mod farms;
pub mod htsr;
pub mod mp;
pub mod null;
pub mod simplex;
