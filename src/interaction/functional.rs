//! Fidelity on data, exactly: the functional inner product of two sets of quadratic forms.
//!
//! For inputs with second moment `M = E[x xᵀ]`, treated as Gaussian,
//! `E[(xᵀX_c x)(xᵀY_c x)] = tr(X_c M) tr(Y_c M) + 2 tr(X_c M Y_c M)`; summed over outputs it is
//! an inner product `⟨X, Y⟩_M` that weighs a form by what the inputs excite, so speckle that
//! digits never meet counts for little. Against a CP tensor `T` it costs a few products:
//! `⟨B, T⟩_M = Σ_c tr(B_c M) τ_c + 2 ⟨B, M∘T⟩` and `⟨T, T⟩_M = Σ_c τ_c² + 2 ⟨T, M∘T⟩`, where
//! `M∘T` is `T` with factors `M U` and `M W` (because `M sym(u wᵀ) M = sym(Mu (Mw)ᵀ)`) and
//! `τ_c = tr(T_c M) = Σ_r D_cr u_rᵀ M w_r`.

use faer::Mat;

use super::{CpGrads, CpTensor, Interaction, to_f64};
use crate::linalg;

/// `⟨·,·⟩_M` against one interaction tensor `B`.
pub struct Functional {
    /// `M = E[x xᵀ]` over the sample, `I × I`.
    m: Mat<f32>,
    /// `tr(B_c M)` of every output.
    b_traces: Vec<f64>,
    /// `⟨B, B⟩_M`.
    b_norm_sq: f64,
}

impl Functional {
    /// `M` from the rows of `x` (`n × I`, at least one row).
    #[cfg(test)]
    pub fn new(inter: &Interaction, x: faer::MatRef<'_, f32>) -> Self {
        Self::of_moment(inter, &linalg::mul(x.transpose(), x), x.nrows())
    }

    /// `M = XᵀX / n` from the product `XᵀX` of `n` inputs (at least one), which the caller may
    /// share (the principal directions read it too).
    pub fn of_moment(inter: &Interaction, moment: &Mat<f32>, n: usize) -> Self {
        assert!(n > 0, "the second moment needs at least one input");
        let m = moment * faer::Scale(1.0 / n as f32);
        let g = inter.metric(&to_f64(m.as_ref()));
        let b_traces = inter.output_traces(&g);
        let quads = inter.output_quads(Some(&g));
        let b_norm_sq = b_traces.iter().map(|t| t * t).sum::<f64>() + 2.0 * quads.iter().sum::<f64>();
        Self { m, b_traces, b_norm_sq }
    }

    /// `⟨B, B⟩_M`.
    pub fn norm_sq(&self) -> f64 {
        self.b_norm_sq
    }

    /// `u_rᵀ M w_r` of every component, and `M∘T`.
    fn parts(&self, t: &CpTensor) -> (Vec<f64>, CpTensor) {
        let (mu, mw) = (linalg::mul(self.m.as_ref(), t.u.as_ref()), linalg::mul(self.m.as_ref(), t.w.as_ref()));
        let s = (0..t.rank())
            .map(|r| linalg::col(t.u.as_ref(), r).iter().zip(linalg::col(mw.as_ref(), r)).map(|(&a, &b)| a as f64 * b as f64).sum())
            .collect();
        (s, CpTensor::new(t.heads.clone(), mu, mw))
    }

    /// `τ_c = Σ_r D_cr s_r`.
    fn traces(t: &CpTensor, s: &[f64]) -> Vec<f64> {
        (0..t.heads.nrows()).map(|c| s.iter().enumerate().map(|(r, &v)| t.heads[(c, r)] as f64 * v).sum()).collect()
    }

