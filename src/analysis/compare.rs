//! Do two runs find the same concepts? Per class and evidence sign, the heaviest patterns of
//! one dictionary are matched one to one (Hungarian, |cos|) with the other's; the same match
//! of the two models' rank-matched eigenbases says whether the concepts are more universal
//! than eigenvectors (issue 18).
//!
//! Patterns are compared as a class sees them (the atlas's entries: each rank-one pattern with
//! its signed part of the class's logit), so the comparison is blind to what leaves the tensor
//! unchanged: a pattern's sign, the CP swap `(a, b, d) → (−a, b, −d)`, component order.
//! Compared by their responses on the inputs ([`InputMetric`]), two patterns that differ only
//! where no input has ink count as one.

use faer::{Mat, MatRef};
use serde::Serialize;

use super::atlas::{Entry, entries};
use super::describe::class_name;
use crate::decomp::Components;
use crate::figures::{Cell, Grid, Scale};
use crate::image::ImageShape;
use crate::interaction::Interaction;
use crate::interaction::eigen::Eigen;
use crate::linalg::matching;
use crate::model::Bilinear;

/// The evidence signs, as the JSON and the figure name them.
const SIGNS: [(f64, &str); 2] = [(1.0, "+"), (-1.0, "−")];

/// One of `a`'s patterns and its match in `b`.
#[derive(Clone, Debug, Serialize)]
pub struct Pair {
    pub class: usize,
    /// "+" (evidence for the class) or "−" (against).
    pub sign: &'static str,
    /// The pattern's part of the class's logit in `a` (unsigned).
    pub weight: f64,
    pub cosine: f64,
    #[serde(skip)]
    pub pattern_a: Vec<f32>,
    #[serde(skip)]
    pub pattern_b: Vec<f32>,
}

/// One class and sign: the mean |cos| of `a`'s top patterns with their matches (a pattern
/// left without a match, where `b` has fewer, counts 0), and its weight in the overall mean.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    pub class: usize,
    pub sign: &'static str,
    pub similarity: f64,
    /// Total part of the class's logit held by `a`'s top patterns of this sign.
    pub weight: f64,
    /// Cosine of the two evidence Gram matrices `G = Σ |w| p pᵀ` over all of the class's
    /// patterns of this sign (see [`Comparison::evidence_similarity`]).
    pub evidence_similarity: f64,
    /// The mean over `a`'s top patterns of the length of each (unit) pattern's projection on
    /// the span of `b`'s top patterns (see [`Comparison::span_similarity`]).
    pub span_similarity: f64,
}

/// The match of two dictionaries.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Strength-weighted mean over classes and signs of the groups' similarities, in [0, 1].
    pub similarity: f64,
    /// Mean over classes (those either dictionary has patterns for) of the cosine of the two
    /// class tensors `T_c = Σ w p pᵀ` (each pattern with its signed part `w` of the class's
    /// logit): whether the dictionaries compute the same thing, however split into patterns.
    pub tensor_similarity: f64,
    /// The groups' `evidence_similarity`, weighted as `similarity` is. Rotating patterns within
    /// a class and sign leaves `G` unchanged, so this says whether two dictionaries differ by
    /// more than such a rotation; adding one term to both signs, which leaves `T_c` unchanged,
    /// lowers it: a low value beside a high `tensor_similarity` means the class tensors are
    /// alike but split differently into evidence and counter-evidence.
    pub evidence_similarity: f64,
    /// The groups' `span_similarity`, weighted as `similarity` is: the most `similarity` could
    /// be if `b`'s top patterns of each class and sign were re-split within their span (any
    /// rotation or recombination of them), since no unit vector there is closer to one of
    /// `a`'s patterns than its projection. Near `similarity`, `b` holds other concepts, not the
    /// same ones split otherwise. In pixels, whatever the `cosine` of [`compare_by`].
    pub span_similarity: f64,
    pub groups: Vec<Group>,
    /// Every matched pair, by class, sign, then `a`'s weight.
    pub pairs: Vec<Pair>,
}

/// Matches the `top` heaviest patterns of `a` per class and sign with `b`'s of the same class
/// and sign by |cos|. Dictionaries over different inputs or outputs cannot be compared.
pub fn compare(a: &Components, b: &Components, top: usize) -> crate::error::Result<Comparison> {
    compare_by(a, b, top, abs_cosine)
}

