//! Stability and consensus across seeds, as readable summaries: each group's pair
//! similarities and consensus clusters as tables with a few decimals, the matched components
//! and the clusters' members drawn from the runs' factors (canvases the script paints), and
//! the raw JSON behind a disclosure. Other files of `analysis/` follow, by name.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::embed::{csv_table, png_file, raw_json};
use super::html::{Cell, Column, Html, anchor_id, escape};
use super::inputs::{Study, read_json};
use super::payload::RunComponents;

/// Matched pairs drawn per seed group, and consensus clusters listed.
const MATCHED_SHOWN: usize = 8;
const CLUSTERS_SHOWN: usize = 12;

/// A seed group: the name in `analysis/stability_<name>.json` / `consensus_<name>.json`.
pub fn groups(study: &Study) -> Vec<String> {
    let mut names: Vec<String> = files(&study.dir.join("analysis"))
        .iter()
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?;
            let name = stem.strip_prefix("stability_").or_else(|| stem.strip_prefix("consensus_"))?;
            (p.extension()? == "json").then(|| name.to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The seed group whose stability analysis holds run `id`: its name, its number of runs and
/// their mean match (Hungarian, over the `top` strongest components), with `top`.
pub fn stability_of(study: &Study, id: &str) -> Option<(String, usize, f64, u64)> {
    groups(study).into_iter().find_map(|name| {
        let v = read_json(&study.dir.join("analysis").join(format!("stability_{name}.json"))).ok()??;
        let runs = v["runs"].as_array()?;
        runs.iter().any(|r| r.as_str() == Some(id)).then_some(())?;
        Some((name, runs.len(), v["hungarian"]["mean"].as_f64()?, v["top"].as_u64()?))
    })
}

/// The element id of a group's section.
pub fn group_id(name: &str) -> String {
    format!("seeds-{}", anchor_id(name))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|e| e.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect()).unwrap_or_default();
    out.sort();
    out
}

/// A canvas the script paints with pattern `which` ("plus"/"minus") of component `k` of run `id`.
fn thumb(h: &mut Html, id: &str, k: usize, which: &str, label: &str) {
    h.elem(
        "canvas",
        &[
            ("class", "pat"),
            ("data-run", &anchor_id(id)),
            ("data-k", &k.to_string()),
            ("data-which", which),
            ("role", "img"),
            ("aria-label", label),
        ],
        "",
    );
}

/// The section; `components` gives a run's components when the page carries them.
pub fn section<'c>(h: &mut Html, study: &Study, components: &dyn Fn(&str) -> Option<&'c RunComponents>) {
    let dir = study.dir.join("analysis");
    h.open("section", &[("id", "seeds"), ("aria-labelledby", "seeds-h")]).elem(
        "h2",
        &[("id", "seeds-h")],
        "Stability and consensus across seeds",
    );
    if !dir.is_dir() {
        h.missing("No cross-run analysis: analysis/ is missing.");
        h.close("section");
        return;
    }
    let names = groups(study);
    if names.is_empty() {
        h.missing("No seed groups: analysis/ holds no stability_*.json or consensus_*.json (they need a configuration run with two or more seeds).");
    } else {
        h.elem(
            "p",
            &[],
            "For every configuration run with several seeds: how alike its components come out. Similarity of two components is the mean |cosine| of their plus and minus \
             patterns under the better of the two sign orientations (1 = the same component).",
        );
    }
    for name in &names {
        h.open("section", &[("class", "seed-group"), ("id", &group_id(name)), ("aria-labelledby", &format!("{}-h", group_id(name)))]);
        h.open("h3", &[("id", &format!("{}-h", group_id(name)))]).raw(&escape(name).replace("__", "<wbr>__")).close("h3");
        match read_json(&dir.join(format!("stability_{name}.json"))) {
            Ok(Some(v)) => stability(h, &v, components),
            Ok(None) => {
                h.missing(&format!("analysis/stability_{name}.json is missing."));
            }
            Err(e) => {
                h.missing(&format!("{e:#}"));
            }
        }
        match read_json(&dir.join(format!("consensus_{name}.json"))) {
            Ok(Some(v)) => consensus(h, &v, components),
            Ok(None) => {
                h.missing(&format!("analysis/consensus_{name}.json is missing."));
            }
            Err(e) => {
                h.missing(&format!("{e:#}"));
            }
        }
        h.close("section");
    }
    others(h, &dir, &names);
    h.close("section");
}

