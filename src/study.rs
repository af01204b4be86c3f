//! The whole study in one call: the base model (trained or loaded), its eigen baseline, the
//! key presets (some over several seeds) with their analyses, the recommended dictionary
//! fitted again to a second base model trained with another seed and matched with the first
//! (are the concepts the same on two models?), and the HTML report. Every stage is cached on
//! disk under its fingerprint, so an interrupted study resumes where it stopped and a study
//! rerun with other inputs says so instead of mixing results.

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::analysis::eigen_baseline::DEFAULT_KS;
use crate::data::DataSplit;
use crate::decomp::{Context, ContextOptions};
use crate::model::TrainConfig;
use crate::pipeline::base::{BaseSource, base_model};
use crate::pipeline::compare::compare_runs;
use crate::pipeline::eigen::{EigenShape, write_eigen};
use crate::pipeline::folder::{FolderLock, StudyFolder};
use crate::pipeline::spec::{RunSpec, Share};
use crate::pipeline::sweep::{Execution, execute};

/// What the study runs: each `(preset, overrides, seeds)` once per seed. Presets run over
/// several seeds get stability and consensus analyses.
#[derive(Clone, Debug)]
pub struct Plan {
    pub runs: Vec<(String, Vec<String>, Vec<u64>)>,
    /// A preset of `runs` whose first run (its overrides, its first seed) is also fitted to a
    /// second base model and matched with this model's ([`crate::pipeline::compare`]).
    pub cross_model: Option<String>,
}

impl Plan {
    /// The key presets of the reference study at their own settings and bilens's concept
    /// dictionaries, and over three seeds each the reference's main recipe and the dictionary
    /// the report recommends, `concept_contrast_polished` (so their stability across seeds is
    /// measured, not assumed), which is also matched across two base models.
    pub fn standard() -> Self {
        let once = |p: &str, sets: &[&str]| (p.to_string(), sets.iter().map(|s| s.to_string()).collect(), vec![0]);
        let seeded = |p: &str| (p.to_string(), Vec::new(), vec![0, 1, 2]);
        Self {
            runs: vec![
                once("provided_sparse", &["rank=64", "steps=200"]),
                once("evidence_split_sparse_smooth_r32", &[]),
                once("cp_soft_sym_l1tv", &[]),
                once("mask034_cp_top1_distill", &[]),
                once("stroke_cp_top1_resid03", &[]),
                once("cp_res48_pen004", &[]),
                once("two_bank_interpretable", &[]),
                once("concept_faithful", &[]),
                once("concept_local_parts", &[]),
                once("concept_stable", &[]),
                seeded("combo_cp_top1_res8"),
                seeded("concept_contrast_polished"),
            ],
            cross_model: Some("concept_contrast_polished".into()),
        }
    }

    /// A smoke-test plan: a few short runs (tests and demos).
    pub fn quick() -> Self {
        let sets = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Self {
            runs: vec![
                ("provided_sparse".into(), sets(&["rank=16", "steps=40"]), vec![0]),
                ("combo_cp_top1_res8".into(), sets(&["steps=40", "distill_images=1024"]), vec![0, 1]),
            ],
            cross_model: Some("combo_cp_top1_res8".into()),
        }
    }

    pub fn specs(&self) -> Vec<RunSpec> {
        self.runs.iter().flat_map(|(p, sets, seeds)| seeds.iter().map(move |&seed| RunSpec::new(p, sets, seed))).collect()
    }

    /// The run fitted to both base models, if the plan asks for one.
    pub fn cross_model_spec(&self) -> Result<Option<RunSpec>> {
        let Some(preset) = &self.cross_model else { return Ok(None) };
        let found = self.runs.iter().find(|(p, _, seeds)| p == preset && !seeds.is_empty());
        let (p, sets, seeds) = found.with_context(|| format!("the study's cross-model preset {preset} is not one of its runs"))?;
        Ok(Some(RunSpec::new(p, sets, seeds[0])))
    }
}

/// How to run a study.
#[derive(Clone, Debug)]
pub struct StudyOptions {
    pub base: BaseSource,
    pub plan: Plan,
    pub context: ContextOptions,
    /// Redo stages made from other inputs instead of stopping.
    pub fresh: bool,
}

/// The base model of `bilens study` (and Python's `bilens.study`): the file `model` when
/// given, else one trained for `epochs` with input noise `noise_std` (the study's recipe
/// otherwise), checked against `data` before any work.
pub fn base_source(model: Option<PathBuf>, epochs: usize, noise_std: f32, data: &DataSplit) -> Result<BaseSource> {
    Ok(match model {
        Some(path) => BaseSource::File(path),
        None => {
            let cfg = TrainConfig { epochs, noise_std, ..TrainConfig::default() };
            cfg.validate(&data.train)?;
            BaseSource::Train(cfg)
        }
    })
}