/// The inputs' second moment `M = XᵀX / n`: under it, `|pᵀMq| / √(pᵀMp · qᵀMq)` is the |cos| of
/// two patterns' responses `Xp` and `Xq` on the inputs.
pub struct InputMetric {
    moment: Mat<f64>,
}

impl InputMetric {
    /// From the inputs `x` (one per row).
    pub fn of(x: MatRef<'_, f32>) -> Self {
        let moment = crate::linalg::mul(x.transpose(), x);
        let n = x.nrows().max(1) as f64;
        Self { moment: Mat::from_fn(moment.nrows(), moment.ncols(), |i, j| moment[(i, j)] as f64 / n) }
    }

    /// The |cos| of the responses of `p` and `q` on the inputs (0 when either has none).
    pub fn abs_cosine(&self, p: &[f32], q: &[f32]) -> f64 {
        let column = |v: &[f32]| Mat::from_fn(v.len(), 1, |i, _| v[i] as f64);
        let (p, q) = (column(p), column(q));
        let (mp, mq) = (&self.moment * &p, &self.moment * &q);
        let dot = |x: &Mat<f64>, y: &Mat<f64>| x.col(0).iter().zip(y.col(0).iter()).map(|(u, v)| u * v).sum::<f64>();
        let norm = (dot(&p, &mp) * dot(&q, &mq)).max(0.0).sqrt();
        if norm > 0.0 { (dot(&p, &mq) / norm).abs() } else { 0.0 }
    }
}

/// [`compare`] with patterns scored by `cosine` (an |cos| in [0, 1]).
pub fn compare_by(a: &Components, b: &Components, top: usize, cosine: impl Fn(&[f32], &[f32]) -> f64) -> crate::error::Result<Comparison> {
    if (a.inputs, a.outputs) != (b.inputs, b.outputs) {
        return Err(crate::error::Error::Invalid(format!(
            "the runs cannot be compared: {} inputs and {} outputs against {} and {}",
            a.inputs, a.outputs, b.inputs, b.outputs
        )));
    }
    let (mut groups, mut pairs, mut tensor) = (Vec::new(), Vec::new(), Vec::new());
    for class in 0..a.outputs {
        let (ea, eb) = (entries(a, class), entries(b, class));
        let grams = ClassGrams::new(&ea, &eb);
        // A class neither dictionary has a pattern for is left out.
        if !(ea.is_empty() && eb.is_empty()) {
            tensor.push(grams.cosine(|w| w));
        }
        for (sign, name) in SIGNS {
            let (xa, xb) = (heaviest(&ea, sign, top), heaviest(&eb, sign, top));
            if xa.is_empty() {
                continue;
            }
            let score = Mat::from_fn(xa.len(), xb.len(), |i, j| cosine(xa[i].pattern, xb[j].pattern));
            let matched = matching::optimal(score.as_ref());
            let weight: f64 = xa.iter().map(|e| e.weight.abs()).sum();
            let similarity = matching::total(score.as_ref(), &matched) / xa.len() as f64;
            let evidence_similarity = grams.cosine(|w| if w * sign > 0.0 { w.abs() } else { 0.0 });
            let span_similarity = span_share(&xa, &xb);
            groups.push(Group { class, sign: name, similarity, weight, evidence_similarity, span_similarity });
            pairs.extend(matched.into_iter().map(|(i, j)| Pair {
                class,
                sign: name,
                weight: xa[i].weight.abs(),
                cosine: score[(i, j)],
                pattern_a: xa[i].pattern.to_vec(),
                pattern_b: aligned(xb[j].pattern, xa[i].pattern),
            }));
        }
    }
    let total: f64 = groups.iter().map(|g| g.weight).sum();
    let weighted = |f: fn(&Group) -> f64| if total > 0.0 { groups.iter().map(|g| g.weight * f(g)).sum::<f64>() / total } else { 0.0 };
    let (similarity, evidence_similarity, span_similarity) =
        (weighted(|g| g.similarity), weighted(|g| g.evidence_similarity), weighted(|g| g.span_similarity));
    let tensor_similarity = if tensor.is_empty() { 0.0 } else { tensor.iter().sum::<f64>() / tensor.len() as f64 };
    Ok(Comparison { similarity, tensor_similarity, evidence_similarity, span_similarity, groups, pairs })
}

