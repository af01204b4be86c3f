//! Component grids: rows of small images (patterns, digits) and per-class bar charts, the
//! workhorse figure for comparing dictionary components side by side.
//!
//! Images are painted pixel by pixel into the buffer (nearest-neighbour upscaling, so a 28×28
//! pattern becomes 112×112 px); text is blended on top by [`Canvas::text`].

use super::colormap::{NEGATIVE, POSITIVE, diverging, gray};
use super::{Canvas, MAX_PIXELS, MAX_SIDE, fit, fmt_num, text_width, wrap};
use anyhow::{Context as _, Result, bail, ensure};
use plotters::style::text_anchor::HPos;
use std::path::Path;

/// One cell of a [`Grid`]. Image cells hold `rows × cols` values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Signed pattern, diverging colours (red > 0, blue < 0) on the grid's [`Scale`].
    Pattern(Vec<f32>),
    /// A signed pattern as [`Cell::Pattern`], with the edge of `region` (true inside, same
    /// length) traced over it in black: where on a reference shape the pattern looks.
    Outlined { pattern: Vec<f32>, region: Vec<bool> },
    /// Digit image in `[0, 1]`, black ink on white.
    Digit(Vec<f32>),
    /// Signed per-class values (one bar per class, labelled 0..n−1): red ≥ 0, blue < 0 (as patterns),
    /// with a zero line; the limits follow the grid's [`Scale`] and are printed in the cell.
    Bars(Vec<f32>),
    /// Leaves the slot blank (ragged rows are padded with it too).
    Empty,
}

/// How symmetric colour/bar limits are shared, i.e. which cells can be compared by eye.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scale {
    /// One limit for the whole figure (separately for patterns and for bars).
    #[default]
    Shared,
    /// One limit per row, printed under the row label.
    PerRow,
    /// Every cell stretched to its own max |value|: shapes only, no magnitudes.
    PerCell,
}

/// A titled grid of cells; see [`draw_grid`].
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub title: String,
    /// One per column; '\n' splits a title over lines (3 at most). The font shrinks (to 9 pt) if
    /// that makes every title fit its column, otherwise over-long lines end in "…".
    pub column_titles: Vec<String>,
    /// One per row, drawn right-aligned left of the row; '\n' allowed.
    pub row_labels: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Optional small title above each cell, indexed `[row][column]` like `rows` (e.g. an
    /// eigenvalue), word-wrapped to the cell's width, up to three lines; missing or empty
    /// entries draw nothing and cost no space.
    pub cell_titles: Vec<Vec<String>>,
    /// `(rows, cols)` of every image cell, e.g. `(28, 28)` for MNIST.
    pub image_side: (usize, usize),
    /// Free text under the grid (e.g. what the colours mean); word-wrapped to the figure width.
    pub caption: String,
    pub scale: Scale,
}

const PAD: i64 = 14;
const GAP_X: i64 = 8;
const GAP_Y: i64 = 10;
/// Image cells are upscaled by an integer factor to about this many pixels on their long side.
const TARGET_SIDE: usize = 112;
/// Wide enough for the legend row (colourbar + bar key) whatever the grid size.
/// Grids without a legend only need room for a short title.
const MIN_WIDTH: i64 = 520;
const MAX_LABEL_W: u32 = 260;
const TITLE_PT: f64 = 20.0;
const HEAD_PT: f64 = 12.0;
const HEAD_MIN_PT: f64 = 9.0;
const LABEL_PT: f64 = 13.0;
const SMALL_PT: f64 = 10.0;
const CAPTION_PT: f64 = 12.0;
const INK: [u8; 3] = [20, 20, 20];
const MUTED: [u8; 3] = [100, 100, 100];
const FRAME: [u8; 3] = [170, 170, 170];
const ZERO_LINE: [u8; 3] = [60, 60, 60];
/// Bars cells reserve these bands for the scale label (top) and class labels (bottom).
const BAR_TOP: i64 = 13;
const BAR_BOTTOM: i64 = 14;
const COLOURBAR_W: i64 = 200;
const COLOURBAR_H: i64 = 10;
/// Width of the "■ bars ≥ 0  ■ < 0" key.
const LEGEND_KEY_W: i64 = 110;

fn line_h(pt: f64) -> i64 {
    (pt * 1.3).ceil() as i64
}

