//! The display view of a decomposition: one [`Component`] record per component, sorted by
//! strength, with the unit-norm patterns people look at (SPEC §4.1, §9). Everything downstream
//! (metrics, figures, galleries, stability, the report) reads this one type, so indices agree
//! everywhere.

use faer::{Mat, MatRef};

use super::Decomposition;
use super::form::{Form, Role};
use crate::interaction::CpTensor;
use crate::linalg;

/// Where a component's learnable masks sit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskInfo {
    pub centre_a: [f32; 2],
    pub sigma_a: f32,
    pub centre_b: [f32; 2],
    pub sigma_b: f32,
}

/// One component: `head ⊗` the tensor its form makes of `(a, b)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Bank index and position within the bank.
    pub bank: usize,
    pub index: usize,
    pub form: Form,
    pub role: Role,
    /// Effective factors (`b = a` for symmetric components).
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    /// One weight per output (class).
    pub head: Vec<f32>,
    /// Unit display patterns (see [`Form::display`]); `minus` is zero for symmetric components.
    pub plus: Vec<f32>,
    pub minus: Vec<f32>,
    /// Strength σ (SPEC §9.1).
    pub strength: f32,
    /// Names of the templates of anchored components.
    pub anchors: Option<(String, String)>,
    pub mask: Option<MaskInfo>,
}

impl Component {
    /// Its contribution before the head for one input: [`Form::activation`] of `a·x`, `b·x`.
    pub fn activation(&self, x: &[f32]) -> f32 {
        let dot = |v: &[f32]| v.iter().zip(x).map(|(p, q)| p * q).sum::<f32>();
        self.form.activation(dot(&self.a), dot(&self.b))
    }

    /// Each display pattern's term in its vote on one input, `q (p·x)²` (`q = ¼` for CP
    /// components, 1 otherwise; the minus term 0 for symmetric ones): the activation is the
    /// plus term less the minus term. `[plus, minus]`.
    pub fn display_terms(&self, x: &[f32]) -> [f64; 2] {
        let dot = |v: &[f32]| v.iter().zip(x).map(|(&p, &q)| p as f64 * q as f64).sum::<f64>();
        let (a, b) = (dot(&self.a), dot(&self.b));
        let q = if self.form == Form::Cp { 0.25 } else { 1.0 };
        [0, 1].map(|side| q * self.form.display_projection(a, b, side).powi(2))
    }

    /// How much of the model each display pattern draws: `‖d‖ q ‖p‖²`, the Frobenius norm of
    /// the rank-one term `d ⊗ q p pᵀ` it stands for (`q = ¼` for CP components, whose term is
    /// `d ⊗ ¼[(a+b)(a+b)ᵀ − (a−b)(a−b)ᵀ]`; 1 otherwise). `[plus, minus]`.
    pub fn pattern_weights(&self) -> [f64; 2] {
        let norm_sq = |v: &[f32]| v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>();
        let head = norm_sq(&self.head).sqrt();
        let (a, b) = (Mat::from_fn(self.a.len(), 1, |i, _| self.a[i]), Mat::from_fn(self.b.len(), 1, |i, _| self.b[i]));
        let (plus, minus) = self.form.display(&a, &b);
        let q = if self.form == Form::Cp { 0.25 } else { 1.0 };
        [plus, minus].map(|p| head * q * norm_sq(linalg::col(p.as_ref(), 0)))
    }

    /// The output its head votes for most strongly (argmax |head|), and that entry's sign.
    pub fn head_class(&self) -> (usize, f32) {
        let c = crate::model::argmax(self.head.iter().map(|v| v.abs()));
        (c, self.head[c].signum())
    }
}

/// Components of (part of) a decomposition, strongest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Components {
    pub items: Vec<Component>,
    /// Input size and output count, so an empty selection is still well formed.
    pub inputs: usize,
    pub outputs: usize,
}

