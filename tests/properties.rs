//! Properties on random shapes (seeded, so failures reproduce): the factored metrics agree with
//! the dense tensor, and image operations and metrics agree with naive definitions, on images
//! that are not square and models that are not MNIST-sized.

mod common;

use bilens::decomp::factors::{load_factors, save_factors};
use bilens::decomp::{Bank, Components, Decomposition, Form, Head, HeadRule, Role, pattern::Pattern};
use bilens::image::ImageShape;
use bilens::image::ops::{self, Images};
use bilens::interaction::{Space, Storage};
use bilens::metrics::patterns::locality;
use bilens::{Bilinear, CpTensor, Eigen, Interaction, ModelConfig};
use faer::Mat;
use rand::Rng;

const CASES: u64 = 24;

fn dense_dot(a: &[Mat<f64>], b: &[Mat<f64>]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (0..x.nrows()).flat_map(|i| (0..x.ncols()).map(move |j| x[(i, j)] * y[(i, j)])).sum::<f64>()).sum()
}

fn close(got: f64, want: f64, scale: f64, what: &str) {
    assert!((got - want).abs() <= 1e-4 * scale.max(1e-6), "{what}: factored {got} vs dense {want}");
}

/// A random model and image grid: `h × w` inputs (rarely square), and random layer sizes
/// (sometimes no embedding, sometimes one wider than the inputs).
fn random_model(seed: u64) -> (Bilinear, ImageShape) {
    let mut rng = bilens::rng(seed);
    let shape = ImageShape::new(rng.random_range(2..9), rng.random_range(2..9));
    let cfg = ModelConfig {
        n_inputs: shape.pixels(),
        n_embed: if rng.random_bool(0.3) { None } else { Some(rng.random_range(1..12)) },
        n_hidden: rng.random_range(1..10),
        n_outputs: rng.random_range(1..5),
    };
    let mut m = Bilinear::init(cfg, &mut rng);
    m.bias = (0..cfg.n_outputs).map(|c| c as f32 * 0.1).collect();
    (m, shape)
}

#[test]
fn factored_inner_products_norms_and_cosines_match_the_dense_tensor() {
    for seed in 0..CASES {
        let (model, _) = random_model(seed);
        let b = Interaction::new(&model).dense();
        let norm = dense_dot(&b, &b);
        let rank = 1 + seed as usize % 7;
        let t = CpTensor::random(model.config().n_outputs, model.config().n_inputs, rank, &mut bilens::rng(1000 + seed));
        let td = t.dense();
        let inner = dense_dot(&td, &b);
        let scale = (dense_dot(&td, &td) * norm).sqrt();
        close(t.norm_sq(None), dense_dot(&td, &td), dense_dot(&td, &td), &format!("case {seed}: ‖T‖²"));
        let spaces: &[Space] = if model.w_e.is_some() { &[Space::Embedding, Space::Input] } else { &[Space::Input] };
        for &space in spaces {
            for storage in [Storage::Stacked, Storage::Factored] {
                let inter = Interaction::with(&model, space, storage);
                let kind = format!("case {seed} ({space:?}, {storage:?})");
                close(inter.norm_sq(), norm, norm, &format!("{kind}: ‖B‖²"));
                close(inter.inner(&t, None), inner, scale, &format!("{kind}: ⟨T, B⟩"));
                close(inter.cosine(&t), inner / scale, 1.0, &format!("{kind}: cosine"));
            }
        }
        // The logits are the quadratic form.
        let x = Mat::from_fn(3, model.config().n_inputs, |i, j| ((i * 7 + j * 3) % 5) as f32 * 0.3 - 0.5);
        let z = model.logits(x.as_ref());
        for n in 0..3 {
            for (c, bc) in b.iter().enumerate() {
                let quad: f64 = (0..bc.nrows())
                    .flat_map(|i| (0..bc.ncols()).map(move |j| (i, j)))
                    .map(|(i, j)| x[(n, i)] as f64 * bc[(i, j)] * x[(n, j)] as f64)
                    .sum();
                close(z[(n, c)] as f64 - model.bias[c] as f64, quad, 1.0 + quad.abs(), &format!("case {seed}: logit"));
            }
        }
    }
}

#[test]
fn eigendecompositions_rebuild_every_class_on_any_shape() {
    for seed in 0..CASES {
        let (model, _) = random_model(100 + seed);
        let inter = Interaction::new(&model);
        for eig in [Eigen::embedding(&inter), Eigen::pixel(&inter)] {
            let t = eig.truncated(usize::MAX);
            assert!((inter.cosine(&t) - 1.0).abs() < 1e-4, "case {seed} {:?}: cosine {}", eig.basis, inter.cosine(&t));
        }
    }
}

