use crate::linalg::matmul;
use faer::{Accum, Mat, MatRef};

use crate::linalg::{self, Rng};

/// A symmetrised CP tensor `T_c = sym(Σ_r D_cr u_r w_rᵀ)`: the common form of every
/// decomposition (an evidence-split component `d ⊗ (p pᵀ − n nᵀ)` is the two triples
/// `(d, p, p)` and `(−d, n, n)`; a residual branch appends its triples).
#[derive(Clone, Debug, PartialEq)]
pub struct CpTensor {
    /// Heads `C × R`.
    pub heads: Mat<f32>,
    /// Left factors `I × R`.
    pub u: Mat<f32>,
    /// Right factors `I × R`.
    pub w: Mat<f32>,
}

impl CpTensor {
    pub fn new(heads: Mat<f32>, u: Mat<f32>, w: Mat<f32>) -> Self {
        assert_eq!(heads.ncols(), u.ncols(), "heads and factors must have one column per component");
        assert_eq!((u.nrows(), u.ncols()), (w.nrows(), w.ncols()), "both factor matrices must have the same shape");
        Self { heads, u, w }
    }

    /// N(0,1) entries; for tests and initialisation.
    pub fn random(classes: usize, inputs: usize, rank: usize, rng: &mut Rng) -> Self {
        let heads = linalg::randn(rng, classes, rank, 1.0);
        let u = linalg::randn(rng, inputs, rank, 1.0);
        let w = linalg::randn(rng, inputs, rank, 1.0);
        Self::new(heads, u, w)
    }

    pub fn rank(&self) -> usize {
        self.u.ncols()
    }

    /// `U = W`: every symmetric and evidence-split dictionary, whose products with either
    /// factor are one.
    pub fn shares_factors(&self) -> bool {
        // Column slices compare as one vectorised loop; `Mat`'s `==` goes entry by entry
        // (1.5% of a concept fit, which asks several times a step).
        (self.u.nrows(), self.u.ncols()) == (self.w.nrows(), self.w.ncols())
            && (0..self.u.ncols()).all(|j| linalg::col(self.u.as_ref(), j) == linalg::col(self.w.as_ref(), j))
    }

    /// `⟨sym T, sym S⟩` from Gram matrices (SPEC §15.2), and optionally `weight ·` its gradient
    /// with respect to `T = self`, accumulated into `grad`:
    /// `½ Σ_rs (D_TᵀD_S)_rs [(U_TᵀU_S)_rs (W_TᵀW_S)_rs + (U_TᵀW_S)_rs (W_TᵀU_S)_rs]`.
    pub fn inner(&self, s: &CpTensor, grad: Option<(f32, &mut CpGrads)>) -> f64 {
        let grams = self.grams(s);
        let value = grams.value();
        if let Some((weight, g)) = grad {
            grams.add_grad(weight, g);
        }
        value
    }

    /// The Gram matrices behind [`CpTensor::inner`], so that a caller can read the value first
    /// and add the gradient later with a weight that depends on it (the cosine does).
    pub fn grams<'a>(&'a self, s: &'a CpTensor) -> CpGrams<'a> {
        let symmetric = std::ptr::eq(self, s);
        let d = if symmetric {
            let mut d = Mat::zeros(self.rank(), self.rank());
            linalg::mul_symmetric(d.as_mut(), self.heads.transpose(), self.heads.as_ref(), 1.0);
            d
        } else {
            linalg::mul(self.heads.transpose(), s.heads.as_ref())
        };
        let y = linalg::side_by_side(&s.u, &s.w);
        let g = if symmetric && self.shares_factors() {
            // ⟨T, T⟩ of shared factors (symmetric and evidence-split components): the four
            // blocks are one, UᵀU.
            let r = self.rank();
            let mut block = Mat::zeros(r, r);
            linalg::mul_symmetric(block.as_mut(), self.u.transpose(), self.u.as_ref(), 1.0);
            Mat::from_fn(2 * r, 2 * r, |i, j| block[(i % r, j % r)])
        } else if symmetric {
            // ⟨T, T⟩: [U|W]ᵀ[U|W] is symmetric, one triangle is enough.
            let mut g = Mat::zeros(y.ncols(), y.ncols());
            linalg::mul_symmetric(g.as_mut(), y.transpose(), y.as_ref(), 1.0);
            g
        } else {
            linalg::mul(linalg::side_by_side(&self.u, &self.w).transpose(), y.as_ref())
        };
        let (rt, rs) = (self.rank(), s.rank());
        let mut total = 0.0f64;
        for j in 0..rs {
            let ((uu, wu), (uw, ww)) = (linalg::col(g.as_ref(), j).split_at(rt), linalg::col(g.as_ref(), rs + j).split_at(rt));
            for (i, &dv) in linalg::col(d.as_ref(), j).iter().enumerate() {
                total += dv as f64 * (uu[i] as f64 * ww[i] as f64 + uw[i] as f64 * wu[i] as f64);
            }
        }
        CpGrams { t: self, s, d, g, y, symmetric, value: 0.5 * total }
    }

