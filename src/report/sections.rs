//! The page's descriptive sections, one function each: the header with the colour
//! convention, one collapsible section per run, the eigen baseline, and the base model.

use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::Value;

use super::embed::{csv_table, png_file};
use super::glossary::definition;
use super::html::{Cell, Column, Html, anchor_id, escape, fmt_value};
use super::inputs::{Study, read_csv, read_json};
use super::svg::{self, Lines, Series};

/// Metrics shown in a run's summary line.
const SUMMARY_METRICS: [(&str, &str); 4] =
    [("agreement", "agreement"), ("logit_r2", "logit R²"), ("coherence_weighted", "coherence"), ("tensor_cosine", "tensor cosine")];

/// Scalar fields of a JSON object, in order (nested objects and arrays left out).
fn scalars(v: &Value) -> Vec<(String, Value)> {
    v.as_object()
        .map(|m| m.iter().filter(|(_, v)| !v.is_object() && !v.is_array()).map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default()
}

/// Title, what bilens is, the colour convention, and notes about missing parts.
pub fn header(h: &mut Html, title: &str, notes: &[String]) {
    h.open("header", &[]).elem("h1", &[], title);
    h.elem(
        "p",
        &[("class", "lead")],
        "bilens is a Rust toolkit for weight-based interpretability of bilinear MNIST classifiers: a bilinear layer's logits are exactly quadratic in the pixels, \
         so the model is fully described by its interaction tensor, which bilens decomposes into shared dictionaries of components (pixel patterns with class heads). \
         This page summarises one study: the results of every decomposition, a panel that runs any of them on digits you draw, every component of every run, \
         their stability across seeds and the eigendecomposition baseline.",
    );
    let stops: Vec<String> = (0..=10)
        .map(|k| {
            let [r, g, b] = crate::figures::colormap::diverging(k as f32 / 5.0 - 1.0, 1.0);
            format!("rgb({r},{g},{b})")
        })
        .collect();
    h.open("div", &[("class", "legend"), ("id", "legend")]);
    h.open("p", &[]).raw("<strong>Colour, everywhere on this page:</strong> ");
    h.elem(
        "span",
        &[("class", "ramp"), ("style", &format!("background:linear-gradient(90deg,{})", stops.join(","))), ("aria-hidden", "true")],
        "",
    );
    h.text(" red = positive, blue = negative, white = zero, in pixel patterns, head bars and logit bars alike.");
    h.close("p");
    h.elem(
        "p",
        &[],
        "A component adds d_c · (a·x)(b·x) to the logit of class c. Its plus pattern (a+b) and minus pattern (a−b) read as evidence: an image matching the plus pattern \
         (either sign of the ink) raises the logits of the classes with a red head bar and lowers those with a blue one; an image matching the minus pattern does the opposite. \
         A symmetric component (b = a, as in most concept dictionaries) adds d_c · (v·x)² and has one pattern v, read as the plus pattern; \
         an evidence-split component (a contrast, as in concept_contrast) adds d_c · [(p·x)² − (n·x)²]: evidence p against counter-evidence n.",
    );
    h.close("div").close("header");
    for note in notes {
        h.missing(note);
    }
}

/// The base model and its data, and the versions involved.
pub fn base(h: &mut Html, study: &Study) {
    h.open("section", &[("id", "base"), ("aria-labelledby", "base-h")]).elem("h2", &[("id", "base-h")], "Base model and data");
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

/// The eigendecomposition baseline: extreme eigenvalues per class, truncation curves and the
/// eigenvector figures.
pub fn eigen(h: &mut Html, study: &Study) {
    let dir = study.dir.join("eigen");
    h.open("section", &[("id", "eigen"), ("aria-labelledby", "eigen-h")]).elem("h2", &[("id", "eigen-h")], "Eigendecomposition baseline");
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
            eigenvalue_table(h, &run["metrics"]);
        }
        Ok(None) => {
            h.missing("eigen/run.json is missing.");
        }
        Err(e) => {
            h.missing(&format!("{e:#}"));
        }
    }
    let truncation = dir.join("truncation.csv");
    match truncation_charts(h, &truncation) {
        Ok(true) => {
            h.open("details", &[("class", "sub")]).elem("summary", &[], "Truncated eigen-models as a table (eigen/truncation.csv)");
            csv_table(h, &truncation, "Truncated eigen-models");
            h.close("details");
        }
        Ok(false) => {
            h.missing("eigen/truncation.csv is missing.");
        }
        Err(e) => {
            h.missing(&format!("eigen/truncation.csv: {e:#}"));
        }
    }
    for (name, caption) in [
        ("eigenspectrum.png", "Eigenvalue spectrum per digit"),
        ("eigenvectors.png", "Top eigenvectors per digit (embedding space)"),
        ("eigenvectors_pixel.png", "Top eigenvectors per digit (pixel space)"),
    ] {
        if !png_file(h, &dir, name, &format!("{caption} (eigen/{name})")) {
            h.missing(&format!("eigen/{name} is missing."));
        }
    }
    h.close("section");
}

