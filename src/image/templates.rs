//! Anchors and locality masks for decompositions: the hand-made stroke bank (SPEC §5.19),
//! the data-derived bank (§5.20), fixed Gaussian masks (§5.17) and learnable Gaussian masks
//! with an exact backward pass (§5.18).
//!
//! Every bank or mask is a `pixels × n` matrix with one template per column, defined on the
//! `[−1, 1]²` grid of [`ImageShape`] (SPEC §0), so the same stroke or mask lands on the same
//! place of the image whatever its size.

use std::f32::consts::{FRAC_PI_2, FRAC_PI_4, PI};

use anyhow::{Result, bail, ensure};
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Side};
use num_traits::Float;

use super::ImageShape;
use crate::linalg::{decomposed, par, rng};

/// Number of templates in the stroke bank (§5.19).
pub const N_STROKES: usize = 120;

/// `linspace(lo, hi, n)` as in PyTorch (`n = 1` gives `[lo]`).
fn linspace(lo: f32, hi: f32, n: usize) -> Vec<f32> {
    let step = if n > 1 { (hi - lo) / (n - 1) as f32 } else { 0.0 };
    (0..n).map(|i| lo + step * i as f32).collect()
}

/// The first `rank` centres `(y, x)` of a row-major `ceil(√rank)²` grid over `[lo, hi]²`.
fn grid_centres(rank: usize, lo: f32, hi: f32) -> Vec<[f32; 2]> {
    let side = (rank as f64).sqrt().ceil() as usize;
    let c = linspace(lo, hi, side);
    (0..rank).map(|r| [c[r / side], c[r % side]]).collect()
}

/// Subtracts the pixel mean of every column, then divides it by `max(‖column‖₂, 1e−8)`
/// (SPEC §0 `normalize_columns`); sums are accumulated in f64.
fn centre_normalise(m: &mut Mat<f32>) {
    for j in 0..m.ncols() {
        let col = m.col(j);
        let mean = col.iter().map(|&v| v as f64).sum::<f64>() / col.nrows() as f64;
        let norm = col.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>().sqrt();
        let scale = 1.0 / norm.max(1e-8);
        for v in m.col_mut(j).iter_mut() {
            *v = ((*v as f64 - mean) * scale) as f32;
        }
    }
}

// ---------------------------------------------------------------------------------------
// Stroke bank (§5.19)
// ---------------------------------------------------------------------------------------

/// One hand-made stroke template; `long` only changes the name of a bar.
#[derive(Clone, Copy, Debug)]
enum Stroke {
    Line { cy: f32, cx: f32, theta: f32, length: f32, width: f32, long: bool },
    Arc { cy: f32, cx: f32, radius: f32, theta0: f32, span: f32 },
    Blob { cy: f32, cx: f32, sy: f32, sx: f32 },
}

impl Stroke {
    /// The template's value at grid point `(y, x)` (formulas of §5.19).
    fn value(&self, y: f32, x: f32) -> f32 {
        match *self {
            Stroke::Line { cy, cx, theta, length, width, .. } => {
                let (dy, dx) = (y - cy, x - cx);
                let (s, c) = theta.sin_cos();
                let par = dx * c + dy * s;
                let perp = -dx * s + dy * c;
                (-(perp * perp / (2.0 * width * width) + par * par / (2.0 * length * length))).exp()
            }
            Stroke::Arc { cy, cx, radius, theta0, span } => {
                let (dy, dx) = (y - cy, x - cx);
                let rho = (dx * dx + dy * dy).sqrt().max(1e-6);
                let phi = dy.atan2(dx);
                let delta = (phi - theta0).sin().atan2((phi - theta0).cos()).abs();
                let width = span / 2.4;
                (-(rho - radius).powi(2) / (2.0 * 0.055 * 0.055)).exp() * (-delta * delta / (2.0 * width * width)).exp()
            }
            Stroke::Blob { cy, cx, sy, sx } => (-(((y - cy) / sy).powi(2) + ((x - cx) / sx).powi(2)) / 2.0).exp(),
        }
    }

