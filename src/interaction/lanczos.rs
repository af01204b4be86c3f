//! A top-k eigensolver for many symmetric forms at once, for layers too wide to build and
//! diagonalise every `Q_o` (1024 forms of 1024 × 1024 through 4096 hidden units: ≈ 18 GFLOP
//! each, against ≈ 3 GFLOP for the few ends the baseline needs).
//!
//! Lanczos with full reorthogonalisation, one Krylov space per output, all outputs stepping
//! together so that each step's products are two GEMMs through the layer's factors
//! ([`Interaction::apply_forms`]); a form is never built. A Ritz pair `(θ, x)` counts when its
//! residual `‖Q x − θ x‖` (read from the tridiagonal matrix) is at most `tol · max|θ|`.
//! Converged pairs at the two ends of a spectrum are its extreme eigenpairs, so every
//! eigenvalue not yet found lies between the innermost converged ones: that bound decides when
//! an output has given all that is wanted of it.
//!
//! A Krylov space of one start vector holds one vector per distinct eigenvalue: an eigenvalue
//! repeated exactly (a low-rank form's zeros) is found once.

use crate::linalg::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par, Side};
use rayon::prelude::*;

use super::{Forms, Interaction};
use crate::linalg;

/// Which eigenpairs of the forms are wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// Every one.
    All,
    /// Per output its `k` most positive and `k` most negative (so also its `k` largest |λ|).
    Ends(usize),
    /// The `r` largest |λ| over all the outputs together.
    Overall(usize),
}

/// Relative residual at which a Ritz pair counts as an eigenpair: well above the rounding of
/// the f32 products (≈ 1e-6), and it puts eigenvalues within ≈ `tol²·|λ|/gap` of the dense ones.
pub const TOL: f64 = 1e-5;

/// Lanczos steps between convergence checks (a check costs `O(m²)` per output).
const CHECK_EVERY: usize = 8;

/// One output's Krylov space: orthonormal basis `q_1 … q_m` (`D × m`, column-major) and the
/// tridiagonal `T_m` (`alpha` on the diagonal, `beta` beside it; `beta[m−1]` is the residual
/// scale of the last step).
struct Krylov {
    output: usize,
    basis: Vec<f32>,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    /// The last analysis, once there is one.
    ends: Option<Ends>,
}

/// The converged ends of one spectrum, from [`Krylov::analyse`].
struct Ends {
    /// Ritz values, ascending.
    values: Vec<f64>,
    /// Converged pairs at the bottom (`values[..low]`) and at the top (`values[m − high..]`).
    low: usize,
    high: usize,
    /// Largest |λ| an eigenvalue not yet found may have (0 when all are found).
    unknown: f64,
}

impl Ends {
    /// Indices of the converged end pairs, ascending.
    fn converged(&self) -> Vec<usize> {
        let m = self.values.len();
        (0..m).filter(|&i| i < self.low || i >= m - self.high).collect()
    }
}

impl Krylov {
    fn dim(&self) -> usize {
        self.alpha.len()
    }

    fn last(&self, d: usize) -> &[f32] {
        &self.basis[self.basis.len() - d..]
    }

    /// One Lanczos step from `w = Q q_m`: `α_m = q_mᵀ w`, `w` orthogonalised twice against the
    /// whole basis, `β_m = ‖w‖`, and `w / β_m` appended unless the space fills `D`.
    fn step(&mut self, mut w: Vec<f32>) {
        let d = w.len();
        self.alpha.push(dot(self.last(d), &w));
        let basis = MatRef::from_column_major_slice(&self.basis, d, self.basis.len() / d);
        for _ in 0..2 {
            let w_ref = MatRef::from_column_major_slice(&w, d, 1);
            let mut h = Mat::<f32>::zeros(basis.ncols(), 1);
            matmul(h.as_mut(), Accum::Replace, basis.transpose(), w_ref, 1.0, Par::Seq);
            let mut w_mut = MatMut::from_column_major_slice_mut(&mut w, d, 1);
            matmul(w_mut.as_mut(), Accum::Add, basis, h.as_ref(), -1.0, Par::Seq);
        }
        let beta = dot(&w, &w).sqrt();
        self.beta.push(beta);
        if self.dim() < d && beta > 0.0 {
            self.basis.extend(w.iter().map(|&x| (x as f64 / beta) as f32));
        }
    }

