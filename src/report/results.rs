//! The results section: one row per configuration (runs that differ only in seed, as mean ±
//! sd), every run in a second table, what each column means, and right after them the
//! frontier of fidelity against readability, with the main run and the Pareto-optimal
//! configurations marked in all of them.

use serde_json::{Map, Value};

use super::glossary::definition;
use super::html::{Cell, Column, Html, anchor_id, escape, fmt_number};
use super::inputs::Study;
use super::svg;
use crate::pipeline::ResultRow;

/// Columns that say which run a row is, not how it did.
const IDENTITY: [&str; 6] = ["run_id", "preset", "family", "seed", "overrides", "model_sha256"];

/// The columns the tables open on, in this order: the judges of a readable dictionary (does it
/// decide as the model does, does it explain the logits, how readable are its patterns, how
/// many components an explanation takes and how much of it cancels), then accuracy and tensor
/// cosine. The rest wait behind the tables' "all columns" button.
pub const LEAD: [&str; 9] = [
    "agreement",
    "logit_r2",
    "functional_cosine",
    "coherence_weighted",
    "locality_7x7_weighted",
    "explanation_size",
    "cancellation",
    "test_accuracy",
    "tensor_cosine",
];

/// A Pareto front marked in the tables: both metrics maximised.
#[derive(Clone, Copy)]
pub struct Front {
    pub x: &'static str,
    pub y: &'static str,
    pub mark: &'static str,
}

/// The fronts marked when the results have both their columns; the first is drawn first in
/// the frontier.
pub const FRONTS: [Front; 2] =
    [Front { x: "locality_7x7", y: "tensor_cosine", mark: "◆" }, Front { x: "coherence_weighted", y: "agreement", mark: "◇" }];

/// Runs that differ only in their seed.
pub struct Configuration<'a> {
    pub name: &'a str,
    pub runs: Vec<&'a ResultRow>,
    maps: Vec<Map<String, Value>>,
}

impl Configuration<'_> {
    /// Mean and sample standard deviation of a numeric column over the runs that have it.
    fn stat(&self, column: &str) -> Option<(f64, f64, usize)> {
        let values: Vec<f64> = self.maps.iter().filter_map(|m| m.get(column).and_then(Value::as_f64)).collect();
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let var = if n > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64 } else { 0.0 };
        Some((mean, var.sqrt(), n))
    }

    fn mean(&self, column: &str) -> Option<f64> {
        self.stat(column).map(|s| s.0)
    }
}

/// Rows grouped by [`ResultRow::configuration`], in order of first appearance.
pub fn configurations(rows: &[ResultRow]) -> Vec<Configuration<'_>> {
    let mut out: Vec<Configuration> = Vec::new();
    for row in rows {
        match out.iter_mut().find(|c| c.name == row.configuration()) {
            Some(c) => {
                c.runs.push(row);
                c.maps.push(row.to_map());
            }
            None => out.push(Configuration { name: row.configuration(), runs: vec![row], maps: vec![row.to_map()] }),
        }
    }
    out
}

/// Which points are on the Pareto front (`true` in `maximise` means larger is better on
/// that axis); points without both values are not.
pub fn pareto(points: &[Option<(f64, f64)>], maximise: (bool, bool)) -> Vec<bool> {
    let sign = |v: f64, max: bool| if max { v } else { -v };
    let key = |p: (f64, f64)| (sign(p.0, maximise.0), sign(p.1, maximise.1));
    let dominated = |p: (f64, f64)| {
        let p = key(p);
        points.iter().flatten().map(|&q| key(q)).any(|q| q.0 >= p.0 && q.1 >= p.1 && (q.0 > p.0 || q.1 > p.1))
    };
    points.iter().map(|p| p.is_some_and(|p| !dominated(p))).collect()
}

/// The metric columns of the results: those of [`LEAD`] the results have, then the others in
/// the order of the rows' fields.
fn metric_columns(study: &Study) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for row in &study.rows {
        for (k, v) in row.to_map() {
            if !IDENTITY.contains(&k.as_str()) && !v.is_object() && !v.is_array() && !out.contains(&k) {
                out.push(k);
            }
        }
    }
    let lead = LEAD.iter().filter_map(|l| out.iter().find(|c| c == l)).cloned();
    lead.chain(out.iter().filter(|c| !LEAD.contains(&c.as_str())).cloned()).collect()
}

