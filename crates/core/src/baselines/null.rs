//! The null hypothesis "a matrix of i.i.d. Gaussian entries of this shape", by seeded Monte Carlo:
//! the distribution of each statistic a diagnosis uses (`mp_ks`, `kl_excess`, the outlier counts)
//! over random matrices of the same shape, and the p-values of an observed matrix under it.
//!
//! Every statistic is a function of the singular values and scale-free (the Marchenko–Pastur scale
//! is fitted, `kl_uniform` is invariant under scaling), so the null depends on the shape (and, for
//! `kl_excess`, the normalization) only. The singular values of an `N × M` Gaussian matrix (`N ≥ M`)
//! have the distribution of those of the `M × M` upper bidiagonal matrix with diagonal
//! `χ_N, χ_{N−1}, …, χ_{N−M+1}` and superdiagonal `χ_{M−1}, …, χ_1` (Householder bidiagonalization
//! of a Gaussian matrix: Silverstein, 1985; Dumitriu & Edelman, 2002, "Matrix models for beta
//! ensembles"). So a sample costs `2M − 1` chi variates and the eigenvalues of a tridiagonal
//! `BᵀB`, not an SVD of an `N × M` matrix: the null of a 4096 × 14336 matrix is cheap.
//!
//! Samples are seeded per (shape, index), so a null is the same on every machine and for any
//! number of threads, and samples can be drawn in parallel by the caller.

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;
use rand_distr::{ChiSquared, Distribution};

use crate::baselines::mp::MpBaseline;
use crate::entropy::Normalization;

/// The fewest Monte Carlo samples per shape: the joint test is one Monte Carlo test of a
/// continuous statistic, so its smallest attainable p-value `1/(n+1)` only has to reach the level
/// (0.01 by default).
pub const MIN_SAMPLES: usize = 99;

/// The most samples per shape.
pub const MAX_SAMPLES: usize = 999;

/// The work per shape, in `M²` units of one sample's eigenvalue problem: about 0.1 s of one core.
const SAMPLE_BUDGET: f64 = 2e7;

/// The samples for a shape whose smaller side is `m`, for a test at `level`: as many as the budget
/// allows, between [`MIN_SAMPLES`] and [`MAX_SAMPLES`], and always enough that `1/(n+1) ≤ level`.
///
/// One null serves every matrix of its shape, so the false-rejection rate *within* a model is
/// `1 − F(t)` at the null's own cut-off `t`, which scatters around the level (its standard
/// deviation is about `level` for 99 samples, a third of it for 999); over models it is the level.
pub fn samples_for(level: f64, m: usize) -> usize {
    let needed = if level > 0.0 { (1.0 / level).ceil() - 1.0 } else { f64::INFINITY };
    let affordable = (SAMPLE_BUDGET / (m.max(1) as f64).powi(2)).floor().clamp(MIN_SAMPLES as f64, MAX_SAMPLES as f64);
    affordable.max(needed.min(100_000.0)) as usize
}

/// The accuracy of the null's eigenvalues, relative to the largest: far below the spread of any
/// statistic (measured: the statistics move by less than 1e-6), and fewer bisection steps than full accuracy.
const EIGENVALUE_ACCURACY: f64 = 1e-8;

/// The seed of every null (mixed with the shape and the sample's index).
pub const SEED: u64 = 0x0057_d1a6_0001;

/// The p-value fields of a record (docs/metrics.md §4).
pub const NULL_FIELDS: [&str; 5] = ["mp_ks_p", "kl_excess_p", "outliers_above_p", "outliers_below_p", "null_p"];

/// The statistics of one spectrum that a diagnosis tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Statistics {
    /// Kolmogorov–Smirnov distance of the bulk from the fitted law.
    pub mp_ks: f64,
    /// `kl_uniform − random_baseline_kl`.
    pub kl_excess: f64,
    /// Singular values above the upper cut-off.
    pub outliers_above: usize,
    /// Singular values below the lower cut-off.
    pub outliers_below: usize,
    /// `σ_1 / upper cut-off`: how far the largest singular value reaches past the bulk (above 1
    /// it is an outlier), the magnitude the count does not see.
    pub top: f64,
    /// `lower cut-off / σ_min` for a rectangular matrix (above 1 the smallest is an outlier;
    /// capped at 1e6), 0 for a square one.
    pub bottom: f64,
}