    /// Whether the space holds every eigenvalue: it fills `D`, or the last step found nothing new.
    fn exhausted(&self, d: usize) -> bool {
        self.basis.len() == self.dim() * d
    }

    fn analyse(&mut self, d: usize, tol: f64) {
        let m = self.dim();
        let (values, last_row) = tridiagonal_eigen(&self.alpha, &self.beta[..m - 1]);
        let scale = values.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let ok: Vec<bool> = last_row.iter().map(|y| (self.beta[m - 1] * y).abs() <= tol * scale).collect();
        let low = ok.iter().take_while(|&&c| c).count();
        let high = ok.iter().rev().take_while(|&&c| c).count();
        let unknown = if self.exhausted(d) || low + high >= m {
            // Every Ritz pair has converged: the space is invariant, and a random start
            // reaches every distinct eigenvalue.
            0.0
        } else if low == 0 || high == 0 {
            f64::INFINITY
        } else {
            values[low - 1].abs().max(values[m - high].abs())
        };
        let (low, high) = if unknown == 0.0 { (m, m) } else { (low, high) };
        self.ends = Some(Ends { values, low, high, unknown });
    }

    /// The converged pairs whose indices (in ascending order of value) `keep` picks: values
    /// ascending and unit vectors, from the Ritz vectors of `T_m`.
    fn pairs(&self, d: usize, keep: impl Fn(usize) -> bool) -> (Vec<f64>, Mat<f32>) {
        let m = self.dim();
        let t = Mat::<f64>::from_fn(m, m, |i, j| match i.abs_diff(j) {
            0 => self.alpha[i],
            1 => self.beta[i.min(j)],
            _ => 0.0,
        });
        let evd = linalg::decomposed(|| t.self_adjoint_eigen(Side::Lower)).expect("eigendecomposition of a finite tridiagonal matrix");
        let (s, y) = (evd.S().column_vector(), evd.U());
        let ends = self.ends.as_ref().expect("analysed before its pairs are read");
        let picked: Vec<usize> = ends.converged().into_iter().filter(|&i| keep(i)).collect();
        let vectors = Mat::from_fn(d, picked.len(), |row, k| {
            let col = picked[k];
            (0..m).map(|j| self.basis[j * d + row] as f64 * y[(j, col)]).sum::<f64>() as f32
        });
        (picked.iter().map(|&i| s[i]).collect(), vectors)
    }
}

/// Whether the top-k solver costs less than building and diagonalising every form.
pub(super) fn pays(inter: &Interaction, wanted: Wanted, n_outputs: usize) -> bool {
    let k = match wanted {
        Wanted::All => return false,
        Wanted::Ends(k) => k,
        Wanted::Overall(r) => r.div_ceil(2 * n_outputs.max(1)),
    };
    let hidden = match &inter.forms {
        Forms::Stacked(_) => None,
        Forms::Factored { u, .. } => Some(u.ncols()),
    };
    krylov_cheaper(inter.dim(), hidden, k)
}

/// Per form of dimension `d`, about `2·d²·h` flops to build it from `h` hidden units (none when
/// the forms are stacked) and `9·d³` to diagonalise it, against about `m` products of `8·h·d`
/// (factored) or `2·d²` (stacked), with `m ≈ 64 + 16·k` Lanczos steps for `k` pairs per end
/// (measured on random layers, whose spectra crowd at the ends).
fn krylov_cheaper(d: usize, hidden: Option<usize>, k: usize) -> bool {
    let d = d as f64;
    let steps = 64.0 + 16.0 * k as f64;
    let (build, product) = match hidden {
        None => (0.0, 2.0 * d * d),
        Some(h) => (2.0 * d * d * h as f64, 8.0 * h as f64 * d),
    };
    steps < d / 2.0 && steps * product < build + 9.0 * d * d * d
}

