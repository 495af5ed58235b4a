//! The random-matrix baseline (docs/metrics.md §4): a Marchenko–Pastur fit of the bulk, outliers at both
//! ends with a Tracy–Widom margin, the fit's goodness, and the `kl_uniform` a Gaussian matrix of the
//! same shape would have.
//!
//! Conventions. `W` is `m × n`, `N = max(m, n)`, `M = min(m, n)`, `c = M/N ≤ 1`. For i.i.d. entries
//! of variance `s²`, the `M` eigenvalues of the smaller Gram matrix divided by `N`, `λ_i = σ_i²/N`,
//! follow Marchenko–Pastur with edges `s²(1 ± √c)²`: singular-value edges `σ± = s(√N ± √M)`.
//!
//! - **Scale.** `s²` is fitted to the central quantiles (levels 0.25…0.75) of the `λ_i` by least
//!   squares through the origin against the MP quantiles (the law is a scale family), then refitted
//!   once on the bulk without the outliers found. Bulk eigenvalues are rigid (they fluctuate by
//!   `O(log N / N)`), so a few outliers cannot drag the central quantiles.
//! - **Outliers.** Above: `σ_i² > s²·(μ₊ + t·σ₊)` with Johnstone's centring and scaling of the
//!   largest eigenvalue of a white Wishart matrix, `μ₊ = (√(N−½) + √(M−½))²`,
//!   `σ₊ = (√(N−½) + √(M−½))·(1/√(N−½) + 1/√(M−½))^{1/3}`, and `t` = [`TW_QUANTILE`] (the 99 %
//!   point of Tracy–Widom β = 1). Below (rectangular only): `σ_i² < s²·(μ₋ − t·σ₋)` with the
//!   smallest-eigenvalue analogues `μ₋ = (√(N−½) − √(M−½))²`,
//!   `σ₋ = (√(N−½) − √(M−½))·(1/√(M−½) − 1/√(N−½))^{1/3}`. A square matrix has `σ₋ = 0`:
//!   `outliers_below` is 0 there, with a note.
//! - **`mp_ks`**: the Kolmogorov–Smirnov distance between the bulk's empirical CDF and the fitted MP
//!   CDF.
//! - **`random_baseline_kl`**: `kl_uniform` (under the run's normalization) of the spectrum at the
//!   MP classical locations `F(γ_i) = (i − ½)/M`, i.e. the typical finite-`M` Gaussian spectrum of
//!   this shape (scale-free). `kl_excess = kl_uniform − random_baseline_kl`.

use crate::entropy::Normalization;

/// The per-matrix fields of the random-matrix baseline, in canonical order.
pub const MP_FIELDS: [&str; 8] = [
    "mp_scale",
    "mp_lower_edge",
    "mp_upper_edge",
    "outliers_above",
    "outliers_below",
    "mp_ks",
    "random_baseline_kl",
    "kl_excess",
];

/// The 99 % quantile of the Tracy–Widom (β = 1) distribution: the margin, in Tracy–Widom units,
/// beyond the edges before a singular value counts as an outlier.
pub const TW_QUANTILE: f64 = 2.0234;

/// Quantile levels the scale is fitted on.
const FIT_LEVELS: [f64; 11] = [0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75];

/// The Marchenko–Pastur law with `s² = 1` and ratio `c ∈ (0, 1]`, tabulated for its CDF and
/// quantiles. The density `√((b−λ)(λ−a))/(2πcλ)` becomes smooth in `θ` under
/// `λ = (a+b)/2 − (b−a)/2·cos θ`, so a midpoint rule in `θ` converges fast (and handles the
/// `1/√λ` edge of `c = 1`).
#[derive(Debug, Clone)]
pub struct MarchenkoPastur {
    c: f64,
    a: f64,
    b: f64,
    /// CDF at `θ_j = jπ/K`, `j = 0..=K`.
    cdf: Vec<f64>,
}

const TABLE: usize = 4096;

impl MarchenkoPastur {
    /// The law for ratio `c` (clamped to `(0, 1]`).
    pub fn new(c: f64) -> Self {
        let c = c.clamp(1e-12, 1.0);
        let (a, b) = ((1.0 - c.sqrt()).powi(2), (1.0 + c.sqrt()).powi(2));
        let (mid, half) = ((a + b) / 2.0, (b - a) / 2.0);
        let h = std::f64::consts::PI / TABLE as f64;
        let mut cdf = Vec::with_capacity(TABLE + 1);
        cdf.push(0.0);
        let mut acc = 0.0;
        for j in 0..TABLE {
            let th = (j as f64 + 0.5) * h;
            let lambda = mid - half * th.cos();
            let s = th.sin();
            acc += half * half * s * s / (2.0 * std::f64::consts::PI * c * lambda) * h;
            cdf.push(acc);
        }
        let total = acc;
        cdf.iter_mut().for_each(|v| *v /= total);
        Self { c, a, b, cdf }
    }

