//! The analyses of a study folder: per run (gallery, explanations, faithfulness curves), per
//! group of runs that differ only in seed (stability, consensus), and across runs (frontiers).

use std::path::Path;

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use super::folder::StudyFolder;
use super::results::ResultRow;
use super::spec::RunSpec;
use crate::analysis::{atlas, consensus, explain, faithfulness, frontier, gallery, stability};
use crate::decomp::factors::load_factors;
use crate::decomp::{Components, Context, Role, presets};
use crate::figures::{self, Cell, Grid, Scale, draw_grid};
use crate::image::ImageShape;
use crate::io::{write_atomic, write_json};

/// Components of a finished run: `(displayed, residual)`.
pub fn run_components(dir: &Path) -> Result<(Components, Components)> {
    let d = load_factors(&dir.join("factors.safetensors"))?;
    Ok((Components::of(&d, |r| r == Role::Displayed), Components::of(&d, |r| r == Role::Residual)))
}

/// The parsed `run.json` of a finished run folder.
pub fn run_record(dir: &Path) -> Result<Value> {
    let path = dir.join("run.json");
    let text = std::fs::read_to_string(&path).with_context(|| format!("{} is not a finished run folder", dir.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// The `fingerprint` a run or analysis record holds, if it can be read.
fn fingerprint(path: &Path) -> Option<String> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["fingerprint"].as_str().map(str::to_string)
}

/// Gallery, concept atlas, explanations and faithfulness curves of one run folder, whose run
/// has fingerprint `run`; skipped when they were made from that run (`analysis.json` holds it).
pub fn analyse_run(ctx: &Context, dir: &Path, run: &str) -> Result<()> {
    crate::interrupt::check()?;
    if fingerprint(&dir.join("analysis.json")).as_deref() == Some(run) {
        return Ok(());
    }
    let (Some(splits), Some(shape)) = (&ctx.data, ctx.image) else { return Ok(()) };
    let (shown, residual) = run_components(dir)?;
    let test = &splits.test;
    let names = splits.class_names.as_deref();
    let gallery = || draw_grid(&gallery::gallery(&shown, test, shape, 8, 6, names), &dir.join("gallery.png"));
    let atlas = || match splits.train.labels {
        Some(_) => draw_grid(&atlas::atlas(&shown, &splits.train, shape, 8, names)?, &dir.join("atlas.png")),
        None => Ok(()),
    };
    let explanations = || {
        let images: Vec<(&[f32], Option<u8>)> = (0..4.min(test.len())).map(|i| (test.image(i), test.label(i))).collect();
        let residual = |x: &[f32]| residual.logits(faer::MatRef::from_row_major_slice(x, 1, x.len())).row(0).iter().copied().collect();
        draw_grid(&explain::explanations(&shown, residual, &ctx.model.bias, &images, shape, names), &dir.join("explanations.png"))
    };
    let faithfulness = || {
        let points = faithfulness::curves(&ctx.inter, ctx.pixel_eigen(), &shown, Some(&residual), test);
        // Accuracy curves need labels (the data's are left out when they are not the model's classes).
        if test.labels.is_some() {
            figures::draw_lines(
                &faithfulness::chart(
                    &points,
                    |p| p.test_accuracy,
                    "test accuracy (no bias)",
                    "Faithfulness: accuracy as the strongest components are kept or dropped",
                ),
                &dir.join("faithfulness.png"),
            )?;
        }
        let mut csv = csv::Writer::from_writer(Vec::new());
        for p in &points {
            csv.serialize(p)?;
        }
        write_atomic(&dir.join("faithfulness.csv"), &csv.into_inner()?)
    };
    // Four independent figures, drawn side by side.
    let ((a, b), (c, d)) = rayon::join(|| rayon::join(gallery, atlas), || rayon::join(explanations, faithfulness));
    a.and(b).and(c).and(d)?;
    write_json(&dir.join("analysis.json"), &json!({ "fingerprint": run }))
}

/// Seed stability (Hungarian, sign-aware, top 24, every pair of seeds) and the consensus
/// dictionary of runs that differ only in their seed, written as
/// `analysis/{stability,consensus}_<name>.json` and `analysis/consensus_<name>.png`.
pub fn seed_analysis(folder: &StudyFolder, name: &str, group: &[&RunSpec], image: Option<ImageShape>) -> Result<()> {
    let dir = folder.analysis();
    let runs: Vec<Components> = group.iter().map(|s| run_components(&folder.run(&s.id)).map(|c| c.0)).collect::<Result<_>>()?;
    if runs.len() < 2 || runs.iter().any(Components::is_empty) {
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
    if let Some(shape) = image {
        draw_grid(&consensus_grid(&report, 12, (shape.height, shape.width)), &dir.join(format!("consensus_{name}.png")))?;
    }
    Ok(())
}

/// Groups of runs that differ only in their seed, named by preset and overrides.
pub fn seed_groups(specs: &[RunSpec]) -> Vec<(String, Vec<&RunSpec>)> {
    let mut groups: Vec<(String, Vec<&RunSpec>)> = Vec::new();
    for s in specs {
        let name = s.seed_group();
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, g)) => g.push(s),
            None => groups.push((name, vec![s])),
        }
    }
    groups.retain(|(_, g)| g.len() >= 2);
    groups
}

/// The `k` best consensus clusters: mean plus, mean minus, mean head.
fn consensus_grid(r: &consensus::ConsensusReport, k: usize, image_side: (usize, usize)) -> Grid {
    let shown: Vec<&consensus::Cluster> = r.clusters.iter().take(k).collect();
    let has_minus = |c: &&consensus::Cluster| c.minus.iter().any(|v| *v != 0.0);
    // A dictionary of symmetric components has no minus patterns: no empty row for them.
    let (mut row_labels, mut rows): (Vec<String>, Vec<Vec<Cell>>) =
        (vec!["plus".into()], vec![shown.iter().map(|c| Cell::Pattern(c.plus.clone())).collect()]);
    if shown.iter().any(has_minus) {
        row_labels.push("minus".into());
        rows.push(shown.iter().map(|c| if has_minus(c) { Cell::Pattern(c.minus.clone()) } else { Cell::Empty }).collect());
    }
    row_labels.push("head".into());
    rows.push(shown.iter().map(|c| Cell::Bars(c.head.clone())).collect());
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
        row_labels,
        rows,
        cell_titles: Vec::new(),
        image_side,
        caption: format!(
            "Clusters of sign-aligned components from different seeds (at most one per seed, similarity ≥ {:.2}); patterns are the members' means. {}",
            r.config.min_similarity,
            crate::analysis::views::CONVENTION
        ),
        scale: Scale::Shared,
    }
}

/// Fidelity-vs-readability scatters over all finished runs.
pub fn draw_frontiers(rows: &[ResultRow], dir: &Path) -> Result<()> {
    let rows: Vec<_> = rows.iter().map(ResultRow::to_map).collect();
    let family = |preset: &str| presets::find(preset).map(|p| p.family.to_string()).unwrap_or_else(|_| "other".into());
    for (x, y, xl, yl) in frontier::AXES {
        let plot = frontier::scatter(&rows, x, y, xl, yl, family);
        // A plane no run has both metrics of (logit R² of a one-output layer) has no figure.
        if plot.points.iter().any(|p| p.x.is_finite() && p.y.is_finite()) {
            figures::draw_scatter(&plot, &dir.join(format!("frontier_{y}_vs_{x}.png")))?;
        }
    }
    Ok(())
}
