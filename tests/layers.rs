//! Any bilinear layer, from the command line: a layer without an embedding (a language model's
//! MLP layout) read from its weights alone, more outputs than the data has classes, inputs that
//! are not images, and chosen output directions.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bilens::model::{Layout, save_as};
use bilens::{Bilinear, ModelConfig};
use common::{bilens, fails, ok, s};
use serde_json::Value;

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A layer `y = P((L x) ⊙ (R x))` with 24 inputs, 40 hidden units and 30 outputs, saved in the
/// MLP layout (`w.weight`, `p.weight`); output `o` is scaled by `1 + o/10` so the norms differ.
fn mlp_layer(dir: &Path) -> (Bilinear, PathBuf) {
    let mut layer = Bilinear::init(ModelConfig { n_inputs: 24, n_embed: None, n_hidden: 40, n_outputs: 30 }, &mut bilens::rng(5));
    for o in 0..30 {
        for h in 0..40 {
            layer.w_u[(o, h)] *= 1.0 + o as f32 / 10.0;
        }
    }
    let path = dir.join("mlp.safetensors");
    save_as(&layer, Layout::Mlp, &path, &BTreeMap::new()).unwrap();
    (layer, path)
}

/// A float32 `.npy` array of `shape`, with values in [−1, 1] that differ by `seed`.
fn npy(path: &Path, shape: &[u64], seed: u64) -> PathBuf {
    let values: Vec<f32> = (0..shape.iter().product::<u64>()).map(|i| ((i as f32 + 0.37 * seed as f32) * 12.9898).sin()).collect();
    common::write_npy(path, shape, &values);
    path.to_path_buf()
}

