//! Why the model gave an image its logits: `logit_c = Σ_r d_cr (a_r·x)(b_r·x) + residual_c +
//! bias_c`, with the components that voted most for and against each top class.

use faer::MatRef;

use super::describe::class_name;
use crate::decomp::Components;
use crate::figures::{Cell, Grid, Scale};
use crate::image::ImageShape;

/// Contributions `d_cr · act_r(x)` of every displayed component to every class, `C × R`.
pub fn contributions(c: &Components, x: &[f32]) -> faer::Mat<f32> {
    let acts = c.activations(MatRef::from_row_major_slice(x, 1, x.len()));
    faer::Mat::from_fn(c.outputs, c.len(), |class, r| c.items[r].head[class] * acts[(0, r)])
}

/// Rows of `explanations.png` per image: its classes with the highest logits.
pub const CLASSES_PER_IMAGE: usize = 2;

/// Votes drawn for and against each row's class.
pub const VOTES_PER_SIDE: usize = 4;

/// One row per (image, top class): the image, then the [`VOTES_PER_SIDE`] components voting
/// most for the class and as many voting most against it, each titled with its contribution;
/// a part an explanation would not name ([`said`]: the other sign, or under
/// [`NEGLIGIBLE_SHARE`]) leaves its cell empty. `residual(x)` gives the residual branch's
/// logits, `bias` the model's.
pub fn explanations(
    shown: &Components,
    residual: impl Fn(&[f32]) -> Vec<f32>,
    bias: &[f32],
    images: &[(&[f32], Option<u8>)],
    shape: ImageShape,
    names: Option<&[String]>,
) -> Grid {
    let m = VOTES_PER_SIDE;
    let mut rows = Vec::new();
    let mut titles = Vec::new();
    let mut labels = Vec::new();
    for (x, label) in images {
        let contrib = contributions(shown, x);
        let residual = residual(x);
        let other: Vec<f32> = residual.iter().zip(bias).map(|(r, b)| r + b).collect();
        let ink = super::atlas::above_level(x);
        let unbiased: Vec<f32> = (0..contrib.nrows()).map(|c| contrib.row(c).iter().sum::<f32>() + residual[c]).collect();
        let logits: Vec<f32> = unbiased.iter().zip(bias).map(|(z, b)| z + b).collect();
        let mut classes: Vec<usize> = (0..logits.len()).collect();
        classes.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
        for &class in classes.iter().take(CLASSES_PER_IMAGE) {
            let mut order: Vec<usize> = (0..shown.len()).collect();
            order.sort_by(|&a, &b| contrib[(class, b)].total_cmp(&contrib[(class, a)]));
            let (contrib, unbiased) = (&contrib, &unbiased);
            let named = |sign: f32| move |r: usize| said(contrib[(class, r)], unbiased[class], sign);
            let most_for = named_first(order.iter().copied().take(m), named(1.0));
            let picks = most_for.into_iter().chain(named_first(order.iter().rev().copied().take(m), named(-1.0)));
            let mut row = vec![Cell::Digit(x.to_vec())];
            let mut t = vec![label.map_or(String::new(), |l| format!("label {}", class_name(names, l as usize)))];
            for pick in picks {
                let Some(r) = pick else {
                    row.push(Cell::Empty);
                    t.push(String::new());
                    continue;
                };
                // Show the pattern with the larger term in this input's vote, the one its
                // description names first (`describe_on`).
                let c = &shown.items[r];
                let [plus, minus] = c.display_terms(x);
                let pattern = if plus >= minus { c.plus.clone() } else { c.minus.clone() };
                row.push(Cell::Outlined { pattern, region: ink.clone() });
                t.push(format!("#{} {:+.2}", r + 1, contrib[(class, r)]));
            }
            labels.push(format!("{}: {:.2}\n(other {:+.2})", class_name(names, class), logits[class], other[class]));
            rows.push(row);
            titles.push(t);
        }
    }
    Grid {
        title: "Per-image explanations: the components voting for and against the top classes".to_string(),
        column_titles: std::iter::once("input".to_string())
            .chain((1..=m).map(|i| format!("for {i}")))
            .chain((1..=m).map(|i| format!("against {i}")))
            .collect(),
        row_labels: labels,
        rows,
        cell_titles: titles,
        image_side: (shape.height, shape.width),
        caption: format!(
            "Each row: one input and one of its highest logits; the logit is the sum of the component contributions shown in the titles (d_c·(a·x)(b·x) for CP \
             components, d_c·(v·x)² for symmetric ones, d_c·[(p·x)² − (n·x)²] for contrasts), plus 'other' (residual branch and output bias). \
             Each pattern shown is the one (plus or minus, p or n) with the larger term in that vote, over the outline of the input's ink \
             (where it reaches {:.0}% of its maximum). An empty cell is a vote an explanation does not name: of the other sign, or under \
             {}% of the class's logit before the bias.",
            100.0 * super::atlas::OUTLINE_LEVEL,
            100.0 * NEGLIGIBLE_SHARE
        ),
        scale: Scale::PerCell,
    }
}

