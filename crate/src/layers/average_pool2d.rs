//! AveragePooling2D (Keras's): the mean of each window; padded cells do not count.

use super::{Backward, BuildLayer, Builder, Built, Forward, Layer, Pool2dSpec};
use crate::error::Result;
use crate::kernels::pool::{avg_pool_backward, avg_pool_forward, Pool2dParams};

const KIND: &str = "average_pool2d";

/// Average pooling's spec.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(transparent)]
pub struct AveragePool2dSpec(pub Pool2dSpec);

impl BuildLayer for AveragePool2dSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let (g, out) = self.0.geometry(b, KIND)?;
        Ok(Built::plain(AveragePool2d { g }, out))
    }
}

/// Average pooling has no curvature rule: SDLM refuses it (use subsampling2d or max pooling).
pub struct AveragePool2d {
    g: Pool2dParams,
}

impl Layer for AveragePool2d {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn forward(&mut self, f: Forward<'_>) {
        avg_pool_forward(&Pool2dParams { batch: f.batch, ..self.g }, f.x, f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        avg_pool_backward(&Pool2dParams { batch: b.batch, ..self.g }, b.dy, b.dx);
    }
}
