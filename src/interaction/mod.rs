//! The interaction tensor `B` of a bilinear model (SPEC §3.3), kept in factored form.
//!
//! `logit_c(x) = xᵀ B_c x + b_c` with `B_c = W_eᵀ Q_c W_e` and `Q_c = sym(W_lᵀ diag(W_u[c]) W_r)`
//! (embedding space, `E × E`). Inner products, norms and cosines against symmetrised CP
//! tensors are exact and cost a few small matrix products; the dense `C × I × I` tensor is
//! only ever built by [`Interaction::dense`], a test oracle.

mod cp;
pub mod eigen;

pub use cp::{CpGrads, CpGrams, CpTensor};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef};

use crate::linalg;
use crate::model::Bilinear;

/// The symmetrised interaction tensor of one bilinear model, in factored form.
#[derive(Clone, Debug)]
pub struct Interaction {
    /// Embedding `E × I`.
    pub w_e: Mat<f32>,
    /// `Q_c` for every class, stacked row-block-wise: `(C·E) × E`.
    pub q: Mat<f32>,
    n_classes: usize,
    norm_sq: f64,
}

impl Interaction {
    pub fn new(model: &Bilinear) -> Self {
        let (e, c) = (model.w_e.nrows(), model.w_u.nrows());
        let mut q = Mat::zeros(c * e, e);
        for class in 0..c {
            // Lᵀ diag(u_c) R, then symmetrised: the antisymmetric part never reaches a logit.
            let scaled = Mat::from_fn(model.w_r.nrows(), e, |h, j| model.w_u[(class, h)] * model.w_r[(h, j)]);
            let raw = linalg::mul(model.w_l.transpose(), scaled.as_ref());
            for i in 0..e {
                for j in 0..e {
                    q[(class * e + i, j)] = 0.5 * (raw[(i, j)] + raw[(j, i)]);
                }
            }
        }
        let mut this = Self { w_e: model.w_e.clone(), q, n_classes: c, norm_sq: 0.0 };
        this.norm_sq = this.exact_norm_sq();
        this
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    pub fn n_inputs(&self) -> usize {
        self.w_e.ncols()
    }

    pub fn n_embed(&self) -> usize {
        self.w_e.nrows()
    }

    /// `Q_c` (`E × E`, symmetric).
    pub fn q(&self, class: usize) -> MatRef<'_, f32> {
        let e = self.n_embed();
        self.q.as_ref().subrows(class * e, e)
    }

    /// `‖B‖²_F`, computed once in f64.
    pub fn norm_sq(&self) -> f64 {
        self.norm_sq
    }

    pub fn norm(&self) -> f64 {
        self.norm_sq.sqrt()
    }

    /// `Σ_c tr(Q_c G Q_c G)` with `G = W_e W_eᵀ`, all in f64.
    fn exact_norm_sq(&self) -> f64 {
        let we = to_f64(self.w_e.as_ref());
        let g = &we * we.transpose();
        (0..self.n_classes)
            .map(|c| {
                let qg = to_f64(self.q(c)) * &g;
                // tr((QG)(QG)) = Σ_ij (QG)_ij (QG)_ji
                let mut s = 0.0;
                for i in 0..qg.nrows() {
                    for j in 0..qg.ncols() {
                        s += qg[(i, j)] * qg[(j, i)];
                    }
                }
                s
            })
            .sum()
    }

    /// `⟨sym(T), B⟩` for a CP tensor `T`, and optionally `weight ·` its gradient with respect
    /// to the heads and both factor matrices, accumulated into `grad`.
    pub fn inner(&self, t: &CpTensor, grad: Option<(f32, &mut CpGrads)>) -> f64 {
        let p = self.project(t);
        if let Some((weight, g)) = grad {
            p.add_grad(weight, g);
        }
        p.value()
    }

