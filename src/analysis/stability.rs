//! How reproducible a decomposition is across seeds: components of two runs are compared up
//! to the symmetries that leave the tensor unchanged, matched optimally, and summarised over
//! all pairs of runs (the reference's weak protocol, SPEC §8.12 and §13.13, is kept alongside).
//!
//! A component is `d ⊗ (α·P Pᵀ − β·M Mᵀ)` with unit display patterns `P = plus`, `M = minus`
//! (CP: `P ∝ a+b`, `M ∝ a−b`; split: `P ∝ p`, `M ∝ n`; symmetric: `M = 0`). Patterns enter
//! squared, so each one's sign is irrelevant; and for CP and split components
//! `(P, M, d) → (M, P, −d)` gives the same tensor (CP: `(a, b) → (−a, b)`). Similarities are
//! therefore absolute cosines, maximised over the identity and the swap.

use faer::{Mat, MatRef};
use serde::Serialize;

use crate::decomp::Components;
use crate::linalg;
use crate::linalg::matching;

/// Columns with a squared norm below this are absent patterns (the zero minus of symmetric
/// components), not directions.
const ZERO_SQ: f64 = 1e-12;

/// Similarity in [0, 1] of component `i` of `x` and component `j` of `y`, invariant under
/// both symmetries: the larger, over {identity, swap}, of the mean of `|cos(plus_i, P_j)|`
/// and `|cos(minus_i, M_j)|` with `(P, M)` = (plus, minus) or (minus, plus). A term whose
/// two patterns are both absent is left out, so two symmetric components compare by their
/// plus patterns alone (and a symmetric one scores at most 1/2 against a two-pattern one).
///
/// With `use_heads`, each orientation's score is multiplied by the cosine of the heads (y's
/// head negated under the swap, as the symmetry negates `d`), clamped at 0: components that
/// vote against each other's classes are not the same component, however alike they look.
pub fn component_similarity(x: &Components, i: usize, y: &Components, j: usize, use_heads: bool) -> f64 {
    oriented_similarity(x, i, y, j, use_heads).0
}

/// [`component_similarity`] and whether the swap `(P, M, d) → (M, P, −d)` of `y`'s
/// component is the orientation that achieves it (ties go to the one whose heads agree).
pub fn oriented_similarity(x: &Components, i: usize, y: &Components, j: usize, use_heads: bool) -> (f64, bool) {
    let f64s = |v: &[f32]| v.iter().map(|&v| v as f64).collect::<Vec<f64>>();
    let (cx, cy) = (&x.items[i], &y.items[j]);
    let (xp, xm, yp, ym) = (f64s(&cx.plus), f64s(&cx.minus), f64s(&cy.plus), f64s(&cy.minus));
    let (xh, yh) = (f64s(&cx.head), f64s(&cy.head));
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
    let cos = |a: &[f64], b: &[f64]| {
        let n = (dot(a, a) * dot(b, b)).sqrt();
        if n > ZERO_SQ { dot(a, b) / n } else { 0.0 }
    };
    let present = |a: &[f64]| dot(a, a) > ZERO_SQ;
    combine(
        &Cosines {
            pp: cos(&xp, &yp),
            mm: cos(&xm, &ym),
            pm: cos(&xp, &ym),
            mp: cos(&xm, &yp),
            head: cos(&xh, &yh),
            present: [present(&xp), present(&xm), present(&yp), present(&ym)],
        },
        use_heads,
    )
}

/// [`component_similarity`] of each of `x`'s first `nx` components (rows) with each of `y`'s
/// first `ny` (columns), computed with matrix products (f32 accumulation).
pub fn similarity_matrix(x: &Components, nx: usize, y: &Components, ny: usize, use_heads: bool) -> Mat<f64> {
    let (nx, ny) = (nx.min(x.len()), ny.min(y.len()));
    let (x, y) = (x.top(nx), y.top(ny));
    let (xp, xpz) = unit_columns(x.plus().as_ref(), nx);
    let (xm, xmz) = unit_columns(x.minus().as_ref(), nx);
    let (xh, _) = unit_columns(x.heads().as_ref(), nx);
    let (yp, ypz) = unit_columns(y.plus().as_ref(), ny);
    let (ym, ymz) = unit_columns(y.minus().as_ref(), ny);
    let (yh, _) = unit_columns(y.heads().as_ref(), ny);
    let gram = |a: &Mat<f32>, b: &Mat<f32>| linalg::mul(a.transpose(), b.as_ref());
    let (pp, mm, pm, mp, hh) = (gram(&xp, &yp), gram(&xm, &ym), gram(&xp, &ym), gram(&xm, &yp), gram(&xh, &yh));
    Mat::from_fn(nx, ny, |i, j| {
        let c = Cosines {
            pp: pp[(i, j)] as f64,
            mm: mm[(i, j)] as f64,
            pm: pm[(i, j)] as f64,
            mp: mp[(i, j)] as f64,
            head: hh[(i, j)] as f64,
            present: [xpz[i], xmz[i], ypz[j], ymz[j]],
        };
        combine(&c, use_heads).0
    })
}

