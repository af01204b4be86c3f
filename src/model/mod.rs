//! The bilinear classifier `logits = W_u ((W_l h) ⊙ (W_r h)) + b`, `h = W_e x` (SPEC §3.1):
//! its weights, forward pass, training by hand-derived backprop, and safetensors I/O with
//! PyTorch's `state_dict` names.

mod bilinear;
mod io;
mod train;

pub use bilinear::{Bilinear, ModelConfig};
pub use bilinear::{accuracy, add_bias, argmax};
pub use io::{load_model, parse_model, save_model};
pub use train::{TrainConfig, TrainReport, train, train_shards};