    /// The lower and upper edges `(1 ∓ √c)²`.
    pub fn edges(&self) -> (f64, f64) {
        (self.a, self.b)
    }

    /// The ratio `c`.
    pub fn ratio(&self) -> f64 {
        self.c
    }

    /// `P(λ ≤ x)`.
    pub fn cdf(&self, x: f64) -> f64 {
        if x <= self.a {
            return 0.0;
        }
        if x >= self.b {
            return 1.0;
        }
        let (mid, half) = ((self.a + self.b) / 2.0, (self.b - self.a) / 2.0);
        let th = ((mid - x) / half).clamp(-1.0, 1.0).acos();
        let pos = th / std::f64::consts::PI * TABLE as f64;
        let j = (pos.floor() as usize).min(TABLE - 1);
        let f = pos - j as f64;
        self.cdf[j] * (1.0 - f) + self.cdf[j + 1] * f
    }

    /// The `u`-quantile, `u ∈ [0, 1]`.
    pub fn quantile(&self, u: f64) -> f64 {
        let u = u.clamp(0.0, 1.0);
        let j = self.cdf.partition_point(|&v| v < u).clamp(1, TABLE);
        let (lo, hi) = (self.cdf[j - 1], self.cdf[j]);
        let f = if hi > lo { (u - lo) / (hi - lo) } else { 0.0 };
        let th = (j as f64 - 1.0 + f) * std::f64::consts::PI / TABLE as f64;
        (self.a + self.b) / 2.0 - (self.b - self.a) / 2.0 * th.cos()
    }
}

/// The baseline of one matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MpBaseline {
    /// The fitted entry scale `s` (standard deviation of an i.i.d. entry).
    pub scale: f64,
    /// `s(√N − √M)` (0 for a square matrix).
    pub lower_edge: f64,
    /// `s(√N + √M)`.
    pub upper_edge: f64,
    /// Singular values above the upper edge plus its Tracy–Widom margin.
    pub outliers_above: usize,
    /// The cut-off that counted `outliers_above`: the upper edge plus its Tracy–Widom margin, in
    /// singular-value units (a value counts when it is above).
    pub upper_cut: f64,
    /// The cut-off that counted `outliers_below`, in singular-value units (a value counts when it
    /// is below); `None` for a square matrix, which has no small outliers.
    pub lower_cut: Option<f64>,
    /// Singular values below the lower edge minus its margin (rectangular matrices only).
    pub outliers_below: usize,
    /// Kolmogorov–Smirnov distance of the bulk from the fitted law.
    pub ks: f64,
    /// `kl_uniform` of the typical Gaussian spectrum of this shape.
    pub random_baseline_kl: f64,
}

/// A note for `outliers_below` on square matrices.
pub const SQUARE_NOTE: &str = "square matrix: the Marchenko–Pastur lower edge is 0, so there are no small outliers";

impl MpBaseline {
    /// Fits the baseline to the singular values (non-increasing) of an `rows × cols` matrix.
    /// `Err` says why there is none.
    pub fn fit(sigma: &[f64], rows: usize, cols: usize, normalization: Normalization) -> Result<Self, &'static str> {
        let (n_big, m_small) = (rows.max(cols), rows.min(cols));
        if m_small < 4 {
            return Err("fewer than 4 singular values: no Marchenko–Pastur fit");
        }
        let law = MarchenkoPastur::new(m_small as f64 / n_big as f64);
        let nf = n_big as f64;
        // λ_i = σ_i²/N, ascending
        let mut lambda: Vec<f64> = sigma.iter().map(|s| s * s / nf).collect();
        lambda.sort_by(f64::total_cmp);
        let mut s2 = fit_scale(&lambda, &law).ok_or("the central half of the spectrum is 0: no bulk to fit")?;
        let (mut above, mut below) = count_outliers(&lambda, outlier_cuts(s2, n_big, m_small));
        if above + below > 0 && above + below < m_small / 2 {
            if let Some(refit) = fit_scale(&lambda[below..m_small - above], &law) {
                s2 = refit;
                (above, below) = count_outliers(&lambda, outlier_cuts(s2, n_big, m_small));
            }
        }
        let (upper_cut, lower_cut) = outlier_cuts(s2, n_big, m_small);
        // above and below count disjoint ends (lower threshold < upper threshold)
        let bulk = &lambda[below..m_small - above];
        let ks = kolmogorov_smirnov(bulk, s2, &law);
        let s = s2.sqrt();
        Ok(Self {
            scale: s,
            lower_edge: if m_small == n_big { 0.0 } else { s * (nf.sqrt() - (m_small as f64).sqrt()) },
            upper_edge: s * (nf.sqrt() + (m_small as f64).sqrt()),
            outliers_above: above,
            outliers_below: below,
            upper_cut: (upper_cut * nf).sqrt(),
            lower_cut: lower_cut.map(|l| (l.max(0.0) * nf).sqrt()),
            ks,
            random_baseline_kl: random_baseline_kl(&law, m_small, normalization),
        })
    }
}

