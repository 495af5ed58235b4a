//! Value parsers: each checks its value and says what was expected.

use svdiag_report::Format;

pub(super) fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}

/// `s` as a `T` inside `range`, or an error that says what was expected.
pub(super) fn parse_in<T: std::str::FromStr + PartialOrd>(
    s: &str,
    range: impl std::ops::RangeBounds<T>,
    expected: &str,
) -> Result<T, String> {
    match s.parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!("'{s}' is not {expected}")),
    }
}

pub(super) fn parse_threads(s: &str) -> Result<usize, String> {
    parse_in(s, 1.., "a positive number of threads")
}

pub(super) fn parse_seconds(s: &str) -> Result<f64, String> {
    parse_in(s, 0.0..=86_400.0, "a number of seconds in [0, 86400]")
}

pub(super) fn parse_positive(s: &str) -> Result<usize, String> {
    parse_in(s, 1.., "a positive whole number")
}

pub(super) fn parse_probes(s: &str) -> Result<usize, String> {
    parse_in(s, 4..=10_000, "a number of probes in 4..=10000")
}

pub(super) fn parse_ratio(s: &str) -> Result<f64, String> {
    // the upper bound keeps out inf (and NaN is in no range)
    parse_in(s, 1.0..=f64::MAX, "an aspect ratio ≥ 1")
}

pub(super) fn parse_overlap(s: &str) -> Result<f64, String> {
    parse_in(s, 0.0..=0.95, "an overlap in [0, 0.95]")
}

pub(super) fn parse_window(s: &str) -> Result<usize, String> {
    parse_in(s, 2.., "a window size ≥ 2")
}

pub(super) fn parse_role(s: &str) -> Result<svdiag_core::Role, String> {
    svdiag_core::Role::from_canonical(s).ok_or_else(|| {
        let all: Vec<&str> = svdiag_core::Role::ALL.iter().map(|r| r.name()).collect();
        format!("unknown role '{s}' (one of: {})", all.join(", "))
    })
}

pub(super) fn parse_threshold(s: &str) -> Result<String, String> {
    svdiag_analysis::Thresholds::default().set(s).map(|()| s.to_string())
}

pub(super) fn parse_column(s: &str) -> Result<String, String> {
    if svdiag_report::metric_fields().any(|f| f == s) {
        Ok(s.to_string())
    } else {
        Err(format!("unknown metric '{s}' (one of: {})", svdiag_report::metric_fields().collect::<Vec<_>>().join(", ")))
    }
}
