//! `bilens compare`: a run matches itself and any copy whose components are permuted and
//! sign-flipped (the tensor is unchanged) exactly, by |cos| and on its inputs, and its model
//! agrees with itself; the figure is written on request; a folder
//! that is not a run, or runs over different inputs, are clear errors. A dictionary refitted
//! from a run's (`start`) matches it, and the anchor prior holds it there. A rotation after the
//! fit turns the patterns and leaves the class tensors alone; pairing them into contrasts makes
//! split components fitted as a second stage.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use bilens::decomp::Decomposition;
use bilens::decomp::bank::{Bank, Head, HeadRule};
use bilens::decomp::factors::{load_factors, save_factors};
use bilens::decomp::pattern::Pattern;
use bilens::{Bilinear, ModelConfig};
use common::{fails, ok, s};
use faer::Mat;
use serde_json::Value;

/// A copy of the run in `from` whose every bank has its components in reverse order and both
/// factors negated: the same tensor, so the same concepts.
fn permuted_flipped_copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("run.json"), to.join("run.json")).unwrap();
    let d = load_factors(&from.join("factors.safetensors")).unwrap();
    let reorder = |m: &Mat<f32>, sign: f32| Mat::from_fn(m.nrows(), m.ncols(), |i, k| sign * m[(i, m.ncols() - 1 - k)]);
    let banks = d
        .banks
        .iter()
        .zip(d.factors())
        .map(|(bank, f)| Bank {
            form: bank.form,
            role: bank.role,
            a: Pattern::fixed(reorder(&f.a, -1.0)),
            b: bank.form.has_second_factor().then(|| Pattern::fixed(reorder(&f.b, -1.0))),
            head: Head { raw: reorder(&f.d, 1.0), rule: HeadRule::Dense },
            anchors: None,
        })
        .collect();
    save_factors(&Decomposition { banks }, &to.join("factors.safetensors"), BTreeMap::new()).unwrap();
}

fn similarities(out: &str) -> (f64, f64) {
    let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    (v["similarity"].as_f64().unwrap(), v["eigen_rank_matched_similarity"].as_f64().unwrap())
}

