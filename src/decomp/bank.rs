//! A bank: `r` components of one [`Form`] sharing one parameterisation ([`Pattern`]s for `a`
//! and `b`, and a [`Head`]).

use faer::{Mat, MatMut, MatRef};
use serde::{Deserialize, Serialize};

use super::form::{FactorGrads, Factors, Form, Role};
use super::pattern::{Pattern, PatternGrads, Tape};
use crate::interaction::CpTensor;

/// How raw head parameters become the heads `D` (`outputs × r`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeadRule {
    Dense,
    /// Keep each column's `k` largest |entries| (SPEC §5.13). With `learn_class = false`, as
    /// in the reference, masked entries get no gradient, so each component's class is frozen
    /// at its initialisation (SPEC §13.15); with `learn_class = true` the gradient passes
    /// straight through the mask, so a masked class can grow and take over.
    TopK {
        k: usize,
        learn_class: bool,
    },
}

/// Heads of a bank.
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

/// The stroke or data templates a bank's factors are anchored to.
#[derive(Clone, Debug)]
pub struct Anchors {
    /// Unit-norm templates of each component's `a` and `b` (`inputs × r`).
    pub a: Mat<f32>,
    pub b: Mat<f32>,
    /// Template index of each component's a- and b-anchor.
    pub ids_a: Vec<usize>,
    pub ids_b: Vec<usize>,
    /// Names of the templates, by index.
    pub names: Vec<String>,
    /// Each component's display patterns' strengths `‖d‖‖p‖²` as the bank started (plus,
    /// minus): what the `anchor_strength` prior holds.
    pub strengths: Vec<[f64; 2]>,
}

impl Anchors {
    /// Names of component `k`'s two templates.
    pub fn names_of(&self, k: usize) -> (String, String) {
        let name = |i: usize| self.names.get(i).cloned().unwrap_or_else(|| format!("template {i}"));
        (name(self.ids_a[k]), name(self.ids_b[k]))
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
    pub anchors: Option<Anchors>,
}

/// What [`Bank::backward`] needs from [`Bank::forward`].
pub struct BankTape {
    a: Tape,
    b: Option<Tape>,
}

impl Bank {
    pub fn rank(&self) -> usize {
        self.a.rank()
    }

    /// The effective factors, and the tape for [`Bank::backward`].
    pub fn forward(&self) -> (Factors, BankTape) {
        let ((a, ta), b) = match &self.b {
            Some(pb) if self.a.is_cheap() => (self.a.forward(), Some(pb.forward())),
            Some(pb) => {
                let (a, b) = crate::linalg::join(|| self.a.forward(), false, || pb.forward(), false);
                (a, Some(b))
            }
            None => (self.a.forward(), None),
        };
        let (b, tb) = match b {
            Some((b, tb)) => (b, Some(tb)),
            None => (a.clone(), None),
        };
        (Factors { a, b, d: self.head.heads() }, BankTape { a: ta, b: tb })
    }

    /// The effective factors.
    pub fn factors(&self) -> Factors {
        self.forward().0
    }

    /// The bank as CP triples (see [`Form::write_triples`]).
    pub fn triples(&self, f: &Factors) -> CpTensor {
        let (n, c, i) = (self.n_triples(), f.d.nrows(), f.a.nrows());
        let (mut d, mut u, mut w) = (Mat::zeros(c, n), Mat::zeros(i, n), Mat::zeros(i, n));
        self.write_triples(f, d.as_mut(), u.as_mut(), w.as_mut());
        CpTensor::new(d, u, w)
    }

    /// Writes [`Bank::triples`] into `n_triples` columns of heads and factor matrices.
    pub fn write_triples(&self, f: &Factors, d: MatMut<'_, f32>, u: MatMut<'_, f32>, w: MatMut<'_, f32>) {
        self.form.write_triples(f, d, u, w)
    }

    /// Number of triples this bank contributes to the CP form.
    pub fn n_triples(&self) -> usize {
        self.rank() * self.form.triples_per_component()
    }

    /// Factor gradients from gradients on this bank's triples.
    pub fn triple_grads(&self, dd: MatRef<'_, f32>, du: MatRef<'_, f32>, dw: MatRef<'_, f32>) -> FactorGrads {
        self.form.factor_grads(self.rank(), dd, du, dw)
    }

    /// Strength σ of each component (SPEC §9.1).
    pub fn strengths(&self, f: &Factors) -> Vec<f32> {
        (0..self.rank()).map(|k| self.form.strength(f.a.col(k).norm_l2(), f.b.col(k).norm_l2(), f.d.col(k).norm_l2())).collect()
    }

    /// Projects one-signed patterns back onto their signs (after an optimiser step).
    pub fn project(&mut self) {
        self.a.project();
        if let Some(b) = &mut self.b {
            b.project();
        }
    }

    /// Raw parameters in a fixed order: `a`'s, then `b`'s, then the head.
    pub fn params_mut(&mut self) -> Vec<&mut Mat<f32>> {
        let mut out = self.a.params_mut();
        if let Some(b) = &mut self.b {
            out.extend(b.params_mut());
        }
        out.push(&mut self.head.raw);
        out
    }

    /// Zero gradients of every raw parameter, in [`Bank::params_mut`] order.
    pub fn zero_param_grads(&self) -> Vec<Mat<f32>> {
        let mut out = self.a.zero_grads();
        if let Some(b) = &self.b {
            out.extend(b.zero_grads());
        }
        out.push(Mat::zeros(self.head.raw.nrows(), self.head.raw.ncols()));
        out
    }

    /// The sides `(pattern, offset of its first raw parameter)`: `a`, then `b` if it has one.
    pub fn sides(&self) -> Vec<(&Pattern, usize)> {
        let mut out = vec![(&self.a, 0)];
        if let Some(b) = &self.b {
            out.push((b, self.a.zero_grads().len()));
        }
        out
    }

    /// Raw parameter gradients (in [`Bank::params_mut`] order) from factor gradients.
    pub fn backward(&self, tape: &BankTape, g: FactorGrads) -> Vec<Mat<f32>> {
        let FactorGrads { a: da, b: db, d: dd } = g;
        let (mut grads, gb): (PatternGrads, Option<PatternGrads>) = match (&self.b, &tape.b) {
            (Some(b), Some(tb)) if self.a.is_cheap() => (self.a.backward(&tape.a, da), Some(b.backward(tb, db))),
            (Some(b), Some(tb)) => {
                let (ga, gb) = crate::linalg::join(|| self.a.backward(&tape.a, da), false, || b.backward(tb, db), false);
                (ga, Some(gb))
            }
            _ => (self.a.backward(&tape.a, da), None),
        };
        grads.extend(gb.into_iter().flatten());
        grads.push(self.head.backward(&dd));
        grads
    }
}
