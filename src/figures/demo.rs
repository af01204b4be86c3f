//! Demo figures for eyeballing the module's output:
//! `cargo test --lib figures::demo -- --ignored`, then look in `$TMPDIR/figdemo/`.

use super::*;

fn blob(cx: f32, cy: f32, width: f32, sign: f32) -> Vec<f32> {
    (0..784)
        .map(|k| {
            let (r, c) = ((k / 28) as f32, (k % 28) as f32);
            sign * (-((r - cy).powi(2) + (c - cx).powi(2)) / (2.0 * width * width)).exp()
        })
        .collect()
}

/// A ring ("0") or a bar-and-stem ("7") drawn as a soft stroke.
fn digit(seven: bool) -> Vec<f32> {
    (0..784)
        .map(|k| {
            let (r, c) = ((k / 28) as f32, (k % 28) as f32);
            let d = if seven {
                let top = (r - 7.0).abs() + if (8.0..=20.0).contains(&c) { 0.0 } else { 9.0 };
                let stem = (c - (20.0 - (r - 7.0) * 0.45)).abs() + if (7.0..=23.0).contains(&r) { 0.0 } else { 9.0 };
                top.min(stem)
            } else {
                ((((r - 14.0) / 1.3).powi(2) + (c - 14.0).powi(2)).sqrt() - 7.0).abs()
            };
            (1.5 - d).clamp(0.0, 1.0)
        })
        .collect()
}