    /// The functional cosine `⟨B, T⟩_M / (‖B‖_M ‖T‖_M)`.
    pub fn cosine(&self, inter: &Interaction, t: &CpTensor) -> f64 {
        let (s, mt) = self.parts(t);
        let tau = Self::traces(t, &s);
        let x = dot(&self.b_traces, &tau) + 2.0 * inter.inner(&mt, None);
        let y = dot(&tau, &tau) + 2.0 * t.inner(&mt, None);
        let denom = (y * self.b_norm_sq).sqrt();
        if denom > 0.0 { x / denom } else { 0.0 }
    }

    /// The relative error `‖B − T‖²_M / ‖B‖²_M`, with `weight ·` its gradient added into `g`.
    /// Unlike a cosine it also fixes the scale of `T`, so logits match and not only their
    /// direction.
    ///
    /// With `X = ⟨B, T⟩_M`, `Y = ⟨T, T⟩_M`, `Z = ⟨B, B⟩_M`: the error is `(Z − 2X + Y)/Z` and
    /// `∂ = a ∂X + b ∂Y` with `a = −2·weight/Z`, `b = weight/Z`. The trace parts contribute
    /// `γ_c ∂τ_c` with `γ_c = a tr(B_c M) + 2b τ_c`; `2⟨B, M∘T⟩` and `2⟨T, M∘T⟩` (self-adjoint
    /// in `T`, so its gradient is twice that of `⟨T, S⟩` at `S = M∘T`) go through the factors
    /// `M U`, `M W`, mapped back by `M`.
    pub fn error_loss(&self, inter: &Interaction, t: &CpTensor, weight: f32, g: &mut CpGrads) -> f64 {
        if t.shares_factors() {
            return self.symmetric_error_loss(inter, t, weight, g);
        }
        let (s, mt) = self.parts(t);
        let tau = Self::traces(t, &s);
        let projection = inter.project(&mt);
        let grams = t.grams(&mt);
        let x = dot(&self.b_traces, &tau) + 2.0 * projection.value();
        let y = dot(&tau, &tau) + 2.0 * grams.value();
        let z = self.b_norm_sq;
        let (a, b) = (-2.0 * weight as f64 / z, weight as f64 / z);
        // Trace parts: ∂τ_c/∂D_cr = s_r, ∂τ_c/∂u_r = D_cr M w_r, ∂τ_c/∂w_r = D_cr M u_r.
        let gamma: Vec<f64> = self.b_traces.iter().zip(&tau).map(|(bt, tc)| a * bt + 2.0 * b * tc).collect();
        for (r, &sr) in s.iter().enumerate() {
            let mut coef = 0.0;
            for (c, gc) in gamma.iter().enumerate() {
                g.d[(c, r)] += (gc * sr) as f32;
                coef += gc * t.heads[(c, r)] as f64;
            }
            let coef = coef as f32;
            let (mu, mw) = (linalg::col(mt.u.as_ref(), r), linalg::col(mt.w.as_ref(), r));
            linalg::col_mut(g.u.as_mut(), r).iter_mut().zip(mw).for_each(|(o, v)| *o += coef * v);
            linalg::col_mut(g.w.as_mut(), r).iter_mut().zip(mu).for_each(|(o, v)| *o += coef * v);
        }
        // 2a⟨B, M∘T⟩ + 4b⟨T, S⟩|_{S = M∘T}: gradients on (D, MU, MW), then mapped back.
        let mut through = CpGrads::zeros(t);
        projection.add_grad((2.0 * a) as f32, &mut through);
        grams.add_grad((4.0 * b) as f32, g);
        g.d += &through.d;
        linalg::mul_add(g.u.as_mut(), self.m.as_ref(), through.u.as_ref(), 1.0);
        linalg::mul_add(g.w.as_mut(), self.m.as_ref(), through.w.as_ref(), 1.0);
        (z - 2.0 * x + y) / z
    }

