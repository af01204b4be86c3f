//! Counter-based random numbers and exact Gaussian noise, in a form the compiler vectorises.
//!
//! A stream is SplitMix64 started at a key: draw `i` is `mix64(key + (i + 1)·γ)`, computed
//! from `i` directly, so 16 draws are 16 independent SIMD lanes; keys derive from a parent key
//! with [`child`]. Normals come in pairs from one 64-bit draw by the Box–Muller transform: the
//! low 32 bits give the radius `√(−2 ln u)` with `u ∈ (0, 1]` (tails reach 6.7σ), the high bits
//! two signs and an angle in a quarter turn (a uniform angle on the circle is a uniform angle
//! in one quadrant with random signs). ln, sin and cos are polynomials accurate to about an
//! ulp, so the values are N(0, 1) to f32 precision: the distribution is not approximated.

use std::f32::consts::FRAC_PI_2;

pub(super) const ROOT: u64 = 0x6A09_E667_F3BC_C909;
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function, a bijection of u64.
#[inline(always)]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The key of sub-stream `index` of `key`.
pub(super) fn child(key: u64, index: u64) -> u64 {
    mix64(key ^ index.wrapping_mul(GAMMA))
}

/// Draw `i` of stream `key`.
#[inline(always)]
pub(super) fn draw(key: u64, i: u64) -> u64 {
    mix64(key.wrapping_add(i.wrapping_add(1).wrapping_mul(GAMMA)))
}

