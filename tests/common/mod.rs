//! Shared by the integration tests: the shared reference folder, visible skips, and running
//! the `bilens` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "../../src/scratch.rs"]
mod scratch;
#[path = "../../src/test_skip.rs"]
mod test_skip;
pub use scratch::Scratch;
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

/// A fresh folder under the system temp dir, removed when the test ends.
pub fn temp_dir(name: &str) -> Scratch {
    Scratch::new(&format!("test-{name}"))
}

/// Runs bilens with two threads (unless `args` set them).
pub fn bilens(args: &[&str]) -> Output {
    let threads: &[&str] = if args.first() == Some(&"--threads") { &[] } else { &["--threads", "2"] };
    Command::new(env!("CARGO_BIN_EXE_bilens")).args(threads).args(args).output().expect("running bilens")
}

pub fn ok(args: &[&str]) -> String {
    let out = bilens(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "bilens {args:?} failed:\n{stderr}");
    String::from_utf8_lossy(&out.stdout).into_owned() + &stderr
}

/// Runs bilens expecting a clean failure (exit 1, an `error:` message containing every
/// `needle`, no panic); returns what it printed on stderr.
pub fn fails(args: &[&str], needles: &[&str]) -> String {
    let out = bilens(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "bilens {args:?} should fail cleanly:\n{stderr}");
    assert!(!stderr.contains("panicked") && stderr.contains("error:"), "bilens {args:?}:\n{stderr}");
    for n in needles {
        assert!(stderr.contains(n), "bilens {args:?}: the message should contain {n:?}:\n{stderr}");
    }
    stderr.into_owned()
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Writes `values` as a float32 `.npy` array of `shape`.
pub fn write_npy(path: &Path, shape: &[u64], values: &[f32]) {
    use npyz::WriterBuilder;
    let mut bytes = Vec::new();
    let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(shape).writer(&mut bytes).begin_nd().unwrap();
    w.extend(values.iter().copied()).unwrap();
    w.finish().unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// A classifier trained for one epoch with 16 hidden units on the embedded digits, in
/// `root/trained`: the quick model the command tests decompose.
pub fn tiny_model(root: &Path) -> PathBuf {
    let trained = root.join("trained");
    ok(&["train", "--epochs", "1", "--hidden", "16", "--out", s(&trained)]);
    trained.join("model.safetensors")
}
