//! Resumable sweeps: a grid of presets × overrides × seeds ([`SweepFile`], expanded into
//! [`RunSpec`]s), fitted against one base model, each run in its own folder, then analysed
//! ([`execute`], shared with the study). A run is reused only when its folder holds a finished
//! run made from the same inputs ([`super::folder`]), so a killed sweep restarted with the same
//! command redoes exactly the unfinished runs, and the results table — rebuilt from finished
//! run folders — holds every configuration exactly once.
//!
//! Several processes may share one sweep folder, each doing its [`Share`] of the runs (the
//! shards of a job array, executor tasks): every stage — the base model, each run with its
//! analyses — is made under its own lock ([`super::folder::lock_stage`]), by whichever process
//! comes first, and reused by the others. The unsharded sweep then finishes what is missing and
//! writes what needs every run: the results table, the per-group analyses and the frontiers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context as _, Result, bail};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::json;

use super::analyses;
use super::base::{Base, BaseSource, base_model};
use super::folder::{FolderLock, StageState, StudyFolder, checked_state, lock_stage, reuse, stage_state};
use super::record::{DataRecord, Identity, RunClock};
use super::results::{ResultRow, write_results};
use super::run::{RUN_OUTPUTS, RunFacts, decompose, run_identity, write_run};
use super::spec::{RunSpec, Share};
use crate::data::DataSplit;
use crate::decomp::{Context, ContextOptions, Recipe, presets};
use crate::error::Error;
use crate::model::TrainConfig;

/// A sweep file (TOML). Paths are relative to the file's folder.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// A base model to decompose; without it one is trained with `[base]` and cached.
    pub model: Option<PathBuf>,
    /// Folder of MNIST-format IDX files; without it the embedded digits.
    pub data: Option<PathBuf>,
    #[serde(default)]
    pub base: TrainConfig,
    /// Grids, each `presets × (every combination of the list-valued overrides) × seeds`.
    pub grid: Vec<Grid>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub presets: Vec<String>,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
    /// Recipe overrides; a list value is a grid axis, a scalar applies to every run.
    #[serde(default)]
    pub set: toml::Table,
}

fn default_seeds() -> Vec<u64> {
    vec![0]
}

impl SweepFile {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut file: SweepFile = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        file.model = file.model.map(|m| dir.join(m));
        file.data = file.data.map(|d| dir.join(d));
        Ok(file)
    }

    /// Every configuration, with unique ids (duplicates across grids are merged); every
    /// preset and override is checked here, before any work.
    pub fn expand(&self) -> Result<Vec<RunSpec>> {
        let mut out: Vec<RunSpec> = Vec::new();
        let size = |grid: &Grid| {
            let axes = grid.set.values().map(|v| if let toml::Value::Array(vs) = v { vs.len() } else { 1 });
            axes.chain([grid.presets.len(), grid.seeds.len()]).try_fold(1usize, |acc, n| acc.checked_mul(n))
        };
        let total = self.grid.iter().map(size).try_fold(0usize, |acc, n| n.and_then(|n| acc.checked_add(n)));
        if total.is_none_or(|n| n > MAX_RUNS) {
            bail!(Error::Invalid(format!("the sweep's grids hold more than {MAX_RUNS} runs; split it into several sweeps")));
        }
        for grid in &self.grid {
            let mut combos: Vec<Vec<String>> = vec![Vec::new()];
            for (key, value) in &grid.set {
                let values: Vec<&toml::Value> = match value {
                    toml::Value::Array(vs) => vs.iter().collect(),
                    v => vec![v],
                };
                combos =
                    combos.into_iter().flat_map(|c| values.iter().map(move |v| [c.clone(), vec![format!("{key}={v}")]].concat())).collect();
            }
            for preset in &grid.presets {
                let recipe = presets::find(preset)?.recipe;
                for sets in &combos {
                    recipe.with_overrides(sets).with_context(|| format!("sweep grid for preset {preset}"))?;
                    for &seed in &grid.seeds {
                        let spec = RunSpec::new(preset, sets, seed);
                        if !out.iter().any(|r| r.id == spec.id) {
                            out.push(spec);
                        }
                    }
                }
            }
        }
        if out.is_empty() {
            bail!(Error::Invalid(
                "the sweep has no runs: each [[grid]] needs at least one preset, one seed and one value for each `set` key".into()
            ));
        }
        Ok(out)
    }
}

/// The most runs one sweep may hold.
pub const MAX_RUNS: usize = 100_000;

/// What [`execute`] needs to know besides the runs.
pub struct Execution<'a> {
    pub ctx: &'a Context,
    pub base: &'a Base,
    pub data: &'a DataSplit,
    pub folder: &'a StudyFolder,
    /// Redo runs made from other inputs instead of stopping.
    pub fresh: bool,
    pub log: &'a (dyn Fn(&str) + Sync),
}

