//! One decomposition run end to end, against a shared [`Context`]: the base model, its
//! interaction tensor and the data splits are built once and reused by every preset, so that
//! all presets are compared on the same target (SPEC §13.3) and no choice sees the test set
//! (a validation split is carved from the training data, SPEC §13.4).

use anyhow::Result;
use faer::Mat;
use serde::Serialize;

use super::Decomposition;
use super::bank::Role;
use super::components::Components;
use super::fit::{FitData, HistoryRow, Weights, fit};
use super::init::{InitContext, displayed_bank, residual_bank};
use super::loss::{DistillSet, LabelledSet, Target};
use super::recipe::Recipe;
use crate::data::{DataSplit, Dataset};
use crate::interaction::Interaction;
use crate::interaction::eigen::Eigen;
use crate::linalg;
use crate::metrics::patterns;
use crate::model::{Bilinear, accuracy};

/// Validation images carved from the training split, and the seed of every data choice
/// (fixed, so that every preset and seed sees the same images).
pub const VALIDATION_IMAGES: usize = 1000;
const DATA_SEED: u64 = 0x5eed;

/// Everything decompositions of one base model share.
pub struct Context {
    pub model: Bilinear,
    pub inter: Interaction,
    /// Training images minus the validation split.
    pub train: Dataset,
    pub validation: Dataset,
    pub test: Dataset,
    distill_x: Mat<f32>,
    activation: LabelledSet,
    pixel_eigen: Eigen,
}

impl Context {
    pub fn new(model: Bilinear, data: &DataSplit) -> Result<Self> {
        anyhow::ensure!(
            model.config().n_inputs == data.train.n_pixels(),
            "the model takes {} inputs but the images have {} pixels",
            model.config().n_inputs,
            data.train.n_pixels()
        );
        anyhow::ensure!(
            model.config().n_outputs == data.train.n_classes,
            "the model has {} outputs but the data {} classes",
            model.config().n_outputs,
            data.train.n_classes
        );
        let n_val = VALIDATION_IMAGES.min(data.train.len() / 5);
        let (train, validation) = data.train.split_off(n_val, DATA_SEED);
        let pick = |n: usize, seed: u64| {
            let mut idx: Vec<usize> = (0..train.len()).collect();
            rand::seq::SliceRandom::shuffle(&mut idx[..], &mut linalg::rng(seed));
            idx.truncate(n.min(train.len()));
            train.subset(&idx)
        };
        let distill = pick(8192, DATA_SEED + 1);
        let act = pick(4096, DATA_SEED + 2);
        let inter = Interaction::new(&model);
        let pixel_eigen = Eigen::pixel(&inter);
        Ok(Self {
            distill_x: distill.x().to_owned(),
            activation: LabelledSet { x: act.x().to_owned(), y: act.labels.clone() },
            model,
            inter,
            train,
            validation,
            test: data.test.clone(),
            pixel_eigen,
        })
    }

    /// The distillation set: `n` fixed training images and the base model's logits on them,
    /// minus those of `minus` (the first stage of a boosted fit).
    pub fn distill_set(&self, n: usize, minus: Option<&crate::interaction::CpTensor>) -> DistillSet {
        let x = self.distill_x.as_ref().subrows(0, n.min(self.distill_x.nrows())).to_owned();
        let mut logits = self.model.logits(x.as_ref());
        if let Some(t) = minus {
            logits -= t.logits(x.as_ref());
        }
        DistillSet::new(x, logits)
    }
}

/// A finished run.
pub struct Outcome {
    pub decomposition: Decomposition,
    pub history: Vec<HistoryRow>,
    pub metrics: Metrics,
}

