//! Random erasing's arithmetic (Keras 3's RandomErasing): each image's rectangle of positions is
//! replaced by fill values in the forward pass, and passes no gradient in the backward pass (the
//! fill does not depend on the input); everywhere else values and gradients pass unchanged.
//!
//! Nothing is computed, only copied and set, so there is no separate SIMD form: the copies are
//! `copy_from_slice` and give the same bits on every target.

use super::warp::ImageParams;

/// One image's erased rectangle: rows `top..bottom`, columns `left..right`, every channel. An
/// empty range (the default) leaves the image as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EraseBox {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

impl EraseBox {
    /// Values the box replaces in an image of `c` channels.
    pub fn len(&self, c: usize) -> usize {
        self.bottom.saturating_sub(self.top) * self.right.saturating_sub(self.left) * c
    }

    pub fn is_empty(&self) -> bool {
        self.bottom <= self.top || self.right <= self.left
    }
}

/// What an erased value becomes.
#[derive(Clone, Copy, Debug)]
pub enum Fill<'a> {
    Constant(f32),
    /// One value per erased value, image after image, each box's rows, columns and channels in
    /// order: `boxes.iter().map(|b| b.len(c)).sum()` values.
    Values(&'a [f32]),
}

fn check(p: &ImageParams, boxes: &[EraseBox], a: usize, b: usize) {
    assert!(boxes.len() == p.batch && a == p.len() && b == p.len(), "erase: sizes");
    assert!(boxes.iter().all(|b| b.is_empty() || (b.bottom <= p.h && b.right <= p.w)), "erase: a box leaves the image");
}

/// `y` = `x` with each image's box set to the fill.
pub fn erase_forward(p: &ImageParams, boxes: &[EraseBox], fill: Fill<'_>, x: &[f32], y: &mut [f32]) {
    check(p, boxes, x.len(), y.len());
    y.copy_from_slice(x);
    let (plane, row) = (p.h * p.w * p.c, p.w * p.c);
    let mut next = 0;
    for (n, b) in boxes.iter().enumerate().filter(|(_, b)| !b.is_empty()) {
        for r in b.top..b.bottom {
            let span = &mut y[n * plane + r * row + b.left * p.c..][..(b.right - b.left) * p.c];
            match fill {
                Fill::Constant(v) => span.fill(v),
                Fill::Values(values) => {
                    span.copy_from_slice(&values[next..next + span.len()]);
                    next += span.len();
                }
            }
        }
    }
    if let Fill::Values(values) = fill {
        assert_eq!(next, values.len(), "erase: fill values for {next} erased values, got {}", values.len());
    }
}

/// `dx` = `dy` with each image's box set to 0.
pub fn erase_backward(p: &ImageParams, boxes: &[EraseBox], dy: &[f32], dx: &mut [f32]) {
    erase_forward(p, boxes, Fill::Constant(0.0), dy, dx);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{check_gradient, random_vec, test_rng};

    kernel_test!(
        fn erases_each_box_with_its_fill_and_passes_no_gradient_through_it() {
            let p = ImageParams { batch: 3, h: 4, w: 5, c: 2 };
            let x: Vec<f32> = (0..p.len()).map(|i| i as f32).collect();
            let boxes = [
                EraseBox { top: 1, bottom: 3, left: 2, right: 5 },
                EraseBox::default(),
                EraseBox { top: 0, bottom: 1, left: 0, right: 1 },
            ];
            let mut y = vec![0.0; p.len()];
            erase_forward(&p, &boxes, Fill::Constant(-1.0), &x, &mut y);
            let inside = |n: usize, r: usize, col: usize| {
                let b = boxes[n];
                (b.top..b.bottom).contains(&r) && (b.left..b.right).contains(&col)
            };
            for (i, (&a, &b)) in x.iter().zip(&y).enumerate() {
                let (n, r, col) = (i / 40, i % 40 / 10, i % 10 / 2);
                assert_eq!(b, if inside(n, r, col) { -1.0 } else { a }, "value {i}");
            }
            // Per-value fills, in image, row, column, channel order.
            let count: usize = boxes.iter().map(|b| b.len(p.c)).sum();
            assert_eq!(count, 2 * 3 * 2 + 2);
            let fills: Vec<f32> = (0..count).map(|i| 1000.0 + i as f32).collect();
            erase_forward(&p, &boxes, Fill::Values(&fills), &x, &mut y);
            let erased: Vec<f32> = y.iter().copied().filter(|&v| v >= 1000.0).collect();
            assert_eq!(erased, fills);
            // Image 0, row 1 (10 values a row), column 2.
            assert_eq!(&y[14..16], &[1000.0, 1001.0]);
            // The gradient: zero inside the boxes, dy elsewhere (a difference quotient agrees).
            let mut rng = test_rng(7);
            let dy = random_vec(&mut rng, p.len());
            let mut dx = vec![0.0; p.len()];
            erase_backward(&p, &boxes, &dy, &mut dx);
            check_gradient("erase", &mut x.iter().map(|v| v * 0.01).collect::<Vec<_>>(), &dx, 80, |x| {
                let mut y = vec![0.0; p.len()];
                erase_forward(&p, &boxes, Fill::Constant(0.5), x, &mut y);
                y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64).sum()
            });
        }
    );
}
