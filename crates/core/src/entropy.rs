//! Singular values as a probability distribution, and its entropies: the primitives every metric,
//! baseline and guard of this crate is built from. Natural logarithms; `0·log 0 = 0`.

use std::fmt;
use std::str::FromStr;

/// How singular values become a probability distribution `p`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Normalization {
    /// `p_i = σ_i / Σ_j σ_j` (the singular-value entropy of Liu et al. 2025 and Su 2026; default).
    #[default]
    Sigma,
    /// `p_i = σ_i² / Σ_j σ_j²`.
    Energy,
}

impl FromStr for Normalization {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "sigma" => Ok(Self::Sigma),
            "energy" => Ok(Self::Energy),
            _ => Err(format!("unknown normalization '{s}' (expected 'sigma' or 'energy')")),
        }
    }
}

impl fmt::Display for Normalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sigma => "sigma",
            Self::Energy => "energy",
        })
    }
}

/// The order `q ≥ 0` of the Rényi entropy; `q = ∞` allowed (`inf`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RenyiOrder(f64);

impl RenyiOrder {
    /// Validates `q`: non-negative, not NaN; `f64::INFINITY` is the min-entropy.
    pub fn new(q: f64) -> Result<Self, String> {
        if q.is_nan() || q < 0.0 {
            return Err(format!("Rényi order q must be ≥ 0 or 'inf', got {q}"));
        }
        Ok(Self(q))
    }

    /// The value of `q`.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for RenyiOrder {
    fn default() -> Self {
        Self(2.0)
    }
}

impl FromStr for RenyiOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let q = match t.to_ascii_lowercase().as_str() {
            "inf" | "infinity" | "∞" => f64::INFINITY,
            _ => t.parse::<f64>().map_err(|_| format!("'{s}' is not a number or 'inf'"))?,
        };
        Self::new(q)
    }
}

impl fmt::Display for RenyiOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_infinite() {
            f.write_str("inf")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl serde::Serialize for RenyiOrder {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.serialize_f64(self.0)
        } else {
            s.serialize_str("inf")
        }
    }
}

/// Settings that change the values of the entropy-type metrics.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct MetricOptions {
    /// Which distribution the entropies are taken of.
    pub normalization: Normalization,
    /// Order of `renyi_entropy`.
    pub q: RenyiOrder,
}

/// `kl_uniform = log r − H(p)` of singular values under the normalization (`None` when all are 0).
pub fn kl_uniform(s: &[f64], normalization: Normalization) -> Option<f64> {
    distribution(s, normalization).map(|p| (s.len() as f64).ln() - shannon(&p))
}

/// `p` under the normalization, or `None` when every singular value is 0.
pub(crate) fn distribution(s: &[f64], normalization: Normalization) -> Option<Vec<f64>> {
    let w: Vec<f64> = match normalization {
        Normalization::Sigma => s.to_vec(),
        Normalization::Energy => s.iter().map(|v| v * v).collect(),
    };
    let total: f64 = w.iter().sum();
    if total > 0.0 {
        Some(w.into_iter().map(|v| v / total).collect())
    } else {
        None
    }
}

/// Shannon entropy with `0·log 0 = 0`.
pub fn shannon(p: &[f64]) -> f64 {
    -p.iter().filter(|&&x| x > 0.0).map(|&x| x * x.ln()).sum::<f64>()
}

/// Rényi entropy of order `q` (`q = 0`, `1` and `∞` by their limits).
pub fn renyi(p: &[f64], q: f64) -> f64 {
    if q == 1.0 {
        shannon(p)
    } else if q == 0.0 {
        (p.iter().filter(|&&x| x > 0.0).count() as f64).ln()
    } else if q.is_infinite() {
        -p.iter().copied().fold(0.0, f64::max).ln()
    } else {
        p.iter().filter(|&&x| x > 0.0).map(|&x| x.powf(q)).sum::<f64>().ln() / (1.0 - q)
    }
}
