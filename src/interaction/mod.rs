//! The interaction tensor `B` of a bilinear layer (SPEC §3.3), kept in factored form.
//!
//! `y_c(x) = xᵀ B_c x + b_c` with `B_c = W_eᵀ Q_c W_e` and `Q_c = sym(W_lᵀ diag(W_u[c]) W_r)`.
//! Inner products, norms and cosines against symmetrised CP tensors are exact and cost a few
//! matrix products; the dense `C × I × I` tensor is only ever built by
//! [`Interaction::dense`], a test oracle.
//!
//! Two choices keep the work small whatever the layer ([`Interaction::new`] makes both):
//! - the **space** the forms act in ([`Space`]): an embedding narrower than the inputs, or the
//!   inputs themselves (a layer without embedding, or an embedding at least as wide as the
//!   inputs, folded into `W_l` and `W_r`);
//! - how the forms are **held** ([`Storage`]): every `Q_c` formed and stacked (cheap for a
//!   classifier's ten outputs), or never formed, computed through the hidden units from
//!   `[W_l; W_r]` and `W_u` (the only way for a language model's layer: 1024 outputs of
//!   1024 × 1024 forms would take 4 GiB).

mod cp;
pub mod eigen;
pub mod functional;
mod lanczos;

pub use cp::{CpGrads, CpGrams, CpTensor};

use crate::linalg::matmul;
use faer::{Accum, Mat, MatMut, MatRef};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::linalg;
pub use crate::linalg::to_f64;
use crate::model::Bilinear;

/// The space the quadratic forms act in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    /// The model's embedding (`h = W_e x`), narrower than the inputs.
    Embedding,
    /// The inputs themselves.
    Input,
}

/// How the forms `Q_c` are held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// Every `Q_c` formed, stacked row-block-wise.
    Stacked,
    /// Never formed: products go through the hidden units.
    Factored,
}

/// The most floats the stacked forms may take (64 MiB).
const MAX_STACKED: usize = 1 << 24;

#[derive(Clone, Debug)]
enum Forms {
    /// `(C·D) × D`.
    Stacked(Mat<f32>),
    /// `[W_l; W_r]` (`2H × D`) and `W_u` (`C × H`).
    Factored { lr: Mat<f32>, u: Mat<f32> },
}

/// The symmetrised interaction tensor of one bilinear layer, in factored form.
#[derive(Clone, Debug)]
pub struct Interaction {
    /// Maps inputs into the space of the forms: `W_e` (`D × I`) in embedding space, `None` in
    /// input space.
    pub w_e: Option<Mat<f32>>,
    forms: Forms,
    n_classes: usize,
    n_inputs: usize,
    /// `‖B_c‖²` of every output, in f64.
    output_norms_sq: Vec<f64>,
}

impl Interaction {
    /// The interaction tensor of `model`, in the space and storage that cost least.
    pub fn new(model: &Bilinear) -> Self {
        let c = model.config();
        let space = match c.n_embed {
            Some(e) if e < c.n_inputs => Space::Embedding,
            _ => Space::Input,
        };
        let d = if space == Space::Embedding { c.n_read() } else { c.n_inputs };
        let stacked = c.n_outputs * d * d;
        let storage = if stacked <= MAX_STACKED && stacked <= work_per_column(Storage::Factored, d, c.n_hidden, c.n_outputs) {
            Storage::Stacked
        } else {
            Storage::Factored
        };
        Self::with(model, space, storage)
    }

    /// The interaction tensor of `model` in a given space and storage (the same tensor in
    /// every one: a test checks it). `Space::Embedding` needs an embedding.
    pub fn with(model: &Bilinear, space: Space, storage: Storage) -> Self {
        let (w_e, w_l, w_r) = match (&model.w_e, space) {
            (Some(e), Space::Embedding) => (Some(e.clone()), model.w_l.clone(), model.w_r.clone()),
            // Fold the embedding into the projections: W_l W_e and W_r W_e read the inputs.
            (Some(e), Space::Input) => (None, linalg::mul(model.w_l.as_ref(), e.as_ref()), linalg::mul(model.w_r.as_ref(), e.as_ref())),
            (None, _) => (None, model.w_l.clone(), model.w_r.clone()),
        };
        let (d, c) = (w_l.ncols(), model.w_u.nrows());
        let forms = match storage {
            Storage::Stacked => {
                let mut q = Mat::zeros(c * d, d);
                for class in 0..c {
                    let qc = form(&w_l, &w_r, model.w_u.row(class).iter().copied());
                    q.as_mut().subrows_mut(class * d, d).copy_from(&qc);
                }
                Forms::Stacked(q)
            }
            Storage::Factored => {
                let mut lr = Mat::zeros(2 * w_l.nrows(), d);
                lr.as_mut().subrows_mut(0, w_l.nrows()).copy_from(&w_l);
                lr.as_mut().subrows_mut(w_l.nrows(), w_l.nrows()).copy_from(&w_r);
                Forms::Factored { lr, u: model.w_u.clone() }
            }
        };
        let n_inputs = w_e.as_ref().map_or(d, |e| e.ncols());
        let mut this = Self { w_e, forms, n_classes: c, n_inputs, output_norms_sq: Vec::new() };
        this.output_norms_sq = this.output_quads(this.gram_f64().as_ref());
        this
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }

