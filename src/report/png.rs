//! PNG figures re-encoded with a palette of at most 256 colours before they are inlined: the
//! figures are flat colours, grey text and smooth colour maps, so an indexed image looks the
//! same at a third of the bytes. The files on disk stay as they are.

use std::collections::HashMap;

use anyhow::{Context as _, Result, ensure};

/// A colour and how many pixels have it.
type Counted = ([u8; 3], usize);

/// `png` as an indexed-colour PNG: its own colours when it has at most 256, else a median-cut
/// palette with every colour mapped to the nearest entry. Grey or unusual PNGs come back as
/// they are.
pub fn palette(png: &[u8]) -> Result<Vec<u8>> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().context("reading a PNG header")?;
    let mut buf = vec![0; reader.output_buffer_size().context("PNG size")?];
    let info = reader.next_frame(&mut buf).context("decoding a PNG")?;
    let channels = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        _ => return Ok(png.to_vec()),
    };
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()].chunks(channels).map(|p| [p[0], p[1], p[2]]).collect();
    ensure!(pixels.len() == info.width as usize * info.height as usize, "unexpected PNG layout");
    let mut counts: HashMap<[u8; 3], usize> = HashMap::new();
    pixels.iter().for_each(|p| *counts.entry(*p).or_default() += 1);
    let mut colours: Vec<Counted> = counts.into_iter().collect();
    // Sorted, so the output does not depend on hashing.
    colours.sort();
    let palette = median_cut(colours.clone(), 256);
    let index: HashMap<[u8; 3], u8> = colours.iter().map(|(c, _)| (*c, nearest(&palette, *c))).collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, info.width, info.height);
    encoder.set_color(png::ColorType::Indexed);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_palette(palette.concat());
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels.iter().map(|p| index[p]).collect::<Vec<u8>>())?;
    writer.finish()?;
    Ok(out)
}

/// At most `n` colours standing for `colours`: the boxes of RGB space holding the most
/// pixels times their widest side are split at their pixel-weighted median until there are
/// `n`; each box gives its pixel-weighted mean. Exactly `colours` when there are at most `n`.
fn median_cut(colours: Vec<Counted>, n: usize) -> Vec<[u8; 3]> {
    if colours.len() <= n {
        return colours.into_iter().map(|(c, _)| c).collect();
    }
    let spread = |b: &[Counted]| -> (usize, u8) {
        (0..3)
            .map(|k| (k, b.iter().map(|c| c.0[k]).max().unwrap_or(0) - b.iter().map(|c| c.0[k]).min().unwrap_or(0)))
            .max_by_key(|s| s.1)
            .unwrap_or((0, 0))
    };
    let weight = |b: &[Counted]| b.iter().map(|c| c.1).sum::<usize>();
    let mut boxes = vec![colours];
    while boxes.len() < n {
        let Some(i) = (0..boxes.len()).filter(|&i| boxes[i].len() > 1).max_by_key(|&i| weight(&boxes[i]) * spread(&boxes[i]).1 as usize)
        else {
            break;
        };
        let mut b = boxes.swap_remove(i);
        let axis = spread(&b).0;
        b.sort_by_key(|c| c.0[axis]);
        let half = weight(&b) / 2;
        let mut acc = 0;
        let cut = b.iter().position(|c| {
            acc += c.1;
            acc >= half
        });
        let cut = cut.unwrap_or(0).clamp(0, b.len() - 2) + 1;
        let rest = b.split_off(cut);
        boxes.push(b);
        boxes.push(rest);
    }
    boxes
        .iter()
        .map(|b| {
            let w = weight(b).max(1) as f64;
            std::array::from_fn(|k| (b.iter().map(|c| c.0[k] as f64 * c.1 as f64).sum::<f64>() / w).round() as u8)
        })
        .collect()
}

/// Index of the palette colour closest to `c` (squared RGB distance).
fn nearest(palette: &[[u8; 3]], c: [u8; 3]) -> u8 {
    let d = |p: &[u8; 3]| (0..3).map(|k| (p[k] as i32 - c[k] as i32).pow(2)).sum::<i32>();
    (0..palette.len()).min_by_key(|&i| d(&palette[i])).unwrap_or(0) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb_png(w: u32, h: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let pixel = &pixel;
        let data: Vec<u8> = (0..h).flat_map(|y| (0..w).flat_map(move |x| pixel(x, y))).collect();
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        out
    }

    fn decode(bytes: &[u8]) -> Vec<u8> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        buf
    }

    #[test]
    fn few_colours_are_kept_exactly_and_many_approximately() {
        let flat = rgb_png(40, 30, |x, y| if (x / 10 + y / 10) % 2 == 0 { [178, 24, 43] } else { [255, 255, 255] });
        let indexed = palette(&flat).unwrap();
        assert_eq!(decode(&indexed), decode(&flat), "two colours survive exactly");
        // A colour map sampled finer than 256 steps, as in pattern figures.
        let ramp = rgb_png(600, 10, |x, _| crate::figures::colormap::diverging(x as f32 - 300.0, 300.0));
        let back = decode(&palette(&ramp).unwrap());
        let worst = back.iter().zip(decode(&ramp)).map(|(a, b)| (*a as i32 - b as i32).abs()).max().unwrap();
        assert!(worst <= 16, "nearest palette colour is close: {worst}");
    }
}
