//! The per-matrix metrics of docs/metrics.md §2, computed from a [`Spectrum`].
//!
//! Everything here is a pure function of the singular values (plus `l12_norm`, which is a function
//! of the columns and is passed in). Natural logarithms; `0·log 0 = 0`; no epsilon guards.

use crate::entropy::{distribution, renyi, shannon, MetricOptions, Normalization};
use crate::{CoreError, Spectrum};

/// A metric that has no finite value for this matrix, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Undefined {
    /// Canonical field name.
    pub field: &'static str,
    /// Why it has no finite value.
    pub reason: &'static str,
}

impl Undefined {
    /// The same reason for each of `fields`.
    pub fn all<'a>(fields: &'a [&'static str], reason: &'static str) -> impl Iterator<Item = Undefined> + 'a {
        fields.iter().map(move |&field| Undefined { field, reason })
    }
}

/// The canonical metric fields of docs/metrics.md §2, in their canonical order.
pub const METRIC_FIELDS: [&str; 12] = [
    "entropy",
    "renyi_entropy",
    "kl_uniform",
    "normalized_entropy",
    "effective_rank",
    "stable_rank",
    "spectral_norm",
    "frobenius_norm",
    "nuclear_norm",
    "condition_number",
    "numerical_rank",
    "l12_norm",
];

/// Where the entropy of a uniformly random distribution over the `r` singular values lies
/// (docs/metrics.md §3), and how far this matrix is from it, in standard deviations.
pub const BASELINE_FIELDS: [&str; 4] =
    ["entropy_typical", "entropy_zscore", "renyi_entropy_typical", "renyi_entropy_zscore"];

/// The metrics of one matrix. `None` (or a non-finite `condition_number`) comes with an entry in
/// [`Metrics::undefined`] that says why.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Shannon entropy `H = −Σ p_i log p_i`.
    pub entropy: Option<f64>,
    /// Rényi entropy of order `q`.
    pub renyi_entropy: Option<f64>,
    /// `log r − H ≥ 0`.
    pub kl_uniform: Option<f64>,
    /// `H / log r ∈ [0, 1]`.
    pub normalized_entropy: Option<f64>,
    /// `exp(H)`.
    pub effective_rank: Option<f64>,
    /// `Σσ_i² / σ_1²`.
    pub stable_rank: Option<f64>,
    /// `σ_1`.
    pub spectral_norm: f64,
    /// `√Σσ_i²`.
    pub frobenius_norm: f64,
    /// `Σσ_i` (`None` only in `--quick` mode).
    pub nuclear_norm: Option<f64>,
    /// `σ_1 / σ_r`; `Some(∞)` when `σ_r = 0 < σ_1`, `None` for the zero matrix.
    pub condition_number: Option<f64>,
    /// `#{σ_i > σ_1 · max(m,n) · ε_f64}` (`None` only in `--quick` mode).
    pub numerical_rank: Option<usize>,
    /// `Σ_j ‖W_{:,j}‖₂`.
    pub l12_norm: f64,
    /// `E[H]` for a uniformly random point of the `r`-simplex: `ψ(r+1) − ψ(2)` (exact).
    pub entropy_typical: Option<f64>,
    /// `(H − E[H]) / sd[H]`, with the exact standard deviation.
    pub entropy_zscore: Option<f64>,
    /// Su's (2026) approximation of `E[H_q]` for a random point of the `r`-simplex.
    pub renyi_entropy_typical: Option<f64>,
    /// `(H_q − E[H_q]) / sd[H_q]` with Su's (2026) variance approximation.
    pub renyi_entropy_zscore: Option<f64>,
    /// The heavy-tail (HTSR) metrics of docs/metrics.md §5 ([`crate::baselines::htsr`]).
    pub htsr: Option<crate::baselines::htsr::Htsr>,
    /// The random-matrix baseline of docs/metrics.md §4 ([`crate::baselines::mp`]).
    pub mp: Option<crate::baselines::mp::MpBaseline>,
    /// `kl_uniform − random_baseline_kl`.
    pub kl_excess: Option<f64>,
    /// The polar factor's metrics, when asked for (`--polar`; set by the caller).
    pub polar: Option<crate::surgery::Polar>,
    /// The FARMS fit, when asked for ([`crate::baselines::farms`]; set by the caller, which holds the matrix).
    pub farms: Option<crate::baselines::farms::Farms>,
    /// The p-values under the null of the shape ([`crate::baselines::null`]; set by the caller, which
    /// holds the null: [`Metrics::with_null`]).
    pub null: Option<crate::baselines::null::NullTest>,
    /// For an adapter's update `ΔW = s·B·A`: how much of its rank it uses (set by the caller:
    /// [`Metrics::set_adapter`]).
    pub adapter: Option<crate::linalg::factored::AdapterUse>,
    /// Remarks on defined values (e.g. why `outliers_below` is 0 for a square matrix).
    pub notes: Vec<Undefined>,
    /// Reasons for every metric without a finite value.
    pub undefined: Vec<Undefined>,
}