/// Does this `share` of `specs`: every run that is not finished, each followed by its
/// analyses (in parallel, one single-threaded run per core). With [`Share::All`], also the
/// results table (rewritten as runs finish), the seed analyses and the frontier figures. Failed
/// runs are reported and left unfinished; the others go on. Returns the share's rows.
pub fn execute(x: &Execution<'_>, specs: &[RunSpec], share: &Share) -> Result<Vec<ResultRow>> {
    let mine = share.select(specs)?;
    let whole = *share == Share::All;
    // Every recipe is checked, and every stale run reported, before any work.
    let mut plans = Vec::new();
    let mut finished = 0;
    for spec in &mine {
        let recipe = spec.recipe()?;
        recipe.validate(&x.ctx.limits()).map_err(|e| Error::Invalid(format!("run {}: {e}", spec.id)))?;
        let identity = run_identity(&x.base.sha256, Some(&x.data.checksum), x.ctx.options(), &recipe, spec.seed);
        finished += matches!(checked_state(&x.folder.run(&spec.id), &identity, &RUN_OUTPUTS, x.fresh)?, StageState::Finished(_)) as usize;
        plans.push((*spec, recipe, identity));
    }
    (x.log)(&format!("{} runs, {finished} already finished", mine.len()));
    // Longest first, each free core taking the next run, so that the last to finish are short
    // ones; the rows are collected in the specs' order whatever the order of work.
    plans.sort_by_key(|(_, r, _)| std::cmp::Reverse(r.total_steps() * (r.rank * r.banks + r.residual_rank)));
    let table_lock = Mutex::new(());
    let mut failures: Vec<String> = plans
        .iter()
        .par_bridge()
        .filter_map(|(spec, recipe, identity)| {
            let made = crate::linalg::sequential(|| finish_run(x, spec, recipe, identity));
            if !matches!(made, Ok(false)) {
                (x.log)(&format!("  {} {}", spec.id, if made.is_ok() { "done" } else { "FAILED" }));
            }
            let table = if whole && made.is_ok() {
                let _guard = table_lock.lock().unwrap_or_else(|e| e.into_inner());
                collect_results(x, &mine).and_then(|rows| write_results(&x.folder.results_json(), &x.folder.results_csv(), &rows))
            } else {
                Ok(())
            };
            match (made, table) {
                (Ok(_), Ok(())) => None,
                (Err(e), _) | (Ok(_), Err(e)) => Some(format!("{}: {e:#}", spec.id)),
            }
        })
        .collect();
    failures.sort();
    crate::interrupt::check()?;
    let rows = collect_results(x, &mine)?;
    if whole {
        write_results(&x.folder.results_json(), &x.folder.results_csv(), &rows)?;
    }
    if !failures.is_empty() {
        bail!("{} run(s) failed:\n  {}", failures.len(), failures.join("\n  "));
    }
    if whole {
        (x.log)("stability, consensus and frontiers");
        for (name, group) in analyses::seed_groups(specs) {
            analyses::seed_analysis(x.folder, &name, &group, x.ctx.image)?;
        }
        analyses::draw_frontiers(&rows, &x.folder.analysis())?;
    }
    Ok(rows)
}

/// The `sweep` command (and Python's `bilens.sweep`): this `share` of the runs of `sweep`
/// (whose `data` and `model` the caller may have replaced) into `out`, resumably: the base
/// model trained or read, then [`execute`]. The whole sweep holds `out` alone; shares hold it
/// together (see [`FolderLock`]). Returns the share's rows.
pub fn run_sweep(sweep: &SweepFile, out: &Path, share: &Share, fresh: bool, log: &(dyn Fn(&str) + Sync)) -> Result<Vec<ResultRow>> {
    let specs = sweep.expand()?;
    let nothing = share.select(&specs)?.is_empty();
    let data = crate::data::load(sweep.data.as_deref())?;
    let _lock = if *share == Share::All { FolderLock::acquire(out)? } else { FolderLock::share(out)? };
    let folder = StudyFolder::new(out);
    let source = match &sweep.model {
        Some(path) => BaseSource::File(path.clone()),
        None => {
            sweep.base.validate(&data.train)?;
            BaseSource::Train(sweep.base.clone())
        }
    };
    let base = base_model(&source, &data, &folder.base(), fresh, log)?;
    if nothing {
        return Ok(Vec::new());
    }
    let ctx = Context::new(base.model.clone(), Some(&data), &ContextOptions::default())?;
    execute(&Execution { ctx: &ctx, base: &base, data: &data, folder: &folder, fresh, log }, &specs, share)
}

