//! Concatenate (Keras's) on the channel axis: inputs of one height and width, their channels one
//! after another at every pixel (NHWC), in the inputs' order. A merge layer, like
//! [`add`](super::merge): it joins a graph's branches (Inception- and DenseNet-style). Its gradient
//! is the output's, each input taking its own channels.

use super::{Backward, BuildLayer, Builder, Built, Forward, Layer};
use crate::error::Result;
use serde::Deserialize;

fn last_axis() -> i64 {
    -1
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConcatenateSpec {
    /// Keras's axis counting the batch: -1 or 3 (the channels) is the one read.
    #[serde(default = "last_axis")]
    pub axis: i64,
}

impl BuildLayer for ConcatenateSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        const KIND: &str = "concatenate";
        if self.axis != -1 && self.axis != 3 {
            return Err(
                b.error(KIND, format!("axis {} is not read; only the channels (-1) are concatenated", self.axis))
            );
        }
        if b.more_shapes.is_empty() {
            return Err(b.error(KIND, "it needs at least 2 inputs, got 1"));
        }
        let [h, w, c] = b.shape;
        let mut channels = vec![c];
        for (k, s) in b.more_shapes.iter().enumerate() {
            if s[0] != h || s[1] != w {
                return Err(b.error(
                    KIND,
                    format!(
                        "its inputs must have one height and width: input 0 is {h}×{w}×{c}, input {} is {}×{}×{}",
                        k + 1,
                        s[0],
                        s[1],
                        s[2]
                    ),
                ));
            }
            channels.push(s[2]);
        }
        let total = channels.iter().sum();
        b.check_sizes(&[("channels", total)])?;
        Ok(Built::plain(Concatenate { channels, total }, [h, w, total]))
    }
}

pub struct Concatenate {
    /// Each input's channels, in order, and their sum (the output's).
    channels: Vec<usize>,
    total: usize,
}

impl Concatenate {
    /// Where input `k`'s channels start in each output pixel.
    fn offset(&self, k: usize) -> usize {
        self.channels[..k].iter().sum()
    }

    /// Copies input `k` into its channels of every output pixel.
    fn place(&self, k: usize, x: &[f32], y: &mut [f32]) {
        let (c, at) = (self.channels[k], self.offset(k));
        for (src, dst) in x.chunks_exact(c).zip(y.chunks_exact_mut(self.total)) {
            dst[at..at + c].copy_from_slice(src);
        }
    }
}

impl Layer for Concatenate {
    fn kind(&self) -> &'static str {
        "concatenate"
    }

    fn merges(&self) -> bool {
        true
    }

    fn forward(&mut self, f: Forward<'_>) {
        self.place(0, f.x, f.y);
    }

    fn merge_forward(&mut self, k: usize, _first: &[f32], x: &[f32], y: &mut [f32]) {
        self.place(k, x, y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        if b.need_dx {
            let c = self.channels[0];
            for (dst, src) in b.dx.chunks_exact_mut(c).zip(b.dy.chunks_exact(self.total)) {
                dst.copy_from_slice(&src[..c]);
            }
        }
    }

    fn merge_backward(&mut self, k: usize, dy: &[f32], dx: &mut [f32], accumulate: bool) {
        let (c, at) = (self.channels[k], self.offset(k));
        for (dst, src) in dx.chunks_exact_mut(c).zip(dy.chunks_exact(self.total)) {
            let src = &src[at..at + c];
            if accumulate {
                for (d, &g) in dst.iter_mut().zip(src) {
                    *d += g;
                }
            } else {
                dst.copy_from_slice(src);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::layers::merge_test;

    kernel_test!(
        fn places_each_inputs_channels_at_every_pixel_and_takes_them_back() {
            // Two pixels; inputs of 1, 2 and 1 channels.
            let (x0, x1, x2) = ([1.0f32, 2.0], [10.0f32, 11.0, 20.0, 21.0], [100.0f32, 200.0]);
            let mut layer = Concatenate { channels: vec![1, 2, 1], total: 4 };
            let dy = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
            let (y, g) = merge_test::run(&mut layer, &[&x0, &x1, &x2], 8, &dy);
            assert_eq!(y, [1.0, 10.0, 11.0, 100.0, 2.0, 20.0, 21.0, 200.0]);
            assert_eq!(g, [vec![1.0, 5.0], vec![2.0, 3.0, 6.0, 7.0], vec![4.0, 8.0]]);
        }
    );
}
