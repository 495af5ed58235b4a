//! FARMS (fixed-aspect-ratio matrix subsampling; Hu et al. 2025, docs/metrics.md §5): the
//! heavy-tail exponent of a matrix without the bias its aspect ratio puts on `alpha`.
//!
//! The ESD of an `m × n` matrix depends on `n/m` as much as on training. FARMS instead pools the
//! eigenvalues `σ²` of many submatrices that all have the same aspect ratio — windows of
//! `rows × ⌈rows·ratio⌉` entries (oriented along the longer side of the matrix), slid over the
//! matrix with the given overlap, the last window of each axis flush with the edge — and fits the
//! power law ([`crate::baselines::htsr::fit_power_law`], WeightWatcher's rule) to the pooled ESD.

use crate::baselines::htsr::{fit_power_law, PowerLawFit, EVALS_THRESHOLD};
use crate::{Matrix, Spectrum};

/// The per-matrix FARMS fields (computed with `--farms`).
pub const FARMS_FIELDS: [&str; 2] = ["alpha_farms", "farms_windows"];

/// The window parameters.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct FarmsParams {
    /// The window's shorter side; `None`: half the matrix's shorter side (at least 16).
    pub window: Option<usize>,
    /// The window's aspect ratio, longer side over shorter side (≥ 1).
    pub ratio: f64,
    /// Fraction of a window shared with the next one along each axis, in `[0, 1)`.
    pub overlap: f64,
}

impl Default for FarmsParams {
    fn default() -> Self {
        Self { window: None, ratio: 1.0, overlap: 0.5 }
    }
}

/// The FARMS fit of one matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Farms {
    /// The power-law fit of the pooled ESD (`alpha_farms` is its exponent).
    pub fit: PowerLawFit,
    /// The number of windows pooled.
    pub windows: usize,
}

/// Window starts along an axis of length `len`: every `stride`, the last one flush with the end.
fn starts(len: usize, size: usize, stride: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (0..).map(|i| i * stride).take_while(|&s| s + size <= len).collect();
    if v.last().is_none_or(|&s| s + size < len) {
        v.push(len - size);
    }
    v
}

impl Farms {
    /// Pools the windows' ESDs and fits the power law; `Err` says why there is no fit.
    pub fn of(w: &Matrix, params: &FarmsParams) -> Result<Self, &'static str> {
        let (m, n) = (w.rows(), w.cols());
        let short = m.min(n);
        let size = params.window.unwrap_or((short / 2).max(16)).min(short);
        if size < 2 {
            return Err("matrix too small for FARMS windows");
        }
        let long_size = ((size as f64 * params.ratio.max(1.0)).ceil() as usize).min(m.max(n));
        // windows are `size` along the shorter axis of the matrix and `long_size` along the longer
        let (wr, wc) = if m <= n { (size, long_size) } else { (long_size, size) };
        let stride = |s: usize| ((s as f64 * (1.0 - params.overlap.clamp(0.0, 0.95))).round() as usize).max(1);
        let (rows, cols) = (starts(m, wr, stride(wr)), starts(n, wc, stride(wc)));
        let mut pooled = Vec::with_capacity(rows.len() * cols.len() * size);
        let data = w.as_slice();
        for &r0 in &rows {
            for &c0 in &cols {
                let block: Vec<f64> =
                    (r0..r0 + wr).flat_map(|r| data[r * n + c0..r * n + c0 + wc].iter().copied()).collect();
                let sub = Matrix::from_row_major(block, wr, wc).map_err(|_| "non-finite window")?;
                let s = Spectrum::of(&sub).map_err(|_| "a window's SVD failed")?;
                pooled.extend(s.values().iter().map(|x| x * x).filter(|&l| l > EVALS_THRESHOLD));
            }
        }
        pooled.sort_by(f64::total_cmp);
        let fit = fit_power_law(&pooled).ok_or("fewer than 2 pooled eigenvalues above 1e-5: no FARMS fit")?;
        if fit.alpha <= 1.0 {
            return Err("no FARMS power-law fit with α > 1");
        }
        Ok(Self { fit, windows: rows.len() * cols.len() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_the_axis() {
        assert_eq!(starts(10, 4, 2), [0, 2, 4, 6]);
        assert_eq!(starts(11, 4, 2), [0, 2, 4, 6, 7]);
        assert_eq!(starts(4, 4, 2), [0]);
    }
}
