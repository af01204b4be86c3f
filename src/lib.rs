//! bilens: weight-based interpretability of bilinear neural networks.
//!
//! A bilinear layer's logits are exactly quadratic in its input, `logit_c(x) = xᵀ B_c x + b_c`;
//! the interaction tensor `B` is the whole computation, readable from the weights alone.
//! bilens forms `B` in factored form, decomposes it into dictionaries of components a person
//! can name, and measures and draws every decomposition.
//!
//! The modules, bottom to top (each imports only modules listed before it, checked by a test):
//! [`image`] (the pixel grid) → [`figures`] (rendering only) → [`data`] (IDX and embedded
//! digits) → [`interrupt`] (the stop a Python Ctrl-C requests) → [`model`] (the classifier, its
//! training) → [`interaction`] (`B` in factored form,
//! eigendecompositions) → [`decomp`] (the fitting engine: forms, banks, loss terms, recipes,
//! presets) → [`metrics`] → [`analysis`] → [`pipeline`] (study folders, runs, sweeps) →
//! [`report`] → [`study`] → the `bilens` command line.
//!
//! # Example
//!
//! Train a small classifier on the embedded digits and fit a preset to its interaction tensor:
//!
//! ```
//! use bilens::{Context, ContextOptions, TrainConfig, preset};
//!
//! let data = bilens::embedded_digits();
//! let config = TrainConfig { epochs: 1, ..TrainConfig::default() };
//! let (model, _) = bilens::train(&config, &data.train, |_, _| {})?;
//! let ctx = Context::new(model, Some(&data), &ContextOptions::default())?;
//! let recipe = preset("provided_sparse")?.recipe.with_overrides(&["rank=8".into(), "steps=20".into()])?;
//! let outcome = bilens::decompose(&ctx, &recipe, 0, &mut |_| {})?;
//! assert!(outcome.metrics.tensor_cosine > 0.3);
//! println!("{} components, tensor cosine {:.3}", outcome.metrics.displayed_components, outcome.metrics.tensor_cosine);
//! # Ok::<(), bilens::Error>(())
//! ```

pub mod analysis;
#[doc(hidden)]
pub mod cli;
pub mod data;
pub mod decomp;
mod error;
pub mod figures;
pub mod image;
pub mod interaction;
pub mod interrupt;
pub(crate) mod io;
pub(crate) mod linalg;
pub mod metrics;
pub mod model;
pub(crate) mod optim;
pub mod pipeline;
pub mod report;
#[cfg(test)]
mod scratch;
pub mod study;
#[cfg(test)]
mod test_skip;

pub use data::{DataError, DataSplit, Dataset};
pub use decomp::presets::Preset;
pub use decomp::{Component, Components, Context, ContextOptions, Decomposition, Form, Recipe, Role, Step};
pub use error::{Error, Result};
pub use image::ImageShape;
pub use interaction::eigen::{Basis, Eigen};
pub use interaction::{CpTensor, Interaction};
pub use linalg::{MAX_THREADS, Rng, rng};
pub use metrics::Metrics;
pub use model::{Bilinear, ModelConfig, TrainConfig, TrainReport};
pub use optim::OptimizerKind;
pub use pipeline::Outcome;

use std::path::Path;

/// Runs `f` with `threads` threads for matrix products and parallel loops (a rayon pool of that
/// size); `None` runs it in the current pool (rayon's global pool: all cores). Results do not
/// depend on the thread count, except a trained model's (see [`model::train_shards`]).
pub fn with_threads<T: Send>(threads: Option<usize>, f: impl FnOnce() -> T + Send) -> Result<T> {
    linalg::fix_solver_splits();
    let Some(n) = threads else { return Ok(f()) };
    if !(1..=MAX_THREADS).contains(&n) {
        return Err(Error::Invalid(format!("threads = {n} is out of range: allowed 1..={MAX_THREADS}")));
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().map_err(|e| Error::Other(e.into()))?;
    Ok(pool.install(f))
}

/// The embedded default data: 10,000 real MNIST training digits shipped with bilens, the first
/// 8,000 for training and the last 2,000 for testing.
pub fn embedded_digits() -> DataSplit {
    data::embedded()
}

/// Inputs from a folder of MNIST-format IDX files (`DIR`, `DIR/MNIST/raw` or `DIR/raw`,
/// gzipped or not) or from a `.npy`/`.safetensors` array of vectors or images.
pub fn load_data(path: &Path) -> Result<DataSplit> {
    Ok(data::load(Some(path))?)
}

/// Trains a bilinear classifier; `on_epoch(epoch, loss)` after every epoch.
pub fn train(config: &TrainConfig, data: &Dataset, on_epoch: impl FnMut(usize, f64)) -> Result<(Bilinear, TrainReport)> {
    Ok(model::train(config, data, on_epoch)?)
}

/// A bilinear model from a safetensors file (bilens's or PyTorch's `state_dict` layout).
pub fn load_model(path: &Path) -> Result<Bilinear> {
    Ok(model::load_model(path)?)
}

/// Saves a model with PyTorch's `state_dict` names and shapes.
pub fn save_model(model: &Bilinear, path: &Path) -> Result<()> {
    Ok(model::save_model(model, path, &Default::default())?)
}

/// Every named recipe.
pub fn presets() -> Vec<Preset> {
    decomp::presets::all()
}

/// The recipe called `name`.
pub fn preset(name: &str) -> Result<Preset> {
    Ok(decomp::presets::find(name)?)
}

/// Fits `recipe` with `seed` to the interaction tensor of `ctx`'s model and measures it;
/// `on_step` sees every step (loss, tensor cosine, each term's value).
pub fn decompose(ctx: &Context, recipe: &Recipe, seed: u64, on_step: &mut dyn FnMut(&Step<'_>)) -> Result<Outcome> {
    Ok(pipeline::decompose(ctx, recipe, seed, on_step)?)
}

/// Reads fitted factors written by bilens (`factors.safetensors`).
pub fn load_factors(path: &Path) -> Result<Decomposition> {
    Ok(decomp::factors::load_factors(path)?)
}
