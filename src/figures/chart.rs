//! Line charts, labelled scatter plots and signed bar charts.
//!
//! Axes are computed here rather than by plotters: data are mapped to plot coordinates
//! (log10 for log axes), limits get a small margin, and ticks are chosen and labelled by
//! [`Axis`], so linear and log axes share one code path.
//!
//! Non-finite values (and non-positive values on log axes) are **dropped**, breaking a line
//! where they occur; a figure with nothing left to plot is an error.

use super::{Area, Canvas, FONT, fit, fmt_num, text_width};
use anyhow::{Context, Result, bail};
use plotters::backend::{BitMapBackend, RGBPixel};
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

/// A named polyline of `(x, y)` points, drawn in the given order.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Curves sharing axes (training curves, sweeps); see [`draw_lines`].
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub series: Vec<Series>,
    pub log_x: bool,
    pub log_y: bool,
    /// Draw a dot at every point (useful for sparse sweeps).
    pub markers: bool,
}

/// One labelled point; points of the same `group` share a colour and a legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPoint {
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub group: String,
}

/// Labelled scatter plot, e.g. methods on a (sparsity, accuracy) plane; see [`draw_scatter`].
#[derive(Debug, Clone, PartialEq)]
pub struct Scatter {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub points: Vec<ScatterPoint>,
    /// Marks the Pareto front (ringed, joined by a line); `(maximise x, maximise y)`,
    /// `false` meaning that axis is minimised.
    pub pareto: Option<(bool, bool)>,
}

/// Charts are drawn this many times larger and box-filtered down: antialiased lines and
/// sub-pixel glyph placement, which plotters' bitmap backend lacks.
const SS: u8 = 3;
const CHART_SIZE: (usize, usize) = (900, 600);
const BAR_CHART_SIZE: (usize, usize) = (900, 500);
const TITLE_PT: f64 = 22.0;
const DESC_PT: f64 = 15.0;
const TICK_PT: f64 = 13.0;
const POINT_LABEL_PT: f64 = 12.0;
/// Matplotlib's tab10: distinct, colour-blind-friendlier than primaries.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Same convention as patterns and grid bar cells: red ≥ 0, blue < 0.
const BAR_POS: RGBColor = rgb(super::colormap::POSITIVE);
const BAR_NEG: RGBColor = rgb(super::colormap::NEGATIVE);

const fn rgb([r, g, b]: [u8; 3]) -> RGBColor {
    RGBColor(r, g, b)
}
const GRID_BOLD: RGBColor = RGBColor(215, 215, 215);
const GRID_LIGHT: RGBColor = RGBColor(238, 238, 238);

/// Output pixels (or points) → drawing pixels.
fn px<T: std::ops::Mul<Output = T> + From<u8>>(v: T) -> T {
    v * T::from(SS)
}

fn colour(k: usize) -> RGBColor {
    PALETTE[k % PALETTE.len()]
}