    /// [`Functional::error_loss`] for `T` with `U = W = V` (every symmetric and evidence-split
    /// dictionary): the four Gram blocks are one `G = VᵀMV`, and `M` multiplies once each way,
    /// less than half the work. With `P = MV`, `K = DᵀD` and `S_cr = p_rᵀB_c p_r`:
    /// `Y = τᵀτ + 2 Σ K∘G∘G`, `X = Σ_c tr(B_c M) τ_c + 2 Σ D∘S`; the gradient with respect to
    /// the shared `V` is `M (V (diag(2 Σ_c γ_c D_c) + 8b K∘G) + ∂_P)`, where `∂_P` is the
    /// projection's gradient through both of `M∘T`'s factors. The loss does not change when
    /// `U` and `W` swap, so at `U = W` each gets half of it.
    fn symmetric_error_loss(&self, inter: &Interaction, t: &CpTensor, weight: f32, g: &mut CpGrads) -> f64 {
        let (v, r) = (&t.u, t.rank());
        let p = linalg::mul(self.m.as_ref(), v.as_ref());
        let gram = linalg::mul(v.transpose(), p.as_ref());
        let s: Vec<f64> = (0..r).map(|k| dot_f32(linalg::col(v.as_ref(), k), linalg::col(p.as_ref(), k))).collect();
        let tau = Self::traces(t, &s);
        let mt = CpTensor::new(t.heads.clone(), p.clone(), p);
        let projection = inter.project(&mt);
        let k = linalg::mul(t.heads.transpose(), t.heads.as_ref());
        let squared = Mat::from_fn(r, r, |i, j| gram[(i, j)] * gram[(i, j)]);
        let quartic: f64 = (0..r).flat_map(|j| (0..r).map(move |i| (i, j))).map(|(i, j)| k[(i, j)] as f64 * squared[(i, j)] as f64).sum();
        let x = dot(&self.b_traces, &tau) + 2.0 * projection.value();
        let y = dot(&tau, &tau) + 2.0 * quartic;
        let z = self.b_norm_sq;
        let (a, b) = (-2.0 * weight as f64 / z, weight as f64 / z);
        let gamma: Vec<f64> = self.b_traces.iter().zip(&tau).map(|(bt, tc)| a * bt + 2.0 * b * tc).collect();
        // Heads: γ_c s_r from the traces, 4b D(G∘G) from the quartic, 2a S from the projection.
        let mut through = CpGrads::zeros(&mt);
        projection.add_grad((2.0 * a) as f32, &mut through);
        g.d += &through.d;
        linalg::mul_add(g.d.as_mut(), t.heads.as_ref(), squared.as_ref(), (4.0 * b) as f32);
        let mut h = Mat::from_fn(r, r, |i, j| (8.0 * b) as f32 * k[(i, j)] * gram[(i, j)]);
        for (kk, &sr) in s.iter().enumerate() {
            let coef: f64 = gamma.iter().enumerate().map(|(c, gc)| gc * t.heads[(c, kk)] as f64).sum();
            for (c, gc) in gamma.iter().enumerate() {
                g.d[(c, kk)] += (gc * sr) as f32;
            }
            h[(kk, kk)] += (2.0 * coef) as f32;
        }
        let mut inner = through.u;
        inner += &through.w;
        linalg::mul_add(inner.as_mut(), v.as_ref(), h.as_ref(), 1.0);
        let mut gv = Mat::zeros(v.nrows(), r);
        linalg::mul_add(gv.as_mut(), self.m.as_ref(), inner.as_ref(), 0.5);
        g.u += &gv;
        g.w += &gv;
        (z - 2.0 * x + y) / z
    }
}

