//! A recipe is everything that defines one decomposition run, as data: the shape of the
//! dictionary, how its factors are parameterised and initialised, the loss weights and the
//! optimiser. Presets (see [`super::presets`]) are named recipes; any field can be
//! overridden from TOML or with `--set key=value`.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::form::Form;
use super::terms::{self, Priors};
use crate::error::Error;
use crate::image::ImageShape;
use crate::optim::OptimizerKind;

/// The most components a bank may have (memory grows with `rank × inputs`).
pub const MAX_RANK: usize = 8192;
/// The most steps a fit may run.
pub const MAX_STEPS: usize = 1_000_000;
/// The largest template offset or shift (banks of templates wrap around, so larger values
/// only alias smaller ones).
pub const MAX_TEMPLATE_OFFSET: usize = 100_000;
/// The most box-smoothing passes.
pub const MAX_SMOOTH_PASSES: usize = 50;
/// The most images a data-reading term asks for.
pub const MAX_IMAGES: usize = 1 << 24;

/// How the displayed factors start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Free factors, `init_scale · N(0,1)`.
    Random,
    /// The globally largest-|λ| pixel-space eigenpairs, heads one-hot carrying λ (SPEC §7.1.5).
    Eigen,
    /// Each component one class's i-th positive and i-th negative pixel eigenpair together:
    /// `p = √λ₊ v₊`, `n = √|λ₋| v₋` (split: a = p, b = n; CP: a = p + n, b = p − n, since
    /// `sym((p+n)(p−n)ᵀ) = ppᵀ − nnᵀ`), one-hot heads; pairs taken in order of `λ₊² + λ₋²`
    /// over all classes. Deterministic, and as faithful as `rank` one-hot components can be
    /// up to the pairing.
    EigenPairs,
    /// Anchored to the 120 stroke templates (SPEC §5.19), zero deformation.
    Strokes,
    /// Anchored to class means and their differences (SPEC §5.20), zero deformation.
    Data,
}

/// How an eigen initialisation mixes each class's eigenvectors of one sign (an exact freedom:
/// the class's part of the model is unchanged).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rotation {
    /// The eigenvectors themselves.
    None,
    /// Varimax: each pattern concentrated on few pixels.
    Varimax,
    /// Varimax on `rank / 2` eigenvectors, then each mixed pattern split into its positive and
    /// negative parts, two one-signed components with its head (the parts' cross term is
    /// dropped, for the fit to restore): a sign-pure start.
    VarimaxParts,
    /// The mix under which each training image of the class is explained by as few patterns
    /// as possible (quartimax on the patterns' activations on that class's images).
    PerImage,
}

/// Which mask multiplies the displayed factors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskKind {
    None,
    /// Fixed Gaussians on a grid, width `mask_sigma` (SPEC §5.17).
    Fixed,
    /// Gaussians with learnable bounded centre and width (SPEC §5.18).
    Learnable,
    /// The training inputs' support: inputs whose mean square is at least
    /// [`SUPPORT_LEVEL`] of the largest. Pattern weight on inputs no training image uses
    /// changes no logit on such images, yet it can buy smoothness, sign purity and strength
    /// in the display (blobs in a digit image's empty corners); this mask rules it out.
    Support,
}

/// The share of the largest input mean square an input needs to be in the support.
pub const SUPPORT_LEVEL: f64 = 0.01;

