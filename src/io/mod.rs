//! Files in and out, below everything that writes results: atomic writes ([`atomic`]), named
//! tensors in safetensors files ([`tensors`]), the format PyTorch users exchange weights in, and
//! arrays from `.npy` or `.safetensors` files ([`arrays`]).

pub mod arrays;
pub mod atomic;
pub mod tensors;

pub use atomic::{file_sha256, sha256_hex, write_atomic, write_json};

/// `path` as results record it: absolute (against the working folder when relative), so that
/// a later command reading the record (`explain`, `compare`, `report`) finds the file from any
/// folder. It neither requires the file to exist nor resolves links.
pub fn recorded_path(path: &std::path::Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
