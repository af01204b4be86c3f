//! The page's stylesheet and script, kept as files beside this one and compiled into the
//! binary, so the page works offline.

/// Light, readable styling: system fonts, a centred column, quiet tables.
pub const CSS: &str = include_str!("assets/report.css");

/// Sortable tables, click-to-zoom figures and the draw-a-digit panel.
pub const JS: &str = include_str!("assets/report.js");
