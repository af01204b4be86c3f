//! Fidelity against interpretability across runs (SPEC §7.6, §10): scatter plots with the
//! Pareto front marked.

use serde_json::{Map, Value};

use crate::figures::{Scatter, ScatterPoint};

/// The axes drawn by default: (x metric, y metric, x label, y label).
pub const AXES: [(&str, &str, &str, &str); 5] = [
    ("residual_fraction", "tensor_cosine", "residual fraction (lower: more of the fit is displayed)", "tensor cosine"),
    ("class_selectivity", "tensor_cosine", "class selectivity (1 = one-hot heads)", "tensor cosine"),
    ("locality_7x7", "tensor_cosine", "locality (7×7 energy share)", "tensor cosine"),
    ("displayed_cosine", "tensor_cosine", "displayed-dictionary cosine", "tensor cosine (with residual)"),
    ("class_selectivity", "displayed_test_accuracy", "class selectivity", "displayed-only test accuracy"),
];

/// A scatter of `y` against `x` over result rows (as in `results.json`): one point per
/// configuration (runs that differ only in seed are averaged), grouped by preset family
/// `group(preset)`, Pareto front marked (maximising both, except that a residual fraction
/// is better low).
pub fn scatter(rows: &[Map<String, Value>], x: &str, y: &str, x_label: &str, y_label: &str, group: impl Fn(&str) -> String) -> Scatter {
    let num = |row: &Map<String, Value>, k: &str| row.get(k).and_then(Value::as_f64);
    // (label, family, Σx, Σy, runs)
    let mut configs: Vec<(String, String, f64, f64, usize)> = Vec::new();
    for row in rows {
        let (Some(preset), Some(vx), Some(vy)) = (row.get("preset").and_then(Value::as_str), num(row, x), num(row, y)) else { continue };
        let id = row.get("run_id").and_then(Value::as_str).unwrap_or(preset);
        let label = id.rsplit_once("__seed=").map_or(id, |(head, _)| head).to_string();
        match configs.iter_mut().find(|c| c.0 == label) {
            Some(c) => (c.2, c.3, c.4) = (c.2 + vx, c.3 + vy, c.4 + 1),
            None => configs.push((label, group(preset), vx, vy, 1)),
        }
    }
    let points = configs
        .into_iter()
        .map(|(label, group, sx, sy, n)| ScatterPoint {
            label: if n > 1 { format!("{label} ({n} seeds)") } else { label },
            x: sx / n as f64,
            y: sy / n as f64,
            group,
        })
        .collect();
    Scatter {
        title: format!("{y_label} vs {x_label}"),
        x_label: x_label.to_string(),
        y_label: y_label.to_string(),
        points,
        pareto: Some((x != "residual_fraction", true)),
    }
}
