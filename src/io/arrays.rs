//! Arrays from `.npy` or `.safetensors` files, the two formats numpy and PyTorch users save
//! arrays in: input vectors (activations, embeddings, images) and output directions.

use std::path::Path;

use anyhow::{Context, Result, bail};

use super::sha256_hex;

/// The largest array file read (4 GiB).
const MAX_BYTES: u64 = 1 << 32;

/// A dense C-ordered array, its values as f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    pub values: Vec<f32>,
    pub shape: Vec<usize>,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
}

/// Reads the array of a `.npy` file, or of a `.safetensors` file the tensor called `name` (or
/// its only tensor). Bytes (uint8) are scaled by 1/255, like pixels; every value must be finite.
pub fn read_array(path: &Path, name: &str) -> Result<Array> {
    let file = path.display().to_string();
    let len = std::fs::metadata(path).with_context(|| format!("reading {file}"))?.len();
    if len > MAX_BYTES {
        bail!("{file} holds {len} bytes, more than the {MAX_BYTES} bilens reads from an array file");
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {file}"))?;
    let (values, shape) = match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => read_npy(&bytes).with_context(|| format!("{file} is not a readable .npy array"))?,
        Some("safetensors") => read_safetensors(&bytes, &file, name)?,
        _ => bail!("{file}: arrays must be .npy or .safetensors files"),
    };
    if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
        bail!("{file}: entry {bad} is not finite ({})", values[bad]);
    }
    Ok(Array { values, shape, sha256: sha256_hex(&bytes) })
}

/// The values (as f32) and shape of a C-ordered `.npy` array.
fn read_npy(bytes: &[u8]) -> Result<(Vec<f32>, Vec<usize>)> {
    let npy = npyz::NpyFile::new(bytes)?;
    if npy.order() != npyz::Order::C {
        bail!("the array is in Fortran order; save it in C order (numpy's default)");
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let values = match npy.try_data::<f32>() {
        Ok(data) => data.collect::<std::io::Result<Vec<f32>>>()?,
        Err(npy) => match npy.try_data::<f64>() {
            Ok(data) => data.map(|v| v.map(|v| v as f32)).collect::<std::io::Result<Vec<f32>>>()?,
            Err(npy) => match npy.try_data::<u8>() {
                Ok(data) => data.map(|v| v.map(|v| v as f32 / 255.0)).collect::<std::io::Result<Vec<f32>>>()?,
                Err(npy) => bail!("its dtype {} is not float32, float64 or uint8", npy.dtype().descr()),
            },
        },
    };
    Ok((values, shape))
}

/// The tensor called `name`, or the only tensor, of a safetensors file.
fn read_safetensors(bytes: &[u8], file: &str, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
    let parsed = super::tensors::TensorFile::parse(bytes, file)?;
    let tensor = match (parsed.tensors.get(name), parsed.tensors.len()) {
        (Some(t), _) => t,
        (None, 1) => parsed.tensors.values().next().expect("one tensor"),
        _ => bail!("{file} holds {} tensors; name the array `{name}`", parsed.tensors.len()),
    };
    Ok((tensor.values.clone(), tensor.shape.clone()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use std::collections::BTreeMap;

    /// Writes `values` as a float32 `.npy` array of `shape` at `path`, as numpy does.
    pub(crate) fn write_npy(path: &Path, values: &[f32], shape: &[u64]) {
        use npyz::WriterBuilder;
        let mut npy = Vec::new();
        let mut w = npyz::WriteOptions::<f32>::new().default_dtype().shape(shape).writer(&mut npy).begin_nd().unwrap();
        w.extend(values.iter().copied()).unwrap();
        w.finish().unwrap();
        std::fs::write(path, &npy).unwrap();
    }

    #[test]
    fn npy_and_safetensors_arrays_read_with_their_shapes() {
        let dir = Scratch::new("io-arrays");
        let values: Vec<f32> = (0..60).map(|i| i as f32 * 0.5).collect();
        let path = dir.join("x.npy");
        write_npy(&path, &values, &[10, 6]);
        let array = read_array(&path, "inputs").unwrap();
        assert_eq!((array.values, array.shape), (values, vec![10, 6]));
        // In safetensors the named tensor is chosen among several.
        let path = dir.join("x.safetensors");
        let tensor = |name, value| super::super::tensors::Named { name, shape: vec![5, 3, 4], values: vec![value; 60] };
        super::super::tensors::write(&path, &[tensor("inputs", 0.25), tensor("other", 1.0)], &BTreeMap::new()).unwrap();
        assert_eq!(read_array(&path, "inputs").unwrap().values[0], 0.25);
        assert!(read_array(&path, "directions").unwrap_err().to_string().contains("name the array `directions`"));
        // Other extensions and non-finite values are errors that say what is wrong.
        let bad = dir.join("x.csv");
        std::fs::write(&bad, "1,2").unwrap();
        assert!(read_array(&bad, "inputs").unwrap_err().to_string().contains(".npy or .safetensors"));
        let nan = dir.join("nan.safetensors");
        let named = super::super::tensors::Named { name: "inputs", shape: vec![2], values: vec![1.0, f32::NAN] };
        super::super::tensors::write(&nan, &[named], &BTreeMap::new()).unwrap();
        let e = format!("{:#}", read_array(&nan, "inputs").unwrap_err());
        assert!(e.contains("not finite") && e.contains("inputs"), "{e}");
    }
}
