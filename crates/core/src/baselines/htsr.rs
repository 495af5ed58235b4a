//! Heavy-tail self-regularization metrics (docs/metrics.md §5), computed as WeightWatcher 0.7.7 computes
//! them by default, so that its users get the same numbers.
//!
//! The ESD is `λ_i = σ_i²` (no `1/N` factor). The power-law fit takes the eigenvalues above
//! `1e-5`, sorted, and for every candidate `x_min = x_i` but the largest computes the maximum-
//! likelihood exponent of the tail `x_i..x_N` and the Kolmogorov–Smirnov distance between the
//! tail's empirical CDF (`j/n`, `j = 0..n−1`) and the fitted one (`1 − (x/x_min)^{1−α}`); the first
//! candidate with the smallest distance wins. Details that matter for bit-level agreement, all as in
//! WeightWatcher's `WW_powerlaw.WWFit`:
//! - `α_i = 1 + n/Σ_{j≥i} ln(x_j/x_i)` with `n = N − i`; a candidate with `α_i ≤ 1` keeps `D = 1`.
//! - With fewer than 20 eigenvalues it uses the bias-corrected `α_i = 1 + (n−1)/Σ ln(x_j/x_i)`,
//!   skips tails shorter than 8 and degenerate ones (`Σ ≤ 1e-12`), both keeping `D = 1` and `α = 0`.
//!   Its docstring describes choosing `x_min` by `D − 0.868/√n`, but the constructor then re-selects
//!   by the smallest `D`; the values it reports (and so ours) follow the smallest `D`.
//! - `num_tail` counts all eigenvalues `≥ x_min`.
//!
//! `alpha_weighted = α·log10 λ_max`, `log_norm = log10 Σλ`, `log_spectral_norm = log10 λ_max`,
//! `log_alpha_norm = log10 Σ λ^α` over all eigenvalues.

/// The per-matrix HTSR fields, in canonical order.
pub const HTSR_FIELDS: [&str; 8] =
    ["alpha", "alpha_weighted", "log_norm", "log_spectral_norm", "log_alpha_norm", "xmin", "ks_distance", "num_tail"];

/// Eigenvalues at or below this are dropped before the fit (WeightWatcher's `EVALS_THRESH`).
pub const EVALS_THRESHOLD: f64 = 1e-5;

/// Fits with fewer points than this use the small-sample rule.
const SMALL_N: usize = 20;

/// The power-law fit of the tail of the ESD.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerLawFit {
    /// The exponent `α`.
    pub alpha: f64,
    /// The start of the tail.
    pub xmin: f64,
    /// The Kolmogorov–Smirnov distance of the fit (WeightWatcher's `D`).
    pub ks_distance: f64,
}

/// The HTSR metrics of one matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Htsr {
    /// The fit.
    pub fit: PowerLawFit,
    /// `α·log10 λ_max`.
    pub alpha_weighted: f64,
    /// `log10 Σλ`.
    pub log_norm: f64,
    /// `log10 λ_max`.
    pub log_spectral_norm: f64,
    /// `log10 Σ λ^α`.
    pub log_alpha_norm: f64,
    /// `#{λ ≥ x_min}`.
    pub num_tail: usize,
}