/// Renders `grid` to PNG bytes (for embedding); [`draw_grid`] writes them to a file.
pub fn render_grid(grid: &Grid) -> Result<Vec<u8>> {
    Layout::new(grid).and_then(|layout| layout.render(grid)).with_context(|| format!("drawing the figure {:?}", grid.title))
}

/// Draws a component grid as a PNG at `path` (written atomically). Errors, never panics, on an
/// empty grid, wrong image lengths or non-finite values (reported with their row and column).
pub fn draw_grid(grid: &Grid, path: &Path) -> Result<()> {
    crate::io::write_atomic(path, &render_grid(grid)?)
}

/// Checks every cell and returns the number of columns.
fn validate(grid: &Grid) -> Result<usize> {
    let (r, c) = grid.image_side;
    ensure!(r > 0 && c > 0 && r.checked_mul(c).is_some_and(|n| n <= 1 << 20), "image_side {r}×{c} is empty or too large");
    let ncols = grid.rows.iter().map(Vec::len).max().unwrap_or(0);
    ensure!(ncols > 0, "nothing to draw: the grid has no cells");
    ensure!(grid.rows.iter().flatten().any(|cell| *cell != Cell::Empty), "nothing to draw: every cell of the grid is Empty");
    for (i, row) in grid.rows.iter().enumerate() {
        for (j, cell) in row.iter().enumerate() {
            let (kind, values) = match cell {
                Cell::Pattern(v) => ("pattern", v),
                Cell::Outlined { pattern, region } => {
                    ensure!(region.len() == pattern.len(), "outlined cell at row {i}, column {j}: region and pattern lengths differ");
                    ("pattern", pattern)
                }
                Cell::Digit(v) => ("digit", v),
                Cell::Bars(v) => ("bars", v),
                Cell::Empty => continue,
            };
            if matches!(cell, Cell::Bars(_)) {
                ensure!(!values.is_empty(), "bars cell at row {i}, column {j} has no values");
            } else {
                ensure!(
                    values.len() == r * c,
                    "{kind} cell at row {i}, column {j} has {} values, expected {r}×{c} = {}",
                    values.len(),
                    r * c
                );
            }
            if let Some(k) = values.iter().position(|v| !v.is_finite()) {
                bail!("{kind} cell at row {i}, column {j} has a non-finite value at index {k}");
            }
        }
    }
    Ok(ncols)
}

/// Symmetric limit of every cell of one kind under `scale` (1 where the data are all zero).
fn limits(grid: &Grid, ncols: usize, of: impl Fn(&Cell) -> Option<&[f32]>) -> Vec<Vec<f32>> {
    let max_abs = |v: &[f32]| v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let cell_max: Vec<Vec<f32>> =
        grid.rows.iter().map(|row| (0..ncols).map(|j| row.get(j).and_then(&of).map_or(0.0, max_abs)).collect()).collect();
    let global = cell_max.iter().flatten().fold(0f32, |m, &x| m.max(x));
    let nonzero = |x: f32| if x > 0.0 { x } else { 1.0 };
    cell_max
        .iter()
        .map(|row| {
            let row_max = row.iter().fold(0f32, |m, &x| m.max(x));
            row.iter()
                .map(|&x| match grid.scale {
                    Scale::Shared => nonzero(global),
                    Scale::PerRow => nonzero(row_max),
                    Scale::PerCell => nonzero(x),
                })
                .collect()
        })
        .collect()
}

fn pattern_values(cell: &Cell) -> Option<&[f32]> {
    match cell {
        Cell::Pattern(v) | Cell::Outlined { pattern: v, .. } => Some(v),
        _ => None,
    }
}

fn bar_values(cell: &Cell) -> Option<&[f32]> {
    if let Cell::Bars(v) = cell { Some(v) } else { None }
}

/// Pixel positions of everything, computed once so painting and lettering agree.
struct Layout {
    width: i64,
    height: i64,
    /// Integer upscaling factor and resulting cell size.
    zoom: i64,
    cell: (i64, i64),
    /// Top-left of the grid body (first cell-title strip, then the first cell).
    origin: (i64, i64),
    title: Vec<String>,
    title_top: i64,
    head_pt: f64,
    heads: Vec<Vec<String>>,
    row_labels: Vec<Vec<String>>,
    /// "±vmax" under a row label when rows have their own scale.
    row_scales: Vec<Option<String>>,
    /// Lines of each cell's title (up to three).
    cell_titles: Vec<Vec<Vec<String>>>,
    /// Height of the cell-title strip above every row (0 without cell titles).
    strip: i64,
    pattern_vmax: Vec<Vec<f32>>,
    bar_vmax: Vec<Vec<f32>>,
    has_patterns: bool,
    has_bars: bool,
    legend_top: i64,
    caption: Vec<String>,
    caption_top: i64,
}