/// Why one input got its prediction, in words: the components that carry the predicted class
/// and those that count most against it, each with its description and its share of the class's
/// logit before the bias (the shares of every component and the rest add up to 100%).
#[derive(Clone, Debug, serde::Serialize)]
pub struct Reading {
    /// The base model's prediction and logit.
    pub predicted: usize,
    pub predicted_name: String,
    pub logit: f32,
    /// The dictionary's (every component, the residual and the bias).
    pub dictionary_predicted: usize,
    pub dictionary_logit: f32,
    pub agrees: bool,
    /// Evidence for the predicted class, largest first, then the strongest against it.
    pub evidence_for: Vec<Part>,
    pub evidence_against: Vec<Part>,
    /// What the residual branch adds to the class's logit, and the output bias.
    pub residual: f32,
    pub bias: f32,
}

/// One component's part in a [`Reading`].
#[derive(Clone, Debug, serde::Serialize)]
pub struct Part {
    /// Its rank among the displayed components (1 = strongest).
    pub rank: usize,
    /// The component in words as it read this input ([`super::describe::describe_on`]).
    pub description: String,
    pub contribution: f32,
    /// `contribution` over the class's logit before the bias.
    pub share: f32,
}

/// Checks that an input array of shape `dims` holding `values` is one input of a model of
/// `inputs` values, images of `image` if given: a flat vector or the image grid (height ×
/// width), with any axes of length 1. Any other grid of the same size (a transposed image,
/// say) is an error, not an input read in the wrong order; `name` names the array.
pub fn check_input(name: &str, values: usize, dims: &[usize], inputs: usize, image: Option<ImageShape>) -> anyhow::Result<()> {
    let grid = image.map(|s| format!(" or images of {} × {} (height × width)", s.height, s.width)).unwrap_or_default();
    if values != inputs {
        anyhow::bail!("{name} holds {values} values; the model takes {inputs} values{grid}");
    }
    let axes: Vec<usize> = dims.iter().copied().filter(|&d| d != 1).collect();
    let fits = axes.len() <= 1 || image.is_some_and(|s| axes == [s.height, s.width]);
    if !fits {
        anyhow::bail!("{name} has shape {dims:?}; the model takes {inputs} values{grid}");
    }
    Ok(())
}

/// A part under half a percent of its class's logit (before the bias) prints as 0%: an
/// explanation leaves it out rather than name a component that did nothing.
pub const NEGLIGIBLE_SHARE: f32 = 0.005;

/// The cells of one side of a row: `picks` that `named` keeps, then `None` for the rest.
fn named_first(picks: impl Iterator<Item = usize>, named: impl Fn(usize) -> bool) -> Vec<Option<usize>> {
    let mut cells: Vec<Option<usize>> = picks.map(|r| named(r).then_some(r)).collect();
    cells.sort_by_key(Option::is_none);
    cells
}

/// Whether an explanation names a part that adds `contribution` to a class whose logit before
/// the bias is `unbiased`, among the parts of `sign` (1 for, −1 against): of that sign, and
/// not negligible.
fn said(contribution: f32, unbiased: f32, sign: f32) -> bool {
    sign * contribution > 0.0 && (contribution / unbiased).abs() >= NEGLIGIBLE_SHARE
}

