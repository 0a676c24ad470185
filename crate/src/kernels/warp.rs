//! Projective image warps with bilinear sampling, as TensorFlow's `ImageProjectiveTransformV3`
//! computes them (what Keras's RandomTranslation, RandomRotation and RandomZoom run): output
//! pixel (x, y) reads the input at `((a0·x + a1·y + a2)/k, (b0·x + b1·y + b2)/k)` with
//! `k = c0·x + c1·y + 1`, pixel indices as coordinates, the fill mode mapping coordinates outside
//! the image (reflect, wrap, nearest) or reading `fill_value` there (constant); and the warp's
//! backward pass, which spreads each output gradient over the four pixels it read.
//!
//! Coordinates and weights are computed per output pixel in f32 in one order; the channels of a
//! pixel run in [`F4`] lanes with the same weights, so the SIMD and scalar forms give the same bits.

use super::lanes::{groups_of_4, load_upto, store_upto, Lanes, F4};

/// Keras's fill modes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fill {
    Reflect,
    Wrap,
    Nearest,
    Constant(f32),
}

/// `batch` images of `h×w×c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageParams {
    pub batch: usize,
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl ImageParams {
    pub fn len(&self) -> usize {
        self.batch * self.h * self.w * self.c
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// TensorFlow's `map_coordinate` for one axis of length `len`.
fn map_coordinate(v: f32, len: usize, fill: Fill) -> f32 {
    let n = len as f32;
    let last = n - 1.0;
    let v = match fill {
        Fill::Reflect if len <= 1 && (v < 0.0 || v > last) => 0.0,
        Fill::Reflect if v < 0.0 => {
            let sz2 = 2.0 * n;
            let v = if v < -sz2 { sz2 * (-v / sz2).trunc() + v } else { v };
            if v < -n {
                v + sz2
            } else {
                -v - 1.0
            }
        }
        Fill::Reflect if v > last => {
            let sz2 = 2.0 * n;
            let v = v - sz2 * (v / sz2).trunc();
            if v >= n {
                sz2 - v - 1.0
            } else {
                v
            }
        }
        Fill::Wrap if len <= 1 && (v < 0.0 || v > last) => 0.0,
        // TensorFlow divides by len − 1 here (not len), and so do we.
        Fill::Wrap if v < 0.0 => v + n * ((-v / last).trunc() + 1.0),
        Fill::Wrap if v > last => v - n * (v / last).trunc(),
        Fill::Constant(_) => return v,
        _ => v,
    };
    v.clamp(0.0, last)
}

/// For one output pixel: the four input pixels it reads (an index, or None outside the image)
/// with their bilinear weights, in TensorFlow's order.
#[inline(always)]
fn taps(p: &ImageParams, t: &[f32; 8], ox: usize, oy: usize, fill: Fill) -> [(Option<usize>, f32); 4] {
    let (x, y) = (ox as f32, oy as f32);
    let k = t[6] * x + t[7] * y + 1.0;
    let ix = map_coordinate((t[0] * x + t[1] * y + t[2]) / k, p.w, fill);
    let iy = map_coordinate((t[3] * x + t[4] * y + t[5]) / k, p.h, fill);
    let (x0, y0) = (ix.floor(), iy.floor());
    let (x1, y1) = (x0 + 1.0, y0 + 1.0);
    let at = |yy: f32, xx: f32| {
        let inside = yy >= 0.0 && xx >= 0.0 && yy < p.h as f32 && xx < p.w as f32;
        inside.then(|| yy as usize * p.w + xx as usize)
    };
    let (wy0, wy1, wx0, wx1) = (y1 - iy, iy - y0, x1 - ix, ix - x0);
    [(at(y0, x0), wy0 * wx0), (at(y0, x1), wy0 * wx1), (at(y1, x0), wy1 * wx0), (at(y1, x1), wy1 * wx1)]
}

fn check(p: &ImageParams, transforms: usize, x: usize, y: usize) {
    assert_eq!(transforms, p.batch, "warp: {transforms} transforms for {} images", p.batch);
    assert!(x == p.len() && y == p.len(), "warp: x and y must hold {} values", p.len());
}

/// `y = warp(x)`, one transform `[a0, a1, a2, b0, b1, b2, c0, c1]` per image.
pub fn warp_forward(p: &ImageParams, transforms: &[[f32; 8]], fill: Fill, x: &[f32], y: &mut [f32]) {
    check(p, transforms.len(), x.len(), y.len());
    let (plane, c) = (p.h * p.w * p.c, p.c);
    let constant = if let Fill::Constant(v) = fill { v } else { 0.0 };
    for (n, t) in transforms.iter().enumerate() {
        let (image, out) = (&x[n * plane..][..plane], &mut y[n * plane..][..plane]);
        for oy in 0..p.h {
            for ox in 0..p.w {
                let taps = taps(p, t, ox, oy, fill);
                let o = (oy * p.w + ox) * c;
                for r in groups_of_4(c) {
                    let read = |i: Option<usize>| match i {
                        Some(i) => load_upto(&image[i * c + r.start..i * c + r.end], 0.0),
                        None => F4::splat(constant),
                    };
                    // TensorFlow's order: the two rows' x-interpolations, then the y one.
                    let w = |k: usize| F4::splat(taps[k].1);
                    let top = w(0).mul(read(taps[0].0)).add(w(1).mul(read(taps[1].0)));
                    let bottom = w(2).mul(read(taps[2].0)).add(w(3).mul(read(taps[3].0)));
                    store_upto(top.add(bottom), &mut out[o + r.start..o + r.end]);
                }
            }
        }
    }
}

/// `dx` from `dy`: each output's gradient spread over the pixels it read, by their weights, in
/// output order. Pixels read as the constant fill get nothing.
pub fn warp_backward(p: &ImageParams, transforms: &[[f32; 8]], fill: Fill, dy: &[f32], dx: &mut [f32]) {
    check(p, transforms.len(), dx.len(), dy.len());
    let (plane, c) = (p.h * p.w * p.c, p.c);
    dx.fill(0.0);
    for (n, t) in transforms.iter().enumerate() {
        let (d, g) = (&dy[n * plane..][..plane], &mut dx[n * plane..][..plane]);
        for oy in 0..p.h {
            for ox in 0..p.w {
                let taps = taps(p, t, ox, oy, fill);
                let o = (oy * p.w + ox) * c;
                for r in groups_of_4(c) {
                    let dv = load_upto(&d[o + r.start..o + r.end], 0.0);
                    for (i, weight) in taps {
                        if let Some(i) = i {
                            let at = i * c + r.start..i * c + r.end;
                            store_upto(load_upto(&g[at.clone()], 0.0).add(F4::splat(weight).mul(dv)), &mut g[at]);
                        }
                    }
                }
            }
        }
    }
}

/// The reference: one channel at a time.
pub mod scalar {
    use super::{taps, Fill, ImageParams};

    /// See [`super::warp_forward`].
    pub fn warp_forward(p: &ImageParams, transforms: &[[f32; 8]], fill: Fill, x: &[f32], y: &mut [f32]) {
        let (plane, c) = (p.h * p.w * p.c, p.c);
        let constant = if let Fill::Constant(v) = fill { v } else { 0.0 };
        for (n, t) in transforms.iter().enumerate() {
            for oy in 0..p.h {
                for ox in 0..p.w {
                    let taps = taps(p, t, ox, oy, fill);
                    for ch in 0..c {
                        let read = |i: Option<usize>| i.map_or(constant, |i| x[n * plane + i * c + ch]);
                        let top = taps[0].1 * read(taps[0].0) + taps[1].1 * read(taps[1].0);
                        let bottom = taps[2].1 * read(taps[2].0) + taps[3].1 * read(taps[3].0);
                        y[n * plane + (oy * p.w + ox) * c + ch] = top + bottom;
                    }
                }
            }
        }
    }

    /// See [`super::warp_backward`].
    pub fn warp_backward(p: &ImageParams, transforms: &[[f32; 8]], fill: Fill, dy: &[f32], dx: &mut [f32]) {
        let (plane, c) = (p.h * p.w * p.c, p.c);
        dx.fill(0.0);
        for (n, t) in transforms.iter().enumerate() {
            for oy in 0..p.h {
                for ox in 0..p.w {
                    let taps = taps(p, t, ox, oy, fill);
                    for ch in 0..c {
                        let d = dy[n * plane + (oy * p.w + ox) * c + ch];
                        for (i, weight) in taps {
                            if let Some(i) = i {
                                dx[n * plane + i * c + ch] += weight * d;
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    const FILLS: [Fill; 4] = [Fill::Reflect, Fill::Wrap, Fill::Nearest, Fill::Constant(0.25)];

    fn transforms() -> Vec<[f32; 8]> {
        vec![
            [1.0, 0.0, -1.7, 0.0, 1.0, 2.3, 0.0, 0.0],
            [0.87, -0.5, 1.2, 0.5, 0.87, -0.9, 0.0, 0.0],
            [1.3, 0.2, -0.8, 0.0, 0.75, 0.6, 0.01, -0.02],
        ]
    }

    kernel_test!(
        fn simd_matches_scalar() {
            let mut rng = test_rng(101);
            for c in [1, 3, 4, 6] {
                let p = ImageParams { batch: 3, h: 7, w: 9, c };
                let x = random_vec(&mut rng, p.len());
                let dy = random_vec(&mut rng, p.len());
                for fill in FILLS {
                    let (mut a, mut b) = (vec![f32::NAN; p.len()], vec![f32::NAN; p.len()]);
                    warp_forward(&p, &transforms(), fill, &x, &mut a);
                    scalar::warp_forward(&p, &transforms(), fill, &x, &mut b);
                    assert_bits_eq(&a, &b, &format!("{fill:?} forward, c {c}"));
                    warp_backward(&p, &transforms(), fill, &dy, &mut a);
                    scalar::warp_backward(&p, &transforms(), fill, &dy, &mut b);
                    assert_bits_eq(&a, &b, &format!("{fill:?} backward, c {c}"));
                }
            }
        }
    );

    kernel_test!(
        fn backward_is_the_forward_transposed() {
            // The warp is linear in x (the constant fill aside): Σ y·dy = Σ x·dx exactly in f64
            // up to rounding, and the finite differences agree.
            let mut rng = test_rng(102);
            let p = ImageParams { batch: 3, h: 6, w: 5, c: 2 };
            let x = random_vec(&mut rng, p.len());
            let dy = random_vec(&mut rng, p.len());
            for fill in [Fill::Reflect, Fill::Wrap, Fill::Nearest, Fill::Constant(0.0)] {
                let mut dx = vec![0.0; p.len()];
                warp_backward(&p, &transforms(), fill, &dy, &mut dx);
                check_gradient(&format!("{fill:?}"), &mut x.clone(), &dx, 60, |x| {
                    let mut y = vec![0.0; p.len()];
                    warp_forward(&p, &transforms(), fill, x, &mut y);
                    y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64).sum()
                });
            }
        }
    );

    kernel_test!(
        fn identity_and_integer_shifts_are_exact() {
            let p = ImageParams { batch: 1, h: 4, w: 5, c: 1 };
            let x: Vec<f32> = (0..20).map(|v| v as f32).collect();
            let mut y = vec![0.0; 20];
            warp_forward(&p, &[[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]], Fill::Reflect, &x, &mut y);
            assert_eq!(y, x);
            // Shifted right by one: x_in = x − 1; column 0 reads column −1, reflected to column 0.
            warp_forward(&p, &[[1.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0]], Fill::Reflect, &x, &mut y);
            assert_eq!(&y[..5], &[0.0, 0.0, 1.0, 2.0, 3.0]);
            warp_forward(&p, &[[1.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0]], Fill::Constant(-1.0), &x, &mut y);
            assert_eq!(&y[..5], &[-1.0, 0.0, 1.0, 2.0, 3.0]);
        }
    );
}
