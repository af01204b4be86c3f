//! The seams between the library's parts: a decomposition read back from its files, results
//! across thread counts, and a whole study on a tiny plan.

mod common;

use bilens::pipeline::BaseSource;
use bilens::study::{Plan, StudyOptions, run_study};
use bilens::{Context, ContextOptions, TrainConfig};

fn tiny_model(data: &bilens::DataSplit) -> bilens::Bilinear {
    let cfg = TrainConfig { epochs: 1, ..TrainConfig::default() };
    bilens::train(&cfg, &data.train, |_, _| {}).unwrap().0
}

/// A recipe with every kind of term running: distillation (two blocks of images, so sparse
/// products are split), anchored and masked factors, top-1 heads, a residual bank.
fn busy_recipe() -> bilens::Recipe {
    let sets = ["steps=12", "distill_images=2048"].map(String::from);
    bilens::preset("combo_cp_top1_res8").unwrap().recipe.with_overrides(&sets).unwrap()
}

#[test]
fn factors_saved_and_read_back_give_identical_metrics() {
    let data = bilens::embedded_digits();
    let ctx = Context::new(tiny_model(&data), Some(&data), &ContextOptions::default()).unwrap();
    let outcome = bilens::decompose(&ctx, &busy_recipe(), 3, &mut |_| {}).unwrap();
    let dir = common::temp_dir("factors");
    let path = dir.join("factors.safetensors");
    bilens::decomp::factors::save_factors(&outcome.fitted.decomposition, &path, Default::default()).unwrap();
    let back = bilens::load_factors(&path).unwrap();
    let again = bilens::metrics::evaluate(&ctx, &back, outcome.metrics.class_changes);
    assert_eq!(again, outcome.metrics);
    // Saving is byte-reproducible.
    let first = std::fs::read(&path).unwrap();
    bilens::decomp::factors::save_factors(&back, &path, Default::default()).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), first);
}

#[test]
fn one_and_two_threads_give_the_same_bits() {
    let data = bilens::embedded_digits();
    let ctx = Context::new(tiny_model(&data), Some(&data), &ContextOptions::default()).unwrap();
    let fit = |threads| {
        bilens::with_threads(Some(threads), || {
            let o = bilens::decompose(&ctx, &busy_recipe(), 1, &mut |_| {}).unwrap();
            (o.metrics, o.fitted.decomposition.tensor(), o.fitted.history)
        })
        .unwrap()
    };
    let (one, two) = (fit(1), fit(2));
    assert_eq!(one.0, two.0, "metrics");
    assert_eq!(one.1, two.1, "factors");
    assert_eq!(one.2, two.2, "history");
    // A fit from an eigen start, each in a fresh context (its eigendecompositions are cached).
    let eigen_start = bilens::preset("concept_faithful").unwrap().recipe.with_overrides(&["steps=3".into()]).unwrap();
    let model = ctx.model.clone();
    let fit = |threads| {
        bilens::with_threads(Some(threads), || {
            let ctx = Context::new(model.clone(), Some(&data), &ContextOptions::default()).unwrap();
            let o = bilens::decompose(&ctx, &eigen_start, 1, &mut |_| {}).unwrap();
            (o.metrics, o.fitted.decomposition.tensor())
        })
        .unwrap()
    };
    let (one, two) = (fit(1), fit(2));
    assert_eq!(one.0, two.0, "metrics from an eigen start");
    assert_eq!(one.1, two.1, "factors from an eigen start");
}

#[test]
fn a_tiny_study_runs_end_to_end_and_resumes() {
    let data = bilens::embedded_digits();
    let out = common::temp_dir("study");
    let options = StudyOptions {
        base: BaseSource::Train(TrainConfig { epochs: 1, ..TrainConfig::default() }),
        plan: Plan {
            runs: vec![("provided_sparse".into(), vec!["rank=8".into(), "steps=10".into()], vec![0, 1])],
            cross_model: Some("provided_sparse".into()),
        },
        context: ContextOptions::default(),
        fresh: false,
    };
    let report = run_study(&data, &options, &out, &|_| {}).unwrap();
    let page = std::fs::read_to_string(&report).unwrap();
    assert!(page.contains("provided_sparse__rank=8__steps=10__seed=1"));
    // The first run, fitted again to a second base model trained with the next seed, and matched.
    let second: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("cross_model/base/run.json")).unwrap()).unwrap();
    assert_eq!(second["seed"], 1);
    let compared: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("cross_model/compare.json")).unwrap()).unwrap();
    assert!(compared["run_b"].as_str().unwrap().contains("cross_model"));
    let similarity = compared["similarity"].as_f64().unwrap();
    assert!((0.0..1.0).contains(&similarity), "two base models' dictionaries are not the same: {similarity}");
    assert!(
        page.contains("Across models: provided_sparse__rank=8__steps=10__seed=0 fitted again to a second base model (seed 1"),
        "no cross-model match on the page"
    );
    let rows = bilens::pipeline::results::read_results(&out.join("results.json")).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.model_sha256.len() == 64 && r.metrics.tensor_cosine > 0.0));
    for file in [
        "eigen/truncation.csv",
        "analysis/stability_provided_sparse__rank=8__steps=10.json",
        "runs/provided_sparse__rank=8__steps=10__seed=0/gallery.png",
    ] {
        assert!(out.join(file).exists(), "{file}");
    }
    // Rerun: every stage is reused (the run records are not rewritten).
    let record = out.join("runs/provided_sparse__rank=8__steps=10__seed=0/run.json");
    let before = std::fs::read(&record).unwrap();
    let second_record = out.join("cross_model/runs/provided_sparse__rank=8__steps=10__seed=0/run.json");
    let second_before = std::fs::read(&second_record).unwrap();
    run_study(&data, &options, &out, &|_| {}).unwrap();
    assert_eq!(std::fs::read(&record).unwrap(), before);
    assert_eq!(std::fs::read(&second_record).unwrap(), second_before);
    // Another base model: the study stops and says what changed.
    let other = StudyOptions { base: BaseSource::Train(TrainConfig { epochs: 2, ..TrainConfig::default() }), ..options.clone() };
    let err = run_study(&data, &other, &out, &|_| {}).unwrap_err().to_string();
    assert!(err.contains("config.epochs: 1 → 2") && err.contains("--fresh"), "{err}");
}