    /// `⟨sym T_i, sym T_j⟩` of every pair of T's terms: the norm of any sum of terms is a sum of
    /// entries.
    pub fn term_gram(&self) -> Mat<f64> {
        let grams = self.grams(self);
        let r = self.rank();
        let g = grams.g.as_ref();
        Mat::from_fn(r, r, |i, j| {
            let (uu, uw, wu, ww) = (g[(i, j)] as f64, g[(i, r + j)] as f64, g[(r + i, j)] as f64, g[(r + i, r + j)] as f64);
            0.5 * grams.d[(i, j)] as f64 * (uu * ww + uw * wu)
        })
    }

    /// `‖sym T‖²_F`, and optionally its gradient (accumulated, as in [`CpTensor::inner`]).
    pub fn norm_sq(&self, grad: Option<(f32, &mut CpGrads)>) -> f64 {
        // ∇⟨T, T⟩ = 2 ∇_T⟨T, S⟩ at S = T.
        self.inner(self, grad.map(|(w, g)| (2.0 * w, g)))
    }

    /// Logits `f(x)_c = Σ_r D_cr (u_r·x)(w_r·x)` for a batch `x` (`n × I`), no bias.
    pub fn logits(&self, x: MatRef<'_, f32>) -> Mat<f32> {
        let acts = self.activations(x);
        linalg::mul(acts.as_ref(), self.heads.transpose())
    }

    /// Component activations `(u_r·x)(w_r·x)`, `n × R` (one product with `x` when `U = W`).
    pub fn activations(&self, x: MatRef<'_, f32>) -> Mat<f32> {
        let xu = linalg::mul(x, self.u.as_ref());
        if self.shares_factors() {
            return Mat::from_fn(xu.nrows(), xu.ncols(), |i, j| xu[(i, j)] * xu[(i, j)]);
        }
        let xw = linalg::mul(x, self.w.as_ref());
        Mat::from_fn(xu.nrows(), xu.ncols(), |i, j| xu[(i, j)] * xw[(i, j)])
    }

    /// Components side by side: `[self | other]`.
    pub fn concat(&self, other: &CpTensor) -> CpTensor {
        CpTensor::new(
            linalg::side_by_side(&self.heads, &other.heads),
            linalg::side_by_side(&self.u, &other.u),
            linalg::side_by_side(&self.w, &other.w),
        )
    }

    /// The components at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> CpTensor {
        let pick = |m: &Mat<f32>| Mat::from_fn(m.nrows(), indices.len(), |i, j| m[(i, indices[j])]);
        CpTensor::new(pick(&self.heads), pick(&self.u), pick(&self.w))
    }

    /// The dense symmetrised tensor in f64. Test oracle for small sizes only.
    pub fn dense(&self) -> Vec<Mat<f64>> {
        dense_cp(&super::to_f64(self.heads.as_ref()), &super::to_f64(self.u.as_ref()), &super::to_f64(self.w.as_ref()))
    }
}

/// Gradients with respect to a CP tensor's heads and factors: `(dD, dU, dW)`.
#[derive(Clone, Debug, PartialEq)]
pub struct CpGrads {
    pub d: Mat<f32>,
    pub u: Mat<f32>,
    pub w: Mat<f32>,
}

impl CpGrads {
    pub fn zeros(t: &CpTensor) -> Self {
        Self { d: Mat::zeros(t.heads.nrows(), t.rank()), u: Mat::zeros(t.u.nrows(), t.rank()), w: Mat::zeros(t.w.nrows(), t.rank()) }
    }

    /// `self += other`.
    pub fn add(&mut self, other: &CpGrads) {
        self.d += &other.d;
        self.u += &other.u;
        self.w += &other.w;
    }
}

