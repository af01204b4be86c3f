//! One-to-one matching of two sets of items from a score matrix (rows × columns, higher is
//! better): the optimal assignment, and the reference study's greedy walk (SPEC §8.12), kept
//! so its numbers can be reproduced and compared against the optimum.

use faer::MatRef;

/// Row–column pairs maximising the total score, `min(rows, cols)` of them, sorted by row.
///
/// Optimal, unlike [`greedy`]: taking the single best pair first can force two poor ones later.
pub fn optimal(score: MatRef<'_, f64>) -> Vec<(usize, usize)> {
    assert!(score.col_iter().all(|c| c.iter().all(|v| v.is_finite())), "assignment scores must be finite");
    let (n, m) = (score.nrows(), score.ncols());
    if n == 0 || m == 0 {
        return Vec::new();
    }
    let mut pairs = if n <= m {
        hungarian_max(n, m, |i, j| score[(i, j)]).into_iter().enumerate().collect::<Vec<_>>()
    } else {
        hungarian_max(m, n, |i, j| score[(j, i)]).into_iter().enumerate().map(|(j, i)| (i, j)).collect()
    };
    pairs.sort_unstable();
    pairs
}

/// The reference's greedy assignment (SPEC §8.12): all entries sorted descending (row-major
/// order breaks ties), each taken if its row and column are both still free, until
/// `min(rows, cols)` pairs are taken. Returned in the order taken.
pub fn greedy(score: MatRef<'_, f64>) -> Vec<(usize, usize)> {
    let (n, m) = (score.nrows(), score.ncols());
    let mut entries: Vec<(usize, usize)> = (0..n).flat_map(|i| (0..m).map(move |j| (i, j))).collect();
    // Stable sort keeps row-major order among equal scores, as Python's sort does.
    entries.sort_by(|&(a, b), &(c, d)| score[(c, d)].total_cmp(&score[(a, b)]));
    let (mut row_used, mut col_used) = (vec![false; n], vec![false; m]);
    let mut pairs = Vec::with_capacity(n.min(m));
    for (i, j) in entries {
        if pairs.len() == n.min(m) {
            break;
        }
        if !row_used[i] && !col_used[j] {
            row_used[i] = true;
            col_used[j] = true;
            pairs.push((i, j));
        }
    }
    pairs
}

/// Sum of the scores of `pairs`.
pub fn total(score: MatRef<'_, f64>, pairs: &[(usize, usize)]) -> f64 {
    pairs.iter().map(|&(i, j)| score[(i, j)]).sum()
}