/// Renders a line chart to PNG bytes; [`draw_lines`] writes them to a file.
pub fn render_lines(chart: &LineChart) -> Result<Vec<u8>> {
    let (kx, ky) = (Kind::log(chart.log_x), Kind::log(chart.log_y));
    // Each series as runs of consecutive plottable points, in plot coordinates.
    let runs: Vec<Vec<Vec<(f64, f64)>>> = chart
        .series
        .iter()
        .map(|s| {
            let mut runs = vec![vec![]];
            for &(x, y) in &s.points {
                match (to_plot(&kx, x), to_plot(&ky, y)) {
                    (Some(u), Some(v)) => runs.last_mut().unwrap().push((u, v)),
                    _ => runs.push(vec![]),
                }
            }
            runs.retain(|r| !r.is_empty());
            runs
        })
        .collect();
    let all = || runs.iter().flatten().flatten();
    if all().next().is_none() {
        bail!("line chart {:?}: no plottable points (empty, non-finite, or ≤ 0 on a log axis)", chart.title);
    }
    let x_axis = Axis::fit(all().map(|p| p.0), kx, 0.03)?;
    let y_axis = Axis::fit(all().map(|p| p.1), ky, 0.05)?;
    let mut canvas = Canvas::new(CHART_SIZE.0, CHART_SIZE.1, SS as usize)?;
    canvas.draw(|area| {
        let mut plot = frame(area, &chart.title, &chart.x_label, &chart.y_label, &x_axis, &y_axis)?;
        for (k, (series, runs)) in chart.series.iter().zip(&runs).enumerate() {
            if runs.is_empty() {
                continue;
            }
            let c = colour(k);
            let style = c.stroke_width(px(2));
            let drawn = plot.draw_series(runs.iter().map(|r| PathElement::new(r.clone(), style)))?;
            drawn.label(series.name.as_str()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + px(22), y)], c.stroke_width(px(2))));
            if chart.markers {
                plot.draw_series(runs.iter().flatten().map(|&p| Circle::new(p, px(3), c.filled())))?;
            }
        }
        if chart.series.len() > 1 {
            let pts: Vec<(f64, f64)> = runs.iter().flatten().flat_map(|r| densify(r)).collect();
            legend(&mut plot, &x_axis, &y_axis, &pts)?;
        }
        Ok(())
    })?;
    canvas.into_png()
}

/// Draws a line chart (~900×600 px) as a PNG at `path`; a legend appears with more than one
/// series. Log axes drop non-positive values (see the module docs).
pub fn draw_lines(chart: &LineChart, path: &Path) -> Result<()> {
    crate::io::write_atomic(path, &render_lines(chart)?)
}

/// Renders a scatter plot to PNG bytes; [`draw_scatter`] writes them to a file.
pub fn render_scatter(plot: &Scatter) -> Result<Vec<u8>> {
    let points: Vec<&ScatterPoint> = plot.points.iter().filter(|p| p.x.is_finite() && p.y.is_finite()).collect();
    if points.is_empty() {
        bail!("scatter {:?}: no points with finite coordinates", plot.title);
    }
    let x_axis = Axis::fit(points.iter().map(|p| p.x), Kind::Linear, 0.08)?;
    let y_axis = Axis::fit(points.iter().map(|p| p.y), Kind::Linear, 0.08)?;
    let mut groups: Vec<&str> = vec![];
    for p in &points {
        if !groups.contains(&p.group.as_str()) {
            groups.push(&p.group);
        }
    }
    let front = plot.pareto.map(|maximise| pareto_front(&points, maximise));
    let mut canvas = Canvas::new(CHART_SIZE.0, CHART_SIZE.1, SS as usize)?;
    canvas.draw(|area| {
        let mut chart = frame(area, &plot.title, &plot.x_label, &plot.y_label, &x_axis, &y_axis)?;
        if let Some(front) = &front {
            let line: Vec<(f64, f64)> = front.iter().map(|&k| (points[k].x, points[k].y)).collect();
            let grey = RGBColor(90, 90, 90);
            chart
                .draw_series(std::iter::once(PathElement::new(line.clone(), grey.stroke_width(px(1)))))?
                .label("Pareto front")
                .legend(move |(x, y)| Circle::new((x + px(11), y), px(6), grey.stroke_width(px(2))));
            chart.draw_series(line.iter().map(|&p| Circle::new(p, px(8), grey.stroke_width(px(2)))))?;
        }
        let label_font = (FONT, px(POINT_LABEL_PT)).into_font();
        let anchors: Vec<(i32, i32)> = points.iter().map(|p| chart.backend_coord(&(p.x, p.y))).collect();
        let sizes: Vec<(i32, i32)> =
            points.iter().map(|p| (text_width(&p.label, px(POINT_LABEL_PT)) as i32, px(POINT_LABEL_PT) as i32)).collect();
        let (xs, ys) = chart.plotting_area().get_pixel_range();
        let slots = place_labels(&anchors, &sizes, (xs.start, ys.start, xs.end, ys.end));
        for (g, name) in groups.iter().enumerate() {
            let c = colour(g);
            let members = points.iter().zip(&slots).filter(|(p, _)| p.group == *name);
            let drawn = chart.draw_series(members.map(|(p, &slot)| {
                let (dx, dy, h, v) = LABEL_SLOTS[slot];
                let style = label_font.clone().color(&BLACK).pos(Pos::new(h, v));
                EmptyElement::at((p.x, p.y)) + Circle::new((0, 0), px(5), c.filled()) + Text::new(p.label.clone(), (px(dx), px(dy)), style)
            }))?;
            let name = if name.is_empty() { "(no group)" } else { name };
            drawn.label(name).legend(move |(x, y)| Circle::new((x + px(11), y), px(5), c.filled()));
        }
        if groups.len() > 1 || front.is_some() {
            let pts: Vec<(f64, f64)> = points.iter().map(|p| (p.x, p.y)).collect();
            legend(&mut chart, &x_axis, &y_axis, &pts)?;
        }
        Ok(())
    })?;
    canvas.into_png()
}

