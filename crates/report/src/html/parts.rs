//! The pieces every page is built from: sections with their "how to read this" line, the
//! navigation bar, sortable tables whose number cells keep the JSON's value, filter controls.

use std::fmt::Write;

use serde_json::Value;

use super::svg::esc;

/// The navigation bar.
pub fn nav(items: &[(&str, &str)]) -> String {
    let mut out = String::from("<nav>");
    for (id, label) in items {
        let _ = write!(out, "<a href=\"#{id}\">{}</a>", esc(label));
    }
    out.push_str("</nav>\n");
    out
}

/// Percent-encodes what would end a URL fragment or break an attribute.
pub fn url_component(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A number as the terminal table writes it (4 significant digits, exponent outside
/// `[1e-3, 1e6)`), or `-` when there is none.
pub fn number(v: &Value, integer: bool) -> String {
    crate::table::number(v.as_f64(), integer)
}

/// A table cell holding a number: `data-v` keeps the JSON's value in full for sorting, the text
/// is [`number`]; an undefined value shows `-` with its reason as a tooltip.
pub fn num_cell(v: &Value, integer: bool, reason: Option<&str>) -> String {
    match v.as_f64() {
        Some(x) => format!("<td class=\"n\" data-v=\"{}\">{}</td>", x_repr(v, x), number(v, integer)),
        None => format!("<td class=\"n na\" data-v=\"\" title=\"{}\">-</td>", esc(reason.unwrap_or("undefined"))),
    }
}

/// The value as the JSON writes it (integers as integers).
fn x_repr(v: &Value, x: f64) -> String {
    if v.is_u64() || v.is_i64() {
        v.to_string()
    } else {
        format!("{x:?}")
    }
}

/// A text cell (escaped), sortable by its text.
pub fn text_cell(text: &str) -> String {
    format!("<td>{}</td>", esc(text))
}

/// A sortable table header: one `<th>` per column (`n` marks numeric columns).
pub fn header(columns: &[(&str, bool)]) -> String {
    let mut out = String::from("<thead><tr>");
    for (name, numeric) in columns {
        let _ = write!(
            out,
            "<th scope=\"col\" tabindex=\"0\" aria-sort=\"none\" data-type=\"{}\">{}</th>",
            if *numeric { "n" } else { "s" },
            esc(name)
        );
    }
    out.push_str("</tr></thead>");
    out
}

/// A section with its id, heading and "how to read this" line.
pub fn section(id: &str, heading: &str, how: &str, content: &str) -> String {
    format!(
        "<section id=\"{id}\"><h2>{}</h2><p class=\"how\"><b>How to read this:</b> {}</p>{content}</section>\n",
        esc(heading),
        esc(how)
    )
}

/// The filter controls of a table (`id` of the table).
pub fn filter_controls(table: &str, flagged: bool) -> String {
    let mut out = format!(
        "<div class=\"controls\"><label>Filter (regular expression on the name) <input type=\"search\" class=\"filter\" data-table=\"{table}\" placeholder=\"e.g. layers\\.1\\.|mlp\"></label>"
    );
    if flagged {
        let _ = write!(
            out,
            "<label><input type=\"checkbox\" class=\"flagged-only\" data-table=\"{table}\"> flagged only</label>"
        );
    }
    let _ = write!(out, "<span class=\"shown\" data-table=\"{table}\"></span></div>");
    out
}
