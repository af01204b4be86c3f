//! The page's sections, one function each: header, eigen baseline, results table, one
//! collapsible section per run, analysis.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::{Map, Value};

use super::html::{Html, anchor_id, fmt_value};
use super::{Study, read_csv, read_json};
use crate::decomp::{Components, Role};
use crate::figures::{Cell, Grid, LineChart, Scale, Series};

/// Metrics shown in a run's summary line.
const SUMMARY_METRICS: [(&str, &str); 3] =
    [("tensor_cosine", "cosine"), ("test_accuracy_with_bias", "acc (bias)"), ("class_selectivity", "selectivity")];

/// Scalar fields of a JSON object, in order (nested objects and arrays left out).
fn scalars(v: &Value) -> Vec<(String, Value)> {
    v.as_object()
        .map(|m| m.iter().filter(|(_, v)| !v.is_object() && !v.is_array()).map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Embeds `dir/name` as a figure if it is there; returns whether it was.
fn png_file(h: &mut Html, dir: &Path, name: &str, caption: &str) -> bool {
    match std::fs::read(dir.join(name)) {
        Ok(bytes) if bytes.starts_with(b"\x89PNG") => {
            h.figure(&bytes, caption);
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
fn csv_table(h: &mut Html, path: &Path) {
    match read_csv(path) {
        Ok((headers, rows)) => {
            h.table(&headers, &rows, None);
        }
        Err(e) => {
            h.missing(&format!("{e:#}"));
        }
    }
}

/// What bilens is, the base model and its data, and the versions involved.
pub fn header(h: &mut Html, study: &Study, title: &str) {
    h.open("header", &[]).elem("h1", &[], title);
    h.elem(
        "p",
        &[("class", "lead")],
        "bilens is a Rust toolkit for weight-based interpretability of bilinear MNIST classifiers: a bilinear layer's logits are exactly quadratic in the pixels, \
         so the model is fully described by its interaction tensor, which bilens decomposes into shared dictionaries of components (pixel patterns with class heads). \
         This page summarises one study: the eigendecomposition baseline, every decomposition run, and a live panel that runs the main decomposition on digits you draw.",
    );
    h.open("nav", &[]);
    for (id, name) in
        [("eigen", "Eigen baseline"), ("results", "Results"), ("draw", "Draw a digit"), ("runs", "Runs"), ("analysis", "Analysis")]
    {
        h.elem("a", &[("href", &format!("#{id}"))], name);
    }
    h.close("nav").close("header");
    for note in &study.notes {
        h.missing(note);
    }

    h.open("section", &[("id", "base")]).elem("h2", &[], "Base model and data");
    let Some(base) = &study.base else {
        h.missing(&format!(
            "No base model record: {} is missing (a sweep without `model =` trains one there).",
            study.dir.join("base/run.json").display()
        ));
        h.elem("p", &[("class", "muted")], &format!("Report written by bilens {}.", env!("CARGO_PKG_VERSION")));
        h.close("section");
        return;
    };
    let mut facts = vec![("study folder".to_string(), Value::from(study.dir.display().to_string()))];
    if let Some(acc) = base["metrics"].get("test_accuracy") {
        facts.push(("base test accuracy".into(), acc.clone()));
    }
    for (k, v) in scalars(&base["data"]) {
        facts.push((format!("data {k}"), v));
    }
    facts.push(("trained by bilens".into(), base["bilens_version"].clone()));
    facts.push(("report written by bilens".into(), Value::from(env!("CARGO_PKG_VERSION"))));
    if let Some(s) = base["wall_seconds"].as_f64() {
        facts.push(("training seconds".into(), Value::from(s)));
    }
    h.open("div", &[("class", "two-col")]);
    h.open("div", &[]).elem("h3", &[], "Provenance").key_values(&facts).close("div");
    h.open("div", &[]).elem("h3", &[], "Training config").key_values(&scalars(&base["config"])).close("div");
    h.close("div").close("section");
}

/// The eigendecomposition baseline: summary numbers, truncation table and figures.
pub fn eigen(h: &mut Html, study: &Study) {
    let dir = study.dir.join("eigen");
    h.open("section", &[("id", "eigen")]).elem("h2", &[], "Eigendecomposition baseline");
    if !dir.is_dir() {
        h.missing(&format!(
            "No eigen baseline: eigen/ is missing (run `bilens eigen --model {} --out {}`).",
            study.dir.join("base/model.safetensors").display(),
            dir.display()
        ));
        h.close("section");
        return;
    }
    h.elem("p", &[], "Each class's slice of the interaction tensor is a symmetric matrix; its eigenvectors are the classical weight-based explanation, and the truncated eigen-models are the yardstick every decomposition is compared with.");
    match read_json(&dir.join("run.json")) {
        Ok(Some(run)) => {
            h.key_values(&scalars(&run["metrics"]));
        }
        Ok(None) => {
            h.missing("eigen/run.json is missing.");
        }
        Err(e) => {
            h.missing(&format!("{e:#}"));
        }
    }
    h.open("div", &[("class", "figs")]);
    for (name, caption) in [
        ("truncation_accuracy.png", "Test accuracy of the truncated eigen-model"),
        ("truncation_cosine.png", "Tensor cosine of the truncated eigen-model"),
        ("eigenspectrum.png", "Eigenvalue spectrum per digit"),
    ] {
        if !png_file(h, &dir, name, &format!("{name}: {caption}")) {
            h.missing(&format!("eigen/{name} is missing."));
        }
    }
    h.close("div");
    if dir.join("truncation.csv").exists() {
        h.open("details", &[("class", "sub")]).elem("summary", &[], "Truncated eigen-models as a table (eigen/truncation.csv)");
        csv_table(h, &dir.join("truncation.csv"));
        h.close("details");
    } else {
        h.missing("eigen/truncation.csv is missing.");
    }
    h.open("div", &[("class", "figs two")]);
    for (name, caption) in [
        ("eigenvectors.png", "Top eigenvectors per digit (embedding space); click to enlarge"),
        ("eigenvectors_pixel.png", "Top eigenvectors per digit (pixel space); click to enlarge"),
    ] {
        if !png_file(h, &dir, name, &format!("{name}: {caption}")) {
            h.missing(&format!("eigen/{name} is missing."));
        }
    }
    h.close("div").close("section");
}

/// All runs as one sortable table (columns: the union of every row's keys, in order).
pub fn results(h: &mut Html, study: &Study) {
    h.open("section", &[("id", "results")]).elem("h2", &[], "Results");
    if study.rows.is_empty() {
        h.missing("No finished runs: results.json and runs/*/run.json are missing (run `bilens sweep FILE --out DIR`).");
        h.close("section");
        return;
    }
    let mut headers: Vec<String> = Vec::new();
    for row in &study.rows {
        for k in row.keys() {
            if !headers.contains(k) {
                headers.push(k.clone());
            }
        }
    }
    let rows: Vec<Vec<Value>> =
        study.rows.iter().map(|r| headers.iter().map(|k| r.get(k).cloned().unwrap_or(Value::Null)).collect()).collect();
    h.elem(
        "p",
        &[],
        &format!("{} run(s), from results.json. Click a column header to sort; click a run id to open its section.", rows.len()),
    );
    h.table(&headers, &rows, headers.iter().position(|k| k == "run_id"));
    h.close("section");
}

/// One collapsible section per run, in results order.
pub fn runs(h: &mut Html, study: &Study, main: Option<&str>, cards: usize) {
    h.open("section", &[("id", "runs")]).elem("h2", &[], "Runs");
    if study.rows.is_empty() {
        h.missing("No runs to show.");
    }
    for row in &study.rows {
        let id = row.get("run_id").and_then(Value::as_str).unwrap_or("(no run_id)");
        run(h, study, id, row, main == Some(id), cards);
    }
    h.close("section");
}

fn run(h: &mut Html, study: &Study, id: &str, row: &Map<String, Value>, is_main: bool, cards: usize) {
    let dir = study.run_dir(id);
    // The main run starts open: it is the one the draw-a-digit panel explains.
    let anchor = format!("run-{}", anchor_id(id));
    let attrs: &[(&str, &str)] =
        if is_main { &[("class", "run"), ("id", &anchor), ("open", "")] } else { &[("class", "run"), ("id", &anchor)] };
    h.open("details", attrs);
    h.open("summary", &[]).elem("span", &[("class", "run-id")], id);
    if is_main {
        h.elem("span", &[("class", "tag")], "main run");
    }
    for (key, label) in SUMMARY_METRICS {
        if let Some(v) = row.get(key) {
            h.elem("span", &[("class", "stat")], &format!("{label} {}", fmt_value(v)));
        }
    }
    h.close("summary");
    if !dir.is_dir() {
        h.missing(&format!("The run folder {} is missing.", dir.display()));
        h.close("details");
        return;
    }
    let field = |k: &str| row.get(k).map(fmt_value).unwrap_or_default();
    h.elem(
        "p",
        &[("class", "muted")],
        &format!(
            "preset {} · seed {} · overrides: {}",
            field("preset"),
            field("seed"),
            if field("overrides").is_empty() { "none".to_string() } else { field("overrides") }
        ),
    );
    h.elem("h3", &[], "Metrics");
    let metrics: Vec<(String, Value)> = row
        .iter()
        .filter(|(k, v)| !matches!(k.as_str(), "run_id" | "preset" | "seed" | "overrides") && !v.is_object() && !v.is_array())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    h.open("div", &[("class", "kv-cols")]).key_values(&metrics).close("div");
    if let Ok(Some(record)) = read_json(&dir.join("run.json")) {
        let recipe = scalars(&record["config"]);
        if !recipe.is_empty() {
            h.open("details", &[("class", "sub")]).elem("summary", &[], "Recipe (run.json config)");
            h.open("div", &[("class", "kv-cols")]).key_values(&recipe).close("div").close("details");
        }
    }

    h.elem("h3", &[], "Components");
    let mut any = false;
    for (name, caption) in
        [("components.png", "strongest displayed components"), ("components_top_pixels.png", "top pixels only (display filter)")]
    {
        any |= png_file(h, &dir, name, &format!("{name}: {caption}"));
    }
    if !any {
        h.missing("components.png and components_top_pixels.png are missing.");
    }
    component_cards(h, &dir, cards);

    h.elem("h3", &[], "Training history");
    match history_charts(&dir.join("history.csv")) {
        Ok(Some(pngs)) => {
            h.open("div", &[("class", "figs")]);
            for (png, caption) in pngs {
                h.figure(&png, &caption);
            }
            h.close("div");
        }
        Ok(None) => {
            h.missing("history.csv is missing.");
        }
        Err(e) => {
            h.missing(&format!("history chart: {e:#}"));
        }
    }

    let extras = [("gallery.png", "gallery"), ("explanations.png", "explanations"), ("faithfulness.png", "faithfulness")];
    if extras.iter().any(|(n, _)| dir.join(n).exists()) || dir.join("faithfulness.csv").exists() {
        h.elem("h3", &[], "Analysis of this run");
        for (name, caption) in extras {
            png_file(h, &dir, name, &format!("{name}: {caption}"));
        }
        if dir.join("faithfulness.csv").exists() {
            h.elem("h4", &[], "faithfulness.csv");
            csv_table(h, &dir.join("faithfulness.csv"));
        }
    }
    h.close("details");
}

/// PNG bytes and a caption.
type Figure = (Vec<u8>, String);

/// Loss and tensor-cosine charts from `history.csv` (one series per stage); `None` if absent.
fn history_charts(path: &Path) -> Result<Option<Vec<Figure>>> {
    if !path.exists() {
        return Ok(None);
    }
    let (headers, rows) = read_csv(path)?;
    let col = |name: &str| headers.iter().position(|h| h == name).with_context(|| format!("history.csv has no '{name}' column"));
    let (stage, step) = (col("stage")?, col("step")?);
    let num = |row: &[Value], j: usize| row.get(j).and_then(Value::as_f64).unwrap_or(f64::NAN);
    let mut stages: Vec<i64> = rows.iter().filter_map(|r| r.get(stage).and_then(Value::as_i64)).collect();
    stages.dedup();
    let chart = |name: &str, label: &str, log_y: bool| -> Result<Figure> {
        let j = col(name)?;
        let series = stages
            .iter()
            .map(|&s| Series {
                name: format!("stage {s}"),
                points: rows
                    .iter()
                    .filter(|r| r.get(stage).and_then(Value::as_i64) == Some(s))
                    .map(|r| (num(r, step), num(r, j)))
                    .collect(),
            })
            .collect();
        let chart = LineChart {
            title: format!("{label} during the fit"),
            x_label: "step".into(),
            y_label: label.into(),
            series,
            log_x: false,
            log_y,
            markers: false,
        };
        Ok((crate::figures::render_lines(&chart)?, format!("history.csv: {label} per step")))
    };
    let loss_positive = col("loss").map(|j| rows.iter().all(|r| num(r, j) > 0.0)).unwrap_or(false);
    Ok(Some(vec![chart("loss", "loss", loss_positive)?, chart("tensor_cosine", "tensor cosine", false)?]))
}

/// Cards for the strongest displayed components: a small plus/minus/head grid and the
/// component's `components.csv` row.
fn component_cards(h: &mut Html, dir: &Path, cards: usize) {
    let path = dir.join("factors.safetensors");
    if !path.exists() {
        h.missing("factors.safetensors is missing, so there are no component cards.");
        return;
    }
    let shown = match crate::decomp::factors::load_factors(&path) {
        Ok(d) => Components::of(&d, |r| r == Role::Displayed),
        Err(e) => {
            h.missing(&format!("{e:#}"));
            return;
        }
    };
    let recorded = read_json(&dir.join("run.json")).ok().flatten().and_then(|r| serde_json::from_value(r["data"]["shape"].clone()).ok());
    let Some(shape) = recorded.filter(|s: &crate::image::ImageShape| s.pixels() == shown.inputs) else {
        h.missing(&format!("component cards need the image shape of the run's data; these factors have {} inputs", shown.inputs));
        return;
    };
    let table = match read_csv(&dir.join("components.csv")) {
        Ok(t) => Some(t),
        Err(_) => {
            h.missing("components.csv is missing or unreadable; cards show the patterns only.");
            None
        }
    };
    let total: f32 = shown.strengths().iter().sum();
    h.elem(
        "p",
        &[("class", "muted")],
        &format!("The {} strongest of {} displayed components (strongest first).", cards.min(shown.len()), shown.len()),
    );
    h.open("div", &[("class", "cards")]);
    for (r, comp) in shown.iter().enumerate().take(cards) {
        let (class, sign) = comp.head_class();
        let title = format!("#{} {}{}", r + 1, if sign < 0.0 { "−" } else { "+" }, class);
        let grid = Grid {
            title: title.clone(),
            column_titles: vec!["plus".into(), "minus".into(), "head".into()],
            row_labels: vec![String::new()],
            rows: vec![vec![
                Cell::Pattern(comp.plus.clone()),
                if comp.form.has_minus() { Cell::Pattern(comp.minus.clone()) } else { Cell::Empty },
                Cell::Bars(comp.head.clone()),
            ]],
            cell_titles: Vec::new(),
            image_side: (shape.height, shape.width),
            caption: String::new(),
            scale: Scale::Shared,
        };
        h.open("div", &[("class", "card")]);
        match crate::figures::render_grid(&grid) {
            Ok(png) => {
                h.open("figure", &[])
                    .img(&png, &format!("component {title}, strength share {:.1}%", 100.0 * comp.strength / total.max(1e-12)))
                    .close("figure");
            }
            Err(e) => {
                h.missing(&format!("{e:#}"));
            }
        }
        if let Some((headers, rows)) = &table
            && let Some(j) = headers.iter().position(|h| h == "rank")
            && let Some(row) = rows.iter().find(|row| row.get(j).and_then(Value::as_i64) == Some(r as i64 + 1))
        {
            h.key_values(&card_fields(headers, row));
        }
        h.close("div");
    }
    h.close("div");
}

/// The `components.csv` fields worth a glance, merged where they pair up.
fn card_fields(headers: &[String], row: &[Value]) -> Vec<(String, Value)> {
    let get = |k: &str| headers.iter().position(|h| h == k).and_then(|j| row.get(j)).cloned().unwrap_or(Value::Null);
    let text = |v: Value| fmt_value(&v);
    let pair = |a: &str, b: &str| Value::from(format!("{} / {}", text(get(a)), text(get(b))));
    let mut out = vec![
        (
            "strength share".to_string(),
            get("strength_share").as_f64().map(|s| Value::from(format!("{:.1}%", 100.0 * s))).unwrap_or(Value::Null),
        ),
        (
            "head".into(),
            Value::from(format!(
                "digit {}, {}",
                text(get("head_class")),
                if get("head_sign").as_f64().unwrap_or(1.0) < 0.0 { "negative" } else { "positive" }
            )),
        ),
        ("form, bank:index".into(), Value::from(format!("{}, {}:{}", text(get("form")), text(get("bank")), text(get("index"))))),
        ("selectivity".into(), get("selectivity")),
        ("locality + / −".into(), pair("locality_plus", "locality_minus")),
        ("gini + / −".into(), pair("gini_plus", "gini_minus")),
    ];
    if !text(get("anchor_a")).is_empty() {
        out.push(("anchor a / b".into(), pair("anchor_a", "anchor_b")));
    }
    if !text(get("mask_centre_a")).is_empty() {
        out.push(("mask a".into(), Value::from(format!("{} σ {}", text(get("mask_centre_a")), text(get("mask_sigma_a"))))));
        out.push(("mask b".into(), Value::from(format!("{} σ {}", text(get("mask_centre_b")), text(get("mask_sigma_b"))))));
    }
    out
}

/// Every PNG, JSON and CSV file of `analysis/`, by name.
pub fn analysis(h: &mut Html, study: &Study) {
    let dir = study.dir.join("analysis");
    h.open("section", &[("id", "analysis")]).elem("h2", &[], "Analysis");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        h.missing("No cross-run analysis: analysis/ is missing.");
        h.close("section");
        return;
    };
    let mut files: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    files.sort();
    let ext = |p: &Path| p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !files.iter().any(|p| ["json", "png", "csv"].contains(&ext(p).as_str())) {
        h.missing("analysis/ holds no JSON, CSV or PNG files.");
    }
    // Each summary is followed by the figures sharing its stem (consensus.json, consensus.png);
    // the other figures come last.
    let stem = |p: &Path| p.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let pngs: Vec<&PathBuf> = files.iter().filter(|p| ext(p) == "png").collect();
    let mut shown: Vec<&PathBuf> = Vec::new();
    for p in files.iter().filter(|p| ext(p) == "json" || ext(p) == "csv") {
        h.elem("h3", &[], &name(p));
        if ext(p) == "csv" {
            csv_table(h, p);
        } else {
            match read_json(p) {
                Ok(Some(v)) => json_value(h, &v, 0),
                Ok(None) => {}
                Err(e) => {
                    h.missing(&format!("{e:#}"));
                }
            }
        }
        let related: Vec<&PathBuf> = pngs.iter().copied().filter(|q| stem(q) == stem(p)).collect();
        figures(h, &dir, &related, &name);
        shown.extend(related);
    }
    let rest: Vec<&PathBuf> = pngs.iter().copied().filter(|p| !shown.contains(p)).collect();
    if !rest.is_empty() {
        h.elem("h3", &[], "Figures");
        figures(h, &dir, &rest, &name);
    }
    h.close("section");
}

/// PNG files of `dir` as a grid of figures captioned with their names.
fn figures(h: &mut Html, dir: &Path, files: &[&PathBuf], name: &dyn Fn(&Path) -> String) {
    if files.is_empty() {
        return;
    }
    h.open("div", &[("class", "figs")]);
    for p in files {
        png_file(h, dir, &name(p), &name(p));
    }
    h.close("div");
}

/// A nested cell value as short text (compact JSON, cut at 120 characters).
fn cell(v: &Value) -> Value {
    if !v.is_object() && !v.is_array() {
        return v.clone();
    }
    let text = v.to_string();
    Value::from(if text.chars().count() > 120 { format!("{}…", text.chars().take(120).collect::<String>()) } else { text })
}

/// Rows of a table if `items` are all objects (nested values shown as short JSON) or all
/// arrays of scalars.
fn as_table(items: &[Value]) -> Option<(Vec<String>, Vec<Vec<Value>>)> {
    let flat = |v: &Value| !v.is_object() && !v.is_array();
    if items.is_empty() {
        return None;
    }
    if items.iter().all(Value::is_object) {
        let mut headers: Vec<String> = Vec::new();
        for m in items.iter().filter_map(Value::as_object) {
            headers.extend(m.keys().filter(|k| !headers.contains(k)).cloned().collect::<Vec<_>>());
        }
        let rows = items
            .iter()
            .filter_map(Value::as_object)
            .map(|m| headers.iter().map(|k| m.get(k).map(cell).unwrap_or(Value::Null)).collect())
            .collect();
        return Some((headers, rows));
    }
    if items.iter().all(|v| v.as_array().is_some_and(|a| a.iter().all(flat))) {
        let width = items.iter().filter_map(Value::as_array).map(Vec::len).max().unwrap_or(0);
        let rows = items
            .iter()
            .filter_map(Value::as_array)
            .map(|a| (0..width).map(|j| a.get(j).cloned().unwrap_or(Value::Null)).collect())
            .collect();
        return Some(((0..width).map(|j| format!("[{j}]")).collect(), rows));
    }
    None
}

/// A JSON summary: scalars as key/value rows, arrays of flat records as tables, nested
/// objects one level down, anything else pretty-printed (shortened if huge).
fn json_value(h: &mut Html, v: &Value, depth: usize) {
    const MAX_PRE: usize = 20_000;
    match v {
        Value::Array(items) => match as_table(items) {
            Some((headers, rows)) => {
                h.table(&headers, &rows, None);
            }
            None if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
                h.elem("p", &[("class", "mono")], &items.iter().map(fmt_value).collect::<Vec<_>>().join(", "));
            }
            None => pre(h, v, MAX_PRE),
        },
        Value::Object(m) if depth < 3 => {
            let flat = scalars(v);
            if !flat.is_empty() {
                h.key_values(&flat);
            }
            for (k, child) in m.iter().filter(|(_, c)| c.is_object() || c.is_array()) {
                h.elem("h4", &[], k).open("div", &[("class", "nested")]);
                json_value(h, child, depth + 1);
                h.close("div");
            }
        }
        v => pre(h, v, MAX_PRE),
    }
}

fn pre(h: &mut Html, v: &Value, max: usize) {
    let text = serde_json::to_string_pretty(v).unwrap_or_default();
    let short: String = text.chars().take(max).collect();
    let more = if short.len() < text.len() { "\n… (shortened)" } else { "" };
    h.elem("pre", &[], &format!("{short}{more}"));
}