    /// The products behind [`Interaction::inner`], so that a caller can read the value first
    /// and add the gradient later with a weight that depends on it (the cosine does).
    ///
    /// `⟨sym T, B⟩ = Σ_{c,r} D_cr (W_e u_r)ᵀ Q_c (W_e w_r)`: both factor matrices projected to
    /// embedding space side by side, `P = W_e [U | W]`, and one stacked product `Q P` with all
    /// `Q_c` (its `W`-half gives the value, its `U`-half the gradient of `W`).
    pub fn project<'a>(&'a self, t: &'a CpTensor) -> Projection<'a> {
        let (e, r, c) = (self.n_embed(), t.rank(), self.n_classes);
        let mut p = Mat::<f32>::zeros(e, 2 * r); // [P_u | P_w]
        let par = linalg::par();
        matmul(p.as_mut().subcols_mut(0, r), Accum::Replace, self.w_e.as_ref(), t.u.as_ref(), 1.0, par);
        matmul(p.as_mut().subcols_mut(r, r), Accum::Replace, self.w_e.as_ref(), t.w.as_ref(), 1.0, par);
        let qp = linalg::mul(self.q.as_ref(), p.as_ref()); // (C·E) × 2R: [Q P_u | Q P_w]
        let mut s = Mat::<f32>::zeros(c, r); // s_cr = p_u,rᵀ Q_c p_w,r
        let mut total = 0.0f64;
        for k in 0..r {
            let pu = linalg::col(p.as_ref(), k);
            let qpw = linalg::col(qp.as_ref(), r + k);
            for class in 0..c {
                let v = dot_f64(pu, &qpw[class * e..(class + 1) * e]);
                s[(class, k)] = v as f32;
                total += t.heads[(class, k)] as f64 * v;
            }
        }
        Projection { inter: self, t, qp, s, value: total }
    }

    /// Tensor cosine `cos(sym T, B)` (SPEC §8.1), exact.
    pub fn cosine(&self, t: &CpTensor) -> f64 {
        let denom = (t.norm_sq(None) * self.norm_sq).sqrt();
        if denom == 0.0 { 0.0 } else { self.inner(t, None) / denom }
    }

    /// The dense symmetric tensor, `C` matrices of `I × I`. Test oracle for small sizes only.
    pub fn dense(&self) -> Vec<Mat<f64>> {
        let we = to_f64(self.w_e.as_ref());
        (0..self.n_classes).map(|c| we.transpose() * to_f64(self.q(c)) * &we).collect()
    }
}

/// The projections of one CP tensor through `B` ([`Interaction::project`]).
pub struct Projection<'a> {
    inter: &'a Interaction,
    t: &'a CpTensor,
    /// `[Q P_u | Q P_w]`, `(C·E) × 2R`.
    qp: Mat<f32>,
    /// `s_cr = p_u,rᵀ Q_c p_w,r`, `C × R`.
    s: Mat<f32>,
    value: f64,
}

impl Projection<'_> {
    /// `⟨sym T, B⟩`.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Adds `weight · ∇_T⟨sym T, B⟩` into `g`:
    /// `dD = S`, `dU = W_eᵀ Σ_c D_c (Q_c P_w)`, `dW = W_eᵀ Σ_c D_c (Q_c P_u)`.
    pub fn add_grad(&self, weight: f32, g: &mut CpGrads) {
        let CpGrads { d: dd, u: du, w: dw } = g;
        let (inter, t) = (self.inter, self.t);
        let (e, r, c) = (inter.n_embed(), t.rank(), inter.n_classes);
        for k in 0..r {
            for class in 0..c {
                dd[(class, k)] += weight * self.s[(class, k)];
            }
        }
        // Head-weighted sums over classes, [Σ_c D_c Q_c P_u | Σ_c D_c Q_c P_w], E × 2R.
        let mut hw = Mat::<f32>::zeros(e, 2 * r);
        for j in 0..2 * r {
            let src = linalg::col(self.qp.as_ref(), j);
            let dst = linalg::col_mut(hw.as_mut(), j);
            for class in 0..c {
                let h = t.heads[(class, j % r)];
                for (o, &v) in dst.iter_mut().zip(&src[class * e..(class + 1) * e]) {
                    *o += h * v;
                }
            }
        }
        let par = linalg::par();
        matmul(du.as_mut(), Accum::Add, inter.w_e.transpose(), hw.as_ref().subcols(r, r), weight, par);
        matmul(dw.as_mut(), Accum::Add, inter.w_e.transpose(), hw.as_ref().subcols(0, r), weight, par);
    }
}

