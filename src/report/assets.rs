//! The page's stylesheet and script, kept as files beside this one and compiled into the
//! binary, so the page works offline. The script's files share one strict-mode scope, in
//! this order: each uses only what the files before it define.

/// Light, readable styling: system fonts, a sticky table of contents, quiet tables, a phone
/// layout.
pub const CSS: &str = include_str!("assets/report.css");

/// `core.js`: packed arrays, colours, patterns and run records; `nav.js`: the table of
/// contents, opening runs from links and addresses, figure zoom; `tables.js`: sorting;
/// `cards.js`: component cards and thumbnails; `atlas.js`: concept atlases; `draw.js`: the
/// draw-a-digit panel.
pub const JS: [&str; 6] = [
    include_str!("assets/core.js"),
    include_str!("assets/nav.js"),
    include_str!("assets/tables.js"),
    include_str!("assets/cards.js"),
    include_str!("assets/atlas.js"),
    include_str!("assets/draw.js"),
];
