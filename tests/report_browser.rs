//! End to end: a tiny study made by the `bilens` binary (a sweep with a seed group, the eigen
//! baseline), reported with `bilens report`, then used in headless Chromium by
//! `tests/browser/report.test.mjs` (Playwright): navigation, the results table's leading columns
//! and sorting, concept atlases, the draw-a-digit panel, axe-core, the phone layout and its
//! smallest text, the page's size, console errors. This test writes what bilens's library says the
//! logits of known test images are, and afterwards recomputes the logits of the digit the
//! browser test drew, so both directions are checked against bilens itself.
//!
//! Skipped when Chromium or the test's npm packages are missing (`scripts/setup.sh` installs
//! both: `apt-get install -y chromium`, `npm ci --prefix tests/browser`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use bilens::pipeline::analyses::run_components;
use faer::MatRef;
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";
const TOLERANCE: f64 = 1e-4;

fn bilens(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_bilens")).args(args).output().expect("running bilens");
    assert!(out.status.success(), "bilens {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A study folder: base model (1 epoch), three 20-step rank-8 runs (two seeds of one
/// configuration, so stability and consensus exist), the eigen baseline.
fn tiny_study(root: &Path) -> PathBuf {
    let sweep = root.join("sweep.toml");
    std::fs::write(
        &sweep,
        "[base]\nepochs = 1\n\n\
         [[grid]]\npresets = [\"combo_cp_top1_res8\"]\nseeds = [0, 1]\nset = { steps = 20, rank = 8, distill_images = 512 }\n\n\
         [[grid]]\npresets = [\"evidence_split_r32\"]\nseeds = [0]\nset = { steps = 20, rank = 8 }\n",
    )
    .unwrap();
    let study = root.join("study");
    bilens(&["sweep", sweep.to_str().unwrap(), "--out", study.to_str().unwrap()]);
    bilens(&[
        "eigen",
        "--model",
        study.join("base/model.safetensors").to_str().unwrap(),
        "--out",
        study.join("eigen").to_str().unwrap(),
        "--ks",
        "1,4,16",
    ]);
    study
}

/// Logits of run `dir`'s decomposition (every component, plus the base model's bias) for `x`.
fn decomposition_logits(dir: &Path, bias: &[f32], x: &[f32]) -> Vec<f64> {
    let (shown, residual) = run_components(dir).unwrap();
    let x = MatRef::from_row_major_slice(x, 1, x.len());
    let (a, b) = (shown.logits(x), residual.logits(x));
    (0..bias.len()).map(|c| a[(0, c)] as f64 + b[(0, c)] as f64 + bias[c] as f64).collect()
}

fn max_diff(a: &[f64], b: &Value) -> f64 {
    a.iter().zip(b.as_array().unwrap()).map(|(x, y)| (x - y.as_f64().unwrap()).abs()).fold(0.0, f64::max)
}

/// The browser tests' folder, once Chromium and the npm packages are there (else a visible skip).
fn browser() -> Option<PathBuf> {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    if !Path::new(CHROMIUM).exists() {
        common::skip("browser", &format!("{CHROMIUM} not found (scripts/setup.sh installs it)"));
        return None;
    }
    if !browser_dir.join("node_modules/playwright-core").is_dir() || !browser_dir.join("node_modules/axe-core").is_dir() {
        common::skip("browser", "tests/browser/node_modules is missing (scripts/setup.sh runs npm ci --prefix tests/browser)");
        return None;
    }
    Some(browser_dir)
}

/// Runs `node SCRIPT ARGS…` from the browser tests' folder; returns what it printed.
fn node(browser_dir: &Path, script: &str, args: &[&Path]) -> String {
    let out = Command::new("node")
        .arg(browser_dir.join(script))
        .args(args)
        .env("CHROMIUM", CHROMIUM)
        .output()
        .expect("running node (scripts/setup.sh needs Node.js for the browser test)");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the browser test {script} failed:\n{log}");
    log
}

#[test]
fn a_reader_can_use_the_report_of_a_tiny_study() {
    let root = common::temp_dir("report-browser");
    let study = tiny_study(&root);
    let report = root.join("report.html");
    bilens(&["report", study.to_str().unwrap(), "--out", report.to_str().unwrap()]);
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(
        page.contains("combo_cp_top1_res8") && page.contains("id=\"report-data\"") && page.contains("id=\"seeds-combo_cp_top1_res8"),
        "panel data and seed group"
    );
    let lead = &page[page.find("id=\"recommended\"").unwrap()..page.find("id=\"results\"").unwrap()];
    assert!(
        lead.contains("The dictionaries of its 2 seeds match at 0.") && lead.contains("href=\"#seeds-combo_cp_top1_res8"),
        "the recommended dictionary leads with its seeds' stability: {lead}"
    );
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("src=\"//"), "the page is offline");

    let Some(browser_dir) = browser() else { return };

    // What bilens says, for the browser test to compare with.
    let results: Value = serde_json::from_str(&std::fs::read_to_string(study.join("results.json")).unwrap()).unwrap();
    let rows = results.as_array().unwrap();
    let ids: Vec<String> = rows.iter().map(|r| r["run_id"].as_str().unwrap().to_string()).collect();
    // The columns the results table opens on: the judges (and accuracy, tensor cosine) the results have.
    let lead: Vec<&str> = bilens::report::LEAD_COLUMNS.into_iter().filter(|c| rows.iter().any(|r| r.get(*c).is_some())).collect();
    let main = ids.iter().find(|id| id.starts_with("combo_cp_top1_res8") && id.ends_with("seed=0")).unwrap();
    let other = ids.iter().find(|id| id.starts_with("evidence_split_r32")).unwrap();
    let model = bilens::model::load_model(&study.join("base/model.safetensors")).unwrap();
    let test = bilens::embedded_digits().test;
    let (shown, residual) = run_components(&study.join("runs").join(main)).unwrap();
    let (other_shown, other_residual) = run_components(&study.join("runs").join(other)).unwrap();
    // Each component in words as it read the image (`bilens explain`'s words), by its label.
    // And the pattern a vote draws first, the one with the larger term (`display_terms`).
    type Parts = bilens::decomp::Components;
    let labelled =
        |(shown, residual): (&Parts, &Parts), on: &dyn Fn(&bilens::decomp::Component) -> Value| -> serde_json::Map<String, Value> {
            let shown = shown.items.iter().enumerate().map(|(k, c)| (format!("#{}", k + 1), on(c)));
            shown.chain(residual.items.iter().enumerate().map(|(k, c)| (format!("residual #{}", k + 1), on(c)))).collect()
        };
    // In the logit of `class`, the class the page explains (the base model's).
    let words = |run, x: &[f32], class| {
        labelled(run, &|c| Value::from(bilens::analysis::describe::describe_on(c, x, class, Some(bilens::image::ImageShape::MNIST), None)))
    };
    let first = |x: &[f32]| {
        labelled((&shown, &residual), &|c| {
            let [plus, minus] = c.display_terms(x);
            Value::from(if plus >= minus { "plus" } else { "minus" })
        })
    };
    let images: Vec<Value> = (0..10u8)
        .filter_map(|c| test.labels.as_ref().unwrap().iter().position(|&l| l == c))
        .map(|i| {
            let logits = decomposition_logits(&study.join("runs").join(main), &model.bias, test.image(i));
            // The components `bilens explain` names, for and then against, and whether it gives
            // the residual components' share; the same for the other run.
            let read = |shown, residual| bilens::analysis::explain::read(shown, residual, &model, test.image(i), None, None, 4).unwrap();
            let named = |r: &bilens::analysis::explain::Reading| -> Vec<String> {
                r.evidence_for.iter().chain(&r.evidence_against).map(|p| format!("#{}", p.rank)).collect()
            };
            let (reading, other_reading) = (read(&shown, &residual), read(&other_shown, &other_residual));
            let residual_named = reading.residual_share().abs() >= bilens::analysis::explain::NEGLIGIBLE_SHARE;
            let x = test.image(i);
            json!({
                "index": i, "logits": logits, "words": words((&shown, &residual), x, reading.predicted), "first": first(x),
                "why": named(&reading), "residual_named": residual_named, "other_why": named(&other_reading),
                "other_words": words((&other_shown, &other_residual), x, other_reading.predicted),
            })
        })
        .collect();
    let expected = root.join("expected.json");
    std::fs::write(&expected, json!({ "main": main, "other": other, "runs": ids, "lead": lead, "images": images, "negligible_share": bilens::analysis::explain::NEGLIGIBLE_SHARE }).to_string()).unwrap();

    let drawn = root.join("drawn.json");
    eprintln!("{}", node(&browser_dir, "report.test.mjs", &[&report, &expected, &drawn]));

    // The digit the browser drew, recomputed by bilens: the page's logits are bilens's.
    let d: Value = serde_json::from_str(&std::fs::read_to_string(&drawn).unwrap()).unwrap();
    let x: Vec<f32> = d["input"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    assert_eq!(d["run"], main.as_str());
    let want = decomposition_logits(&study.join("runs").join(main), &model.bias, &x);
    assert!(max_diff(&want, &d["logits"]) <= TOLERANCE, "drawn digit: page {:?}, bilens {want:?}", d["logits"]);
    let base = model.logits(MatRef::from_row_major_slice(&x, 1, x.len()));
    let base: Vec<f64> = (0..base.ncols()).map(|c| base[(0, c)] as f64).collect();
    assert!(max_diff(&base, &d["base_logits"]) <= TOLERANCE, "drawn digit, base model: page {:?}, bilens {base:?}", d["base_logits"]);
}

/// Images 20 high and 30 wide (the embedded digits' rows 4–23, one blank column either side):
/// a stroke drawn on the square pad becomes a 20×30 input, centred, with the box of the
/// shorter side, and the page's logits for it are bilens's.
#[test]
fn the_draw_panel_prepares_images_that_are_not_square() {
    let root = common::temp_dir("report-browser-shape");
    let (h, w) = (20, 30);
    let data = root.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let digits = bilens::embedded_digits();
    for (set, n, images, labels) in [
        (&digits.train, 600, "train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        (&digits.test, 60, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
    ] {
        let pixels: Vec<u8> = (0..n * h * w)
            .map(|k| {
                let (i, r, c) = (k / (h * w), k / w % h, k % w);
                if (1..29).contains(&c) { (set.image(i)[(r + 4) * 28 + c - 1] * 255.0).round() as u8 } else { 0 }
            })
            .collect();
        std::fs::write(data.join(images), bilens::data::idx::encode_images(h, w, &pixels)).unwrap();
        std::fs::write(data.join(labels), bilens::data::idx::encode_labels(&set.labels.as_ref().unwrap()[..n])).unwrap();
    }
    let sweep = root.join("sweep.toml");
    std::fs::write(
        &sweep,
        "[base]\nepochs = 1\n\n[[grid]]\npresets = [\"evidence_split_r32\"]\nseeds = [0]\nset = { steps = 10, rank = 8 }\n",
    )
    .unwrap();
    let study = root.join("study");
    bilens(&["sweep", sweep.to_str().unwrap(), "--data", data.to_str().unwrap(), "--out", study.to_str().unwrap()]);
    let report = root.join("report.html");
    bilens(&["report", study.to_str().unwrap(), "--out", report.to_str().unwrap()]);
    let Some(browser_dir) = browser() else { return };
    let drawn = root.join("drawn.json");
    node(&browser_dir, "shape.test.mjs", &[&report, &drawn]);

    let d: Value = serde_json::from_str(&std::fs::read_to_string(&drawn).unwrap()).unwrap();
    assert_eq!(d["problems"], json!([]), "no console or page errors");
    let x: Vec<f32> = d["input"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    assert_eq!(x.len(), h * w);
    // A horizontal bar: about 20/28 of the shorter side long, centred on the grid.
    let inked: Vec<(usize, usize)> = (0..x.len()).filter(|&k| x[k] > 0.5).map(|k| (k / w, k % w)).collect();
    let (rows, cols) = (inked.iter().map(|p| p.0), inked.iter().map(|p| p.1));
    let (r0, r1, c0, c1) = (rows.clone().min().unwrap(), rows.max().unwrap(), cols.clone().min().unwrap(), cols.max().unwrap());
    assert!((12..=15).contains(&(c1 - c0 + 1)) && r1 - r0 <= 2, "a bar 14 long and thin: rows {r0}–{r1}, columns {c0}–{c1}");
    assert!((r0 + r1).abs_diff(h - 1) <= 2 && (c0 + c1).abs_diff(w - 1) <= 2, "centred: rows {r0}–{r1}, columns {c0}–{c1}");
    let run = study.join("runs").join(d["run"].as_str().unwrap());
    let model = bilens::model::load_model(&study.join("base/model.safetensors")).unwrap();
    let want = decomposition_logits(&run, &model.bias, &x);
    assert!(max_diff(&want, &d["logits"]) <= TOLERANCE, "drawn bar: page {:?}, bilens {want:?}", d["logits"]);
}
