//! What a component's form means, in one place: how its two factors `(a, b)` and head `d` become
//! CP triples (the tensor it adds), how gradients flow back, its strength, the patterns people
//! see, and its activation on an input (SPEC §6).
//!
//! | form | tensor added | triples | display patterns (plus, minus) | activation |
//! |---|---|---|---|---|
//! | CP | `d ⊗ sym(a bᵀ)` | `(d, a, b)` | `a + b`, `a − b` | `(a·x)(b·x)` |
//! | symmetric | `d ⊗ a aᵀ` | `(d, a, a)` | `a`, none | `(a·x)²` |
//! | evidence split | `d ⊗ (a aᵀ − b bᵀ)` | `(d, a, a)`, `(−d, b, b)` | `a`, `b` | `(a·x)² − (b·x)²` |
//!
//! Since `(a·x)(b·x) = ¼[((a+b)·x)² − ((a−b)·x)²]`, every form reads the same way: matching the
//! plus pattern (either sign) raises the head's classes, matching the minus pattern lowers them.

use faer::{Mat, MatMut, MatRef};
use serde::{Deserialize, Serialize};

/// How a component's two factors combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    Cp,
    Symmetric,
    Split,
}

/// Whether a bank is shown to people (and so carries the readability priors) or is a free
/// residual that only absorbs fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Displayed,
    Residual,
}

/// The effective factors of `r` components of one form (`b = a` for symmetric ones).
#[derive(Clone, Debug, PartialEq)]
pub struct Factors {
    /// `inputs × r`.
    pub a: Mat<f32>,
    /// `inputs × r`.
    pub b: Mat<f32>,
    /// Heads, `outputs × r`.
    pub d: Mat<f32>,
}

/// Gradients with respect to [`Factors`] (for symmetric components everything is in `a`).
#[derive(Clone, Debug)]
pub struct FactorGrads {
    pub a: Mat<f32>,
    pub b: Mat<f32>,
    pub d: Mat<f32>,
}

impl FactorGrads {
    pub fn zeros(f: &Factors) -> Self {
        Self { a: Mat::zeros(f.a.nrows(), f.a.ncols()), b: Mat::zeros(f.b.nrows(), f.b.ncols()), d: Mat::zeros(f.d.nrows(), f.d.ncols()) }
    }

    /// `self += other`.
    pub fn add(&mut self, other: &FactorGrads) {
        self.a += &other.a;
        self.b += &other.b;
        self.d += &other.d;
    }
}

impl Form {
    /// Whether `b` is a factor of its own (not for symmetric components, where `b = a`).
    pub fn has_second_factor(self) -> bool {
        self != Form::Symmetric
    }

    /// Whether the component shows a minus pattern.
    pub fn has_minus(self) -> bool {
        self != Form::Symmetric
    }

    /// CP triples per component.
    pub fn triples_per_component(self) -> usize {
        if self == Form::Split { 2 } else { 1 }
    }

    /// Writes the triples of `f`'s `r` components into `r · triples_per_component` columns:
    /// the first `r` columns hold one triple per component, split components add their
    /// negative triples in the next `r`.
    pub fn write_triples(self, f: &Factors, mut d: MatMut<'_, f32>, mut u: MatMut<'_, f32>, mut w: MatMut<'_, f32>) {
        let r = f.a.ncols();
        match self {
            Form::Cp => {
                d.copy_from(&f.d);
                u.copy_from(&f.a);
                w.copy_from(&f.b);
            }
            Form::Symmetric => {
                d.copy_from(&f.d);
                u.copy_from(&f.a);
                w.copy_from(&f.a);
            }
            Form::Split => {
                d.as_mut().subcols_mut(0, r).copy_from(&f.d);
                d.as_mut().subcols_mut(r, r).copy_from(-&f.d);
                for mut m in [u, w] {
                    m.as_mut().subcols_mut(0, r).copy_from(&f.a);
                    m.as_mut().subcols_mut(r, r).copy_from(&f.b);
                }
            }
        }
    }

    /// Factor gradients from gradients on the triples [`Form::write_triples`] wrote.
    pub fn factor_grads(self, r: usize, dd: MatRef<'_, f32>, du: MatRef<'_, f32>, dw: MatRef<'_, f32>) -> FactorGrads {
        match self {
            Form::Cp => FactorGrads { a: du.to_owned(), b: dw.to_owned(), d: dd.to_owned() },
            Form::Symmetric => FactorGrads { a: du + dw, b: Mat::zeros(du.nrows(), r), d: dd.to_owned() },
            Form::Split => FactorGrads {
                a: du.subcols(0, r) + dw.subcols(0, r),
                b: du.subcols(r, r) + dw.subcols(r, r),
                d: dd.subcols(0, r) - dd.subcols(r, r),
            },
        }
    }

