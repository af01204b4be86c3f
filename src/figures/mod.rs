//! Figures as PNG files, drawn in pure Rust (plotters + the vendored DejaVu Sans font). This
//! module only renders: a figure is plain data ([`Grid`], [`LineChart`], [`Scatter`]) built by
//! the modules that know what it shows, and nothing here reads a decomposition or a metric.
//!
//! Three kinds: component/heatmap grids ([`draw_grid`]), line charts ([`draw_lines`]) and
//! labelled scatter plots ([`draw_scatter`]), plus signed bar charts ([`bar_chart`]).
//! Every `draw_*` has a `render_*` twin that returns the PNG bytes instead of writing a file,
//! so reports can embed figures without touching disk.
//!
//! Colour convention everywhere (see [`colormap`]): weights and patterns use a diverging
//! red/white/blue map — red positive, blue negative, white zero — with symmetric limits, and
//! bars of signed values (heads, logits, eigenvalues) the same hues: red ≥ 0, blue < 0.

mod chart;
pub mod colormap;
#[cfg(test)]
mod demo;
mod grid;

pub use chart::{
    LineChart, Scatter, ScatterPoint, Series, bar_chart, draw_lines, draw_scatter, render_bar_chart, render_lines, render_scatter,
};
pub use grid::{Cell, Grid, Scale, draw_grid, render_grid};

/// Any figure, for code that makes several kinds.
#[derive(Debug, Clone)]
pub enum Figure {
    Grid(Grid),
    Lines(LineChart),
    Scatter(Scatter),
}

impl Figure {
    /// The PNG bytes.
    pub fn render(&self) -> Result<Vec<u8>> {
        match self {
            Figure::Grid(g) => render_grid(g),
            Figure::Lines(c) => render_lines(c),
            Figure::Scatter(s) => render_scatter(s),
        }
    }

    /// Writes the PNG to `path` (atomically).
    pub fn draw(&self, path: &std::path::Path) -> Result<()> {
        crate::io::write_atomic(path, &self.render()?)
    }
}

use anyhow::{Context, Result, anyhow, ensure};
use plotters::backend::{BitMapBackend, RGBPixel};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::sync::OnceLock;

/// The one font family every figure uses; registered from the vendored file on first use.
pub(crate) const FONT: &str = "sans-serif";

/// The plotters drawing area every figure draws on.
pub(crate) type Area<'a> = DrawingArea<BitMapBackend<'a, RGBPixel>, Shift>;

/// Largest figure side and area (drawing pixels) accepted, to turn absurd inputs into an
/// error rather than a huge allocation.
pub(crate) const MAX_SIDE: usize = 10_000;
pub(crate) const MAX_PIXELS: usize = 30_000_000;

/// Registers DejaVu Sans as "sans-serif" exactly once (plotters' ab_glyph backend has no system fonts).
fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, include_bytes!("../../assets/fonts/DejaVuSans.ttf")).is_ok()
    });
    ensure!(ok, "the vendored font assets/fonts/DejaVuSans.ttf could not be parsed");
    Ok(())
}

/// An RGB image being drawn: raw pixel writes for heatmaps (fast), plotters for text and charts.
///
/// Plotters neither antialiases lines nor places glyphs between whole pixels (small text gets
/// uneven letter spacing), so charts are drawn `ss` times larger and box-filtered down when
/// encoded, and [`Canvas::text`] does the same per string.
pub(crate) struct Canvas {
    /// Size of the drawing buffer, i.e. `ss ×` the output size.
    width: u32,
    height: u32,
    ss: u32,
    buf: Vec<u8>,
}

/// Supersampling of [`Canvas::text`]: glyph positions are accurate to 1/TEXT_SS pixel.
const TEXT_SS: i64 = 4;

impl Canvas {
    /// A white canvas of `width × height` output pixels, drawn at `ss`× resolution;
    /// errors on empty or absurdly large sizes.
    pub(crate) fn new(width: usize, height: usize, ss: usize) -> Result<Self> {
        ensure!(
            (1..=MAX_SIDE).contains(&width) && (1..=MAX_SIDE).contains(&height),
            "figure size {width}×{height} px is outside 1..={MAX_SIDE} px per side"
        );
        ensure!((1..=4).contains(&ss), "supersampling factor {ss} outside 1..=4");
        let (w, h) = (width * ss, height * ss);
        ensure!(w * h <= MAX_PIXELS, "figure of {w}×{h} drawing pixels is too large");
        ensure_font()?;
        Ok(Self { width: w as u32, height: h as u32, ss: ss as u32, buf: vec![255; w * h * 3] })
    }

