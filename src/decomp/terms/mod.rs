//! Loss terms, one file each. A term is a named, weighted penalty with its exact gradient; the
//! loss of a fit is `Σ weight · value` over the terms whose weight is not zero.
//!
//! **Adding a term** (a prior, a fidelity measure, a penalty between banks): write
//! `terms/<name>.rs` with a unit struct implementing [`Term`] (a score of each labelled image's
//! contributions to its class logit is a `ClassContributions` static instead), add its weight to
//! [`Priors`] as a field of the same name, and add it to [`REGISTRY`]. Everything else reads the
//! registry: recipe validation (weights must be finite and non-negative, and what the term
//! [`Needs`] must be there), gating (a zero weight skips the term), one `history.csv` column
//! per active term, and the finite-difference wiring test, which fits every registered term's
//! [`Term::probe`] recipe. A `Priors` field with no registered term fails a test.

mod activation;
mod anchor;
mod anchor_strength;
mod border;
mod cancellation;
mod coherence;
mod coherence_used;
mod decision;
mod deform_l2;
mod display;
mod display_l1;
mod display_tv;
mod distill;
mod duplicate;
mod functional;
mod head_entropy;
mod head_l1;
mod mask_width;
mod minimality;
mod raw;
mod raw_l1;
mod raw_lap;
mod raw_tv;
mod residual_l2;
mod sign_purity;
mod spread;
mod symmetry;
mod tensor;
mod twins;

pub use activation::LabelledProjections;
pub use anchor_strength::strengths as pattern_strengths;
pub use decision::DecisionSet;
pub use distill::DistillSet;
pub use tensor::Target;

use faer::Mat;
use serde::{Deserialize, Serialize};

use super::bank::Bank;
use super::form::{FactorGrads, Factors, Role};
use super::recipe::Recipe;
use crate::image::ImageShape;
use crate::interaction::functional::Functional;
use crate::interaction::{CpGrads, CpTensor};
use crate::linalg::ImageRows;

/// Every term, in the order their values are summed (so the same inputs give the same bits).
pub static REGISTRY: &[&dyn Term] = &[
    &tensor::Tensor,
    &distill::Distill,
    &functional::FunctionalFidelity,
    &raw_l1::RawL1,
    &raw_tv::RawTv,
    &raw_lap::RawLap,
    &display_l1::DisplayL1,
    &display_tv::DisplayTv,
    &coherence::Coherence,
    &coherence_used::CoherenceUsed,
    &spread::Spread,
    &sign_purity::SignPurity,
    &duplicate::Duplicate,
    &twins::Twins,
    &border::Border,
    &symmetry::Symmetry,
    &head_l1::HeadL1,
    &head_entropy::HeadEntropy,
    &anchor::Anchor,
    &anchor_strength::AnchorStrength,
    &activation::Activation,
    &minimality::MINIMALITY,
    &cancellation::CANCELLATION,
    &decision::Decision,
    &residual_l2::ResidualL2,
    &deform_l2::DeformL2,
    &mask_width::MaskWidth,
];

