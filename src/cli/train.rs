use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::json;

use crate::model::{TrainConfig, save_model, train};
use crate::run::{DataRecord, RunClock, write_json};

#[derive(clap::Args)]
pub struct Args {
    /// Folder of MNIST-format IDX files (default: the embedded digits).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// TOML file of training settings (fields of TrainConfig); flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    #[arg(long)]
    epochs: Option<usize>,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long)]
    batch_size: Option<usize>,
    #[arg(long)]
    lr: Option<f32>,
    #[arg(long)]
    weight_decay: Option<f32>,
    /// Standard deviation of the Gaussian input noise.
    #[arg(long)]
    noise_std: Option<f32>,
    /// Probability that an image is noised.
    #[arg(long)]
    noise_prob: Option<f32>,
    #[arg(long)]
    embed: Option<usize>,
    #[arg(long)]
    hidden: Option<usize>,
}

impl Args {
    fn config(&self) -> Result<TrainConfig> {
        let mut cfg = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
            }
            None => TrainConfig::default(),
        };
        macro_rules! set {
            ($($field:ident <- $flag:ident),*) => { $(if let Some(v) = self.$flag { cfg.$field = v; })* };
        }
        set!(epochs <- epochs, seed <- seed, batch_size <- batch_size, lr <- lr, weight_decay <- weight_decay,
             noise_std <- noise_std, noise_prob <- noise_prob, n_embed <- embed, n_hidden <- hidden);
        cfg.validate()?;
        Ok(cfg)
    }
}

pub fn run(args: Args) -> Result<()> {
    let clock = RunClock::start("train");
    let cfg = args.config()?;
    let data = super::load_data(&args.data)?;
    let bar = super::progress(cfg.epochs as u64, "training {bar:30} epoch {pos}/{len} {msg}");
    let (model, report) = train(&cfg, &data.train, |_, loss| {
        bar.set_message(format!("loss {loss:.4}"));
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let test_accuracy = model.accuracy(&data.test);
    let train_accuracy = model.accuracy(&data.train);
    let model_path = args.out.join("model.safetensors");
    let meta = HashMap::from([("format".to_string(), "bilens bilinear classifier (PyTorch state_dict names)".to_string())]);
    save_model(&model, &model_path, meta)?;
    write_json(&args.out.join("config.json"), &json!({ "model": model.config(), "train": &cfg }))?;
    let metrics = json!({
        "test_accuracy": test_accuracy,
        "train_accuracy": train_accuracy,
        "epoch_losses": report.epoch_losses,
        "train_seconds": report.seconds,
        "tensor_norm": crate::interaction::Interaction::new(&model).norm(),
    });
    let record = clock.finish(cfg.seed, &cfg, Some(DataRecord::of(&data)), json!({}), &metrics)?;
    write_json(&args.out.join("run.json"), &record)?;
    println!(
        "test accuracy {:.4} after {} epochs ({:.2} s of training); model in {}",
        test_accuracy,
        cfg.epochs,
        report.seconds,
        model_path.display()
    );
    Ok(())
}