    /// Fills a rectangle given in drawing pixels (clipped to the canvas).
    pub(crate) fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, rgb: [u8; 3]) {
        let (cw, ch) = (self.width as i64, self.height as i64);
        let (x0, x1) = (x.clamp(0, cw), (x + w).clamp(0, cw));
        let (y0, y1) = (y.clamp(0, ch), (y + h).clamp(0, ch));
        for row in y0..y1 {
            let start = ((row * cw + x0) * 3) as usize;
            let end = ((row * cw + x1) * 3) as usize;
            for px in self.buf[start..end].chunks_exact_mut(3) {
                px.copy_from_slice(&rgb);
            }
        }
    }

    /// A one-pixel outline just outside the rectangle `(x, y, w, h)`.
    pub(crate) fn frame(&mut self, x: i64, y: i64, w: i64, h: i64, rgb: [u8; 3]) {
        self.fill_rect(x - 1, y - 1, w + 2, 1, rgb);
        self.fill_rect(x - 1, y + h, w + 2, 1, rgb);
        self.fill_rect(x - 1, y, 1, h, rgb);
        self.fill_rect(x + w, y, 1, h, rgb);
    }

    /// Runs plotters drawing code on top of the pixels drawn so far (in drawing pixels).
    pub(crate) fn draw<F>(&mut self, f: F) -> Result<()>
    where
        F: FnOnce(&Area) -> Result<()>,
    {
        let size = (self.width, self.height);
        let backend = BitMapBackend::<RGBPixel>::with_buffer_and_format(&mut self.buf, size)
            .map_err(|e| anyhow!("creating the drawing backend: {e}"))?;
        let area = backend.into_drawing_area();
        f(&area)?;
        area.present().map_err(|e| anyhow!("finishing the drawing: {e}"))
    }

    /// Draws one line of text whose visual top (cap height) is at `y`, anchored horizontally by
    /// `h` at `x` (drawing pixels). Rasterised [`TEXT_SS`]× larger and blended in with coverage.
    pub(crate) fn text(&mut self, s: &str, (x, y): (i64, i64), size: f64, rgb: [u8; 3], h: HPos) -> Result<()> {
        if s.is_empty() {
            return Ok(());
        }
        let ts = TEXT_SS as f64;
        let big = (FONT, size * ts).into_font();
        let w = big.box_size(s).map_err(|e| anyhow!("measuring text {s:?}: {e:?}"))?.0 as f64 / ts;
        let left = match h {
            HPos::Left => x as f64,
            HPos::Center => x as f64 - w / 2.0,
            HPos::Right => x as f64 - w,
        };
        // Scratch area in canvas pixels; DejaVu reaches ~0.17·size above cap height and
        // ~0.83·size below it.
        let pad = 2;
        let (x0, y0) = (left.floor() as i64 - pad, y - pad - (0.2 * size).ceil() as i64);
        let (cw, ch) = (w.ceil() as i64 + 2 * pad + 1, (1.1 * size).ceil() as i64 + 2 * pad);
        let (sw, sh) = (cw * TEXT_SS, ch * TEXT_SS);
        let mut scratch = vec![255u8; (sw * sh * 3) as usize];
        {
            let backend = BitMapBackend::<RGBPixel>::with_buffer_and_format(&mut scratch, (sw as u32, sh as u32))
                .map_err(|e| anyhow!("creating the text backend: {e}"))?;
            let area = backend.into_drawing_area();
            let style = big.color(&BLACK).pos(Pos::new(HPos::Left, VPos::Top));
            // ab_glyph puts cap tops about 0.13·size above the anchor.
            let at = (((left - x0 as f64) * ts).round() as i32, (((y - y0) as f64 + 0.13 * size) * ts).round() as i32);
            area.draw_text(s, &style, at).map_err(|e| anyhow!("drawing text {s:?}: {e}"))?;
        }
        let norm = (TEXT_SS * TEXT_SS * 255) as f32;
        for j in 0..ch {
            for i in 0..cw {
                let ink: u32 = (0..TEXT_SS * TEXT_SS)
                    .map(|k| {
                        let (sx, sy) = (i * TEXT_SS + k % TEXT_SS, j * TEXT_SS + k / TEXT_SS);
                        255 - scratch[((sy * sw + sx) * 3) as usize] as u32
                    })
                    .sum();
                if ink > 0 {
                    self.blend(x0 + i, y0 + j, rgb, ink as f32 / norm);
                }
            }
        }
        Ok(())
    }

    /// Mixes `rgb` into one drawing pixel with opacity `alpha` (ignored outside the canvas).
    fn blend(&mut self, x: i64, y: i64, rgb: [u8; 3], alpha: f32) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let k = ((y * self.width as i64 + x) * 3) as usize;
        for (dst, src) in self.buf[k..k + 3].iter_mut().zip(rgb) {
            *dst = (*dst as f32 + (src as f32 - *dst as f32) * alpha).round() as u8;
        }
    }

    /// Encodes the canvas as an 8-bit RGB PNG, box-filtering supersampled drawings down.
    pub(crate) fn into_png(self) -> Result<Vec<u8>> {
        let ss = self.ss as usize;
        let (w, h) = (self.width as usize / ss, self.height as usize / ss);
        let pixels = if ss == 1 {
            self.buf
        } else {
            let mut out = vec![0u8; w * h * 3];
            let norm = (ss * ss) as u32;
            for y in 0..h {
                for x in 0..w {
                    let mut sum = [0u32; 3];
                    for k in 0..ss * ss {
                        let src = (((y * ss + k / ss) * self.width as usize) + x * ss + k % ss) * 3;
                        (0..3).for_each(|c| sum[c] += self.buf[src + c] as u32);
                    }
                    (0..3).for_each(|c| out[(y * w + x) * 3 + c] = ((sum[c] + norm / 2) / norm) as u8);
                }
            }
            out
        };
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, w as u32, h as u32);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Deflate level 1 (with the default adaptive row filters): a run's figures encode in
        // two thirds of the time of the default level 6, for files about a fifth larger.
        encoder.set_deflate_compression(png::DeflateCompression::Level(1));
        let mut writer = encoder.write_header().context("writing the PNG header")?;
        writer.write_image_data(&pixels).context("encoding the PNG")?;
        writer.finish().context("finishing the PNG")?;
        Ok(out)
    }
}

