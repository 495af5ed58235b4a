//! The terminal table: one line per matrix, sorted by layer then role, numbers at a readable
//! precision; a header that says what was read and how, and a footer with skips and failures.

use std::fmt::Write;

use svdiag_analysis::Analysis;

/// The metric columns shown when the user does not choose.
pub const DEFAULT_COLUMNS: [&str; 8] = [
    "entropy",
    "kl_uniform",
    "renyi_entropy",
    "effective_rank",
    "stable_rank",
    "spectral_norm",
    "condition_number",
    "alpha",
];

/// The columns shown by default with `--quick`.
pub const QUICK_COLUMNS: [&str; 5] = ["spectral_norm", "frobenius_norm", "stable_rank", "l12_norm", "renyi_entropy"];

/// Formats a number with 5 significant digits, switching to scientific notation outside
/// [1e-3, 1e6); integers stay integers; `inf` for infinity and `-` for undefined.
pub fn number(x: Option<f64>, integer: bool) -> String {
    let Some(x) = x else { return "-".into() };
    if x.is_infinite() {
        return "inf".into();
    }
    if integer {
        return format!("{}", x as i64);
    }
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e6).contains(&a) {
        format!("{x:.3e}")
    } else {
        let digits = (4 - a.log10().floor() as i32).clamp(0, 7) as usize;
        format!("{x:.digits$}")
    }
}

/// Renders the table (with header and footer lines).
pub fn render(analysis: &Analysis, columns: &[&str]) -> String {
    let columns: Vec<&str> = match (columns.is_empty(), analysis.options.quick) {
        (false, _) => columns.to_vec(),
        (true, false) => DEFAULT_COLUMNS.to_vec(),
        (true, true) => QUICK_COLUMNS.to_vec(),
    };
    // the file is shown only when it is needed to tell two records apart
    let mut keys: Vec<(&str, Option<&str>)> = analysis.matrices.iter().map(|m| (m.name.as_str(), m.gate)).collect();
    keys.sort_unstable();
    let show_file = keys.windows(2).any(|w| w[0] == w[1]);
    let mut head: Vec<String> = ["layer", "role", "name"].iter().map(|s| s.to_string()).collect();
    if show_file {
        head.push("file".into());
    }
    head.push("shape".into());
    head.extend(columns.iter().map(|c| c.to_string()));
    let left = head.len() - columns.len() - 1; // text left-aligned; shape and numbers right-aligned
    let mut rows: Vec<Vec<String>> = Vec::with_capacity(analysis.matrices.len());
    for r in &analysis.matrices {
        let mut row = vec![
            r.identity.layer.map(|l| l.to_string()).unwrap_or_else(|| "-".into()),
            r.identity.role.name().to_string(),
            match r.gate {
                Some(g) => format!("{}[{g}]", r.name),
                None => r.name.clone(),
            },
        ];
        if show_file {
            row.push(r.file.clone());
        }
        row.push(format!("{}×{}{}", r.matrix_shape[0], r.matrix_shape[1], if r.reshaped { "*" } else { "" }));
        for c in &columns {
            row.push(number(r.metrics.get(c), crate::is_count(c)));
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..head.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).chain([head[i].chars().count()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String], out: &mut String| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            if i > 0 {
                s.push_str("  ");
            }
            if i < left {
                s.push_str(cell);
                s.extend(std::iter::repeat_n(' ', pad));
            } else {
                s.extend(std::iter::repeat_n(' ', pad));
                s.push_str(cell);
            }
        }
        let _ = writeln!(out, "{}", s.trim_end());
    };

    let mut out = String::new();
    let files: Vec<&str> = analysis.inputs.iter().flat_map(|i| i.files.iter().map(|f| f.path.as_str())).collect();
    let mut dtypes: Vec<String> = analysis.matrices.iter().map(|m| m.dtype.to_string()).collect();
    dtypes.sort();
    dtypes.dedup();
    let o = &analysis.options.metrics;
    let _ = writeln!(
        out,
        "svdiag {} · {} · {} ({}) · normalization {} · Rényi q = {}",
        crate::VERSION,
        if files.len() == 1 { files[0].to_string() } else { format!("{} files", files.len()) },
        crate::plural(analysis.matrices.len(), "matrix", "matrices"),
        if dtypes.is_empty() { "-".to_string() } else { dtypes.join(", ") },
        o.normalization,
        o.q,
    );
    let _ = writeln!(out);
    line(&head, &mut out);
    line(&widths.iter().map(|w| "─".repeat(*w)).collect::<Vec<_>>(), &mut out);
    for row in &rows {
        line(row, &mut out);
    }
    let _ = writeln!(out);
    if analysis.matrices.iter().any(|m| m.reshaped) {
        let _ = writeln!(out, "* reshaped to 2-D: {}", crate::RESHAPE_RULE);
    }
    out.push_str(&diagnoses_block(analysis));
    out.push_str(&crate::summary(analysis));
    out
}

