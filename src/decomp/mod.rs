//! Shared dictionaries of components for the interaction tensor (SPEC §4–§7).
//!
//! A [`Decomposition`] is a list of [`bank::Bank`]s. Each bank maps its raw parameters to
//! effective factors `(a, b, d)` ([`pattern`], [`bank`]); the whole decomposition is written
//! as symmetrised CP triples for the tensor terms ([`loss`]); one loop ([`fit`]) optimises
//! any [`recipe::Recipe`]; [`presets`] names the recipes of the reference study and beyond.

pub mod bank;
pub mod components;
pub mod experiment;
pub mod fit;
pub mod image_ops;
pub mod init;
pub mod loss;
pub mod pattern;
pub mod presets;
pub mod recipe;
pub mod save;
pub mod templates;

use bank::{Bank, Factors, Role};

use crate::interaction::CpTensor;

/// A fitted (or initial) dictionary: displayed banks, then any residual bank.
#[derive(Clone, Debug)]
pub struct Decomposition {
    pub banks: Vec<Bank>,
}

impl Decomposition {
    /// Effective factors of every bank.
    pub fn forward(&mut self) -> Vec<Factors> {
        self.banks.iter_mut().map(|b| b.forward()).collect()
    }

    /// All banks (displayed and residual) as CP triples: the tensor the fit is judged by.
    pub fn tensor(&mut self) -> CpTensor {
        self.tensor_of(|_| true)
    }

    /// Displayed banks only: what people see.
    pub fn displayed_tensor(&mut self) -> CpTensor {
        self.tensor_of(|b| b.role == Role::Displayed)
    }

    fn tensor_of(&mut self, keep: impl Fn(&Bank) -> bool) -> CpTensor {
        let factors = self.forward();
        let parts: Vec<CpTensor> = self.banks.iter().zip(&factors).filter(|(b, _)| keep(b)).map(|(b, f)| b.triples(f)).collect();
        concat_all(&parts)
    }
}

/// Triples of several tensors side by side (an empty list gives a rank-0 tensor).
pub fn concat_all(parts: &[CpTensor]) -> CpTensor {
    parts.iter().skip(1).fold(parts[0].clone(), |acc, p| acc.concat(p))
}
