//! What every decomposition of one base model shares ([`Context`]): the model, its interaction
//! tensor and the data splits, built once and reused by every preset, so that all presets are
//! compared on the same target (SPEC §13.3) and no choice sees the test set (a validation split
//! is carved from the training data, SPEC §13.4). [`fit_recipe`] builds and fits one recipe.

use std::sync::OnceLock;

use anyhow::Result;
use faer::Mat;

use super::Decomposition;
use super::fit::{HistoryRow, Step, fit};
use super::form::Role;
use super::init::{InitContext, displayed_bank, residual_bank};
use super::pattern::Pattern;
use super::recipe::{Limits, Recipe, Rotation};
use super::terms::{self, DecisionSet, DistillSet, FitData, LabelledSet, Need, Target};
use super::{pairing, rotation};
use crate::data::{DataSplit, Dataset};
use crate::error::Error;
use crate::image::ImageShape;
use crate::interaction::eigen::Eigen;
use crate::interaction::functional::Functional;
use crate::interaction::{CpTensor, Interaction};
use crate::linalg::{self, ImageRows};
use crate::model::Bilinear;

/// How a [`Context`] splits and samples its data.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContextOptions {
    /// Validation images carved from the training split (at most a fifth of it).
    pub validation_images: usize,
    /// Seed of every data choice: the validation split and the distillation and activation
    /// images, fixed so that every preset and seed sees the same images.
    pub data_seed: u64,
}

impl Default for ContextOptions {
    fn default() -> Self {
        Self { validation_images: 1000, data_seed: 0x5eed }
    }
}

/// Labelled images a context evaluates and samples from.
pub struct Splits {
    /// Training images minus the validation split.
    pub train: Dataset,
    pub validation: Dataset,
    pub test: Dataset,
    /// The classes' names, when the data know them and its labels are the model's outputs.
    pub class_names: Option<Vec<String>>,
}

/// Everything decompositions of one base model share.
pub struct Context {
    pub model: Bilinear,
    pub inter: Interaction,
    /// The image grid of the inputs, when they are images.
    pub image: Option<ImageShape>,
    /// The data, when there is any: decompositions of the tensor alone need none.
    pub data: Option<Splits>,
    options: ContextOptions,
    notes: Vec<String>,
    pixel_eigen: OnceLock<Eigen>,
    functional: OnceLock<Option<Functional>>,
    principal: OnceLock<Result<Mat<f64>, String>>,
    moment: OnceLock<Mat<f32>>,
    base_test_logits: OnceLock<Option<Mat<f32>>>,
}

impl Context {
    /// A context for `model` on `data` (or on none: decompositions of the tensor alone need
    /// none); errors when the inputs do not fit the model or the test set is empty. Labels
    /// that do not fit the model's outputs (a 512-output layer read on 10-class digits) are
    /// not used, with a note.
    pub fn new(model: Bilinear, data: Option<&DataSplit>, options: &ContextOptions) -> Result<Self> {
        let cfg = model.config();
        let mut notes = Vec::new();
        let splits = match data {
            None => None,
            Some(data) => {
                if cfg.n_inputs != data.train.n_inputs {
                    return Err(Error::Invalid(format!(
                        "the model takes {} inputs but the data has {} per example ({})",
                        cfg.n_inputs, data.train.n_inputs, data.source
                    ))
                    .into());
                }
                if data.test.is_empty() {
                    return Err(Error::Invalid("the test set is empty: every metric is measured on test images".into()).into());
                }
                let n_val = options.validation_images.min(data.train.len() / 5);
                let (train, validation) = data.train.split_off(n_val, options.data_seed);
                let mut splits = Splits { train, validation, test: data.test.clone(), class_names: data.class_names.clone() };
                if data.train.labels.is_some() && cfg.n_outputs != data.train.n_classes {
                    notes.push(format!(
                        "the data's labels are not used: the model has {} outputs, the data {} classes",
                        cfg.n_outputs, data.train.n_classes
                    ));
                    for set in [&mut splits.train, &mut splits.validation, &mut splits.test] {
                        set.labels = None;
                    }
                    splits.class_names = None;
                }
                Some(splits)
            }
        };
        let inter = Interaction::new(&model);
        inter.check_readable("decompose")?;
        Ok(Self {
            image: data.and_then(|d| d.train.shape),
            inter,
            model,
            data: splits,
            options: options.clone(),
            notes,
            pixel_eigen: OnceLock::new(),
            functional: OnceLock::new(),
            principal: OnceLock::new(),
            moment: OnceLock::new(),
            base_test_logits: OnceLock::new(),
        })
    }

