//! Fidelity and readability of a fitted decomposition (SPEC §8), all recomputable from its
//! factors: [`Metrics`] for a run (the per-component table is `analysis::table`).

use faer::Mat;
use serde::{Deserialize, Serialize};

use super::fidelity::{self, ToPredicted};
use super::patterns;
use crate::data::Dataset;
use crate::decomp::context::Splits;
use crate::decomp::{Component, Components, Context, Decomposition, Form, Role};
use crate::image::ImageShape;
use crate::linalg;
use crate::model::{accuracy_of_logits, add_bias};

/// Fidelity and readability of a decomposition. Pattern metrics cover the displayed
/// components (plus and minus patterns); metrics that need test images or an image grid are
/// `None` (null in JSON) without them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metrics {
    pub tensor_cosine: f64,
    pub displayed_cosine: f64,
    /// `1 − displayed/total` (SPEC §8.3; a heuristic, 0 without a residual).
    pub residual_fraction: f64,
    /// Decomposed model without the base model's output bias (the reference's number).
    pub test_accuracy: Option<f64>,
    pub test_accuracy_with_bias: Option<f64>,
    /// The displayed components alone (no residual).
    pub displayed_test_accuracy: Option<f64>,
    pub displayed_test_accuracy_with_bias: Option<f64>,
    pub validation_accuracy: Option<f64>,
    pub displayed_validation_accuracy: Option<f64>,
    pub base_test_accuracy: Option<f64>,
    pub class_selectivity: f64,
    pub top1_head_mass: f64,
    pub pattern_gini: f64,
    pub locality_7x7: Option<f64>,
    pub display_tv: Option<f64>,
    /// Strength share of the 8 strongest displayed components.
    pub top_sigma_frac: f64,
    pub displayed_components: usize,
    pub residual_components: usize,
    /// Share of first-bank components whose head class (argmax |d|) differs from the one they
    /// started with: 0 when classes are frozen, as under the reference's hard top-k heads.
    pub class_changes: f64,
    /// Components in all (displayed and residual).
    pub n_components: usize,
    /// Rank-one patterns the displayed components draw: 2 per CP or split component, 1 per
    /// symmetric one; the rank the eigen baseline is matched at.
    pub n_patterns: usize,
    /// The displayed components, judged on the test inputs (see [`Readout`]).
    #[serde(flatten)]
    pub readout: Readout,
    /// Tensor cosine of the per-class pixel eigendecomposition truncated to the `n_patterns`
    /// eigenvectors of largest |λ| overall: the baseline at matched rank ([`Eigen::rank_matched`](crate::interaction::eigen::Eigen::rank_matched),
    /// by the top-k solver on wide layers). `None` only in results written before it was kept
    /// for layers of any width.
    pub eigen_cosine_rank_matched: Option<f64>,
    /// The same rank-matched eigen baseline, judged as the dictionary is (absent with the
    /// cosine, so that results tables have no column for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eigen_rank_matched: Option<Readout>,
}

