//! Study folders on disk: their layout ([`StudyFolder`]), the one rule for whether a stage is
//! finished and may be reused ([`stage_state`], [`reuse`]), one writer per stage
//! ([`lock_stage`]) and per folder ([`FolderLock`]).
//!
//! A stage (the base model, the eigen baseline, one decomposition run) is finished when its
//! `run.json` — written last — exists, parses, carries the fingerprint of the stage's
//! [`Identity`] and its output files exist. A stage made from other inputs is *stale*: a
//! resumed study stops and says what changed, unless asked to start afresh. A stage whose
//! record or files are damaged is redone, with a warning.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::lock::StageLock;
use super::record::{Identity, RunRecord};
use crate::error::Error;

/// The layout of a study or sweep folder.
#[derive(Clone, Debug)]
pub struct StudyFolder {
    pub root: PathBuf,
}

impl StudyFolder {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `base/`: the base model trained for the study.
    pub fn base(&self) -> PathBuf {
        self.root.join("base")
    }

    /// `eigen/`: the eigendecomposition baseline.
    pub fn eigen(&self) -> PathBuf {
        self.root.join("eigen")
    }

    /// `runs/<id>/`: one decomposition run.
    pub fn run(&self, id: &str) -> PathBuf {
        self.root.join("runs").join(id)
    }

    /// `cross_model/`: a second base model (`base/`), the study's cross-model run fitted to it
    /// (`runs/<id>/`), and that run matched with the same run on the study's own base model
    /// (`compare.json`, `compare.png`).
    pub fn cross_model(&self) -> PathBuf {
        self.root.join("cross_model")
    }

    /// `analysis/`: seed stability, consensus and frontier figures.
    pub fn analysis(&self) -> PathBuf {
        self.root.join("analysis")
    }

    /// `results.json` and `results.csv`: one row per finished run.
    pub fn results_json(&self) -> PathBuf {
        self.root.join("results.json")
    }

    pub fn results_csv(&self) -> PathBuf {
        self.root.join("results.csv")
    }

    pub fn report(&self) -> PathBuf {
        self.root.join("report.html")
    }
}

/// Where a stage stands.
#[derive(Debug)]
pub enum StageState {
    /// Nothing there yet (or an unfinished attempt without a `run.json`).
    Absent,
    /// Finished from the same inputs: reuse it.
    Finished(Box<RunRecord>),
    /// Finished from other inputs; the lines say what changed.
    Stale(Vec<String>),
    /// A record or an output that cannot be read.
    Damaged(String),
}

/// The state of the stage in `dir` for `identity`, whose results are the files `outputs`.
pub fn stage_state(dir: &Path, identity: &Identity, outputs: &[&str]) -> StageState {
    let path = dir.join("run.json");
    if !path.exists() {
        return StageState::Absent;
    }
    let record: RunRecord = match std::fs::read_to_string(&path).map_err(anyhow::Error::from).and_then(|t| Ok(serde_json::from_str(&t)?)) {
        Ok(r) => r,
        Err(e) => return StageState::Damaged(format!("{} cannot be read: {e}", path.display())),
    };
    if record.fingerprint != identity.fingerprint() {
        let changes = match &record.identity {
            Some(old) => identity.changes_since(old),
            None => vec!["it was made by a bilens that did not record its inputs".into()],
        };
        return StageState::Stale(changes);
    }
    match outputs.iter().find(|f| !dir.join(f).is_file()) {
        Some(f) => StageState::Damaged(format!("{} is missing", dir.join(f).display())),
        None => StageState::Finished(Box::new(record)),
    }
}

/// Whether the stage in `dir` can be reused: `Ok(true)` when finished from the same inputs;
/// `Ok(false)` when it must be (re)done — absent, damaged (after `warn`), or stale with `fresh`
/// (its folder is then cleared); an error naming what changed when stale without `fresh`.
/// Call it holding the stage's lock ([`lock_stage`]) where other processes may share the folder.
pub fn reuse(dir: &Path, identity: &Identity, outputs: &[&str], fresh: bool, warn: &dyn Fn(&str)) -> Result<bool> {
    match checked_state(dir, identity, outputs, fresh)? {
        StageState::Finished(_) => Ok(true),
        StageState::Absent => Ok(false),
        StageState::Damaged(why) => {
            warn(&format!("redoing {}: {why}", dir.display()));
            clear(dir)?;
            Ok(false)
        }
        StageState::Stale(_) => {
            clear(dir)?;
            Ok(false)
        }
    }
}

/// [`stage_state`], or an error naming what changed when the stage is stale and `fresh` is not
/// set: the check made before any work, which changes nothing on disk.
pub fn checked_state(dir: &Path, identity: &Identity, outputs: &[&str], fresh: bool) -> Result<StageState> {
    match stage_state(dir, identity, outputs) {
        StageState::Stale(changes) if !fresh => Err(Error::Invalid(format!(
            "{} holds results made from other inputs ({}); use another --out, or --fresh to redo them",
            dir.display(),
            changes.join("; ")
        ))
        .into()),
        state => Ok(state),
    }
}

/// Holds the lock of the stage in `dir` (the file `.NAME.lock` beside it, see
/// [`super::lock`]), waiting while another process holds it: of the processes that share a
/// folder, one makes a stage and the others wait, then reuse it.
pub fn lock_stage(dir: &Path, log: &dyn Fn(&str)) -> Result<StageLock> {
    let name = dir.file_name().with_context(|| format!("{} is not a stage folder", dir.display()))?;
    let path = dir.with_file_name(format!(".{}.lock", name.to_string_lossy()));
    StageLock::acquire(&path, log)
}