/// Reads input `x` through `model`'s decomposition into displayed components `shown` and
/// residual ones; `names` names classes; `top` parts for, `top / 2` (at least one) against.
/// An input so large that its logits overflow f32 is an error, not a reading of NaNs.
pub fn read(
    shown: &Components,
    residual: &Components,
    model: &crate::model::Bilinear,
    x: &[f32],
    shape: Option<ImageShape>,
    names: Option<&[String]>,
    top: usize,
) -> anyhow::Result<Reading> {
    anyhow::ensure!(top >= 1, "top = 0 is out of range: allowed 1 or more components to show");
    let row = MatRef::from_row_major_slice(x, 1, x.len());
    let model_logits: Vec<f32> = model.logits(row).row(0).iter().copied().collect();
    let residual: Vec<f32> = residual.logits(row).row(0).iter().copied().collect();
    let bias = &model.bias;
    let contrib = contributions(shown, x);
    let argmax = |v: &[f32]| crate::model::argmax(v.iter().copied());
    let dictionary: Vec<f32> = (0..contrib.nrows()).map(|c| contrib.row(c).iter().sum::<f32>() + residual[c] + bias[c]).collect();
    if let Some(bad) = model_logits.iter().chain(&dictionary).find(|v| !v.is_finite()) {
        let largest = x.iter().fold(0f32, |m, v| m.max(v.abs()));
        anyhow::bail!(
            "the logits on this input are not finite ({bad}): its largest value, {largest:e}, overflows the model's quadratic form in f32"
        );
    }
    let predicted = argmax(&model_logits);
    let unbiased = dictionary[predicted] - bias[predicted];
    let part = |r: usize| Part {
        rank: r + 1,
        description: super::describe::describe_on(&shown.items[r], x, predicted, shape, names),
        contribution: contrib[(predicted, r)],
        share: contrib[(predicted, r)] / unbiased,
    };
    let mut order: Vec<usize> = (0..shown.len()).collect();
    order.sort_by(|&a, &b| contrib[(predicted, b)].total_cmp(&contrib[(predicted, a)]));
    let named = |r: usize, sign: f32| said(contrib[(predicted, r)], unbiased, sign);
    let evidence_for = order.iter().take(top).filter(|&&r| named(r, 1.0)).map(|&r| part(r)).collect();
    let evidence_against = order.iter().rev().take((top / 2).max(1)).filter(|&&r| named(r, -1.0)).map(|&r| part(r)).collect();
    Ok(Reading {
        predicted,
        predicted_name: class_name(names, predicted),
        logit: model_logits[predicted],
        dictionary_predicted: argmax(&dictionary),
        dictionary_logit: dictionary[predicted],
        agrees: argmax(&dictionary) == predicted,
        evidence_for,
        evidence_against,
        residual: residual[predicted],
        bias: bias[predicted],
    })
}

impl Reading {
    /// The residual components' share of the class's logit before the bias: what the
    /// explanation does not name in words.
    pub fn residual_share(&self) -> f32 {
        self.residual / (self.dictionary_logit - self.bias)
    }
}