    /// A short label for component tables, e.g. `bar(cy=-0.55,cx=-0.45,θ=0°)`.
    fn name(&self) -> String {
        let deg = |a: f32| a.to_degrees().round() as i32;
        match *self {
            Stroke::Line { cy, cx, theta, long, .. } => {
                let kind = if long { "longbar" } else { "bar" };
                format!("{kind}(cy={cy:.2},cx={cx:.2},θ={}°)", deg(theta))
            }
            Stroke::Arc { cy, cx, span, .. } if span > PI => format!("loop(cy={cy:.2},cx={cx:.2})"),
            Stroke::Arc { cy, cx, theta0, .. } => {
                format!("arc(cy={cy:.2},cx={cx:.2},θ0={}°)", deg(theta0))
            }
            Stroke::Blob { cy, cx, .. } => format!("blob(cy={cy:.2},cx={cx:.2})"),
        }
    }
}

/// The 120 strokes in the exact order of §5.19 (anchors are taken as contiguous slices).
fn strokes() -> Vec<Stroke> {
    let line = |cy, cx, theta, length, width, long| Stroke::Line { cy, cx, theta, length, width, long };
    let arc = |cy, cx, theta0, span| Stroke::Arc { cy, cx, radius: 0.34, theta0, span };
    let mut out = Vec::with_capacity(N_STROKES);
    for cy in [-0.55, -0.25, 0.05, 0.35, 0.62] {
        for cx in [-0.45, -0.18, 0.12, 0.42] {
            for theta in [0.0, FRAC_PI_2, FRAC_PI_4, -FRAC_PI_4] {
                out.push(line(cy, cx, theta, 0.65, 0.06, false));
            }
        }
    }
    for cy in [-0.62, -0.2, 0.18, 0.55] {
        out.push(line(cy, 0.0, 0.0, 0.9, 0.055, true));
    }
    for cx in [-0.42, -0.1, 0.18, 0.45] {
        out.push(line(0.0, cx, FRAC_PI_2, 0.95, 0.055, true));
    }
    for cy in [-0.28, 0.18] {
        for cx in [-0.22, 0.22] {
            for theta0 in [0.0, FRAC_PI_2, PI, -FRAC_PI_2] {
                out.push(arc(cy, cx, theta0, PI));
            }
            out.push(arc(cy, cx, 0.0, 2.0 * PI));
        }
    }
    for cy in [-0.62, -0.25, 0.15, 0.55] {
        for cx in [-0.48, 0.0, 0.48] {
            out.push(Stroke::Blob { cy, cx, sy: 0.12, sx: 0.12 });
        }
    }
    debug_assert_eq!(out.len(), N_STROKES);
    out
}

/// The stroke-template bank of SPEC §5.19 (`make_template_bank(n)`), used as anchors for
/// template-anchored decompositions: 120 bars, arcs, loops and blobs, each column
/// mean-subtracted and unit-norm, drawn on `shape`'s grid. For `n > 120` the bank is tiled
/// (column k is template `k mod 120`), as the reference does; returns the first `n` columns.
pub fn stroke_bank(shape: ImageShape, n: usize) -> Mat<f32> {
    let bank = strokes();
    let mut m = Mat::from_fn(shape.pixels(), N_STROKES, |p, k| {
        let (y, x) = shape.coords::<f32>(p);
        bank[k].value(y, x)
    });
    centre_normalise(&mut m);
    Mat::from_fn(shape.pixels(), n, |p, k| m[(p, k % N_STROKES)])
}

/// Human-readable names of the 120 stroke templates, in bank order (for component tables;
/// template `k` of a tiled bank is `stroke_names()[k % 120]`).
pub fn stroke_names() -> Vec<String> {
    strokes().iter().map(Stroke::name).collect()
}

// ---------------------------------------------------------------------------------------
// Gaussian locality masks (§5.17, §5.18)
// ---------------------------------------------------------------------------------------

