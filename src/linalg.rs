//! Small shared numerics: parallelism, seeded random numbers, faer conveniences, and one-to-one
//! matching ([`matching`]).
//!
//! Matrices are faer `Mat<f32>`; patterns and factors are stored one component per column
//! (`inputs × r`), as in the reference study.
//!
//! Parallelism follows the rayon pool the work runs in: matrix products and parallel loops use
//! as many threads as [`rayon::current_num_threads`] says, so a caller chooses the thread count
//! by running inside a pool of that size ([`with_threads`]). The one global setting is the
//! number of parts faer's own solvers split their work into ([`fix_solver_splits`]).

pub mod matching;

use faer::traits::ComplexField;
use faer::{Accum, Mat, MatRef, Par};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

/// The seeded generator used everywhere: fast, and its stream is fixed by the crate version.
pub type Rng = rand_xoshiro::Xoshiro256PlusPlus;

/// A generator for `seed`; the same seed gives the same numbers on every machine.
pub fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

/// The most threads bilens accepts (far above any machine it runs on; a guard against typos).
pub const MAX_THREADS: usize = 1024;

/// The parts faer's solvers (eigendecompositions, SVDs) split their work into. The split sets
/// their summation order, so left to the pool's size one thread and two give different bits
/// (and so every fit from an eigen start). Fixed at two, the thread count of the machines
/// bilens's figures were measured on, they give those bits at any thread count.
pub const SOLVER_SPLITS: usize = 2;

/// Makes faer's solvers split their work into [`SOLVER_SPLITS`] parts whatever the pool
/// (process-wide; every entry point that sets the thread count calls it).
pub fn fix_solver_splits() {
    faer::set_global_parallelism(Par::rayon(SOLVER_SPLITS));
}

/// faer's kernels (products, decompositions) end without `vzeroupper`, leaving the upper
/// halves of the AVX registers dirty on the thread that ran them; until something clears that
/// state every scalar SSE instruction on the thread pays a transition penalty (libm's `exp`
/// took 170 to 260 ns instead of 6 ns after one single-threaded product or eigendecomposition,
/// and the scalar loops of a fit ran that way throughout). Clearing changes no value.
fn clear_upper_state() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX is available, and no vector value lives across this call.
        unsafe { std::arch::x86_64::_mm256_zeroupper() }
    }
}

/// faer's `matmul`, then the calling thread's AVX state cleared ([`clear_upper_state`]). A
/// parallel product's other threads are left as they are (a broadcast per product would cost
/// more than it saves), as are faer's operator products (`&a * &b`), used outside hot loops.
pub fn matmul<T: ComplexField>(dst: faer::MatMut<'_, T>, accum: Accum, lhs: MatRef<'_, T>, rhs: MatRef<'_, T>, alpha: T, par: Par) {
    faer::linalg::matmul::matmul(dst, accum, lhs, rhs, alpha, par);
    clear_upper_state();
}

/// `f()`, a faer decomposition (eigendecomposition, SVD), then the AVX state cleared
/// ([`clear_upper_state`]) on the calling thread at once and on the pool's threads, which may
/// have run parts of it, when they next look for work (a thread busy elsewhere is not waited
/// for).
pub fn decomposed<T>(f: impl FnOnce() -> T) -> T {
    let out = f();
    clear_upper_state();
    rayon::spawn_broadcast(|_| clear_upper_state());
    out
}

