//! The draw-a-digit panel: the main run's decomposed model, embedded as factors and evaluated
//! in the browser (`act_r` from the component's form, `logit_c = Σ_r heads[c][r] act_r + bias_c`).
//!
//! The page cannot be trusted to agree with bilens by construction, so it carries a few test
//! images with bilens's own logits for them; on load the JS recomputes those and reports the
//! largest difference in `#selfcheck` (and on the console when it exceeds 1e-4).

use std::path::Path;

use anyhow::{Context as _, Result, ensure};
use faer::Mat;
use serde_json::{Value, json};

use super::Study;
use super::html::{Html, anchor_id, base64, base64_f32, script_json};
use crate::data::{self, DataSplit};
use crate::decomp::{Components, Role};

/// Test images offered in the panel's menu (the first of each digit, then more in order)
/// and how many of them the self-check uses.
const MENU_IMAGES: usize = 10;
const CHECK_IMAGES: usize = 5;
/// The largest |JS − bilens| logit difference the self-check accepts.
pub const TOLERANCE: f64 = 1e-4;

/// The panel, or a notice saying why it cannot be shown.
pub fn section(h: &mut Html, study: &Study, main: Option<&str>, data: Option<&DataSplit>) {
    h.open("section", &[("id", "draw")]).elem("h2", &[], "Draw a digit");
    let Some(id) = main else {
        h.missing("No runs, so nothing to run on a drawing.");
        h.close("section");
        return;
    };
    match payload(study, id, data) {
        Ok((payload, notes)) => {
            h.open("p", &[]).text("The decomposed model of the main run ");
            h.elem("a", &[("href", &format!("#run-{}", anchor_id(id)))], id);
            h.text(
                " (all its components, displayed and residual, plus the base model's output bias) runs in your browser on the image below. \
                    Draw with the mouse or a finger, or load a test image. Click a class to see the components voting for and against it; by default the top class is shown.",
            );
            h.close("p");
            for note in notes {
                h.missing(&note);
            }
            h.open("script", &[("type", "application/json"), ("id", "digit-data")]).raw(&script_json(&payload)).close("script");
            h.raw(PANEL);
        }
        Err(e) => {
            h.missing(&format!("The draw-a-digit panel is unavailable for {id}: {e:#}"));
        }
    }
    h.close("section");
}

/// Static markup the panel's JS fills in.
const PANEL: &str = r#"<div class="draw">
<div class="pad-col">
<canvas id="pad" width="280" height="280" aria-label="drawing canvas"></canvas>
<div class="pad-tools"><button type="button" id="pad-clear">Clear</button>
<select id="pad-pick"><option value="">Load a test image…</option></select></div>
<p id="selfcheck" class="selfcheck" data-status="pending">self-check pending (needs JavaScript)</p>
</div>
<div><h3>Logits</h3><div id="logit-bars" class="logit-bars"></div></div>
<div><h3 id="contrib-title">Components</h3><div id="contrib" class="contrib"></div></div>
</div>"#;

