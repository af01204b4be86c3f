use faer::{Mat, MatRef};
use serde::{Deserialize, Serialize};

use crate::data::Dataset;
use crate::error::Error;
use crate::linalg::{self, Rng};

/// Layer sizes; always read from the weights, never assumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub n_inputs: usize,
    /// Width of the embedding, or `None` for a bilinear layer that reads its inputs directly.
    pub n_embed: Option<usize>,
    pub n_hidden: usize,
    pub n_outputs: usize,
}

impl ModelConfig {
    /// Width of the space the bilinear layer reads: the embedding's, or the inputs'.
    pub fn n_read(&self) -> usize {
        self.n_embed.unwrap_or(self.n_inputs)
    }
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self { n_inputs: 784, n_embed: Some(96), n_hidden: 256, n_outputs: 10 }
    }
}

/// The weights of a bilinear layer `y = W_u ((W_l h) ⊙ (W_r h)) + b`, reading `h = W_e x` (a
/// classifier with an embedding) or `h = x` (a layer such as a language model's bilinear MLP),
/// shaped as PyTorch stores them.
#[derive(Clone, Debug, PartialEq)]
pub struct Bilinear {
    /// Embedding, `n_embed × n_inputs`; `None` when the layer reads its inputs directly.
    pub w_e: Option<Mat<f32>>,
    /// Left projection, `n_hidden × n_read` (`w_lr_param[0]`).
    pub w_l: Mat<f32>,
    /// Right projection, `n_hidden × n_read` (`w_lr_param[1]`).
    pub w_r: Mat<f32>,
    /// Output projection (the classifier's unembedding), `n_outputs × n_hidden`.
    pub w_u: Mat<f32>,
    /// Output bias, `n_outputs`; not part of the interaction tensor.
    pub bias: Vec<f32>,
}

impl Bilinear {
    /// PyTorch's initialisation in the reference: N(0,1)/√fan_in for every matrix, zero bias.
    pub fn init(cfg: ModelConfig, rng: &mut Rng) -> Self {
        let scale = |fan_in: usize| 1.0 / (fan_in as f32).sqrt();
        let read = cfg.n_read();
        Self {
            w_e: cfg.n_embed.map(|e| linalg::randn(rng, e, cfg.n_inputs, scale(cfg.n_inputs))),
            w_l: linalg::randn(rng, cfg.n_hidden, read, scale(read)),
            w_r: linalg::randn(rng, cfg.n_hidden, read, scale(read)),
            w_u: linalg::randn(rng, cfg.n_outputs, cfg.n_hidden, scale(cfg.n_hidden)),
            bias: vec![0.0; cfg.n_outputs],
        }
    }

    /// A layer from its weights (shapes as PyTorch stores them; no bias is a zero bias), after
    /// checking that the shapes fit together and every size is positive.
    pub fn new(w_e: Option<Mat<f32>>, w_l: Mat<f32>, w_r: Mat<f32>, w_u: Mat<f32>, bias: Option<Vec<f32>>) -> Result<Self, Error> {
        let read = w_e.as_ref().map_or(w_l.ncols(), |e| e.nrows());
        let outputs = w_u.nrows();
        if (w_l.nrows(), w_l.ncols()) != (w_r.nrows(), w_r.ncols()) || w_l.ncols() != read || w_u.ncols() != w_l.nrows() {
            return Err(Error::Invalid(format!(
                "inconsistent shapes: embedding {:?}, left {}×{}, right {}×{}, output {}×{}",
                w_e.as_ref().map(|e| (e.nrows(), e.ncols())),
                w_l.nrows(),
                w_l.ncols(),
                w_r.nrows(),
                w_r.ncols(),
                w_u.nrows(),
                w_u.ncols()
            )));
        }
        if [w_l.nrows(), w_l.ncols(), outputs].contains(&0) || w_e.as_ref().is_some_and(|e| e.ncols() == 0) {
            return Err(Error::Invalid("every size must be positive".into()));
        }
        let bias = match bias {
            Some(b) if b.len() == outputs => b,
            Some(b) => return Err(Error::Invalid(format!("bias must have {outputs} entries, found {}", b.len()))),
            // A layer without a bias is purely quadratic.
            None => vec![0.0; outputs],
        };
        Ok(Self { w_e, w_l, w_r, w_u, bias })
    }

    pub fn config(&self) -> ModelConfig {
        ModelConfig {
            n_inputs: self.w_e.as_ref().map_or(self.w_l.ncols(), |e| e.ncols()),
            n_embed: self.w_e.as_ref().map(|e| e.nrows()),
            n_hidden: self.w_l.nrows(),
            n_outputs: self.w_u.nrows(),
        }
    }