/// Threads of the pool the caller runs in.
pub fn threads() -> usize {
    rayon::current_num_threads()
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

/// Whether independent pieces of work should run side by side: several threads, and not
/// inside [`sequential`].
pub fn parallel() -> bool {
    threads() > 1 && !SEQUENTIAL.with(|s| s.get())
}

/// `(a(), b())`, side by side when [`parallel`]. Each side's matrix products run sequentially
/// unless it is marked as splitting its own work (`a_splits`, `b_splits`): on a few cores,
/// running independent pieces together beats splitting every small product.
pub fn join<A: Send, B: Send>(a: impl FnOnce() -> A + Send, a_splits: bool, b: impl FnOnce() -> B + Send, b_splits: bool) -> (A, B) {
    if !parallel() {
        return (a(), b());
    }
    rayon::join(|| if a_splits { a() } else { sequential(a) }, || if b_splits { b() } else { sequential(b) })
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

/// `[a | b]`: the columns of `a`, then those of `b`.
pub fn side_by_side(a: &Mat<f32>, b: &Mat<f32>) -> Mat<f32> {
    let mut m = Mat::zeros(a.nrows(), a.ncols() + b.ncols());
    m.as_mut().subcols_mut(0, a.ncols()).copy_from(a);
    m.as_mut().subcols_mut(a.ncols(), b.ncols()).copy_from(b);
    m
}

/// `lhs · rhs` into a new matrix.
pub fn mul<T: ComplexField>(lhs: MatRef<'_, T>, rhs: MatRef<'_, T>) -> Mat<T> {
    let mut out = Mat::zeros(lhs.nrows(), rhs.ncols());
    matmul(out.as_mut(), Accum::Replace, lhs, rhs, T::one_impl(), par());
    out
}

/// `dst += alpha · lhs · rhs`.
pub fn mul_add(dst: faer::MatMut<'_, f32>, lhs: MatRef<'_, f32>, rhs: MatRef<'_, f32>, alpha: f32) {
    matmul(dst, Accum::Add, lhs, rhs, alpha, par());
}

/// `dst = alpha · lhs · rhs` for a product known to be symmetric (`XXᵀ`, or two commuting
/// symmetric matrices): one triangle is computed, at about half the work, and mirrored.
pub fn mul_symmetric(mut dst: faer::MatMut<'_, f32>, lhs: MatRef<'_, f32>, rhs: MatRef<'_, f32>, alpha: f32) {
    use faer::linalg::matmul::triangular::{self, BlockStructure};
    let rect = BlockStructure::Rectangular;
    triangular::matmul(dst.as_mut(), BlockStructure::TriangularLower, Accum::Replace, lhs, rect, rhs, rect, alpha, par());
    clear_upper_state();
    mirror_lower(dst);
}

/// Copies the strict lower triangle of a square matrix onto its upper triangle, quadrant by
/// quadrant (one transposing copy per off-diagonal quadrant), so that the strided accesses
/// stay in cache: 3× faster than element by element at 512 × 512.
fn mirror_lower(dst: faer::MatMut<'_, f32>) {
    let n = dst.nrows();
    if n <= 32 {
        let mut dst = dst;
        for j in 0..n {
            for i in j + 1..n {
                dst[(j, i)] = dst[(i, j)];
            }
        }
        return;
    }
    let (top_left, mut top_right, bottom_left, bottom_right) = dst.split_at_mut(n / 2, n / 2);
    top_right.copy_from(bottom_left.as_ref().transpose());
    mirror_lower(top_left);
    mirror_lower(bottom_right);
}

/// f64 copy of a matrix, for the few places where exactness beats speed.
pub fn to_f64(m: MatRef<'_, f32>) -> Mat<f64> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)] as f64)
}

/// A row-major `rows × cols` slice viewed as a matrix (no copy).
pub fn row_major(data: &[f32], rows: usize, cols: usize) -> MatRef<'_, f32> {
    MatRef::from_row_major_slice(data, rows, cols)
}

/// Copies a matrix into a row-major vector (the layout of safetensors and PyTorch).
pub fn to_row_major(m: MatRef<'_, f32>) -> Vec<f32> {
    let mut out = vec![0.0f32; m.nrows() * m.ncols()];
    copy_rows(m, m.ncols(), &mut out);
    out
}

/// A matrix from a row-major slice (copying).
pub fn from_row_major(data: &[f32], rows: usize, cols: usize) -> Mat<f32> {
    row_major(data, rows, cols).to_owned()
}

/// Frobenius inner product of two equally shaped matrices, accumulated in f64.
#[cfg(test)]
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
    let mut out = Vec::with_capacity(m.nrows() * m.ncols());
    for j in 0..m.ncols() {
        match m.col(j).try_as_col_major() {
            Some(c) => out.extend_from_slice(c.as_slice()),
            None => out.extend(m.col(j).iter().copied()),
        }
    }
    out
}

/// A matrix from a column-major slice.
pub fn from_col_major(data: &[f32], rows: usize, cols: usize) -> Mat<f32> {
    let mut m = Mat::zeros(rows, cols);
    add_col_major(m.as_mut(), data);
    m
}

/// `m += data`, with `data` a column-major slice of `m`'s shape.
pub fn add_col_major(mut m: faer::MatMut<'_, f32>, data: &[f32]) {
    assert_eq!(data.len(), m.nrows() * m.ncols());
    let rows = m.nrows();
    for (j, src) in data.chunks_exact(rows.max(1)).enumerate().take(m.ncols()) {
        col_mut(m.as_mut(), j).iter_mut().zip(src).for_each(|(v, &s)| *v += s);
    }
}

