//! Known answers of the PyTorch reference models in `../shared/reference` (SPEC §15.4 and the
//! reference README). Skipped, with a message, where that folder is absent (a user's machine).

use std::path::PathBuf;

use bilens::interaction::Interaction;
use bilens::interaction::eigen::Eigen;

fn shared() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.join("reference").is_dir() && dir.join("data/mnist").is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: ../shared (reference models and MNIST test set) is not present");
        None
    }
}

#[test]
fn reference_model_known_answers() {
    let Some(dir) = shared() else { return };
    let model = bilens::model::load_model(&dir.join("reference/bilinear_mnist10k_e20.safetensors")).unwrap();
    let data = bilens::data::load_dir(&dir.join("data/mnist")).unwrap();
    let acc = model.accuracy(&data.test);
    assert!((acc - 0.9602).abs() <= 0.0002, "test accuracy {acc}");

    let inter = Interaction::new(&model);
    assert!((inter.norm() / 13.47326 - 1.0).abs() < 1e-4, "‖B‖ = {}", inter.norm());

    let largest = [0.3086, 0.3547, 0.2698, 0.2973, 0.3310, 0.3042, 0.3090, 0.2835, 0.2951, 0.2698];
    let smallest = [-0.3338, -0.3876, -0.2709, -0.2792, -0.3019, -0.3355, -0.3002, -0.2673, -0.2273, -0.2560];
    let pixel_largest = [1.7022, 1.8891, 1.5574, 1.5203, 1.7009, 1.5747, 1.7204, 1.5996, 1.6108, 1.1719];
    let emb = Eigen::embedding(&inter);
    let pix = Eigen::pixel(&inter);
    for c in 0..10 {
        // The published values are rounded to 4 decimals.
        let (hi, lo, px) = (*emb.values[c].last().unwrap(), emb.values[c][0], *pix.values[c].last().unwrap());
        assert!((hi - largest[c]).abs() <= 0.5e-4 + 1e-6, "class {c} largest {hi}");
        assert!((lo - smallest[c]).abs() <= 0.5e-4 + 1e-6, "class {c} smallest {lo}");
        assert!((px - pixel_largest[c]).abs() <= 0.5e-4 + 1e-6, "class {c} pixel largest {px}");
    }
}

#[test]
fn stroke_parity_base_model_known_answers() {
    let Some(dir) = shared() else { return };
    let model = bilens::model::load_model(&dir.join("reference/bilinear_mnist10k_s911_e10_sigma055.safetensors")).unwrap();
    let data = bilens::data::load_dir(&dir.join("data/mnist")).unwrap();
    assert!((model.accuracy(&data.test) - 0.9525).abs() <= 0.0002);
    assert!((Interaction::new(&model).norm() / 6.73506 - 1.0).abs() < 1e-4);
}
