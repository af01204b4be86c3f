//! Fidelity and readability of a fitted decomposition (SPEC §8), all recomputable from its
//! factors: [`Metrics`] for a run, and the per-component table ([`component_table`]).

use faer::Mat;
use serde::{Deserialize, Serialize};

use super::patterns;
use crate::data::Dataset;
use crate::decomp::{Components, Context, Decomposition, Form, Role};
use crate::model::{accuracy, add_bias};

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
    /// Tensor cosine of the per-class pixel eigendecomposition truncated to the same number
    /// of displayed components (globally largest |λ|): the baseline at matched capacity.
    pub eigen_cosine_matched: f64,
    /// Share of first-bank components whose head class (argmax |d|) differs from the one they
    /// started with: 0 when classes are frozen, as under the reference's hard top-k heads.
    pub class_changes: f64,
}

/// Every metric of [`Metrics`] for a decomposition; `class_changes` comes from the fit.
pub fn evaluate(ctx: &Context, d: &Decomposition, class_changes: f64) -> Metrics {
    let all = Components::of(d, |_| true);
    let shown = Components::of(d, |r| r == Role::Displayed);
    let total = ctx.inter.cosine(&d.tensor());
    let displayed = ctx.inter.cosine(&d.displayed_tensor());
    let bias = &ctx.model.bias;
    let acc = |c: &Components, data: &Dataset, with_bias: bool| {
        accuracy(data, |x| {
            let mut z = c.logits(x);
            if with_bias {
                add_bias(&mut z, bias);
            }
            z
        })
    };
    let on = |f: &dyn Fn(&crate::decomp::context::Splits) -> Option<f64>| ctx.data.as_ref().and_then(f);
    let patterns = concat_cols(&shown.plus(), &shown.minus());
    let strengths = shown.strengths();
    let strength_total: f64 = strengths.iter().map(|&s| s as f64).sum();
    let heads = shown.heads();
    let image = ctx.image.filter(|s| s.supports_image_work());
    Metrics {
        tensor_cosine: total,
        displayed_cosine: displayed,
        residual_fraction: if d.has_residual() { 1.0 - displayed / total.max(1e-8) } else { 0.0 },
        test_accuracy: on(&|s| acc(&all, &s.test, false)),
        test_accuracy_with_bias: on(&|s| acc(&all, &s.test, true)),
        displayed_test_accuracy: on(&|s| acc(&shown, &s.test, false)),
        displayed_test_accuracy_with_bias: on(&|s| acc(&shown, &s.test, true)),
        validation_accuracy: on(&|s| acc(&all, &s.validation, false)),
        displayed_validation_accuracy: on(&|s| acc(&shown, &s.validation, false)),
        base_test_accuracy: on(&|s| ctx.model.accuracy(&s.test)),
        class_selectivity: patterns::class_selectivity(heads.as_ref()),
        top1_head_mass: patterns::top1_head_mass(heads.as_ref()),
        pattern_gini: patterns::mean_gini(patterns.as_ref()),
        locality_7x7: image.map(|s| patterns::mean_locality(patterns.as_ref(), s)),
        display_tv: image.map(|s| patterns::display_tv(patterns.as_ref(), s)),
        top_sigma_frac: strengths.iter().take(8).map(|&s| s as f64).sum::<f64>() / strength_total.max(1e-8),
        displayed_components: shown.len(),
        residual_components: all.len() - shown.len(),
        eigen_cosine_matched: ctx.inter.cosine(&ctx.pixel_eigen().top_overall(shown.len())),
        class_changes,
    }
}

/// `[a | b]` side by side.
pub fn concat_cols(a: &Mat<f32>, b: &Mat<f32>) -> Mat<f32> {
    Mat::from_fn(a.nrows(), a.ncols() + b.ncols(), |i, j| if j < a.ncols() { a[(i, j)] } else { b[(i, j - a.ncols())] })
}

/// One row of the per-component table (SPEC §14's wish list).
#[derive(Clone, Debug, Serialize)]
pub struct ComponentRow {
    pub rank: usize,
    pub bank: usize,
    pub index: usize,
    pub form: Form,
    pub strength: f32,
    pub strength_share: f32,
    pub head_class: usize,
    pub head_sign: f32,
    pub selectivity: f64,
    pub locality_plus: Option<f64>,
    pub locality_minus: Option<f64>,
    pub gini_plus: f64,
    pub gini_minus: f64,
    pub anchor_a: String,
    pub anchor_b: String,
    pub mask_centre_a: String,
    pub mask_sigma_a: String,
    pub mask_centre_b: String,
    pub mask_sigma_b: String,
}

/// The per-component table of `c`, in its (strength) order; locality needs an image grid.
pub fn component_table(c: &Components, image: Option<crate::image::ImageShape>) -> Vec<ComponentRow> {
    let total: f32 = c.strengths().iter().sum();
    let image = image.filter(|s| s.supports_image_work());
    c.iter()
        .enumerate()
        .map(|(r, comp)| {
            let (head_class, head_sign) = comp.head_class();
            let m = comp.mask;
            let (anchor_a, anchor_b) = comp.anchors.clone().unwrap_or_default();
            ComponentRow {
                rank: r + 1,
                bank: comp.bank,
                index: comp.index,
                form: comp.form,
                strength: comp.strength,
                strength_share: comp.strength / total.max(1e-12),
                head_class,
                head_sign,
                selectivity: patterns::component_selectivity(&comp.head),
                locality_plus: image.map(|s| patterns::locality(&comp.plus, s)),
                locality_minus: image.map(|s| patterns::locality(&comp.minus, s)),
                gini_plus: patterns::gini(&comp.plus),
                gini_minus: patterns::gini(&comp.minus),
                anchor_a,
                anchor_b,
                mask_centre_a: m.map(|m| format!("({:.2}, {:.2})", m.centre_a[0], m.centre_a[1])).unwrap_or_default(),
                mask_sigma_a: m.map(|m| format!("{:.3}", m.sigma_a)).unwrap_or_default(),
                mask_centre_b: m.map(|m| format!("({:.2}, {:.2})", m.centre_b[0], m.centre_b[1])).unwrap_or_default(),
                mask_sigma_b: m.map(|m| format!("{:.3}", m.sigma_b)).unwrap_or_default(),
            }
        })
        .collect()
}