const ZERO_MATRIX: &str = "all singular values are 0 (zero matrix): the distribution p is undefined";

impl Metrics {
    /// Computes every metric of §2 from the spectrum; `l12_norm` comes from the matrix's columns
    /// ([`crate::Matrix::l12_norm`]).
    pub fn compute(spectrum: &Spectrum, l12_norm: f64, options: &MetricOptions) -> Self {
        let s = spectrum.values();
        let r = s.len();
        let sigma_max = s.first().copied().unwrap_or(0.0);
        let sigma_min = s.last().copied().unwrap_or(0.0);
        let nuclear: f64 = s.iter().sum();
        let energy: f64 = s.iter().map(|v| v * v).sum();
        let mut undefined = Vec::new();

        let tol = crate::esd::rank_tolerance(spectrum);
        let numerical_rank = s.iter().filter(|&&v| v > tol).count();

        let p = distribution(s, options.normalization);
        let entropy = p.as_deref().map(shannon);
        let renyi_entropy = p.as_deref().map(|p| renyi(p, options.q.get()));
        let log_r = (r as f64).ln();
        let kl_uniform = entropy.map(|h| log_r - h);
        let normalized_entropy = match entropy {
            Some(_) if r < 2 => {
                undefined.push(Undefined { field: "normalized_entropy", reason: "r = 1: log r = 0" });
                None
            }
            Some(h) => Some(h / log_r),
            None => None,
        };
        let effective_rank = entropy.map(f64::exp);
        if p.is_none() {
            for field in [
                "entropy",
                "renyi_entropy",
                "kl_uniform",
                "normalized_entropy",
                "effective_rank",
                "entropy_zscore",
                "renyi_entropy_zscore",
            ] {
                undefined.push(Undefined { field, reason: ZERO_MATRIX });
            }
        }

        let (stable_rank, condition_number) = if sigma_max > 0.0 {
            let cond = sigma_max / sigma_min;
            if cond.is_infinite() {
                undefined.push(Undefined {
                    field: "condition_number",
                    reason: "smallest singular value is 0: condition number is infinite",
                });
            }
            (Some(energy / (sigma_max * sigma_max)), Some(cond))
        } else {
            undefined.push(Undefined { field: "stable_rank", reason: "spectral norm is 0 (zero matrix)" });
            undefined.push(Undefined { field: "condition_number", reason: "0/0 (zero matrix)" });
            (None, None)
        };

        let (h_mean, h_var) = crate::baselines::simplex::shannon_moments(r);
        let (hq_mean, hq_var) = crate::baselines::simplex::renyi_approx(r, options.q.get());
        let zscore =
            |value: Option<f64>, mean: f64, var: Option<f64>, field: &'static str, undefined: &mut Vec<Undefined>| {
                let value = value?;
                // one singular value: the "random" distribution is the point mass, without spread
                let var = if r < 2 { Some(0.0) } else { var };
                match var {
                    Some(v) if v > 0.0 => Some((value - mean) / v.sqrt()),
                    Some(_) => {
                        undefined.push(Undefined {
                            field,
                            reason: "the random-simplex entropy has no spread here (r = 1 or q = 0)",
                        });
                        None
                    }
                    None => {
                        undefined.push(Undefined { field, reason: "no variance approximation for q = ∞" });
                        None
                    }
                }
            };
        let entropy_zscore = zscore(entropy, h_mean, Some(h_var), "entropy_zscore", &mut undefined);
        let renyi_entropy_zscore = zscore(renyi_entropy, hq_mean, hq_var, "renyi_entropy_zscore", &mut undefined);
        let has_r = r > 0;
        let mut notes = Vec::new();
        let mp = if p.is_none() {
            undefined.extend(Undefined::all(&crate::baselines::mp::MP_FIELDS, ZERO_MATRIX));
            None
        } else {
            match crate::baselines::mp::MpBaseline::fit(s, spectrum.rows(), spectrum.cols(), options.normalization) {
                Ok(b) => {
                    if spectrum.rows() == spectrum.cols() {
                        notes.push(Undefined { field: "outliers_below", reason: crate::baselines::mp::SQUARE_NOTE });
                    }
                    Some(b)
                }
                Err(reason) => {
                    undefined.extend(Undefined::all(&crate::baselines::mp::MP_FIELDS, reason));
                    None
                }
            }
        };
        let kl_excess = match (kl_uniform, mp) {
            (Some(kl), Some(b)) => Some(kl - b.random_baseline_kl),
            _ => None,
        };
        let htsr = match crate::baselines::htsr::Htsr::from_singular_values(s) {
            Ok(h) => Some(h),
            Err(reason) => {
                undefined.extend(Undefined::all(&crate::baselines::htsr::HTSR_FIELDS, reason));
                None
            }
        };
        Self {
            polar: None,
            farms: None,
            null: None,
            adapter: None,
            htsr,
            mp,
            kl_excess,
            notes,
            entropy_typical: has_r.then_some(h_mean),
            entropy_zscore,
            renyi_entropy_typical: has_r.then_some(hq_mean),
            renyi_entropy_zscore,
            entropy,
            renyi_entropy,
            kl_uniform,
            normalized_entropy,
            effective_rank,
            stable_rank,
            spectral_norm: sigma_max,
            frobenius_norm: energy.sqrt(),
            nuclear_norm: Some(nuclear),
            condition_number,
            numerical_rank: Some(numerical_rank),
            l12_norm,
            undefined,
        }
    }

    /// The `--quick` metrics (see [`crate::linalg::quick`]): exact `frobenius_norm` and `l12_norm`,
    /// `spectral_norm` to a relative `tol` by Lanczos, `stable_rank` from both, and
    /// `renyi_entropy` exactly when the settings ask for the `energy` Rényi-2 entropy. Every other
    /// field is `None` with the reason "not computed by --quick". Reads `src` in passes of a few
    /// rows (no f64 copy); NaN or Inf in it is an error.
    pub fn quick(src: &impl crate::matrix::Blocks, options: &MetricOptions, tol: f64) -> Result<Self, CoreError> {
        const NOT_QUICK: &str = "not computed by --quick (it needs the full spectrum)";
        let (sum2, l12_norm) = crate::linalg::quick::entry_norms(src)?;
        let sigma_max = crate::linalg::quick::spectral_norm(src, tol)?;
        let mut undefined = Vec::new();
        let energy_renyi2 = options.normalization == Normalization::Energy && options.q.get() == 2.0;
        let renyi_entropy = if !energy_renyi2 {
            undefined.push(Undefined {
                field: "renyi_entropy",
                reason: "--quick computes renyi_entropy only for --normalization energy --q 2",
            });
            None
        } else if sum2 > 0.0 {
            Some(-(crate::linalg::quick::sum_sigma4(src)? / (sum2 * sum2)).ln())
        } else {
            undefined.push(Undefined { field: "renyi_entropy", reason: ZERO_MATRIX });
            None
        };
        let stable_rank = if sigma_max > 0.0 {
            Some(sum2 / (sigma_max * sigma_max))
        } else {
            undefined.push(Undefined { field: "stable_rank", reason: "spectral norm is 0 (zero matrix)" });
            None
        };
        let fields = METRIC_FIELDS.iter().chain(BASELINE_FIELDS.iter());
        for field in
            fields.chain(crate::baselines::mp::MP_FIELDS.iter()).chain(crate::baselines::htsr::HTSR_FIELDS.iter())
        {
            if !crate::linalg::quick::QUICK_FIELDS.contains(field) {
                undefined.push(Undefined { field, reason: NOT_QUICK });
            }
        }
        Ok(Self {
            entropy: None,
            renyi_entropy,
            kl_uniform: None,
            normalized_entropy: None,
            effective_rank: None,
            stable_rank,
            spectral_norm: sigma_max,
            frobenius_norm: sum2.sqrt(),
            nuclear_norm: None,
            condition_number: None,
            numerical_rank: None,
            l12_norm,
            entropy_typical: None,
            entropy_zscore: None,
            renyi_entropy_typical: None,
            renyi_entropy_zscore: None,
            htsr: None,
            farms: None,
            polar: None,
            null: None,
            adapter: None,
            mp: None,
            kl_excess: None,
            notes: Vec::new(),
            undefined,
        })
    }

    /// The statistics the null tests ([`crate::baselines::null::Statistics`]), when the spectrum had
    /// a Marchenko–Pastur fit.
    pub fn null_statistics(&self) -> Option<crate::baselines::null::Statistics> {
        if self.adapter.is_some() {
            return None; // an adapter's update is low-rank by construction: no Gaussian null applies
        }
        let (mp, kl) = (self.mp?, self.kl_uniform?);
        // σ_min = σ_1 / condition number (0 where it is infinite)
        let sigma_min = self.condition_number.map_or(0.0, |c| if c.is_finite() { self.spectral_norm / c } else { 0.0 });
        Some(crate::baselines::null::Statistics::from_fit(&mp, kl, self.spectral_norm, sigma_min))
    }

    /// Sets the p-values under the null of the shape.
    pub fn set_null(&mut self, test: crate::baselines::null::NullTest) {
        self.null = Some(test);
    }

    /// Marks these as the metrics of an adapter's update of rank `rank` and scale `scale` with
    /// singular values `values`, adding the LoRA fields.
    pub fn set_adapter(&mut self, values: &[f64], rank: usize, scale: f64) {
        self.adapter =
            Some(crate::linalg::factored::AdapterUse::of(values, rank, scale, self.effective_rank, self.stable_rank));
    }

    /// Replaces the entropy-type fields and `nuclear_norm` of a `--quick` result with SLQ
    /// estimates ([`crate::linalg::slq`]), and drops their "not computed" reasons.
    pub fn with_approx(mut self, a: &crate::linalg::slq::Approx, r: usize) -> Self {
        let h = a.entropy.value;
        self.entropy = Some(h);
        self.kl_uniform = Some(a.kl_uniform.value);
        self.effective_rank = Some(h.exp());
        self.normalized_entropy = (r >= 2).then(|| h / (r as f64).ln());
        self.nuclear_norm = Some(a.nuclear_norm.value);
        self.undefined.retain(|u| {
            !matches!(u.field, "entropy" | "kl_uniform" | "effective_rank" | "normalized_entropy" | "nuclear_norm")
        });
        self
    }

    /// A metric by its canonical name, as f64 (`numerical_rank` converted), `None` if undefined or
    /// the name is unknown.
    pub fn get(&self, field: &str) -> Option<f64> {
        match field {
            "entropy" => self.entropy,
            "renyi_entropy" => self.renyi_entropy,
            "kl_uniform" => self.kl_uniform,
            "normalized_entropy" => self.normalized_entropy,
            "effective_rank" => self.effective_rank,
            "stable_rank" => self.stable_rank,
            "spectral_norm" => Some(self.spectral_norm),
            "frobenius_norm" => Some(self.frobenius_norm),
            "nuclear_norm" => self.nuclear_norm,
            "condition_number" => self.condition_number,
            "numerical_rank" => self.numerical_rank.map(|r| r as f64),
            "l12_norm" => Some(self.l12_norm),
            "entropy_typical" => self.entropy_typical,
            "entropy_zscore" => self.entropy_zscore,
            "renyi_entropy_typical" => self.renyi_entropy_typical,
            "renyi_entropy_zscore" => self.renyi_entropy_zscore,
            "kl_excess" => self.kl_excess,
            "alpha_farms" => self.farms.map(|f| f.fit.alpha),
            "polar_kl_uniform" | "polar_stable_rank" | "polar_condition_number" | "polar_distance" => {
                self.polar.and_then(|p| p.get(field))
            }
            "farms_windows" => self.farms.map(|f| f.windows as f64),
            "mp_scale" => self.mp.map(|b| b.scale),
            "mp_lower_edge" => self.mp.map(|b| b.lower_edge),
            "mp_upper_edge" => self.mp.map(|b| b.upper_edge),
            "outliers_above" => self.mp.map(|b| b.outliers_above as f64),
            "outliers_below" => self.mp.map(|b| b.outliers_below as f64),
            "mp_ks" => self.mp.map(|b| b.ks),
            "random_baseline_kl" => self.mp.map(|b| b.random_baseline_kl),
            "mp_ks_p" => self.null.map(|t| t.mp_ks_p),
            "kl_excess_p" => self.null.map(|t| t.kl_excess_p),
            "outliers_above_p" => self.null.map(|t| t.outliers_above_p),
            "outliers_below_p" => self.null.map(|t| t.outliers_below_p),
            "null_p" => self.null.map(|t| t.null_p),
            f if f.starts_with("lora_") => self.adapter.and_then(|a| a.get(f)),
            _ => self.htsr.and_then(|h| h.get(field)),
        }
    }
}
