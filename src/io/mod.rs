//! Files in and out, below everything that writes results: atomic writes ([`atomic`]), named
//! tensors in safetensors files ([`tensors`]), the format PyTorch users exchange weights in, and
//! arrays from `.npy` or `.safetensors` files ([`arrays`]).

pub mod arrays;
pub mod atomic;
pub mod tensors;

pub use atomic::{file_sha256, sha256_hex, write_atomic, write_json};
