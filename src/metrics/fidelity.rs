//! Fidelity on inputs: how closely a dictionary's logits follow the base model's on the same
//! inputs (test digits), and how many components an explanation of one prediction takes. These
//! judge a readable dictionary by what it does on data, where the tensor cosine also counts
//! pixel-scale speckle that digits never excite.

use faer::MatRef;

use crate::model::argmax;

/// Share of inputs (rows) on which the two sets of logits predict the same output; `None`
/// without inputs.
pub fn agreement(base: MatRef<'_, f32>, dictionary: MatRef<'_, f32>) -> Option<f64> {
    assert_eq!((base.nrows(), base.ncols()), (dictionary.nrows(), dictionary.ncols()), "logits of the same inputs and outputs");
    if base.nrows() == 0 {
        return None;
    }
    let same = (0..base.nrows()).filter(|&i| argmax(base.row(i).iter().copied()) == argmax(dictionary.row(i).iter().copied())).count();
    Some(same as f64 / base.nrows() as f64)
}

/// R² of the dictionary's logits against the base model's, each row centred on its mean over
/// outputs first (a shift shared by every output changes no prediction):
/// `1 − Σ(z̃_dict − z̃_base)² / Σ z̃_base²`. 1 is exact; 0 is no better than all-equal logits.
/// `None` without inputs or with a single output.
pub fn logit_r2(base: MatRef<'_, f32>, dictionary: MatRef<'_, f32>) -> Option<f64> {
    assert_eq!((base.nrows(), base.ncols()), (dictionary.nrows(), dictionary.ncols()), "logits of the same inputs and outputs");
    let (mut residual, mut total) = (0.0f64, 0.0f64);
    for i in 0..base.nrows() {
        let mean = |m: MatRef<'_, f32>| m.row(i).iter().map(|&v| v as f64).sum::<f64>() / m.ncols() as f64;
        let (mb, md) = (mean(base), mean(dictionary));
        for c in 0..base.ncols() {
            let b = base[(i, c)] as f64 - mb;
            residual += (dictionary[(i, c)] as f64 - md - b).powi(2);
            total += b * b;
        }
    }
    (total > 0.0).then(|| 1.0 - residual / total)
}

/// Every input's contributions to the output it predicts (`contributions(i, c)` gives every
/// component's contribution to output `c` on input `i`).
fn to_predicted(logits: MatRef<'_, f32>, contributions: impl Fn(usize, usize) -> Vec<f32>) -> impl Iterator<Item = Vec<f64>> {
    (0..logits.nrows()).map(move |i| {
        let predicted = argmax(logits.row(i).iter().copied());
        contributions(i, predicted).iter().map(|&v| v as f64).collect()
    })
}

/// Explanation size: per input, the fewest components whose contributions to the predicted
/// output make up 90% of the sum of all their absolute contributions, averaged over inputs;
/// `None` without inputs.
pub fn explanation_size(logits: MatRef<'_, f32>, contributions: impl Fn(usize, usize) -> Vec<f32>) -> Option<f64> {
    if logits.nrows() == 0 {
        return None;
    }
    let total: usize = to_predicted(logits, contributions)
        .map(|c| {
            let mut abs: Vec<f64> = c.iter().map(|v| v.abs()).collect();
            abs.sort_by(|a, b| b.total_cmp(a));
            let goal = 0.9 * abs.iter().sum::<f64>();
            let mut sum = 0.0;
            abs.iter()
                .take_while(|&&v| {
                    let before = sum;
                    sum += v;
                    before < goal
                })
                .count()
        })
        .sum();
    Some(total as f64 / logits.nrows() as f64)
}

/// Cancellation: the absolute contributions to the predicted outputs, summed over inputs, over
/// the absolute values of their sums: 1 when no contribution works against its decision's total,
/// 10 when a decision is the difference of sums ten times its size (then every explanation must
/// name both sides). `None` without inputs or when every total is 0.
pub fn cancellation(logits: MatRef<'_, f32>, contributions: impl Fn(usize, usize) -> Vec<f32>) -> Option<f64> {
    let (mass, net) = to_predicted(logits, contributions)
        .fold((0.0, 0.0), |(mass, net), c| (mass + c.iter().map(|v| v.abs()).sum::<f64>(), net + c.iter().sum::<f64>().abs()));
    (net > 0.0).then(|| mass / net)
}

