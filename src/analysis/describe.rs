//! Components in words: where a pattern's ink sits, what shape it takes, and what the
//! component votes for, computed from its patterns and head alone, so that every component of
//! every run reads in one line ("horizontal stroke at the top, evidence for 7").
//!
//! A pattern `p` acts through `(p·x)²`, so its overall sign is arbitrary. It is read by its
//! *lobes*: the pixels of one sign above a third of that sign's peak. When the weaker sign holds
//! at least a quarter of the energy, the pattern is a *contrast* of its two lobes' heaviest
//! pieces (ink in one region rather than the other; the second named by its place, or by where
//! it lies from the first when both share a place). Otherwise its dominant lobe is read: a lobe
//! that encloses background is a *ring*; its pieces (8-connected) holding at least a quarter of
//! its energy are its regions; two regions make a *pair* (ink in A together with ink in B); one
//! region is an *arc* open to the left or right, an *arch* or a *cup* when its ink misses its
//! own centre of mass (a C, a ∩, a U), a *stroke* (with its orientation) when its second
//! moments are elongated (axis ratio ≥ 2.5), else a *blob*. Regions are named on a 3 × 3 grid
//! of the image ("at the top", "at the lower left", "in the centre", …), or "across the image"
//! when they spread over most of it.

use crate::decomp::{Component, Form};
use crate::image::ImageShape;
use crate::metrics::patterns::sign_purity;

/// Share of a pattern's energy its weaker sign must hold for the pattern to read as a contrast.
const CONTRAST_SHARE: f64 = 0.25;
/// A lobe is its sign's pixels above this fraction of that sign's peak.
const LOBE_LEVEL: f32 = 1.0 / 3.0;
/// A piece of a lobe is a region of its own when it holds this share of the lobe's energy.
const REGION_SHARE: f64 = 0.25;
/// Axis ratio (square root of the second moments' eigenvalue ratio) from which a region is a stroke.
const STROKE_ELONGATION: f64 = 2.5;

/// The name of class `c`: its given name, else its index.
pub fn class_name(names: Option<&[String]>, c: usize) -> String {
    names.and_then(|n| n.get(c).cloned()).unwrap_or_else(|| c.to_string())
}

/// A component in words: its heavier pattern's shape and role, then the other pattern's
/// when it carries at least a third of the heavier one's weight.
pub fn describe(c: &Component, shape: Option<ImageShape>, names: Option<&[String]>) -> String {
    describe_by(c, c.pattern_weights(), None, shape, names)
}

/// A component in words as it read the input `x` in the logit of `class`: [`describe`], with
/// its patterns ordered by their terms in this input's vote ([`Component::display_terms`])
/// instead of by weight, so an explanation names first what the input matched, and each
/// pattern's evidence given for or against `class` itself when the head votes on it (a
/// component of a dense head otherwise reads as evidence about its strongest class while it
/// moves the one explained).
/// The report's draw panel says the same (`describeOn` in its scripts).
pub fn describe_on(c: &Component, x: &[f32], class: usize, shape: Option<ImageShape>, names: Option<&[String]>) -> String {
    describe_by(c, c.display_terms(x), Some(class), shape, names)
}

/// [`describe`] with the two patterns ordered, and the second kept, by `sizes` (plus, minus),
/// and their roles towards `class` where the head votes on it, else towards its strongest class.
fn describe_by(c: &Component, sizes: [f64; 2], class: Option<usize>, shape: Option<ImageShape>, names: Option<&[String]>) -> String {
    let (class, sign) = match class {
        Some(k) if c.head.get(k).is_some_and(|&h| h != 0.0) => (k, c.head[k].signum()),
        _ => c.head_class(),
    };
    let name = class_name(names, class);
    let role = |evidence: f32| format!("evidence {} {name}", if evidence >= 0.0 { "for" } else { "against" });
    let words = describe_sides(c, shape);
    if c.form == Form::Symmetric {
        return format!("{}, {}", words[0], role(sign));
    }
    // Matching the plus pattern raises the head's logits; matching the minus pattern lowers them.
    let [wp, wm] = sizes;
    let (first, second) = if wp >= wm { ((0, sign, wp), (1, -sign, wm)) } else { ((1, -sign, wm), (0, sign, wp)) };
    let mut text = format!("{}, {}", words[first.0], role(first.1));
    if second.2 >= first.2 / 3.0 {
        text += &format!("; {}, {}", words[second.0], role(second.1));
    }
    text
}

