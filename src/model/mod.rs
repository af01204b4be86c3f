//! The bilinear layer `y = W_u ((W_l h) ⊙ (W_r h)) + b`, with `h = W_e x` for a classifier with
//! an embedding (SPEC §3.1) or `h = x` for a bare layer: its weights, forward pass, training by
//! hand-derived backprop, and safetensors I/O in the field's layouts.

mod bilinear;
mod io;
mod train;

pub use bilinear::{Bilinear, ModelConfig};
pub use bilinear::{accuracy, accuracy_of_logits, add_bias, argmax};
pub use io::{Layout, encode, layout_of, load_model, parse_model, save_as, save_model};
pub use train::{MAX_WIDTH, TrainConfig, TrainReport, train, train_shards};