/// The header cell of metric `column`: behind the "all columns" button unless it leads.
fn metric_column(column: &str) -> Column {
    let c = Column::new(column, definition(column));
    if LEAD.contains(&column) { c } else { c.more() }
}

/// The fronts whose two columns the results have.
fn fronts(columns: &[String]) -> Vec<Front> {
    FRONTS.iter().copied().filter(|f| columns.iter().any(|c| c == f.x) && columns.iter().any(|c| c == f.y)).collect()
}

/// For each front, which of `n` rows are on it; `value(row, column)` reads a row.
fn on_fronts(fronts: &[Front], n: usize, value: impl Fn(usize, &str) -> Option<f64>) -> Vec<Vec<bool>> {
    fronts.iter().map(|f| pareto(&(0..n).map(|k| Some((value(k, f.x)?, value(k, f.y)?))).collect::<Vec<_>>(), (true, true))).collect()
}

/// The badges of row `k`: the main run's, and one per front it is on.
fn badges(k: usize, fronts: &[Front], on: &[Vec<bool>], main: bool) -> String {
    let mut out = if main { badge("main", "★", "the main run") } else { String::new() };
    for (f, _) in fronts.iter().zip(on).filter(|(_, on)| on[k]) {
        out += &badge("pareto", f.mark, &format!("Pareto-optimal on {} vs {}", f.y, f.x));
    }
    out
}

/// A badge.
fn badge(class: &str, text: &str, title: &str) -> String {
    format!("<span class=\"badge {class}\" title=\"{}\">{}</span>", escape(title), escape(text))
}

/// A link to a run's section.
fn run_link(run_id: &str, text: &str) -> String {
    format!("<a href=\"#run-{}\">{}</a>", escape(&anchor_id(run_id)), escape(text).replace("__", "<wbr>__"))
}

/// The section.
pub fn section(h: &mut Html, study: &Study, main: Option<&str>) {
    h.open("section", &[("id", "results"), ("aria-labelledby", "results-h")]).elem("h2", &[("id", "results-h")], "Results");
    if study.rows.is_empty() {
        h.missing("No finished runs: results.json and runs/*/run.json are missing (run `bilens sweep FILE --out DIR`).");
        h.close("section");
        return;
    }
    let columns = metric_columns(study);
    let fronts = fronts(&columns);
    let configs = configurations(&study.rows);
    let legend: Vec<String> = fronts.iter().map(|f| format!("{} Pareto-optimal on {} vs {}", f.mark, f.y, f.x)).collect();
    h.elem(
        "p",
        &[],
        &format!(
            "{} run(s) in {} configuration(s). Rows are configurations: the mean ± standard deviation over their seeds. ★ main run (the draw panel's first). {}. \
             The tables open on the columns that judge a readable dictionary: agreement, logit R² and functional cosine (does it decide and explain as the model does), \
             weighted coherence and locality (how readable its patterns are) and explanation size, then accuracy and tensor cosine; the button above each table shows every column. \
             Hover over a column name for its definition (all are listed below the tables); press it to sort, again to reverse, a third time for the original order. Seed links open that run.",
            study.rows.len(),
            configs.len(),
            legend.join(" · ")
        ),
    );
    configuration_table(h, study, &configs, &columns, &fronts, main);
    run_table(h, study, &columns, &fronts, main);
    h.open("details", &[("class", "sub")]).elem("summary", &[], "What the columns mean").open("dl", &[("class", "glossary")]);
    // In the tables' order: the leading columns first.
    for name in columns.iter().map(String::as_str).chain(["seed"]) {
        if let Some(text) = definition(name) {
            h.elem("dt", &[], name).elem("dd", &[], &text);
        }
    }
    h.close("dl").close("details");
    h.close("section");
    frontier(h, &configs, &columns);
}