/// One decomposition run, as data.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Recipe {
    pub description: String,
    // --- shape of the dictionary
    pub form: Form,
    /// Components per displayed bank.
    pub rank: usize,
    /// Displayed banks fitted jointly (1, or 2 for the two-bank dictionary).
    pub banks: usize,
    /// 1, or 2 for the boosted fit: the second bank is fitted to what the first missed.
    pub stages: usize,
    /// Components of the free CP residual branch (0 = none).
    pub residual_rank: usize,
    // --- parameterisation of the displayed factors
    pub init: Init,
    /// Mixing of the eigenvectors of one class and sign (`init = "eigen"`).
    pub rotation: Rotation,
    /// Mixing of each class's patterns of one head sign after the fit (`none`, `varimax` or
    /// `per_image`; symmetric one-hot components): the same tensor, turned. Fits from different
    /// starts that agree on the class tensors and their split into evidence and
    /// counter-evidence still differ by such a rotation; `per_image` picks one, the mix that
    /// explains each training image with the fewest patterns.
    pub final_rotation: Rotation,
    /// Eigen initialisations read the model restricted to the span of the top `subspace`
    /// principal directions of the training inputs (their second moment), so the starting
    /// patterns hold what inputs excite and none of the speckle they never meet (0 = the
    /// whole input space, as is any value of at least the number of inputs: small images
    /// have fewer directions than a preset's `subspace`).
    pub subspace: usize,
    /// A finished run folder (or its `factors.safetensors`) whose first displayed bank starts
    /// this recipe's first displayed bank in place of `init`, `rotation` and `subspace`: a
    /// dictionary fitted to one model, refitted to another, keeps the concepts it can (the
    /// same form, rank, inputs and outputs). Empty: the recipe's own start.
    pub start: String,
    /// A second run of the same components as `start` (`start` refitted to another model):
    /// the fit starts from, and anchors to, the two dictionaries' midpoint, so that two
    /// models' dictionaries share concepts without either carrying the other's alone.
    pub start_with: String,
    pub init_scale: f32,
    /// Softplus factors (nonnegative strokes).
    pub nonnegative: bool,
    /// Displayed factors stay one-signed: each component keeps the sign that holds most of its
    /// starting weight, and weight of the other sign is zeroed after every step (a projection,
    /// so sign purity is exactly 1 whatever the start).
    pub one_signed: bool,
    /// Box-smoothing passes applied to free factors or to template deformations.
    pub smooth_passes: usize,
    pub mask: MaskKind,
    pub mask_sigma: f32,
    /// First template of bank 1 (a-side); the b-side starts `anchor_shift` later.
    pub anchor_offset: usize,
    pub anchor_shift: usize,
    /// Scale `s` of the smooth deformation `anchor + s·smooth(δ)`.
    pub deform_scale: f32,
    /// Template offset and deformation scale of the second bank or stage.
    pub second_offset: usize,
    pub second_deform_scale: f32,
    /// Per-component learnable amplitude `exp(log_amp)`.
    pub amplitude: bool,
    /// Keep the `topk` largest head entries per component (0 = dense heads).
    pub topk: usize,
    /// Let top-k components change class during training (straight-through mask).
    pub learn_class: bool,
    pub head_init_scale: f32,
    pub residual_init_scale: f32,
    /// Relative size of seeded noise added to a deterministic (eigen) initialisation, so that
    /// seeds differ and stability across seeds means something.
    pub init_jitter: f32,
    // --- optimisation
    pub steps: usize,
    pub lr: f32,
    pub optimizer: OptimizerKind,
    pub weight_decay: f32,
    /// Cosine-annealed learning rate (otherwise constant).
    pub cosine_schedule: bool,
    // --- loss
    /// Weight of `1 − tensor cosine`.
    pub tensor: f32,
    /// Weight of logit distillation (0 = off).
    pub distill: f32,
    /// Weight of the relative functional error `‖B − T‖²_M/‖B‖²_M` on the training inputs'
    /// second moment (0 = off).
    pub functional: f32,
    /// Distillation weight of the second stage of a boosted fit.
    pub second_distill: f32,
    /// Training images the distillation term reads: the first ones of a fixed shuffle, all of
    /// them when the training set is smaller.
    pub distill_images: usize,
    /// Labelled training images the priors that read labelled images (activation consistency,
    /// minimality, cancellation) read.
    pub activation_images: usize,
    /// Training images the decision prior reads: those nearest a tie of the base model's top
    /// two classes.
    pub decision_images: usize,
    /// Linear schedule `[start, end]` for `residual_l2` (residual annealing); empty = fixed.
    pub residual_anneal: Vec<f32>,
    pub priors: Priors,
    // --- contrasts
    /// After the fit (0 = no pairing), each class's evidence patterns are paired with the
    /// counter-evidence they cancel most on the class's training images, as split components
    /// `ppᵀ − nnᵀ` ([`crate::decomp::pairing`]; the same tensor), and the pairs are fitted
    /// `pair_steps` more steps with `pair_priors` ([`Recipe::pair_stage`]).
    pub pair_steps: usize,
    pub pair_priors: Priors,
    /// Each pattern of the pairs keeps the sign of most of its weight through the pairs' fit
    /// and the polish, the other sign zeroed after every step: exactly one-signed contrasts,
    /// at the cost of longer explanations (docs/results.md's frontier).
    pub pair_one_signed: bool,
    /// After the pairs' fit, or a fit of contrasts from a start (0 = none), `polish_steps` more
    /// steps at `polish_lr` with `polish_priors` ([`Recipe::polish_stage`]): lighter priors that
    /// buy fidelity with smoothness once the pairs have taken their shape.
    pub polish_steps: usize,
    pub polish_lr: f32,
    pub polish_priors: Priors,
}

