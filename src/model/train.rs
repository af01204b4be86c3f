use std::time::Instant;

use anyhow::{Result, bail};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Bilinear, ModelConfig};
use crate::data::Dataset;
use crate::linalg;
use crate::optim::{AdamWStep, OptimConfig};

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
pub fn train(cfg: &TrainConfig, data: &Dataset, on_epoch: impl FnMut(usize, f64)) -> Result<(Bilinear, TrainReport)> {
    train_sharded(cfg, data, linalg::threads().min(cfg.batch_size), on_epoch)
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
    cfg.validate()?;
    if data.is_empty() {
        bail!("cannot train on an empty data set");
    }
    let start = Instant::now();
    let mut rng = linalg::rng(cfg.seed);
    let layout = Layout(ModelConfig { n_inputs: data.n_pixels(), n_embed: cfg.n_embed, n_hidden: cfg.n_hidden, n_outputs: data.n_classes });
    let mut params = layout.flatten(&Bilinear::init(layout.0, &mut rng));
    let mut opt = FlatAdamW::new(OptimConfig::adamw(cfg.weight_decay), params.len());
    let mut workspaces: Vec<Workspace> = (0..shards).map(|_| Workspace::new(layout.0, cfg.batch_size.div_ceil(shards))).collect();
    let images = Images::new(data);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut epoch_losses = Vec::with_capacity(cfg.epochs);
    for epoch in 0..cfg.epochs {
        order.shuffle(&mut rng);
        // The steps run on a pool thread, so that no parallel phase has to wake this one up.
        let total = rayon::scope(|_| -> Result<f64> {
            let mut total = 0.0f64;
            for (step, batch) in order.chunks(cfg.batch_size).enumerate() {
                let noise_key = gauss::child(gauss::child(gauss::child(gauss::ROOT, cfg.seed), epoch as u64), step as u64);
                workspaces.par_iter_mut().enumerate().for_each(|(k, ws)| {
                    let (lo, hi) = (k * batch.len() / shards, (k + 1) * batch.len() / shards);
                    ws.gather(data, &images, &batch[lo..hi], lo, cfg, noise_key);
                    ws.forward_backward(layout, &params, batch.len());
                });
                let loss: f64 = workspaces.iter().map(|ws| ws.loss).sum();
                if !loss.is_finite() {
                    bail!("training diverged: the loss became {loss} at epoch {} step {}", epoch + 1, step + 1);
                }
                total += loss * batch.len() as f64;
                opt.step(&mut params, &workspaces, cfg.lr);
            }
            Ok(total)
        })?;
        let loss = total / data.len() as f64;
        epoch_losses.push(loss);
        on_epoch(epoch + 1, loss);
    }
    Ok((layout.unflatten(&params), TrainReport { epoch_losses, seconds: start.elapsed().as_secs_f64() }))
}

/// The training images, kept as bytes when every pixel is a multiple of 1/255 (as IDX data
/// is): batches then gather a quarter of the bytes, converted back to the very same floats.
enum Images<'a> {
    Bytes(Vec<u8>, usize),
    Floats(&'a Dataset),
}

impl<'a> Images<'a> {
    fn new(data: &'a Dataset) -> Self {
        const CHUNK: usize = 1 << 16;
        let mut bytes = vec![0u8; data.pixels.len()];
        let exact = (bytes.par_chunks_mut(CHUNK).zip(data.pixels.par_chunks(CHUNK)))
            .map(|(bytes, pixels)| {
                simd(
                    #[inline(always)]
                    || {
                        let mut exact = true;
                        for (b, &x) in bytes.iter_mut().zip(pixels) {
                            *b = (x * 255.0 + 0.5) as u8;
                            exact &= *b as f32 / 255.0 == x;
                        }
                        exact
                    },
                )
            })
            .reduce(|| true, |a, b| a & b);
        if exact { Images::Bytes(bytes, data.n_pixels()) } else { Images::Floats(data) }
    }

