//! The safetensors model loader on any bytes: an error or a consistent model, never a panic.
#![no_main]

use bilens::Interaction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = bilens::model::parse_model(data, "fuzz.safetensors") {
        let c = model.config();
        assert_eq!(model.bias.len(), c.n_outputs);
        // Every size is positive and backed by the file's data, so this stays small.
        let _ = Interaction::new(&model).norm();
    }
});