impl Default for Recipe {
    fn default() -> Self {
        Self {
            description: String::new(),
            form: Form::Cp,
            rank: 64,
            banks: 1,
            stages: 1,
            residual_rank: 0,
            init: Init::Random,
            rotation: Rotation::None,
            final_rotation: Rotation::None,
            subspace: 0,
            start: String::new(),
            start_with: String::new(),
            init_scale: 0.02,
            nonnegative: false,
            one_signed: false,
            smooth_passes: 0,
            mask: MaskKind::None,
            mask_sigma: 0.34,
            anchor_offset: 0,
            anchor_shift: 4,
            deform_scale: 0.3,
            second_offset: 28,
            second_deform_scale: 0.48,
            amplitude: false,
            topk: 0,
            learn_class: false,
            head_init_scale: 0.03,
            residual_init_scale: 0.015,
            init_jitter: 0.0,
            steps: 200,
            lr: 0.02,
            optimizer: OptimizerKind::AdamW,
            weight_decay: 0.01,
            cosine_schedule: true,
            tensor: 1.0,
            distill: 0.0,
            functional: 0.0,
            second_distill: 0.14,
            distill_images: 8192,
            activation_images: 4096,
            decision_images: 2048,
            residual_anneal: Vec::new(),
            priors: Priors::default(),
            pair_steps: 0,
            pair_priors: Priors::default(),
            pair_one_signed: false,
            polish_steps: 0,
            polish_lr: 0.003,
            polish_priors: Priors::default(),
        }
    }
}

/// What a recipe is checked against: the model and data it will run on.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Inputs of the interaction tensor (pixels for images).
    pub inputs: usize,
    /// Outputs (classes) of the model.
    pub outputs: usize,
    /// The image grid of the inputs, if they are images.
    pub image: Option<ImageShape>,
    /// Training images available to data-reading terms and initialisations.
    pub train_images: usize,
}

impl Recipe {
    /// The factors file [`Recipe::start`] names (a run folder's `factors.safetensors`), if any.
    pub fn start_file(&self) -> Option<std::path::PathBuf> {
        factors_file(&self.start)
    }

    /// The factors file [`Recipe::start_with`] names, if any.
    pub fn start_with_file(&self) -> Option<std::path::PathBuf> {
        factors_file(&self.start_with)
    }

    /// Every optimisation step the recipe takes: each stage's, then the pairs' fit's and the
    /// polish's.
    pub fn total_steps(&self) -> usize {
        self.steps * self.stages + self.pair_steps + self.polish_steps
    }

    /// Whether the recipe runs only from another run's dictionary (`start`): a polish without
    /// a pairing polishes contrasts refitted from one.
    pub fn needs_start(&self) -> bool {
        self.pair_steps == 0 && self.polish_steps > 0
    }

    /// A fit of another run's contrasts (`start`), which a polish may follow without a pairing.
    fn refits_contrasts(&self) -> bool {
        self.form == Form::Split
            && self.topk == 1
            && self.banks == 1
            && self.stages == 1
            && self.residual_rank == 0
            && !self.start.is_empty()
    }

    /// The fit of the paired components (`rank` of them) that follows this recipe's when
    /// `pair_steps > 0`: split, from the pairs, `pair_steps` steps with `pair_priors`, the rest
    /// as this recipe.
    pub fn pair_stage(&self, rank: usize) -> Recipe {
        Recipe {
            form: Form::Split,
            rank,
            init: Init::Random,
            rotation: Rotation::None,
            subspace: 0,
            start: String::new(),
            start_with: String::new(),
            steps: self.pair_steps,
            // It runs as stage 2, where distillation reads `second_distill`.
            second_distill: self.distill,
            priors: self.pair_priors.clone(),
            pair_steps: 0,
            pair_one_signed: false,
            polish_steps: 0,
            polish_priors: Priors::default(),
            ..self.clone()
        }
    }