#[test]
fn a_run_matches_itself_and_its_symmetric_copies_and_bad_pairs_are_refused() {
    let root = common::temp_dir("compare");
    let model = common::tiny_model(&root);
    let sparse_run = |model: &Path, out: &Path| {
        ok(&["decompose", "--model", s(model), "--preset", "provided_sparse", "--set", "rank=16", "--set", "steps=20", "--out", s(out)]);
    };
    let run = root.join("run");
    sparse_run(&model, &run);

    let itself = ok(&["compare", s(&run), s(&run)]);
    let (concepts, eigen) = similarities(&itself);
    assert!((concepts - 1.0).abs() < 1e-6 && (eigen - 1.0).abs() < 1e-6, "{concepts} {eigen}");
    // On the digits the run recorded (the embedded ones): the same, and one model.
    let on_inputs = |out: &str, key: &str| serde_json::from_str::<Value>(out.lines().next().unwrap()).unwrap()[key].as_f64();
    for key in ["similarity_on_inputs", "eigen_rank_matched_similarity_on_inputs", "models_agreement", "models_logit_cosine"] {
        assert!(on_inputs(&itself, key).is_some_and(|v| (v - 1.0).abs() < 1e-6), "{key}: {:?}", on_inputs(&itself, key));
    }
    // Another model: its own concepts, and predictions that differ somewhere.
    let other_model = root.join("other.safetensors");
    bilens::save_model(&Bilinear::init(ModelConfig::default(), &mut bilens::rng(11)), &other_model).unwrap();
    let other = root.join("other");
    sparse_run(&other_model, &other);
    let across = ok(&["compare", s(&run), s(&other)]);
    let (agreement, cosine) = (on_inputs(&across, "models_agreement").unwrap(), on_inputs(&across, "models_logit_cosine").unwrap());
    assert!(agreement < 1.0 && (-1.0..1.0).contains(&cosine), "{agreement} {cosine}");
    assert!(on_inputs(&across, "similarity_on_inputs").is_some_and(|v| v < 1.0));
    let copy = root.join("copy");
    permuted_flipped_copy(&run, &copy);
    let figures = root.join("figures");
    let (concepts, _) = similarities(&ok(&["compare", s(&run), s(&copy), "--top", "2", "--out", s(&figures)]));
    assert!((concepts - 1.0).abs() < 1e-5, "{concepts}");
    assert!(figures.join("compare.png").is_file() && figures.join("compare.json").is_file());

    fails(&["compare", s(&run), s(&root)], &["not a finished run folder"]);
    fails(&["compare", s(model.parent().unwrap()), s(&run)], &["holds no decomposition"]);
    let small = Bilinear::init(ModelConfig { n_inputs: 16, n_embed: None, n_hidden: 8, n_outputs: 10 }, &mut bilens::rng(3));
    let small_path = root.join("small.safetensors");
    bilens::save_model(&small, &small_path).unwrap();
    let small_run = root.join("small-run");
    ok(&["decompose", "--model", s(&small_path), "--set", "rank=4", "--set", "steps=5", "--out", s(&small_run)]);
    fails(&["compare", s(&run), s(&small_run)], &["cannot be compared", "784 inputs", "16"]);
    let no_data = ok(&["compare", s(&small_run), s(&small_run)]);
    assert!(on_inputs(&no_data, "similarity_on_inputs").is_none(), "a run made without data has no inputs to compare on");
    fails(&["compare", s(&run), s(&run), "--top", "0"], &["--top must be at least 1"]);

    // A dictionary refitted from another run's (`start`) keeps its concepts when barely moved,
    // its run records which dictionary it started from, and a mismatched start is refused.
    let (refit, bad) = (root.join("refit"), root.join("bad"));
    let start = format!("start={}", s(&run));
    let from_run = ["decompose", "--model", s(&model), "--preset", "provided_sparse", "--set", &start, "--set", "steps=1"];
    ok(&[&from_run[..], &["--set", "rank=16", "--set", "lr=1e-7", "--out", s(&refit)]].concat());
    let (concepts, _) = similarities(&ok(&["compare", s(&run), s(&refit)]));
    assert!(concepts > 0.9999, "{concepts}");
    let record: Value = serde_json::from_str(&std::fs::read_to_string(refit.join("run.json")).unwrap()).unwrap();
    let checksum = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(std::fs::read(run.join("factors.safetensors")).unwrap());
        digest.iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    assert!(record.to_string().contains(&checksum), "the start's checksum is not in run.json");
    // The anchor prior keeps a refit aligned with its start (the start's patterns are its
    // anchors): moved for many steps, it matches the start more closely with the prior.
    let moved = |anchor: &str, out: &str| {
        let out = root.join(out);
        ok(&[&from_run[..], &["--set", "rank=16", "--set", "steps=60", "--set", anchor, "--out", s(&out)]].concat());
        similarities(&ok(&["compare", s(&run), s(&out)])).0
    };
    let (free, held) = (moved("anchor=0", "free"), moved("anchor=100", "held"));
    assert!(held > free + 0.05, "anchored {held}, free {free}");
    fails(&["decompose", "--model", s(&model), "--set", "anchor=1", "--out", s(&bad)], &["anchor", "start = RUN"]);
    fails(&[&from_run[..], &["--set", "rank=8", "--out", s(&bad)]].concat(), &["start:", "16", "8"]);
    fails(&["decompose", "--model", s(&model), "--set", "start=/no/such/run", "--out", s(&bad)], &["/no/such/run"]);
}

