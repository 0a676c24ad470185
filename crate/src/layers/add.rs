//! Add (Keras's): the element-wise sum of two or more inputs of one shape, in their order
//! (`((x₀ + x₁) + x₂) …`, as Keras's `Add` folds them). Its gradient is the output's, for every
//! input. A merge layer (as is [`concatenate`](super::concatenate)): a model whose spec lists
//! `inputs` is a graph, and merges are where its branches meet (a residual connection).

use super::{Backward, BuildLayer, Builder, Built, Forward, Layer};
use crate::error::Result;
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSpec {}

impl BuildLayer for AddSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        if b.more_shapes.is_empty() {
            return Err(b.error("add", "it needs at least 2 inputs, got 1"));
        }
        let dims = |s: &[usize; 3]| format!("{}×{}×{}", s[0], s[1], s[2]);
        if let Some((k, s)) = b.more_shapes.iter().enumerate().find(|(_, s)| **s != b.shape) {
            return Err(b.error(
                "add",
                format!(
                    "its inputs must have one shape: input 0 is {}, input {} is {}",
                    dims(&b.shape),
                    k + 1,
                    dims(s)
                ),
            ));
        }
        Ok(Built::plain(Add, b.shape))
    }
}

pub struct Add;

impl Layer for Add {
    fn kind(&self) -> &'static str {
        "add"
    }

    fn merges(&self) -> bool {
        true
    }

    fn forward(&mut self, f: Forward<'_>) {
        f.y.copy_from_slice(f.x);
    }

    fn merge_forward(&mut self, _k: usize, x: &[f32], y: &mut [f32]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y += x;
        }
    }

    fn backward(&mut self, b: Backward<'_>) {
        if b.need_dx {
            b.dx.copy_from_slice(b.dy);
        }
    }

    fn merge_backward(&mut self, _k: usize, dy: &[f32], dx: &mut [f32], accumulate: bool) {
        if accumulate {
            for (d, &g) in dx.iter_mut().zip(dy) {
                *d += g;
            }
        } else {
            dx.copy_from_slice(dy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::rng::Rng;

    kernel_test!(
        fn sums_in_order_and_passes_the_gradient_to_every_input() {
            let (x0, x1, x2) = ([1.0f32, -2.0, 3.5], [0.25f32, 4.0, -1.0], [1e8f32, -1e8, 0.5]);
            let mut add = Add;
            let mut y = [0.0f32; 3];
            let mut rng = Rng::new(1);
            add.forward(Forward {
                batch: 1,
                x: &x0,
                y: &mut y,
                kernel: &[],
                bias: &[],
                scratch: &mut [],
                rng: &mut rng,
                training: true,
                version: 1,
            });
            add.merge_forward(1, &x1, &mut y);
            add.merge_forward(2, &x2, &mut y);
            let want: Vec<f32> = (0..3).map(|i| (x0[i] + x1[i]) + x2[i]).collect();
            assert_eq!(y.to_vec(), want);
            let dy = [0.5f32, -1.5, 2.0];
            let mut dx = [9.0f32; 3];
            add.merge_backward(1, &dy, &mut dx, false);
            assert_eq!(dx, dy);
            add.merge_backward(1, &dy, &mut dx, true);
            assert_eq!(dx, [1.0, -3.0, 4.0]);
        }
    );
}
