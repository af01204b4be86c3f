//! Named f32 tensors in safetensors files, the format PyTorch users exchange weights in.
//! Shapes are checked on read; wrong or missing tensors are errors that name the file.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use faer::{Mat, MatRef};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

/// A tensor read from a file: row-major values and the shape it was stored with.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

impl Tensor {
    /// A 2-D matrix view of this tensor, after checking it is `rows × cols`.
    pub fn matrix(&self, rows: usize, cols: usize) -> Result<Mat<f32>> {
        if self.shape != [rows, cols] {
            bail!("expected shape [{rows}, {cols}], found {:?}", self.shape);
        }
        Ok(crate::linalg::from_row_major(&self.values, rows, cols))
    }
}

/// All tensors of a safetensors file plus its string metadata. f32, f64, f16 and bf16 tensors
/// are converted to f32 (PyTorch saves f32 by default; the others appear in the wild).
pub struct TensorFile {
    pub tensors: HashMap<String, Tensor>,
    pub metadata: BTreeMap<String, String>,
}

/// The largest safetensors header read (the format's own limit).
const MAX_HEADER: u64 = 100_000_000;

impl TensorFile {
    pub fn read(path: &Path) -> Result<Self> {
        // A file that cannot be opened is not called invalid: its path or permissions are wrong.
        let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let bytes = read_bounded(file).with_context(|| format!("{} is not a valid safetensors file", path.display()))?;
        Self::parse(&bytes, &path.display().to_string())
    }

    /// The tensors of a safetensors file's bytes; `name` names it in errors.
    pub fn parse(bytes: &[u8], name: &str) -> Result<Self> {
        let parsed = SafeTensors::deserialize(bytes).with_context(|| format!("{name} is not a valid safetensors file"))?;
        let (_, header) = SafeTensors::read_metadata(bytes)?;
        let mut tensors = HashMap::new();
        for (tensor, view) in parsed.tensors() {
            let values = to_f32(&view).with_context(|| format!("tensor '{tensor}' in {name}"))?;
            tensors.insert(tensor, Tensor { shape: view.shape().to_vec(), values });
        }
        let metadata = header.metadata().clone().unwrap_or_default().into_iter().collect();
        Ok(Self { tensors, metadata })
    }

    /// The tensor called `name`, or an error listing the names the file does have.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.tensors.get(name).with_context(|| {
            let mut names: Vec<_> = self.tensors.keys().cloned().collect();
            names.sort();
            format!("missing tensor '{name}' (the file has: {})", names.join(", "))
        })
    }
}

/// Reads the 8-byte header length, the header, then exactly the data its tensors' offsets
/// declare: a file that never ends (`/dev/zero`) or hides data after the tensors is an error,
/// not a read until memory runs out.
fn read_bounded(mut file: std::fs::File) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; 8];
    file.read_exact(&mut bytes).context("shorter than the 8-byte header length")?;
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    ensure!((2..=MAX_HEADER).contains(&n), "its header length {n} is outside 2..={MAX_HEADER} bytes");
    (&mut file).take(n).read_to_end(&mut bytes)?;
    ensure!(bytes.len() as u64 == 8 + n, "the file ends inside its {n}-byte header");
    let header: BTreeMap<String, serde_json::Value> = serde_json::from_slice(&bytes[8..]).context("its header is not a JSON object")?;
    let data_end =
        header.iter().filter(|(k, _)| *k != "__metadata__").filter_map(|(_, v)| v.get("data_offsets")?.get(1)?.as_u64()).max().unwrap_or(0);
    (&mut file).take(data_end).read_to_end(&mut bytes)?;
    ensure!(bytes.len() as u64 == 8 + n + data_end, "the file ends before the {data_end} bytes of tensor data its header declares");
    ensure!(file.read(&mut [0u8; 1])? == 0, "the file is longer than its header declares");
    Ok(bytes)
}

/// `safetensors::serialize` with the metadata written in key order.
fn serialize_sorted(views: Vec<(&str, TensorView<'_>)>, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let raw = safetensors::serialize(views, None)?;
    let n = u64::from_le_bytes(raw[..8].try_into().expect("8 bytes")) as usize;
    let tensors: serde_json::Map<String, Value> = serde_json::from_slice(&raw[8..8 + n])?;
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), serde_json::to_value(metadata)?);
    }
    header.extend(tensors);
    let mut text = serde_json::to_vec(&header)?;
    // The format pads its header with spaces to a multiple of 8 bytes (aligned tensor data).
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend_from_slice(&raw[8 + n..]);
    Ok(out)
}

