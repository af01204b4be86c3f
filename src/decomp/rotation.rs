//! Rotations that keep a class's part of the model exactly and change what a person sees.
//!
//! Within one class, `P Pᵀ` is unchanged by `P → P R` for any orthogonal `R`: the columns of
//! `P` (scaled eigenvectors of one sign) can be turned into any other orthonormal mix at no
//! cost in fidelity. Varimax picks the mix whose columns each concentrate on few pixels;
//! [`per_image`] the mix that explains each image with few columns.

use anyhow::{Result, bail};
use faer::{Mat, MatRef};
use rayon::prelude::*;

use super::bank::Bank;
use super::pattern::{Base, Mask};
use crate::linalg;

/// Kaiser's varimax: the rotation `R` (`k × k`, orthogonal) that maximises
/// `Σ_j [Σ_i l_ij⁴ − (Σ_i l_ij²)²/n]` over the columns of `L = P R` (the variance of each
/// column's squared loadings).
pub fn varimax(p: MatRef<'_, f64>) -> Mat<f64> {
    orthomax(p, 1.0)
}

/// The rotation `R` under which images are explained by few patterns: with `A = X P` the
/// patterns' activations on images `X` (rows), it maximises `Σ_ij (A R)_ij⁴` (quartimax on
/// activations). A class's contribution to image `i` is `Σ_j (A R)_ij²`, the same for every
/// `R`; maximising the fourth powers concentrates it on as few patterns as possible.
pub fn per_image(activations: MatRef<'_, f64>) -> Mat<f64> {
    orthomax(activations, 0.0)
}

/// The orthogonal `R` maximising `Σ_j [Σ_i l_ij⁴ − γ (Σ_i l_ij²)²/n]` over `L = A R`, by the
/// usual SVD iteration (`γ = 1` varimax, `γ = 0` quartimax); each step cannot lower it. Its
/// products are small (`n × k` by `k × k`) and groups run side by side, so they run on the
/// group's thread, through [`linalg::mul`], which also clears the AVX state the scalar loop
/// would pay for (the same bits as faer's operator products, in less time).
fn orthomax(a: MatRef<'_, f64>, gamma: f64) -> Mat<f64> {
    linalg::sequential(|| {
        let (n, k) = (a.nrows(), a.ncols());
        let mut r = Mat::<f64>::identity(k, k);
        let mut previous = 0.0;
        for _ in 0..500 {
            let l = linalg::mul(a, r.as_ref());
            let column_ss: Vec<f64> = (0..k).map(|j| l.col(j).iter().map(|v| v * v).sum()).collect();
            // Column by column over contiguous slices (an indexed `from_fn` and `powi`, a library
            // call, took most of a concept fit's set-up); `v·v·v` is `powi(3)` to the bit.
            let mut t = Mat::<f64>::zeros(n, k);
            for (j, &ss) in column_ss.iter().enumerate() {
                for (o, &v) in t.col_mut(j).iter_mut().zip(l.col(j).iter()) {
                    *o = v * v * v - gamma * v * ss / n as f64;
                }
            }
            let b = linalg::mul(a.transpose(), t.as_ref());
            // B is finite whenever A is; an SVD failure leaves the last rotation in place.
            let Ok(svd) = linalg::decomposed(|| b.thin_svd()) else { break };
            r = svd.U() * svd.V().transpose();
            let objective: f64 = svd.S().column_vector().iter().sum();
            if objective <= previous * (1.0 + 1e-9) {
                break;
            }
            previous = objective;
        }
        r
    })
}

/// One class's components whose heads have one sign (columns of the factor matrix), and the
/// rotation of their patterns scaled by `√|head|`.
pub struct GroupRotation {
    class: usize,
    positive: bool,
    members: Vec<usize>,
    rotation: Mat<f64>,
}

