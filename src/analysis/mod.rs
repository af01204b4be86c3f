//! Questions asked of several decompositions at once: do different seeds find the same
//! components ([`stability`]), and which components recur ([`consensus`]). Both compare
//! components up to the symmetries that leave the tensor unchanged and match them optimally
//! ([`matching`]), fixing the reference's greedy, sign-blind protocol (SPEC §13.13, §13.14).

pub mod consensus;
pub mod eigen_baseline;
pub mod explain;
pub mod faithfulness;
pub mod frontier;
pub mod gallery;
pub mod matching;
pub mod stability;

#[cfg(test)]
pub(crate) mod testing {
    //! Small synthetic decompositions for the tests.

    use faer::Mat;

    use crate::decomp::bank::{Form, Role};
    use crate::decomp::components::Components;
    use crate::linalg;

    const PIXELS: usize = 64;
    const CLASSES: usize = 10;

    /// `r` random CP components (the last `n_sym` of them symmetric), with unit display
    /// patterns built as `Components::of` builds them, decreasing strengths and origin (0, k).
    pub fn random_components(seed: u64, r: usize, n_sym: usize) -> Components {
        let mut rng = linalg::rng(seed);
        let a = linalg::randn(&mut rng, PIXELS, r, 1.0);
        let mut b = linalg::randn(&mut rng, PIXELS, r, 1.0);
        let heads = linalg::randn(&mut rng, CLASSES, r, 1.0);
        let form: Vec<Form> = (0..r).map(|k| if k + n_sym >= r { Form::Symmetric } else { Form::Cp }).collect();
        for (k, _) in form.iter().enumerate().filter(|f| *f.1 == Form::Symmetric) {
            b.col_mut(k).copy_from(a.col(k));
        }
        let plus = unit(&Mat::from_fn(PIXELS, r, |i, k| a[(i, k)] + b[(i, k)]));
        let minus = Mat::from_fn(PIXELS, r, |i, k| if form[k] == Form::Symmetric { 0.0 } else { a[(i, k)] - b[(i, k)] });
        Components {
            origin: (0..r).map(|k| (0, k)).collect(),
            role: vec![Role::Displayed; r],
            a,
            b,
            heads,
            plus,
            minus: unit(&minus),
            strength: (0..r).map(|k| (r - k) as f32).collect(),
            anchor: vec![None; r],
            anchor_names: vec![None; r],
            mask: vec![None; r],
            form,
        }
    }

    /// A copy of `x` whose component `k` is `x`'s component `perm[k]`, with `(a, b) → (−a, −b)`
    /// where `flip[k]` (plus and minus negated) and `(a, b, d) → (−a, b, −d)` where `swap[k]`
    /// (plus ↔ −minus, head negated). Both leave the component's tensor unchanged.
    pub fn transform(x: &Components, perm: &[usize], flip: &[bool], swap: &[bool]) -> Components {
        let r = perm.len();
        let mut y = x.clone();
        let pick = |m: &Mat<f32>| Mat::from_fn(m.nrows(), r, |i, k| m[(i, perm[k])]);
        let (mut a, mut b) = (pick(&x.a), pick(&x.b));
        let (mut plus, mut minus, mut heads) = (pick(&x.plus), pick(&x.minus), pick(&x.heads));
        for k in 0..r {
            if flip[k] {
                a.col_mut(k).iter_mut().for_each(|v| *v = -*v);
                b.col_mut(k).iter_mut().for_each(|v| *v = -*v);
                plus.col_mut(k).iter_mut().for_each(|v| *v = -*v);
                minus.col_mut(k).iter_mut().for_each(|v| *v = -*v);
            }
            if swap[k] {
                assert!(x.form[perm[k]] == Form::Cp, "this swap is the CP symmetry");
                a.col_mut(k).iter_mut().for_each(|v| *v = -*v);
                let p: Vec<f32> = plus.col(k).iter().copied().collect();
                for i in 0..p.len() {
                    plus[(i, k)] = -minus[(i, k)];
                    minus[(i, k)] = -p[i];
                }
                heads.col_mut(k).iter_mut().for_each(|v| *v = -*v);
            }
        }
        (y.a, y.b, y.plus, y.minus, y.heads) = (a, b, plus, minus, heads);
        y.origin = perm.iter().map(|&k| x.origin[k]).collect();
        y.form = perm.iter().map(|&k| x.form[k]).collect();
        y.role = perm.iter().map(|&k| x.role[k]).collect();
        y.strength = perm.iter().map(|&k| x.strength[k]).collect();
        y.anchor = perm.iter().map(|&k| x.anchor[k]).collect();
        y.anchor_names = perm.iter().map(|&k| x.anchor_names[k].clone()).collect();
        y.mask = perm.iter().map(|&k| x.mask[k]).collect();
        y
    }

    fn unit(m: &Mat<f32>) -> Mat<f32> {
        Mat::from_fn(m.nrows(), m.ncols(), |i, k| {
            let n = m.col(k).iter().map(|v| v * v).sum::<f32>().sqrt();
            if n > 0.0 { m[(i, k)] / n } else { 0.0 }
        })
    }
}
