//! Differentiable image-space operations used as priors on pattern columns (SPEC §5.1, §5.3–§5.5,
//! §5.10–§5.12).
//!
//! Layout: a block of `n` images is one column-major slice, one image of `h × w` pixels per column,
//! each image row-major (pixel `p = w·row + col`, SPEC §0).
//!
//! Gradients: a value function returns its value as `f64` and takes a [`Grad`]; given
//! `Some((weight, g))` it *adds* `weight · ∂value/∂input` into `g`, so several priors can
//! accumulate into one buffer. `|·|` uses the subgradient `sign(0) = 0`, as PyTorch does.
//! Means over zero entries (an empty block) are 0 rather than PyTorch's NaN (SPEC §13.18).
//!
//! Length mismatches are programming errors and panic.

use num_traits::Float as Real;

/// The float types the operations run in (`f32` in fits, `f64` in tests and checks); `Send` and
/// `Sync` so that images of a block can be processed side by side.
pub trait Float: Real + Send + Sync {}
impl<T: Real + Send + Sync> Float for T {}

/// Shape of a block of `n` images of `h × w` pixels stored one per column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Images {
    pub h: usize,
    pub w: usize,
    pub n: usize,
}

impl Images {
    /// `n` images of `shape`.
    pub fn of(shape: super::ImageShape, n: usize) -> Self {
        Self { h: shape.height, w: shape.width, n }
    }

    /// Pixels per image (the column length).
    pub fn pixels(&self) -> usize {
        self.h * self.w
    }

    /// Values in the whole block.
    pub fn len(&self) -> usize {
        self.pixels() * self.n
    }

    /// Whether the block holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn check(&self, len: usize) {
        assert!(self.pixels() > 0, "images need at least one pixel, got {self:?}");
        assert_eq!(len, self.len(), "slice of {len} values does not match {self:?}");
    }

    /// Reflect padding and finite differences need at least two rows and two columns.
    fn check_spatial(&self, len: usize) {
        self.check(len);
        assert!(self.h >= 2 && self.w >= 2, "spatial image operations need images of at least 2×2 pixels, got {self:?}");
    }
}

/// Optional gradient request: `(weight, g)` adds `weight · ∂value/∂input` into `g`.
pub type Grad<'a, T> = Option<(T, &'a mut [T])>;

fn cast<T: Float>(v: f64) -> T {
    T::from(v).expect("f64 value representable in T")
}

fn to_f64<T: Float>(v: T) -> f64 {
    v.to_f64().expect("T value representable in f64")
}

/// Sign with `sign(0) = 0` (PyTorch's subgradient of `|·|`); `Float::signum(0) = 1` would not do.
fn sign<T: Float>(v: T) -> T {
    if v > T::zero() {
        T::one()
    } else if v < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
}

/// A shorter-lived copy of a gradient request, so one request can feed several terms.
fn reborrow<'a, T: Copy>(grad: &'a mut Grad<'_, T>) -> Grad<'a, T> {
    grad.as_mut().map(|(weight, g)| (*weight, &mut **g))
}

fn check_grad<T>(grad: &Grad<'_, T>, len: usize) {
    if let Some((_, g)) = grad {
        assert_eq!(g.len(), len, "gradient buffer length does not match the input");
    }
}

fn add_into<T: Float>(g: &mut [T], update: &[T]) {
    for (gi, &ui) in g.iter_mut().zip(update) {
        *gi = *gi + ui;
    }
}

type Kernel = [[f64; 3]; 3];

const BOX: Kernel = [[1.0 / 9.0; 3]; 3];
const LAPLACE: Kernel = [[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]];

/// Index `i` reflected into `0..n` without repeating the edge (PyTorch `mode="reflect"`):
/// `−1 → 1`, `n → n − 2`.
fn reflect(i: isize, n: usize) -> usize {
    if i < 0 {
        i.unsigned_abs()
    } else if i as usize >= n {
        2 * (n - 1) - i as usize
    } else {
        i as usize
    }
}

/// Reflect-pad every image by one pixel and correlate it with `kernel` (stride 1, same size);
/// with `adjoint` apply the transpose of that linear map instead.
///
/// Both directions go through a padded copy of the image, so that every tap is one pass over
/// whole rows with no edge cases: forward, reflect-pad then correlate; adjoint, correlate the
/// zero-padded gradient with the flipped kernel onto the padded grid, then fold the padding
/// back onto the pixels it reflects.
fn stencil<T: Float>(x: &[T], shape: Images, kernel: &Kernel, adjoint: bool) -> Vec<T> {
    // Compiled once more with the machine's vector instructions (AVX-512 or AVX2 where
    // present): the row loops below then vectorise sixteen or eight floats wide.
    struct Op<'a, T> {
        x: &'a [T],
        shape: Images,
        kernel: &'a Kernel,
        adjoint: bool,
    }
    impl<T: Float> faer::traits::pulp::WithSimd for Op<'_, T> {
        type Output = Vec<T>;
        #[inline(always)]
        fn with_simd<S: faer::traits::pulp::Simd>(self, _: S) -> Vec<T> {
            stencil_impl(self.x, self.shape, self.kernel, self.adjoint)
        }
    }
    faer::traits::pulp::Arch::new().dispatch(Op { x, shape, kernel, adjoint })
}

