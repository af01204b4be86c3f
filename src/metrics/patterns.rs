//! Interpretability metrics of display patterns and class heads (SPEC §5.6–§5.9, §8.6–§8.10) and
//! the display-only "top pixels" filter (§9.3).
//!
//! Patterns are `pixels × n` matrices, one row-major image per column; heads are
//! `classes × r`. Inputs are `f32` as stored, results `f64`. No gradients: these are read-outs.
//! Means over an empty set of columns are 0 rather than PyTorch's NaN.

use faer::MatRef;

use crate::image::ImageShape;
use crate::image::ops::{self as image_ops, Images};

const EPS: f64 = 1e-8;

/// Side of the square window of the locality metric (SPEC §5.7).
pub const LOCALITY_WINDOW: usize = 7;

fn column(m: MatRef<'_, f32>, j: usize) -> Vec<f32> {
    m.col(j).iter().copied().collect()
}

fn mean_over_columns(m: MatRef<'_, f32>, metric: impl Fn(&[f32]) -> f64) -> f64 {
    if m.ncols() == 0 {
        return 0.0;
    }
    (0..m.ncols()).map(|j| metric(&column(m, j))).sum::<f64>() / m.ncols() as f64
}

/// The matrix as one column-major slice, the layout of [`image_ops`].
fn column_major(m: MatRef<'_, f32>) -> Vec<f32> {
    (0..m.ncols()).flat_map(|j| column(m, j)).collect()
}

/// Gini coefficient of the pixel magnitudes of one pattern (SPEC §5.6): 0 for uniform
/// magnitudes, `(n − 1)/n` for a single pixel; 0 for an all-zero pattern. Measures sparsity.
pub fn gini(column: &[f32]) -> f64 {
    let mut x: Vec<f64> = column.iter().map(|&v| (v as f64).abs()).collect();
    let total: f64 = x.iter().sum();
    if total < EPS {
        return 0.0;
    }
    x.sort_by(f64::total_cmp);
    let n = x.len() as f64;
    let weighted: f64 = x.iter().enumerate().map(|(i, &v)| (2.0 * (i + 1) as f64 - n - 1.0) * v).sum();
    weighted / (n * total)
}

/// `pattern_gini` (SPEC §8.6): mean [`gini`] over the pattern columns.
pub fn mean_gini(patterns: MatRef<'_, f32>) -> f64 {
    mean_over_columns(patterns, gini)
}

/// 7×7 patch locality of one pattern (SPEC §5.7): the largest share of its energy `Σv²`
/// inside one fully contained 7×7 window. Uniform MNIST image 49/784, single pixel 1, zero 0.
pub fn locality(column: &[f32], shape: ImageShape) -> f64 {
    let (h, w) = (shape.height, shape.width);
    assert_eq!(column.len(), h * w, "pattern of {} pixels is not {h}×{w}", column.len());
    let k = LOCALITY_WINDOW;
    assert!(h >= k && w >= k, "locality needs images of at least {k}×{k} pixels, got {h}×{w}");
    // Summed-area table of the energy, (h + 1) × (w + 1), row-major.
    let mut table = vec![0.0; (h + 1) * (w + 1)];
    for r in 0..h {
        for c in 0..w {
            let e = (column[w * r + c] as f64).powi(2);
            table[(w + 1) * (r + 1) + c + 1] = e + table[(w + 1) * r + c + 1] + table[(w + 1) * (r + 1) + c] - table[(w + 1) * r + c];
        }
    }
    let at = |r: usize, c: usize| table[(w + 1) * r + c];
    let mut best = f64::NEG_INFINITY;
    for r in 0..=h - k {
        for c in 0..=w - k {
            best = best.max(at(r + k, c + k) - at(r, c + k) - at(r + k, c) + at(r, c));
        }
    }
    best / at(h, w).max(EPS)
}

/// `locality_7x7` (SPEC §8.7): mean [`locality`] over the pattern columns.
pub fn mean_locality(patterns: MatRef<'_, f32>, shape: ImageShape) -> f64 {
    mean_over_columns(patterns, |col| locality(col, shape))
}