/// Cosines of Gram matrices `Σ f(w) p̂ p̂ᵀ` of one class's entries in two dictionaries, from the
/// patterns' pairwise cosines (`⟨p̂ p̂ᵀ, q̂ q̂ᵀ⟩ = cos²(p, q)`), formed once per class.
struct ClassGrams {
    /// `cos²` within `a`, within `b`, and across.
    aa: Mat<f64>,
    bb: Mat<f64>,
    ab: Mat<f64>,
    wa: Vec<f64>,
    wb: Vec<f64>,
}

impl ClassGrams {
    fn new(a: &[Entry<'_>], b: &[Entry<'_>]) -> Self {
        let unit = |e: &[Entry<'_>]| {
            let pixels = e.first().map_or(0, |x| x.pattern.len());
            let norms: Vec<f64> = e.iter().map(|x| x.pattern.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt()).collect();
            Mat::from_fn(pixels, e.len(), |i, j| if norms[j] > 0.0 { e[j].pattern[i] as f64 / norms[j] } else { 0.0 })
        };
        let (ua, ub) = (unit(a), unit(b));
        let cos2 = |x: &Mat<f64>, y: &Mat<f64>| {
            if x.nrows() != y.nrows() {
                return Mat::zeros(x.ncols(), y.ncols()); // one side has no entries
            }
            let c = x.transpose() * y;
            Mat::from_fn(c.nrows(), c.ncols(), |i, j| c[(i, j)].powi(2))
        };
        let weights = |e: &[Entry<'_>]| e.iter().map(|x| x.weight).collect();
        Self { aa: cos2(&ua, &ua), bb: cos2(&ub, &ub), ab: cos2(&ua, &ub), wa: weights(a), wb: weights(b) }
    }

    /// The cosine of the two Gram matrices with pattern weights `f(w)`; 0 when either is zero.
    fn cosine(&self, f: impl Fn(f64) -> f64) -> f64 {
        let inner = |c: &Mat<f64>, wx: &[f64], wy: &[f64]| -> f64 {
            wx.iter().enumerate().map(|(i, &x)| wy.iter().enumerate().map(|(j, &y)| f(x) * f(y) * c[(i, j)]).sum::<f64>()).sum()
        };
        let norm = (inner(&self.aa, &self.wa, &self.wa) * inner(&self.bb, &self.wb, &self.wb)).sqrt();
        if norm > 0.0 { inner(&self.ab, &self.wa, &self.wb) / norm } else { 0.0 }
    }
}

/// The mean over the patterns of `a` of the length of each unit pattern's projection on the
/// span of the patterns of `b` (0 where `b` has none), in f64: the span's orthonormal basis
/// from a QR factorisation of `b`'s patterns, each of `a`'s projected on it.
fn span_share(a: &[Entry<'_>], b: &[Entry<'_>]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let columns = |e: &[Entry<'_>]| Mat::from_fn(e[0].pattern.len(), e.len(), |i, j| e[j].pattern[i] as f64);
    let (pa, pb) = (columns(a), columns(b));
    // A pattern of b that the others span adds nothing: keep the basis vectors of its QR
    // factorisation whose diagonal entry is not negligible (there are at most as many as
    // pixels, however many patterns b has).
    let qr = pb.qr();
    let (q, r) = (qr.compute_thin_Q(), qr.thin_R());
    let diagonal: Vec<f64> = (0..r.nrows().min(r.ncols())).map(|j| r[(j, j)].abs()).collect();
    let scale = diagonal.iter().copied().fold(0.0f64, f64::max);
    let kept: Vec<usize> = (0..diagonal.len()).filter(|&j| diagonal[j] > 1e-9 * scale).collect();
    let projected = q.transpose() * &pa;
    let share = |col: usize| {
        let norm = pa.col(col).iter().map(|v| v * v).sum::<f64>().sqrt();
        let inside = kept.iter().map(|&k| projected[(k, col)].powi(2)).sum::<f64>().sqrt();
        if norm > 0.0 { (inside / norm).min(1.0) } else { 0.0 }
    };
    (0..a.len()).map(share).sum::<f64>() / a.len() as f64
}

/// A model's per-class pixel eigenvectors, the `n_patterns` of largest |λ| overall, as
/// symmetric components: the eigen baseline at the rank a dictionary of `n_patterns` draws.
pub fn rank_matched_eigenbasis(model: &Bilinear, n_patterns: usize) -> Components {
    Components::of_symmetric(&Eigen::rank_matched(&Interaction::new(model), n_patterns))
}

/// The `top` entries of sign `sign` with the largest parts of the logit, heaviest first.
fn heaviest<'a>(e: &[Entry<'a>], sign: f64, top: usize) -> Vec<Entry<'a>> {
    let mut picked: Vec<Entry<'a>> = e.iter().filter(|x| x.weight * sign > 0.0).copied().collect();
    picked.sort_by(|x, y| y.weight.abs().total_cmp(&x.weight.abs()));
    picked.truncate(top);
    picked
}