/// Fidelity and interpretability of a decomposition (SPEC §8), all recomputable from its
/// factors. Pattern metrics cover the displayed components (plus and minus patterns).
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Metrics {
    pub tensor_cosine: f64,
    pub displayed_cosine: f64,
    /// `1 − displayed/total` (SPEC §8.3; a heuristic, 0 without a residual).
    pub residual_fraction: f64,
    /// Decomposed model without the base model's output bias (the reference's number).
    pub test_accuracy: f64,
    pub test_accuracy_with_bias: f64,
    /// The displayed components alone (no residual).
    pub displayed_test_accuracy: f64,
    pub displayed_test_accuracy_with_bias: f64,
    pub validation_accuracy: f64,
    pub displayed_validation_accuracy: f64,
    pub base_test_accuracy: f64,
    pub class_selectivity: f64,
    pub top1_head_mass: f64,
    pub pattern_gini: f64,
    pub locality_7x7: f64,
    pub display_tv: f64,
    /// Strength share of the 8 strongest displayed components.
    pub top_sigma_frac: f64,
    pub displayed_components: usize,
    pub residual_components: usize,
    /// Tensor cosine of the per-class pixel eigendecomposition truncated to the same number
    /// of displayed components (globally largest |λ|): the baseline at matched capacity.
    pub eigen_cosine_matched: f64,
    /// Share of first-bank components whose head class (argmax |d|) differs from the one they
    /// started with: 0 when classes are frozen, as under the reference's hard top-k heads.
    #[serde(default)]
    pub class_changes: f64,
}

/// Builds and fits the decomposition `recipe` describes; `on_step(stage, step, loss, cosine)`.
pub fn run(ctx: &Context, recipe: &Recipe, seed: u64, mut on_step: impl FnMut(usize, usize, f64, f64)) -> Result<Outcome> {
    recipe.validate(ctx.inter.n_classes())?;
    let mut rng = linalg::rng(seed);
    let mut decomposition = first_stage(ctx, recipe, &mut rng)?;
    let initial_classes = head_classes(&decomposition.banks[0].head.heads());
    let data = FitData {
        distill: (recipe.distill > 0.0).then(|| ctx.distill_set(recipe.distill_images, None)),
        activation: (recipe.priors.activation > 0.0).then(|| LabelledSet { x: ctx.activation.x.clone(), y: ctx.activation.y.clone() }),
    };
    let weights = Weights { tensor: recipe.tensor, distill: recipe.distill };
    let mut history = fit(&mut decomposition, recipe, &weights, &Target::new(&ctx.inter, None), &data, 1, |s, l, c| on_step(1, s, l, c))?;
    if recipe.stages == 2 {
        // Boosting: the second bank fits the tensor and the logits the first one missed.
        let first = decomposition.tensor();
        let init_ctx = InitContext { inter: &ctx.inter, train: &ctx.train };
        let mut second = Decomposition { banks: vec![displayed_bank(recipe, 1, &init_ctx, &mut rng)?] };
        let data = FitData {
            distill: (recipe.second_distill > 0.0).then(|| ctx.distill_set(recipe.distill_images, Some(&first))),
            activation: None,
        };
        let weights = Weights { tensor: recipe.tensor, distill: recipe.second_distill };
        history.extend(fit(&mut second, recipe, &weights, &Target::new(&ctx.inter, Some(first)), &data, 2, |s, l, c| on_step(2, s, l, c))?);
        decomposition.banks.extend(second.banks);
    }
    let mut metrics = evaluate(ctx, &mut decomposition);
    let classes = head_classes(&decomposition.banks[0].head.heads());
    metrics.class_changes = classes.iter().zip(&initial_classes).filter(|(a, b)| a != b).count() as f64 / classes.len().max(1) as f64;
    Ok(Outcome { decomposition, history, metrics })
}

/// The initial decomposition of `recipe`'s first stage for `seed` (what [`run`] fits).
pub fn initial(ctx: &Context, recipe: &Recipe, seed: u64) -> Result<Decomposition> {
    first_stage(ctx, recipe, &mut linalg::rng(seed))
}

fn first_stage(ctx: &Context, recipe: &Recipe, rng: &mut linalg::Rng) -> Result<Decomposition> {
    let init_ctx = InitContext { inter: &ctx.inter, train: &ctx.train };
    let first_stage_banks = if recipe.stages == 2 { 1 } else { recipe.banks };
    let mut banks = (0..first_stage_banks).map(|i| displayed_bank(recipe, i, &init_ctx, rng)).collect::<Result<Vec<_>>>()?;
    if recipe.residual_rank > 0 {
        banks.push(residual_bank(recipe, ctx.inter.n_inputs(), ctx.inter.n_classes(), rng));
    }
    Ok(Decomposition { banks })
}

/// The class each head column votes for most strongly.
fn head_classes(heads: &Mat<f32>) -> Vec<usize> {
    (0..heads.ncols()).map(|r| crate::model::argmax(heads.col(r).iter().map(|v| v.abs()))).collect()
}

