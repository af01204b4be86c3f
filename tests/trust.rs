//! Trustworthy runs, from the command line: results are never reused from other inputs, any
//! image size works end to end, bad input is a clear error naming what is wrong (never a
//! panic, an abort, or exit 0 with wrong numbers), and one folder has one writer.

mod common;

use common::{fails, ok, s};
use std::process::Command;

use std::path::{Path, PathBuf};

use bilens::data::idx;
use bilens::{Bilinear, ModelConfig};

/// An IDX data folder of `side × side` images: the embedded digits, centred on a larger (or
/// cropped to a smaller) canvas; `train` and `test` images.
fn idx_folder(dir: &Path, side: usize, train: usize, test: usize) -> PathBuf {
    let digits = bilens::embedded_digits();
    let write = |set: &bilens::Dataset, n: usize, images: &str, labels: &str| {
        let mut pixels = vec![0u8; n * side * side];
        for i in 0..n {
            for r in 0..side {
                for c in 0..side {
                    let (sr, sc) = ((r + 28).checked_sub(side / 2 + 14), (c + 28).checked_sub(side / 2 + 14));
                    if let (Some(sr), Some(sc)) = (sr.filter(|&v| v < 28), sc.filter(|&v| v < 28)) {
                        pixels[i * side * side + r * side + c] = (set.image(i)[sr * 28 + sc] * 255.0).round() as u8;
                    }
                }
            }
        }
        std::fs::write(dir.join(images), idx::encode_images(side, side, &pixels)).unwrap();
        std::fs::write(dir.join(labels), idx::encode_labels(&set.labels.as_ref().unwrap()[..n])).unwrap();
    };
    std::fs::create_dir_all(dir).unwrap();
    write(&digits.train, train, "train-images-idx3-ubyte", "train-labels-idx1-ubyte");
    write(&digits.test, test, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
    dir.to_path_buf()
}

fn sweep_file(dir: &Path, epochs: usize) -> PathBuf {
    let file = dir.join(format!("sweep{epochs}.toml"));
    std::fs::write(
        &file,
        format!("[base]\nepochs = {epochs}\n[[grid]]\npresets = [\"provided_sparse\"]\nset = {{ steps = 5, rank = 4 }}\n"),
    )
    .unwrap();
    file
}

#[test]
fn results_are_never_reused_from_other_inputs() {
    let root = common::temp_dir("trust-stale");
    let out = root.join("sweep");
    let file = sweep_file(&root, 1);
    ok(&["sweep", s(&file), "--out", s(&out)]);
    assert!(ok(&["sweep", s(&file), "--out", s(&out)]).contains("1 already finished"));
    // Another base model for the same folder: stop, and say what changed.
    let other = root.join("other.safetensors");
    bilens::save_model(&Bilinear::init(ModelConfig::default(), &mut bilens::rng(5)), &other).unwrap();
    fails(&["sweep", s(&file), "--model", s(&other), "--out", s(&out)], &["model_sha256", "--fresh"]);
    // Other training settings for the cached base model.
    fails(&["sweep", s(&sweep_file(&root, 2)), "--out", s(&out)], &["config.epochs: 1 → 2", "--fresh"]);
    // --fresh redoes them, and the table then holds the new model's numbers only.
    ok(&["sweep", s(&file), "--model", s(&other), "--out", s(&out), "--fresh"]);
    let rows = bilens::pipeline::results::read_results(&out.join("results.json")).unwrap();
    let sha = std::fs::read(&other).map(|b| sha256(&b)).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].model_sha256, sha);
    // A quick study rerun on its folder with another model.
    let study = root.join("study");
    ok(&["study", "--quick", "--epochs", "1", "--out", s(&study)]);
    fails(&["study", "--quick", "--model", s(&other), "--out", s(&study)], &["made from other inputs", "model_sha256"]);
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn images_of_any_size_work_end_to_end() {
    let root = common::temp_dir("trust-32");
    let data = idx_folder(&root.join("data32"), 32, 600, 60);
    let model = root.join("model");
    ok(&["train", "--data", s(&data), "--epochs", "1", "--out", s(&model)]);
    let weights = model.join("model.safetensors");
    ok(&["eigen", "--model", s(&weights), "--data", s(&data), "--out", s(&root.join("eigen")), "--ks", "1,4"]);
    ok(&[
        "decompose",
        "--model",
        s(&weights),
        "--data",
        s(&data),
        "--preset",
        "combo_cp_top1_res8",
        "--set",
        "steps=5",
        "--set",
        "distill_images=256",
        "--out",
        s(&root.join("dec")),
    ]);
    assert!(root.join("dec/components.png").exists());
    let file = root.join("sweep.toml");
    std::fs::write(&file, "[[grid]]\npresets = [\"stroke_cp_top1_resid03\", \"mask034_cp_top1_distill\"]\nseeds = [0, 1]\nset = { steps = 5, distill_images = 256 }\n").unwrap();
    let out = root.join("sweep");
    ok(&["sweep", s(&file), "--model", s(&weights), "--data", s(&data), "--out", s(&out)]);
    ok(&["report", s(&out)]);
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(page.contains("mask034_cp_top1_distill__distill_images=256__steps=5__seed=1") && page.contains("\"height\":32,"));
    // A model whose inputs are not the images' pixels is an error, not a panic.
    let small = idx_folder(&root.join("data20"), 20, 50, 10);
    fails(&["eigen", "--model", s(&weights), "--data", s(&small), "--out", s(&root.join("e2"))], &["1024 inputs", "400 per example"]);
    fails(
        &["decompose", "--model", s(&weights), "--data", s(&small), "--preset", "provided_sparse", "--out", s(&root.join("d2"))],
        &["1024 inputs"],
    );
    // Image priors need images of at least 7×7.
    let tiny = idx_folder(&root.join("data6"), 6, 50, 10);
    ok(&["train", "--data", s(&tiny), "--epochs", "1", "--out", s(&root.join("m6"))]);
    let m6 = root.join("m6/model.safetensors");
    fails(
        &["decompose", "--model", s(&m6), "--data", s(&tiny), "--preset", "raw_smooth_cp_top3", "--out", s(&root.join("d6"))],
        &["7×7", "6×6"],
    );
    // 100 pixels, fewer than the concept presets' 120 principal directions: all of them.
    let ten = idx_folder(&root.join("data10"), 10, 200, 20);
    ok(&["train", "--data", s(&ten), "--epochs", "1", "--out", s(&root.join("m10"))]);
    let m10 = root.join("m10/model.safetensors");
    ok(&[
        "decompose",
        "--model",
        s(&m10),
        "--data",
        s(&ten),
        "--preset",
        "concept_faithful",
        "--set",
        "steps=2",
        "--out",
        s(&root.join("d10")),
    ]);
    ok(&[
        "decompose",
        "--model",
        s(&m6),
        "--data",
        s(&tiny),
        "--preset",
        "provided_sparse",
        "--set",
        "steps=3",
        "--out",
        s(&root.join("d6")),
    ]);
}