fn to_f32(view: &TensorView<'_>) -> Result<Vec<f32>> {
    let data = view.data();
    let values: Vec<f32> = match view.dtype() {
        Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F64 => data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
        Dtype::BF16 => data.chunks_exact(2).map(|b| f32::from_bits((u16::from_le_bytes([b[0], b[1]]) as u32) << 16)).collect(),
        Dtype::F16 => data.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes([b[0], b[1]]))).collect(),
        other => bail!("unsupported dtype {other:?} (expected a floating-point tensor)"),
    };
    if let Some(bad) = values.iter().position(|v| !v.is_finite()) {
        bail!("entry {bad} is not finite ({})", values[bad]);
    }
    Ok(values)
}

/// IEEE half to single precision (no crate needed for one conversion).
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, f) => {
            // Subnormal: renormalise.
            let shift = f.leading_zeros() - 21;
            sign | ((127 - 15 - shift + 1) << 23) | (((f << shift) & 0x3ff) << 13)
        }
        (0x1f, f) => sign | 0x7f80_0000 | (f << 13),
        (e, f) => sign | ((e + 127 - 15) << 23) | (f << 13),
    };
    f32::from_bits(bits)
}

/// One tensor to write: its name, shape and row-major values.
pub struct Named<'a> {
    pub name: &'a str,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

impl<'a> Named<'a> {
    /// A matrix stored row-major with shape `[rows, cols]`, as PyTorch lays it out.
    pub fn matrix(name: &'a str, m: MatRef<'_, f32>) -> Self {
        Self { name, shape: vec![m.nrows(), m.ncols()], values: crate::linalg::to_row_major(m) }
    }

    pub fn vector(name: &'a str, v: &[f32]) -> Self {
        Self { name, shape: vec![v.len()], values: v.to_vec() }
    }
}

/// Writes f32 tensors and string metadata to `path` atomically (the bytes of [`serialize`]).
pub fn write(path: &Path, tensors: &[Named<'_>], metadata: &BTreeMap<String, String>) -> Result<()> {
    super::write_atomic(path, &serialize(tensors, metadata)?)
}

/// The safetensors file of f32 tensors and string metadata. The bytes depend only on the
/// arguments: safetensors sorts tensors by dtype and name, and the metadata is written in key
/// order (a `HashMap`'s order would change from run to run).
pub fn serialize(tensors: &[Named<'_>], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let bytes: Vec<Vec<u8>> = tensors.iter().map(|t| t.values.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views = tensors
        .iter()
        .zip(&bytes)
        .map(|(t, b)| Ok((t.name, TensorView::new(Dtype::F32, t.shape.clone(), b)?)))
        .collect::<Result<Vec<_>>>()?;
    serialize_sorted(views, metadata)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    #[test]
    fn half_precision_conversion() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x3555), 0.333_251_95);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
    }

    #[test]
    fn round_trip_and_errors() {
        let dir = Scratch::new("tf");
        let path = dir.join("t.safetensors");
        let m = Mat::from_fn(3, 2, |i, j| (i * 2 + j) as f32);
        let meta: BTreeMap<String, String> = (0..20).map(|i| (format!("k{i}"), "v".to_string())).collect();
        write(&path, &[Named::matrix("m", m.as_ref()), Named::vector("b", &[1.5, -2.0])], &meta).unwrap();
        let first = std::fs::read(&path).unwrap();
        write(&path, &[Named::vector("b", &[1.5, -2.0]), Named::matrix("m", m.as_ref())], &meta).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), first, "same tensors and metadata, same bytes");
        let f = TensorFile::read(&path).unwrap();
        assert_eq!(f.get("m").unwrap().values, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(f.get("m").unwrap().matrix(3, 2).unwrap(), m);
        assert!(f.get("m").unwrap().matrix(2, 3).is_err());
        assert_eq!(f.metadata["k7"], "v");
        let missing = f.get("nope").unwrap_err().to_string();
        assert!(missing.contains("nope") && missing.contains("b, m"), "{missing}");
        std::fs::write(&path, b"not a safetensors file").unwrap();
        let err = format!("{:#}", TensorFile::read(&path).err().unwrap());
        assert!(err.contains("t.safetensors"), "{err}");
        // Data after the tensors, a file cut inside its data, and a never-ending file.
        let mut long = first.clone();
        long.push(0);
        std::fs::write(&path, &long).unwrap();
        assert!(format!("{:#}", TensorFile::read(&path).err().unwrap()).contains("longer than its header"));
        std::fs::write(&path, &first[..first.len() - 3]).unwrap();
        assert!(format!("{:#}", TensorFile::read(&path).err().unwrap()).contains("ends before"));
        let err = format!("{:#}", TensorFile::read(Path::new("/dev/zero")).err().unwrap());
        assert!(err.contains("header length 0"), "{err}");
    }
}
