//! The one optimisation loop every recipe runs through: at every step, the registered terms
//! whose weight is not zero ([`terms::active`]) add their values and gradients; the optimiser
//! updates the raw parameters of every bank.

use anyhow::Result;
use faer::Mat;
use rayon::prelude::*;

use super::Decomposition;
use super::bank::Bank;
use super::recipe::Recipe;
use super::terms::{self, FitData, Grads, Input, Schedule, Term};
use crate::error::Error;
use crate::linalg;
use crate::optim::{OptimConfig, OptimizerKind, cosine_lr};

/// One logged point of a fit (values before that step's update, as the reference logs them).
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryRow {
    pub stage: usize,
    pub step: usize,
    pub lr: f32,
    /// `Σ weight · value` over the active terms.
    pub loss: f64,
    /// The exact tensor cosine of the whole decomposition to its target.
    pub tensor_cosine: f64,
    /// Each active term's value (before its weight), in registry order.
    pub terms: Vec<(&'static str, f64)>,
}

/// What a step callback sees (after the step's update).
#[derive(Clone, Copy, Debug)]
pub struct Step<'a> {
    pub stage: usize,
    /// Steps done in this stage, 1-based.
    pub step: usize,
    pub steps: usize,
    pub loss: f64,
    /// The latest tensor cosine computed (every step when the tensor term is active).
    pub tensor_cosine: f64,
    pub terms: &'a [(&'static str, f64)],
}

/// The loss at the current parameters, term by term.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub loss: f64,
    pub terms: Vec<(&'static str, f64)>,
    /// The tensor cosine, when the tensor term ran or it was asked for.
    pub tensor_cosine: Option<f64>,
}

