//! Small shared numerics: the thread knob, seeded random numbers, and faer conveniences.
//!
//! Matrices are faer `Mat<f32>`; patterns and factors are stored one component per column
//! (784 × r), as in the reference study.

use std::sync::atomic::{AtomicUsize, Ordering};

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// The seeded generator used everywhere: fast, and its stream is fixed by the crate version.
pub type Rng = rand_xoshiro::Xoshiro256PlusPlus;

/// A generator for `seed`; the same seed gives the same numbers on every machine.
pub fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

static THREADS: AtomicUsize = AtomicUsize::new(1);

/// Sets the number of threads used by matrix products and by rayon's global pool.
pub fn set_threads(n: usize) {
    let n = n.max(1);
    THREADS.store(n, Ordering::Relaxed);
    // The global pool can only be built once; later calls keep the first pool.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
}

/// Threads chosen with [`set_threads`] (1 until then).
pub fn threads() -> usize {
    THREADS.load(Ordering::Relaxed)
}

thread_local! {
    static SEQUENTIAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// faer parallelism matching [`threads`], or sequential inside [`sequential`].
pub fn par() -> Par {
    match (threads(), SEQUENTIAL.with(|s| s.get())) {
        (1, _) | (_, true) => Par::Seq,
        (n, false) => Par::rayon(n),
    }
}

/// Runs `f` with single-threaded matrix products on this thread: when independent jobs
/// already occupy every core (a sweep), splitting each product would only add overhead.
pub fn sequential<T>(f: impl FnOnce() -> T) -> T {
    let before = SEQUENTIAL.with(|s| s.replace(true));
    let out = f();
    SEQUENTIAL.with(|s| s.set(before));
    out
}

/// A `rows × cols` matrix of independent N(0, scale²) entries, drawn column by column.
pub fn randn(rng: &mut Rng, rows: usize, cols: usize, scale: f32) -> Mat<f32> {
    let mut m = Mat::zeros(rows, cols);
    for j in 0..cols {
        for i in 0..rows {
            let z: f32 = StandardNormal.sample(rng);
            m[(i, j)] = scale * z;
        }
    }
    m
}

/// `lhs · rhs` into a new matrix.
pub fn mul(lhs: MatRef<'_, f32>, rhs: MatRef<'_, f32>) -> Mat<f32> {
    let mut out = Mat::zeros(lhs.nrows(), rhs.ncols());
    matmul(out.as_mut(), Accum::Replace, lhs, rhs, 1.0, par());
    out
}

/// `dst += alpha · lhs · rhs`.
pub fn mul_add(dst: faer::MatMut<'_, f32>, lhs: MatRef<'_, f32>, rhs: MatRef<'_, f32>, alpha: f32) {
    matmul(dst, Accum::Add, lhs, rhs, alpha, par());
}

/// A row-major `rows × cols` slice viewed as a matrix (no copy).
pub fn row_major(data: &[f32], rows: usize, cols: usize) -> MatRef<'_, f32> {
    MatRef::from_row_major_slice(data, rows, cols)
}

/// Copies a matrix into a row-major vector (the layout of safetensors and PyTorch).
pub fn to_row_major(m: MatRef<'_, f32>) -> Vec<f32> {
    let mut out = Vec::with_capacity(m.nrows() * m.ncols());
    for i in 0..m.nrows() {
        for j in 0..m.ncols() {
            out.push(m[(i, j)]);
        }
    }
    out
}

/// A matrix from a row-major slice (copying).
pub fn from_row_major(data: &[f32], rows: usize, cols: usize) -> Mat<f32> {
    row_major(data, rows, cols).to_owned()
}

/// Frobenius inner product of two equally shaped matrices, accumulated in f64.
pub fn dot(a: MatRef<'_, f32>, b: MatRef<'_, f32>) -> f64 {
    assert_eq!((a.nrows(), a.ncols()), (b.nrows(), b.ncols()));
    let mut s = 0.0f64;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            s += a[(i, j)] as f64 * b[(i, j)] as f64;
        }
    }
    s
}

/// Copies a matrix into a column-major vector (the layout of the image-space priors).
pub fn to_col_major(m: MatRef<'_, f32>) -> Vec<f32> {
    (0..m.ncols()).flat_map(|j| m.col(j).iter().copied().collect::<Vec<_>>()).collect()
}

/// A matrix from a column-major slice.
pub fn from_col_major(data: &[f32], rows: usize, cols: usize) -> Mat<f32> {
    MatRef::from_column_major_slice(data, rows, cols).to_owned()
}