#[test]
fn small_and_empty_sets_are_handled() {
    let root = common::temp_dir("trust-small");
    let three = idx_folder(&root.join("three"), 28, 200, 3);
    let file = root.join("sweep.toml");
    std::fs::write(&file, "[base]\nepochs = 1\n[[grid]]\npresets = [\"provided_sparse\"]\nseeds = [0, 1]\nset = { steps = 5, rank = 4 }\n")
        .unwrap();
    ok(&["sweep", s(&file), "--data", s(&three), "--out", s(&root.join("s3"))]);
    let no_test = idx_folder(&root.join("notest"), 28, 200, 0);
    fails(&["study", "--quick", "--data", s(&no_test), "--out", s(&root.join("s0"))], &["test set is empty"]);
    let m = root.join("m");
    ok(&["train", "--data", s(&three), "--epochs", "1", "--out", s(&m)]);
    fails(&["eval", "--model", s(&m.join("model.safetensors")), "--data", s(&no_test)], &["test set is empty"]);
    let no_train = idx_folder(&root.join("notrain"), 28, 0, 20);
    fails(&["train", "--data", s(&no_train), "--out", s(&root.join("t0"))], &["training set is empty"]);
    fails(
        &[
            "decompose",
            "--model",
            s(&m.join("model.safetensors")),
            "--data",
            s(&no_train),
            "--preset",
            "combo_cp_top1_res8",
            "--out",
            s(&root.join("d0")),
        ],
        &["distill_images", "there are none"],
    );
    // Blank images: the functional fidelity would be 0/0 at the first step, not a divergence.
    let blank = root.join("blank");
    std::fs::create_dir_all(&blank).unwrap();
    for (set, n) in [("train", 60), ("t10k", 20)] {
        std::fs::write(blank.join(format!("{set}-images-idx3-ubyte")), idx::encode_images(28, 28, &vec![0; n * 784])).unwrap();
        std::fs::write(blank.join(format!("{set}-labels-idx1-ubyte")), idx::encode_labels(&vec![3; n])).unwrap();
    }
    let (model, out) = (m.join("model.safetensors"), root.join("db"));
    let blank_fit =
        ["decompose", "--model", s(&model), "--data", s(&blank), "--preset", "concept_faithful", "--set", "steps=3", "--out", s(&out)];
    let said = fails(&blank_fit, &["images blank"]);
    assert!(!said.contains("diverged"), "{said}");
}

