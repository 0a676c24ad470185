//! Spatial padding of NHWC images with a constant (Keras's ZeroPadding2D when the constant is 0;
//! LeNet-5 pads its 28×28 digits to 32×32 with the background level), and its backward, which
//! crops the gradient.
//!
//! Pure data movement, with no arithmetic: the SIMD form is [`copy`] over whole rows, and the
//! scalar reference copies one value at a time. They agree bit for bit.

use super::lanes::copy;

/// The geometry of a padding applied to a batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pad2dParams {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub channels: usize,
    /// Rows added above and below, columns added left and right.
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
    /// The value of the added cells.
    pub value: f32,
}

impl Pad2dParams {
    pub fn out_h(&self) -> usize {
        self.in_h + self.top + self.bottom
    }

    pub fn out_w(&self) -> usize {
        self.in_w + self.left + self.right
    }

    pub fn x_len(&self) -> usize {
        self.batch * self.in_h * self.in_w * self.channels
    }

    pub fn y_len(&self) -> usize {
        self.batch * self.out_h() * self.out_w() * self.channels
    }

    fn check(&self, kernel: &str, x: usize, y: usize) {
        assert_eq!(x, self.x_len(), "{kernel}: the unpadded side has {x} values, expected {}", self.x_len());
        assert_eq!(y, self.y_len(), "{kernel}: the padded side has {y} values, expected {}", self.y_len());
    }

    /// (offset of input row `h` of image `n` in x, offset of its first copied cell in y), per row.
    fn rows(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let c = self.channels;
        let (row_in, row_out) = (self.in_w * c, self.out_w() * c);
        (0..self.batch).flat_map(move |n| {
            (0..self.in_h).map(move |h| {
                let x_at = (n * self.in_h + h) * row_in;
                let y_at = (n * self.out_h() + h + self.top) * row_out + self.left * c;
                (x_at, y_at)
            })
        })
    }
}

/// `y` = `x` surrounded by `value`.
pub fn pad_forward(p: &Pad2dParams, x: &[f32], y: &mut [f32]) {
    p.check("pad_forward", x.len(), y.len());
    y.fill(p.value);
    let row = p.in_w * p.channels;
    for (xa, ya) in p.rows() {
        copy(&mut y[ya..ya + row], &x[xa..xa + row]);
    }
}

/// `dx` = the inner part of `dy` (the added cells are constants and pass no gradient).
pub fn pad_backward(p: &Pad2dParams, dy: &[f32], dx: &mut [f32]) {
    p.check("pad_backward", dx.len(), dy.len());
    let row = p.in_w * p.channels;
    for (xa, ya) in p.rows() {
        copy(&mut dx[xa..xa + row], &dy[ya..ya + row]);
    }
}

/// The reference: one value at a time, by coordinates.
pub mod scalar {
    use super::Pad2dParams;

    pub fn pad_forward(p: &Pad2dParams, x: &[f32], y: &mut [f32]) {
        let c = p.channels;
        let mut at = 0;
        for n in 0..p.batch {
            for h in 0..p.out_h() {
                for w in 0..p.out_w() {
                    for ch in 0..c {
                        let inside = h >= p.top && h < p.top + p.in_h && w >= p.left && w < p.left + p.in_w;
                        y[at] =
                            if inside { x[((n * p.in_h + h - p.top) * p.in_w + w - p.left) * c + ch] } else { p.value };
                        at += 1;
                    }
                }
            }
        }
    }

    pub fn pad_backward(p: &Pad2dParams, dy: &[f32], dx: &mut [f32]) {
        let c = p.channels;
        for n in 0..p.batch {
            for h in 0..p.in_h {
                for w in 0..p.in_w {
                    for ch in 0..c {
                        let y_at = ((n * p.out_h() + h + p.top) * p.out_w() + w + p.left) * c + ch;
                        dx[((n * p.in_h + h) * p.in_w + w) * c + ch] = dy[y_at];
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

    fn shapes() -> Vec<Pad2dParams> {
        let p = |batch, in_h, in_w, channels, top, bottom, left, right, value| Pad2dParams {
            batch,
            in_h,
            in_w,
            channels,
            top,
            bottom,
            left,
            right,
            value,
        };
        vec![
            p(2, 28, 28, 1, 2, 2, 2, 2, -0.1), // LeNet-5's input
            p(1, 3, 5, 3, 0, 1, 2, 0, 0.0),
            p(3, 1, 1, 7, 1, 1, 1, 1, 0.5),
            p(1, 4, 4, 2, 0, 0, 0, 0, 0.0),
            p(2, 5, 3, 5, 3, 0, 0, 4, -2.0),
        ]
    }

    kernel_test!(
        fn pad_matches_the_scalar_reference_bit_for_bit() {
            let mut rng = test_rng(71);
            for p in shapes() {
                let x = random_vec(&mut rng, p.x_len());
                let (mut y, mut want) = (vec![9.0; p.y_len()], vec![0.0; p.y_len()]);
                pad_forward(&p, &x, &mut y);
                scalar::pad_forward(&p, &x, &mut want);
                assert_bits_eq(&y, &want, &format!("pad_forward {p:?}"));
                let dy = random_vec(&mut rng, p.y_len());
                let (mut dx, mut want) = (vec![9.0; p.x_len()], vec![0.0; p.x_len()]);
                pad_backward(&p, &dy, &mut dx);
                scalar::pad_backward(&p, &dy, &mut want);
                assert_bits_eq(&dx, &want, &format!("pad_backward {p:?}"));
            }
        }
    );

    kernel_test!(
        fn pad_gradient_matches_finite_differences() {
            let mut rng = test_rng(72);
            for p in shapes() {
                let mut x = random_vec(&mut rng, p.x_len());
                let weights = random_vec(&mut rng, p.y_len());
                let mut dx = vec![0.0; p.x_len()];
                pad_backward(&p, &weights, &mut dx);
                let mut y = vec![0.0; p.y_len()];
                check_gradient("pad dx", &mut x, &dx, 40, |x| {
                    pad_forward(&p, x, &mut y);
                    y.iter().zip(&weights).map(|(&a, &b)| a as f64 * b as f64).sum()
                });
            }
        }
    );

    kernel_test!(
        fn pad_places_the_image_and_fills_the_border() {
            let p = Pad2dParams {
                batch: 1,
                in_h: 1,
                in_w: 2,
                channels: 1,
                top: 1,
                bottom: 0,
                left: 1,
                right: 1,
                value: -0.1,
            };
            let mut y = vec![0.0; p.y_len()];
            pad_forward(&p, &[1.0, 2.0], &mut y);
            assert_eq!(y, vec![-0.1, -0.1, -0.1, -0.1, -0.1, 1.0, 2.0, -0.1]);
        }
    );
}