impl Htsr {
    /// The metrics from the singular values (any order). `Err` says why there is no fit: fewer
    /// than two eigenvalues above [`EVALS_THRESHOLD`], or no candidate tail with `α > 1` (where
    /// WeightWatcher reports a placeholder `α`, svdiag reports none).
    pub fn from_singular_values(sigma: &[f64]) -> Result<Self, &'static str> {
        let mut evals: Vec<f64> = sigma.iter().map(|s| s * s).collect();
        evals.sort_by(f64::total_cmp);
        let tail: Vec<f64> = evals.iter().copied().filter(|&l| l > EVALS_THRESHOLD).collect();
        let fit = fit_power_law(&tail).ok_or("fewer than 2 eigenvalues σ² above 1e-5: no power-law fit")?;
        if fit.alpha <= 1.0 {
            // WeightWatcher reports the placeholder of its first candidate here (0, or an α ≤ 1)
            return Err("no power-law fit with α > 1 (too few eigenvalues above 1e-5, or a degenerate tail)");
        }
        let lambda_max = evals.last().copied().unwrap_or(0.0);
        let log_spectral_norm = lambda_max.log10();
        Ok(Self {
            fit,
            alpha_weighted: fit.alpha * log_spectral_norm,
            log_norm: evals.iter().sum::<f64>().log10(),
            log_spectral_norm,
            log_alpha_norm: evals.iter().map(|l| l.powf(fit.alpha)).sum::<f64>().log10(),
            num_tail: evals.iter().filter(|&&l| l >= fit.xmin).count(),
        })
    }

    /// A field by canonical name (`num_tail` converted to f64).
    pub fn get(&self, field: &str) -> Option<f64> {
        Some(match field {
            "alpha" => self.fit.alpha,
            "alpha_weighted" => self.alpha_weighted,
            "log_norm" => self.log_norm,
            "log_spectral_norm" => self.log_spectral_norm,
            "log_alpha_norm" => self.log_alpha_norm,
            "xmin" => self.fit.xmin,
            "ks_distance" => self.fit.ks_distance,
            "num_tail" => self.num_tail as f64,
            _ => return None,
        })
    }
}

/// The power-law fit of sorted (non-decreasing), positive data; `None` with fewer than 2 points.
pub fn fit_power_law(data: &[f64]) -> Option<PowerLawFit> {
    let n_all = data.len();
    if n_all < 2 {
        return None;
    }
    let small = n_all < SMALL_N;
    let logs: Vec<f64> = data.iter().map(|x| x.ln()).collect();
    // suffix sums of ln x: Σ_{j≥i} ln x_j
    let mut suffix = vec![0.0; n_all + 1];
    for i in (0..n_all).rev() {
        suffix[i] = suffix[i + 1] + logs[i];
    }
    let mut best: Option<(usize, f64, f64)> = None; // (i, D, α)
    for i in 0..n_all - 1 {
        let n_int = n_all - i;
        let n = n_int as f64;
        let s = suffix[i] - n * logs[i];
        let alpha = if small {
            if n_int < 8 || s <= 1e-12 {
                // skipped: α stays 0 and D stays 1
                consider(&mut best, i, 1.0, 0.0);
                continue;
            }
            1.0 + (n - 1.0) / s
        } else {
            1.0 + n / s
        };
        if alpha <= 1.0 || !alpha.is_finite() {
            consider(&mut best, i, 1.0, alpha);
            continue;
        }
        // D_i = max_j |1 − (x_j/x_i)^{1−α} − j/n|; stop early once it cannot win (a later
        // candidate must be strictly smaller than the best so far)
        let bound = best.map_or(f64::INFINITY, |b| b.1);
        let mut d: f64 = 0.0;
        for (j, &lx) in logs[i..].iter().enumerate() {
            let cdf = 1.0 - ((1.0 - alpha) * (lx - logs[i])).exp();
            d = d.max((cdf - j as f64 / n).abs());
            if d >= bound {
                break;
            }
        }
        consider(&mut best, i, d, alpha);
    }
    let (i, d, alpha) = best?;
    Some(PowerLawFit { alpha, xmin: data[i], ks_distance: d })
}

/// Keeps the first candidate with the smallest `D` (NumPy's `argmin`).
fn consider(best: &mut Option<(usize, f64, f64)>, i: usize, d: f64, alpha: f64) {
    if best.is_none_or(|b| d < b.1) {
        *best = Some((i, d, alpha));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exact_pareto_sample_gives_its_exponent() {
        // quantiles of a Pareto(α = 2.5, x_min = 1): x = (1 − u)^{−1/(α−1)}
        let n = 2000;
        let data: Vec<f64> = (0..n).map(|k| (1.0 - (k as f64 + 0.5) / n as f64).powf(-1.0 / 1.5)).collect();
        let fit = fit_power_law(&data).unwrap();
        assert!((fit.alpha - 2.5).abs() < 0.05, "{fit:?}");
        assert!(fit.ks_distance < 0.02, "{fit:?}");
    }

    #[test]
    fn too_few_points_have_no_fit() {
        assert!(fit_power_law(&[]).is_none());
        assert!(fit_power_law(&[1.0]).is_none());
        assert!(Htsr::from_singular_values(&[1e-4, 1.0]).is_err());
    }
}