impl Layout {
    /// The layout at the largest zoom (up to [`TARGET_SIDE`] per cell) at which the figure
    /// fits [`MAX_SIDE`] and [`MAX_PIXELS`]: a grid of many rows (a class each, for 62 classes)
    /// gets smaller cells.
    fn new(grid: &Grid) -> Result<Self> {
        let ncols = validate(grid)?;
        let (ir, ic) = grid.image_side;
        let mut zoom = (TARGET_SIDE / ir.max(ic)).max(1) as i64;
        loop {
            let layout = Self::at_zoom(grid, ncols, zoom)?;
            let (w, h) = (layout.width as usize, layout.height as usize);
            if zoom == 1 || (w.max(h) <= MAX_SIDE && w * h <= MAX_PIXELS) {
                return Ok(layout);
            }
            zoom -= 1;
        }
    }

    fn at_zoom(grid: &Grid, ncols: usize, zoom: i64) -> Result<Self> {
        let (ir, ic) = grid.image_side;
        let cell = (ic as i64 * zoom, ir as i64 * zoom);
        let cells = || grid.rows.iter().flatten();
        let has_patterns = cells().any(|c| pattern_values(c).is_some());
        let has_bars = cells().any(|c| matches!(c, Cell::Bars(_)));
        let pattern_vmax = limits(grid, ncols, pattern_values);
        let bar_vmax = limits(grid, ncols, bar_values);
        for (i, row) in grid.rows.iter().enumerate() {
            for (j, c) in row.iter().enumerate() {
                if let Cell::Bars(v) = c {
                    ensure!(
                        v.len() as i64 * 2 <= cell.0 - 4,
                        "bars cell at row {i}, column {j}: {} bars do not fit in {} px",
                        v.len(),
                        cell.0
                    );
                }
            }
        }

        // Column titles: the largest common font size at which all fit; if none does, shrinking
        // would only make every title small, so keep the default and truncate the culprits.
        let head_w = (cell.0 + GAP_X - 2) as u32;
        let split = |s: &str| -> Vec<String> { s.split('\n').take(3).map(str::to_string).collect() };
        let raw_heads: Vec<Vec<String>> = (0..ncols).map(|j| grid.column_titles.get(j).map_or(vec![], |t| split(t))).collect();
        let fits = |pt: f64| raw_heads.iter().flatten().all(|l| text_width(l, pt) <= head_w);
        let head_pt = [HEAD_PT, 11.0, 10.0, HEAD_MIN_PT].into_iter().find(|&pt| fits(pt)).unwrap_or(HEAD_PT);
        let heads: Vec<Vec<String>> = raw_heads.iter().map(|lines| lines.iter().map(|l| fit(l, head_pt, head_w)).collect()).collect();
        let head_lines = heads.iter().map(Vec::len).max().unwrap_or(0) as i64;

        let cell_w = cell.0 as u32;
        let cell_titles: Vec<Vec<Vec<String>>> = (grid.cell_titles.iter())
            .map(|row| row.iter().map(|t| wrap(t, SMALL_PT, cell_w).iter().take(3).map(|l| fit(l, SMALL_PT, cell_w)).collect()).collect())
            .collect();
        let title_lines = cell_titles.iter().flatten().filter(|t| t.iter().any(|l| !l.is_empty())).map(Vec::len).max().unwrap_or(0);
        let strip = if title_lines > 0 { title_lines as i64 * line_h(SMALL_PT) + 1 } else { 0 };

        // Row labels, plus the row's limit when each row has its own scale.
        let row_labels: Vec<Vec<String>> = (0..grid.rows.len())
            .map(|i| {
                let label = grid.row_labels.get(i).map_or("", String::as_str);
                split(label).iter().map(|s| fit(s, LABEL_PT, MAX_LABEL_W)).collect()
            })
            .collect();
        let row_scales: Vec<Option<String>> = (0..grid.rows.len())
            .map(|i| {
                let has_pattern = grid.rows[i].iter().any(|c| pattern_values(c).is_some());
                (grid.scale == Scale::PerRow && has_pattern).then(|| format!("±{}", fmt_num(pattern_vmax[i][0] as f64)))
            })
            .collect();
        let label_w = (row_labels.iter().flatten().map(|l| text_width(l, LABEL_PT)))
            .chain(row_scales.iter().flatten().map(|l| text_width(l, SMALL_PT)))
            .max()
            .unwrap_or(0) as i64;
        let label_w = if label_w > 0 { label_w + 10 } else { 0 };

        let grid_w = ncols as i64 * (cell.0 + GAP_X) - GAP_X;
        let min_width = if has_patterns || has_bars { MIN_WIDTH } else { 240 };
        let width = (PAD + label_w + grid_w + PAD).max(min_width);
        let text_w = (width - 2 * PAD) as u32;
        let title = wrap(&grid.title, TITLE_PT, text_w);
        let caption = wrap(&grid.caption, CAPTION_PT, text_w);

        let title_top = PAD;
        let mut y = title_top + title.len() as i64 * line_h(TITLE_PT);
        if !title.is_empty() {
            y += 8;
        }
        y += head_lines * line_h(head_pt) + if head_lines > 0 { 4 } else { 0 };
        let origin = (PAD + label_w, y);
        y += grid.rows.len() as i64 * (strip + cell.1 + GAP_Y) - GAP_Y + 14;
        let legend_top = y;
        if has_patterns || has_bars {
            y += COLOURBAR_H + 4 + line_h(SMALL_PT) + 8;
        }
        let caption_top = y;
        y += caption.len() as i64 * line_h(CAPTION_PT);
        let height = y + PAD;

        Ok(Self {
            width,
            height,
            zoom,
            cell,
            origin,
            title,
            title_top,
            head_pt,
            heads,
            row_labels,
            row_scales,
            cell_titles,
            strip,
            pattern_vmax,
            bar_vmax,
            has_patterns,
            has_bars,
            legend_top,
            caption,
            caption_top,
        })
    }

