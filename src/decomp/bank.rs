//! A bank: `r` components sharing one parameterisation. Component `k` contributes
//! `d_k ⊗ sym(a_k b_kᵀ)` (CP), `d_k ⊗ a_k a_kᵀ` (symmetric) or `d_k ⊗ (a_k a_kᵀ − b_k b_kᵀ)`
//! (evidence split; `a` = positive, `b` = negative evidence), SPEC §6.

use faer::{Mat, MatMut, MatRef};
use serde::{Deserialize, Serialize};

use super::pattern::Pattern;
use crate::interaction::CpTensor;

/// How a component's two factors combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Form {
    Cp,
    Symmetric,
    Split,
}

/// Whether a bank is shown to people (and so carries the interpretability priors) or is a
/// free residual that only absorbs fit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Displayed,
    Residual,
}

/// How raw head parameters become the class heads `D` (`C × r`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeadRule {
    Dense,
    /// Keep each column's `k` largest |entries| (SPEC §5.13). With `learn_class = false`, as
    /// in the reference, masked entries get no gradient, so each component's class is frozen
    /// at its random initialisation (SPEC §13.15); with `learn_class = true` the gradient
    /// passes straight through the mask, so a masked class can grow and take over.
    TopK {
        k: usize,
        learn_class: bool,
    },
}

/// Class heads of a bank.
#[derive(Clone, Debug)]
pub struct Head {
    pub raw: Mat<f32>,
    pub rule: HeadRule,
}

impl Head {
    /// The 0/1 mask of kept entries (recomputed from the current parameters every step).
    fn mask(&self) -> Option<Mat<f32>> {
        let HeadRule::TopK { k, .. } = self.rule else { return None };
        let (c, r) = (self.raw.nrows(), self.raw.ncols());
        let mut mask = Mat::zeros(c, r);
        for j in 0..r {
            let mut idx: Vec<usize> = (0..c).collect();
            idx.sort_by(|&x, &y| self.raw[(y, j)].abs().total_cmp(&self.raw[(x, j)].abs()));
            for &i in idx.iter().take(k) {
                mask[(i, j)] = 1.0;
            }
        }
        Some(mask)
    }

    pub fn heads(&self) -> Mat<f32> {
        match self.mask() {
            Some(m) => Mat::from_fn(m.nrows(), m.ncols(), |i, j| self.raw[(i, j)] * m[(i, j)]),
            None => self.raw.clone(),
        }
    }

    pub(crate) fn backward(&self, dd: &Mat<f32>) -> Mat<f32> {
        match (self.rule, self.mask()) {
            (HeadRule::TopK { learn_class: false, .. }, Some(m)) => Mat::from_fn(m.nrows(), m.ncols(), |i, j| dd[(i, j)] * m[(i, j)]),
            _ => dd.clone(),
        }
    }
}

/// The effective factors of a bank after one forward pass (`b = a` for symmetric banks).
#[derive(Clone, Debug)]
pub struct Factors {
    pub a: Mat<f32>,
    pub b: Mat<f32>,
    pub d: Mat<f32>,
}

/// Gradients with respect to a bank's effective factors.
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
}

/// One bank of components.
#[derive(Clone, Debug)]
pub struct Bank {
    pub form: Form,
    pub role: Role,
    pub a: Pattern,
    /// The second factor; `None` for symmetric banks.
    pub b: Option<Pattern>,
    pub head: Head,
    /// Unit-norm templates the factors are anchored to (for the anchor prior and tables).
    pub anchors: Option<(Mat<f32>, Mat<f32>)>,
    /// Template index of each component's a- and b-anchor, and the names of the templates.
    pub anchor_ids: Option<(Vec<usize>, Vec<usize>)>,
    pub anchor_names: Vec<String>,
}

impl Bank {
    pub fn rank(&self) -> usize {
        self.a.rank()
    }

    pub fn forward(&mut self) -> Factors {
        let (a, b) = match &mut self.b {
            Some(pb) if self.a.is_cheap() => (self.a.forward(), pb.forward()),
            Some(pb) => {
                let pa = &mut self.a;
                crate::linalg::join(|| pa.forward(), false, || pb.forward(), false)
            }
            None => {
                let a = self.a.forward();
                (a.clone(), a)
            }
        };
        Factors { a, b, d: self.head.heads() }
    }