/// The factors, bias, test images and reference logits, and notes for the reader.
fn payload(study: &Study, id: &str, data: Option<&DataSplit>) -> Result<(Value, Vec<String>)> {
    let run_dir = study.run_dir(id);
    let path = run_dir.join("factors.safetensors");
    ensure!(path.exists(), "{} is missing", path.display());
    let d = crate::decomp::factors::load_factors(&path)?;
    let all = Components::of(&d, |_| true);
    let (pixels, classes, rank) = (all.inputs, all.outputs, all.len());
    let mut notes = Vec::new();
    let run_record = super::read_json(&run_dir.join("run.json")).ok().flatten();
    let bias = base_bias(study, run_record.as_ref(), classes, &mut notes);
    let split = match data {
        Some(d) => d.clone(),
        None => recorded_data(study, run_record.as_ref(), &mut notes),
    };
    ensure!(split.test.n_inputs == pixels, "the test images have {} pixels, the factors {pixels}", split.test.n_inputs);
    let shape = split.test.shape.context("the drawing pad needs images; these inputs have no image shape")?;
    ensure!(shape.height == shape.width, "the drawing pad is square; these images are {shape}");

    let labels: Vec<u8> = split.test.labels.clone().unwrap_or_else(|| vec![0; split.test.len()]);
    let menu = menu_images(&labels, MENU_IMAGES);
    let images: Vec<Value> = menu
        .iter()
        .map(|&i| {
            let bytes: Vec<u8> = split.test.image(i).iter().map(|&p| (p * 255.0).round().clamp(0.0, 255.0) as u8).collect();
            json!({ "index": i, "label": split.test.label(i), "pixels": base64(&bytes) })
        })
        .collect();
    let check: Vec<usize> = (0..menu.len().min(CHECK_IMAGES)).collect();
    let x = Mat::from_fn(check.len(), pixels, |k, p| split.test.image(menu[check[k]])[p]);
    let logits = all.logits(x.as_ref());
    let check: Vec<Value> = check
        .iter()
        .enumerate()
        .map(|(k, &m)| json!({ "image": m, "logits": (0..classes).map(|c| (logits[(k, c)] + bias[c]) as f64).collect::<Vec<f64>>() }))
        .collect();

    // Displayed components are numbered as in components.csv; residual ones within the residual.
    let mut shown_rank = 0;
    let mut residual_rank = 0;
    let labels: Vec<String> = all
        .iter()
        .map(|c| match c.role {
            Role::Displayed => {
                shown_rank += 1;
                format!("#{shown_rank}")
            }
            Role::Residual => {
                residual_rank += 1;
                format!("residual {residual_rank}")
            }
        })
        .collect();
    let column_major = |get: fn(&crate::decomp::Component) -> &Vec<f32>| all.iter().flat_map(|c| get(c).clone()).collect::<Vec<f32>>();
    let payload = json!({
        "run_id": id,
        "pixels": pixels,
        "side": shape.height,
        "classes": classes,
        "rank": rank,
        "a": base64_f32(column_major(|c| &c.a)),
        "b": base64_f32(column_major(|c| &c.b)),
        // f32 values widened to f64 print exactly, so the browser sees the same numbers.
        "heads": (0..classes).map(|c| all.iter().map(|comp| comp.head[c] as f64).collect::<Vec<f64>>()).collect::<Vec<_>>(),
        "bias": bias.iter().map(|&b| b as f64).collect::<Vec<f64>>(),
        "form": all.iter().map(|c| c.form.as_str()).collect::<Vec<_>>(),
        "label": labels,
        "tolerance": TOLERANCE,
        "images": images,
        "check": check,
    });
    Ok((payload, notes))
}

/// The base model's output bias (the decomposition covers only the interaction tensor):
/// from `base/model.safetensors`, else the model the run names; zeros with a note otherwise.
fn base_bias(study: &Study, run: Option<&Value>, classes: usize, notes: &mut Vec<String>) -> Vec<f32> {
    let named = run.and_then(|r| r["inputs"]["model"].as_str()).map(std::path::PathBuf::from);
    let candidates: Vec<std::path::PathBuf> = std::iter::once(study.dir.join("base/model.safetensors")).chain(named).collect();
    for path in candidates.iter().filter(|p| p.exists()) {
        match crate::model::load_model(path) {
            Ok(m) if m.bias.len() == classes => return m.bias,
            Ok(m) => notes.push(format!("{} has {} outputs, the factors {classes}; its bias is not used.", path.display(), m.bias.len())),
            Err(e) => notes.push(format!("{e:#}")),
        }
    }
    notes
        .push("No base model found (base/model.safetensors or the run's recorded model): logits are shown without the output bias.".into());
    vec![0.0; classes]
}

/// The data the run recorded, else the embedded digits with a note.
fn recorded_data(study: &Study, run: Option<&Value>, notes: &mut Vec<String>) -> DataSplit {
    let source = run.or(study.base.as_ref()).and_then(|r| r["data"]["source"].as_str()).unwrap_or(data::EMBEDDED_SOURCE);
    if source == data::EMBEDDED_SOURCE {
        return data::embedded();
    }
    match data::load_dir(Path::new(source)).context("loading the recorded data folder") {
        Ok(split) => split,
        Err(e) => {
            notes.push(format!("The runs used {source}, which could not be read ({e:#}); test images come from the embedded digits (pass --data to choose)."));
            data::embedded()
        }
    }
}

