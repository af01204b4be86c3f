//! Visible skips for tests whose inputs are missing (also compiled into the integration tests).

use std::io::Write;

/// Reports that a test could not run because `what` is missing: prints `SKIPPED: …` and
/// appends it to `target/test-skips.log` (the test script lists them at the end), or fails the
/// test when the `BILENS_REQUIRE` variable names `what` (CI requires what it installs).
pub fn skip(what: &str, reason: &str) {
    let required = std::env::var("BILENS_REQUIRE").unwrap_or_default();
    if required.split(',').any(|r| r.trim() == what) {
        panic!("BILENS_REQUIRE includes {what}, but {reason}");
    }
    let line = format!("SKIPPED: {what}: {reason}");
    eprintln!("{line}");
    let log = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-skips.log");
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(log) {
        let _ = writeln!(f, "{line}");
    }
}