/// Layers narrower than a dictionary (fewer eigenpairs than components), one-output layers and
/// labels that skip classes: each works, or is refused with a reason.
#[test]
fn narrow_layers_and_odd_labels_are_handled() {
    let root = common::temp_dir("trust-narrow");
    let digits = idx_folder(&root.join("digits"), 28, 200, 40);
    // 10 classes × an embedding of 2: 20 eigenpairs for `two_bank_interpretable`'s 128 components.
    let narrow = root.join("narrow");
    ok(&["train", "--data", s(&digits), "--embed", "2", "--hidden", "4", "--epochs", "1", "--out", s(&narrow)]);
    let fit = |model: &Path, data: &Path, preset: &str, out: &str| {
        ok(&["decompose", "--model", s(model), "--data", s(data), "--preset", preset, "--set", "steps=2", "--out", s(&root.join(out))])
    };
    fit(&narrow.join("model.safetensors"), &digits, "two_bank_interpretable", "narrow_fit");
    // The digits' images under other labels: `label(i)` for image `i`.
    let relabelled = |name: &str, label: fn(usize) -> u8| {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for (set, n) in [("train", 200), ("t10k", 40)] {
            std::fs::copy(digits.join(format!("{set}-images-idx3-ubyte")), dir.join(format!("{set}-images-idx3-ubyte"))).unwrap();
            std::fs::write(dir.join(format!("{set}-labels-idx1-ubyte")), idx::encode_labels(&(0..n).map(label).collect::<Vec<_>>()))
                .unwrap();
        }
        dir
    };
    // One class: nothing to train, but a one-output layer (a regression head, say) decomposes.
    let single = relabelled("single", |_| 0);
    fails(&["train", "--data", s(&single), "--out", s(&root.join("t1"))], &["every training label is 0", "at least two classes"]);
    let one_output = root.join("one_output.safetensors");
    bilens::save_model(&Bilinear::init(ModelConfig { n_outputs: 1, ..ModelConfig::default() }, &mut bilens::rng(4)), &one_output).unwrap();
    fit(&one_output, &single, "concept_stable", "single_fit");
    // Contrasts pair within the one class there is.
    let contrast = ["--preset", "concept_contrast", "--set", "steps=2", "--set", "pair_steps=2", "--out"];
    ok(&[&["decompose", "--model", s(&one_output), "--data", s(&single)][..], &contrast, &[s(&root.join("single_contrast"))]].concat());
    let sweep = root.join("one_output.toml");
    std::fs::write(&sweep, "[[grid]]\npresets = [\"concept_faithful\"]\nseeds = [0, 1]\nset = { steps = 2 }\n").unwrap();
    ok(&["sweep", s(&sweep), "--model", s(&one_output), "--data", s(&single), "--out", s(&root.join("sweep1"))]);
    fails(
        &["study", "--quick", "--model", s(&one_output), "--data", s(&single), "--out", s(&root.join("study1"))],
        &["the second base model", "at least two classes"],
    );
    // Labels 0 and 5 only: classes 1–4 have no images, and training says so.
    let skipped = relabelled("skipped", |i| if i % 2 == 0 { 0 } else { 5 });
    let said = ok(&["train", "--data", s(&skipped), "--epochs", "1", "--out", s(&root.join("t5"))]);
    assert!(said.contains("4 of the 6 classes have no training images (labels 1, 2, 3, 4)"), "{said}");
    // 151 classes: the concept atlas draws the first 64 (a row each would not fit a figure),
    // at cells small enough for 64 rows.
    let many = relabelled("many", |i| if i % 2 == 0 { 0 } else { 150 });
    ok(&["train", "--data", s(&many), "--epochs", "1", "--out", s(&root.join("t151"))]);
    fit(&root.join("t151/model.safetensors"), &many, "concept_faithful", "many_fit");
    assert!(root.join("many_fit/atlas.png").exists());
}

