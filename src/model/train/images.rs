//! The training images, gathered into batches as fast as memory allows.

use rayon::prelude::*;

use super::simd::simd;
use crate::data::Dataset;

/// The training images, kept as bytes when every pixel is a multiple of 1/255 (as IDX data
/// is): batches then gather a quarter of the bytes, converted back to the very same floats.
pub(super) enum Images<'a> {
    Bytes(Vec<u8>, usize),
    Floats(&'a Dataset),
}

impl<'a> Images<'a> {
    pub(super) fn new(data: &'a Dataset) -> Self {
        const CHUNK: usize = 1 << 16;
        let mut bytes = vec![0u8; data.pixels.len()];
        let exact = (bytes.par_chunks_mut(CHUNK).zip(data.pixels.par_chunks(CHUNK)))
            .map(|(bytes, pixels)| {
                simd(
                    #[inline(always)]
                    || {
                        let mut exact = true;
                        for (b, &x) in bytes.iter_mut().zip(pixels) {
                            *b = (x * 255.0 + 0.5) as u8;
                            exact &= *b as f32 / 255.0 == x;
                        }
                        exact
                    },
                )
            })
            .reduce(|| true, |a, b| a & b);
        if exact { Images::Bytes(bytes, data.n_inputs) } else { Images::Floats(data) }
    }

    /// Writes image `i` into `out`.
    pub(super) fn copy(&self, i: usize, out: &mut [f32]) {
        match self {
            Images::Bytes(bytes, d) => simd(
                #[inline(always)]
                || {
                    for (x, &b) in out.iter_mut().zip(&bytes[i * d..(i + 1) * d]) {
                        *x = b as f32 / 255.0;
                    }
                },
            ),
            Images::Floats(data) => out.copy_from_slice(data.image(i)),
        }
    }

    /// Asks the CPU to start loading image `i` into the cache (a hint: it cannot fault).
    pub(super) fn prefetch(&self, i: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let (start, bytes) = match self {
                Images::Bytes(bytes, d) => (bytes[i * d..].as_ptr(), *d),
                Images::Floats(data) => (data.image(i).as_ptr().cast::<u8>(), 4 * data.n_inputs),
            };
            for offset in (0..bytes).step_by(64) {
                // SAFETY: prefetching is a hint that never faults.
                unsafe { _mm_prefetch::<_MM_HINT_T0>(start.wrapping_add(offset).cast()) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_gathered_exactly() {
        let mut data = crate::data::embedded().train.subset(&[0, 1, 2]);
        let check = |data: &Dataset, bytes: bool| {
            let images = Images::new(data);
            assert_eq!(matches!(images, Images::Bytes(..)), bytes);
            let mut out = vec![0.0; data.n_inputs];
            for i in 0..data.len() {
                images.prefetch(i);
                images.copy(i, &mut out);
                assert_eq!(out, data.image(i));
            }
        };
        check(&data, true);
        data.pixels[5] = 0.3;
        check(&data, false);
    }
}
