//! Where should the entropy be? The entropy of a uniformly random point of the probability simplex
//! (docs/metrics.md §3; Su 2026): exact moments, Su's mean-field approximations, and a Monte
//! Carlo estimate (normalized Exp(1) draws).

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::special::{digamma, ln_gamma, trigamma, EULER_GAMMA};

/// Exact mean and variance of the Shannon entropy of `p ~ Dirichlet(1, …, 1)` on `n` points.
///
/// Mean `ψ(n+1) − ψ(2) = H_n − 1`. Second moment from the Dirichlet moments of `p_i log p_i`
/// (Wolpert & Wolf 1995; Nemenman, Shafee & Bialek 2002) with all concentrations 1:
/// `E[H²] = (n−1)/(n+1)·[(ψ(2) − ψ(n+2))² − ψ′(n+2)] + 2/(n+1)·[(ψ(3) − ψ(n+2))² + ψ′(3) − ψ′(n+2)]`.
pub fn shannon_moments(n: usize) -> (f64, f64) {
    let nf = n as f64;
    let mean = digamma(nf + 1.0) - digamma(2.0);
    if n < 2 {
        return (mean, 0.0);
    }
    let (d2, d3, dn2) = (digamma(2.0), digamma(3.0), digamma(nf + 2.0));
    let (t3, tn2) = (trigamma(3.0), trigamma(nf + 2.0));
    let second =
        (nf - 1.0) / (nf + 1.0) * ((d2 - dn2).powi(2) - tn2) + 2.0 / (nf + 1.0) * ((d3 - dn2).powi(2) + t3 - tn2);
    (mean, (second - mean * mean).max(0.0))
}

/// Su's (2026) mean-field approximations of the mean and variance of the Rényi-`q` entropy
/// (`q = 1`: Shannon): `E[H_q] ≈ log n − log Γ(q+1)/(q−1)`,
/// `Var[H_q] ≈ (1/n)·[Γ(2q+1)/((q−1)²Γ(q+1)²) − (q²+1)/(q−1)²]` (`q → 1`: `(π²/3 − 3)/n`).
/// `q = 0` is exact (`log n`, no variance). For `q = ∞` the formula diverges; the mean given is
/// `log n − log H_n` (from `E[max p] = H_n/n`, exact) and the variance is `None`.
pub fn renyi_approx(n: usize, q: f64) -> (f64, Option<f64>) {
    let nf = n as f64;
    let ln = nf.ln();
    if q == 0.0 {
        return (ln, Some(0.0));
    }
    if q.is_infinite() {
        let h_n = digamma(nf + 1.0) + EULER_GAMMA;
        return (ln - h_n.ln(), None);
    }
    if (q - 1.0).abs() < 1e-9 {
        return (ln - (1.0 - EULER_GAMMA), Some((std::f64::consts::PI.powi(2) / 3.0 - 3.0) / nf));
    }
    let mean = ln - ln_gamma(q + 1.0) / (q - 1.0);
    let d = (q - 1.0) * (q - 1.0);
    let var = ((ln_gamma(2.0 * q + 1.0) - 2.0 * ln_gamma(q + 1.0)).exp() / d - (q * q + 1.0) / d) / nf;
    (mean, Some(var))
}

/// A Monte Carlo estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Estimate {
    /// The estimate.
    pub value: f64,
    /// Its standard error.
    pub se: f64,
}

/// Monte Carlo moments of the Shannon and Rényi-`q` entropies of `samples` uniform simplex points.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MonteCarlo {
    /// Points drawn.
    pub samples: usize,
    /// Seed of the ChaCha8 generator.
    pub seed: u64,
    /// Mean of `H`.
    pub shannon_mean: Estimate,
    /// Variance of `H`.
    pub shannon_var: Estimate,
    /// Mean of `H_q`.
    pub renyi_mean: Estimate,
    /// Variance of `H_q`.
    pub renyi_var: Estimate,
}

/// Draws `samples` points `p = e/Σe` with `e_i ~ Exp(1)` i.i.d. (ChaCha8, seeded; deterministic).
pub fn monte_carlo(n: usize, q: f64, samples: usize, seed: u64) -> MonteCarlo {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut e = vec![0.0f64; n];
    let (mut hs, mut rs) = (Vec::with_capacity(samples), Vec::with_capacity(samples));
    for _ in 0..samples {
        for x in e.iter_mut() {
            // 53 random bits → u ∈ (0, 1]; −ln u ~ Exp(1)
            let u = ((rng.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
            *x = -u.ln();
        }
        let s: f64 = e.iter().sum();
        let p: Vec<f64> = e.iter().map(|x| x / s).collect();
        hs.push(crate::entropy::shannon(&p));
        rs.push(crate::entropy::renyi(&p, q));
    }
    MonteCarlo {
        samples,
        seed,
        shannon_mean: mean_se(&hs),
        shannon_var: var_se(&hs),
        renyi_mean: mean_se(&rs),
        renyi_var: var_se(&rs),
    }
}

fn mean_se(x: &[f64]) -> Estimate {
    let k = x.len() as f64;
    let m = x.iter().sum::<f64>() / k;
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (k - 1.0).max(1.0);
    Estimate { value: m, se: (v / k).sqrt() }
}

/// Sample variance and its standard error `√((m4 − s⁴)/K)` (large-K normal approximation).
fn var_se(x: &[f64]) -> Estimate {
    let k = x.len() as f64;
    let m = x.iter().sum::<f64>() / k;
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (k - 1.0).max(1.0);
    let m4 = x.iter().map(|v| (v - m).powi(4)).sum::<f64>() / k;
    Estimate { value: v, se: ((m4 - v * v).max(0.0) / k).sqrt() }
}
