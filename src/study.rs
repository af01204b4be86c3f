//! The whole study in one call: train (or load) a base model, its eigen baseline, the key
//! presets (some over several seeds), per-run analyses, seed stability and
//! consensus, frontier plots, and the HTML report. Every stage is cached on disk, so an
//! interrupted study resumes where it stopped.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::{Map, Value, json};

use crate::analysis::{consensus, eigen_baseline, explain, faithfulness, frontier, gallery, stability};
use crate::data::DataSplit;
use crate::decomp::bank::Role;
use crate::decomp::components::Components;
use crate::decomp::experiment::Context;
use crate::decomp::{presets, save};
use crate::figures::{self, Cell, Grid, Scale};
use crate::model::{Bilinear, TrainConfig, load_model};
use crate::run::{write_atomic, write_json};
use crate::sweep::{RunSpec, cached_base_model, run_all, run_id};

/// What the study runs: each `(preset, overrides, seeds)` once per seed. Presets run over
/// several seeds get stability and consensus analyses.
pub struct Plan {
    pub runs: Vec<(String, Vec<String>, Vec<u64>)>,
}

impl Plan {
    /// The key presets of the reference study at their own settings, its main recipe and
    /// bilens's eigen-pair dictionary over three seeds.
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
                seeded("eigen_pairs_onehot"),
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
        self.runs
            .iter()
            .flat_map(|(p, sets, seeds)| {
                seeds.iter().map(move |&seed| RunSpec { id: run_id(p, sets, seed), preset: p.clone(), sets: sets.clone(), seed })
            })
            .collect()
    }
}

/// Runs the study into `out`, returning the report's path. `model` skips training.
pub fn run(
    data: &DataSplit,
    model: Option<&Path>,
    base: &TrainConfig,
    plan: &Plan,
    out: &Path,
    log: impl Fn(&str) + Sync,
) -> Result<PathBuf> {
    let (model, model_path): (Bilinear, PathBuf) = match model {
        Some(p) => (load_model(p)?, p.to_path_buf()),
        None => {
            log("training the base model");
            (cached_base_model(&out.join("base"), base, data)?, out.join("base/model.safetensors"))
        }
    };
    if !out.join("eigen/run.json").exists() {
        log("eigen baseline");
        eigen_baseline::write(&model, &model_path, data, &out.join("eigen"), 4, &eigen_baseline::DEFAULT_KS)?;
    }
    let ctx = Context::new(model, data)?;
    let specs = plan.specs();
    log(&format!("{} decompositions", specs.len()));
    run_all(&ctx, data, &model_path, &specs, out, |spec, r| log(&format!("  {} {}", spec.id, if r.is_ok() { "done" } else { "FAILED" })))?;
    log("per-run analyses");
    analyse_runs(&ctx, out, &specs)?;
    log("stability, consensus and frontiers");
    for (name, group) in seed_groups(&specs) {
        seed_analysis(out, &name, &group)?;
    }
    let rows = crate::sweep::collect_results(out, &specs)?;
    draw_frontiers(&rows, &out.join("analysis"))?;
    let report = out.join("report.html");
    crate::report::write(out, &report, None)?;
    Ok(report)
}

/// Components of a finished run: `(displayed, residual)`.
fn run_components(dir: &Path) -> Result<(Components, Components)> {
    let mut d = save::load_factors(&dir.join("factors.safetensors"))?;
    Ok((Components::of(&mut d, |r| r == Role::Displayed), Components::of(&mut d, |r| r == Role::Residual)))
}

/// [`analyse_run`] for every finished run of `specs`, one run per core.
pub fn analyse_runs(ctx: &Context, out: &Path, specs: &[RunSpec]) -> Result<()> {
    use rayon::prelude::*;
    specs
        .par_iter()
        .map(|s| out.join("runs").join(&s.id))
        .filter(|dir| dir.join("run.json").exists())
        .try_for_each(|dir| crate::linalg::sequential(|| analyse_run(ctx, &dir)))
}

/// Gallery, explanations and faithfulness curves of one run folder (skipped when present).
pub fn analyse_run(ctx: &Context, dir: &Path) -> Result<()> {
    if dir.join("faithfulness.csv").exists() {
        return Ok(());
    }
    let (shown, residual) = run_components(dir)?;
    figures::draw_grid(&gallery::gallery(&shown, &ctx.test, 8, 6), &dir.join("gallery.png"))?;
    let images: Vec<(&[f32], u8)> = (0..4).map(|i| (ctx.test.image(i), ctx.test.labels[i])).collect();
    let rest = |x: &[f32]| {
        let z = residual.logits(faer::MatRef::from_row_major_slice(x, 1, x.len()));
        (0..ctx.model.bias.len()).map(|c| ctx.model.bias[c] + z[(0, c)]).collect()
    };
    figures::draw_grid(&explain::explanations(&shown, rest, &images, 2, 4), &dir.join("explanations.png"))?;
    let eigen = crate::interaction::eigen::Eigen::pixel(&ctx.inter);
    let points = faithfulness::curves(&ctx.inter, &eigen, &shown, Some(&residual), &ctx.test);
    figures::draw_lines(
        &faithfulness::chart(
            &points,
            |p| p.test_accuracy,
            "test accuracy (no bias)",
            "Faithfulness: accuracy as the strongest components are kept or dropped",
        ),
        &dir.join("faithfulness.png"),
    )?;
    write_atomic(&dir.join("faithfulness.csv"), &crate::decomp::experiment::csv_bytes(&points)?)
}