/// Coherence of one pattern: `‖box(p)‖² / ‖p‖²`, the share of its energy that survives a
/// zero-padded 3×3 mean filter. Smooth shapes keep most of it (a uniform 28×28 image 0.92, a
/// wide Gaussian blob more than 0.8), a single pixel or white noise about 1/9 (speckle); 0 for
/// a zero pattern.
pub fn coherence(column: &[f32], shape: ImageShape) -> f64 {
    image_ops::coherence(column, Images::of(shape, 1), None)
}

/// Sign purity of one pattern: the share of its energy `Σv²` in its dominant sign. A person
/// reads a one-signed pattern (a stroke, a blob) at a glance, a ± mixture only with a legend.
/// Any non-negative or non-positive pattern (a digit, a uniform image, one pixel) 1, equal
/// energy in both signs 0.5 (white noise about 0.5); 0 for a zero pattern.
pub fn sign_purity(column: &[f32]) -> f64 {
    if column.iter().all(|&v| v == 0.0) {
        return 0.0;
    }
    1.0 - image_ops::sign_impurity(column, Images { h: column.len(), w: 1, n: 1 }, None)
}

/// `Σ w_j m(p_j) / Σ w_j` over the pattern columns `p_j` (0 when every weight is 0): a mean
/// in which each pattern counts as much as the part of the model it draws.
pub fn weighted_mean(patterns: MatRef<'_, f32>, weights: &[f64], metric: impl Fn(&[f32]) -> f64) -> f64 {
    assert_eq!(patterns.ncols(), weights.len(), "one weight per pattern");
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    (0..patterns.ncols()).filter(|&j| weights[j] > 0.0).map(|j| weights[j] * metric(&column(patterns, j))).sum::<f64>() / total
}

/// `class_selectivity` (SPEC §5.8, §8.8): 1 − mean normalised entropy of the `|D|` columns;
/// 1 when every component speaks for a single class, ≈0 for uniform heads.
pub fn class_selectivity(heads: MatRef<'_, f32>) -> f64 {
    let d: Vec<f64> = column_major(heads).into_iter().map(f64::from).collect();
    1.0 - image_ops::head_entropy(&d, heads.nrows(), None)
}

/// Share of one head's absolute weight on its strongest class, `max|d| / max(Σ|d|, 1e-8)`:
/// the per-component `sel_r` of the visual ranking scores (SPEC §8).
pub fn component_selectivity(head: &[f32]) -> f64 {
    let abs = head.iter().map(|&v| (v as f64).abs());
    abs.clone().fold(0.0, f64::max) / abs.sum::<f64>().max(EPS)
}

/// `head_top1_frac` (SPEC §5.9, §8.9): mean [`component_selectivity`] over the head columns.
pub fn top1_head_mass(heads: MatRef<'_, f32>) -> f64 {
    mean_over_columns(heads, component_selectivity)
}

/// `display_tv` (SPEC §8.10): total variation (§5.4) of the display patterns as given.
pub fn display_tv(patterns: MatRef<'_, f32>, shape: ImageShape) -> f64 {
    assert_eq!(patterns.nrows(), shape.pixels(), "patterns have {} rows, not {shape}", patterns.nrows());
    image_ops::total_variation(&column_major(patterns), Images::of(shape, patterns.ncols()), None)
}

