//! The few chart primitives the report needs, written as SVG text: linear scales with "nice"
//! ticks, axes with labels, bars, lines, markers and bands. Hand-written because no chart crate
//! draws SVG offline without fonts, scripts or a large dependency (see `docs/report.md`), and
//! because the output must be byte-identical for identical input (coordinates are rounded to
//! 0.1 px by one formatter).

use std::fmt::Write;

/// Escapes text for HTML and SVG content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A coordinate rounded to 0.1 px.
pub fn px(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// A linear map from a data interval onto a pixel interval.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    /// Data interval.
    pub d: (f64, f64),
    /// Pixel interval.
    pub r: (f64, f64),
}

impl Scale {
    /// The scale of `d` (widened when empty or degenerate) onto `r`.
    pub fn new(d: (f64, f64), r: (f64, f64)) -> Self {
        let (mut lo, mut hi) = d;
        if !lo.is_finite() || !hi.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi - lo <= f64::EPSILON * lo.abs().max(hi.abs()).max(1e-300) {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            (lo, hi) = (lo - pad, hi + pad);
        }
        Self { d: (lo, hi), r }
    }

    /// Pixel of `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.r.0 + (x - self.d.0) / (self.d.1 - self.d.0) * (self.r.1 - self.r.0)
    }

    /// Whether `x` lies in the data interval.
    pub fn contains(&self, x: f64) -> bool {
        x >= self.d.0 && x <= self.d.1
    }
}

/// About `n` round tick values covering `[lo, hi]` (steps of 1, 2 or 5 × 10^k).
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi <= lo || !lo.is_finite() || !hi.is_finite() {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|s| raw <= *s).unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last).map(|i| i as f64 * step).map(|v| if v.abs() < step * 1e-9 { 0.0 } else { v }).collect()
}

/// Widens `[lo, hi]` to the tick step that covers it (for axes that start and end on a tick).
pub fn nice_range(lo: f64, hi: f64) -> (f64, f64) {
    let t = ticks(lo, hi, 5);
    if t.len() < 2 {
        return (lo, hi);
    }
    let step = t[1] - t[0];
    ((lo / step).floor() * step, (hi / step).ceil() * step)
}

