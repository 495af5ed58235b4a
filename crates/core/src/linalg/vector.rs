//! The vector kernels of the hand-written passes (`--quick`'s streaming pass over `WᵀW`, the
//! two-stage reductions' bulge chases). Written with a fixed number of partial sums so that they
//! vectorize inside a `pulp` dispatch and give the same bits on every instruction set.

/// Partial sums of [`dot`].
const SUMS: usize = 8;

/// `x·y` over the shorter of the two, with [`SUMS`] independent partial sums.
#[inline(always)]
pub(crate) fn dot(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut acc = [0.0f64; SUMS];
    let (xc, yc) = (x.chunks_exact(SUMS), y.chunks_exact(SUMS));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for l in 0..SUMS {
            acc[l] += a[l] * b[l];
        }
    }
    let tail: f64 = xr.iter().zip(yr).map(|(a, b)| a * b).sum();
    acc.iter().sum::<f64>() + tail
}

/// `y += α·x`.
#[inline(always)]
pub(crate) fn axpy(y: &mut [f64], alpha: f64, x: &[f64]) {
    y.iter_mut().zip(x).for_each(|(a, b)| *a += alpha * b);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_and_axpy() {
        let x: Vec<f64> = (0..19).map(|i| i as f64 * 0.5 - 3.0).collect();
        let y: Vec<f64> = (0..19).map(|i| 1.0 / (i as f64 + 1.0)).collect();
        let want: f64 = x.iter().zip(&y).map(|(a, b)| a * b).sum();
        assert!((dot(&x, &y) - want).abs() <= 1e-14 * want.abs().max(1.0));
        assert_eq!(dot(&x[..3], &y), dot(&x[..3], &y[..3]));
        let mut z = y.clone();
        axpy(&mut z, 2.0, &x);
        for i in 0..19 {
            assert_eq!(z[i], y[i] + 2.0 * x[i]);
        }
    }
}
