//! Special functions the random-simplex baseline needs: ψ (digamma), ψ′ (trigamma) and log Γ.
//!
//! ψ and ψ′ are not in `libm`; they are written here with the standard method (recurrence up to
//! x ≥ 20, then the asymptotic series), accurate to ~1e-15 relative for x > 0 (checked against
//! SciPy in the tests).

/// The Euler–Mascheroni constant γ.
pub const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// log Γ(x) for x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ψ(x) = d/dx log Γ(x), for x > 0.
pub fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 20.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    // ln x − 1/(2x) − Σ B_{2k}/(2k x^{2k})
    let series = x2
        * (1.0 / 12.0
            - x2 * (1.0 / 120.0 - x2 * (1.0 / 252.0 - x2 * (1.0 / 240.0 - x2 * (1.0 / 132.0 - x2 * 691.0 / 32760.0)))));
    acc + x.ln() - 0.5 / x - series
}

/// ψ′(x), for x > 0.
pub fn trigamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 20.0 {
        acc += 1.0 / (x * x);
        x += 1.0;
    }
    let x2 = 1.0 / (x * x);
    // 1/x + 1/(2x²) + Σ B_{2k}/x^{2k+1}
    let series = 1.0 / 6.0 - x2 * (1.0 / 30.0 - x2 * (1.0 / 42.0 - x2 * (1.0 / 30.0 - x2 * 5.0 / 66.0)));
    acc + 1.0 / x + 0.5 * x2 + series * x2 / x
}