/// A label for a tick on a linear axis.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        "0".into()
    } else if !(1e-3..1e5).contains(&a) {
        format!("{v:.0e}")
    } else {
        let s = format!("{v:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// A label `10^k` for a tick on an axis of `log10` values.
pub fn pow10_label(v: f64) -> String {
    format!("1e{}", v.round() as i64)
}

/// One chart: an SVG element with a plot area, axes, and marks appended in order.
pub struct Chart {
    /// Element id.
    id: String,
    /// Width and height in px.
    w: f64,
    h: f64,
    /// The x and y scales (onto the plot area).
    pub x: Scale,
    /// The y scale.
    pub y: Scale,
    body: String,
    title: String,
    desc: String,
    /// Direct labels at line ends: (x px, y px, colour, text), laid out by [`Chart::finish`].
    labels: Vec<(f64, f64, String, String)>,
}

/// Margins of the plot area: left, right, top, bottom.
const MARGIN: (f64, f64, f64, f64) = (52.0, 12.0, 14.0, 38.0);

impl Chart {
    /// A `w × h` chart of the data ranges `x` and `y`, with its accessible title and description.
    pub fn new(id: &str, w: f64, h: f64, x: (f64, f64), y: (f64, f64), title: &str, desc: &str) -> Self {
        let (l, r, t, b) = MARGIN;
        Self {
            id: id.to_string(),
            w,
            h,
            x: Scale::new(x, (l, w - r)),
            y: Scale::new(y, (h - b, t)),
            body: String::new(),
            title: title.to_string(),
            desc: desc.to_string(),
            labels: Vec::new(),
        }
    }

    /// Axes with ticks; `log_x`/`log_y` label ticks of `log10` values as powers of ten; an empty
    /// `x_label` leaves the x axis without ticks.
    pub fn axes(&mut self, x_label: &str, y_label: &str, log_x: bool, log_y: bool) {
        let (x, y) = (self.x, self.y);
        let mut s = String::new();
        let _ = write!(
            s,
            "<g class=\"axis\"><path class=\"frame\" d=\"M{} {}H{}M{} {}V{}\"/>",
            px(x.r.0),
            px(y.r.0),
            px(x.r.1),
            px(x.r.0),
            px(y.r.0),
            px(y.r.1)
        );
        // an axis without a label is categorical: no ticks
        let xt = match (x_label.is_empty(), log_x) {
            (true, _) => Vec::new(),
            (false, true) => int_ticks(x.d),
            (false, false) => ticks(x.d.0, x.d.1, 6),
        };
        for v in xt.into_iter().filter(|v| x.contains(*v)) {
            let label = if log_x { pow10_label(v) } else { tick_label(v) };
            let p = px(x.at(v));
            let _ = write!(
                s,
                "<path d=\"M{p} {}v4\"/><text x=\"{p}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
                px(y.r.0),
                px(y.r.0 + 15.0)
            );
        }
        let yt = if log_y { int_ticks(y.d) } else { ticks(y.d.0, y.d.1, 4) };
        for v in yt.into_iter().filter(|v| y.contains(*v)) {
            let label = if log_y { pow10_label(v) } else { tick_label(v) };
            let p = px(y.at(v));
            let _ = write!(
                s,
                "<path d=\"M{} {p}h-4\"/><text x=\"{}\" y=\"{p}\" dy=\"0.32em\" text-anchor=\"end\">{label}</text>",
                px(x.r.0),
                px(x.r.0 - 6.0)
            );
        }
        let _ = write!(
            s,
            "<text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            px((x.r.0 + x.r.1) / 2.0),
            px(self.h - 4.0),
            esc(x_label)
        );
        let _ = write!(
            s,
            "<text class=\"label\" transform=\"translate(12 {}) rotate(-90)\" text-anchor=\"middle\">{}</text></g>",
            px((y.r.0 + y.r.1) / 2.0),
            esc(y_label)
        );
        self.body.push_str(&s);
    }

    /// Appends raw SVG (already escaped).
    pub fn raw(&mut self, svg: &str) {
        self.body.push_str(svg);
    }

    /// A polyline through the points inside the x range (gaps where a value is missing).
    pub fn line(&mut self, class: &str, points: &[(f64, Option<f64>)], extra: &str) {
        let d = self.line_path(points);
        if !d.is_empty() {
            let _ = write!(self.body, "<path class=\"{class}\" d=\"{d}\"{extra}/>");
        }
    }

    /// The `d` attribute of a polyline (clipped to the y range).
    pub fn line_path(&self, points: &[(f64, Option<f64>)]) -> String {
        let mut d = String::new();
        let mut pen = false;
        for &(x, y) in points {
            match y.filter(|v| v.is_finite()) {
                Some(y) => {
                    let yy = self.y.at(y.clamp(self.y.d.0, self.y.d.1));
                    let _ = write!(d, "{}{} {}", if pen { "L" } else { "M" }, px(self.x.at(x)), px(yy));
                    pen = true;
                }
                None => pen = false,
            }
        }
        d
    }

    /// A vertical line across the plot area at data `x`, with a `<title>`.
    pub fn vline(&mut self, class: &str, x: f64, title: &str) {
        if !self.x.contains(x) {
            return;
        }
        let p = px(self.x.at(x));
        let _ = write!(
            self.body,
            "<path class=\"{class}\" d=\"M{p} {}V{}\"><title>{}</title></path>",
            px(self.y.r.0),
            px(self.y.r.1),
            esc(title)
        );
    }

    /// A horizontal band between data `y0` and `y1`.
    pub fn hband(&mut self, class: &str, y0: f64, y1: f64) {
        let (a, b) = (y0.max(self.y.d.0), y1.min(self.y.d.1));
        if a >= b {
            return;
        }
        let _ = write!(
            self.body,
            "<rect class=\"{class}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            px(self.x.r.0),
            px(self.y.at(b)),
            px(self.x.r.1 - self.x.r.0),
            px(self.y.at(a) - self.y.at(b))
        );
    }

    /// Bars from 0 to `counts[i]` over `[edges[i], edges[i+1]]`, merged into one path.
    pub fn bars(&mut self, class: &str, edges: &[f64], counts: &[f64]) {
        let mut d = String::new();
        let base = self.y.at(self.y.d.0.max(0.0));
        for (w, &c) in edges.windows(2).zip(counts) {
            if c <= 0.0 {
                continue;
            }
            let (x0, x1) = (self.x.at(w[0]), self.x.at(w[1]));
            let top = self.y.at(c.min(self.y.d.1));
            let _ = write!(d, "M{} {}V{}H{}V{}Z", px(x0), px(base), px(top), px(x1.max(x0 + 0.6)), px(base));
        }
        if !d.is_empty() {
            let _ = write!(self.body, "<path class=\"{class}\" d=\"{d}\"/>");
        }
    }

    /// A marker (`tri-up`, `tri-down`, `dot`, `square`) at pixel position, with a `<title>`.
    pub fn marker_px(&mut self, class: &str, shape: &str, x: f64, y: f64, title: &str, attrs: &str) {
        let d = marker_path(shape, x, y);
        let _ = write!(self.body, "<path class=\"{class}\" d=\"{d}\"{attrs}><title>{}</title></path>", esc(title));
    }

    /// One marker per pixel x at height `y`, all in one `<path>` whose `data-count` is their
    /// number (none drawn when `xs` is empty).
    pub fn markers(&mut self, class: &str, shape: &str, xs: &[f64], y: f64, title: &str) {
        if xs.is_empty() {
            return;
        }
        let d: String = xs.iter().map(|&x| marker_path(shape, x, y)).collect();
        let _ = write!(
            self.body,
            "<path class=\"{class}\" data-count=\"{}\" d=\"{d}\"><title>{}</title></path>",
            xs.len(),
            esc(title)
        );
    }

    /// Text at pixel coordinates inside the plot area's top-left corner.
    pub fn note(&mut self, class: &str, line: usize, text: &str) {
        let _ = write!(
            self.body,
            "<text class=\"{class}\" x=\"{}\" y=\"{}\">{}</text>",
            px(self.x.r.0 + 6.0),
            px(self.y.r.1 + 12.0 + 13.0 * line as f64),
            esc(text)
        );
    }

    /// A label in `colour` just right of the data point `(x, y)` (the end of a line); labels that
    /// would overlap are moved apart vertically when the chart is finished.
    pub fn end_label(&mut self, x: f64, y: f64, colour: &str, text: &str) {
        self.labels.push((
            self.x.at(x) + 5.0,
            self.y.at(y.clamp(self.y.d.0, self.y.d.1)) + 3.0,
            colour.into(),
            text.into(),
        ));
    }

    /// The labels at least one line apart, inside the plot area, in their order by height.
    fn lay_out_labels(&mut self) {
        const GAP: f64 = 11.0;
        let mut labels = std::mem::take(&mut self.labels);
        labels.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.3.cmp(&b.3)));
        let (top, bottom) = (self.y.r.1 + 8.0, self.y.r.0 + 3.0);
        let mut prev = f64::NEG_INFINITY;
        for l in labels.iter_mut() {
            l.1 = l.1.max(prev + GAP).max(top);
            prev = l.1;
        }
        let mut next = f64::INFINITY;
        for l in labels.iter_mut().rev() {
            l.1 = l.1.min(next - GAP).min(bottom);
            next = l.1;
        }
        for (x, y, colour, text) in labels {
            let _ = write!(
                self.body,
                "<text class=\"direct\" x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>",
                px(x),
                px(y),
                esc(&text)
            );
        }
    }

    /// The finished `<svg>` element.
    pub fn finish(mut self) -> String {
        self.lay_out_labels();
        format!(
            "<svg id=\"{}\" class=\"chart\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\" aria-labelledby=\"{0}-t {0}-d\"><title id=\"{0}-t\">{}</title><desc id=\"{0}-d\">{}</desc>{}</svg>",
            esc(&self.id),
            px(self.w),
            px(self.h),
            px(self.w),
            px(self.h),
            esc(&self.title),
            esc(&self.desc),
            self.body
        )
    }
}

