//! Builds the banks a recipe describes, with their initial values.

use anyhow::{Context as _, Result};
use std::sync::OnceLock;

use faer::Mat;

use super::bank::{Anchors, Bank, Head, HeadRule};
use super::form::{Factors, Form, Role};
use super::pattern::{Base, Mask, Pattern};
use super::recipe::{Init, MaskKind, Recipe, Rotation, SUPPORT_LEVEL};
use super::rotation;
use crate::data::Dataset;
use crate::image::ImageShape;
use crate::image::ops::{self, Images};
use crate::image::templates::{self, MaskParams};
use crate::interaction::eigen::Eigen;
use crate::interaction::{CpTensor, Interaction};
use crate::linalg::{self, Rng};
use crate::model::Bilinear;

/// What initialisation may read: the model and its interaction tensor (eigen-seeding),
/// training images (data bank, principal directions) and the image grid (templates, masks,
/// smoothing).
pub struct InitContext<'a> {
    pub model: &'a Bilinear,
    pub inter: &'a Interaction,
    pub train: Option<&'a Dataset>,
    pub image: Option<ImageShape>,
    /// The training inputs' principal directions, computed on first use and kept by the
    /// caller (a [`Context`](super::context::Context) shares them between recipes).
    pub principal: &'a OnceLock<Result<Mat<f64>, String>>,
    /// The training inputs' second moment `XᵀX`, computed on first use and kept by the caller:
    /// the principal directions and the functional fidelity read the same product.
    pub moment: &'a OnceLock<Mat<f32>>,
}

impl<'a> InitContext<'a> {
    /// The training inputs' second moment `XᵀX` (not divided by their number); `None`
    /// without training inputs.
    pub fn second_moment(&self) -> Option<&'a Mat<f32>> {
        let x = self.train.filter(|t| !t.is_empty())?.x();
        Some(self.moment.get_or_init(|| linalg::mul(x.transpose(), x)))
    }

    /// The eigenvectors of the training inputs' second moment `XᵀX`, ascending.
    fn principal_directions(&self) -> Result<&Mat<f64>> {
        let moment = self.second_moment().context("subspace needs training inputs")?;
        let directions = self.principal.get_or_init(|| {
            let m = linalg::to_f64(moment.as_ref());
            let evd = linalg::decomposed(|| m.self_adjoint_eigen(faer::Side::Lower))
                .map_err(|e| format!("eigendecomposition of the inputs' second moment: {e:?}"))?;
            Ok(evd.U().to_owned())
        });
        directions.as_ref().map_err(|e| anyhow::anyhow!("{e}"))
    }

    /// Which inputs the training images use (see [`support_of`]).
    fn support(&self) -> Result<Vec<bool>> {
        let train = self.train.filter(|t| !t.is_empty()).context("mask = \"support\" needs training inputs")?;
        Ok(support_of(train.x()))
    }

    /// The labelled training images of each class, one matrix (images × inputs) per class.
    /// `what` names the step that reads them, for the error without them.
    pub(super) fn images_by_class(&self, what: &str) -> Result<Vec<Mat<f64>>> {
        let train = self.train.filter(|t| !t.is_empty()).with_context(|| format!("{what} needs training images"))?;
        let labels = train.labels.as_ref().with_context(|| format!("{what} needs labelled training images"))?;
        let x = train.x();
        Ok((0..self.inter.n_classes())
            .map(|class| {
                let rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] as usize == class).collect();
                Mat::from_fn(rows.len(), x.ncols(), |i, j| x[(rows[i], j)] as f64)
            })
            .collect())
    }
}

/// The inputs (columns of `x`, images in rows) whose sum of squares over the images is at least
/// [`SUPPORT_LEVEL`] of the largest input's, and not zero.
fn support_of(x: faer::MatRef<'_, f32>) -> Vec<bool> {
    let square_sum: Vec<f64> = (0..x.ncols()).map(|j| x.col(j).iter().map(|&v| (v as f64).powi(2)).sum()).collect();
    let top = square_sum.iter().copied().fold(0.0, f64::max);
    square_sum.iter().map(|&m| m > 0.0 && m >= SUPPORT_LEVEL * top).collect()
}

