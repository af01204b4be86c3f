//! bilens as a library: fit a preset to a model's interaction tensor and read its components.
//!
//!     cargo run --release --example decompose [MODEL.safetensors]
//!
//! Without a model file, a classifier is trained for three epochs on the embedded digits.

use bilens::{Components, Context, ContextOptions, Role, TrainConfig};

fn main() -> bilens::Result<()> {
    let data = bilens::embedded_digits();
    let model = match std::env::args().nth(1) {
        Some(path) => bilens::load_model(path.as_ref())?,
        None => bilens::train(&TrainConfig { epochs: 3, ..TrainConfig::default() }, &data.train, |_, _| {})?.0,
    };
    let ctx = Context::new(model, Some(&data), &ContextOptions::default())?;
    let recipe = bilens::preset("provided_sparse")?.recipe;
    let outcome = bilens::decompose(&ctx, &recipe, 0, &mut |s| {
        if s.step % 20 == 0 {
            eprintln!("step {:3}/{}: loss {:.4}, tensor cosine {:.4}", s.step, s.steps, s.loss, s.tensor_cosine);
        }
    })?;
    let m = &outcome.metrics;
    println!(
        "tensor cosine {:.4}, test accuracy {:.4} (base model {:.4})",
        m.tensor_cosine,
        m.test_accuracy.unwrap_or(f64::NAN),
        m.base_test_accuracy.unwrap_or(f64::NAN)
    );
    let shown = Components::of(&outcome.fitted.decomposition, |r| r == Role::Displayed);
    for (rank, c) in shown.iter().enumerate().take(5) {
        let (class, sign) = c.head_class();
        println!("#{}: strength {:.3}, votes {} digit {class}", rank + 1, c.strength, if sign > 0.0 { "for" } else { "against" });
    }
    Ok(())
}
