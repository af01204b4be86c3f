//! Run records and atomic output: every result file is written to a temporary sibling and
//! renamed into place, so a killed run never leaves a half-written file behind; every run
//! folder gets a `run.json` saying exactly what produced it.

use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::Value;

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating folder {}", dir.display()))?;
    let name = path.file_name().context("output path has no file name")?.to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

/// Serialises `value` as pretty JSON and writes it atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Where the data of a run came from.
#[derive(Clone, Debug, Serialize)]
pub struct DataRecord {
    pub source: String,
    pub sha256: String,
    pub train: usize,
    pub test: usize,
}

impl DataRecord {
    pub fn of(split: &crate::data::DataSplit) -> Self {
        Self { source: split.source.clone(), sha256: split.checksum.clone(), train: split.train.len(), test: split.test.len() }
    }
}

/// The provenance of one run, written as `run.json` beside its results.
#[derive(Debug, Serialize)]
pub struct RunRecord {
    pub command: String,
    pub bilens_version: &'static str,
    pub started_unix: u64,
    pub wall_seconds: f64,
    pub threads: usize,
    pub seed: u64,
    pub config: Value,
    pub data: Option<DataRecord>,
    pub inputs: Value,
    pub metrics: Value,
}

/// Starts the clock for a run; [`RunClock::finish`] turns it into a [`RunRecord`].
pub struct RunClock {
    command: String,
    started: Instant,
    started_unix: u64,
}

impl RunClock {
    pub fn start(command: &str) -> Self {
        let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Self { command: command.to_string(), started: Instant::now(), started_unix }
    }

    pub fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The record of this run; `inputs` names files it read (e.g. `{"model": path}`).
    pub fn finish(
        &self,
        seed: u64,
        config: impl Serialize,
        data: Option<DataRecord>,
        inputs: Value,
        metrics: impl Serialize,
    ) -> Result<RunRecord> {
        Ok(RunRecord {
            command: self.command.clone(),
            bilens_version: env!("CARGO_PKG_VERSION"),
            started_unix: self.started_unix,
            wall_seconds: self.elapsed(),
            threads: crate::linalg::threads(),
            seed,
            config: serde_json::to_value(config)?,
            data,
            inputs,
            metrics: serde_json::to_value(metrics)?,
        })
    }
}

/// SHA-256 of a file's bytes, hex; recorded for every model a run reads.
pub fn file_sha256(path: &Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect())
}