/// Displayed bank number `index` (0, or 1 for the second bank / boosted stage).
pub fn displayed_bank(recipe: &Recipe, index: usize, ctx: &InitContext<'_>, rng: &mut Rng) -> Result<Bank> {
    let (r, c) = (recipe.rank, ctx.inter.n_classes());
    let (offset, scale) =
        if index == 0 { (recipe.anchor_offset, recipe.deform_scale) } else { (recipe.second_offset, recipe.second_deform_scale) };
    let two_sided = recipe.form.has_second_factor();
    let image = ctx.image;
    let free = |rng: &mut Rng| {
        let shift = if recipe.nonnegative { -4.0 } else { 0.0 };
        let raw = linalg::randn(rng, ctx.inter.n_inputs(), r, recipe.init_scale) + Mat::from_fn(ctx.inter.n_inputs(), r, |_, _| shift);
        if recipe.nonnegative { Base::Softplus { raw } } else { Base::Free { raw, passes: recipe.smooth_passes } }
    };
    let mut anchors = None;
    let (base_a, base_b, head_raw) = match recipe.init {
        _ if index == 0 && !recipe.start.is_empty() => {
            let (a, b, heads) = started_from(recipe, ctx)?;
            anchors = Some(start_anchors(&a, &b));
            let free = |m: Mat<f32>, rng: &mut Rng| Base::Free { raw: jitter(m, recipe.init_jitter, rng), passes: recipe.smooth_passes };
            let a = free(a, rng);
            (a, two_sided.then(|| free(b, rng)), heads)
        }
        Init::Random => {
            let a = free(rng);
            let b = two_sided.then(|| free(rng));
            (a, b, linalg::randn(rng, c, r, recipe.head_init_scale))
        }
        Init::Eigen => {
            let parts = recipe.rotation == Rotation::VarimaxParts;
            let t = eigen_of(recipe, ctx)?.top_overall(if parts { r / 2 } else { r });
            let (u, heads) = match recipe.rotation {
                Rotation::None => (t.u, t.heads),
                Rotation::Varimax => rotated(&t, None),
                Rotation::VarimaxParts => sign_parts(rotated(&t, None)),
                Rotation::PerImage => rotated(&t, Some(&ctx.images_by_class("rotation = \"per_image\"")?)),
            };
            (Base::Free { raw: jitter(u, recipe.init_jitter, rng), passes: recipe.smooth_passes }, None, heads)
        }
        Init::EigenPairs => {
            let eig = eigen_of(recipe, ctx)?;
            let pairs = eig.top_pairs(r);
            anyhow::ensure!(pairs.len() == r, "only {} eigenvalue pairs exist, fewer than rank {r}", pairs.len());
            let scaled = |c: usize, i: usize| -> Vec<f32> {
                let s = eig.values[c][i].abs().sqrt() as f32;
                eig.vectors[c].col(i).iter().map(|v| s * v).collect()
            };
            let (a, b): (Vec<Vec<f32>>, Vec<Vec<f32>>) =
                pairs.iter().map(|&(c, hi, lo)| recipe.form.from_evidence(&scaled(c, hi), &scaled(c, lo))).unzip();
            let rows = ctx.inter.n_inputs();
            let (a, b) = (Mat::from_fn(rows, r, |i, k| a[k][i]), Mat::from_fn(rows, r, |i, k| b[k][i]));
            let (a, b) = (jitter(a, recipe.init_jitter, rng), jitter(b, recipe.init_jitter, rng));
            let heads = Mat::from_fn(c, r, |class, k| if pairs[k].0 == class { 1.0 } else { 0.0 });
            (Base::Free { raw: a, passes: recipe.smooth_passes }, Some(Base::Free { raw: b, passes: recipe.smooth_passes }), heads)
        }
        Init::Strokes | Init::Data => {
            let (bank, shift, names) = match recipe.init {
                Init::Strokes => {
                    let shape = image.context("stroke templates need an image shape")?;
                    (templates::stroke_bank(shape, templates::N_STROKES), recipe.anchor_shift, templates::stroke_names())
                }
                _ => {
                    let train = ctx.train.context("data-derived templates need training images")?;
                    let labels = train.labels.as_ref().context("data-derived templates need labelled images")?;
                    let bank = templates::data_bank(train.x(), labels, c, 6000, 32, 0)?;
                    (bank, 5 + offset % 7, templates::data_bank_names(c, 32))
                }
            };
            let start_a = if recipe.init == Init::Strokes { offset } else { 0 };
            let ids_a: Vec<usize> = (start_a..start_a + r).map(|k| k % bank.ncols()).collect();
            let ids_b: Vec<usize> = (start_a + shift..start_a + shift + r).map(|k| k % bank.ncols()).collect();
            let pick = |ids: &[usize]| Mat::from_fn(bank.nrows(), r, |i, k| bank[(i, ids[k])]);
            let (aa, ab) = (pick(&ids_a), pick(&ids_b));
            let anchored = |anchor: &Mat<f32>| Base::Anchored {
                anchor: anchor.clone(),
                delta: Mat::zeros(anchor.nrows(), r),
                scale,
                passes: recipe.smooth_passes,
            };
            let (ba, bb) = (anchored(&aa), two_sided.then(|| anchored(&ab)));
            anchors = Some(Anchors { a: aa, b: ab, ids_a, ids_b, names, strengths: Vec::new() });
            (ba, bb, linalg::randn(rng, c, r, recipe.head_init_scale))
        }
    };
    let with_extras = |base: Base, roll: usize| -> Result<Pattern> {
        let mut p = Pattern::new(base, image);
        p.mask = match recipe.mask {
            MaskKind::None => None,
            MaskKind::Fixed => Some(Mask::Fixed(templates::fixed_masks(image.context("masks need an image shape")?, r, recipe.mask_sigma))),
            MaskKind::Learnable => Some(Mask::Learnable(MaskParams::init(r, roll))),
            MaskKind::Support => {
                let support = ctx.support()?;
                Some(Mask::Fixed(Mat::from_fn(support.len(), r, |i, _| if support[i] { 1.0 } else { 0.0 })))
            }
        };
        p.log_amp = recipe.amplitude.then(|| Mat::zeros(r, 1));
        if recipe.one_signed {
            p.keep_dominant_signs();
        }
        Ok(p)
    };
    let rule = if recipe.topk == 0 { HeadRule::Dense } else { HeadRule::TopK { k: recipe.topk, learn_class: recipe.learn_class } };
    let mut bank = Bank {
        form: recipe.form,
        role: Role::Displayed,
        a: with_extras(base_a, 0)?,
        b: base_b.map(|b| with_extras(b, 3)).transpose()?,
        head: Head { raw: head_raw, rule },
        anchors,
    };
    // The strengths it starts with, which the `anchor_strength` prior holds.
    let strengths = bank.anchors.is_some().then(|| super::terms::pattern_strengths(bank.form, &bank.forward().0));
    if let (Some(anchors), Some(strengths)) = (&mut bank.anchors, strengths) {
        anchors.strengths = strengths;
    }
    Ok(bank)
}

