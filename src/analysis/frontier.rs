//! Fidelity against interpretability across runs (SPEC §7.6, §10): scatter plots with the
//! Pareto front marked.

use serde_json::{Map, Value};

use crate::figures::{Scatter, ScatterPoint};

/// The axes drawn by default: (x metric, y metric, x label, y label). Fidelity on digits
/// against strength-weighted readability first (issue 10's frontier), then the reference's.
pub const AXES: [(&str, &str, &str, &str); 12] = [
    ("locality_7x7_weighted", "agreement", "weighted locality (7×7 energy share)", "agreement on test digits"),
    ("coherence_weighted", "agreement", "weighted coherence (3×3 smoothness)", "agreement on test digits"),
    ("sign_purity_weighted", "explanation_size", "weighted sign purity (1 = one-signed)", "explanation size (components per decision)"),
    ("explanation_size", "agreement", "explanation size (components per decision)", "agreement on test digits"),
    ("sign_purity_weighted", "cancellation", "weighted sign purity (1 = one-signed)", "cancellation (contributions over their total)"),
    ("locality_7x7_weighted", "logit_r2", "weighted locality (7×7 energy share)", "logit R² on test digits"),
    ("coherence_weighted", "logit_r2", "weighted coherence (3×3 smoothness)", "logit R² on test digits"),
    ("residual_fraction", "tensor_cosine", "residual fraction (lower: more of the fit is displayed)", "tensor cosine"),
    ("class_selectivity", "tensor_cosine", "class selectivity (1 = one-hot heads)", "tensor cosine"),
    ("locality_7x7", "tensor_cosine", "locality (7×7 energy share)", "tensor cosine"),
    ("displayed_cosine", "tensor_cosine", "displayed-dictionary cosine", "tensor cosine (with residual)"),
    ("class_selectivity", "displayed_test_accuracy", "class selectivity", "displayed-only test accuracy"),
];

/// A scatter of `y` against `x` over result rows (as in `results.json`): one point per
/// configuration (runs that differ only in seed are averaged), grouped by preset family
/// `group(preset)`, Pareto front marked (maximising both, except the metrics [`higher_is_better`] marks
/// as better low). Rows that carry the per-class eigendecomposition truncated to the same
/// number of rank-one patterns (`eigen_rank_matched.*`) add it as one point per rank, the fair
/// baseline of any dictionary on the same axes.
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
    for row in rows {
        let (Some(vx), Some(vy), Some(rank)) = (num(row, &baseline(x)), num(row, &baseline(y)), num(row, "n_patterns")) else { continue };
        let label = format!("eigen, rank {rank}");
        if !configs.iter().any(|c| c.0 == label) {
            configs.push((label, EIGEN_GROUP.to_string(), vx, vy, 1));
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
        pareto: Some((higher_is_better(x), higher_is_better(y))),
    }
}

/// Whether a larger value of metric `m` is better (a residual fraction, an explanation size
/// and cancellation are better small).
pub fn higher_is_better(m: &str) -> bool {
    !matches!(m, "residual_fraction" | "explanation_size" | "cancellation")
}

/// The group of the rank-matched eigen baseline's points.
pub const EIGEN_GROUP: &str = "eigen (rank-matched)";

/// The column holding metric `m` of the rank-matched eigen baseline.
fn baseline(m: &str) -> String {
    match m {
        "tensor_cosine" => "eigen_cosine_rank_matched".into(),
        _ => format!("eigen_rank_matched.{m}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(run_id: &str, fields: Value) -> Map<String, Value> {
        let mut m = fields.as_object().unwrap().clone();
        m.insert("run_id".into(), json!(run_id));
        m.insert("preset".into(), json!(run_id.split("__").next().unwrap()));
        m
    }

    #[test]
    fn seeds_average_and_the_rank_matched_eigen_baseline_joins_once_per_rank() {
        let rows = [
            row(
                "a__seed=0",
                json!({"coherence_weighted": 0.6, "agreement": 0.99, "n_patterns": 256, "eigen_rank_matched.coherence_weighted": 0.4, "eigen_rank_matched.agreement": 0.996}),
            ),
            row(
                "a__seed=1",
                json!({"coherence_weighted": 0.8, "agreement": 0.97, "n_patterns": 256, "eigen_rank_matched.coherence_weighted": 0.4, "eigen_rank_matched.agreement": 0.996}),
            ),
            row("b", json!({"coherence_weighted": 0.3, "agreement": 0.9})),
        ];
        let s = scatter(&rows, "coherence_weighted", "agreement", "x", "y", |p| p.to_string());
        let find = |label: &str| s.points.iter().find(|p| p.label == label).unwrap_or_else(|| panic!("no point {label}"));
        let a = find("a (2 seeds)");
        assert!((a.x - 0.7).abs() < 1e-12 && (a.y - 0.98).abs() < 1e-12);
        let e = find("eigen, rank 256");
        assert_eq!((e.x, e.y, e.group.as_str()), (0.4, 0.996, EIGEN_GROUP));
        assert_eq!(s.points.len(), 3, "one baseline point for the shared rank, none for the row without one");
    }
}