    /// Dimension `D` of the space the forms act in.
    pub fn dim(&self) -> usize {
        match &self.forms {
            Forms::Stacked(q) => q.ncols(),
            Forms::Factored { lr, .. } => lr.ncols(),
        }
    }

    pub fn space(&self) -> Space {
        if self.w_e.is_some() { Space::Embedding } else { Space::Input }
    }

    pub fn storage(&self) -> Storage {
        match self.forms {
            Forms::Stacked(_) => Storage::Stacked,
            Forms::Factored { .. } => Storage::Factored,
        }
    }

    /// Multiply-adds per column of a CP tensor in [`Interaction::project`] (its gradient costs
    /// as much again).
    pub fn work_per_column(&self) -> usize {
        let h = match &self.forms {
            Forms::Stacked(_) => 0,
            Forms::Factored { u, .. } => u.ncols(),
        };
        self.w_e.as_ref().map_or(0, |e| 2 * e.nrows() * e.ncols()) + work_per_column(self.storage(), self.dim(), h, self.n_classes)
    }

    /// `Q_c` (`D × D`, symmetric).
    pub fn q(&self, class: usize) -> Mat<f32> {
        match &self.forms {
            Forms::Stacked(q) => q.as_ref().subrows(class * self.dim(), self.dim()).to_owned(),
            Forms::Factored { lr, u } => {
                let h = u.ncols();
                form(&lr.as_ref().subrows(0, h).to_owned(), &lr.as_ref().subrows(h, h).to_owned(), u.row(class).iter().copied())
            }
        }
    }

