//! Questions asked of fitted decompositions, answered as numbers and as figure specifications
//! (the `figures` module renders them; nothing here writes files).
//!
//! Of one run: each component in words ([`describe`]), what each component responds to ([`gallery`]), why an image got its logits
//! ([`explain`]), how fidelity grows as components are kept ([`faithfulness`]), the component
//! figures ([`views`]). Of one model: the eigendecomposition baseline ([`eigen_baseline`]). Of
//! several runs: do different seeds find the same components ([`stability`]), which components
//! recur ([`consensus`]) — both compare components up to the symmetries that leave the tensor
//! unchanged and match them optimally ([`matching`]), fixing the reference's greedy, sign-blind
//! protocol (SPEC §13.13, §13.14) — and fidelity against readability ([`frontier`]).

pub mod atlas;
pub mod compare;
pub mod consensus;
pub mod describe;
pub mod eigen_baseline;
pub mod explain;
pub mod faithfulness;
pub mod frontier;
pub mod gallery;
pub mod stability;
pub mod table;
pub mod views;

#[cfg(test)]
pub(crate) mod testing {
    //! Small synthetic decompositions for the tests.

    use crate::decomp::{Component, Components, Form, Role};
    use crate::linalg;

    const PIXELS: usize = 64;
    const CLASSES: usize = 10;

    /// `r` random CP components (the last `n_sym` of them symmetric), with unit display
    /// patterns built as `Components::of` builds them, decreasing strengths and origin (0, k).
    pub fn random_components(seed: u64, r: usize, n_sym: usize) -> Components {
        let mut rng = linalg::rng(seed);
        let a = linalg::randn(&mut rng, PIXELS, r, 1.0);
        let b = linalg::randn(&mut rng, PIXELS, r, 1.0);
        let heads = linalg::randn(&mut rng, CLASSES, r, 1.0);
        let items = (0..r)
            .map(|k| {
                let form = if k + n_sym >= r { Form::Symmetric } else { Form::Cp };
                let col = |m: &faer::Mat<f32>| m.col(k).iter().copied().collect::<Vec<f32>>();
                let a = col(&a);
                let b = if form == Form::Symmetric { a.clone() } else { col(&b) };
                let plus = unit(a.iter().zip(&b).map(|(x, y)| x + y).collect());
                let minus = if form == Form::Symmetric { vec![0.0; PIXELS] } else { unit(a.iter().zip(&b).map(|(x, y)| x - y).collect()) };
                Component {
                    bank: 0,
                    index: k,
                    form,
                    role: Role::Displayed,
                    a,
                    b,
                    head: col(&heads),
                    plus,
                    minus,
                    strength: (r - k) as f32,
                    anchors: None,
                    mask: None,
                }
            })
            .collect();
        Components { items, inputs: PIXELS, outputs: CLASSES }
    }

    /// Symmetric components `d ⊗ v vᵀ` with one-hot heads: `(class, d, v)` each.
    pub fn symmetric_components(items: &[(usize, f32, Vec<f32>)]) -> Components {
        let inputs = items.first().map_or(PIXELS, |(_, _, v)| v.len());
        let items = items
            .iter()
            .enumerate()
            .map(|(k, (class, d, v))| Component {
                bank: 0,
                index: k,
                form: Form::Symmetric,
                role: Role::Displayed,
                a: v.clone(),
                b: v.clone(),
                head: (0..CLASSES).map(|c| if c == *class { *d } else { 0.0 }).collect(),
                plus: unit(v.clone()),
                minus: vec![0.0; v.len()],
                strength: 1.0,
                anchors: None,
                mask: None,
            })
            .collect();
        Components { items, inputs, outputs: CLASSES }
    }

    /// A copy of `x` whose component `k` is `x`'s component `perm[k]`, with `(a, b) → (−a, −b)`
    /// where `flip[k]` (plus and minus negated) and `(a, b, d) → (−a, b, −d)` where `swap[k]`
    /// (plus ↔ −minus, head negated). Both leave the component's tensor unchanged.
    pub fn transform(x: &Components, perm: &[usize], flip: &[bool], swap: &[bool]) -> Components {
        let neg = |v: &[f32]| v.iter().map(|x| -x).collect::<Vec<f32>>();
        let items = perm
            .iter()
            .enumerate()
            .map(|(k, &from)| {
                let mut c = x.items[from].clone();
                if flip[k] {
                    (c.a, c.b, c.plus, c.minus) = (neg(&c.a), neg(&c.b), neg(&c.plus), neg(&c.minus));
                }
                if swap[k] {
                    assert!(c.form == Form::Cp, "this swap is the CP symmetry");
                    (c.a, c.plus, c.minus, c.head) = (neg(&c.a), neg(&c.minus), neg(&c.plus), neg(&c.head));
                }
                c
            })
            .collect();
        Components { items, ..*x }
    }

    fn unit(v: Vec<f32>) -> Vec<f32> {
        let n = v.iter().map(|v| v * v).sum::<f32>().sqrt();
        v.into_iter().map(|x| if n > 0.0 { x / n } else { 0.0 }).collect()
    }
}