fn ids(v: &Value) -> Vec<String> {
    v["runs"].as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_string)).collect()).unwrap_or_default()
}

fn number(v: &Value) -> Cell {
    v.as_f64().map_or_else(|| Cell::text("–"), |f| Cell::number(format!("{f:.3}"), f))
}

/// A seed link.
fn run_link(id: &str) -> String {
    format!("<a href=\"#run-{}\">{}</a>", escape(&anchor_id(id)), escape(id).replace("__", "<wbr>__"))
}

fn stability<'c>(h: &mut Html, v: &Value, components: &dyn Fn(&str) -> Option<&'c RunComponents>) {
    let runs = ids(v);
    let hung = &v["hungarian"];
    h.elem("h4", &[], "Stability");
    h.elem(
        "p",
        &[],
        &format!(
            "The {} strongest displayed components of every pair of seeds, matched one to one (Hungarian, sign-aware): mean similarity {} (median {}, range {}–{}). \
             For comparison, the reference's greedy score {} and the components at the same index {}.",
            v["top"],
            f3(&hung["mean"]),
            f3(&hung["median"]),
            f3(&hung["min"]),
            f3(&hung["max"]),
            f3(&hung["greedy_mean"]),
            f3(&v["index_wise_mean"])
        ),
    );
    let pairs = hung["pairs"].as_array().cloned().unwrap_or_default();
    let rows: Vec<Vec<Cell>> = pairs
        .iter()
        .enumerate()
        .map(|(k, p)| {
            let name = |i: &Value| i.as_u64().and_then(|i| runs.get(i as usize)).map_or_else(|| "?".to_string(), |id| run_link(id));
            vec![
                Cell { html: format!("{} vs {}", name(&p[0]), name(&p[1])), key: k.to_string(), num: false },
                number(&p[2]),
                number(&v["index_wise_pairs"][k]),
            ]
        })
        .collect();
    let columns = [Column::new("pair of seeds", None), Column::new("matched similarity", None), Column::new("same-index similarity", None)];
    h.table("Similarity of every pair of seeds", &columns, &rows);
    let top = v["top"].as_u64().unwrap_or(0) as usize;
    if let (Some(a), Some(b)) = (runs.first(), runs.get(1))
        && let (Some(x), Some(y)) = (components(a), components(b))
    {
        let (x, y) = (x.displayed(), y.displayed());
        let matching = crate::analysis::stability::match_runs(&x, &y, top, false);
        h.elem("p", &[], &format!("The {} strongest of {a}'s components and their matches in {b} (plus pattern above, minus below where the form has one; the match shown in the orientation that fits):", MATCHED_SHOWN.min(matching.pairs.len())));
        h.open("div", &[("class", "matches")]);
        for &(i, j, sim) in matching.pairs.iter().take(MATCHED_SHOWN) {
            let (_, swap) = crate::analysis::stability::oriented_similarity(&x, i, &y, j, false);
            let (p, m) = if swap { ("minus", "plus") } else { ("plus", "minus") };
            h.open("figure", &[("class", "match")]).open("div", &[("class", "pair")]);
            thumb(h, a, i, "plus", &format!("plus pattern of #{} of {a}", i + 1));
            thumb(h, b, j, p, &format!("{p} pattern of #{} of {b}", j + 1));
            // One pattern only for forms without a minus (symmetric components).
            if x.items[i].form.has_minus() && y.items[j].form.has_minus() {
                thumb(h, a, i, "minus", &format!("minus pattern of #{} of {a}", i + 1));
                thumb(h, b, j, m, &format!("{m} pattern of #{} of {b}", j + 1));
            }
            h.close("div").open("figcaption", &[]);
            h.raw(&format!(
                "<a href=\"#card-{}-{i}\">#{}</a> ↔ <a href=\"#card-{}-{j}\">#{}</a>{} · {}",
                escape(&anchor_id(a)),
                i + 1,
                escape(&anchor_id(b)),
                j + 1,
                if swap { " (swapped)" } else { "" },
                fmt3(sim)
            ));
            h.close("figcaption").close("figure");
        }
        h.close("div");
    }
    raw_json(h, v, "stability");
}