impl Components {
    /// Components of the banks whose role `keep` accepts, sorted by strength (descending).
    pub fn of(d: &Decomposition, keep: impl Fn(Role) -> bool) -> Self {
        let mut items = Vec::new();
        let factors = d.factors();
        for (bi, (bank, f)) in d.banks.iter().zip(&factors).enumerate() {
            if !keep(bank.role) {
                continue;
            }
            let (plus, minus) = bank.form.display(&f.a, &f.b);
            let strength = bank.strengths(f);
            let mask_of = |p: &super::pattern::Pattern| p.learnable_mask().map(|(m, _)| (m.centres(), m.sigmas()));
            let (ma, mb) = (mask_of(&bank.a), bank.b.as_ref().and_then(mask_of));
            for k in 0..bank.rank() {
                let col = |m: &Mat<f32>| m.col(k).iter().copied().collect::<Vec<f32>>();
                items.push(Component {
                    bank: bi,
                    index: k,
                    form: bank.form,
                    role: bank.role,
                    a: col(&f.a),
                    b: col(&f.b),
                    head: col(&f.d),
                    plus: unit(col(&plus)),
                    minus: unit(col(&minus)),
                    strength: strength[k],
                    anchors: bank.anchors.as_ref().map(|an| an.names_of(k)),
                    mask: ma.as_ref().map(|(c, s)| {
                        let (cb, sb) = mb.as_ref().map_or((c[k], s[k]), |(c, s)| (c[k], s[k]));
                        MaskInfo { centre_a: c[k], sigma_a: s[k], centre_b: cb, sigma_b: sb }
                    }),
                });
            }
        }
        items.sort_by(|x, y| y.strength.total_cmp(&x.strength));
        let (inputs, outputs) = factors.first().map_or((0, 0), |f| (f.a.nrows(), f.d.nrows()));
        Self { items, inputs, outputs }
    }