/// The start dictionary's unit patterns as the bank's anchors, so that the `anchor` prior keeps
/// a refitted dictionary aligned with the one it started from (alignment across models as part
/// of the objective).
fn start_anchors(a: &Mat<f32>, b: &Mat<f32>) -> Anchors {
    let unit = |m: &Mat<f32>| {
        let columns = Images { h: m.nrows(), w: 1, n: m.ncols() };
        linalg::from_col_major(&ops::normalize_columns(&linalg::to_col_major(m.as_ref()), columns), m.nrows(), m.ncols())
    };
    let r = a.ncols();
    Anchors {
        a: unit(a),
        b: unit(b),
        ids_a: (0..r).collect(),
        ids_b: (0..r).collect(),
        names: (1..=r).map(|k| format!("start component {k}")).collect(),
        strengths: Vec::new(),
    }
}

/// The first displayed bank of the run `recipe.start` names: its `a`, `b` and heads, checked
/// against the recipe's form and rank and the model's inputs and outputs; with `start_with`,
/// the midpoint of the two runs' dictionaries.
fn started_from(recipe: &Recipe, ctx: &InitContext<'_>) -> Result<(Mat<f32>, Mat<f32>, Mat<f32>)> {
    let start = run_factors(recipe, ctx, "start", recipe.start_file())?;
    let f = match recipe.start_with_file() {
        Some(file) => midpoint(&start, &run_factors(recipe, ctx, "start_with", Some(file))?)?,
        None => start,
    };
    Ok((f.a, f.b, f.d))
}

