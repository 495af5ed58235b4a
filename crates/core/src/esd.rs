//! What a report draws of one spectrum, downsampled to a few kilobytes: the histogram of the
//! eigenvalues `λ = σ²` on a log axis with the counts the fitted Marchenko–Pastur law expects in
//! each bin, the values at or below the rank tolerance counted (never dropped), the outliers at
//! both ends with the cut-offs that counted them, and the tail's complementary CDF at chosen ranks.
//!
//! Every number here comes from the exact spectrum; only *which* values are kept is a choice (the
//! constants below), so a page drawn from it agrees with the record's metrics by construction.

use crate::baselines::mp::{MarchenkoPastur, MpBaseline};
use crate::Spectrum;

/// Bins of the histogram, log-spaced over the positive eigenvalues above the rank tolerance.
pub const BINS: usize = 60;
/// Outlier values kept per side (the largest above, the smallest below); the counts are exact.
pub const MAX_OUTLIERS: usize = 64;
/// Ranks of the complementary CDF kept in full from the top (the tail a power law is fitted to).
pub const CCDF_TOP: usize = 32;
/// Further ranks of the complementary CDF, geometrically spaced down to the smallest value.
pub const CCDF_SPREAD: usize = 64;

/// The downsampled spectrum of one matrix (all eigenvalues are `λ = σ²`, no `1/N`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Esd {
    /// Number of singular values (`min(m, n)`).
    pub values: usize,
    /// Values `σ ≤ tol` (the numerical-rank tolerance): counted here, outside the histogram.
    pub near_zero: usize,
    /// The tolerance, `σ_max · max(m, n) · ε`, in singular-value units.
    pub tolerance: f64,
    /// `[lo, hi]`: `log10 λ` of the smallest and largest value above the tolerance, the ends of
    /// the histogram's equal-width bins (widened by ½ each way when they coincide; `null` when no
    /// value is above the tolerance).
    pub log10_range: Option<[f64; 2]>,
    /// Eigenvalues in each bin, from `lo` up (the last bin includes `hi`).
    pub counts: Vec<usize>,
    /// Eigenvalues the fitted Marchenko–Pastur law expects in each bin (absent without a fit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mp_expected: Option<Vec<f64>>,
    /// The fit's cut-offs in `λ = σ²`: `[lower, upper]`; a value above `upper` counted in
    /// `outliers_above`, below `lower` in `outliers_below` (`lower` is `null` for a square matrix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mp_cuts: Option<[Option<f64>; 2]>,
    /// The largest outliers above, `λ` descending (at most [`MAX_OUTLIERS`]).
    pub outliers_above: Vec<f64>,
    /// The smallest outliers below, `λ` ascending (at most [`MAX_OUTLIERS`]).
    pub outliers_below: Vec<f64>,
    /// `[λ_i, i/k]` for the kept ranks `i` (1-based, descending `λ`): the empirical
    /// `P(Λ ≥ λ_i)` over all `k` eigenvalues.
    pub ccdf: Vec<[f64; 2]>,
}

/// The numerical-rank tolerance `σ_max · max(m, n) · ε` (singular values non-increasing).
pub fn rank_tolerance(spectrum: &Spectrum) -> f64 {
    let sigma_max = spectrum.values().first().copied().unwrap_or(0.0);
    sigma_max * (spectrum.rows().max(spectrum.cols()) as f64) * f64::EPSILON
}

impl Esd {
    /// The summary of `spectrum`, with the Marchenko–Pastur fit `mp` when there is one.
    pub fn of(spectrum: &Spectrum, mp: Option<&MpBaseline>) -> Self {
        let sigma = spectrum.values();
        let k = sigma.len();
        let tolerance = rank_tolerance(spectrum);
        let near_zero = sigma.iter().filter(|&&s| s <= tolerance).count();
        // descending λ
        let lambda: Vec<f64> = sigma.iter().map(|s| s * s).collect();
        let positive = &lambda[..k - near_zero];
        let (log10_edges, counts) = histogram(positive);
        let log10_range = (!log10_edges.is_empty()).then(|| [log10_edges[0], log10_edges[BINS]]);
        let (n_big, m_small) = (spectrum.rows().max(spectrum.cols()), spectrum.rows().min(spectrum.cols()));
        let mp_expected = mp.filter(|_| !log10_edges.is_empty()).map(|b| {
            let law = MarchenkoPastur::new(m_small as f64 / n_big as f64);
            // the law is on λ/(N s²)
            let unit = n_big as f64 * b.scale * b.scale;
            let cdf = |e: f64| if unit > 0.0 { law.cdf(10f64.powf(e) / unit) } else { 0.0 };
            log10_edges.windows(2).map(|w| m_small as f64 * (cdf(w[1]) - cdf(w[0]))).collect()
        });
        let mp_cuts = mp.map(|b| [b.lower_cut.map(|c| c * c), Some(b.upper_cut * b.upper_cut)]);
        let above = mp.map_or(0, |b| b.outliers_above).min(MAX_OUTLIERS);
        let below = mp.map_or(0, |b| b.outliers_below).min(MAX_OUTLIERS);
        Self {
            values: k,
            near_zero,
            tolerance,
            log10_range,
            counts,
            mp_expected,
            mp_cuts,
            outliers_above: lambda[..above].to_vec(),
            outliers_below: lambda[k - below..].iter().rev().copied().collect(),
            ccdf: ccdf_ranks(k).into_iter().map(|i| [lambda[i - 1], i as f64 / k as f64]).collect(),
        }
    }
}

