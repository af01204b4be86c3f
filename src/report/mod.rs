//! `bilens report`: one self-contained HTML page summarising a study folder (the layout
//! `bilens sweep` and `bilens eigen` write), readable offline and shareable as a single file.
//! Figures are inlined PNGs, the CSS and JS are embedded, and a draw-a-digit panel runs the
//! main decomposition in the browser from its embedded factors, checked against bilens's own
//! logits when the page loads.
//!
//! Every part of the study is optional: a section whose files are absent says what is
//! missing instead of failing the whole page.

mod assets;
mod draw;
pub mod html;
mod sections;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde_json::{Map, Value};

use html::Html;

/// What to report on and how.
#[derive(Clone, Debug)]
pub struct Options {
    /// The study folder.
    pub dir: PathBuf,
    /// Run driving the draw-a-digit panel (a run id, or a preset / id prefix); `None` picks
    /// the default described at [`main_run`].
    pub main_run: Option<String>,
    /// Folder of MNIST-format IDX files for the panel's test images; `None` uses the data the
    /// runs recorded (falling back to the embedded digits).
    pub data: Option<PathBuf>,
    /// Component cards per run.
    pub cards: usize,
}

impl Options {
    /// The defaults `bilens report DIR` uses.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into(), main_run: None, data: None, cards: 12 }
    }
}

/// The study as read from disk; absent or unreadable files become `None` plus a note.
pub(crate) struct Study {
    pub dir: PathBuf,
    /// `base/run.json`.
    pub base: Option<Value>,
    /// One row per finished run (`results.json`).
    pub rows: Vec<Map<String, Value>>,
    /// Problems met while reading (shown at the top of the page).
    pub notes: Vec<String>,
}

/// Reads a JSON file; `Ok(None)` when it does not exist.
pub(crate) fn read_json(path: &Path) -> Result<Option<Value>> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?))
}

/// Reads a CSV file with a header; cells that parse as numbers become JSON numbers.
pub(crate) fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<Vec<Value>>)> {
    let mut reader = csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let headers = reader.headers()?.iter().map(str::to_string).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        rows.push(record.with_context(|| format!("parsing {}", path.display()))?.iter().map(csv_cell).collect());
    }
    Ok((headers, rows))
}

fn csv_cell(s: &str) -> Value {
    if let Ok(i) = s.parse::<i64>() {
        return Value::from(i);
    }
    match s.parse::<f64>() {
        Ok(f) if f.is_finite() => Value::from(f),
        _ => Value::String(s.to_string()),
    }
}

impl Study {
    /// Reads what exists; never fails (problems become notes on the page).
    pub fn read(dir: &Path) -> Self {
        let mut notes = Vec::new();
        let base = match read_json(&dir.join("base/run.json")) {
            Ok(v) => v,
            Err(e) => {
                notes.push(format!("{e:#}"));
                None
            }
        };
        let results = dir.join("results.json");
        let rows = match crate::pipeline::results::read_results(&results) {
            Ok(rows) => rows.iter().map(crate::pipeline::ResultRow::to_map).collect(),
            Err(_) if !results.exists() => Vec::new(),
            Err(e) => {
                notes.push(format!("{e:#}"));
                Vec::new()
            }
        };
        Self { dir: dir.to_path_buf(), base, rows, notes }
    }

    /// `DIR/runs/<run_id>`.
    pub fn run_dir(&self, run_id: &str) -> PathBuf {
        self.dir.join("runs").join(run_id)
    }
}

/// The run the draw-a-digit panel uses: `wanted` as an exact run id, else the first run whose
/// preset is `wanted`, else the first whose id starts with it; without `wanted`, the first
/// run whose id starts with `combo_cp_top1_res8`, else the first run.
pub(crate) fn main_run<'a>(rows: &'a [Map<String, Value>], wanted: Option<&str>) -> Result<Option<&'a str>> {
    let id = |r: &'a Map<String, Value>| r.get("run_id").and_then(Value::as_str);
    let ids: Vec<&str> = rows.iter().filter_map(id).collect();
    match wanted {
        Some(w) => {
            let by_preset = rows.iter().find(|r| r.get("preset").and_then(Value::as_str) == Some(w)).and_then(id);
            let found = ids.iter().copied().find(|i| *i == w).or(by_preset).or_else(|| ids.iter().copied().find(|i| i.starts_with(w)));
            found.map(Some).with_context(|| format!("--main {w}: no run with that id, preset or id prefix among {} run(s)", ids.len()))
        }
        None => Ok(ids.iter().copied().find(|i| i.starts_with("combo_cp_top1_res8")).or(ids.first().copied())),
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
    let data = opts.data.as_deref().map(crate::data::load_dir).transpose()?;
    let study = Study::read(&opts.dir);
    let main = main_run(&study.rows, opts.main_run.as_deref())?;
    let mut h = Html::new();
    let title = format!(
        "bilens report: {}",
        opts.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| opts.dir.display().to_string())
    );
    h.raw("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    h.elem("title", &[], &title);
    h.raw("<style>").raw(assets::CSS).raw("</style></head><body><main>");
    sections::header(&mut h, &study, &title);
    sections::eigen(&mut h, &study);
    sections::results(&mut h, &study);
    draw::section(&mut h, &study, main, data.as_ref());
    sections::runs(&mut h, &study, main, opts.cards);
    sections::analysis(&mut h, &study);
    h.raw("</main><script>").raw(assets::JS).raw("</script></body></html>\n");
    Ok(h.finish())
}