    /// The classes' names, when the data know them (see [`Splits::class_names`]).
    pub fn class_names(&self) -> Option<&[String]> {
        self.data.as_ref().and_then(|d| d.class_names.as_deref())
    }

    /// What the context left out of the data, for the reader.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// How the data was split and sampled.
    pub fn options(&self) -> &ContextOptions {
        &self.options
    }

    /// The splits, or an error saying what needs them.
    pub fn splits(&self, what: &str) -> Result<&Splits> {
        self.data.as_ref().ok_or_else(|| Error::Invalid(format!("{what} needs data (images and labels), and none was given")).into())
    }

    /// What recipes are checked against.
    pub fn limits(&self) -> Limits {
        Limits {
            inputs: self.inter.n_inputs(),
            outputs: self.inter.n_classes(),
            image: self.image,
            train_images: self.data.as_ref().map_or(0, |d| d.train.len()),
        }
    }

    /// The per-class pixel-space eigendecomposition, computed once.
    pub fn pixel_eigen(&self) -> &Eigen {
        self.pixel_eigen.get_or_init(|| Eigen::pixel(&self.inter))
    }

    /// The rank-matched eigen baseline of `r` terms ([`Eigen::rank_matched`]), truncated from
    /// [`Context::pixel_eigen`] where that is what the solver would compute anyway.
    pub fn rank_matched_eigen(&self, r: usize) -> CpTensor {
        if Eigen::rank_matched_by_top_k(&self.inter, r) { Eigen::rank_matched(&self.inter, r) } else { self.pixel_eigen().top_overall(r) }
    }

    /// The functional inner product with `M` from the training inputs, computed once; `None`
    /// without training inputs.
    pub fn functional(&self) -> Option<&Functional> {
        self.functional
            .get_or_init(|| {
                let init = self.init_context();
                init.second_moment().zip(init.train).map(|(moment, train)| Functional::of_moment(&self.inter, moment, train.len()))
            })
            .as_ref()
    }

    /// The base model's logits on the test images, computed once (metrics of every
    /// dictionary read them); `None` without test images.
    pub fn base_test_logits(&self) -> Option<&Mat<f32>> {
        self.base_test_logits
            .get_or_init(|| self.data.as_ref().filter(|s| !s.test.is_empty()).map(|s| self.model.logits(s.test.x())))
            .as_ref()
    }

    /// The first `n` training images of a fixed shuffle seeded with `data_seed + offset`.
    fn sample(&self, n: usize, offset: u64) -> Result<Dataset> {
        let train = &self.splits("sampling training images")?.train;
        let mut idx: Vec<usize> = (0..train.len()).collect();
        rand::seq::SliceRandom::shuffle(&mut idx[..], &mut linalg::rng(self.options.data_seed + offset));
        idx.truncate(n.min(train.len()));
        Ok(train.subset(&idx))
    }

    /// The distillation set: `n` fixed training images and the base model's logits on them,
    /// minus those of `minus` (the first stage of a boosted fit).
    pub fn distill_set(&self, n: usize, minus: Option<&CpTensor>) -> Result<DistillSet> {
        let x = self.sample(n, 1)?.x().to_owned();
        let mut logits = self.model.logits(x.as_ref());
        if let Some(t) = minus {
            logits -= t.logits(x.as_ref());
        }
        Ok(DistillSet::new(x, logits))
    }

    /// `n` fixed labelled training images.
    pub fn labelled_set(&self, n: usize) -> Result<LabelledSet> {
        let set = self.sample(n, 2)?;
        let x = set.x().to_owned();
        let y = set.labels.ok_or_else(|| {
            Error::Invalid("the activation, minimality and cancellation priors need labelled images; these inputs have no labels".into())
        })?;
        Ok(LabelledSet { images: ImageRows::new(x), y })
    }