/// The per-class extreme eigenvalues of `eigen/run.json` as one table (3 decimals).
fn eigenvalue_table(h: &mut Html, metrics: &Value) {
    let columns: Vec<&str> =
        ["embedding_largest_eigenvalue", "embedding_smallest_eigenvalue", "pixel_largest_eigenvalue", "pixel_smallest_eigenvalue"]
            .into_iter()
            .filter(|k| metrics[*k].is_array())
            .collect();
    let classes = columns.iter().filter_map(|k| metrics[*k].as_array().map(Vec::len)).max().unwrap_or(0);
    if classes == 0 {
        return;
    }
    let mut header = vec![Column::new("class", None)];
    header.extend(columns.iter().map(|k| Column::new(&k.replace("_eigenvalue", ""), None)));
    let rows: Vec<Vec<Cell>> = (0..classes)
        .map(|c| {
            let mut row = vec![Cell::value(&Value::from(c))];
            row.extend(columns.iter().map(|k| match metrics[*k][c].as_f64() {
                Some(v) => Cell::number(format!("{v:.3}"), v),
                None => Cell::text(""),
            }));
            row
        })
        .collect();
    h.table("Largest and smallest eigenvalue of each class", &header, &rows);
}

/// Tensor cosine and accuracy of the truncated eigen-models against their size, one line per
/// basis; `Ok(false)` when the file is absent.
fn truncation_charts(h: &mut Html, path: &Path) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let (headers, rows) = read_csv(path)?;
    let col = |name: &str| headers.iter().position(|h| h == name).with_context(|| format!("no '{name}' column"));
    let (basis, size) = (col("basis")?, col("components")?);
    let bases = distinct(rows.iter().filter_map(|r| r[basis].as_str().map(str::to_string)));
    h.open("div", &[("class", "charts")]);
    for (metric, label) in [("tensor_cosine", "tensor cosine"), ("test_accuracy", "test accuracy")] {
        let j = col(metric)?;
        let series = bases
            .iter()
            .map(|b| Series {
                name: format!("{b} basis"),
                points: rows.iter().filter(|r| r[basis].as_str() == Some(b)).map(|r| (num(&r[size]), num(&r[j]))).collect(),
            })
            .collect();
        let chart = Lines {
            title: &format!("Truncated eigen-models: {label}"),
            x_label: "eigenvectors kept (all classes)",
            y_label: label,
            series,
            log_y: false,
        };
        svg::lines(h, &chart, "The k largest-|λ| eigenvectors of every class; compare with the decompositions of the same size.");
    }
    h.close("div");
    Ok(true)
}

/// The distinct values of `items`, in order of first appearance.
fn distinct<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

/// The concept atlas of run `id` (its folder's `atlas.png`), drawn by the page from the run's
/// factors: a picture per run would not fit in a page of a few megabytes.
fn atlas(h: &mut Html, id: &str) {
    let caption = format!(
        "{} Patterns: red positive, blue negative, white 0, one scale per class; select one for its card.",
        crate::analysis::atlas::caption()
    );
    h.elem("p", &[("class", "muted")], &caption);
    h.elem("div", &[("class", "atlas"), ("data-run", &anchor_id(id))], "");
}