    /// The same layer read through `directions` (`k × n_outputs`): outputs `directions · y`,
    /// so a decomposition can target a chosen set of output directions of a wide layer.
    pub fn project_outputs(&self, directions: MatRef<'_, f32>) -> Bilinear {
        let bias = Mat::from_fn(self.bias.len(), 1, |i, _| self.bias[i]);
        let b = linalg::mul(directions, bias.as_ref());
        Bilinear { w_u: linalg::mul(directions, self.w_u.as_ref()), bias: (0..b.nrows()).map(|i| b[(i, 0)]).collect(), ..self.clone() }
    }

    /// The same layer reading its inputs through `projector` (`n_inputs × n_inputs`, e.g. the
    /// projection onto a subspace): `y(x) = y_original(P x)`.
    pub fn restrict_inputs(&self, projector: MatRef<'_, f32>) -> Bilinear {
        match &self.w_e {
            Some(e) => Bilinear { w_e: Some(linalg::mul(e.as_ref(), projector)), ..self.clone() },
            None => {
                Bilinear { w_l: linalg::mul(self.w_l.as_ref(), projector), w_r: linalg::mul(self.w_r.as_ref(), projector), ..self.clone() }
            }
        }
    }

    /// Logits for a batch `x` (`n × n_inputs`), with the output bias.
    pub fn logits(&self, x: MatRef<'_, f32>) -> Mat<f32> {
        let embedded = self.w_e.as_ref().map(|e| linalg::mul(x, e.transpose()));
        let h = embedded.as_ref().map_or(x, |h| h.as_ref());
        let l = linalg::mul(h.as_ref(), self.w_l.transpose());
        let r = linalg::mul(h.as_ref(), self.w_r.transpose());
        let p = Mat::from_fn(l.nrows(), l.ncols(), |i, j| l[(i, j)] * r[(i, j)]);
        let mut z = linalg::mul(p.as_ref(), self.w_u.transpose());
        add_bias(&mut z, &self.bias);
        z
    }

    /// Fraction of `data` classified correctly (argmax of the logits, with bias); `None`
    /// without labels or examples.
    pub fn accuracy(&self, data: &Dataset) -> Option<f64> {
        accuracy(data, |x| self.logits(x))
    }
}

/// Accuracy of any batched logit function on `data`, evaluated in chunks to bound memory;
/// `None` for a set without labels or without examples.
pub fn accuracy(data: &Dataset, logits: impl Fn(MatRef<'_, f32>) -> Mat<f32>) -> Option<f64> {
    const CHUNK: usize = 2048;
    let labels = data.labels.as_ref().filter(|l| !l.is_empty())?;
    let x = data.x();
    let mut correct = 0usize;
    for start in (0..data.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(data.len());
        correct += n_correct(logits(x.subrows(start, end - start)).as_ref(), &labels[start..end]);
    }
    Some(correct as f64 / data.len() as f64)
}

/// Accuracy on `data` of its logits `z` (one row per example), already computed.
pub fn accuracy_of_logits(data: &Dataset, z: MatRef<'_, f32>) -> Option<f64> {
    let labels = data.labels.as_ref().filter(|l| !l.is_empty())?;
    Some(n_correct(z, labels) as f64 / data.len() as f64)
}

/// How many rows of `z` have their largest logit at the label.
fn n_correct(z: MatRef<'_, f32>, labels: &[u8]) -> usize {
    (0..z.nrows()).filter(|&i| argmax(z.row(i).iter().copied()) == labels[i] as usize).count()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projected_outputs_are_the_directions_applied_to_the_logits() {
        for n_embed in [Some(4), None] {
            let mut model = Bilinear::init(ModelConfig { n_inputs: 6, n_embed, n_hidden: 5, n_outputs: 7 }, &mut linalg::rng(1));
            model.bias = (0..7).map(|o| o as f32 * 0.1).collect();
            let directions = linalg::randn(&mut linalg::rng(2), 3, 7, 1.0);
            let x = linalg::randn(&mut linalg::rng(3), 4, 6, 1.0);
            let want = linalg::mul(model.logits(x.as_ref()).as_ref(), directions.transpose());
            let got = model.project_outputs(directions.as_ref()).logits(x.as_ref());
            assert_eq!(got.ncols(), 3);
            for (i, j) in (0..4).flat_map(|i| (0..3).map(move |j| (i, j))) {
                assert!((got[(i, j)] - want[(i, j)]).abs() < 1e-4 * (1.0 + want[(i, j)].abs()), "{n_embed:?}");
            }
        }
    }
}