/// Groups one-hot components (patterns `u`, heads `heads`, one class each) by class and head
/// sign, and finds each group's rotation by varimax or, given each class's images (rows), per
/// image. Groups are independent: they are rotated side by side.
pub fn by_class_and_sign(u: MatRef<'_, f32>, heads: MatRef<'_, f32>, images_by_class: Option<&[Mat<f64>]>) -> Vec<GroupRotation> {
    let mut groups: std::collections::BTreeMap<(usize, bool), Vec<usize>> = Default::default();
    for k in 0..u.ncols() {
        let class = crate::model::argmax(heads.col(k).iter().map(|v| v.abs()));
        groups.entry((class, heads[(class, k)] > 0.0)).or_default().push(k);
    }
    let groups: Vec<_> = groups.into_iter().collect();
    groups
        .into_par_iter()
        .map(|((class, positive), members)| {
            let p = scaled(u, heads, class, &members);
            let rotation = match images_by_class {
                None => varimax(p.as_ref()),
                Some(images) => per_image((&images[class] * &p).as_ref()),
            };
            GroupRotation { class, positive, members, rotation }
        })
        .collect()
}

/// `m`'s columns of each group scaled by `√|head|` and rotated, with heads `±1` on each group's
/// class: with `m = u` the same tensor as `(heads, u)`, mixed. Any `m` the patterns are a
/// column-wise linear image of (the raw factors under smoothing and a mask shared by every
/// column) turns with them.
pub fn apply(groups: &[GroupRotation], m: MatRef<'_, f32>, heads: MatRef<'_, f32>) -> (Mat<f32>, Mat<f32>) {
    let mut out = Mat::<f32>::zeros(m.nrows(), m.ncols());
    let mut signs = Mat::<f32>::zeros(heads.nrows(), heads.ncols());
    for g in groups {
        let mixed = scaled(m, heads, g.class, &g.members) * &g.rotation;
        for (j, &k) in g.members.iter().enumerate() {
            out.col_mut(k).iter_mut().zip(mixed.col(j).iter()).for_each(|(o, &v)| *o = v as f32);
            signs[(g.class, k)] = if g.positive { 1.0 } else { -1.0 };
        }
    }
    (out, signs)
}

/// The columns `members` of `m`, each scaled by `√|head|` on `class`, in f64.
fn scaled(m: MatRef<'_, f32>, heads: MatRef<'_, f32>, class: usize, members: &[usize]) -> Mat<f64> {
    Mat::from_fn(m.nrows(), members.len(), |i, j| (m[(i, members[j])] as f64) * (heads[(class, members[j])].abs() as f64).sqrt())
}