#[inline(always)]
fn stencil_impl<T: Float>(x: &[T], shape: Images, kernel: &Kernel, adjoint: bool) -> Vec<T> {
    let (h, w) = (shape.h, shape.w);
    let k: [[T; 3]; 3] = kernel.map(|row| row.map(cast));
    let mut out = vec![T::zero(); x.len()];
    let (ph, pw) = (h + 2, w + 2);
    let mut pad = vec![T::zero(); ph * pw];
    let mut wide = vec![T::zero(); (h + 4) * (w + 4)];
    for (src, dst) in x.chunks_exact(h * w).zip(out.chunks_exact_mut(h * w)) {
        if adjoint {
            // Zero-padded by two: row i of `src` is row i + 2 of `wide`.
            for (r, row) in src.chunks_exact(w).enumerate() {
                wide[(r + 2) * (w + 4) + 2..][..w].copy_from_slice(row);
            }
            // pad[i][j] = Σ_ab k[a][b] · wide[i − a + 2][j − b + 2]: the gradient of the padded image.
            for (i, prow) in pad.chunks_exact_mut(pw).enumerate() {
                prow.fill(T::zero());
                for (a, k_row) in k.iter().enumerate() {
                    let wrow = &wide[(i + 2 - a) * (w + 4)..][..w + 4];
                    for (b, &kv) in k_row.iter().enumerate() {
                        if kv != T::zero() {
                            for (p, &g) in prow.iter_mut().zip(&wrow[2 - b..2 - b + pw]) {
                                *p = *p + kv * g;
                            }
                        }
                    }
                }
                // Fold the padded columns: column −1 reflects column 1, column w column w − 2.
                prow[2] = prow[2] + prow[0];
                prow[w - 1] = prow[w - 1] + prow[w + 1];
            }
            for (r, drow) in dst.chunks_exact_mut(w).enumerate() {
                drow.copy_from_slice(&pad[(r + 1) * pw + 1..][..w]);
            }
            // Fold the padded rows: row −1 reflects row 1, row h row h − 2.
            for (target, padded) in [(1, 0), (h - 2, h + 1)] {
                let prow = &pad[padded * pw + 1..][..w];
                for (d, &p) in dst[target * w..][..w].iter_mut().zip(prow) {
                    *d = *d + p;
                }
            }
        } else {
            for (i, prow) in pad.chunks_exact_mut(pw).enumerate() {
                let srow = &src[reflect(i as isize - 1, h) * w..][..w];
                prow[1..=w].copy_from_slice(srow);
                prow[0] = srow[1];
                prow[w + 1] = srow[w - 2];
            }
            for (r, drow) in dst.chunks_exact_mut(w).enumerate() {
                for (a, k_row) in k.iter().enumerate() {
                    let prow = &pad[(r + a) * pw..][..pw];
                    for (b, &kv) in k_row.iter().enumerate() {
                        if kv != T::zero() {
                            for (d, &v) in drow.iter_mut().zip(&prow[b..b + w]) {
                                *d = *d + kv * v;
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

/// Box smoothing `avg_smooth` (SPEC §5.3): `passes` rounds of a reflect-padded 3×3 mean;
/// `passes = 0` is the identity. Priors act on smoothed raw factors through this map.
pub fn smooth<T: Float>(x: &[T], shape: Images, passes: usize) -> Vec<T> {
    shape.check_spatial(x.len());
    (0..passes).fold(x.to_vec(), |y, _| stencil(&y, shape, &BOX, false))
}

/// Transpose of [`smooth`], to back-propagate a gradient on smoothed images to the raw ones
/// (reflect padding makes the map non-symmetric, so this differs from `smooth`).
pub fn smooth_adjoint<T: Float>(g: &[T], shape: Images, passes: usize) -> Vec<T> {
    shape.check_spatial(g.len());
    (0..passes).fold(g.to_vec(), |y, _| stencil(&y, shape, &BOX, true))
}

/// Mean of `|x[p + step] − x[p]|` over `p = w·row + col`, `row < rows`, `col < cols`, in every image.
fn mean_abs_diff<T: Float>(x: &[T], shape: Images, (rows, cols, step): (usize, usize, usize), mut grad: Grad<'_, T>) -> f64 {
    let count = shape.n * rows * cols;
    if count == 0 {
        return 0.0;
    }
    let inv: T = cast(1.0 / count as f64);
    let w = shape.w;
    // Sums in four f64 lanes, so that the loop vectorises.
    let mut lanes = [0.0f64; 4];
    let mut signs = vec![T::zero(); cols];
    for (image, x) in x.chunks_exact(shape.pixels()).enumerate() {
        for row in 0..rows {
            let (a, b) = (&x[w * row..][..cols], &x[w * row + step..][..cols]);
            for (c, (&a, &b)) in a.iter().zip(b).enumerate() {
                lanes[c % 4] += to_f64(b - a).abs();
            }
            if let Some((weight, g)) = grad.as_mut() {
                let s = *weight * inv;
                for ((sg, &a), &b) in signs.iter_mut().zip(a).zip(b) {
                    *sg = s * sign(b - a);
                }
                let g = &mut g[image * shape.pixels() + w * row..][..step + cols];
                if step >= cols {
                    // Disjoint pixel runs (vertical differences).
                    let (lo, hi) = g.split_at_mut(step);
                    for ((l, h), &sg) in lo[..cols].iter_mut().zip(&mut hi[..cols]).zip(&signs) {
                        *h = *h + sg;
                        *l = *l - sg;
                    }
                } else {
                    for (c, &sg) in signs.iter().enumerate() {
                        g[c + step] = g[c + step] + sg;
                        g[c] = g[c] - sg;
                    }
                }
            }
        }
    }
    lanes.iter().sum::<f64>() / count as f64
}

/// Anisotropic L1 total variation (SPEC §5.4): mean vertical plus mean horizontal absolute
/// neighbour difference, a smoothness prior and the `display_tv` metric (§8.10).
pub fn total_variation<T: Float>(x: &[T], shape: Images, mut grad: Grad<'_, T>) -> f64 {
    shape.check_spatial(x.len());
    check_grad(&grad, x.len());
    let (h, w) = (shape.h, shape.w);
    let vertical = mean_abs_diff(x, shape, (h - 1, w, w), reborrow(&mut grad));
    let horizontal = mean_abs_diff(x, shape, (h, w - 1, 1), grad);
    vertical + horizontal
}

/// Laplacian prior (SPEC §5.5): mean `|Δx|` with the reflect-padded 5-point stencil; penalises
/// curvature rather than edges.
pub fn laplacian<T: Float>(x: &[T], shape: Images, grad: Grad<'_, T>) -> f64 {
    shape.check_spatial(x.len());
    check_grad(&grad, x.len());
    let y = stencil(x, shape, &LAPLACE, false);
    let value = mean_abs(&y, None);
    if let Some((weight, g)) = grad {
        let mut gy = vec![T::zero(); y.len()];
        mean_abs(&y, Some((weight, &mut gy)));
        add_into(g, &stencil(&gy, shape, &LAPLACE, true));
    }
    value
}

/// L1 prior as `mean |x|` over all entries (display/raw L1 and head L1 of SPEC §5).
pub fn mean_abs<T: Float>(x: &[T], mut grad: Grad<'_, T>) -> f64 {
    check_grad(&grad, x.len());
    if x.is_empty() {
        return 0.0;
    }
    let inv: T = cast(1.0 / x.len() as f64);
    if let Some((weight, g)) = grad.as_mut() {
        for (gi, &xi) in g.iter_mut().zip(x) {
            *gi = *gi + *weight * inv * sign(xi);
        }
    }
    x.iter().map(|&v| to_f64(v).abs()).sum::<f64>() / x.len() as f64
}

/// L2 prior as `mean x²` over all entries (deformation and residual-branch penalties).
pub fn mean_square<T: Float>(x: &[T], mut grad: Grad<'_, T>) -> f64 {
    check_grad(&grad, x.len());
    if x.is_empty() {
        return 0.0;
    }
    let two_inv: T = cast(2.0 / x.len() as f64);
    if let Some((weight, g)) = grad.as_mut() {
        for (gi, &xi) in g.iter_mut().zip(x) {
            *gi = *gi + *weight * two_inv * xi;
        }
    }
    x.iter().map(|&v| to_f64(v).powi(2)).sum::<f64>() / x.len() as f64
}

/// Border penalty (SPEC §5.11): mean of `x_p² · (xx_p² + yy_p²)` on the `[−1, 1]` grid of §0,
/// pushing pattern energy towards the image centre.
pub fn border<T: Float>(x: &[T], shape: Images, mut grad: Grad<'_, T>) -> f64 {
    shape.check_spatial(x.len());
    check_grad(&grad, x.len());
    let (h, w) = (shape.h, shape.w);
    let coord = |i: usize, n: usize| -1.0 + 2.0 * i as f64 / (n - 1) as f64;
    let dist: Vec<f64> = (0..h * w).map(|p| coord(p / w, h).powi(2) + coord(p % w, w).powi(2)).collect();
    let inv = 1.0 / x.len().max(1) as f64;
    let mut sum = 0.0;
    for (i, &xi) in x.iter().enumerate() {
        let d = dist[i % (h * w)];
        sum += to_f64(xi).powi(2) * d;
        if let Some((weight, g)) = grad.as_mut() {
            g[i] = g[i] + *weight * cast::<T>(2.0 * d * inv) * xi;
        }
    }
    sum * inv
}

/// Zero-padded 3×3 mean of one image, in f64 (symmetric as a linear map, so it is its own
/// adjoint), computed separably: sums of three along each row, then of three rows. Each sum
/// is `(centre + before) + after` (one neighbour at the edges), over whole slices so that
/// the loops vectorise.
fn box_zero_padded(x: &[f64], h: usize, w: usize) -> Vec<f64> {
    // Three-term sums of `mid` with its neighbours `before` and `after` (absent at the edges).
    fn sum3(out: &mut [f64], before: Option<&[f64]>, mid: &[f64], after: Option<&[f64]>) {
        match (before, after) {
            (Some(b), Some(a)) => out.iter_mut().zip(mid).zip(b).zip(a).for_each(|(((o, m), b), a)| *o = (m + b) + a),
            (Some(n), None) | (None, Some(n)) => out.iter_mut().zip(mid).zip(n).for_each(|((o, m), n)| *o = m + n),
            (None, None) => out.copy_from_slice(mid),
        }
    }
    let mut across = vec![0.0; h * w];
    for (line, out) in x.chunks_exact(w).zip(across.chunks_exact_mut(w)) {
        if w == 1 {
            out[0] = line[0];
            continue;
        }
        out[0] = line[0] + line[1];
        out[w - 1] = line[w - 1] + line[w - 2];
        sum3(&mut out[1..w - 1], Some(&line[..w - 2]), &line[1..w - 1], Some(&line[2..]));
    }
    let mut out = vec![0.0; h * w];
    let row = |r: usize| &across[r * w..(r + 1) * w];
    for (r, o) in out.chunks_exact_mut(w).enumerate() {
        sum3(o, (r > 0).then(|| row(r - 1)), row(r), (r + 1 < h).then(|| row(r + 1)));
        o.iter_mut().for_each(|v| *v /= 9.0);
    }
    out
}

/// The mean of `value` over the non-zero images of `x`. `value(image, grad)` returns one
/// image's value and, given `Some((scale, g))`, adds `scale · ∂value/∂image` into that image's
/// gradient `g`, with `scale = weight / (non-zero images)`. Images run side by side on the
/// pool's threads; each owns its slice of the gradient and the values are summed in image order,
/// so the result does not depend on the thread count.
fn mean_over_images<T: Float>(
    x: &[T],
    shape: Images,
    grad: Grad<'_, T>,
    value: impl Fn(&[T], Option<(f64, &mut [T])>) -> f64 + Sync,
) -> f64 {
    use rayon::prelude::*;
    shape.check(x.len());
    check_grad(&grad, x.len());
    let pixels = shape.pixels();
    if pixels == 0 {
        return 0.0;
    }
    let live: Vec<bool> = x.chunks_exact(pixels).map(|image| column_norm(image) > NORM_EPS).collect();
    let n_live = live.iter().filter(|&&l| l).count();
    if n_live == 0 {
        return 0.0;
    }
    let values: Vec<f64> = match grad {
        Some((weight, g)) => {
            let scale = to_f64(weight) / n_live as f64;
            x.par_chunks_exact(pixels)
                .zip(g.par_chunks_exact_mut(pixels))
                .zip(&live)
                .with_min_len(8)
                .map(|((image, g), &l)| if l { value(image, Some((scale, g))) } else { 0.0 })
                .collect()
        }
        None => x.par_chunks_exact(pixels).zip(&live).with_min_len(8).map(|(image, &l)| if l { value(image, None) } else { 0.0 }).collect(),
    };
    values.iter().sum::<f64>() / n_live as f64
}

/// Mean coherence of the non-zero images: `‖K p‖² / ‖p‖²` with `K` the zero-padded 3×3 mean,
/// the share of an image's energy that is smooth at the scale of strokes (uniform 28×28 0.92,
/// a single pixel or white noise about 1/9). Gradient `2(KKp − r p)/‖p‖²` per image.
pub fn coherence<T: Float>(x: &[T], shape: Images, grad: Grad<'_, T>) -> f64 {
    let (h, w) = (shape.h, shape.w);
    mean_over_images(x, shape, grad, |image, grad| {
        let p: Vec<f64> = image.iter().map(|&v| to_f64(v)).collect();
        let energy: f64 = p.iter().map(|v| v * v).sum();
        let kp = box_zero_padded(&p, h, w);
        let ratio = kp.iter().map(|v| v * v).sum::<f64>() / energy;
        if let Some((scale, g)) = grad {
            let kkp = box_zero_padded(&kp, h, w);
            let scale = scale * 2.0 / energy;
            for (gi, (a, b)) in g.iter_mut().zip(kkp.iter().zip(&p)) {
                *gi = *gi + cast::<T>(scale * (a - ratio * b));
            }
        }
        ratio
    })
}

/// Mean spread of the non-zero images: the variance of pixel position under the energy
/// distribution `e = p²/‖p‖²`, `Σ e_i ‖x_i − μ‖²` with `μ = Σ e_i x_i`, divided by that of a
/// uniform image (`(h² − 1)/12 + (w² − 1)/12`): 0 for a single pixel, about 1 when the energy
/// is spread over the whole frame. A differentiable stand-in for locality. Gradient
/// `(2p_k/‖p‖²)(‖x_k − μ‖² − spread)` per image, before the division.
pub fn spread<T: Float>(x: &[T], shape: Images, grad: Grad<'_, T>) -> f64 {
    let (h, w) = (shape.h, shape.w);
    let uniform = ((h * h) as f64 - 1.0) / 12.0 + ((w * w) as f64 - 1.0) / 12.0;
    // Energy per row and per column give the centre and the spread (the variance of the row
    // plus that of the column), without a pass per pixel for each.
    mean_over_images(x, shape, grad, |p, grad| {
        let (mut rows, mut cols) = (vec![0.0; h], vec![0.0; w]);
        for (line, row) in p.chunks_exact(w).zip(rows.iter_mut()) {
            for (&v, col) in line.iter().zip(cols.iter_mut()) {
                let e = to_f64(v) * to_f64(v);
                *row += e;
                *col += e;
            }
        }
        let energy: f64 = rows.iter().sum();
        let moments = |m: &[f64]| -> (f64, f64) {
            let mean = m.iter().enumerate().map(|(i, e)| i as f64 * e).sum::<f64>() / energy;
            (mean, m.iter().enumerate().map(|(i, e)| (i as f64 - mean).powi(2) * e).sum::<f64>() / energy)
        };
        let ((mr, vr), (mc, vc)) = (moments(&rows), moments(&cols));
        let s = vr + vc;
        if let Some((scale, g)) = grad {
            let scale = scale * 2.0 / (energy * uniform);
            let dc: Vec<f64> = (0..w).map(|c| (c as f64 - mc).powi(2)).collect();
            for (r, (gline, line)) in g.chunks_exact_mut(w).zip(p.chunks_exact(w)).enumerate() {
                let dr = (r as f64 - mr).powi(2) - s;
                for ((gi, &v), dc) in gline.iter_mut().zip(line).zip(&dc) {
                    *gi = *gi + cast::<T>(scale * to_f64(v) * (dr + dc));
                }
            }
        }
        s / uniform
    })
}

/// Mean sign impurity of the non-zero images: the share `m/E` of each image's energy
/// `E = Σp²` held by its minority sign (`m = min(Σp₊², Σp₋²)`), 0 for a one-signed image, ½
/// for a balanced ±one; `1 − ` the sign-purity metric. Gradient per image
/// `2p_k (E·[k in the minority] − m)/E²`, before the mean (ties of the two signs are a kink).
pub fn sign_impurity<T: Float>(x: &[T], shape: Images, grad: Grad<'_, T>) -> f64 {
    mean_over_images(x, shape, grad, |p, grad| {
        let of_sign = |positive: bool| p.iter().map(|&v| to_f64(v)).filter(|&v| (v > 0.0) == positive).map(|v| v * v).sum::<f64>();
        let (pos, neg) = (of_sign(true), of_sign(false));
        let (energy, minority, minority_positive) = (pos + neg, pos.min(neg), pos < neg);
        if let Some((scale, g)) = grad {
            let scale = scale * 2.0 / (energy * energy);
            for (gi, &v) in g.iter_mut().zip(p) {
                let v = to_f64(v);
                let own = if (v > 0.0) == minority_positive { energy } else { 0.0 };
                *gi = *gi + cast::<T>(scale * v * (own - minority));
            }
        }
        minority / energy
    })
}

const NORM_EPS: f64 = 1e-8;

fn column_norm<T: Float>(col: &[T]) -> f64 {
    col.iter().map(|&v| to_f64(v).powi(2)).sum::<f64>().sqrt()
}

/// `normalize_columns` (SPEC §5.1): every column divided by `max(‖column‖₂, 1e-8)`, the unit-norm
/// view on which display metrics and the duplicate penalty are defined.
pub fn normalize_columns<T: Float>(x: &[T], shape: Images) -> Vec<T> {
    use rayon::prelude::*;
    shape.check(x.len());
    let mut out = x.to_vec();
    if shape.pixels() > 0 {
        out.par_chunks_exact_mut(shape.pixels()).with_min_len(16).for_each(|col| {
            let denom: T = cast(column_norm(col).max(NORM_EPS));
            col.iter_mut().for_each(|v| *v = *v / denom);
        });
    }
    out
}

/// Gradient w.r.t. `x` of a loss whose gradient w.r.t. `normalize_columns(x)` is `upstream`:
/// `(u − y·(yᵀu)) / ‖x‖` per column, or `u / 1e-8` where the norm is clamped.
pub fn normalize_columns_backward<T: Float>(x: &[T], upstream: &[T], shape: Images) -> Vec<T> {
    use rayon::prelude::*;
    shape.check(x.len());
    shape.check(upstream.len());
    let p = shape.pixels();
    let mut out = upstream.to_vec();
    if p == 0 {
        return out;
    }
    out.par_chunks_exact_mut(p).zip(x.par_chunks_exact(p)).with_min_len(16).for_each(|(u, col)| {
        let norm = column_norm(col);
        if norm > NORM_EPS {
            let inv = 1.0 / norm;
            let y_dot_u: f64 = col.iter().zip(u.iter()).map(|(&a, &b)| to_f64(a) * inv * to_f64(b)).sum();
            let (inv_t, proj): (T, T) = (cast(inv), cast(y_dot_u));
            u.iter_mut().zip(col).for_each(|(b, &a)| *b = (*b - a * inv_t * proj) * inv_t);
        } else {
            let inv: T = cast(1.0 / NORM_EPS);
            u.iter_mut().for_each(|b| *b = *b * inv);
        }
    });
    out
}

/// Duplicate (diversity) penalty (SPEC §5.12): `mean((NᵀN − I)²)` over the `n × n` Gram entries
/// of the column-normalised patterns `N`; discourages two components showing the same pattern.
pub fn duplicate<T: Float>(x: &[T], shape: Images, grad: Grad<'_, T>) -> f64 {
    shape.check(x.len());
    check_grad(&grad, x.len());
    let (p, n) = (shape.pixels(), shape.n);
    if n == 0 {
        return 0.0;
    }
    let normed = normalize_columns(x, shape);
    let cols: Vec<&[T]> = normed.chunks_exact(p).collect();
    // G = NᵀN − I, symmetric, row-major n × n.
    let mut gram = vec![0.0; n * n];
    for a in 0..n {
        for b in a..n {
            let dot: f64 = cols[a].iter().zip(cols[b]).map(|(&u, &v)| to_f64(u) * to_f64(v)).sum();
            let entry = dot - if a == b { 1.0 } else { 0.0 };
            gram[a * n + b] = entry;
            gram[b * n + a] = entry;
        }
    }
    let value = gram.iter().map(|v| v * v).sum::<f64>() / (n * n) as f64;
    if let Some((weight, g)) = grad {
        // ∂value/∂N = (4 / n²) · N G.
        let scale = 4.0 / (n * n) as f64;
        let mut upstream = vec![T::zero(); x.len()];
        for (b, out) in upstream.chunks_exact_mut(p).enumerate() {
            for (a, col) in cols.iter().enumerate() {
                let coef = weight * cast::<T>(scale * gram[a * n + b]);
                for (o, &v) in out.iter_mut().zip(col.iter()) {
                    *o = *o + coef * v;
                }
            }
        }
        add_into(g, &normalize_columns_backward(x, &upstream, shape));
    }
    value
}

const ENTROPY_EPS: f64 = 1e-8;

/// Differentiable head entropy (SPEC §5.10, the quantity behind `class_selectivity` §5.8): mean
/// over the columns of `d` (`classes × r`, column-major) of the entropy of `|d| / max(Σ|d|, 1e-8)`
/// with `ln(p + 1e-8)`, normalised by `ln(classes)`. 0 for one-hot heads, ≈1 for uniform ones;
/// 0 for a layer of one output, whose every head is one-hot.
pub fn head_entropy<T: Float>(d: &[T], classes: usize, mut grad: Grad<'_, T>) -> f64 {
    assert!(classes >= 1, "a head matrix needs at least one class");
    assert_eq!(d.len() % classes, 0, "head matrix of {} values is not {classes} × r", d.len());
    check_grad(&grad, d.len());
    let r = d.len() / classes;
    if r == 0 || classes == 1 {
        return 0.0;
    }
    let ln_c = (classes as f64).ln();
    let mut total = 0.0;
    for (j, col) in d.chunks_exact(classes).enumerate() {
        let sum: f64 = col.iter().map(|&v| to_f64(v).abs()).sum();
        let denom = sum.max(ENTROPY_EPS);
        let p: Vec<f64> = col.iter().map(|&v| to_f64(v).abs() / denom).collect();
        total -= p.iter().map(|&pc| pc * (pc + ENTROPY_EPS).ln()).sum::<f64>() / ln_c;
        if let Some((weight, g)) = grad.as_mut() {
            // q_c = ∂H/∂p_c; p_c = |d_c| / denom, where denom depends on d only if unclamped.
            let q: Vec<f64> = p.iter().map(|&pc| -((pc + ENTROPY_EPS).ln() + pc / (pc + ENTROPY_EPS)) / ln_c).collect();
            let mean_q = if sum > ENTROPY_EPS { q.iter().zip(&p).map(|(a, b)| a * b).sum() } else { 0.0 };
            let g_col = &mut g[j * classes..(j + 1) * classes];
            for ((gk, &dk), &qk) in g_col.iter_mut().zip(col).zip(&q) {
                let dh: T = cast((qk - mean_q) / (denom * r as f64));
                *gk = *gk + *weight * dh * sign(dk);
            }
        }
    }
    total / r as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    fn random(len: usize, seed: u64) -> Vec<f64> {
        let mut rng = crate::linalg::rng(seed);
        (0..len).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect()
    }

    fn dot(a: &[f64], b: &[f64]) -> f64 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    /// Checks the analytic gradient (weight 0.7, added onto a non-zero buffer) against central
    /// finite differences; relative error in the Euclidean norm.
    fn check_gradient(f: impl Fn(&[f64], Grad<'_, f64>) -> f64, x: &[f64]) {
        let weight = 0.7;
        let mut g = vec![1.0; x.len()];
        let value = f(x, Some((weight, &mut g)));
        assert!((value - f(x, None)).abs() < 1e-15, "value must not depend on the gradient");
        let h = 1e-6;
        let mut xp = x.to_vec();
        let mut err = 0.0;
        let mut norm = 0.0;
        for i in 0..x.len() {
            xp[i] = x[i] + h;
            let up = f(&xp, None);
            xp[i] = x[i] - h;
            let down = f(&xp, None);
            xp[i] = x[i];
            let fd = weight * (up - down) / (2.0 * h);
            err += (g[i] - 1.0 - fd).powi(2);
            norm += fd * fd;
        }
        let rel = (err / norm).sqrt();
        assert!(rel < 1e-6, "relative gradient error {rel:e}");
    }

    const SHAPE: Images = Images { h: 6, w: 7, n: 3 };

    #[test]
    fn smooth_adjoint_is_transpose_and_zero_passes_is_identity() {
        let x = random(SHAPE.len(), 1);
        let y = random(SHAPE.len(), 2);
        assert_eq!(smooth(&x, SHAPE, 0), x);
        assert_eq!(smooth_adjoint(&y, SHAPE, 0), y);
        for passes in 1..=3 {
            let lhs = dot(&smooth(&x, SHAPE, passes), &y);
            let rhs = dot(&x, &smooth_adjoint(&y, SHAPE, passes));
            assert!((lhs - rhs).abs() < 1e-12, "passes {passes}: {lhs} vs {rhs}");
        }
    }

    #[test]
    fn smooth_reflects_without_repeating_the_edge() {
        // A corner impulse is seen once by each of the 4 outputs whose window touches it
        // (a replicate/symmetric pad would count it several times in the corner output).
        let shape = Images { h: 5, w: 5, n: 1 };
        let mut x = vec![0.0; shape.len()];
        x[0] = 9.0;
        let y = smooth(&x, shape, 1);
        for (p, &v) in y.iter().enumerate() {
            let expected = if [0, 1, 5, 6].contains(&p) { 1.0 } else { 0.0 };
            assert!((v - expected).abs() < 1e-12, "pixel {p}: {v}");
        }
        let constant = vec![2.5; SHAPE.len()];
        for v in smooth(&constant, SHAPE, 2) {
            assert!((v - 2.5).abs() < 1e-12);
        }
    }

    #[test]
    fn total_variation_known_values() {
        let shape = Images { h: 5, w: 6, n: 2 };
        assert_eq!(total_variation(&vec![3.0; shape.len()], shape, None), 0.0);
        // An interior impulse of height a has two vertical and two horizontal jumps of size a.
        let mut x = vec![0.0; shape.len()];
        x[shape.pixels() + 6 * 2 + 3] = -1.5;
        let expected = 2.0 * 1.5 / (2.0 * 4.0 * 6.0) + 2.0 * 1.5 / (2.0 * 5.0 * 5.0);
        assert!((total_variation(&x, shape, None) - expected).abs() < 1e-15);
    }

    #[test]
    fn laplacian_known_values() {
        assert_eq!(laplacian(&vec![-0.4; SHAPE.len()], SHAPE, None), 0.0);
        // Corner impulse with reflect padding: −4a at the corner, a at its two neighbours.
        let shape = Images { h: 5, w: 5, n: 1 };
        let mut x = vec![0.0; shape.len()];
        x[0] = 2.0;
        assert!((laplacian(&x, shape, None) - 6.0 * 2.0 / 25.0).abs() < 1e-15);
    }

    #[test]
    fn border_of_a_corner_pixel() {
        let shape = Images { h: 5, w: 4, n: 2 };
        let mut x = vec![0.0; shape.len()];
        x[shape.len() - 1] = 3.0; // bottom-right corner of the second image: xx² + yy² = 2
        assert!((border(&x, shape, None) - 9.0 * 2.0 / 40.0).abs() < 1e-15);
    }

    #[test]
    fn duplicate_of_orthonormal_columns_is_zero() {
        let shape = Images { h: 2, w: 2, n: 3 };
        let mut x = vec![0.0; shape.len()];
        for j in 0..3 {
            x[j * 4 + j] = if j == 1 { -5.0 } else { 0.5 }; // orthogonal, any norm
        }
        assert!(duplicate(&x, shape, None).abs() < 1e-15);
        // Two copies of one direction: G has two off-diagonal ones.
        let twins = [1.0, 2.0, 0.0, 0.0, 2.0, 4.0, 0.0, 0.0];
        let pair = Images { h: 2, w: 2, n: 2 };
        assert!((duplicate(&twins, pair, None) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn normalize_columns_handles_zero_columns() {
        let shape = Images { h: 2, w: 2, n: 2 };
        let x = [3.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(normalize_columns(&x, shape), [0.6, 0.0, 0.8, 0.0, 0.0, 0.0, 0.0, 0.0]);
        let u = [1.0; 8];
        let back = normalize_columns_backward(&x, &u, shape);
        assert!((back[4] - 1e8).abs() < 1e-3, "clamped columns scale by 1/1e-8");
    }

    #[test]
    fn head_entropy_known_values() {
        let mut one_hot = vec![0.0; 10 * 4];
        for j in 0..4 {
            one_hot[j * 10 + (3 * j) % 10] = if j % 2 == 0 { 2.0 } else { -0.3 };
        }
        assert!(head_entropy(&one_hot, 10, None).abs() < 1e-8);
        let uniform = vec![-0.7; 10 * 4];
        assert!((head_entropy(&uniform, 10, None) - 1.0).abs() < 1e-6);
        // One output: every head is one-hot, and nothing moves it.
        let mut g = vec![0.5; 4];
        assert_eq!(head_entropy(&[1.5, -2.0, 0.0, 3.0], 1, Some((1.0, &mut g))), 0.0);
        assert_eq!(g, [0.5; 4]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = random(SHAPE.len(), 3);
        check_gradient(|x, g| total_variation(x, SHAPE, g), &x);
        check_gradient(|x, g| laplacian(x, SHAPE, g), &x);
        check_gradient(mean_abs, &x);
        check_gradient(mean_square, &x);
        check_gradient(|x, g| border(x, SHAPE, g), &x);
        check_gradient(|x, g| duplicate(x, SHAPE, g), &x);
        check_gradient(|d, g| head_entropy(d, 6, g), &random(6 * 5, 4));
        check_gradient(|x, g| coherence(x, SHAPE, g), &x);
        check_gradient(|x, g| spread(x, SHAPE, g), &x);
        check_gradient(|x, g| sign_impurity(x, SHAPE, g), &x);
    }

    #[test]
    fn sign_impurity_known_values() {
        let shape = Images { h: 2, w: 2, n: 3 };
        // One-signed, balanced, and zero (skipped): mean of 0 and ½.
        let x = [0.5, 0.0, 2.0, 1.0, 1.0, -1.0, 2.0, -2.0, 0.0, 0.0, 0.0, 0.0];
        assert!((sign_impurity(&x, shape, None) - 0.25).abs() < 1e-12);
        assert_eq!(sign_impurity(&[0.0; 4], Images { h: 2, w: 2, n: 1 }, None), 0.0);
    }

    #[test]
    fn box_mean_matches_its_definition_on_thin_and_tiny_images() {
        for (h, w) in [(1, 1), (1, 4), (4, 1), (2, 2), (3, 5)] {
            let x = random(h * w, 3);
            let (hi, wi) = (h as isize, w as isize);
            let at = |r: isize, c: isize| if (0..hi).contains(&r) && (0..wi).contains(&c) { x[(r * wi + c) as usize] } else { 0.0 };
            let got = box_zero_padded(&x, h, w);
            for r in 0..hi {
                for c in 0..wi {
                    let want: f64 = (-1..=1).flat_map(|i| (-1..=1).map(move |j| (i, j))).map(|(i, j)| at(r + i, c + j)).sum::<f64>() / 9.0;
                    assert!((got[(r * wi + c) as usize] - want).abs() < 1e-12, "{h}×{w} at ({r}, {c})");
                }
            }
        }
    }

    #[test]
    fn coherence_and_spread_known_values() {
        let shape = Images { h: 5, w: 5, n: 2 };
        // An interior impulse keeps 1/9 of its energy and has no spread; the zero image is skipped.
        let mut x = vec![0.0; shape.len()];
        x[12] = -2.0;
        assert!((coherence(&x, shape, None) - 1.0 / 9.0).abs() < 1e-12);
        assert_eq!(spread(&x, shape, None), 0.0);
        // A uniform image has spread 1 by definition.
        let uniform = Images { h: 5, w: 5, n: 1 };
        assert!((spread(&[0.7; 25], uniform, None) - 1.0).abs() < 1e-12);
        // Two far corners of equal energy: variance 4 per axis, against 2 for the uniform image.
        let mut corners = [0.0; 25];
        corners[0] = 1.0;
        corners[24] = -1.0;
        assert!((spread(&corners, uniform, None) - 2.0).abs() < 1e-12);
        // Pixel by pixel on a non-square grid.
        let one = Images { n: 1, ..SHAPE };
        let x = random(one.len(), 8);
        let (h, w) = (one.h as isize, one.w as isize);
        let at = |r: isize, c: isize| if (0..h).contains(&r) && (0..w).contains(&c) { x[(r * w + c) as usize] } else { 0.0 };
        let mut smooth_energy = 0.0;
        let (energy, mut mr, mut mc) = (x.iter().map(|v| v * v).sum::<f64>(), 0.0, 0.0);
        for r in 0..h {
            for c in 0..w {
                let mean: f64 = (-1..=1).flat_map(|i| (-1..=1).map(move |j| (i, j))).map(|(i, j)| at(r + i, c + j)).sum::<f64>() / 9.0;
                smooth_energy += mean * mean;
                mr += at(r, c).powi(2) * r as f64 / energy;
                mc += at(r, c).powi(2) * c as f64 / energy;
            }
        }
        let variance: f64 = (0..h * w).map(|k| x[k as usize].powi(2) / energy * ((k / w) as f64 - mr).powi(2)).sum::<f64>()
            + (0..h * w).map(|k| x[k as usize].powi(2) / energy * ((k % w) as f64 - mc).powi(2)).sum::<f64>();
        let uniform_variance = ((h * h - 1) as f64 + (w * w - 1) as f64) / 12.0;
        assert!((coherence(&x, one, None) - smooth_energy / energy).abs() < 1e-12);
        assert!((spread(&x, one, None) - variance / uniform_variance).abs() < 1e-12);
    }

    #[test]
    fn gradients_through_smoothing_match_finite_differences() {
        // A prior on smoothed raw factors, back-propagated with the adjoint.
        let x = random(SHAPE.len(), 5);
        check_gradient(
            |x, grad| {
                let y = smooth(x, SHAPE, 2);
                let Some((weight, g)) = grad else {
                    return total_variation(&y, SHAPE, None);
                };
                let mut gy = vec![0.0; y.len()];
                let value = total_variation(&y, SHAPE, Some((weight, &mut gy)));
                add_into(g, &smooth_adjoint(&gy, SHAPE, 2));
                value
            },
            &x,
        );
    }

    #[test]
    fn normalize_columns_backward_matches_finite_differences() {
        let x = random(SHAPE.len(), 6);
        let u = random(SHAPE.len(), 7);
        check_gradient(
            |x, grad| {
                let value = dot(&normalize_columns(x, SHAPE), &u);
                if let Some((weight, g)) = grad {
                    let scaled: Vec<f64> = u.iter().map(|v| weight * v).collect();
                    add_into(g, &normalize_columns_backward(x, &scaled, SHAPE));
                }
                value
            },
            &x,
        );
    }

    #[test]
    fn works_in_f32() {
        let x: Vec<f32> = random(SHAPE.len(), 8).iter().map(|&v| v as f32).collect();
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let mut g = vec![0.0f32; x.len()];
        let v32 = laplacian(&x, SHAPE, Some((1.0, &mut g)));
        assert!((v32 - laplacian(&x64, SHAPE, None)).abs() < 1e-6);
        assert!(g.iter().all(|v| v.is_finite()));
    }
}