/// The recommended dictionary (the main run) first: its concept atlas, before any table, and
/// how alike its seeds come out.
pub fn recommended(h: &mut Html, study: &Study, main: Option<&str>, components: &dyn Fn(&str) -> Result<(), String>) {
    h.open("section", &[("id", "recommended"), ("aria-labelledby", "recommended-h")]);
    h.elem("h2", &[("id", "recommended-h")], "The recommended dictionary");
    match main.map(|id| (id, components(id))) {
        Some((id, Ok(()))) => {
            h.open("p", &[]).text("The main run, ");
            h.raw(&format!("<a href=\"#run-{}\">{}</a>", escape(&anchor_id(id)), escape(id)));
            h.text(", the one the draw-a-digit panel starts with: what each class looks for, as its concept atlas.").close("p");
            atlas(h, id);
            match super::seeds::stability_of(study, id) {
                Some((group, runs, mean, top)) => {
                    h.open("p", &[]).text(&format!(
                        "The dictionaries of its {runs} seeds match at {mean:.4} (the mean similarity of their {top} strongest components, matched one to one; 1 = the same): see "
                    ));
                    h.raw(&format!("<a href=\"#{}\">stability across seeds</a>", escape(&super::seeds::group_id(&group))));
                    h.text(".");
                    let start = study.record(id).and_then(|r| r["config"]["init"].as_str()).filter(|i| *i != "random");
                    if let Some(start) = start {
                        h.text(&format!(
                            " Its seeds share one deterministic start ({start}, jittered by the seed), so this measures what the jitter changes, not whether random starts find the same concepts."
                        ));
                    }
                    h.close("p");
                }
                None => {
                    h.missing("Its stability across seeds is not measured: the study ran its recipe with one seed.");
                }
            }
            cross_model(h, study);
        }
        Some((id, Err(why))) => {
            h.missing(&format!("No concept atlas of the main run {id}: {why}"));
        }
        None => {
            h.missing("No runs, so no recommended dictionary.");
        }
    }
    h.close("section");
}

/// The study's cross-model match (`cross_model/`): one run fitted to two base models trained
/// with different seeds, its concepts matched one to one beside the two eigenbases' match.
fn cross_model(h: &mut Html, study: &Study) {
    let dir = study.dir.join("cross_model");
    let compared = match read_json(&dir.join("compare.json")) {
        Ok(Some(c)) => c,
        Ok(None) => {
            h.missing(
                "No cross-model match: the study fitted no run to a second base model (cross_model/compare.json is missing; \
                 `bilens compare RUN_A RUN_B --out DIR/cross_model` writes one for any two runs).",
            );
            return;
        }
        Err(e) => {
            h.missing(&format!("{e:#}"));
            return;
        }
    };
    let num = |key: &str| compared[key].as_f64().map_or("–".to_string(), |v| format!("{v:.3}"));
    let run =
        Path::new(compared["run_a"].as_str().unwrap_or_default()).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    let second = read_json(&dir.join("base/run.json")).ok().flatten().unwrap_or_default();
    let seed = second["seed"].as_u64().map_or(String::new(), |s| format!(" (seed {s}"));
    let accuracy = second["metrics"]["test_accuracy"].as_f64().map_or(String::new(), |a| format!(", test accuracy {:.2}%", 100.0 * a));
    let about = if seed.is_empty() { String::new() } else { format!("{seed}{accuracy})") };
    h.elem(
        "p",
        &[],
        &format!(
            "Across models: {run} fitted again to a second base model{about}, trained on the same data with another seed, matches this one's concepts at {} \
             (the {} heaviest patterns per class and sign, matched one to one by |cos|, strength-weighted; 1 = the same), where the two models' \
             rank-matched eigenbases match at {}. However the second dictionary's heaviest patterns were re-split within their span, they could match at most at {}. \
             The two dictionaries' class tensors are alike at {}, their evidence and counter-evidence at {}.",
            num("similarity"),
            compared["top"].as_u64().unwrap_or_default(),
            num("eigen_rank_matched_similarity"),
            num("span_similarity"),
            num("tensor_similarity"),
            num("evidence_similarity"),
        ),
    );
    if compared["similarity_on_inputs"].is_number() {
        h.elem(
            "p",
            &[],
            &format!(
                "Compared by their responses on the training images instead (two patterns that differ only where no image has ink are one), the concepts match at {} and the eigenbases at {}; \
                 the two base models themselves predict the same class for {:.2}% of the test images, and their logits (each image's mean over the classes taken out) are alike at {}.",
                num("similarity_on_inputs"),
                num("eigen_rank_matched_similarity_on_inputs"),
                100.0 * compared["models_agreement"].as_f64().unwrap_or(f64::NAN),
                num("models_logit_cosine"),
            ),
        );
    }
    if !png_file(
        h,
        &dir,
        "compare.png",
        "The heaviest patterns per class and sign on the study's base model beside their matches on the second (cross_model/compare.png)",
    ) {
        h.missing("cross_model/compare.png is missing.");
    }
}