/// Gram matrices of two CP tensors `T` and `S` (`D_TᵀD_S` and `[U_T | W_T]ᵀ[U_S | W_S]`): the
/// inner product, and its gradient with respect to `T` on request.
pub struct CpGrams<'a> {
    t: &'a CpTensor,
    s: &'a CpTensor,
    d: Mat<f32>,
    /// `[[U_TᵀU_S, U_TᵀW_S], [W_TᵀU_S, W_TᵀW_S]]`, `2R_T × 2R_S`.
    g: Mat<f32>,
    /// `[U_S | W_S]`, kept for the gradient.
    y: Mat<f32>,
    /// `S = T`: `D` and `G` are symmetric (formed so, to the bit).
    symmetric: bool,
    value: f64,
}

impl CpGrams<'_> {
    /// `⟨sym T, sym S⟩`.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Adds `weight · ∇_T⟨sym T, sym S⟩` into `g`: `dD = ½ D_S mixᵀ` with
    /// `mix = UU∘WW + UW∘WU`, and `[dU | dW] = ½ [U_S | W_S] Hᵀ` with
    /// `H = [[D∘WW, D∘WU], [D∘UW, D∘UU]]`: the Gram matrix with its halves swapped, times `D`,
    /// formed in place of the Gram matrix (a fresh one is a page-faulting allocation as large
    /// as a product at high rank).
    pub fn add_grad(mut self, weight: f32, g: &mut CpGrads) {
        let CpGrads { d: dd, u: du, w: dw } = g;
        let (rt, rs) = (self.t.rank(), self.s.rank());
        let half = 0.5 * weight;
        let mut mix = Mat::<f32>::zeros(rt, rs);
        let (mut left, mut right) = self.g.as_mut().split_at_col_mut(rs);
        for j in 0..rs {
            let dj = linalg::col(self.d.as_ref(), j);
            // Column j of G is [UU; WU], column rs + j is [UW; WW]; they become
            // D[:, j] ∘ [WW; UW] and D[:, j] ∘ [WU; UU].
            let ((uu, wu), (uw, ww)) =
                (linalg::col_mut(left.as_mut(), j).split_at_mut(rt), linalg::col_mut(right.as_mut(), j).split_at_mut(rt));
            let mj = linalg::col_mut(mix.as_mut(), j);
            for i in 0..rt {
                mj[i] = uu[i] * ww[i] + uw[i] * wu[i];
                (uu[i], ww[i]) = (dj[i] * ww[i], dj[i] * uu[i]);
                (wu[i], uw[i]) = (dj[i] * uw[i], dj[i] * wu[i]);
            }
        }
        linalg::mul_add(dd.as_mut(), self.s.heads.as_ref(), mix.transpose(), half);
        let par = linalg::par();
        let h = self.g.as_ref();
        // ⟨T, T⟩: G and D are symmetric, so H is too and Hᵀ's halves are H's own column blocks,
        // which faer reads contiguously (a transposed operand costs it a strided packing).
        let (hu, hw) = if self.symmetric {
            (h.subcols(0, rt), h.subcols(rt, rt))
        } else {
            (h.subrows(0, rt).transpose(), h.subrows(rt, rt).transpose())
        };
        matmul(du.as_mut(), Accum::Add, self.y.as_ref(), hu, half, par);
        matmul(dw.as_mut(), Accum::Add, self.y.as_ref(), hw, half, par);
    }
}