/// Removes a stage folder's contents (it is redone from scratch).
fn clear(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).with_context(|| format!("clearing {}", dir.display())),
        _ => Ok(()),
    }
}

/// Fails when `dir` holds the results of another kind of command (a training folder given to
/// `decompose --out`, say), so that one command never overwrites another's record.
pub fn check_kind(dir: &Path, command: &str) -> Result<()> {
    let path = dir.join("run.json");
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
    let found = serde_json::from_str::<serde_json::Value>(&text).ok().and_then(|v| v["command"].as_str().map(str::to_string));
    match found {
        Some(other) if other != command => Err(Error::Invalid(format!(
            "{} holds the results of `bilens {other}`; give `bilens {command}` a folder of its own",
            dir.display()
        ))
        .into()),
        _ => Ok(()),
    }
}

/// An advisory lock on an output folder (`DIR/.bilens.lock`), held until dropped or the
/// process ends: exclusive ([`FolderLock::acquire`]) for a command that owns the folder, so two
/// bilens processes never write one folder at once, or shared ([`FolderLock::share`]) by the
/// shards of one sweep, which coordinate through their stage locks. Taking it also proves,
/// before any work, that the folder can be created and written.
pub struct FolderLock {
    file: File,
    exclusive: bool,
}

impl FolderLock {
    pub fn acquire(dir: &Path) -> Result<Self> {
        Self::take(dir, true)
    }

    pub fn share(dir: &Path) -> Result<Self> {
        Self::take(dir, false)
    }

    fn take(dir: &Path, exclusive: bool) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create the output folder {}", dir.display()))?;
        let path = dir.join(".bilens.lock");
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .with_context(|| format!("cannot write to the output folder {}", dir.display()))?;
        match if exclusive { file.try_lock() } else { file.try_lock_shared() } {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = if holder.trim().is_empty() { "shards of a sweep" } else { holder.trim() };
                bail!(Error::Invalid(format!(
                    "{} is in use by another bilens process ({holder}); wait for it to finish or use another --out",
                    dir.display(),
                )));
            }
            // A file system without `flock` (some network and FUSE mounts): shards go on, kept
            // apart by their stage locks, which need no `flock`.
            Err(TryLockError::Error(_)) if !exclusive => {}
            Err(TryLockError::Error(e)) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
        if exclusive {
            file.set_len(0)?;
            file.rewind()?;
            write!(file, "pid {}", std::process::id())?;
            file.flush()?;
        }
        Ok(Self { file, exclusive })
    }
}

impl Drop for FolderLock {
    /// An exclusive holder clears its pid, so that a later refusal names no process that left.
    fn drop(&mut self) {
        if self.exclusive {
            let _ = self.file.set_len(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use serde_json::json;

    fn record(identity: &Identity) -> RunRecord {
        super::super::record::RunClock::start("decompose").finish(identity, 0, json!({}), None, json!({}), json!({})).unwrap()
    }

    #[test]
    fn stages_are_reused_only_from_the_same_inputs() {
        // A folder not yet made, inside a scratch folder.
        let scratch = Scratch::new("folder-stage");
        let dir = scratch.join("stage");
        let id = Identity::new("decompose", json!({ "seed": 0 }));
        let warn = |_: &str| {};
        assert!(!reuse(&dir, &id, &["metrics.json"], false, &warn).unwrap(), "absent");
        std::fs::create_dir_all(&dir).unwrap();
        crate::io::write_json(&dir.join("run.json"), &record(&id)).unwrap();
        assert!(matches!(stage_state(&dir, &id, &["metrics.json"]), StageState::Damaged(_)), "an output is missing");
        crate::io::write_atomic(&dir.join("metrics.json"), b"{}").unwrap();
        assert!(reuse(&dir, &id, &["metrics.json"], false, &warn).unwrap());
        let other = Identity::new("decompose", json!({ "seed": 1 }));
        let err = reuse(&dir, &other, &["metrics.json"], false, &warn).unwrap_err().to_string();
        assert!(err.contains("seed: 0 → 1") && err.contains("--fresh"), "{err}");
        assert!(dir.join("metrics.json").exists(), "a stale stage is kept without --fresh");
        assert!(!reuse(&dir, &other, &["metrics.json"], true, &warn).unwrap());
        assert!(!dir.exists(), "--fresh clears the stale stage");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("run.json"), "{ not json").unwrap();
        let warned = std::cell::Cell::new(false);
        assert!(!reuse(&dir, &id, &[], false, &|_| warned.set(true)).unwrap());
        assert!(warned.get() && !dir.exists(), "a damaged stage is redone with a warning");
    }

    #[test]
    fn one_writer_per_folder_and_one_kind_per_folder() {
        let scratch = Scratch::new("folder-lock");
        let dir = scratch.join("lock");
        let lock = FolderLock::acquire(&dir).unwrap();
        let err = FolderLock::acquire(&dir).err().unwrap().to_string();
        assert!(err.contains("in use by another bilens process") && err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(lock);
        let (first, _second) = (FolderLock::share(&dir).unwrap(), FolderLock::share(&dir).unwrap());
        assert!(FolderLock::acquire(&dir).err().unwrap().to_string().contains("shards of a sweep"), "shares exclude a sole writer");
        drop((first, _second));
        FolderLock::acquire(&dir).unwrap();
        crate::io::write_json(&dir.join("run.json"), &json!({ "command": "train" })).unwrap();
        assert!(check_kind(&dir, "decompose").unwrap_err().to_string().contains("bilens train"));
        assert!(check_kind(&dir, "train").is_ok());
    }
}
