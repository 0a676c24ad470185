//! Activation (Keras's): an element-wise function as a layer of its own.

use super::{ActivationSpec, Backward, BuildLayer, Builder, Built, Curvature, Forward, Layer};
use crate::error::Result;
use crate::kernels::act::{activation_backward, activation_backward_in_place, activation_forward, Activation};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationLayerSpec {
    pub activation: ActivationSpec,
}

const KIND: &str = "activation";

impl BuildLayer for ActivationLayerSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let activation = b.activation(self.activation, KIND)?;
        Ok(Built::plain(ActivationLayer { activation }, b.shape))
    }
}

pub struct ActivationLayer {
    activation: Activation,
}

impl Layer for ActivationLayer {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn forward(&mut self, f: Forward<'_>) {
        activation_forward(self.activation, f.x, f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        activation_backward(self.activation, b.y, b.dy, b.dx);
    }

    fn has_curvature(&self) -> bool {
        true
    }

    /// The slope applied twice.
    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        activation_backward(self.activation, c.y, c.d2y, c.d2x);
        activation_backward_in_place(self.activation, c.y, c.d2x);
        Ok(())
    }
}