/// Dense `sym(Σ_r D_cr u_r w_rᵀ)` from f64 factors (test oracle).
pub fn dense_cp(d: &Mat<f64>, u: &Mat<f64>, w: &Mat<f64>) -> Vec<Mat<f64>> {
    (0..d.nrows())
        .map(|c| {
            let scaled = Mat::from_fn(w.nrows(), w.ncols(), |i, r| d[(c, r)] * w[(i, r)]);
            let raw = u * scaled.transpose();
            Mat::from_fn(raw.nrows(), raw.ncols(), |i, j| 0.5 * (raw[(i, j)] + raw[(j, i)]))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::interaction::to_f64;

    /// Checks analytic gradients `g` of a function of a CP tensor against central finite
    /// differences computed entirely in f64 by `f`.
    pub(crate) fn check_gradient(t: &CpTensor, f: impl Fn(&CpTensor) -> f64, g: &CpGrads) {
        check_gradient_f64(t, |d, u, w| f(&CpTensor::new(to32(d), to32(u), to32(w))), g);
    }

    fn to32(m: &Mat<f64>) -> Mat<f32> {
        Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)] as f32)
    }

    /// As [`check_gradient`], with the oracle taking f64 factors (so the perturbation is exact).
    pub(crate) fn check_gradient_f64(t: &CpTensor, f: impl Fn(&Mat<f64>, &Mat<f64>, &Mat<f64>) -> f64, g: &CpGrads) {
        let base = [to_f64(t.heads.as_ref()), to_f64(t.u.as_ref()), to_f64(t.w.as_ref())];
        let analytic = [&g.d, &g.u, &g.w];
        let eps = 1e-5;
        for (which, g) in analytic.iter().enumerate() {
            for j in 0..g.ncols() {
                for i in 0..g.nrows() {
                    let eval = |delta: f64| {
                        let mut p = base.clone();
                        p[which][(i, j)] += delta;
                        f(&p[0], &p[1], &p[2])
                    };
                    let fd = (eval(eps) - eval(-eps)) / (2.0 * eps);
                    let got = g[(i, j)] as f64;
                    let scale = fd.abs().max(got.abs()).max(1e-2);
                    assert!((fd - got).abs() < 2e-3 * scale, "factor {which} entry ({i},{j}): analytic {got} vs finite difference {fd}");
                }
            }
        }
    }

    fn dense_norm_sq(d: &Mat<f64>, u: &Mat<f64>, w: &Mat<f64>) -> f64 {
        dense_cp(d, u, w).iter().map(|m| m.squared_norm_l2()).sum()
    }

    #[test]
    fn gram_norm_matches_dense() {
        let t = CpTensor::random(3, 9, 5, &mut linalg::rng(1));
        // Shared factors take their own path.
        let shared = CpTensor::new(t.heads.clone(), t.u.clone(), t.u.clone());
        for t in [t, shared] {
            let dense = dense_norm_sq(&to_f64(t.heads.as_ref()), &to_f64(t.u.as_ref()), &to_f64(t.w.as_ref()));
            assert!((t.norm_sq(None) - dense).abs() < 1e-5 * dense);
            let mut g = CpGrads::zeros(&t);
            t.norm_sq(Some((1.0, &mut g)));
            check_gradient_f64(&t, dense_norm_sq, &g);
        }
    }

    #[test]
    fn norm_gradient_matches_finite_differences() {
        let t = CpTensor::random(3, 9, 5, &mut linalg::rng(2));
        let mut g = CpGrads::zeros(&t);
        t.norm_sq(Some((1.0, &mut g)));
        check_gradient_f64(&t, dense_norm_sq, &g);
    }

    #[test]
    fn inner_product_and_its_gradient_match_dense() {
        let t = CpTensor::random(3, 8, 4, &mut linalg::rng(5));
        let s = CpTensor::random(3, 8, 6, &mut linalg::rng(6));
        let sd = s.dense();
        let dense_inner = |d: &Mat<f64>, u: &Mat<f64>, w: &Mat<f64>| {
            dense_cp(d, u, w)
                .iter()
                .zip(&sd)
                .map(|(a, b)| (0..8).flat_map(|i| (0..8).map(move |j| (i, j))).map(|(i, j)| a[(i, j)] * b[(i, j)]).sum::<f64>())
                .sum::<f64>()
        };
        let exact = dense_inner(&to_f64(t.heads.as_ref()), &to_f64(t.u.as_ref()), &to_f64(t.w.as_ref()));
        assert!((t.inner(&s, None) - exact).abs() < 1e-4 * exact.abs().max(1.0));
        let mut g = CpGrads::zeros(&t);
        t.inner(&s, Some((1.0, &mut g)));
        check_gradient_f64(&t, dense_inner, &g);
    }

    #[test]
    fn logits_are_the_quadratic_form() {
        let t = CpTensor::random(2, 6, 3, &mut linalg::rng(3));
        let x = linalg::randn(&mut linalg::rng(4), 2, 6, 1.0);
        let z = t.logits(x.as_ref());
        let dense = t.dense();
        for n in 0..2 {
            let xv = Mat::from_fn(6, 1, |i, _| x[(n, i)] as f64);
            for c in 0..2 {
                let q = (xv.transpose() * &dense[c] * &xv)[(0, 0)];
                assert!((q - z[(n, c)] as f64).abs() < 1e-4 * (1.0 + q.abs()));
            }
        }
    }
}
