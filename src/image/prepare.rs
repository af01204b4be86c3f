//! A picture of one character prepared as MNIST's digits were, so that a model trained on them
//! reads it as the report's draw panel does: light ink on a dark field (a picture on light paper
//! is inverted), the ink's bounding box scaled to fit the central 20 × 20 of 28 × 28 (in
//! proportion for other sizes) keeping its aspect ratio, then shifted so that its centre of mass
//! sits at the centre.

use std::path::Path;

use anyhow::{Context as _, Result, bail, ensure};

use super::ImageShape;

/// The most pixels of a picture read: a drawing of one character needs far fewer, and a PNG of
/// a few kilobytes can declare gigabytes of them.
pub const MAX_PNG_PIXELS: usize = 4096 * 4096;

/// A PNG file as grey levels in [0, 1] (row-major) with its height and width; transparent
/// pixels count as white paper.
pub fn read_png(path: &Path) -> Result<(Vec<f32>, ImageShape)> {
    let file = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().with_context(|| format!("{} is not a PNG image", path.display()))?;
    let (width, height) = (reader.info().width as usize, reader.info().height as usize);
    ensure!(
        width * height <= MAX_PNG_PIXELS,
        "{} is {width}×{height} pixels, more than the {MAX_PNG_PIXELS} (4096×4096) a drawing is read at",
        path.display()
    );
    let mut buf = vec![0; reader.output_buffer_size().context("the PNG image is too large")?];
    let info = reader.next_frame(&mut buf).with_context(|| format!("decoding {}", path.display()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    ensure!(w > 0 && h > 0, "{} has no pixels", path.display());
    let channels = info.color_type.samples();
    let level = |px: &[u8]| -> f32 {
        let v = |i: usize| px[i] as f32 / 255.0;
        match channels {
            1 => v(0),
            2 => v(0) * v(1) + (1.0 - v(1)),
            3 => (v(0) + v(1) + v(2)) / 3.0,
            _ => (v(0) + v(1) + v(2)) / 3.0 * v(3) + (1.0 - v(3)),
        }
    };
    let gray = buf[..info.buffer_size()].chunks(channels).map(level).collect();
    Ok((gray, ImageShape::new(h, w)))
}

/// `gray` (grey levels in [0, 1] of an image of `from`'s size) prepared on a `to` grid.
pub fn prepare(gray: &[f32], from: ImageShape, to: ImageShape) -> Result<Vec<f32>> {
    ensure!(gray.len() == from.pixels(), "{} grey levels for a {}×{} image", gray.len(), from.height, from.width);
    let border: Vec<f32> = (0..gray.len())
        .filter(|&i| i / from.width == 0 || i % from.width == 0 || i / from.width + 1 == from.height || i % from.width + 1 == from.width)
        .map(|i| gray[i])
        .collect();
    let paper_is_light = border.iter().sum::<f32>() / border.len() as f32 > 0.5;
    let ink: Vec<f32> = gray.iter().map(|&v| if paper_is_light { 1.0 - v } else { v }.clamp(0.0, 1.0)).collect();
    let peak = ink.iter().copied().fold(0.0, f32::max);
    let inked: Vec<usize> = (0..ink.len()).filter(|&i| ink[i] > 0.1 * peak).collect();
    if peak <= 0.0 || inked.is_empty() {
        bail!("the picture has no ink: nothing stands out from its background");
    }
    let (rows, cols) = (inked.iter().map(|&i| i / from.width), inked.iter().map(|&i| i % from.width));
    let (r0, r1) = (rows.clone().min().unwrap_or(0), rows.max().unwrap_or(0) + 1);
    let (c0, c1) = (cols.clone().min().unwrap_or(0), cols.max().unwrap_or(0) + 1);
    // The box that the ink's bounding box is scaled into: 20 of 28, in proportion.
    let fit = (to.height.min(to.width) as f32 * 20.0 / 28.0).max(1.0);
    let scale = fit / ((r1 - r0).max(c1 - c0) as f32);
    let (h, w) = (((r1 - r0) as f32 * scale).round().max(1.0) as usize, ((c1 - c0) as f32 * scale).round().max(1.0) as usize);
    let (top, left) = ((to.height.saturating_sub(h)) / 2, (to.width.saturating_sub(w)) / 2);
    // Each target pixel averages a 4 × 4 grid of bilinear samples of the source's box.
    let sample = |y: f32, x: f32| -> f32 {
        let (y, x) = (y.clamp(0.0, (from.height - 1) as f32), x.clamp(0.0, (from.width - 1) as f32));
        let (y0, x0) = (y.floor() as usize, x.floor() as usize);
        let (y1, x1) = ((y0 + 1).min(from.height - 1), (x0 + 1).min(from.width - 1));
        let (fy, fx) = (y - y0 as f32, x - x0 as f32);
        let at = |r: usize, c: usize| ink[r * from.width + c];
        (1.0 - fy) * ((1.0 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1.0 - fx) * at(y1, x0) + fx * at(y1, x1))
    };
    let mut out = vec![0.0f32; to.pixels()];
    for r in 0..h.min(to.height) {
        for c in 0..w.min(to.width) {
            let mut sum = 0.0;
            for k in 0..16 {
                let (dy, dx) = ((k / 4) as f32 + 0.5, (k % 4) as f32 + 0.5);
                sum += sample(r0 as f32 + (r as f32 + dy / 4.0) / scale - 0.5, c0 as f32 + (c as f32 + dx / 4.0) / scale - 0.5);
            }
            out[(top + r) * to.width + left + c] = (sum / 16.0 / peak).min(1.0);
        }
    }
    Ok(centre_of_mass_centred(&out, to))
}

/// `image` shifted by whole pixels so that its centre of mass sits at the centre.
fn centre_of_mass_centred(image: &[f32], shape: ImageShape) -> Vec<f32> {
    let total: f32 = image.iter().sum();
    let mean = |coord: fn(usize, usize) -> usize| (0..image.len()).map(|i| image[i] * coord(i, shape.width) as f32).sum::<f32>() / total;
    let (cy, cx) = (mean(|i, w| i / w), mean(|i, w| i % w));
    let (dy, dx) = (((shape.height as f32 - 1.0) / 2.0 - cy).round() as isize, ((shape.width as f32 - 1.0) / 2.0 - cx).round() as isize);
    let mut out = vec![0.0; image.len()];
    for (i, &v) in image.iter().enumerate() {
        let (r, c) = ((i / shape.width) as isize + dy, (i % shape.width) as isize + dx);
        if (0..shape.height as isize).contains(&r) && (0..shape.width as isize).contains(&c) {
            out[r as usize * shape.width + c as usize] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dark_bar_on_light_paper_becomes_a_centred_light_bar_twenty_pixels_long() {
        let from = ImageShape::new(60, 100);
        let paper: Vec<f32> =
            (0..6000).map(|i| if (10..14).contains(&(i / 100)) && (5..45).contains(&(i % 100)) { 0.0 } else { 1.0 }).collect();
        let x = prepare(&paper, from, ImageShape::MNIST).unwrap();
        let inked: Vec<usize> = (0..784).filter(|&i| x[i] > 0.5).collect();
        let cols: Vec<usize> = inked.iter().map(|i| i % 28).collect();
        assert_eq!(cols.iter().max().unwrap() - cols.iter().min().unwrap() + 1, 20, "the long side fills 20 pixels");
        let total: f32 = x.iter().sum();
        let cy = (0..784).map(|i| x[i] * (i / 28) as f32).sum::<f32>() / total;
        assert!((cy - 13.5).abs() <= 1.0, "centre of mass at the centre, found row {cy}");
        assert!(prepare(&[1.0; 100], ImageShape::new(10, 10), ImageShape::MNIST).unwrap_err().to_string().contains("no ink"));
    }
}