/// The first displayed bank of the run in `file` (the recipe's `field`), checked against the
/// recipe's form and rank and the model's inputs and outputs.
fn run_factors(recipe: &Recipe, ctx: &InitContext<'_>, field: &str, file: Option<std::path::PathBuf>) -> Result<Factors> {
    let file = file.with_context(|| format!("{field} is empty"))?;
    let d = super::factors::load_factors(&file).with_context(|| format!("{field} = {:?}", file.display().to_string()))?;
    let bank = d
        .banks
        .into_iter()
        .find(|b| b.role == Role::Displayed)
        .with_context(|| format!("{field}: {} has no displayed bank", file.display()))?;
    let f = bank.factors();
    let (inputs, outputs) = (ctx.inter.n_inputs(), ctx.inter.n_classes());
    let fits = bank.form == recipe.form && f.a.nrows() == inputs && f.d.nrows() == outputs;
    anyhow::ensure!(
        fits && f.a.ncols() == recipe.rank,
        "{field}: {} holds {} {:?} components on {} inputs and {} outputs; this recipe fits {} {:?} components on {inputs} inputs and {outputs} outputs{}",
        file.display(),
        f.a.ncols(),
        bank.form,
        f.a.nrows(),
        f.d.nrows(),
        recipe.rank,
        recipe.form,
        match field {
            "start" if fits => format!(" (set rank = {} to refit them)", f.a.ncols()),
            "start" => String::new(),
            _ => " (start_with must be the start refitted to another model)".to_string(),
        }
    );
    Ok(f)
}

/// The midpoint of two dictionaries of the same components (one refitted from the other, so
/// component `k` of each is one concept on two models): each pattern the unit mean of the two,
/// signs aligned, at their mean norm, and the mean heads: the same (up to the patterns' signs)
/// whichever comes first.
fn midpoint(x: &Factors, y: &Factors) -> Result<Factors> {
    let vote = |d: &Mat<f32>, k: usize| {
        let c = crate::model::argmax(d.col(k).iter().map(|v| v.abs()));
        (c, d[(c, k)] > 0.0)
    };
    for k in 0..x.d.ncols() {
        let (cx, sx) = vote(&x.d, k);
        let (cy, sy) = vote(&y.d, k);
        anyhow::ensure!(
            (cx, sx) == (cy, sy),
            "start_with: component {} votes {} class {cy}, the start's {} class {cx}; start_with must be the start refitted to another model (concept_contrast_aligned with start = the same run), so that its components are the start's",
            k + 1,
            if sy { "for" } else { "against" },
            if sx { "for" } else { "against" },
        );
    }
    let mean = |p: &Mat<f32>, q: &Mat<f32>| {
        let columns: Vec<Vec<f32>> = (0..p.ncols()).map(|k| mean_pattern(linalg::col(p.as_ref(), k), linalg::col(q.as_ref(), k))).collect();
        Mat::from_fn(p.nrows(), p.ncols(), |i, k| columns[k][i])
    };
    Ok(Factors { a: mean(&x.a, &y.a), b: mean(&x.b, &y.b), d: (&x.d + &y.d) * faer::Scale(0.5f32) })
}

/// The unit mean of patterns `u` and `v` (`v`'s sign turned to `u`'s: a pattern acts through
/// its square) at their mean norm; beside a zero pattern, the other's direction at half its norm.
fn mean_pattern(u: &[f32], v: &[f32]) -> Vec<f32> {
    let norm = |w: &[f64]| w.iter().map(|e| e * e).sum::<f64>().sqrt();
    let inverse = |n: f64| if n > 0.0 { 1.0 / n } else { 0.0 };
    let (u, v): (Vec<f64>, Vec<f64>) = (u.iter().map(|&e| e as f64).collect(), v.iter().map(|&e| e as f64).collect());
    let (nu, nv) = (norm(&u), norm(&v));
    let sign = if u.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>() < 0.0 { -1.0 } else { 1.0 };
    let sum: Vec<f64> = u.iter().zip(&v).map(|(a, b)| a * inverse(nu) + sign * b * inverse(nv)).collect();
    let scale = inverse(norm(&sum)) * (nu + nv) / 2.0;
    sum.iter().map(|e| (e * scale) as f32).collect()
}