    /// The polish that follows the pairs' fit (or a refit of contrasts) when `polish_steps > 0`:
    /// the pairs' fit with `polish_steps` steps at `polish_lr` and `polish_priors`. A refit's
    /// polish keeps its start, whose patterns its bank keeps as anchors.
    pub fn polish_stage(&self, rank: usize) -> Recipe {
        let (start, start_with) =
            if self.pair_steps == 0 { (self.start.clone(), self.start_with.clone()) } else { (String::new(), String::new()) };
        Recipe {
            steps: self.polish_steps,
            lr: self.polish_lr,
            priors: self.polish_priors.clone(),
            start,
            start_with,
            ..self.pair_stage(rank)
        }
    }

    /// Rejects settings that cannot run on `limits`, before any work, naming the field and the
    /// allowed range.
    pub fn validate(&self, limits: &Limits) -> Result<(), Error> {
        let fail = |msg: String| Err(Error::Invalid(msg));
        let range = |name: &str, v: usize, lo: usize, hi: usize| -> Result<(), Error> {
            if (lo..=hi).contains(&v) { Ok(()) } else { fail(format!("{name} = {v} is out of range: allowed {lo}..={hi}")) }
        };
        let number = |name: &str, v: f32, positive: bool| -> Result<(), Error> {
            let ok = v.is_finite() && if positive { v > 0.0 } else { v >= 0.0 };
            if ok { Ok(()) } else { fail(format!("{name} = {v}: must be a finite number {}", if positive { "> 0" } else { "≥ 0" })) }
        };
        range("rank", self.rank, 1, MAX_RANK)?;
        range("residual_rank", self.residual_rank, 0, MAX_RANK)?;
        range("steps", self.steps, 1, MAX_STEPS)?;
        range("banks", self.banks, 1, 2)?;
        range("stages", self.stages, 1, 2)?;
        if self.banks == 2 && self.stages == 2 {
            return fail("banks = 2 and stages = 2 cannot be combined".into());
        }
        range("topk", self.topk, 0, limits.outputs)?;
        range("smooth_passes", self.smooth_passes, 0, MAX_SMOOTH_PASSES)?;
        for (name, v) in [("anchor_offset", self.anchor_offset), ("anchor_shift", self.anchor_shift), ("second_offset", self.second_offset)]
        {
            range(name, v, 0, MAX_TEMPLATE_OFFSET)?;
        }
        number("lr", self.lr, true)?;
        number("polish_lr", self.polish_lr, true)?;
        number("mask_sigma", self.mask_sigma, true)?;
        for (name, v) in [
            ("weight_decay", self.weight_decay),
            ("init_scale", self.init_scale),
            ("head_init_scale", self.head_init_scale),
            ("residual_init_scale", self.residual_init_scale),
            ("init_jitter", self.init_jitter),
            ("deform_scale", self.deform_scale),
            ("second_deform_scale", self.second_deform_scale),
        ] {
            number(name, v, false)?;
        }
        if !(self.residual_anneal.is_empty() || self.residual_anneal.len() == 2) {
            return fail(format!("residual_anneal = {:?}: must be [start, end] or empty", self.residual_anneal));
        }
        match (self.init, self.form) {
            (Init::Eigen, f) if f != Form::Symmetric => return fail("init = \"eigen\" needs form = \"symmetric\"".into()),
            (Init::EigenPairs, Form::Symmetric) => return fail("init = \"eigen_pairs\" needs form = \"cp\" or \"split\"".into()),
            _ => {}
        }
        if self.init != Init::Random && self.nonnegative {
            return fail("nonnegative = true needs init = \"random\"".into());
        }
        if self.one_signed && (self.nonnegative || matches!(self.init, Init::Strokes | Init::Data)) {
            return fail("one_signed = true projects free factors: it needs init = \"random\", \"eigen\" or \"eigen_pairs\", and nonnegative = false".into());
        }
        let image_work = [
            (self.smooth_passes > 0, "smooth_passes > 0"),
            (matches!(self.mask, MaskKind::Fixed | MaskKind::Learnable), "mask"),
            (self.init == Init::Strokes, "init = \"strokes\""),
        ];
        for (used, what) in image_work {
            match limits.image {
                _ if !used => {}
                None => return fail(format!("{what} works on images, but these inputs have no image shape")),
                Some(s) if !s.supports_image_work() => {
                    return fail(format!("{what} needs images of at least {0}×{0} pixels; these are {s}", ImageShape::MIN_SIDE));
                }
                Some(_) => {}
            }
        }
        let eigen = matches!(self.init, Init::Eigen | Init::EigenPairs);
        if self.rotation != Rotation::None && self.init != Init::Eigen {
            return fail("rotation mixes the eigenvectors of init = \"eigen\"".into());
        }
        if self.rotation == Rotation::VarimaxParts && !self.rank.is_multiple_of(2) {
            return fail(format!("rotation = \"varimax_parts\" splits rank / 2 patterns in two: rank {} is odd", self.rank));
        }
        if self.final_rotation != Rotation::None {
            let turns = self.final_rotation != Rotation::VarimaxParts
                && self.form == Form::Symmetric
                && self.topk == 1
                && matches!(self.init, Init::Random | Init::Eigen)
                && !(self.nonnegative || self.one_signed || self.amplitude)
                && matches!(self.mask, MaskKind::None | MaskKind::Support);
            if !turns {
                return fail("final_rotation = \"varimax\" or \"per_image\" turns free symmetric one-hot patterns: it needs form = \"symmetric\", topk = 1, init = \"random\" or \"eigen\", mask = \"none\" or \"support\", and nonnegative, one_signed and amplitude false".into());
            }
            if self.final_rotation == Rotation::PerImage && limits.train_images == 0 {
                return fail("final_rotation = \"per_image\" reads labelled training images, and there are none".into());
            }
        }
        if self.subspace != 0 {
            if !eigen {
                return fail("subspace restricts the eigen initialisations (init = \"eigen\" or \"eigen_pairs\")".into());
            }
            if limits.train_images == 0 {
                return fail("subspace: the principal directions come from training inputs, and there are none".into());
            }
        }
        if self.mask == MaskKind::Support && limits.train_images == 0 {
            return fail("mask = \"support\" comes from training inputs, and there are none".into());
        }
        if self.init == Init::Data && limits.train_images == 0 {
            return fail("init = \"data\" needs training images, and there are none".into());
        }
        if self.functional != 0.0 && limits.train_images == 0 {
            return fail("functional: this recipe reads training inputs, and there are none".into());
        }
        let distills = self.distill != 0.0 || (self.stages == 2 && self.second_distill != 0.0);
        for (used, name, n) in [
            (distills, "distill_images", self.distill_images),
            (terms::needed(self, 1..=self.stages, terms::Need::LabelledImages), "activation_images", self.activation_images),
            (terms::needed(self, 1..=self.stages, terms::Need::DecisionImages), "decision_images", self.decision_images),
        ] {
            if used {
                range(name, n, 1, MAX_IMAGES)?;
                if limits.train_images == 0 {
                    return fail(format!("{name}: this recipe reads training images, and there are none"));
                }
            }
        }
        terms::validate(self, limits.image).map_err(Error::Invalid)?;
        if self.pair_steps > 0 {
            range("pair_steps", self.pair_steps, 1, MAX_STEPS)?;
            let pairs = self.form == Form::Symmetric
                && self.topk == 1
                && self.banks == 1
                && self.stages == 1
                && self.residual_rank == 0
                && self.final_rotation == Rotation::None
                && !(self.nonnegative || self.one_signed || self.amplitude)
                && matches!(self.mask, MaskKind::None | MaskKind::Support);
            if !pairs {
                return fail("pair_steps > 0 pairs a fitted dictionary's symmetric one-hot patterns: it needs form = \"symmetric\", topk = 1, banks = 1, stages = 1, residual_rank = 0, final_rotation = \"none\", mask = \"none\" or \"support\", and nonnegative, one_signed and amplitude false".into());
            }
            if limits.train_images == 0 {
                return fail("pair_steps: pairing reads labelled training images, and there are none".into());
            }
            self.pair_stage(self.rank)
                .validate(limits)
                .map_err(|e| Error::Invalid(format!("the pairs' fit (pair_steps, pair_priors): {e}")))?;
        } else {
            terms::validate_weights(&self.pair_stage(self.rank))
                .map_err(|e| Error::Invalid(format!("pair_priors (unused: pair_steps = 0): {e}")))?;
        }
        if !self.start_with.is_empty() && self.start.is_empty() {
            return fail("start_with = RUN starts from the midpoint of two runs: it needs start = RUN as well".into());
        }
        if self.pair_one_signed && self.pair_steps == 0 {
            return fail("pair_one_signed = true keeps the pairs' patterns one-signed: it needs pair_steps > 0".into());
        }
        if self.polish_steps > 0 {
            if self.pair_steps == 0 && !self.refits_contrasts() {
                return fail("polish_steps > 0 polishes the pairs' fit, or contrasts refitted from another run: it needs pair_steps > 0, or form = \"split\", topk = 1, banks = 1, stages = 1, residual_rank = 0 and a start (start = RUN, rank = its number of components)".into());
            }
            range("polish_steps", self.polish_steps, 1, MAX_STEPS)?;
            self.polish_stage(self.rank)
                .validate(limits)
                .map_err(|e| Error::Invalid(format!("the polish (polish_steps, polish_lr, polish_priors): {e}")))?;
        } else {
            terms::validate_weights(&self.polish_stage(self.rank))
                .map_err(|e| Error::Invalid(format!("polish_priors (unused: polish_steps = 0): {e}")))?;
        }
        Ok(())
    }

