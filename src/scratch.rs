//! Scratch folders for tests, removed when the test ends, also on failure (also compiled into
//! the integration tests).

use std::path::Path;

/// A fresh folder `bilens-{name}-…` under the system temp dir, removed with everything in it
/// when dropped (also while a failing test unwinds), so test runs do not fill the disk.
pub struct Scratch(tempfile::TempDir);

impl Scratch {
    pub fn new(name: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("bilens-{name}-"))
            .tempdir()
            .expect("creating a scratch folder under the system temp dir");
        Scratch(dir)
    }
}

/// Reads as the folder's path, so `dir.join(…)` and `&dir` work where a `&Path` is wanted.
impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

#[cfg(test)]
mod tests {
    use super::Scratch;

    #[test]
    fn the_folder_lives_as_long_as_the_value() {
        let scratch = Scratch::new("scratch");
        let path = scratch.to_path_buf();
        std::fs::write(scratch.join("file"), b"x").unwrap();
        assert!(path.is_dir());
        drop(scratch);
        assert!(!path.exists());
    }
}
