//! Measures of a decomposition: readability of patterns and heads ([`patterns`]), and fidelity
//! and readability of a whole fitted dictionary ([`decomposition`]).

pub mod decomposition;
pub mod patterns;

pub use decomposition::{ComponentRow, Metrics, component_table, evaluate};