/// A one-to-one correspondence between components of two runs.
#[derive(Clone, Debug, Serialize)]
pub struct Matching {
    /// `(component in x, component in y, similarity)`, by x's index.
    pub pairs: Vec<(usize, usize, f64)>,
    /// Mean and minimum similarity over the pairs (0 when there are none).
    pub mean: f64,
    pub min: f64,
}

impl Matching {
    fn new(pairs: Vec<(usize, usize, f64)>) -> Self {
        let n = pairs.len().max(1) as f64;
        let mean = pairs.iter().map(|p| p.2).sum::<f64>() / n;
        let min = pairs.iter().map(|p| p.2).reduce(f64::min).unwrap_or(0.0);
        Self { pairs, mean, min }
    }
}

/// The optimal (Hungarian) matching of the `top` strongest components of two runs, so that a
/// stability number reflects the runs, not the order a greedy walk happens to take. With
/// unequal counts the surplus components stay unmatched and do not enter the mean.
pub fn match_runs(x: &Components, y: &Components, top: usize, use_heads: bool) -> Matching {
    let s = similarity_matrix(x, top, y, top, use_heads);
    Matching::new(matching::optimal(s.as_ref()).into_iter().map(|(i, j)| (i, j, s[(i, j)])).collect())
}

/// Each of `x`'s `top` strongest components against the component of `y` at the same
/// parameter position (bank and index). For template-anchored runs this pairs the
/// components that share an anchor, the comparison SPEC §13.13 notes was never made; a
/// component whose origin `y` lacks is skipped.
pub fn index_wise(x: &Components, y: &Components, top: usize, use_heads: bool) -> Matching {
    let pairs = (0..top.min(x.len()))
        .filter_map(|i| {
            let origin = (x.items[i].bank, x.items[i].index);
            let j = y.iter().position(|c| (c.bank, c.index) == origin)?;
            Some((i, j, component_similarity(x, i, y, j, use_heads)))
        })
        .collect();
    Matching::new(pairs)
}

/// The reference's seed-matching score (SPEC §8.12), for comparison only: the `top` plus and
/// `top` minus patterns of each run as `2·top` independent unit columns, absolute cosines,
/// greedy assignment. Pattern index `top + k` is component k's minus.
pub fn reference_greedy(x: &Components, y: &Components, top: usize) -> Matching {
    let patterns = |c: &Components| {
        let (k, c) = (top.min(c.len()), c.top(top));
        let (p, _) = unit_columns(c.plus().as_ref(), k);
        let (m, _) = unit_columns(c.minus().as_ref(), k);
        Mat::from_fn(p.nrows(), 2 * k, |r, j| if j < k { p[(r, j)] } else { m[(r, j - k)] })
    };
    let (px, py) = (patterns(x), patterns(y));
    let g = linalg::mul(px.transpose(), py.as_ref());
    let s = Mat::from_fn(g.nrows(), g.ncols(), |i, j| (g[(i, j)] as f64).abs());
    let mut pairs: Vec<_> = matching::greedy(s.as_ref()).into_iter().map(|(i, j)| (i, j, s[(i, j)])).collect();
    pairs.sort_by_key(|p| p.0);
    Matching::new(pairs)
}

/// Seed stability as a distribution over every pair of runs (the reference compared each seed
/// with the first only).
#[derive(Clone, Debug, Serialize)]
pub struct StabilityReport {
    pub runs: usize,
    pub top: usize,
    pub use_heads: bool,
    /// `(run i, run j, mean matched similarity)` for all `i < j`.
    pub pairs: Vec<(usize, usize, f64)>,
    pub mean: f64,
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// The reference's greedy plus/minus-as-independent-patterns score, mean over all pairs.
    pub greedy_mean: f64,
}

