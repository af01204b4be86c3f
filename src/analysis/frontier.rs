//! Fidelity against interpretability across runs (SPEC §7.6, §10): scatter plots with the
//! Pareto front marked.

use serde_json::{Map, Value};

use crate::figures::{Scatter, ScatterPoint};

/// The axes drawn by default: (x metric, y metric, x label, y label).
pub const AXES: [(&str, &str, &str, &str); 5] = [
    ("residual_fraction", "tensor_cosine", "residual fraction (lower: more of the fit is displayed)", "tensor cosine"),
    (
        "class_selectivity",
        "tensor_cosine",
        "class selectivity (1 = one-hot heads)",
        "tensor cosine",
    ),
    (
        "locality_7x7",
        "tensor_cosine",
        "locality (7×7 energy share)",
        "tensor cosine",
    ),
    (
        "displayed_cosine",
        "tensor_cosine",
        "displayed-dictionary cosine",
        "tensor cosine (with residual)",
    ),
    (
        "class_selectivity",
        "displayed_test_accuracy",
        "class selectivity",
        "displayed-only test accuracy",
    ),
];

/// A scatter of `y` against `x` over result rows (as in `results.json`), one point per row,
/// grouped by preset family `group(preset)`, Pareto front (maximising both) marked.
pub fn scatter(
    rows: &[Map<String, Value>],
    x: &str,
    y: &str,
    x_label: &str,
    y_label: &str,
    group: impl Fn(&str) -> String,
) -> Scatter {
    let num = |row: &Map<String, Value>, k: &str| row.get(k).and_then(Value::as_f64);
    let points = rows
        .iter()
        .filter_map(|row| {
            let preset = row.get("preset")?.as_str()?;
            let label = row.get("run_id").and_then(Value::as_str).unwrap_or(preset);
            Some(ScatterPoint {
                label: short(label),
                x: num(row, x)?,
                y: num(row, y)?,
                group: group(preset),
            })
        })
        .collect();
    Scatter {
        title: format!("{y_label} vs {x_label}"),
        x_label: x_label.to_string(),
        y_label: y_label.to_string(),
        points,
        pareto: Some((true, true)),
    }
}

/// Run ids without the default-seed suffix, to keep labels short.
fn short(id: &str) -> String {
    id.trim_end_matches("__seed=0").to_string()
}
