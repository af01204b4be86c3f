//! Charts drawn as inline SVG: their text stays text (sharp and legible at the size the page
//! shows it), a chart costs a few kilobytes, and scatter points carry hover labels and links.

use std::fmt::Write as _;

use super::html::{Html, escape};

/// Sizes in CSS pixels (line charts, scatters); text is 12–14 px at these sizes.
const LINES: (f64, f64) = (500.0, 330.0);
const SCATTER: (f64, f64) = (720.0, 460.0);
const LEFT: f64 = 60.0;
const RIGHT: f64 = 18.0;
/// Room above the plot for the title and the line chart's key.
const TOP: f64 = 48.0;
const BOTTOM: f64 = 46.0;
/// The smallest text of a chart (`.tick` in report.css), and the smallest size it may be shown
/// at: a chart is never drawn narrower than this allows (it scrolls sideways instead).
const SMALLEST_TEXT: f64 = 12.0;
const MIN_SHOWN_TEXT: f64 = 10.0;
/// Points per series kept for drawing (long histories are thinned evenly).
const MAX_POINTS: usize = 120;
/// Matplotlib's tab10, as the PNG figures use.
pub const PALETTE: [&str; 10] =
    ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

/// One named line.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A line chart.
pub struct Lines<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub series: Vec<Series>,
    pub log_y: bool,
}

/// One scatter point: a hover label, a colour group, a link, and whether it is on the front.
pub struct Point {
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub group: usize,
    pub href: String,
    pub pareto: bool,
}

/// A scatter of runs with its Pareto front ringed and labelled.
pub struct Scatter<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub points: Vec<Point>,
    /// Names of the colour groups, by index.
    pub groups: Vec<String>,
}

/// Maps data to the plot area of a chart of size `size`.
struct Frame {
    x: (f64, f64),
    y: (f64, f64),
    log_y: bool,
    size: (f64, f64),
}

impl Frame {
    fn new(points: impl Iterator<Item = (f64, f64)> + Clone, log_y: bool, size: (f64, f64)) -> Option<Self> {
        let ty = |y: f64| if log_y { y.log10() } else { y };
        let valid = points.filter(|&(x, y)| x.is_finite() && ty(y).is_finite());
        let span = |vals: Vec<f64>| -> Option<(f64, f64)> {
            let (lo, hi) = vals.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            if !lo.is_finite() {
                return None;
            }
            let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 * lo.abs().max(1e-3) };
            Some((lo - pad, hi + pad))
        };
        Some(Self { x: span(valid.clone().map(|p| p.0).collect())?, y: span(valid.map(|p| ty(p.1)).collect())?, log_y, size })
    }

    fn px(&self, x: f64) -> f64 {
        LEFT + (x - self.x.0) / (self.x.1 - self.x.0) * (self.size.0 - LEFT - RIGHT)
    }

    fn py(&self, y: f64) -> f64 {
        let y = if self.log_y { y.log10() } else { y };
        self.size.1 - BOTTOM - (y - self.y.0) / (self.y.1 - self.y.0) * (self.size.1 - TOP - BOTTOM)
    }

    /// Opens the SVG (with its role and accessible name) and draws axes, grid lines, tick
    /// labels, title and axis labels.
    fn axes(&self, s: &mut String, role: &str, name: &str, title: &str, x_label: &str, y_label: &str) {
        let (w, h) = self.size;
        let (x0, x1, y0, y1) = (LEFT, w - RIGHT, TOP, h - BOTTOM);
        let _ = write!(
            s,
            r##"<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" style="min-width:{:.0}px" role="{role}" aria-label="{}">"##,
            // A pixel more than the exact width, against rounding of the chart's scale.
            (w * MIN_SHOWN_TEXT / SMALLEST_TEXT).ceil() + 1.0,
            escape(name)
        );
        for (v, text) in ticks(self.x) {
            let x = self.px(v);
            let _ = write!(
                s,
                r##"<line x1="{x:.1}" y1="{y0}" x2="{x:.1}" y2="{y1}" class="grid"/><text x="{x:.1}" y="{:.1}" class="tick" text-anchor="middle">{text}</text>"##,
                y1 + 16.0
            );
        }
        let y_ticks = if self.log_y { log_ticks(self.y) } else { ticks(self.y) };
        for (v, text) in y_ticks {
            let y = self.py(v);
            let _ = write!(
                s,
                r##"<line x1="{x0}" y1="{y:.1}" x2="{x1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{text}</text>"##,
                x0 - 6.0,
                y + 4.0
            );
        }
        let _ = write!(
            s,
            r##"<rect x="{x0}" y="{y0}" width="{:.1}" height="{:.1}" class="frame"/><text x="{x0}" y="18" class="title">{}</text><text x="{:.1}" y="{:.1}" class="label" text-anchor="middle">{}</text><text transform="translate(14 {:.1}) rotate(-90)" class="label" text-anchor="middle">{}</text>"##,
            x1 - x0,
            y1 - y0,
            escape(title),
            (x0 + x1) / 2.0,
            h - 8.0,
            escape(x_label),
            (y0 + y1) / 2.0,
            escape(y_label)
        );
    }
}

