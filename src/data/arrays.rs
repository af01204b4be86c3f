//! Input vectors from an array file (`.npy`, or `.safetensors` with one tensor or one named
//! `inputs`): activations of a language model, embeddings, images of any source. An array
//! `[n, d]` is `n` vectors of `d` inputs; `[n, h, w]` (or `[n, 1, h, w]`) is `n` images of
//! `h × w` pixels, which image priors and figures can use. Arrays carry no labels: they feed
//! distillation and the agreement with the model, not accuracies or training.

use std::path::Path;

use anyhow::{Result, bail};

use super::{DataError, DataSplit, Dataset, ImageShape};
use crate::io::arrays::read_array;

/// Share of the vectors (the first ones) used as training inputs; the rest are the test set.
const TRAIN_SHARE: f64 = 0.8;

/// The vectors of an array file (in `.safetensors`, the tensor `inputs` or the only one), the
/// first 80% as the training set and the rest as the test set (in file order).
pub fn load_arrays(path: &Path) -> Result<DataSplit> {
    let invalid = |message: String| DataError::Array { file: path.to_path_buf(), message };
    let array = read_array(path, "inputs")?;
    let shape = &array.shape;
    let (n, n_inputs, image) = match shape[..] {
        [n, d] => (n, d, None),
        [n, h, w] | [n, 1, h, w] => (n, h * w, Some(ImageShape::new(h, w))),
        _ => bail!(invalid(format!("an input array must be [n, inputs] or [n, height, width], found {shape:?}"))),
    };
    if n == 0 || n_inputs == 0 {
        bail!(invalid(format!("it holds no input vectors (shape {shape:?})")));
    }
    let all = Dataset::vectors(array.values, n_inputs, image);
    let n_train = ((n as f64) * TRAIN_SHARE).round() as usize;
    let train = all.subset(&(0..n_train).collect::<Vec<_>>());
    let test = all.subset(&(n_train..n).collect::<Vec<_>>());
    Ok(DataSplit { train, test, source: path.display().to_string(), checksum: array.sha256, class_names: None })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use std::collections::BTreeMap;

    #[test]
    fn npy_and_safetensors_arrays_load_as_unlabelled_vectors() {
        let dir = Scratch::new("arrays");
        let values: Vec<f32> = (0..60).map(|i| i as f32 * 0.5).collect();
        let path = dir.join("x.npy");
        crate::io::arrays::tests::write_npy(&path, &values, &[10, 6]);
        let split = load_arrays(&path).unwrap();
        assert_eq!((split.train.len(), split.test.len(), split.train.n_inputs), (8, 2, 6));
        assert_eq!((split.train.labels.as_ref(), split.train.shape), (None, None));
        assert_eq!(split.test.image(1), &values[54..60]);
        // Images as [n, h, w] in safetensors keep their shape.
        let path = dir.join("x.safetensors");
        let named = crate::io::tensors::Named { name: "inputs", shape: vec![5, 3, 4], values: vec![0.25; 60] };
        crate::io::tensors::write(&path, &[named], &BTreeMap::new()).unwrap();
        let split = load_arrays(&path).unwrap();
        assert_eq!(split.train.shape, Some(ImageShape::new(3, 4)));
        // A shape that is neither vectors nor images is an error that says what is expected.
        let path = dir.join("y.safetensors");
        let named = crate::io::tensors::Named { name: "inputs", shape: vec![2, 2, 2, 2, 2], values: vec![0.5; 32] };
        crate::io::tensors::write(&path, &[named], &BTreeMap::new()).unwrap();
        assert!(load_arrays(&path).unwrap_err().to_string().contains("[n, inputs] or [n, height, width]"));
    }
}