    /// Writes image `i` into `out`.
    fn copy(&self, i: usize, out: &mut [f32]) {
        match self {
            Images::Bytes(bytes, d) => simd(
                #[inline(always)]
                || {
                    for (x, &b) in out.iter_mut().zip(&bytes[i * d..(i + 1) * d]) {
                        *x = b as f32 / 255.0;
                    }
                },
            ),
            Images::Floats(data) => out.copy_from_slice(data.image(i)),
        }
    }

    /// Asks the CPU to start loading image `i` into the cache (a hint: it cannot fault).
    fn prefetch(&self, i: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let (start, bytes) = match self {
                Images::Bytes(bytes, d) => (bytes[i * d..].as_ptr(), *d),
                Images::Floats(data) => (data.image(i).as_ptr().cast::<u8>(), 4 * data.n_pixels()),
            };
            for offset in (0..bytes).step_by(64) {
                // SAFETY: prefetching is a hint that never faults.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset).cast()) };
            }
        }
    }
}

/// Where the weights lie in one flat vector (the gradients use the same layout): column-major
/// `w_e` (e × d), `w_lr` (2h × e: the rows of `w_l`, then those of `w_r`, so that L and R come
/// from one product), `w_u` (o × h), then the bias (o).
#[derive(Clone, Copy)]
struct Layout(ModelConfig);

impl Layout {
    fn sizes(self) -> [usize; 4] {
        let c = self.0;
        [c.n_embed * c.n_inputs, 2 * c.n_hidden * c.n_embed, c.n_outputs * c.n_hidden, c.n_outputs]
    }

    fn len(self) -> usize {
        self.sizes().iter().sum()
    }

    /// `[w_e, w_lr, w_u, bias]`.
    fn split(self, flat: &[f32]) -> [&[f32]; 4] {
        let [a, b, c, _] = self.sizes();
        let (w_e, rest) = flat.split_at(a);
        let (w_lr, rest) = rest.split_at(b);
        let (w_u, bias) = rest.split_at(c);
        [w_e, w_lr, w_u, bias]
    }

    fn split_mut(self, flat: &mut [f32]) -> [&mut [f32]; 4] {
        let [a, b, c, _] = self.sizes();
        let (w_e, rest) = flat.split_at_mut(a);
        let (w_lr, rest) = rest.split_at_mut(b);
        let (w_u, bias) = rest.split_at_mut(c);
        [w_e, w_lr, w_u, bias]
    }

    fn flatten(self, m: &Bilinear) -> Vec<f32> {
        let mut flat = linalg::to_col_major(m.w_e.as_ref());
        for j in 0..self.0.n_embed {
            flat.extend(m.w_l.col(j).iter().chain(m.w_r.col(j).iter()));
        }
        flat.extend(linalg::to_col_major(m.w_u.as_ref()));
        flat.extend(&m.bias);
        assert_eq!(flat.len(), self.len());
        flat
    }

