//! The JSON document: tool and version, inputs, settings, one record per matrix with the canonical
//! field names of docs/metrics.md, and the skipped and failed tensors with reasons.
//!
//! Non-finite values are written as `null`, and every `null` metric has its reason under the
//! record's `undefined` object.

use std::collections::BTreeMap;

use serde::Serialize;
use svdiag_analysis::{Analysis, Failed, MatrixRecord, Skipped};
use svdiag_core::{Dtype, MetricOptions};

#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    head: crate::Head<'a>,
    settings: Settings<'a>,
    summary: Summary,
    matrices: Vec<Record<'a>>,
    skipped: &'a [Skipped],
    failed: &'a [Failed],
    warnings: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    diagnoses: Option<&'a svdiag_analysis::Diagnoses>,
}

#[derive(Serialize)]
struct Settings<'a> {
    #[serde(flatten)]
    metrics: MetricOptions,
    filter: Option<&'a str>,
    mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    quick_metrics: Option<&'static [&'static str]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approx: Option<ApproxSettings>,
    spectrum: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    plot_data: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    farms: Option<svdiag_core::baselines::farms::FarmsParams>,
    svd: &'static str,
    reshape: &'static str,
}

#[derive(Serialize)]
struct ApproxSettings {
    when: &'static str,
    #[serde(flatten)]
    options: svdiag_core::linalg::slq::SlqOptions,
    confidence: f64,
}

#[derive(Serialize)]
struct Summary {
    matrices: usize,
    skipped: usize,
    failed: usize,
    filtered_out: usize,
}

#[derive(Serialize)]
struct Record<'a> {
    name: &'a str,
    file: &'a str,
    dtype: Dtype,
    shape: &'a [usize],
    matrix_shape: [usize; 2],
    reshaped: bool,
    gate: Option<&'static str>,
    role: &'static str,
    layer: Option<u32>,
    entropy: Option<f64>,
    renyi_entropy: Option<f64>,
    kl_uniform: Option<f64>,
    normalized_entropy: Option<f64>,
    effective_rank: Option<f64>,
    stable_rank: Option<f64>,
    spectral_norm: f64,
    frobenius_norm: f64,
    nuclear_norm: Option<f64>,
    condition_number: Option<f64>,
    numerical_rank: Option<usize>,
    l12_norm: f64,
    entropy_typical: Option<f64>,
    entropy_zscore: Option<f64>,
    renyi_entropy_typical: Option<f64>,
    renyi_entropy_zscore: Option<f64>,
    mp_scale: Option<f64>,
    mp_lower_edge: Option<f64>,
    mp_upper_edge: Option<f64>,
    outliers_above: Option<usize>,
    outliers_below: Option<usize>,
    mp_ks: Option<f64>,
    random_baseline_kl: Option<f64>,
    kl_excess: Option<f64>,
    alpha: Option<f64>,
    alpha_weighted: Option<f64>,
    log_norm: Option<f64>,
    log_spectral_norm: Option<f64>,
    log_alpha_norm: Option<f64>,
    xmin: Option<f64>,
    ks_distance: Option<f64>,
    num_tail: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    alpha_farms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    farms_windows: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    polar_kl_uniform: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    polar_stable_rank: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    polar_condition_number: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    polar_distance: Option<f64>,
    mp_ks_p: Option<f64>,
    kl_excess_p: Option<f64>,
    outliers_above_p: Option<f64>,
    outliers_below_p: Option<f64>,
    null_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora_rank: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora_scale: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora_effective_rank_used: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora_stable_rank_used: Option<Option<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora_energy_rank_90: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora_energy_rank_95: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lora_energy_rank_99: Option<usize>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    undefined: BTreeMap<&'static str, &'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    notes: BTreeMap<&'static str, &'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    route: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    route_reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    approx: Option<&'a svdiag_core::linalg::slq::Approx>,
    #[serde(skip_serializing_if = "Option::is_none")]
    esd: Option<&'a svdiag_core::esd::Esd>,
    #[serde(skip_serializing_if = "Option::is_none")]
    singular_values: Option<&'a [f64]>,
}

fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