    fn cell_origin(&self, i: usize, j: usize) -> (i64, i64) {
        (self.origin.0 + j as i64 * (self.cell.0 + GAP_X), self.origin.1 + self.strip + i as i64 * (self.strip + self.cell.1 + GAP_Y))
    }

    /// Bars geometry: (left edge, bar pitch, zero line y, half height) for `n` bars.
    fn bar_geometry(&self, (x, y): (i64, i64), n: usize) -> (f64, f64, i64, i64) {
        let (w, h) = self.cell;
        let half = (h - BAR_TOP - BAR_BOTTOM) / 2;
        (x as f64 + 2.0, (w - 4) as f64 / n as f64, y + BAR_TOP + half, half - 1)
    }

    fn render(&self, grid: &Grid) -> Result<Vec<u8>> {
        let mut canvas = Canvas::new(self.width as usize, self.height as usize, 1)?;
        let cols_px = grid.image_side.1;
        for (i, row) in grid.rows.iter().enumerate() {
            for (j, cell) in row.iter().enumerate() {
                let (x, y) = self.cell_origin(i, j);
                let paint_image = |canvas: &mut Canvas, v: &[f32], colour: &dyn Fn(f32) -> [u8; 3]| {
                    let z = self.zoom;
                    for (k, &value) in v.iter().enumerate() {
                        let (r, c) = ((k / cols_px) as i64, (k % cols_px) as i64);
                        canvas.fill_rect(x + c * z, y + r * z, z, z, colour(value));
                    }
                };
                match cell {
                    Cell::Pattern(v) => {
                        let vmax = self.pattern_vmax[i][j];
                        paint_image(&mut canvas, v, &|value| diverging(value, vmax));
                    }
                    Cell::Outlined { pattern, region } => {
                        let vmax = self.pattern_vmax[i][j];
                        paint_image(&mut canvas, pattern, &|value| diverging(value, vmax));
                        self.trace(&mut canvas, (x, y), region, cols_px);
                    }
                    Cell::Digit(v) => paint_image(&mut canvas, v, &gray),
                    Cell::Bars(v) => {
                        let (left, pitch, zero_y, half) = self.bar_geometry((x, y), v.len());
                        let vmax = self.bar_vmax[i][j];
                        for (k, &value) in v.iter().enumerate() {
                            let len = ((value / vmax).clamp(-1.0, 1.0) * half as f32).round() as i64;
                            let x0 = (left + k as f64 * pitch + 1.0).round() as i64;
                            let x1 = (left + (k + 1) as f64 * pitch - 1.0).round() as i64;
                            let (top, colour) = if value >= 0.0 { (zero_y - len, POSITIVE) } else { (zero_y, NEGATIVE) };
                            canvas.fill_rect(x0, top, (x1 - x0).max(1), len.abs(), colour);
                        }
                        canvas.fill_rect(x, zero_y, self.cell.0, 1, ZERO_LINE);
                    }
                    Cell::Empty => continue,
                }
                canvas.frame(x, y, self.cell.0, self.cell.1, FRAME);
            }
        }
        self.paint_legend(&mut canvas);
        self.letter(&mut canvas, grid)?;
        canvas.into_png()
    }

