//! Optimisers and learning-rate schedules with PyTorch's semantics, so that recipes carry over.
//!
//! Parameters are faer matrices (vectors are `n × 1`); an optimiser keeps its state per
//! parameter, in the order the parameters are passed to [`Optimizer::step`].

use crate::linalg::matmul;
use faer::{Accum, Mat, MatMut, MatRef};

use crate::linalg::{col, col_mut};
use serde::{Deserialize, Serialize};

/// Which optimiser a recipe uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    AdamW,
    Muon,
}

impl std::str::FromStr for OptimizerKind {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "adamw" => Ok(Self::AdamW),
            "muon" => Ok(Self::Muon),
            _ => anyhow::bail!("unknown optimizer '{s}' (expected adamw or muon)"),
        }
    }
}

/// Hyper-parameters shared by both optimisers (Muon reads `momentum`, AdamW the betas).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OptimConfig {
    pub kind: OptimizerKind,
    pub weight_decay: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub momentum: f32,
}

impl OptimConfig {
    /// `torch.optim.AdamW` defaults with the given decoupled weight decay.
    pub fn adamw(weight_decay: f32) -> Self {
        Self { kind: OptimizerKind::AdamW, weight_decay, beta1: 0.9, beta2: 0.999, eps: 1e-8, momentum: 0.95 }
    }

    /// `torch.optim.Muon` defaults (momentum 0.95, Nesterov, 5 Newton–Schulz steps).
    pub fn muon(weight_decay: f32) -> Self {
        Self { kind: OptimizerKind::Muon, ..Self::adamw(weight_decay) }
    }

    /// A fresh optimiser of this kind.
    pub fn build(&self) -> Box<dyn Optimizer> {
        match self.kind {
            OptimizerKind::AdamW => Box::new(AdamW::new(self.clone())),
            OptimizerKind::Muon => Box::new(Muon::new(self.clone())),
        }
    }
}

/// One update of every parameter from its gradient, at learning rate `lr`.
pub trait Optimizer: Send {
    fn step(&mut self, params: &mut [&mut Mat<f32>], grads: &[&Mat<f32>], lr: f32);
}

/// AdamW exactly as `torch.optim.AdamW`: decoupled decay first, then the bias-corrected step.
pub struct AdamW {
    cfg: OptimConfig,
    t: i32,
    m: Vec<Mat<f32>>,
    v: Vec<Mat<f32>>,
}

impl AdamW {
    pub fn new(cfg: OptimConfig) -> Self {
        Self { cfg, t: 0, m: Vec::new(), v: Vec::new() }
    }
}

impl Optimizer for AdamW {
    fn step(&mut self, params: &mut [&mut Mat<f32>], grads: &[&Mat<f32>], lr: f32) {
        assert_eq!(params.len(), grads.len());
        if self.m.is_empty() {
            self.m = params.iter().map(|p| Mat::zeros(p.nrows(), p.ncols())).collect();
            self.v = self.m.clone();
        }
        self.t += 1;
        let update = AdamWStep::new(&self.cfg, self.t, lr);
        for (k, (p, g)) in params.iter_mut().zip(grads).enumerate() {
            let (m, v) = (&mut self.m[k], &mut self.v[k]);
            for j in 0..p.ncols() {
                let (pc, gc) = (p.col_mut(j).try_as_col_major_mut().unwrap(), g.col(j));
                let (mc, vc) = (m.col_mut(j).try_as_col_major_mut().unwrap(), v.col_mut(j).try_as_col_major_mut().unwrap());
                let (pc, mc, vc) = (pc.as_slice_mut(), mc.as_slice_mut(), vc.as_slice_mut());
                for i in 0..pc.len() {
                    update.apply(&mut pc[i], &mut mc[i], &mut vc[i], gc[i]);
                }
            }
        }
    }
}

/// One AdamW step's constants (`t` is the 1-based step count), shared by every AdamW loop so
/// that they all compute exactly PyTorch's update.
pub(crate) struct AdamWStep {
    beta1: f32,
    beta2: f32,
    eps: f32,
    decay: f32,
    step: f32,
    bc2_sqrt: f32,
}

