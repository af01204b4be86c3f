//! The display view of a decomposition: one entry per component, sorted by strength, with
//! the unit-norm patterns people look at (SPEC §4.1, §9). Everything downstream (metrics,
//! figures, galleries, stability) reads this one type, so indices agree everywhere.

use faer::Mat;
use serde::Serialize;

use super::Decomposition;
use super::bank::{Form, Role};
use super::image_ops::{self, Images};
use super::loss::display_sources;
use super::pattern::Mask;
use crate::linalg;
use crate::metrics::patterns;

/// Where a component's mask sits (learnable masks only).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskInfo {
    pub centre_a: [f32; 2],
    pub sigma_a: f32,
    pub centre_b: [f32; 2],
    pub sigma_b: f32,
}

/// Components of (part of) a decomposition, strongest first.
#[derive(Clone, Debug)]
pub struct Components {
    /// Bank index and position within the bank of each component.
    pub origin: Vec<(usize, usize)>,
    pub form: Vec<Form>,
    pub role: Vec<Role>,
    /// Effective factors `I × R` (`b = a` for symmetric components).
    pub a: Mat<f32>,
    pub b: Mat<f32>,
    /// Heads `C × R`.
    pub heads: Mat<f32>,
    /// Unit display patterns `I × R`: CP `N(a+b)` / `N(a−b)`, split `N(p)` / `N(n)`,
    /// symmetric `N(v)` / zeros.
    pub plus: Mat<f32>,
    pub minus: Mat<f32>,
    /// Strength σ (SPEC §9.1).
    pub strength: Vec<f32>,
    /// Template indices `(a, b)` of anchored components, and their names.
    pub anchor: Vec<Option<(usize, usize)>>,
    pub anchor_names: Vec<Option<(String, String)>>,
    pub mask: Vec<Option<MaskInfo>>,
}