/// The rotation after the fit turns the patterns within each class and sign and nothing else:
/// the same fit with and without it has the same tensor, logits and rotation-blind metrics,
/// `compare` sees the same class tensors but other patterns, and a recipe it cannot turn is
/// refused by name.
#[test]
fn a_rotation_after_the_fit_changes_the_patterns_and_nothing_the_model_computes() {
    let root = common::temp_dir("final-rotation");
    let model = common::tiny_model(&root);
    let fit = |rotation: &str, out: &str| {
        let out = root.join(out);
        let rotation = format!("final_rotation={rotation}");
        // A varimax start, so that the per-image mix is not where the fit began.
        let start = ["--set", "rotation=\"varimax\"", "--set", "rank=24", "--set", "steps=15"];
        ok(&[&["decompose", "--model", s(&model), "--preset", "concept_stable"][..], &start, &["--set", &rotation, "--out", s(&out)]]
            .concat());
        let metrics: Value = serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
        (out, metrics)
    };
    let (plain, before) = fit("\"none\"", "plain");
    let (turned, after) = fit("\"per_image\"", "turned");
    for key in ["tensor_cosine", "agreement", "logit_r2", "coherence_weighted", "test_accuracy_with_bias"] {
        let (b, a) = (before[key].as_f64().unwrap(), after[key].as_f64().unwrap());
        assert!((a - b).abs() <= 1e-4 * b.abs().max(1.0), "{key}: {b} before, {a} after the rotation");
    }
    let v: Value = serde_json::from_str(ok(&["compare", s(&plain), s(&turned)]).lines().next().unwrap()).unwrap();
    let (patterns, tensors) = (v["similarity"].as_f64().unwrap(), v["tensor_similarity"].as_f64().unwrap());
    assert!(tensors > 0.999 && patterns < 0.99, "patterns {patterns}, class tensors {tensors}");
    let bad = root.join("bad");
    fails(
        &["decompose", "--model", s(&model), "--preset", "provided_sparse", "--set", "final_rotation=\"per_image\"", "--out", s(&bad)],
        &["final_rotation", "symmetric"],
    );
}