/// One Gaussian mask `exp(−‖g_p − c‖²/(2σ²))` over the pixels of `shape`, divided by its
/// maximum (peak = 1). Generic so that tests can evaluate it in f64.
///
/// The Gaussian is separable, `exp(−(y−c_y)²/2σ²) · exp(−(x−c_x)²/2σ²)`, and so is its
/// maximum over the grid: `height + width` exponentials per mask instead of `height · width`.
fn gaussian_mask<T: Float>(shape: ImageShape, centre: [T; 2], sigma: T) -> Vec<T> {
    let two_var = T::from(2.0).unwrap() * sigma * sigma;
    let axis = |c: T, coords: Vec<T>| -> Vec<T> {
        coords
            .into_iter()
            .map(|v| {
                let d = v - c;
                (-(d * d) / two_var).exp()
            })
            .collect()
    };
    let ey = axis(centre[0], (0..shape.height).map(|i| shape.y(i)).collect());
    let ex = axis(centre[1], (0..shape.width).map(|i| shape.x(i)).collect());
    let peak = |e: &[T]| e.iter().fold(T::neg_infinity(), |a, &b| a.max(b));
    let max = peak(&ey) * peak(&ex);
    (0..shape.pixels()).map(|p| ey[p / shape.width] * ex[p % shape.width] / max).collect()
}

/// Bounded parameterisation of §5.18: `centre = 0.9·tanh(raw)`, `σ = 0.18 + 0.47·sigmoid(ℓ)`.
fn bounded<T: Float>(centre_raw: [T; 2], log_sigma: T) -> ([T; 2], T) {
    let c = |v: f64| T::from(v).unwrap();
    let centre = centre_raw.map(|u| c(0.9) * u.tanh());
    let sigmoid = T::one() / (T::one() + (-log_sigma).exp());
    (centre, c(0.18) + c(0.65 - 0.18) * sigmoid)
}

/// The learnable mask of one component as a function of its raw parameters (§5.18).
fn learnable_mask<T: Float>(shape: ImageShape, centre_raw: [T; 2], log_sigma: T) -> Vec<T> {
    let (centre, sigma) = bounded(centre_raw, log_sigma);
    gaussian_mask(shape, centre, sigma)
}

/// Fixed (non-learnable) locality masks of SPEC §5.17 (`make_masks(rank, sigma)`): component
/// r is centred at `(coords[r / side], coords[r % side])` with `coords = linspace(−0.75,
/// 0.75, side)`, `side = ceil(√rank)`; each column has peak 1. The same mask multiplies both
/// factors of a component.
pub fn fixed_masks(shape: ImageShape, rank: usize, sigma: f32) -> Mat<f32> {
    let mut m = Mat::zeros(shape.pixels(), rank);
    for (r, c) in grid_centres(rank, -0.75, 0.75).into_iter().enumerate() {
        for (p, v) in gaussian_mask(shape, c, sigma).into_iter().enumerate() {
            m[(p, r)] = v;
        }
    }
    m
}

/// Parameters of one side's learnable Gaussian masks (SPEC §5.18); the a- and b-factors
/// each own one. Raw parameters are unbounded; [`MaskParams::centres`] and
/// [`MaskParams::sigmas`] give the bounded values.
#[derive(Clone, Debug)]
pub struct MaskParams {
    /// `r × 2` raw centres, columns `(y, x)`; `centre = 0.9·tanh(centre_raw)`.
    pub centre_raw: Mat<f32>,
    /// Raw widths; `σ = 0.18 + 0.47·sigmoid(log_sigma)`.
    pub log_sigma: Mat<f32>,
}

impl MaskParams {
    /// The reference init (`init_centers`): centres on a row-major `linspace(−0.72, 0.72,
    /// side)` grid, first `rank`, rolled by `roll` (the b-side uses 3, so `centre_b[r] =
    /// centre_a[(r − 3) mod rank]`), stored as `atanh(clamp(c/0.9, ±0.95))`; σ = 0.415.
    pub fn init(rank: usize, roll: usize) -> MaskParams {
        let centres = grid_centres(rank, -0.72, 0.72);
        let centre_raw = Mat::from_fn(rank, 2, |r, k| {
            let c = centres[(r + rank - roll % rank) % rank][k];
            (c / 0.9).clamp(-0.95, 0.95).atanh()
        });
        MaskParams { centre_raw, log_sigma: Mat::zeros(rank, 1) }
    }