fn dot_f32(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interaction::cp::dense_cp;
    use crate::interaction::cp::tests::check_gradient_f64;
    use crate::interaction::tests::small_model;
    use crate::interaction::{Space, Storage};
    use crate::model::{Bilinear, ModelConfig};

    /// `Σ_c tr(X_c M) tr(Y_c M) + 2 tr(X_c M Y_c M)` from dense matrices.
    fn dense_functional(x: &[Mat<f64>], y: &[Mat<f64>], m: &Mat<f64>) -> f64 {
        x.iter()
            .zip(y)
            .map(|(xc, yc)| {
                (xc * m).diagonal().column_vector().sum() * (yc * m).diagonal().column_vector().sum()
                    + 2.0 * (xc * m * yc * m).diagonal().column_vector().sum()
            })
            .sum()
    }

    fn sample(n: usize, i: usize, seed: u64) -> Mat<f32> {
        // Inputs with a mean, as images have.
        linalg::randn(&mut linalg::rng(seed), n, i, 1.0) + Mat::from_fn(n, i, |_, j| 0.3 * (j % 3) as f32)
    }

    #[test]
    fn functional_products_match_the_dense_definition() {
        let layer = Bilinear::init(ModelConfig { n_inputs: 11, n_embed: None, n_hidden: 5, n_outputs: 3 }, &mut linalg::rng(8));
        let x = sample(40, 11, 3);
        let m = to_f64(linalg::mul(x.transpose(), x.as_ref()).as_ref()) * faer::Scale(1.0 / 40.0);
        let t = CpTensor::random(3, 11, 4, &mut linalg::rng(5));
        for model in [small_model(1), layer] {
            let kinds = if model.w_e.is_some() { vec![Space::Embedding, Space::Input] } else { vec![Space::Input] };
            for space in kinds {
                for storage in [Storage::Stacked, Storage::Factored] {
                    let inter = Interaction::with(&model, space, storage);
                    let f = Functional::new(&inter, x.as_ref());
                    let (b, td) = (inter.dense(), t.dense());
                    let want_bb = dense_functional(&b, &b, &m);
                    assert!((f.norm_sq() - want_bb).abs() < 1e-4 * want_bb, "{space:?} {storage:?}: {} vs {want_bb}", f.norm_sq());
                    let want = dense_functional(&b, &td, &m) / (want_bb * dense_functional(&td, &td, &m)).sqrt();
                    assert!((f.cosine(&inter, &t) - want).abs() < 1e-4, "{space:?} {storage:?}");
                }
            }
        }
    }

    #[test]
    fn functional_error_gradient_matches_finite_differences() {
        let x = sample(30, 11, 4);
        let m = to_f64(linalg::mul(x.transpose(), x.as_ref()).as_ref()) * faer::Scale(1.0 / 30.0);
        let general = CpTensor::random(3, 11, 4, &mut linalg::rng(6));
        // U = W takes the symmetric path; its gradient must still be each factor's own.
        let shared = CpTensor::new(general.heads.clone(), general.u.clone(), general.u.clone());
        for model in
            [small_model(2), Bilinear::init(ModelConfig { n_inputs: 11, n_embed: None, n_hidden: 5, n_outputs: 3 }, &mut linalg::rng(8))]
        {
            let inter = Interaction::new(&model);
            let f = Functional::new(&inter, x.as_ref());
            // The oracle: the dense definition in f64.
            let b = inter.dense();
            let bb = dense_functional(&b, &b, &m);
            let dense_error = |td: &[Mat<f64>]| {
                let diff: Vec<Mat<f64>> = b.iter().zip(td).map(|(x, y)| x - y).collect();
                dense_functional(&diff, &diff, &m) / bb
            };
            for t in [&general, &shared] {
                let mut g = CpGrads::zeros(t);
                let error = f.error_loss(&inter, t, 0.7, &mut g);
                assert!((error - dense_error(&t.dense())).abs() < 1e-5 * error, "{error}");
                check_gradient_f64(t, |d, u, w| 0.7 * dense_error(&dense_cp(d, u, w)), &g);
            }
        }
    }

    #[test]
    fn the_model_is_functionally_itself() {
        // B written as a CP tensor (its eigendecomposition) has functional cosine 1.
        let inter = Interaction::new(&small_model(3));
        let f = Functional::new(&inter, sample(25, 11, 5).as_ref());
        let t = crate::interaction::eigen::Eigen::pixel(&inter).truncated(usize::MAX);
        assert!((f.cosine(&inter, &t) - 1.0).abs() < 1e-5);
    }
}