/// Contrasts (`pair_steps`): the fitted symmetric patterns become split components, one class
/// each with head 1, no more of them than patterns; the pairs' fit is stage 2 of the history
/// and their polish stage 3; contrasts refitted from a run's are polished with the start's
/// patterns as anchors; recipes it cannot pair, a polish without pairs or a start, and unknown
/// pair priors are refused by name.
#[test]
fn contrasts_pair_the_patterns_and_fit_the_pairs() {
    let root = common::temp_dir("contrasts");
    let model = common::tiny_model(&root);
    let out = root.join("contrast");
    let short =
        ["--set", "rank=24", "--set", "steps=6", "--set", "pair_steps=4", "--set", "polish_steps=3", "--set", "activation_images=256"];
    ok(&[&["decompose", "--model", s(&model), "--preset", "concept_contrast"][..], &short, &["--out", s(&out)]].concat());
    let d = load_factors(&out.join("factors.safetensors")).unwrap();
    let (bank, f) = (&d.banks[0], d.factors().remove(0));
    assert_eq!(bank.form, bilens::decomp::Form::Split);
    assert!((12..=24).contains(&f.a.ncols()), "{} contrasts from 24 patterns", f.a.ncols());
    for k in 0..f.d.ncols() {
        let col: Vec<f32> = f.d.col(k).iter().copied().collect();
        assert_eq!(col.iter().filter(|v| **v != 0.0).count(), 1, "component {k}: heads {col:?}");
        assert!(col.iter().any(|v| (*v - 1.0).abs() < 0.2), "component {k}: heads {col:?} start at 1");
    }
    let history = std::fs::read_to_string(out.join("history.csv")).unwrap();
    let stages: Vec<&str> = history.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(stages.iter().filter(|s| **s == "1").count(), 6);
    assert_eq!(stages.iter().filter(|s| **s == "2").count(), 4);
    assert_eq!(stages.iter().filter(|s| **s == "3").count(), 3);
    assert!(history.lines().next().unwrap().contains("decision"), "the pairs' priors are in the history");
    // `pair_one_signed` keeps each side of every contrast in one sign; without it the pairs'
    // fit lets the other sign in.
    let mixed = |m: &faer::Mat<f32>, k: usize| m.col(k).iter().any(|v| *v > 0.0) && m.col(k).iter().any(|v| *v < 0.0);
    assert!((0..f.a.ncols()).any(|k| mixed(&f.a, k) || mixed(&f.b, k)), "a free pairs' fit has mixed-sign patterns");
    let pure = root.join("one_signed");
    ok(&[
        &["decompose", "--model", s(&model), "--preset", "concept_contrast"][..],
        &short,
        &["--set", "pair_one_signed=true", "--out", s(&pure)],
    ]
    .concat());
    let f = load_factors(&pure.join("factors.safetensors")).unwrap().factors().remove(0);
    for k in 0..f.a.ncols() {
        assert!(!mixed(&f.a, k) && !mixed(&f.b, k), "contrast {k} has a pattern of both signs");
    }
    let bad = root.join("bad");
    fails(
        &["decompose", "--model", s(&model), "--preset", "provided_sparse", "--set", "pair_steps=10", "--out", s(&bad)],
        &["pair_steps", "symmetric"],
    );
    fails(
        &["decompose", "--model", s(&model), "--preset", "provided_sparse", "--set", "polish_steps=3", "--out", s(&bad)],
        &["polish_steps > 0 polishes the pairs' fit", "start = RUN"],
    );

    // Contrasts refitted from a run's (`concept_contrast_aligned`): their fit is stage 1 and the
    // polish stage 2, with the anchor prior on; the polish's anchors are the start's patterns,
    // so anchored it stays nearer them than free.
    let rank = format!("rank={}", f.a.ncols());
    let start = format!("start={}", s(&out));
    let aligned = |polish: &[&str], name: &str| {
        let dir = root.join(name);
        let args = ["decompose", "--model", s(&model), "--preset", "concept_contrast_aligned", "--set", &start, "--set", &rank];
        ok(&[&args[..], &["--set", "steps=4", "--set", "activation_images=256"], polish, &["--out", s(&dir)]].concat());
        dir
    };
    let held = aligned(&["--set", "polish_steps=40", "--set", "polish_lr=0.02", "--set", "polish_priors.anchor=100"], "held");
    let unanchored = ["--set", "polish_steps=40", "--set", "polish_lr=0.02", "--set", "polish_priors.anchor=0"];
    let free = aligned(&[&unanchored[..], &["--set", "polish_priors.anchor_strength=0"]].concat(), "free");
    let strong = aligned(&[&unanchored[..], &["--set", "polish_priors.anchor_strength=100"]].concat(), "strong");
    let history = std::fs::read_to_string(held.join("history.csv")).unwrap();
    let stages: Vec<&str> = history.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!((stages.iter().filter(|s| **s == "1").count(), stages.iter().filter(|s| **s == "2").count()), (4, 40));
    assert!(history.lines().next().unwrap().contains("anchor"), "the polish's anchor prior is in the history");
    let matched = |dir: &Path| similarities(&ok(&["compare", s(dir), s(&out)])).0;
    let (anchored, unanchored) = (matched(&held), matched(&free));
    assert!(anchored > unanchored + 0.02, "anchored {anchored}, free {unanchored}");
    // The anchor_strength prior holds each pattern's strength ‖d‖‖p‖² (how compare ranks it)
    // where it started: nearer the start's than a polish without it.
    let strengths = |dir: &Path| -> Vec<f64> {
        let f = load_factors(&dir.join("factors.safetensors")).unwrap().factors().remove(0);
        let sq = |m: &faer::Mat<f32>, k: usize| m.col(k).iter().map(|&v| v as f64 * v as f64).sum::<f64>();
        (0..f.d.ncols()).flat_map(|k| [sq(&f.d, k).sqrt() * sq(&f.a, k), sq(&f.d, k).sqrt() * sq(&f.b, k)]).collect()
    };
    let drift = |dir: &Path| {
        let pairs: Vec<(f64, f64)> = strengths(dir).into_iter().zip(strengths(&out)).filter(|(s, t)| *s > 0.0 && *t > 0.0).collect();
        pairs.iter().map(|(s, t)| (s / t).ln().abs()).sum::<f64>() / pairs.len() as f64
    };
    let (held_drift, free_drift) = (drift(&strong), drift(&free));
    assert!(held_drift < 0.5 * free_drift, "strengths drift {held_drift} held, {free_drift} free");
    fails(&["decompose", "--model", s(&model), "--preset", "concept_contrast_aligned", "--set", &rank, "--out", s(&bad)], &["start = RUN"]);

    // Two models' dictionaries refitted from their midpoint (`start_with`): a fit that barely
    // moves ends where it starts, at each pattern's unit mean of the two runs', whichever of
    // the two is the start.
    let still = ["--set", "lr=1e-9", "--set", "polish_steps=1", "--set", "polish_lr=1e-9"];
    let with = |first: &Path, second: &Path, name: &str| {
        let (first, second) = (format!("start={}", s(first)), format!("start_with={}", s(second)));
        let dir = root.join(name);
        let args = ["decompose", "--model", s(&model), "--preset", "concept_contrast_aligned", "--set", &first, "--set", &second];
        ok(&[&args[..], &["--set", &rank, "--set", "steps=1", "--set", "activation_images=256"], &still, &["--out", s(&dir)]].concat());
        load_factors(&dir.join("factors.safetensors")).unwrap().factors().remove(0)
    };
    let (x, y) = (
        load_factors(&out.join("factors.safetensors")).unwrap().factors().remove(0),
        load_factors(&held.join("factors.safetensors")).unwrap().factors().remove(0),
    );
    let (m, swapped) = (with(&out, &held, "midpoint"), with(&held, &out, "midpoint_swapped"));
    let column = |p: &faer::Mat<f32>, k: usize| -> Vec<f64> { p.col(k).iter().map(|&v| v as f64).collect() };
    let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
    let mut moved = 0.0f64;
    for (pm, ps, px, py) in [(&m.a, &swapped.a, &x.a, &y.a), (&m.b, &swapped.b, &x.b, &y.b)] {
        for k in 0..pm.ncols() {
            let (u, v, got, other) = (column(px, k), column(py, k), column(pm, k), column(ps, k));
            if dot(&u, &u) == 0.0 {
                continue;
            }
            let sign = dot(&u, &v).signum();
            let want: Vec<f64> = u.iter().zip(&v).map(|(a, b)| a / dot(&u, &u).sqrt() + sign * b / dot(&v, &v).sqrt()).collect();
            let cos = dot(&got, &want) / (dot(&got, &got) * dot(&want, &want)).sqrt();
            assert!(cos > 0.9999, "component {k}: cos {cos} with the unit mean");
            assert!((dot(&got, &other).abs() / dot(&got, &got) - 1.0).abs() < 1e-4, "component {k}: the order of the two runs matters");
            moved = moved.max(1.0 - dot(&got, &u).abs() / (dot(&got, &got) * dot(&u, &u)).sqrt());
        }
    }
    assert!(moved > 1e-3, "the midpoint is the start's own dictionary ({moved})");
    let refused = |sets: &[&str], said: &[&str]| {
        let args = ["decompose", "--model", s(&model), "--preset", "concept_contrast_aligned", "--out", s(&bad)];
        fails(&[&args[..], &sets.iter().flat_map(|v| ["--set", v]).collect::<Vec<_>>()].concat(), said);
    };
    refused(&[&rank, &format!("start_with={}", s(&held))], &["start_with = RUN", "needs start = RUN"]);
    refused(&[&start, &rank, &format!("start_with={}", s(&model))], &["start_with = ", "banks"]);
    fails(
        &["decompose", "--model", s(&model), "--preset", "concept_contrast_aligned", "--set", &start, "--out", s(&bad)],
        &["start:", "256", &format!("set rank = {}", f.a.ncols())],
    );
    fails(
        &["decompose", "--model", s(&model), "--preset", "concept_contrast", "--set", "pair_priors.nope=1", "--out", s(&bad)],
        &["unknown recipe key 'pair_priors.nope'"],
    );
    fails(
        &["decompose", "--model", s(&model), "--preset", "concept_contrast", "--set", "pair_priors.coherence=-1", "--out", s(&bad)],
        &["pairs' fit", "coherence"],
    );
}