    /// Number of components.
    pub fn rank(&self) -> usize {
        self.log_sigma.nrows()
    }

    fn raw(&self, r: usize) -> [f32; 2] {
        [self.centre_raw[(r, 0)], self.centre_raw[(r, 1)]]
    }

    /// Bounded centres `(y, x)`, in `(−0.9, 0.9)`.
    pub fn centres(&self) -> Vec<[f32; 2]> {
        (0..self.rank()).map(|r| bounded(self.raw(r), self.log_sigma[(r, 0)]).0).collect()
    }

    /// Bounded widths σ, in `(0.18, 0.65)`.
    pub fn sigmas(&self) -> Vec<f32> {
        (0..self.rank()).map(|r| bounded(self.raw(r), self.log_sigma[(r, 0)]).1).collect()
    }

    /// The masks on `shape`'s pixels (`pixels × r`), each column divided by its maximum (peak 1).
    pub fn masks(&self, shape: ImageShape) -> Mat<f32> {
        let mut m = Mat::zeros(shape.pixels(), self.rank());
        for r in 0..self.rank() {
            let col = learnable_mask(shape, self.raw(r), self.log_sigma[(r, 0)]);
            crate::linalg::col_mut(m.as_mut(), r).copy_from_slice(&col);
        }
        m
    }

    /// Gradients `(∂L/∂centre_raw (r × 2), ∂L/∂log_sigma (r))` from `upstream = ∂L/∂masks`
    /// (`pixels × r`), exactly as PyTorch autograd differentiates [`MaskParams::masks`]: the
    /// max-normaliser is the value at the argmax pixel q, so with `m_p = e_p/e_q`,
    /// `∂m_p/∂c = m_p (g_p − g_q)/σ²` and `∂m_p/∂σ = m_p (d_p² − d_q²)/σ³`. Computed in
    /// f64. (At exact ties of the max, `amax` would split the gradient; those have measure 0.)
    pub fn backward(&self, shape: ImageShape, upstream: MatRef<'_, f32>) -> (Mat<f32>, Mat<f32>) {
        assert_eq!((upstream.nrows(), upstream.ncols()), (shape.pixels(), self.rank()));
        let mut d_centre = Mat::zeros(self.rank(), 2);
        let mut d_log_sigma = Mat::zeros(self.rank(), 1);
        for r in 0..self.rank() {
            let raw = self.raw(r).map(f64::from);
            let ls = self.log_sigma[(r, 0)] as f64;
            let ([cy, cx], sigma) = bounded(raw, ls);
            let m = learnable_mask(shape, raw, ls);
            let q = (0..m.len()).fold(0, |best, p| if m[p] > m[best] { p } else { best });
            let (yq, xq) = shape.coords::<f64>(q);
            let d2q = (yq - cy).powi(2) + (xq - cx).powi(2);
            let (mut gy, mut gx, mut gs) = (0.0, 0.0, 0.0);
            for (p, (&u, &mp)) in upstream.col(r).iter().zip(&m).enumerate() {
                let (y, x) = shape.coords::<f64>(p);
                let g = u as f64 * mp;
                gy += g * (y - yq);
                gx += g * (x - xq);
                gs += g * ((y - cy).powi(2) + (x - cx).powi(2) - d2q);
            }
            let s2 = sigma * sigma;
            // Chain rule through 0.9·tanh and 0.18 + 0.47·sigmoid.
            let dtanh = raw.map(|u| 0.9 * (1.0 - u.tanh().powi(2)));
            let sig = 1.0 / (1.0 + (-ls).exp());
            d_centre[(r, 0)] = (gy / s2 * dtanh[0]) as f32;
            d_centre[(r, 1)] = (gx / s2 * dtanh[1]) as f32;
            d_log_sigma[(r, 0)] = (gs / (s2 * sigma) * 0.47 * sig * (1.0 - sig)) as f32;
        }
        (d_centre, d_log_sigma)
    }
}

