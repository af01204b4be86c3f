//! `bilens report`: one self-contained HTML page summarising a study folder (the layout
//! `bilens sweep` and `bilens eigen` write), readable offline and shareable as a single file.
//!
//! The page is built for reading: a sticky table of contents with an entry per run, the main
//! run's concept atlas first, the results as mean ± sd per configuration (opening on the
//! columns that judge a readable dictionary) with the frontier beside them, a draw-a-digit
//! panel that runs any decomposition (and the base model) on a drawing, a section per run whose
//! component cards — every component, residual ones included — and concept atlas are drawn in
//! the page from the run's factors, and stability and consensus as tables and thumbnails. Numbers travel as
//! compact packed arrays ([`pack`], [`payload`]), so the page grows with the study's
//! parameters, not with pictures; the few remaining figures are palette PNGs.
//!
//! Every part of the study is optional: a section whose files are absent says what is
//! missing instead of failing the whole page.

mod assets;
mod draw;
mod embed;
mod glossary;
pub mod html;
mod inputs;
mod nav;
mod pack;
mod payload;
mod png;
mod recipe;
mod results;
mod sections;
mod seeds;
mod svg;

use std::path::{Path, PathBuf};

/// The presets whose runs the report starts with, in order: its recommended dictionary first.
pub use inputs::MAIN_PRESETS;
/// The columns the results tables open on, in order (the others wait behind a button).
pub use results::LEAD as LEAD_COLUMNS;

use anyhow::Result;
use serde_json::{Value, json};

use crate::pipeline::record::DataRecord;
use html::{Html, anchor_id, script_json};
use inputs::{Study, main_run};
use nav::Entry;
use pack::Precision;
use payload::{ImagePool, RunComponents};

/// What to report on and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// The study folder.
    pub dir: PathBuf,
    /// Run the draw-a-digit panel starts with and whose factors the page stores at full
    /// precision (a run id, or a preset / id prefix); `None` picks the default described at
    /// [`inputs::main_run`].
    pub main_run: Option<String>,
    /// Folder of MNIST-format IDX files for the test images; `None` uses the data the runs
    /// recorded (falling back to the embedded digits).
    pub data: Option<PathBuf>,
    /// Component cards a run shows before its "show all" button.
    pub cards: usize,
}

impl Options {
    /// The defaults `bilens report DIR` uses.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), main_run: None, data: None, cards: 12 }
    }
}