    /// `Q_o v_j` for every column `v_j` of `v` (`D × n`), with `o = outputs[j]`: the products
    /// of the top-k eigensolver, one column per output. Factored: `½ [W_l; W_r]ᵀ Z` with
    /// `Z = [u_o ⊙ W_r v; u_o ⊙ W_l v]`, two GEMMs for all the outputs together. `Z` lives in
    /// `work`, kept by the caller across calls: allocated afresh at every step, its pages
    /// (32 MiB for 1024 outputs through 4096 hidden units) were faulted in each time, and the
    /// wide layer's rank-matched baseline took about 10% longer.
    fn apply_forms(&self, outputs: &[usize], v: MatRef<'_, f32>, work: &mut Mat<f32>) -> Mat<f32> {
        match &self.forms {
            Forms::Stacked(q) => {
                let d = self.dim();
                let cols: Vec<Mat<f32>> = (0..v.ncols())
                    .into_par_iter()
                    .map(|j| {
                        let mut out = Mat::zeros(d, 1);
                        let block = q.as_ref().subrows(outputs[j] * d, d);
                        matmul(out.as_mut(), Accum::Replace, block, v.subcols(j, 1), 1.0, faer::Par::Seq);
                        out
                    })
                    .collect();
                Mat::from_fn(d, v.ncols(), |i, j| cols[j][(i, 0)])
            }
            Forms::Factored { lr, u } => {
                let h = u.ncols();
                if work.nrows() != 2 * h || work.ncols() < v.ncols() {
                    *work = Mat::zeros(2 * h, v.ncols());
                }
                let mut z = work.as_mut().subcols_mut(0, v.ncols());
                matmul(z.as_mut(), Accum::Replace, lr.as_ref(), v, 1.0, linalg::par()); // [W_l v; W_r v]
                // Each output's column scaled by half its row of `W_u`, outputs split over
                // the threads. `W_u` is stored by columns, so a row of it is strided: read in
                // blocks of hidden units, the lines of `W_u` a block reads stay cached while
                // every output's column goes by (read row by row on one thread, this loop took
                // about 2 of the 16 s of a wide layer's rank-matched baseline).
                const HIDDEN_BLOCK: usize = 64;
                let scale = |mut z: MatMut<'_, f32>, outputs: &[usize]| {
                    for k0 in (0..h).step_by(HIDDEN_BLOCK) {
                        let block = k0..(k0 + HIDDEN_BLOCK).min(h);
                        for (j, &o) in outputs.iter().enumerate() {
                            let (left, right) = linalg::col_mut(z.as_mut(), j).split_at_mut(h);
                            for k in block.clone() {
                                let w = 0.5 * u[(o, k)];
                                (left[k], right[k]) = (w * right[k], w * left[k]);
                            }
                        }
                    }
                };
                let half = outputs.len() / 2;
                let (first, second) = z.as_mut().split_at_col_mut(half);
                let (outputs_first, outputs_second) = outputs.split_at(half);
                linalg::join(|| scale(first, outputs_first), false, || scale(second, outputs_second), false);
                linalg::mul(lr.transpose(), z.as_ref())
            }
        }
    }

    /// `‖B‖²_F`, computed once in f64.
    pub fn norm_sq(&self) -> f64 {
        self.output_norms_sq.iter().sum()
    }

    pub fn norm(&self) -> f64 {
        self.norm_sq().sqrt()
    }

    /// Refuses a tensor with nothing to read (`to` says what would read it): zero, or not
    /// finite (weights that overflow f32).
    pub fn check_readable(&self, to: &str) -> Result<(), crate::error::Error> {
        let invalid = |message: String| Err(crate::error::Error::Invalid(message));
        match self.norm() {
            n if !n.is_finite() => invalid("the model's interaction tensor is not finite: its weights overflow in f32".into()),
            0.0 => invalid(format!("the model's interaction tensor is zero: there is nothing to {to}")),
            _ => Ok(()),
        }
    }

    /// `‖B_c‖²` of every output `c`.
    pub fn output_norms_sq(&self) -> &[f64] {
        &self.output_norms_sq
    }

    /// `G = W_e W_eᵀ` in f64 (the identity in input space, as `None`).
    fn gram_f64(&self) -> Option<Mat<f64>> {
        self.w_e.as_ref().map(|e| {
            let we = to_f64(e.as_ref());
            &we * we.transpose()
        })
    }

    /// An input-space metric `M` (`I × I`) in the space of the forms: `W_e M W_eᵀ`, or `M`.
    pub fn metric(&self, m: &Mat<f64>) -> Mat<f64> {
        match &self.w_e {
            Some(e) => {
                let we = to_f64(e.as_ref());
                &we * m * we.transpose()
            }
            None => m.clone(),
        }
    }

    /// `tr(Q_c G)` for every output, with `G` a metric in the forms' space ([`Interaction::metric`]).
    /// Factored: `Σ_h W_u[c,h] l_hᵀ G r_h`.
    pub fn output_traces(&self, g: &Mat<f64>) -> Vec<f64> {
        match &self.forms {
            Forms::Stacked(_) => (0..self.n_classes)
                .map(|c| {
                    let q = self.q(c);
                    (0..q.nrows()).flat_map(|i| (0..q.ncols()).map(move |j| (i, j))).map(|(i, j)| q[(i, j)] as f64 * g[(j, i)]).sum()
                })
                .collect(),
            Forms::Factored { lr, u } => {
                let h = u.ncols();
                let lr = to_f64(lr.as_ref());
                let lg = lr.as_ref().subrows(0, h) * g;
                let per_unit: Vec<f64> = (0..h).map(|k| (0..g.ncols()).map(|j| lg[(k, j)] * lr[(h + k, j)]).sum()).collect();
                (0..self.n_classes).map(|c| (0..h).map(|k| u[(c, k)] as f64 * per_unit[k]).sum()).collect()
            }
        }
    }

    /// `tr(Q_c G Q_c G)` for every output (`‖B_c‖²` when `G = W_e W_eᵀ`; `None` is the identity).
    /// Factored: `u_cᵀ K u_c` with `K = ½[(L G Lᵀ) ∘ (R G Rᵀ) + (L G Rᵀ) ∘ (R G Lᵀ)]` (`H × H`),
    /// in f64, a block of rows of `K` at a time (all of it would take 128 MiB for 4096 hidden
    /// units), and of each block only the columns up to its diagonal (`K` is symmetric: the
    /// columns before the block count twice), which halves the products.
    pub fn output_quads(&self, g: Option<&Mat<f64>>) -> Vec<f64> {
        match &self.forms {
            Forms::Stacked(_) => (0..self.n_classes)
                .map(|c| {
                    let q = to_f64(self.q(c).as_ref());
                    let qg = match g {
                        Some(g) => &q * g,
                        None => q,
                    };
                    // tr((QG)(QG)) = Σ_ij (QG)_ij (QG)_ji
                    let mut s = 0.0;
                    for i in 0..qg.nrows() {
                        for j in 0..qg.ncols() {
                            s += qg[(i, j)] * qg[(j, i)];
                        }
                    }
                    s
                })
                .collect(),
            Forms::Factored { lr, u } => {
                let lr = to_f64(lr.as_ref());
                let lrg = match g {
                    Some(g) => &lr * g,
                    None => lr.clone(),
                };
                let (h, u) = (u.ncols(), to_f64(u.as_ref()));
                let mut norms = vec![0.0; u.nrows()];
                const BLOCK: usize = 512;
                for start in (0..h).step_by(BLOCK) {
                    let (b, end) = (BLOCK.min(h - start), (start + BLOCK).min(h));
                    let rows = |side: usize| lrg.as_ref().subrows(side * h + start, b);
                    let cols = |side: usize| lr.as_ref().subrows(side * h, end).transpose();
                    // Rows `start..start + b`, columns `..end` of LGLᵀ, LGRᵀ, RGLᵀ and RGRᵀ.
                    let [ll, lrt, rl, rr] = [(0, 0), (0, 1), (1, 0), (1, 1)].map(|(i, j)| rows(i) * cols(j));
                    let k = Mat::from_fn(b, end, |i, j| {
                        let twice = if j < start { 2.0 } else { 1.0 };
                        0.5 * twice * (ll[(i, j)] * rr[(i, j)] + lrt[(i, j)] * rl[(i, j)])
                    });
                    let ku = &k * u.as_ref().subcols(0, end).transpose(); // b × C
                    for (c, norm) in norms.iter_mut().enumerate() {
                        *norm += (0..b).map(|i| u[(c, start + i)] * ku[(i, c)]).sum::<f64>();
                    }
                }
                norms
            }
        }
    }

    /// `⟨sym(T), B⟩` for a CP tensor `T`, and optionally `weight ·` its gradient with respect
    /// to the heads and both factor matrices, accumulated into `grad`.
    pub fn inner(&self, t: &CpTensor, grad: Option<(f32, &mut CpGrads)>) -> f64 {
        let p = self.project(t);
        if let Some((weight, g)) = grad {
            p.add_grad(weight, g);
        }
        p.value()
    }

    /// The products behind [`Interaction::inner`], so that a caller can read the value first
    /// and add the gradient later with a weight that depends on it (the cosine does).
    ///
    /// `⟨sym T, B⟩ = Σ_{c,r} D_cr s_cr` with `s_cr = p_u,rᵀ Q_c p_w,r`: both factor matrices are
    /// mapped into the forms' space side by side, `P = W_e [U | W]` (`W_e U` alone when `U = W`,
    /// as in every symmetric and evidence-split dictionary: the products are then half as
    /// wide). Stacked forms: one product `Q P` with all `Q_c` (its `W`-half gives `s`, its
    /// `U`-half the gradient of `W`). Factored forms: `A = [W_l; W_r] P` and
    /// `s_c = ½ W_u[c] · (A_lu ⊙ A_rw + A_lw ⊙ A_ru)`.
    pub fn project<'a>(&'a self, t: &'a CpTensor) -> Projection<'a> {
        let (d, r, c) = (self.dim(), t.rank(), self.n_classes);
        let halves = Halves { r, same: t.shares_factors() };
        let mut p = Mat::<f32>::zeros(d, halves.width()); // [P_u | P_w], or P_u alone
        let par = linalg::par();
        let factors = if halves.same { vec![&t.u] } else { vec![&t.u, &t.w] };
        for (i, f) in factors.into_iter().enumerate() {
            match &self.w_e {
                Some(e) => matmul(p.as_mut().subcols_mut(i * r, r), Accum::Replace, e.as_ref(), f.as_ref(), 1.0, par),
                None => p.as_mut().subcols_mut(i * r, r).copy_from(f),
            }
        }
        match &self.forms {
            Forms::Stacked(q) => {
                let qp = linalg::mul(q.as_ref(), p.as_ref()); // (C·D) × 2R: [Q P_u | Q P_w]
                let mut s = Mat::<f32>::zeros(c, r);
                let mut total = 0.0f64;
                for k in 0..r {
                    let pu = linalg::col(p.as_ref(), k);
                    let qpw = linalg::col(qp.as_ref(), halves.w(k));
                    for class in 0..c {
                        let v = dot_f64(pu, &qpw[class * d..(class + 1) * d]);
                        s[(class, k)] = v as f32;
                        total += t.heads[(class, k)] as f64 * v;
                    }
                }
                Projection { inter: self, t, halves, products: Products::Stacked(qp), s, value: total }
            }
            Forms::Factored { lr, u } => {
                let h = u.ncols();
                let a = linalg::mul(lr.as_ref(), p.as_ref()); // 2H × 2R: [[L P_u, L P_w]; [R P_u, R P_w]]
                let mut m = Mat::<f32>::zeros(h, r);
                for k in 0..r {
                    let ((lu, ru), (lw, rw)) = (linalg::col(a.as_ref(), k).split_at(h), linalg::col(a.as_ref(), halves.w(k)).split_at(h));
                    for ((((o, lu), ru), lw), rw) in linalg::col_mut(m.as_mut(), k).iter_mut().zip(lu).zip(ru).zip(lw).zip(rw) {
                        *o = 0.5 * (lu * rw + lw * ru);
                    }
                }
                let s = linalg::mul(u.as_ref(), m.as_ref());
                let mut total = 0.0f64;
                for k in 0..r {
                    total += dot_f64(linalg::col(t.heads.as_ref(), k), linalg::col(s.as_ref(), k));
                }
                Projection { inter: self, t, halves, products: Products::Factored(a), s, value: total }
            }
        }
    }

    /// Tensor cosine `cos(sym T, B)` (SPEC §8.1), exact.
    pub fn cosine(&self, t: &CpTensor) -> f64 {
        let denom = (t.norm_sq(None) * self.norm_sq()).sqrt();
        if denom == 0.0 { 0.0 } else { self.inner(t, None) / denom }
    }

    /// The inner products of `t`'s terms with `B` and with each other (see [`TermInners`]).
    pub fn term_inners(&self, t: &CpTensor) -> TermInners {
        let p = self.project(t);
        let with_b = (0..t.rank()).map(|k| dot_f64(linalg::col(t.heads.as_ref(), k), linalg::col(p.s.as_ref(), k))).collect();
        TermInners { with_b, gram: t.term_gram(), b_norm_sq: self.norm_sq() }
    }

    /// The dense symmetric tensor, `C` matrices of `I × I`. Test oracle for small sizes only.
    pub fn dense(&self) -> Vec<Mat<f64>> {
        (0..self.n_classes)
            .map(|c| {
                let q = to_f64(self.q(c).as_ref());
                match &self.w_e {
                    Some(e) => {
                        let we = to_f64(e.as_ref());
                        we.transpose() * q * &we
                    }
                    None => q,
                }
            })
            .collect()
    }
}

