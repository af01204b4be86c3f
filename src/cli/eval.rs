use anyhow::Result;
use serde_json::json;

use crate::interaction::Interaction;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: super::ModelAndData,
}

/// Prints what the weights say (tensor norm, space and storage of the interaction, output
/// norms) and, with labelled data of as many classes as outputs, the test accuracy.
pub fn run(args: Args) -> Result<()> {
    let super::Loaded { model, data, record, .. } = args.inputs.load()?;
    let cfg = model.config();
    if data.as_ref().is_some_and(|d| d.test.is_empty()) {
        return Err(crate::error::Error::Invalid("the test set is empty: there is nothing to evaluate".into()).into());
    }
    if let Some(d) = data.as_ref().filter(|d| d.test.labels.is_some() && d.test.n_classes != cfg.n_outputs) {
        eprintln!("note: no accuracy: the model has {} outputs, the data {} classes", cfg.n_outputs, d.test.n_classes);
    }
    let test = data.as_ref().map(|d| &d.test).filter(|t| t.n_classes == cfg.n_outputs);
    let inter = Interaction::new(&model);
    let mut out = json!({
        "test_accuracy": test.and_then(|t| model.accuracy(t)),
        "tensor_norm": inter.norm(),
        "space": inter.space(),
        "storage": inter.storage(),
        "output_norms": inter.output_norms_sq().iter().map(|n| n.sqrt()).collect::<Vec<f64>>(),
        "model_config": cfg,
        "data": data.as_ref().map(crate::pipeline::record::DataRecord::of),
    });
    out["inputs"] = record;
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
