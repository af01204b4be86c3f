//! One forward and backward pass of the bilinear classifier over a shard of a batch, by hand:
//! six GEMMs on buffers reused across steps, in the layout faer is fastest in.

use crate::linalg::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::TrainConfig;
use super::images::Images;
use super::noise;
use super::simd::simd;
use crate::data::Dataset;
use crate::linalg;
use crate::model::{Bilinear, ModelConfig};

/// Layer sizes of the classifier being trained (it always has an embedding).
#[derive(Clone, Copy, Debug)]
pub(super) struct Sizes {
    /// Inputs `d`, embedding `e`, hidden units `h`, outputs `o`.
    pub(super) d: usize,
    pub(super) e: usize,
    pub(super) h: usize,
    pub(super) o: usize,
}

impl Sizes {
    pub(super) fn config(self) -> ModelConfig {
        ModelConfig { n_inputs: self.d, n_embed: Some(self.e), n_hidden: self.h, n_outputs: self.o }
    }
}

/// Where the weights lie in one flat vector (the gradients use the same layout): column-major
/// `w_e` (e × d), `w_lr` (2h × e: the rows of `w_l`, then those of `w_r`, so that L and R come
/// from one product), `w_u` (o × h), then the bias (o).
#[derive(Clone, Copy)]
pub(super) struct Layout(pub(super) Sizes);

impl Layout {
    pub(super) fn sizes(self) -> [usize; 4] {
        let Sizes { d, e, h, o } = self.0;
        [e * d, 2 * h * e, o * h, o]
    }

    pub(super) fn len(self) -> usize {
        self.sizes().iter().sum()
    }

    /// `[w_e, w_lr, w_u, bias]`.
    pub(super) fn split(self, flat: &[f32]) -> [&[f32]; 4] {
        let [a, b, c, _] = self.sizes();
        let (w_e, rest) = flat.split_at(a);
        let (w_lr, rest) = rest.split_at(b);
        let (w_u, bias) = rest.split_at(c);
        [w_e, w_lr, w_u, bias]
    }

    pub(super) fn split_mut(self, flat: &mut [f32]) -> [&mut [f32]; 4] {
        let [a, b, c, _] = self.sizes();
        let (w_e, rest) = flat.split_at_mut(a);
        let (w_lr, rest) = rest.split_at_mut(b);
        let (w_u, bias) = rest.split_at_mut(c);
        [w_e, w_lr, w_u, bias]
    }

    pub(super) fn flatten(self, m: &Bilinear) -> Vec<f32> {
        let mut flat = linalg::to_col_major(m.w_e.as_ref().expect("a trained classifier has an embedding").as_ref());
        for j in 0..self.0.e {
            flat.extend(m.w_l.col(j).iter().chain(m.w_r.col(j).iter()));
        }
        flat.extend(linalg::to_col_major(m.w_u.as_ref()));
        flat.extend(&m.bias);
        assert_eq!(flat.len(), self.len());
        flat
    }

    pub(super) fn unflatten(self, flat: &[f32]) -> Bilinear {
        let Sizes { d, e, h, o } = self.0;
        let [w_e, w_lr, w_u, bias] = self.split(flat);
        Bilinear {
            w_e: Some(Mat::from_fn(e, d, |i, j| w_e[i + j * e])),
            w_l: Mat::from_fn(h, e, |i, j| w_lr[i + j * 2 * h]),
            w_r: Mat::from_fn(h, e, |i, j| w_lr[h + i + j * 2 * h]),
            w_u: Mat::from_fn(o, h, |i, j| w_u[i + j * o]),
            bias: bias.to_vec(),
        }
    }
}

/// The leading `rows × cols` of a buffer as a column-major matrix.
fn cm(buf: &[f32], rows: usize, cols: usize) -> MatRef<'_, f32> {
    MatRef::from_column_major_slice(&buf[..rows * cols], rows, cols)
}

fn cm_mut(buf: &mut [f32], rows: usize, cols: usize) -> MatMut<'_, f32> {
    MatMut::from_column_major_slice_mut(&mut buf[..rows * cols], rows, cols)
}