/// One row per configuration: mean ± sd of every metric, family and recipe as run.
fn configuration_table(h: &mut Html, study: &Study, configs: &[Configuration], columns: &[String], fronts: &[Front], main: Option<&str>) {
    let on = on_fronts(fronts, configs.len(), |k, c| configs[k].mean(c));
    let mut header = vec![Column::new("configuration", None), Column::new("seeds", None)];
    header.extend(columns.iter().map(|c| metric_column(c)));
    header.extend([Column::new("family", definition("family")).more(), Column::new("recipe as run", None).more()]);
    let rows: Vec<Vec<Cell>> = configs
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let is_main = c.runs.iter().any(|r| Some(r.run_id.as_str()) == main);
            let seeds: Vec<String> = c.runs.iter().map(|r| run_link(&r.run_id, &format!("seed {}", r.seed))).collect();
            let first = format!(
                "<span class=\"cfg\">{}</span>{}<span class=\"seeds\">{}</span>",
                // Long names wrap after their underscores, not inside words.
                escape(c.name).replace('_', "_<wbr>"),
                badges(k, fronts, &on, is_main),
                seeds.join(" ")
            );
            let recipe = study.record(&c.runs[0].run_id).and_then(|r| super::recipe::summary(&r["config"])).unwrap_or_default();
            let mut cells = vec![Cell { html: first, key: c.name.to_string(), num: false }, Cell::value(&Value::from(c.runs.len()))];
            cells.extend(columns.iter().map(|col| mean_sd(c, col)));
            cells.push(Cell::text(&c.runs[0].family));
            let recipe = format!("<span class=\"recipe-text\">{}</span>", escape(&recipe.join(" · ")));
            cells.push(Cell { html: recipe, key: String::new(), num: false });
            cells
        })
        .collect();
    h.table("Configurations: mean ± sd over seeds", &header, &rows);
}

/// One row per run, behind a disclosure.
fn run_table(h: &mut Html, study: &Study, columns: &[String], fronts: &[Front], main: Option<&str>) {
    let maps: Vec<Map<String, Value>> = study.rows.iter().map(ResultRow::to_map).collect();
    let on = on_fronts(fronts, maps.len(), |k, c| maps[k].get(c).and_then(Value::as_f64));
    let mut header = vec![Column::new("run_id", definition("run_id")), Column::new("seed", definition("seed"))];
    header.extend(columns.iter().map(|c| metric_column(c)));
    let rows: Vec<Vec<Cell>> = study
        .rows
        .iter()
        .zip(&maps)
        .enumerate()
        .map(|(k, (r, map))| {
            let first = run_link(&r.run_id, &r.run_id) + &badges(k, fronts, &on, Some(r.run_id.as_str()) == main);
            let mut cells = vec![Cell { html: first, key: r.run_id.clone(), num: false }, Cell::value(&Value::from(r.seed))];
            cells.extend(columns.iter().map(|c| map.get(c).map_or_else(|| Cell::text(""), Cell::value)));
            cells
        })
        .collect();
    h.open("details", &[("class", "sub")]).elem("summary", &[], &format!("Every run ({})", study.rows.len()));
    h.table("Every run", &header, &rows).close("details");
}

/// A mean ± sd cell (text columns: the value if the seeds agree).
fn mean_sd(c: &Configuration, column: &str) -> Cell {
    let Some((mean, sd, n)) = c.stat(column) else {
        let texts: Vec<String> = c.maps.iter().filter_map(|m| m.get(column).and_then(Value::as_str).map(str::to_string)).collect();
        return match texts.first() {
            Some(t) if texts.iter().all(|x| x == t) => Cell::text(t),
            Some(_) => Cell::text("varies"),
            None => Cell { html: "–".into(), key: String::new(), num: true },
        };
    };
    // Seeds that agree to float rounding have no spread worth printing (not "± 1.4e-16").
    let sd = if sd <= 1e-9 * mean.abs() { 0.0 } else { sd };
    let integer = c.maps.iter().all(|m| m.get(column).is_some_and(|v| v.is_u64() || v.is_i64()));
    let shown = if integer && sd == 0.0 { format!("{mean}") } else { fmt_number(mean) };
    let html = if n > 1 && !(integer && sd == 0.0) { format!("{shown}<span class=\"sd\"> ± {}</span>", fmt_number(sd)) } else { shown };
    Cell::number(html, mean)
}

