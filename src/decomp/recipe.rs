//! A recipe is everything that defines one decomposition run, as data: the shape of the
//! dictionary, how its factors are parameterised and initialised, the loss weights and the
//! optimiser. Presets (see [`super::presets`]) are named recipes; any field can be
//! overridden from TOML or with `--set key=value`.

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use super::bank::Form;
use super::loss::Priors;
use crate::optim::OptimizerKind;

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

/// Which locality mask multiplies the displayed factors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskKind {
    None,
    /// Fixed Gaussians on a grid, width `mask_sigma` (SPEC §5.17).
    Fixed,
    /// Gaussians with learnable bounded centre and width (SPEC §5.18).
    Learnable,
}

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
    pub init_scale: f32,
    /// Softplus factors (nonnegative strokes).
    pub nonnegative: bool,
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
    /// Distillation weight of the second stage of a boosted fit.
    pub second_distill: f32,
    pub distill_images: usize,
    pub activation_images: usize,
    /// Linear schedule `[start, end]` for `residual_l2` (residual annealing); empty = fixed.
    pub residual_anneal: Vec<f32>,
    pub priors: Priors,
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
            init_scale: 0.02,
            nonnegative: false,
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
            second_distill: 0.14,
            distill_images: 8192,
            activation_images: 4096,
            residual_anneal: Vec::new(),
            priors: Priors::default(),
        }
    }
}

impl Recipe {
    /// Rejects settings that cannot run, naming the field.
    pub fn validate(&self, n_classes: usize) -> Result<()> {
        ensure!(self.rank > 0, "rank must be positive");
        ensure!(self.steps > 0, "steps must be positive");
        ensure!(self.lr.is_finite() && self.lr > 0.0, "lr must be a positive number, got {}", self.lr);
        ensure!((1..=2).contains(&self.banks), "banks must be 1 or 2, got {}", self.banks);
        ensure!((1..=2).contains(&self.stages), "stages must be 1 or 2, got {}", self.stages);
        ensure!(self.banks == 1 || self.stages == 1, "banks = 2 and stages = 2 cannot be combined");
        ensure!(self.topk <= n_classes, "topk must be at most the number of classes ({n_classes}), got {}", self.topk);
        ensure!(self.mask_sigma > 0.0, "mask_sigma must be positive");
        ensure!(self.residual_anneal.is_empty() || self.residual_anneal.len() == 2, "residual_anneal must be [start, end] or empty");
        ensure!(!(self.init == Init::Eigen && self.form != Form::Symmetric), "init = \"eigen\" needs form = \"symmetric\"");
        ensure!(
            !(self.init == Init::EigenPairs && self.form == Form::Symmetric),
            "init = \"eigen_pairs\" needs form = \"cp\" or \"split\""
        );
        ensure!(!(self.init != Init::Random && self.nonnegative), "only random initialisation can be nonnegative");
        let weights = [self.tensor, self.distill, self.second_distill, self.weight_decay, self.init_scale, self.head_init_scale];
        ensure!(weights.iter().all(|w| w.is_finite() && *w >= 0.0), "weights and scales must be non-negative numbers");
        let p = &self.priors;
        let priors = [
            p.raw_l1,
            p.raw_tv,
            p.raw_lap,
            p.display_l1,
            p.display_tv,
            p.duplicate,
            p.border,
            p.symmetry,
            p.head_l1,
            p.head_entropy,
            p.anchor,
            p.deform_l2,
            p.mask_width,
            p.residual_l2,
            p.activation,
        ];
        ensure!(priors.iter().all(|w| w.is_finite() && *w >= 0.0), "prior weights must be non-negative numbers");
        Ok(())
    }

    /// Applies `key=value` overrides; `key` is a recipe field or a field of `priors`, and
    /// `value` is TOML (`rank=32`, `optimizer="muon"`, or bare words like `optimizer=muon`).
    pub fn with_overrides(&self, sets: &[String]) -> Result<Recipe> {
        let mut table = toml::Table::try_from(self)?;
        for set in sets {
            let (key, raw) = set.split_once('=').with_context(|| format!("--set expects key=value, got '{set}'"))?;
            let key = key.trim();
            let value: toml::Value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
                .map(|mut t| t.remove("v").unwrap())
                .unwrap_or_else(|_| toml::Value::String(raw.trim().to_string()));
            if table.contains_key(key) {
                table.insert(key.to_string(), value);
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
                _ => vec![format!("{k}={v}")],
            })
            .collect();
        self.with_overrides(&sets)
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
    }

    #[test]
    fn validation_names_the_field() {
        let bad = Recipe { topk: 11, ..Recipe::default() };
        assert!(bad.validate(10).unwrap_err().to_string().contains("topk"));
        let bad = Recipe { lr: f32::NAN, ..Recipe::default() };
        assert!(bad.validate(10).unwrap_err().to_string().contains("lr"));
    }
}