/// Multiply-adds per column of a CP tensor through the forms: stacked `C·D²`, factored
/// `4·H·D + C·H`.
fn work_per_column(storage: Storage, d: usize, h: usize, c: usize) -> usize {
    match storage {
        Storage::Stacked => c * d * d,
        Storage::Factored => 4 * h * d + c * h,
    }
}

/// `sym(Lᵀ diag(u) R)`, one output's form (the antisymmetric part never reaches an output).
fn form(w_l: &Mat<f32>, w_r: &Mat<f32>, u: impl Iterator<Item = f32>) -> Mat<f32> {
    let u: Vec<f32> = u.collect();
    let d = w_l.ncols();
    let scaled = Mat::from_fn(w_r.nrows(), d, |h, j| u[h] * w_r[(h, j)]);
    let raw = linalg::mul(w_l.transpose(), scaled.as_ref());
    Mat::from_fn(d, d, |i, j| 0.5 * (raw[(i, j)] + raw[(j, i)]))
}

/// The inner products of a CP tensor's terms with `B` and with each other: the cosine of any
/// run of consecutive terms is then a sum of entries, with no new products (the faithfulness
/// curves take dozens of such cosines).
pub struct TermInners {
    /// `⟨sym T_r, B⟩` of every term.
    with_b: Vec<f64>,
    /// `⟨sym T_i, sym T_j⟩`.
    gram: Mat<f64>,
    b_norm_sq: f64,
}