/// A dictionary judged by what it does on the test inputs (with the base model's bias) and by
/// how its patterns read; `None` without test inputs, training inputs (the functional cosine)
/// or an image grid (the pattern metrics).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Readout {
    /// Share of test inputs on which it predicts what the base model predicts.
    pub agreement: Option<f64>,
    /// R² of its per-input centred logits against the base model's.
    pub logit_r2: Option<f64>,
    /// `⟨B, T⟩_M / ‖B‖_M‖T‖_M` with `M` the training inputs' second moment.
    pub functional_cosine: Option<f64>,
    /// [`patterns::locality`], each pattern weighted by [`Component::pattern_weights`].
    pub locality_7x7_weighted: Option<f64>,
    /// [`patterns::coherence`], weighted likewise.
    pub coherence_weighted: Option<f64>,
    /// [`sign_purity_weighted`]: how one-signed the patterns are, weighted likewise (needs
    /// no image grid).
    pub sign_purity_weighted: Option<f64>,
    /// Mean number of components making up 90% of the absolute contributions to the predicted
    /// output.
    pub explanation_size: Option<f64>,
    /// [`fidelity::cancellation`]: absolute contributions to the predicted outputs over their
    /// totals (1 = no contribution works against its decision).
    pub cancellation: Option<f64>,
    /// [`opposing_twins`]: the share of pattern weight on patterns whose near-copy counts the
    /// other way for the same class.
    pub opposing_twins: Option<f64>,
    /// [`patterns::locality`], each component weighted by its use on the test inputs
    /// ([`fidelity::use_per_component`]) instead of its part of the tensor.
    pub locality_7x7_used: Option<f64>,
    /// [`patterns::coherence`], weighted by use likewise.
    pub coherence_used: Option<f64>,
    /// [`component_sign_purity`], weighted by use likewise.
    pub sign_purity_used: Option<f64>,
    /// [`top_vote_coherence`]: how smooth the pattern is that each test input's explanation
    /// shows first.
    pub coherence_top_vote: Option<f64>,
}

/// A dictionary's activations on the test images and its logits there without the bias: one
/// product with the images (4 GFLOP at rank 256 on 10,000 digits) for both the accuracies and
/// the readout.
struct OnTest {
    acts: Mat<f32>,
    logits: Mat<f32>,
}

impl OnTest {
    fn of(c: &Components, test: &Dataset) -> Self {
        let acts = c.activations(test.x());
        let logits = linalg::mul(acts.as_ref(), c.heads().transpose());
        Self { acts, logits }
    }
}

/// [`Readout`] of the components `c`, with their [`OnTest`] where it was already computed.
fn readout(ctx: &Context, c: &Components, on_test: Option<OnTest>) -> Readout {
    let test = ctx.data.as_ref().map(|s| &s.test).filter(|t| !t.is_empty());
    let logits = test.and_then(|t| {
        let OnTest { acts, logits: mut z } = on_test.unwrap_or_else(|| OnTest::of(c, t));
        add_bias(&mut z, &ctx.model.bias);
        let to_predicted = ToPredicted::new(z.as_ref(), acts.as_ref(), c.heads().as_ref());
        Some((ctx.base_test_logits()?.as_ref(), z, to_predicted))
    });
    let patterns = linalg::side_by_side(&c.plus(), &c.minus());
    let weights: Vec<f64> = {
        let w: Vec<[f64; 2]> = c.iter().map(Component::pattern_weights).collect();
        w.iter().map(|p| p[0]).chain(w.iter().map(|p| p[1])).collect()
    };
    let used: Option<Vec<f64>> = logits.as_ref().map(|(_, _, p)| fidelity::use_per_component(p));
    let used_patterns = used.as_ref().map(|u| split_like_strength(c, u));
    let image = ctx.image.filter(|s| s.supports_image_work());
    let weighted_by =
        |w: &[f64], metric: fn(&[f32], ImageShape) -> f64| image.map(|s| patterns::weighted_mean(patterns.as_ref(), w, |p| metric(p, s)));
    let weighted = |metric: fn(&[f32], ImageShape) -> f64| weighted_by(&weights, metric);
    let used_by = |metric: fn(&[f32], ImageShape) -> f64| used_patterns.as_ref().and_then(|w| weighted_by(w, metric));
    Readout {
        agreement: logits.as_ref().and_then(|(base, z, _)| fidelity::agreement(base.as_ref(), z.as_ref())),
        logit_r2: logits.as_ref().and_then(|(base, z, _)| fidelity::logit_r2(base.as_ref(), z.as_ref())),
        functional_cosine: ctx.functional().map(|f| f.cosine(&ctx.inter, &c.tensor_all())),
        locality_7x7_weighted: weighted(patterns::locality),
        coherence_weighted: weighted(patterns::coherence),
        sign_purity_weighted: Some(sign_purity_weighted(c)),
        explanation_size: logits.as_ref().and_then(|(_, _, p)| fidelity::explanation_size(p)),
        cancellation: logits.as_ref().and_then(|(_, _, p)| fidelity::cancellation(p)),
        opposing_twins: Some(opposing_twins(c)),
        locality_7x7_used: used_by(patterns::locality),
        coherence_used: used_by(patterns::coherence),
        sign_purity_used: used.as_ref().map(|u| sign_purity_by(c, |r, _| u[r])),
        coherence_top_vote: test.zip(image).zip(logits.as_ref()).and_then(|((t, s), (_, _, p))| top_vote_coherence(c, t, p, s)),
    }
}

