use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use crate::interaction::Interaction;
use crate::model::load_model;

#[derive(clap::Args)]
pub struct Args {
    /// A bilinear model in safetensors (bilens or PyTorch state_dict names).
    #[arg(long)]
    model: PathBuf,
    /// Folder of MNIST-format IDX files (default: the embedded digits).
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn run(args: Args) -> Result<()> {
    let model = load_model(&args.model)?;
    let data = super::load_data(&args.data)?;
    if model.config().n_inputs != data.test.n_pixels() {
        anyhow::bail!("the model takes {} inputs but the images have {} pixels", model.config().n_inputs, data.test.n_pixels());
    }
    let inter = Interaction::new(&model);
    let out = json!({
        "test_accuracy": model.accuracy(&data.test),
        "tensor_norm": inter.norm(),
        "model": args.model,
        "model_config": model.config(),
        "data": crate::run::DataRecord::of(&data),
    });
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