/// The words of a component's plus and minus patterns (the minus empty for a symmetric
/// component). When both read the same, as a contrast of a blob against a shifted copy of it
/// does, the lighter is also named by how it differs from the heavier: "…, shifted left", or
/// "…, wider" or "…, narrower" when their centres nearly meet.
pub fn describe_sides(c: &Component, shape: Option<ImageShape>) -> [String; 2] {
    let minus = if c.form.has_minus() { describe_pattern(&c.minus, shape) } else { String::new() };
    let mut words = [describe_pattern(&c.plus, shape), minus];
    let Some(shape) = shape.filter(|s| s.pixels() == c.plus.len()) else { return words };
    if c.form.has_minus() && words[0] == words[1] {
        let [wp, wm] = c.pattern_weights();
        let (heavy, light) = if wp >= wm { (0, 1) } else { (1, 0) };
        let region = |p: &[f32]| Lobe::of(p, shape, major_sign(p)).heaviest();
        let sides = [&c.plus, &c.minus];
        let (from, to) = (region(sides[heavy]), region(sides[light]));
        let change = match to.side_of(&from) {
            "above it" => "shifted up",
            "below it" => "shifted down",
            "left of it" => "shifted left",
            "right of it" => "shifted right",
            _ if to.spread() > from.spread() => "wider",
            _ => "narrower",
        };
        words[light] = format!("{}, {change}", words[light]);
    }
    words
}

/// The sign holding most of a pattern's energy (+1 on a tie).
fn major_sign(p: &[f32]) -> f32 {
    let positive: f64 = p.iter().filter(|&&v| v > 0.0).map(|&v| (v as f64).powi(2)).sum();
    let negative: f64 = p.iter().filter(|&&v| v < 0.0).map(|&v| (v as f64).powi(2)).sum();
    if positive >= negative { 1.0 } else { -1.0 }
}

/// One pattern in words (see the module's documentation); inputs that are not images are
/// named by their strongest entries.
pub fn describe_pattern(p: &[f32], shape: Option<ImageShape>) -> String {
    let Some(shape) = shape.filter(|s| s.pixels() == p.len()) else { return strongest_inputs(p) };
    let purity = sign_purity(p);
    if purity == 0.0 {
        return "empty pattern".to_string();
    }
    let major = major_sign(p);
    let minor = -major;
    let lobe = Lobe::of(p, shape, major);
    if 1.0 - purity >= CONTRAST_SHARE {
        let (here, there) = (lobe.heaviest(), Lobe::of(p, shape, minor).heaviest());
        let (place, other) = (here.place(), there.place());
        let where_else = if other != place { format!("ink {other}") } else { format!("ink {}", there.side_of(&here)) };
        return format!("{} against {where_else}", here.read());
    }
    lobe.read()
}

fn strongest_inputs(p: &[f32]) -> String {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[b].abs().total_cmp(&p[a].abs()));
    let top: Vec<String> = order.iter().take(3).map(|i| i.to_string()).collect();
    format!("inputs {} (of {})", top.join(", "), p.len())
}

/// The pixels of one sign above [`LOBE_LEVEL`] of that sign's peak, with their energies.
struct Lobe {
    shape: ImageShape,
    mask: Vec<bool>,
    energy: Vec<f64>,
}

impl Lobe {
    fn of(p: &[f32], shape: ImageShape, sign: f32) -> Self {
        let peak = p.iter().map(|&v| v * sign).fold(0.0f32, f32::max);
        let mask: Vec<bool> = p.iter().map(|&v| peak > 0.0 && v * sign >= LOBE_LEVEL * peak).collect();
        let energy = p.iter().zip(&mask).map(|(&v, &m)| if m { (v as f64).powi(2) } else { 0.0 }).collect();
        Self { shape, mask, energy }
    }

    fn region(&self, pixels: &[usize]) -> Region {
        Region::of(&self.energy, pixels, self.shape)
    }

    fn whole(&self) -> Region {
        self.region(&(0..self.mask.len()).filter(|&i| self.mask[i]).collect::<Vec<_>>())
    }

    /// Its piece holding the most energy.
    fn heaviest(&self) -> Region {
        let pieces = pieces(&self.mask, self.shape);
        pieces.iter().map(|piece| self.region(piece)).max_by(|a, b| a.energy.total_cmp(&b.energy)).unwrap_or_else(|| self.whole())
    }