/// Where a point's label may go: offsets from the point (output pixels) and the text's anchor,
/// right of it and above first.
const LABEL_SLOTS: [(i32, i32, HPos, VPos); 12] = [
    (9, -5, HPos::Left, VPos::Bottom),
    (9, 5, HPos::Left, VPos::Top),
    (-9, -5, HPos::Right, VPos::Bottom),
    (-9, 5, HPos::Right, VPos::Top),
    (9, -19, HPos::Left, VPos::Bottom),
    (9, 19, HPos::Left, VPos::Top),
    (-9, -19, HPos::Right, VPos::Bottom),
    (-9, 19, HPos::Right, VPos::Top),
    (9, -33, HPos::Left, VPos::Bottom),
    (9, 33, HPos::Left, VPos::Top),
    (-9, -33, HPos::Right, VPos::Bottom),
    (-9, 33, HPos::Right, VPos::Top),
];

/// A slot of [`LABEL_SLOTS`] for each label, greedily in order: the first whose box overlaps no
/// label placed before it, no point and nothing outside `bounds` (`x0, y0, x1, y1`), else the
/// one that overlaps least. `anchors` are the points and `sizes` the labels' boxes, both in
/// drawing pixels. Plotters draws text where it is told, so sweeps whose points crowd (a
/// preset and its variants) would print their names over each other.
fn place_labels(anchors: &[(i32, i32)], sizes: &[(i32, i32)], bounds: Rect) -> Vec<usize> {
    let overlap = |a: Rect, b: Rect| -> i64 {
        let w = (a.2.min(b.2) - a.0.max(b.0)).max(0) as i64;
        let h = (a.3.min(b.3) - a.1.max(b.1)).max(0) as i64;
        w * h
    };
    let r = px(5);
    let dots: Vec<Rect> = anchors.iter().map(|&(x, y)| (x - r, y - r, x + r, y + r)).collect();
    let mut placed: Vec<Rect> = Vec::new();
    let mut out = Vec::with_capacity(anchors.len());
    for (k, (&anchor, &size)) in anchors.iter().zip(sizes).enumerate() {
        let cost = |b: Rect| -> i64 {
            let inside = overlap(b, bounds);
            let area = ((b.2 - b.0) as i64) * ((b.3 - b.1) as i64);
            let others: i64 =
                placed.iter().chain(dots.iter().enumerate().filter(|(j, _)| *j != k).map(|(_, d)| d)).map(|&o| overlap(b, o)).sum();
            others + (area - inside)
        };
        let costs: Vec<i64> = (0..LABEL_SLOTS.len()).map(|slot| cost(label_box(anchor, size, slot))).collect();
        let best = costs.iter().position(|&c| c == 0).unwrap_or_else(|| (0..costs.len()).min_by_key(|&i| costs[i]).unwrap_or(0));
        placed.push(label_box(anchor, size, best));
        out.push(best);
    }
    out
}