// ---------------------------------------------------------------------------------------
// Data-derived bank (§5.20)
// ---------------------------------------------------------------------------------------

/// Names of the data bank's columns, in [`data_bank`] order.
pub fn data_bank_names(n_classes: usize, pca_dims: usize) -> Vec<String> {
    let mut out: Vec<String> = (0..n_classes).map(|c| format!("mean({c})")).collect();
    for i in 0..n_classes {
        for j in i + 1..n_classes {
            out.push(format!("mean({i})−mean({j})"));
            out.push(format!("mean({j})−mean({i})"));
        }
    }
    out.extend((0..pca_dims).map(|k| format!("pc{}", k + 1)));
    out
}

/// The data-derived anchor bank of SPEC §5.20 (`make_data_bank`), an alternative to the
/// stroke bank built from the training set: the `n_classes` class-mean images, then for
/// every pair `i < j` (lexicographic) `mean_i − mean_j` and `mean_j − mean_i`, then the
/// top `pca_dims` principal directions (decreasing variance) of `pca_images` seeded random
/// images (all of them if fewer exist), centred by their mean. Every column is centred
/// (pixel mean subtracted) and unit-norm. `images` is `n × pixels`, one image per row.
///
/// Differences from the reference: the PCA is exact (eigenvectors of the f64 covariance,
/// not the randomised `pca_lowrank`), and each direction's sign is fixed so its
/// largest-|·| entry is positive. Note that centring the PCA columns makes them
/// non-orthogonal unless they are already orthogonal to the constant image. The reference
/// truncates this bank to 96 columns (10 means + 86 differences), so its PCA part is never
/// used; bilens callers choose how many columns to take.
pub fn data_bank(
    images: MatRef<'_, f32>,
    labels: &[u8],
    n_classes: usize,
    pca_images: usize,
    pca_dims: usize,
    seed: u64,
) -> Result<Mat<f32>> {
    let (n, pixels) = (images.nrows(), images.ncols());
    ensure!(labels.len() == n, "data_bank: {} labels for {n} images", labels.len());
    ensure!(pca_dims <= pixels, "data_bank: pca_dims {pca_dims} exceeds the {pixels} pixels");
    ensure!(pca_dims == 0 || n > 0, "data_bank: no images for the PCA");

    let mut sums = vec![vec![0.0f64; pixels]; n_classes];
    let mut counts = vec![0usize; n_classes];
    for (i, &label) in labels.iter().enumerate() {
        let c = label as usize;
        ensure!(c < n_classes, "data_bank: label {c} of image {i} is not below {n_classes}");
        counts[c] += 1;
        for (p, s) in sums[c].iter_mut().enumerate() {
            *s += images[(i, p)] as f64;
        }
    }
    if let Some(c) = counts.iter().position(|&k| k == 0) {
        bail!("data_bank: class {c} has no images, so its mean image is undefined");
    }
    let means: Vec<Vec<f64>> = sums.iter().zip(&counts).map(|(s, &k)| s.iter().map(|v| v / k as f64).collect()).collect();

    let mut cols: Vec<Vec<f64>> = means.clone();
    for i in 0..n_classes {
        for j in i + 1..n_classes {
            cols.push((0..pixels).map(|p| means[i][p] - means[j][p]).collect());
            cols.push((0..pixels).map(|p| means[j][p] - means[i][p]).collect());
        }
    }
    cols.extend(principal_directions(images, pca_images.min(n), pca_dims, seed)?);

    let mut bank = Mat::from_fn(pixels, cols.len(), |p, k| cols[k][p] as f32);
    centre_normalise(&mut bank);
    Ok(bank)
}