/// Column `j` of a column-major matrix as a slice.
pub fn col(m: MatRef<'_, f32>, j: usize) -> &[f32] {
    m.col(j).try_as_col_major().expect("column-major matrix").as_slice()
}

/// Column `j` of a column-major matrix as a mutable slice.
pub fn col_mut(m: faer::MatMut<'_, f32>, j: usize) -> &mut [f32] {
    m.col_mut(j).try_as_col_major_mut().expect("column-major matrix").as_slice_mut()
}

/// `f(i, j, value)` applied in place to every entry, column by column.
pub fn map_in_place(mut m: faer::MatMut<'_, f32>, mut f: impl FnMut(usize, usize, f32) -> f32) {
    for j in 0..m.ncols() {
        for (i, v) in col_mut(m.as_mut(), j).iter_mut().enumerate() {
            *v = f(i, j, *v);
        }
    }
}

/// A sparse matrix in compressed rows, for products with mostly-zero data (an MNIST digit is
/// about 80% background pixels, so products with images cost a fifth of the dense ones).
///
/// Columns are split into groups of [`SPARSE_COLUMN_GROUP`], each group stored as its own
/// compressed rows: a product then walks one group at a time, so the rows of the dense
/// operand that the group reads stay in the L1 cache (reading them from L2 for every entry
/// halves the speed).
#[derive(Clone, Debug)]
pub struct SparseRows {
    rows: usize,
    cols: usize,
    /// Group `g`, row `i` holds entries `start[g·(rows + 1) + i] .. start[g·(rows + 1) + i + 1]`.
    start: Vec<usize>,
    col: Vec<u32>,
    val: Vec<f32>,
}

/// Columns per group of [`SparseRows`]: 64 rows of a 144-wide operand are 37 KB.
pub const SPARSE_COLUMN_GROUP: usize = 64;

impl SparseRows {
    /// The nonzero entries of `m`.
    pub fn from_dense(m: MatRef<'_, f32>) -> Self {
        assert!(m.ncols() <= u32::MAX as usize);
        let mut out = Self { rows: m.nrows(), cols: m.ncols(), start: Vec::new(), col: Vec::new(), val: Vec::new() };
        for c0 in (0..m.ncols()).step_by(SPARSE_COLUMN_GROUP) {
            out.start.push(out.col.len());
            for i in 0..m.nrows() {
                for j in c0..(c0 + SPARSE_COLUMN_GROUP).min(m.ncols()) {
                    let v = m[(i, j)];
                    if v != 0.0 {
                        out.col.push(j as u32);
                        out.val.push(v);
                    }
                }
                out.start.push(out.col.len());
            }
        }
        out
    }

    pub fn nrows(&self) -> usize {
        self.rows
    }

    /// Share of entries that are nonzero.
    #[cfg(test)]
    pub fn density(&self) -> f64 {
        self.val.len() as f64 / (self.rows * self.cols).max(1) as f64
    }

    /// `out += self · b` with `b` (`cols × width`) and `out` (`rows × width`) row-major
    /// slices; `width` must be a multiple of [`SIMD_WIDTH`].
    pub fn mul_add_row_major(&self, b: &[f32], width: usize, out: &mut [f32]) {
        assert_eq!(width % SIMD_WIDTH, 0, "width must be a multiple of {SIMD_WIDTH}");
        assert_eq!(b.len(), self.cols * width);
        assert_eq!(out.len(), self.rows * width);
        faer::traits::pulp::Arch::new().dispatch(SparseMul { a: self, b, width, out });
    }
}

/// Images as the rows of an `n × I` matrix, for products with them (`X P`) and with their
/// transpose (`Xᵀ Q`). Mostly-zero images (digits on a black background) are also kept as
/// sparse blocks of rows, and their products go block by block, each block one unit of
/// parallel work; denser images take dense products.
pub struct ImageRows {
    /// `n × I`; private, so that the sparse blocks made from it stay its copy.
    x: Mat<f32>,
    blocks: Option<Vec<ImageBlock>>,
}

/// Rows `start .. start + len` of the images, as sparse rows (`len × I`) and as sparse rows of
/// the transpose (`I × len`), for the forward and the backward product.
pub struct ImageBlock {
    pub start: usize,
    pub rows: SparseRows,
    pub transposed: SparseRows,
}

