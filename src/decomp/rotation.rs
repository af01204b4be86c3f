//! Rotations that keep a class's part of the model exactly and change what a person sees.
//!
//! Within one class, `P Pᵀ` is unchanged by `P → P R` for any orthogonal `R`: the columns of
//! `P` (scaled eigenvectors of one sign) can be turned into any other orthonormal mix at no
//! cost in fidelity. Varimax picks the mix whose columns each concentrate on few pixels;
//! [`per_image`] the mix that explains each image with few columns.

use faer::{Mat, MatRef};

/// Kaiser's varimax: `P R` with the rotation `R` (`k × k`, orthogonal) that maximises
/// `Σ_j [Σ_i l_ij⁴ − (Σ_i l_ij²)²/n]` over the columns of `L = P R` (the variance of each
/// column's squared loadings).
pub fn varimax(p: MatRef<'_, f64>) -> Mat<f64> {
    p * orthomax(p, 1.0)
}

/// The rotation `R` under which images are explained by few patterns: with `A = X P` the
/// patterns' activations on images `X` (rows), it maximises `Σ_ij (A R)_ij⁴` (quartimax on
/// activations). A class's contribution to image `i` is `Σ_j (A R)_ij²`, the same for every
/// `R`; maximising the fourth powers concentrates it on as few patterns as possible.
pub fn per_image(activations: MatRef<'_, f64>) -> Mat<f64> {
    orthomax(activations, 0.0)
}

/// The orthogonal `R` maximising `Σ_j [Σ_i l_ij⁴ − γ (Σ_i l_ij²)²/n]` over `L = A R`, by the
/// usual SVD iteration (`γ = 1` varimax, `γ = 0` quartimax); each step cannot lower it.
fn orthomax(a: MatRef<'_, f64>, gamma: f64) -> Mat<f64> {
    let (n, k) = (a.nrows(), a.ncols());
    let mut r = Mat::<f64>::identity(k, k);
    let mut previous = 0.0;
    for _ in 0..500 {
        let l = a * &r;
        let column_ss: Vec<f64> = (0..k).map(|j| l.col(j).iter().map(|v| v * v).sum()).collect();
        let t = Mat::from_fn(n, k, |i, j| l[(i, j)].powi(3) - gamma * l[(i, j)] * column_ss[j] / n as f64);
        let b = a.transpose() * t;
        // B is finite whenever A is; an SVD failure leaves the last rotation in place.
        let Ok(svd) = b.thin_svd() else { break };
        r = svd.U() * svd.V().transpose();
        let objective: f64 = svd.S().column_vector().iter().sum();
        if objective <= previous * (1.0 + 1e-9) {
            break;
        }
        previous = objective;
    }
    r
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

    #[test]
    fn per_image_rotation_explains_each_image_with_one_pattern() {
        // Images made of one of two disjoint parts; the patterns mix both parts, so every
        // image activates both. The per-image rotation gives each image one pattern again.
        let part = |j: usize| Mat::from_fn(6, 1, |i, _| if i / 3 == j { 1.0 / 3f64.sqrt() } else { 0.0 });
        let parts = Mat::from_fn(6, 2, |i, j| part(j)[(i, 0)]);
        let (c, s) = (25f64.to_radians().cos(), 25f64.to_radians().sin());
        let p = &parts * Mat::from_fn(2, 2, |i, j| [[c, -s], [s, c]][i][j]);
        let images = Mat::from_fn(10, 6, |n, i| (1.0 + n as f64 / 10.0) * part(n % 2)[(i, 0)]);
        let concentration = |a: &Mat<f64>| {
            (0..a.nrows()).map(|n| a[(n, 0)].powi(2).max(a[(n, 1)].powi(2)) / (a[(n, 0)].powi(2) + a[(n, 1)].powi(2))).fold(1.0, f64::min)
        };
        assert!(concentration(&(&images * &p)) < 0.9);
        let r = per_image((&images * &p).as_ref());
        assert!((&r * r.transpose() - Mat::<f64>::identity(2, 2)).norm_l2() < 1e-12, "not orthogonal");
        assert!(concentration(&(&images * &p * &r)) > 1.0 - 1e-9);
    }
}