/// One thread's buffers, reused across steps so the hot loop allocates nothing; sized for a
/// full shard, a shorter one uses their leading part. Activations hold one image per column
/// (`h` is e × rows, …), which puts every product in faer's fastest layout and keeps each
/// image's values contiguous.
pub(super) struct Workspace {
    /// Images in the current shard.
    pub(super) rows: usize,
    /// The shard's images with their noise, one per column (d × rows), and their labels.
    pub(super) x: Vec<f32>,
    pub(super) labels: Vec<u8>,
    /// `h`, then `dh` (e × rows).
    h: Vec<f32>,
    dh: Vec<f32>,
    /// `[l; r]` (2h × rows), then `[dl; dr]`.
    lr: Vec<f32>,
    /// `p = l ⊙ r` (h × rows), then `dp`.
    p: Vec<f32>,
    /// Logits (o × rows), then dLoss/dz.
    z: Vec<f32>,
    /// Gradient of the whole batch's mean loss through this shard's images, laid out as the
    /// weights, and this shard's share of that loss.
    pub(super) grads: Vec<f32>,
    pub(super) loss: f64,
}

impl Workspace {
    pub(super) fn new(c: Sizes, rows: usize) -> Self {
        let zeros = |features: usize| vec![0.0f32; features * rows];
        Self {
            rows: 0,
            x: zeros(c.d),
            labels: vec![0; rows],
            h: zeros(c.e),
            dh: zeros(c.e),
            lr: zeros(2 * c.h),
            p: zeros(c.h),
            z: zeros(c.o),
            grads: vec![0.0; Layout(c).len()],
            loss: 0.0,
        }
    }

    /// Copies the shard's images, adding N(0, σ²) noise to each with probability p. Each image
    /// draws from its own stream, keyed by its position in the batch (the shard starts at
    /// position `first`), so the noise does not depend on the number of threads.
    pub(super) fn gather(&mut self, data: &Dataset, images: &Images, batch: &[usize], first: usize, cfg: &TrainConfig, key: u64) {
        self.rows = batch.len();
        for (k, (column, &i)) in self.x.chunks_exact_mut(data.n_inputs).zip(batch).enumerate() {
            if let Some(&next) = batch.get(k + 1) {
                images.prefetch(next);
            }
            self.labels[k] = data.label(i).expect("training data are validated to have labels");
            images.copy(i, column);
            let stream = noise::child(key, (first + k) as u64);
            if cfg.noise_std > 0.0 && noise::uniform(noise::draw(stream, 0)) < cfg.noise_prob {
                noise::add_noise(column, stream, cfg.noise_std);
            }
        }
    }

    /// One forward and backward pass over the shard: fills `grads` with the gradient of the
    /// whole batch's mean cross-entropy (`batch` images) and `loss` with the shard's share of it.
    pub(super) fn forward_backward(&mut self, layout: Layout, params: &[f32], batch: usize) {
        let Sizes { d, e, h: hd, o } = layout.0;
        let n = self.rows;
        let [w_e, w_lr, w_u, bias] = layout.split(params);
        let (w_e, w_lr, w_u) = (cm(w_e, e, d), cm(w_lr, 2 * hd, e), cm(w_u, o, hd));
        let [g_e, g_lr, g_u, g_bias] = layout.split_mut(&mut self.grads);
        let gemm = |dst: MatMut<'_, f32>, a: MatRef<'_, f32>, b: MatRef<'_, f32>| matmul(dst, Accum::Replace, a, b, 1.0, Par::Seq);
        let x = cm(&self.x, d, n);

        gemm(cm_mut(&mut self.h, e, n), w_e, x);
        let h = cm(&self.h, e, n);
        gemm(cm_mut(&mut self.lr, 2 * hd, n), w_lr, h);
        simd(
            #[inline(always)]
            || {
                for (p, lr) in self.p[..hd * n].chunks_exact_mut(hd).zip(self.lr.chunks_exact(2 * hd)) {
                    let (l, r) = lr.split_at(hd);
                    for ((p, l), r) in p.iter_mut().zip(l).zip(r) {
                        *p = l * r;
                    }
                }
            },
        );
        gemm(cm_mut(&mut self.z, o, n), w_u, cm(&self.p, hd, n));
        self.loss = softmax_cross_entropy(&mut self.z[..o * n], bias, &self.labels[..n], batch);

        let dz = cm(&self.z, o, n);
        g_bias.fill(0.0);
        for column in self.z[..o * n].chunks_exact(o) {
            for (g, dz) in g_bias.iter_mut().zip(column) {
                *g += dz;
            }
        }
        gemm(cm_mut(g_u, o, hd), dz, cm(&self.p, hd, n).transpose());
        gemm(cm_mut(&mut self.p, hd, n), w_u.transpose(), dz);
        // [l; r] becomes [dl; dr] = [dp ⊙ r; dp ⊙ l].
        simd(
            #[inline(always)]
            || {
                for (dp, lr) in self.p[..hd * n].chunks_exact(hd).zip(self.lr.chunks_exact_mut(2 * hd)) {
                    let (l, r) = lr.split_at_mut(hd);
                    for ((dp, l), r) in dp.iter().zip(l).zip(r) {
                        let (lv, rv) = (*l, *r);
                        *l = dp * rv;
                        *r = dp * lv;
                    }
                }
            },
        );
        let dlr = cm(&self.lr, 2 * hd, n);
        gemm(cm_mut(g_lr, 2 * hd, e), dlr, h.transpose());
        gemm(cm_mut(&mut self.dh, e, n), w_lr.transpose(), dlr);
        gemm(cm_mut(g_e, e, d), cm(&self.dh, e, n), x.transpose());
    }
}

