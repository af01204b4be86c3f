//! Arrays for the page's script, packed small: the bytes of every value are grouped by
//! position (all first bytes, then all second bytes, …) so that zlib finds the repetitive
//! high bytes together, then deflated and base64-encoded. The script inflates them with the
//! browser's `DecompressionStream('deflate')` (see `core.js`).
//!
//! Factors may be stored compactly, as 8- to 12-bit integers times one scale per factor: the
//! page grows with the number of parameters, and a study of a thousand components would not
//! fit in a few megabytes at full precision.

use std::io::Write as _;

use serde_json::{Value, json};

use super::html::base64;

/// How precisely floats are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// `f32`: the page computes exactly what bilens computes.
    Full,
    /// Each segment (one factor) as integers of this many bits (8 to 16, sign included) times one
    /// `f32` scale: a relative error of at most half a step of the segment's largest value.
    Fixed(u32),
}

impl Precision {
    /// `values` as the page will read them, in segments of `segment` values.
    pub fn round(self, values: &[f32], segment: usize) -> Vec<f32> {
        match self {
            Precision::Full => values.to_vec(),
            Precision::Fixed(bits) => {
                let (q, scales) = fixed(values, segment, bits);
                q.iter().enumerate().map(|(i, &q)| (q as f64 * scales[i / segment] as f64) as f32).collect()
            }
        }
    }

    /// Its name in the page: `full`, or `fixed` and the bits (`fixed12`).
    pub fn name(self) -> String {
        match self {
            Precision::Full => "full".into(),
            Precision::Fixed(bits) => format!("fixed{bits}"),
        }
    }
}

/// Floats at `precision` (in segments of `segment` values): `{"type": "f32", "n", "z"}` or
/// `{"type": "q", "bits", "n", "seg", "scale": f32 array, "z": zigzag u16 array}`. Zigzag
/// (`2q` for q ≥ 0, `−2q − 1` below) keeps the sign out of the high bytes, which are then mostly
/// zero: 8–11% fewer bytes than two's complement at 8–10 bits.
pub fn floats(values: &[f32], segment: usize, precision: Precision) -> Value {
    match precision {
        Precision::Full => f32s(values),
        Precision::Fixed(bits) => {
            let (q, scales) = fixed(values, segment, bits);
            let zigzag = q.iter().map(|&v| ((v << 1) ^ (v >> 15)) as u16);
            let mut out = packed("q", values.len(), 2, zigzag.flat_map(|v| v.to_le_bytes()).collect());
            out["bits"] = json!(bits);
            out["seg"] = json!(segment);
            out["scale"] = f32s(&scales);
            out
        }
    }
}

fn f32s(values: &[f32]) -> Value {
    packed("f32", values.len(), 4, values.iter().flat_map(|v| v.to_le_bytes()).collect())
}

/// Integers in ±(2^(bits−1) − 1) and one scale per segment (its largest |value| over that).
fn fixed(values: &[f32], segment: usize, bits: u32) -> (Vec<i16>, Vec<f32>) {
    let top = ((1u32 << (bits.clamp(2, 16) - 1)) - 1) as f32;
    let scales: Vec<f32> = values
        .chunks(segment.max(1))
        .map(|s| match s.iter().fold(0f32, |m, v| m.max(v.abs())) / top {
            m if m > 0.0 && m.is_finite() => m,
            _ => 1.0,
        })
        .collect();
    let q = values.iter().enumerate().map(|(i, &v)| (v / scales[i / segment.max(1)]).round().clamp(-top, top) as i16).collect();
    (q, scales)
}

/// Bytes (e.g. 8-bit images): `{"type": "u8", "n", "z"}`.
pub fn bytes(values: &[u8]) -> Value {
    packed("u8", values.len(), 1, values.to_vec())
}

/// Lines of text (each without a newline) as the UTF-8 bytes of their `\n`-joined text: words
/// repeat from line to line, so they deflate to a fraction of their JSON.
pub fn lines(lines: &[String]) -> Value {
    bytes(lines.join("\n").as_bytes())
}