/// [`patterns::coherence`] of each input's largest vote ([`ToPredicted::largest_votes`]), drawn
/// as its explanation draws it: the pattern of that component (plus or minus, `p` or `n`) the
/// input projects on more strongly; the mean over `inputs`, `None` without any. The weighted
/// metrics can be high while the few components that carry most decisions are speckled
/// templates; this is the picture a reader of an explanation sees first.
fn top_vote_coherence(c: &Components, inputs: &Dataset, votes: &ToPredicted, shape: ImageShape) -> Option<f64> {
    let coherence: Vec<[f64; 2]> = c.iter().map(|k| [&k.plus, &k.minus].map(|p| patterns::coherence(p, shape))).collect();
    let dot = |p: &[f32], x: &[f32]| p.iter().zip(x).map(|(a, b)| a * b).sum::<f32>().abs();
    let (mut sum, mut n) = (0.0, 0usize);
    for (i, vote) in votes.largest_votes().enumerate() {
        let Some(k) = vote else { continue };
        let (comp, x) = (&c.items[k], inputs.image(i));
        sum += coherence[k][usize::from(dot(&comp.minus, x) > dot(&comp.plus, x))];
        n += 1;
    }
    (n > 0).then(|| sum / n as f64)
}

/// Per-component weights `w` as per-pattern weights in [`Readout`]'s order (every plus
/// pattern, then every minus one), each component's split between its two patterns as its
/// [`Component::pattern_weights`] are.
fn split_like_strength(c: &Components, w: &[f64]) -> Vec<f64> {
    let parts: Vec<[f64; 2]> = c.iter().map(Component::pattern_weights).collect();
    let share = |r: usize, side: usize| {
        let total = parts[r][0] + parts[r][1];
        if total > 0.0 { w[r] * parts[r][side] / total } else { 0.0 }
    };
    (0..parts.len()).map(|r| share(r, 0)).chain((0..parts.len()).map(|r| share(r, 1))).collect()
}

/// Patterns at least this close in direction (|cos|) are one pattern drawn twice.
pub const TWIN_COSINE: f64 = 0.9;

/// The share of the displayed patterns' weight ([`Component::pattern_weights`]) on patterns with
/// an opposing twin: a pattern of the same class (head) whose evidence has the other sign, within
/// [`TWIN_COSINE`]. Such a pair cancels on every input that excites it, so a fit can make one to
/// shorten explanations (two large terms carry most of the absolute contribution) without a
/// simpler explanation; 0 for an eigenbasis (orthogonal patterns); 0 when all weights are 0.
pub fn opposing_twins(c: &Components) -> f64 {
    // (class, evidence sign, weight, unit pattern) of every displayed pattern.
    let mut patterns: Vec<(usize, f32, f64, &[f32])> = Vec::new();
    for comp in c.iter() {
        let (class, sign) = comp.head_class();
        let [w_plus, w_minus] = comp.pattern_weights();
        patterns.push((class, sign, w_plus, &comp.plus));
        if comp.form.has_minus() {
            patterns.push((class, -sign, w_minus, &comp.minus));
        }
    }
    let total: f64 = patterns.iter().map(|p| p.2).sum();
    let twinned: f64 = patterns
        .iter()
        .filter(|(class, sign, _, p)| {
            patterns.iter().any(|(c2, s2, w2, q)| {
                c2 == class
                    && s2 != sign
                    && *w2 > 0.0
                    && p.iter().zip(q.iter()).map(|(&x, &y)| x as f64 * y as f64).sum::<f64>().abs() >= TWIN_COSINE
            })
        })
        .fold(0.0, |sum, p| sum + p.2); // not `sum()`, whose empty sum is −0
    if total > 0.0 { twinned / total } else { 0.0 }
}

