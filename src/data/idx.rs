//! The IDX file format of MNIST and its look-alikes (Fashion-MNIST, KMNIST, …), gzipped or not.
//!
//! Every check reports a [`DataError`] naming the file, so a wrong or damaged download is
//! explained instead of crashing a long run.

use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use super::DataError;

/// The largest IDX payload read (pixel or label bytes): far above any IDX data set (EMNIST's
/// largest file is 0.7 GB), and a bound on what a damaged or hostile header can make bilens
/// allocate.
pub const MAX_BYTES: u64 = 1 << 32;

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

/// Reads an IDX file, decompressing it when it starts with the gzip magic bytes (so callers
/// never care whether a download was unpacked). Reading stops one byte after the size its
/// header declares: a gzip bomb or a file with trailing data costs no more memory than the
/// data set it claims to be, and is then rejected by the parsers as too long.
pub fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io { file: path.to_path_buf(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic).map_err(io)?;
    let start = std::io::Cursor::new(magic[..n].to_vec());
    if is_gzip(&magic[..n]) {
        let gz = MultiGzDecoder::new(start.chain(file));
        read_bounded(gz, path).map_err(|e| match e {
            DataError::Io { source, .. } => DataError::Gzip { file: path.to_path_buf(), source },
            other => other,
        })
    } else {
        read_bounded(start.chain(file), path)
    }
}

/// Decompresses `raw` when it is gzip data; otherwise returns it unchanged, with the same bound
/// as [`read_file`]. `file` names the origin in errors.
pub fn decompress(raw: &[u8], file: &Path) -> Result<Vec<u8>, DataError> {
    if !is_gzip(raw) {
        return Ok(raw.to_vec());
    }
    read_bounded(MultiGzDecoder::new(raw), file).map_err(|e| match e {
        DataError::Io { source, .. } => DataError::Gzip { file: file.to_path_buf(), source },
        other => other,
    })
}

/// Reads the IDX header, then at most one byte more than the payload it declares.
fn read_bounded(mut reader: impl Read, file: &Path) -> Result<Vec<u8>, DataError> {
    let io = |source| DataError::Io { file: file.to_path_buf(), source };
    let mut out = Vec::new();
    (&mut reader).take(8).read_to_end(&mut out).map_err(io)?;
    let header = match out.get(..4).map(|m| be_u32(m, 0)) {
        Some(IMAGES_MAGIC) => IMAGES_HEADER,
        _ => LABELS_HEADER,
    };
    (&mut reader).take((header - out.len().min(header)) as u64).read_to_end(&mut out).map_err(io)?;
    if out.len() < header {
        return Ok(out); // the parsers report the short header
    }
    let dims: Vec<u64> = (1..header / 4).map(|i| be_u32(&out, 4 * i) as u64).collect();
    let payload = dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d)).filter(|&p| p <= MAX_BYTES);
    let Some(payload) = payload else {
        return Err(DataError::TooLarge { file: file.to_path_buf(), dims, max: MAX_BYTES });
    };
    reader.take(payload + 1).read_to_end(&mut out).map_err(io)?;
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

/// Parses an IDX label file (already decompressed).
pub fn parse_labels<'a>(bytes: &'a [u8], file: &Path) -> Result<&'a [u8], DataError> {
    check_magic(bytes, LABELS_MAGIC, "label", file)?;
    check_len(bytes, LABELS_HEADER as u64, file)?;
    let n = be_u32(bytes, 4) as u64;
    check_exact_len(bytes, LABELS_HEADER as u64 + n, file)?;
    Ok(&bytes[LABELS_HEADER..])
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
        return Err(DataError::TrailingBytes { file: file.to_path_buf(), expected });
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
    fn labels_round_trip() {
        let bytes = encode_labels(&[0, 9, 3]);
        assert_eq!(parse_labels(&bytes, p()).unwrap(), &[0, 9, 3]);
    }

    #[test]
    fn gzip_bombs_and_huge_headers_are_bounded() {
        use std::io::Write;
        // A header promising one 28×28 image, then 50 MB of zeros: reading stops after 785 bytes.
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&encode_images(28, 28, &[0; 784])[..16]).unwrap();
        enc.write_all(&vec![0u8; 50 << 20]).unwrap();
        let bomb = enc.finish().unwrap();
        assert!(bomb.len() < 100_000);
        let bytes = decompress(&bomb, p()).unwrap();
        assert_eq!(bytes.len(), 16 + 784 + 1);
        assert!(matches!(parse_images(&bytes, p()).unwrap_err(), DataError::TrailingBytes { .. }));
        // A header declaring 2³² × 2³² × 1 pixels is refused before anything is read.
        let mut huge = encode_images(1, 1, &[]);
        huge[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        huge[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
        let err = read_bounded(&huge[..], p()).unwrap_err();
        assert!(matches!(err, DataError::TooLarge { .. }) && err.to_string().contains("mem.idx"), "{err}");
    }

    #[test]
    fn short_header_is_truncated_not_panic() {
        let full = encode_images(1, 1, &[7]);
        for len in 0..IMAGES_HEADER {
            let err = parse_images(&full[..len], p()).unwrap_err();
            let want = if len < 4 { 4 } else { 16 };
            assert!(matches!(err, DataError::Truncated { expected, actual, .. } if expected == want && actual == len as u64), "{err}");
        }
        let err = parse_labels(&encode_labels(&[1])[..6], p()).unwrap_err();
        assert!(matches!(err, DataError::Truncated { expected: 8, actual: 6, .. }), "{err}");
    }

    #[test]
    fn trailing_bytes_and_zero_dims_are_rejected() {
        let mut bytes = encode_labels(&[1, 2]);
        bytes.push(0);
        let err = parse_labels(&bytes, p()).unwrap_err();
        assert!(matches!(err, DataError::TrailingBytes { expected: 10, .. }), "{err}");
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
