//! The table of contents: a sticky sidebar on wide screens and a collapsible bar on phones,
//! with an entry per section, per run and per seed group, and buttons that open or close every
//! run at once. Links go to `#id`; the page's script opens the `<details>` they point into.

use super::html::Html;

/// One entry: the id it links to, its text, and its sub-entries.
pub struct Entry {
    pub id: String,
    pub label: String,
    pub children: Vec<Entry>,
}

impl Entry {
    pub fn new(id: &str, label: &str) -> Self {
        Self { id: id.to_string(), label: label.to_string(), children: Vec::new() }
    }
}

pub fn toc(h: &mut Html, entries: &[Entry]) {
    h.open("nav", &[("id", "toc"), ("aria-label", "Contents")]);
    h.elem("button", &[("type", "button"), ("id", "toc-toggle"), ("aria-expanded", "false"), ("aria-controls", "toc-body")], "Contents");
    h.open("div", &[("id", "toc-body")]).elem("p", &[("class", "toc-title")], "Contents");
    list(h, entries);
    h.open("div", &[("class", "toc-tools")]);
    h.elem("button", &[("type", "button"), ("id", "expand-all")], "Expand all");
    h.elem("button", &[("type", "button"), ("id", "collapse-all")], "Collapse all");
    h.close("div").close("div").close("nav");
}

fn list(h: &mut Html, entries: &[Entry]) {
    h.open("ul", &[]);
    for e in entries {
        h.open("li", &[]).open("a", &[("href", &format!("#{}", e.id))]);
        // Run ids wrap between their `__`-separated parts.
        h.raw(&super::html::escape(&e.label).replace("__", "<wbr>__")).close("a");
        if !e.children.is_empty() {
            list(h, &e.children);
        }
        h.close("li");
    }
    h.close("ul");
}