/// One collapsible section per run, in results order. `components` says, per run id, whether
/// the page carries its factors (and so can draw its component cards), or why not.
pub fn runs(h: &mut Html, study: &Study, main: Option<&str>, components: &dyn Fn(&str) -> Result<(), String>) {
    h.open("section", &[("id", "runs"), ("aria-labelledby", "runs-h")]).elem("h2", &[("id", "runs-h")], "Runs");
    if study.rows.is_empty() {
        h.missing("No runs to show.");
    } else {
        h.elem("p", &[], "One section per run: its recipe as run, its metrics, every component (displayed and residual) drawn from its factors, and its training and faithfulness curves. The main run starts open.");
    }
    for row in &study.rows {
        run(h, study, &row.run_id, main == Some(row.run_id.as_str()), components(&row.run_id));
    }
    h.close("section");
}

fn run(h: &mut Html, study: &Study, id: &str, is_main: bool, components: Result<(), String>) {
    let dir = study.run_dir(id);
    let anchor = format!("run-{}", anchor_id(id));
    let row = study.rows.iter().find(|r| r.run_id == id).map(|r| r.to_map()).unwrap_or_default();
    let mut attrs = vec![("class", "run"), ("id", anchor.as_str())];
    if is_main {
        attrs.push(("open", ""));
    }
    h.open("details", &attrs).open("summary", &[]);
    h.open("h3", &[("class", "run-id")]).raw(&escape(id).replace("__", "<wbr>__")).close("h3");
    if is_main {
        h.elem("span", &[("class", "badge main")], "★ main run");
    }
    for (key, label) in SUMMARY_METRICS {
        if let Some(v) = row.get(key).filter(|v| v.is_number()) {
            h.elem("span", &[("class", "stat")], &format!("{label} {}", fmt_value(v)));
        }
    }
    h.close("summary").open("div", &[("class", "run-body")]);
    if !dir.is_dir() {
        h.missing(&format!("The run folder {} is missing.", dir.display()));
        h.close("div").close("details");
        return;
    }
    let record = study.record(id);
    let field = |k: &str| row.get(k).map(fmt_value).unwrap_or_default();
    h.open("p", &[("class", "recipe")]).elem("strong", &[], &field("preset"));
    h.text(&format!(
        " ({}) · seed {} · overrides: {} · base model SHA-256 {}",
        field("family"),
        field("seed"),
        if field("overrides").is_empty() { "none".into() } else { field("overrides") },
        field("model_sha256").chars().take(12).collect::<String>() + "…"
    ));
    match record.and_then(|r| super::recipe::summary(&r["config"])) {
        Some(phrases) => h.raw("<br>").text(&format!("As run: {}.", phrases.join(" · "))),
        None => h.raw("<br>").text("The recipe is not one this bilens reads; its fields are listed below."),
    };
    h.close("p");

    h.elem("h4", &[], "Metrics");
    h.open("dl", &[("class", "metrics")]);
    let identity = ["run_id", "preset", "family", "seed", "overrides", "model_sha256"];
    let mut metrics: Vec<(&String, &Value)> =
        row.iter().filter(|(k, v)| !identity.contains(&k.as_str()) && !v.is_object() && !v.is_array()).collect();
    // The results tables' leading columns first, in their order.
    metrics.sort_by_key(|(k, _)| super::results::LEAD.iter().position(|l| l == k).unwrap_or(super::results::LEAD.len()));
    for (k, v) in metrics {
        h.open("div", &[]).elem("dt", &[("title", definition(k).as_deref().unwrap_or(""))], k).elem("dd", &[], &fmt_value(v)).close("div");
    }
    h.close("dl");
    if let Some(record) = record {
        let recipe = scalars(&record["config"]);
        if !recipe.is_empty() {
            h.open("details", &[("class", "sub")]).elem("summary", &[], "Recipe (run.json config)");
            h.open("div", &[("class", "kv-cols")]).key_values(&recipe).close("div").close("details");
        }
    }

    h.elem("h4", &[], "Components");
    match components {
        Ok(()) => {
            h.elem(
                "p",
                &[("class", "muted")],
                "Every component, strongest first: displayed ones numbered as in components.csv, then the residual. Each card shows the plus and minus patterns, \
                 the head (one bar per class), the share of its role's strength, its measures, and the test images that activate it most in each direction.",
            );
            h.elem("div", &[("class", "cards"), ("data-run", &anchor_id(id))], "");
            h.elem("h4", &[], "Concept atlas");
            atlas(h, id);
        }
        Err(why) => {
            h.missing(&format!("No component cards: {why}"));
        }
    }

    h.elem("h4", &[], "Training");
    match history_charts(h, &dir.join("history.csv")) {
        Ok(true) => {}
        Ok(false) => {
            h.missing("history.csv is missing.");
        }
        Err(e) => {
            h.missing(&format!("history chart: {e:#}"));
        }
    }
    let faithfulness = dir.join("faithfulness.csv");
    if faithfulness.exists() {
        h.elem("h4", &[], "Faithfulness");
        if let Err(e) = faithfulness_charts(h, &faithfulness) {
            h.missing(&format!("faithfulness.csv: {e:#}"));
        }
    }
    let pictured: Vec<&str> = ["gallery.png", "explanations.png"].into_iter().filter(|n| dir.join(n).exists()).collect();
    if !pictured.is_empty() {
        h.elem(
            "p",
            &[("class", "muted")],
            &format!(
                "Also in the run folder: {} (the cards' examples and the draw panel show the same, for every component and any image).",
                pictured.join(", ")
            ),
        );
    }
    h.close("div").close("details");
}