/// Each component's use: the mean over inputs of its absolute contribution to the output the
/// logits predict (`r` zeros without inputs).
pub fn use_per_component(logits: MatRef<'_, f32>, r: usize, contributions: impl Fn(usize, usize) -> Vec<f32>) -> Vec<f64> {
    let n = logits.nrows().max(1) as f64;
    to_predicted(logits, contributions).fold(vec![0.0; r], |mut used, c| {
        used.iter_mut().zip(&c).for_each(|(u, v)| *u += v.abs() / n);
        used
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn agreement_and_r2_known_values() {
        let base = Mat::<f32>::from_fn(4, 3, |i, c| ((i + 2 * c) % 3) as f32);
        assert_eq!(agreement(base.as_ref(), base.as_ref()), Some(1.0));
        assert!((logit_r2(base.as_ref(), base.as_ref()).unwrap() - 1.0).abs() < 1e-12);
        // A shift per input changes nothing; a scale of the centred logits by s gives 1 − (s−1)².
        let shifted = Mat::<f32>::from_fn(4, 3, |i, c| base[(i, c)] + i as f32 * 5.0);
        assert!((logit_r2(base.as_ref(), shifted.as_ref()).unwrap() - 1.0).abs() < 1e-9);
        let doubled = Mat::<f32>::from_fn(4, 3, |i, c| 2.0 * base[(i, c)]);
        assert!(logit_r2(base.as_ref(), doubled.as_ref()).unwrap().abs() < 1e-9);
        // Constant logits: R² 0; reversed order on every input: no agreement.
        assert!(logit_r2(base.as_ref(), Mat::<f32>::zeros(4, 3).as_ref()).unwrap().abs() < 1e-12);
        let reversed = Mat::<f32>::from_fn(4, 3, |i, c| -base[(i, c)]);
        assert_eq!(agreement(base.as_ref(), reversed.as_ref()), Some(0.0));
        assert_eq!(agreement(Mat::<f32>::zeros(0, 3).as_ref(), Mat::<f32>::zeros(0, 3).as_ref()), None);
    }

    #[test]
    fn explanation_size_counts_components_to_ninety_percent() {
        let logits = Mat::<f32>::from_fn(2, 2, |i, c| if i == c { 1.0 } else { 0.0 });
        // Input 0 predicts output 0: contributions 5, −3, 1, 1 (sum of |·| 10): 5 + 3 + 1 ≥ 9 → 3.
        // Input 1 predicts output 1: one component holds everything → 1.
        let size = explanation_size(logits.as_ref(), |i, c| {
            assert_eq!(i, c, "contributions to the predicted output");
            if i == 0 { vec![5.0, -3.0, 1.0, 1.0] } else { vec![0.0, 2.0, 0.0, 0.0] }
        });
        assert_eq!(size, Some(2.0));
    }

    #[test]
    fn cancellation_is_absolute_mass_over_net_totals() {
        let logits = Mat::<f32>::from_fn(2, 2, |i, c| if i == c { 1.0 } else { 0.0 });
        // Input 0: |3| + |−1| = 4 for a total of 2; input 1: 2 for a total of 2 → 6 / 4.
        let c = cancellation(logits.as_ref(), |i, c| {
            assert_eq!(i, c, "contributions to the predicted output");
            if i == 0 { vec![3.0, -1.0] } else { vec![0.0, 2.0] }
        });
        assert_eq!(c, Some(1.5));
        assert_eq!(cancellation(logits.as_ref(), |_, _| vec![1.0, -1.0]), None);
        assert_eq!(cancellation(Mat::<f32>::zeros(0, 2).as_ref(), |_, _| vec![]), None);
    }
}