/// Fits every bank of `decomp` jointly for `recipe.steps` steps; `on_step` is called after
/// every step. Stops with [`Error::Diverged`] naming the step, the stage and the term whose
/// value stopped being a finite number.
pub fn fit(
    decomp: &mut Decomposition,
    recipe: &Recipe,
    data: &FitData<'_>,
    stage: usize,
    on_step: &mut dyn FnMut(&Step<'_>),
) -> Result<Vec<HistoryRow>> {
    let opt_cfg = match recipe.optimizer {
        OptimizerKind::AdamW => OptimConfig::adamw(recipe.weight_decay),
        OptimizerKind::Muon => OptimConfig::muon(recipe.weight_decay),
    };
    let mut opt = opt_cfg.build();
    let log_every = (recipe.steps / 50).max(1);
    let mut history = Vec::new();
    let mut cosine = f64::NAN;
    for step in 0..recipe.steps {
        crate::interrupt::check()?;
        let at = Schedule { stage, step, steps: recipe.steps };
        let lr = if recipe.cosine_schedule { cosine_lr(recipe.lr, step, recipe.steps) } else { recipe.lr };
        let log = step % log_every == 0 || step + 1 == recipe.steps;
        let active = terms::active(recipe, at);
        let (eval, grads) = loss_and_grads(decomp, &active, data, log);
        if let Some((name, value)) =
            eval.terms.iter().find(|(_, v)| !v.is_finite()).or((!eval.loss.is_finite()).then_some(&("loss", eval.loss)))
        {
            return Err(Error::Diverged(format!(
                "the fit diverged at step {} of stage {stage}: the {name} term became {value} (try a smaller lr than {})",
                step + 1,
                recipe.lr
            ))
            .into());
        }
        cosine = eval.tensor_cosine.unwrap_or(cosine);
        if log {
            history.push(HistoryRow { stage, step, lr, loss: eval.loss, tensor_cosine: cosine, terms: eval.terms.clone() });
        }
        let mut params: Vec<&mut Mat<f32>> = decomp.banks.iter_mut().flat_map(|b| b.params_mut()).collect();
        let grad_refs: Vec<&Mat<f32>> = grads.iter().collect();
        opt.step(&mut params, &grad_refs, lr);
        decomp.banks.iter_mut().for_each(Bank::project);
        on_step(&Step { stage, step: step + 1, steps: recipe.steps, loss: eval.loss, tensor_cosine: cosine, terms: &eval.terms });
    }
    Ok(history)
}

/// The values of one group of terms, by name, and the gradients they add.
type GroupResult = (Vec<(&'static str, f64)>, Grads);

/// The loss of the `active` terms (with their weights) at the current parameters, and its
/// gradient with respect to every raw parameter (in the order of the banks' `params_mut`);
/// `want_cosine` computes the tensor cosine even when the tensor term is off.
///
/// Costly terms run side by side, each splitting its own work, and beside them the cheap ones
/// together on one thread (waking a thread costs ~20 µs; together the concept presets' image
/// priors take a third of a step, so they overlap the functional loss). Each group of terms
/// adds into gradients of its own, summed in registry order afterwards: the result does not
/// depend on the thread count.
pub fn loss_and_grads(
    decomp: &Decomposition,
    active: &[(&dyn Term, f32)],
    data: &FitData<'_>,
    want_cosine: bool,
) -> (Evaluation, Vec<Mat<f32>>) {
    let (factors, tapes): (Vec<_>, Vec<_>) = decomp.banks.iter().map(Bank::forward).unzip();
    let banks: Vec<&Bank> = decomp.banks.iter().collect();
    let triples = super::triples_of(&banks, &factors);
    let reads_labelled = active.iter().any(|(t, _)| t.needs().contains(&terms::Need::LabelledImages));
    let projections = terms::LabelledProjections::new(&decomp.banks, &factors, data.labelled.as_ref().filter(|_| reads_labelled));
    let input = Input { banks: &decomp.banks, factors: &factors, triples: &triples, data, projections: &projections };

    let mut groups: Vec<Vec<(&dyn Term, f32)>> = active.iter().filter(|(t, _)| t.heavy()).map(|&a| vec![a]).collect();
    groups.push(active.iter().filter(|(t, _)| !t.heavy()).copied().collect());
    let parallel = groups.iter().filter(|g| !g.is_empty()).count() >= 2 && linalg::parallel();
    let eval_group = |group: &Vec<(&dyn Term, f32)>| -> GroupResult {
        let mut grads = Grads::new(banks.len());
        let values: Vec<(&'static str, f64)> = group.iter().map(|(t, w)| (t.name(), t.eval(&input, *w, &mut grads))).collect();
        (values, grads)
    };
    let light = groups.len() - 1;
    // The tensor cosine of a logged step, when no term computes it, is one more light job.
    let tensor_term = active.iter().any(|(t, _)| t.name() == "tensor");
    let cosine = || (want_cosine && !tensor_term).then(|| data.target.cosine(&triples));
    let (results, extra_cosine): (Vec<GroupResult>, _) = if parallel {
        rayon::join(
            || {
                groups
                    .par_iter()
                    .enumerate()
                    .map(|(i, g)| if i == light { linalg::sequential(|| eval_group(g)) } else { eval_group(g) })
                    .collect()
            },
            || linalg::sequential(cosine),
        )
    } else {
        (groups.iter().map(eval_group).collect(), cosine())
    };

    let mut total = Grads::new(banks.len());
    let mut values = Vec::new();
    for (v, g) in results {
        values.extend(v);
        total.add(g);
    }
    // Report the terms in registry order, whatever the grouping.
    values.sort_by_key(|(name, _)| active.iter().position(|(t, _)| t.name() == *name));
    let weight_of = |name: &str| active.iter().find(|(t, _)| t.name() == name).map_or(0.0, |(_, w)| *w as f64);
    let loss = values.iter().map(|(name, v)| weight_of(name) * v).sum();
    let tensor_cosine = match values.iter().find(|(name, _)| *name == "tensor") {
        Some((_, v)) => Some(1.0 - v),
        None => extra_cosine,
    };

    let mut param_grads = Vec::new();
    let mut start = 0;
    for (i, (bank, tape)) in decomp.banks.iter().zip(&tapes).enumerate() {
        let n = bank.n_triples();
        let mut g = match &total.triples {
            Some(t) => bank.triple_grads(t.d.as_ref().subcols(start, n), t.u.as_ref().subcols(start, n), t.w.as_ref().subcols(start, n)),
            None => super::FactorGrads::zeros(&factors[i]),
        };
        start += n;
        if let Some(f) = &total.factors[i] {
            g.add(f);
        }
        let mut p = bank.backward(tape, g);
        if let Some(extra) = &total.params[i] {
            p.iter_mut().zip(extra).for_each(|(a, b)| *a += b);
        }
        param_grads.extend(p);
    }
    (Evaluation { loss, terms: values, tensor_cosine }, param_grads)
}

/// The history as CSV: `stage, step, lr, loss, tensor_cosine`, then one column per term that
/// was active at some step (registry order; empty where it was off).
pub fn history_csv(rows: &[HistoryRow]) -> Result<Vec<u8>> {
    let names: Vec<&str> =
        terms::REGISTRY.iter().map(|t| t.name()).filter(|n| rows.iter().any(|r| r.terms.iter().any(|(m, _)| m == n))).collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    let header: Vec<&str> = ["stage", "step", "lr", "loss", "tensor_cosine"].into_iter().chain(names.iter().copied()).collect();
    w.write_record(&header)?;
    for r in rows {
        let mut record = vec![r.stage.to_string(), r.step.to_string(), r.lr.to_string(), r.loss.to_string(), r.tensor_cosine.to_string()];
        record.extend(names.iter().map(|n| r.terms.iter().find(|(m, _)| m == n).map_or(String::new(), |(_, v)| v.to_string())));
        w.write_record(&record)?;
    }
    Ok(w.into_inner()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;
    use crate::decomp::bank::{Head, HeadRule};
    use crate::decomp::init::{InitContext, displayed_bank, residual_bank};
    use crate::decomp::terms::{DecisionSet, DistillSet, LabelledSet, Priors, REGISTRY, Target};
    use crate::image::ImageShape;
    use crate::interaction::functional::Functional;
    use crate::interaction::{CpTensor, Interaction};
    use crate::model::{Bilinear, ModelConfig};

    fn model() -> Bilinear {
        Bilinear::init(ModelConfig { n_inputs: 784, n_embed: Some(6), n_hidden: 8, n_outputs: 3 }, &mut linalg::rng(1))
    }

    fn setup() -> (Interaction, Dataset) {
        let model = model();
        let x = Mat::from_fn(24, 784, |i, j| (((i * 31 + j * 7) % 17) as f32 / 17.0).powi(2));
        let labels: Vec<u8> = (0..24).map(|i| (i % 3) as u8).collect();
        let train = Dataset {
            pixels: linalg::to_row_major(x.as_ref()),
            labels: Some(labels),
            shape: Some(ImageShape::MNIST),
            n_inputs: 784,
            n_classes: 3,
        };
        (Interaction::new(&model), train)
    }

    fn data<'a>(inter: &'a Interaction, train: &Dataset, minus: Option<CpTensor>, functional: &'a Functional) -> FitData<'a> {
        let x = train.x().to_owned();
        FitData {
            target: Target::new(inter, minus),
            image: train.shape,
            distill: Some(DistillSet::new(x.clone(), linalg::randn(&mut linalg::rng(2), 24, 3, 1.0))),
            labelled: Some(LabelledSet { images: linalg::ImageRows::new(x.clone()), y: train.labels.clone().unwrap() }),
            decisions: Some(DecisionSet::new(x.clone(), linalg::randn(&mut linalg::rng(4), 24, 3, 1.0).as_ref())),
            functional: Some(functional),
        }
    }

    fn build(recipe: &Recipe, inter: &Interaction, train: &Dataset) -> Decomposition {
        let mut rng = linalg::rng(3);
        let model = model();
        let (principal, moment) = (std::sync::OnceLock::new(), std::sync::OnceLock::new());
        let ctx = InitContext { model: &model, inter, train: Some(train), image: train.shape, principal: &principal, moment: &moment };
        let mut banks: Vec<_> = (0..recipe.banks).map(|i| displayed_bank(recipe, i, &ctx, &mut rng).unwrap()).collect();
        if recipe.residual_rank > 0 {
            banks.push(residual_bank(recipe, 784, 3, &mut rng));
        }
        // Move parameters away from special points (zero deformations, zero amplitudes).
        let mut d = Decomposition { banks };
        for p in d.banks.iter_mut().flat_map(|b| b.params_mut()) {
            *p += linalg::randn(&mut rng, p.nrows(), p.ncols(), 0.05);
        }
        d
    }

    /// Central differences of the f32 loss (accumulated in f64) at sampled entries of every
    /// parameter; the exact f64 oracles of each building block are tested in their modules,
    /// this checks how the loop wires them together. Returns the values of the active terms.
    fn check(recipe: &Recipe, target_minus: bool) -> Vec<(&'static str, f64)> {
        let (inter, train) = setup();
        let d = build(recipe, &inter, &train);
        let minus = target_minus.then(|| CpTensor::random(3, 784, 2, &mut linalg::rng(9)));
        let functional = Functional::new(&inter, train.x());
        let data = data(&inter, &train, minus, &functional);
        let active = terms::active(recipe, Schedule { stage: 1, step: 3, steps: 10 });
        let (eval, grads) = loss_and_grads(&d, &active, &data, false);
        let mut rng = linalg::rng(4);
        for (k, g) in grads.iter().enumerate() {
            for _ in 0..6 {
                let (i, j) = (rand::Rng::random_range(&mut rng, 0..g.nrows()), rand::Rng::random_range(&mut rng, 0..g.ncols()));
                let eval_at = |delta: f32| {
                    let mut e = d.clone();
                    *e.banks.iter_mut().flat_map(|b| b.params_mut()).nth(k).unwrap().get_mut(i, j) += delta;
                    loss_and_grads(&e, &active, &data, false).0.loss
                };
                let eps = 2e-3;
                let fd = (eval_at(eps) - eval_at(-eps)) / (2.0 * eps as f64);
                let got = g[(i, j)] as f64;
                let scale = fd.abs().max(got.abs()).max(2e-3);
                assert!(
                    (fd - got).abs() < 3e-2 * scale,
                    "{}: parameter {k} entry ({i},{j}): analytic {got} vs finite difference {fd}",
                    recipe.description
                );
            }
        }
        eval.terms
    }

    #[test]
    fn every_registered_term_has_its_gradient_wired() {
        for term in REGISTRY {
            let recipe = Recipe { description: format!("probe of {}", term.name()), ..term.probe() };
            let values = check(&recipe, false);
            let value =
                values.iter().find(|(n, _)| *n == term.name()).unwrap_or_else(|| panic!("{} is not active in its probe", term.name()));
            assert!(value.1 != 0.0, "{} is zero in its probe", term.name());
        }
    }

    #[test]
    fn forms_masks_and_heads_are_wired() {
        let mut r = Recipe {
            description: "split strokes".into(),
            form: crate::decomp::Form::Split,
            rank: 3,
            init: crate::decomp::Init::Strokes,
            smooth_passes: 1,
            mask: crate::decomp::MaskKind::Learnable,
            amplitude: true,
            topk: 1,
            distill: 0.2,
            ..Recipe::default()
        };
        r.priors = terms::Priors {
            anchor: 0.5,
            deform_l2: 0.3,
            mask_width: 0.2,
            raw_tv: 0.1,
            activation: 0.4,
            twins: 0.3,
            coherence_used: 0.3,
            ..Default::default()
        };
        check(&r, false);
        let mut s = Recipe {
            description: "symmetric fixed mask".into(),
            form: crate::decomp::Form::Symmetric,
            rank: 3,
            mask: crate::decomp::MaskKind::Fixed,
            mask_sigma: 0.4,
            topk: 2,
            ..Recipe::default()
        };
        s.priors = terms::Priors {
            display_l1: 0.2,
            display_tv: 0.2,
            duplicate: 0.2,
            raw_l1: 0.1,
            coherence: 0.3,
            coherence_used: 0.3,
            spread: 0.2,
            sign_purity: 0.2,
            minimality: 0.3,
            cancellation: 0.3,
            twins: 0.3,
            activation: 0.3,
            ..Default::default()
        };
        check(&s, true);
        let n = Recipe {
            description: "nonnegative split".into(),
            form: crate::decomp::Form::Split,
            rank: 3,
            nonnegative: true,
            banks: 2,
            ..Recipe::default()
        };
        check(&n, false);
    }

    #[test]
    fn divergence_names_the_step_and_the_term() {
        let (inter, train) = setup();
        let recipe = Recipe { rank: 3, steps: 5, lr: 1e30, optimizer: OptimizerKind::AdamW, ..Recipe::default() };
        let mut d = build(&recipe, &inter, &train);
        let err = fit(&mut d, &recipe, &data(&inter, &train, None, &Functional::new(&inter, train.x())), 1, &mut |_| {}).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("diverged at step") && msg.contains("stage 1") && msg.contains("term"), "{msg}");
        assert!(matches!(Error::from(err), Error::Diverged(_)));
    }

    #[test]
    fn history_has_a_column_per_active_term() {
        let (inter, train) = setup();
        let mut recipe = Recipe { rank: 3, steps: 4, distill: 0.2, ..Recipe::default() };
        recipe.priors.raw_l1 = 0.1;
        let mut d = build(&recipe, &inter, &train);
        let rows = fit(&mut d, &recipe, &data(&inter, &train, None, &Functional::new(&inter, train.x())), 1, &mut |_| {}).unwrap();
        let csv = String::from_utf8(history_csv(&rows).unwrap()).unwrap();
        assert!(csv.starts_with("stage,step,lr,loss,tensor_cosine,tensor,distill,raw_l1\n"), "{csv}");
        assert_eq!(csv.lines().count(), 5);
        for r in &rows {
            let weighted: f64 = r
                .terms
                .iter()
                .map(|(n, v)| {
                    v * if *n == "tensor" {
                        1.0
                    } else if *n == "distill" {
                        0.2
                    } else {
                        0.1
                    }
                })
                .sum();
            assert!((weighted - r.loss).abs() < 1e-6 * r.loss.abs().max(1.0));
            assert!((r.tensor_cosine - (1.0 - r.terms[0].1)).abs() < 1e-12);
        }
    }

    #[test]
    fn one_signed_patterns_stay_one_signed_and_still_fit() {
        let (inter, train) = setup();
        let mixed = |m: &Mat<f32>| {
            (0..m.ncols())
                .any(|j| linalg::col(m.as_ref(), j).iter().any(|&v| v > 0.0) && linalg::col(m.as_ref(), j).iter().any(|&v| v < 0.0))
        };
        let functional = Functional::new(&inter, train.x());
        for one_signed in [false, true] {
            let recipe = Recipe { rank: 4, steps: 30, smooth_passes: 1, one_signed, ..Recipe::default() };
            let mut d = build(&recipe, &inter, &train);
            let rows = fit(&mut d, &recipe, &data(&inter, &train, None, &functional), 1, &mut |_| {}).unwrap();
            let f = d.banks[0].factors();
            assert_eq!(mixed(&f.a) || mixed(&f.b), !one_signed, "one_signed = {one_signed}");
            assert!(rows.last().unwrap().loss < rows[0].loss, "one_signed = {one_signed}: the fit still learns");
        }
    }

    /// A stage's data serves a later stage only when it holds every set that stage's terms
    /// read: the labelled digits serve the minimality prior, not the decision prior.
    #[test]
    fn fit_data_serves_a_stage_that_reads_only_what_it_holds() {
        let (inter, train) = setup();
        let functional = Functional::new(&inter, train.x());
        let without_decisions = FitData { decisions: None, ..data(&inter, &train, None, &functional) };
        let with = |priors: Priors| Recipe { functional: 1.0, priors, ..Recipe::default() };
        assert!(without_decisions.serves(&with(Priors::default()), 3));
        assert!(without_decisions.serves(&with(Priors { minimality: 0.01, ..Priors::default() }), 3));
        assert!(!without_decisions.serves(&with(Priors { decision: 0.3, ..Priors::default() }), 3));
        let without_inputs = FitData { functional: None, ..data(&inter, &train, None, &functional) };
        assert!(!without_inputs.serves(&with(Priors::default()), 3), "the functional fidelity reads the inputs");
    }

    #[test]
    fn learnable_classes_pass_gradient_through_the_head_mask() {
        let raw = Mat::from_fn(3, 2, |i, j| [0.3, -0.1, 0.05, 0.2, 0.4, -0.6][i + 3 * j]);
        let dd = Mat::from_fn(3, 2, |i, j| (i + j) as f32 + 1.0);
        let frozen = Head { raw: raw.clone(), rule: HeadRule::TopK { k: 1, learn_class: false } };
        let learned = Head { raw, rule: HeadRule::TopK { k: 1, learn_class: true } };
        assert_eq!(frozen.heads(), learned.heads());
        let (gf, gl) = (frozen.backward(&dd), learned.backward(&dd));
        assert_eq!((gf[(0, 0)], gf[(1, 0)], gf[(2, 1)], gf[(0, 1)]), (1.0, 0.0, 4.0, 0.0));
        assert_eq!(gl, dd);
    }
}