/// The second base model of the cross-model match: the study's training recipe with the next
/// seed (for a base model read from a file, the study's default recipe with seed 1).
fn second_base(base: &BaseSource) -> BaseSource {
    let cfg = match base {
        BaseSource::Train(cfg) => cfg.clone(),
        BaseSource::File(_) => TrainConfig::default(),
    };
    BaseSource::Train(TrainConfig { seed: cfg.seed.wrapping_add(1), ..cfg })
}

/// Runs the study into `out` (one writer at a time), returning the report's path.
pub fn run_study(data: &DataSplit, options: &StudyOptions, out: &std::path::Path, log: &(dyn Fn(&str) + Sync)) -> Result<PathBuf> {
    let _lock = FolderLock::acquire(out)?;
    let folder = StudyFolder::new(out);
    let specs = options.plan.specs();
    let cross = options.plan.cross_model_spec()?;
    let base = base_model(&options.base, data, &folder.base(), options.fresh, log)?;
    // Made first: it checks that the model reads the data's inputs (a `--model` of another size).
    let ctx = Context::new(base.model.clone(), Some(data), &options.context)?;
    log("eigen baseline");
    let shape = EigenShape { show: 4, ks: DEFAULT_KS.to_vec(), max_outputs: 64 };
    let inputs = serde_json::json!({ "model": base.path, "model_sha256": base.sha256 });
    write_eigen(&base.model, &base.sha256, inputs, Some(data), &folder.eigen(), &shape, options.fresh)?;
    log(&format!("{} decompositions", specs.len() + cross.is_some() as usize));
    let x = Execution { ctx: &ctx, base: &base, data, folder: &folder, fresh: options.fresh, log };
    match &cross {
        None => {
            execute(&x, &specs, &Share::All)?;
        }
        Some(spec) => {
            // The second model's run shares the cores with the first model's runs.
            let second = StudyFolder::new(folder.cross_model());
            let log_second = |line: &str| log(&format!("second base model: {line}"));
            let source = second_base(&options.base);
            if let BaseSource::Train(cfg) = &source {
                cfg.validate(&data.train).context("the second base model, trained on the data for the cross-model match")?;
            }
            let base_second = base_model(&source, data, &second.base(), options.fresh, &log_second)?;
            let ctx_second = Context::new(base_second.model.clone(), Some(data), &options.context)?;
            let y = Execution { ctx: &ctx_second, base: &base_second, data, folder: &second, fresh: options.fresh, log: &log_second };
            let (first, other) = rayon::join(|| execute(&x, &specs, &Share::All), || execute(&y, std::slice::from_ref(spec), &Share::All));
            first?;
            other?;
            log(&format!("matching {} across the two base models", spec.id));
            compare_runs(&folder.run(&spec.id), &second.run(&spec.id), CROSS_MODEL_TOP, Some(&second.root))?;
        }
    }
    crate::report::write(out, &folder.report(), None)?;
    Ok(folder.report())
}

/// Patterns per class and evidence sign the cross-model match compares (`bilens compare`'s default).
pub const CROSS_MODEL_TOP: usize = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_second_base_model_is_the_first_one_s_recipe_with_the_next_seed() {
        let first = TrainConfig { epochs: 3, seed: 5, ..TrainConfig::default() };
        let BaseSource::Train(second) = second_base(&BaseSource::Train(first.clone())) else { panic!("a trained second model") };
        assert_eq!((second.epochs, second.seed, second.noise_std), (3, 6, first.noise_std));
        let BaseSource::Train(from_file) = second_base(&BaseSource::File("m.safetensors".into())) else { panic!("a trained second model") };
        assert_eq!((from_file.epochs, from_file.seed), (TrainConfig::default().epochs, 1));
    }

    /// The report leads with the dictionary the study fits over seeds and across models.
    #[test]
    fn the_report_recommends_what_the_study_measures_over_seeds_and_models() {
        let plan = Plan::standard();
        let recommended = crate::report::MAIN_PRESETS[0];
        assert_eq!(plan.cross_model.as_deref(), Some(recommended));
        assert!(plan.runs.iter().any(|(p, _, seeds)| p == recommended && seeds.len() == 3), "{:?}", plan.runs);
    }

    #[test]
    fn the_cross_model_run_is_the_first_run_of_its_preset_or_an_error() {
        let plan = Plan::standard();
        let spec = plan.cross_model_spec().unwrap().expect("the standard plan matches one run across models");
        assert_eq!(spec.id, "concept_contrast_polished__seed=0");
        let quick = Plan::quick().cross_model_spec().unwrap().unwrap();
        assert!(Plan::quick().specs().contains(&quick), "{quick:?}");
        let missing = Plan { cross_model: Some("concept_few".into()), ..plan.clone() };
        assert!(missing.cross_model_spec().unwrap_err().to_string().contains("concept_few is not one of its runs"));
        assert_eq!(Plan { cross_model: None, ..plan }.cross_model_spec().unwrap(), None);
    }
}