/// The eigenpairs `wanted` of the forms `Q_o` of `outputs` (in that order): values ascending,
/// vectors in the forms' space, each pair's residual at most `tol · max|λ|` of its output.
/// With `Wanted::Overall(r)`, the `r` largest |λ| over all outputs are among those returned,
/// and no eigenvalue left out is larger in |λ| than the `r`-th.
pub(super) fn solve(inter: &Interaction, outputs: &[usize], wanted: Wanted, tol: f64, seed: u64) -> Vec<(Vec<f64>, Mat<f32>)> {
    let d = inter.dim();
    if matches!(wanted, Wanted::Ends(0) | Wanted::Overall(0)) {
        return outputs.iter().map(|_| (Vec::new(), Mat::zeros(d, 0))).collect();
    }
    let mut rng = linalg::rng(seed);
    let mut runs: Vec<Krylov> = outputs
        .iter()
        .map(|&output| {
            let v = linalg::randn(&mut rng, d, 1, 1.0);
            let norm = dot(linalg::col(v.as_ref(), 0), linalg::col(v.as_ref(), 0)).sqrt();
            let basis = linalg::col(v.as_ref(), 0).iter().map(|&x| (x as f64 / norm) as f32).collect();
            Krylov { output, basis, alpha: Vec::new(), beta: Vec::new(), ends: None }
        })
        .collect();
    let mut finished = vec![outputs.is_empty(); outputs.len()];
    let mut threshold = f64::NEG_INFINITY;
    let mut work = Mat::zeros(0, 0);
    while let Some(first) = finished.iter().position(|f| !f) {
        let active: Vec<usize> = (first..runs.len()).filter(|&i| !finished[i]).collect();
        let v = Mat::from_fn(d, active.len(), |i, j| runs[active[j]].last(d)[i]);
        let qv = inter.apply_forms(&active.iter().map(|&i| runs[i].output).collect::<Vec<_>>(), v.as_ref(), &mut work);
        let mut stepped: Vec<&mut Krylov> = runs.iter_mut().enumerate().filter(|(i, _)| !finished[*i]).map(|(_, r)| r).collect();
        stepped.par_iter_mut().enumerate().for_each(|(j, run)| run.step(linalg::col(qv.as_ref(), j).to_vec()));
        let check = stepped[0].dim().is_multiple_of(CHECK_EVERY) || stepped.iter().any(|r| r.exhausted(d));
        if !check {
            continue;
        }
        stepped.par_iter_mut().for_each(|run| run.analyse(d, tol));
        if let Wanted::Overall(r) = wanted {
            let mut found: Vec<f64> = runs
                .iter()
                .filter_map(|run| run.ends.as_ref())
                .flat_map(|e| e.converged().into_iter().map(|i| e.values[i].abs()))
                .collect();
            if found.len() >= r && r > 0 {
                found.sort_by(|a, b| b.total_cmp(a));
                threshold = found[r - 1];
            }
        }
        for &i in &active {
            let ends = runs[i].ends.as_ref().expect("analysed at a check");
            finished[i] = ends.unknown == 0.0
                || match wanted {
                    Wanted::All => false,
                    Wanted::Ends(k) => ends.low >= k && ends.high >= k,
                    Wanted::Overall(_) => ends.unknown <= threshold,
                };
        }
    }
    runs.par_iter()
        .map(|run| {
            let ends = run.ends.as_ref().expect("every output is analysed before it finishes");
            let m = ends.values.len();
            match wanted {
                Wanted::All => run.pairs(d, |_| true),
                Wanted::Ends(k) => run.pairs(d, |i| i < k || i + k >= m),
                Wanted::Overall(_) => run.pairs(d, |i| ends.values[i].abs() >= threshold),
            }
        })
        .collect()
}

/// `Σ a_i b_i` in f64.
fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

