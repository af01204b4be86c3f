//! A minimal HTML builder: every piece of text and every attribute value goes through
//! [`escape`], so file names, run ids and JSON strings can never break the page; figures are
//! inlined as base64 data URIs so the page needs nothing but itself.

use std::fmt::Write as _;

use serde_json::Value;

/// Escapes text for HTML content and attribute values. `://` is written `:&#47;/` so that
/// text quoting a web address (e.g. a data-set URL in a run record) renders the same but can
/// never be mistaken for a link to fetch: the page stays verifiably offline.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out.replace("://", ":&#47;/")
}

/// JSON for a `<script type="application/json">` block: `<` is escaped so the data cannot
/// close the script element, and `/` in `://` so it holds no web address.
pub fn script_json(v: &Value) -> String {
    v.to_string().replace('<', "\\u003c").replace("://", ":\\/\\/")
}

/// Standard base64 (RFC 4648, with padding).
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ABC[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// A real number for tables: 4 decimals (scientific when that would show only zeros).
pub fn fmt_number(v: f64) -> String {
    if !v.is_finite() {
        format!("{v}")
    } else if v != 0.0 && v.abs() < 5e-5 {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// A JSON value as table text: strings unquoted, integers as they are, other numbers via
/// [`fmt_number`], the rest compact.
pub fn fmt_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_f64() => fmt_number(n.as_f64().unwrap_or(f64::NAN)),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// A column of [`Html::table`]: its name, if known what it means, and whether it waits
/// behind the table's "all columns" button (a wide table opens on the columns that matter).
pub struct Column {
    pub name: String,
    pub definition: Option<String>,
    pub more: bool,
}

impl Column {
    pub fn new(name: &str, definition: Option<String>) -> Self {
        Self { name: name.to_string(), definition, more: false }
    }

    /// A column shown only once the reader asks for every column.
    pub fn more(self) -> Self {
        Self { more: true, ..self }
    }
}

/// A cell of [`Html::table`]: its markup and the key it sorts by (numbers sort numerically).
pub struct Cell {
    pub html: String,
    pub key: String,
    pub num: bool,
}

impl Cell {
    /// Escaped text; run ids and overrides wrap between their `__`-separated parts.
    pub fn text(s: &str) -> Self {
        Self { html: escape(s).replace("__", "<wbr>__"), key: s.to_string(), num: false }
    }

    /// A JSON value shown with [`fmt_value`], sorted by its number when it is one.
    pub fn value(v: &Value) -> Self {
        match v.as_f64() {
            Some(f) => Self::number(escape(&fmt_value(v)), f),
            None => Self::text(&fmt_value(v)),
        }
    }

    /// Markup for a number, sorted by `v` (to 7 significant digits: enough to order by, short).
    pub fn number(html: String, v: f64) -> Self {
        let key =
            if v.is_finite() { format!("{v:.6e}").parse::<f64>().map_or_else(|_| v.to_string(), |k| k.to_string()) } else { String::new() };
        Self { html, key, num: true }
    }
}

/// A page under construction: methods chain, and only [`Html::raw`] bypasses escaping.
#[derive(Default)]
pub struct Html {
    buf: String,
}

impl Html {
    pub fn new() -> Self {
        Self::default()
    }

    /// The page's text.
    pub fn finish(self) -> String {
        self.buf
    }

    /// Markup written by this module's callers (never data).
    pub fn raw(&mut self, s: &str) -> &mut Self {
        self.buf.push_str(s);
        self
    }

    /// Text content, escaped.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.buf.push_str(&escape(s));
        self
    }

    /// `<tag attr="value" …>`; attribute values are escaped.
    pub fn open(&mut self, tag: &str, attrs: &[(&str, &str)]) -> &mut Self {
        let _ = write!(self.buf, "<{tag}");
        for (k, v) in attrs {
            let _ = write!(self.buf, " {k}=\"{}\"", escape(v));
        }
        self.buf.push('>');
        self
    }

    /// `</tag>`.
    pub fn close(&mut self, tag: &str) -> &mut Self {
        let _ = write!(self.buf, "</{tag}>");
        self
    }

    /// `<tag …>text</tag>`.
    pub fn elem(&mut self, tag: &str, attrs: &[(&str, &str)], text: &str) -> &mut Self {
        self.open(tag, attrs).text(text).close(tag)
    }

    /// A PNG as a `<figure>` with an inline data URI and a caption: shown at its own size or
    /// narrower (its text stays legible), with a button to see it at full size in a scrolling
    /// box where the column is narrower than the figure.
    pub fn figure(&mut self, png: &[u8], caption: &str) -> &mut Self {
        let src = format!("data:image/png;base64,{}", base64(png));
        self.open("figure", &[("class", "png")])
            .open("div", &[("class", "scroll"), ("tabindex", "0"), ("role", "region"), ("aria-label", caption)]);
        self.open("img", &[("src", &src), ("alt", caption), ("loading", "lazy")]).close("div");
        self.open("figcaption", &[]).text(caption).text(" ");
        self.elem("button", &[("type", "button"), ("class", "zoom"), ("aria-pressed", "false")], "Full size")
            .close("figcaption")
            .close("figure")
    }

    /// A notice that part of the study is absent.
    pub fn missing(&mut self, what: &str) -> &mut Self {
        self.elem("p", &[("class", "missing")], what)
    }

    /// A table whose columns sort when their header button is pressed (ascending, descending,
    /// then back to the original order). The first column is the rows' header and stays in
    /// view when the table scrolls sideways; a column's `definition` shows on hover. Columns
    /// marked [`Column::more`] are hidden until the button above the table shows them.
    pub fn table(&mut self, caption: &str, columns: &[Column], rows: &[Vec<Cell>]) -> &mut Self {
        let hidden = columns.iter().filter(|c| c.more).count();
        if hidden > 0 {
            let text = format!("Show all {} columns ({hidden} more)", columns.len());
            self.elem("button", &[("type", "button"), ("class", "all-columns"), ("aria-pressed", "false")], &text);
        }
        let class = if hidden > 0 { "sortable lead" } else { "sortable" };
        self.open("div", &[("class", "table-wrap")]).open("table", &[("class", class)]);
        self.elem("caption", &[], caption).raw("<thead><tr>");
        for c in columns {
            let button: &[(&str, &str)] = match c.definition.as_deref() {
                Some(text) => &[("type", "button"), ("title", text)],
                None => &[("type", "button")],
            };
            let th: &[(&str, &str)] = if c.more { &[("scope", "col"), ("class", "more")] } else { &[("scope", "col")] };
            self.open("th", th).open("button", button);
            // Long snake_case names wrap after their underscores.
            self.raw(&escape(&c.name).replace('_', "_<wbr>"))
                .raw("<span class=\"arrow\" aria-hidden=\"true\"></span>")
                .close("button")
                .close("th");
        }
        self.raw("</tr></thead><tbody>");
        for (i, row) in rows.iter().enumerate() {
            self.open("tr", &[("data-i", &i.to_string())]);
            for (j, cell) in row.iter().enumerate() {
                let tag = if j == 0 { "th" } else { "td" };
                let mut attrs = vec![("data-v", cell.key.as_str())];
                if j == 0 {
                    attrs.push(("scope", "row"));
                }
                let more = columns.get(j).is_some_and(|c| c.more);
                match (cell.num, more) {
                    (true, true) => attrs.push(("class", "num more")),
                    (true, false) => attrs.push(("class", "num")),
                    (false, true) => attrs.push(("class", "more")),
                    (false, false) => {}
                }
                self.open(tag, &attrs).raw(&cell.html).close(tag);
            }
            self.raw("</tr>");
        }
        self.raw("</tbody></table></div>")
    }

    /// Two-column key/value table of a JSON object's scalar fields.
    pub fn key_values(&mut self, fields: &[(String, Value)]) -> &mut Self {
        self.raw("<table class=\"kv\"><tbody>");
        for (k, v) in fields {
            self.raw("<tr>")
                .elem("th", &[], k)
                .elem("td", &[("class", if v.is_number() { "num" } else { "" })], &fmt_value(v))
                .raw("</tr>");
        }
        self.raw("</tbody></table>")
    }
}

/// A run id as an HTML id fragment (ids are file-system safe already; this keeps them so).
pub fn anchor_id(run_id: &str) -> String {
    run_id.chars().map(|c| if c.is_ascii_alphanumeric() || "_-.=".contains(c) { c } else { '-' }).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Decoder used only to check the encoder (and the payload in `draw`'s tests).
    pub(crate) fn unbase64(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 byte {c}"),
        };
        let mut out = Vec::new();
        for chunk in s.as_bytes().chunks(4) {
            let data: Vec<u8> = chunk.iter().copied().filter(|&c| c != b'=').collect();
            let n = data.iter().enumerate().fold(0u32, |n, (i, &c)| n | (val(c) as u32) << (18 - 6 * i));
            out.extend((0..data.len() - 1).map(|i| (n >> (16 - 8 * i)) as u8));
        }
        out
    }

    #[test]
    fn base64_round_trips() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7919 % 256) as u8).collect();
            assert_eq!(unbase64(&base64(&bytes)), bytes, "length {len}");
        }
    }

    #[test]
    fn text_is_escaped_and_has_no_addresses() {
        assert_eq!(escape("<b a=\"x\">&'"), "&lt;b a=&quot;x&quot;&gt;&amp;&#39;");
        assert!(!escape("see https://example.org").contains("https://"));
        let j = script_json(&serde_json::json!({ "s": "</script><b>https://x" }));
        assert!(!j.contains("</") && !j.contains("https://"));
        assert_eq!(serde_json::from_str::<Value>(&j).unwrap()["s"], "</script><b>https://x");
    }

    #[test]
    fn tables_sort_by_keys_and_define_only_known_columns() {
        let mut h = Html::new();
        let columns = [Column::new("run_id", Some("The run".into())), Column::new("new_metric", None)];
        h.table("t", &columns, &[vec![Cell::text("a__seed=0"), Cell::value(&serde_json::json!(0.123456789))]]);
        let page = h.finish();
        assert!(page.contains("<button type=\"button\" title=\"The run\">run_<wbr>id"), "{page}");
        assert!(page.contains("<button type=\"button\">new_<wbr>metric"), "an unknown column renders, without a definition");
        assert!(page.contains("<th data-v=\"a__seed=0\" scope=\"row\">a<wbr>__seed=0</th>"), "the first column heads its row");
        assert!(page.contains("data-v=\"0.1234568\" class=\"num\">0.1235<"), "numbers sort by a short key");
    }

    #[test]
    fn numbers_have_four_decimals() {
        assert_eq!(fmt_number(0.123456), "0.1235");
        assert_eq!(fmt_number(3.0), "3.0000");
        assert_eq!(fmt_number(1e-7), "1.000e-7");
        assert_eq!(fmt_value(&serde_json::json!(0.5)), "0.5000");
        assert_eq!(fmt_value(&serde_json::json!(7)), "7");
    }
}
