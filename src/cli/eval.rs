use anyhow::Result;
use serde_json::json;

use crate::error::Error;
use crate::interaction::Interaction;
use crate::model::load_model;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    inputs: super::ModelAndData,
}

pub fn run(args: Args) -> Result<()> {
    let model = load_model(&args.inputs.model)?;
    let data = super::load_data(&args.inputs.data)?;
    let cfg = model.config();
    if cfg.n_inputs != data.test.n_pixels() {
        return Err(
            Error::Invalid(format!("the model takes {} inputs but the images have {} pixels", cfg.n_inputs, data.test.n_pixels())).into()
        );
    }
    if cfg.n_outputs != data.test.n_classes {
        return Err(Error::Invalid(format!("the model has {} outputs but the data {} classes", cfg.n_outputs, data.test.n_classes)).into());
    }
    if data.test.is_empty() {
        return Err(Error::Invalid("the test set is empty: there is nothing to evaluate".into()).into());
    }
    let inter = Interaction::new(&model);
    let out = json!({
        "test_accuracy": model.accuracy(&data.test),
        "tensor_norm": inter.norm(),
        "model": args.inputs.model,
        "model_sha256": crate::io::file_sha256(&args.inputs.model)?,
        "model_config": cfg,
        "data": crate::pipeline::record::DataRecord::of(&data),
    });
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
