//! Recipe overrides on any text, then validation: an error naming a field, or a recipe that
//! passes validation, never a panic.
#![no_main]

use bilens::Recipe;
use bilens::decomp::recipe::Limits;
use bilens::image::ImageShape;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let limits = Limits { inputs: 784, outputs: 10, image: Some(ImageShape::MNIST), train_images: 7000 };
    for base in ["provided_sparse", "combo_cp_top1_res8"] {
        let recipe = bilens::preset(base).unwrap().recipe;
        if let Ok(r) = recipe.with_toml(text) {
            let _ = r.validate(&limits);
        }
        let sets: Vec<String> = text.lines().map(str::to_string).collect();
        if let Ok(r) = recipe.with_overrides(&sets) {
            let _ = r.validate(&limits);
        }
    }
    let _: Result<Recipe, _> = toml::from_str(text);
});
