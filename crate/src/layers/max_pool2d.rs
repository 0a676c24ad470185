//! MaxPooling2D (Keras's): the largest value of each window; backward routes each gradient to
//! the cell that won, which the forward pass records.

use super::{Backward, BuildLayer, Builder, Built, Curvature, Forward, Layer, Pool2dSpec};
use crate::error::Result;
use crate::kernels::pool::{max_pool_backward, max_pool_forward, Pool2dParams};
use serde::Deserialize;

/// Max pooling's spec.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct MaxPool2dSpec(pub Pool2dSpec);

const KIND: &str = "max_pool2d";

impl BuildLayer for MaxPool2dSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let (g, out) = self.0.geometry(b, KIND)?;
        Ok(Built::plain(MaxPool2d { g, out_len: out.iter().product(), argmax: Vec::new() }, out))
    }
}

pub struct MaxPool2d {
    /// With batch 1.
    g: Pool2dParams,
    out_len: usize,
    /// For each output, the input cell that won.
    argmax: Vec<u32>,
}

impl Layer for MaxPool2d {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn reserve(&mut self, batch: usize) {
        self.argmax.resize(batch * self.out_len, 0);
    }

    fn working_values(&self, batch: u128) -> u128 {
        batch * self.out_len as u128
    }

    fn forward(&mut self, f: Forward<'_>) {
        let n = f.batch * self.out_len;
        max_pool_forward(&Pool2dParams { batch: f.batch, ..self.g }, f.x, f.y, &mut self.argmax[..n]);
    }

    fn backward(&mut self, b: Backward<'_>) {
        let n = b.batch * self.out_len;
        max_pool_backward(&Pool2dParams { batch: b.batch, ..self.g }, b.dy, &self.argmax[..n], b.dx);
    }

    fn has_curvature(&self) -> bool {
        true
    }

    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        let n = c.batch * self.out_len;
        max_pool_backward(&Pool2dParams { batch: c.batch, ..self.g }, c.d2y, &self.argmax[..n], c.d2x);
        Ok(())
    }
}