/// The frontier: configurations on fidelity against readability, the fronts of the tables
/// first, the other pairs of `analysis::frontier::AXES` behind a disclosure.
fn frontier(h: &mut Html, configs: &[Configuration], columns: &[String]) {
    h.open("section", &[("id", "frontier"), ("aria-labelledby", "frontier-h")]).elem("h2", &[("id", "frontier-h")], "Frontier");
    h.elem("p", &[], "Each point is a configuration (mean over its seeds), coloured by preset family; Pareto-optimal ones are ringed, joined and named. Hover over a point for its name; select it to open its first run.");
    let mut families: Vec<String> = Vec::new();
    for c in configs {
        if !families.contains(&c.runs[0].family) {
            families.push(c.runs[0].family.clone());
        }
    }
    let has = |k: &str| columns.iter().any(|c| c == k);
    let chart = |h: &mut Html, x: &str, y: &str, x_label: &str, y_label: &str| {
        let maximise = (crate::analysis::frontier::higher_is_better(x), crate::analysis::frontier::higher_is_better(y));
        let values: Vec<Option<(f64, f64)>> = configs.iter().map(|c| Some((c.mean(x)?, c.mean(y)?))).collect();
        let front = pareto(&values, maximise);
        let points = configs
            .iter()
            .zip(&values)
            .zip(&front)
            .filter_map(|((c, v), &on)| {
                let (px, py) = (*v)?;
                let seeds = if c.runs.len() > 1 { format!(" ({} seeds)", c.runs.len()) } else { String::new() };
                Some(svg::Point {
                    label: format!("{}{seeds}", c.name),
                    x: px,
                    y: py,
                    group: families.iter().position(|f| *f == c.runs[0].family).unwrap_or(0),
                    href: format!("#run-{}", anchor_id(&c.runs[0].run_id)),
                    pareto: on,
                })
            })
            .collect();
        let scatter = svg::Scatter { title: &format!("{y_label} vs {x_label}"), x_label, y_label, points, groups: families.clone() };
        let better = format!("{} and to the {}", if maximise.1 { "up" } else { "down" }, if maximise.0 { "right" } else { "left" });
        svg::scatter(h, &scatter, &format!("Better is {better}."));
    };
    let drawn: Vec<(&str, &str)> = fronts(columns).iter().map(|f| (f.x, f.y)).collect();
    h.open("div", &[("class", "charts")]);
    for &(x, y) in &drawn {
        chart(h, x, y, x, y);
    }
    h.close("div");
    let more: Vec<_> =
        crate::analysis::frontier::AXES.iter().filter(|(x, y, _, _)| has(x) && has(y) && !drawn.contains(&(*x, *y))).collect();
    if drawn.is_empty() && more.is_empty() {
        h.missing("The results have no pair of fidelity and readability columns to draw.");
    }
    if !more.is_empty() {
        h.open("details", &[("class", "sub")]).elem("summary", &[], "More frontiers").open("div", &[("class", "charts")]);
        for (x, y, xl, yl) in more {
            chart(h, x, y, xl, yl);
        }
        h.close("div").close("details");
    }
    h.close("section");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::inputs::tests::row;

    #[test]
    fn pareto_keeps_the_undominated() {
        let pts = [Some((0.1, 0.9)), Some((0.5, 0.5)), Some((0.4, 0.4)), None, Some((0.9, 0.1)), Some((0.5, 0.5))];
        assert_eq!(pareto(&pts, (true, true)), [true, true, false, false, true, true]);
        assert_eq!(pareto(&pts, (false, true)), [true, false, false, false, false, false]);
    }

    #[test]
    fn seeds_group_into_mean_and_sd() {
        let mut rows: Vec<ResultRow> = ["a__seed=0", "b__seed=0", "a__seed=1"].map(row).into();
        rows[0].metrics.tensor_cosine = 0.5;
        rows[2].metrics.tensor_cosine = 0.7;
        rows[0].metrics.locality_7x7 = Some(0.2);
        let configs = configurations(&rows);
        assert_eq!(configs.iter().map(|c| (c.name, c.runs.len())).collect::<Vec<_>>(), [("a", 2), ("b", 1)]);
        let (mean, sd, n) = configs[0].stat("tensor_cosine").unwrap();
        assert!((mean - 0.6).abs() < 1e-12 && (sd - 0.02f64.sqrt()).abs() < 1e-12 && n == 2);
        assert_eq!(configs[0].stat("locality_7x7").map(|s| s.2), Some(1), "nulls are left out");
        let cell = mean_sd(&configs[0], "tensor_cosine");
        assert!(cell.html.starts_with("0.6000") && cell.html.contains("± 0.1414"), "{}", cell.html);
        assert_eq!(mean_sd(&configs[0], "displayed_components").html, "0", "equal integers print as integers");
        assert_eq!(mean_sd(&configs[1], "no_such_column").html, "–");
    }
}
