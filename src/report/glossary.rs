//! What every column of the results table means: shown on hover over a column header and
//! listed under the table. A new metric needs one line here; a column without a line still
//! renders, only without a definition.

/// `(column, definition)`, in the order the list under the table shows them.
pub const DEFINITIONS: &[(&str, &str)] = &[
    ("run_id", "The run's folder under runs/: preset, overrides and seed."),
    ("preset", "The named recipe the run started from (bilens presets lists them)."),
    ("family", "The group of presets the preset belongs to."),
    ("seed", "Seed of the run's initialisation and noise."),
    ("overrides", "--set overrides applied to the preset."),
    ("model_sha256", "SHA-256 of the base model file every metric was measured against."),
    (
        "tensor_cosine",
        "Cosine between the decomposition's interaction tensor (all components, residual included) and the base model's: 1 = exact.",
    ),
    ("displayed_cosine", "Tensor cosine of the displayed components alone (no residual)."),
    ("residual_fraction", "1 − displayed/total tensor cosine: how much of the fit hides in the residual (0 without one)."),
    ("test_accuracy", "Test accuracy of the decomposed model (all components), without the base model's output bias."),
    ("test_accuracy_with_bias", "Test accuracy of the decomposed model (all components) plus the base model's output bias."),
    ("displayed_test_accuracy", "Test accuracy of the displayed components alone, without the output bias."),
    ("displayed_test_accuracy_with_bias", "Test accuracy of the displayed components alone, plus the base model's output bias."),
    ("validation_accuracy", "Accuracy of the decomposed model on the validation split carved from the training data."),
    ("displayed_validation_accuracy", "Validation accuracy of the displayed components alone."),
    ("base_test_accuracy", "Test accuracy of the base model itself: the ceiling for the decomposition."),
    ("class_selectivity", "1 − mean normalised entropy of the heads: 1 when every component votes for one class, ≈0 for uniform heads."),
    ("top1_head_mass", "Mean share of each head's absolute weight on its strongest class."),
    ("pattern_gini", "Mean Gini coefficient of the displayed plus and minus patterns' pixel magnitudes: higher = sparser."),
    ("locality_7x7", "Mean share of a displayed pattern's energy inside its best 7×7 window: higher = more local (uniform 28×28 ≈ 0.06)."),
    ("display_tv", "Total variation of the displayed patterns: lower = smoother."),
    ("top_sigma_frac", "Share of the displayed components' total strength held by the 8 strongest."),
    ("displayed_components", "Components in the displayed dictionary."),
    ("residual_components", "Components in the free residual branch (not displayed)."),
    ("class_changes", "Share of first-bank components whose head class differs from the one they started with."),
    (
        "agreement",
        "Share of test images where the displayed dictionary (with the base model's bias) predicts the same class as the base model.",
    ),
    (
        "logit_r2",
        "R² of the displayed dictionary's logits (with the bias) against the base model's on the test images, each image's logits centred on their mean first: 1 = exact.",
    ),
    (
        "functional_cosine",
        "Cosine in the data-aware inner product E[(xᵀBx)(xᵀTx)] = tr(BM)tr(TM) + 2tr(BMTM), M the training images' second moment: speckle digits never excite counts for little.",
    ),
    (
        "locality_7x7_weighted",
        "Share of pattern energy in its best 7×7 window, each pattern weighted by the size of the rank-one term it draws (‖d‖·q‖p‖²): uniform 0.06, one pixel 1.",
    ),
    (
        "coherence_weighted",
        "‖box3×3(p)‖²/‖p‖² (zero-padded 3×3 mean), weighted like the locality: higher = smoother; white noise or one pixel 0.11, uniform 0.92.",
    ),
    (
        "sign_purity_weighted",
        "Share of each pattern's energy in its dominant sign (a CP component read as a ± b or as a, b, whichever is purer), weighted like the locality: a digit 1, balanced ± 0.5.",
    ),
    ("explanation_size", "Mean number of components making up 90% of the absolute contributions to the predicted class."),
    (
        "cancellation",
        "Absolute contributions to the predicted classes over the size of their totals: 1 when no component works against the decision, 10 when a decision is a difference of sums ten times its size.",
    ),
    (
        "opposing_twins",
        "Share of pattern weight on patterns whose near-copy (|cos| ≥ 0.9) counts the other way for the same class: pairs that cancel, and shorten explanations without simplifying them.",
    ),
    (
        "locality_7x7_used",
        "Locality with each component weighted by its use on the test images (its mean absolute contribution to the predicted class) instead of its part of the tensor: weight no digit excites, or that a twin cancels, counts for nothing.",
    ),
    ("coherence_used", "Coherence weighted by use on the test images, like locality_7x7_used."),
    ("sign_purity_used", "Sign purity weighted by use on the test images, like locality_7x7_used."),
    (
        "coherence_top_vote",
        "Coherence of the pattern each test image's explanation shows first: that of the component adding most to the predicted class, on the side (plus or minus) the image projects on more strongly, averaged over the images.",
    ),
    ("n_components", "Components of the decomposition, displayed and residual."),
    ("n_patterns", "Rank-one patterns the displayed components draw: 2 per CP or split component, 1 per symmetric one."),
    (
        "eigen_cosine_rank_matched",
        "Tensor cosine of the per-class eigendecomposition keeping as many eigenvectors (largest |λ| overall) as the dictionary draws patterns: the fair baseline.",
    ),
];

/// Prefixes of nested metrics (`prefix.metric` columns) and what they are.
const NESTED: &[(&str, &str)] =
    &[("eigen_rank_matched", "The rank-matched eigen baseline (see eigen_cosine_rank_matched), judged the same way. ")];

/// The definition of column `name`, if it has one.
pub fn definition(name: &str) -> Option<String> {
    let own = |k: &str| DEFINITIONS.iter().find(|(d, _)| *d == k).map(|(_, v)| *v);
    match name.split_once('.') {
        Some((outer, inner)) => NESTED.iter().find(|(p, _)| *p == outer).and_then(|(_, what)| Some(format!("{what}{}", own(inner)?))),
        None => own(name).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_results_column_is_defined_once() {
        let row = crate::pipeline::ResultRow {
            run_id: String::new(),
            preset: String::new(),
            family: String::new(),
            seed: 0,
            overrides: String::new(),
            model_sha256: String::new(),
            metrics: Default::default(),
        };
        for column in row.to_map().keys() {
            assert!(definition(column).is_some(), "no definition for results column {column}");
        }
        for (i, (name, _)) in DEFINITIONS.iter().enumerate() {
            assert!(DEFINITIONS[..i].iter().all(|(other, _)| other != name), "{name} is defined twice");
        }
        assert_eq!(definition("no_such_metric"), None);
    }
}
