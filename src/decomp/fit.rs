//! The one optimisation loop every recipe runs through.

use anyhow::{Result, bail};
use faer::Mat;
use serde::Serialize;

use super::Decomposition;
use super::bank::{FactorGrads, Role};
use super::loss::{self, DistillSet, LabelledSet, Target, TripleGrads};
use super::recipe::Recipe;
use crate::linalg;
use crate::optim::{OptimConfig, OptimizerKind, cosine_lr};

/// Data the data-dependent terms read.
#[derive(Default)]
pub struct FitData {
    pub distill: Option<DistillSet>,
    pub activation: Option<LabelledSet>,
}

/// One logged point of a fit (values before that step's update, as the reference logs them).
#[derive(Clone, Debug, Serialize)]
pub struct HistoryRow {
    pub stage: usize,
    pub step: usize,
    pub loss: f64,
    pub tensor_cosine: f64,
    pub distill_mse: f64,
    pub penalty: f64,
    pub lr: f32,
}

/// Loss weights that can change between stages of one run.
pub struct Weights {
    pub tensor: f32,
    pub distill: f32,
}

/// Fits every bank of `decomp` jointly for `recipe.steps` steps. `on_step(step, loss, cosine)`
/// is called after every step (progress bars). Stops with an error naming the step if the loss
/// becomes NaN or infinite.
pub fn fit(
    decomp: &mut Decomposition,
    recipe: &Recipe,
    weights: &Weights,
    target: &Target<'_>,
    data: &FitData,
    stage: usize,
    mut on_step: impl FnMut(usize, f64, f64),
) -> Result<Vec<HistoryRow>> {
    let opt_cfg = match recipe.optimizer {
        OptimizerKind::AdamW => OptimConfig::adamw(recipe.weight_decay),
        OptimizerKind::Muon => OptimConfig::muon(recipe.weight_decay),
    };
    let mut opt = opt_cfg.build();
    let log_every = (recipe.steps / 50).max(1);
    let mut history = Vec::new();
    for step in 0..recipe.steps {
        let lr = if recipe.cosine_schedule { cosine_lr(recipe.lr, step, recipe.steps) } else { recipe.lr };
        let residual_weight = match recipe.residual_anneal[..] {
            [start, end] => start + (end - start) * step as f32 / (recipe.steps.max(2) - 1) as f32,
            _ => recipe.priors.residual_l2,
        };
        let (row, grads) = loss_and_grads(decomp, recipe, weights, residual_weight, target, data);
        if !row.loss.is_finite() {
            bail!("decomposition diverged: the loss became {} at step {} (stage {stage})", row.loss, step + 1);
        }
        let (loss, cosine) = (row.loss, row.tensor_cosine);
        if step % log_every == 0 || step + 1 == recipe.steps {
            history.push(HistoryRow { stage, step, lr, ..row });
        }
        let mut params: Vec<&mut Mat<f32>> = decomp.banks.iter_mut().flat_map(|b| b.params_mut()).collect();
        let grad_refs: Vec<&Mat<f32>> = grads.iter().collect();
        opt.step(&mut params, &grad_refs, lr);
        on_step(step + 1, loss, cosine);
    }
    Ok(history)
}