// Written by hand: no small maintained Rust crate solves rectangular f64 *maximisation*
// (pathfinding's kuhn_munkres needs `Ord` weights, the others pull ndarray or are square-only).
/// Kuhn–Munkres with potentials (shortest augmenting paths, O(n²m)) for `n ≤ m`: the column
/// given to each of the `n` rows maximising `Σ s(i, col_i)`.
fn hungarian_max(n: usize, m: usize, s: impl Fn(usize, usize) -> f64) -> Vec<usize> {
    debug_assert!(n <= m);
    // Minimise cost = −score. Index 0 is a virtual row/column; rows and columns are 1-based.
    let (mut u, mut v) = (vec![0.0f64; n + 1], vec![0.0f64; m + 1]);
    let mut row_of = vec![0usize; m + 1]; // row assigned to each column (0 = free)
    let mut way = vec![0usize; m + 1]; // previous column on the augmenting path
    for i in 1..=n {
        row_of[0] = i;
        let mut j0 = 0;
        let mut min_v = vec![f64::INFINITY; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let (mut delta, mut j1) = (f64::INFINITY, 0);
            for j in 1..=m {
                if used[j] {
                    continue;
                }
                let reduced = -s(i0 - 1, j - 1) - u[i0] - v[j];
                if reduced < min_v[j] {
                    min_v[j] = reduced;
                    way[j] = j0;
                }
                if min_v[j] < delta {
                    delta = min_v[j];
                    j1 = j;
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_v[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        // Flip the augmenting path back to the virtual column.
        while j0 != 0 {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
        }
    }
    let mut col_of = vec![0usize; n];
    for j in 1..=m {
        if row_of[j] != 0 {
            col_of[row_of[j] - 1] = j - 1;
        }
    }
    col_of
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg;
    use faer::Mat;

    /// Best total over all injective row → column maps (rows ≤ cols), by brute force.
    fn brute_force(s: MatRef<'_, f64>) -> f64 {
        fn go(s: MatRef<'_, f64>, i: usize, used: &mut Vec<bool>) -> f64 {
            if i == s.nrows() {
                return 0.0;
            }
            let mut best = f64::NEG_INFINITY;
            for j in 0..s.ncols() {
                if !used[j] {
                    used[j] = true;
                    best = best.max(s[(i, j)] + go(s, i + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        if s.nrows() > s.ncols() {
            return brute_force(s.transpose());
        }
        go(s, 0, &mut vec![false; s.ncols()])
    }

    fn random(seed: u64, n: usize, m: usize) -> Mat<f64> {
        let r = linalg::randn(&mut linalg::rng(seed), n, m, 1.0);
        Mat::from_fn(n, m, |i, j| r[(i, j)] as f64)
    }

    fn assert_valid(pairs: &[(usize, usize)], n: usize, m: usize) {
        assert_eq!(pairs.len(), n.min(m));
        let mut rows: Vec<usize> = pairs.iter().map(|p| p.0).collect();
        let mut cols: Vec<usize> = pairs.iter().map(|p| p.1).collect();
        rows.sort_unstable();
        cols.sort_unstable();
        rows.dedup();
        cols.dedup();
        assert_eq!((rows.len(), cols.len()), (n.min(m), n.min(m)), "not one-to-one: {pairs:?}");
        assert!(rows.iter().all(|&i| i < n) && cols.iter().all(|&j| j < m));
    }

    #[test]
    fn optimal_equals_brute_force_on_random_matrices() {
        for (seed, n, m) in [(1, 6, 6), (2, 6, 6), (3, 6, 6), (4, 4, 7), (5, 4, 7), (6, 7, 4), (7, 1, 5), (8, 5, 1)] {
            let s = random(seed, n, m);
            let pairs = optimal(s.as_ref());
            assert_valid(&pairs, n, m);
            let (got, want) = (total(s.as_ref(), &pairs), brute_force(s.as_ref()));
            assert!((got - want).abs() < 1e-9, "{n}x{m} seed {seed}: {got} vs brute force {want}");
            // Greedy is never better than the optimum.
            let g = greedy(s.as_ref());
            assert_valid(&g, n, m);
            assert!(total(s.as_ref(), &g) <= want + 1e-9);
        }
    }

    #[test]
    fn optimal_handles_ties_and_negative_scores() {
        let s = Mat::from_fn(5, 5, |i, j| if (i + j) % 2 == 0 { -1.0 } else { -3.0 });
        let pairs = optimal(s.as_ref());
        assert_valid(&pairs, 5, 5);
        assert!((total(s.as_ref(), &pairs) - brute_force(s.as_ref())).abs() < 1e-12);
        assert!(optimal(Mat::<f64>::zeros(0, 3).as_ref()).is_empty());
    }

    #[test]
    fn greedy_is_suboptimal_where_the_best_pair_blocks_two_good_ones() {
        // Greedy takes 0.95 then is left with 0.1: 1.05. The optimum pairs the 0.9s: 1.8.
        let s = Mat::from_fn(2, 2, |i, j| [[0.95, 0.9], [0.9, 0.1]][i][j]);
        let g = greedy(s.as_ref());
        assert_eq!(g, vec![(0, 0), (1, 1)]);
        assert!((total(s.as_ref(), &g) - 1.05).abs() < 1e-12);
        let o = optimal(s.as_ref());
        assert_eq!(o, vec![(0, 1), (1, 0)]);
        assert!((total(s.as_ref(), &o) - 1.8).abs() < 1e-12);
    }

    #[test]
    fn greedy_breaks_ties_in_row_major_order() {
        let s = Mat::from_fn(2, 3, |_, _| 0.5);
        assert_eq!(greedy(s.as_ref()), vec![(0, 0), (1, 1)]);
    }
}
