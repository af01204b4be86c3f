//! The pixel grid a model reads, at the bottom of the crate: its [`ImageShape`] travels from the
//! data's IDX header to every image-space operation ([`ops`]), template and mask ([`templates`]),
//! metric and figure, so nothing assumes 28×28.
//!
//! Pixels are row-major (`p = width·row + col`); grid coordinates put the image on `[−1, 1]²`
//! with `y = −1` the top row and `x = −1` the left column (SPEC §0), so templates and masks mean
//! the same place on any size.

pub mod ops;
pub mod prepare;
pub mod templates;

use std::fmt;

use num_traits::Float;
use serde::{Deserialize, Serialize};

/// Height and width of the images a model reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageShape {
    pub height: usize,
    pub width: usize,
}

impl ImageShape {
    /// MNIST's 28 × 28 digits (and the embedded default data).
    pub const MNIST: ImageShape = ImageShape { height: 28, width: 28 };

    /// The smallest side image priors, masks and metrics accept: the locality metric's window.
    pub const MIN_SIDE: usize = 7;

    pub const fn new(height: usize, width: usize) -> Self {
        Self { height, width }
    }

    /// Pixels per image (`height · width`), the input size of a model reading these images.
    pub const fn pixels(self) -> usize {
        self.height * self.width
    }

    /// Whether image-space work (priors, masks, locality) can run on this shape: both sides at
    /// least [`ImageShape::MIN_SIDE`].
    pub fn supports_image_work(self) -> bool {
        self.height >= Self::MIN_SIDE && self.width >= Self::MIN_SIDE
    }

    /// Grid coordinate of row `row` (`−1` at the top, `+1` at the bottom).
    pub fn y<T: Float>(self, row: usize) -> T {
        grid(row, self.height)
    }

    /// Grid coordinate of column `col` (`−1` at the left, `+1` at the right).
    pub fn x<T: Float>(self, col: usize) -> T {
        grid(col, self.width)
    }

    /// Grid coordinates `(y, x)` of pixel `p`.
    pub fn coords<T: Float>(self, p: usize) -> (T, T) {
        (self.y(p / self.width), self.x(p % self.width))
    }
}

impl fmt::Display for ImageShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}", self.height, self.width)
    }
}

/// `−1 + 2i/(n − 1)`: `n` evenly spaced points on `[−1, 1]` (the single point 0 when `n = 1`).
fn grid<T: Float>(i: usize, n: usize) -> T {
    let v = if n > 1 { -1.0 + 2.0 * i as f64 / (n - 1) as f64 } else { 0.0 };
    T::from(v).expect("grid coordinate representable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_coordinates_span_the_square() {
        let s = ImageShape::new(5, 3);
        assert_eq!(s.pixels(), 15);
        assert_eq!(s.coords::<f64>(0), (-1.0, -1.0));
        assert_eq!(s.coords::<f64>(14), (1.0, 1.0));
        assert_eq!(s.coords::<f64>(7), (0.0, 0.0));
        assert_eq!(ImageShape::MNIST.y::<f64>(27), 1.0);
        assert!(!ImageShape::new(6, 40).supports_image_work() && ImageShape::new(7, 7).supports_image_work());
        assert_eq!(ImageShape::MNIST.to_string(), "28×28");
    }
}