/// Width in pixels of `text` at font size `size`.
pub(crate) fn text_width(text: &str, size: f64) -> u32 {
    // Layout runs before any canvas exists, so the font must be registered here too; if that
    // fails, Canvas::new reports it.
    if ensure_font().is_err() {
        return 0;
    }
    (FONT, size).into_font().box_size(text).map(|(w, _)| w).unwrap_or(0)
}

/// Greedy word wrap to `max_w` pixels; explicit '\n' are kept, over-long words get their own line.
pub(crate) fn wrap(s: &str, size: f64, max_w: u32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in s.split('\n') {
        let mut line = String::new();
        for word in para.split_whitespace() {
            let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
            if text_width(&candidate, size) <= max_w || line.is_empty() {
                line = candidate;
            } else {
                lines.push(std::mem::replace(&mut line, word.to_string()));
            }
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    lines
}

/// Shortens `s` with a trailing ellipsis until it fits `max_w` pixels.
pub(crate) fn fit(s: &str, size: f64, max_w: u32) -> String {
    if text_width(s, size) <= max_w {
        return s.to_string();
    }
    let mut chars: Vec<char> = s.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let t: String = chars.iter().chain(['…'].iter()).collect();
        if text_width(&t, size) <= max_w {
            return t;
        }
    }
    String::new()
}

/// Compact number for labels: 3 significant digits, scientific outside [1e-3, 1e4).
pub(crate) fn fmt_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v.is_nan() {
            "NaN".into()
        } else if v == 0.0 {
            "0".into()
        } else {
            format!("{v}")
        };
    }
    let a = v.abs();
    if !(1e-3..1e4).contains(&a) {
        let s = format!("{v:.2e}");
        let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = mant.trim_end_matches('0').trim_end_matches('.');
        return format!("{mant}e{exp}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

#[cfg(test)]
pub(crate) mod test_util {
    /// Decodes PNG bytes into (width, height, RGB pixels), failing on anything but 8-bit RGB.
    pub(crate) fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("valid PNG header");
        let mut buf = vec![0; reader.output_buffer_size().expect("buffer size")];
        let info = reader.next_frame(&mut buf).expect("valid PNG data");
        assert_eq!(info.color_type, png::ColorType::Rgb);
        buf.truncate(info.buffer_size());
        (info.width, info.height, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmt_num_is_compact() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(0.123456), "0.123");
        assert_eq!(fmt_num(12.5), "12.5");
        assert_eq!(fmt_num(1234.0), "1234");
        assert_eq!(fmt_num(2e-5), "2e-5");
        assert_eq!(fmt_num(-1.5e6), "-1.5e6");
    }

    #[test]
    fn wrap_and_fit_respect_widths() {
        ensure_font().unwrap();
        let lines = wrap("a fairly long caption that must wrap onto lines", 12.0, 100);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| text_width(l, 12.0) <= 100 || !l.contains(' ')));
        let short = fit("a very long column title indeed", 12.0, 60);
        assert!(short.ends_with('…') && text_width(&short, 12.0) <= 60);
    }

    #[test]
    fn text_leaves_ink_where_asked() {
        let mut canvas = Canvas::new(120, 40, 1).unwrap();
        canvas.text("Hello", (60, 10), 14.0, [0, 0, 0], HPos::Center).unwrap();
        let dark = |x0: usize, x1: usize| (10..30).any(|y| (x0..x1).any(|x| canvas.buf[(y * 120 + x) * 3] < 100));
        assert!(dark(35, 85), "ink around the centre");
        assert!(!dark(0, 25) && !dark(95, 120), "nothing far from it");
        canvas.text("clipped", (-50, -5), 14.0, [0, 0, 0], HPos::Left).unwrap();
    }

    #[test]
    fn canvas_rejects_bad_sizes() {
        assert!(Canvas::new(0, 10, 1).is_err());
        assert!(Canvas::new(10, MAX_SIDE + 1, 1).is_err());
        assert!(Canvas::new(10, 10, 9).is_err());
    }
}
