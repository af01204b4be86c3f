//! What produced a result: every stage folder gets a `run.json` ([`RunRecord`]) holding the
//! stage's [`Identity`] — everything that determines its results — and its fingerprint, so a
//! resumed study reuses a stage only when it was made from the same inputs.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::data::DataSplit;
use crate::io::sha256_hex;

/// Everything that determines one stage's results (the kind of stage, the base model's hash
/// or training config, the data's checksum, the full recipe, the seed, the bilens version,
/// and the thread count where results depend on it), as a JSON object with sorted keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Identity(pub Map<String, Value>);

impl Identity {
    /// An identity of `kind` with the given fields; the bilens version is always part of it.
    pub fn new(kind: &str, fields: Value) -> Self {
        let mut map = Map::new();
        map.insert("kind".into(), json!(kind));
        map.insert("bilens_version".into(), json!(env!("CARGO_PKG_VERSION")));
        if let Value::Object(f) = fields {
            map.extend(f);
        }
        Identity(sorted(Value::Object(map)).as_object().cloned().unwrap_or_default())
    }

    /// SHA-256 of the canonical JSON (keys sorted at every level).
    pub fn fingerprint(&self) -> String {
        sha256_hex(Value::Object(self.0.clone()).to_string().as_bytes())
    }

    /// What differs from `earlier`, one line per field (`recipe.rank: 32 → 64`).
    pub fn changes_since(&self, earlier: &Identity) -> Vec<String> {
        let mut out = Vec::new();
        diff("", &Value::Object(earlier.0.clone()), &Value::Object(self.0.clone()), &mut out);
        out
    }
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<(String, Value)> = m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            keys.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(keys.into_iter().collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn diff(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                diff(&p, a.get(k).unwrap_or(&Value::Null), b.get(k).unwrap_or(&Value::Null), out);
            }
        }
        (a, b) if a != b => out.push(format!("{path}: {} → {}", short(a), short(b))),
        _ => {}
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 { format!("{}…", s.chars().take(40).collect::<String>()) } else { s }
}

/// Where the data of a run came from. Read leniently (missing fields empty): the report and
/// `explain` read the image grid and class names of records that hold only those.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DataRecord {
    pub source: String,
    pub sha256: String,
    pub train: usize,
    pub test: usize,
    /// The images' height and width.
    pub shape: Option<crate::image::ImageShape>,
    /// The classes' names, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub class_names: Option<Vec<String>>,
}

impl DataRecord {
    /// The data a stage's record (`run.json`) names, if it names any.
    pub fn of_run(run: &Value) -> Option<Self> {
        serde_json::from_value(run["data"].clone()).ok()
    }

    /// The recorded image grid, if it has `inputs` pixels.
    pub fn image_shape(&self, inputs: usize) -> Option<crate::image::ImageShape> {
        self.shape.filter(|s| s.pixels() == inputs)
    }

    /// The recorded class names, if they name `outputs` classes.
    pub fn class_names(&self, outputs: usize) -> Option<&[String]> {
        self.class_names.as_deref().filter(|n| n.len() >= outputs)
    }

    pub fn of(split: &DataSplit) -> Self {
        let source = match split.source.as_str() {
            crate::data::EMBEDDED_SOURCE => split.source.clone(),
            path => crate::io::recorded_path(std::path::Path::new(path)).display().to_string(),
        };
        Self {
            source,
            sha256: split.checksum.clone(),
            train: split.train.len(),
            test: split.test.len(),
            shape: split.train.shape,
            class_names: split.class_names.clone(),
        }
    }
}

/// The provenance of one stage, written as `run.json` beside its results (last, so that its
/// presence means the stage finished).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub command: String,
    pub bilens_version: String,
    pub started_unix: u64,
    pub wall_seconds: f64,
    pub threads: usize,
    pub seed: u64,
    pub config: Value,
    pub data: Option<DataRecord>,
    pub inputs: Value,
    pub metrics: Value,
    /// What determines the results, and its fingerprint.
    #[serde(default)]
    pub identity: Option<Identity>,
    #[serde(default)]
    pub fingerprint: String,
}

/// Starts the clock for a run; [`RunClock::finish`] turns it into a [`RunRecord`].
pub struct RunClock {
    command: String,
    started: Instant,
    started_unix: u64,
    /// Seconds at [`RunClock::stop`], when the run ended before its record is written.
    stopped: Option<f64>,
}

impl RunClock {
    pub fn start(command: &str) -> Self {
        let started_unix = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Self { command: command.to_string(), started: Instant::now(), started_unix, stopped: None }
    }

    /// Seconds since the start, or until [`RunClock::stop`].
    pub fn elapsed(&self) -> f64 {
        self.stopped.unwrap_or_else(|| self.started.elapsed().as_secs_f64())
    }

    /// Stops the clock: a run kept in memory (Python's) and written later records the time it
    /// took, not the time until it was saved.
    pub fn stop(&mut self) {
        self.stopped = Some(self.elapsed());
    }

    /// The record of this run; `inputs` names files it read (e.g. `{"model": path}`).
    pub fn finish(
        &self,
        identity: &Identity,
        seed: u64,
        config: impl Serialize,
        data: Option<DataRecord>,
        inputs: Value,
        metrics: impl Serialize,
    ) -> Result<RunRecord> {
        Ok(RunRecord {
            command: self.command.clone(),
            bilens_version: env!("CARGO_PKG_VERSION").to_string(),
            started_unix: self.started_unix,
            wall_seconds: self.elapsed(),
            threads: rayon::current_num_threads(),
            seed,
            config: serde_json::to_value(config)?,
            data,
            inputs,
            metrics: serde_json::to_value(metrics)?,
            fingerprint: identity.fingerprint(),
            identity: Some(identity.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_ignore_key_order_and_name_what_changed() {
        let a = Identity::new("decompose", json!({ "seed": 1, "recipe": { "rank": 32, "lr": 0.02 } }));
        let b = Identity::new("decompose", json!({ "recipe": { "lr": 0.02, "rank": 32 }, "seed": 1 }));
        assert_eq!(a.fingerprint(), b.fingerprint());
        let c = Identity::new("decompose", json!({ "recipe": { "lr": 0.02, "rank": 64 }, "seed": 1, "model_sha256": "ab" }));
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(c.changes_since(&a), vec!["model_sha256: null → \"ab\"", "recipe.rank: 32 → 64"]);
    }
}