/// `s²` by least squares of the empirical central quantiles on the MP ones; `None` if they are 0.
fn fit_scale(lambda: &[f64], law: &MarchenkoPastur) -> Option<f64> {
    let k = lambda.len();
    if k < 4 {
        return None;
    }
    let (mut num, mut den) = (0.0, 0.0);
    for u in FIT_LEVELS {
        let q = law.quantile(u);
        // empirical quantile at position u·k − ½, linearly interpolated
        let pos = (u * k as f64 - 0.5).clamp(0.0, (k - 1) as f64);
        let i = pos.floor() as usize;
        let f = pos - i as f64;
        let e = lambda[i] * (1.0 - f) + lambda[(i + 1).min(k - 1)] * f;
        num += e * q;
        den += q * q;
    }
    (num > 0.0).then(|| num / den)
}

/// The outlier cut-offs on `λ = σ²/N` for scale `s2`: the upper edge plus, and the lower edge
/// minus, [`TW_QUANTILE`] Tracy–Widom standard deviations (no lower cut for a square matrix).
fn outlier_cuts(s2: f64, n_big: usize, m_small: usize) -> (f64, Option<f64>) {
    let nh = (n_big as f64 - 0.5).sqrt();
    let mh = (m_small as f64 - 0.5).sqrt();
    let nf = n_big as f64;
    let mu_up = (nh + mh).powi(2);
    let sd_up = (nh + mh) * (1.0 / nh + 1.0 / mh).cbrt();
    let upper = s2 * (mu_up + TW_QUANTILE * sd_up) / nf;
    let lower = (n_big != m_small).then(|| {
        let mu_lo = (nh - mh).powi(2);
        let sd_lo = (nh - mh) * (1.0 / mh - 1.0 / nh).cbrt();
        s2 * (mu_lo - TW_QUANTILE * sd_lo) / nf
    });
    (upper, lower)
}

/// The outlier counts (above, below) of eigenvalues `λ = σ²/N` at the cut-offs `(upper, lower)`.
fn count_outliers(lambda: &[f64], (upper, lower): (f64, Option<f64>)) -> (usize, usize) {
    let above = lambda.iter().filter(|&&l| l > upper).count();
    let below = lower.map_or(0, |lower| lambda.iter().filter(|&&l| l < lower).count());
    (above, below)
}

/// `sup |F_emp − F_MP(·/s²)|` over the (sorted) bulk.
fn kolmogorov_smirnov(bulk: &[f64], s2: f64, law: &MarchenkoPastur) -> f64 {
    let k = bulk.len() as f64;
    bulk.iter()
        .enumerate()
        .map(|(i, &l)| {
            let f = law.cdf(l / s2);
            (f - i as f64 / k).abs().max(((i + 1) as f64 / k - f).abs())
        })
        .fold(0.0, f64::max)
}

/// `kl_uniform` of the singular values at the MP classical locations.
pub fn random_baseline_kl(law: &MarchenkoPastur, m_small: usize, normalization: Normalization) -> f64 {
    let w: Vec<f64> = (0..m_small)
        .map(|i| {
            let lambda = law.quantile((i as f64 + 0.5) / m_small as f64);
            match normalization {
                Normalization::Sigma => lambda.max(0.0).sqrt(),
                Normalization::Energy => lambda.max(0.0),
            }
        })
        .collect();
    let total: f64 = w.iter().sum();
    let p: Vec<f64> = w.iter().map(|v| v / total).collect();
    (m_small as f64).ln() - crate::entropy::shannon(&p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_law_integrates_and_inverts() {
        for c in [1.0, 0.5, 0.1] {
            let law = MarchenkoPastur::new(c);
            // mean of MP(s² = 1) is 1: ∫ λ dF = Σ over quantile midpoints
            let k = 20_000;
            let mean: f64 = (0..k).map(|i| law.quantile((i as f64 + 0.5) / k as f64)).sum::<f64>() / k as f64;
            assert!((mean - 1.0).abs() < 1e-4, "c = {c}: mean {mean}");
            for u in [0.1, 0.5, 0.9] {
                assert!((law.cdf(law.quantile(u)) - u).abs() < 1e-9, "c = {c}, u = {u}");
            }
        }
    }

    #[test]
    fn baseline_kl_falls_as_the_matrix_gets_more_rectangular() {
        let kl = |c: f64| random_baseline_kl(&MarchenkoPastur::new(c), 256, Normalization::Sigma);
        assert!(kl(1.0) > kl(0.5) && kl(0.5) > kl(0.25) && kl(0.25) > kl(0.05) && kl(0.05) > 0.0);
    }
}