/// A decomposition of every form and a residual bank, on `inputs` and `outputs`.
fn mixed(seed: u64, inputs: usize, outputs: usize) -> Decomposition {
    let mut rng = bilens::rng(seed);
    let banks =
        [(Form::Cp, Role::Displayed), (Form::Symmetric, Role::Displayed), (Form::Split, Role::Displayed), (Form::Cp, Role::Residual)]
            .into_iter()
            .map(|(form, role)| {
                let r = rng.random_range(1..4);
                let mut m = |rows| Mat::from_fn(rows, r, |_, _| rng.random::<f32>() * 2.0 - 1.0);
                let a = Pattern::fixed(m(inputs));
                let b = form.has_second_factor().then(|| Pattern::fixed(m(inputs)));
                Bank { form, role, a, b, head: Head { raw: m(outputs), rule: HeadRule::Dense }, anchors: None }
            })
            .collect();
    Decomposition { banks }
}

#[test]
fn components_and_saved_factors_are_the_decomposition() {
    let dir = common::temp_dir("properties");
    for seed in 0..CASES {
        let (model, _) = random_model(200 + seed);
        let cfg = model.config();
        let inter = Interaction::new(&model);
        let d = mixed(seed, cfg.n_inputs, cfg.n_outputs);
        let all = Components::of(&d, |_| true);
        let dense = d.tensor().dense();
        let b = inter.dense();
        let want = dense_dot(&dense, &b) / (dense_dot(&dense, &dense) * dense_dot(&b, &b)).sqrt();
        close(inter.cosine(&all.tensor_all()), want, 1.0, &format!("case {seed}: components' cosine"));
        let path = dir.join(format!("f{seed}.safetensors"));
        save_factors(&d, &path, Default::default()).unwrap();
        let back = load_factors(&path).unwrap();
        assert_eq!(back.tensor(), d.tensor(), "case {seed}: factors round trip");
    }
}

/// The naive anisotropic total variation: mean |vertical step| + mean |horizontal step|.
fn naive_tv(x: &[f64], s: ImageShape, n: usize) -> f64 {
    let (h, w) = (s.height, s.width);
    let (mut v, mut hz) = (0.0, 0.0);
    for k in 0..n {
        let img = &x[k * h * w..(k + 1) * h * w];
        for r in 0..h {
            for c in 0..w {
                if r + 1 < h {
                    v += (img[(r + 1) * w + c] - img[r * w + c]).abs();
                }
                if c + 1 < w {
                    hz += (img[r * w + c + 1] - img[r * w + c]).abs();
                }
            }
        }
    }
    v / (n * (h - 1) * w) as f64 + hz / (n * h * (w - 1)) as f64
}

/// The naive 7×7 locality: every window position, summed from scratch.
fn naive_locality(x: &[f32], s: ImageShape) -> f64 {
    let e = |r: usize, c: usize| (x[r * s.width + c] as f64).powi(2);
    let total: f64 = (0..s.height).flat_map(|r| (0..s.width).map(move |c| (r, c))).map(|(r, c)| e(r, c)).sum();
    let mut best = 0.0f64;
    for r0 in 0..=s.height - 7 {
        for c0 in 0..=s.width - 7 {
            best = best.max((r0..r0 + 7).flat_map(|r| (c0..c0 + 7).map(move |c| (r, c))).map(|(r, c)| e(r, c)).sum());
        }
    }
    best / total.max(1e-8)
}

#[test]
fn image_operations_and_metrics_match_naive_definitions_on_non_square_images() {
    let mut rng = bilens::rng(7);
    for case in 0..CASES {
        let s = ImageShape::new(rng.random_range(7..20), rng.random_range(7..20));
        let n = rng.random_range(1..4);
        let x: Vec<f64> = (0..n * s.pixels()).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect();
        let block = Images::of(s, n);
        let tv = ops::total_variation(&x, block, None);
        assert!((tv - naive_tv(&x, s, n)).abs() < 1e-12, "case {case} {s}: TV");
        // Smoothing's adjoint is its transpose.
        let y: Vec<f64> = (0..x.len()).map(|_| rng.random::<f64>()).collect();
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
        let (lhs, rhs) = (dot(&ops::smooth(&x, block, 2), &y), dot(&x, &ops::smooth_adjoint(&y, block, 2)));
        assert!((lhs - rhs).abs() < 1e-10, "case {case} {s}: smooth adjoint");
        let p: Vec<f32> = x[..s.pixels()].iter().map(|&v| v as f32).collect();
        assert!((locality(&p, s) - naive_locality(&p, s)).abs() < 1e-9, "case {case} {s}: locality");
    }
}
