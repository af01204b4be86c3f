//! Bilinear layers in and out of safetensors files, in the layouts the field uses, recognised
//! by their tensor names:
//!
//! | layout | tensors (PyTorch `state_dict` names and shapes) |
//! |---|---|
//! | `study` (bilens's own, and the reference study's) | `w_e` `[E, I]` (absent for a layer without embedding), `w_lr_param` `[2, H, E]` (left, right), `w_u` `[O, H]`, `bias` `[O]` (optional) |
//! | `exercise` (the bilinear-MLP paper's image model) | `embed.weight` `[E, I]`, `blocks.0.weight` `[2H, E]` (left rows, then right rows), `head.weight` `[O, H]`; no bias |
//! | `mlp` (the paper's bilinear MLP, as in its language models) | `w.weight` `[2H, D]` (left rows, then right rows), `p.weight` `[O, H]`; no embedding, no bias |
//!
//! An exercise model's `config.json`, where it lies beside the weights, must describe a single
//! bilinear layer without residual connection or biases (anything else is not a quadratic form).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use faer::Mat;
use serde::{Deserialize, Serialize};

use super::Bilinear;
use crate::error::Error;
use crate::io::tensors::{Named, Tensor, TensorFile};
use crate::linalg;

/// How a model's tensors are named and shaped in a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    Study,
    Exercise,
    Mlp,
}

impl std::str::FromStr for Layout {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "study" => Ok(Layout::Study),
            "exercise" => Ok(Layout::Exercise),
            "mlp" => Ok(Layout::Mlp),
            _ => Err(Error::Invalid(format!("unknown layout '{s}' (expected study, exercise or mlp)"))),
        }
    }
}

impl Layout {
    /// The layout whose identifying tensor `file` holds.
    fn detect(file: &TensorFile, name: &str) -> Result<Self> {
        let has = |t: &str| file.tensors.contains_key(t);
        if has("w_lr_param") {
            return Ok(Layout::Study);
        }
        if has("blocks.0.weight") {
            return Ok(Layout::Exercise);
        }
        if has("w.weight") && has("p.weight") {
            return Ok(Layout::Mlp);
        }
        let mut found: Vec<String> = file.tensors.iter().map(|(k, t)| format!("{k} {:?}", t.shape)).collect();
        found.sort();
        bail!(Error::Invalid(format!(
            "{name} holds no bilinear layer bilens knows: it has {}; bilens reads `w_lr_param` (with `w_u`, optional `w_e`, `bias`), \
             `blocks.0.weight` (with `embed.weight`, `head.weight`) or `w.weight` with `p.weight`",
            if found.is_empty() { "no tensors".to_string() } else { found.join(", ") }
        )))
    }
}

/// Loads a bilinear layer in any [`Layout`]; sizes come from the file.
pub fn load_model(path: &Path) -> Result<Bilinear> {
    let name = path.display().to_string();
    let file = TensorFile::read(path)?;
    if Layout::detect(&file, &name)? == Layout::Exercise {
        check_exercise_config(&path.with_file_name("config.json"))?;
    }
    from_tensors(&file, &name)
}

/// A bilinear layer from the bytes of a safetensors file; `name` names it in errors.
pub fn parse_model(bytes: &[u8], name: &str) -> Result<Bilinear> {
    from_tensors(&TensorFile::parse(bytes, name)?, name)
}

/// The layout of the model file at `path`.
pub fn layout_of(path: &Path) -> Result<Layout> {
    Layout::detect(&TensorFile::read(path)?, &path.display().to_string())
}

