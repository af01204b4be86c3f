//! Known answers of the PyTorch reference models in `../shared/reference` (SPEC §15.4 and the
//! reference README). Skipped, visibly, where that folder is absent (a user's machine).

mod common;

use bilens::{Context, ContextOptions, CpTensor, Eigen, Interaction};

#[test]
fn reference_model_known_answers() {
    let Some(dir) = common::shared() else { return };
    let model = bilens::load_model(&dir.join("reference/bilinear_mnist10k_e20.safetensors")).unwrap();
    let data = bilens::load_data(&dir.join("data/mnist")).unwrap();
    let acc = model.accuracy(&data.test).unwrap();
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
    let Some(dir) = common::shared() else { return };
    let model = bilens::load_model(&dir.join("reference/bilinear_mnist10k_s911_e10_sigma055.safetensors")).unwrap();
    let data = bilens::load_data(&dir.join("data/mnist")).unwrap();
    assert!((model.accuracy(&data.test).unwrap() - 0.9525).abs() <= 0.0002);
    assert!((Interaction::new(&model).norm() / 6.73506 - 1.0).abs() < 1e-4);
}

/// The PyTorch-fitted provided skeleton (rank 64, 200 Muon steps): its exact cosine and
/// accuracy, computed by bilens from its factors, are the reference's.
#[test]
fn pytorch_fitted_factors_score_the_reference_numbers() {
    let Some(dir) = common::shared() else { return };
    let model = bilens::load_model(&dir.join("reference/bilinear_mnist10k_e20.safetensors")).unwrap();
    let data = bilens::load_data(&dir.join("data/mnist")).unwrap();
    let file = safetensors_matrices(&dir.join("reference/sparse_r64_s200_on_e20.safetensors"));
    let t = CpTensor::new(file("down_param", 10, 64), file("left", 784, 64), file("right", 784, 64));
    let cosine = Interaction::new(&model).cosine(&t);
    assert!((cosine - 0.9599).abs() < 5e-4, "cosine {cosine}");
    let correct = (0..data.test.len()).filter(|&i| {
        let z = t.logits(faer::MatRef::from_row_major_slice(data.test.image(i), 1, 784));
        bilens::model::argmax(z.row(0).iter().copied()) == data.test.label(i).unwrap() as usize
    });
    let accuracy = correct.count() as f64 / data.test.len() as f64;
    assert!((accuracy - 0.9571).abs() <= 2e-4, "accuracy {accuracy}");
}

/// bilens's own fit of the same skeleton reaches the reference's cosine and accuracy.
#[test]
fn provided_sparse_rank_64_matches_pytorch() {
    let Some(dir) = common::shared() else { return };
    let model = bilens::load_model(&dir.join("reference/bilinear_mnist10k_e20.safetensors")).unwrap();
    let data = bilens::load_data(&dir.join("data/mnist")).unwrap();
    let ctx = Context::new(model, Some(&data), &ContextOptions::default()).unwrap();
    let recipe = bilens::preset("provided_sparse").unwrap().recipe.with_overrides(&["rank=64".into(), "steps=200".into()]).unwrap();
    let m = bilens::decompose(&ctx, &recipe, 0, &mut |_| {}).unwrap().metrics;
    assert!((m.tensor_cosine - 0.9599).abs() < 0.003, "cosine {}", m.tensor_cosine);
    assert!((m.test_accuracy.unwrap() - 0.9571).abs() < 0.005, "accuracy {:?}", m.test_accuracy);
}

/// A named f32 matrix from a safetensors file (the test reads the file itself, independently of
/// bilens's loader).
fn safetensors_matrices(path: &std::path::Path) -> impl Fn(&str, usize, usize) -> faer::Mat<f32> + use<> {
    let bytes = std::fs::read(path).unwrap();
    move |name, rows, cols| {
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let view = st.tensor(name).unwrap();
        assert_eq!(view.shape(), [rows, cols], "{name}");
        let v: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        faer::Mat::from_fn(rows, cols, |i, j| v[i * cols + j])
    }
}