/// A box `(x0, y0, x1, y1)` in drawing pixels.
type Rect = (i32, i32, i32, i32);

/// The box of a label of `(w, h)` drawing pixels at slot `slot` of [`LABEL_SLOTS`] of the
/// point `(x, y)`.
fn label_box((x, y): (i32, i32), (w, h): (i32, i32), slot: usize) -> Rect {
    let (dx, dy, hp, vp) = LABEL_SLOTS[slot];
    let (ax, ay) = (x + px(dx), y + px(dy));
    let x0 = if matches!(hp, HPos::Right) { ax - w } else { ax };
    let y0 = if matches!(vp, VPos::Bottom) { ay - h } else { ay };
    (x0, y0, x0 + w, y0 + h)
}

/// Draws a scatter plot (~900×600 px) as a PNG at `path`: one colour per group with a legend,
/// every point annotated with its label. Points with non-finite coordinates are dropped.
pub fn draw_scatter(plot: &Scatter, path: &Path) -> Result<()> {
    crate::io::write_atomic(path, &render_scatter(plot)?)
}

/// Renders a bar chart to PNG bytes; [`bar_chart`] writes them to a file.
pub fn render_bar_chart(title: &str, x_label: &str, y_label: &str, bars: &[(String, f64)]) -> Result<Vec<u8>> {
    if !bars.iter().any(|b| b.1.is_finite()) {
        bail!("bar chart {title:?}: no finite values");
    }
    let n = bars.len();
    let widest = bars.iter().map(|b| text_width(&b.0, TICK_PT)).max().unwrap_or(0) as usize + 10;
    let every = (n * widest).div_ceil(BAR_CHART_SIZE.0 - 120).max(1);
    let names = bars.iter().map(|b| b.0.clone()).collect();
    let x_axis = Axis {
        lo: -0.5,
        hi: n as f64 - 0.5,
        major: (0..n).step_by(every).map(|k| k as f64).collect(),
        minor: vec![],
        kind: Kind::Categories(names),
    };
    let y_axis = Axis::fit(bars.iter().map(|b| b.1).chain([0.0]), Kind::Linear, 0.05)?;
    let mut canvas = Canvas::new(BAR_CHART_SIZE.0, BAR_CHART_SIZE.1, SS as usize)?;
    canvas.draw(|area| {
        let mut chart = frame(area, title, x_label, y_label, &x_axis, &y_axis)?;
        let half = if n > 200 { 0.5 } else { 0.4 };
        chart.draw_series(bars.iter().enumerate().filter(|(_, b)| b.1.is_finite()).map(|(k, b)| {
            let c = if b.1 >= 0.0 { BAR_POS } else { BAR_NEG };
            Rectangle::new([(k as f64 - half, 0.0), (k as f64 + half, b.1)], c.filled())
        }))?;
        let zero = RGBColor(60, 60, 60);
        chart.draw_series(std::iter::once(PathElement::new(vec![(x_axis.lo, 0.0), (x_axis.hi, 0.0)], zero.stroke_width(px(1)))))?;
        Ok(())
    })?;
    canvas.into_png()
}

/// Draws signed bars (e.g. an eigenvalue spectrum) as a PNG at `path`: red ≥ 0, blue < 0, with
/// a zero line; many bars get every k-th label. Non-finite values leave their slot empty.
pub fn bar_chart(title: &str, x_label: &str, y_label: &str, bars: &[(String, f64)], path: &Path) -> Result<()> {
    crate::io::write_atomic(path, &render_bar_chart(title, x_label, y_label, bars)?)
}