fn from_tensors(file: &TensorFile, name: &str) -> Result<Bilinear> {
    let layout = Layout::detect(file, name)?;
    let ctx = || format!("loading a bilinear layer ({layout:?} layout) from {name}");
    let get = |t: &str| file.get(t).with_context(ctx);
    let matrix = |t: &Tensor, what: &str| -> Result<Mat<f32>> {
        let [rows, cols] = t.shape[..] else { bail!("{}: {what} must be 2-D, found {:?}", ctx(), t.shape) };
        t.matrix(rows, cols)
    };
    // The left and right projections stacked along the rows.
    let halves = |t: &Tensor, what: &str| -> Result<(Mat<f32>, Mat<f32>)> {
        let (rows, cols) = match t.shape[..] {
            [2, h, d] => (2 * h, d),
            [r, d] if r % 2 == 0 => (r, d),
            _ => bail!("{}: {what} must be [2, hidden, width] or [2·hidden, width], found {:?}", ctx(), t.shape),
        };
        let h = rows / 2;
        Ok((linalg::from_row_major(&t.values[..h * cols], h, cols), linalg::from_row_major(&t.values[h * cols..], h, cols)))
    };
    let (w_e, (w_l, w_r), w_u, bias) = match layout {
        Layout::Study => {
            let w_e = file.tensors.get("w_e").map(|t| matrix(t, "w_e")).transpose()?;
            let w_u = matrix(get("w_u")?, "w_u")?;
            let bias = file.tensors.get("bias").map(|b| b.values.clone());
            (w_e, halves(get("w_lr_param")?, "w_lr_param")?, w_u, bias)
        }
        Layout::Exercise => {
            for extra in ["blocks.0.bias", "blocks.1.weight", "head.bias", "embed.bias"] {
                if file.tensors.contains_key(extra) {
                    bail!(Error::Invalid(format!(
                        "{name} has `{extra}`: bilens reads single bilinear layers without biases, whose logits are exactly quadratic"
                    )));
                }
            }
            (
                Some(matrix(get("embed.weight")?, "embed.weight")?),
                halves(get("blocks.0.weight")?, "blocks.0.weight")?,
                matrix(get("head.weight")?, "head.weight")?,
                None,
            )
        }
        Layout::Mlp => (None, halves(get("w.weight")?, "w.weight")?, matrix(get("p.weight")?, "p.weight")?, None),
    };
    Bilinear::new(w_e, w_l, w_r, w_u, bias).with_context(ctx)
}

/// Rejects an exercise `config.json` (where present) that describes more than a single
/// bilinear layer without residual connection or biases.
fn check_exercise_config(path: &Path) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else { return Ok(()) };
    let cfg: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let n_layer = cfg["n_layer"].as_u64().unwrap_or(1);
    let residual = cfg["residual"].as_bool().unwrap_or(false);
    let bias = cfg["bias"].as_bool().unwrap_or(false);
    if n_layer != 1 || residual || bias {
        bail!(Error::Invalid(format!(
            "{} describes n_layer = {n_layer}, residual = {residual}, bias = {bias}: bilens reads a single bilinear layer without \
             residual connection or biases (its logits are then exactly quadratic)",
            path.display()
        )));
    }
    Ok(())
}

/// Saves `model` in bilens's (the study's) layout, PyTorch `state_dict` names and shapes
/// (`w_e` [E,I] when it has an embedding, `w_lr_param` [2,H,E], `w_u` [O,H], `bias` [O]).
pub fn save_model(model: &Bilinear, path: &Path, metadata: &BTreeMap<String, String>) -> Result<()> {
    save_as(model, Layout::Study, path, metadata)
}

/// Saves `model` in `layout`; layouts without a bias or an embedding refuse models that have one.
pub fn save_as(model: &Bilinear, layout: Layout, path: &Path, metadata: &BTreeMap<String, String>) -> Result<()> {
    crate::io::write_atomic(path, &encode(model, layout, metadata)?)
}

