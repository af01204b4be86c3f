//! End to end: a tiny study made by the `bilens` binary (sweep + eigen), reported with
//! `bilens report`, then opened in headless Chromium: the page's own JS must reproduce
//! bilens's logits (the `#selfcheck` element), log no console errors, draw with synthetic
//! pointer events, and render a non-trivial screenshot. Skipped when /usr/bin/chromium is
//! absent (install it with `apt-get install -y chromium`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CHROMIUM: &str = "/usr/bin/chromium";

fn bilens(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_bilens")).args(args).output().expect("running bilens");
    assert!(out.status.success(), "bilens {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A study folder: base model (1 epoch), two 20-step rank-8 runs, the eigen baseline.
fn tiny_study(root: &Path) -> PathBuf {
    let sweep = root.join("sweep.toml");
    std::fs::write(&sweep, "[base]\nepochs = 1\n\n[[grid]]\npresets = [\"combo_cp_top1_res8\", \"evidence_split_r32\"]\nseeds = [0]\nset = { steps = 20, rank = 8, distill_images = 512 }\n").unwrap();
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

/// Runs headless Chromium with a fresh profile; returns (stdout, stderr).
fn chromium(profile: &Path, extra: &[&str], url: &str) -> (String, String) {
    let out = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-sync",
            "--disable-component-update",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--enable-logging=stderr", "--v=0"])
        .args(extra)
        .arg(url)
        .output()
        .expect("running chromium");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The value of `attr="…"` on the element with `id="…"` in a dumped DOM.
fn attribute(dom: &str, id: &str, attr: &str) -> Option<String> {
    let start = dom.find(&format!("id=\"{id}\""))?;
    let tag_start = dom[..start].rfind('<')?;
    let tag = &dom[tag_start..tag_start + dom[tag_start..].find('>')?];
    let key = format!("{attr}=\"");
    let v = tag.find(&key)? + key.len();
    Some(tag[v..v + tag[v..].find('"')?].to_string())
}

fn assert_no_console_errors(stderr: &str) {
    for bad in ["Uncaught", "ERROR:CONSOLE", "self-check failed"] {
        assert!(!stderr.contains(bad), "console error ({bad}) in chromium output:\n{stderr}");
    }
}

#[test]
fn report_of_a_tiny_study_passes_its_browser_self_check() {
    let root = common::temp_dir("report-browser");
    let study = tiny_study(&root);
    let report = root.join("report.html");
    bilens(&["report", study.to_str().unwrap(), "--out", report.to_str().unwrap()]);
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("combo_cp_top1_res8") && page.contains("id=\"digit-data\""), "the panel is there");
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("src=\"//"), "the page is offline");

    if !Path::new(CHROMIUM).exists() {
        common::skip("browser", &format!("{CHROMIUM} not found (scripts/setup.sh installs it)"));
        return;
    }
    let url = format!("file://{}", report.display());

    let (dom, stderr) = chromium(&root.join("profile-dom"), &["--dump-dom"], &url);
    assert_eq!(attribute(&dom, "selfcheck", "data-status").as_deref(), Some("ok"), "self-check status; stderr:\n{stderr}");
    let max_diff: f64 = attribute(&dom, "selfcheck", "data-maxdiff").expect("data-maxdiff").parse().unwrap();
    assert!(max_diff <= 1e-4, "page and bilens logits differ by {max_diff}");
    assert_no_console_errors(&stderr);

    let (dom, stderr) = chromium(&root.join("profile-draw"), &["--dump-dom"], &format!("{url}#synthetic-draw"));
    let ink: f64 = attribute(&dom, "drawcheck", "data-ink").expect("synthetic drawing ran").parse().unwrap();
    assert!(ink > 5.0, "the stroke left ink ({ink})");
    let top: usize = attribute(&dom, "drawcheck", "data-top").unwrap().parse().unwrap();
    assert!(top < 10);
    assert!(attribute(&dom, "drawcheck", "data-items").unwrap().parse::<usize>().unwrap() > 0, "contributions are listed");
    assert_no_console_errors(&stderr);

    let shot = root.join("report.png");
    let (_, stderr) = chromium(
        &root.join("profile-shot"),
        &["--hide-scrollbars", &format!("--screenshot={}", shot.display()), "--window-size=1400,2000"],
        &url,
    );
    let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot at {}: {e}\n{stderr}", shot.display()));
    // A blank 1400×2000 page compresses to ~13 kB; figures and text make it far larger.
    assert!(png.starts_with(b"\x89PNG") && png.len() > 50_000, "screenshot of {} bytes", png.len());
    eprintln!("screenshot: {}", shot.display());
}
