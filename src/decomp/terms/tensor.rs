//! `tensor`: `1 − cos(T, B)`, the exact tensor cosine between the whole decomposition and its
//! target (SPEC §5, §8.1), from Gram matrices; the fit's fidelity in weight space.

use super::{Grads, Input, Schedule, Term};
use crate::decomp::recipe::Recipe;
use crate::interaction::{CpGrads, CpTensor, Interaction};
use crate::linalg;

pub struct Tensor;

impl Term for Tensor {
    fn name(&self) -> &'static str {
        "tensor"
    }

    fn weight(&self, recipe: &Recipe, _: Schedule) -> f32 {
        recipe.tensor
    }

    fn heavy(&self) -> bool {
        true
    }

    fn eval(&self, x: &Input<'_>, weight: f32, grads: &mut Grads) -> f64 {
        1.0 - x.data.target.cosine_loss(x.triples, weight, grads.triples(x.triples))
    }

    fn probe(&self) -> Recipe {
        super::probe_with(&["distill=0"])
    }
}

/// What a decomposition is fitted to: the interaction tensor `B`, optionally minus an
/// already-fitted CP tensor (the second stage of a boosted fit fits what the first missed).
pub struct Target<'a> {
    pub inter: &'a Interaction,
    pub minus: Option<CpTensor>,
    norm_sq: f64,
}

impl<'a> Target<'a> {
    pub fn new(inter: &'a Interaction, minus: Option<CpTensor>) -> Self {
        let norm_sq = match &minus {
            None => inter.norm_sq(),
            Some(s) => inter.norm_sq() - 2.0 * inter.inner(s, None) + s.norm_sq(None),
        };
        Self { inter, minus, norm_sq }
    }

    /// `‖target‖²`.
    pub fn norm_sq(&self) -> f64 {
        self.norm_sq
    }

    /// `⟨sym T, target⟩`.
    fn inner(&self, t: &CpTensor) -> f64 {
        self.inter.inner(t, None) - self.minus.as_ref().map_or(0.0, |s| t.inner(s, None))
    }

    /// Exact tensor cosine to the target.
    pub fn cosine(&self, t: &CpTensor) -> f64 {
        let denom = (t.norm_sq(None) * self.norm_sq).sqrt();
        if denom > 0.0 { self.inner(t) / denom } else { 0.0 }
    }

    /// `weight · (1 − cos(T, target))`; returns the cosine.
    ///
    /// Every product is computed once: the values first, then the gradients with weights that
    /// depend on them.
    pub fn cosine_loss(&self, t: &CpTensor, weight: f32, g: &mut CpGrads) -> f64 {
        // ‖T‖² and ⟨T, B⟩ are independent; so are their gradients (the norm's goes to a
        // buffer of its own, added last, whatever the thread count). They run side by side, each
        // splitting its products, so a free core takes work from the other's: one side is often
        // several times the other, and this beat keeping either side on one core at every rank
        // tried on e20 (32 to 1024).
        let (norm, inter) = linalg::join(|| t.grams(t), true, || self.inter.project(t), true);
        let n = norm.value();
        let denom = (n * self.norm_sq).sqrt();
        if denom == 0.0 {
            return 0.0;
        }
        let minus = self.minus.as_ref().map(|s| t.grams(s));
        let cos = (inter.value() - minus.as_ref().map_or(0.0, |m| m.value())) / denom;
        // ∂cos = ∂⟨T,B⟩/(‖T‖‖B‖) − cos·∂‖T‖²/(2‖T‖²), and ∂‖T‖² = 2 ∂_T⟨T, S⟩ at S = T.
        let w_inner = -weight / denom as f32;
        let w_norm = (weight as f64 * cos / n) as f32;
        let mut gn = CpGrads::zeros(t);
        linalg::join(
            || {
                inter.add_grad(w_inner, g);
                if let Some(m) = minus {
                    m.add_grad(-w_inner, g);
                }
            },
            true,
            || norm.add_grad(w_norm, &mut gn),
            true,
        );
        g.add(&gn);
        cos
    }
}