/// [`Statistics::bottom`] from the lower cut-off and the smallest singular value.
fn bottom(lower_cut: Option<f64>, sigma_min: f64) -> f64 {
    match lower_cut {
        Some(c) if c > 0.0 => (c / sigma_min).min(1e6),
        _ => 0.0,
    }
}

impl Statistics {
    /// The statistics of singular values `sigma` (non-increasing) of a `rows × cols` matrix, by the
    /// same functions as the metrics; `None` without a Marchenko–Pastur fit or an entropy.
    pub fn of(sigma: &[f64], rows: usize, cols: usize, normalization: Normalization) -> Option<Self> {
        let mp = MpBaseline::fit(sigma, rows, cols, normalization).ok()?;
        let kl = crate::entropy::kl_uniform(sigma, normalization)?;
        Some(Self::from_fit(&mp, kl, sigma[0], sigma[sigma.len() - 1]))
    }

    /// The statistics from a fit, `kl_uniform` and the extreme singular values.
    pub fn from_fit(mp: &MpBaseline, kl_uniform: f64, sigma_max: f64, sigma_min: f64) -> Self {
        Self {
            mp_ks: mp.ks,
            kl_excess: kl_uniform - mp.random_baseline_kl,
            outliers_above: mp.outliers_above,
            outliers_below: mp.outliers_below,
            top: if mp.upper_cut > 0.0 { sigma_max / mp.upper_cut } else { 0.0 },
            bottom: bottom(mp.lower_cut, sigma_min),
        }
    }
}

/// The singular values (non-increasing) of one `rows × cols` matrix of i.i.d. standard Gaussian
/// entries, drawn through the bidiagonal model with the seed of (`seed`, shape, `index`).
pub fn gaussian_singular_values(rows: usize, cols: usize, seed: u64, index: u64) -> Vec<f64> {
    let (n, m) = (rows.max(cols), rows.min(cols));
    let mut rng = ChaCha8Rng::seed_from_u64(mix(seed, rows as u64, cols as u64, index));
    let mut chi = |k: usize| ChiSquared::new(k as f64).expect("k ≥ 1").sample(&mut rng).sqrt();
    let a: Vec<f64> = (0..m).map(|i| chi(n - i)).collect();
    let b: Vec<f64> = (1..m).map(|i| chi(m - i)).collect();
    // BᵀB is tridiagonal: diagonal a_i² + b_{i−1}², off-diagonal a_i·b_i
    let d: Vec<f64> = (0..m).map(|i| a[i] * a[i] + if i > 0 { b[i - 1] * b[i - 1] } else { 0.0 }).collect();
    let e: Vec<f64> = (0..m.saturating_sub(1)).map(|i| a[i] * b[i]).collect();
    let mut s: Vec<f64> = crate::linalg::tridiagonal::tridiagonal_eigenvalues_within(&d, &e, EIGENVALUE_ACCURACY)
        .into_iter()
        .map(|l| l.max(0.0).sqrt())
        .collect();
    s.reverse();
    s
}

/// splitmix64 over the inputs: independent streams per shape and sample.
fn mix(seed: u64, rows: u64, cols: u64, index: u64) -> u64 {
    let mut z = seed;
    for v in [rows, cols, index] {
        z = z.wrapping_add(v).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
    }
    z
}

/// One sample of the null's statistics (`None` when the shape has no Marchenko–Pastur fit).
pub fn sample(rows: usize, cols: usize, normalization: Normalization, seed: u64, index: u64) -> Option<Statistics> {
    Statistics::of(&gaussian_singular_values(rows, cols, seed, index), rows, cols, normalization)
}

/// The null distribution of one shape: its samples' statistics, in the order drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct Null {
    /// `[rows, cols]`.
    pub shape: [usize; 2],
    /// The seed.
    pub seed: u64,
    /// The samples.
    pub samples: Vec<Statistics>,
}

/// What the joint test standardizes, larger more extreme: the bulk's misfit, the entropy's
/// distance from the null's median, and how far the extreme singular values reach past the
/// cut-offs (continuous, unlike the outlier counts, which tie).
fn extremeness(s: &Statistics, kl_median: f64) -> [f64; 4] {
    [s.mp_ks, (s.kl_excess - kl_median).abs(), s.top, s.bottom]
}

