//! The IDX file format of MNIST and its look-alikes (Fashion-MNIST, KMNIST, …), gzipped or not.
//!
//! Every check reports a [`DataError`] naming the file, so a wrong or damaged download is
//! explained instead of crashing a long run.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::DataError;

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

const IMAGES_HEADER: usize = 16;
const LABELS_HEADER: usize = 8;

/// The images of one IDX file, borrowed from its (decompressed) bytes to avoid a copy.
#[derive(Debug, Clone, Copy)]
pub struct IdxImages<'a> {
    pub n: usize,
    pub rows: usize,
    pub cols: usize,
    /// `n * rows * cols` bytes, image after image, each row-major.
    pub pixels: &'a [u8],
}

/// Reads a file whole, decompressing it when it starts with the gzip magic bytes, so callers
/// never care whether a download was unpacked.
pub fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    let raw = std::fs::read(path).map_err(|source| DataError::Io { file: path.to_path_buf(), source })?;
    decompress(&raw, path)
}

/// Decompresses `raw` when it is gzip data; otherwise returns it unchanged. `file` names the
/// origin in errors.
pub fn decompress(raw: &[u8], file: &Path) -> Result<Vec<u8>, DataError> {
    if !is_gzip(raw) {
        return Ok(raw.to_vec());
    }
    let mut out = Vec::new();
    MultiGzDecoder::new(raw).read_to_end(&mut out).map_err(|source| DataError::Gzip { file: file.to_path_buf(), source })?;
    Ok(out)
}

/// Whether `bytes` starts with the gzip magic number 1f 8b.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Parses an IDX image file (already decompressed); `file` names it in errors.
pub fn parse_images<'a>(bytes: &'a [u8], file: &Path) -> Result<IdxImages<'a>, DataError> {
    check_magic(bytes, IMAGES_MAGIC, "image", file)?;
    check_len(bytes, IMAGES_HEADER as u64, file)?;
    let n = be_u32(bytes, 4) as usize;
    let rows = be_u32(bytes, 8) as usize;
    let cols = be_u32(bytes, 12) as usize;
    if rows == 0 || cols == 0 {
        return Err(DataError::BadShape { file: file.to_path_buf(), rows, cols });
    }
    // u32 × u32 × u32 can overflow u64 only in theory; checked anyway, as it comes from a file.
    let expected = (n as u64)
        .checked_mul(rows as u64)
        .and_then(|x| x.checked_mul(cols as u64))
        .and_then(|x| x.checked_add(IMAGES_HEADER as u64))
        .ok_or_else(|| DataError::BadShape { file: file.to_path_buf(), rows, cols })?;
    check_exact_len(bytes, expected, file)?;
    Ok(IdxImages { n, rows, cols, pixels: &bytes[IMAGES_HEADER..] })
}

/// Parses an IDX label file (already decompressed), rejecting any label `>= n_classes`.
pub fn parse_labels<'a>(bytes: &'a [u8], n_classes: usize, file: &Path) -> Result<&'a [u8], DataError> {
    check_magic(bytes, LABELS_MAGIC, "label", file)?;
    check_len(bytes, LABELS_HEADER as u64, file)?;
    let n = be_u32(bytes, 4) as u64;
    check_exact_len(bytes, LABELS_HEADER as u64 + n, file)?;
    let labels = &bytes[LABELS_HEADER..];
    if let Some((index, &value)) = labels.iter().enumerate().find(|&(_, &l)| l as usize >= n_classes) {
        return Err(DataError::LabelOutOfRange { file: file.to_path_buf(), index, value, n_classes });
    }
    Ok(labels)
}

/// Encodes images as an (uncompressed) IDX file: for exporting subsets and for tests.
pub fn encode_images(rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    let n = pixels.len() / (rows * cols).max(1);
    let mut out = Vec::with_capacity(IMAGES_HEADER + pixels.len());
    for v in [IMAGES_MAGIC, n as u32, rows as u32, cols as u32] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// Encodes labels as an (uncompressed) IDX file.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(LABELS_HEADER + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

fn be_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// At least `min` bytes (the header).
fn check_len(bytes: &[u8], min: u64, file: &Path) -> Result<(), DataError> {
    if (bytes.len() as u64) < min {
        return Err(DataError::Truncated { file: file.to_path_buf(), expected: min, actual: bytes.len() as u64 });
    }
    Ok(())
}

/// Exactly the size promised by the header: fewer is a cut-off download, more a wrong file.
fn check_exact_len(bytes: &[u8], expected: u64, file: &Path) -> Result<(), DataError> {
    check_len(bytes, expected, file)?;
    if bytes.len() as u64 > expected {
        return Err(DataError::TrailingBytes { file: file.to_path_buf(), expected, actual: bytes.len() as u64 });
    }
    Ok(())
}

/// Checked before the header length, so that a swapped or foreign file is named as such.
fn check_magic(bytes: &[u8], expected: u32, kind: &'static str, file: &Path) -> Result<(), DataError> {
    check_len(bytes, 4, file)?;
    let found = be_u32(bytes, 0);
    if found != expected {
        return Err(DataError::BadMagic { file: file.to_path_buf(), kind, found, expected });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("mem.idx")
    }

    #[test]
    fn images_round_trip_in_memory() {
        let pixels: Vec<u8> = (0..2 * 3 * 4).map(|i| i as u8 * 10).collect();
        let bytes = encode_images(3, 4, &pixels);
        let im = parse_images(&bytes, p()).unwrap();
        assert_eq!((im.n, im.rows, im.cols), (2, 3, 4));
        assert_eq!(im.pixels, &pixels[..]);
    }

    #[test]
    fn labels_round_trip_and_range() {
        let bytes = encode_labels(&[0, 9, 3]);
        assert_eq!(parse_labels(&bytes, 10, p()).unwrap(), &[0, 9, 3]);
        let err = parse_labels(&bytes, 9, p()).unwrap_err();
        assert!(matches!(err, DataError::LabelOutOfRange { index: 1, value: 9, .. }), "{err}");
    }

    #[test]
    fn short_header_is_truncated_not_panic() {
        let full = encode_images(1, 1, &[7]);
        for len in 0..IMAGES_HEADER {
            let err = parse_images(&full[..len], p()).unwrap_err();
            let want = if len < 4 { 4 } else { 16 };
            assert!(matches!(err, DataError::Truncated { expected, actual, .. } if expected == want && actual == len as u64), "{err}");
        }
        let err = parse_labels(&encode_labels(&[1])[..6], 10, p()).unwrap_err();
        assert!(matches!(err, DataError::Truncated { expected: 8, actual: 6, .. }), "{err}");
    }

    #[test]
    fn trailing_bytes_and_zero_dims_are_rejected() {
        let mut bytes = encode_labels(&[1, 2]);
        bytes.push(0);
        let err = parse_labels(&bytes, 10, p()).unwrap_err();
        assert!(matches!(err, DataError::TrailingBytes { expected: 10, actual: 11, .. }), "{err}");
        let bytes = encode_images(0, 28, &[]);
        let err = parse_images(&bytes, p()).unwrap_err();
        assert!(matches!(err, DataError::BadShape { rows: 0, .. }), "{err}");
    }

    #[test]
    fn swapped_files_report_bad_magic() {
        let err = parse_images(&encode_labels(&[0; 20]), p()).unwrap_err();
        assert!(matches!(err, DataError::BadMagic { found: LABELS_MAGIC, expected: IMAGES_MAGIC, .. }), "{err}");
        assert!(err.to_string().contains("0x00000801"), "{err}");
    }
}