    fn read(&self) -> String {
        if encloses_background(&self.mask, self.shape) {
            return format!("ring {}", self.whole().place());
        }
        let total: f64 = self.energy.iter().sum();
        let mut regions: Vec<(Vec<usize>, Region)> = pieces(&self.mask, self.shape)
            .into_iter()
            .map(|piece| {
                let region = self.region(&piece);
                (piece, region)
            })
            .filter(|(_, r)| r.energy >= REGION_SHARE * total)
            .collect();
        regions.sort_by(|a, b| b.1.energy.total_cmp(&a.1.energy));
        if regions.len() >= 2 {
            return format!("ink {} together with ink {}", regions[0].1.place(), regions[1].1.place());
        }
        match regions.into_iter().next() {
            Some((piece, region)) => match region.opening(&piece) {
                Some(shape) => format!("{shape} {}", region.place()),
                None => region.read(),
            },
            None => self.whole().read(),
        }
    }
}

/// Pixels weighted by energy: their centre and second moments, in pixels.
struct Region {
    shape: ImageShape,
    energy: f64,
    /// Centre (row, column).
    centre: [f64; 2],
    /// Second central moments: row-row, column-column, row-column.
    moments: [f64; 3],
}

impl Region {
    fn of(energy: &[f64], pixels: &[usize], shape: ImageShape) -> Self {
        let at = |i: usize| [(i / shape.width) as f64, (i % shape.width) as f64];
        let total: f64 = pixels.iter().map(|&i| energy[i]).sum::<f64>().max(f64::MIN_POSITIVE);
        let mut centre = [0.0; 2];
        for &i in pixels {
            let [r, c] = at(i);
            centre[0] += energy[i] * r / total;
            centre[1] += energy[i] * c / total;
        }
        let mut moments = [0.0; 3];
        for &i in pixels {
            let [r, c] = at(i);
            let (dr, dc) = (r - centre[0], c - centre[1]);
            moments[0] += energy[i] * dr * dr / total;
            moments[1] += energy[i] * dc * dc / total;
            moments[2] += energy[i] * dr * dc / total;
        }
        Self { shape, energy: pixels.iter().map(|&i| energy[i]).sum(), centre, moments }
    }

    /// A stroke (with its direction) or a blob, and where it sits.
    fn read(&self) -> String {
        match self.orientation() {
            Some(direction) => format!("{direction} stroke {}", self.place()),
            None => format!("blob {}", self.place()),
        }
    }