/// Seed stability (Hungarian, sign-aware, top 24, every pair of seeds) and the consensus
/// dictionary of runs that differ only in their seed, written as
/// `analysis/{stability,consensus}_<name>.json` and `analysis/consensus_<name>.png`.
pub fn seed_analysis(out: &Path, name: &str, group: &[&RunSpec]) -> Result<()> {
    let dir = out.join("analysis");
    let runs: Vec<Components> = group.iter().map(|s| run_components(&out.join("runs").join(&s.id)).map(|c| c.0)).collect::<Result<_>>()?;
    if runs.len() < 2 {
        return Ok(());
    }
    let ids: Vec<&str> = group.iter().map(|s| s.id.as_str()).collect();
    let top = 24.min(runs[0].len());
    let hungarian = stability::seed_stability(&runs, top, false)?;
    let index_wise: Vec<f64> = (0..runs.len())
        .flat_map(|i| (i + 1..runs.len()).map(move |j| (i, j)))
        .map(|(i, j)| stability::index_wise(&runs[i], &runs[j], top, false).mean)
        .collect();
    let index_wise_mean = index_wise.iter().sum::<f64>() / index_wise.len() as f64;
    write_json(
        &dir.join(format!("stability_{name}.json")),
        &json!({ "runs": ids, "top": top, "hungarian": hungarian, "index_wise_mean": index_wise_mean, "index_wise_pairs": index_wise }),
    )?;
    let report = consensus::consensus(&runs, &consensus::ConsensusConfig::default());
    write_json(
        &dir.join(format!("consensus_{name}.json")),
        &json!({ "runs": ids, "mean_support_top12": report.mean_support_top(12), "mean_similarity_top12": report.mean_similarity_top(12), "report": report }),
    )?;
    figures::draw_grid(&consensus_grid(&report, 12), &dir.join(format!("consensus_{name}.png")))
}

/// Groups of runs that differ only in their seed, named by preset and overrides.
pub fn seed_groups(specs: &[RunSpec]) -> Vec<(String, Vec<&RunSpec>)> {
    let mut groups: Vec<(String, Vec<&RunSpec>)> = Vec::new();
    for s in specs {
        let name = run_id(&s.preset, &s.sets, 0).trim_end_matches("__seed=0").to_string();
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, g)) => g.push(s),
            None => groups.push((name, vec![s])),
        }
    }
    groups.retain(|(_, g)| g.len() >= 2);
    groups
}

/// The `k` best consensus clusters: mean plus, mean minus, mean head.
fn consensus_grid(r: &consensus::ConsensusReport, k: usize) -> Grid {
    let shown: Vec<&consensus::Cluster> = r.clusters.iter().take(k).collect();
    Grid {
        title: format!("Consensus dictionary over {} seeds: the {} best-supported clusters", r.runs, shown.len()),
        column_titles: shown
            .iter()
            .map(|c| {
                format!(
                    "{}{} · {}/{} seeds\nsimilarity {:.2}",
                    if c.sign < 0.0 { "−" } else { "+" },
                    c.class,
                    c.support,
                    r.runs,
                    c.mean_similarity
                )
            })
            .collect(),
        row_labels: vec!["plus".into(), "minus".into(), "head".into()],
        rows: vec![
            shown.iter().map(|c| Cell::Pattern(c.plus.clone())).collect(),
            shown.iter().map(|c| if c.minus.iter().all(|v| *v == 0.0) { Cell::Empty } else { Cell::Pattern(c.minus.clone()) }).collect(),
            shown.iter().map(|c| Cell::Bars(c.head.clone())).collect(),
        ],
        cell_titles: Vec::new(),
        image_side: (28, 28),
        caption: format!(
            "Clusters of sign-aligned components from different seeds (at most one per seed, similarity ≥ {:.2}); patterns are the members' means. {}",
            r.config.min_similarity,
            figures::components::CONVENTION
        ),
        scale: Scale::Shared,
    }
}

/// Fidelity-vs-interpretability scatters over all finished runs.
pub fn draw_frontiers(rows: &[Map<String, Value>], dir: &Path) -> Result<()> {
    let family = |preset: &str| presets::find(preset).map(|p| p.family.to_string()).unwrap_or_else(|_| "other".into());
    for (x, y, xl, yl) in frontier::AXES {
        figures::draw_scatter(&frontier::scatter(rows, x, y, xl, yl, family), &dir.join(format!("frontier_{y}_vs_{x}.png")))?;
    }
    Ok(())
}
