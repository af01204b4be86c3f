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

/// Every input's contributions to the output it predicts, one row of `r` components per input:
/// what explanation size, cancellation and use read.
pub struct ToPredicted {
    /// Row-major `n × r`.
    rows: Vec<f64>,
    r: usize,
}

impl ToPredicted {
    /// From the logits (`n × outputs`), the components' activations (`n × r`) and their heads
    /// (`outputs × r`): input `i`'s row holds `heads[p, k] · acts[i, k]` with `p` its largest logit.
    pub fn new(logits: MatRef<'_, f32>, acts: MatRef<'_, f32>, heads: MatRef<'_, f32>) -> Self {
        let r = acts.ncols();
        // Transposed once, so that each input's activations are contiguous.
        let by_input = acts.transpose().to_owned();
        let mut rows = Vec::with_capacity(logits.nrows() * r);
        for i in 0..logits.nrows() {
            let predicted = argmax(logits.row(i).iter().copied());
            rows.extend(by_input.col(i).iter().zip(heads.row(predicted).iter()).map(|(&a, &h)| (h * a) as f64));
        }
        Self { rows, r }
    }

    /// Inputs' rows given directly (each of the same length).
    #[cfg(test)]
    pub fn from_rows(rows: &[&[f64]]) -> Self {
        Self { rows: rows.concat(), r: rows.first().map_or(0, |c| c.len()) }
    }

    /// Per input, the component contributing most for its predicted output: the first vote its
    /// explanation shows (the first of equal votes; `None` without components).
    pub fn largest_votes(&self) -> impl Iterator<Item = Option<usize>> + '_ {
        self.inputs().map(|c| (0..c.len()).reduce(|best, k| if c[k] > c[best] { k } else { best }))
    }

    fn inputs(&self) -> impl Iterator<Item = &[f64]> {
        self.rows.chunks_exact(self.r.max(1))
    }

    fn n(&self) -> usize {
        self.rows.len() / self.r.max(1)
    }
}

/// Explanation size: per input, the fewest components whose contributions to the predicted
/// output make up 90% of the sum of all their absolute contributions, averaged over inputs;
/// `None` without inputs.
pub fn explanation_size(p: &ToPredicted) -> Option<f64> {
    if p.n() == 0 {
        return None;
    }
    let mut abs = Vec::with_capacity(p.r);
    let total: usize = p
        .inputs()
        .map(|c| {
            abs.clear();
            abs.extend(c.iter().map(|v| v.abs()));
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
    Some(total as f64 / p.n() as f64)
}

/// Cancellation: the absolute contributions to the predicted outputs, summed over inputs, over
/// the absolute values of their sums: 1 when no contribution works against its decision's total,
/// 10 when a decision is the difference of sums ten times its size (then every explanation must
/// name both sides). `None` without inputs or when every total is 0.
pub fn cancellation(p: &ToPredicted) -> Option<f64> {
    let (mass, net) =
        p.inputs().fold((0.0, 0.0), |(mass, net), c| (mass + c.iter().map(|v| v.abs()).sum::<f64>(), net + c.iter().sum::<f64>().abs()));
    (net > 0.0).then(|| mass / net)
}

/// Each component's use: the mean over inputs of its absolute contribution to the output the
/// dictionary predicts (`r` zeros without inputs). A heavy component that no input excites, or
/// one whose twin cancels it, has a large part of the tensor and little use; readability
/// weighted by use cannot be bought with such weight.
pub fn use_per_component(p: &ToPredicted) -> Vec<f64> {
    let n = p.n().max(1) as f64;
    p.inputs().fold(vec![0.0; p.r], |mut used, c| {
        used.iter_mut().zip(c).for_each(|(u, v)| *u += v.abs() / n);
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
        // Input 0: contributions 5, −3, 1, 1 (sum of |·| 10): 5 + 3 + 1 ≥ 9 → 3.
        // Input 1: one component holds everything → 1.
        let p = ToPredicted::from_rows(&[&[5.0, -3.0, 1.0, 1.0], &[0.0, 2.0, 0.0, 0.0]]);
        assert_eq!(explanation_size(&p), Some(2.0));
        assert_eq!(explanation_size(&ToPredicted::from_rows(&[])), None);
    }

    #[test]
    fn contributions_go_to_the_predicted_output() {
        // Input 0 predicts output 1, input 1 output 0.
        let logits = Mat::<f32>::from_fn(2, 2, |i, c| if i != c { 1.0 } else { 0.0 });
        let acts = Mat::<f32>::from_fn(2, 3, |i, k| (1 + i * 3 + k) as f32);
        let heads = Mat::<f32>::from_fn(2, 3, |c, k| if c == 0 { 1.0 } else { -(k as f32) });
        let p = ToPredicted::new(logits.as_ref(), acts.as_ref(), heads.as_ref());
        assert_eq!(p.rows, vec![0.0, -2.0, -6.0, 4.0, 5.0, 6.0]);
        assert_eq!(use_per_component(&p), vec![2.0, 3.5, 6.0]);
    }

    #[test]
    fn cancellation_is_absolute_mass_over_net_totals() {
        // Input 0: |3| + |−1| = 4 for a total of 2; input 1: 2 for a total of 2 → 6 / 4.
        assert_eq!(cancellation(&ToPredicted::from_rows(&[&[3.0, -1.0], &[0.0, 2.0]])), Some(1.5));
        assert_eq!(cancellation(&ToPredicted::from_rows(&[&[1.0, -1.0], &[1.0, -1.0]])), None);
        assert_eq!(cancellation(&ToPredicted::from_rows(&[])), None);
    }
}