/// Images per sparse block: a block's projections stay in cache between the forward and the
/// backward product.
pub const IMAGE_BLOCK: usize = 1024;

/// Images denser than this go through dense products.
const MAX_SPARSE_DENSITY: f64 = 0.5;

impl ImageRows {
    pub fn new(x: Mat<f32>) -> Self {
        let nonzero = (0..x.ncols()).map(|j| col(x.as_ref(), j).iter().filter(|&&v| v != 0.0).count()).sum::<usize>();
        let blocks = ((nonzero as f64) < MAX_SPARSE_DENSITY * (x.nrows() * x.ncols()) as f64).then(|| {
            (0..x.nrows())
                .step_by(IMAGE_BLOCK)
                .map(|start| {
                    let block = x.as_ref().subrows(start, IMAGE_BLOCK.min(x.nrows() - start));
                    ImageBlock { start, rows: SparseRows::from_dense(block), transposed: SparseRows::from_dense(block.transpose()) }
                })
                .collect()
        });
        Self { x, blocks }
    }

    /// The images, `n × I`.
    pub fn x(&self) -> MatRef<'_, f32> {
        self.x.as_ref()
    }

    /// The sparse blocks, when the images are mostly zeros.
    pub fn blocks(&self) -> Option<&[ImageBlock]> {
        self.blocks.as_deref()
    }

    /// `f(block)` for every block, side by side when threads allow; results in block order.
    pub fn each_block<T: Send>(blocks: &[ImageBlock], f: impl Fn(&ImageBlock) -> T + Sync) -> Vec<T> {
        each_side_by_side(blocks.iter().collect(), f)
    }

    /// `X P` for `P` of `I × k`, as `n` rows of [`padded_width`]`(k)` columns (row-major, the
    /// layout per-image work reads and [`ImageRows::back_project`] takes).
    pub fn project(&self, p: MatRef<'_, f32>) -> PaddedRows {
        let width = padded_width(p.ncols());
        let Some(blocks) = &self.blocks else { return padded_row_major(mul(self.x.as_ref(), p).as_ref(), width) };
        let packed = padded_row_major(p, width);
        let mut out = PaddedRows::zeros(self.x.nrows() * width);
        // (`max(1)`: with no columns there is nothing to split.)
        let work: Vec<_> = blocks.iter().zip(out.chunks_mut((IMAGE_BLOCK * width).max(1))).collect();
        each_side_by_side(work, |(b, rows)| b.rows.mul_add_row_major(&packed, width, rows));
        out
    }

    /// `Xᵀ Q` (`I × k`) for `Q` of `n × k` given as row-major rows of `width ≥ k` columns (as
    /// [`ImageRows::project`] returns them; aligned, so that the sparse product reads whole
    /// cache lines); the blocks' parts are summed in block order, so the result does not depend
    /// on the thread count.
    pub fn back_project(&self, q: &PaddedRows, width: usize, k: usize) -> Mat<f32> {
        let (n, pixels) = (self.x.nrows(), self.x.ncols());
        assert!(k <= width && q.len() == n * width);
        let Some(blocks) = &self.blocks else { return mul(self.x.transpose(), row_major(q, n, width).subcols(0, k)) };
        let parts = Self::each_block(blocks, |b| {
            let mut out = PaddedRows::zeros(pixels * width);
            b.transposed.mul_add_row_major(&q[b.start * width..(b.start + b.rows.nrows()) * width], width, &mut out);
            out
        });
        let mut xq = Mat::zeros(pixels, k);
        for part in &parts {
            xq += row_major(part, pixels, width).subcols(0, k);
        }
        xq
    }
}

/// The smallest multiple of [`SIMD_WIDTH`] that holds `cols` columns.
pub fn padded_width(cols: usize) -> usize {
    cols.div_ceil(SIMD_WIDTH) * SIMD_WIDTH
}

/// `f(item)` for every item, side by side when threads allow (each with sequential products);
/// results in the items' order.
fn each_side_by_side<I: Send, T: Send>(items: Vec<I>, f: impl Fn(I) -> T + Sync) -> Vec<T> {
    use rayon::prelude::*;
    let one = |item: I| sequential(|| f(item));
    if parallel() { items.into_par_iter().map(one).collect() } else { items.into_iter().map(one).collect() }
}