impl<'a> Record<'a> {
    fn new(r: &'a MatrixRecord) -> Self {
        let m = &r.metrics;
        Self {
            name: &r.name,
            file: &r.file,
            dtype: r.dtype,
            shape: &r.shape,
            matrix_shape: r.matrix_shape,
            reshaped: r.reshaped,
            gate: r.gate,
            role: r.identity.role.name(),
            layer: r.identity.layer,
            entropy: finite(m.entropy),
            renyi_entropy: finite(m.renyi_entropy),
            kl_uniform: finite(m.kl_uniform),
            normalized_entropy: finite(m.normalized_entropy),
            effective_rank: finite(m.effective_rank),
            stable_rank: finite(m.stable_rank),
            spectral_norm: m.spectral_norm,
            frobenius_norm: m.frobenius_norm,
            nuclear_norm: finite(m.nuclear_norm),
            condition_number: finite(m.condition_number),
            numerical_rank: m.numerical_rank,
            l12_norm: m.l12_norm,
            entropy_typical: finite(m.entropy_typical),
            entropy_zscore: finite(m.entropy_zscore),
            renyi_entropy_typical: finite(m.renyi_entropy_typical),
            renyi_entropy_zscore: finite(m.renyi_entropy_zscore),
            mp_scale: finite(m.mp.map(|b| b.scale)),
            mp_lower_edge: finite(m.mp.map(|b| b.lower_edge)),
            mp_upper_edge: finite(m.mp.map(|b| b.upper_edge)),
            outliers_above: m.mp.map(|b| b.outliers_above),
            outliers_below: m.mp.map(|b| b.outliers_below),
            mp_ks: finite(m.mp.map(|b| b.ks)),
            random_baseline_kl: finite(m.mp.map(|b| b.random_baseline_kl)),
            kl_excess: finite(m.kl_excess),
            alpha: finite(m.htsr.map(|h| h.fit.alpha)),
            alpha_weighted: finite(m.htsr.map(|h| h.alpha_weighted)),
            log_norm: finite(m.htsr.map(|h| h.log_norm)),
            log_spectral_norm: finite(m.htsr.map(|h| h.log_spectral_norm)),
            log_alpha_norm: finite(m.htsr.map(|h| h.log_alpha_norm)),
            xmin: finite(m.htsr.map(|h| h.fit.xmin)),
            ks_distance: finite(m.htsr.map(|h| h.fit.ks_distance)),
            num_tail: m.htsr.map(|h| h.num_tail),
            alpha_farms: finite(m.farms.map(|f| f.fit.alpha)),
            farms_windows: m.farms.map(|f| f.windows),
            polar_kl_uniform: finite(m.polar.map(|p| p.kl_uniform)),
            polar_stable_rank: finite(m.polar.map(|p| p.stable_rank)),
            polar_condition_number: finite(m.polar.map(|p| p.condition_number)),
            polar_distance: finite(m.polar.map(|p| p.distance)),
            mp_ks_p: m.get("mp_ks_p"),
            kl_excess_p: m.get("kl_excess_p"),
            outliers_above_p: m.get("outliers_above_p"),
            outliers_below_p: m.get("outliers_below_p"),
            null_p: m.get("null_p"),
            lora_rank: m.adapter.map(|a| a.rank),
            lora_scale: m.adapter.map(|a| a.scale),
            lora_effective_rank_used: m.adapter.map(|a| finite(a.effective_rank_used)),
            lora_stable_rank_used: m.adapter.map(|a| finite(a.stable_rank_used)),
            lora_energy_rank_90: m.adapter.map(|a| a.energy_rank[0]),
            lora_energy_rank_95: m.adapter.map(|a| a.energy_rank[1]),
            lora_energy_rank_99: m.adapter.map(|a| a.energy_rank[2]),
            undefined: m.undefined.iter().map(|u| (u.field, u.reason)).collect(),
            notes: m.notes.iter().map(|u| (u.field, u.reason)).collect(),
            route: r.route.map(|x| x.name()),
            route_reason: r.route_reason.as_deref(),
            approx: r.approx.as_ref(),
            esd: r.esd.as_ref(),
            singular_values: r.singular_values.as_deref(),
        }
    }
}

/// `document` (a rendered JSON object) with one more top-level field after the others, e.g.
/// `analyze --base`'s comparison of the merged weights.
pub fn with_section(document: &str, key: &str, value: serde_json::Value) -> String {
    let mut doc: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(document).expect("a rendered document is a JSON object");
    doc.insert(key.to_string(), value);
    let mut s = serde_json::to_string_pretty(&doc).expect("report serializes");
    s.push('\n');
    s
}

/// Renders the whole analysis as one pretty-printed JSON document (with a final newline).
pub fn render(analysis: &Analysis) -> String {
    render_for(analysis, "analyze")
}

/// [`render`], naming the command that produced the analysis (`analyze`, `delta`).
pub fn render_for(analysis: &Analysis, command: &'static str) -> String {
    let doc = Document {
        head: crate::Head::new(command, &analysis.inputs),
        settings: Settings {
            metrics: analysis.options.metrics,
            filter: analysis.filter.as_deref(),
            mode: if analysis.options.quick {
                "quick"
            } else if analysis.options.approx.is_some() {
                "approx"
            } else {
                "exact"
            },
            approx: analysis.options.approx.map(|(mode, o)| ApproxSettings {
                when: if mode == svdiag_analysis::ApproxMode::Always { "always" } else { "auto" },
                options: o,
                confidence: svdiag_core::linalg::slq::CONFIDENCE,
            }),
            quick_metrics: analysis.options.quick.then_some(&svdiag_core::linalg::quick::QUICK_FIELDS[..]),
            spectrum: analysis.options.keep_spectrum,
            plot_data: analysis.options.plot_data,
            method: (!analysis.options.quick).then_some(analysis.options.method.name()),
            farms: analysis.options.farms,
            svd: crate::svd_method(&analysis.options),
            reshape: crate::RESHAPE_RULE,
        },
        summary: Summary {
            matrices: analysis.matrices.len(),
            skipped: analysis.skipped.len(),
            failed: analysis.failed.len(),
            filtered_out: analysis.filtered_out,
        },
        matrices: analysis.matrices.iter().map(Record::new).collect(),
        skipped: &analysis.skipped,
        failed: &analysis.failed,
        warnings: &analysis.warnings,
        diagnoses: (!analysis.options.quick).then_some(&analysis.diagnoses),
    };
    let mut s = serde_json::to_string_pretty(&doc).expect("report serializes");
    s.push('\n');
    s
}