/// Weights of the priors (0 = off), one field per registered term of the same name. Names
/// follow SPEC §5; display terms act on the plus and minus patterns and sum the two.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Priors {
    /// `mean|[a|b]|` of the effective (un-normalised) factors.
    pub raw_l1: f32,
    /// `TV([a|b])`.
    pub raw_tv: f32,
    /// `Lap([a|b])`.
    pub raw_lap: f32,
    /// `mean|plus| + mean|minus|`.
    pub display_l1: f32,
    /// `TV(plus) + TV(minus)`.
    pub display_tv: f32,
    /// `1 − mean coherence` of `[plus|minus]` (3×3 smoothness).
    pub coherence: f32,
    /// `1 − coherence` of `[plus|minus]`, each pattern weighted by its use on labelled images.
    pub coherence_used: f32,
    /// Mean spread of `[plus|minus]` (a locality stand-in).
    pub spread: f32,
    /// Mean share of each of `[plus|minus]`'s energy in its minority sign.
    pub sign_purity: f32,
    /// `mean((NᵀN − I)²)` over the normalised `[plus|minus]`.
    pub duplicate: f32,
    /// Strength-weighted squared cosine of components that count for and against one class.
    pub twins: f32,
    /// Energy far from the centre, on `[plus|minus]`.
    pub border: f32,
    /// `mean((a − b)²)`, CP banks only.
    pub symmetry: f32,
    /// `mean|D|`.
    pub head_l1: f32,
    /// Mean normalised entropy of `|D|` columns.
    pub head_entropy: f32,
    /// `MSE(normalize(a), anchor_a) + MSE(normalize(b), anchor_b)`.
    pub anchor: f32,
    /// `mean (ln s − ln s₀)²` over the anchored patterns' strengths `s = ‖d‖‖p‖²`.
    pub anchor_strength: f32,
    /// `mean(δ²)` of template deformations.
    pub deform_l2: f32,
    /// `mean(σ)` of learnable masks.
    pub mask_width: f32,
    /// `mean(a²) + mean(b²) + mean(D²)` of residual banks.
    pub residual_l2: f32,
    /// Share of each component's squared activation on images of other classes.
    pub activation: f32,
    /// Mean effective number of components in a labelled image's class logit.
    pub minimality: f32,
    /// Mean share of a labelled image's class logit that its components cancel.
    pub cancellation: f32,
    /// Distillation at a low temperature on the training images nearest a tie.
    pub decision: f32,
}

/// Terms whose weight is a recipe field rather than a `[priors]` one: the fidelities.
const RECIPE_LEVEL: [&str; 3] = ["tensor", "distill", "functional"];

/// Where a fit is: terms whose weight follows a schedule read it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// 1, or 2 for the second stage of a boosted fit.
    pub stage: usize,
    pub step: usize,
    pub steps: usize,
}

/// What a term cannot run without.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// A 2-D image grid (smoothness, borders, masks).
    Image,
    /// Training images and the base model's logits on them.
    DistillImages,
    /// Labelled training images.
    LabelledImages,
    /// Labelled training images and the base model's logits on them, for the decision prior.
    DecisionImages,
    /// Training inputs (their second moment).
    Inputs,
}

/// What terms read besides the decomposition.
pub struct FitData<'a> {
    /// What the decomposition is fitted to.
    pub target: Target<'a>,
    pub image: Option<ImageShape>,
    pub distill: Option<DistillSet>,
    pub labelled: Option<LabelledSet>,
    /// The decision prior's images (`decision_images` of them).
    pub decisions: Option<DecisionSet>,
    /// The functional inner product on the training inputs.
    pub functional: Option<&'a Functional>,
}

impl FitData<'_> {
    /// Whether this data holds every set the terms of `stage` of `recipe` read, so a later
    /// stage that differs only in its steps, rate and priors (the polish after the pairs' fit)
    /// reads it instead of drawing the same images again.
    pub fn serves(&self, recipe: &Recipe, stage: usize) -> bool {
        let has = [
            (Need::DistillImages, self.distill.is_some()),
            (Need::LabelledImages, self.labelled.is_some()),
            (Need::DecisionImages, self.decisions.is_some()),
            (Need::Inputs, self.functional.is_some()),
        ];
        has.into_iter().all(|(need, held)| held || !needed(recipe, stage..=stage, need))
    }
}

/// Labelled images (`n × inputs`), for the priors on activations and class contributions.
pub struct LabelledSet {
    pub images: ImageRows,
    pub y: Vec<u8>,
}

/// The decomposition at the current parameters, as terms see it.
pub struct Input<'a> {
    pub banks: &'a [Bank],
    pub factors: &'a [Factors],
    /// All banks as one CP tensor, bank after bank ([`Bank::n_triples`] columns each).
    pub triples: &'a CpTensor,
    pub data: &'a FitData<'a>,
    /// The labelled images' projections, shared by the priors that read them.
    pub projections: &'a LabelledProjections,
}

impl<'a> Input<'a> {
    /// `(index, bank, factors)` of the banks with `role`.
    pub fn banks_with(&self, role: Role) -> impl Iterator<Item = (usize, &'a Bank, &'a Factors)> + 'a {
        let (banks, factors) = (self.banks, self.factors);
        banks.iter().zip(factors).enumerate().filter(move |(_, (b, _))| b.role == role).map(|(i, (b, f))| (i, b, f))
    }

    /// The displayed banks.
    pub fn displayed(&self) -> impl Iterator<Item = (usize, &'a Bank, &'a Factors)> + 'a {
        self.banks_with(Role::Displayed)
    }

    /// The image grid; terms that [`Need::Image`] are only run with one.
    pub fn image(&self) -> ImageShape {
        self.data.image.expect("image terms are validated to have an image shape")
    }
}