/// `m` plus seeded noise of relative size `jitter` (its RMS entry times `jitter`), so that
/// seeds of a deterministic initialisation differ.
fn jitter(m: Mat<f32>, jitter: f32, rng: &mut Rng) -> Mat<f32> {
    if jitter == 0.0 {
        return m;
    }
    let scale = jitter * m.norm_l2() / ((m.nrows() * m.ncols()) as f32).sqrt();
    &m + linalg::randn(rng, m.nrows(), m.ncols(), scale)
}

/// The per-class pixel eigendecomposition the eigen initialisations start from: of the whole
/// model, or of the model restricted to the top `recipe.subspace` principal directions of the
/// training inputs (all of them are the whole space).
fn eigen_of(recipe: &Recipe, ctx: &InitContext<'_>) -> Result<Eigen> {
    if recipe.subspace == 0 || recipe.subspace >= ctx.inter.n_inputs() {
        return Ok(Eigen::pixel(ctx.inter));
    }
    let directions = ctx.principal_directions()?;
    // Ascending eigenvalues: the principal directions are the last columns.
    let n = directions.nrows();
    let top = directions.subcols(n - recipe.subspace, recipe.subspace);
    let projector = top * top.transpose();
    let projector = Mat::from_fn(n, n, |i, j| projector[(i, j)] as f32);
    Ok(Eigen::pixel(&Interaction::new(&ctx.model.restrict_inputs(projector.as_ref()))))
}

/// Each class's eigenvectors of one sign, scaled by `√|λ|` and mixed by varimax (or, given
/// each class's training images, by [`rotation::per_image`] on their activations), with heads
/// `±1` on their class: the same tensor as `t` (one-hot heads carrying λ, unit vectors).
fn rotated(t: &CpTensor, images_by_class: Option<&[Mat<f64>]>) -> (Mat<f32>, Mat<f32>) {
    let groups = rotation::by_class_and_sign(t.u.as_ref(), t.heads.as_ref(), images_by_class);
    rotation::apply(&groups, t.u.as_ref(), t.heads.as_ref())
}

/// Each column `v = p − n` of `u` (`p, n ≥ 0`) as two columns `p` and `n`, both with `v`'s
/// head: `v vᵀ = p pᵀ + n nᵀ − 2 sym(p nᵀ)` loses only the cross term.
fn sign_parts((u, heads): (Mat<f32>, Mat<f32>)) -> (Mat<f32>, Mat<f32>) {
    let k = u.ncols();
    let parts = Mat::from_fn(u.nrows(), 2 * k, |i, j| if j < k { u[(i, j)].max(0.0) } else { (-u[(i, j - k)]).max(0.0) });
    (parts, Mat::from_fn(heads.nrows(), 2 * k, |c, j| heads[(c, j % k)]))
}