/// Row-major rows of a multiple of [`SIMD_WIDTH`] floats, starting on 64-byte boundaries: the
/// layout sparse products read and write. A `Vec<f32>` is only 16-byte aligned, and the
/// AVX-512 loads of its rows then straddle two cache lines: a distillation step (two products
/// with 8,192 digits, 144 wide) took 1.25× as long that way. Reads and writes as a `[f32]`.
#[derive(Clone, Debug, Default)]
pub struct PaddedRows(Vec<Line>);

/// One cache line of floats.
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Line([f32; SIMD_WIDTH]);

impl PaddedRows {
    /// `len` zeros; `len` must be a multiple of [`SIMD_WIDTH`].
    pub fn zeros(len: usize) -> Self {
        assert_eq!(len % SIMD_WIDTH, 0, "padded rows hold a multiple of {SIMD_WIDTH} floats, not {len}");
        Self(vec![Line([0.0; SIMD_WIDTH]); len / SIMD_WIDTH])
    }
}

impl std::ops::Deref for PaddedRows {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        bytemuck::cast_slice(&self.0)
    }
}

impl std::ops::DerefMut for PaddedRows {
    fn deref_mut(&mut self) -> &mut [f32] {
        bytemuck::cast_slice_mut(&mut self.0)
    }
}

/// `m` row-major with each row zero-padded to `width` columns (the layout sparse products take).
pub fn padded_row_major(m: MatRef<'_, f32>, width: usize) -> PaddedRows {
    let mut out = PaddedRows::zeros(m.nrows() * width);
    copy_rows(m, width, &mut out);
    out
}

/// `m`'s rows into `out`, one every `width` entries (nothing to copy when rows are empty).
fn copy_rows(m: MatRef<'_, f32>, width: usize, out: &mut [f32]) {
    if width == 0 {
        return;
    }
    for (i, row) in out.chunks_exact_mut(width).enumerate() {
        row.iter_mut().zip(m.row(i).iter()).for_each(|(o, &v)| *o = v);
    }
}

/// Row widths that [`SparseRows::mul_add_row_major`] accepts are multiples of this (16 f32 lanes
/// covers every x86 vector width).
pub const SIMD_WIDTH: usize = 16;

struct SparseMul<'a> {
    a: &'a SparseRows,
    b: &'a [f32],
    width: usize,
    out: &'a mut [f32],
}

impl faer::traits::pulp::WithSimd for SparseMul<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: faer::traits::pulp::Simd>(self, simd: S) {
        let Self { a, b, width, out } = self;
        // Split each row into equal tiles of at most 9 vectors: a tile's accumulators stay in
        // registers (16 on AVX2) while the row's entries stream by.
        let vectors = width / S::F32_LANES;
        let tiles = vectors.div_ceil(9);
        let per_tile = vectors.div_ceil(tiles);
        for group in a.start.chunks_exact(a.rows + 1) {
            for (i, out_row) in out.chunks_exact_mut(width).enumerate() {
                let (lo, hi) = (group[i], group[i + 1]);
                if lo == hi {
                    continue;
                }
                let (cols, vals) = (&a.col[lo..hi], &a.val[lo..hi]);
                let mut v0 = 0;
                while v0 < vectors {
                    let n = per_tile.min(vectors - v0);
                    let col0 = v0 * S::F32_LANES;
                    match n {
                        9 => add_tile::<S, 9>(simd, cols, vals, b, width, col0, out_row),
                        8 => add_tile::<S, 8>(simd, cols, vals, b, width, col0, out_row),
                        7 => add_tile::<S, 7>(simd, cols, vals, b, width, col0, out_row),
                        6 => add_tile::<S, 6>(simd, cols, vals, b, width, col0, out_row),
                        5 => add_tile::<S, 5>(simd, cols, vals, b, width, col0, out_row),
                        4 => add_tile::<S, 4>(simd, cols, vals, b, width, col0, out_row),
                        3 => add_tile::<S, 3>(simd, cols, vals, b, width, col0, out_row),
                        2 => add_tile::<S, 2>(simd, cols, vals, b, width, col0, out_row),
                        _ => add_tile::<S, 1>(simd, cols, vals, b, width, col0, out_row),
                    }
                    v0 += n;
                }
            }
        }
    }
}

