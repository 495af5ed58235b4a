//! Small robust statistics for trajectories and paired comparisons: median, MAD, robust z-scores of
//! step-to-step changes, the Mann–Kendall trend test and the two-sided sign test.
//! Written here because they are a few lines each and no well-kept crate offers exactly these
//! (with the tie and floor conventions stated below).

/// Median of finite values (mean of the two middle ones for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

/// Median absolute deviation from the median (unscaled).
pub fn mad(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    median(&values.iter().map(|x| (x - m).abs()).collect::<Vec<_>>())
}

/// Consistency factor of the MAD for a normal distribution (`1 / Φ⁻¹(3/4)`).
pub const MAD_NORMAL: f64 = 1.482_602_218_505_602;

/// Robust z-scores of the step-to-step changes `d_i = x_{i+1} − x_i`, each against the changes
/// before it (so that a score never changes when later points arrive, and a monitor raises the
/// same alert as a later analysis of the whole run):
/// `z_i = (d_i − median(d_<i)) / s_i`, `s_i = max(1.4826·MAD(d_<i), floor_fraction·median|d_<i|, tiny)`,
/// defined from `i = history` on (`None` before). The floor keeps a perfectly regular trajectory
/// (MAD 0) from turning rounding noise into alerts: a change then has to differ from the typical
/// one by more than `floor_fraction` of a typical step per unit of z. `tiny = 1e-3·median|x_≤i| + 1e-12`
/// does the same for a trajectory that does not move at all (identical checkpoints): a change of
/// 0.1 % of the level per unit of z.
pub fn robust_step_z(x: &[f64], floor_fraction: f64, history: usize) -> (Vec<f64>, Vec<Option<f64>>) {
    if x.len() < 2 {
        return (Vec::new(), Vec::new());
    }
    let d: Vec<f64> = x.windows(2).map(|w| w[1] - w[0]).collect();
    let z = (0..d.len())
        .map(|i| {
            if i < history.max(1) {
                return None;
            }
            let before = &d[..i];
            let med = median(before)?;
            let abs_d: Vec<f64> = before.iter().map(|v| v.abs()).collect();
            let abs_x: Vec<f64> = x[..=i].iter().map(|v| v.abs()).collect();
            let tiny = 1e-3 * median(&abs_x).unwrap_or(0.0) + 1e-12;
            let s =
                (MAD_NORMAL * mad(before).unwrap_or(0.0)).max(floor_fraction * median(&abs_d).unwrap_or(0.0)).max(tiny);
            Some((d[i] - med) / s)
        })
        .collect();
    (d, z)
}

/// The Mann–Kendall trend test on a series in time order: `S = Σ_{i<j} sign(x_j − x_i)` and the
/// normal approximation with continuity correction, `z = (S − sign S) / √Var S`,
/// `Var S = n(n−1)(2n+5)/18` (ties ignored in the variance, which makes the test slightly
/// conservative when there are ties). Returns `(S, z)`; `None` for fewer than 3 values.
pub fn mann_kendall(x: &[f64]) -> Option<(i64, f64)> {
    let n = x.len();
    if n < 3 {
        return None;
    }
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += match x[j].partial_cmp(&x[i]) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let nf = n as f64;
    let var = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    let z = (s - s.signum()) as f64 / var.sqrt();
    Some((s, z))
}

/// The standard normal upper tail `P(Z > z)`.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * libm::erfc(z / std::f64::consts::SQRT_2)
}

/// Two-sided exact sign test: the probability, under `P(+) = 1/2`, of a split at least as
/// uneven as `plus` against `minus` (ties are dropped before calling). 1 when both are 0.
pub fn sign_test(plus: usize, minus: usize) -> f64 {
    let n = plus + minus;
    if n == 0 {
        return 1.0;
    }
    let k = plus.min(minus);
    // P(X ≤ k) for X ~ Binomial(n, 1/2), summed in log space term by term
    let ln_half_n = n as f64 * std::f64::consts::LN_2;
    let ln_choose = |j: usize| {
        crate::special::ln_gamma(n as f64 + 1.0)
            - crate::special::ln_gamma(j as f64 + 1.0)
            - crate::special::ln_gamma((n - j) as f64 + 1.0)
    };
    let tail: f64 = (0..=k).map(|j| (ln_choose(j) - ln_half_n).exp()).sum();
    (2.0 * tail).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0, 100.0]), Some(1.0));
    }

    #[test]
    fn sign_test_matches_the_binomial() {
        // 9 of 10 one way: P = 2·(1 + 10)/1024
        assert!((sign_test(9, 1) - 22.0 / 1024.0).abs() < 1e-14);
        assert!((sign_test(1, 9) - 22.0 / 1024.0).abs() < 1e-14);
        assert_eq!(sign_test(5, 5), 1.0);
        // 22 of 24: 2·(1 + 24 + 276)/2^24
        assert!((sign_test(22, 2) / (2.0 * 301.0 / 16_777_216.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn mann_kendall_of_a_monotone_series() {
        let (s, z) = mann_kendall(&[5.0, 4.0, 3.0, 2.0, 1.0]).unwrap();
        assert_eq!(s, -10);
        // Var = 5·4·15/18 = 16.667, z = −9/4.0825
        assert!((z + 9.0 / (50.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((normal_sf(1.959_963_984_540_054) - 0.025).abs() < 1e-12);
    }

    #[test]
    fn a_planted_jump_stands_out_and_a_regular_trajectory_does_not() {
        let smooth: Vec<f64> = (0..10).map(|i| 1.0 - 0.05 * i as f64).collect();
        let (_, z) = robust_step_z(&smooth, 0.5, 3);
        assert_eq!(z[..3], [None, None, None]);
        assert!(z[3..].iter().all(|v| v.unwrap().abs() < 1e-6), "{z:?}");
        let mut jump = smooth.clone();
        for v in &mut jump[6..] {
            *v += 0.8;
        }
        let (d, z) = robust_step_z(&jump, 0.5, 3);
        // the jump is between values 5 and 6; the changes after it are scored against a history
        // that holds it, and the median and MAD ignore it
        assert!(z[5].unwrap() > 10.0, "{d:?} {z:?}");
        assert!(z.iter().enumerate().all(|(i, v)| i == 5 || v.is_none_or(|v| v.abs() < 1e-6)), "{z:?}");
        // a large first change (a warm-up) has no history and is never scored
        let mut warm = smooth.clone();
        warm[0] -= 1.0;
        assert!(robust_step_z(&warm, 0.5, 3).1[0].is_none());
    }
}
