//! Colour maps shared by every figure, so that a colour means the same thing everywhere.
//!
//! * [`diverging`]: signed weights/patterns. **Red = positive, blue = negative, white = 0**
//!   (matplotlib `RdBu_r`, ColorBrewer anchors with a pure-white centre), limits `[-vmax, vmax]`.
//! * [`POSITIVE`] and [`NEGATIVE`]: bars of signed values (heads, logits, eigenvalues), in the
//!   same convention: red for positive, blue for negative.
//! * [`gray`]: digit images, **black ink on white paper**: 0 → white, 1 → black.
//!
//! Non-finite inputs never panic: NaN maps to [`INVALID`] (magenta, outside both maps) and
//! ±∞ saturates like any out-of-range value.

/// Colour for NaN inputs: magenta appears in neither map, so bad values stand out.
pub const INVALID: [u8; 3] = [255, 0, 255];

/// RdBu_r anchors from −1 (dark blue) through 0 (white) to +1 (dark red), evenly spaced.
const RDBU_R: [[u8; 3]; 11] = [
    [0x05, 0x30, 0x61],
    [0x21, 0x66, 0xac],
    [0x43, 0x93, 0xc3],
    [0x92, 0xc5, 0xde],
    [0xd1, 0xe5, 0xf0],
    [0xff, 0xff, 0xff],
    [0xfd, 0xdb, 0xc7],
    [0xf4, 0xa5, 0x82],
    [0xd6, 0x60, 0x4d],
    [0xb2, 0x18, 0x2b],
    [0x67, 0x00, 0x1f],
];

/// Bars of values ≥ 0: the diverging map's red at +0.8.
pub const POSITIVE: [u8; 3] = [0xb2, 0x18, 0x2b];
/// Bars of values < 0: the diverging map's blue at −0.8.
pub const NEGATIVE: [u8; 3] = [0x21, 0x66, 0xac];

/// Diverging colour of `v` on the symmetric scale `[-vmax, vmax]`: white at 0, red for
/// positive, blue for negative, saturating beyond ±vmax. A non-positive or non-finite `vmax`
/// degenerates to "sign only" (0 white, anything else fully saturated); NaN `v` → [`INVALID`].
pub fn diverging(v: f32, vmax: f32) -> [u8; 3] {
    if v.is_nan() {
        return INVALID;
    }
    let t = if vmax > 0.0 && vmax.is_finite() {
        v / vmax
    } else if v == 0.0 {
        0.0
    } else {
        v.signum()
    };
    let pos = (t.clamp(-1.0, 1.0) + 1.0) * 0.5 * (RDBU_R.len() - 1) as f32;
    let i = (pos.floor() as usize).min(RDBU_R.len() - 2);
    let frac = pos - i as f32;
    let (a, b) = (RDBU_R[i], RDBU_R[i + 1]);
    std::array::from_fn(|c| (a[c] as f32 + (b[c] as f32 - a[c] as f32) * frac).round() as u8)
}

/// Grey level of a digit pixel in `[0, 1]`: 0 → white paper, 1 → black ink (clamped outside).
/// NaN → [`INVALID`].
pub fn gray(v: f32) -> [u8; 3] {
    if v.is_nan() {
        return INVALID;
    }
    let g = (255.0 * (1.0 - v.clamp(0.0, 1.0))).round() as u8;
    [g, g, g]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn luminance([r, g, b]: [u8; 3]) -> f32 {
        0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32
    }

    #[test]
    fn zero_is_white_and_signs_have_hues() {
        assert_eq!(diverging(0.0, 1.0), [255, 255, 255]);
        assert_eq!(diverging(-0.0, 3.0), [255, 255, 255]);
        let [r, g, b] = diverging(2.0, 2.0);
        assert!(r > g && r > b, "+vmax is red-dominant");
        let [r, g, b] = diverging(-2.0, 2.0);
        assert!(b > r && b > g, "−vmax is blue-dominant");
    }

    #[test]
    fn bars_use_the_colours_of_patterns() {
        assert_eq!(POSITIVE, diverging(0.8, 1.0));
        assert_eq!(NEGATIVE, diverging(-0.8, 1.0));
    }

    #[test]
    fn symmetric_limits_saturate_and_darken_monotonically() {
        let vmax = 0.5;
        assert_eq!(diverging(5.0, vmax), diverging(vmax, vmax));
        assert_eq!(diverging(-5.0, vmax), diverging(-vmax, vmax));
        assert_eq!(diverging(f32::INFINITY, vmax), diverging(vmax, vmax));
        for sign in [1.0f32, -1.0] {
            let lum: Vec<f32> = (0..=10).map(|k| luminance(diverging(sign * vmax * k as f32 / 10.0, vmax))).collect();
            assert!(lum.windows(2).all(|w| w[1] <= w[0]), "darkens away from 0: {lum:?}");
        }
        // Equal magnitudes have comparable lightness on both sides.
        for k in 1..=10 {
            let v = vmax * k as f32 / 10.0;
            let (p, n) = (luminance(diverging(v, vmax)), luminance(diverging(-v, vmax)));
            assert!((p - n).abs() < 30.0, "lightness at ±{v}: {p} vs {n}");
        }
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert_eq!(diverging(f32::NAN, 1.0), INVALID);
        assert_eq!(diverging(1.0, 0.0), diverging(1.0, 1.0));
        assert_eq!(diverging(-1.0, f32::NAN), diverging(-1.0, 1.0));
        assert_eq!(diverging(0.0, 0.0), [255, 255, 255]);
        assert_eq!(gray(f32::NAN), INVALID);
    }

    #[test]
    fn gray_is_ink_on_paper() {
        assert_eq!(gray(0.0), [255, 255, 255]);
        assert_eq!(gray(1.0), [0, 0, 0]);
        assert_eq!(gray(-3.0), [255, 255, 255]);
        assert_eq!(gray(7.0), [0, 0, 0]);
        assert_eq!(gray(0.5)[0], 128);
    }
}