/// [`match_runs`] over all pairs of `runs` (at least two), summarised.
pub fn seed_stability(runs: &[Components], top: usize, use_heads: bool) -> anyhow::Result<StabilityReport> {
    anyhow::ensure!(runs.len() >= 2, "seed stability needs at least two runs, got {}", runs.len());
    let mut pairs = Vec::new();
    let mut greedy = 0.0;
    for i in 0..runs.len() {
        for j in i + 1..runs.len() {
            pairs.push((i, j, match_runs(&runs[i], &runs[j], top, use_heads).mean));
            greedy += reference_greedy(&runs[i], &runs[j], top).mean;
        }
    }
    let mut v: Vec<f64> = pairs.iter().map(|p| p.2).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) };
    Ok(StabilityReport {
        runs: runs.len(),
        top,
        use_heads,
        mean: v.iter().sum::<f64>() / n as f64,
        median,
        min: v[0],
        max: v[n - 1],
        greedy_mean: greedy / n as f64,
        pairs,
    })
}

/// Cosines between the patterns (and heads) of one component of each run.
struct Cosines {
    pp: f64,
    mm: f64,
    /// x's plus with y's minus, and x's minus with y's plus.
    pm: f64,
    mp: f64,
    head: f64,
    /// Whether x.plus, x.minus, y.plus, y.minus are present (non-zero).
    present: [bool; 4],
}

/// The similarity rule of [`component_similarity`], and whether the swap wins.
fn combine(c: &Cosines, use_heads: bool) -> (f64, bool) {
    let [xp, xm, yp, ym] = c.present;
    let mean = |terms: [(bool, f64); 2]| {
        let used: Vec<f64> = terms.iter().filter(|t| t.0).map(|t| t.1.abs()).collect();
        if used.is_empty() { 0.0 } else { used.iter().sum::<f64>() / used.len() as f64 }
    };
    let mut same = mean([(xp || yp, c.pp), (xm || ym, c.mm)]);
    let mut swap = mean([(xp || ym, c.pm), (xm || yp, c.mp)]);
    if use_heads {
        same *= c.head.max(0.0);
        swap *= (-c.head).max(0.0);
    }
    let swapped = swap > same || (swap == same && c.head < 0.0);
    (same.max(swap), swapped)
}

