use std::path::PathBuf;

use crate::analysis::explain::{check_input, read};
use crate::image::ImageShape;
use crate::image::prepare::{prepare, read_png};
use crate::pipeline::analyses::{run_components, run_record};
use crate::pipeline::record::DataRecord;
use anyhow::{Context as _, Result, bail};

#[derive(clap::Args)]
pub struct Args {
    /// A run folder (`bilens decompose --out`, or a sweep's `runs/ID`).
    run: PathBuf,
    /// A test image, by its index in the test set.
    #[arg(long, required_unless_present_any = ["png", "npy"], conflicts_with_all = ["png", "npy"])]
    image: Option<usize>,
    /// A picture of one character, prepared as MNIST's digits were (as the report's draw panel does).
    #[arg(long, conflicts_with = "npy")]
    png: Option<PathBuf>,
    /// One input as a `.npy` array (the model's input size, or its image grid), used as it is.
    #[arg(long)]
    npy: Option<PathBuf>,
    /// The base model (default: the model the run recorded).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The data `--image` indexes (default: the data the run recorded, else the embedded digits).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The classes' names, one a line (default: names the data know).
    #[arg(long)]
    class_names: Option<PathBuf>,
    /// Components for the predicted class to show (the strongest against it: half as many).
    #[arg(long, default_value_t = 4)]
    top: usize,
    /// One JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// Why the model predicts what it does for one input, in the words of a run's dictionary.
pub fn run(args: Args) -> Result<()> {
    let record = run_record(&args.run)?;
    let model_path = match (&args.model, record["inputs"]["model"].as_str()) {
        (Some(path), _) => path.clone(),
        (None, Some(path)) => PathBuf::from(path),
        (None, None) => bail!("the run records no model file: pass --model"),
    };
    let model = crate::model::load_model(&model_path).context("reading the run's model (pass --model to choose another)")?;
    let inputs = model.config().n_inputs;
    // The run's record knows its image grid and class names; the data are read only for --image.
    let recorded = DataRecord::of_run(&record);
    let data = match args.image {
        Some(_) => {
            let source = recorded.as_ref().map(|d| d.source.as_str()).filter(|s| *s != crate::data::EMBEDDED_SOURCE).map(PathBuf::from);
            Some(crate::data::load(args.data.as_deref().or(source.as_deref()))?)
        }
        None => None,
    };
    let names = match &args.class_names {
        Some(file) => Some(crate::data::classes::read(file)?),
        None => data.as_ref().and_then(|d| d.class_names.clone()).or_else(|| recorded.as_ref()?.class_names.clone()),
    };
    let classes = model.config().n_outputs;
    if let Some(n) = names.as_ref().filter(|n| n.len() < classes) {
        bail!("{} class names for a model of {classes} outputs: every class needs a name", n.len());
    }
    let shape = (recorded.as_ref().and_then(|d| d.image_shape(inputs)))
        .or(data.as_ref().and_then(|d| d.test.shape).filter(|s| s.pixels() == inputs))
        .or_else(|| (inputs == 784).then_some(ImageShape::MNIST));
    let x: Vec<f32> = match (args.image, &args.png, &args.npy) {
        (Some(i), _, _) => {
            let data = data.as_ref().expect("read for --image above");
            if data.test.n_inputs != inputs {
                bail!("the data have {} inputs per example, the model {inputs}", data.test.n_inputs);
            }
            if i >= data.test.len() {
                bail!("--image {i} is out of range: the test set has {} images (0..{})", data.test.len(), data.test.len());
            }
            data.test.image(i).to_vec()
        }
        (_, Some(png), _) => {
            let shape = shape.context("--png needs a model whose inputs are images")?;
            let (gray, size) = read_png(png)?;
            prepare(&gray, size, shape)?
        }
        (_, _, Some(npy)) => {
            let array = crate::io::arrays::read_array(npy, "input")?;
            check_input(&npy.display().to_string(), array.values.len(), &array.shape, inputs, shape)?;
            array.values
        }
        _ => unreachable!("clap requires one of --image, --png, --npy"),
    };
    if let Some(bad) = x.iter().position(|v| !v.is_finite()) {
        bail!("input value {bad} is not finite ({})", x[bad]);
    }
    let (shown, residual) = run_components(&args.run)?;
    if shown.inputs != inputs {
        bail!("the run's components read {} inputs, the model {inputs}: pass the run's own --model", shown.inputs);
    }
    let reading = read(&shown, &residual, &model, &x, shape, names.as_deref(), args.top)?;
    match args.json {
        true => println!("{}", serde_json::to_string_pretty(&reading)?),
        false => println!("{reading}"),
    }
    Ok(())
}