/// Top `dims` principal directions of `k` seeded random rows of `images` (centred by their
/// mean), from the f64 covariance's eigenvectors; sign fixed so the largest-|·| entry is > 0.
fn principal_directions(images: MatRef<'_, f32>, k: usize, dims: usize, seed: u64) -> Result<Vec<Vec<f64>>> {
    if dims == 0 {
        return Ok(Vec::new());
    }
    let pixels = images.ncols();
    let pick = rand::seq::index::sample(&mut rng(seed), images.nrows(), k).into_vec();
    let mut x = Mat::from_fn(k, pixels, |i, p| images[(pick[i], p)] as f64);
    for p in 0..pixels {
        let mean = x.col(p).iter().sum::<f64>() / k as f64;
        x.col_mut(p).iter_mut().for_each(|v| *v -= mean);
    }
    let mut cov = Mat::<f64>::zeros(pixels, pixels);
    matmul(cov.as_mut(), Accum::Replace, x.transpose(), x.as_ref(), 1.0, par());
    let eig = decomposed(|| cov.self_adjoint_eigen(Side::Lower))
        .map_err(|e| anyhow::anyhow!("data_bank: covariance eigendecomposition failed: {e:?}"))?;
    // Eigenvalues are ascending: the last `dims` columns, reversed.
    Ok((0..dims)
        .map(|d| {
            let mut v: Vec<f64> = eig.U().col(pixels - 1 - d).iter().copied().collect();
            let peak = v.iter().fold(0.0f64, |a, &b| if b.abs() > a.abs() { b } else { a });
            if peak < 0.0 {
                v.iter_mut().for_each(|e| *e = -*e);
            }
            v
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::randn;

    const SIDE: usize = 28;
    const PIXELS: usize = SIDE * SIDE;
    const MNIST: ImageShape = ImageShape::MNIST;

    fn argmax(col: impl Iterator<Item = f32>) -> usize {
        col.enumerate().fold((0, f32::NEG_INFINITY), |b, (i, v)| if v > b.1 { (i, v) } else { b }).0
    }

    /// Pixel (row, col) nearest to grid point (y, x).
    fn nearest_pixel(y: f32, x: f32) -> (usize, usize) {
        let at = |v: f32| ((v + 1.0) * 27.0 / 2.0).round() as usize;
        (at(y), at(x))
    }

    /// Second moments of a template's energy along rows and along columns.
    fn spread(m: &Mat<f32>, k: usize) -> (f64, f64) {
        let w: Vec<f64> = m.col(k).iter().map(|&v| (v as f64).max(0.0)).collect();
        let total: f64 = w.iter().sum();
        let moment = |f: &dyn Fn(usize) -> f64| {
            let mean = (0..PIXELS).map(|p| w[p] * f(p)).sum::<f64>() / total;
            (0..PIXELS).map(|p| w[p] * (f(p) - mean).powi(2)).sum::<f64>() / total
        };
        (moment(&|p| (p / SIDE) as f64), moment(&|p| (p % SIDE) as f64))
    }

    #[test]
    fn stroke_bank_columns_are_centred_unit_norm() {
        let bank = stroke_bank(MNIST, N_STROKES);
        assert_eq!((bank.nrows(), bank.ncols()), (PIXELS, 120));
        for k in 0..120 {
            let mean = bank.col(k).iter().map(|&v| v as f64).sum::<f64>() / PIXELS as f64;
            let norm = bank.col(k).iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            assert!(mean.abs() < 1e-6, "column {k} mean {mean}");
            assert!((norm - 1.0).abs() < 1e-5, "column {k} norm {norm}");
        }
        let names = stroke_names();
        assert_eq!(names.len(), 120);
        assert_eq!(names[0], "bar(cy=-0.55,cx=-0.45,θ=0°)");
        assert!(names[84].starts_with("longbar(") && names[84].ends_with("θ=90°)"));
        assert!(names[88].starts_with("arc(") && names[92].starts_with("loop("));
        assert_eq!(names[108], "blob(cy=-0.62,cx=-0.48)");
    }

    #[test]
    fn stroke_bank_index_ranges() {
        let bank = stroke_bank(MNIST, N_STROKES);
        // Column 0: horizontal bar at (−0.55, −0.45).
        let p0 = argmax(bank.col(0).iter().copied());
        assert_eq!((p0 / SIDE, p0 % SIDE), nearest_pixel(-0.55, -0.45));
        let (rows, cols) = spread(&bank, 0);
        assert!(cols > 4.0 * rows, "column 0 should be horizontal: {rows} {cols}");
        // Column 1: same place, vertical.
        let (rows, cols) = spread(&bank, 1);
        assert!(rows > 4.0 * cols, "column 1 should be vertical: {rows} {cols}");
        // 80–83 long horizontal, 84–87 long vertical.
        for k in 80..84 {
            let (rows, cols) = spread(&bank, k);
            assert!(cols > 4.0 * rows, "column {k}");
        }
        for k in 84..88 {
            let (rows, cols) = spread(&bank, k);
            assert!(rows > 4.0 * cols, "column {k}");
        }
        // 108: blob at (−0.62, −0.48); 119: blob at (0.55, 0.48).
        for (k, y, x) in [(108, -0.62, -0.48), (119, 0.55, 0.48)] {
            let p = argmax(bank.col(k).iter().copied());
            assert_eq!((p / SIDE, p % SIDE), nearest_pixel(y, x), "blob {k}");
        }
    }

    #[test]
    fn stroke_bank_tiles_beyond_120() {
        let bank = stroke_bank(MNIST, 130);
        assert_eq!(bank.ncols(), 130);
        assert_eq!(bank.col(125), bank.col(5));
        assert_eq!(stroke_bank(MNIST, 7).col(6), bank.col(6));
    }

    #[test]
    fn fixed_masks_peak_on_grid() {
        let masks = fixed_masks(MNIST, 64, 0.3);
        assert_eq!((masks.nrows(), masks.ncols()), (PIXELS, 64));
        let coords = linspace(-0.75, 0.75, 8);
        for r in 0..64 {
            let max = masks.col(r).iter().fold(f32::MIN, |a, &b| a.max(b));
            assert_eq!(max, 1.0);
            let p = argmax(masks.col(r).iter().copied());
            assert_eq!((p / SIDE, p % SIDE), nearest_pixel(coords[r / 8], coords[r % 8]), "mask {r}");
        }
        assert!((coords[0] + 0.75).abs() < 1e-7 && (coords[7] - 0.75).abs() < 1e-7);
    }

    #[test]
    fn learnable_masks_init() {
        let a = MaskParams::init(64, 0);
        let b = MaskParams::init(64, 3);
        let coords = linspace(-0.72, 0.72, 8);
        let (ca, cb) = (a.centres(), b.centres());
        for r in 0..64 {
            assert!((ca[r][0] - coords[r / 8]).abs() < 1e-6 && (ca[r][1] - coords[r % 8]).abs() < 1e-6);
            assert_eq!(cb[r], ca[(r + 64 - 3) % 64]);
        }
        assert!(a.sigmas().iter().all(|&s| (s - 0.415).abs() < 1e-6));
        let m = a.masks(MNIST);
        for r in 0..64 {
            let max = m.col(r).iter().fold(f32::MIN, |x, &y| x.max(y));
            assert!((max - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn learnable_mask_backward_matches_f64_finite_differences() {
        let mut g = rng(7);
        let rank = 6;
        let mut params = MaskParams::init(rank, 3);
        let noise = randn(&mut g, rank, 3, 0.4);
        for r in 0..rank {
            params.centre_raw[(r, 0)] += noise[(r, 0)];
            params.centre_raw[(r, 1)] += noise[(r, 1)];
            params.log_sigma[(r, 0)] += 2.0 * noise[(r, 2)];
        }
        let upstream = randn(&mut g, PIXELS, rank, 1.0);
        let (d_centre, d_log_sigma) = params.backward(MNIST, upstream.as_ref());

        // L = Σ upstream ⊙ masks; component r's loss only depends on its own parameters.
        let loss = |r: usize, raw: [f64; 2], ls: f64| -> f64 {
            let m = learnable_mask(MNIST, raw, ls);
            (0..PIXELS).map(|p| upstream[(p, r)] as f64 * m[p]).sum()
        };
        let h = 1e-6;
        for r in 0..rank {
            let raw = [params.centre_raw[(r, 0)] as f64, params.centre_raw[(r, 1)] as f64];
            let ls = params.log_sigma[(r, 0)] as f64;
            let mut checks = Vec::new();
            for k in 0..2 {
                let (mut plus, mut minus) = (raw, raw);
                plus[k] += h;
                minus[k] -= h;
                checks.push((d_centre[(r, k)], (loss(r, plus, ls) - loss(r, minus, ls)) / (2.0 * h)));
            }
            checks.push((d_log_sigma[(r, 0)], (loss(r, raw, ls + h) - loss(r, raw, ls - h)) / (2.0 * h)));
            for (analytic, fd) in checks {
                let rel = (analytic as f64 - fd).abs() / fd.abs().max(1e-3);
                assert!(rel < 1e-5, "component {r}: analytic {analytic} vs fd {fd} (rel {rel:e})");
            }
        }
    }

    /// 40 synthetic images (4 per class); each image has zero pixel mean so that the
    /// principal directions are orthogonal to the constant image and survive centring.
    fn synthetic_set() -> (Mat<f32>, Vec<u8>) {
        let mut x = randn(&mut rng(3), 40, PIXELS, 1.0);
        for i in 0..40 {
            let mean = x.row(i).iter().sum::<f32>() / PIXELS as f32;
            x.row_mut(i).iter_mut().for_each(|v| *v -= mean);
        }
        (x, (0..40).map(|i| (i % 10) as u8).collect())
    }

    #[test]
    fn data_bank_layout_and_pca() {
        let (x, labels) = synthetic_set();
        let bank = data_bank(x.as_ref(), &labels, 10, 40, 6, 11).unwrap();
        assert_eq!(bank.ncols(), 10 + 90 + 6);
        for k in 0..bank.ncols() {
            let norm = bank.col(k).iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "column {k} norm {norm}");
        }
        // Column 0 ∝ centred class-0 mean.
        let mut mean0: Vec<f64> = (0..PIXELS).map(|p| (0..40).step_by(10).map(|i| x[(i, p)] as f64).sum::<f64>()).collect();
        let mu = mean0.iter().sum::<f64>() / PIXELS as f64;
        mean0.iter_mut().for_each(|v| *v -= mu);
        let norm0 = mean0.iter().map(|v| v * v).sum::<f64>().sqrt();
        let cos: f64 = (0..PIXELS).map(|p| bank[(p, 0)] as f64 * mean0[p] / norm0).sum();
        assert!((cos - 1.0).abs() < 1e-5, "cos {cos}");
        // Column 10 = mean_0 − mean_1, column 11 its negation.
        for p in 0..PIXELS {
            assert!((bank[(p, 10)] + bank[(p, 11)]).abs() < 1e-6);
        }
        // PCA columns: orthonormal, variance non-increasing.
        let pca = bank.as_ref().subcols(100, 6);
        let variance = |k: usize| {
            let proj = crate::linalg::mul(x.as_ref(), pca.col(k).as_mat());
            let mean = proj.col(0).iter().map(|&v| v as f64).sum::<f64>() / 40.0;
            proj.col(0).iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>()
        };
        for a in 0..6 {
            for b in a + 1..6 {
                let dot: f64 = (0..PIXELS).map(|p| pca[(p, a)] as f64 * pca[(p, b)] as f64).sum();
                assert!(dot.abs() < 1e-4, "pca {a}·{b} = {dot}");
            }
            if a > 0 {
                assert!(variance(a) <= variance(a - 1) * (1.0 + 1e-4));
            }
            let peak = argmax(pca.col(a).iter().map(|v| v.abs()));
            assert!(pca[(peak, a)] > 0.0);
        }
        // Deterministic in the seed.
        assert_eq!(bank, data_bank(x.as_ref(), &labels, 10, 40, 6, 11).unwrap());
    }

    #[test]
    fn data_bank_rejects_empty_class() {
        let (x, mut labels) = synthetic_set();
        labels.iter_mut().filter(|l| **l == 7).for_each(|l| *l = 0);
        let err = data_bank(x.as_ref(), &labels, 10, 40, 4, 0).unwrap_err();
        assert!(err.to_string().contains("class 7"), "{err}");
    }
}
