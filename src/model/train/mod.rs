//! Training the bilinear classifier (SPEC §3.2): AdamW on the cross-entropy, mini-batches
//! reshuffled every epoch, Gaussian input noise on a share of the images. The loop is here;
//! the forward and backward pass is [`backprop`], the fused optimiser [`adamw`], image
//! gathering [`images`], the noise [`noise`] and the vectorisation helper [`simd`].

mod adamw;
mod backprop;
mod images;
mod noise;
mod simd;

use std::time::Instant;

use anyhow::{Result, bail};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Bilinear;
use crate::data::Dataset;
use crate::error::Error;
use crate::linalg;
use crate::optim::OptimConfig;
use adamw::FlatAdamW;
use backprop::{Layout, Sizes, Workspace};
use images::Images;

/// How a classifier is trained; the defaults are the reference study's recipe (SPEC §3.2),
/// [`TrainConfig::exercise`] the bilinear-MLP paper's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub lr: f32,
    pub weight_decay: f32,
    /// Standard deviation of the additive Gaussian input noise.
    pub noise_std: f32,
    /// Probability that an image receives noise (kornia's default p = 0.5).
    pub noise_prob: f32,
    pub seed: u64,
    pub n_embed: usize,
    pub n_hidden: usize,
    /// Train an output bias (the exercise's model has none).
    pub bias: bool,
    /// Anneal the learning rate over the epochs with a cosine (PyTorch's `CosineAnnealingLR`
    /// with `T_max = epochs`, stepped once per epoch).
    pub cosine_schedule: bool,
    /// Drop the last, incomplete batch of every epoch.
    pub drop_last: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 512,
            lr: 3e-3,
            weight_decay: 1e-4,
            noise_std: 0.4,
            noise_prob: 0.5,
            seed: 0,
            n_embed: 96,
            n_hidden: 256,
            bias: true,
            cosine_schedule: false,
            drop_last: false,
        }
    }
}

impl TrainConfig {
    /// The recipe of the bilinear-MLP paper's image model, the model public solutions of the
    /// decomposition exercise use: 784 → 256 embedding → bilinear 256 → 10 without biases,
    /// AdamW lr 1e-3 and weight decay 0.5, batch 2048 (last incomplete batch dropped), cosine
    /// schedule, 20 epochs, Gaussian input noise σ 0.4 (kornia's p = 0.5), seed 42.
    pub fn exercise() -> Self {
        Self {
            epochs: 20,
            batch_size: 2048,
            lr: 1e-3,
            weight_decay: 0.5,
            seed: 42,
            n_embed: 256,
            n_hidden: 256,
            bias: false,
            cosine_schedule: true,
            drop_last: true,
            ..Self::default()
        }
    }

    /// This config with the fields named in `overrides` replaced (TOML values, as in a
    /// `--config` file); an unknown field or a value of the wrong type is an error naming it.
    pub fn with_table(&self, overrides: toml::Table) -> anyhow::Result<Self> {
        let mut table = toml::Table::try_from(self)?;
        table.extend(overrides);
        Ok(table.try_into()?)
    }

    /// A named recipe: `study` (the default) or `exercise`.
    pub fn recipe(name: &str) -> Result<Self, Error> {
        match name {
            "study" => Ok(Self::default()),
            "exercise" => Ok(Self::exercise()),
            _ => Err(Error::Invalid(format!("unknown training recipe '{name}' (expected study or exercise)"))),
        }
    }
}

/// The largest batch, embedding and hidden sizes and epoch count accepted (far above any use,
/// and small enough that their buffers fit in memory).
pub const MAX_BATCH: usize = 1 << 16;
pub const MAX_WIDTH: usize = 1 << 14;
pub const MAX_EPOCHS: usize = 100_000;