    /// Symmetric components `d_r ⊗ u_r u_rᵀ` from CP triples whose two factors are equal (an
    /// eigendecomposition), strongest first.
    pub fn of_symmetric(t: &CpTensor) -> Self {
        let col = |m: &Mat<f32>, k: usize| m.col(k).iter().copied().collect::<Vec<f32>>();
        let norm = |v: &[f32]| v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt() as f32;
        let mut items: Vec<Component> = (0..t.rank())
            .map(|k| {
                let (a, head) = (col(&t.u, k), col(&t.heads, k));
                Component {
                    bank: 0,
                    index: k,
                    form: Form::Symmetric,
                    role: Role::Displayed,
                    strength: norm(&a).powi(2) * norm(&head),
                    plus: unit(a.clone()),
                    minus: vec![0.0; a.len()],
                    b: a.clone(),
                    a,
                    head,
                    anchors: None,
                    mask: None,
                }
            })
            .collect();
        items.sort_by(|x, y| y.strength.total_cmp(&x.strength));
        Self { items, inputs: t.u.nrows(), outputs: t.heads.nrows() }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Component> {
        self.items.iter()
    }

    /// The first `k` components (the `k` strongest).
    pub fn top(&self, k: usize) -> Components {
        Components { items: self.items.iter().take(k).cloned().collect(), ..*self }
    }

    /// One column per component of `get`'s vectors (`rows × len`).
    fn matrix(&self, rows: usize, get: impl Fn(&Component) -> &[f32]) -> Mat<f32> {
        Mat::from_fn(rows, self.len(), |i, r| get(&self.items[r])[i])
    }

    pub fn a(&self) -> Mat<f32> {
        self.matrix(self.inputs, |c| &c.a)
    }

    pub fn b(&self) -> Mat<f32> {
        self.matrix(self.inputs, |c| &c.b)
    }

    pub fn heads(&self) -> Mat<f32> {
        self.matrix(self.outputs, |c| &c.head)
    }

    pub fn plus(&self) -> Mat<f32> {
        self.matrix(self.inputs, |c| &c.plus)
    }

    pub fn minus(&self) -> Mat<f32> {
        self.matrix(self.inputs, |c| &c.minus)
    }

    /// Rank-one patterns the components draw: 2 per CP or split component, 1 per symmetric
    /// one; the rank an eigen baseline is matched at.
    pub fn n_patterns(&self) -> usize {
        self.items.iter().map(|c| if c.form.has_minus() { 2 } else { 1 }).sum()
    }

    /// Strengths, strongest first.
    pub fn strengths(&self) -> Vec<f32> {
        self.items.iter().map(|c| c.strength).collect()
    }

    /// Each component's contribution before its head for a batch `x` (`n × inputs`), so that
    /// `logit_c = Σ_r head[c] · act_r`.
    pub fn activations(&self, x: MatRef<'_, f32>) -> Mat<f32> {
        let xa = linalg::mul(x, self.a().as_ref());
        // A symmetric component's activation reads `a` alone: no second product for them.
        if self.items.iter().all(|c| c.form == Form::Symmetric) {
            return Mat::from_fn(xa.nrows(), xa.ncols(), |i, r| xa[(i, r)] * xa[(i, r)]);
        }
        let xb = linalg::mul(x, self.b().as_ref());
        Mat::from_fn(xa.nrows(), xa.ncols(), |i, r| self.items[r].form.activation(xa[(i, r)], xb[(i, r)]))
    }

    /// Logits of the components alone (no bias).
    pub fn logits(&self, x: MatRef<'_, f32>) -> Mat<f32> {
        linalg::mul(self.activations(x).as_ref(), self.heads().transpose())
    }

    /// The components at `indices` as CP triples (split components give two), for exact
    /// cosines of sub-dictionaries.
    pub fn tensor(&self, indices: &[usize]) -> CpTensor {
        let n: usize = indices.iter().map(|&r| self.items[r].form.triples_per_component()).sum();
        let (mut d, mut u, mut w) = (Mat::zeros(self.outputs, n), Mat::zeros(self.inputs, n), Mat::zeros(self.inputs, n));
        let mut at = 0;
        for &r in indices {
            let c = &self.items[r];
            let k = c.form.triples_per_component();
            let f = super::form::Factors {
                a: Mat::from_fn(self.inputs, 1, |i, _| c.a[i]),
                b: Mat::from_fn(self.inputs, 1, |i, _| c.b[i]),
                d: Mat::from_fn(self.outputs, 1, |i, _| c.head[i]),
            };
            c.form.write_triples(&f, d.as_mut().subcols_mut(at, k), u.as_mut().subcols_mut(at, k), w.as_mut().subcols_mut(at, k));
            at += k;
        }
        CpTensor::new(d, u, w)
    }

    /// All components as CP triples.
    pub fn tensor_all(&self) -> CpTensor {
        self.tensor(&(0..self.len()).collect::<Vec<_>>())
    }
}

/// `v / ‖v‖` (zero stays zero).
fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    if norm > 1e-8 {
        v.iter_mut().for_each(|x| *x = (*x as f64 / norm) as f32);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::bank::{Bank, Head, HeadRule};
    use crate::decomp::pattern::Pattern;
    use crate::interaction::Interaction;

    /// A decomposition with one bank of every form and a residual bank.
    pub(crate) fn mixed(seed: u64, inputs: usize, outputs: usize) -> Decomposition {
        let mut rng = linalg::rng(seed);
        let mut bank = |form: Form, role: Role, r: usize| Bank {
            form,
            role,
            a: Pattern::fixed(linalg::randn(&mut rng, inputs, r, 1.0)),
            b: form.has_second_factor().then(|| Pattern::fixed(linalg::randn(&mut rng, inputs, r, 1.0))),
            head: Head { raw: linalg::randn(&mut rng, outputs, r, 1.0), rule: HeadRule::Dense },
            anchors: None,
        };
        let banks = vec![
            bank(Form::Cp, Role::Displayed, 3),
            bank(Form::Symmetric, Role::Displayed, 2),
            bank(Form::Split, Role::Displayed, 2),
            bank(Form::Cp, Role::Residual, 2),
        ];
        Decomposition { banks }
    }

    #[test]
    fn components_are_the_decomposition() {
        let d = mixed(1, 11, 3);
        let inter = Interaction::new(&crate::interaction::tests::small_model(2));
        let all = Components::of(&d, |_| true);
        assert_eq!(all.len(), 9);
        assert!(all.strengths().windows(2).all(|w| w[0] >= w[1]), "strongest first");
        // Same tensor (so the same cosine) and the same logits as the banks they come from.
        assert!((inter.cosine(&all.tensor_all()) - inter.cosine(&d.tensor())).abs() < 1e-6);
        let x = linalg::randn(&mut linalg::rng(3), 6, 11, 1.0);
        let (z, want) = (all.logits(x.as_ref()), d.tensor().logits(x.as_ref()));
        assert!((&z - &want).norm_l2() < 1e-4 * want.norm_l2());
        for (i, c) in all.iter().enumerate().take(3) {
            let xi: Vec<f32> = x.row(0).iter().copied().collect();
            assert!((c.activation(&xi) - all.activations(x.as_ref())[(0, i)]).abs() < 1e-4);
        }
        let shown = Components::of(&d, |r| r == Role::Displayed);
        assert!((inter.cosine(&shown.tensor_all()) - inter.cosine(&d.displayed_tensor())).abs() < 1e-6);
        assert!(shown.iter().filter(|c| c.form == Form::Symmetric).all(|c| c.minus.iter().all(|&v| v == 0.0)));
        assert!(shown.iter().all(|c| (c.plus.iter().map(|v| v * v).sum::<f32>() - 1.0).abs() < 1e-4), "unit plus patterns");
    }
}
