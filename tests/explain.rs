//! `bilens explain`: a run's dictionary explains one input in words, from a test image, a PNG
//! drawing or a `.npy` array, as text or JSON, with class names; bad input is a clear error.

mod common;

use common::{fails, ok, s};

#[test]
fn explains_test_images_drawings_and_arrays_in_words() {
    let root = common::temp_dir("explain");
    let model = common::tiny_model(&root);
    let run = root.join("run");
    ok(&["decompose", "--model", s(&model), "--preset", "symmetric_r32", "--set", "steps=20", "--out", s(&run)]);

    let said = ok(&["explain", s(&run), "--image", "3"]);
    assert!(said.starts_with("predicted ") && said.contains("(logit ") && said.contains("evidence "), "{said}");
    let json: serde_json::Value = serde_json::from_str(&ok(&["explain", s(&run), "--image", "3", "--json"])).unwrap();
    let parts = json["evidence_for"].as_array().unwrap();
    assert!(
        !parts.is_empty() && parts.iter().all(|p| p["share"].as_f64().unwrap() > 0.0 && !p["description"].as_str().unwrap().is_empty())
    );
    // The components' shares, the residual's and nothing else make up the logit before the bias.
    let (logit, bias) = (json["dictionary_logit"].as_f64().unwrap(), json["bias"].as_f64().unwrap());
    for p in parts {
        assert!((p["contribution"].as_f64().unwrap() / (logit - bias) - p["share"].as_f64().unwrap()).abs() < 1e-4);
    }
    // Asked for every component, it names none that moves the logit by under half a percent
    // (printed, it would read 0%); the tiny model's 32 components include such ones.
    let all: serde_json::Value = serde_json::from_str(&ok(&["explain", s(&run), "--image", "3", "--top", "32", "--json"])).unwrap();
    let shares: Vec<f64> = ["evidence_for", "evidence_against"]
        .iter()
        .flat_map(|side| all[side].as_array().unwrap().iter().map(|p| p["share"].as_f64().unwrap()))
        .collect();
    assert!(shares.len() > parts.len() && shares.iter().all(|v| v.abs() >= 0.005), "{shares:?}");

    // A drawing: a dark vertical bar on white paper, 100 × 60 pixels, read as a prepared digit.
    let png = root.join("one.png");
    let (w, h) = (60u32, 100u32);
    let pixels: Vec<u8> = (0..w * h).map(|i| if (27..33).contains(&(i % w)) && (10..90).contains(&(i / w)) { 0 } else { 255 }).collect();
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(std::fs::File::create(&png).unwrap()), w, h);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.write_header().unwrap().write_image_data(&pixels).unwrap();
    assert!(ok(&["explain", s(&run), "--png", s(&png)]).starts_with("predicted "));

    // An array, and class names from a file.
    let npy = root.join("x.npy");
    let digits = bilens::embedded_digits();
    common::write_npy(&npy, &[784], digits.test.image(3));
    let names = root.join("names.txt");
    std::fs::write(&names, (0..10).map(|c| format!("digit-{c}\n")).collect::<String>()).unwrap();
    let named = ok(&["explain", s(&run), "--npy", s(&npy), "--class-names", s(&names)]);
    assert!(named.starts_with("predicted digit-") && named.contains("evidence for digit-"), "{named}");
    assert_eq!(named.replace("digit-", ""), said, "the same input gives the same reading");
    // The image grid reads the same; a grid of another orientation is refused, not read
    // in the wrong order.
    common::write_npy(&npy, &[1, 28, 28], digits.test.image(3));
    assert_eq!(ok(&["explain", s(&run), "--npy", s(&npy)]), said);
    common::write_npy(&npy, &[56, 14], digits.test.image(3));
    fails(&["explain", s(&run), "--npy", s(&npy)], &["has shape [56, 14]", "784 values or images of 28 × 28"]);

    // Finite but so large that the quadratic form overflows: an error, not a reading of NaNs.
    let huge = root.join("huge.npy");
    common::write_npy(&huge, &[784], &[1e30; 784]);
    fails(&["explain", s(&run), "--npy", s(&huge)], &["not finite", "1e30", "overflows"]);
    fails(&["explain", s(&run), "--image", "2000"], &["--image 2000 is out of range", "2000 images"]);
    fails(&["explain", s(&run), "--image", "0", "--top", "0"], &["top = 0 is out of range"]);
    fails(&["explain", s(&root), "--image", "0"], &["not a finished run folder"]);
    std::fs::write(&names, "a\nb\n").unwrap();
    fails(&["explain", s(&run), "--image", "0", "--class-names", s(&names)], &["2 class names for a model of 10 outputs"]);
    let blank = root.join("blank.png");
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(std::fs::File::create(&blank).unwrap()), 8, 8);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.write_header().unwrap().write_image_data(&[255; 64]).unwrap();
    fails(&["explain", s(&run), "--png", s(&blank)], &["no ink"]);
    // A picture larger than any drawing is refused before its pixels are decoded.
    let (w, h) = (5000u32, 4000u32);
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(std::fs::File::create(&blank).unwrap()), w, h);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.write_header().unwrap().write_image_data(&vec![255; (w * h) as usize]).unwrap();
    fails(&["explain", s(&run), "--png", s(&blank)], &["5000×4000 pixels", "4096×4096"]);
}

#[test]
fn a_run_made_with_relative_paths_is_read_from_any_folder() {
    let root = common::temp_dir("explain-relative");
    common::tiny_model(&root);
    // decompose in `root` with paths relative to it; explain and compare from the crate root.
    let made = std::process::Command::new(env!("CARGO_BIN_EXE_bilens"))
        .current_dir(&*root)
        .args([
            "--threads",
            "2",
            "decompose",
            "--model",
            "trained/model.safetensors",
            "--preset",
            "symmetric_r32",
            "--set",
            "steps=5",
            "--out",
            "run",
        ])
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let run = root.join("run");
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap();
    assert!(std::path::Path::new(record["inputs"]["model"].as_str().unwrap()).is_absolute(), "{record}");
    assert!(ok(&["explain", s(&run), "--image", "0"]).starts_with("predicted "));
    ok(&["compare", s(&run), s(&run)]);
}