/// `y`, negated where that points it the way of `x` (a pattern's sign is immaterial), so a
/// figure shows matched patterns in the same colours.
fn aligned(y: &[f32], x: &[f32]) -> Vec<f32> {
    let sign = if y.iter().zip(x).map(|(&u, &v)| u as f64 * v as f64).sum::<f64>() < 0.0 { -1.0 } else { 1.0 };
    y.iter().map(|v| sign * v).collect()
}

fn abs_cosine(x: &[f32], y: &[f32]) -> f64 {
    let dot = |p: &[f32], q: &[f32]| p.iter().zip(q).map(|(&u, &v)| u as f64 * v as f64).sum::<f64>();
    let norm = (dot(x, x) * dot(y, y)).sqrt();
    if norm > 0.0 { (dot(x, y) / norm).abs() } else { 0.0 }
}

/// Matched concepts side by side: one row per class, its `per_class` heaviest patterns of `a`
/// (either sign), each followed by its match in `b`, titled with the sign, weight share and |cos|.
pub fn figure(c: &Comparison, shape: ImageShape, outputs: usize, per_class: usize, names: Option<&[String]>) -> Grid {
    let (mut rows, mut titles, mut row_labels) = (Vec::new(), Vec::new(), Vec::new());
    for class in 0..outputs {
        let mut mine: Vec<&Pair> = c.pairs.iter().filter(|p| p.class == class).collect();
        let total: f64 = mine.iter().map(|p| p.weight).sum();
        mine.sort_by(|x, y| y.weight.total_cmp(&x.weight));
        mine.truncate(per_class);
        let mut cells = Vec::new();
        let mut row_titles = Vec::new();
        for p in mine {
            cells.push(Cell::Pattern(p.pattern_a.clone()));
            cells.push(Cell::Pattern(p.pattern_b.clone()));
            row_titles.push(format!("A {}{:.0}%", p.sign, 100.0 * p.weight / total.max(1e-300)));
            row_titles.push(format!("B |cos| {:.2}", p.cosine));
        }
        cells.resize(2 * per_class, Cell::Empty);
        rows.push(cells);
        titles.push(row_titles);
        row_labels.push(class_name(names, class));
    }
    Grid {
        title: format!("Matched concepts: run A's heaviest patterns per class and run B's matches (similarity {:.3})", c.similarity),
        column_titles: Vec::new(),
        row_labels,
        rows,
        cell_titles: titles,
        image_side: (shape.height, shape.width),
        caption: "Each row is a class: run A's heaviest patterns (either sign of evidence, titled with its share of the matched weight), \
                  each followed by the pattern of run B matched to it (Hungarian on |cos| within the class and sign). \
                  Patterns: red positive, blue negative, one scale per cell (a pattern's sign is immaterial)."
            .into(),
        scale: Scale::PerCell,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::{random_components, symmetric_components, transform};
    use crate::linalg;

    #[test]
    fn a_dictionary_matches_itself_and_its_symmetric_copies() {
        let x = random_components(3, 12, 4);
        let same = compare(&x, &x, 4).unwrap();
        assert!((same.similarity - 1.0).abs() < 1e-9, "{}", same.similarity);
        assert!((same.tensor_similarity - 1.0).abs() < 1e-9 && (same.evidence_similarity - 1.0).abs() < 1e-9);
        let perm: Vec<usize> = (0..12).rev().collect();
        let flip: Vec<bool> = (0..12).map(|k| k % 2 == 0).collect();
        let swap: Vec<bool> = (0..12).map(|k| k % 3 == 0 && perm[k] < 8).collect();
        let y = transform(&x, &perm, &flip, &swap);
        let c = compare(&x, &y, 4).unwrap();
        assert!((c.similarity - 1.0).abs() < 1e-6, "{}", c.similarity);
        assert!(c.pairs.iter().all(|p| (p.cosine - 1.0).abs() < 1e-5));
    }

    #[test]
    fn rotations_within_a_sign_keep_the_gram_matrices_and_twins_change_only_the_split() {
        let v = |seed: u64| linalg::randn(&mut linalg::rng(seed), 64, 1, 1.0).col(0).iter().copied().collect::<Vec<f32>>();
        let (v1, v2, v3, twin) = (v(1), v(2), v(3), v(4));
        let x = symmetric_components(&[(0, 1.0, v1.clone()), (0, 1.0, v2.clone()), (0, -1.0, v3.clone())]);
        // v1 and v2 rotated by 40° within class 0's evidence: the same tensor and evidence.
        let (c, s) = (40f32.to_radians().cos(), 40f32.to_radians().sin());
        let mix = |p: f32, q: f32| v1.iter().zip(&v2).map(|(a, b)| p * a + q * b).collect::<Vec<f32>>();
        let rotated = symmetric_components(&[(0, 1.0, mix(c, s)), (0, 1.0, mix(-s, c)), (0, -1.0, v3.clone())]);
        let r = compare(&x, &rotated, 4).unwrap();
        assert!(r.similarity < 0.99, "the patterns themselves moved: {}", r.similarity);
        assert!((r.span_similarity - 1.0).abs() < 1e-6, "but not out of their span: {}", r.span_similarity);
        assert!((r.tensor_similarity - 1.0).abs() < 1e-6, "{}", r.tensor_similarity);
        assert!((r.evidence_similarity - 1.0).abs() < 1e-6, "{}", r.evidence_similarity);
        // A twin pair (the same pattern for and against class 0) leaves the tensor alone but
        // changes how it splits into evidence and counter-evidence.
        let twins = symmetric_components(&[(0, 1.0, v1), (0, 1.0, v2), (0, -1.0, v3), (0, 2.0, twin.clone()), (0, -2.0, twin)]);
        let t = compare(&x, &twins, 4).unwrap();
        assert!((t.tensor_similarity - 1.0).abs() < 1e-6, "{}", t.tensor_similarity);
        assert!(t.evidence_similarity < 0.9, "{}", t.evidence_similarity);
        // Known value: one pattern each, at cos 0.6, gives Gram matrices at cos² = 0.36.
        let (p, q) = ([1.0, 0.0, 0.0].to_vec(), [0.6, 0.8, 0.0].to_vec());
        let k = compare(&symmetric_components(&[(3, 2.0, p)]), &symmetric_components(&[(3, 5.0, q)]), 1).unwrap();
        assert!((k.tensor_similarity - 0.36).abs() < 1e-6 && (k.evidence_similarity - 0.36).abs() < 1e-6, "{k:?}");
        assert!((k.span_similarity - 0.6).abs() < 1e-6, "{k:?}");
    }

    #[test]
    fn the_span_bounds_any_re_split_of_the_matched_patterns() {
        // Known values: p against q at cos 0.6 and a pattern q⊥ of the same class and sign,
        // orthogonal to q in p's plane, which holds p whole; the third axis is not in p's plane.
        let (p, q, q_perp, z) = (vec![1.0, 0.0, 0.0], vec![0.6, 0.8, 0.0], vec![0.8, -0.6, 0.0], vec![0.0, 0.0, 1.0]);
        let a = symmetric_components(&[(3, 1.0, p)]);
        let plane = compare(&a, &symmetric_components(&[(3, 2.0, q.clone()), (3, 1.0, q_perp)]), 2).unwrap();
        assert!((plane.similarity - 0.8).abs() < 1e-6 && (plane.span_similarity - 1.0).abs() < 1e-6, "{plane:?}");
        let off_plane = compare(&a, &symmetric_components(&[(3, 2.0, q.clone()), (3, 1.0, z)]), 2).unwrap();
        assert!((off_plane.span_similarity - 0.6).abs() < 1e-6, "{off_plane:?}");
        // A pattern b repeats adds nothing to its span; one of the other sign is not in it.
        let twice = compare(&a, &symmetric_components(&[(3, 2.0, q.clone()), (3, 1.0, q.clone()), (3, -1.0, vec![1.0, 0.0, 0.0])]), 2);
        assert!((twice.unwrap().span_similarity - 0.6).abs() < 1e-6);
        // More patterns than pixels span them all.
        let many: Vec<(usize, f32, Vec<f32>)> = (0..4).map(|k| (3, 1.0 + k as f32, vec![1.0, k as f32, (k * k) as f32 - 2.0])).collect();
        let crowded = compare(&symmetric_components(&[(3, 1.0, vec![0.2, -0.5, 0.9])]), &symmetric_components(&many), 4).unwrap();
        assert!((crowded.span_similarity - 1.0).abs() < 1e-6, "{crowded:?}");
        // On random dictionaries the span never falls below the match, group by group.
        for seed in 0..4 {
            let c = compare(&random_components(seed, 12, 4), &random_components(seed + 10, 12, 4), 3).unwrap();
            assert!(c.groups.iter().all(|g| g.span_similarity + 1e-9 >= g.similarity && g.span_similarity <= 1.0 + 1e-9), "{c:?}");
            assert!(c.span_similarity > c.similarity, "{} against {}", c.span_similarity, c.similarity);
        }
    }

    #[test]
    fn on_the_inputs_patterns_that_differ_only_where_no_input_has_ink_are_one() {
        // Inputs with ink on the first 8 of 16 pixels only.
        let x = linalg::randn(&mut linalg::rng(7), 200, 16, 1.0);
        let x = Mat::from_fn(200, 16, |i, j| if j < 8 { x[(i, j)] } else { 0.0 });
        let metric = InputMetric::of(x.as_ref());
        let p: Vec<f32> = (0..16).map(|i| if i < 8 { (i as f32 - 3.5) / 4.0 } else { 0.0 }).collect();
        let blank: Vec<f32> = (0..16).map(|i| if i < 8 { p[i] } else { 0.7 * (i as f32 - 11.0) }).collect();
        assert!(abs_cosine(&p, &blank) < 0.6, "the patterns differ: {}", abs_cosine(&p, &blank));
        assert!((metric.abs_cosine(&p, &blank) - 1.0).abs() < 1e-6, "but not on the inputs");
        let q: Vec<f32> = (0..16).map(|i| if i < 8 { (((i * 5) % 8) as f32 - 3.5) / 20.0 } else { 0.0 }).collect();
        let responses = |v: &[f32]| (0..200).map(|n| (0..16).map(|j| x[(n, j)] as f64 * v[j] as f64).sum::<f64>()).collect::<Vec<_>>();
        let (rp, rq) = (responses(&p), responses(&q));
        let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(a, b)| a * b).sum::<f64>();
        let known = dot(&rp, &rq).abs() / (dot(&rp, &rp) * dot(&rq, &rq)).sqrt();
        assert!(
            (metric.abs_cosine(&p, &q) - known).abs() < 1e-5,
            "the |cos| of the responses: {} against {known}",
            metric.abs_cosine(&p, &q)
        );
        assert_eq!(metric.abs_cosine(&p, &[0.0; 16]), 0.0);
        let dictionary = |v: &[f32]| symmetric_components(&[(0, 1.0, v.to_vec()), (1, -1.0, q.clone())]);
        let (a, b) = (dictionary(&p), dictionary(&blank));
        assert!(compare(&a, &b, 2).unwrap().similarity < 0.9);
        assert!((compare_by(&a, &b, 2, |u, v| metric.abs_cosine(u, v)).unwrap().similarity - 1.0).abs() < 1e-6);
    }

    #[test]
    fn unrelated_dictionaries_match_less() {
        let c = compare(&random_components(3, 12, 4), &random_components(4, 12, 4), 4).unwrap();
        assert!(c.similarity < 0.5, "{}", c.similarity);
    }

    #[test]
    fn weights_favour_the_heavier_groups_and_missing_matches_count_zero() {
        let x = random_components(5, 12, 0);
        let c = compare(&x, &x.top(1), 4).unwrap();
        assert!(c.similarity < 1.0);
        let weighted: f64 = c.groups.iter().map(|g| g.weight * g.similarity).sum::<f64>() / c.groups.iter().map(|g| g.weight).sum::<f64>();
        assert!((c.similarity - weighted).abs() < 1e-12);
        assert!(c.groups.iter().all(|g| g.similarity <= 1.0 + 1e-9));
    }

    #[test]
    fn dictionaries_over_different_inputs_are_refused() {
        let x = random_components(1, 4, 0);
        let y = Components { inputs: 32, ..x.clone() };
        assert!(compare(&x, &y, 4).unwrap_err().to_string().contains("cannot be compared"));
    }

    #[test]
    fn the_figure_has_a_row_per_class_and_a_pair_per_match() {
        let x = random_components(2, 12, 4);
        let c = compare(&x, &x, 2).unwrap();
        let shape = ImageShape { height: 8, width: 8 };
        let g = figure(&c, shape, 10, 2, None);
        assert_eq!(g.rows.len(), 10);
        assert!(g.rows.iter().all(|r| r.len() == 4));
        assert!(crate::figures::render_grid(&g).is_ok());
    }
}