#[test]
fn sizes_and_settings_are_bounded() {
    let root = common::temp_dir("trust-bounds");
    let model = root.join("model.safetensors");
    bilens::save_model(&Bilinear::init(ModelConfig::default(), &mut bilens::rng(1)), &model).unwrap();
    let never = root.join("never");
    let dec =
        |set: &'static str| vec!["decompose", "--model", s(&model), "--preset", "combo_cp_top1_res8", "--set", set, "--out", s(&never)];
    fails(&dec("rank=100000"), &["rank = 100000", "1..=8192"]);
    fails(&dec("anchor_offset=1000000000"), &["anchor_offset", "0..=100000"]);
    fails(&dec("deform_scale=nan"), &["deform_scale = NaN"]);
    fails(&dec("raw_tv=-1"), &["[priors] raw_tv = -1", "≥ 0"]);
    fails(&["train", "--batch-size", "100000000", "--out", s(&root.join("t"))], &["batch_size = 100000000", "1..=65536"]);
    fails(&["train", "--hidden", "10000000", "--out", s(&root.join("t"))], &["n_hidden = 10000000"]);
    fails(&["eval", "--model", "/dev/zero"], &["/dev/zero", "not a valid safetensors file"]);
    // A file that is not there is not called invalid.
    let absent = fails(&["eval", "--model", s(&root.join("absent.safetensors"))], &["cannot read", "absent.safetensors"]);
    assert!(!absent.contains("not a valid"), "{absent}");
    fails(&["--threads", "5000", "presets"], &["--threads 5000", "1..=1024"]);
    // The eigen baseline's settings are checked before any work, and a truncation that yields
    // nothing is named, not left out in silence.
    let eig = |flag: &'static str, value: &'static str| vec!["eigen", "--model", s(&model), "--no-data", flag, value, "--out", s(&never)];
    fails(&eig("--show", "0"), &["--show 0", "1..=64"]);
    fails(&eig("--show", "100000"), &["--show 100000", "1..=64"]);
    fails(&eig("--ks", "1,0"), &["--ks 0", "1..=4096"]);
    fails(&eig("--max-outputs", "0"), &["--max-outputs 0"]);
    let said = ok(&eig("--ks", "1,500"));
    assert!(said.contains("truncations to k = 500 left out"), "{said}");
}

#[test]
fn bad_models_folders_and_data_get_clear_errors() {
    let root = common::temp_dir("trust-bad");
    let zero = root.join("zero.safetensors");
    let mut m = Bilinear::init(ModelConfig::default(), &mut bilens::rng(1));
    m.w_u = faer::Mat::zeros(10, 256);
    bilens::save_model(&m, &zero).unwrap();
    fails(&["decompose", "--model", s(&zero), "--preset", "provided_sparse", "--out", s(&root.join("d"))], &["interaction tensor is zero"]);
    fails(&["eigen", "--model", s(&zero), "--out", s(&root.join("e0"))], &["interaction tensor is zero", "nothing to eigendecompose"]);
    let five = root.join("five.safetensors");
    bilens::save_model(&Bilinear::init(ModelConfig { n_outputs: 5, ..ModelConfig::default() }, &mut bilens::rng(2)), &five).unwrap();
    // convert never writes over its input (an atomic write would replace even a read-only file).
    let before = std::fs::read(&five).unwrap();
    fails(&["convert", s(&five), "--to", "exercise", "--out", s(&root.join(".").join("five.safetensors"))], &["is the input model itself"]);
    assert_eq!(std::fs::read(&five).unwrap(), before, "the input model is untouched");
    // A model with other outputs than the data's classes is measured without accuracy, and says so.
    let out = ok(&["eval", "--model", s(&five)]);
    assert!(out.contains("\"test_accuracy\":null") && out.contains("no accuracy: the model has 5 outputs, the data 10 classes"), "{out}");
    // A study of a model that does not read the data's pixels stops before its eigen baseline.
    let small = root.join("small.safetensors");
    bilens::save_model(&Bilinear::init(ModelConfig { n_inputs: 400, ..ModelConfig::default() }, &mut bilens::rng(3)), &small).unwrap();
    fails(&["study", "--quick", "--model", s(&small), "--out", s(&root.join("st"))], &["takes 400 inputs", "784 per example"]);
    // report: a missing folder, a folder with no study, unreadable --data.
    fails(&["report", s(&root.join("nowhere"))], &["nowhere", "not a folder"]);
    assert!(!root.join("nowhere").exists(), "report must not create the folder");
    fails(&["report", s(&root)], &["no results.json"]);
    let study = root.join("study");
    let file = sweep_file(&root, 1);
    ok(&["sweep", s(&file), "--out", s(&study)]);
    let corrupt = root.join("corrupt");
    std::fs::create_dir_all(&corrupt).unwrap();
    for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
        std::fs::write(corrupt.join(name), b"not idx").unwrap();
    }
    fails(&["report", s(&study), "--data", s(&corrupt)], &["train-images-idx3-ubyte"]);
    // The page never takes the place of a file that is not one (the study's own results).
    let results = std::fs::read(study.join("results.json")).unwrap();
    fails(&["report", s(&study), "--out", s(&study.join("results.json"))], &["results.json", "not an HTML page"]);
    assert_eq!(std::fs::read(study.join("results.json")).unwrap(), results, "results.json untouched");
    // An output folder that cannot be written is found before any work.
    let blocker = root.join("a-file");
    std::fs::write(&blocker, b"x").unwrap();
    let said = fails(&["sweep", s(&file), "--out", s(&blocker.join("out"))], &["output folder"]);
    assert!(!said.contains("training the base model"), "the error came before the work:\n{said}");
    // decompose may not overwrite a training folder's record.
    let trained = root.join("trained");
    ok(&["train", "--epochs", "1", "--out", s(&trained)]);
    fails(
        &[
            "decompose",
            "--model",
            s(&trained.join("model.safetensors")),
            "--preset",
            "provided_sparse",
            "--set",
            "steps=3",
            "--out",
            s(&trained),
        ],
        &["bilens train"],
    );
    // No temporary files are left behind in a finished folder.
    for dir in [&study, &study.join("runs").read_dir().unwrap().next().unwrap().unwrap().path()] {
        let tmp: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".tmp")).collect();
        assert!(tmp.is_empty(), "{tmp:?}");
    }
}

