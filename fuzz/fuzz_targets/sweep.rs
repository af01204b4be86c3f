//! Sweep files on any text: an error or a list of runs, never a panic or a runaway grid.
#![no_main]

use bilens::pipeline::SweepFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(file) = toml::from_str::<SweepFile>(text) {
        if let Ok(runs) = file.expand() {
            assert!(runs.iter().all(|r| r.id.len() <= 200));
        }
    }
});