    /// Draws the edges between pixels inside `region` and those outside it (or off the image).
    fn trace(&self, canvas: &mut Canvas, (x, y): (i64, i64), region: &[bool], cols: usize) {
        let (z, rows) = (self.zoom, region.len() / cols);
        let inside =
            |r: i64, c: i64| r >= 0 && c >= 0 && (r as usize) < rows && (c as usize) < cols && region[r as usize * cols + c as usize];
        for (k, _) in region.iter().enumerate().filter(|(_, on)| **on) {
            let (r, c) = ((k / cols) as i64, (k % cols) as i64);
            let (left, top) = (x + c * z, y + r * z);
            if !inside(r - 1, c) {
                canvas.fill_rect(left, top, z, 1, INK);
            }
            if !inside(r + 1, c) {
                canvas.fill_rect(left, top + z - 1, z, 1, INK);
            }
            if !inside(r, c - 1) {
                canvas.fill_rect(left, top, 1, z, INK);
            }
            if !inside(r, c + 1) {
                canvas.fill_rect(left + z - 1, top, 1, z, INK);
            }
        }
    }

    /// Position of the colourbar (when patterns exist) and of the bar-colour key.
    fn legend_x(&self) -> (i64, i64) {
        let colourbar_w = if self.has_patterns { COLOURBAR_W + 120 } else { 0 };
        let total = colourbar_w + if self.has_bars { LEGEND_KEY_W } else { 0 };
        let x = if self.origin.0 + total <= self.width - PAD { self.origin.0 } else { PAD };
        (x, x + colourbar_w)
    }

    fn paint_legend(&self, canvas: &mut Canvas) {
        let (bar_x, key_x) = self.legend_x();
        let y = self.legend_top;
        if self.has_patterns {
            for k in 0..COLOURBAR_W {
                let t = 2.0 * k as f32 / (COLOURBAR_W - 1) as f32 - 1.0;
                canvas.fill_rect(bar_x + k, y, 1, COLOURBAR_H, diverging(t, 1.0));
            }
            canvas.frame(bar_x, y, COLOURBAR_W, COLOURBAR_H, FRAME);
        }
        if self.has_bars {
            canvas.fill_rect(key_x, y, COLOURBAR_H, COLOURBAR_H, POSITIVE);
            canvas.fill_rect(key_x + 70, y, COLOURBAR_H, COLOURBAR_H, NEGATIVE);
        }
    }

    /// All the text: title, column titles, row labels, bar class labels, legend, caption.
    fn letter(&self, canvas: &mut Canvas, grid: &Grid) -> Result<()> {
        let centre_x = self.width / 2;
        for (k, line) in self.title.iter().enumerate() {
            canvas.text(line, (centre_x, self.title_top + k as i64 * line_h(TITLE_PT)), TITLE_PT, INK, HPos::Center)?;
        }
        let lh = line_h(self.head_pt);
        for (j, lines) in self.heads.iter().enumerate() {
            let x = self.cell_origin(0, j).0;
            for (k, line) in lines.iter().enumerate() {
                let top = self.origin.1 - 4 - (lines.len() - k) as i64 * lh + 2;
                canvas.text(line, (x + self.cell.0 / 2, top), self.head_pt, INK, HPos::Center)?;
            }
        }
        let lh = line_h(LABEL_PT);
        for (i, (lines, scale)) in self.row_labels.iter().zip(&self.row_scales).enumerate() {
            let (x, y) = self.cell_origin(i, 0);
            let block = lines.len() as i64 * lh + scale.as_ref().map_or(0, |_| line_h(SMALL_PT));
            let top = y + self.cell.1 / 2 - block / 2 + 2;
            for (k, line) in lines.iter().enumerate() {
                canvas.text(line, (x - 10, top + k as i64 * lh), LABEL_PT, INK, HPos::Right)?;
            }
            if let Some(scale) = scale {
                let y = top + lines.len() as i64 * lh;
                canvas.text(scale, (x - 10, y), SMALL_PT, MUTED, HPos::Right)?;
            }
        }
        for (i, row) in grid.rows.iter().enumerate() {
            for (j, cell) in row.iter().enumerate() {
                let (x, y) = self.cell_origin(i, j);
                for (k, line) in self.cell_titles.get(i).and_then(|r| r.get(j)).into_iter().flatten().enumerate() {
                    let at = (x + self.cell.0 / 2, y - self.strip + k as i64 * line_h(SMALL_PT));
                    canvas.text(line, at, SMALL_PT, INK, HPos::Center)?;
                }
                if let Cell::Bars(v) = cell {
                    self.letter_bars(canvas, (x, y), v.len(), self.bar_vmax[i][j])?;
                }
            }
        }
        self.letter_legend(canvas, grid.scale)?;
        for (k, line) in self.caption.iter().enumerate() {
            canvas.text(line, (PAD, self.caption_top + k as i64 * line_h(CAPTION_PT)), CAPTION_PT, INK, HPos::Left)?;
        }
        Ok(())
    }