/// [`component_sign_purity`] of the components, each weighted by its patterns'
/// [`Component::pattern_weights`] together (0 when all are 0).
pub fn sign_purity_weighted(c: &Components) -> f64 {
    sign_purity_by(c, |_, comp| comp.pattern_weights().iter().sum())
}

/// [`component_sign_purity`] of the components, component `r` weighted by `weight(r, comp)`
/// (0 when all weights are 0).
pub fn sign_purity_by(c: &Components, weight: impl Fn(usize, &Component) -> f64) -> f64 {
    let (mut sum, mut total) = (0.0, 0.0);
    for (r, comp) in c.iter().enumerate() {
        let w = weight(r, comp);
        if w > 0.0 {
            sum += w * component_sign_purity(comp);
            total += w;
        }
    }
    if total > 0.0 { sum / total } else { 0.0 }
}

/// Sign purity of one component as a person best reads it: its display patterns weighted by
/// their parts of the term, or for a CP component `d ⊗ sym(a bᵀ)` the pair `a`, `b` (equal
/// parts: only the product of their norms is fixed) when that pair is purer than `a ± b`.
pub fn component_sign_purity(comp: &Component) -> f64 {
    let [wp, wm] = comp.pattern_weights();
    let display =
        if wp + wm > 0.0 { (wp * patterns::sign_purity(&comp.plus) + wm * patterns::sign_purity(&comp.minus)) / (wp + wm) } else { 0.0 };
    match comp.form {
        Form::Cp => display.max(0.5 * (patterns::sign_purity(&comp.a) + patterns::sign_purity(&comp.b))),
        _ => display,
    }
}