impl AdamWStep {
    pub(crate) fn new(c: &OptimConfig, t: i32, lr: f32) -> Self {
        let bc1 = 1.0 - c.beta1.powi(t);
        Self {
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            decay: 1.0 - lr * c.weight_decay,
            step: lr / bc1,
            bc2_sqrt: (1.0 - c.beta2.powi(t)).sqrt(),
        }
    }

    /// Decoupled decay, moment updates and the bias-corrected step for one parameter.
    #[inline(always)]
    pub(crate) fn apply(&self, p: &mut f32, m: &mut f32, v: &mut f32, g: f32) {
        *m = self.beta1 * *m + (1.0 - self.beta1) * g;
        *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
        *p = *p * self.decay - self.step * *m / (v.sqrt() / self.bc2_sqrt + self.eps);
    }
}

/// Newton–Schulz coefficients of `torch.optim.Muon` (a quintic tuned for speed, not exactness).
const NS_COEFFICIENTS: (f32, f32, f32) = (3.4445, -4.7750, 2.0315);
const NS_STEPS: usize = 5;
const NS_EPS: f32 = 1e-7;

/// Muon as `torch.optim.Muon` (PyTorch ≥ 2.9): EMA momentum with Nesterov, the update
/// orthogonalised by 5 Newton–Schulz steps, and the learning rate scaled by
/// `sqrt(max(1, rows/cols))`. PyTorch runs Newton–Schulz in bfloat16; this runs it in f32.
/// Parameters that are not matrices (a dimension of 1) get AdamW updates, which PyTorch would
/// refuse outright.
pub struct Muon {
    cfg: OptimConfig,
    buf: Vec<Mat<f32>>,
    /// Scratch for the Nesterov gradient, one per parameter.
    scratch: Vec<Mat<f32>>,
    fallback: AdamW,
}

impl Muon {
    pub fn new(cfg: OptimConfig) -> Self {
        Self { fallback: AdamW::new(cfg.clone()), cfg, buf: Vec::new(), scratch: Vec::new() }
    }
}

/// The approximate orthogonalisation `UVᵀ` of `g = USVᵀ` used by Muon.
///
/// PyTorch iterates `X ← aX + (bA + cA²)X` with `A = XXᵀ` on the short side `X` (`m × n`,
/// `m ≤ n`). Every step multiplies `X` on the left by `P = aI + bA + cA²`, a polynomial in
/// `A`, so the result is `ΠX` with `Π = P₄⋯P₀` a function of `A₀ = XXᵀ` alone: the long side
/// is touched only twice (`A₀` and `ΠX`), and `Π` is computed on `m × m` matrices
/// ([`polynomial_of_gram`]): the same map in exact arithmetic.
#[cfg(test)]
pub fn newton_schulz(g: MatRef<'_, f32>) -> Mat<f32> {
    let mut out = Mat::zeros(g.nrows(), g.ncols());
    newton_schulz_add(g, out.as_mut(), 1.0);
    out
}

/// `dst += alpha · newton_schulz(g)`, without a temporary for the result.
pub fn newton_schulz_add(g: MatRef<'_, f32>, dst: MatMut<'_, f32>, alpha: f32) {
    let transposed = g.nrows() > g.ncols();
    // X = g or gᵀ, scaled to unit Frobenius norm (X is never formed): ‖g‖² is the trace of
    // ggᵀ, so the Gram matrix is formed first and scaled (faer's robust `norm_l2` would cost a
    // tenth of a rank-256 step).
    let x = if transposed { g.transpose() } else { g };
    let m = x.nrows();
    let mut gram = Mat::zeros(m, m);
    crate::linalg::mul_symmetric(gram.as_mut(), x, x.transpose(), 1.0);
    let norm_sq = (0..m).map(|i| gram[(i, i)] as f64).sum::<f64>();
    let inv_norm = (1.0 / norm_sq.sqrt().max(NS_EPS as f64)) as f32;
    gram *= faer::Scale(inv_norm * inv_norm);
    let acc = if m > SPECTRAL_ABOVE { spectral_polynomial_of_gram(gram) } else { polynomial_of_gram(gram) };
    // ΠX, or (ΠX)ᵀ = gΠᵀ for a tall g; both scaled by 1/‖g‖.
    let par = crate::linalg::par();
    if transposed {
        matmul(dst, Accum::Add, g, acc.transpose(), alpha * inv_norm, par);
    } else {
        matmul(dst, Accum::Add, acc.as_ref(), g, alpha * inv_norm, par);
    }
}