/// The bytes of the file [`save_as`] writes.
pub fn encode(model: &Bilinear, layout: Layout, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let c = model.config();
    let mut lr = linalg::to_row_major(model.w_l.as_ref());
    lr.extend(linalg::to_row_major(model.w_r.as_ref()));
    let has_bias = model.bias.iter().any(|&b| b != 0.0);
    let tensors = match layout {
        Layout::Study => {
            let mut t = Vec::new();
            if let Some(e) = &model.w_e {
                t.push(Named::matrix("w_e", e.as_ref()));
            }
            t.push(Named { name: "w_lr_param", shape: vec![2, c.n_hidden, c.n_read()], values: lr });
            t.push(Named::matrix("w_u", model.w_u.as_ref()));
            t.push(Named::vector("bias", &model.bias));
            t
        }
        Layout::Exercise => {
            let Some(e) = &model.w_e else { bail!(Error::Invalid("the exercise layout needs an embedding; this layer has none".into())) };
            if has_bias {
                bail!(Error::Invalid("the exercise layout has no output bias; this model's is not zero".into()));
            }
            vec![
                Named::matrix("embed.weight", e.as_ref()),
                Named { name: "blocks.0.weight", shape: vec![2 * c.n_hidden, c.n_read()], values: lr },
                Named::matrix("head.weight", model.w_u.as_ref()),
            ]
        }
        Layout::Mlp => {
            if model.w_e.is_some() || has_bias {
                bail!(Error::Invalid("the mlp layout has no embedding and no bias; this model has one".into()));
            }
            vec![
                Named { name: "w.weight", shape: vec![2 * c.n_hidden, c.n_read()], values: lr },
                Named::matrix("p.weight", model.w_u.as_ref()),
            ]
        }
    };
    crate::io::tensors::serialize(&tensors, metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use crate::scratch::Scratch;

    #[test]
    fn round_trip_and_pytorch_layout() {
        let dir = Scratch::new("model-io-study");
        let path = dir.join("m.safetensors");
        let cfg = ModelConfig { n_inputs: 12, n_embed: Some(4), n_hidden: 6, n_outputs: 3 };
        let mut m = Bilinear::init(cfg, &mut crate::linalg::rng(1));
        m.bias = vec![0.5, -1.0, 2.0];
        save_model(&m, &path, &BTreeMap::new()).unwrap();
        assert_eq!(load_model(&path).unwrap(), m);
        // The file holds exactly PyTorch's state_dict names and shapes, row-major.
        let f = TensorFile::read(&path).unwrap();
        let shapes: Vec<(&str, Vec<usize>)> =
            ["w_e", "w_lr_param", "w_u", "bias"].iter().map(|n| (*n, f.get(n).unwrap().shape.clone())).collect();
        assert_eq!(shapes, vec![("w_e", vec![4, 12]), ("w_lr_param", vec![2, 6, 4]), ("w_u", vec![3, 6]), ("bias", vec![3])]);
        assert_eq!(f.get("w_lr_param").unwrap().values[6 * 4], m.w_r[(0, 0)], "index 1 of w_lr_param is the right projection");
        // Inconsistent shapes are an error naming the file, not a panic.
        crate::io::tensors::write(
            &path,
            &[
                Named::matrix("w_e", m.w_e.as_ref().unwrap().as_ref()),
                Named { name: "w_lr_param", shape: vec![2, 6, 5], values: vec![0.0; 60] },
                Named::matrix("w_u", m.w_u.as_ref()),
            ],
            &BTreeMap::new(),
        )
        .unwrap();
        let err = format!("{:#}", load_model(&path).unwrap_err());
        assert!(err.contains("m.safetensors") && err.contains("inconsistent"), "{err}");
    }

    #[test]
    fn every_layout_round_trips_and_gives_the_same_logits() {
        let dir = Scratch::new("model-io-layouts");
        let with_embedding =
            Bilinear::init(ModelConfig { n_inputs: 10, n_embed: Some(4), n_hidden: 5, n_outputs: 3 }, &mut crate::linalg::rng(2));
        let layer = Bilinear::init(ModelConfig { n_inputs: 7, n_embed: None, n_hidden: 5, n_outputs: 7 }, &mut crate::linalg::rng(3));
        for (model, layouts) in [(&with_embedding, vec![Layout::Study, Layout::Exercise]), (&layer, vec![Layout::Study, Layout::Mlp])] {
            for layout in layouts {
                let path = dir.join(format!("{layout:?}.safetensors"));
                save_as(model, layout, &path, &BTreeMap::new()).unwrap();
                assert_eq!(layout_of(&path).unwrap(), layout);
                assert_eq!(&load_model(&path).unwrap(), model, "{layout:?}");
            }
        }
        // The exercise layout stacks left over right in one matrix.
        let path = dir.join("Exercise.safetensors");
        let f = TensorFile::read(&path).unwrap();
        assert_eq!(f.get("blocks.0.weight").unwrap().shape, vec![10, 4]);
        assert_eq!(f.get("blocks.0.weight").unwrap().values[5 * 4], with_embedding.w_r[(0, 0)]);
        // What cannot be a quadratic form is refused, with the reason.
        std::fs::write(dir.join("config.json"), r#"{"n_layer": 1, "residual": true, "bias": false}"#).unwrap();
        assert!(load_model(&path).unwrap_err().to_string().contains("residual = true"));
        assert!(save_as(&layer, Layout::Exercise, &path, &BTreeMap::new()).unwrap_err().to_string().contains("needs an embedding"));
        let unknown = dir.join("unknown.safetensors");
        crate::io::tensors::write(&unknown, &[Named::vector("fc.weight", &[1.0, 2.0])], &BTreeMap::new()).unwrap();
        let err = load_model(&unknown).unwrap_err().to_string();
        assert!(err.contains("fc.weight [2]") && err.contains("blocks.0.weight"), "{err}");
    }
}
