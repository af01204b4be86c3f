//! Shared dictionaries of components for the interaction tensor (SPEC §4–§7): the fitting
//! engine. Nothing here writes files or draws.
//!
//! A [`Decomposition`] is a list of [`Bank`]s of components; a component's [`Form`] says what
//! its factors mean ([`form`]); each bank maps raw parameters to effective factors
//! ([`pattern`], [`bank`]); loss terms are units in [`terms`], one file each, registered in one
//! list; one loop ([`fit`]) optimises any [`Recipe`] against a shared [`Context`]; [`presets`]
//! names the recipes of the reference study and beyond; [`rotation`] turns a class's part of
//! the model into other, equally exact sets of patterns; [`Components`] is the display view.

pub mod bank;
pub mod components;
pub mod context;
pub mod factors;
pub mod fit;
pub mod form;
pub mod init;
pub mod pairing;
pub mod pattern;
pub mod presets;
pub mod recipe;
pub mod rotation;
pub mod terms;

pub use bank::{Bank, Head, HeadRule};
pub use components::{Component, Components};
pub use context::{Context, ContextOptions, Fitted};
pub use fit::{HistoryRow, Step};
pub use form::{FactorGrads, Factors, Form, Role};
pub use recipe::{Init, MaskKind, Recipe, Rotation};
pub use terms::Priors;

use faer::Mat;

use crate::interaction::CpTensor;

/// A fitted (or initial) dictionary: displayed banks, then any residual bank.
#[derive(Clone, Debug)]
pub struct Decomposition {
    pub banks: Vec<Bank>,
}

impl Decomposition {
    /// Effective factors of every bank.
    pub fn factors(&self) -> Vec<Factors> {
        self.banks.iter().map(Bank::factors).collect()
    }

    /// All banks (displayed and residual) as CP triples: the tensor the fit is judged by.
    pub fn tensor(&self) -> CpTensor {
        self.tensor_of(|_| true)
    }

    /// Displayed banks only: what people see.
    pub fn displayed_tensor(&self) -> CpTensor {
        self.tensor_of(|b| b.role == Role::Displayed)
    }

    /// Whether a free residual bank absorbs part of the fit.
    pub fn has_residual(&self) -> bool {
        self.banks.iter().any(|b| b.role == Role::Residual)
    }

    fn tensor_of(&self, keep: impl Fn(&Bank) -> bool) -> CpTensor {
        let banks: Vec<&Bank> = self.banks.iter().filter(|b| keep(b)).collect();
        let factors: Vec<Factors> = banks.iter().map(|b| b.factors()).collect();
        triples_of(&banks, &factors)
    }
}

/// The banks written side by side as one CP tensor, each in its own columns.
pub(crate) fn triples_of(banks: &[&Bank], factors: &[Factors]) -> CpTensor {
    let n: usize = banks.iter().map(|b| b.n_triples()).sum();
    let (c, i) = factors.first().map_or((0, 0), |f| (f.d.nrows(), f.a.nrows()));
    let (mut d, mut u, mut w) = (Mat::zeros(c, n), Mat::zeros(i, n), Mat::zeros(i, n));
    let mut start = 0;
    for (bank, f) in banks.iter().zip(factors) {
        let k = bank.n_triples();
        bank.write_triples(f, d.as_mut().subcols_mut(start, k), u.as_mut().subcols_mut(start, k), w.as_mut().subcols_mut(start, k));
        start += k;
    }
    CpTensor::new(d, u, w)
}