impl Null {
    /// Draws the null of a `rows × cols` shape: `samples` Gaussian matrices by the bidiagonal model
    /// (run them in parallel with [`sample`] and [`Null::from_samples`] instead, if wanted).
    pub fn simulate(rows: usize, cols: usize, normalization: Normalization, samples: usize, seed: u64) -> Option<Self> {
        let s: Vec<Statistics> =
            (0..samples as u64).filter_map(|i| sample(rows, cols, normalization, seed, i)).collect();
        Self::from_samples([rows, cols], seed, s)
    }

    /// The null of a shape from its samples; `None` without samples.
    pub fn from_samples(shape: [usize; 2], seed: u64, samples: Vec<Statistics>) -> Option<Self> {
        (!samples.is_empty()).then_some(Self { shape, seed, samples })
    }

    /// The `q`-quantile (nearest rank) of one statistic over the samples.
    pub fn quantile(&self, f: impl Fn(&Statistics) -> f64, q: f64) -> f64 {
        let mut v: Vec<f64> = self.samples.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    }

    /// The p-values of `observed` under this null: one per statistic, and one for all of them.
    ///
    /// Each statistic's p-value is the rank of the observation among the `n` null samples and
    /// itself, `#{at least as extreme} / (n + 1)` (`kl_excess` two-sided, as the distance from the
    /// median; an outlier count of 0 has p = 1). The joint `null_p` is a Monte Carlo test of one
    /// statistic, the largest standardized extremeness `max_t (x_t − mean_t)/sd_t` over `mp_ks`,
    /// the distance of `kl_excess` from the median, and how far `σ_1` and (rectangular) `σ_min`
    /// reach past their cut-offs (means and deviations over the same `n + 1` spectra), ranked the
    /// same way. Under
    /// the null the `n + 1` spectra are exchangeable and this statistic treats them alike, so
    /// `P(null_p ≤ α) ≤ α` for every `α`; being continuous it rarely ties, so `n = 99` samples
    /// reach `p = 0.01` (a combination of the rank p-values themselves would tie at the smallest
    /// one, once per statistic, and need four times the samples).
    pub fn test(&self, observed: &Statistics) -> NullTest {
        let median = self.quantile(|s| s.kl_excess, 0.5);
        let square = self.shape[0] == self.shape[1];
        let n1 = (self.samples.len() + 1) as f64;
        let all: Vec<&Statistics> = self.samples.iter().chain(std::iter::once(observed)).collect();
        // the rank p-value of the observation: the fraction of the n + 1 at least as extreme
        let rank = |f: &dyn Fn(&Statistics) -> f64| {
            let x = f(observed);
            all.iter().filter(|s| f(s) >= x).count() as f64 / n1
        };
        let count_p = |f: &dyn Fn(&Statistics) -> f64| if f(observed) == 0.0 { 1.0 } else { rank(f) };
        // the joint statistic: the largest standardized extremeness (a statistic constant over
        // all n + 1 spectra says nothing)
        let rows: Vec<[f64; 4]> = all.iter().map(|s| extremeness(s, median)).collect();
        let tested: &[usize] = if square { &[0, 1, 2] } else { &[0, 1, 2, 3] };
        let mut z = vec![f64::NEG_INFINITY; rows.len()];
        for &t in tested {
            let mean = rows.iter().map(|r| r[t]).sum::<f64>() / n1;
            let sd = (rows.iter().map(|r| (r[t] - mean).powi(2)).sum::<f64>() / n1).sqrt();
            for (zj, r) in z.iter_mut().zip(&rows) {
                *zj = zj.max(if sd > 0.0 { (r[t] - mean) / sd } else { 0.0 });
            }
        }
        let obs = z[z.len() - 1];
        NullTest {
            mp_ks_p: rank(&|s| s.mp_ks),
            kl_excess_p: rank(&|s| (s.kl_excess - median).abs()),
            outliers_above_p: count_p(&|s| s.outliers_above as f64),
            outliers_below_p: count_p(&|s| s.outliers_below as f64),
            null_p: z.iter().filter(|&&v| v >= obs).count() as f64 / n1,
            samples: self.samples.len(),
            mp_ks_q99: self.quantile(|s| s.mp_ks, 0.99),
            kl_excess_q: [self.quantile(|s| s.kl_excess, 0.005), self.quantile(|s| s.kl_excess, 0.995)],
        }
    }
}

