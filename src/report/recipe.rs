//! A run's recipe in words, from the settings it actually ran with (`run.json`'s `config`,
//! overrides included): a preset's own description goes stale as soon as `--set` changes it.

use serde_json::{Map, Value};

use crate::decomp::Recipe;
use crate::decomp::recipe::{Init, MaskKind, Rotation};

/// Short phrases describing `config`, or `None` when it is not a recipe this bilens reads.
pub fn summary(config: &Value) -> Option<Vec<String>> {
    let r: Recipe = serde_json::from_value(config.clone()).ok()?;
    let form = match r.form {
        crate::decomp::Form::Cp => "CP",
        crate::decomp::Form::Split => "evidence-split",
        crate::decomp::Form::Symmetric => "symmetric",
    };
    let banks = if r.banks > 1 { format!("{} banks of ", r.banks) } else { String::new() };
    let mut dictionary = format!("{banks}{} {form} components", r.rank);
    if r.stages > 1 {
        dictionary += &format!(" in {} boosted stages", r.stages);
    }
    if r.residual_rank > 0 {
        dictionary += &format!(" + {} free CP residual", r.residual_rank);
    }
    let mut out = vec![dictionary];
    let jitter = if r.init_jitter > 0.0 { format!(", seed noise {}", r.init_jitter) } else { String::new() };
    out.push(match r.init {
        _ if !r.start_with.is_empty() => format!("start: the midpoint of the dictionaries of {} and {}{jitter}", r.start, r.start_with),
        _ if !r.start.is_empty() => format!("start: the dictionary of {}{jitter}", r.start),
        Init::Random => format!("random start (scale {})", r.init_scale),
        Init::Eigen => {
            let rotation = match r.rotation {
                Rotation::None => "",
                Rotation::Varimax => " mixed by varimax",
                Rotation::VarimaxParts => " mixed by varimax, split in one-signed parts",
                Rotation::PerImage => " mixed to explain each digit with few",
            };
            format!("start: largest eigenvectors{rotation}{jitter}")
        }
        Init::EigenPairs => format!("start: paired class eigenvectors{jitter}"),
        Init::Strokes => format!("stroke templates, deformation {}", r.deform_scale),
        Init::Data => format!("class-mean templates, deformation {}", r.deform_scale),
    });
    let flags = [
        (r.nonnegative, "nonnegative factors".to_string()),
        (r.one_signed, "one-signed patterns (projected every step)".to_string()),
        (r.smooth_passes > 0, format!("{} smoothing pass(es)", r.smooth_passes)),
        (r.amplitude, "learnable amplitudes".to_string()),
        (r.mask == MaskKind::Fixed, format!("fixed Gaussian masks σ {}", r.mask_sigma)),
        (r.mask == MaskKind::Learnable, format!("learnable Gaussian masks σ₀ {}", r.mask_sigma)),
        (r.mask == MaskKind::Support, "patterns on the training inputs' support".to_string()),
        (r.final_rotation == Rotation::Varimax, "mixed by varimax after the fit".to_string()),
        (r.final_rotation == Rotation::PerImage, "mixed after the fit to explain each digit with few".to_string()),
    ];
    out.extend(flags.into_iter().filter(|(on, _)| *on).map(|(_, s)| s));
    out.push(match r.topk {
        0 => "dense heads".to_string(),
        k => format!("top-{k} heads, class {}", if r.learn_class { "learnable" } else { "fixed" }),
    });
    let schedule = if r.cosine_schedule { ", cosine" } else { "" };
    let optimizer = serde_json::to_value(r.optimizer).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
    out.push(format!("{} {optimizer} steps, lr {}{schedule}", r.steps, r.lr));
    if r.tensor != 1.0 {
        out.push(format!("tensor loss weight {}", r.tensor));
    }
    if r.distill > 0.0 {
        out.push(format!("distillation {} on {} images", r.distill, r.distill_images));
    }
    if r.priors.decision > 0.0 {
        out.push(format!("decisions kept on the {} training digits nearest a tie", r.decision_images));
    }
    let active = active_priors(&r.priors);
    if !active.is_empty() {
        out.push(format!("priors: {}", active.join(", ")));
    }
    if r.residual_anneal.len() == 2 {
        out.push(format!("residual_l2 annealed {} → {}", r.residual_anneal[0], r.residual_anneal[1]));
    }
    if r.pair_steps > 0 {
        out.push(format!(
            "then each class's evidence paired with the counter-evidence it cancels most (contrasts ppᵀ − nnᵀ) and the pairs fitted {} steps{}{}",
            r.pair_steps,
            if r.pair_one_signed { " (each pattern kept one-signed)" } else { "" },
            with_priors(&r.pair_priors)
        ));
    }
    if r.polish_steps > 0 {
        out.push(format!("then polished {} steps at lr {}{}", r.polish_steps, r.polish_lr, with_priors(&r.polish_priors)));
    }
    Some(out)
}