/// The whole page. Errors when `opts.dir` is not a study or sweep folder (it has no
/// `results.json`) and when `opts.data` cannot be read.
pub fn build(opts: &Options) -> Result<String> {
    anyhow::ensure!(opts.dir.is_dir(), crate::error::Error::Invalid(format!("{} is not a folder", opts.dir.display())));
    anyhow::ensure!(
        opts.dir.join("results.json").is_file(),
        crate::error::Error::Invalid(format!(
            "{} holds no bilens study or sweep (no results.json): run `bilens study` or `bilens sweep` into it first",
            opts.dir.display()
        ))
    );
    let data = opts.data.as_deref().map(|p| crate::data::load(Some(p))).transpose()?;
    let study = Study::read(&opts.dir);
    let main = main_run(&study.rows, opts.main_run.as_deref())?;
    let mut notes = study.notes.clone();
    let main_record = main.and_then(|id| study.record(id));
    let split = data.unwrap_or_else(|| study.recorded_data(main_record, &mut notes));
    let model = study.base_model(main_record, &mut notes);
    let components = read_components(&study);
    let mut pool = ImagePool::new(&split.test);
    let records = run_records(&study, &components, main, model.as_ref(), &mut pool);

    // The panel's runs read the test images.
    let shape = split.test.shape;
    let panel_runs: Vec<&str> = records.iter().filter(|r| r.fits).map(|r| r.id).collect();
    let unavailable = match shape {
        None => Some("the inputs are not images".to_string()),
        Some(s) if !records.is_empty() && panel_runs.is_empty() => {
            Some(format!("no run reads images of {} pixels (the test images' size)", s.pixels()))
        }
        _ => None,
    };
    let page_data = json!({
        "height": shape.map(|s| s.height),
        "width": shape.map(|s| s.width),
        "tolerance": payload::TOLERANCE,
        "cards": opts.cards,
        "palette": (0..=10).map(|k| crate::figures::colormap::diverging(k as f32 / 5.0 - 1.0, 1.0)).collect::<Vec<_>>(),
        "images": pool.json(),
        "base": model.as_ref().and_then(|m| payload::base(m, &pool)),
        "outlines": shape.and_then(|_| payload::outlines(&split.train)),
        "outline_level": crate::analysis::atlas::OUTLINE_LEVEL,
        "negligible_share": crate::analysis::explain::NEGLIGIBLE_SHARE,
        "main": main.map(anchor_id),
    });

    let title = format!(
        "bilens report: {}",
        opts.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| opts.dir.display().to_string())
    );
    let mut h = Html::new();
    h.raw(PAGE_START);
    h.raw("\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    h.elem("title", &[], &title);
    h.raw("<style>").raw(assets::CSS).raw("</style></head><body>");
    h.elem("a", &[("class", "skip"), ("href", "#content")], "Skip to the content");
    h.open("div", &[("class", "page")]);
    nav::toc(&mut h, &contents(&study));
    h.open("main", &[("id", "content")]);
    let carried = |id: &str| match components.iter().find(|(i, _)| *i == id) {
        Some((_, Ok(_))) => Ok(()),
        Some((_, Err(why))) => Err(why.clone()),
        None => Err("the run is not in results.json".into()),
    };
    sections::header(&mut h, &title, &notes);
    sections::recommended(&mut h, &study, main, &carried);
    results::section(&mut h, &study, main);
    draw::section(&mut h, &panel_runs, main, unavailable);
    sections::runs(&mut h, &study, main, &carried);
    seeds::section(&mut h, &study, &|id| components.iter().find(|(i, _)| *i == id).and_then(|(_, c)| c.as_ref().ok()));
    sections::eigen(&mut h, &study);
    sections::base(&mut h, &study);
    h.close("main").close("div");
    h.open("script", &[("type", "application/json"), ("id", "report-data")]).raw(&script_json(&page_data)).close("script");
    for r in &records {
        h.open("script", &[("type", "application/json"), ("id", &format!("data-run-{}", anchor_id(r.id)))])
            .raw(&script_json(&r.record))
            .close("script");
    }
    h.raw("<script>\n'use strict';\n");
    for js in assets::JS {
        h.raw(js);
    }
    h.raw("</script></body></html>\n");
    Ok(h.finish())
}

/// Every run's components, read once (the cards, the panel and the seed analyses share
/// them), or why they cannot be.
fn read_components(study: &Study) -> Vec<(&str, Result<RunComponents, String>)> {
    study
        .rows
        .iter()
        .map(|r| {
            let dir = study.run_dir(&r.run_id);
            let read = if dir.join("factors.safetensors").exists() {
                RunComponents::read(&dir).map_err(|e| format!("{e:#}"))
            } else {
                Err(format!("{} is missing", dir.join("factors.safetensors").display()))
            };
            (r.run_id.as_str(), read)
        })
        .collect()
}

/// A run's record for the page, and whether it reads the test images.
struct RunRecord<'a> {
    id: &'a str,
    record: Value,
    fits: bool,
}

/// The records of every run with components: the main run exactly, the others compactly
/// ([`payload::compact_precision`]: a study's factors at full precision would not fit in a
/// page of a few megabytes).
fn run_records<'a>(
    study: &Study,
    components: &'a [(&'a str, Result<RunComponents, String>)],
    main: Option<&str>,
    model: Option<&crate::model::Bilinear>,
    pool: &mut ImagePool,
) -> Vec<RunRecord<'a>> {
    let mut out = Vec::new();
    for (id, c) in components {
        let Ok(c) = c else { continue };
        let bias = match model {
            Some(m) if m.bias.len() == c.all.outputs => m.bias.clone(),
            _ => vec![0.0; c.all.outputs],
        };
        let precision =
            if Some(*id) == main { Precision::Full } else { payload::compact_precision(&c.all, &bias, pool, payload::ROUNDING_BUDGET) };
        let fits = pool.test.n_inputs == c.all.inputs;
        let recorded = study.record(id).and_then(DataRecord::of_run);
        let data = payload::RunData {
            shape: recorded.as_ref().and_then(|d| d.image_shape(c.all.inputs)),
            class_names: recorded.as_ref().and_then(|d| d.class_names(c.all.outputs)),
        };
        let record = payload::run(id, &study.run_dir(id), c, precision, &bias, data, fits.then_some(&mut *pool));
        out.push(RunRecord { id, record, fits });
    }
    out
}