#[test]
fn one_writer_per_folder() {
    let root = common::temp_dir("trust-lock");
    let file = root.join("long.toml");
    std::fs::write(
        &file,
        "[base]\nepochs = 1\n[[grid]]\npresets = [\"provided_sparse\"]\nseeds = [0, 1, 2, 3]\nset = { steps = 1000000, rank = 32 }\n",
    )
    .unwrap();
    let out = root.join("out");
    let mut first =
        Command::new(env!("CARGO_BIN_EXE_bilens")).args(["--threads", "1", "sweep", s(&file), "--out", s(&out)]).spawn().unwrap();
    let lock = out.join(".bilens.lock");
    // The first sweep's runs take hours; it holds the lock from its start until it is killed.
    while std::fs::read_to_string(&lock).map_or(true, |t| t.is_empty()) {
        assert!(first.try_wait().unwrap().is_none(), "the first sweep ended before it held the lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    fails(&["sweep", s(&file), "--out", s(&out)], &["in use by another bilens process", &format!("pid {}", first.id())]);
    first.kill().unwrap();
    first.wait().unwrap();
}

#[test]
fn a_run_counts_as_finished_only_once_all_its_outputs_are_written() {
    let root = common::temp_dir("trust-partial");
    let model = common::tiny_model(&root);
    let out = root.join("run");
    // A folder in the way of explanations.png: the write fails part-way, after the fit's files
    // and the first figures, as a full disk would.
    std::fs::create_dir_all(out.join("explanations.png").join("in-the-way")).unwrap();
    let args = ["decompose", "--model", s(&model), "--preset", "provided_sparse", "--set", "steps=3", "--set", "rank=4", "--out", s(&out)];
    fails(&args, &["explanations.png"]);
    assert!(out.join("metrics.json").exists() && out.join("components.png").exists(), "written before the failure");
    assert!(!out.join("run.json").exists(), "a folder missing outputs must not look finished");
    std::fs::remove_dir_all(out.join("explanations.png")).unwrap();
    ok(&args);
    for file in ["run.json", "explanations.png", "gallery.png", "atlas.png", "faithfulness.png", "analysis.json"] {
        assert!(out.join(file).is_file(), "{file} missing from a finished run");
    }
}

#[cfg(unix)]
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    // The pipe's reading end is closed before bilens starts, so its first line meets it.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_bilens")).arg("presets").stdout(writer).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && stderr.is_empty(), "{stderr}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
}