/// Softmax cross-entropy of the logits `z + bias` (one image per column of `z`), as this
/// shard's share of a `batch`-image mean; `z` becomes dLoss/dz = (softmax − onehot) / batch.
fn softmax_cross_entropy(z: &mut [f32], bias: &[f32], labels: &[u8], batch: usize) -> f64 {
    let mut loss = 0.0f64;
    for (column, &y) in z.chunks_exact_mut(bias.len()).zip(labels) {
        for (z, b) in column.iter_mut().zip(bias) {
            *z += b;
        }
        let max = column.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0f32;
        for z in column.iter_mut() {
            *z = (*z - max).exp();
            sum += *z;
        }
        loss -= ((column[y as usize] / sum) as f64).ln();
        for (c, z) in column.iter_mut().enumerate() {
            *z = (*z / sum - if c == y as usize { 1.0 } else { 0.0 }) / batch as f32;
        }
    }
    loss / batch as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg;
    use crate::linalg::to_f64;
    use faer::Mat;

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
        let sizes = Sizes { d: 9, e: 4, h: 6, o: 3 };
        let mut rng = linalg::rng(11);
        let mut model = Bilinear::init(sizes.config(), &mut rng);
        model.bias = vec![0.0, 0.1, 0.2];
        let bias = Mat::from_fn(3, 1, |i, _| model.bias[i]);
        let x = linalg::randn(&mut rng, 5, 9, 1.0);
        let labels = [0u8, 2, 1, 1, 0];
        let layout = Layout(sizes);
        assert_eq!(layout.unflatten(&layout.flatten(&model)).w_r, model.w_r);
        let mut ws = Workspace::new(sizes, 5);
        ws.x.copy_from_slice(&linalg::to_row_major(x.as_ref()));
        ws.labels.copy_from_slice(&labels);
        ws.rows = 5;
        ws.forward_backward(layout, &layout.flatten(&model), 5);
        let weights = [
            to_f64(model.w_e.as_ref().unwrap().as_ref()),
            to_f64(model.w_l.as_ref()),
            to_f64(model.w_r.as_ref()),
            to_f64(model.w_u.as_ref()),
            to_f64(bias.as_ref()),
        ];
        let x64 = to_f64(x.as_ref());
        assert!((ws.loss - loss_f64(&weights, &x64, &labels)).abs() < 1e-5);
        let g = layout.unflatten(&ws.grads);
        let g_bias = Mat::from_fn(3, 1, |i, _| g.bias[i]);
        for (k, grad) in [g.w_e.as_ref().unwrap(), &g.w_l, &g.w_r, &g.w_u, &g_bias].into_iter().enumerate() {
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
}
