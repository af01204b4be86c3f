//! Measures of a decomposition: readability of patterns and heads ([`patterns`]), fidelity of
//! logits on inputs ([`fidelity`]), and both for a whole fitted dictionary ([`decomposition`]).

pub mod decomposition;
pub mod fidelity;
pub mod patterns;

pub use decomposition::{Metrics, Readout, evaluate};
