//! The eigendecomposition baseline (SPEC §3.4): every class's quadratic form written as a sum
//! of signed rank-one terms `B_c = Σ_k λ_ck v_ck v_ckᵀ`, and its truncations.

use faer::{Mat, Side};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

pub use super::lanczos::Wanted;
use super::{CpTensor, Interaction, lanczos, to_f64};

/// Where the eigenproblem is solved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// `eigh(Q_c)` in the 96-dim embedding, vectors projected to pixels by `W_eᵀ` (the
    /// reference's `Model.decompose`); the projected vectors are neither unit nor orthogonal.
    Embedding,
    /// Orthonormal eigenvectors of the pixel-space `B_c` itself (the reference's eigen-seeded
    /// variant), obtained exactly from an `E × E` problem: `B_c`'s non-zero spectrum is that
    /// of `G^{½} Q_c G^{½}` with `G = W_e W_eᵀ`.
    Pixel,
}

/// Per-output eigenvalues (ascending, as `torch.linalg.eigh`) and input-space eigenvectors: all
/// of them, or those [`Wanted`] where the top-k solver is cheaper (a wide layer).
#[derive(Clone, Debug)]
pub struct Eigen {
    pub basis: Basis,
    /// The outputs decomposed (all of them, or a chosen few of a wide layer).
    pub outputs: Vec<usize>,
    /// All outputs of the layer, so truncations have one head row per output.
    pub n_outputs: usize,
    /// One list per decomposed output, in `outputs` order.
    pub values: Vec<Vec<f64>>,
    /// One `I × K` matrix per decomposed output; column k belongs to `values[o][k]`.
    pub vectors: Vec<Mat<f32>>,
}

fn eigh(m: &Mat<f64>) -> (Vec<f64>, Mat<f64>) {
    // Symmetric input by construction; faer only fails on non-finite entries, which loading rejects.
    let evd = crate::linalg::decomposed(|| m.self_adjoint_eigen(Side::Lower)).expect("eigendecomposition of a finite symmetric matrix");
    let s = evd.S().column_vector();
    ((0..s.nrows()).map(|i| s[i]).collect(), evd.U().to_owned())
}

fn to_f32(m: &Mat<f64>) -> Mat<f32> {
    Mat::from_fn(m.nrows(), m.ncols(), |i, j| m[(i, j)] as f32)
}

impl Eigen {
    pub fn new(inter: &Interaction, basis: Basis) -> Self {
        Self::of_outputs(inter, basis, &(0..inter.n_classes()).collect::<Vec<_>>(), Wanted::All)
    }

    /// The eigenpairs of the chosen `outputs` (a wide layer's few): every one by the dense
    /// solver, or only those `wanted` by the top-k solver where it costs less.
    pub fn of_outputs(inter: &Interaction, basis: Basis, outputs: &[usize], wanted: Wanted) -> Self {
        let (values, vectors) = match (basis, &inter.w_e) {
            (Basis::Embedding, _) | (Basis::Pixel, None) => Self::in_form_space(inter, outputs, wanted),
            (Basis::Pixel, Some(w_e)) => Self::orthonormal_pixels(inter, w_e, outputs),
        };
        Self { basis, outputs: outputs.to_vec(), n_outputs: inter.n_classes(), values, vectors }
    }

    pub fn embedding(inter: &Interaction) -> Self {
        Self::new(inter, Basis::Embedding)
    }

    pub fn pixel(inter: &Interaction) -> Self {
        Self::new(inter, Basis::Pixel)
    }

    /// The `r` largest-|λ| pixel eigen-terms over all outputs (the rank-matched baseline):
    /// `Eigen::pixel(inter).top_overall(r)`, by whichever solver costs less.
    pub fn rank_matched(inter: &Interaction, r: usize) -> CpTensor {
        let all: Vec<usize> = (0..inter.n_classes()).collect();
        Self::of_outputs(inter, Basis::Pixel, &all, Wanted::Overall(r)).top_overall(r)
    }

    /// Whether [`Eigen::rank_matched`] uses the top-k solver; otherwise it diagonalises every
    /// output, as [`Eigen::pixel`] does, and a caller holding that may truncate it instead.
    pub fn rank_matched_by_top_k(inter: &Interaction, r: usize) -> bool {
        inter.w_e.is_none() && lanczos::pays(inter, Wanted::Overall(r), inter.n_classes())
    }

    /// `eigh(Q_c)` in the forms' space, vectors mapped to the inputs by `W_eᵀ` (in input space
    /// they already are orthonormal input vectors).
    fn in_form_space(inter: &Interaction, outputs: &[usize], wanted: Wanted) -> (Vec<Vec<f64>>, Vec<Mat<f32>>) {
        if lanczos::pays(inter, wanted, outputs.len()) {
            let pairs = lanczos::solve(inter, outputs, wanted, lanczos::TOL, 0);
            return pairs
                .into_iter()
                .map(|(values, vectors)| match &inter.w_e {
                    Some(e) => (values, crate::linalg::mul(e.transpose(), vectors.as_ref())),
                    None => (values, vectors),
                })
                .unzip();
        }
        let we = inter.w_e.as_ref().map(|e| to_f64(e.as_ref()));
        outputs
            .par_iter()
            .map(|&c| {
                let (vals, vecs) = eigh(&to_f64(inter.q(c).as_ref()));
                let vecs = match &we {
                    Some(we) => we.transpose() * &vecs,
                    None => vecs,
                };
                (vals, to_f32(&vecs))
            })
            .unzip()
    }