#[test]
#[ignore]
fn demo() {
    let dir = std::env::temp_dir().join("figdemo");
    let mut rows = vec![];
    let mut cell_titles = vec![];
    for i in 0..4 {
        let mut row: Vec<Cell> = (0..7)
            .map(|j| {
                let sign = if (i + j) % 2 == 0 { 1.0 } else { -1.0 };
                let mut p = blob(6.0 + 2.5 * j as f32, 8.0 + 3.0 * i as f32, 2.0 + j as f32 * 0.5, sign);
                let q = blob(20.0 - 2.0 * j as f32, 20.0, 3.0, -0.6 * sign);
                p.iter_mut().zip(q).for_each(|(a, b)| *a = (*a + b) * (1.0 + i as f32));
                Cell::Pattern(p)
            })
            .collect();
        row[6] = if i == 3 { Cell::Empty } else { Cell::Digit(digit(i % 2 == 0)) };
        row.push(Cell::Bars((0..10).map(|k| ((k as f32 + i as f32) * 1.3).sin() * (1.0 + i as f32)).collect()));
        cell_titles
            .push((0..8).map(|j| if j < 6 { format!("λ={:+.2}", 1.5 - 0.4 * j as f32 - i as f32) } else { String::new() }).collect());
        rows.push(row);
    }
    let mut grid = Grid {
        title: "Demo: dictionary components (synthetic blobs), shared colour scale".into(),
        column_titles: vec![
            "comp 0\nsparsity 0.12".into(),
            "comp 1\nsparsity 0.34".into(),
            "a rather long column title that must shrink".into(),
            "comp 3".into(),
            "comp 4\n2nd line".into(),
            "comp 5".into(),
            "input digit".into(),
            "head\n(logits)".into(),
        ],
        row_labels: vec!["digit 0".into(), "digit 1\nsecond line".into(), "a long row label".into(), "row 3".into()],
        rows,
        cell_titles,
        image_side: (28, 28),
        caption: "Red = positive weight, blue = negative, white = 0; one symmetric scale for every pattern in the figure. Digits are black ink on white. Head bars: one per class, red ≥ 0, blue < 0.".into(),
        scale: Scale::Shared,
    };
    draw_grid(&grid, &dir.join("grid_shared.png")).unwrap();
    grid.scale = Scale::PerRow;
    grid.title = "Same grid, per-row scale".into();
    draw_grid(&grid, &dir.join("grid_per_row.png")).unwrap();

    let big = Grid {
        title: "24 × 12 per-cell".into(),
        column_titles: (0..24).map(|j| format!("c{j}\nλ={:.2}", 1.0 / (j + 1) as f32)).collect(),
        row_labels: (0..12).map(|i| format!("digit {i}")).collect(),
        rows: (0..12)
            .map(|i| {
                (0..24)
                    .map(|j| Cell::Pattern(blob(j as f32 + 2.0, 2.0 * i as f32 + 3.0, 3.0, if j % 3 == 0 { -1.0 } else { 1.0 })))
                    .collect()
            })
            .collect(),
        cell_titles: vec![],
        image_side: (28, 28),
        caption: "".into(),
        scale: Scale::PerCell,
    };
    let start = std::time::Instant::now();
    let bytes = render_grid(&big).unwrap();
    eprintln!("24×12 grid: {:?}, {} kB", start.elapsed(), bytes.len() / 1024);
    crate::io::write_atomic(&dir.join("grid_big.png"), &bytes).unwrap();
    let ten = Grid { rows: big.rows[..8].iter().map(|r| r[..10].to_vec()).collect(), ..big.clone() };
    let start = std::time::Instant::now();
    render_grid(&ten).unwrap();
    eprintln!("8×10 grid: {:?}", start.elapsed());

    let series = |name: &str, a: f64, b: f64| Series {
        name: name.into(),
        points: (1..=60).map(|k| (k as f64 * 50.0, a * (k as f64).powf(-b) + 0.01 * (k as f64 * 0.7).sin().abs())).collect(),
    };
    let chart = LineChart {
        title: "Training loss".into(),
        x_label: "step".into(),
        y_label: "cross-entropy".into(),
        series: vec![series("train", 2.3, 0.9), series("test", 2.4, 0.7), series("test (pruned)", 2.6, 0.6)],
        log_x: false,
        log_y: true,
        markers: true,
    };
    draw_lines(&chart, &dir.join("lines_logy.png")).unwrap();
    let acc = LineChart {
        title: "Accuracy vs components kept".into(),
        x_label: "components kept".into(),
        y_label: "test accuracy".into(),
        series: vec![Series {
            name: "eigen".into(),
            points: (0..=10).map(|k| (2f64.powi(k), 1.0 - 0.9 * (-(k as f64) / 2.0).exp())).collect(),
        }],
        log_x: true,
        log_y: false,
        markers: true,
    };
    draw_lines(&acc, &dir.join("lines_logx.png")).unwrap();

    let methods = [
        ("eigen", "baseline"),
        ("l1-0.01", "l1"),
        ("l1-0.1", "l1"),
        ("l1-1", "l1"),
        ("topk-4", "topk"),
        ("topk-8", "topk"),
        ("topk-16", "topk"),
        ("nmf", "other"),
    ];
    let points = methods
        .iter()
        .enumerate()
        .map(|(k, (label, group))| ScatterPoint {
            label: label.to_string(),
            x: [40.0, 25.0, 12.0, 5.0, 4.0, 8.0, 16.0, 20.0][k],
            y: [0.97, 0.965, 0.95, 0.90, 0.93, 0.955, 0.968, 0.94][k],
            group: group.to_string(),
        })
        .collect();
    let scatter = Scatter {
        title: "Sparsity vs accuracy".into(),
        x_label: "mean active components per class".into(),
        y_label: "test accuracy".into(),
        points,
        pareto: Some((false, true)),
    };
    draw_scatter(&scatter, &dir.join("scatter.png")).unwrap();

    let bars: Vec<(String, f64)> = (0..64).map(|k| (format!("{k}"), 4.0 * (-(k as f64) / 8.0).exp() - 0.6 * (k as f64 / 64.0))).collect();
    bar_chart("Eigenvalue spectrum, digit 3", "eigenvalue index", "λ", &bars, &dir.join("bars.png")).unwrap();

    let minimal = Grid {
        title: String::new(),
        column_titles: vec![],
        row_labels: vec![],
        rows: vec![vec![Cell::Digit(digit(true)), Cell::Digit(digit(false))]],
        cell_titles: vec![],
        image_side: (28, 28),
        caption: String::new(),
        scale: Scale::Shared,
    };
    draw_grid(&minimal, &dir.join("grid_minimal.png")).unwrap();
}