/// Indices of `n` test images: the first of each class in turn, then the next ones in order.
fn menu_images(labels: &[u8], n: usize) -> Vec<usize> {
    let mut picked: Vec<usize> = Vec::new();
    let classes = labels.iter().copied().max().map_or(0, |m| m as usize + 1);
    for c in 0..classes {
        if let Some(i) = labels.iter().position(|&l| l as usize == c) {
            picked.push(i);
        }
    }
    picked.truncate(n);
    for i in 0..labels.len() {
        if picked.len() >= n {
            break;
        }
        if !picked.contains(&i) {
            picked.push(i);
        }
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::Form;
    use crate::io::tensors::Named;
    use crate::report::html::tests::unbase64;

    /// A study with one run of three banks (CP displayed, split displayed, symmetric
    /// residual) and a base model with a non-zero bias.
    fn synthetic_study(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("bilens-report-draw-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let run = dir.join("runs/r__seed=0");
        std::fs::create_dir_all(&run).unwrap();
        let mut rng = crate::linalg::rng(7);
        let m = |rows, cols, rng: &mut _| crate::linalg::randn(rng, rows, cols, 0.05);
        let mats: Vec<(String, Mat<f32>)> = (0..3)
            .flat_map(|i| {
                [
                    (format!("bank{i}.a"), m(784, 4, &mut rng)),
                    (format!("bank{i}.b"), m(784, 4, &mut rng)),
                    (format!("bank{i}.heads"), m(10, 4, &mut rng)),
                ]
            })
            .collect();
        let named: Vec<Named> = mats.iter().map(|(n, mat)| Named::matrix(n, mat.as_ref())).collect();
        let banks =
            serde_json::to_string(&[(Form::Cp, Role::Displayed), (Form::Split, Role::Displayed), (Form::Symmetric, Role::Residual)])
                .unwrap();
        crate::io::tensors::write(&run.join("factors.safetensors"), &named, &[("banks".to_string(), banks)].into()).unwrap();
        std::fs::write(dir.join("results.json"), r#"[{"run_id":"r__seed=0","preset":"r","seed":0,"overrides":""}]"#).unwrap();
        let cfg = crate::model::ModelConfig { n_inputs: 784, n_embed: Some(8), n_hidden: 8, n_outputs: 10 };
        let mut model = crate::model::Bilinear::init(cfg, &mut rng);
        model.bias = (0..10).map(|c| c as f32 * 0.25 - 1.0).collect();
        crate::model::save_model(&model, &dir.join("base/model.safetensors"), &Default::default()).unwrap();
        dir
    }

    /// The page's formula, in f64 from the payload alone, reproduces bilens's logits.
    #[test]
    fn payload_reproduces_bilens_logits() {
        let dir = synthetic_study("payload");
        let study = Study::read(&dir);
        let (p, notes) = payload(&study, "r__seed=0", None).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        let floats = |k: &str| {
            unbase64(p[k].as_str().unwrap()).chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64).collect::<Vec<f64>>()
        };
        let (a, b) = (floats("a"), floats("b"));
        let (rank, classes) = (p["rank"].as_u64().unwrap() as usize, p["classes"].as_u64().unwrap() as usize);
        assert_eq!((rank, classes, a.len()), (12, 10, 12 * 784));
        assert_eq!(p["bias"][9].as_f64(), Some(1.25));
        let forms: Vec<&str> = p["form"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
        assert!(forms.contains(&"cp") && forms.contains(&"split") && forms.contains(&"symmetric"));
        assert_eq!(p["check"].as_array().unwrap().len(), CHECK_IMAGES);
        for check in p["check"].as_array().unwrap() {
            let img = unbase64(p["images"][check["image"].as_u64().unwrap() as usize]["pixels"].as_str().unwrap());
            let x: Vec<f64> = img.iter().map(|&v| v as f64 / 255.0).collect();
            for c in 0..classes {
                let mut z = p["bias"][c].as_f64().unwrap();
                for r in 0..rank {
                    let dot = |f: &[f64]| (0..784).map(|i| f[r * 784 + i] * x[i]).sum::<f64>();
                    let (sa, sb) = (dot(&a), dot(&b));
                    let act = match forms[r] {
                        "cp" => sa * sb,
                        "symmetric" => sa * sa,
                        _ => sa * sa - sb * sb,
                    };
                    z += p["heads"][c][r].as_f64().unwrap() * act;
                }
                let want = check["logits"][c].as_f64().unwrap();
                assert!((z - want).abs() <= TOLERANCE, "class {c}: page formula {z}, bilens {want}");
            }
        }
    }

    #[test]
    fn the_panel_is_embedded_safely() {
        let dir = synthetic_study("panel");
        let page = crate::report::build(&crate::report::Options::new(&dir)).unwrap();
        let start = page.find("id=\"digit-data\">").expect("payload script");
        let end = start + page[start..].find("</script>").unwrap();
        let json: Value = serde_json::from_str(&page[start + "id=\"digit-data\">".len()..end]).unwrap();
        assert_eq!(json["run_id"], "r__seed=0");
        assert!(page.contains("id=\"selfcheck\"") && page.contains("id=\"pad\""));
        assert!(!page.contains("http://") && !page.contains("https://"));
    }

    #[test]
    fn menu_starts_with_one_image_per_class() {
        let labels = [3u8, 3, 1, 0, 2, 1];
        assert_eq!(menu_images(&labels, 4), vec![3, 2, 4, 0]);
        assert_eq!(menu_images(&labels, 6), vec![3, 2, 4, 0, 1, 5]);
        assert_eq!(menu_images(&labels, 10).len(), 6);
    }
}