/// Reports on study folder `dir` into `out` with the default options (`main_run` as in
/// [`Options::main_run`]).
pub fn write(dir: &Path, out: &Path, main_run: Option<&str>) -> Result<()> {
    write_with(&Options { main_run: main_run.map(str::to_string), ..Options::new(dir) }, out)
}

/// Builds the page and writes it to `out` (atomically).
pub fn write_with(opts: &Options, out: &Path) -> Result<()> {
    crate::io::write_atomic(out, build(opts)?.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bilens-report-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

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
        let dir = temp_dir("empty");
        assert!(build(&Options::new(&dir)).unwrap_err().to_string().contains("no results.json"), "an empty folder is no study");
        std::fs::write(dir.join("results.json"), "[]").unwrap();
        let page = build(&Options::new(&dir)).unwrap();
        assert_offline(&page);
        for missing in ["base/run.json", "eigen/", "analysis/"] {
            assert!(page.contains(missing), "no notice for {missing}");
        }
        assert!(page.contains("<h1>") && page.ends_with("</html>\n"));
    }

    #[test]
    fn partial_studies_render_what_exists() {
        let dir = temp_dir("partial");
        std::fs::create_dir_all(dir.join("eigen")).unwrap();
        std::fs::create_dir_all(dir.join("analysis")).unwrap();
        std::fs::write(dir.join("eigen/eigenspectrum.png"), tiny_png()).unwrap();
        std::fs::write(dir.join("eigen/truncation.csv"), "basis,k,components,tensor_cosine\nembedding,1,10,0.51234567\n").unwrap();
        std::fs::write(dir.join("analysis/frontier_acc.png"), tiny_png()).unwrap();
        std::fs::write(dir.join("analysis/stability.json"), r#"[{"run":"a<b>","mean":0.25},{"run":"c","mean":0.5}]"#).unwrap();
        std::fs::write(
            dir.join("analysis/consensus.json"),
            r#"{"runs":3,"note":"see https://example.org","clusters":[{"size":2,"score":0.9}]}"#,
        )
        .unwrap();
        let rows = r#"[{"run_id":"x__seed=0","preset":"x","seed":0,"overrides":"","tensor_cosine":0.123456,"test_accuracy":0.9}]"#;
        std::fs::write(dir.join("results.json"), rows).unwrap();
        let page = build(&Options::new(&dir)).unwrap();
        assert_offline(&page);
        assert!(page.contains("0.5123"), "truncation table");
        assert!(page.contains("frontier_acc.png") && page.contains("eigenspectrum.png"), "figures with captions");
        assert!(page.contains("a&lt;b&gt;") && !page.contains("a<b>"), "JSON text escaped");
        assert!(page.contains("0.1235") && page.contains("id=\"run-x__seed=0\""), "results table and run section");
        assert!(page.contains("factors.safetensors"), "missing factors are named");
        assert!(page.contains("class=\"sortable\""));
    }

    #[test]
    fn main_run_prefers_the_requested_then_the_combo_preset() {
        let rows: Vec<Map<String, Value>> =
            ["provided_sparse__seed=0", "combo_cp_top1_res8__steps=60__seed=0", "combo_cp_top1_res8__seed=1"]
                .iter()
                .map(|id| serde_json::from_value(serde_json::json!({ "run_id": id, "preset": id.split("__").next().unwrap() })).unwrap())
                .collect();
        assert_eq!(main_run(&rows, None).unwrap(), Some("combo_cp_top1_res8__steps=60__seed=0"));
        assert_eq!(main_run(&rows, Some("combo_cp_top1_res8__seed=1")).unwrap(), Some("combo_cp_top1_res8__seed=1"));
        assert_eq!(main_run(&rows, Some("provided_sparse")).unwrap(), Some("provided_sparse__seed=0"));
        assert!(main_run(&rows, Some("nope")).is_err());
        assert_eq!(main_run(&rows[..1], None).unwrap(), Some("provided_sparse__seed=0"));
        assert_eq!(main_run(&[], None).unwrap(), None);
    }
}
