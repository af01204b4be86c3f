//! Shared by the integration tests: the shared reference folder, and visible skips.
#![allow(dead_code)]

use std::path::PathBuf;

#[path = "../../src/test_skip.rs"]
mod test_skip;
pub use test_skip::skip;

/// `../shared` with the PyTorch reference models and the MNIST files, or a visible skip.
pub fn shared() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.join("reference").is_dir() && dir.join("data/mnist").is_dir() {
        Some(dir)
    } else {
        skip("reference", "../shared (the PyTorch reference models and the MNIST test set) is not present");
        None
    }
}

/// A fresh folder under the system temp dir.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bilens-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