/// Gradients the terms add into, allocated on first use: with respect to the CP triples of
/// the whole decomposition, to each bank's effective factors, and to each bank's raw
/// parameters (in [`Bank::params_mut`] order).
pub struct Grads {
    pub triples: Option<CpGrads>,
    pub factors: Vec<Option<FactorGrads>>,
    pub params: Vec<Option<Vec<Mat<f32>>>>,
}

impl Grads {
    pub fn new(banks: usize) -> Self {
        Self { triples: None, factors: (0..banks).map(|_| None).collect(), params: (0..banks).map(|_| None).collect() }
    }

    /// The gradient on the CP triples `t`.
    pub fn triples(&mut self, t: &CpTensor) -> &mut CpGrads {
        self.triples.get_or_insert_with(|| CpGrads::zeros(t))
    }

    /// The gradient on bank `i`'s effective factors `f`.
    pub fn factors(&mut self, i: usize, f: &Factors) -> &mut FactorGrads {
        self.factors[i].get_or_insert_with(|| FactorGrads::zeros(f))
    }

    /// The gradient on bank `i`'s raw parameters.
    pub fn params(&mut self, i: usize, bank: &Bank) -> &mut Vec<Mat<f32>> {
        self.params[i].get_or_insert_with(|| bank.zero_param_grads())
    }

    /// `self += other`, entry by entry (a fixed order whatever the thread count).
    pub fn add(&mut self, other: Grads) {
        fn merge<T>(into: &mut Option<T>, from: Option<T>, add: impl FnOnce(&mut T, &T)) {
            match (into.as_mut(), from) {
                (Some(a), Some(b)) => add(a, &b),
                (None, b) => *into = b,
                (Some(_), None) => {}
            }
        }
        merge(&mut self.triples, other.triples, CpGrads::add);
        for (a, b) in self.factors.iter_mut().zip(other.factors) {
            merge(a, b, FactorGrads::add);
        }
        for (a, b) in self.params.iter_mut().zip(other.params) {
            merge(a, b, |a, b| a.iter_mut().zip(b).for_each(|(x, y)| *x += y));
        }
    }
}

/// One loss term.
pub trait Term: Sync {
    /// Its key in a recipe (the [`Priors`] field, or the recipe field `tensor`, `distill` or
    /// `functional`) and
    /// its `history.csv` column.
    fn name(&self) -> &'static str;

    /// Its weight at this point of a fit (0 = off).
    fn weight(&self, recipe: &Recipe, at: Schedule) -> f32;

    /// Its value, with `weight ·` its gradient added into `grads`.
    fn eval(&self, input: &Input<'_>, weight: f32, grads: &mut Grads) -> f64;

    /// What it cannot run without.
    fn needs(&self) -> &'static [Need] {
        &[]
    }

    /// Why this recipe cannot use the term, if it cannot (e.g. anchors without templates).
    fn check(&self, _recipe: &Recipe) -> Result<(), String> {
        Ok(())
    }

    /// Whether it costs enough to run beside the other terms (it then splits its own work).
    fn heavy(&self) -> bool {
        false
    }

    /// A small recipe in which the term is active and not trivially zero: the gradient wiring
    /// test fits it, so every registered term has its gradient checked.
    fn probe(&self) -> Recipe {
        probe_with(&[&format!("{}=0.3", self.name())])
    }
}

/// The base of the probes: rank 3, a residual bank, light distillation, moved off special
/// points by the test; `sets` are `--set`-style overrides.
pub(crate) fn probe_with(sets: &[&str]) -> Recipe {
    let base = Recipe { rank: 3, residual_rank: 2, distill: 0.2, smooth_passes: 1, ..Recipe::default() };
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    base.with_overrides(&sets).expect("probe overrides name recipe fields")
}

/// The terms whose weight is not zero at `at`, with their weights, in registry order.
pub fn active(recipe: &Recipe, at: Schedule) -> Vec<(&'static dyn Term, f32)> {
    REGISTRY.iter().map(|t| (*t, t.weight(recipe, at))).filter(|(_, w)| *w != 0.0).collect()
}