impl TermInners {
    /// [`Interaction::cosine`] of the terms `range` alone.
    pub fn cosine(&self, range: std::ops::Range<usize>) -> f64 {
        let inner: f64 = self.with_b[range.clone()].iter().sum();
        let norm_sq: f64 = range.clone().map(|j| range.clone().map(|i| self.gram[(i, j)]).sum::<f64>()).sum();
        let denom = (norm_sq * self.b_norm_sq).sqrt();
        if denom == 0.0 { 0.0 } else { inner / denom }
    }
}

/// What [`Projection::add_grad`] reuses from [`Interaction::project`].
enum Products {
    /// `[Q P_u | Q P_w]`, `(C·D) × 2R`.
    Stacked(Mat<f32>),
    /// `[W_l; W_r] [P_u | P_w]`, `2H × 2R`.
    Factored(Mat<f32>),
}

/// Where the `U` and `W` halves of a projection's columns are: side by side (`r` each), or
/// one block of `r` when `U = W`.
#[derive(Clone, Copy)]
struct Halves {
    r: usize,
    same: bool,
}

impl Halves {
    fn width(self) -> usize {
        if self.same { self.r } else { 2 * self.r }
    }

    /// The column of component `k`'s `W` half.
    fn w(self, k: usize) -> usize {
        if self.same { k } else { self.r + k }
    }

