//! The runs of a sweep or study: one configuration ([`RunSpec`]) with its folder-name id
//! ([`run_id`]), and the share of a run list that one process does ([`Share`]) when several
//! processes (a job array, executor tasks) work on one folder.

use std::str::FromStr;

use anyhow::{Context as _, Result};

use crate::decomp::{Recipe, presets};
use crate::error::Error;

/// One configuration of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSpec {
    pub id: String,
    pub preset: String,
    pub sets: Vec<String>,
    pub seed: u64,
}

impl RunSpec {
    pub fn new(preset: &str, sets: &[String], seed: u64) -> Self {
        Self { id: run_id(preset, sets, seed), preset: preset.to_string(), sets: sets.to_vec(), seed }
    }

    /// The preset's recipe with the overrides applied.
    pub fn recipe(&self) -> Result<Recipe> {
        presets::find(&self.preset)?.recipe.with_overrides(&self.sets).with_context(|| format!("run {}", self.id))
    }

    /// The name of the group of runs that differ from this one only in their seed.
    pub fn seed_group(&self) -> String {
        run_id(&self.preset, &self.sets, 0).trim_end_matches("__seed=0").to_string()
    }
}

/// Longest run id used as is; longer ones keep a prefix and a hash (folder names are limited
/// to 255 bytes).
pub const MAX_ID: usize = 160;

/// A readable, file-system-safe id: `preset__key=value__…__seed=S`.
pub fn run_id(preset: &str, sets: &[String], seed: u64) -> String {
    let parts: Vec<String> = std::iter::once(preset.to_string()).chain(sets.iter().cloned()).chain([format!("seed={seed}")]).collect();
    let id: String = parts.join("__").chars().map(|c| if c.is_ascii_alphanumeric() || "_=.-".contains(c) { c } else { '-' }).collect();
    if id.len() <= MAX_ID {
        return id;
    }
    let hash = &crate::io::sha256_hex(id.as_bytes())[..12];
    format!("{}__{hash}__seed={seed}", &id[..MAX_ID - 40])
}

/// Which runs of a list one process does.
#[derive(Clone, Debug, PartialEq)]
pub enum Share {
    /// Every run, then what needs them all: the results table, the per-group analyses and the
    /// frontiers.
    All,
    /// Shard `index` of `count` (`--shard I/N`, counted from 0): the runs at positions `index`,
    /// `index + count`, … of the list. The list is the same on every host, so the shards
    /// partition it.
    Shard { index: usize, count: usize },
    /// The runs with these ids (one executor task each); none: only the base model.
    Runs(Vec<String>),
}

impl Share {
    /// The runs of `specs` that are this share's; an id that is not in `specs` is an error.
    pub fn select<'a>(&self, specs: &'a [RunSpec]) -> Result<Vec<&'a RunSpec>> {
        Ok(match self {
            Share::All => specs.iter().collect(),
            Share::Shard { index, count } => specs.iter().skip(*index).step_by(*count).collect(),
            Share::Runs(ids) => ids
                .iter()
                .map(|id| {
                    specs.iter().find(|s| s.id == *id).ok_or_else(|| Error::Invalid(format!("the sweep has no run {id} (see --list)")))
                })
                .collect::<Result<_, _>>()?,
        })
    }
}

impl FromStr for Share {
    type Err = Error;

    /// `I/N`, a shard of a job array: `0 ≤ I < N`.
    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = || {
            Error::Invalid(format!(
                "--shard {text}: expected I/N with 0 ≤ I < N, shards counted from 0 (Slurm arrays numbered from 1: \
                 $((SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN))/$SLURM_ARRAY_TASK_COUNT)"
            ))
        };
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (index.trim().parse().map_err(|_| bad())?, count.trim().parse().map_err(|_| bad())?);
        if index >= count {
            return Err(bad());
        }
        Ok(Share::Shard { index, count })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_ids_stay_short_and_distinct() {
        let sets = |v: &str| vec![format!("description=\"{}\"", v.repeat(300))];
        let (a, b) = (run_id("provided_sparse", &sets("a"), 0), run_id("provided_sparse", &sets("b"), 0));
        assert!(a.len() <= MAX_ID && a.ends_with("__seed=0") && a != b, "{a} / {b}");
    }

    #[test]
    fn shards_partition_the_run_list() {
        let specs: Vec<RunSpec> = (0..7).map(|seed| RunSpec::new("provided_sparse", &[], seed)).collect();
        for count in 1..=8 {
            let mut seen: Vec<&str> =
                (0..count).flat_map(|index| Share::Shard { index, count }.select(&specs).unwrap()).map(|s| s.id.as_str()).collect();
            seen.sort();
            let mut all: Vec<&str> = specs.iter().map(|s| s.id.as_str()).collect();
            all.sort();
            assert_eq!(seen, all, "{count} shards: every run exactly once");
        }
        assert_eq!("2/3".parse::<Share>().unwrap(), Share::Shard { index: 2, count: 3 });
        for bad in ["3/3", "1", "a/2", "0/0", "-1/2"] {
            assert!(bad.parse::<Share>().unwrap_err().to_string().contains("counted from 0"), "{bad}");
        }
        let err = Share::Runs(vec!["nope".into()]).select(&specs).unwrap_err().to_string();
        assert!(err.contains("no run nope"), "{err}");
    }
}
