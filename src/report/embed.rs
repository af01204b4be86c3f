//! A study's files embedded in the page as they are: a PNG figure, a CSV table, raw JSON
//! (the sections and the seed analyses both show files they do not interpret).

use std::path::Path;

use serde_json::Value;

use super::html::{Cell, Column, Html};
use super::inputs::read_csv;

/// Embeds `dir/name` as a palette PNG figure if it is there; returns whether it was.
pub fn png_file(h: &mut Html, dir: &Path, name: &str, caption: &str) -> bool {
    match std::fs::read(dir.join(name)) {
        Ok(bytes) if bytes.starts_with(b"\x89PNG") => {
            h.figure(&super::png::palette(&bytes).unwrap_or(bytes), caption);
            true
        }
        Ok(_) => {
            h.missing(&format!("{name} is not a PNG file"));
            false
        }
        Err(_) => false,
    }
}

/// A CSV file as a sortable table (or a notice when unreadable).
pub fn csv_table(h: &mut Html, path: &Path, caption: &str) {
    match read_csv(path) {
        Ok((headers, rows)) => {
            let columns: Vec<Column> = headers.iter().map(|c| Column::new(c, None)).collect();
            let cells: Vec<Vec<Cell>> = rows.iter().map(|r| r.iter().map(Cell::value).collect()).collect();
            h.table(caption, &columns, &cells);
        }
        Err(e) => {
            h.missing(&format!("{e:#}"));
        }
    }
}

/// JSON, pretty-printed and shortened, behind a disclosure.
pub fn raw_json(h: &mut Html, v: &Value, what: &str) {
    const MAX: usize = 20_000;
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let short: String = text.chars().take(MAX).collect();
    let more = if short.len() < text.len() { "\n… (shortened)" } else { "" };
    h.open("details", &[("class", "sub")]).elem("summary", &[], &format!("Raw JSON: {what}"));
    h.elem("pre", &[("tabindex", "0")], &format!("{short}{more}")).close("details");
}