/// The `log10 λ` bin edges of a histogram with `bins` equal-width bins over `[lo, hi]`.
pub fn bin_edges([lo, hi]: [f64; 2], bins: usize) -> Vec<f64> {
    let width = (hi - lo) / bins as f64;
    (0..=bins).map(|j| if j == bins { hi } else { lo + j as f64 * width }).collect()
}

/// Edges (`log10 λ`) and counts of [`BINS`] log-spaced bins over positive `λ` (any order).
fn histogram(lambda: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let logs: Vec<f64> = lambda.iter().filter(|l| **l > 0.0).map(|l| l.log10()).collect();
    let Some(lo) = logs.iter().copied().reduce(f64::min) else { return (Vec::new(), Vec::new()) };
    let hi = logs.iter().copied().fold(lo, f64::max);
    // a single value (or all equal) still gets a visible bin around it
    let (lo, hi) = if hi - lo < 1e-9 { (lo - 0.5, hi + 0.5) } else { (lo, hi) };
    let width = (hi - lo) / BINS as f64;
    let edges = bin_edges([lo, hi], BINS);
    let mut counts = vec![0usize; BINS];
    for l in logs {
        counts[(((l - lo) / width) as usize).min(BINS - 1)] += 1;
    }
    (edges, counts)
}

/// The 1-based ranks kept for the complementary CDF: the top [`CCDF_TOP`], then up to
/// [`CCDF_SPREAD`] geometrically spaced ranks down to `k` (always included).
fn ccdf_ranks(k: usize) -> Vec<usize> {
    let mut ranks: Vec<usize> = (1..=k.min(CCDF_TOP)).collect();
    if k > CCDF_TOP {
        let (a, b) = ((CCDF_TOP as f64).ln(), (k as f64).ln());
        for j in 1..=CCDF_SPREAD {
            let r = (a + (b - a) * j as f64 / CCDF_SPREAD as f64).exp().round() as usize;
            let r = r.clamp(CCDF_TOP + 1, k);
            if ranks.last() != Some(&r) {
                ranks.push(r);
            }
        }
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Normalization;

    /// The singular values of a 300×100 matrix at the Marchenko–Pastur classical locations (scale 1).
    fn classical(rows: usize, cols: usize) -> Vec<f64> {
        let (n, m) = (rows.max(cols), rows.min(cols));
        let law = MarchenkoPastur::new(m as f64 / n as f64);
        (0..m).map(|i| (n as f64 * law.quantile((i as f64 + 0.5) / m as f64)).sqrt()).rev().collect()
    }

    #[test]
    fn histogram_counts_every_value_above_the_tolerance_and_counts_zeros_apart() {
        // rank 3 of 5: two exact zeros
        let s = Spectrum::from_values(5, 8, vec![4.0, 2.0, 1.0, 0.0, 0.0]);
        let e = Esd::of(&s, None);
        assert_eq!(e.values, 5);
        assert_eq!(e.near_zero, 2);
        assert_eq!(e.counts.iter().sum::<usize>(), 3);
        let [lo, hi] = e.log10_range.unwrap();
        assert!(lo.abs() < 1e-15 && (hi - 16f64.log10()).abs() < 1e-15);
        assert_eq!(e.counts.len(), BINS);
        assert_eq!((e.counts[0], e.counts[BINS - 1]), (1, 1));
        assert!(e.mp_expected.is_none() && e.mp_cuts.is_none() && e.outliers_above.is_empty());
        assert_eq!(e.ccdf, vec![[16.0, 0.2], [4.0, 0.4], [1.0, 0.6], [0.0, 0.8], [0.0, 1.0]]);
    }

    #[test]
    fn the_drawn_cuts_are_the_ones_that_counted_the_outliers() {
        // the classical spectrum of a 300×100 random matrix with three planted spikes
        let mut v = classical(300, 100);
        v[0] *= 6.0;
        v[1] *= 5.0;
        v[2] *= 4.0;
        let s = Spectrum::from_values(300, 100, v);
        let mp = MpBaseline::fit(s.values(), 300, 100, Normalization::Sigma).unwrap();
        assert_eq!(mp.outliers_above, 3);
        let e = Esd::of(&s, Some(&mp));
        let [lower, upper] = e.mp_cuts.unwrap();
        let lambda: Vec<f64> = s.values().iter().map(|x| x * x).collect();
        assert_eq!(lambda.iter().filter(|&&l| l > upper.unwrap()).count(), mp.outliers_above);
        assert_eq!(lambda.iter().filter(|&&l| l < lower.unwrap()).count(), mp.outliers_below);
        assert_eq!(e.outliers_above, lambda[..3].to_vec());
        // the law's expected counts add up to (nearly) every value, and follow the histogram
        let expected = e.mp_expected.unwrap();
        let total: f64 = expected.iter().sum();
        assert!((total - 100.0).abs() < 1.0, "{total}");
        let peak = |v: &[f64]| v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
        let counts: Vec<f64> = e.counts.iter().map(|&c| c as f64).collect();
        assert!(peak(&expected).abs_diff(peak(&counts)) <= 8);
    }

    #[test]
    fn ccdf_keeps_the_top_ranks_and_the_last_one() {
        let r = ccdf_ranks(4096);
        assert_eq!(&r[..CCDF_TOP], &(1..=CCDF_TOP).collect::<Vec<_>>()[..]);
        assert_eq!(*r.last().unwrap(), 4096);
        assert!(r.windows(2).all(|w| w[0] < w[1]) && r.len() <= CCDF_TOP + CCDF_SPREAD);
        assert_eq!(ccdf_ranks(3), vec![1, 2, 3]);
    }
}