    fn orthonormal_pixels(inter: &Interaction, w_e: &Mat<f32>, outputs: &[usize]) -> (Vec<Vec<f64>>, Vec<Mat<f32>>) {
        let we = to_f64(w_e.as_ref());
        let (g_vals, g_vecs) = eigh(&(&we * we.transpose()));
        // Directions W_e cannot reach carry no interaction; drop them from the square root.
        let floor = 1e-12 * g_vals.iter().copied().fold(0.0, f64::max);
        let scaled = |power: f64| {
            Mat::from_fn(
                g_vecs.nrows(),
                g_vecs.ncols(),
                |i, k| if g_vals[k] > floor { g_vecs[(i, k)] * g_vals[k].powf(power) } else { 0.0 },
            )
        };
        let root = scaled(0.5) * g_vecs.transpose();
        let inv_root = scaled(-0.5) * g_vecs.transpose();
        let lift = we.transpose() * inv_root; // maps eigenvectors y of G½QG½ to unit pixel vectors
        outputs
            .par_iter()
            .map(|&c| {
                let (vals, ys) = eigh(&(&root * to_f64(inter.q(c).as_ref()) * &root));
                (vals, to_f32(&(&lift * ys)))
            })
            .unzip()
    }

    /// The `k` largest-|λ| terms of every class as a CP tensor with one-hot heads carrying λ
    /// (`k ≥ E` keeps everything and reproduces `B` exactly).
    pub fn truncated(&self, k: usize) -> CpTensor {
        let picks: Vec<(usize, usize)> =
            (0..self.values.len()).flat_map(|c| self.top_of_class(c, k).into_iter().map(move |i| (c, i))).collect();
        self.cp_of(&picks)
    }

    /// The `r` largest-|λ| terms over all classes together (the eigen-seeded initialisation).
    pub fn top_overall(&self, r: usize) -> CpTensor {
        let mut all: Vec<(usize, usize)> = (0..self.values.len()).flat_map(|c| (0..self.values[c].len()).map(move |i| (c, i))).collect();
        all.sort_by(|&(a, i), &(b, j)| self.values[b][j].abs().total_cmp(&self.values[a][i].abs()));
        all.truncate(r);
        self.cp_of(&all)
    }

    /// `r` pairs `(position in outputs, i-th largest positive index, i-th most negative index)`,
    /// in order of `λ₊² + λ₋²` over all outputs (see `Init::EigenPairs`).
    pub fn top_pairs(&self, r: usize) -> Vec<(usize, usize, usize)> {
        let mut all = Vec::new();
        for (c, v) in self.values.iter().enumerate() {
            let n = v.len();
            // Ascending order: positives from the end, negatives from the start.
            for i in 0..n / 2 {
                let (hi, lo) = (n - 1 - i, i);
                if v[hi] > 0.0 && v[lo] < 0.0 {
                    all.push((v[hi] * v[hi] + v[lo] * v[lo], (c, hi, lo)));
                }
            }
        }
        all.sort_by(|a, b| b.0.total_cmp(&a.0));
        all.into_iter().take(r).map(|(_, p)| p).collect()
    }

    /// Indices of class `c`'s `k` largest-|λ| eigenpairs, largest first.
    pub fn top_of_class(&self, c: usize, k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..self.values[c].len()).collect();
        idx.sort_by(|&a, &b| self.values[c][b].abs().total_cmp(&self.values[c][a].abs()));
        idx.truncate(k);
        idx
    }

    /// The terms `(position in outputs, eigenpair index)` as CP triples with one-hot heads.
    fn cp_of(&self, picks: &[(usize, usize)]) -> CpTensor {
        let n = self.vectors.first().map_or(0, |v| v.nrows());
        let heads = Mat::from_fn(self.n_outputs, picks.len(), |c, r| {
            let (o, i) = picks[r];
            if self.outputs[o] == c { self.values[o][i] as f32 } else { 0.0 }
        });
        let u = Mat::from_fn(n, picks.len(), |i, r| self.vectors[picks[r].0][(i, picks[r].1)]);
        CpTensor::new(heads, u.clone(), u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_bases_reconstruct_every_class() {
        let inter = Interaction::new(&crate::interaction::tests::small_model(8));
        let dense = inter.dense();
        for basis in [Basis::Embedding, Basis::Pixel] {
            let eig = Eigen::new(&inter, basis);
            for (c, target) in dense.iter().enumerate() {
                let v = to_f64(eig.vectors[c].as_ref());
                let scaled = Mat::from_fn(v.nrows(), v.ncols(), |i, k| v[(i, k)] * eig.values[c][k]);
                let rebuilt = &scaled * v.transpose();
                let err = (&rebuilt - target).norm_l2() / target.norm_l2();
                assert!(err < 1e-5, "{basis:?} class {c}: relative error {err}");
            }
        }
    }

    #[test]
    fn pixel_eigenvectors_are_orthonormal_where_nonzero() {
        let inter = Interaction::new(&crate::interaction::tests::small_model(9));
        let eig = Eigen::pixel(&inter);
        let v = to_f64(eig.vectors[0].as_ref());
        let gram = v.transpose() * &v;
        for i in 0..gram.nrows() {
            assert!((gram[(i, i)] - 1.0).abs() < 1e-5);
            for j in 0..i {
                assert!(gram[(i, j)].abs() < 1e-5);
            }
        }
    }

    #[test]
    fn truncation_keeps_the_largest_terms() {
        let inter = Interaction::new(&crate::interaction::tests::small_model(10));
        let eig = Eigen::pixel(&inter);
        let cos: Vec<f64> = (1..=5).map(|k| inter.cosine(&eig.truncated(k))).collect();
        // Orthogonal truncation: fidelity grows with k and reaches 1 with every term.
        assert!(cos.windows(2).all(|w| w[1] >= w[0] - 1e-9), "{cos:?}");
        assert!((cos[4] - 1.0).abs() < 1e-5);
        assert_eq!(eig.top_overall(4).rank(), 4);
    }
}
