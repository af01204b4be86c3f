use faer::{Mat, MatRef};
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::linalg::{self, Rng};

/// Layer sizes; always read from the weights, never assumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub n_inputs: usize,
    pub n_embed: usize,
    pub n_hidden: usize,
    pub n_outputs: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self { n_inputs: 784, n_embed: 96, n_hidden: 256, n_outputs: 10 }
    }
}

/// The weights of a one-layer bilinear classifier, shaped as PyTorch stores them.
#[derive(Clone, Debug)]
pub struct Bilinear {
    /// Embedding, `n_embed × n_inputs`.
    pub w_e: Mat<f32>,
    /// Left projection, `n_hidden × n_embed` (`w_lr_param[0]`).
    pub w_l: Mat<f32>,
    /// Right projection, `n_hidden × n_embed` (`w_lr_param[1]`).
    pub w_r: Mat<f32>,
    /// Unembedding, `n_outputs × n_hidden`.
    pub w_u: Mat<f32>,
    /// Output bias, `n_outputs`; not part of the interaction tensor.
    pub bias: Vec<f32>,
}

impl Bilinear {
    /// PyTorch's initialisation in the reference: N(0,1)/√fan_in for every matrix, zero bias.
    pub fn init(cfg: ModelConfig, rng: &mut Rng) -> Self {
        let scale = |fan_in: usize| 1.0 / (fan_in as f32).sqrt();
        Self {
            w_e: linalg::randn(rng, cfg.n_embed, cfg.n_inputs, scale(cfg.n_inputs)),
            w_l: linalg::randn(rng, cfg.n_hidden, cfg.n_embed, scale(cfg.n_embed)),
            w_r: linalg::randn(rng, cfg.n_hidden, cfg.n_embed, scale(cfg.n_embed)),
            w_u: linalg::randn(rng, cfg.n_outputs, cfg.n_hidden, scale(cfg.n_hidden)),
            bias: vec![0.0; cfg.n_outputs],
        }
    }

    pub fn config(&self) -> ModelConfig {
        ModelConfig { n_inputs: self.w_e.ncols(), n_embed: self.w_e.nrows(), n_hidden: self.w_l.nrows(), n_outputs: self.w_u.nrows() }
    }

    /// Logits for a batch `x` (`n × n_inputs`), with the output bias.
    pub fn logits(&self, x: MatRef<'_, f32>) -> Mat<f32> {
        let h = linalg::mul(x, self.w_e.transpose());
        let l = linalg::mul(h.as_ref(), self.w_l.transpose());
        let r = linalg::mul(h.as_ref(), self.w_r.transpose());
        let p = Mat::from_fn(l.nrows(), l.ncols(), |i, j| l[(i, j)] * r[(i, j)]);
        let mut z = linalg::mul(p.as_ref(), self.w_u.transpose());
        add_bias(&mut z, &self.bias);
        z
    }

    /// Fraction of `data` classified correctly (argmax of the logits, with bias).
    pub fn accuracy(&self, data: &Dataset) -> f64 {
        accuracy(data, |x| self.logits(x))
    }
}

/// Accuracy of any batched logit function on `data`, evaluated in chunks to bound memory.
pub fn accuracy(data: &Dataset, logits: impl Fn(MatRef<'_, f32>) -> Mat<f32>) -> f64 {
    const CHUNK: usize = 2048;
    let x = data.x();
    let mut correct = 0usize;
    for start in (0..data.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(data.len());
        let z = logits(x.subrows(start, end - start));
        for i in 0..z.nrows() {
            if argmax(z.row(i).iter().copied()) == data.labels[start + i] as usize {
                correct += 1;
            }
        }
    }
    correct as f64 / data.len().max(1) as f64
}

/// Adds `bias[c]` to column `c` of a batch of logits (one image per row).
pub fn add_bias(z: &mut Mat<f32>, bias: &[f32]) {
    for (j, &b) in bias.iter().enumerate().take(z.ncols()) {
        z.col_mut(j).iter_mut().for_each(|v| *v += b);
    }
}

/// Index of the largest value (first on ties), as `torch.argmax`.
pub fn argmax(values: impl Iterator<Item = f32>) -> usize {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}