/// `out[col0 .. col0 + T·lanes] += Σ_k vals[k] · b[cols[k], col0 ..]`.
#[inline(always)]
fn add_tile<S: faer::traits::pulp::Simd, const T: usize>(
    simd: S,
    cols: &[u32],
    vals: &[f32],
    b: &[f32],
    width: usize,
    col0: usize,
    out: &mut [f32],
) {
    let span = T * S::F32_LANES;
    let (dst, _) = S::as_mut_simd_f32s(&mut out[col0..col0 + span]);
    let mut acc: [S::f32s; T] = std::array::from_fn(|t| dst[t]);
    for (&j, &v) in cols.iter().zip(vals) {
        let start = j as usize * width + col0;
        let (row, _) = S::as_simd_f32s(&b[start..start + span]);
        let v = simd.splat_f32s(v);
        for t in 0..T {
            acc[t] = simd.mul_add_f32s(v, row[t], acc[t]);
        }
    }
    dst.copy_from_slice(&acc);
}

/// Test images: about 30% nonzero, in a fixed pattern.
#[cfg(test)]
pub fn sparse_images(n: usize, pixels: usize) -> Mat<f32> {
    Mat::from_fn(n, pixels, |i, j| if (i * 7 + j * 13) % 10 < 3 { ((i + 2 * j) % 11) as f32 / 11.0 } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_products_match_dense_ones() {
        let (rows, cols) = (37, 2 * SPARSE_COLUMN_GROUP + 11);
        let x = sparse_images(rows, cols);
        let sp = SparseRows::from_dense(x.as_ref());
        assert!(sp.density() < 0.5);
        for width in [SIMD_WIDTH, 3 * SIMD_WIDTH, 10 * SIMD_WIDTH] {
            let b = randn(&mut rng(3), cols, width, 1.0);
            let b_rows = to_row_major(b.as_ref());
            let mut out = vec![1.0; rows * width];
            sp.mul_add_row_major(&b_rows, width, &mut out);
            let mut dense = mul(x.as_ref(), b.as_ref());
            map_in_place(dense.as_mut(), |_, _, v| v + 1.0);
            let err = (row_major(&out, rows, width) - &dense).norm_l2() / dense.norm_l2();
            assert!(err < 1e-6, "width {width}: {err}");
        }
    }

    #[test]
    fn row_major_copies_keep_shape_and_allow_empty_rows() {
        let m = Mat::from_fn(3, 2, |i, j| (2 * i + j) as f32);
        assert_eq!(to_row_major(m.as_ref()), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(&padded_row_major(m.as_ref(), SIMD_WIDTH)[SIMD_WIDTH..SIMD_WIDTH + 3], &[2.0, 3.0, 0.0]);
        assert!(to_row_major(Mat::<f32>::zeros(3, 0).as_ref()).is_empty());
        assert!(padded_row_major(Mat::<f32>::zeros(3, 0).as_ref(), 0).is_empty());
    }

    #[test]
    fn image_products_match_dense_ones_over_several_blocks() {
        let (n, pixels) = (IMAGE_BLOCK + 300, 50);
        let images = ImageRows::new(sparse_images(n, pixels));
        assert_eq!(images.blocks().map(<[_]>::len), Some(2), "mostly-zero images are kept as sparse blocks");
        let dense = ImageRows::new(randn(&mut rng(4), 20, pixels, 1.0));
        assert!(dense.blocks().is_none());
        for k in [1, 7, 40] {
            let width = padded_width(k);
            let p = randn(&mut rng(5), pixels, k, 1.0);
            let q = randn(&mut rng(6), n, k, 1.0);
            let (xp, xq) = (mul(images.x.as_ref(), p.as_ref()), mul(images.x.transpose(), q.as_ref()));
            let err = |a: MatRef<'_, f32>, b: &Mat<f32>| (a - b).norm_l2() / b.norm_l2();
            assert!(err(row_major(&images.project(p.as_ref()), n, width).subcols(0, k), &xp) < 1e-6, "X P, k = {k}");
            let q_rows = padded_row_major(q.as_ref(), width);
            assert!(err(images.back_project(&q_rows, width, k).as_ref(), &xq) < 1e-5, "Xᵀ Q, k = {k}");
            // Every padded row starts a cache line, so the kernel's vector loads never straddle two.
            for rows in [&q_rows, &images.project(p.as_ref())] {
                assert!(rows.chunks_exact(width).all(|row| (row.as_ptr() as usize).is_multiple_of(64)), "k = {k}: rows aligned");
            }
            assert!(
                err(
                    dense.back_project(&padded_row_major(q.as_ref().subrows(0, 20), width), width, k).as_ref(),
                    &mul(dense.x.transpose(), q.as_ref().subrows(0, 20))
                ) < 1e-6
            );
        }
    }
}
