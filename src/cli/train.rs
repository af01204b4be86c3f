use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::model::TrainConfig;
use crate::pipeline::base::train_command;

#[derive(clap::Args)]
pub struct Args {
    /// Folder of MNIST-format IDX files (default: the embedded digits).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// The recipe the settings start from: `study` (the reference study's classifier) or
    /// `exercise` (the bilinear-MLP paper's: embedding 256, no biases, AdamW lr 1e-3 wd 0.5,
    /// batch 2048, cosine schedule, seed 42).
    #[arg(long, default_value = "study")]
    recipe: String,
    /// TOML file of training settings (fields of TrainConfig) over the recipe; flags override it.
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
        let mut cfg = TrainConfig::recipe(&self.recipe)?;
        if let Some(path) = &self.config {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let table = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
            cfg = cfg.with_table(table).with_context(|| format!("applying {}", path.display()))?;
        }
        macro_rules! set {
            ($($field:ident <- $flag:ident),*) => { $(if let Some(v) = self.$flag { cfg.$field = v; })* };
        }
        set!(epochs <- epochs, seed <- seed, batch_size <- batch_size, lr <- lr, weight_decay <- weight_decay,
             noise_std <- noise_std, noise_prob <- noise_prob, n_embed <- embed, n_hidden <- hidden);
        Ok(cfg)
    }
}

pub fn run(args: Args) -> Result<()> {
    let cfg = args.config()?;
    let data = super::load_data(&args.data)?;
    let model = train_command(&cfg, &data, &args.out, |_, _| {})?;
    let accuracy = model.accuracy(&data.test).map_or("– (no labelled test images)".to_string(), |a| format!("{a:.4}"));
    println!("test accuracy {accuracy} after {} epochs; model in {}", cfg.epochs, args.out.join("model.safetensors").display());
    Ok(())
}
