//! Contrasts from one-signed patterns: a fitted symmetric one-hot dictionary's patterns paired,
//! class by class, into split components `ppᵀ − nnᵀ` — evidence `p` for the class against
//! counter-evidence `n` — the same tensor, fewer components per decision.
//!
//! One-signed patterns answer every digit with ink under them, so a class's logit is the
//! difference of large sums of evidence and counter-evidence; an explanation has to name both
//! sides. Pairing each piece of evidence with the counter-evidence it cancels most on the
//! class's training images puts the cancellation inside a component: the contrast
//! `(p·x)² − (n·x)²` is small on digits that ink both and speaks where they differ.

use anyhow::{Result, bail};
use faer::Mat;

use super::bank::{Bank, Head};
use super::form::Form;
use super::pattern::{Base, Mask, Pattern};
use crate::linalg::matching;

/// One component of the paired bank: a class's evidence pattern and counter-evidence pattern
/// (indices into the symmetric bank), either side possibly absent.
struct Contrast {
    class: usize,
    evidence: Option<usize>,
    counter: Option<usize>,
}

/// `bank` (symmetric, one-hot heads, free factors, one mask shared by every component or none)
/// as a split bank of the same tensor: for each class its evidence patterns (positive heads) are
/// matched one to one with its counter-evidence patterns (negative heads) so as to maximise the
/// contribution the pairs cancel on `images_by_class` (images × inputs, per class), the
/// summed `min(evidence, |counter-evidence|)` over the class's images; patterns left without a
/// partner are components of one side. Heads become 1, the strengths move into the patterns
/// (`√|d|`); components with a zero head are dropped.
pub fn pair_bank(bank: &Bank, images_by_class: &[Mat<f64>]) -> Result<Bank> {
    let f = bank.factors();
    let shared_mask = match &bank.a.mask {
        None => None,
        Some(Mask::Fixed(m)) if (1..m.ncols()).all(|k| m.col(k) == m.col(0)) => Some(m.col(0).to_owned()),
        Some(_) => bail!("pairing needs one mask shared by every component, or none"),
    };
    let (Form::Symmetric, Base::Free { raw, passes }, None, None) = (bank.form, &bank.a.base, &bank.a.log_amp, &bank.a.signs) else {
        bail!("pairing needs a symmetric bank of free factors, without amplitudes or kept signs");
    };
    let (classes, r) = (f.d.nrows(), f.d.ncols());
    if (0..r).any(|k| f.d.col(k).iter().filter(|v| **v != 0.0).count() > 1) {
        bail!("pairing needs one-hot heads (topk = 1)");
    }
    // Each component's class and head.
    let heads: Vec<(usize, f32)> = (0..r)
        .map(|k| {
            let class = crate::model::argmax(f.d.col(k).iter().map(|v| v.abs()));
            (class, f.d[(class, k)])
        })
        .collect();
    anyhow::ensure!(images_by_class.len() == classes, "pairing: {} classes of images for {classes} outputs", images_by_class.len());
    let mut columns: Vec<Contrast> = Vec::new();
    for (class, images) in images_by_class.iter().enumerate() {
        let side = |positive: bool| -> Vec<usize> {
            (0..r).filter(|&k| heads[k].0 == class && if positive { heads[k].1 > 0.0 } else { heads[k].1 < 0.0 }).collect()
        };
        let (evidence, counter) = (side(true), side(false));
        // |contribution| of pattern k on each image of the class: |d| (a·x)².
        let strength = |ks: &[usize]| -> Mat<f64> {
            let a = Mat::from_fn(f.a.nrows(), ks.len(), |i, j| f.a[(i, ks[j])] as f64);
            let mut z = images * &a;
            for (j, &k) in ks.iter().enumerate() {
                z.col_mut(j).iter_mut().for_each(|v| *v = *v * *v * heads[k].1.abs() as f64);
            }
            z
        };
        let (ze, zc) = (strength(&evidence), strength(&counter));
        let shared =
            Mat::from_fn(evidence.len(), counter.len(), |i, j| (0..images.nrows()).map(|x| ze[(x, i)].min(zc[(x, j)])).sum::<f64>());
        let pairs = matching::optimal(shared.as_ref());
        let (mut paired_e, mut paired_c) = (vec![false; evidence.len()], vec![false; counter.len()]);
        for &(i, j) in &pairs {
            (paired_e[i], paired_c[j]) = (true, true);
            columns.push(Contrast { class, evidence: Some(evidence[i]), counter: Some(counter[j]) });
        }
        columns.extend(evidence.iter().zip(&paired_e).filter(|(_, p)| !**p).map(|(&k, _)| Contrast {
            class,
            evidence: Some(k),
            counter: None,
        }));
        columns.extend(counter.iter().zip(&paired_c).filter(|(_, p)| !**p).map(|(&k, _)| Contrast {
            class,
            evidence: None,
            counter: Some(k),
        }));
    }
    let n = columns.len();
    // Smoothing and a shared mask act on each column alike, so the raw factors pair and scale
    // as the effective ones do.
    let side = |pick: fn(&Contrast) -> Option<usize>| {
        Mat::from_fn(raw.nrows(), n, |i, j| pick(&columns[j]).map_or(0.0, |k| heads[k].1.abs().sqrt() * raw[(i, k)]))
    };
    let pattern = |raw: Mat<f32>| Pattern {
        base: Base::Free { raw, passes: *passes },
        mask: shared_mask.as_ref().map(|m| Mask::Fixed(Mat::from_fn(m.nrows(), n, |i, _| m[i]))),
        log_amp: None,
        image: bank.a.image,
        signs: None,
    };
    let one_hot = Mat::from_fn(classes, n, |c, j| if columns[j].class == c { 1.0 } else { 0.0 });
    Ok(Bank {
        form: Form::Split,
        role: bank.role,
        a: pattern(side(|c| c.evidence)),
        b: Some(pattern(side(|c| c.counter))),
        head: Head { raw: one_hot, rule: bank.head.rule },
        anchors: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::bank::HeadRule;
    use crate::decomp::form::Role;

    fn symmetric(columns: &[&[f32]], heads: &[(usize, f32)], classes: usize, mask: Option<Vec<f32>>) -> Bank {
        let (inputs, r) = (columns[0].len(), columns.len());
        let mut a = Pattern::new(Base::Free { raw: Mat::from_fn(inputs, r, |i, k| columns[k][i]), passes: 0 }, None);
        a.mask = mask.map(|m| Mask::Fixed(Mat::from_fn(inputs, r, |i, _| m[i])));
        let raw = Mat::from_fn(classes, r, |c, k| if heads[k].0 == c { heads[k].1 } else { 0.0 });
        Bank {
            form: Form::Symmetric,
            role: Role::Displayed,
            a,
            b: None,
            head: Head { raw, rule: HeadRule::TopK { k: 1, learn_class: false } },
            anchors: None,
        }
    }

    fn dense(bank: &Bank) -> Vec<Mat<f64>> {
        bank.triples(&bank.factors()).dense()
    }

    #[test]
    fn pairs_the_counter_evidence_that_cancels_most_and_keeps_the_tensor() {
        // Class 0: evidence on pixels {0,1} and {2,3}; counter-evidence on {2,3} (k = 2) and on
        // {0,1} (k = 3); its images ink {0,1} or {2,3}, so each piece of evidence cancels the
        // counter-evidence on its own pixels. Class 1: one piece of evidence, no partner.
        let cols: [&[f32]; 5] = [
            &[1.0, 1.0, 0.0, 0.0, 0.0],
            &[0.0, 0.0, 1.0, 1.0, 0.0],
            &[0.0, 0.0, 0.5, 0.5, 0.0],
            &[0.5, 0.5, 0.0, 0.0, 0.0],
            &[0.0, 0.0, 0.0, 1.0, 1.0],
        ];
        let heads = [(0, 2.0), (0, 1.0), (0, -3.0), (0, -1.5), (1, 0.5)];
        let mask = vec![1.0, 1.0, 1.0, 1.0, 0.0];
        let bank = symmetric(&cols, &heads, 2, Some(mask));
        let images = vec![
            Mat::from_fn(2, 5, |x, i| if (x == 0 && i < 2) || (x == 1 && (2..4).contains(&i)) { 1.0 } else { 0.0 }),
            Mat::from_fn(1, 5, |_, i| if i >= 3 { 1.0 } else { 0.0 }),
        ];
        let paired = pair_bank(&bank, &images).unwrap();
        assert_eq!(paired.form, Form::Split);
        let f = paired.factors();
        assert_eq!(f.a.ncols(), 3, "two pairs and one single");
        // Pair 1: evidence 0 with counter-evidence 3 (both on {0,1}), pair 2: 1 with 2.
        let on = |m: &Mat<f32>, k: usize| (0..5).filter(|&i| m[(i, k)] != 0.0).collect::<Vec<_>>();
        assert_eq!((on(&f.a, 0), on(&f.b, 0)), (vec![0, 1], vec![0, 1]));
        assert_eq!((on(&f.a, 1), on(&f.b, 1)), (vec![2, 3], vec![2, 3]));
        assert_eq!((on(&f.a, 2), on(&f.b, 2)), (vec![3], vec![]), "the single keeps the mask and has no counter-evidence");
        assert_eq!(f.d.col(2).iter().copied().collect::<Vec<_>>(), vec![0.0, 1.0]);
        for (before, after) in dense(&bank).iter().zip(&dense(&paired)) {
            assert!((before - after).norm_l2() < 1e-5 * (1.0 + before.norm_l2()), "pairing changed the tensor");
        }
    }

    #[test]
    fn pairing_refuses_what_it_cannot_pair() {
        let cols: [&[f32]; 2] = [&[1.0, 0.0], &[0.0, 1.0]];
        let mut dense_heads = symmetric(&cols, &[(0, 1.0), (1, -1.0)], 2, None);
        dense_heads.head.raw[(1, 0)] = 0.5;
        dense_heads.head.rule = HeadRule::Dense;
        let images = vec![Mat::zeros(1, 2), Mat::zeros(1, 2)];
        assert!(pair_bank(&dense_heads, &images).unwrap_err().to_string().contains("one-hot"));
        let mut cp = symmetric(&cols, &[(0, 1.0), (1, -1.0)], 2, None);
        cp.form = Form::Cp;
        assert!(pair_bank(&cp, &images).unwrap_err().to_string().contains("symmetric"));
    }
}