/// The p-values of one matrix's statistics under the null of its shape.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct NullTest {
    /// `P(mp_ks ≥ observed)`.
    pub mp_ks_p: f64,
    /// `P(|kl_excess − median| ≥ |observed − median|)` (two-sided).
    pub kl_excess_p: f64,
    /// `P(outliers_above ≥ observed)` (1 when none are observed).
    pub outliers_above_p: f64,
    /// `P(outliers_below ≥ observed)` (1 when none are observed, as always for a square matrix).
    pub outliers_below_p: f64,
    /// All statistics at once: the Monte Carlo test of the largest standardized statistic (see
    /// [`Null::test`]).
    pub null_p: f64,
    /// Null samples behind the p-values (the smallest attainable p-value is `1/(samples + 1)`).
    pub samples: usize,
    /// The null's 99 % quantile of `mp_ks`.
    pub mp_ks_q99: f64,
    /// The null's 0.5 % and 99.5 % quantiles of `kl_excess`.
    pub kl_excess_q: [f64; 2],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bidiagonal_model_has_the_gaussian_moments() {
        // E Σσ² = N·M for an N × M matrix of standard Gaussians; the largest singular value sits
        // near √N + √M
        let (rows, cols) = (300, 120);
        let mut energy = 0.0;
        let mut top = 0.0;
        let k = 200;
        for i in 0..k {
            let s = gaussian_singular_values(rows, cols, 1, i);
            assert_eq!(s.len(), 120);
            assert!(s.windows(2).all(|w| w[0] >= w[1]));
            energy += s.iter().map(|x| x * x).sum::<f64>();
            top += s[0];
        }
        let (energy, top) = (energy / k as f64, top / k as f64);
        // sd of Σσ² is √(2NM) ≈ 268, of the mean over 200 draws ≈ 19
        assert!((energy - 36_000.0).abs() < 100.0, "{energy}");
        assert!((top - (300f64.sqrt() + 120f64.sqrt())).abs() < 0.5, "{top}");
    }

    #[test]
    fn samples_are_reproducible_and_independent_of_order() {
        let a = gaussian_singular_values(64, 32, SEED, 7);
        let _ = gaussian_singular_values(64, 32, SEED, 6);
        assert_eq!(a, gaussian_singular_values(64, 32, SEED, 7));
        assert_ne!(a, gaussian_singular_values(64, 32, SEED, 8));
        assert_ne!(a, gaussian_singular_values(32, 64, SEED, 7)[..]);
    }

    #[test]
    fn p_values_rank_the_observation_among_the_samples() {
        // nine samples: mp_ks 0..8, kl_excess −4..4, outliers above 0,0,0,1,1,1,2,2,2, none below
        let stats: Vec<Statistics> = (0..9)
            .map(|i| Statistics {
                mp_ks: i as f64,
                kl_excess: i as f64 - 4.0,
                outliers_above: i / 3,
                outliers_below: 0,
                top: 0.9,
                bottom: 0.9,
            })
            .collect();
        let null = Null::from_samples([20, 10], 0, stats.clone()).unwrap();
        let t = null.test(&Statistics {
            mp_ks: 6.5,
            kl_excess: 0.0,
            outliers_above: 0,
            outliers_below: 1,
            top: 0.9,
            bottom: 1.5,
        });
        assert_eq!(t.mp_ks_p, 3.0 / 10.0); // 7, 8 and the observation
        assert_eq!(t.kl_excess_p, 1.0); // at the median
        assert_eq!(t.outliers_above_p, 1.0);
        assert_eq!(t.outliers_below_p, 1.0 / 10.0); // no sample has one
                                                    // the only spectrum whose smallest value reaches past the lower cut-off: the most extreme
        assert_eq!(t.null_p, 1.0 / 10.0);
        // an observation like a sample is not significant
        let t = null.test(&stats[4]);
        assert!(t.null_p > 0.5, "{t:?}");
        let square = Null::from_samples([10, 10], 0, stats).unwrap();
        let t = square.test(&Statistics {
            mp_ks: 100.0,
            kl_excess: 0.0,
            outliers_above: 0,
            outliers_below: 0,
            top: 0.9,
            bottom: 0.0,
        });
        assert_eq!((t.outliers_below_p, t.mp_ks_p), (1.0, 0.1));
    }
}
