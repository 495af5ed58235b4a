//! Where a spectrum would be without training, and how far it is from there: the entropy of a
//! uniformly random distribution on the simplex ([`simplex`]), the Marchenko–Pastur law of a random
//! matrix of the same shape ([`mp`]), and the heavy-tail exponents ([`htsr`], with the aspect-ratio
//! correction of [`farms`]).

pub mod farms;
pub mod htsr;
pub mod mp;
pub mod simplex;