    /// The `n` training images nearest a tie (the smallest gap between the base model's top two
    /// logits; agreement is decided there) and the base model's logits on them, bias left out,
    /// for the decision prior.
    pub fn decision_set(&self, n: usize) -> Result<DecisionSet> {
        let train = &self.splits("the decision prior")?.train;
        // Sequential products: the same gaps, and so the same images, at any thread count.
        let logits = linalg::sequential(|| self.model.logits(train.x()));
        let gap = |i: usize| {
            let (mut top, mut second) = (f32::NEG_INFINITY, f32::NEG_INFINITY);
            for &v in logits.row(i).iter() {
                (top, second) = if v > top { (v, top) } else { (top, second.max(v)) };
            }
            top - second
        };
        let gaps: Vec<f32> = (0..train.len()).map(gap).collect();
        let mut idx: Vec<usize> = (0..train.len()).collect();
        idx.sort_by(|&a, &b| gaps[a].total_cmp(&gaps[b]).then(a.cmp(&b)));
        idx.truncate(n.min(train.len()));
        let x = train.subset(&idx).x().to_owned();
        let chosen = Mat::from_fn(idx.len(), logits.ncols(), |i, c| logits[(idx[i], c)] - self.model.bias[c]);
        Ok(DecisionSet::new(x, chosen.as_ref()))
    }

    /// What the terms active in `stage` of `recipe` read: the target minus `fitted` (a boosted
    /// fit's first stage), and the data sets only when a term needs them.
    pub fn fit_data(&self, recipe: &Recipe, stage: usize, fitted: Option<CpTensor>) -> Result<FitData<'_>> {
        let needs = |need: Need| terms::needed(recipe, stage..=stage, need);
        let distill = match needs(Need::DistillImages) {
            true => Some(self.distill_set(recipe.distill_images, fitted.as_ref())?),
            false => None,
        };
        let labelled = match needs(Need::LabelledImages) {
            true => Some(self.labelled_set(recipe.activation_images)?),
            false => None,
        };
        let decisions = match needs(Need::DecisionImages) {
            true => Some(self.decision_set(recipe.decision_images)?),
            false => None,
        };
        let functional = match needs(Need::Inputs) {
            true => {
                let f = self
                    .functional()
                    .ok_or_else(|| Error::Invalid("the functional fidelity needs training inputs, and there are none".into()))?;
                // ‖B‖²_M = 0 when the inputs span nothing the model reads (blank images):
                // the relative error ‖B − T‖²_M / ‖B‖²_M would be 0/0 at the first step.
                if f.norm_sq() <= 0.0 {
                    return Err(Error::Invalid(
                        "the functional fidelity has nothing to measure: the model's logits are constant on the training inputs (are the images blank?)".into(),
                    )
                    .into());
                }
                Some(f)
            }
            false => None,
        };
        Ok(FitData { target: Target::new(&self.inter, fitted), image: self.image, distill, labelled, decisions, functional })
    }

    fn init_context(&self) -> InitContext<'_> {
        InitContext {
            model: &self.model,
            inter: &self.inter,
            train: self.data.as_ref().map(|d| &d.train),
            image: self.image,
            principal: &self.principal,
            moment: &self.moment,
        }
    }
}

/// A fitted recipe.
pub struct Fitted {
    pub decomposition: Decomposition,
    pub history: Vec<HistoryRow>,
    /// The class each first-bank component voted for at the start (argmax |head|).
    pub initial_classes: Vec<usize>,
}

impl Fitted {
    /// Share of first-bank components whose head class differs from the one they started with:
    /// 0 when classes are frozen, as under the reference's hard top-k heads.
    pub fn class_changes(&self) -> f64 {
        let now = head_classes(&self.decomposition.banks[0].head.heads());
        let changed = now.iter().zip(&self.initial_classes).filter(|(a, b)| a != b).count();
        changed as f64 / now.len().max(1) as f64
    }
}