/// The path of one marker (`tri-up`, `tri-down`, `square`, else a dot) centred at pixel `(x, y)`.
fn marker_path(shape: &str, x: f64, y: f64) -> String {
    let (x, y) = (px(x), px(y));
    match shape {
        "tri-up" => format!("M{x} {y}m0 -5l5 9h-10z"),
        "tri-down" => format!("M{x} {y}m0 5l5 -9h-10z"),
        "square" => format!("M{x} {y}m-3.5 -3.5h7v7h-7z"),
        _ => format!("M{x} {y}m-3 0a3 3 0 1 0 6 0a3 3 0 1 0 -6 0"),
    }
}

/// The smallest and largest finite value, or `None` without one.
pub fn min_max(v: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    v.filter(|x| x.is_finite()).fold(None, |acc, x| match acc {
        None => Some((x, x)),
        Some((a, b)) => Some((a.min(x), b.max(x))),
    })
}

/// The integers in `[lo, hi]` (for `log10` axes), thinned to at most 8.
fn int_ticks(d: (f64, f64)) -> Vec<f64> {
    let (lo, hi) = (d.0.ceil() as i64, d.1.floor() as i64);
    if hi < lo {
        return ticks(d.0, d.1, 4);
    }
    let step = ((hi - lo) / 8 + 1).max(1);
    (lo..=hi).filter(|v| (v - lo) % step == 0).map(|v| v as f64).collect()
}

/// The Okabe–Ito palette (distinguishable with colour-vision deficiencies), cycled.
pub fn colour(i: usize) -> &'static str {
    const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#8C6D00", "#000000"];
    PALETTE[i % PALETTE.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(esc("<script>alert('x')</script>&\""), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;");
    }

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(ticks(-3.2, 7.9, 4), vec![0.0, 5.0]);
        assert_eq!(ticks(-3.2, 7.9, 8), vec![-2.0, 0.0, 2.0, 4.0, 6.0]);
        assert_eq!(nice_range(0.13, 0.87), (0.0, 1.0));
        assert_eq!(int_ticks((-3.5, 2.1)), vec![-3.0, -2.0, -1.0, 0.0, 1.0, 2.0]);
    }

    #[test]
    fn a_degenerate_range_is_widened() {
        let s = Scale::new((2.0, 2.0), (0.0, 100.0));
        assert!(s.d.0 < 2.0 && s.d.1 > 2.0);
        assert_eq!(px(s.at(2.0)), "50");
    }
}