/// The table of contents: every section, every run, every seed group.
fn contents(study: &Study) -> Vec<Entry> {
    let mut runs = Entry::new("runs", "Runs");
    runs.children = study.rows.iter().map(|r| Entry::new(&format!("run-{}", anchor_id(&r.run_id)), &r.run_id)).collect();
    let mut seeds = Entry::new("seeds", "Stability and consensus");
    seeds.children = seeds::groups(study).iter().map(|g| Entry::new(&seeds::group_id(g), g)).collect();
    vec![
        Entry::new("recommended", "Recommended dictionary"),
        Entry::new("results", "Results"),
        Entry::new("frontier", "Frontier"),
        Entry::new("draw", "Draw a digit"),
        runs,
        seeds,
        Entry::new("eigen", "Eigen baseline"),
        Entry::new("base", "Base model and data"),
    ]
}

/// Reports on study folder `dir` into `out` with the default options (`main_run` as in
/// [`Options::main_run`]).
pub fn write(dir: &Path, out: &Path, main_run: Option<&str>) -> Result<()> {
    write_with(&Options { main_run: main_run.map(str::to_string), ..Options::new(dir) }, out)
}

/// How every page starts; an existing `out` that does not is no earlier report.
const PAGE_START: &str = "<!DOCTYPE html>";

