//! Rotations that keep a class's part of the model exactly and change what a person sees.
//!
//! Within one class, `P Pᵀ` is unchanged by `P → P R` for any orthogonal `R`: the columns of
//! `P` (scaled eigenvectors of one sign) can be turned into any other orthonormal mix at no
//! cost in fidelity. Varimax picks the mix whose columns each concentrate on few pixels.

use faer::{Mat, MatRef};

/// Kaiser's varimax: `P R` with the rotation `R` (`k × k`, orthogonal) that maximises
/// `Σ_j [Σ_i l_ij⁴ − (Σ_i l_ij²)²/n]` over the columns of `L = P R` (the variance of each
/// column's squared loadings), found by the usual SVD iteration.
pub fn varimax(p: MatRef<'_, f64>) -> Mat<f64> {
    let (n, k) = (p.nrows(), p.ncols());
    let mut r = Mat::<f64>::identity(k, k);
    let mut previous = 0.0;
    for _ in 0..500 {
        let l = p * &r;
        let column_ss: Vec<f64> = (0..k).map(|j| l.col(j).iter().map(|v| v * v).sum()).collect();
        let t = Mat::from_fn(n, k, |i, j| l[(i, j)].powi(3) - l[(i, j)] * column_ss[j] / n as f64);
        let b = p.transpose() * t;
        // B is finite whenever P is; an SVD failure leaves the last rotation in place.
        let Ok(svd) = b.thin_svd() else { break };
        r = svd.U() * svd.V().transpose();
        let objective: f64 = svd.S().column_vector().iter().sum();
        if objective <= previous * (1.0 + 1e-9) {
            break;
        }
        previous = objective;
    }
    p * r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varimax_keeps_the_span_and_unmixes_rotated_sparse_columns() {
        // Two disjoint sparse columns, mixed by a 30° rotation: varimax separates them again.
        let mut sparse = Mat::<f64>::zeros(8, 2);
        for i in 0..3 {
            sparse[(i, 0)] = 1.0 + i as f64;
            sparse[(5 + i, 1)] = 2.0 - 0.5 * i as f64;
        }
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let mix = Mat::from_fn(2, 2, |i, j| [[c, -s], [s, c]][i][j]);
        let mixed = &sparse * &mix;
        let rotated = varimax(mixed.as_ref());
        // The same P Pᵀ ...
        let (before, after) = (&mixed * mixed.transpose(), &rotated * rotated.transpose());
        assert!((&before - &after).norm_l2() < 1e-9 * before.norm_l2());
        // ... and each column back on its own pixels (up to sign and order).
        for j in 0..2 {
            let support: Vec<bool> = (0..8).map(|i| rotated[(i, j)].abs() > 1e-3).collect();
            assert!(
                support == [true, true, true, false, false, false, false, false]
                    || support == [false, false, false, false, false, true, true, true],
                "{support:?}"
            );
        }
    }
}
