//! AdamW on the flat weights of the classifier, fused with the sum of the shards' gradients.

use rayon::prelude::*;

use super::backprop::Workspace;
use super::simd::simd;
use crate::optim::{AdamWStep, OptimConfig};

/// AdamW on the flat weights, in one contiguous part per shard updated in parallel, with the
/// shards' gradients summed in shard order on the fly. The arithmetic is that of
/// [`crate::optim::AdamW`] operation for operation (so the same bits, see the tests), which
/// works on whole matrices and cannot be split up so.
pub(super) struct FlatAdamW {
    cfg: OptimConfig,
    t: i32,
    m: Vec<f32>,
    v: Vec<f32>,
}

impl FlatAdamW {
    pub(super) fn new(cfg: OptimConfig, len: usize) -> Self {
        Self { cfg, t: 0, m: vec![0.0; len], v: vec![0.0; len] }
    }

    pub(super) fn step(&mut self, params: &mut [f32], shards: &[Workspace], lr: f32) {
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

#[cfg(test)]
mod tests {
    use super::super::backprop::{Layout, Sizes};
    use super::*;
    use crate::linalg;
    use crate::model::Bilinear;
    use faer::Mat;

    #[test]
    fn flat_adamw_matches_the_optimiser_bit_for_bit() {
        let sizes = Sizes { d: 300, e: 3, h: 2, o: 2 };
        let layout = Layout(sizes);
        let mut rng = linalg::rng(5);
        let mut model = Bilinear::init(sizes.config(), &mut rng);
        model.bias = vec![0.5, -0.25];
        let mut flat = layout.flatten(&model);
        let mut bias = Mat::from_fn(2, 1, |i, _| model.bias[i]);
        let optim = OptimConfig::adamw(0.01);
        let (mut reference, mut fused) = (optim.build(), FlatAdamW::new(optim, flat.len()));
        let mut shards: Vec<Workspace> = (0..3).map(|_| Workspace::new(sizes, 1)).collect();
        for step in 0..4 {
            for shard in &mut shards {
                shard.grads = linalg::randn(&mut rng, layout.len(), 1, 1.0).col(0).iter().copied().collect();
            }
            let mut sum = layout.unflatten(&shards[0].grads);
            for shard in &shards[1..] {
                let g = layout.unflatten(&shard.grads);
                *sum.w_e.as_mut().unwrap() += g.w_e.as_ref().unwrap();
                sum.w_l += &g.w_l;
                sum.w_r += &g.w_r;
                sum.w_u += &g.w_u;
                sum.bias.iter_mut().zip(&g.bias).for_each(|(a, b)| *a += b);
            }
            let g_bias = Mat::from_fn(2, 1, |i, _| sum.bias[i]);
            reference.step(
                &mut [model.w_e.as_mut().unwrap(), &mut model.w_l, &mut model.w_r, &mut model.w_u, &mut bias],
                &[sum.w_e.as_ref().unwrap(), &sum.w_l, &sum.w_r, &sum.w_u, &g_bias],
                1e-2,
            );
            fused.step(&mut flat, &shards, 1e-2);
            model.bias = (0..2).map(|i| bias[(i, 0)]).collect();
            assert_eq!(layout.flatten(&model), flat, "step {step}");
        }
    }
}