/// Indices of the non-dominated points, sorted by x. `maximise` says, per axis, whether larger is better.
fn pareto_front(points: &[&ScatterPoint], (max_x, max_y): (bool, bool)) -> Vec<usize> {
    let better = |a: f64, b: f64, maximise: bool| if maximise { a >= b } else { a <= b };
    let dominates = |a: &ScatterPoint, b: &ScatterPoint| better(a.x, b.x, max_x) && better(a.y, b.y, max_y) && (a.x != b.x || a.y != b.y);
    let mut front: Vec<usize> = (0..points.len()).filter(|&i| !points.iter().any(|q| dominates(q, points[i]))).collect();
    front.sort_by(|&a, &b| points[a].x.total_cmp(&points[b].x).then(points[a].y.total_cmp(&points[b].y)));
    front
}

/// Interpolated points along a polyline, so legend placement avoids lines, not just vertices.
fn densify(run: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = run.to_vec();
    for w in run.windows(2) {
        out.extend((1..8).map(|k| {
            let t = k as f64 / 8.0;
            (w[0].0 + t * (w[1].0 - w[0].0), w[0].1 + t * (w[1].1 - w[0].1))
        }));
    }
    out
}

type Chart<'a, 'b> = ChartContext<'a, BitMapBackend<'b, RGBPixel>, Cartesian2d<Axis, Axis>>;

/// Title, axes, ticks and grid lines shared by every chart.
fn frame<'a, 'b>(area: &'a Area<'b>, title: &str, x_label: &str, y_label: &str, x: &Axis, y: &Axis) -> Result<Chart<'a, 'b>> {
    let (w, _) = area.dim_in_pixel();
    let title = fit(title, px(TITLE_PT), w.saturating_sub(px(40)));
    let y_tick_w = y.major.iter().map(|&t| text_width(&y.label(t), px(TICK_PT))).max().unwrap_or(0);
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(px(18))
        .margin_right(px(28))
        .x_label_area_size(px(if x_label.is_empty() { 30 } else { 52 }))
        .y_label_area_size(y_tick_w + px(if y_label.is_empty() { 16 } else { 40 }));
    if !title.is_empty() {
        builder.caption(&title, (FONT, px(TITLE_PT)));
    }
    let mut chart = builder.build_cartesian_2d(x.clone(), y.clone()).context("laying out the chart")?;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(x_label)
        .y_desc(y_label)
        .label_style((FONT, px(TICK_PT)))
        .axis_desc_style((FONT, px(DESC_PT)))
        .axis_style(BLACK.stroke_width(px(1)))
        .set_all_tick_mark_size(px(5))
        .bold_line_style(GRID_BOLD.stroke_width(px(1)))
        .light_line_style(GRID_LIGHT.stroke_width(px(1)));
    if matches!(x.kind, Kind::Categories(_)) {
        mesh.disable_x_mesh();
    }
    mesh.draw().context("drawing the axes")?;
    Ok(chart)
}

/// Draws the series legend in the plot corner holding the fewest of `points` (plot coordinates).
fn legend<'a, 'b: 'a>(chart: &mut Chart<'a, 'b>, x: &Axis, y: &Axis, points: &[(f64, f64)]) -> Result<()> {
    use SeriesLabelPosition::*;
    let corners = [(UpperRight, true, true), (UpperLeft, false, true), (LowerRight, true, false), (LowerLeft, false, false)];
    let crowd = |right: bool, top: bool| {
        let in_corner = |&&(px, py): &&(f64, f64)| {
            let u = (px - x.lo) / (x.hi - x.lo);
            let v = (py - y.lo) / (y.hi - y.lo);
            (if right { u > 0.6 } else { u < 0.4 }) && (if top { v > 0.65 } else { v < 0.35 })
        };
        points.iter().filter(in_corner).count()
    };
    let best = corners.into_iter().min_by_key(|&(_, r, t)| crowd(r, t)).map_or(UpperRight, |c| c.0);
    chart
        .configure_series_labels()
        .position(best)
        .margin(px(10))
        .legend_area_size(px(32))
        .label_font((FONT, px(TICK_PT)))
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(160, 160, 160).stroke_width(px(1)))
        .draw()
        .context("drawing the legend")
}

