//! The whole study in one call: the base model (trained or loaded), its eigen baseline, the
//! key presets (some over several seeds) with their analyses, and the HTML report. Every stage
//! is cached on disk under its fingerprint, so an interrupted study resumes where it stopped
//! and a study rerun with other inputs says so instead of mixing results.

use std::path::PathBuf;

use anyhow::Result;

use crate::analysis::eigen_baseline::DEFAULT_KS;
use crate::data::DataSplit;
use crate::decomp::{Context, ContextOptions};
use crate::model::TrainConfig;
use crate::pipeline::base::{BaseSource, base_model};
use crate::pipeline::eigen::{EigenShape, write_eigen};
use crate::pipeline::folder::{FolderLock, StudyFolder};
use crate::pipeline::spec::{RunSpec, Share};
use crate::pipeline::sweep::{Execution, execute};

/// What the study runs: each `(preset, overrides, seeds)` once per seed. Presets run over
/// several seeds get stability and consensus analyses.
#[derive(Clone, Debug)]
pub struct Plan {
    pub runs: Vec<(String, Vec<String>, Vec<u64>)>,
}

impl Plan {
    /// The key presets of the reference study at their own settings, and over three seeds each its
    /// main recipe and bilens's two concept dictionaries (the ones the report recommends, so
    /// their stability across seeds is measured, not assumed).
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
                seeded("combo_cp_top1_res8"),
                seeded("concept_faithful"),
                seeded("concept_local_parts"),
            ],
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
        }
    }

    pub fn specs(&self) -> Vec<RunSpec> {
        self.runs.iter().flat_map(|(p, sets, seeds)| seeds.iter().map(move |&seed| RunSpec::new(p, sets, seed))).collect()
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

/// Runs the study into `out` (one writer at a time), returning the report's path.
pub fn run_study(data: &DataSplit, options: &StudyOptions, out: &std::path::Path, log: &(dyn Fn(&str) + Sync)) -> Result<PathBuf> {
    let _lock = FolderLock::acquire(out)?;
    let folder = StudyFolder::new(out);
    let specs = options.plan.specs();
    let base = base_model(&options.base, data, &folder.base(), options.fresh, log)?;
    log("eigen baseline");
    let shape = EigenShape { show: 4, ks: DEFAULT_KS.to_vec(), max_outputs: 64 };
    let inputs = serde_json::json!({ "model": base.path, "model_sha256": base.sha256 });
    write_eigen(&base.model, &base.sha256, inputs, Some(data), &folder.eigen(), &shape, options.fresh)?;
    let ctx = Context::new(base.model.clone(), Some(data), &options.context)?;
    log(&format!("{} decompositions", specs.len()));
    let x = Execution { ctx: &ctx, base: &base, data, folder: &folder, fresh: options.fresh, log };
    execute(&x, &specs, &Share::All)?;
    crate::report::write(out, &folder.report(), None)?;
    Ok(folder.report())
}