/// `Π = P₄⋯P₀` from `A₀`, by the iteration on Gram matrices: the next Gram matrix is
/// `PAP`, and every `P`, `Π` and `A` is a polynomial in `A₀`, so all of them commute and each
/// product of two of them is symmetric: one triangle of each is computed (17 half products of
/// `m³`, against the plain iteration's `5 · (1.5 m²n + ½ m³)`). Given `P`, the next `Π` and
/// the next `A` are independent, so with a free core they are formed side by side: three
/// products a step on the longest path instead of four.
fn polynomial_of_gram(mut gram: Mat<f32>) -> Mat<f32> {
    use crate::linalg::mul_symmetric;
    let m = gram.nrows();
    // P, Π (the product of the polynomials so far) and a scratch product for each of the two.
    let [mut poly, mut acc, mut acc_tmp, mut gram_tmp] = std::array::from_fn(|_| Mat::<f32>::zeros(m, m));
    let (a, b, c) = NS_COEFFICIENTS;
    for step in 0..NS_STEPS {
        // P = aI + bA + cA².
        mul_symmetric(poly.as_mut(), gram.as_ref(), gram.as_ref(), c);
        for j in 0..m {
            let (pc, gc) = (col_mut(poly.as_mut(), j), col(gram.as_ref(), j));
            for (pv, &gv) in pc.iter_mut().zip(gc) {
                *pv += b * gv;
            }
            pc[j] += a;
        }
        let poly = poly.as_ref();
        let next_acc = || {
            if step == 0 {
                acc.copy_from(poly);
            } else {
                mul_symmetric(acc_tmp.as_mut(), poly, acc.as_ref(), 1.0);
                std::mem::swap(&mut acc, &mut acc_tmp);
            }
        };
        let next_gram = || {
            if step + 1 < NS_STEPS {
                mul_symmetric(gram_tmp.as_mut(), gram.as_ref(), poly, 1.0);
                mul_symmetric(gram.as_mut(), poly, gram_tmp.as_ref(), 1.0);
            }
        };
        crate::linalg::join(next_acc, false, next_gram, false);
    }
    acc
}

/// Short sides above this many rows take [`spectral_polynomial_of_gram`]: from about 384 rows
/// on, one eigendecomposition and one half product cost less than [`polynomial_of_gram`]'s 17
/// half products (timed on an AMD EPYC; docs/speed.md's high-rank `provided_sparse` steps show the
/// effect). At 256 rows the two cost the same, and the polynomial keeps every `concept_`
/// preset's fits (patterns of 256 columns) to the bit.
const SPECTRAL_ABOVE: usize = 256;

/// The same `Π` as [`polynomial_of_gram`], from the eigendecomposition `A₀ = V Λ Vᵀ`: `Π` is a
/// polynomial in `A₀`, so `Π = V f(Λ) Vᵀ` with `f` the iteration run on each eigenvalue. For a
/// singular value `s` of `X` (`λ = s²`) the iteration maps `x = rs` to `x(a + bx² + cx⁴)`, so
/// the ratio `r` (from 1) becomes `r(a + b r²λ + c r⁴λ²)` and `f(λ)` is the final `r`. A Gram
/// matrix whose eigendecomposition fails (not finite) takes the polynomial path, which carries
/// the non-finite values on as PyTorch would.
fn spectral_polynomial_of_gram(gram: Mat<f32>) -> Mat<f32> {
    let Ok(evd) = crate::linalg::decomposed(|| gram.self_adjoint_eigen(faer::Side::Lower)) else {
        return polynomial_of_gram(gram);
    };
    let (a, b, c) = NS_COEFFICIENTS;
    let (vectors, values) = (evd.U(), evd.S().column_vector());
    let mut scaled = vectors.to_owned();
    for j in 0..scaled.ncols() {
        let lambda = values[j].max(0.0);
        let mut r = 1.0f32;
        for _ in 0..NS_STEPS {
            let q = r * r * lambda;
            r *= a + b * q + c * q * q;
        }
        col_mut(scaled.as_mut(), j).iter_mut().for_each(|v| *v *= r);
    }
    let mut acc = Mat::zeros(gram.nrows(), gram.nrows());
    crate::linalg::mul_symmetric(acc.as_mut(), scaled.as_ref(), vectors.transpose(), 1.0);
    acc
}