/// Every metric of [`Metrics`] for a decomposition; `class_changes` comes from the fit.
pub fn evaluate(ctx: &Context, d: &Decomposition, class_changes: f64) -> Metrics {
    let all = Components::of(d, |_| true);
    let shown = Components::of(d, |r| r == Role::Displayed);
    let total = ctx.inter.cosine(&d.tensor());
    let displayed = if d.has_residual() { ctx.inter.cosine(&d.displayed_tensor()) } else { total };
    let bias = &ctx.model.bias;
    // Accuracy of logits `z` without and with the model's bias.
    let accuracies = |mut z: Mat<f32>, data: &Dataset| {
        let without = accuracy_of_logits(data, z.as_ref());
        add_bias(&mut z, bias);
        [without, accuracy_of_logits(data, z.as_ref())]
    };
    let splits = ctx.data.as_ref();
    let shown_on_test = splits.map(|s| OnTest::of(&shown, &s.test));
    let shown_test = splits.zip(shown_on_test.as_ref()).map_or([None; 2], |(s, o)| accuracies(o.logits.clone(), &s.test));
    let of = |c: &Components, data: fn(&Splits) -> &Dataset| splits.map_or([None; 2], |s| accuracies(c.logits(data(s).x()), data(s)));
    let test = if d.has_residual() { of(&all, |s| &s.test) } else { shown_test };
    let validation = of(&all, |s| &s.validation);
    let shown_validation = if d.has_residual() { of(&shown, |s| &s.validation) } else { validation };
    let patterns = linalg::side_by_side(&shown.plus(), &shown.minus());
    let strengths = shown.strengths();
    let strength_total: f64 = strengths.iter().map(|&s| s as f64).sum();
    let heads = shown.heads();
    let image = ctx.image.filter(|s| s.supports_image_work());
    let n_patterns = shown.n_patterns();
    // The dictionary's readout and the rank-matched eigenbasis's are independent: side by side.
    let (readout_shown, (eigen_cosine, eigen_readout)) = rayon::join(
        || readout(ctx, &shown, shown_on_test),
        || {
            let eigen = ctx.rank_matched_eigen(n_patterns);
            (ctx.inter.cosine(&eigen), readout(ctx, &Components::of_symmetric(&eigen), None))
        },
    );
    Metrics {
        tensor_cosine: total,
        displayed_cosine: displayed,
        residual_fraction: if d.has_residual() { 1.0 - displayed / total.max(1e-8) } else { 0.0 },
        test_accuracy: test[0],
        test_accuracy_with_bias: test[1],
        displayed_test_accuracy: shown_test[0],
        displayed_test_accuracy_with_bias: shown_test[1],
        validation_accuracy: validation[0],
        displayed_validation_accuracy: shown_validation[0],
        base_test_accuracy: ctx.data.as_ref().zip(ctx.base_test_logits()).and_then(|(s, z)| accuracy_of_logits(&s.test, z.as_ref())),
        class_selectivity: patterns::class_selectivity(heads.as_ref()),
        top1_head_mass: patterns::top1_head_mass(heads.as_ref()),
        pattern_gini: patterns::mean_gini(patterns.as_ref()),
        locality_7x7: image.map(|s| patterns::mean_locality(patterns.as_ref(), s)),
        display_tv: image.map(|s| patterns::display_tv(patterns.as_ref(), s)),
        top_sigma_frac: strengths.iter().take(8).map(|&s| s as f64).sum::<f64>() / strength_total.max(1e-8),
        displayed_components: shown.len(),
        residual_components: all.len() - shown.len(),
        class_changes,
        n_components: all.len(),
        n_patterns,
        readout: readout_shown,
        eigen_cosine_rank_matched: Some(eigen_cosine),
        eigen_rank_matched: Some(eigen_readout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-hot component of `form` on factors `a`, `b`, displayed as [`Components::of`] does.
    fn component(form: Form, a: &[f32], b: &[f32]) -> Component {
        let unit = |v: Vec<f32>| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| if n > 0.0 { x / n } else { 0.0 }).collect::<Vec<f32>>()
        };
        let (plus, minus) = match form {
            Form::Symmetric => (unit(a.to_vec()), vec![0.0; a.len()]),
            _ => (unit(a.iter().zip(b).map(|(x, y)| x + y).collect()), unit(a.iter().zip(b).map(|(x, y)| x - y).collect())),
        };
        Component {
            bank: 0,
            index: 0,
            form,
            role: Role::Displayed,
            a: a.to_vec(),
            b: b.to_vec(),
            head: vec![1.0, 0.0],
            plus,
            minus,
            strength: 1.0,
            anchors: None,
            mask: None,
        }
    }

    fn of(items: Vec<Component>) -> Components {
        Components { inputs: items[0].a.len(), outputs: 2, items }
    }

    #[test]
    fn sign_purity_of_pure_and_balanced_patterns() {
        let pure = [0.0, 1.0, 2.0, 0.5];
        assert!((patterns::sign_purity(&pure) - 1.0).abs() < 1e-12);
        assert!((patterns::sign_purity(&[-1.0, -3.0, 0.0, 0.0]) - 1.0).abs() < 1e-12);
        let balanced = [1.0, -1.0, 2.0, -2.0];
        assert!((patterns::sign_purity(&balanced) - 0.5).abs() < 1e-12);
        assert_eq!(patterns::sign_purity(&[0.0; 4]), 0.0);
        let sym = |v: &[f32]| of(vec![component(Form::Symmetric, v, v)]);
        assert!((sign_purity_weighted(&sym(&pure)) - 1.0).abs() < 1e-12);
        assert!((sign_purity_weighted(&sym(&balanced)) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_cp_component_is_read_in_its_purer_view() {
        // a, b pure; a + b pure but a − b = (1, −1, 0, 0) balanced: the pair view wins.
        let (a, b) = ([1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]);
        let pair = component(Form::Cp, &a, &b);
        assert!((patterns::sign_purity(&pair.minus) - 0.5).abs() < 1e-6);
        assert!((component_sign_purity(&pair) - 1.0).abs() < 1e-12);
        // a = p + n, b = p − n with p ≥ 0, n ≤ 0 on separate pixels: a balanced, a ± b pure.
        let (p, n) = ([1.0, 2.0, 0.0, 0.0], [0.0, 0.0, -2.0, -1.0]);
        let a: Vec<f32> = p.iter().zip(&n).map(|(x, y)| x + y).collect();
        let b: Vec<f32> = p.iter().zip(&n).map(|(x, y)| x - y).collect();
        let display = component(Form::Cp, &a, &b);
        assert!((0.5 * (patterns::sign_purity(&a) + patterns::sign_purity(&b)) - 0.75).abs() < 1e-12);
        assert!((component_sign_purity(&display) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn opposing_twins_are_near_copies_counting_the_other_way_for_the_same_class() {
        let with_head = |v: &[f32], head: [f32; 2]| Component { head: head.to_vec(), ..component(Form::Symmetric, v, v) };
        let (blob, near, apart) = ([2.0, 1.0, 0.0, 0.0], [2.0, 1.2, 0.1, 0.0], [0.0, 0.0, 1.0, 0.0]);
        // A blob for class 0 and its near-copy against class 0: both twinned; a pattern apart is not.
        let got = opposing_twins(&of(vec![with_head(&blob, [1.0, 0.0]), with_head(&near, [-1.0, 0.0]), with_head(&apart, [1.0, 0.0])]));
        let (wb, wn) = (5.0, 4.0 + 1.44 + 0.01);
        assert!((got - (wb + wn) / (wb + wn + 1.0)).abs() < 1e-6, "{got}");
        // The same near-copy for another class, or with the same sign, is no twin.
        let none = opposing_twins(&of(vec![with_head(&blob, [1.0, 0.0]), with_head(&near, [0.0, -1.0])]));
        assert!(none == 0.0 && none.is_sign_positive(), "{none}");
        assert_eq!(opposing_twins(&of(vec![with_head(&blob, [1.0, 0.0]), with_head(&near, [2.0, 0.0])])), 0.0);
    }

    #[test]
    fn use_weights_a_component_by_what_it_adds_to_the_predicted_output() {
        // A pure blob that the inputs excite, and a heavier balanced pattern they never do.
        let with_head = |v: &[f32], head: [f32; 2]| Component { head: head.to_vec(), ..component(Form::Symmetric, v, v) };
        let h = 2.0_f32.sqrt();
        let c = of(vec![with_head(&[1.0, 0.0], [1.0, 0.0]), with_head(&[h, -h], [-3.0, 1.0])]);
        // Input 0 predicts output 0, input 1 output 1; only the blob is active (activations 2, 4).
        let logits = faer::Mat::from_fn(2, 2, |i, o| if i == o { 1.0 } else { 0.0 });
        let acts = faer::Mat::from_fn(2, 2, |i, r| if r == 0 { 2.0 * (i + 1) as f32 } else { 0.0 });
        let used = fidelity::use_per_component(&ToPredicted::new(logits.as_ref(), acts.as_ref(), c.heads().as_ref()));
        assert_eq!(used, vec![1.0, 0.0], "the blob adds 2 to output 0 on input 0 and 0 to output 1 on input 1");
        assert_eq!(sign_purity_by(&c, |r, _| used[r]), 1.0, "the unused balanced pattern counts for nothing");
        let heavy = 10.0_f64.sqrt() * 4.0; // ‖d‖·‖p‖²
        assert!((sign_purity_weighted(&c) - (1.0 + heavy * 0.5) / (1.0 + heavy)).abs() < 1e-6, "by strength it dominates");
        assert_eq!(split_like_strength(&c, &used), vec![1.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn the_top_vote_is_the_pattern_an_explanation_shows_first() {
        // 4×4 images: a smooth blob, a checkerboard (speckle), and a contrast of the two whose
        // minus pattern is the checkerboard.
        let shape = ImageShape::new(4, 4);
        let blob: Vec<f32> = (0..16).map(|i| if [5, 6, 9, 10].contains(&i) { 1.0 } else { 0.0 }).collect();
        let checker: Vec<f32> = (0..16).map(|i| if (i / 4 + i % 4) % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let (coh_blob, coh_checker) = (patterns::coherence(&blob, shape), patterns::coherence(&checker, shape));
        assert!(coh_blob > 50.0 * coh_checker, "{coh_blob} {coh_checker}");
        let with_head = |form: Form, a: &[f32], b: &[f32], head: [f32; 2]| Component { head: head.to_vec(), ..component(form, a, b) };
        let contrast = {
            let mut k = with_head(Form::Split, &blob, &checker, [0.0, 1.0]);
            (k.plus, k.minus) = (blob.clone(), checker.iter().map(|v| v / 4.0).collect());
            k
        };
        let c = of(vec![
            with_head(Form::Symmetric, &blob, &blob, [1.0, 0.0]),
            with_head(Form::Symmetric, &checker, &checker, [1.0, 0.0]),
            contrast,
        ]);
        // Input 0 (the blob) predicts 0 by component 0; input 1 (the checkerboard) predicts 0 by
        // component 1; input 2 predicts 1 by the contrast and projects on its minus pattern.
        let inputs = [&blob[..], &checker[..], &checker[..]];
        let mut data = Dataset::vectors(inputs.concat(), 16, Some(shape));
        data.labels = Some(vec![0, 0, 1]);
        let logits = faer::Mat::from_fn(3, 2, |i, o| if (i == 2) == (o == 1) { 1.0 } else { 0.0 });
        let acts = faer::Mat::from_fn(3, 3, |i, r| [[4.0, 0.0, 0.0], [0.0, 16.0, 1.0], [0.0, 0.0, 9.0]][i][r]);
        let votes = ToPredicted::new(logits.as_ref(), acts.as_ref(), c.heads().as_ref());
        assert_eq!(votes.largest_votes().collect::<Vec<_>>(), vec![Some(0), Some(1), Some(2)]);
        let expected = (coh_blob + 2.0 * coh_checker) / 3.0;
        assert!((top_vote_coherence(&c, &data, &votes, shape).unwrap() - expected).abs() < 1e-12);
        let empty = Dataset::vectors(Vec::new(), 16, Some(shape));
        let none = ToPredicted::new(faer::Mat::<f32>::zeros(0, 2).as_ref(), faer::Mat::<f32>::zeros(0, 3).as_ref(), c.heads().as_ref());
        assert_eq!(top_vote_coherence(&c, &empty, &none, shape), None);
    }

    #[test]
    fn sign_purity_weights_components_by_their_parts_of_the_tensor() {
        // A pure component of weight 4 (‖v‖² = 4) and a balanced one of weight 1.
        let strong = component(Form::Symmetric, &[2.0, 0.0], &[2.0, 0.0]);
        let h = 0.5_f32.sqrt();
        let weak = component(Form::Symmetric, &[h, -h], &[h, -h]);
        let got = sign_purity_weighted(&of(vec![strong, weak]));
        assert!((got - (4.0 + 0.5) / 5.0).abs() < 1e-6, "{got}");
    }
}