/// Eight levels for a profile drawn in one line.
const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/// A series drawn in one line, one bar per value scaled from its minimum to its maximum (all at
/// the middle level when constant); `·` where a value is missing.
pub fn sparkline(values: &[Option<f64>]) -> String {
    let finite = values.iter().flatten().filter(|v| v.is_finite());
    let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
    values
        .iter()
        .map(|v| match v {
            Some(v) if v.is_finite() => {
                let f = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
                BARS[((f * 7.0).round() as usize).min(7)]
            }
            _ => '·',
        })
        .collect()
}

/// The summary of the diagnoses under the table: counts, layers concerned, pruning candidates, and
/// the depth profile of `kl_excess` per role.
pub fn diagnoses_block(analysis: &Analysis) -> String {
    let d = &analysis.diagnoses;
    let mut out = String::new();
    if analysis.options.quick || analysis.matrices.iter().all(|m| m.metrics.kl_excess.is_none()) {
        return out;
    }
    let _ = writeln!(out, "diagnoses (thresholds: --threshold NAME=VALUE; evidence and mitigations in the JSON)");
    let mut kinds: std::collections::BTreeMap<&str, Vec<&svdiag_analysis::Diagnosis>> = Default::default();
    for x in d.matrices.iter().chain(&d.model) {
        kinds.entry(x.kind).or_default().push(x);
    }
    if kinds.is_empty() {
        let _ = writeln!(out, "  none: no spectral saturation, isotropy or layer imbalance at these thresholds");
    }
    for (kind, list) in &kinds {
        let mut layers: Vec<u32> = list.iter().flat_map(|x| x.layers.iter().copied()).collect();
        layers.sort_unstable();
        layers.dedup();
        let subjects: Vec<&str> = list.iter().map(|x| x.subject.as_str()).collect();
        let what = if list.len() <= 3 { subjects.join(", ") } else { format!("{}, …", subjects[..3].join(", ")) };
        let _ = write!(out, "  {kind}: {} ({what})", list.len());
        if !layers.is_empty() {
            let l: Vec<String> = layers.iter().map(|l| l.to_string()).collect();
            let _ = write!(out, "; layers {}", l.join(","));
        }
        let _ = writeln!(out);
    }
    if !d.pruning_candidates.is_empty() {
        let c: Vec<String> = d
            .pruning_candidates
            .iter()
            .map(|c| match c.alpha {
                Some(a) => format!(
                    "{} (kl_excess {}, alpha {})",
                    c.layer,
                    number(Some(c.kl_excess), false),
                    number(Some(a), false)
                ),
                None => format!("{} (kl_excess {})", c.layer, number(Some(c.kl_excess), false)),
            })
            .collect();
        let _ = writeln!(out, "  pruning candidates (layers, strongest first): {}", c.join(", "));
    }
    if !d.depth_profile.is_empty() {
        let _ = writeln!(out, "  kl_excess by depth (first → last layer):");
        let width = d.depth_profile.keys().map(|k| k.len()).max().unwrap_or(0);
        for (role, profile) in &d.depth_profile {
            let (lo, hi) = profile
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.kl_excess), b.max(p.kl_excess)));
            let bars = sparkline(&profile.iter().map(|p| Some(p.kl_excess)).collect::<Vec<_>>());
            let _ = writeln!(
                out,
                "    {role:<width$}  {bars}  {} … {}  (min {}, max {})",
                number(profile.first().map(|p| p.kl_excess), false),
                number(profile.last().map(|p| p.kl_excess), false),
                number(Some(lo), false),
                number(Some(hi), false)
            );
        }
    }
    let _ = writeln!(out);
    out
}

#[cfg(test)]
mod tests {
    use super::number;

    #[test]
    fn numbers() {
        assert_eq!(number(Some(5.726_201), false), "5.7262");
        assert_eq!(number(Some(0.157_43), false), "0.15743");
        assert_eq!(number(Some(123.456_7), false), "123.46");
        assert_eq!(number(Some(98_765.4), false), "98765");
        assert_eq!(number(Some(2.5e7), false), "2.500e7");
        assert_eq!(number(Some(4.2e-5), false), "4.200e-5");
        assert_eq!(number(Some(0.0), false), "0");
        assert_eq!(number(Some(f64::INFINITY), false), "inf");
        assert_eq!(number(None, false), "-");
        assert_eq!(number(Some(384.0), true), "384");
    }
}