    fn letter_bars(&self, canvas: &mut Canvas, (x, y): (i64, i64), n: usize, vmax: f32) -> Result<()> {
        let (left, pitch, _, _) = self.bar_geometry((x, y), n);
        canvas.text(&format!("±{}", fmt_num(vmax as f64)), (x + 3, y + 3), 9.0, MUTED, HPos::Left)?;
        let widest = text_width(&(n - 1).to_string(), SMALL_PT) as f64 + 3.0;
        let every = (widest / pitch).ceil().max(1.0) as usize;
        let label_top = y + self.cell.1 - BAR_BOTTOM + 3;
        for k in (0..n).step_by(every) {
            let cx = (left + (k as f64 + 0.5) * pitch).round() as i64;
            canvas.text(&k.to_string(), (cx, label_top), SMALL_PT, INK, HPos::Center)?;
        }
        Ok(())
    }

    fn letter_legend(&self, canvas: &mut Canvas, scale: Scale) -> Result<()> {
        let (bar_x, key_x) = self.legend_x();
        let y = self.legend_top;
        let label_y = y + COLOURBAR_H + 4;
        if self.has_patterns {
            let (neg, pos, note) = match scale {
                Scale::Shared => {
                    let v = fmt_num(self.pattern_vmax.iter().flatten().next().copied().unwrap_or(1.0) as f64);
                    (format!("−{v}"), format!("+{v}"), "")
                }
                Scale::PerRow => ("−max".into(), "+max".into(), "per row"),
                Scale::PerCell => ("−max".into(), "+max".into(), "per cell"),
            };
            canvas.text(&neg, (bar_x, label_y), SMALL_PT, INK, HPos::Left)?;
            canvas.text("0", (bar_x + COLOURBAR_W / 2, label_y), SMALL_PT, INK, HPos::Center)?;
            canvas.text(&pos, (bar_x + COLOURBAR_W, label_y), SMALL_PT, INK, HPos::Right)?;
            let note = if note.is_empty() { "patterns".to_string() } else { format!("patterns, {note}") };
            canvas.text(&note, (bar_x + COLOURBAR_W + 10, y), SMALL_PT, MUTED, HPos::Left)?;
        }
        if self.has_bars {
            canvas.text("bars ≥ 0", (key_x + COLOURBAR_H + 5, y), SMALL_PT, INK, HPos::Left)?;
            canvas.text("< 0", (key_x + 70 + COLOURBAR_H + 5, y), SMALL_PT, INK, HPos::Left)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::test_util::decode;
    use crate::scratch::Scratch;

    fn blob(cx: f32, cy: f32, sign: f32) -> Vec<f32> {
        (0..784)
            .map(|k| {
                let (r, c) = ((k / 28) as f32, (k % 28) as f32);
                sign * (-((r - cy).powi(2) + (c - cx).powi(2)) / 18.0).exp()
            })
            .collect()
    }

    fn grid(rows: Vec<Vec<Cell>>) -> Grid {
        Grid {
            title: "Test grid".into(),
            column_titles: (0..rows[0].len()).map(|j| format!("c{j}\nλ=0.{j}")).collect(),
            row_labels: (0..rows.len()).map(|i| format!("row {i}")).collect(),
            rows,
            cell_titles: vec![],
            image_side: (28, 28),
            caption: "red > 0, blue < 0".into(),
            scale: Scale::Shared,
        }
    }

    #[test]
    fn renders_png_with_expected_size_and_colours() {
        let g = grid(vec![vec![
            Cell::Pattern(blob(14.0, 14.0, 1.0)),
            Cell::Pattern(blob(14.0, 14.0, -0.5)),
            Cell::Bars((0..10).map(|k| k as f32 - 4.5).collect()),
            Cell::Digit(vec![1.0; 784]),
        ]]);
        let layout = Layout::new(&g).unwrap();
        let bytes = render_grid(&g).unwrap();
        let (w, h, px) = decode(&bytes);
        assert_eq!((w as i64, h as i64), (layout.width, layout.height));
        assert_eq!(layout.cell, (112, 112));
        let at = |(x, y): (i64, i64)| {
            let k = ((y * w as i64 + x) * 3) as usize;
            [px[k], px[k + 1], px[k + 2]]
        };
        let centre = |j: usize| {
            let (x, y) = layout.cell_origin(0, j);
            (x + 56 + 1, y + 56 + 1)
        };
        assert_eq!(at(centre(0)), diverging(1.0, 1.0), "peak of the positive blob is full red");
        let [r, _, b] = at(centre(1));
        assert!(b > r, "negative blob is blue");
        assert_eq!(at(centre(1)), diverging(-0.5, 1.0), "shared scale: half-strength blue");
        assert_eq!(at(centre(3)), [0, 0, 0], "digit ink is black");
        // Bars follow the patterns' convention: the last bar (+4.5) red above the zero line,
        // the first (−4.5) blue below it.
        let (left, pitch, zero_y, _) = layout.bar_geometry(layout.cell_origin(0, 2), 10);
        let bar = |k: usize, dy: i64| at(((left + (k as f64 + 0.5) * pitch) as i64, zero_y + dy));
        assert_eq!((bar(9, -3), bar(0, 3)), (POSITIVE, NEGATIVE));
        draw_grid(&g, &Scratch::new("figures-grid").join("grid.png")).unwrap();
    }

    #[test]
    fn per_cell_scale_saturates_each_cell() {
        let mut g = grid(vec![vec![Cell::Pattern(blob(14.0, 14.0, 1.0)), Cell::Pattern(blob(14.0, 14.0, -0.5))]]);
        g.scale = Scale::PerCell;
        let layout = Layout::new(&g).unwrap();
        let (w, _, px) = decode(&render_grid(&g).unwrap());
        let (x, y) = layout.cell_origin(0, 1);
        let k = (((y + 57) * w as i64 + x + 57) * 3) as usize;
        assert_eq!(&px[k..k + 3], &diverging(-1.0, 1.0));
    }

    #[test]
    fn large_grid_and_ragged_rows_render() {
        let rows: Vec<Vec<Cell>> = (0..12)
            .map(|i| (0..24 - i).map(|j| Cell::Pattern(blob(j as f32, i as f32 * 2.0, 1.0 - 2.0 * (j % 2) as f32))).collect())
            .collect();
        let mut g = grid(rows);
        g.scale = Scale::PerRow;
        let (w, h, _) = decode(&render_grid(&g).unwrap());
        assert!(w > 24 * 112 && h > 12 * 112);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(render_grid(&grid(vec![vec![]])).is_err());
        assert!(render_grid(&grid(vec![vec![Cell::Empty]])).is_err());
        assert!(render_grid(&grid(vec![vec![Cell::Pattern(vec![0.0; 783])]])).is_err());
        let mut nan = vec![0.0; 784];
        nan[5] = f32::NAN;
        let err = render_grid(&grid(vec![vec![Cell::Empty, Cell::Pattern(nan)]])).unwrap_err();
        assert!(format!("{err:#}").contains("row 0, column 1"), "{err:#}");
        assert!(render_grid(&grid(vec![vec![Cell::Bars(vec![])]])).is_err());
        assert!(render_grid(&grid(vec![vec![Cell::Bars(vec![1.0; 100])]])).is_err());
        let mut g = grid(vec![vec![Cell::Digit(vec![0.0; 784])]]);
        g.image_side = (0, 28);
        assert!(render_grid(&g).is_err());
        g.image_side = (usize::MAX, 2);
        assert!(render_grid(&g).is_err());
    }
}