/// How an axis maps and labels values.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Linear,
    /// Plot coordinate is log10(value).
    Log,
    /// Integer positions named by the strings (bar charts).
    Categories(Vec<String>),
}

impl Kind {
    fn log(log: bool) -> Self {
        if log { Kind::Log } else { Kind::Linear }
    }
}

/// One axis in plot coordinates: limits, major (labelled) and minor ticks.
#[derive(Debug, Clone)]
struct Axis {
    lo: f64,
    hi: f64,
    major: Vec<f64>,
    minor: Vec<f64>,
    kind: Kind,
}

impl Axis {
    /// Fits limits around `values` (plot coordinates, see [`to_plot`]) with `margin`
    /// (a fraction of the span) each side.
    fn fit(values: impl IntoIterator<Item = f64>, kind: Kind, margin: f64) -> Result<Self> {
        let (min, max) =
            values.into_iter().filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
        if min > max {
            bail!("no finite values for an axis");
        }
        let pad = if max > min {
            margin * (max - min)
        } else if kind == Kind::Log {
            0.5
        } else {
            (0.1 * min.abs()).max(if min == 0.0 { 1.0 } else { 0.0 })
        };
        let (lo, hi) = (min - pad, max + pad);
        let (major, minor) = if kind == Kind::Log { log_ticks(lo, hi) } else { (linear_ticks(lo, hi), vec![]) };
        Ok(Self { lo, hi, major, minor, kind })
    }

    /// Tick label of plot coordinate `t`.
    fn label(&self, t: f64) -> String {
        match &self.kind {
            Kind::Log => fmt_num(10f64.powf(t)),
            Kind::Categories(names) => {
                let k = t.round();
                if (t - k).abs() < 1e-6 && k >= 0.0 { names.get(k as usize).cloned().unwrap_or_default() } else { String::new() }
            }
            Kind::Linear => {
                let step = self.major.windows(2).map(|w| w[1] - w[0]).next().unwrap_or(1.0);
                let big = self.lo.abs().max(self.hi.abs());
                if !(1e-4..1e5).contains(&step) || big >= 1e6 {
                    return fmt_num(t);
                }
                let decimals = (-step.log10().floor()).max(0.0) as usize;
                let s = format!("{t:.decimals$}");
                if s.trim_start_matches('-').chars().all(|c| c == '0' || c == '.') { "0".into() } else { s }
            }
        }
    }
}

/// Plot coordinate of a data value, or None when it cannot be drawn on an axis of this kind.
fn to_plot(kind: &Kind, v: f64) -> Option<f64> {
    match kind {
        _ if !v.is_finite() => None,
        Kind::Log if v <= 0.0 => None,
        Kind::Log => Some(v.log10()),
        _ => Some(v),
    }
}

/// Plotters draws our axes as they are: linear in plot coordinates, our ticks, our labels.
impl Ranged for Axis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, (start, end): (i32, i32)) -> i32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        (start as f64 + t * (end - start) as f64).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() { self.minor.clone() } else { self.major.clone() }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for Axis {
    fn format_ext(&self, v: &f64) -> String {
        self.label(*v)
    }
}