/// Every metric of [`Metrics`] for a decomposition.
pub fn evaluate(ctx: &Context, d: &mut Decomposition) -> Metrics {
    let all = Components::of(d, |_| true);
    let shown = Components::of(d, |r| r == Role::Displayed);
    let total = ctx.inter.cosine(&d.tensor());
    let displayed = ctx.inter.cosine(&d.displayed_tensor());
    let acc = |c: &Components, data: &Dataset, bias: bool| {
        accuracy(data, |x| {
            let mut z = c.logits(x);
            if bias {
                for j in 0..z.ncols() {
                    z.col_mut(j).iter_mut().for_each(|v| *v += ctx.model.bias[j]);
                }
            }
            z
        })
    };
    let patterns = concat_cols(&shown.plus, &shown.minus);
    let strength_total: f64 = shown.strength.iter().map(|&s| s as f64).sum();
    let has_residual = d.banks.iter().any(|b| b.role == Role::Residual);
    Metrics {
        tensor_cosine: total,
        displayed_cosine: displayed,
        residual_fraction: if has_residual { 1.0 - displayed / total.max(1e-8) } else { 0.0 },
        test_accuracy: acc(&all, &ctx.test, false),
        test_accuracy_with_bias: acc(&all, &ctx.test, true),
        displayed_test_accuracy: acc(&shown, &ctx.test, false),
        displayed_test_accuracy_with_bias: acc(&shown, &ctx.test, true),
        validation_accuracy: acc(&all, &ctx.validation, false),
        displayed_validation_accuracy: acc(&shown, &ctx.validation, false),
        base_test_accuracy: ctx.model.accuracy(&ctx.test),
        class_selectivity: patterns::class_selectivity(shown.heads.as_ref()),
        top1_head_mass: patterns::top1_head_mass(shown.heads.as_ref()),
        pattern_gini: patterns::mean_gini(patterns.as_ref()),
        locality_7x7: patterns::mean_locality(patterns.as_ref(), 28, 28),
        display_tv: patterns::display_tv(patterns.as_ref(), 28, 28),
        top_sigma_frac: shown.strength.iter().take(8).map(|&s| s as f64).sum::<f64>() / strength_total.max(1e-8),
        displayed_components: shown.len(),
        residual_components: all.len() - shown.len(),
        eigen_cosine_matched: ctx.inter.cosine(&ctx.pixel_eigen.top_overall(shown.len())),
        class_changes: 0.0,
    }
}

/// `[a | b]` side by side.
pub fn concat_cols(a: &Mat<f32>, b: &Mat<f32>) -> Mat<f32> {
    Mat::from_fn(a.nrows(), a.ncols() + b.ncols(), |i, j| if j < a.ncols() { a[(i, j)] } else { b[(i, j - a.ncols())] })
}

/// Writes a run folder's results: `metrics.json`, `components.csv`, `factors.safetensors`,
/// `history.csv`, `components.png` and `components_top_pixels.png` (each atomically). The
/// caller writes `run.json` last: its presence marks the run as finished.
pub fn write_outputs(out: &std::path::Path, title: &str, recipe: &Recipe, outcome: &mut Outcome) -> Result<()> {
    use crate::run::{write_atomic, write_json};
    write_json(&out.join("metrics.json"), &outcome.metrics)?;
    let shown = Components::of(&mut outcome.decomposition, |r| r == Role::Displayed);
    write_atomic(&out.join("components.csv"), &csv_bytes(&super::components::table(&shown))?)?;
    write_atomic(&out.join("history.csv"), &csv_bytes(&outcome.history)?)?;
    let meta = std::collections::HashMap::from([("recipe".to_string(), serde_json::to_string(recipe)?)]);
    super::save::save_factors(&mut outcome.decomposition, &out.join("factors.safetensors"), meta)?;
    let k = shown.len().min(16);
    crate::figures::components::draw_components(
        &shown,
        k,
        &format!("{title}: {k} strongest displayed components"),
        None,
        &out.join("components.png"),
    )?;
    crate::figures::components::draw_components(
        &shown,
        k,
        &format!("{title}: top pixels (q = 0.70)"),
        Some(0.70),
        &out.join("components_top_pixels.png"),
    )?;
    Ok(())
}

/// Rows serialised as CSV with a header.
pub fn csv_bytes<T: Serialize>(rows: &[T]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    Ok(w.into_inner()?)
}