impl std::fmt::Display for Reading {
    /// `predicted 7 (logit 9.10; dictionary agrees): top bar, evidence for 7: +41%; …`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verdict =
            if self.agrees { "dictionary agrees".to_string() } else { format!("dictionary predicts {}", self.dictionary_predicted) };
        write!(f, "predicted {} (logit {:.2}; {verdict})", self.predicted_name, self.logit)?;
        let parts =
            |parts: &[Part]| parts.iter().map(|p| format!("{}: {:+.0}% (#{})", p.description, 100.0 * p.share, p.rank)).collect::<Vec<_>>();
        let mut said = parts(&self.evidence_for);
        said.extend(parts(&self.evidence_against));
        let residual = self.residual_share();
        if residual.abs() >= NEGLIGIBLE_SHARE {
            said.push(format!("the residual components: {:+.0}%", 100.0 * residual));
        }
        if !said.is_empty() {
            write!(f, ": {}", said.join("; "))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::testing::random_components;

    /// Every voting pattern is drawn over the outline of the input's own ink; the first row is
    /// the class with the highest logit.
    #[test]
    fn votes_are_drawn_over_the_input_s_ink() {
        let c = random_components(4, 6, 2);
        let shape = ImageShape { height: 8, width: 8 };
        let x: Vec<f32> = (0..64).map(|p| if (2..6).contains(&(p % 8)) && p / 8 == 3 { 1.0 } else { 0.1 * (p % 3) as f32 }).collect();
        let grid = explanations(&c, |_| vec![0.0; 10], &[0.0; 10], &[(&x, Some(3))], shape, None);
        let ink: Vec<bool> = x.iter().map(|&v| v >= 0.3).collect();
        assert_eq!(ink.iter().filter(|&&i| i).count(), 4, "the bar of the test input");
        for row in &grid.rows {
            assert_eq!(row[0], Cell::Digit(x.clone()));
            for cell in row[1..].iter().filter(|cell| **cell != Cell::Empty) {
                let Cell::Outlined { region, .. } = cell else { panic!("a vote drawn without the input's outline: {cell:?}") };
                assert_eq!(region, &ink);
            }
        }
        let contrib = contributions(&c, &x);
        let logit = |class: usize| (0..c.len()).map(|r| contrib[(class, r)]).sum::<f32>();
        let best = (0..10).max_by(|&a, &b| logit(a).total_cmp(&logit(b))).unwrap();
        assert!(grid.row_labels[0].starts_with(&format!("{best}: ")), "{:?}", grid.row_labels[0]);
    }

    /// The sentence gives the residual components' share, unnamed, when it is not negligible.
    #[test]
    fn the_sentence_gives_the_residual_share() {
        let part = Part { rank: 2, description: "ring at the top, evidence for 0".into(), contribution: 3.0, share: 0.5 };
        let reading = |residual: f32| Reading {
            predicted: 0,
            predicted_name: "0".into(),
            logit: 7.0,
            dictionary_predicted: 0,
            dictionary_logit: 6.0 + residual + 1.0,
            agrees: true,
            evidence_for: vec![part.clone()],
            evidence_against: Vec::new(),
            residual,
            bias: 1.0,
        };
        assert_eq!(
            reading(3.0).to_string(),
            "predicted 0 (logit 7.00; dictionary agrees): ring at the top, evidence for 0: +50% (#2); the residual components: +33%"
        );
        assert!(!reading(0.01).to_string().contains("residual"), "{}", reading(0.01));
    }

    /// Each vote shows the pattern its explanation names first: the larger term `q (p·x)²`,
    /// not the larger projection of the unit pattern (which differ when `‖a + b‖ ≠ ‖a − b‖`).
    #[test]
    fn each_vote_shows_the_pattern_named_first() {
        let c = random_components(9, 12, 0);
        let shape = ImageShape { height: 8, width: 8 };
        let mut rng = crate::linalg::rng(3);
        let mut differ = 0;
        for _ in 0..30 {
            let x: Vec<f32> = crate::linalg::randn(&mut rng, 64, 1, 1.0).col(0).iter().copied().collect();
            let grid = explanations(&c, |_| vec![0.0; 10], &[0.0; 10], &[(&x, None)], shape, None);
            let cells = grid.rows.iter().zip(&grid.cell_titles).flat_map(|(row, titles)| row[1..].iter().zip(&titles[1..]));
            for (cell, title) in cells.filter(|(cell, _)| **cell != Cell::Empty) {
                let Cell::Outlined { pattern, .. } = cell else { panic!("{cell:?}") };
                let r: usize = title[1..title.find(' ').unwrap()].parse::<usize>().unwrap() - 1;
                let item = &c.items[r];
                let [plus, minus] = item.display_terms(&x);
                let want = if plus >= minus { &item.plus } else { &item.minus };
                assert_eq!(pattern, want, "component {}", r + 1);
                let projection = |p: &[f32]| p.iter().zip(&x).map(|(a, b)| a * b).sum::<f32>().abs();
                differ += usize::from((projection(&item.plus) >= projection(&item.minus)) != (plus >= minus));
            }
        }
        assert!(differ > 0, "no vote where the two rules differ: the test would not tell them apart");
    }

    /// The figure draws the parts an explanation names: a vote of the wrong sign for its
    /// column, or under half a percent of the class's logit before the bias, leaves its cell
    /// empty (the named ones first), however large the bias and the residual are.
    #[test]
    fn the_figure_draws_only_the_parts_an_explanation_names() {
        let c = random_components(7, 10, 1);
        let shape = ImageShape { height: 8, width: 8 };
        let mut rng = crate::linalg::rng(5);
        let (residual, bias) = (|_: &[f32]| vec![0.3; 10], [5.0; 10]);
        let (mut empty, mut drawn) = (0, 0);
        for _ in 0..8 {
            let x: Vec<f32> = crate::linalg::randn(&mut rng, 64, 1, 1.0).col(0).iter().copied().collect();
            let contrib = contributions(&c, &x);
            let grid = explanations(&c, residual, &bias, &[(&x, None)], shape, None);
            for (row, (titles, label)) in grid.rows.iter().zip(grid.cell_titles.iter().zip(&grid.row_labels)) {
                let class: usize = label[..label.find(':').unwrap()].parse().unwrap();
                let unbiased = (0..c.len()).map(|r| contrib[(class, r)]).sum::<f32>() + 0.3;
                for (column, (cell, title)) in row[1..].iter().zip(&titles[1..]).enumerate() {
                    let (sign, first_of_side) = if column < VOTES_PER_SIDE { (1.0, column == 0) } else { (-1.0, column == VOTES_PER_SIDE) };
                    let named = |r: usize| sign * contrib[(class, r)] > 0.0 && (contrib[(class, r)] / unbiased).abs() >= NEGLIGIBLE_SHARE;
                    if *cell == Cell::Empty {
                        empty += 1;
                        assert!(title.is_empty());
                        continue;
                    }
                    drawn += 1;
                    let r: usize = title[1..title.find(' ').unwrap()].parse::<usize>().unwrap() - 1;
                    assert!(named(r), "#{} drawn for class {class} ({}): {title}", r + 1, if sign > 0.0 { "for" } else { "against" });
                    assert!(first_of_side || row[column] != Cell::Empty, "an empty cell before a drawn one");
                }
            }
        }
        assert!(empty > 0 && drawn > 0, "{empty} empty and {drawn} drawn: the test would not tell the rule from drawing every vote");
    }
}
