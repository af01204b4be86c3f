//! The base model of a study: read from a file, or trained and cached in `base/` (reused only
//! when it was trained with the same settings on the same data).

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::json;

use super::folder::{FolderLock, check_kind, lock_stage, reuse};
use super::record::{DataRecord, Identity, RunClock};
use crate::data::DataSplit;
use crate::io::{file_sha256, recorded_path, write_json};
use crate::model::{Bilinear, TrainConfig, load_model, save_model, train};

/// Where a study's base model comes from.
#[derive(Clone, Debug)]
pub enum BaseSource {
    /// A safetensors file (bilens's or PyTorch's layout).
    File(PathBuf),
    /// Trained with this config on the study's data.
    Train(TrainConfig),
}

/// A loaded base model and what identifies it.
pub struct Base {
    pub model: Bilinear,
    pub path: PathBuf,
    /// SHA-256 of the model file, recorded with every result made from it.
    pub sha256: String,
}

/// The identity of training `cfg` on `data`.
fn training_identity(cfg: &TrainConfig, data: &DataSplit) -> Identity {
    Identity::new("train", json!({ "config": cfg, "data_sha256": data.checksum, "shards": crate::model::train_shards(cfg) }))
}

/// Loads the base model, training it into `dir` first when it comes from a config and `dir`
/// holds no model trained the same way (`fresh` replaces one trained otherwise). Processes
/// sharing the folder wait for the one that trains it, then reuse its model.
pub fn base_model(source: &BaseSource, data: &DataSplit, dir: &Path, fresh: bool, log: &dyn Fn(&str)) -> Result<Base> {
    let path = match source {
        BaseSource::File(path) => path.clone(),
        BaseSource::Train(cfg) => {
            let identity = training_identity(cfg, data);
            let _lock = lock_stage(dir, log)?;
            if !reuse(dir, &identity, &["model.safetensors"], fresh, log)? {
                log("training the base model");
                train_into(cfg, data, dir, &identity, |_, _| {})?;
            }
            dir.join("model.safetensors")
        }
    };
    let model = load_model(&path)?;
    Ok(Base { sha256: file_sha256(&path)?, model, path: recorded_path(&path) })
}

/// Trains with `cfg` on `data` and writes `model.safetensors`, `config.json` and `run.json`;
/// `on_epoch(epoch, loss)` after every epoch.
pub fn train_into(
    cfg: &TrainConfig,
    data: &DataSplit,
    dir: &Path,
    identity: &Identity,
    on_epoch: impl FnMut(usize, f64),
) -> Result<Bilinear> {
    let clock = RunClock::start("train");
    let (model, report) = train(cfg, &data.train, on_epoch)?;
    save_model(&model, &dir.join("model.safetensors"), &Default::default())?;
    write_json(&dir.join("config.json"), &json!({ "model": model.config(), "train": cfg }))?;
    let metrics = json!({
        "test_accuracy": (!data.test.is_empty()).then(|| model.accuracy(&data.test)),
        "train_accuracy": model.accuracy(&data.train),
        "epoch_losses": report.epoch_losses,
        "train_seconds": report.seconds,
        "tensor_norm": crate::interaction::Interaction::new(&model).norm(),
    });
    let record = clock.finish(identity, cfg.seed, cfg, Some(DataRecord::of(data)), json!({}), &metrics)?;
    write_json(&dir.join("run.json"), &record)?;
    Ok(model)
}

/// The `train` command (and Python's `bilens.train(out=…)`): checks `cfg` against the data
/// before any work, holds `dir` (one writer), refuses a folder holding another kind of result,
/// then [`train_into`] with the identity of a fresh training run.
pub fn train_command(cfg: &TrainConfig, data: &DataSplit, dir: &Path, on_epoch: impl FnMut(usize, f64)) -> Result<Bilinear> {
    cfg.validate(&data.train)?;
    let absent: Vec<String> = data.train.class_counts().iter().enumerate().filter(|&(_, &n)| n == 0).map(|(c, _)| c.to_string()).collect();
    if !absent.is_empty() {
        // A label far above the rest makes every class below it (labels count from 0).
        let shown =
            if absent.len() > 8 { format!("{} … {}", absent[..4].join(", "), absent[absent.len() - 1]) } else { absent.join(", ") };
        eprintln!(
            "note: {} of the {} classes have no training images (labels {shown}); their outputs only learn to lose",
            absent.len(),
            data.train.n_classes
        );
    }
    let _lock = FolderLock::acquire(dir)?;
    check_kind(dir, "train")?;
    train_into(cfg, data, dir, &training_identity(cfg, data), on_epoch)
}