/// The first `k` columns of `m`, each scaled to unit norm (absent columns stay zero), and
/// which are present.
fn unit_columns(m: MatRef<'_, f32>, k: usize) -> (Mat<f32>, Vec<bool>) {
    let norms: Vec<f64> = (0..k).map(|j| m.col(j).iter().map(|&v| (v as f64).powi(2)).sum::<f64>()).collect();
    let present: Vec<bool> = norms.iter().map(|&n| n > ZERO_SQ).collect();
    let scale: Vec<f32> = norms.iter().zip(&present).map(|(&n, &p)| if p { (1.0 / n.sqrt()) as f32 } else { 0.0 }).collect();
    (Mat::from_fn(m.nrows(), k, |i, j| m[(i, j)] * scale[j]), present)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::{random_components, transform};

    fn is_identity(m: &Matching) -> bool {
        m.pairs.iter().enumerate().all(|(k, p)| p.0 == k && p.1 == k)
    }

    #[test]
    fn a_run_matches_itself_exactly() {
        let x = random_components(1, 12, 0);
        for heads in [false, true] {
            for i in 0..x.len() {
                assert!((component_similarity(&x, i, &x, i, heads) - 1.0).abs() < 1e-9);
            }
            let m = match_runs(&x, &x, 12, heads);
            assert!(is_identity(&m), "{:?}", m.pairs);
            assert!((m.mean - 1.0).abs() < 1e-5 && (m.min - 1.0).abs() < 1e-5);
            assert!((index_wise(&x, &x, 12, heads).mean - 1.0).abs() < 1e-9);
        }
    }

    #[test]
    fn permuted_sign_flipped_and_swapped_copy_is_recovered() {
        let x = random_components(2, 10, 0);
        let perm = [3, 7, 0, 9, 1, 5, 2, 8, 6, 4];
        let flip: Vec<bool> = (0..10).map(|k| k % 2 == 0).collect();
        let swap: Vec<bool> = (0..10).map(|k| k % 3 == 0).collect();
        let y = transform(&x, &perm, &flip, &swap);
        for heads in [false, true] {
            let m = match_runs(&x, &y, 10, heads);
            assert!((m.mean - 1.0).abs() < 1e-5, "heads {heads}: {}", m.mean);
            for &(i, j, _) in &m.pairs {
                assert_eq!(perm[j], i, "x component {i} matched y component {j}");
            }
            // The origins travel with the components, so index-wise recovers it too.
            let iw = index_wise(&x, &y, 10, heads);
            assert_eq!(iw.pairs.len(), 10);
            assert!(iw.pairs.iter().all(|&(i, j, s)| perm[j] == i && (s - 1.0).abs() < 1e-9));
        }
        // The swap is found as the orientation, exactly where it was applied.
        for j in 0..10 {
            let (s, swapped) = oriented_similarity(&x, perm[j], &y, j, true);
            assert!((s - 1.0).abs() < 1e-9);
            assert_eq!(swapped, swap[j], "component {j}");
        }
    }

    #[test]
    fn heads_must_agree_in_the_chosen_orientation() {
        let x = random_components(3, 4, 0);
        // Negating only the head (no pattern swap) is not a symmetry.
        let mut y = x.clone();
        for c in &mut y.items {
            c.head.iter_mut().for_each(|v| *v = -*v);
        }
        let plain = component_similarity(&x, 0, &y, 0, false);
        let with_heads = component_similarity(&x, 0, &y, 0, true);
        assert!((plain - 1.0).abs() < 1e-9);
        // Only the swapped orientation has agreeing heads, and its patterns are unrelated.
        let (_, swapped) = oriented_similarity(&x, 0, &y, 0, true);
        assert!(swapped && with_heads < 0.5, "{with_heads}");
    }

    #[test]
    fn symmetric_components_compare_by_plus_alone() {
        let x = random_components(4, 6, 6);
        assert!(x.items[0].minus.iter().all(|&v| v == 0.0));
        let y = transform(&x, &[1, 0, 2, 3, 4, 5], &[true; 6], &[false; 6]);
        assert!((component_similarity(&x, 1, &y, 0, true) - 1.0).abs() < 1e-9);
        let z = random_components(5, 6, 0);
        // Against a two-pattern component, the absent minus counts as a miss.
        assert!(component_similarity(&x, 0, &z, 0, false) <= 0.5 + 1e-12);
    }

    #[test]
    fn similarity_matrix_agrees_with_pairwise() {
        let (x, y) = (random_components(6, 7, 2), random_components(7, 5, 1));
        for heads in [false, true] {
            let s = similarity_matrix(&x, 7, &y, 5, heads);
            for i in 0..7 {
                for j in 0..5 {
                    assert!((s[(i, j)] - component_similarity(&x, i, &y, j, heads)).abs() < 1e-5);
                }
            }
        }
    }

    #[test]
    fn seed_stability_summarises_all_pairs() {
        let x = random_components(8, 8, 0);
        let y = transform(&x, &[1, 0, 3, 2, 5, 4, 7, 6], &[true; 8], &[true; 8]);
        let z = random_components(9, 8, 0);
        let rep = seed_stability(&[x, y, z], 8, false).unwrap();
        assert_eq!(rep.pairs.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>(), vec![(0, 1), (0, 2), (1, 2)]);
        assert!((rep.pairs[0].2 - 1.0).abs() < 1e-5 && (rep.max - 1.0).abs() < 1e-5);
        assert!(rep.pairs[1].2 < 0.6 && rep.min == rep.pairs[1].2.min(rep.pairs[2].2));
        let mut v: Vec<f64> = rep.pairs.iter().map(|p| p.2).collect();
        v.sort_by(f64::total_cmp);
        assert_eq!(rep.median, v[1]);
        assert!(rep.greedy_mean > 0.0 && rep.greedy_mean <= 1.0 + 1e-6);
        assert!(seed_stability(&[random_components(10, 3, 0)], 8, false).is_err());
    }

    #[test]
    fn reference_greedy_treats_plus_and_minus_as_independent_patterns() {
        let x = random_components(11, 4, 0);
        // Swapping plus and minus is invisible to it (as to the sign-aware score), but so is
        // a head change that is not a symmetry, and it may pair a plus with a minus.
        let y = transform(&x, &[0, 1, 2, 3], &[false; 4], &[true; 4]);
        let g = reference_greedy(&x, &y, 4);
        assert_eq!(g.pairs.len(), 8);
        assert!((g.mean - 1.0).abs() < 1e-5);
        assert!(g.pairs.iter().all(|&(i, j, _)| (i < 4) != (j < 4)), "plus matched to minus: {:?}", g.pairs);
    }
}