    /// The bank as symmetrised CP triples: `(d, a, b)`, `(d, a, a)`, or `(d, a, a) | (−d, b, b)`.
    pub fn triples(&self, f: &Factors) -> CpTensor {
        let (n, c, i) = (self.n_triples(), f.d.nrows(), f.a.nrows());
        let (mut d, mut u, mut w) = (Mat::zeros(c, n), Mat::zeros(i, n), Mat::zeros(i, n));
        self.write_triples(f, d.as_mut(), u.as_mut(), w.as_mut());
        CpTensor::new(d, u, w)
    }

    /// Writes [`Bank::triples`] into `n_triples` columns of heads and factor matrices.
    pub fn write_triples(&self, f: &Factors, mut d: MatMut<'_, f32>, mut u: MatMut<'_, f32>, mut w: MatMut<'_, f32>) {
        match self.form {
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
                let r = self.rank();
                d.as_mut().subcols_mut(0, r).copy_from(&f.d);
                d.as_mut().subcols_mut(r, r).copy_from(-&f.d);
                for mut m in [u, w] {
                    m.as_mut().subcols_mut(0, r).copy_from(&f.a);
                    m.as_mut().subcols_mut(r, r).copy_from(&f.b);
                }
            }
        }
    }

    /// Number of triples this bank contributes to the CP form.
    pub fn n_triples(&self) -> usize {
        if self.form == Form::Split { 2 * self.rank() } else { self.rank() }
    }

    /// Maps gradients on this bank's triples (columns of dD, dU, dW) to its factor gradients.
    pub fn triple_grads(&self, dd: MatRef<'_, f32>, du: MatRef<'_, f32>, dw: MatRef<'_, f32>) -> FactorGrads {
        let r = self.rank();
        match self.form {
            Form::Cp => FactorGrads { a: du.to_owned(), b: dw.to_owned(), d: dd.to_owned() },
            Form::Symmetric => FactorGrads { a: du + dw, b: Mat::zeros(du.nrows(), r), d: dd.to_owned() },
            Form::Split => FactorGrads {
                a: du.subcols(0, r) + dw.subcols(0, r),
                b: du.subcols(r, r) + dw.subcols(r, r),
                d: dd.subcols(0, r) - dd.subcols(r, r),
            },
        }
    }

    /// Strength σ of each component (SPEC §9.1): `‖a‖‖b‖‖d‖`, `‖v‖²‖d‖` or `(‖p‖²+‖n‖²)‖d‖`.
    pub fn strengths(&self, f: &Factors) -> Vec<f32> {
        (0..self.rank())
            .map(|k| {
                let (na, nb, nd) = (f.a.col(k).norm_l2(), f.b.col(k).norm_l2(), f.d.col(k).norm_l2());
                match self.form {
                    Form::Cp => na * nb * nd,
                    Form::Symmetric => na * na * nd,
                    Form::Split => (na * na + nb * nb) * nd,
                }
            })
            .collect()
    }

    /// Raw parameters in a fixed order.
    pub fn params_mut(&mut self) -> Vec<&mut Mat<f32>> {
        let mut out = self.a.params_mut();
        if let Some(b) = &mut self.b {
            out.extend(b.params_mut());
        }
        out.push(&mut self.head.raw);
        out
    }

    /// Parameter gradients (in [`Bank::params_mut`] order) from factor gradients, plus the
    /// parameter-level penalties (deformation L2, mask width) with the given weights.
    pub fn backward(&self, g: FactorGrads, deform: f32, width: f32, penalty: &mut f64) -> Vec<Mat<f32>> {
        let side = |p: &Pattern, d: Mat<f32>| {
            let mut grads = p.backward_owned(d);
            let penalty = p.parameter_penalty(deform, width, &mut grads);
            (grads, penalty)
        };
        let FactorGrads { a: da, b: db, d: dd } = g;
        let ((mut ga, pa), b) = match &self.b {
            Some(b) if self.a.is_cheap() => (side(&self.a, da), Some(side(b, db))),
            Some(b) => {
                let (a, b) = crate::linalg::join(|| side(&self.a, da), false, || side(b, db), false);
                (a, Some(b))
            }
            None => (side(&self.a, da), None),
        };
        *penalty += pa;
        if let Some((gb, pb)) = b {
            *penalty += pb;
            ga.extend(gb);
        }
        ga.push(self.head.backward(&dd));
        ga
    }
}