impl TrainConfig {
    /// Rejects values that cannot train on `data`, before any work, naming the field and the
    /// allowed range.
    pub fn validate(&self, data: &Dataset) -> Result<(), Error> {
        let range = |name: &str, v: usize, hi: usize| {
            if (1..=hi).contains(&v) { Ok(()) } else { Err(Error::Invalid(format!("{name} = {v} is out of range: allowed 1..={hi}"))) }
        };
        range("epochs", self.epochs, MAX_EPOCHS)?;
        range("batch_size", self.batch_size, MAX_BATCH)?;
        range("n_embed", self.n_embed, MAX_WIDTH)?;
        range("n_hidden", self.n_hidden, MAX_WIDTH)?;
        let number = |name: &str, v: f32, ok: bool, allowed: &str| {
            if ok { Ok(()) } else { Err(Error::Invalid(format!("{name} = {v}: must be {allowed}"))) }
        };
        number("lr", self.lr, self.lr.is_finite() && self.lr > 0.0, "a finite number > 0")?;
        number("weight_decay", self.weight_decay, self.weight_decay.is_finite() && self.weight_decay >= 0.0, "a finite number ≥ 0")?;
        number("noise_std", self.noise_std, self.noise_std.is_finite() && self.noise_std >= 0.0, "a finite number ≥ 0")?;
        number("noise_prob", self.noise_prob, (0.0..=1.0).contains(&self.noise_prob), "in [0, 1]")?;
        if data.is_empty() {
            return Err(Error::Invalid("the training set is empty: there is nothing to train on".into()));
        }
        if data.labels.is_none() {
            return Err(Error::Invalid("training needs labelled data; these inputs have no labels".into()));
        }
        let present: Vec<usize> = data.class_counts().iter().enumerate().filter(|&(_, &n)| n > 0).map(|(c, _)| c).collect();
        if let [only] = present[..] {
            return Err(Error::Invalid(format!(
                "every training label is {only}: a classifier needs images of at least two classes to learn from"
            )));
        }
        if self.drop_last && data.len() < self.batch_size {
            return Err(Error::Invalid(format!(
                "drop_last with batch_size = {} leaves no batch of the {} training images",
                self.batch_size,
                data.len()
            )));
        }
        Ok(())
    }
}

/// What training measured along the way.
#[derive(Clone, Debug, Serialize)]
pub struct TrainReport {
    /// Mean cross-entropy per epoch (Σ loss·batch / N, as the reference logs it).
    pub epoch_losses: Vec<f64>,
    pub seconds: f64,
}

/// Trains a bilinear classifier on `data` with AdamW, mini-batches reshuffled every epoch and
/// Gaussian input noise; `on_epoch(epoch, loss)` is called after each epoch.
pub fn train(cfg: &TrainConfig, data: &Dataset, on_epoch: impl FnMut(usize, f64)) -> Result<(Bilinear, TrainReport)> {
    train_sharded(cfg, data, train_shards(cfg), on_epoch)
}

/// The number of parts [`train`] splits every batch into: one per thread of the current pool.
/// The trained weights depend on it (through the order gradients are summed in), so it is
/// part of what identifies a trained model.
pub fn train_shards(cfg: &TrainConfig) -> usize {
    linalg::threads().min(cfg.batch_size).max(1)
}