/// Makes the run of `spec` unless it is finished, then its analyses unless they are up to
/// date, holding the run's lock: a run is made by one process, and never redone once finished.
/// Returns whether it was made here.
fn finish_run(x: &Execution<'_>, spec: &RunSpec, recipe: &Recipe, identity: &Identity) -> Result<bool> {
    let dir = x.folder.run(&spec.id);
    let _lock = lock_stage(&dir, x.log)?;
    let made = !reuse(&dir, identity, &RUN_OUTPUTS, x.fresh, &|w| (x.log)(&format!("warning: {w}")))?;
    match made {
        true => run_one(x, spec, recipe, identity)?,
        // A run finished before its analyses were part of it (or with others) gets them now.
        false => analyses::analyse_run(x.ctx, &dir, &identity.fingerprint())?,
    }
    Ok(made)
}

fn run_one(x: &Execution<'_>, spec: &RunSpec, recipe: &Recipe, identity: &Identity) -> Result<()> {
    let clock = RunClock::start("decompose");
    let dir = x.folder.run(&spec.id);
    let outcome = decompose(x.ctx, recipe, spec.seed, &mut |_| {})?;
    let inputs =
        json!({ "model": x.base.path, "model_sha256": x.base.sha256, "preset": spec.preset, "overrides": spec.sets, "run_id": spec.id });
    let facts = RunFacts { clock: &clock, identity, seed: spec.seed, data: Some(DataRecord::of(x.data)), inputs };
    write_run(&dir, &spec.id, x.ctx, recipe, &outcome, facts, |run| analyses::analyse_run(x.ctx, &dir, run))
}

/// One row per finished run, in `specs` order.
fn collect_results(x: &Execution<'_>, specs: &[&RunSpec]) -> Result<Vec<ResultRow>> {
    let mut rows = Vec::new();
    for spec in specs {
        let dir = x.folder.run(&spec.id);
        let recipe = spec.recipe()?;
        let identity = run_identity(&x.base.sha256, Some(&x.data.checksum), x.ctx.options(), &recipe, spec.seed);
        if !matches!(stage_state(&dir, &identity, &RUN_OUTPUTS), StageState::Finished(_)) {
            continue;
        }
        let text = std::fs::read_to_string(dir.join("metrics.json")).with_context(|| format!("reading metrics of {}", spec.id))?;
        rows.push(ResultRow {
            run_id: spec.id.clone(),
            preset: spec.preset.clone(),
            family: presets::find(&spec.preset).map(|p| p.family.to_string()).unwrap_or_default(),
            seed: spec.seed,
            overrides: spec.sets.join(" "),
            model_sha256: x.base.sha256.clone(),
            metrics: serde_json::from_str(&text).with_context(|| format!("parsing metrics of {}", spec.id))?,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_sweep_reads_and_expands() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sweeps");
        let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
        files.retain(|p| p.extension().is_some_and(|e| e == "toml"));
        assert!(files.iter().any(|p| p.ends_with("concepts.toml")), "{files:?}");
        for path in files {
            let specs = SweepFile::read(&path).and_then(|f| f.expand()).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            for spec in specs {
                spec.recipe().unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            }
        }
    }

    #[test]
    fn grids_expand_to_unique_ids() {
        let file: SweepFile = toml::from_str(
            r#"
            [[grid]]
            presets = ["provided_sparse", "evidence_split_r32"]
            seeds = [0, 1]
            set = { steps = 5, rank = [4, 8] }
            [[grid]]
            presets = ["provided_sparse"]
            seeds = [1]
            set = { steps = 5, rank = 4 }
            "#,
        )
        .unwrap();
        let specs = file.expand().unwrap();
        assert_eq!(specs.len(), 8, "2 presets × 2 ranks × 2 seeds, the second grid repeats one");
        assert!(
            specs.iter().any(|s| s.id == "provided_sparse__rank=8__steps=5__seed=1"),
            "{:?}",
            specs.iter().map(|s| &s.id).collect::<Vec<_>>()
        );
        let bad: SweepFile = toml::from_str("[[grid]]\npresets = [\"nope\"]\n").unwrap();
        assert!(bad.expand().unwrap_err().to_string().contains("nope"));
        let bad_key: SweepFile = toml::from_str("[[grid]]\npresets = [\"provided_sparse\"]\nset = { rnak = 3 }\n").unwrap();
        assert!(format!("{:#}", bad_key.expand().unwrap_err()).contains("rnak"));
        let axis = format!("[{}]", (0..40).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
        let huge: SweepFile = toml::from_str(&format!(
            "[[grid]]\npresets = [\"provided_sparse\"]\nset = {{ a = {axis}, b = {axis}, c = {axis}, d = {axis} }}\n"
        ))
        .unwrap();
        assert!(huge.expand().unwrap_err().to_string().contains("more than 100000 runs"));
        for empty in ["seeds = []", "set = { rank = [] }"] {
            let file: SweepFile = toml::from_str(&format!("[[grid]]\npresets = [\"provided_sparse\"]\n{empty}\n")).unwrap();
            let err = file.expand().unwrap_err().to_string();
            assert!(err.contains("no runs") && err.contains("one seed") && err.contains("`set` key"), "{empty}: {err}");
        }
    }
}