impl Components {
    /// Components of the banks `keep` selects, sorted by strength (descending).
    pub fn of(d: &mut Decomposition, keep: impl Fn(Role) -> bool) -> Self {
        let factors = d.forward();
        let mut cols: Vec<Column> = Vec::new();
        for (bi, (bank, f)) in d.banks.iter().zip(&factors).enumerate() {
            if !keep(bank.role) {
                continue;
            }
            let r = bank.rank();
            let (s, t) = display_sources(bank.form, f);
            let norm = |m: &Mat<f32>| {
                linalg::from_col_major(
                    &image_ops::normalize_columns(&linalg::to_col_major(m.as_ref()), Images { h: m.nrows(), w: 1, n: r }),
                    m.nrows(),
                    r,
                )
            };
            let (plus, minus) = (norm(&s), if bank.form == Form::Symmetric { t } else { norm(&t) });
            let strength = bank.strengths(f);
            let masks = |p: &super::pattern::Pattern| match &p.mask {
                Some(Mask::Learnable(m)) => Some((m.centres(), m.sigmas())),
                _ => None,
            };
            let (ma, mb) = (masks(&bank.a), bank.b.as_ref().and_then(masks));
            for k in 0..r {
                let col = |m: &Mat<f32>| m.col(k).iter().copied().collect::<Vec<f32>>();
                cols.push(Column {
                    origin: (bi, k),
                    form: bank.form,
                    role: bank.role,
                    a: col(&f.a),
                    b: col(&f.b),
                    head: col(&f.d),
                    plus: col(&plus),
                    minus: col(&minus),
                    strength: strength[k],
                    anchor: bank.anchor_ids.as_ref().map(|(ia, ib)| (ia[k], ib[k])),
                    anchor_names: bank.anchor_ids.as_ref().map(|(ia, ib)| {
                        let name = |i: usize| bank.anchor_names.get(i).cloned().unwrap_or_else(|| format!("template {i}"));
                        (name(ia[k]), name(ib[k]))
                    }),
                    mask: ma.as_ref().map(|(c, s)| {
                        let (cb, sb) = mb.as_ref().map_or((c[k], s[k]), |(c, s)| (c[k], s[k]));
                        MaskInfo { centre_a: c[k], sigma_a: s[k], centre_b: cb, sigma_b: sb }
                    }),
                });
            }
        }
        cols.sort_by(|x, y| y.strength.total_cmp(&x.strength));
        // Shapes come from the decomposition, so an empty selection is still well formed.
        let (n_inputs, n_classes) = factors.first().map_or((0, 0), |f| (f.a.nrows(), f.d.nrows()));
        let mat = |get: &dyn Fn(&Column) -> &Vec<f32>, rows: usize| Mat::from_fn(rows, cols.len(), |i, j| get(&cols[j])[i]);
        Self {
            a: mat(&|c| &c.a, n_inputs),
            b: mat(&|c| &c.b, n_inputs),
            heads: mat(&|c| &c.head, n_classes),
            plus: mat(&|c| &c.plus, n_inputs),
            minus: mat(&|c| &c.minus, n_inputs),
            origin: cols.iter().map(|c| c.origin).collect(),
            form: cols.iter().map(|c| c.form).collect(),
            role: cols.iter().map(|c| c.role).collect(),
            strength: cols.iter().map(|c| c.strength).collect(),
            anchor: cols.iter().map(|c| c.anchor).collect(),
            anchor_names: cols.iter().map(|c| c.anchor_names.clone()).collect(),
            mask: cols.iter().map(|c| c.mask).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.strength.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strength.is_empty()
    }

    /// Each component's contribution before its head, for a batch `x` (`n × I`):
    /// CP `(a·x)(b·x)`, symmetric `(a·x)²`, split `(a·x)² − (b·x)²`, so that
    /// `logit_c = Σ_r heads[c,r] · act_r`.
    pub fn activations(&self, x: faer::MatRef<'_, f32>) -> Mat<f32> {
        let (xa, xb) = (linalg::mul(x, self.a.as_ref()), linalg::mul(x, self.b.as_ref()));
        Mat::from_fn(xa.nrows(), xa.ncols(), |i, r| match self.form[r] {
            Form::Cp => xa[(i, r)] * xb[(i, r)],
            Form::Symmetric => xa[(i, r)] * xa[(i, r)],
            Form::Split => xa[(i, r)] * xa[(i, r)] - xb[(i, r)] * xb[(i, r)],
        })
    }

    /// Logits of the components alone (no bias).
    pub fn logits(&self, x: faer::MatRef<'_, f32>) -> Mat<f32> {
        linalg::mul(self.activations(x).as_ref(), self.heads.transpose())
    }

    /// The components at `indices` as CP triples (split components give two), for exact
    /// cosines of sub-dictionaries.
    pub fn tensor(&self, indices: &[usize]) -> crate::interaction::CpTensor {
        let mut heads = Vec::new();
        let mut u = Vec::new();
        let mut w = Vec::new();
        let col = |m: &Mat<f32>, r: usize| m.col(r).iter().copied().collect::<Vec<f32>>();
        for &r in indices {
            let d = col(&self.heads, r);
            match self.form[r] {
                Form::Cp => {
                    heads.push(d);
                    u.push(col(&self.a, r));
                    w.push(col(&self.b, r));
                }
                Form::Symmetric => {
                    heads.push(d);
                    u.push(col(&self.a, r));
                    w.push(col(&self.a, r));
                }
                Form::Split => {
                    heads.push(d.clone());
                    u.push(col(&self.a, r));
                    w.push(col(&self.a, r));
                    heads.push(d.iter().map(|v| -v).collect());
                    u.push(col(&self.b, r));
                    w.push(col(&self.b, r));
                }
            }
        }
        let mat = |cols: &[Vec<f32>], rows: usize| Mat::from_fn(rows, cols.len(), |i, j| cols[j][i]);
        crate::interaction::CpTensor::new(mat(&heads, self.heads.nrows()), mat(&u, self.a.nrows()), mat(&w, self.a.nrows()))
    }

    /// The class each component votes for: argmax of |head|, and the sign of that entry.
    pub fn head_class(&self, r: usize) -> (usize, f32) {
        let c = crate::model::argmax(self.heads.col(r).iter().map(|v| v.abs()));
        (c, self.heads[(c, r)].signum())
    }
}

struct Column {
    origin: (usize, usize),
    form: Form,
    role: Role,
    a: Vec<f32>,
    b: Vec<f32>,
    head: Vec<f32>,
    plus: Vec<f32>,
    minus: Vec<f32>,
    strength: f32,
    anchor: Option<(usize, usize)>,
    anchor_names: Option<(String, String)>,
    mask: Option<MaskInfo>,
}

/// One row of the per-component table (SPEC §14's wish list).
#[derive(Clone, Debug, Serialize)]
pub struct ComponentRow {
    pub rank: usize,
    pub bank: usize,
    pub index: usize,
    pub form: Form,
    pub strength: f32,
    pub strength_share: f32,
    pub head_class: usize,
    pub head_sign: f32,
    pub selectivity: f64,
    pub locality_plus: f64,
    pub locality_minus: f64,
    pub gini_plus: f64,
    pub gini_minus: f64,
    pub anchor_a: String,
    pub anchor_b: String,
    pub mask_centre_a: String,
    pub mask_sigma_a: String,
    pub mask_centre_b: String,
    pub mask_sigma_b: String,
}

/// The per-component table of `c`, in its (strength) order.
pub fn table(c: &Components) -> Vec<ComponentRow> {
    let total: f32 = c.strength.iter().sum();
    let col = |m: &Mat<f32>, r: usize| m.col(r).iter().copied().collect::<Vec<f32>>();
    let opt = |v: Option<String>| v.unwrap_or_default();
    (0..c.len())
        .map(|r| {
            let (head_class, head_sign) = c.head_class(r);
            let (plus, minus) = (col(&c.plus, r), col(&c.minus, r));
            let m = c.mask[r];
            ComponentRow {
                rank: r + 1,
                bank: c.origin[r].0,
                index: c.origin[r].1,
                form: c.form[r],
                strength: c.strength[r],
                strength_share: c.strength[r] / total.max(1e-12),
                head_class,
                head_sign,
                selectivity: patterns::component_selectivity(&col(&c.heads, r)),
                locality_plus: patterns::locality(&plus, 28, 28),
                locality_minus: patterns::locality(&minus, 28, 28),
                gini_plus: patterns::gini(&plus),
                gini_minus: patterns::gini(&minus),
                anchor_a: opt(c.anchor_names[r].as_ref().map(|(a, _)| a.clone())),
                anchor_b: opt(c.anchor_names[r].as_ref().map(|(_, b)| b.clone())),
                mask_centre_a: opt(m.map(|m| format!("({:.2}, {:.2})", m.centre_a[0], m.centre_a[1]))),
                mask_sigma_a: opt(m.map(|m| format!("{:.3}", m.sigma_a))),
                mask_centre_b: opt(m.map(|m| format!("({:.2}, {:.2})", m.centre_b[0], m.centre_b[1]))),
                mask_sigma_b: opt(m.map(|m| format!("{:.3}", m.sigma_b))),
            }
        })
        .collect()
}