/// Eigenvalues (ascending) of the symmetric tridiagonal matrix with `diag` and `off` (`off[i]`
/// couples `i` and `i + 1`), and the last row of its eigenvector matrix: the implicit QL
/// algorithm with Wilkinson shifts (as `tqli`), carrying one row of the rotations instead of
/// the whole matrix (Golub and Welsch's trick), so a convergence check costs `O(m²)`.
fn tridiagonal_eigen(diag: &[f64], off: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let n = diag.len();
    let mut d = diag.to_vec();
    let mut e: Vec<f64> = off.iter().copied().chain([0.0]).collect();
    let mut z = vec![0.0; n];
    z[n - 1] = 1.0;
    for l in 0..n {
        for _ in 0..64 * n {
            let mut m = l;
            while m + 1 < n && e[m].abs() > f64::EPSILON * (d[m].abs() + d[m + 1].abs()) {
                m += 1;
            }
            if m == l {
                break;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = g.hypot(1.0);
            g = d[m] - d[l] + e[l] / (g + r.copysign(g));
            let (mut s, mut c, mut p) = (1.0f64, 1.0f64, 0.0f64);
            let mut underflow = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = f.hypot(g);
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    underflow = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
                let f = z[i + 1];
                z[i + 1] = s * z[i] + c * f;
                z[i] = c * z[i] - s * f;
            }
            if underflow {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| d[a].total_cmp(&d[b]));
    (order.iter().map(|&i| d[i]).collect(), order.iter().map(|&i| z[i]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interaction::eigen::{Basis, Eigen};
    use crate::interaction::{Space, Storage, to_f64};
    use crate::model::{Bilinear, ModelConfig};

    /// A random layer without embedding, output `o`'s form scaled by `scales[o]`.
    fn layer(inputs: usize, hidden: usize, scales: &[f32], seed: u64) -> Bilinear {
        let cfg = ModelConfig { n_inputs: inputs, n_embed: None, n_hidden: hidden, n_outputs: scales.len() };
        let mut m = Bilinear::init(cfg, &mut linalg::rng(seed));
        for (o, &s) in scales.iter().enumerate() {
            m.w_u.row_mut(o).iter_mut().for_each(|x| *x *= s);
        }
        m
    }

    /// A layer whose form `o` is `V diag(spectra[o]) Vᵀ` for one random orthogonal `V`: known
    /// spectra, clusters included.
    fn known_spectra(spectra: &[Vec<f32>], seed: u64) -> Bilinear {
        let d = spectra[0].len();
        let g = to_f64(linalg::randn(&mut linalg::rng(seed), d, d, 1.0).as_ref());
        let q = g.qr().compute_Q();
        let v = Mat::<f32>::from_fn(d, d, |i, j| q[(j, i)] as f32); // row h = v_h
        let w_u = Mat::from_fn(spectra.len(), d, |o, h| spectra[o][h]);
        Bilinear::new(None, v.clone(), v, w_u, None).unwrap()
    }

    /// Dense eigenpairs of every form, values ascending.
    fn dense(inter: &Interaction) -> Vec<(Vec<f64>, Mat<f64>)> {
        (0..inter.n_classes())
            .map(|o| {
                let evd = to_f64(inter.q(o).as_ref()).self_adjoint_eigen(Side::Lower).unwrap();
                let s = evd.S().column_vector();
                ((0..s.nrows()).map(|i| s[i]).collect(), evd.U().to_owned())
            })
            .collect()
    }

    /// The residual rule holds for every pair returned, and the values are the dense `k` most
    /// negative and `k` most positive of each output.
    fn check_ends(inter: &Interaction, got: &[(Vec<f64>, Mat<f32>)], exact: &[(Vec<f64>, Mat<f64>)], k: usize) {
        for (o, ((values, vectors), (ev, _))) in got.iter().zip(exact).enumerate() {
            let q = to_f64(inter.q(o).as_ref());
            let scale = ev[0].abs().max(ev[ev.len() - 1].abs());
            let n = ev.len();
            let want: Vec<f64> = (0..n).filter(|&i| i < k || i >= n - k).map(|i| ev[i]).collect();
            assert_eq!(values.len(), want.len(), "output {o}: {values:?}");
            for (i, (&v, &w)) in values.iter().zip(&want).enumerate() {
                let x = to_f64(vectors.as_ref().subcols(i, 1));
                let residual = (&q * &x - &x * faer::Scale(v)).norm_l2();
                assert!(residual <= 2.0 * TOL * scale, "output {o} pair {i}: residual {residual:e}");
                assert!((x.norm_l2() - 1.0).abs() < 1e-5);
                assert!((v - w).abs() <= 1e-6 * scale, "output {o} pair {i}: {v} vs dense {w}");
            }
        }
    }

    #[test]
    fn tridiagonal_eigen_matches_the_dense_solver() {
        let mut rng = linalg::rng(1);
        for (n, split) in [(1, None), (2, None), (9, None), (40, Some(17)), (60, None)] {
            let diag: Vec<f64> = linalg::randn(&mut rng, n, 1, 1.0).col(0).iter().map(|&x| x as f64).collect();
            let mut off: Vec<f64> = linalg::randn(&mut rng, n.max(1), 1, 1.0).col(0).iter().take(n - 1).map(|&x| x as f64).collect();
            if let Some(i) = split {
                off[i] = 0.0;
            }
            let (values, last) = tridiagonal_eigen(&diag, &off);
            let t = Mat::<f64>::from_fn(n, n, |i, j| match i.abs_diff(j) {
                0 => diag[i],
                1 => off[i.min(j)],
                _ => 0.0,
            });
            let evd = t.self_adjoint_eigen(Side::Lower).unwrap();
            for k in 0..n {
                assert!((values[k] - evd.S().column_vector()[k]).abs() < 1e-12 * (1.0 + values[k].abs()), "n {n} value {k}");
                assert!((last[k].abs() - evd.U()[(n - 1, k)].abs()).abs() < 1e-9, "n {n} last row {k}");
            }
        }
    }

    #[test]
    fn ends_match_the_dense_solver_in_both_storages() {
        let m = layer(48, 40, &[1.0, 0.3, 2.0], 2);
        for storage in [Storage::Stacked, Storage::Factored] {
            let inter = Interaction::with(&m, Space::Input, storage);
            let exact = dense(&inter);
            for k in [1, 3, 6] {
                let got = solve(&inter, &[0, 1, 2], Wanted::Ends(k), TOL, 5);
                check_ends(&inter, &got, &exact, k);
                // Subspaces: the k most positive vectors span the dense ones (a random spectrum has a gap there).
                for (o, ((values, x), (_, u))) in got.iter().zip(&exact).enumerate() {
                    let top = to_f64(x.as_ref().subcols(values.len() - k, k));
                    let overlap = u.as_ref().subcols(48 - k, k).transpose() * &top;
                    let s = overlap.singular_values().unwrap();
                    assert!(s.iter().all(|&v| v > 1.0 - 1e-4), "output {o} k {k}: principal cosines {s:?}");
                }
            }
        }
    }

    #[test]
    fn clustered_and_one_signed_spectra_are_resolved() {
        let d = 160;
        // Output 0: a cluster of four at the top 1e-4 apart and two at the bottom 1e-5 apart;
        // output 1: positive semi-definite (its bottom end is its smallest positive values).
        let mut a: Vec<f32> = (0..d).map(|i| -0.5 + i as f32 / d as f32).collect();
        a[d - 4..].copy_from_slice(&[1.0, 1.0001, 1.0002, 1.0003]);
        a[..2].copy_from_slice(&[-0.9, -0.90001]);
        let b: Vec<f32> = (0..d).map(|i| 0.01 + (i as f32 / d as f32).powi(3)).collect();
        let m = known_spectra(&[a, b], 3);
        let inter = Interaction::with(&m, Space::Input, Storage::Factored);
        let exact = dense(&inter);
        let got = solve(&inter, &[0, 1], Wanted::Ends(4), TOL, 7);
        check_ends(&inter, &got, &exact, 4);
        let x = to_f64(got[0].1.as_ref().subcols(got[0].0.len() - 4, 4));
        let gram = x.transpose() * &x;
        assert!((&gram - Mat::<f64>::identity(4, 4)).norm_l2() < 1e-4, "the cluster's vectors are orthonormal");
    }

    #[test]
    fn the_overall_selection_is_the_dense_one() {
        // Outputs of very different sizes: the largest |λ| crowd into a few of them, so those
        // must give many pairs and the others few.
        let m = layer(64, 96, &[1.0, 0.2, 3.0, 0.5, 2.5, 0.05], 4);
        let inter = Interaction::with(&m, Space::Input, Storage::Factored);
        let all: Vec<usize> = (0..6).collect();
        let dense_eig = Eigen::pixel(&inter);
        for r in [1, 7, 30, 90] {
            let (values, vectors) = solve(&inter, &all, Wanted::Overall(r), TOL, 9).into_iter().unzip();
            let partial = Eigen { basis: Basis::Pixel, outputs: all.clone(), n_outputs: 6, values, vectors };
            let (got, want) = (partial.top_overall(r), dense_eig.top_overall(r));
            assert_eq!(got.rank(), r);
            let heads = |t: &crate::interaction::CpTensor| {
                let mut v: Vec<(usize, i64)> = (0..t.rank())
                    .map(|k| {
                        (0..6)
                            .map(|o| (o, t.heads[(o, k)]))
                            .find(|(_, h)| *h != 0.0)
                            .map(|(o, h)| (o, (h as f64 * 1e4).round() as i64))
                            .unwrap()
                    })
                    .collect();
                v.sort();
                v
            };
            assert_eq!(heads(&got), heads(&want), "r {r}: the same outputs and values");
            let (a, b) = (got.dense(), want.dense());
            let err: f64 = a.iter().zip(&b).map(|(x, y)| (x - y).squared_norm_l2()).sum::<f64>().sqrt();
            assert!(err < 1e-4 * b.iter().map(|y| y.squared_norm_l2()).sum::<f64>().sqrt(), "r {r}: tensors differ by {err}");
        }
        // Outputs alike, as in a random wide layer: the threshold falls among their ends, where
        // each output's ends decide it. Bounding a spectrum by an unconverged end (its Ritz
        // value plus its residual) instead of a converged one loses a pair here.
        let alike_layer = Interaction::with(&layer(160, 320, &[1.0; 24], 6), Space::Input, Storage::Factored);
        let alike: Vec<usize> = (0..24).collect();
        let (values, vectors) = solve(&alike_layer, &alike, Wanted::Overall(12), TOL, 9).into_iter().unzip();
        let partial = Eigen { basis: Basis::Pixel, outputs: alike.clone(), n_outputs: 24, values, vectors };
        let (got, want) = (partial.top_overall(12).dense(), Eigen::pixel(&alike_layer).top_overall(12).dense());
        let err: f64 = got.iter().zip(&want).map(|(x, y)| (x - y).squared_norm_l2()).sum::<f64>().sqrt();
        assert!(err < 1e-4 * want.iter().map(|y| y.squared_norm_l2()).sum::<f64>().sqrt(), "alike outputs: tensors differ by {err}");
        // Nothing wanted, nothing computed; more than there are gives every pair.
        assert!(solve(&inter, &all, Wanted::Overall(0), TOL, 9).iter().all(|(v, x)| v.is_empty() && x.ncols() == 0));
        let every = solve(&inter, &[1], Wanted::Overall(1000), TOL, 9);
        assert_eq!(every[0].0.len(), 64);
    }

    #[test]
    fn the_cost_rule_keeps_the_dense_solver_for_small_and_embedded_layers() {
        assert!(!krylov_cheaper(96, None, 4), "the study's classifier: 96-wide stacked forms");
        assert!(!krylov_cheaper(64, Some(256), 1), "a small layer");
        assert!(!krylov_cheaper(1024, Some(4096), 64), "64 pairs per end of a 1024-wide form");
        assert!(krylov_cheaper(1024, Some(4096), 1), "a language model's layer");
        assert!(krylov_cheaper(1024, Some(4096), 4));
        assert!(!pays(&Interaction::new(&layer(8, 4, &[1.0], 1)), Wanted::All, 1));
    }
}