/// Builds and fits the decomposition `recipe` describes, after checking it against the
/// context; `on_step` sees every step of every stage.
pub fn fit_recipe(ctx: &Context, recipe: &Recipe, seed: u64, on_step: &mut dyn FnMut(&Step<'_>)) -> Result<Fitted> {
    recipe.validate(&ctx.limits())?;
    let mut rng = linalg::rng(seed);
    let mut decomposition = first_stage(ctx, recipe, &mut rng)?;
    let mut initial_classes = head_classes(&decomposition.banks[0].head.heads());
    let data = ctx.fit_data(recipe, 1, None)?;
    let mut history = fit(&mut decomposition, recipe, &data, 1, on_step)?;
    if recipe.stages == 2 {
        // Boosting: the second bank fits the tensor and the logits the first one missed.
        let first = decomposition.tensor();
        let mut second = Decomposition { banks: vec![displayed_bank(recipe, 1, &ctx.init_context(), &mut rng)?] };
        history.extend(fit(&mut second, recipe, &ctx.fit_data(recipe, 2, Some(first))?, 2, on_step)?);
        decomposition.banks.extend(second.banks);
    }
    if recipe.final_rotation != Rotation::None {
        let images = (recipe.final_rotation == Rotation::PerImage)
            .then(|| ctx.init_context().images_by_class("rotation = \"per_image\""))
            .transpose()?;
        for bank in decomposition.banks.iter_mut().filter(|b| b.role == Role::Displayed) {
            rotation::rotate_bank(bank, images.as_deref())?;
        }
    }
    if recipe.pair_steps > 0 {
        // Contrasts: the fitted patterns paired within each class, then the pairs fitted. Class
        // changes count from the pairing on.
        let mut paired = pairing::pair_bank(&decomposition.banks[0], &ctx.init_context().images_by_class("pairing")?)?;
        if recipe.pair_one_signed {
            paired.a.keep_dominant_signs();
            paired.b.iter_mut().for_each(Pattern::keep_dominant_signs);
        }
        let rank = paired.rank();
        let stage = recipe.pair_stage(rank);
        decomposition = Decomposition { banks: vec![paired] };
        initial_classes = head_classes(&decomposition.banks[0].head.heads());
        let data = ctx.fit_data(&stage, 2, None)?;
        history.extend(fit(&mut decomposition, &stage, &data, 2, on_step)?);
        if recipe.polish_steps > 0 {
            // The polish is the pairs' fit with other steps, rate and priors: the same images.
            let polish = recipe.polish_stage(rank);
            let data = if data.serves(&polish, 3) { data } else { ctx.fit_data(&polish, 3, None)? };
            history.extend(fit(&mut decomposition, &polish, &data, 3, on_step)?);
        }
    } else if recipe.polish_steps > 0 {
        // Contrasts refitted from a start (validated): the polish follows their fit, on the
        // same images.
        let polish = recipe.polish_stage(recipe.rank);
        let data = if data.serves(&polish, 2) { data } else { ctx.fit_data(&polish, 2, None)? };
        history.extend(fit(&mut decomposition, &polish, &data, 2, on_step)?);
    }
    Ok(Fitted { decomposition, history, initial_classes })
}

/// The initial decomposition of `recipe`'s first stage for `seed` (what [`fit_recipe`] fits).
pub fn initial(ctx: &Context, recipe: &Recipe, seed: u64) -> Result<Decomposition> {
    recipe.validate(&ctx.limits())?;
    first_stage(ctx, recipe, &mut linalg::rng(seed))
}

fn first_stage(ctx: &Context, recipe: &Recipe, rng: &mut linalg::Rng) -> Result<Decomposition> {
    let first_stage_banks = if recipe.stages == 2 { 1 } else { recipe.banks };
    let init = ctx.init_context();
    let mut banks = (0..first_stage_banks).map(|i| displayed_bank(recipe, i, &init, rng)).collect::<Result<Vec<_>>>()?;
    if recipe.residual_rank > 0 {
        banks.push(residual_bank(recipe, ctx.inter.n_inputs(), ctx.inter.n_classes(), rng));
    }
    Ok(Decomposition { banks })
}

/// The class each head column votes for most strongly.
fn head_classes(heads: &Mat<f32>) -> Vec<usize> {
    (0..heads.ncols()).map(|r| crate::model::argmax(heads.col(r).iter().map(|v| v.abs()))).collect()
}