/// The free CP residual branch: unmasked, dense heads, small random init (SPEC §7.5).
pub fn residual_bank(recipe: &Recipe, n_inputs: usize, n_classes: usize, rng: &mut Rng) -> Bank {
    let (r, s) = (recipe.residual_rank, recipe.residual_init_scale);
    let free = |rng: &mut Rng| Pattern::new(Base::Free { raw: linalg::randn(rng, n_inputs, r, s), passes: 0 }, None);
    let a = free(rng);
    let b = free(rng);
    Bank {
        form: Form::Cp,
        role: Role::Residual,
        a,
        b: Some(b),
        head: Head { raw: linalg::randn(rng, n_classes, r, s), rule: HeadRule::Dense },
        anchors: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_support_keeps_inputs_the_images_use() {
        // Input 0 is bright, 1 at 10% of it (1% of its square sum), 2 just below, 3 never used.
        let x = Mat::from_fn(2, 4, |_, j| [1.0, 0.1, 0.099, 0.0][j]);
        assert_eq!(support_of(x.as_ref()), [true, true, false, false]);
        assert_eq!(support_of(Mat::<f32>::zeros(3, 2).as_ref()), [false, false]);
    }

    #[test]
    fn the_midpoint_of_two_dictionaries_is_each_patterns_unit_mean_at_the_mean_norm() {
        // Two components; y's first `a` is x's turned by 90° and doubled, its first `b` is x's
        // with the sign flipped, and its second `b` is zero (a one-signed component on one model).
        let x = Factors {
            a: Mat::from_fn(2, 2, |i, k| [[3.0, 0.0], [0.0, 1.0]][k][i]),
            b: Mat::from_fn(2, 2, |i, k| [[1.0, 1.0], [2.0, 0.0]][k][i]),
            d: Mat::from_fn(3, 2, |c, k| [[1.0, 0.0, 0.0], [0.0, -2.0, 0.0]][k][c]),
        };
        let y = Factors {
            a: Mat::from_fn(2, 2, |i, k| [[0.0, 6.0], [0.0, 1.0]][k][i]),
            b: Mat::from_fn(2, 2, |i, k| [[-2.0, -2.0], [0.0, 0.0]][k][i]),
            d: Mat::from_fn(3, 2, |c, k| [[3.0, 0.1, 0.0], [0.0, -1.0, 0.0]][k][c]),
        };
        let m = midpoint(&x, &y).unwrap();
        let close = |m: &Mat<f32>, want: [[f32; 2]; 2]| {
            for (k, w) in want.iter().enumerate() {
                for (i, v) in w.iter().enumerate() {
                    assert!((m[(i, k)] - v).abs() < 1e-6, "entry ({i}, {k}): {} against {v}", m[(i, k)]);
                }
            }
        };
        // (1, 0) and (0, 1) at norms 3 and 6: along (1, 1)/√2 at norm 4.5.
        let h = 4.5 / 2f32.sqrt();
        close(&m.a, [[h, h], [0.0, 1.0]]);
        // The same direction of opposite signs at norms √2 and 2√2; a pattern beside a zero one
        // at half its norm.
        close(&m.b, [[1.5, 1.5], [1.0, 0.0]]);
        assert_eq!((m.d[(0, 0)], m.d[(1, 0)], m.d[(1, 1)], m.d[(2, 1)]), (2.0, 0.05, -1.5, 0.0), "the mean heads");
        // A dictionary's midpoint with itself is itself; the order does not matter.
        let same = midpoint(&x, &x).unwrap();
        assert!((&same.a - &x.a).norm_max() < 1e-6 && (&same.b - &x.b).norm_max() < 1e-6 && (&same.d - &x.d).norm_max() == 0.0);
        let swapped = midpoint(&y, &x).unwrap();
        for k in 0..2 {
            for (p, q) in [(&m.a, &swapped.a), (&m.b, &swapped.b)] {
                let sign = if p.col(k).iter().zip(q.col(k).iter()).map(|(u, v)| u * v).sum::<f32>() < 0.0 { -1.0 } else { 1.0 };
                assert!(p.col(k).iter().zip(q.col(k).iter()).all(|(u, v)| (u - sign * v).abs() < 1e-6), "component {k}");
            }
        }
        // Components that vote otherwise are not one concept.
        let other = Factors { d: Mat::from_fn(3, 2, |c, k| [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]][k][c]), ..y };
        let e = midpoint(&x, &other).unwrap_err().to_string();
        assert!(e.contains("component 2 votes for class 1, the start's against class 1"), "{e}");
    }

    #[test]
    fn sign_parts_are_one_signed_and_rebuild_the_patterns() {
        let u = Mat::from_fn(5, 2, |i, j| [[1.0, -2.0, 0.0, 3.0, -0.5], [-1.0, -1.0, 2.0, 0.0, 0.5]][j][i]);
        let heads = Mat::from_fn(3, 2, |c, j| if c == j { 1.0 } else { 0.0 });
        let (parts, h) = sign_parts((u.clone(), heads));
        assert_eq!((parts.ncols(), h.ncols()), (4, 4));
        for j in 0..2 {
            assert_eq!(h.col(j + 2).iter().copied().collect::<Vec<f32>>(), h.col(j).iter().copied().collect::<Vec<f32>>());
            for i in 0..5 {
                assert!(parts[(i, j)] >= 0.0 && parts[(i, j + 2)] >= 0.0);
                assert_eq!(parts[(i, j)] - parts[(i, j + 2)], u[(i, j)]);
            }
        }
    }
}