/// Rotates a fitted symmetric bank of one-hot components within each class and head sign:
/// the same tensor, patterns mixed as [`by_class_and_sign`] finds from the displayed
/// patterns. The raw factors turn with them (smoothing and a support mask act on each column
/// alike), and the heads become `±1`, the strength moving into the patterns.
pub fn rotate_bank(bank: &mut Bank, images_by_class: Option<&[Mat<f64>]>) -> Result<()> {
    let f = bank.factors();
    let groups = by_class_and_sign(f.a.as_ref(), f.d.as_ref(), images_by_class);
    let shared_mask = match &bank.a.mask {
        None => true,
        Some(Mask::Fixed(m)) => (1..m.ncols()).all(|k| m.col(k) == m.col(0)),
        Some(Mask::Learnable(_)) => false,
    };
    let (Base::Free { raw, .. }, None, None, None, true) = (&mut bank.a.base, &bank.b, &bank.a.log_amp, &bank.a.signs, shared_mask) else {
        bail!("a rotation after the fit needs a symmetric bank of free factors, without amplitudes, kept signs or per-component masks");
    };
    let (turned, heads) = apply(&groups, raw.as_ref(), f.d.as_ref());
    *raw = turned;
    bank.head.raw = heads;
    Ok(())
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
        let rotated = &mixed * varimax(mixed.as_ref());
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

    /// Class `c`'s dense part `Σ_k d_ck a_k a_kᵀ` of a symmetric bank.
    fn class_tensor(bank: &Bank, c: usize) -> Mat<f64> {
        let f = bank.factors();
        let n = f.a.nrows();
        Mat::from_fn(n, n, |i, j| (0..f.a.ncols()).map(|k| (f.d[(c, k)] * f.a[(i, k)] * f.a[(j, k)]) as f64).sum())
    }

    #[test]
    fn a_bank_turned_after_the_fit_keeps_its_tensor_and_explains_images_with_fewer_patterns() {
        use crate::decomp::bank::{Head, HeadRule};
        use crate::decomp::form::{Form, Role};
        use crate::decomp::pattern::Pattern;
        use crate::image::ImageShape;
        let shape = ImageShape { height: 8, width: 8 };
        let (n, r) = (64, 7);
        let mut rng = crate::linalg::rng(3);
        // Classes and head signs: class 0 (+, +, +, −), class 1 (+, −, −); strengths vary.
        let groups = [(0, 1.0), (0, 0.5), (0, 2.0), (0, -1.5), (1, 0.7), (1, -0.3), (1, -1.1)];
        let heads = Mat::from_fn(2, r, |c, k| if groups[k].0 == c { groups[k].1 } else { 0.0 });
        let mut pattern = Pattern::new(Base::Free { raw: crate::linalg::randn(&mut rng, n, r, 1.0), passes: 1 }, Some(shape));
        // A support mask: the same on every component, the border left out.
        let inside = |i: usize| (1..7).contains(&(i / 8)) && (1..7).contains(&(i % 8));
        pattern.mask = Some(Mask::Fixed(Mat::from_fn(n, r, |i, _| if inside(i) { 1.0 } else { 0.0 })));
        let bank = Bank {
            form: Form::Symmetric,
            role: Role::Displayed,
            a: pattern,
            b: None,
            head: Head { raw: heads, rule: HeadRule::TopK { k: 1, learn_class: false } },
            anchors: None,
        };
        let images: Vec<Mat<f64>> =
            (0..2).map(|_| Mat::from_fn(30, n, |_, _| (crate::linalg::randn(&mut rng, 1, 1, 1.0)[(0, 0)] as f64).max(0.0))).collect();
        // Σ (X_c P)⁴ over a class's components of one sign, patterns scaled by √|d|.
        let quartic = |bank: &Bank, c: usize, positive: bool| -> f64 {
            let f = bank.factors();
            let members: Vec<usize> = (0..r).filter(|&k| f.d[(c, k)] != 0.0 && (f.d[(c, k)] > 0.0) == positive).collect();
            let a = &images[c] * scaled(f.a.as_ref(), f.d.as_ref(), c, &members);
            a.col_iter().flat_map(|col| col.iter().map(|v| v.powi(4)).collect::<Vec<_>>()).sum()
        };
        for per_image in [false, true] {
            let mut turned = bank.clone();
            rotate_bank(&mut turned, per_image.then_some(images.as_slice())).unwrap();
            for c in 0..2 {
                let (before, after) = (class_tensor(&bank, c), class_tensor(&turned, c));
                assert!((&before - &after).norm_l2() < 1e-5 * before.norm_l2(), "class {c}: the tensor changed");
            }
            let d = turned.factors().d;
            for (k, &(c, w)) in groups.iter().enumerate() {
                assert_eq!((d[(c, k)], d[(1 - c, k)]), (w.signum(), 0.0), "component {k}: heads ±1 on its class");
            }
            if per_image {
                for (c, positive) in [(0, true), (1, false)] {
                    assert!(quartic(&turned, c, positive) >= quartic(&bank, c, positive) * (1.0 - 1e-9), "class {c}");
                }
                assert!(quartic(&turned, 0, true) > 1.01 * quartic(&bank, 0, true), "three random patterns are not already the best mix");
            }
        }
        let mut nonnegative = bank.clone();
        nonnegative.a.base = Base::Softplus { raw: Mat::zeros(n, r) };
        assert!(rotate_bank(&mut nonnegative, None).unwrap_err().to_string().contains("free factors"));
        let mut local = bank;
        local.a.mask = Some(Mask::Fixed(Mat::from_fn(n, r, |i, k| if i % r == k { 1.0 } else { 0.5 })));
        assert!(rotate_bank(&mut local, None).unwrap_err().to_string().contains("per-component masks"));
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