/// `torch.quantile` with linear interpolation: the value at position `q·(len − 1)` of the sorted
/// values (SPEC §9.3). NaN if any value is NaN.
pub fn quantile(values: &[f32], q: f64) -> f64 {
    assert!(!values.is_empty(), "quantile of an empty set");
    assert!((0.0..=1.0).contains(&q), "quantile level {q} outside [0, 1]");
    if values.iter().any(|v| v.is_nan()) {
        return f64::NAN;
    }
    let mut x: Vec<f64> = values.iter().map(|&v| v as f64).collect();
    x.sort_by(f64::total_cmp);
    let pos = q * (x.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    x[lo] + (pos - lo as f64) * (x[hi] - x[lo])
}

/// The "denoised" / "top pixels" display view (SPEC §9.3): pixels with `|v|` below the
/// `q`-quantile of `|column|` are zeroed, signs kept, so about `1 − q` of them survive.
/// Display only: metrics are never computed on denoised patterns.
pub fn denoise_top_pixels(column: &[f32], q: f64) -> Vec<f32> {
    let abs: Vec<f32> = column.iter().map(|v| v.abs()).collect();
    // Compared in f32, the dtype torch computes the threshold in.
    let threshold = quantile(&abs, q) as f32;
    column.iter().map(|&v| if v.abs() < threshold { 0.0 } else { v }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    const SIDE: usize = 28;
    const PIXELS: usize = SIDE * SIDE;
    const MNIST: ImageShape = ImageShape::MNIST;

    fn random(len: usize, seed: u64) -> Vec<f32> {
        use rand::Rng;
        let mut rng = crate::linalg::rng(seed);
        (0..len).map(|_| rng.random::<f32>() * 2.0 - 1.0).collect()
    }

    fn impulse(p: usize, value: f32) -> Vec<f32> {
        let mut x = vec![0.0; PIXELS];
        x[p] = value;
        x
    }

    #[test]
    fn locality_known_values() {
        assert!((locality(&[0.3; PIXELS], MNIST) - 0.0625).abs() < 1e-12);
        assert!((locality(&impulse(0, -2.0), MNIST) - 1.0).abs() < 1e-12);
        assert!((locality(&impulse(PIXELS - 1, 0.5), MNIST) - 1.0).abs() < 1e-12);
        assert_eq!(locality(&[0.0; PIXELS], MNIST), 0.0);
        // Two far-apart pixels of equal energy: one window holds half.
        let mut two = impulse(0, 1.0);
        two[PIXELS - 1] = -1.0;
        assert!((locality(&two, MNIST) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn coherence_known_values() {
        // Uniform: interior pixels keep their value, edges 6/9 of it, corners 4/9.
        let uniform = (26.0 * 26.0 + 4.0 * 26.0 * (6.0f64 / 9.0).powi(2) + 4.0 * (4.0f64 / 9.0).powi(2)) / PIXELS as f64;
        assert!((coherence(&[0.3; PIXELS], MNIST) - uniform).abs() < 1e-9);
        assert!((coherence(&impulse(300, -2.0), MNIST) - 1.0 / 9.0).abs() < 1e-12);
        assert_eq!(coherence(&[0.0; PIXELS], MNIST), 0.0);
        // White noise keeps about 1/9 of its energy; a wide blob most of it.
        let noise = coherence(&random(PIXELS, 3), MNIST);
        assert!((noise - 1.0 / 9.0).abs() < 0.03, "{noise}");
        let blob: Vec<f32> =
            (0..PIXELS).map(|p| (-(((p / SIDE) as f32 - 14.0).powi(2) + ((p % SIDE) as f32 - 14.0).powi(2)) / 18.0).exp()).collect();
        assert!(coherence(&blob, MNIST) > 0.8, "{}", coherence(&blob, MNIST));
    }

    #[test]
    fn weighted_means_follow_the_weights() {
        let mut m = Mat::<f32>::zeros(PIXELS, 3);
        m[(5 * SIDE + 5, 0)] = 1.0; // locality 1
        for p in 0..PIXELS {
            m[(p, 1)] = 0.3; // locality 1/16
        }
        let loc = |c: &[f32]| locality(c, MNIST);
        assert!((weighted_mean(m.as_ref(), &[3.0, 1.0, 0.0], loc) - (3.0 + 0.0625) / 4.0).abs() < 1e-12);
        assert_eq!(weighted_mean(m.as_ref(), &[0.0; 3], loc), 0.0);
    }

    #[test]
    fn gini_known_values() {
        assert!(gini(&[-0.7; PIXELS]).abs() < 1e-12);
        assert!((gini(&impulse(300, 4.0)) - 783.0 / 784.0).abs() < 1e-12);
        assert_eq!(gini(&[0.0; PIXELS]), 0.0);
        // x = (0, 1, 2, 3): Σ(2i − 5)x_(i) / (4·6) = (−1·1 + 1·2 + 3·3) / 24.
        assert!((gini(&[3.0, 0.0, -1.0, 2.0]) - 10.0 / 24.0).abs() < 1e-12);
    }

    #[test]
    fn means_count_zero_columns_as_zero() {
        let mut m = Mat::<f32>::zeros(PIXELS, 2);
        m[(5 * SIDE + 5, 0)] = 1.0;
        assert!((mean_locality(m.as_ref(), MNIST) - 0.5).abs() < 1e-12);
        assert!((mean_gini(m.as_ref()) - 783.0 / 784.0 / 2.0).abs() < 1e-12);
        assert_eq!(mean_gini(Mat::<f32>::zeros(PIXELS, 0).as_ref()), 0.0);
    }

    #[test]
    fn selectivity_of_one_hot_and_uniform_heads() {
        let one_hot = Mat::<f32>::from_fn(10, 6, |c, r| if c == (r * 7) % 10 { 0.5 - r as f32 } else { 0.0 });
        assert!((class_selectivity(one_hot.as_ref()) - 1.0).abs() < 1e-8);
        assert!((top1_head_mass(one_hot.as_ref()) - 1.0).abs() < 1e-12);
        let uniform = Mat::<f32>::from_fn(10, 6, |_, r| if r % 2 == 0 { 0.2 } else { -3.0 });
        assert!(class_selectivity(uniform.as_ref()).abs() < 1e-6);
        assert!((top1_head_mass(uniform.as_ref()) - 0.1).abs() < 1e-7);
        assert!((component_selectivity(&[1.0, -3.0, 0.0, 0.0]) - 0.75).abs() < 1e-12);
        assert_eq!(component_selectivity(&[0.0; 10]), 0.0);
    }

    #[test]
    fn display_tv_matches_image_ops() {
        let m = Mat::<f32>::from_fn(PIXELS, 3, |p, j| ((p * 7 + j * 13) % 11) as f32 - 5.0);
        assert_eq!(display_tv(Mat::<f32>::from_fn(PIXELS, 2, |_, _| 1.0).as_ref(), MNIST), 0.0);
        let data: Vec<f32> = (0..3).flat_map(|j| m.col(j).iter().copied().collect::<Vec<_>>()).collect();
        let expected = image_ops::total_variation(&data, Images::of(MNIST, 3), None);
        assert_eq!(display_tv(m.as_ref(), MNIST), expected);
    }

    #[test]
    fn quantile_interpolates_linearly() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert_eq!(quantile(&v, 1.0), 4.0);
        assert!((quantile(&v, 0.5) - 2.5).abs() < 1e-12);
        assert!((quantile(&v, 0.1) - 1.3).abs() < 1e-12);
        assert!((quantile(&v, 0.7) - 3.1).abs() < 1e-12);
        assert_eq!(quantile(&[7.5], 0.3), 7.5);
        assert!(quantile(&[1.0, f32::NAN], 0.5).is_nan());
    }

    #[test]
    fn denoise_keeps_top_thirty_percent() {
        let x = random(PIXELS, 11);
        let y = denoise_top_pixels(&x, 0.7);
        // Position 0.7·783 = 548.1: the 784 − 549 = 235 largest magnitudes survive.
        let kept: Vec<usize> = (0..PIXELS).filter(|&p| y[p] != 0.0).collect();
        assert_eq!(kept.len(), 235);
        let smallest_kept = kept.iter().map(|&p| x[p].abs()).fold(f32::INFINITY, f32::min);
        for p in 0..PIXELS {
            if y[p] != 0.0 {
                assert_eq!(y[p], x[p], "kept pixels keep value and sign");
            } else {
                assert!(x[p].abs() < smallest_kept);
            }
        }
    }
}