    fn unflatten(self, flat: &[f32]) -> Bilinear {
        let ModelConfig { n_inputs: d, n_embed: e, n_hidden: h, n_outputs: o } = self.0;
        let [w_e, w_lr, w_u, bias] = self.split(flat);
        Bilinear {
            w_e: Mat::from_fn(e, d, |i, j| w_e[i + j * e]),
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
struct Workspace {
    /// Images in the current shard.
    rows: usize,
    /// The shard's images with their noise, one per column (d × rows), and their labels.
    x: Vec<f32>,
    labels: Vec<u8>,
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
    grads: Vec<f32>,
    loss: f64,
}

impl Workspace {
    fn new(c: ModelConfig, rows: usize) -> Self {
        let zeros = |features: usize| vec![0.0f32; features * rows];
        Self {
            rows: 0,
            x: zeros(c.n_inputs),
            labels: vec![0; rows],
            h: zeros(c.n_embed),
            dh: zeros(c.n_embed),
            lr: zeros(2 * c.n_hidden),
            p: zeros(c.n_hidden),
            z: zeros(c.n_outputs),
            grads: vec![0.0; Layout(c).len()],
            loss: 0.0,
        }
    }

    /// Copies the shard's images, adding N(0, σ²) noise to each with probability p. Each image
    /// draws from its own stream, keyed by its position in the batch (the shard starts at
    /// position `first`), so the noise does not depend on the number of threads.
    fn gather(&mut self, data: &Dataset, images: &Images, batch: &[usize], first: usize, cfg: &TrainConfig, key: u64) {
        self.rows = batch.len();
        for (k, (column, &i)) in self.x.chunks_exact_mut(data.n_pixels()).zip(batch).enumerate() {
            if let Some(&next) = batch.get(k + 1) {
                images.prefetch(next);
            }
            self.labels[k] = data.labels[i];
            images.copy(i, column);
            let stream = gauss::child(key, (first + k) as u64);
            if cfg.noise_std > 0.0 && gauss::uniform(gauss::draw(stream, 0)) < cfg.noise_prob {
                gauss::add_noise(column, stream, cfg.noise_std);
            }
        }
    }

    /// One forward and backward pass over the shard: fills `grads` with the gradient of the
    /// whole batch's mean cross-entropy (`batch` images) and `loss` with the shard's share of it.
    fn forward_backward(&mut self, layout: Layout, params: &[f32], batch: usize) {
        let ModelConfig { n_inputs: d, n_embed: e, n_hidden: hd, n_outputs: o } = layout.0;
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

/// AdamW on the flat weights, in one contiguous part per shard updated in parallel, with the
/// shards' gradients summed in shard order on the fly. The arithmetic is that of
/// [`crate::optim::AdamW`] operation for operation (so the same bits, see the tests), which
/// works on whole matrices and cannot be split up so.
struct FlatAdamW {
    cfg: OptimConfig,
    t: i32,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl FlatAdamW {
    fn new(cfg: OptimConfig, len: usize) -> Self {
        Self { cfg, t: 0, m: vec![0.0; len], v: vec![0.0; len] }
    }

    fn step(&mut self, params: &mut [f32], shards: &[Workspace], lr: f32) {
        const BLOCK: usize = 256;
        self.t += 1;
        let update = AdamWStep::new(&self.cfg, self.t, lr);
        let part = params.len().div_ceil(shards.len()).next_multiple_of(BLOCK);
        let parts = params.par_chunks_mut(part).zip(self.m.par_chunks_mut(part)).zip(self.v.par_chunks_mut(part));
        parts.enumerate().for_each(|(k, ((p, m), v))| {
            simd(
                #[inline(always)]
                || {
                    let mut g = [0.0f32; BLOCK];
                    for (b, ((p, m), v)) in p.chunks_mut(BLOCK).zip(m.chunks_mut(BLOCK)).zip(v.chunks_mut(BLOCK)).enumerate() {
                        let at = k * part + b * BLOCK;
                        let g = &mut g[..p.len()];
                        g.copy_from_slice(&shards[0].grads[at..at + p.len()]);
                        for shard in &shards[1..] {
                            for (g, s) in g.iter_mut().zip(&shard.grads[at..]) {
                                *g += s;
                            }
                        }
                        for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(&*g) {
                            update.apply(p, m, v, g);
                        }
                    }
                },
            )
        });
    }
}

/// Runs `f` compiled for AVX-512 or AVX2 where the CPU has them, so that its loops vectorise
/// wide. The results are the same bits on every CPU: Rust never fuses a multiply and an add
/// unless asked to, and division and square root are correctly rounded.
#[inline(always)]
fn simd<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2")]
        fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2")]
        fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        if has!("avx512f") && has!("avx512dq") && has!("avx512vl") {
            // SAFETY: the CPU has the features the function is compiled for.
            return unsafe { avx512(f) };
        }
        if has!("avx2") {
            // SAFETY: as above.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// Counter-based random numbers and exact Gaussian noise, in a form the compiler vectorises.
///
/// A stream is SplitMix64 started at a key: draw `i` is `mix64(key + (i + 1)·γ)`, computed
/// from `i` directly, so 16 draws are 16 independent SIMD lanes; keys derive from a parent key
/// with [`child`]. Normals come in pairs from one 64-bit draw by the Box–Muller transform: the
/// low 32 bits give the radius `√(−2 ln u)` with `u ∈ (0, 1]` (tails reach 6.7σ), the high bits
/// two signs and an angle in a quarter turn (a uniform angle on the circle is a uniform angle
/// in one quadrant with random signs). ln, sin and cos are polynomials accurate to about an
/// ulp, so the values are N(0, 1) to f32 precision: the distribution is not approximated.
mod gauss {
    use std::f32::consts::FRAC_PI_2;

    pub const ROOT: u64 = 0x6A09_E667_F3BC_C909;
    const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

    /// SplitMix64's output function, a bijection of u64.
    #[inline(always)]
    fn mix64(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The key of sub-stream `index` of `key`.
    pub fn child(key: u64, index: u64) -> u64 {
        mix64(key ^ index.wrapping_mul(GAMMA))
    }

    /// Draw `i` of stream `key`.
    #[inline(always)]
    pub fn draw(key: u64, i: u64) -> u64 {
        mix64(key.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA)))
    }

    /// A uniform number in [0, 1) from the top 24 bits of a draw.
    pub fn uniform(u: u64) -> f32 {
        (u >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// `x += std·z`, with `z` the normals of stream `key` from draw 1 on.
    pub fn add_noise(x: &mut [f32], key: u64, std: f32) {
        super::simd(
            #[inline(always)]
            || add_noise_portable(x, key, std),
        )
    }

    /// [`add_noise`] for any instruction set (the same bits, see [`simd`](super::simd)).
    /// Pixels `32b..32b+16` take the first normal of pairs `16b..16b+16`, the next 16 pixels
    /// their second.
    #[inline(always)]
    pub fn add_noise_portable(x: &mut [f32], key: u64, std: f32) {
        let mut z = [0.0f32; 32];
        for (block, x) in x.chunks_mut(32).enumerate() {
            let first = 1 + 16 * block as u64;
            for k in 0..16 {
                (z[k], z[k + 16]) = pair(draw(key, first + k as u64));
            }
            for (x, z) in x.iter_mut().zip(&z) {
                *x += std * z;
            }
        }
    }

    /// Two independent N(0, 1) values from one draw (Box–Muller, see the module notes).
    #[inline(always)]
    fn pair(u: u64) -> (f32, f32) {
        let (lo, hi) = (u as u32, (u >> 32) as u32);
        let radius = (-2.0 * ln(lo as f32 * (1.0 / 4_294_967_296.0) + 1.0 / 8_589_934_592.0)).sqrt();
        // The angle a·(π/2)/2²⁴ in [0, π/2), folded into [0, π/4] exactly on the integer grid.
        let a = hi >> 8;
        let swap = a > 1 << 23;
        let phi = (if swap { (1 << 24) - a } else { a }) as f32 * (FRAC_PI_2 / (1u32 << 24) as f32);
        let (s, c) = sin_cos(phi);
        let (c, s) = if swap { (s, c) } else { (c, s) };
        let sign = |bit: u32| (hi >> bit) << 31;
        (f32::from_bits((radius * c).to_bits() ^ sign(0)), f32::from_bits((radius * s).to_bits() ^ sign(1)))
    }

    /// Natural log of a normal positive number: musl's `logf`, error below 1 ulp.
    #[inline(always)]
    pub fn ln(x: f32) -> f32 {
        const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
        const LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
        const LG: [f32; 4] = [
            f32::from_bits(0x3f2a_aaaa), // 0xaaaaaa.0p-24
            f32::from_bits(0x3ecc_ce13), // 0xccce13.0p-25
            f32::from_bits(0x3e91_e9ee), // 0x91e9ee.0p-25
            f32::from_bits(0x3e78_9e26), // 0xf89e26.0p-26
        ];
        // x = 2^k·(1 + f) with 1 + f in [√½, √2).
        let ix = x.to_bits().wrapping_add(0x3f80_0000 - 0x3f35_04f3);
        let k = (ix >> 23) as i32 - 0x7f;
        let f = f32::from_bits((ix & 0x007f_ffff) + 0x3f35_04f3) - 1.0;
        let s = f / (2.0 + f);
        let z = s * s;
        let w = z * z;
        let r = z * (LG[0] + w * LG[2]) + w * (LG[1] + w * LG[3]);
        let hfsq = 0.5 * f * f;
        let dk = k as f32;
        s * (hfsq + r) + dk * LN2_LO - hfsq + f + dk * LN2_HI
    }

    /// `(sin x, cos x)` for x in [0, π/4], by their Taylor series (truncation below 2e-9).
    #[inline(always)]
    pub fn sin_cos(x: f32) -> (f32, f32) {
        let x2 = x * x;
        let sin = x + x * x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362_880.0))));
        let cos = 1.0 + x2 * (-0.5 + x2 * (1.0 / 24.0 + x2 * (-1.0 / 720.0 + x2 * (1.0 / 40_320.0 + x2 * (-1.0 / 3_628_800.0)))));
        (sin, cos)
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
        let mut model = Bilinear::init(cfg, &mut rng);
        model.bias = vec![0.0, 0.1, 0.2];
        let bias = Mat::from_fn(3, 1, |i, _| model.bias[i]);
        let x = linalg::randn(&mut rng, 5, 9, 1.0);
        let labels = [0u8, 2, 1, 1, 0];
        let layout = Layout(cfg);
        assert_eq!(layout.unflatten(&layout.flatten(&model)).w_r, model.w_r);
        let mut ws = Workspace::new(cfg, 5);
        ws.x.copy_from_slice(&linalg::to_row_major(x.as_ref()));
        ws.labels.copy_from_slice(&labels);
        ws.rows = 5;
        ws.forward_backward(layout, &layout.flatten(&model), 5);
        let weights = [
            to_f64(model.w_e.as_ref()),
            to_f64(model.w_l.as_ref()),
            to_f64(model.w_r.as_ref()),
            to_f64(model.w_u.as_ref()),
            to_f64(bias.as_ref()),
        ];
        let x64 = to_f64(x.as_ref());
        assert!((ws.loss - loss_f64(&weights, &x64, &labels)).abs() < 1e-5);
        let g = layout.unflatten(&ws.grads);
        let g_bias = Mat::from_fn(3, 1, |i, _| g.bias[i]);
        for (k, grad) in [&g.w_e, &g.w_l, &g.w_r, &g.w_u, &g_bias].into_iter().enumerate() {
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
    fn flat_adamw_matches_the_optimiser_bit_for_bit() {
        let cfg = ModelConfig { n_inputs: 300, n_embed: 3, n_hidden: 2, n_outputs: 2 };
        let layout = Layout(cfg);
        let mut rng = linalg::rng(5);
        let mut model = Bilinear::init(cfg, &mut rng);
        model.bias = vec![0.5, -0.25];
        let mut flat = layout.flatten(&model);
        let mut bias = Mat::from_fn(2, 1, |i, _| model.bias[i]);
        let optim = OptimConfig::adamw(0.01);
        let (mut reference, mut fused) = (optim.build(), FlatAdamW::new(optim, flat.len()));
        let mut shards: Vec<Workspace> = (0..3).map(|_| Workspace::new(cfg, 1)).collect();
        for step in 0..4 {
            for shard in &mut shards {
                shard.grads = linalg::randn(&mut rng, layout.len(), 1, 1.0).col(0).iter().copied().collect();
            }
            let mut sum = layout.unflatten(&shards[0].grads);
            for shard in &shards[1..] {
                let g = layout.unflatten(&shard.grads);
                sum.w_e += &g.w_e;
                sum.w_l += &g.w_l;
                sum.w_r += &g.w_r;
                sum.w_u += &g.w_u;
                sum.bias.iter_mut().zip(&g.bias).for_each(|(a, b)| *a += b);
            }
            let g_bias = Mat::from_fn(2, 1, |i, _| sum.bias[i]);
            reference.step(
                &mut [&mut model.w_e, &mut model.w_l, &mut model.w_r, &mut model.w_u, &mut bias],
                &[&sum.w_e, &sum.w_l, &sum.w_r, &sum.w_u, &g_bias],
                1e-2,
            );
            fused.step(&mut flat, &shards, 1e-2);
            model.bias = (0..2).map(|i| bias[(i, 0)]).collect();
            assert_eq!(layout.flatten(&model), flat, "step {step}");
        }
    }

    #[test]
    fn noise_is_standard_normal() {
        let n = 1 << 20;
        let mut z = vec![0.0f32; n];
        for (k, row) in z.chunks_mut(784).enumerate() {
            gauss::add_noise(row, gauss::child(gauss::ROOT, k as u64), 1.0);
        }
        let mean = z.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = z.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let kurtosis = z.iter().map(|&v| (v as f64 - mean).powi(4)).sum::<f64>() / n as f64 / var.powi(2);
        assert!(mean.abs() < 5.0 / (n as f64).sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / n as f64).sqrt(), "variance {var}");
        assert!((kurtosis - 3.0).abs() < 5.0 * (24.0 / n as f64).sqrt(), "kurtosis {kurtosis}");
        // Φ(t) at t = 0.5, 1, …, 3, on each side.
        let phi = [0.691_462_461, 0.841_344_746, 0.933_192_799, 0.977_249_868, 0.993_790_335, 0.998_650_102];
        for (i, &p) in phi.iter().enumerate() {
            let t = 0.5 * (i + 1) as f32;
            let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
            let below = z.iter().filter(|&&v| v < t).count() as f64 / n as f64;
            let above = z.iter().filter(|&&v| v > -t).count() as f64 / n as f64;
            assert!((below - p).abs() < tol && (above - p).abs() < tol, "t = {t}: {below} {above} vs {p}");
        }
    }

    #[test]
    fn noise_kernels_are_accurate_and_agree_across_instruction_sets() {
        for i in 0..100_000u32 {
            let x = (i as f32 + 0.5) / 100_000.0 * std::f32::consts::FRAC_PI_4;
            let (s, c) = gauss::sin_cos(x);
            assert!((s as f64 - (x as f64).sin()).abs() < 1.2e-7 && (c as f64 - (x as f64).cos()).abs() < 1.2e-7, "{x}");
            let u = f32::from_bits(0x3000_0000 + i * 0x2000 + (i % 7));
            let reference = (u as f64).ln();
            assert!((gauss::ln(u) as f64 - reference).abs() <= 1.2e-7 * reference.abs().max(1.0), "ln {u}");
        }
        let mut fast: Vec<f32> = (0..784).map(|i| i as f32 / 784.0).collect();
        let mut portable = fast.clone();
        gauss::add_noise(&mut fast, 42, 0.4);
        gauss::add_noise_portable(&mut portable, 42, 0.4);
        assert_eq!(fast, portable);
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
    fn images_are_gathered_exactly() {
        let mut data = crate::data::embedded().train.subset(&[0, 1, 2]);
        let check = |data: &Dataset, bytes: bool| {
            let images = Images::new(data);
            assert_eq!(matches!(images, Images::Bytes(..)), bytes);
            let mut out = vec![0.0; data.n_pixels()];
            for i in 0..data.len() {
                images.prefetch(i);
                images.copy(i, &mut out);
                assert_eq!(out, data.image(i));
            }
        };
        check(&data, true);
        data.pixels[5] = 0.3;
        check(&data, false);
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