/// The plain iteration on `X` that [`newton_schulz`] reorganises (a test oracle).
#[cfg(test)]
fn newton_schulz_direct(g: MatRef<'_, f32>) -> Mat<f32> {
    let transposed = g.nrows() > g.ncols();
    let mut x = if transposed { g.transpose().to_owned() } else { g.to_owned() };
    let norm = x.norm_l2().max(NS_EPS);
    x *= faer::Scale(1.0 / norm);
    let (a, b, c) = NS_COEFFICIENTS;
    for _ in 0..NS_STEPS {
        let gram = crate::linalg::mul(x.as_ref(), x.transpose());
        let poly = &gram * faer::Scale(b) + crate::linalg::mul(gram.as_ref(), gram.as_ref()) * faer::Scale(c);
        x = &x * faer::Scale(a) + crate::linalg::mul(poly.as_ref(), x.as_ref());
    }
    if transposed { x.transpose().to_owned() } else { x }
}

/// The multiply-adds of [`newton_schulz_add`] on an `m × n` matrix, up to a constant: its
/// products are (short side)² × (long side).
fn newton_schulz_cost(m: usize, n: usize) -> usize {
    m.min(n).pow(2) * m.max(n)
}

/// One Muon update of a matrix parameter, in place: momentum, Nesterov, orthogonalised step.
/// `nesterov` is scratch space of the parameter's shape.
fn muon_update(p: &mut Mat<f32>, g: &Mat<f32>, buf: &mut Mat<f32>, nesterov: &mut Mat<f32>, cfg: &OptimConfig, lr: f32) {
    let mu = cfg.momentum;
    let decay = 1.0 - lr * cfg.weight_decay;
    // buf ← lerp(buf, g, 1 − μ); nesterov = lerp(g, buf, μ); p ← (1 − lr·wd)·p.
    for j in 0..g.ncols() {
        let (gc, bc, nc) = (col(g.as_ref(), j), col_mut(buf.as_mut(), j), col_mut(nesterov.as_mut(), j));
        for ((bv, nv), &gv) in bc.iter_mut().zip(nc.iter_mut()).zip(gc) {
            *bv += (gv - *bv) * (1.0 - mu);
            *nv = gv + (*bv - gv) * mu;
        }
        if decay != 1.0 {
            col_mut(p.as_mut(), j).iter_mut().for_each(|v| *v *= decay);
        }
    }
    let adjusted = lr * (p.nrows() as f32 / p.ncols() as f32).max(1.0).sqrt();
    newton_schulz_add(nesterov.as_ref(), p.as_mut(), -adjusted);
}

impl Optimizer for Muon {
    fn step(&mut self, params: &mut [&mut Mat<f32>], grads: &[&Mat<f32>], lr: f32) {
        assert_eq!(params.len(), grads.len());
        if self.buf.is_empty() {
            self.buf = params.iter().map(|p| Mat::zeros(p.nrows(), p.ncols())).collect();
            self.scratch = self.buf.clone();
        }
        let (mut vec_params, mut vec_grads) = (Vec::new(), Vec::new());
        let mut jobs = Vec::new();
        for (((p, g), buf), scratch) in params.iter_mut().zip(grads).zip(&mut self.buf).zip(&mut self.scratch) {
            if p.nrows() == 1 || p.ncols() == 1 {
                vec_params.push(&mut **p);
                vec_grads.push(*g);
            } else {
                jobs.push((&mut **p, *g, buf, scratch));
            }
        }
        // Parameters are independent: with several threads, orthogonalise them side by side
        // (each with sequential products, which are too small to split well) when at least two
        // are large; one large factor beside a small head gets every thread instead, or one
        // core would do nearly all the work.
        let cfg = &self.cfg;
        let mut costs: Vec<usize> = jobs.iter().map(|(p, ..)| newton_schulz_cost(p.nrows(), p.ncols())).collect();
        costs.sort_unstable_by(|a, b| b.cmp(a));
        let balanced = costs.len() > 1 && 4 * costs[1] >= costs[0];
        if crate::linalg::parallel() && balanced {
            use rayon::prelude::*;
            jobs.par_iter_mut().for_each(|(p, g, buf, scratch)| crate::linalg::sequential(|| muon_update(p, g, buf, scratch, cfg, lr)));
        } else {
            for (p, g, buf, scratch) in jobs {
                muon_update(p, g, buf, scratch, cfg, lr);
            }
        }
        if !vec_params.is_empty() {
            self.fallback.step(&mut vec_params, &vec_grads, lr);
        }
    }
}

