//! Softmax (Keras's layer, `axis=-1`): a softmax over each position's channels. As the last layer
//! it is fused with the cross-entropy loss like a last layer's softmax activation (the layer
//! passes its logits through and `predict` applies the softmax); elsewhere it runs here.

use super::activation::ActivationLayer;
use super::{ActivationSpec, Backward, BuildLayer, Builder, Built, Forward, Layer};
use crate::error::Result;
use crate::kernels::softmax::{softmax, softmax_backward, SoftmaxParams};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftmaxSpec {}

const KIND: &str = "softmax";

impl BuildLayer for SoftmaxSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        if b.last {
            let identity = b.activation(ActivationSpec::Softmax, KIND)?;
            return Ok(Built::plain(ActivationLayer::new(identity, KIND), b.shape));
        }
        let [h, w, c] = b.shape;
        Ok(Built::plain(SoftmaxLayer { positions: h * w, channels: c }, b.shape))
    }
}

pub struct SoftmaxLayer {
    /// Positions per example (height·width), each normalised over its channels.
    positions: usize,
    channels: usize,
}

impl SoftmaxLayer {
    fn params(&self, batch: usize) -> SoftmaxParams {
        SoftmaxParams { batch: batch * self.positions, classes: self.channels }
    }
}

impl Layer for SoftmaxLayer {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn forward(&mut self, f: Forward<'_>) {
        softmax(&self.params(f.batch), f.x, f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        softmax_backward(&self.params(b.batch), b.y, b.dy, b.dx);
    }
}
