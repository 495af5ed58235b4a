//! `svdiag theory`: where the entropy of a uniformly random distribution on `n` points lies —
//! exact values, Su's (2026) mean-field approximations and a Monte Carlo estimate, side by side.

use std::fmt::Write;

use serde::Serialize;
use svdiag_core::baselines::simplex::{self, MonteCarlo};
use svdiag_core::RenyiOrder;

/// Everything `svdiag theory` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Theory {
    /// Points of the simplex.
    pub n: usize,
    /// Rényi order.
    pub q: RenyiOrder,
    /// `ψ(n+1) − ψ(2)`.
    pub shannon_mean_exact: f64,
    /// Exact variance of `H`.
    pub shannon_var_exact: f64,
    /// `log n − (1 − γ)`.
    pub shannon_mean_approx: f64,
    /// `(π²/3 − 3)/n`.
    pub shannon_var_approx: f64,
    /// `log n − log Γ(q+1)/(q−1)` (see `simplex::renyi_approx` for q = 0, 1, ∞).
    pub renyi_mean_approx: f64,
    /// Su's (2026) variance approximation, when there is one.
    pub renyi_var_approx: Option<f64>,
    /// The Monte Carlo estimate.
    pub monte_carlo: MonteCarlo,
}

impl Theory {
    /// Computes all of it; the Monte Carlo draws `samples` points with the given seed.
    pub fn compute(n: usize, q: RenyiOrder, samples: usize, seed: u64) -> Self {
        let (shannon_mean_exact, shannon_var_exact) = simplex::shannon_moments(n);
        let (shannon_mean_approx, shannon_var_approx) = simplex::renyi_approx(n, 1.0);
        let (renyi_mean_approx, renyi_var_approx) = simplex::renyi_approx(n, q.get());
        Self {
            n,
            q,
            shannon_mean_exact,
            shannon_var_exact,
            shannon_mean_approx,
            shannon_var_approx: shannon_var_approx.unwrap_or(f64::NAN),
            renyi_mean_approx,
            renyi_var_approx,
            monte_carlo: simplex::monte_carlo(n, q.get(), samples, seed),
        }
    }
}

#[derive(Serialize)]
struct Document<'a> {
    tool: &'static str,
    version: &'static str,
    command: &'static str,
    #[serde(flatten)]
    theory: &'a Theory,
}

/// As one JSON document.
pub fn render_json(t: &Theory) -> String {
    let doc = Document { tool: "svdiag", version: crate::VERSION, command: "theory", theory: t };
    let mut s = serde_json::to_string_pretty(&doc).expect("serializes");
    s.push('\n');
    s
}

/// As a table: exact | approximation | Monte Carlo | how far the approximation is from the
/// Monte Carlo, in standard errors (more than 3 is flagged: the approximation is off at this n).
pub fn render_table(t: &Theory) -> String {
    let mc = &t.monte_carlo;
    let f = |x: f64| format!("{x:.6}");
    let dev = |approx: f64, est: simplex::Estimate| {
        let z = (approx - est.value) / est.se;
        if z.is_finite() {
            format!("{z:+.1}{}", if z.abs() > 3.0 { "  off" } else { "" })
        } else {
            "-".into()
        }
    };
    let q = t.q;
    let rows: Vec<[String; 5]> = vec![
        [
            "E[H]".into(),
            f(t.shannon_mean_exact),
            f(t.shannon_mean_approx),
            format!("{} ± {:.1e}", f(mc.shannon_mean.value), mc.shannon_mean.se),
            dev(t.shannon_mean_approx, mc.shannon_mean),
        ],
        [
            "Var[H]".into(),
            format!("{:.6e}", t.shannon_var_exact),
            format!("{:.6e}", t.shannon_var_approx),
            format!("{:.6e} ± {:.1e}", mc.shannon_var.value, mc.shannon_var.se),
            dev(t.shannon_var_approx, mc.shannon_var),
        ],
        [
            "log n − E[H]".into(),
            f((t.n as f64).ln() - t.shannon_mean_exact),
            f((t.n as f64).ln() - t.shannon_mean_approx),
            f((t.n as f64).ln() - mc.shannon_mean.value),
            String::new(),
        ],
        [
            format!("E[H_{q}]"),
            "-".into(),
            f(t.renyi_mean_approx),
            format!("{} ± {:.1e}", f(mc.renyi_mean.value), mc.renyi_mean.se),
            dev(t.renyi_mean_approx, mc.renyi_mean),
        ],
        [
            format!("Var[H_{q}]"),
            "-".into(),
            t.renyi_var_approx.map_or("-".into(), |v| format!("{v:.6e}")),
            format!("{:.6e} ± {:.1e}", mc.renyi_var.value, mc.renyi_var.se),
            t.renyi_var_approx.map_or("-".into(), |v| dev(v, mc.renyi_var)),
        ],
    ];
    let head = ["quantity", "exact", "approximation", "Monte Carlo", "approx − MC (s.e.)"];
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([head[i].chars().count()]).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "svdiag theory · entropy of a uniformly random distribution on n = {} points · q = {q} · {} Monte Carlo samples (seed {})\n",
        t.n, mc.samples, mc.seed
    );
    for r in std::iter::once(head.map(String::from)).chain(rows) {
        let line: Vec<String> = r.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    let _ = writeln!(
        out,
        "\nexact: E[H] = ψ(n+1) − ψ(2), Var[H] from the Dirichlet(1,…,1) moments; approximations (Su 2026,\n\
         docs/metrics.md §3): log n − (1 − γ), (π²/3 − 3)/n, log n − log Γ(q+1)/(q−1) and its variance formula; \"off\": more \
         than 3 s.e. from the Monte Carlo."
    );
    out
}
