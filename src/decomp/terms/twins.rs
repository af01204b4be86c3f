//! `twins`: opposing twins as a prior. Two components whose matrices `sym(a bᵀ)` are nearly
//! parallel but count for and against the same class cancel on every input that excites
//! them: their weight buys the strength-weighted readability metrics, and their two large terms
//! shorten an explanation, without doing anything on digits (the `opposing_twins` metric). The
//! penalty is `Σ_{k<l} w_kl · max(0, m_kl)² / Σ s²`, where
//! - `m_kl` is the cosine of the two components' matrices (for symmetric components the squared
//!   cosine of their patterns, so a pair costs `cos⁴`: near copies almost fully, unrelated
//!   patterns almost nothing),
//! - `s_ck = d_ck ‖a_k‖‖b_k‖` are their signed strengths in class `c`, and
//! - `w_kl = Σ_c max(0, −s_ck s_cl)` is how strongly they oppose each other.
//!
//! Weighting by strength makes a few heavy twins cost what they weigh: a mean over all opposing
//! pairs (tried as an `opposition` prior) was diluted by the thousands of unrelated ones.

use faer::Mat;

use super::{Grads, Input, Schedule, Term};
use crate::decomp::form::{FactorGrads, Factors, Form};
use crate::decomp::recipe::Recipe;
use crate::linalg;

pub struct Twins;

impl Term for Twins {
    fn name(&self) -> &'static str {
        "twins"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.priors.twins
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        let mut total = 0.0;
        for (i, bank, f) in x.displayed() {
            let parts = Parts::of(bank.form, f);
            let (value, gp) = opposing(&parts, weight);
            total += value;
            gp.add_into(bank.form, grads.factors(i, f));
        }
        total
    }
}

/// A bank as rank-two matrices `h_k ⊗ sym(p_k q_kᵀ)`: a CP bank as it is, a symmetric bank with
/// `q = p = a`, an evidence-split bank as its `a` and `b` parts with heads `d` and `−d`.
struct Parts {
    p: Mat<f32>,
    q: Mat<f32>,
    h: Mat<f32>,
}

impl Parts {
    fn of(form: Form, f: &Factors) -> Self {
        match form {
            Form::Cp => Parts { p: f.a.clone(), q: f.b.clone(), h: f.d.clone() },
            Form::Symmetric => Parts { p: f.a.clone(), q: f.a.clone(), h: f.d.clone() },
            Form::Split => {
                let r = f.a.ncols();
                let both = Mat::from_fn(f.a.nrows(), 2 * r, |i, k| if k < r { f.a[(i, k)] } else { f.b[(i, k - r)] });
                let h = Mat::from_fn(f.d.nrows(), 2 * r, |c, k| if k < r { f.d[(c, k)] } else { -f.d[(c, k - r)] });
                Parts { p: both.clone(), q: both, h }
            }
        }
    }

    /// Adds gradients with respect to `(p, q, h)` into the bank's factor gradients.
    fn add_into(&self, form: Form, g: &mut FactorGrads) {
        let r = g.a.ncols();
        match form {
            Form::Cp => {
                g.a += &self.p;
                g.b += &self.q;
                g.d += &self.h;
            }
            Form::Symmetric => {
                g.a += &self.p;
                g.a += &self.q;
                g.d += &self.h;
            }
            Form::Split => {
                for k in 0..2 * r {
                    let target = if k < r { &mut g.a } else { &mut g.b };
                    for i in 0..self.p.nrows() {
                        target[(i, k % r)] += self.p[(i, k)] + self.q[(i, k)];
                    }
                }
                for c in 0..self.h.nrows() {
                    for k in 0..r {
                        g.d[(c, k)] += self.h[(c, k)] - self.h[(c, k + r)];
                    }
                }
            }
        }
    }
}