    /// Applies `key=value` overrides; `key` is a recipe field, a field of `priors` (`FIELD` or
    /// `priors.FIELD`) or of another group of priors (`pair_priors.FIELD`,
    /// `polish_priors.FIELD`), and
    /// `value` is TOML (`rank=32`, `optimizer="muon"`, or bare words like `optimizer=muon`).
    pub fn with_overrides(&self, sets: &[String]) -> Result<Recipe> {
        let mut table = toml::Table::try_from(self)?;
        for set in sets {
            let (key, raw) = set.split_once('=').with_context(|| format!("--set expects key=value, got '{set}'"))?;
            let key = key.trim();
            let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
                .map(|mut t| t.remove("v").unwrap())
                .unwrap_or_else(|_| toml::Value::String(raw.trim().to_string()));
            let key = key.strip_prefix("priors.").filter(|k| Priors::has_field(k)).unwrap_or(key);
            if let (Some(toml::Value::Table(fields)), toml::Value::Table(given)) = (table.get_mut(key), &value) {
                // A group of fields (`priors={coherence=0.02}`) sets those and keeps the others.
                fields.extend(given.clone());
            } else if table.contains_key(key) {
                table.insert(key.to_string(), value);
            } else if let Some((toml::Value::Table(priors), name)) =
                key.split_once('.').filter(|(_, k)| Priors::has_field(k)).and_then(|(group, k)| Some((table.get_mut(group)?, k)))
            {
                priors.insert(name.to_string(), value);
            } else if let Some(toml::Value::Table(priors)) = table.get_mut("priors").filter(|_| Priors::has_field(key)) {
                priors.insert(key.to_string(), value);
            } else {
                bail!("unknown recipe key '{key}' (see `bilens presets --show NAME` for the keys)");
            }
        }
        table.try_into().context("applying overrides")
    }