    /// A component's strength σ from the norms of its factors (SPEC §9.1): `‖a‖‖b‖‖d‖`,
    /// `‖a‖²‖d‖` or `(‖a‖² + ‖b‖²)‖d‖`, the Frobenius norm of what it adds up to a constant.
    pub fn strength(self, norm_a: f32, norm_b: f32, norm_d: f32) -> f32 {
        match self {
            Form::Cp => norm_a * norm_b * norm_d,
            Form::Symmetric => norm_a * norm_a * norm_d,
            Form::Split => (norm_a * norm_a + norm_b * norm_b) * norm_d,
        }
    }

    /// The display patterns before normalisation (SPEC §4.1): CP `(a + b, a − b)`, split
    /// `(a, b)`, symmetric `(a, 0)`.
    pub fn display(self, a: &Mat<f32>, b: &Mat<f32>) -> (Mat<f32>, Mat<f32>) {
        match self {
            Form::Cp => (a + b, a - b),
            Form::Split => (a.clone(), b.clone()),
            Form::Symmetric => (a.clone(), Mat::zeros(a.nrows(), a.ncols())),
        }
    }

    /// Display pattern `side` (0 plus, 1 minus) of [`Form::display`] on one input, from the
    /// factors' projections `a·x` and `b·x` (the display map is linear).
    pub fn display_projection<T: num_traits::Float>(self, ax: T, bx: T, side: usize) -> T {
        match (self, side) {
            (Form::Cp, 0) => ax + bx,
            (Form::Cp, _) => ax - bx,
            (_, 0) => ax,
            (Form::Split, _) => bx,
            (Form::Symmetric, _) => T::zero(),
        }
    }

    /// Gradients on `(a, b)` from gradients on the display patterns of [`Form::display`].
    pub fn display_backward(self, d_plus: Mat<f32>, d_minus: Mat<f32>) -> (Mat<f32>, Mat<f32>) {
        match self {
            Form::Cp => (&d_plus + &d_minus, &d_plus - &d_minus),
            Form::Split => (d_plus, d_minus),
            Form::Symmetric => {
                let zeros = Mat::zeros(d_minus.nrows(), d_minus.ncols());
                (d_plus, zeros)
            }
        }
    }

    /// A component's contribution before its head, from its projections `a·x` and `b·x`
    /// (in any float type: the report checks its page in f64).
    pub fn activation<T: num_traits::Float>(self, ax: T, bx: T) -> T {
        match self {
            Form::Cp => ax * bx,
            Form::Symmetric => ax * ax,
            Form::Split => ax * ax - bx * bx,
        }
    }

    /// The factors of a component holding positive evidence `p` and negative evidence `n`,
    /// i.e. adding `d ⊗ (p pᵀ − n nᵀ)`: split `(p, n)`; CP `(p + n, p − n)`, since
    /// `sym((p+n)(p−n)ᵀ) = ppᵀ − nnᵀ`. Symmetric components hold no negative evidence.
    pub fn from_evidence(self, p: &[f32], n: &[f32]) -> (Vec<f32>, Vec<f32>) {
        match self {
            Form::Split => (p.to_vec(), n.to_vec()),
            Form::Cp => (p.iter().zip(n).map(|(p, n)| p + n).collect(), p.iter().zip(n).map(|(p, n)| p - n).collect()),
            Form::Symmetric => (p.to_vec(), p.to_vec()),
        }
    }

    /// Names of the two display patterns, for figure rows.
    pub fn pattern_names(self) -> (&'static str, &'static str) {
        match self {
            Form::Cp => ("plus (a+b)", "minus (a−b)"),
            Form::Split => ("positive p", "negative n"),
            Form::Symmetric => ("pattern v", "—"),
        }
    }

    /// The name used in files and the report's script (`cp`, `symmetric`, `split`).
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Cp => "cp",
            Form::Symmetric => "symmetric",
            Form::Split => "split",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interaction::CpTensor;
    use crate::linalg;

    fn factors(form: Form, seed: u64) -> Factors {
        let mut rng = linalg::rng(seed);
        let a = linalg::randn(&mut rng, 7, 3, 1.0);
        let b = if form.has_second_factor() { linalg::randn(&mut rng, 7, 3, 1.0) } else { a.clone() };
        Factors { a, b, d: linalg::randn(&mut rng, 4, 3, 1.0) }
    }