/// [`train`] with every batch split into `shards` even parts, run in parallel: each runs
/// sequential GEMMs on its part (on 2 cores this beats splitting every small GEMM in two),
/// then each updates one part of the weights from the sum of all parts' gradients. The result
/// depends on `shards` (through the order of that sum) and on nothing else.
fn train_sharded(
    cfg: &TrainConfig,
    data: &Dataset,
    shards: usize,
    mut on_epoch: impl FnMut(usize, f64),
) -> Result<(Bilinear, TrainReport)> {
    cfg.validate(data)?;
    let start = Instant::now();
    let mut rng = linalg::rng(cfg.seed);
    let layout = Layout(Sizes { d: data.n_inputs, e: cfg.n_embed, h: cfg.n_hidden, o: data.n_classes });
    let mut params = layout.flatten(&Bilinear::init(layout.0.config(), &mut rng));
    let mut opt = FlatAdamW::new(OptimConfig::adamw(cfg.weight_decay), params.len());
    let mut workspaces: Vec<Workspace> =
        (0..shards).map(|_| Workspace::new(layout.0, cfg.batch_size.min(data.len()).div_ceil(shards))).collect();
    let images = Images::new(data);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut epoch_losses = Vec::with_capacity(cfg.epochs);
    for epoch in 0..cfg.epochs {
        order.shuffle(&mut rng);
        let lr = if cfg.cosine_schedule { crate::optim::cosine_lr(cfg.lr, epoch, cfg.epochs) } else { cfg.lr };
        let batches = order.chunks(cfg.batch_size).filter(|b| !cfg.drop_last || b.len() == cfg.batch_size);
        let mut seen = 0;
        // The steps run on a pool thread, so that no parallel phase has to wake this one up.
        let total = rayon::scope(|_| -> Result<f64> {
            let mut total = 0.0f64;
            for (step, batch) in batches.enumerate() {
                crate::interrupt::check()?;
                let noise_key = noise::child(noise::child(noise::child(noise::ROOT, cfg.seed), epoch as u64), step as u64);
                workspaces.par_iter_mut().enumerate().for_each(|(k, ws)| {
                    let (lo, hi) = (k * batch.len() / shards, (k + 1) * batch.len() / shards);
                    ws.gather(data, &images, &batch[lo..hi], lo, cfg, noise_key);
                    ws.forward_backward(layout, &params, batch.len());
                    if !cfg.bias {
                        let [.., bias] = layout.split_mut(&mut ws.grads);
                        bias.fill(0.0);
                    }
                });
                let loss: f64 = workspaces.iter().map(|ws| ws.loss).sum();
                if !loss.is_finite() {
                    bail!(Error::Diverged(format!(
                        "training diverged: the cross-entropy became {loss} at epoch {} step {} (try a smaller lr than {})",
                        epoch + 1,
                        step + 1,
                        cfg.lr
                    )));
                }
                total += loss * batch.len() as f64;
                seen += batch.len();
                opt.step(&mut params, &workspaces, lr);
            }
            Ok(total)
        })?;
        let loss = total / seen.max(1) as f64;
        epoch_losses.push(loss);
        on_epoch(epoch + 1, loss);
    }
    Ok((layout.unflatten(&params), TrainReport { epoch_losses, seconds: start.elapsed().as_secs_f64() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_configs_and_divergence_are_reported() {
        let data = crate::data::embedded().train.subset(&(0..64).collect::<Vec<_>>());
        let bad = TrainConfig { noise_prob: 1.5, ..TrainConfig::default() };
        assert!(train(&bad, &data, |_, _| {}).unwrap_err().to_string().contains("noise_prob"));
        let huge = TrainConfig { lr: 1e12, epochs: 3, batch_size: 32, ..TrainConfig::default() };
        let err = train(&huge, &data, |_, _| {}).unwrap_err().to_string();
        assert!(err.contains("diverged") && err.contains("epoch"), "{err}");
    }

    #[test]
    fn shards_change_only_rounding_and_stay_deterministic() {
        // 257 images in batches of 64: the last batch holds one image, so two shards are empty.
        let data = crate::data::embedded().train.subset(&(0..257).collect::<Vec<_>>());
        let cfg = TrainConfig { epochs: 2, batch_size: 64, ..TrainConfig::default() };
        let (_, one) = train_sharded(&cfg, &data, 1, |_, _| {}).unwrap();
        let (a, three) = train_sharded(&cfg, &data, 3, |_, _| {}).unwrap();
        let (b, _) = train_sharded(&cfg, &data, 3, |_, _| {}).unwrap();
        assert_eq!((a.w_e, a.w_l, a.bias), (b.w_e, b.w_l, b.bias));
        for (x, y) in one.epoch_losses.iter().zip(&three.epoch_losses) {
            assert!((x - y).abs() < 1e-3 * x, "{:?} vs {:?}", one.epoch_losses, three.epoch_losses);
        }
        let huge = TrainConfig { lr: 1e12, ..cfg };
        assert!(train_sharded(&huge, &data, 3, |_, _| {}).unwrap_err().to_string().contains("diverged"));
    }

    #[test]
    fn same_seed_same_model() {
        let data = crate::data::embedded().train.subset(&(0..300).collect::<Vec<_>>());
        let cfg = TrainConfig { epochs: 2, batch_size: 64, ..TrainConfig::default() };
        let (a, _) = train(&cfg, &data, |_, _| {}).unwrap();
        let (b, _) = train(&cfg, &data, |_, _| {}).unwrap();
        assert_eq!(a.w_e, b.w_e);
        assert_eq!(a.bias, b.bias);
    }
}