    /// Merges a TOML file of overrides (same keys as `--set`, priors either flat or in `[priors]`).
    pub fn with_toml(&self, text: &str) -> Result<Recipe> {
        let table: toml::Table = toml::from_str(text)?;
        let sets: Vec<String> = table
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), v) {
                ("priors", toml::Value::Table(p)) => p.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                (group, toml::Value::Table(p)) => p.iter().map(|(k, v)| format!("{group}.{k}={v}")).collect(),
                _ => vec![format!("{k}={v}")],
            })
            .collect();
        self.with_overrides(&sets)
    }
}

/// The factors file a `start` or `start_with` names: a run folder's `factors.safetensors`, or
/// the file itself; `None` when empty.
fn factors_file(run: &str) -> Option<std::path::PathBuf> {
    let path = std::path::Path::new(run);
    match run {
        "" => None,
        _ if path.is_dir() => Some(path.join("factors.safetensors")),
        _ => Some(path.to_path_buf()),
    }
}

impl Priors {
    fn has_field(key: &str) -> bool {
        toml::Table::try_from(Priors::default()).map(|t| t.contains_key(key)).unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_reach_fields_and_priors() {
        let r = Recipe::default()
            .with_overrides(&["rank=32".into(), "optimizer=muon".into(), "raw_tv=0.02".into(), "form=\"split\"".into()])
            .unwrap();
        assert_eq!(r.rank, 32);
        assert_eq!(r.optimizer, OptimizerKind::Muon);
        assert_eq!(r.priors.raw_tv, 0.02);
        assert_eq!(r.form, Form::Split);
        let err = Recipe::default().with_overrides(&["rnak=3".into()]).unwrap_err().to_string();
        assert!(err.contains("rnak"), "{err}");
        assert!(Recipe::default().with_overrides(&["rank=-1".into()]).is_err());
        let t = Recipe::default().with_toml("steps = 7\n[priors]\nanchor = 0.5\n").unwrap();
        assert_eq!((t.steps, t.priors.anchor), (7, 0.5));
        let p = Recipe::default().with_overrides(&["pair_priors.decision=0.3".into(), "priors.decision=0.1".into()]).unwrap();
        assert_eq!((p.pair_priors.decision, p.priors.decision), (0.3, 0.1), "the pairs' priors are their own");
        let p = Recipe::default().with_toml("pair_steps = 5\n[pair_priors]\ncoherence = 0.02\n").unwrap();
        assert_eq!((p.pair_steps, p.pair_priors.coherence, p.priors.coherence), (5, 0.02, 0.0));
        assert!(Recipe::default().with_overrides(&["pair_priors.nope=1".into()]).unwrap_err().to_string().contains("pair_priors.nope"));
        let base = Recipe { pair_priors: Priors { coherence: 0.01, ..Priors::default() }, ..Recipe::default() };
        let p = base.with_overrides(&["pair_priors={decision=0.5}".into(), "priors={ spread = 0.2 }".into()]).unwrap();
        assert_eq!(
            (p.pair_priors.decision, p.pair_priors.coherence, p.priors.spread),
            (0.5, 0.01, 0.2),
            "a group keeps the fields it does not name"
        );
        assert!(base.with_overrides(&["priors={nope=1}".into()]).unwrap_err().chain().any(|e| e.to_string().contains("nope")));
        let p = Recipe::default().with_overrides(&["polish_priors.decision=0.2".into(), "pair_priors.decision=0.3".into()]).unwrap();
        assert_eq!((p.polish_priors.decision, p.pair_priors.decision, p.priors.decision), (0.2, 0.3, 0.0), "each group its own");
        let p = Recipe::default().with_toml("polish_steps = 4\n[polish_priors]\nminimality = 0.002\n").unwrap();
        assert_eq!((p.polish_steps, p.polish_priors.minimality, p.pair_priors.minimality), (4, 0.002, 0.0));
        assert!(Recipe::default().with_overrides(&["rank.coherence=1".into()]).is_err(), "rank is not a group of priors");
    }

    #[test]
    fn validation_names_the_field_and_the_range() {
        let limits = Limits { inputs: 784, outputs: 10, image: Some(ImageShape::MNIST), train_images: 7000 };
        let err = |r: Recipe| r.validate(&limits).unwrap_err().to_string();
        assert!(err(Recipe { topk: 11, ..Recipe::default() }).contains("topk = 11 is out of range: allowed 0..=10"));
        assert!(err(Recipe { lr: f32::NAN, ..Recipe::default() }).contains("lr = NaN"));
        assert!(err(Recipe { rank: 100_000, ..Recipe::default() }).contains("allowed 1..=8192"));
        assert!(err(Recipe { anchor_offset: 1_000_000_000, ..Recipe::default() }).contains("anchor_offset"));
        for field in ["deform_scale", "init_jitter", "residual_init_scale"] {
            let r = Recipe::default().with_overrides(&[format!("{field}=nan")]).unwrap();
            assert!(err(r).contains(field), "{field}");
        }
        let r = Recipe { distill: 0.1, distill_images: 0, ..Recipe::default() };
        assert!(err(r).contains("distill_images = 0"));
        let r = Recipe { distill: 0.1, distill_images: 9000, ..Recipe::default() };
        assert!(r.validate(&limits).is_ok(), "more images than there are: all of them are used");
        let r = Recipe { distill: 0.1, ..Recipe::default() };
        assert!(r.validate(&Limits { train_images: 0, ..limits }).unwrap_err().to_string().contains("there are none"));
        let no_image = Limits { image: None, ..limits };
        let r = Recipe { smooth_passes: 1, ..Recipe::default() };
        assert!(r.validate(&no_image).unwrap_err().to_string().contains("no image shape"));
        assert!(Recipe::default().validate(&no_image).is_ok());
        let support = Recipe { mask: MaskKind::Support, ..Recipe::default() };
        assert!(support.validate(&no_image).is_ok(), "the support mask needs no image grid");
        assert!(support.validate(&Limits { train_images: 0, ..limits }).unwrap_err().to_string().contains("mask = \"support\""));
        for priors in [Priors { minimality: 0.1, ..Priors::default() }, Priors { cancellation: 0.1, ..Priors::default() }] {
            assert!(err(Recipe { activation_images: 0, priors, ..Recipe::default() }).contains("activation_images = 0"));
        }
        let decision = Priors { decision: 0.3, ..Priors::default() };
        assert!(err(Recipe { decision_images: 0, priors: decision.clone(), ..Recipe::default() }).contains("decision_images = 0"));
        let with_residual = Recipe { residual_rank: 4, priors: decision, ..Recipe::default() };
        assert!(err(with_residual).contains("[priors] decision: reads the displayed banks' logits"));
        for (init, nonnegative) in [(Init::Strokes, false), (Init::Random, true)] {
            assert!(
                err(Recipe { one_signed: true, init, nonnegative, ..Recipe::default() })
                    .contains("one_signed = true projects free factors")
            );
        }
        let turned = Recipe { form: Form::Symmetric, topk: 1, final_rotation: Rotation::PerImage, ..Recipe::default() };
        assert!(turned.validate(&limits).is_ok());
        assert!(err(Recipe { final_rotation: Rotation::PerImage, ..Recipe::default() }).contains("final_rotation"), "a CP bank");
        for wrong in [Recipe { topk: 2, ..turned.clone() }, Recipe { mask: MaskKind::Fixed, ..turned.clone() }] {
            assert!(err(wrong).contains("final_rotation"));
        }
        assert!(err(Recipe { final_rotation: Rotation::VarimaxParts, ..turned.clone() }).contains("final_rotation"));
        assert!(turned.validate(&Limits { train_images: 0, ..limits }).unwrap_err().to_string().contains("labelled training images"));
        let contrast = Recipe { form: Form::Symmetric, topk: 1, pair_steps: 5, polish_steps: 3, ..Recipe::default() };
        assert!(contrast.validate(&limits).is_ok());
        assert_eq!(contrast.total_steps(), 200 + 5 + 3);
        assert!(err(Recipe { pair_steps: 0, ..contrast.clone() }).contains("polish_steps > 0 polishes the pairs' fit"));
        assert!(Recipe { pair_one_signed: true, ..contrast.clone() }.validate(&limits).is_ok());
        let unpaired = Recipe { pair_steps: 0, polish_steps: 0, pair_one_signed: true, ..contrast.clone() };
        assert!(err(unpaired).contains("pair_one_signed = true keeps the pairs' patterns one-signed: it needs pair_steps > 0"));
        assert!(err(Recipe { polish_lr: 0.0, ..contrast.clone() }).contains("polish_lr = 0"));
        let negative = Recipe { polish_priors: Priors { coherence: -1.0, ..Priors::default() }, ..contrast.clone() };
        assert!(err(negative.clone()).contains("the polish (polish_steps, polish_lr, polish_priors)"));
        // Settings of stages that do not run are refused all the same, naming the stage.
        assert!(
            err(Recipe { polish_steps: 0, ..negative }).starts_with("polish_priors (unused: polish_steps = 0): [priors] coherence = -1")
        );
        let nan = Priors { decision: f32::NAN, ..Priors::default() };
        let unused_pairs = Recipe { pair_steps: 0, polish_steps: 0, pair_priors: nan, ..contrast.clone() };
        assert!(err(unused_pairs).starts_with("pair_priors (unused: pair_steps = 0): [priors] decision = NaN"));
        assert!(err(Recipe { pair_steps: 0, polish_steps: 0, polish_lr: f32::INFINITY, ..contrast }).contains("polish_lr = inf"));
    }
}