/// Whether a term active at the start or the end of any of `stages` of `recipe` needs `need`.
pub fn needed(recipe: &Recipe, stages: std::ops::RangeInclusive<usize>, need: Need) -> bool {
    stages.into_iter().any(|stage| {
        [0, recipe.steps.saturating_sub(1)]
            .into_iter()
            .any(|step| active(recipe, Schedule { stage, step, steps: recipe.steps }).iter().any(|(t, _)| t.needs().contains(&need)))
    })
}

/// How errors name a term: a recipe field, or a field of `[priors]`.
fn key(name: &str) -> String {
    if RECIPE_LEVEL.contains(&name) { name.to_string() } else { format!("[priors] {name}") }
}

/// Whether `term` is on anywhere in `recipe`'s fit (at the start or the end of a stage), after
/// checking that its weight is a finite number ≥ 0 there; the error names the term by its key.
fn weight_used(term: &dyn Term, recipe: &Recipe) -> Result<bool, String> {
    let mut used = false;
    for stage in 1..=recipe.stages {
        for step in [0, recipe.steps.saturating_sub(1)] {
            let w = term.weight(recipe, Schedule { stage, step, steps: recipe.steps.max(1) });
            if !(w.is_finite() && w >= 0.0) {
                return Err(format!("{} = {w}: a term's weight must be a finite number ≥ 0 (0 turns it off)", key(term.name())));
            }
            used |= w != 0.0;
        }
    }
    Ok(used)
}

/// Checks every term's weight (finite, non-negative) alone: for the stages of a recipe that do
/// not run, whose settings are refused all the same rather than kept in the run's record.
pub fn validate_weights(recipe: &Recipe) -> Result<(), String> {
    REGISTRY.iter().try_for_each(|term| weight_used(*term, recipe).map(|_| ()))
}

/// Checks every term's weight over the whole fit (finite, non-negative) and, for the terms
/// the recipe turns on, what they need; `image` is the grid the fit runs on, if any.
pub fn validate(recipe: &Recipe, image: Option<ImageShape>) -> Result<(), String> {
    for term in REGISTRY {
        if !weight_used(*term, recipe)? {
            continue;
        }
        let key = key(term.name());
        term.check(recipe).map_err(|e| format!("{key}: {e}"))?;
        if term.needs().contains(&Need::Image) {
            match image {
                None => return Err(format!("{key} acts on images, but these inputs have no image shape (set it to 0)")),
                Some(s) if !s.supports_image_work() => {
                    return Err(format!("{key} needs images of at least {0}×{0} pixels; these are {s}", ImageShape::MIN_SIDE));
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_prior_is_a_registered_term_and_names_are_unique() {
        let fields: Vec<String> = toml::Table::try_from(Priors::default()).unwrap().keys().cloned().collect();
        let names: Vec<&str> = REGISTRY.iter().map(|t| t.name()).collect();
        for f in &fields {
            assert!(names.contains(&f.as_str()), "[priors] {f} has no registered term: add it to REGISTRY");
        }
        for n in &names {
            assert!(fields.iter().any(|f| f == n) || RECIPE_LEVEL.contains(n), "term {n} has no weight field");
        }
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate term names");
    }

    #[test]
    fn validation_names_the_term_and_the_allowed_range() {
        let mut r = Recipe::default();
        r.priors.raw_tv = -1.0;
        let err = validate(&r, Some(ImageShape::MNIST)).unwrap_err();
        assert!(err.contains("[priors] raw_tv") && err.contains("≥ 0"), "{err}");
        r.priors.raw_tv = 0.1;
        let err = validate(&r, None).unwrap_err();
        assert!(err.contains("raw_tv") && err.contains("image"), "{err}");
        assert!(validate(&r, Some(ImageShape::new(5, 30))).unwrap_err().contains("7×7"));
        let nan = Recipe { residual_anneal: vec![0.1, f32::NAN], residual_rank: 4, ..Recipe::default() };
        assert!(validate(&nan, None).unwrap_err().contains("residual_l2"));
        assert!(validate(&Recipe::default(), None).is_ok(), "the tensor term needs no images");
    }
}