fn consensus<'c>(h: &mut Html, v: &Value, components: &dyn Fn(&str) -> Option<&'c RunComponents>) {
    let runs = ids(v);
    let report = &v["report"];
    let clusters = report["clusters"].as_array().cloned().unwrap_or_default();
    h.elem("h4", &[], "Consensus");
    h.elem(
        "p",
        &[],
        &format!(
            "The {} strongest components of each of the {} seeds ({} in all) clustered at similarity ≥ {}, at most one per seed: {} clusters. \
             The {CLUSTERS_SHOWN} best-supported come back in {} of {} seeds on average, with mean similarity {}. Each member is drawn from its run (plus pattern).",
            report["config"]["per_run"],
            runs.len(),
            report["components"],
            report["config"]["min_similarity"],
            clusters.len(),
            f3(&v["mean_support_top12"]),
            runs.len(),
            f3(&v["mean_similarity_top12"])
        ),
    );
    let rows: Vec<Vec<Cell>> = clusters
        .iter()
        .take(CLUSTERS_SHOWN)
        .enumerate()
        .map(|(k, c)| {
            let side = if c["sign"].as_f64().unwrap_or(1.0) < 0.0 { "against" } else { "for" };
            let mut members = String::new();
            for (m, member) in c["members"].as_array().into_iter().flatten().enumerate() {
                let (Some(r), Some(i)) = (member[0].as_u64(), member[1].as_u64()) else { continue };
                let Some(id) = runs.get(r as usize) else { continue };
                let which = if c["swapped"][m].as_bool() == Some(true) { "minus" } else { "plus" };
                let mut t = Html::new();
                match components(id) {
                    Some(_) => thumb(&mut t, id, i as usize, which, &format!("{which} pattern of #{} of {id}", i + 1)),
                    None => {
                        t.text(&format!("#{}", i + 1));
                    }
                }
                members += &format!(
                    "<a class=\"member\" href=\"#card-{}-{i}\" title=\"#{} of {}\">{}</a>",
                    escape(&anchor_id(id)),
                    i + 1,
                    escape(id),
                    t.finish()
                );
            }
            vec![
                Cell::value(&Value::from(k + 1)),
                Cell::text(&format!("{side} {}", c["class"])),
                Cell::number(format!("{}/{}", c["support"], runs.len()), c["support"].as_f64().unwrap_or(0.0)),
                number(&c["mean_similarity"]),
                number(&c["min_similarity"]),
                number(&c["class_agreement"]),
                Cell { html: format!("<span class=\"members\">{members}</span>"), key: String::new(), num: false },
            ]
        })
        .collect();
    let columns =
        ["cluster", "head", "support", "mean similarity", "least similarity", "class agreement", "members"].map(|c| Column::new(c, None));
    h.table(&format!("The {CLUSTERS_SHOWN} best-supported consensus clusters"), &columns, &rows);
    raw_json(h, v, "consensus");
}

/// `analysis/` files other than the seed groups' summaries and the figures drawn in the page.
fn others(h: &mut Html, dir: &Path, names: &[String]) {
    let drawn = |stem: &str| {
        stem.starts_with("frontier_")
            || names.iter().any(|n| [format!("stability_{n}"), format!("consensus_{n}")].contains(&stem.to_string()))
    };
    let rest: Vec<PathBuf> = files(dir)
        .into_iter()
        .filter(|p| {
            let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            ["json", "csv", "png"].contains(&ext.as_str()) && !drawn(stem)
        })
        .collect();
    if rest.is_empty() {
        return;
    }
    h.elem("h3", &[], "Other analysis files");
    for p in rest {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase().as_str() {
            "png" => {
                png_file(h, dir, &name, &name);
            }
            "csv" => {
                h.elem("h4", &[], &name);
                csv_table(h, &p, &name);
            }
            _ => match read_json(&p) {
                Ok(Some(v)) => raw_json(h, &v, &name),
                Ok(None) => {}
                Err(e) => {
                    h.missing(&format!("{e:#}"));
                }
            },
        }
    }
}

fn fmt3(v: f64) -> String {
    format!("{v:.3}")
}

fn f3(v: &Value) -> String {
    v.as_f64().map_or_else(|| "–".to_string(), fmt3)
}