/// Loss and tensor-cosine charts from `history.csv` (one line per stage); `Ok(false)` if absent.
fn history_charts(h: &mut Html, path: &Path) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let (headers, rows) = read_csv(path)?;
    let col = |name: &str| headers.iter().position(|h| h == name).with_context(|| format!("history.csv has no '{name}' column"));
    let (stage, step) = (col("stage")?, col("step")?);
    let stages = distinct(rows.iter().filter_map(|r| r.get(stage).and_then(Value::as_i64)));
    let loss_positive = col("loss").map(|j| rows.iter().all(|r| num(&r[j]) > 0.0)).unwrap_or(false);
    h.open("div", &[("class", "charts")]);
    for (name, label, log_y) in [("loss", "loss", loss_positive), ("tensor_cosine", "tensor cosine", false)] {
        let j = col(name)?;
        let series = stages
            .iter()
            .map(|&s| Series {
                name: format!("stage {s}"),
                points: rows
                    .iter()
                    .filter(|r| r.get(stage).and_then(Value::as_i64) == Some(s))
                    .map(|r| (num(&r[step]), num(&r[j])))
                    .collect(),
            })
            .collect();
        svg::lines(
            h,
            &Lines { title: &format!("{label} during the fit"), x_label: "step", y_label: label, series, log_y },
            &format!("history.csv: {label} per step"),
        );
    }
    h.close("div");
    Ok(true)
}

/// Test accuracy and tensor cosine as the strongest components are kept or dropped, against
/// the eigen baseline of the same size.
fn faithfulness_charts(h: &mut Html, path: &Path) -> Result<()> {
    let (headers, rows) = read_csv(path)?;
    let col = |name: &str| headers.iter().position(|h| h == name).with_context(|| format!("no '{name}' column"));
    let (k, mode) = (col("k")?, col("mode")?);
    let modes = distinct(rows.iter().filter_map(|r| r[mode].as_str().map(str::to_string)));
    h.open("div", &[("class", "charts")]);
    for (metric, label) in [("test_accuracy", "test accuracy (no bias)"), ("tensor_cosine", "tensor cosine")] {
        let j = col(metric)?;
        let series = modes
            .iter()
            .map(|m| Series {
                name: m.clone(),
                points: rows.iter().filter(|r| r[mode].as_str() == Some(m)).map(|r| (num(&r[k]), num(&r[j]))).collect(),
            })
            .collect();
        svg::lines(
            h,
            &Lines {
                title: &format!("Faithfulness: {label}"),
                x_label: "strongest components kept or dropped (k)",
                y_label: label,
                series,
                log_y: false,
            },
            "keep: only the k strongest components; drop: all but them; eigen: the k largest-|λ| eigenvectors (faithfulness.csv).",
        );
    }
    h.close("div");
    Ok(())
}