/// The penalty of `parts` and `weight ·` its gradient with respect to `(p, q, h)`.
fn opposing(parts: &Parts, weight: f32) -> (f64, Parts) {
    let (r, classes) = (parts.p.ncols(), parts.h.nrows());
    let norms = |m: &Mat<f32>| {
        (0..r).map(|k| linalg::col(m.as_ref(), k).iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt()).collect::<Vec<_>>()
    };
    let (alpha, beta) = (norms(&parts.p), norms(&parts.q));
    let unit = |m: &Mat<f32>, n: &[f64]| Mat::from_fn(m.nrows(), r, |i, k| if n[k] > 0.0 { (m[(i, k)] as f64 / n[k]) as f32 } else { 0.0 });
    let (pu, qu) = (unit(&parts.p, &alpha), unit(&parts.q, &beta));
    let gram = |x: &Mat<f32>, y: &Mat<f32>| linalg::mul(x.transpose(), y.as_ref());
    let (pp, qq, pq) = (gram(&pu, &pu), gram(&qu, &qu), gram(&pu, &qu));
    let s = Mat::from_fn(classes, r, |c, k| parts.h[(c, k)] as f64 * alpha[k] * beta[k]);
    let z: f64 = (0..r).flat_map(|k| (0..classes).map(move |c| (c, k))).map(|(c, k)| s[(c, k)] * s[(c, k)]).sum();
    let zero = || Parts { p: Mat::zeros(parts.p.nrows(), r), q: Mat::zeros(parts.q.nrows(), r), h: Mat::zeros(classes, r) };
    if z <= 0.0 {
        return (0.0, zero());
    }
    // m_kl, its square h_kl = max(0, m)² and the pair's opposition w_kl.
    let cosine = |k: usize, l: usize| 0.5 * (pp[(k, l)] as f64 * qq[(k, l)] as f64 + pq[(k, l)] as f64 * pq[(l, k)] as f64);
    let opposition = |k: usize, l: usize| (0..classes).map(|c| (-s[(c, k)] * s[(c, l)]).max(0.0)).sum::<f64>();
    let mut numerator = 0.0;
    let mut squared = Mat::<f64>::zeros(r, r);
    let mut dm = Mat::<f64>::zeros(r, r); // ∂P/∂m_kl, each ordered pair carrying half
    for k in 0..r {
        for l in 0..r {
            let m = cosine(k, l).max(0.0);
            if k == l || m == 0.0 {
                continue;
            }
            let w = opposition(k, l);
            squared[(k, l)] = m * m;
            numerator += 0.5 * w * m * m;
            dm[(k, l)] = w * m / z; // ½ · w · 2m / Z
        }
    }
    let value = numerator / z;
    let scale = weight as f64;
    // Through the cosines: m = ½(PP∘QQ + PQ∘PQᵀ).
    let g_pp = Mat::from_fn(r, r, |k, l| (scale * dm[(k, l)] * 0.5 * qq[(k, l)] as f64) as f32);
    let g_qq = Mat::from_fn(r, r, |k, l| (scale * dm[(k, l)] * 0.5 * pp[(k, l)] as f64) as f32);
    let g_pq = Mat::from_fn(r, r, |k, l| (scale * dm[(k, l)] * pq[(l, k)] as f64) as f32);
    let mut g_pu = linalg::mul(pu.as_ref(), g_pp.as_ref()) * faer::Scale(2.0f32);
    linalg::mul_add(g_pu.as_mut(), qu.as_ref(), g_pq.transpose(), 1.0);
    let mut g_qu = linalg::mul(qu.as_ref(), g_qq.as_ref()) * faer::Scale(2.0f32);
    linalg::mul_add(g_qu.as_mut(), pu.as_ref(), g_pq.as_ref(), 1.0);
    // Through the strengths: P = N/Z with N = ½ Σ_{k≠l} w_kl h_kl.
    let mut g = zero();
    let (mut g_alpha, mut g_beta) = (vec![0.0f64; r], vec![0.0f64; r]);
    for c in 0..classes {
        for k in 0..r {
            let dn: f64 = (0..r).filter(|&l| l != k && s[(c, k)] * s[(c, l)] < 0.0).map(|l| -squared[(k, l)] * s[(c, l)]).sum();
            let ds = scale * (dn / z - value * 2.0 * s[(c, k)] / z);
            g.h[(c, k)] = (ds * alpha[k] * beta[k]) as f32;
            g_alpha[k] += ds * parts.h[(c, k)] as f64 * beta[k];
            g_beta[k] += ds * parts.h[(c, k)] as f64 * alpha[k];
        }
    }
    // From unit vectors and norms back to the factors: ∂x = (g_u − u(u·g_u))/‖x‖ + g_‖x‖ u.
    let back = |out: &mut Mat<f32>, u: &Mat<f32>, gu: &Mat<f32>, n: &[f64], gn: &[f64]| {
        for k in 0..r {
            if n[k] == 0.0 {
                continue;
            }
            let along: f64 = (0..u.nrows()).map(|i| u[(i, k)] as f64 * gu[(i, k)] as f64).sum();
            for i in 0..u.nrows() {
                out[(i, k)] = ((gu[(i, k)] as f64 - u[(i, k)] as f64 * along) / n[k] + gn[k] * u[(i, k)] as f64) as f32;
            }
        }
    };
    back(&mut g.p, &pu, &g_pu, &alpha, &g_alpha);
    back(&mut g.q, &qu, &g_qu, &beta, &g_beta);
    (value, g)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(p: &[[f32; 3]], q: &[[f32; 3]], h: &[f32]) -> Parts {
        Parts {
            p: Mat::from_fn(3, p.len(), |i, k| p[k][i]),
            q: Mat::from_fn(3, q.len(), |i, k| q[k][i]),
            h: Mat::from_fn(1, h.len(), |_, k| h[k]),
        }
    }

    #[test]
    fn only_near_copies_counting_the_other_way_cost() {
        let blob = [1.0, 0.0, 0.0];
        let apart = [0.0, 1.0, 0.0];
        // A twin pair of strengths 2 and 1: m = 1, w = 2, Σs² = 5 + the third's 1.
        let (v, _) = opposing(&parts(&[blob, blob, apart], &[blob, blob, apart], &[2.0, -1.0, 1.0]), 1.0);
        assert!((v - 2.0 / 6.0).abs() < 1e-9, "{v}");
        let (same_side, _) = opposing(&parts(&[blob, blob], &[blob, blob], &[2.0, 1.0]), 1.0);
        assert_eq!(same_side, 0.0, "copies on the same side are duplicates, not twins");
        let (orthogonal, _) = opposing(&parts(&[blob, apart], &[blob, apart], &[2.0, -1.0]), 1.0);
        assert_eq!(orthogonal, 0.0, "opposite heads on different patterns are evidence and counter-evidence");
    }

    /// The gradient against central differences in f64 terms, on correlated CP factors with
    /// two classes of mixed-sign heads (every branch: negative cosines, same and opposite signs).
    #[test]
    fn gradient_matches_finite_differences() {
        let mut rng = linalg::rng(3);
        let base = linalg::randn(&mut rng, 6, 1, 1.0);
        let noise = linalg::randn(&mut rng, 6, 8, 0.6);
        let p = Mat::from_fn(6, 4, |i, k| base[(i, 0)] + noise[(i, k)]);
        let q = Mat::from_fn(6, 4, |i, k| if k == 3 { -base[(i, 0)] } else { base[(i, 0)] } + noise[(i, k + 4)]);
        let h = linalg::randn(&mut rng, 2, 4, 1.0);
        let x = Parts { p, q, h };
        let field = |x: &Parts, which: usize| [&x.p, &x.q, &x.h][which].clone();
        let (_, g) = opposing(&x, 1.0);
        let eps = 1e-3f32;
        for which in 0..3 {
            let m = field(&x, which);
            for (i, k) in (0..m.nrows()).flat_map(|i| (0..4).map(move |k| (i, k))) {
                let at = |delta: f32| {
                    let mut moved = m.clone();
                    moved[(i, k)] += delta;
                    let mut f = [field(&x, 0), field(&x, 1), field(&x, 2)];
                    f[which] = moved;
                    let [p, q, h] = f;
                    opposing(&Parts { p, q, h }, 1.0).0
                };
                let fd = (at(eps) - at(-eps)) / (2.0 * eps as f64);
                let got = field(&g, which)[(i, k)] as f64;
                assert!((fd - got).abs() < 2e-3 * fd.abs().max(1e-2), "factor {which} ({i},{k}): {got} vs {fd}");
            }
        }
    }
}