/// `Σ a_i b_i` accumulated in f64, in eight independent lanes (so it vectorises).
fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] as f64 * y[l] as f64;
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(&x, &y)| x as f64 * y as f64).sum();
    lanes.iter().sum::<f64>() + tail
}

pub use crate::linalg::to_f64;

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::ModelConfig;

    pub(crate) fn small_model(seed: u64) -> Bilinear {
        let cfg = ModelConfig { n_inputs: 11, n_embed: 5, n_hidden: 7, n_outputs: 3 };
        let mut m = Bilinear::init(cfg, &mut linalg::rng(seed));
        m.bias = vec![0.1, -0.2, 0.3];
        m
    }

    fn dense_dot(a: &[Mat<f64>], b: &[Mat<f64>]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (0..x.nrows()).flat_map(|i| (0..x.ncols()).map(move |j| (i, j))).map(|(i, j)| x[(i, j)] * y[(i, j)]).sum::<f64>())
            .sum()
    }

    #[test]
    fn quadratic_form_reproduces_the_logits() {
        let m = small_model(1);
        let b = Interaction::new(&m).dense();
        let x = linalg::randn(&mut linalg::rng(2), 4, 11, 1.0);
        let z = m.logits(x.as_ref());
        for n in 0..4 {
            let xv = Mat::from_fn(11, 1, |i, _| x[(n, i)] as f64);
            for c in 0..3 {
                let quad = (xv.transpose() * &b[c] * &xv)[(0, 0)] + m.bias[c] as f64;
                assert!((quad - z[(n, c)] as f64).abs() < 1e-4 * (1.0 + quad.abs()), "{quad} vs {}", z[(n, c)]);
            }
        }
    }

    #[test]
    fn factored_norm_and_inner_match_dense() {
        let m = small_model(3);
        let inter = Interaction::new(&m);
        let b = inter.dense();
        let norm_dense = dense_dot(&b, &b);
        assert!((inter.norm_sq() - norm_dense).abs() < 1e-9 * norm_dense);
        let t = CpTensor::random(3, 11, 4, &mut linalg::rng(4));
        let td = t.dense();
        let inner_dense = dense_dot(&td, &b);
        assert!((inter.inner(&t, None) - inner_dense).abs() < 1e-5 * inner_dense.abs().max(1e-3));
        let cos_dense = inner_dense / (dense_dot(&td, &td) * norm_dense).sqrt();
        assert!((inter.cosine(&t) - cos_dense).abs() < 1e-5);
    }

    #[test]
    fn cosine_of_the_exact_cp_form_is_one() {
        // B written as a CP tensor through its embedding-space eigendecomposition.
        let m = small_model(5);
        let inter = Interaction::new(&m);
        let eig = eigen::Eigen::embedding(&inter);
        let t = eig.truncated(usize::MAX);
        assert!((inter.cosine(&t) - 1.0).abs() < 1e-5, "{}", inter.cosine(&t));
    }

    #[test]
    fn inner_product_gradient_matches_finite_differences() {
        let inter = Interaction::new(&small_model(6));
        let t = CpTensor::random(3, 11, 4, &mut linalg::rng(7));
        let mut g = CpGrads::zeros(&t);
        inter.inner(&t, Some((1.0, &mut g)));
        // The oracle: f64 dense inner product.
        let b = inter.dense();
        let f = |t: &CpTensor| dense_dot(&t.dense(), &b);
        cp::tests::check_gradient(&t, f, &g);
    }
}