/// A uniform number in [0, 1) from the top 24 bits of a draw.
pub(super) fn uniform(u: u64) -> f32 {
    (u >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
}

/// `x += std·z`, with `z` the normals of stream `key` from draw 1 on.
pub(super) fn add_noise(x: &mut [f32], key: u64, std: f32) {
    super::simd::simd(
        #[inline(always)]
        || add_noise_portable(x, key, std),
    )
}

/// [`add_noise`] for any instruction set (the same bits, see [`simd`](super::simd::simd)).
/// Pixels `32b..32b+16` take the first normal of pairs `16b..16b+16`, the next 16 pixels
/// their second.
#[inline(always)]
pub(super) fn add_noise_portable(x: &mut [f32], key: u64, std: f32) {
    let mut z = [0.0f32; 32];
    for (block, x) in x.chunks_mut(32).enumerate() {
        let first = 1 + 16 * block as u64;
        for k in 0..16 {
            (z[k], z[k + 16]) = pair(draw(key, first + k as u64));
        }
        for (x, z) in x.iter_mut().zip(&z) {
            *x += std * z;
        }
    }
}

/// Two independent N(0, 1) values from one draw (Box–Muller, see the module notes).
#[inline(always)]
fn pair(u: u64) -> (f32, f32) {
    let (lo, hi) = (u as u32, (u >> 32) as u32);
    let radius = (-2.0 * ln(lo as f32 * (1.0 / 4_294_967_296.0) + 1.0 / 8_589_934_592.0)).sqrt();
    // The angle a·(π/2)/2²⁴ in [0, π/2), folded into [0, π/4] exactly on the integer grid.
    let a = hi >> 8;
    let swap = a > 1 << 23;
    let phi = (if swap { (1 << 24) - a } else { a }) as f32 * (FRAC_PI_2 / (1u32 << 24) as f32);
    let (s, c) = sin_cos(phi);
    let (c, s) = if swap { (s, c) } else { (c, s) };
    let sign = |bit: u32| (hi >> bit) << 31;
    (f32::from_bits((radius * c).to_bits() ^ sign(0)), f32::from_bits((radius * s).to_bits() ^ sign(1)))
}

/// Natural log of a normal positive number: musl's `logf`, error below 1 ulp.
#[inline(always)]
pub(super) fn ln(x: f32) -> f32 {
    const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
    const LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
    const LG: [f32; 4] = [
        f32::from_bits(0x3f2a_aaaa), // 0xaaaaaa.0p-24
        f32::from_bits(0x3ecc_ce13), // 0xccce13.0p-25
        f32::from_bits(0x3e91_e9ee), // 0x91e9ee.0p-25
        f32::from_bits(0x3e78_9e26), // 0xf89e26.0p-26
    ];
    // x = 2^k·(1 + f) with 1 + f in [√½, √2).
    let ix = x.to_bits().wrapping_add(0x3f80_0000 - 0x3f35_04f3);
    let k = (ix >> 23) as i32 - 0x7f;
    let f = f32::from_bits((ix & 0x007f_ffff) + 0x3f35_04f3) - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let w = z * z;
    let r = z * (LG[0] + w * LG[2]) + w * (LG[1] + w * LG[3]);
    let hfsq = 0.5 * f * f;
    let dk = k as f32;
    s * (hfsq + r) + dk * LN2_LO - hfsq + f + dk * LN2_HI
}

/// `(sin x, cos x)` for x in [0, π/4], by their Taylor series (truncation below 2e-9).
#[inline(always)]
pub(super) fn sin_cos(x: f32) -> (f32, f32) {
    let x2 = x * x;
    let sin = x + x * x2 * (-1.0 / 6.0 + x2 * (1.0 / 120.0 + x2 * (-1.0 / 5040.0 + x2 * (1.0 / 362_880.0))));
    let cos = 1.0 + x2 * (-0.5 + x2 * (1.0 / 24.0 + x2 * (-1.0 / 720.0 + x2 * (1.0 / 40_320.0 + x2 * (-1.0 / 3_628_800.0)))));
    (sin, cos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_standard_normal() {
        let n = 1 << 20;
        let mut z = vec![0.0f32; n];
        for (k, row) in z.chunks_mut(784).enumerate() {
            add_noise(row, child(ROOT, k as u64), 1.0);
        }
        let mean = z.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        let var = z.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n as f64;
        let kurtosis = z.iter().map(|&v| (v as f64 - mean).powi(4)).sum::<f64>() / n as f64 / var.powi(2);
        assert!(mean.abs() < 5.0 / (n as f64).sqrt(), "mean {mean}");
        assert!((var - 1.0).abs() < 5.0 * (2.0 / n as f64).sqrt(), "variance {var}");
        assert!((kurtosis - 3.0).abs() < 5.0 * (24.0 / n as f64).sqrt(), "kurtosis {kurtosis}");
        // Φ(t) at t = 0.5, 1, …, 3, on each side.
        let phi = [0.691_462_461, 0.841_344_746, 0.933_192_799, 0.977_249_868, 0.993_790_335, 0.998_650_102];
        for (i, &p) in phi.iter().enumerate() {
            let t = 0.5 * (i + 1) as f32;
            let tol = 5.0 * (p * (1.0 - p) / n as f64).sqrt();
            let below = z.iter().filter(|&&v| v < t).count() as f64 / n as f64;
            let above = z.iter().filter(|&&v| v > -t).count() as f64 / n as f64;
            assert!((below - p).abs() < tol && (above - p).abs() < tol, "t = {t}: {below} {above} vs {p}");
        }
    }

    #[test]
    fn noise_kernels_are_accurate_and_agree_across_instruction_sets() {
        for i in 0..100_000u32 {
            let x = (i as f32 + 0.5) / 100_000.0 * std::f32::consts::FRAC_PI_4;
            let (s, c) = sin_cos(x);
            assert!((s as f64 - (x as f64).sin()).abs() < 1.2e-7 && (c as f64 - (x as f64).cos()).abs() < 1.2e-7, "{x}");
            let u = f32::from_bits(0x3000_0000 + i * 0x2000 + (i % 7));
            let reference = (u as f64).ln();
            assert!((ln(u) as f64 - reference).abs() <= 1.2e-7 * reference.abs().max(1.0), "ln {u}");
        }
        let mut fast: Vec<f32> = (0..784).map(|i| i as f32 / 784.0).collect();
        let mut portable = fast.clone();
        add_noise(&mut fast, 42, 0.4);
        add_noise_portable(&mut portable, 42, 0.4);
        assert_eq!(fast, portable);
    }
}
