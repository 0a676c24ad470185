//! GlobalAveragePooling2D and GlobalMaxPooling2D (Keras's): the mean or the largest value of each
//! channel over the whole image, as a flat 1×1×C output (Keras's `keepdims=False`). They are
//! pooling with one window the size of the image, so they run the pooling kernels.

use super::{Backward, BuildLayer, Builder, Built, Curvature, Forward, Layer, PaddingSpec, Pool2dSpec};
use crate::error::Result;
use crate::kernels::pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, Pool2dParams};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalAveragePool2dSpec {}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalMaxPool2dSpec {}

fn build(b: &Builder, max: bool) -> Result<Built> {
    let kind = if max { "global_max_pool2d" } else { "global_average_pool2d" };
    let [h, w, c] = b.shape;
    let whole = Pool2dSpec { pool_size: [h, w], strides: None, padding: PaddingSpec::Valid };
    let (g, out) = whole.geometry(b, kind)?;
    debug_assert_eq!(out, [1, 1, c]);
    Ok(Built::plain(GlobalPool2d { g, max, kind, argmax: Vec::new() }, out))
}

impl BuildLayer for GlobalAveragePool2dSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        build(b, false)
    }
}

impl BuildLayer for GlobalMaxPool2dSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        build(b, true)
    }
}

pub struct GlobalPool2d {
    /// With batch 1: one window over the whole image.
    g: Pool2dParams,
    max: bool,
    kind: &'static str,
    /// Max pooling: the cell that won, per output.
    argmax: Vec<u32>,
}

impl Layer for GlobalPool2d {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn reserve(&mut self, batch: usize) {
        if self.max {
            self.argmax.resize(batch * self.g.channels, 0);
        }
    }

    fn working_values(&self, batch: u128) -> u128 {
        if self.max {
            batch * self.g.channels as u128
        } else {
            0
        }
    }

    fn forward(&mut self, f: Forward<'_>) {
        let g = Pool2dParams { batch: f.batch, ..self.g };
        if self.max {
            max_pool_forward(&g, f.x, f.y, &mut self.argmax[..f.batch * g.channels]);
        } else {
            avg_pool_forward(&g, f.x, f.y);
        }
    }

    fn backward(&mut self, b: Backward<'_>) {
        let g = Pool2dParams { batch: b.batch, ..self.g };
        if self.max {
            max_pool_backward(&g, b.dy, &self.argmax[..b.batch * g.channels], b.dx);
        } else {
            avg_pool_backward(&g, b.dy, b.dx);
        }
    }

    fn has_curvature(&self) -> bool {
        self.max
    }

    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        let g = Pool2dParams { batch: c.batch, ..self.g };
        max_pool_backward(&g, c.d2y, &self.argmax[..c.batch * g.channels], c.d2x);
        Ok(())
    }
}