    /// For a piece whose ink misses its own centre of mass (no pixel of it within 1.5 pixels:
    /// a C, a U, a broken ring), its shape by the side it opens to, opposite the side its mass
    /// leans to within its bounding box: "arc open to the right" (a C) or "to the left", "arch"
    /// (open below) or "cup" (open above); `None` for a piece that covers its centre (a blob,
    /// a stroke). Read as a blob, a C-shaped loop would be named by its empty middle.
    fn opening(&self, piece: &[usize]) -> Option<&'static str> {
        let w = self.shape.width;
        let at = |i: usize| ((i / w) as f64, (i % w) as f64);
        if piece.iter().map(|&i| at(i)).any(|(r, c)| (r - self.centre[0]).hypot(c - self.centre[1]) < 1.5) {
            return None;
        }
        let span = |f: fn((f64, f64)) -> f64| {
            piece.iter().map(|&i| f(at(i))).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
        };
        let ((r0, r1), (c0, c1)) = (span(|p| p.0), span(|p| p.1));
        let (dr, dc) = (self.centre[0] - (r0 + r1) / 2.0, self.centre[1] - (c0 + c1) / 2.0);
        Some(match (dr, dc) {
            _ if dc.abs() >= dr.abs() && dc < 0.0 => "arc open to the right",
            _ if dc.abs() >= dr.abs() => "arc open to the left",
            _ if dr < 0.0 => "arch",
            _ => "cup",
        })
    }

    /// The spread of its pixels about their centre (the trace of its second moments).
    fn spread(&self) -> f64 {
        self.moments[0] + self.moments[1]
    }

    /// Where this region lies from `other`: "around it" when their centres nearly meet, else
    /// "above it", "below it", "left of it" or "right of it".
    fn side_of(&self, other: &Region) -> &'static str {
        let (dr, dc) = (self.centre[0] - other.centre[0], self.centre[1] - other.centre[1]);
        match (dr, dc) {
            _ if dr.hypot(dc) < 1.5 => "around it",
            _ if dr.abs() >= dc.abs() && dr < 0.0 => "above it",
            _ if dr.abs() >= dc.abs() => "below it",
            _ if dc < 0.0 => "left of it",
            _ => "right of it",
        }
    }

    /// Where the region sits on a 3 × 3 grid of the image, as a phrase ("at the top").
    fn place(&self) -> String {
        let (h, w) = (self.shape.height as f64, self.shape.width as f64);
        let [rr, cc, _] = self.moments;
        // A uniform spread over the whole image has sd side/√12 ≈ 0.29 side.
        if rr.sqrt() > 0.22 * h && cc.sqrt() > 0.22 * w {
            return "across the image".to_string();
        }
        let third = |v: f64, side: f64| ((3.0 * (v + 0.5) / side).floor() as i32).clamp(0, 2);
        let (row, col) = (third(self.centre[0], h), third(self.centre[1], w));
        match (row, col) {
            (0, 1) => "at the top",
            (2, 1) => "at the bottom",
            (1, 0) => "on the left",
            (1, 2) => "on the right",
            (1, 1) => "in the centre",
            (0, 0) => "at the upper left",
            (0, 2) => "at the upper right",
            (2, 0) => "at the lower left",
            _ => "at the lower right",
        }
        .to_string()
    }

    /// The direction of an elongated region (`horizontal`, `vertical`, `diagonal /`,
    /// `diagonal \`), or `None` for a compact one.
    fn orientation(&self) -> Option<&'static str> {
        let [rr, cc, rc] = self.moments;
        let (mean, diff) = ((rr + cc) / 2.0, (((rr - cc) / 2.0).powi(2) + rc * rc).sqrt());
        let (major, minor) = (mean + diff, (mean - diff).max(0.0));
        if major < STROKE_ELONGATION.powi(2) * minor.max(0.25) {
            return None;
        }
        // The major axis's angle from the horizontal, rows pointing down: positive falls to the right.
        let angle = 0.5 * (2.0 * rc).atan2(cc - rr).to_degrees();
        Some(match angle.abs() {
            a if a < 22.5 => "horizontal",
            a if a > 67.5 => "vertical",
            _ if angle > 0.0 => "diagonal \\",
            _ => "diagonal /",
        })
    }
}

/// The 8-connected pieces of `mask`, each as its pixel indices.
fn pieces(mask: &[bool], shape: ImageShape) -> Vec<Vec<usize>> {
    flood(mask, shape, true)
}

/// Whether `mask` encloses background: a 4-connected piece of its complement that does not
/// touch the image's border.
fn encloses_background(mask: &[bool], shape: ImageShape) -> bool {
    let outside: Vec<bool> = mask.iter().map(|m| !m).collect();
    let on_border = |i: usize| {
        let (r, c) = (i / shape.width, i % shape.width);
        r == 0 || c == 0 || r + 1 == shape.height || c + 1 == shape.width
    };
    flood(&outside, shape, false).iter().any(|piece| piece.len() >= 2 && !piece.iter().any(|&i| on_border(i)))
}