/// `CosineAnnealingLR(T_max = total, eta_min = 0)`: the rate at 0-based step `t`.
pub fn cosine_lr(lr0: f32, t: usize, total: usize) -> f32 {
    let total = total.max(1) as f32;
    lr0 * 0.5 * (1.0 + (std::f32::consts::PI * t as f32 / total).cos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quadratic_descent(cfg: OptimConfig, lr: f32, steps: usize) -> f32 {
        // Minimise ½‖P − T‖² from P = 0; return the final distance.
        let target = Mat::from_fn(6, 4, |i, j| (i as f32 - 2.0) * 0.3 + j as f32 * 0.1);
        let mut p = Mat::<f32>::zeros(6, 4);
        let mut opt = cfg.build();
        for t in 0..steps {
            let g = &p - &target;
            opt.step(&mut [&mut p], &[&g], cosine_lr(lr, t, steps));
        }
        (&p - &target).norm_l2()
    }

    #[test]
    fn adamw_first_step_matches_hand_computation() {
        // After one step Adam moves every coordinate by lr·sign(g) (bias correction), after decay.
        let mut p = Mat::from_fn(2, 2, |i, j| 1.0 + (i + 2 * j) as f32);
        let g = Mat::from_fn(2, 2, |i, j| if (i + j) % 2 == 0 { 0.5 } else { -2.0 });
        let mut opt = AdamW::new(OptimConfig::adamw(0.1));
        let before = p.clone();
        opt.step(&mut [&mut p], &[&g], 0.01);
        for j in 0..2 {
            for i in 0..2 {
                let expect = before[(i, j)] * (1.0 - 0.01 * 0.1) - 0.01 * g[(i, j)].signum();
                assert!((p[(i, j)] - expect).abs() < 1e-6, "{} vs {expect}", p[(i, j)]);
            }
        }
    }

    #[test]
    fn optimisers_minimise_a_quadratic() {
        assert!(quadratic_descent(OptimConfig::adamw(0.0), 0.1, 300) < 1e-2);
        assert!(quadratic_descent(OptimConfig::muon(0.0), 0.05, 300) < 5e-2);
    }

    #[test]
    fn newton_schulz_approximately_orthogonalises() {
        let mut rng = crate::linalg::rng(3);
        let g = crate::linalg::randn(&mut rng, 40, 8, 1.0);
        let o = newton_schulz(g.as_ref());
        let gram = crate::linalg::mul(o.transpose(), o.as_ref());
        // The tuned quintic lands singular values in roughly [0.7, 1.2], not exactly 1.
        for i in 0..8 {
            assert!(gram[(i, i)] > 0.4 && gram[(i, i)] < 1.5, "diag {}", gram[(i, i)]);
        }
        let off: f32 =
            (0..8).flat_map(|i| (0..8).map(move |j| (i, j))).filter(|(i, j)| i != j).map(|(i, j)| gram[(i, j)].abs()).fold(0.0, f32::max);
        assert!(off < 0.3, "off-diagonal {off}");
    }

    /// The direct iteration in f64: the reference both f32 versions approximate.
    fn newton_schulz_f64(g: MatRef<'_, f32>) -> Mat<f64> {
        let g = Mat::from_fn(g.nrows(), g.ncols(), |i, j| g[(i, j)] as f64);
        let transposed = g.nrows() > g.ncols();
        let mut x = if transposed { g.transpose().to_owned() } else { g.clone() };
        x = &x * faer::Scale(1.0 / x.norm_l2());
        let (a, b, c) = (NS_COEFFICIENTS.0 as f64, NS_COEFFICIENTS.1 as f64, NS_COEFFICIENTS.2 as f64);
        for _ in 0..NS_STEPS {
            let gram = &x * x.transpose();
            let poly = &gram * faer::Scale(b) + &gram * &gram * faer::Scale(c);
            x = &x * faer::Scale(a) + &poly * &x;
        }
        if transposed { x.transpose().to_owned() } else { x }
    }

    /// The Gram form rounds `Π`, whose norm grows to `a⁵ ≈ 490` along tiny singular values, so
    /// on ill-conditioned inputs it is less exact than the direct f32 iteration: still two
    /// orders of magnitude closer to the exact map than PyTorch's bfloat16 (ε ≈ 4e-3). The
    /// spectral form (short sides above [`SPECTRAL_ABOVE`]) inherits the f32 eigensolver's
    /// backward error, amplified along the same tiny singular values; it must stay below the
    /// error of PyTorch's own iteration, which `torch.optim.Muon` runs in bfloat16: 7.6e-3 to
    /// 1.1e-2 from the exact map on such matrices (`scripts/newton_schulz_error.py`).
    #[test]
    fn gram_newton_schulz_stays_close_to_the_exact_iteration() {
        let mut rng = crate::linalg::rng(5);
        for (rows, cols) in [(784, 64), (10, 64), (64, 64), (40, 8), (8, 40), (784, 400), (600, 784), (784, 1024)] {
            // Spread singular values over several decades, as gradients have them.
            let g = crate::linalg::randn(&mut rng, rows, cols, 1.0);
            let scale = Mat::from_fn(cols, cols, |i, j| if i == j { 10f32.powf(-3.0 * i as f32 / cols as f32) } else { 0.0 });
            let g = crate::linalg::mul(g.as_ref(), scale.as_ref());
            let exact = newton_schulz_f64(g.as_ref());
            let err = |o: Mat<f32>| Mat::from_fn(rows, cols, |i, j| o[(i, j)] as f64 - exact[(i, j)]).norm_l2() / exact.norm_l2();
            let (fast, direct) = (err(newton_schulz(g.as_ref())), err(newton_schulz_direct(g.as_ref())));
            let bound = if rows.min(cols) > SPECTRAL_ABOVE { 7e-3 } else { 5e-4 };
            assert!(fast < bound && direct < 1e-5, "{rows}×{cols}: relative error {fast} (direct iteration {direct})");
        }
    }

    /// Above [`SPECTRAL_ABOVE`] rows the eigendecomposition computes the polynomial's `Π`.
    #[test]
    fn spectral_and_polynomial_gram_paths_agree() {
        let mut rng = crate::linalg::rng(7);
        let x = crate::linalg::randn(&mut rng, SPECTRAL_ABOVE + 44, 700, 1.0);
        let mut gram = crate::linalg::mul(x.as_ref(), x.transpose());
        gram *= faer::Scale(1.0 / (0..gram.nrows()).map(|i| gram[(i, i)]).sum::<f32>());
        let (poly, spectral) = (polynomial_of_gram(gram.clone()), spectral_polynomial_of_gram(gram));
        let diff = (&poly - &spectral).norm_l2() / poly.norm_l2();
        assert!(diff < 1e-4, "relative difference {diff}");
    }

    /// A non-finite gradient makes a non-finite update on either path, not a panic.
    #[test]
    fn newton_schulz_carries_non_finite_gradients() {
        for rows in [40, SPECTRAL_ABOVE + 4] {
            let mut g = Mat::<f32>::from_fn(rows, 800, |i, j| ((i * 7 + j * 3) % 11) as f32 - 5.0);
            g[(1, 2)] = f32::NAN;
            assert!(!newton_schulz(g.as_ref()).is_all_finite(), "{rows} rows");
        }
    }

    #[test]
    fn cosine_schedule_endpoints() {
        assert_eq!(cosine_lr(0.02, 0, 80), 0.02);
        assert!((cosine_lr(0.02, 40, 80) - 0.01).abs() < 1e-7);
        assert!(cosine_lr(0.02, 80, 80).abs() < 1e-9);
    }
}
