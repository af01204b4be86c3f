//! The IDX reader on any bytes (gzipped or not): an error or a data set, never a panic.
#![no_main]

use std::path::Path;

use bilens::data::idx;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.idx");
    if let Ok(bytes) = idx::decompress(data, path) {
        if let Ok(images) = idx::parse_images(&bytes, path) {
            assert_eq!(images.pixels.len(), images.n * images.rows * images.cols);
        }
        let _ = idx::parse_labels(&bytes, path);
    }
});