#[test]
fn a_layer_without_embedding_is_read_from_its_weights_alone() {
    let dir = common::temp_dir("layers-weights");
    let (layer, model) = mlp_layer(&dir);
    // eval: no data fits 24 inputs, so no accuracy, and a note says why.
    let out = ok(&["eval", "--model", s(&model)]);
    assert!(out.contains("working from the weights alone"), "{out}");
    let report: Value = serde_json::from_str(out.lines().find(|l| l.starts_with('{')).unwrap()).unwrap();
    assert_eq!(report["test_accuracy"], Value::Null);
    assert_eq!(report["space"], "input");
    assert_eq!(report["output_norms"].as_array().unwrap().len(), 30);
    // decompose: the run says what it read and measured nothing that needs data.
    let run_dir = dir.join("run");
    ok(&["decompose", "--model", s(&model), "--preset", "provided_sparse", "--set", "rank=8", "--set", "steps=30", "--out", s(&run_dir)]);
    let run = json(&run_dir.join("run.json"));
    assert_eq!(run["data"], Value::Null);
    assert_eq!(run["inputs"]["layer"]["config"]["n_embed"], Value::Null);
    assert_eq!(run["metrics"]["test_accuracy"], Value::Null);
    let cosine = run["metrics"]["tensor_cosine"].as_f64().unwrap();
    assert!(cosine > 0.05 && cosine < 1.0, "tensor cosine {cosine}");
    assert!(run["metrics"]["eigen_cosine_rank_matched"].is_f64(), "30 outputs carry the eigen baseline");
    assert!(run_dir.join("components.png").is_file());
    // eigen: the outputs with the largest norms are decomposed, no truncations without all.
    let eigen_dir = dir.join("eigen");
    ok(&["eigen", "--model", s(&model), "--max-outputs", "5", "--out", s(&eigen_dir)]);
    let metrics = &json(&eigen_dir.join("run.json"))["metrics"];
    let chosen: Vec<u64> = metrics["outputs_decomposed"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let norms = bilens::Interaction::new(&layer).output_norms_sq().to_vec();
    let mut by_norm: Vec<u64> = (0..30).collect();
    by_norm.sort_by(|&a, &b| norms[b as usize].total_cmp(&norms[a as usize]));
    let mut want = by_norm[..5].to_vec();
    want.sort_unstable();
    assert_eq!(chosen, want);
    assert!(metrics["truncation"].as_array().unwrap().is_empty());
}

#[test]
fn inputs_that_are_not_images_come_from_array_files() {
    let dir = common::temp_dir("layers-arrays");
    let (_, model) = mlp_layer(&dir);
    let data = npy(&dir.join("acts.npy"), &[60, 24], 1);
    let run_dir = dir.join("run");
    let base = ["decompose", "--model", s(&model), "--preset", "provided_sparse", "--set", "rank=8", "--set", "steps=20"];
    ok(&[&base[..], &["--data", s(&data), "--out", s(&run_dir)]].concat());
    let run = json(&run_dir.join("run.json"));
    assert_eq!(run["data"]["source"], s(&data));
    assert_eq!((run["data"]["train"].as_u64(), run["data"]["test"].as_u64()), (Some(48), Some(12)));
    // Data that does not fit the layer is an error, never a silent switch to no data.
    let wrong = npy(&dir.join("wrong.npy"), &[60, 23], 1);
    fails(&["eval", "--model", s(&model), "--data", s(&wrong)], &["takes 24 inputs", "23 per example"]);
    let out = bilens(&["eval", "--model", s(&model), "--data", s(&data), "--no-data"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

#[test]
fn output_directions_choose_what_is_decomposed() {
    let dir = common::temp_dir("layers-directions");
    let (_, model) = mlp_layer(&dir);
    let directions = npy(&dir.join("dirs.npy"), &[3, 30], 2);
    let run_dir = dir.join("run");
    let args = ["decompose", "--model", s(&model), "--directions", s(&directions), "--preset", "provided_sparse", "--set", "rank=6"];
    ok(&[&args[..], &["--set", "steps=20", "--out", s(&run_dir)]].concat());
    let run = json(&run_dir.join("run.json"));
    assert_eq!(run["inputs"]["layer"]["config"]["n_outputs"], 3);
    assert_eq!(run["inputs"]["directions"]["shape"], serde_json::json!([3, 30]));
    // Other directions are another input: the run is not reused.
    let other = npy(&dir.join("other.npy"), &[3, 30], 3);
    let args2 = ["decompose", "--model", s(&model), "--directions", s(&other), "--preset", "provided_sparse", "--set", "rank=6"];
    ok(&[&args2[..], &["--set", "steps=20", "--out", s(&dir.join("run2"))]].concat());
    assert_ne!(json(&dir.join("run2/run.json"))["fingerprint"], run["fingerprint"]);
    let wrong = npy(&dir.join("wrong.npy"), &[3, 29], 2);
    fails(&["eval", "--model", s(&model), "--directions", s(&wrong)], &["directions must be [k, 30]", "[3, 29]"]);
}

#[test]
fn wide_layers_keep_the_eigen_baseline() {
    // 200-wide forms through 400 hidden units: the top-k solver's layer.
    let dir = common::temp_dir("layers-wide");
    let model = Bilinear::init(ModelConfig { n_inputs: 200, n_embed: None, n_hidden: 400, n_outputs: 80 }, &mut bilens::rng(3));
    let path = dir.join("wide.safetensors");
    bilens::save_model(&model, &path).unwrap();
    let run_dir = dir.join("run");
    ok(&["decompose", "--model", s(&path), "--set", "rank=4", "--set", "steps=5", "--out", s(&run_dir)]);
    let metrics = &json(&run_dir.join("run.json"))["metrics"];
    let n_patterns = metrics["n_patterns"].as_u64().unwrap() as usize;
    let inter = bilens::Interaction::new(&model);
    let dense = inter.cosine(&bilens::Eigen::pixel(&inter).top_overall(n_patterns));
    let got = metrics["eigen_cosine_rank_matched"].as_f64().unwrap();
    assert!((got - dense).abs() < 1e-6 * dense, "{got} vs the dense solver's {dense}");
    assert!(metrics["eigen_rank_matched"]["sign_purity_weighted"].is_f64());
}

#[test]
fn labels_of_fewer_classes_than_outputs_are_left_out_with_a_note() {
    let dir = common::temp_dir("layers-classes");
    let model = Bilinear::init(ModelConfig { n_inputs: 784, n_embed: Some(12), n_hidden: 16, n_outputs: 30 }, &mut bilens::rng(2));
    let path = dir.join("wide.safetensors");
    bilens::save_model(&model, &path).unwrap();
    let run_dir = dir.join("run");
    let out =
        ok(&["decompose", "--model", s(&path), "--preset", "provided_sparse", "--set", "rank=4", "--set", "steps=5", "--out", s(&run_dir)]);
    assert!(out.contains("labels are not used: the model has 30 outputs, the data 10 classes"), "{out}");
    let run = json(&run_dir.join("run.json"));
    assert_eq!(run["metrics"]["test_accuracy"], Value::Null);
    assert!(run["data"]["sha256"].is_string(), "the digits were still read: {}", run["data"]);
}