    /// The column whose products with the forms give the gradient of column `j`'s factor
    /// (`U`'s comes from `W`'s products and `W`'s from `U`'s).
    fn partner(self, j: usize) -> usize {
        if self.same { j } else { (j + self.r) % (2 * self.r) }
    }
}

/// The projections of one CP tensor through `B` ([`Interaction::project`]).
pub struct Projection<'a> {
    inter: &'a Interaction,
    t: &'a CpTensor,
    halves: Halves,
    products: Products,
    /// `s_cr = p_u,rᵀ Q_c p_w,r`, `C × R`.
    s: Mat<f32>,
    value: f64,
}

impl Projection<'_> {
    /// `⟨sym T, B⟩`.
    pub fn value(&self) -> f64 {
        self.value
    }

    /// Adds `weight · ∇_T⟨sym T, B⟩` into `g`: `dD = S`, and `[dU | dW] = W_eᵀ [dP_u | dP_w]`
    /// with, stacked, `dP_u = Σ_c D_c (Q_c P_w)`, `dP_w = Σ_c D_c (Q_c P_u)`; factored, with
    /// `G = W_uᵀ D`, `dP = [W_l; W_r]ᵀ · ½[[G⊙RP_w, G⊙RP_u]; [G⊙LP_w, G⊙LP_u]]`.
    pub fn add_grad(&self, weight: f32, g: &mut CpGrads) {
        let CpGrads { d: dd, u: du, w: dw } = g;
        let (inter, t) = (self.inter, self.t);
        let (d, r, c) = (inter.dim(), t.rank(), inter.n_classes);
        for k in 0..r {
            for class in 0..c {
                dd[(class, k)] += weight * self.s[(class, k)];
            }
        }
        // [dP_u | dP_w], D × 2R (one block when U = W: the two are equal).
        let halves = self.halves;
        let dp = match (&self.products, &inter.forms) {
            (Products::Stacked(qp), _) => {
                // Head-weighted sums over classes, [Σ_c D_c Q_c P_w | Σ_c D_c Q_c P_u]: the
                // gradient of U comes from W's products and that of W from U's.
                let mut hw = Mat::<f32>::zeros(d, halves.width());
                for j in 0..halves.width() {
                    let src = linalg::col(qp.as_ref(), j);
                    let dst = linalg::col_mut(hw.as_mut(), halves.partner(j));
                    for class in 0..c {
                        let h = t.heads[(class, j % r)];
                        for (o, &v) in dst.iter_mut().zip(&src[class * d..(class + 1) * d]) {
                            *o += h * v;
                        }
                    }
                }
                hw
            }
            (Products::Factored(a), Forms::Factored { lr, u }) => {
                let h = u.ncols();
                let gh = linalg::mul(u.transpose(), t.heads.as_ref()) * faer::Scale(0.5); // ½G, H × R
                // Column block u (j < r): ½G⊙RP_w on top, ½G⊙LP_w below; block w: the same with P_u.
                let mut x = Mat::<f32>::zeros(2 * h, halves.width());
                for j in 0..halves.width() {
                    let k = j % r;
                    let (left, right) = linalg::col(a.as_ref(), halves.partner(j)).split_at(h);
                    let g = linalg::col(gh.as_ref(), k);
                    let (top, bottom) = linalg::col_mut(x.as_mut(), j).split_at_mut(h);
                    for (((t, b), g), (l, r)) in top.iter_mut().zip(bottom.iter_mut()).zip(g).zip(left.iter().zip(right)) {
                        *t = g * r;
                        *b = g * l;
                    }
                }
                linalg::mul(lr.transpose(), x.as_ref())
            }
            (Products::Factored(_), Forms::Stacked(_)) => unreachable!("products match the forms they came from"),
        };
        // Back from the forms' space to the factors': `weight · W_eᵀ dP`.
        let back = |dp: MatRef<'_, f32>| match &inter.w_e {
            Some(e) => linalg::mul(e.transpose(), dp) * faer::Scale(weight),
            None => dp * faer::Scale(weight),
        };
        let grad_u = back(dp.as_ref().subcols(0, r));
        if halves.same {
            *dw += &grad_u;
        } else {
            *dw += back(dp.as_ref().subcols(r, r));
        }
        *du += grad_u;
    }
}

