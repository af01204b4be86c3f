use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::Bilinear;
use crate::io::tensors::{Named, TensorFile};

/// Saves `model` with PyTorch's `state_dict` names and shapes (`w_e` [E,I], `w_lr_param`
/// [2,H,E], `w_u` [C,H], `bias` [C]), so `model.load_state_dict(load_file(path))` works.
pub fn save_model(model: &Bilinear, path: &Path, metadata: &BTreeMap<String, String>) -> Result<()> {
    let c = model.config();
    let mut lr = crate::linalg::to_row_major(model.w_l.as_ref());
    lr.extend(crate::linalg::to_row_major(model.w_r.as_ref()));
    crate::io::tensors::write(
        path,
        &[
            Named::matrix("w_e", model.w_e.as_ref()),
            Named { name: "w_lr_param", shape: vec![2, c.n_hidden, c.n_embed], values: lr },
            Named::matrix("w_u", model.w_u.as_ref()),
            Named::vector("bias", &model.bias),
        ],
        metadata,
    )
}

/// Loads a bilinear model saved by bilens or by PyTorch; sizes come from the file.
pub fn load_model(path: &Path) -> Result<Bilinear> {
    from_tensors(&TensorFile::read(path)?, &path.display().to_string())
}

/// A bilinear model from the bytes of a safetensors file; `name` names it in errors.
pub fn parse_model(bytes: &[u8], name: &str) -> Result<Bilinear> {
    from_tensors(&TensorFile::parse(bytes, name)?, name)
}

fn from_tensors(file: &TensorFile, name: &str) -> Result<Bilinear> {
    let ctx = || format!("loading a bilinear model from {name}");
    let w_e = file.get("w_e").with_context(ctx)?;
    let lr = file.get("w_lr_param").with_context(ctx)?;
    let w_u = file.get("w_u").with_context(ctx)?;
    let [n_embed, n_inputs] = w_e.shape[..] else { bail!("{}: w_e must be 2-D, found {:?}", ctx(), w_e.shape) };
    let [2, n_hidden, e2] = lr.shape[..] else { bail!("{}: w_lr_param must be [2, hidden, embed], found {:?}", ctx(), lr.shape) };
    let [n_outputs, h2] = w_u.shape[..] else { bail!("{}: w_u must be 2-D, found {:?}", ctx(), w_u.shape) };
    if e2 != n_embed || h2 != n_hidden {
        bail!("{}: inconsistent shapes w_e {:?}, w_lr_param {:?}, w_u {:?}", ctx(), w_e.shape, lr.shape, w_u.shape);
    }
    if [n_embed, n_inputs, n_hidden, n_outputs].contains(&0) {
        bail!("{}: every size must be positive, found w_e {:?}, w_lr_param {:?}, w_u {:?}", ctx(), w_e.shape, lr.shape, w_u.shape);
    }
    // Older checkpoints may lack the bias; the model is then purely quadratic.
    let bias = match file.tensors.get("bias") {
        Some(b) if b.shape == [n_outputs] => b.values.clone(),
        Some(b) => bail!("{}: bias must be [{n_outputs}], found {:?}", ctx(), b.shape),
        None => vec![0.0; n_outputs],
    };
    let half = n_hidden * n_embed;
    Ok(Bilinear {
        w_e: w_e.matrix(n_embed, n_inputs)?,
        w_l: crate::linalg::from_row_major(&lr.values[..half], n_hidden, n_embed),
        w_r: crate::linalg::from_row_major(&lr.values[half..], n_hidden, n_embed),
        w_u: w_u.matrix(n_outputs, n_hidden)?,
        bias,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;

    #[test]
    fn round_trip_and_pytorch_layout() {
        let dir = std::env::temp_dir().join(format!("bilens-model-io-{}", std::process::id()));
        let path = dir.join("m.safetensors");
        let cfg = ModelConfig { n_inputs: 12, n_embed: 4, n_hidden: 6, n_outputs: 3 };
        let mut m = Bilinear::init(cfg, &mut crate::linalg::rng(1));
        m.bias = vec![0.5, -1.0, 2.0];
        save_model(&m, &path, &BTreeMap::new()).unwrap();
        let back = load_model(&path).unwrap();
        assert_eq!(
            (back.w_e, back.w_l, back.w_r, back.w_u, back.bias),
            (m.w_e.clone(), m.w_l.clone(), m.w_r.clone(), m.w_u.clone(), m.bias.clone())
        );
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
                Named::matrix("w_e", m.w_e.as_ref()),
                Named { name: "w_lr_param", shape: vec![2, 6, 5], values: vec![0.0; 60] },
                Named::matrix("w_u", m.w_u.as_ref()),
            ],
            &BTreeMap::new(),
        )
        .unwrap();
        let err = format!("{:#}", load_model(&path).unwrap_err());
        assert!(err.contains("m.safetensors") && err.contains("inconsistent"), "{err}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