/// The loss at the current parameters and its gradient with respect to every raw parameter
/// (in the order of the banks' `params_mut`).
pub fn loss_and_grads(
    decomp: &mut Decomposition,
    recipe: &Recipe,
    weights: &Weights,
    residual_weight: f32,
    target: &Target<'_>,
    data: &FitData,
) -> (HistoryRow, Vec<Mat<f32>>) {
    let factors = decomp.forward();
    // All banks as one CP tensor, each bank writing its triples into its own columns.
    let n: usize = decomp.banks.iter().map(|b| b.n_triples()).sum();
    let (c, i) = (factors[0].d.nrows(), factors[0].a.nrows());
    let (mut d, mut u, mut w) = (Mat::zeros(c, n), Mat::zeros(i, n), Mat::zeros(i, n));
    let mut start = 0;
    for (bank, f) in decomp.banks.iter().zip(&factors) {
        let k = bank.n_triples();
        bank.write_triples(f, d.as_mut().subcols_mut(start, k), u.as_mut().subcols_mut(start, k), w.as_mut().subcols_mut(start, k));
        start += k;
    }
    let t = crate::interaction::CpTensor::new(d, u, w);
    // The tensor term, the distillation term and the bank priors are independent: with several
    // threads they run side by side (the distillation splits its own work further). Each
    // writes its own gradients, summed below in a fixed order whatever the thread count.
    let tensor_term = || {
        let mut tg = TripleGrads::zeros(&t);
        let cosine = if weights.tensor > 0.0 { target.cosine_loss(&t, weights.tensor, &mut tg) } else { target.cosine(&t) };
        (cosine, tg)
    };
    let distill_term = || match (&data.distill, weights.distill > 0.0) {
        (Some(set), true) => {
            let mut tg = TripleGrads::zeros(&t);
            Some((set.loss(&t, weights.distill, &mut tg), tg))
        }
        _ => None,
    };
    let prior_terms = || {
        let banks = decomp.banks.iter().zip(&factors);
        banks
            .map(|(bank, f)| {
                let mut g = FactorGrads::zeros(f);
                let penalty = match bank.role {
                    Role::Displayed => loss::bank_priors(&recipe.priors, bank, f, &mut g, data.activation.as_ref()),
                    Role::Residual => loss::residual_l2(residual_weight, f, &mut g),
                };
                (penalty, g)
            })
            .collect::<Vec<_>>()
    };
    // Side by side only when there is enough work to share (waking a thread costs ~20 µs).
    let heavy = (data.distill.is_some() && weights.distill > 0.0) || (data.activation.is_some() && recipe.priors.activation != 0.0);
    let ((cosine, mut tg), (distill, priors)) = if heavy {
        linalg::join(tensor_term, true, || linalg::join(distill_term, true, prior_terms, false), true)
    } else {
        (tensor_term(), (distill_term(), prior_terms()))
    };
    let distill_mse = match distill {
        Some((mse, d)) => {
            tg.d += &d.d;
            tg.u += &d.u;
            tg.w += &d.w;
            mse
        }
        None => 0.0,
    };
    let mut penalty = 0.0;
    let mut grads = Vec::new();
    let mut start = 0;
    for (bank, (prior, gp)) in decomp.banks.iter().zip(priors) {
        let n = bank.n_triples();
        let mut g: FactorGrads =
            bank.triple_grads(tg.d.as_ref().subcols(start, n), tg.u.as_ref().subcols(start, n), tg.w.as_ref().subcols(start, n));
        start += n;
        g.a += &gp.a;
        g.b += &gp.b;
        g.d += &gp.d;
        penalty += prior;
        let (deform, width) = match bank.role {
            Role::Displayed => (recipe.priors.deform_l2, recipe.priors.mask_width),
            Role::Residual => (0.0, 0.0),
        };
        grads.extend(bank.backward(g, deform, width, &mut penalty));
    }
    let loss = weights.tensor as f64 * (1.0 - cosine) + weights.distill as f64 * distill_mse + penalty;
    (HistoryRow { stage: 0, step: 0, loss, tensor_cosine: cosine, distill_mse, penalty, lr: 0.0 }, grads)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;
    use crate::decomp::bank::Form;
    use crate::decomp::init::{InitContext, displayed_bank, residual_bank};
    use crate::decomp::recipe::{Init, MaskKind};
    use crate::interaction::Interaction;
    use crate::linalg;
    use crate::model::{Bilinear, ModelConfig};

    fn setup() -> (Interaction, Dataset, FitData) {
        let cfg = ModelConfig { n_inputs: 784, n_embed: 6, n_hidden: 8, n_outputs: 3 };
        let model = Bilinear::init(cfg, &mut linalg::rng(1));
        let mut rng = linalg::rng(2);
        let x = Mat::from_fn(24, 784, |i, j| (((i * 31 + j * 7) % 17) as f32 / 17.0).powi(2));
        let labels: Vec<u8> = (0..24).map(|i| (i % 3) as u8).collect();
        let train = Dataset { pixels: linalg::to_row_major(x.as_ref()), labels: labels.clone(), rows: 28, cols: 28, n_classes: 3 };
        let data = FitData {
            distill: Some(DistillSet::new(x.clone(), linalg::randn(&mut rng, 24, 3, 1.0))),
            activation: Some(LabelledSet { x, y: labels }),
        };
        (Interaction::new(&model), train, data)
    }

    fn build(recipe: &Recipe, inter: &Interaction, train: &Dataset) -> Decomposition {
        let mut rng = linalg::rng(3);
        let ctx = InitContext { inter, train };
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
    /// this test checks how the loop wires them together.
    fn check(recipe: &Recipe, target_minus: bool) {
        let (inter, train, data) = setup();
        let mut d = build(recipe, &inter, &train);
        let minus = target_minus.then(|| crate::interaction::CpTensor::random(3, 784, 2, &mut linalg::rng(9)));
        let target = Target::new(&inter, minus);
        let weights = Weights { tensor: recipe.tensor, distill: recipe.distill };
        let (_, grads) = loss_and_grads(&mut d, recipe, &weights, recipe.priors.residual_l2, &target, &data);
        let mut rng = linalg::rng(4);
        let n_params = grads.len();
        for k in 0..n_params {
            let g = &grads[k];
            for _ in 0..6 {
                let (i, j) = (rand::Rng::random_range(&mut rng, 0..g.nrows()), rand::Rng::random_range(&mut rng, 0..g.ncols()));
                let eval = |delta: f32| {
                    let mut e = d.clone();
                    *e.banks.iter_mut().flat_map(|b| b.params_mut()).nth(k).unwrap().get_mut(i, j) += delta;
                    loss_and_grads(&mut e, recipe, &weights, recipe.priors.residual_l2, &target, &data).0.loss
                };
                let eps = 2e-3;
                let fd = (eval(eps) - eval(-eps)) / (2.0 * eps as f64);
                let got = g[(i, j)] as f64;
                let scale = fd.abs().max(got.abs()).max(2e-3);
                assert!(
                    (fd - got).abs() < 3e-2 * scale,
                    "{}: parameter {k} entry ({i},{j}): analytic {got} vs finite difference {fd}",
                    recipe.description
                );
            }
        }
    }

    #[test]
    fn free_cp_with_every_pattern_prior() {
        let mut r =
            Recipe { description: "free cp".into(), rank: 3, residual_rank: 2, smooth_passes: 1, distill: 0.3, ..Recipe::default() };
        r.priors = loss::Priors {
            raw_l1: 0.1,
            raw_tv: 0.2,
            raw_lap: 0.1,
            display_l1: 0.1,
            display_tv: 0.1,
            duplicate: 0.3,
            border: 0.2,
            symmetry: 0.5,
            residual_l2: 0.3,
            ..Default::default()
        };
        check(&r, false);
        // Head priors apart: the entropy is too curved near zero entries for a shared step size.
        let h = Recipe {
            description: "head priors".into(),
            rank: 3,
            distill: 0.3,
            priors: loss::Priors { head_l1: 0.1, head_entropy: 0.1, ..Default::default() },
            ..Recipe::default()
        };
        check(&h, false);
    }

    #[test]
    fn split_strokes_with_masks_amplitude_and_top1_heads() {
        let mut r = Recipe {
            description: "split strokes".into(),
            form: Form::Split,
            rank: 3,
            init: Init::Strokes,
            smooth_passes: 1,
            mask: MaskKind::Learnable,
            amplitude: true,
            topk: 1,
            distill: 0.2,
            ..Recipe::default()
        };
        r.priors = loss::Priors { anchor: 0.5, deform_l2: 0.3, mask_width: 0.2, raw_tv: 0.1, activation: 0.4, ..Default::default() };
        check(&r, false);
    }

    #[test]
    fn symmetric_and_nonnegative_and_boosted_target() {
        let mut r = Recipe {
            description: "symmetric fixed mask".into(),
            form: Form::Symmetric,
            rank: 3,
            mask: MaskKind::Fixed,
            mask_sigma: 0.4,
            topk: 2,
            ..Recipe::default()
        };
        r.priors = loss::Priors { display_l1: 0.2, display_tv: 0.2, duplicate: 0.2, raw_l1: 0.1, ..Default::default() };
        check(&r, true);
        let n = Recipe {
            description: "nonnegative split".into(),
            form: Form::Split,
            rank: 3,
            nonnegative: true,
            banks: 2,
            ..Recipe::default()
        };
        check(&n, false);
    }

    #[test]
    fn learnable_classes_pass_gradient_through_the_head_mask() {
        use crate::decomp::bank::{Head, HeadRule};
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