    fn triples(form: Form, f: &Factors) -> CpTensor {
        let n = f.a.ncols() * form.triples_per_component();
        let (mut d, mut u, mut w) = (Mat::zeros(f.d.nrows(), n), Mat::zeros(f.a.nrows(), n), Mat::zeros(f.a.nrows(), n));
        form.write_triples(f, d.as_mut(), u.as_mut(), w.as_mut());
        CpTensor::new(d, u, w)
    }

    #[test]
    fn activations_and_display_patterns_agree_with_the_triples() {
        for form in [Form::Cp, Form::Symmetric, Form::Split] {
            let f = factors(form, 1);
            let t = triples(form, &f);
            let x = linalg::randn(&mut linalg::rng(2), 5, 7, 1.0);
            let z = t.logits(x.as_ref());
            let (xa, xb) = (linalg::mul(x.as_ref(), f.a.as_ref()), linalg::mul(x.as_ref(), f.b.as_ref()));
            let (plus, minus) = form.display(&f.a, &f.b);
            let (xp, xm) = (linalg::mul(x.as_ref(), plus.as_ref()), linalg::mul(x.as_ref(), minus.as_ref()));
            for i in 0..5 {
                for c in 0..4 {
                    let by_act: f32 = (0..3).map(|r| f.d[(c, r)] * form.activation(xa[(i, r)], xb[(i, r)])).sum();
                    // CP: (a·x)(b·x) = ¼[(plus·x)² − (minus·x)²]; split and symmetric: (plus·x)² − (minus·x)².
                    let q = if form == Form::Cp { 0.25 } else { 1.0 };
                    let by_display: f32 = (0..3).map(|r| f.d[(c, r)] * q * (xp[(i, r)].powi(2) - xm[(i, r)].powi(2))).sum();
                    assert!((by_act - z[(i, c)]).abs() < 1e-3 * (1.0 + z[(i, c)].abs()), "{form:?}");
                    assert!((by_display - z[(i, c)]).abs() < 1e-3 * (1.0 + z[(i, c)].abs()), "{form:?}");
                }
            }
        }
    }

    #[test]
    fn evidence_pairs_give_p_p_minus_n_n() {
        let (p, n) = ([1.0, 2.0, 0.5], [0.3, -1.0, 2.0]);
        for form in [Form::Cp, Form::Split] {
            let (a, b) = form.from_evidence(&p, &n);
            let f = Factors { a: Mat::from_fn(3, 1, |i, _| a[i]), b: Mat::from_fn(3, 1, |i, _| b[i]), d: Mat::from_fn(1, 1, |_, _| 1.0) };
            let dense = triples(form, &f).dense();
            for i in 0..3 {
                for j in 0..3 {
                    let want = p[i] as f64 * p[j] as f64 - n[i] as f64 * n[j] as f64;
                    assert!((dense[0][(i, j)] - want).abs() < 1e-5, "{form:?}");
                }
            }
        }
    }

    #[test]
    fn factor_grads_are_the_adjoint_of_write_triples() {
        // ⟨write_triples(f), G⟩ = ⟨f, factor_grads(G)⟩ for any triple gradient G.
        for form in [Form::Cp, Form::Symmetric, Form::Split] {
            let f = factors(form, 3);
            let t = triples(form, &f);
            let mut rng = linalg::rng(4);
            let g = [t.heads.nrows(), t.u.nrows(), t.w.nrows()].map(|rows| linalg::randn(&mut rng, rows, t.rank(), 1.0));
            let fg = form.factor_grads(3, g[0].as_ref(), g[1].as_ref(), g[2].as_ref());
            let lhs = linalg::dot(t.heads.as_ref(), g[0].as_ref())
                + linalg::dot(t.u.as_ref(), g[1].as_ref())
                + linalg::dot(t.w.as_ref(), g[2].as_ref());
            let b_term = if form.has_second_factor() { linalg::dot(f.b.as_ref(), fg.b.as_ref()) } else { 0.0 };
            let rhs = linalg::dot(f.d.as_ref(), fg.d.as_ref()) + linalg::dot(f.a.as_ref(), fg.a.as_ref()) + b_term;
            assert!((lhs - rhs).abs() < 1e-4 * lhs.abs().max(1.0), "{form:?}: {lhs} vs {rhs}");
        }
    }
}