/// Connected pieces of the `true` pixels of `mask`, 8- or 4-connected; a few lines of flood
/// fill rather than an image-processing dependency for one labelling.
fn flood(mask: &[bool], shape: ImageShape, diagonals: bool) -> Vec<Vec<usize>> {
    let (h, w) = (shape.height as isize, shape.width as isize);
    let mut seen = vec![false; mask.len()];
    let mut out = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        let (mut piece, mut stack) = (Vec::new(), vec![start]);
        while let Some(i) = stack.pop() {
            piece.push(i);
            let (r, c) = ((i as isize) / w, (i as isize) % w);
            for (dr, dc) in [(-1, 0), (1, 0), (0, -1), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1)] {
                if !diagonals && dr != 0 && dc != 0 {
                    continue;
                }
                let (nr, nc) = (r + dr, c + dc);
                if (0..h).contains(&nr) && (0..w).contains(&nc) {
                    let j = (nr * w + nc) as usize;
                    if mask[j] && !seen[j] {
                        seen[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        piece.sort_unstable();
        out.push(piece);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decomp::Role;

    const SHAPE: ImageShape = ImageShape::MNIST;

    /// A 28 × 28 pattern with value `f(row, column)`.
    fn pattern(f: impl Fn(f32, f32) -> f32) -> Vec<f32> {
        (0..784).map(|i| f((i / 28) as f32, (i % 28) as f32)).collect()
    }

    fn blob(r0: f32, c0: f32, sd: f32) -> impl Fn(f32, f32) -> f32 {
        move |r, c| (-((r - r0).powi(2) + (c - c0).powi(2)) / (2.0 * sd * sd)).exp()
    }

    fn read(f: impl Fn(f32, f32) -> f32) -> String {
        describe_pattern(&pattern(f), Some(SHAPE))
    }

    #[test]
    fn known_shapes_read_as_themselves() {
        let bar = |r: f32, c: f32| if (4.0..6.0).contains(&r) && (6.0..22.0).contains(&c) { 1.0 } else { 0.0 };
        assert_eq!(read(bar), "horizontal stroke at the top");
        let stroke = |r: f32, c: f32| if (6.0..22.0).contains(&r) && (5.0..7.0).contains(&c) { -0.8 } else { 0.0 };
        assert_eq!(read(stroke), "vertical stroke on the left", "the overall sign does not matter");
        let slash = |r: f32, c: f32| if (r + c - 27.0).abs() < 1.0 && (6.0..22.0).contains(&r) { 1.0 } else { 0.0 };
        assert_eq!(read(slash), "diagonal / stroke in the centre");
        let ring = |r: f32, c: f32| (-((((r - 13.5).powi(2) + (c - 13.5).powi(2)).sqrt() - 7.0).powi(2)) / 1.5).exp();
        assert_eq!(read(ring), "ring in the centre");
        let (top, bottom) = (blob(5.0, 14.0, 1.5), blob(22.0, 14.0, 1.5));
        assert_eq!(read(|r, c| top(r, c) + bottom(r, c)), "ink at the top together with ink at the bottom");
        let (top, centre) = (blob(5.0, 14.0, 2.0), blob(14.0, 14.0, 2.0));
        assert_eq!(read(|r, c| 1.1 * top(r, c) - centre(r, c)), "blob at the top against ink in the centre");
        let (left, right) = (blob(14.0, 12.0, 1.5), blob(14.0, 16.0, 1.5));
        assert_eq!(read(|r, c| right(r, c) - 0.9 * left(r, c)), "blob in the centre against ink left of it");
        assert_eq!(read(blob(21.0, 6.0, 2.0)), "blob at the lower left");
        // A C: the ring with its right side missing is an arc open to the right, not a blob in
        // its empty middle; likewise a U and a ∩.
        assert_eq!(read(|r, c| if c > 17.0 { 0.0 } else { ring(r, c) }), "arc open to the right in the centre");
        assert_eq!(read(|r, c| if r < 10.0 { 0.0 } else { ring(r, c) }), "cup in the centre");
        assert_eq!(read(|r, c| if r > 17.0 { 0.0 } else { ring(r, c) }), "arch in the centre");
        assert_eq!(read(|_, _| 1.0), "blob across the image");
        assert_eq!(describe_pattern(&[0.1, -3.0, 2.0, 0.0], None), "inputs 1, 2, 0 (of 4)");
    }

    #[test]
    fn a_component_names_its_class_and_the_direction_of_its_evidence() {
        let bar = pattern(|r, c| if (4.0..6.0).contains(&r) && (6.0..22.0).contains(&c) { 1.0 } else { 0.0 });
        let mut head = vec![0.0; 10];
        head[7] = -2.0;
        let component = |form: Form, minus: Vec<f32>| Component {
            bank: 0,
            index: 0,
            form,
            role: Role::Displayed,
            a: bar.clone(),
            b: bar.clone(),
            head: head.clone(),
            plus: bar.clone(),
            minus,
            strength: 1.0,
            anchors: None,
            mask: None,
        };
        let names: Vec<String> = (0..10).map(|c| format!("class-{c}")).collect();
        let symmetric = component(Form::Symmetric, vec![0.0; 784]);
        assert_eq!(describe(&symmetric, Some(SHAPE), None), "horizontal stroke at the top, evidence against 7");
        assert_eq!(describe(&symmetric, Some(SHAPE), Some(&names)), "horizontal stroke at the top, evidence against class-7");
        // A split component whose minus pattern (a ring) carries as much: both are read, the
        // minus pattern's evidence opposite to the plus pattern's.
        let ring = pattern(|r, c| (-((((r - 13.5).powi(2) + (c - 13.5).powi(2)).sqrt() - 7.0).powi(2)) / 1.5).exp());
        let scale = (bar.iter().map(|v| v * v).sum::<f32>() / ring.iter().map(|v| v * v).sum::<f32>()).sqrt();
        let split = component(Form::Split, ring.iter().map(|v| v * scale).collect());
        assert_eq!(
            describe(&split, Some(SHAPE), None),
            "horizontal stroke at the top, evidence against 7; ring in the centre, evidence for 7"
        );
        // A blob against a shifted copy of itself: both read alike, so the lighter is also
        // named by how it moved (or, centred alike, by its size).
        let twin = |plus: Vec<f32>, minus: Vec<f32>| Component { plus, minus, ..component(Form::Split, vec![]) };
        let shifted = twin(pattern(blob(21.0, 7.0, 2.0)), pattern(|r, c| 0.9 * blob(21.0, 4.5, 2.0)(r, c)));
        assert_eq!(
            describe(&shifted, Some(SHAPE), None),
            "blob at the lower left, evidence against 7; blob at the lower left, shifted left, evidence for 7"
        );
        let nested = twin(pattern(|r, c| 0.9 * blob(14.0, 14.0, 3.0)(r, c)), pattern(blob(14.0, 14.0, 1.5)));
        assert_eq!(
            describe_sides(&nested, Some(SHAPE)),
            ["blob in the centre", "blob in the centre, narrower"],
            "the wide blob weighs more"
        );
        assert_eq!(describe_sides(&nested, None)[0], describe_pattern(&nested.plus, None), "inputs that are not images");
    }

    /// Read on one input, a contrast names first the pattern the input matched, and the other
    /// only when its term is at least a third as large; a CP component alike, through
    /// `a ± b`.
    #[test]
    fn an_explanation_names_first_what_the_input_matched() {
        let unit = |v: Vec<f32>| {
            let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / n).collect::<Vec<f32>>()
        };
        let (left, right) = (unit(pattern(blob(14.0, 5.0, 2.0))), unit(pattern(blob(14.0, 22.0, 2.0))));
        let mut head = vec![0.0; 10];
        head[7] = 1.0;
        let split = Component {
            bank: 0,
            index: 0,
            form: Form::Split,
            role: Role::Displayed,
            a: left.clone(),
            b: right.clone(),
            head,
            plus: left.clone(),
            minus: right.clone(),
            strength: 1.0,
            anchors: None,
            mask: None,
        };
        let half = |s: f32| left.iter().zip(&right).map(|(l, r)| 0.5 * (l + s * r)).collect::<Vec<f32>>();
        let cp = Component { form: Form::Cp, a: half(1.0), b: half(-1.0), ..split.clone() };
        let on_left = pattern(|r, c| if (12.0..17.0).contains(&r) && (3.0..8.0).contains(&c) { 1.0 } else { 0.0 });
        let on_right = pattern(|r, c| if (12.0..17.0).contains(&r) && (20.0..25.0).contains(&c) { 1.0 } else { 0.0 });
        let both: Vec<f32> = on_left.iter().zip(&on_right).map(|(a, b)| a + 0.9 * b).collect();
        for c in [&split, &cp] {
            let on = |x: &[f32]| describe_on(c, x, 7, Some(SHAPE), None);
            assert_eq!(on(&on_left), "blob on the left, evidence for 7", "{:?}", c.form);
            assert_eq!(on(&on_right), "blob on the right, evidence against 7", "{:?}", c.form);
            assert_eq!(on(&both), "blob on the left, evidence for 7; blob on the right, evidence against 7", "{:?}", c.form);
        }
        // A dense head (strongest on 7, against 2, nothing on 5): read in the logit of 2, each
        // pattern's role is towards 2; in that of a class the head leaves alone, towards 7.
        let dense = Component { head: [0.0, 0.0, -0.4, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0].to_vec(), ..split.clone() };
        assert_eq!(
            describe_on(&dense, &both, 2, Some(SHAPE), None),
            "blob on the left, evidence against 2; blob on the right, evidence for 2"
        );
        assert_eq!(
            describe_on(&dense, &both, 5, Some(SHAPE), None),
            "blob on the left, evidence for 7; blob on the right, evidence against 7"
        );
    }
}