/// `le` holds `n` little-endian values of `width` bytes each.
fn packed(kind: &str, n: usize, width: usize, le: Vec<u8>) -> Value {
    let mut planes = Vec::with_capacity(le.len());
    for k in 0..width {
        planes.extend(le.iter().skip(k).step_by(width));
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let deflated = z.write_all(&planes).and_then(|()| z.finish()).unwrap_or_default();
    json!({ "type": kind, "n": n, "z": base64(&deflated) })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Read as _;

    use super::*;
    use crate::report::html::tests::unbase64;

    /// What the page's script does: inflate, regroup the bytes, read the values (as f64).
    pub(crate) fn unpack(v: &Value) -> Vec<f64> {
        let n = v["n"].as_u64().unwrap() as usize;
        let mut planes = Vec::new();
        flate2::read::ZlibDecoder::new(&unbase64(v["z"].as_str().unwrap())[..]).read_to_end(&mut planes).unwrap();
        let width = planes.len() / n.max(1);
        let value = |i: usize| -> Vec<u8> { (0..width).map(|k| planes[k * n + i]).collect() };
        let scales = if v["type"] == "q" { unpack(&v["scale"]) } else { Vec::new() };
        (0..n)
            .map(|i| match v["type"].as_str().unwrap() {
                "f32" => f32::from_le_bytes(value(i).try_into().unwrap()) as f64,
                "q" => {
                    let u = u16::from_le_bytes(value(i).try_into().unwrap());
                    ((u >> 1) as i16 ^ -((u & 1) as i16)) as f64 * scales[i / v["seg"].as_u64().unwrap() as usize]
                }
                _ => value(i)[0] as f64,
            })
            .collect()
    }

    /// What keeps a study's page small: characters of the page per factor value, by precision,
    /// on Gaussian noise (the least compressible factors; base64 of deflated bytes).
    #[test]
    fn fewer_bits_cost_fewer_characters_of_page() {
        let mut rng = crate::linalg::rng(3);
        let m = crate::linalg::randn(&mut rng, 784, 64, 1.0);
        let values: Vec<f32> = (0..64).flat_map(|k| m.col(k).iter().copied().collect::<Vec<_>>()).collect();
        let per_value = |p: Precision| {
            let v = floats(&values, 784, p);
            (v["z"].as_str().unwrap().len() + v["scale"]["z"].as_str().map_or(0, str::len)) as f64 / values.len() as f64
        };
        let (full, q12, q10, q8) =
            (per_value(Precision::Full), per_value(Precision::Fixed(12)), per_value(Precision::Fixed(10)), per_value(Precision::Fixed(8)));
        assert!(full > 4.5 && q12 < 2.2 && q10 < 1.8 && q8 < 1.3, "f32 {full}, 12 bits {q12}, 10 bits {q10}, 8 bits {q8}");
    }

    #[test]
    fn packed_arrays_unpack_to_what_the_page_reads() {
        let values: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * if i < 500 { 3.0 } else { 1e-3 }).collect();
        let full = unpack(&floats(&values, 500, Precision::Full));
        assert!(full.iter().zip(&values).all(|(a, &b)| *a == b as f64), "f32 is exact");
        for bits in [8, 12] {
            let compact = unpack(&floats(&values, 500, Precision::Fixed(bits)));
            let rounded = Precision::Fixed(bits).round(&values, 500);
            assert!(
                compact.iter().zip(&rounded).all(|(a, &b)| (a - b as f64).abs() <= 1e-7 * a.abs()),
                "the page reads what bilens rounds to"
            );
            let steps = 2.0 * ((1 << (bits - 1)) - 1) as f64;
            for (segment, max) in [(0..500, 3.0), (500..1000, 1e-3)] {
                let worst = segment.map(|i| (compact[i] - values[i] as f64).abs()).fold(0.0, f64::max);
                assert!(worst <= max / steps + 1e-12, "{bits} bits: error {worst} within half a step of the segment's scale");
            }
        }
        assert_eq!(Precision::Fixed(12).round(&[0.0; 4], 2), vec![0.0; 4], "zero segments stay zero");
        let img: Vec<u8> = (0..784).map(|i| (i * 7 % 256) as u8).collect();
        assert_eq!(unpack(&bytes(&img)), img.iter().map(|&b| b as f64).collect::<Vec<_>>());
        assert_eq!(unpack(&bytes(&[])), Vec::<f64>::new());
    }
}
