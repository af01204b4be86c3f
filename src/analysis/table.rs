//! The per-component table (`components.csv`, the report's cards): each displayed
//! component's strength, head, pattern measures and description.

use serde::Serialize;

use super::describe::describe;
use crate::decomp::{Components, Form};
use crate::image::ImageShape;
use crate::metrics::patterns;

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
    pub locality_plus: Option<f64>,
    /// The minus pattern's measures are absent (empty in `components.csv`) for forms without one.
    pub locality_minus: Option<f64>,
    pub gini_plus: f64,
    pub gini_minus: Option<f64>,
    pub anchor_a: String,
    pub anchor_b: String,
    pub mask_centre_a: String,
    pub mask_sigma_a: String,
    pub mask_centre_b: String,
    pub mask_sigma_b: String,
    /// The component in words ([`describe`]).
    pub description: String,
}

/// The per-component table of `c`, in its (strength) order; locality needs an image grid.
pub fn component_table(c: &Components, image: Option<ImageShape>, class_names: Option<&[String]>) -> Vec<ComponentRow> {
    let total: f32 = c.strengths().iter().sum();
    let measured = image.filter(|s| s.supports_image_work());
    c.iter()
        .enumerate()
        .map(|(r, comp)| {
            let (head_class, head_sign) = comp.head_class();
            let m = comp.mask;
            let (anchor_a, anchor_b) = comp.anchors.clone().unwrap_or_default();
            ComponentRow {
                rank: r + 1,
                bank: comp.bank,
                index: comp.index,
                form: comp.form,
                strength: comp.strength,
                strength_share: comp.strength / total.max(1e-12),
                head_class,
                head_sign,
                selectivity: patterns::component_selectivity(&comp.head),
                locality_plus: measured.map(|s| patterns::locality(&comp.plus, s)),
                locality_minus: measured.filter(|_| comp.form.has_minus()).map(|s| patterns::locality(&comp.minus, s)),
                gini_plus: patterns::gini(&comp.plus),
                gini_minus: comp.form.has_minus().then(|| patterns::gini(&comp.minus)),
                anchor_a,
                anchor_b,
                mask_centre_a: m.map(|m| format!("({:.2}, {:.2})", m.centre_a[0], m.centre_a[1])).unwrap_or_default(),
                mask_sigma_a: m.map(|m| format!("{:.3}", m.sigma_a)).unwrap_or_default(),
                mask_centre_b: m.map(|m| format!("({:.2}, {:.2})", m.centre_b[0], m.centre_b[1])).unwrap_or_default(),
                mask_sigma_b: m.map(|m| format!("{:.3}", m.sigma_b)).unwrap_or_default(),
                description: describe(comp, image, class_names),
            }
        })
        .collect()
}
