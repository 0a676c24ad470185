//! Views of images for test-time averaging (`predict`/`evaluate` with `views`): each image
//! flipped (left–right, top–bottom or both) and then moved by whole pixels, zeros where the moved
//! image does not reach, like Keras's `RandomFlip` and `RandomTranslation(fill_mode='constant')`
//! at one fixed draw.
//!
//! Nothing is computed, only copied and set, so there is no separate SIMD form: the copies are
//! `copy_from_slice` (whole rows when nothing is mirrored) and give the same bits on every target.

use super::warp::ImageParams;

/// One view: the image mirrored left–right if `flip_h`, top–bottom if `flip_v`, then moved
/// `dx` columns right and `dy` rows down (negative: left, up).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct View {
    pub dx: i32,
    pub dy: i32,
    pub flip_h: bool,
    pub flip_v: bool,
}

impl View {
    /// Whether any pixel of an `h × w` image stays inside.
    pub fn keeps_pixels(&self, h: usize, w: usize) -> bool {
        (self.dx.unsigned_abs() as usize) < w && (self.dy.unsigned_abs() as usize) < h
    }
}

/// The source index along an axis of `len` for output index `i`: `i − shift`, mirrored first,
/// or `None` outside.
fn source(i: usize, shift: i32, len: usize, mirror: bool) -> Option<usize> {
    let moved = i as i64 - shift as i64;
    if moved < 0 || moved >= len as i64 {
        return None;
    }
    let moved = moved as usize;
    Some(if mirror { len - 1 - moved } else { moved })
}

/// `y[n, r, s, :] = x[n, r′, s′, :]` where `(r′, s′)` is `(r − dy, s − dx)` mirrored as the view
/// says, and 0 where `(r − dy, s − dx)` is outside the image.
pub fn view_images(p: &ImageParams, view: View, x: &[f32], y: &mut [f32]) {
    assert!(x.len() == p.len() && y.len() == p.len(), "view_images: sizes");
    let (plane, row) = (p.h * p.w * p.c, p.w * p.c);
    if p.is_empty() {
        return;
    }
    for (src, dst) in x.chunks_exact(plane).zip(y.chunks_exact_mut(plane)) {
        for (r, out) in dst.chunks_exact_mut(row).enumerate() {
            let Some(sr) = source(r, view.dy, p.h, view.flip_v) else {
                out.fill(0.0);
                continue;
            };
            let input = &src[sr * row..][..row];
            if !view.flip_h {
                // A run of whole pixels: columns max(dx, 0)..w + min(dx, 0) from 0..w − |dx|.
                let shift = view.dx.unsigned_abs() as usize;
                if shift >= p.w {
                    out.fill(0.0);
                    continue;
                }
                let kept = (p.w - shift) * p.c;
                let (from, to) = if view.dx >= 0 { (0, shift * p.c) } else { (shift * p.c, 0) };
                out.fill(0.0);
                out[to..to + kept].copy_from_slice(&input[from..from + kept]);
                continue;
            }
            for (s, pixel) in out.chunks_exact_mut(p.c).enumerate() {
                match source(s, view.dx, p.w, true) {
                    Some(ss) => pixel.copy_from_slice(&input[ss * p.c..][..p.c]),
                    None => pixel.fill(0.0),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;

    /// The definition, value by value.
    fn reference(p: &ImageParams, v: View, x: &[f32]) -> Vec<f32> {
        let mut y = vec![0.0; p.len()];
        for n in 0..p.batch {
            for r in 0..p.h {
                for s in 0..p.w {
                    let (mr, ms) = (r as i64 - v.dy as i64, s as i64 - v.dx as i64);
                    if mr < 0 || ms < 0 || mr >= p.h as i64 || ms >= p.w as i64 {
                        continue;
                    }
                    let sr = if v.flip_v { p.h - 1 - mr as usize } else { mr as usize };
                    let ss = if v.flip_h { p.w - 1 - ms as usize } else { ms as usize };
                    for c in 0..p.c {
                        y[((n * p.h + r) * p.w + s) * p.c + c] = x[((n * p.h + sr) * p.w + ss) * p.c + c];
                    }
                }
            }
        }
        y
    }

    kernel_test!(
        fn every_view_moves_and_mirrors_whole_pixels_with_zeros_outside() {
            let p = ImageParams { batch: 2, h: 4, w: 5, c: 3 };
            let x: Vec<f32> = (0..p.len()).map(|i| 1.0 + i as f32).collect();
            for dx in -6..=6 {
                for dy in -5..=5 {
                    for (flip_h, flip_v) in [(false, false), (true, false), (false, true), (true, true)] {
                        let v = View { dx, dy, flip_h, flip_v };
                        let mut y = vec![f32::NAN; p.len()];
                        view_images(&p, v, &x, &mut y);
                        assert_eq!(y, reference(&p, v, &x), "{v:?}");
                        assert_eq!(v.keeps_pixels(p.h, p.w), y.iter().any(|&a| a != 0.0), "{v:?}");
                    }
                }
            }
            // The identity copies; mirroring twice is the identity.
            let mut y = vec![0.0; p.len()];
            view_images(&p, View::default(), &x, &mut y);
            assert_eq!(y, x);
            let both = View { flip_h: true, flip_v: true, ..View::default() };
            let mut z = vec![0.0; p.len()];
            view_images(&p, both, &x, &mut y);
            view_images(&p, both, &y, &mut z);
            assert_eq!(z, x);
        }
    );
}