/// ` with priors a 0.1, b 0.2` for a later stage's priors, or nothing when none is on.
fn with_priors(priors: &crate::decomp::Priors) -> String {
    let active = active_priors(priors);
    if active.is_empty() { String::new() } else { format!(" with priors {}", active.join(", ")) }
}

/// The non-zero priors as `name weight`, printed from JSON text so that f32 weights read as
/// written (0.015, not 0.01499999…).
fn active_priors(priors: &crate::decomp::Priors) -> Vec<String> {
    let priors: Map<String, Value> = serde_json::to_string(priors).ok().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
    priors.iter().filter(|(_, v)| v.as_f64().is_some_and(|w| w != 0.0)).map(|(k, v)| format!("{k} {v}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_follows_the_settings_not_the_description() {
        let preset = crate::decomp::presets::find("provided_sparse").unwrap();
        let recipe = preset.recipe.with_overrides(&["rank=64".into(), "steps=200".into()]).unwrap();
        assert!(recipe.description.contains("rank 32"), "the stale description this module replaces");
        let text = summary(&serde_json::to_value(&recipe).unwrap()).unwrap().join(" · ");
        assert!(text.starts_with("64 CP components") && text.contains("200 muon steps"), "{text}");
        let combo = crate::decomp::presets::find("combo_cp_top1_res8").unwrap().recipe.clone();
        let text = summary(&serde_json::to_value(&combo).unwrap()).unwrap().join(" · ");
        assert!(
            text.contains("+ 8 free CP residual") && text.contains("top-1 heads, class fixed") && text.contains("raw_tv 0.015"),
            "{text}"
        );
        let few = crate::decomp::presets::find("concept_few").unwrap().recipe.clone();
        let text = summary(&serde_json::to_value(&few).unwrap()).unwrap().join(" · ");
        assert!(text.contains("explain each digit with few") && text.contains("support") && text.contains("minimality 0.003"), "{text}");
        let stable = crate::decomp::presets::find("concept_stable").unwrap().recipe.clone();
        let text = summary(&serde_json::to_value(&stable).unwrap()).unwrap().join(" · ");
        assert!(text.contains("mixed after the fit") && text.contains("cancellation 0.01"), "{text}");
        assert!(text.contains("decisions kept on the 2048 training digits nearest a tie") && text.contains("decision 0.3"), "{text}");
        let contrast = crate::decomp::presets::find("concept_contrast").unwrap().recipe.clone();
        let text = summary(&serde_json::to_value(&contrast).unwrap()).unwrap().join(" · ");
        assert!(
            text.contains("paired with the counter-evidence")
                && text.contains("fitted 200 steps with priors")
                && text.contains("coherence_used 0.02")
                && text.contains("decision 0.3"),
            "{text}"
        );
        assert!(!text.contains("polished") && !text.contains("kept one-signed"), "{text}");
        let one_signed = Recipe { pair_one_signed: true, ..contrast };
        let text = summary(&serde_json::to_value(&one_signed).unwrap()).unwrap().join(" · ");
        assert!(text.contains("fitted 200 steps (each pattern kept one-signed) with priors"), "{text}");
        let polished = crate::decomp::presets::find("concept_contrast_polished").unwrap().recipe.clone();
        let text = summary(&serde_json::to_value(&polished).unwrap()).unwrap().join(" · ");
        assert!(
            text.ends_with(
                "then polished 150 steps at lr 0.003 with priors coherence_used 0.01, sign_purity 0.01, minimality 0.002, decision 0.3"
            ),
            "{text}"
        );
        let aligned = crate::decomp::presets::find("concept_contrast_aligned").unwrap().recipe.clone();
        let refit = Recipe { start: "runs/a".into(), ..aligned };
        let text = summary(&serde_json::to_value(&refit).unwrap()).unwrap().join(" · ");
        assert!(text.contains("start: the dictionary of runs/a ·"), "{text}");
        let shared = Recipe { start_with: "runs/b".into(), ..refit };
        let text = summary(&serde_json::to_value(&shared).unwrap()).unwrap().join(" · ");
        assert!(text.contains("start: the midpoint of the dictionaries of runs/a and runs/b ·"), "{text}");
        assert!(summary(&serde_json::json!({ "no_such_field": 1 })).is_none());
    }
}
