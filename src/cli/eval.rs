use anyhow::Result;
use serde_json::json;

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
    if model.config().n_inputs != data.test.n_pixels() {
        anyhow::bail!("the model takes {} inputs but the images have {} pixels", model.config().n_inputs, data.test.n_pixels());
    }
    let inter = Interaction::new(&model);
    let out = json!({
        "test_accuracy": model.accuracy(&data.test),
        "tensor_norm": inter.norm(),
        "model": args.inputs.model,
        "model_config": model.config(),
        "data": crate::run::DataRecord::of(&data),
    });
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
