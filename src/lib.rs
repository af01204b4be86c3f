//! bilens: weight-based interpretability of bilinear neural networks.
//!
//! The pipeline, one module each: [`data`] (MNIST-format digits) → [`model`] (the bilinear
//! classifier, trained by hand-derived backprop) → [`interaction`] (its exact interaction tensor
//! in factored form, and the eigendecomposition baseline) → [`decomp`] (shared dictionaries of
//! components under priors) → [`metrics`] → [`figures`] → the `bilens` command line ([`cli`]).

pub mod analysis;
pub mod cli;
pub mod data;
pub mod decomp;
pub mod figures;
pub mod interaction;
pub mod linalg;
pub mod metrics;
pub mod model;
pub mod optim;
pub mod report;
pub mod run;
pub mod study;
pub mod sweep;
pub mod tensor_file;
