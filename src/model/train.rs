use std::time::Instant;

use anyhow::{Result, bail};
use faer::linalg::matmul::matmul;
use faer::prelude::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatRef};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Bilinear, ModelConfig};
use crate::data::Dataset;
use crate::linalg::{self, Rng};
use crate::optim::OptimConfig;

/// How the base model is trained (SPEC §3.2); defaults are the reference study's.
#[derive(Clone, Debug, Serialize, Deserialize)]
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
        }
    }
}

impl TrainConfig {
    /// Rejects values that cannot train, with the offending field named.
    pub fn validate(&self) -> Result<()> {
        if self.epochs == 0 || self.batch_size == 0 || self.n_embed == 0 || self.n_hidden == 0 {
            bail!("epochs, batch_size, n_embed and n_hidden must be positive");
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            bail!("lr must be a positive number, got {}", self.lr);
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            bail!("weight_decay must be non-negative, got {}", self.weight_decay);
        }
        if !(self.noise_std.is_finite() && self.noise_std >= 0.0) {
            bail!("noise_std must be non-negative, got {}", self.noise_std);
        }
        if !(0.0..=1.0).contains(&self.noise_prob) {
            bail!("noise_prob must lie in [0, 1], got {}", self.noise_prob);
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
pub fn train(cfg: &TrainConfig, data: &Dataset, mut on_epoch: impl FnMut(usize, f64)) -> Result<(Bilinear, TrainReport)> {
    cfg.validate()?;
    if data.is_empty() {
        bail!("cannot train on an empty data set");
    }
    let start = Instant::now();
    let mut rng = linalg::rng(cfg.seed);
    let model_cfg = ModelConfig {
        n_inputs: data.n_pixels(),
        n_embed: cfg.n_embed,
        n_hidden: cfg.n_hidden,
        n_outputs: data.n_classes,
    };
    let mut model = Bilinear::init(model_cfg, &mut rng);
    let mut bias = Mat::from_fn(model_cfg.n_outputs, 1, |i, _| model.bias[i]);
    let mut opt = OptimConfig::adamw(cfg.weight_decay).build();
    // Data parallel: each thread runs sequential GEMMs on its shard of the batch, and the
    // shards' gradients are summed. On 2 cores this beats splitting every small GEMM in two.
    let shards = linalg::threads().min(cfg.batch_size);
    let shard_size = cfg.batch_size.div_ceil(shards);
    let mut workspaces: Vec<Workspace> = (0..shards).map(|_| Workspace::new(model_cfg, shard_size)).collect();
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut epoch_losses = Vec::with_capacity(cfg.epochs);
    for epoch in 0..cfg.epochs {
        order.shuffle(&mut rng);
        let mut total = 0.0f64;
        for (step, batch) in order.chunks(cfg.batch_size).enumerate() {
            let noise_seed = cfg.seed ^ ((epoch as u64) << 40) ^ ((step as u64) << 20);
            let loss: f64 = workspaces
                .par_iter_mut()
                .zip(batch.par_chunks(shard_size))
                .enumerate()
                .map(|(k, (ws, shard))| {
                    ws.gather(data, shard, k * shard_size, cfg, noise_seed);
                    ws.forward_backward(&model, &bias, shard.iter().map(|&i| data.labels[i]), batch.len())
                })
                .sum();
            if !loss.is_finite() {
                bail!("training diverged: the loss became {loss} at epoch {} step {}", epoch + 1, step + 1);
            }
            total += loss * batch.len() as f64;
            let used = batch.len().div_ceil(shard_size);
            let (first, rest) = workspaces.split_at_mut(1);
            for other in &rest[..used - 1] {
                first[0].grads.add(&other.grads);
            }
            let g = &first[0].grads;
            opt.step(
                &mut [&mut model.w_e, &mut model.w_l, &mut model.w_r, &mut model.w_u, &mut bias],
                &[&g.w_e, &g.w_l, &g.w_r, &g.w_u, &g.bias],
                cfg.lr,
            );
        }
        let loss = total / data.len() as f64;
        epoch_losses.push(loss);
        on_epoch(epoch + 1, loss);
    }
    model.bias = (0..bias.nrows()).map(|i| bias[(i, 0)]).collect();
    Ok((model, TrainReport { epoch_losses, seconds: start.elapsed().as_secs_f64() }))
}

/// Gradients of the mean cross-entropy, one per weight.
struct Grads {
    w_e: Mat<f32>,
    w_l: Mat<f32>,
    w_r: Mat<f32>,
    w_u: Mat<f32>,
    bias: Mat<f32>,
}

impl Grads {
    fn add(&mut self, other: &Grads) {
        self.w_e += &other.w_e;
        self.w_l += &other.w_l;
        self.w_r += &other.w_r;
        self.w_u += &other.w_u;
        self.bias += &other.bias;
    }
}

/// Buffers reused across steps, so the hot loop allocates nothing (shapes are per full batch;
/// the last, shorter batch uses their leading rows).
struct Workspace {
    /// The current batch, row-major, and its number of images.
    x: Vec<f32>,
    batch: usize,
    h: Mat<f32>,
    l: Mat<f32>,
    r: Mat<f32>,
    p: Mat<f32>,
    z: Mat<f32>,
    dp: Mat<f32>,
    dh: Mat<f32>,
    grads: Grads,
}

impl Workspace {
    fn new(c: ModelConfig, batch: usize) -> Self {
        let zeros = Mat::<f32>::zeros;
        Self {
            x: vec![0.0; batch * c.n_inputs],
            batch: 0,
            h: zeros(batch, c.n_embed),
            l: zeros(batch, c.n_hidden),
            r: zeros(batch, c.n_hidden),
            p: zeros(batch, c.n_hidden),
            z: zeros(batch, c.n_outputs),
            dp: zeros(batch, c.n_hidden),
            dh: zeros(batch, c.n_embed),
            grads: Grads {
                w_e: zeros(c.n_embed, c.n_inputs),
                w_l: zeros(c.n_hidden, c.n_embed),
                w_r: zeros(c.n_hidden, c.n_embed),
                w_u: zeros(c.n_outputs, c.n_hidden),
                bias: zeros(c.n_outputs, 1),
            },
        }
    }

    /// Copies the batch's images into a row-major buffer, adding N(0, σ²) noise to each image
    /// with probability p. Each image draws from its own generator, seeded by its position,
    /// so the noise does not depend on the number of threads.
    /// `offset` is the shard's position within the whole batch.
    fn gather(&mut self, data: &Dataset, batch: &[usize], offset: usize, cfg: &TrainConfig, seed: u64) {
        let d = data.n_pixels();
        self.batch = batch.len();
        let x = &mut self.x[..batch.len() * d];
        for (k, (row, &i)) in x.chunks_mut(d).zip(batch).enumerate() {
            row.copy_from_slice(data.image(i));
            let mut rng = Rng::seed_from_u64(seed ^ ((offset + k) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            if cfg.noise_std > 0.0 && rand::Rng::random::<f32>(&mut rng) < cfg.noise_prob {
                for v in row.iter_mut() {
                    let z: f32 = StandardNormal.sample(&mut rng);
                    *v += cfg.noise_std * z;
                }
            }
        }
    }

    /// One forward and backward pass over this shard; fills `self.grads` with the gradient of
    /// the whole batch's mean cross-entropy (`batch` images) and returns the shard's share of it.
    fn forward_backward(&mut self, m: &Bilinear, bias: &Mat<f32>, labels: impl Iterator<Item = u8>, batch: usize) -> f64 {
        let n = self.batch;
        let x = linalg::row_major(&self.x[..n * m.w_e.ncols()], n, m.w_e.ncols());
        let par = faer::Par::Seq;
        let (h, l, r, p, z) = (
            self.h.subrows_mut(0, n),
            self.l.subrows_mut(0, n),
            self.r.subrows_mut(0, n),
            self.p.subrows_mut(0, n),
            self.z.subrows_mut(0, n),
        );
        let (mut h, mut l, mut r, mut p, mut z) = (h, l, r, p, z);
        matmul(h.rb_mut(), Accum::Replace, x, m.w_e.transpose(), 1.0, par);
        matmul(l.rb_mut(), Accum::Replace, h.rb(), m.w_l.transpose(), 1.0, par);
        matmul(r.rb_mut(), Accum::Replace, h.rb(), m.w_r.transpose(), 1.0, par);
        zip_map(p.rb_mut(), l.rb(), r.rb(), |a, b| a * b);
        matmul(z.rb_mut(), Accum::Replace, p.rb(), m.w_u.transpose(), 1.0, par);

        // Softmax cross-entropy; z becomes dLoss/dz = (softmax − onehot) / n.
        let mut loss = 0.0f64;
        for (i, y) in labels.enumerate() {
            let row_max = (0..z.ncols()).map(|c| z[(i, c)] + bias[(c, 0)]).fold(f32::NEG_INFINITY, f32::max);
            let mut sum = 0.0f32;
            for c in 0..z.ncols() {
                let e = (z[(i, c)] + bias[(c, 0)] - row_max).exp();
                z[(i, c)] = e;
                sum += e;
            }
            loss -= ((z[(i, y as usize)] / sum) as f64).ln();
            for c in 0..z.ncols() {
                z[(i, c)] = (z[(i, c)] / sum - if c == y as usize { 1.0 } else { 0.0 }) / batch as f32;
            }
        }
        let g = &mut self.grads;
        for c in 0..z.ncols() {
            g.bias[(c, 0)] = (0..n).map(|i| z[(i, c)]).sum();
        }
        matmul(g.w_u.as_mut(), Accum::Replace, z.rb().transpose(), p.rb(), 1.0, par);
        let mut dp = self.dp.subrows_mut(0, n);
        matmul(dp.rb_mut(), Accum::Replace, z.rb(), m.w_u.as_ref(), 1.0, par);
        // dl = dp ⊙ r goes into p's buffer, dr = dp ⊙ l into l's buffer (both are spent).
        zip_map(p.rb_mut(), dp.rb(), r.rb(), |a, b| a * b);
        let (dl, l_buf) = (p, l);
        let mut dr = l_buf;
        zip_map_inplace(dr.rb_mut(), dp.rb(), |lv, d| lv * d);
        matmul(g.w_l.as_mut(), Accum::Replace, dl.rb().transpose(), h.rb(), 1.0, par);
        matmul(g.w_r.as_mut(), Accum::Replace, dr.rb().transpose(), h.rb(), 1.0, par);
        let mut dh = self.dh.subrows_mut(0, n);
        matmul(dh.rb_mut(), Accum::Replace, dl.rb(), m.w_l.as_ref(), 1.0, par);
        matmul(dh.rb_mut(), Accum::Add, dr.rb(), m.w_r.as_ref(), 1.0, par);
        matmul(g.w_e.as_mut(), Accum::Replace, dh.rb().transpose(), x, 1.0, par);
        loss / batch as f64
    }
}

/// `out[i,j] = f(a[i,j], b[i,j])`.
fn zip_map(mut out: faer::MatMut<'_, f32>, a: MatRef<'_, f32>, b: MatRef<'_, f32>, f: impl Fn(f32, f32) -> f32) {
    for j in 0..out.ncols() {
        for i in 0..out.nrows() {
            out[(i, j)] = f(a[(i, j)], b[(i, j)]);
        }
    }
}

/// `out[i,j] = f(out[i,j], a[i,j])`.
fn zip_map_inplace(mut out: faer::MatMut<'_, f32>, a: MatRef<'_, f32>, f: impl Fn(f32, f32) -> f32) {
    for j in 0..out.ncols() {
        for i in 0..out.nrows() {
            out[(i, j)] = f(out[(i, j)], a[(i, j)]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interaction::to_f64;

    /// Mean cross-entropy computed naively in f64 (the oracle for the hand-derived backprop).
    fn loss_f64(w: &[Mat<f64>; 5], x: &Mat<f64>, labels: &[u8]) -> f64 {
        let [w_e, w_l, w_r, w_u, b] = w;
        let h = x * w_e.transpose();
        let (l, r) = (&h * w_l.transpose(), &h * w_r.transpose());
        let p = Mat::from_fn(l.nrows(), l.ncols(), |i, j| l[(i, j)] * r[(i, j)]);
        let z = p * w_u.transpose();
        let mut total = 0.0;
        for (i, &y) in labels.iter().enumerate() {
            let zs: Vec<f64> = (0..z.ncols()).map(|c| z[(i, c)] + b[(c, 0)]).collect();
            let lse = zs.iter().map(|v| v.exp()).sum::<f64>().ln();
            total += lse - zs[y as usize];
        }
        total / labels.len() as f64
    }

    #[test]
    fn backprop_matches_finite_differences() {
        let cfg = ModelConfig { n_inputs: 9, n_embed: 4, n_hidden: 6, n_outputs: 3 };
        let mut rng = linalg::rng(11);
        let model = Bilinear::init(cfg, &mut rng);
        let bias = Mat::from_fn(3, 1, |i, _| 0.1 * i as f32);
        let x = linalg::randn(&mut rng, 5, 9, 1.0);
        let labels = [0u8, 2, 1, 1, 0];
        let mut ws = Workspace::new(cfg, 5);
        ws.x.copy_from_slice(&linalg::to_row_major(x.as_ref()));
        ws.batch = 5;
        let loss = ws.forward_backward(&model, &bias, labels.iter().copied(), 5);
        let weights = [to_f64(model.w_e.as_ref()), to_f64(model.w_l.as_ref()), to_f64(model.w_r.as_ref()), to_f64(model.w_u.as_ref()), to_f64(bias.as_ref())];
        let x64 = to_f64(x.as_ref());
        assert!((loss - loss_f64(&weights, &x64, &labels)).abs() < 1e-5);
        let g = &ws.grads;
        for (k, grad) in [&g.w_e, &g.w_l, &g.w_r, &g.w_u, &g.bias].into_iter().enumerate() {
            for j in 0..grad.ncols() {
                for i in 0..grad.nrows() {
                    let eval = |d: f64| {
                        let mut w = weights.clone();
                        w[k][(i, j)] += d;
                        loss_f64(&w, &x64, &labels)
                    };
                    let fd = (eval(1e-6) - eval(-1e-6)) / 2e-6;
                    let got = grad[(i, j)] as f64;
                    assert!((fd - got).abs() < 1e-4 * fd.abs().max(1e-2), "weight {k} ({i},{j}): {got} vs {fd}");
                }
            }
        }
    }

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
    fn same_seed_same_model() {
        let data = crate::data::embedded().train.subset(&(0..300).collect::<Vec<_>>());
        let cfg = TrainConfig { epochs: 2, batch_size: 64, ..TrainConfig::default() };
        let (a, _) = train(&cfg, &data, |_, _| {}).unwrap();
        let (b, _) = train(&cfg, &data, |_, _| {}).unwrap();
        assert_eq!(a.w_e, b.w_e);
        assert_eq!(a.bias, b.bias);
    }
}