/// Builds the page and writes it to `out` (atomically). An existing `out` is replaced only when
/// it is an HTML page or empty: `--out DIR/results.json` would otherwise put the page in place
/// of the study's results.
pub fn write_with(opts: &Options, out: &Path) -> Result<()> {
    if let Ok(mut file) = std::fs::File::open(out) {
        let mut start = [0u8; PAGE_START.len()];
        let is_page = std::io::Read::read_exact(&mut file, &mut start).is_ok() && start == PAGE_START.as_bytes();
        let is_empty = file.metadata().is_ok_and(|m| m.is_file() && m.len() == 0);
        anyhow::ensure!(
            is_page || is_empty,
            "{} exists and is not an HTML page: the report would replace it; choose another --out",
            out.display()
        );
    }
    crate::io::write_atomic(out, build(opts)?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    /// Every `<img` tag's `src` is a data URI, and nothing refers to the network.
    fn assert_offline(page: &str) {
        for bad in ["http://", "https://", "src=\"//", "href=\"//", "url(", "@import"] {
            assert!(!page.contains(bad), "page contains {bad:?}");
        }
        let imgs: Vec<&str> = page.split("<img").skip(1).collect();
        for img in &imgs {
            assert!(img.trim_start().starts_with("src=\"data:image/png;base64,"), "img without data URI: {}", &img[..img.len().min(80)]);
        }
    }

    /// The text of `<script type="application/json" id="{id}">`.
    fn json_script(page: &str, id: &str) -> Value {
        let start = page.find(&format!("id=\"{id}\">")).unwrap_or_else(|| panic!("no script {id}")) + id.len() + 6;
        serde_json::from_str(&page[start..start + page[start..].find("</script>").unwrap()]).unwrap()
    }

    fn tiny_png() -> Vec<u8> {
        let grid = crate::figures::Grid {
            title: "t".into(),
            column_titles: vec!["c".into()],
            row_labels: vec!["r".into()],
            rows: vec![vec![crate::figures::Cell::Digit(vec![0.5; 4])]],
            cell_titles: Vec::new(),
            image_side: (2, 2),
            caption: String::new(),
            scale: Default::default(),
        };
        crate::figures::render_grid(&grid).unwrap()
    }

    #[test]
    fn a_study_without_stages_gives_a_page_that_says_what_is_missing() {
        let dir = Scratch::new("report-empty");
        assert!(build(&Options::new(&*dir)).unwrap_err().to_string().contains("no results.json"), "an empty folder is no study");
        std::fs::write(dir.join("results.json"), "[]").unwrap();
        let page = build(&Options::new(&*dir)).unwrap();
        assert_offline(&page);
        for missing in ["base/run.json", "eigen/", "analysis/", "No finished runs"] {
            assert!(page.contains(missing), "no notice for {missing}");
        }
        assert!(page.contains("<h1>") && page.ends_with("</html>\n"));
    }

    #[test]
    fn partial_studies_render_what_exists() {
        let dir = Scratch::new("report-partial");
        std::fs::create_dir_all(dir.join("eigen")).unwrap();
        std::fs::create_dir_all(dir.join("analysis")).unwrap();
        std::fs::create_dir_all(dir.join("runs/x__seed=0")).unwrap();
        std::fs::write(dir.join("eigen/eigenspectrum.png"), tiny_png()).unwrap();
        std::fs::write(
            dir.join("eigen/truncation.csv"),
            "basis,k,components,tensor_cosine,test_accuracy\nembedding,1,10,0.51234567,0.3\nembedding,2,20,0.6,0.5\n",
        )
        .unwrap();
        std::fs::write(dir.join("analysis/extra.png"), tiny_png()).unwrap();
        std::fs::write(
            dir.join("analysis/stability_a<b>.json"),
            r#"{"runs":["a<b>__seed=0","a<b>__seed=1"],"top":2,"hungarian":{"pairs":[[0,1,0.25]],"mean":0.25},"index_wise_pairs":[0.1]}"#,
        )
        .unwrap();
        std::fs::write(dir.join("analysis/notes.json"), r#"{"note":"see https://example.org"}"#).unwrap();
        let rows = r#"[{"run_id":"x__seed=0","preset":"x","seed":0,"overrides":"","tensor_cosine":0.123456,"test_accuracy":0.9},
                       {"run_id":"x__seed=1","preset":"x","seed":1,"overrides":"","tensor_cosine":0.2,"test_accuracy":0.8}]"#;
        std::fs::write(dir.join("results.json"), rows).unwrap();
        let page = build(&Options::new(&*dir)).unwrap();
        assert_offline(&page);
        assert!(page.contains("0.1617<span class=\"sd\"> ± 0.0541"), "mean ± sd of the two seeds");
        assert!(page.contains("title=\"Cosine between the decomposition"), "known columns carry their definition");
        assert!(page.contains("<svg") && page.contains("Truncated eigen-models"), "truncation chart");
        assert!(page.contains("eigenspectrum.png") && page.contains("extra.png"), "figures with captions");
        assert!(page.contains("a&lt;b&gt;") && !page.contains("a<b>"), "file and run names escaped");
        assert!(page.contains("0.250") && page.contains("Raw JSON: stability"), "stability summary, raw JSON behind a disclosure");
        assert!(page.contains("id=\"run-x__seed=0\"") && page.contains("href=\"#run-x__seed=1\""), "run sections and links");
        assert!(page.contains("factors.safetensors is missing"), "missing factors are named");
        assert!(page.contains("x__seed=1 is missing"), "so is a missing run folder");
        assert!(page.contains("<h3 class=\"run-id\">"), "runs are headings");
        assert!(page.contains("aria-sort") || page.contains("<th scope=\"col\"><button"), "sort buttons");
    }

    #[test]
    fn non_square_images_get_cards_and_the_drawing_pad() {
        use crate::data::idx;
        let shape = crate::image::ImageShape::new(28, 32);
        let dir = payload::tests::synthetic_study_of("wide", shape);
        let data = dir.join("data");
        std::fs::create_dir_all(&data).unwrap();
        let pixels: Vec<u8> = (0..20 * shape.pixels()).map(|i| (i * 37 % 256) as u8).collect();
        let labels: Vec<u8> = (0..20).map(|i| (i % 10) as u8).collect();
        for (k, name) in crate::data::FILE_NAMES.iter().enumerate() {
            let bytes = if k % 2 == 0 { idx::encode_images(28, 32, &pixels) } else { idx::encode_labels(&labels) };
            std::fs::write(data.join(name), bytes).unwrap();
        }
        let page = build(&Options { data: Some(data), ..Options::new(&*dir) }).unwrap();
        assert!(!page.contains("The draw-a-digit panel is unavailable") && page.contains("<label for=\"pad-pick\">"));
        let record = json_script(&page, "data-run-r__seed=0");
        assert_eq!((record["height"].as_u64(), record["width"].as_u64()), (Some(28), Some(32)), "cards draw 28×32 patterns");
        assert!(record["examples"].is_array() && record["check"].is_array(), "examples from the given test images");
        let study = json_script(&page, "report-data");
        assert_eq!((study["height"].as_u64(), study["width"].as_u64()), (Some(28), Some(32)), "the panel prepares 28×32 inputs");
    }

    #[test]
    fn the_page_carries_every_run_compactly_and_the_panel_starts_with_the_main_run() {
        let dir = payload::tests::synthetic_study("page");
        let page = build(&Options { main_run: Some("r__seed=1".into()), ..Options::new(&*dir) }).unwrap();
        assert_offline(&page);
        let data = json_script(&page, "report-data");
        assert_eq!(data["main"], "r__seed=1");
        assert!(page.contains("id=\"data-run-r__seed=0\"") && page.contains("id=\"data-run-r__seed=1\""), "every run's record");
        assert!(data["base"]["check"].is_array(), "the base model and its self-check logits");
        let main = json_script(&page, "data-run-r__seed=1");
        let other = json_script(&page, "data-run-r__seed=0");
        assert_eq!(main["precision"], "full");
        assert!(other["precision"].as_str().is_some_and(|p| p.starts_with("fixed")), "{}", other["precision"]);
        assert_eq!(main["n"], 12);
        assert!(page.contains("value=\"r__seed=1\" selected"), "the panel starts with the main run");
        assert!(page.contains("id=\"selfcheck\"") && page.contains("id=\"pad\""));
        assert!(page.contains("class=\"cards\" data-run=\"r__seed=0\""), "every run gets its cards");
        assert_eq!(main["atlas"].as_array().map(Vec::len), Some(10), "and its concept atlas: a row per class");
        assert!(data["outlines"].is_object(), "drawn over the classes' outlines");
        assert_eq!(page.matches("class=\"atlas\" data-run=\"r__seed=1\"").count(), 2, "the main run's atlas also leads the page");
        assert!(page.contains("href=\"#run-r__seed=0\""), "the table of contents lists runs");
    }

    #[test]
    fn the_recommended_dictionary_shows_the_cross_model_match_or_why_not() {
        let dir = payload::tests::synthetic_study("cross");
        let page = build(&Options::new(&*dir)).unwrap();
        assert!(page.contains("No cross-model match"), "a study without cross_model/ says so");
        let cross = dir.join("cross_model");
        std::fs::create_dir_all(cross.join("base")).unwrap();
        std::fs::write(cross.join("compare.json"), "{ not json").unwrap();
        assert!(build(&Options::new(&*dir)).unwrap().contains("parsing"), "an unreadable match is named, the page still built");
        let compared = json!({ "run_a": dir.join("runs/r__seed=0"), "top": 4, "similarity": 0.6436, "eigen_rank_matched_similarity": 0.3885,
                               "tensor_similarity": 0.644, "evidence_similarity": 0.693, "span_similarity": 0.7714, "similarity_on_inputs": 0.7288,
                               "eigen_rank_matched_similarity_on_inputs": 0.666, "models_agreement": 0.9652, "models_logit_cosine": 0.927 });
        std::fs::write(cross.join("compare.json"), compared.to_string()).unwrap();
        std::fs::write(cross.join("base/run.json"), json!({ "seed": 1, "metrics": { "test_accuracy": 0.954 } }).to_string()).unwrap();
        std::fs::write(cross.join("compare.png"), tiny_png()).unwrap();
        let page = build(&Options::new(&*dir)).unwrap();
        assert_offline(&page);
        let said = "Across models: r__seed=0 fitted again to a second base model (seed 1, test accuracy 95.40%), trained on the same data with another seed, matches this one&#39;s concepts at 0.644";
        assert!(page.contains(said) || page.contains(&said.replace("&#39;", "'")), "the match in words");
        assert!(
            page.contains("eigenbases match at 0.389") && page.contains("cross_model/compare.png"),
            "beside the eigenbases, with its figure"
        );
        assert!(page.contains("within their span, they could match at most at 0.771"), "with the most a re-split could reach");
        assert!(page.contains("the concepts match at 0.729 and the eigenbases at 0.666"), "and by their responses on the images");
        assert!(page.contains("for 96.52% of the test images"), "with how alike the two models are");
    }
}