/// About five round tick values inside `(lo, hi)`, with their text.
fn ticks((lo, hi): (f64, f64)) -> Vec<(f64, String)> {
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + 1e-9 * step && out.len() < 12 {
        out.push((v, number(v, step)));
        v += step;
    }
    out
}

/// Ticks of a log axis whose range `(lo, hi)` is in decades: the powers of ten inside it, or
/// round values in between when it spans less than two of them.
fn log_ticks((lo, hi): (f64, f64)) -> Vec<(f64, String)> {
    let powers: Vec<f64> = (lo.ceil() as i32..=hi.floor() as i32).map(|k| 10f64.powi(k)).collect();
    let values = if powers.len() >= 2 { powers } else { ticks((lo, hi)).into_iter().map(|(v, _)| 10f64.powf(v)).collect() };
    // Three significant digits, printed without trailing zeros.
    values.into_iter().map(|v| (v, format!("{}", format!("{v:.2e}").parse::<f64>().unwrap_or(v)))).collect()
}

/// `v` with as many decimals as `step` needs.
fn number(v: f64, step: f64) -> String {
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let v = if v.abs() < 1e-12 { 0.0 } else { v };
    format!("{v:.decimals$}")
}

/// A line chart as a `<figure>`; nothing is drawn when no point is finite.
pub fn lines(h: &mut Html, chart: &Lines, caption: &str) {
    let Some(frame) = Frame::new(chart.series.iter().flat_map(|s| s.points.iter().copied()), chart.log_y, LINES) else {
        h.missing(&format!("{}: no finite values to draw.", chart.title));
        return;
    };
    let mut s = String::new();
    frame.axes(&mut s, "img", &format!("{}. {caption}", chart.title), chart.title, chart.x_label, chart.y_label);
    for (k, series) in chart.series.iter().enumerate() {
        let stride = series.points.len().div_ceil(MAX_POINTS).max(1);
        let last = series.points.len().saturating_sub(1);
        let path: Vec<String> = series
            .points
            .iter()
            .enumerate()
            .filter(|&(i, &(x, y))| (i % stride == 0 || i == last) && x.is_finite() && y.is_finite() && (!chart.log_y || y > 0.0))
            .map(|(_, &(x, y))| format!("{:.1},{:.1}", frame.px(x), frame.py(y)))
            .collect();
        let colour = PALETTE[k % PALETTE.len()];
        let _ = write!(s, r##"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"##, path.join(" "));
        if chart.series.len() > 1 {
            let (lx, ly) = (LEFT + 150.0 * (k % 3) as f64, 36.0 + 14.0 * (k / 3) as f64);
            let _ = write!(
                s,
                r##"<rect x="{lx}" y="{:.1}" width="14" height="4" fill="{colour}"/><text x="{:.1}" y="{ly:.1}" class="key">{}</text>"##,
                ly - 5.0,
                lx + 18.0,
                escape(&series.name)
            );
        }
    }
    s.push_str("</svg>");
    // Focusable, so that a keyboard can scroll it where it is wider than the column.
    h.open("figure", &[("class", "chart lines"), ("tabindex", "0")]).raw(&s).elem("figcaption", &[], caption).close("figure");
}

/// A scatter as a `<figure>`: every point links to its run and names it on hover; points on
/// the Pareto front are ringed, joined and labelled (labels that would collide are left to the
/// hover text).
pub fn scatter(h: &mut Html, chart: &Scatter, caption: &str) {
    let Some(frame) = Frame::new(chart.points.iter().map(|p| (p.x, p.y)), false, SCATTER) else {
        h.missing(&format!("{}: no runs have both values.", chart.title));
        return;
    };
    let mut s = String::new();
    frame.axes(&mut s, "group", &format!("{}. {caption}", chart.title), chart.title, chart.x_label, chart.y_label);
    let mut front: Vec<&Point> = chart.points.iter().filter(|p| p.pareto).collect();
    front.sort_by(|a, b| a.x.total_cmp(&b.x));
    let path: Vec<String> = front.iter().map(|p| format!("{:.1},{:.1}", frame.px(p.x), frame.py(p.y))).collect();
    let _ = write!(s, r##"<polyline points="{}" class="front"/>"##, path.join(" "));
    // Labels avoid every point and each other.
    let mut placed: Vec<(f64, f64, f64, f64)> = chart
        .points
        .iter()
        .map(|p| {
            let (x, y) = (frame.px(p.x), frame.py(p.y));
            (x - 9.0, y - 9.0, x + 9.0, y + 9.0)
        })
        .collect();
    for p in &chart.points {
        let (x, y) = (frame.px(p.x), frame.py(p.y));
        let colour = PALETTE[p.group % PALETTE.len()];
        let label = escape(&p.label);
        let _ = write!(s, r##"<a href="{}" aria-label="{label}"><title>{label}</title>"##, escape(&p.href));
        if p.pareto {
            let _ = write!(s, r##"<circle cx="{x:.1}" cy="{y:.1}" r="9" class="ring"/>"##);
        }
        let _ = write!(s, r##"<circle cx="{x:.1}" cy="{y:.1}" r="5.5" fill="{colour}" class="pt"/></a>"##);
        if p.pareto
            && let Some((tx, ty, anchor)) = label_spot(x, y, &p.label, &mut placed)
        {
            let _ = write!(s, r##"<text x="{tx:.1}" y="{ty:.1}" class="plabel" text-anchor="{anchor}">{label}</text>"##);
        }
    }
    s.push_str("</svg>");
    h.open("figure", &[("class", "chart scatter")]).raw(&s);
    h.open("figcaption", &[]).text(caption);
    h.open("span", &[("class", "keys")]);
    for (g, name) in chart.groups.iter().enumerate() {
        h.open("span", &[("class", "key")])
            .open("span", &[("class", "swatch"), ("style", &format!("background:{}", PALETTE[g % PALETTE.len()]))]);
        h.close("span").text(name).close("span");
    }
    h.close("span").close("figcaption").close("figure");
}

/// Where a point's label fits without overlapping earlier labels or leaving the chart:
/// right of the point, else left, a line up or down; `None` if nowhere.
fn label_spot(x: f64, y: f64, text: &str, placed: &mut Vec<(f64, f64, f64, f64)>) -> Option<(f64, f64, &'static str)> {
    let w = 7.0 * text.chars().count() as f64;
    let (width, height) = SCATTER;
    for dy in [4.0, -12.0, 20.0, -28.0, 36.0] {
        for right in [true, false] {
            let (x0, anchor) = if right { (x + 11.0, "start") } else { (x - 11.0 - w, "end") };
            let (y0, y1) = (y + dy - 11.0, y + dy + 3.0);
            let inside = x0 >= LEFT && x0 + w <= width - 2.0 && y0 >= TOP && y1 <= height - BOTTOM;
            let clear = placed.iter().all(|&(a0, b0, a1, b1)| x0 + w < a0 || x0 > a1 || y1 < b0 || y0 > b1);
            if inside && clear {
                placed.push((x0, y0, x0 + w, y1));
                return Some((if right { x0 } else { x0 + w }, y + dy, anchor));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_inside() {
        let t = ticks((0.03, 0.97));
        assert_eq!(t.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(), ["0.2", "0.4", "0.6", "0.8"]);
        assert_eq!(ticks((-3.0, 12.0)).first().unwrap().1, "0");
        assert!(ticks((1.0, 1.0 + 1e-9)).len() <= 12);
        let log: Vec<String> = log_ticks((-3.2, 0.1)).into_iter().map(|(_, s)| s).collect();
        assert_eq!(log, ["0.001", "0.01", "0.1", "1"]);
    }

    #[test]
    fn labels_do_not_collide() {
        let mut placed = Vec::new();
        let a = label_spot(200.0, 150.0, "first_label", &mut placed).unwrap();
        let b = label_spot(200.0, 150.0, "second_label", &mut placed).unwrap();
        assert_ne!((a.0, a.1), (b.0, b.1));
        let (x0, y0, x1, y1) = placed[0];
        let (u0, v0, u1, v1) = placed[1];
        assert!(u1 < x0 || u0 > x1 || v1 < y0 || v0 > y1, "boxes overlap");
    }

    #[test]
    fn charts_escape_their_text_and_skip_empty_data() {
        let mut h = Html::new();
        let chart = Lines {
            title: "a<b",
            x_label: "x",
            y_label: "y",
            series: vec![Series { name: "s&t".into(), points: vec![(0.0, 1.0), (1.0, 2.0)] }],
            log_y: true,
        };
        lines(&mut h, &chart, "cap");
        let page = h.finish();
        assert!(page.contains("a&lt;b") && page.contains("<polyline") && !page.contains("a<b"));
        let mut h = Html::new();
        lines(&mut h, &Lines { series: vec![Series { name: "n".into(), points: vec![(0.0, f64::NAN)] }], ..chart }, "cap");
        assert!(h.finish().contains("no finite values"));
    }
}