/// Multiples of a 1-2-5 step giving about 6–10 ticks in `[lo, hi]`.
fn linear_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let raw = (hi - lo) / 8.0;
    if raw <= 0.0 || !raw.is_finite() {
        return vec![lo];
    }
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].into_iter().map(|m| m * mag).find(|&s| s >= raw).unwrap_or(10.0 * mag);
    let (first, last) = ((lo / step).ceil() as i64, (hi / step).floor() as i64);
    if last.saturating_sub(first) > 100 {
        return vec![lo, hi]; // float trouble at extreme magnitudes; never loop for long
    }
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Log-axis ticks (in log10 units): decades, plus 2 and 5 when few decades are visible;
/// minor ticks at 2..9 × 10^k. Falls back to linear ticks within less than a decade.
fn log_ticks(lo: f64, hi: f64) -> (Vec<f64>, Vec<f64>) {
    let (first, last) = (lo.ceil() as i64, hi.floor() as i64);
    let decades = (last - first + 1).max(0) as usize;
    let in_range = |t: &f64| (lo..=hi).contains(t);
    let at = |m: f64, d: i64| (m * 10f64.powi(d as i32)).log10();
    let mantissas: &[f64] = if decades < 3 { &[1.0, 2.0, 5.0] } else { &[1.0] };
    let stride = decades.div_ceil(10).max(1);
    let span = (lo.floor() as i64)..=(hi.ceil() as i64);
    let major: Vec<f64> = span
        .clone()
        .filter(|d| (d - first).rem_euclid(stride as i64) == 0)
        .flat_map(|d| mantissas.iter().map(move |&m| at(m, d)))
        .filter(in_range)
        .collect();
    if major.len() < 2 {
        let lin = linear_ticks(10f64.powf(lo), 10f64.powf(hi));
        return (lin.into_iter().filter(|&v| v > 0.0).map(f64::log10).filter(in_range).collect(), vec![]);
    }
    let minor = if decades <= 8 { span.flat_map(|d| (2..10).map(move |m| at(m as f64, d))).filter(in_range).collect() } else { vec![] };
    (major, minor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::test_util::decode;
    use crate::scratch::Scratch;

    fn loss_chart() -> LineChart {
        let curve = |name: &str, scale: f64| Series {
            name: name.into(),
            points: (1..=50).map(|k| (k as f64 * 100.0, scale * (k as f64).powf(-0.7))).collect(),
        };
        LineChart {
            title: "Loss".into(),
            x_label: "step".into(),
            y_label: "loss".into(),
            series: vec![curve("train", 2.0), curve("test", 2.5)],
            log_x: false,
            log_y: true,
            markers: false,
        }
    }

    #[test]
    fn line_chart_renders_png() {
        let chart = loss_chart();
        let (w, h, _) = decode(&render_lines(&chart).unwrap());
        assert_eq!((w as usize, h as usize), CHART_SIZE);
        draw_lines(&chart, &Scratch::new("figures-chart").join("lines.png")).unwrap();
    }

    #[test]
    fn log_axes_drop_non_positive_and_nan_points() {
        let mut chart = loss_chart();
        chart.log_x = true;
        chart.markers = true;
        chart.series[0].points[3].1 = 0.0;
        chart.series[0].points[7].1 = f64::NAN;
        chart.series[1].points[0].0 = -1.0;
        assert!(render_lines(&chart).is_ok());
        chart.series = vec![Series { name: "bad".into(), points: vec![(1.0, 0.0), (2.0, -1.0), (f64::NAN, 1.0)] }];
        let err = render_lines(&chart).unwrap_err();
        assert!(err.to_string().contains("no plottable points"), "{err}");
    }

    #[test]
    fn empty_inputs_are_errors() {
        let mut chart = loss_chart();
        chart.series.clear();
        assert!(render_lines(&chart).is_err());
        chart.series = vec![Series { name: "none".into(), points: vec![] }];
        assert!(render_lines(&chart).is_err());
        let empty = Scatter { title: "t".into(), x_label: "x".into(), y_label: "y".into(), points: vec![], pareto: None };
        assert!(render_scatter(&empty).is_err());
        assert!(render_bar_chart("t", "x", "y", &[]).is_err());
        assert!(render_bar_chart("t", "x", "y", &[("a".into(), f64::NAN)]).is_err());
    }

    #[test]
    fn scatter_renders_with_pareto_front() {
        let point = |label: &str, x, y, group: &str| ScatterPoint { label: label.into(), x, y, group: group.into() };
        let plot = Scatter {
            title: "Sparsity vs accuracy".into(),
            x_label: "active components".into(),
            y_label: "accuracy".into(),
            points: vec![
                point("a", 5.0, 0.90, "l1"),
                point("b", 10.0, 0.95, "l1"),
                point("c", 10.0, 0.93, "topk"),
                point("d", 20.0, 0.97, "topk"),
                point("e", f64::NAN, 0.5, "topk"),
            ],
            pareto: Some((false, true)),
        };
        let finite: Vec<&ScatterPoint> = plot.points.iter().filter(|p| p.x.is_finite()).collect();
        let front: Vec<&str> = pareto_front(&finite, (false, true)).iter().map(|&k| finite[k].label.as_str()).collect();
        assert_eq!(front, ["a", "b", "d"]);
        let (w, h, _) = decode(&render_scatter(&plot).unwrap());
        assert_eq!((w as usize, h as usize), CHART_SIZE);
        draw_scatter(&plot, &Scratch::new("figures-chart").join("scatter.png")).unwrap();
    }

    /// Labels of crowded points go where no other label, point or edge is; a lone point's
    /// label goes right of it, and near the right edge to its left.
    #[test]
    fn crowded_labels_do_not_overlap() {
        let bounds = (0, 0, px(900), px(600));
        let (wide, h) = (px(300), px(12));
        let anchors = [(px(400), px(300)), (px(402), px(301)), (px(405), px(299)), (px(398), px(302))];
        let sizes = [(wide, h); 4];
        let slots = place_labels(&anchors, &sizes, bounds);
        let rects: Vec<_> = (0..4).map(|k| label_box(anchors[k], sizes[k], slots[k])).collect();
        for a in 0..4 {
            for b in a + 1..4 {
                let (ra, rb) = (rects[a], rects[b]);
                let apart = ra.2 <= rb.0 || rb.2 <= ra.0 || ra.3 <= rb.1 || rb.3 <= ra.1;
                assert!(apart, "labels {a} and {b} overlap: {ra:?} {rb:?} (slots {slots:?})");
            }
        }
        assert_eq!(place_labels(&[(px(100), px(300))], &[(wide, h)], bounds), [0], "right of the point");
        let at_edge = place_labels(&[(px(850), px(300))], &[(wide, h)], bounds)[0];
        assert!(matches!(LABEL_SLOTS[at_edge].2, HPos::Right), "near the right edge, to the left");
    }

    #[test]
    fn bar_chart_renders_png() {
        let bars: Vec<(String, f64)> = (0..30).map(|k| (format!("λ{k}"), 3.0 - 0.2 * k as f64)).collect();
        let (w, h, _) = decode(&render_bar_chart("Spectrum", "index", "eigenvalue", &bars).unwrap());
        assert_eq!((w as usize, h as usize), BAR_CHART_SIZE);
        bar_chart("Spectrum", "index", "eigenvalue", &bars, &Scratch::new("figures-chart").join("bars.png")).unwrap();
    }

    #[test]
    fn ticks_are_sensible() {
        let ticks = linear_ticks(-0.05, 1.05);
        assert_eq!(ticks.len(), 6);
        assert!(ticks.iter().zip([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]).all(|(a, b)| (a - b).abs() < 1e-12));
        let (major, minor) = log_ticks(-3.2, 0.3);
        let labels: Vec<String> = major.iter().map(|&t| fmt_num(10f64.powf(t))).collect();
        assert_eq!(labels, ["0.001", "0.01", "0.1", "1"]);
        assert!(!minor.is_empty());
        let (major, _) = log_ticks(0.35, 0.6); // 2.2 .. 4: no decade inside
        assert!(major.len() >= 2);
    }
}