/// `Σ a_i b_i` accumulated in f64, in eight independent lanes (so it vectorises).
fn dot_f64(a: &[f32], b: &[f32]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            lanes[l] += x[l] as f64 * y[l] as f64;
        }
    }
    let tail: f64 = ra.iter().zip(rb).map(|(&x, &y)| x as f64 * y as f64).sum();
    lanes.iter().sum::<f64>() + tail
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::ModelConfig;

    pub(crate) fn small_model(seed: u64) -> Bilinear {
        let cfg = ModelConfig { n_inputs: 11, n_embed: Some(5), n_hidden: 7, n_outputs: 3 };
        let mut m = Bilinear::init(cfg, &mut linalg::rng(seed));
        m.bias = vec![0.1, -0.2, 0.3];
        m
    }

    fn dense_dot(a: &[Mat<f64>], b: &[Mat<f64>]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (0..x.nrows()).flat_map(|i| (0..x.ncols()).map(move |j| (i, j))).map(|(i, j)| x[(i, j)] * y[(i, j)]).sum::<f64>())
            .sum()
    }

    /// The same tensor in every space and storage.
    fn every_kind(m: &Bilinear) -> Vec<Interaction> {
        let spaces: &[Space] = if m.w_e.is_some() { &[Space::Embedding, Space::Input] } else { &[Space::Input] };
        spaces.iter().flat_map(|&s| [Storage::Stacked, Storage::Factored].map(|st| Interaction::with(m, s, st))).collect()
    }

    #[test]
    fn quadratic_form_reproduces_the_logits() {
        let layer = Bilinear::init(ModelConfig { n_inputs: 6, n_embed: None, n_hidden: 4, n_outputs: 6 }, &mut linalg::rng(9));
        for m in [small_model(1), layer] {
            let (i, c) = (m.config().n_inputs, m.config().n_outputs);
            let x = linalg::randn(&mut linalg::rng(2), 4, i, 1.0);
            let z = m.logits(x.as_ref());
            for inter in every_kind(&m) {
                let b = inter.dense();
                for n in 0..4 {
                    let xv = Mat::from_fn(i, 1, |k, _| x[(n, k)] as f64);
                    for class in 0..c {
                        let quad = (xv.transpose() * &b[class] * &xv)[(0, 0)] + m.bias[class] as f64;
                        assert!((quad - z[(n, class)] as f64).abs() < 1e-4 * (1.0 + quad.abs()), "{quad} vs {}", z[(n, class)]);
                    }
                }
            }
        }
    }

    #[test]
    fn every_space_and_storage_gives_the_same_numbers() {
        let m = small_model(3);
        let t = CpTensor::random(3, 11, 4, &mut linalg::rng(4));
        let b = Interaction::with(&m, Space::Embedding, Storage::Stacked).dense();
        let norm_dense = dense_dot(&b, &b);
        // A general tensor, and one with U = W (the half-width products).
        for t in [t.clone(), symmetric(&t)] {
            let td = t.dense();
            let inner_dense = dense_dot(&td, &b);
            for inter in every_kind(&m) {
                let kind = (inter.space(), inter.storage());
                assert!((inter.norm_sq() - norm_dense).abs() < 1e-6 * norm_dense, "{kind:?}");
                // f32 products against f64: relative to the Cauchy–Schwarz bound ‖T‖‖B‖.
                let scale = (dense_dot(&td, &td) * norm_dense).sqrt();
                assert!((inter.inner(&t, None) - inner_dense).abs() < 1e-5 * scale, "{kind:?}");
                let cos_dense = inner_dense / scale;
                assert!((inter.cosine(&t) - cos_dense).abs() < 1e-5, "{kind:?}");
            }
        }
    }

    /// `t` with its `W` replaced by its `U`.
    fn symmetric(t: &CpTensor) -> CpTensor {
        CpTensor::new(t.heads.clone(), t.u.clone(), t.u.clone())
    }

    #[test]
    fn output_norms_agree_across_blocks_of_hidden_units() {
        // 1100 hidden units: the factored norms are summed over three blocks of rows of K.
        let m = Bilinear::init(ModelConfig { n_inputs: 6, n_embed: None, n_hidden: 1100, n_outputs: 3 }, &mut linalg::rng(4));
        let stacked = Interaction::with(&m, Space::Input, Storage::Stacked);
        let factored = Interaction::with(&m, Space::Input, Storage::Factored);
        for (a, b) in stacked.output_norms_sq().iter().zip(factored.output_norms_sq()) {
            assert!((a - b).abs() < 1e-5 * a, "{a} vs {b}"); // the stacked forms are rounded to f32
        }
    }

    #[test]
    fn cosine_of_the_exact_cp_form_is_one() {
        // B written as a CP tensor through its eigendecomposition.
        let m = small_model(5);
        for inter in every_kind(&m) {
            let t = eigen::Eigen::embedding(&inter).truncated(usize::MAX);
            assert!((inter.cosine(&t) - 1.0).abs() < 1e-5, "{}", inter.cosine(&t));
        }
    }

    #[test]
    fn cosines_of_term_runs_match_those_of_the_selected_terms() {
        let m = small_model(9);
        for inter in every_kind(&m) {
            let t = CpTensor::random(3, 11, 6, &mut linalg::rng(4));
            for t in [t.clone(), symmetric(&t)] {
                let inners = inter.term_inners(&t);
                for range in [0..6, 0..1, 2..5, 5..6] {
                    let want = inter.cosine(&t.select(&range.clone().collect::<Vec<_>>()));
                    assert!((inners.cosine(range.clone()) - want).abs() < 1e-5, "{range:?}: {} vs {want}", inners.cosine(range.clone()));
                }
                assert_eq!(inners.cosine(3..3), 0.0, "no terms, no cosine");
            }
        }
    }

    #[test]
    fn inner_product_gradient_matches_finite_differences() {
        let layer = Bilinear::init(ModelConfig { n_inputs: 11, n_embed: None, n_hidden: 5, n_outputs: 3 }, &mut linalg::rng(8));
        for m in [small_model(6), layer] {
            for inter in every_kind(&m) {
                let t = CpTensor::random(3, 11, 4, &mut linalg::rng(7));
                for t in [t.clone(), symmetric(&t)] {
                    let mut g = CpGrads::zeros(&t);
                    inter.inner(&t, Some((1.0, &mut g)));
                    // The oracle: f64 dense inner product.
                    let b = inter.dense();
                    let f = |t: &CpTensor| dense_dot(&t.dense(), &b);
                    cp::tests::check_gradient(&t, f, &g);
                }
            }
        }
    }

    #[test]
    fn the_cheaper_space_and_storage_are_chosen() {
        let pick = |n_inputs, n_embed, n_hidden, n_outputs| {
            let m = Bilinear::init(ModelConfig { n_inputs, n_embed, n_hidden, n_outputs }, &mut linalg::rng(1));
            let i = Interaction::new(&m);
            (i.space(), i.storage(), i.dim())
        };
        assert_eq!(pick(784, Some(96), 256, 10), (Space::Embedding, Storage::Stacked, 96), "the study's classifier");
        assert_eq!(pick(30, Some(40), 8, 3).0, Space::Input, "an embedding wider than the inputs is folded");
        assert_eq!(pick(64, None, 256, 64).1, Storage::Factored, "a language model's layer");
    }
}
