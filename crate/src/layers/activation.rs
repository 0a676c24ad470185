//! Activation, LeakyReLU and ELU (Keras's): an element-wise function as a layer of its own.

use super::{ActivationSpec, Backward, BuildLayer, Builder, Built, Curvature, Forward, Layer};
use crate::error::Result;
use crate::kernels::act::{activation_backward, activation_backward_in_place, activation_forward, Activation};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivationLayerSpec {
    pub activation: ActivationSpec,
}

/// Keras's LeakyReLU layer: `negative_slope` defaults to 0.3 (the `leaky_relu` string's is 0.2).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakyReluSpec {
    #[serde(default = "default_slope")]
    pub negative_slope: f32,
}

/// Keras's ELU layer.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EluSpec {
    #[serde(default = "one")]
    pub alpha: f32,
}

fn default_slope() -> f32 {
    0.3
}
fn one() -> f32 {
    1.0
}

const KIND: &str = "activation";

impl BuildLayer for ActivationLayerSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let activation = b.activation(self.activation, KIND)?;
        Ok(Built::plain(ActivationLayer { activation, kind: KIND }, b.shape))
    }
}

impl BuildLayer for LeakyReluSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let s = self.negative_slope;
        // A negative slope would flip signs, and the slope is then read from y's sign wrongly.
        if !(s.is_finite() && s >= 0.0) {
            return Err(b.error("leaky_relu", format!("negative_slope must be a finite number ≥ 0, got {s}")));
        }
        Ok(Built::plain(ActivationLayer { activation: Activation::LeakyRelu(s), kind: "leaky_relu" }, b.shape))
    }
}

impl BuildLayer for EluSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let a = self.alpha;
        if !(a.is_finite() && a >= 0.0) {
            return Err(b.error("elu", format!("alpha must be a finite number ≥ 0, got {a}")));
        }
        Ok(Built::plain(ActivationLayer { activation: Activation::Elu(a), kind: "elu" }, b.shape))
    }
}

pub struct ActivationLayer {
    activation: Activation,
    kind: &'static str,
}

impl ActivationLayer {
    /// A layer applying `activation` (a fused softmax's stand-in is the linear one).
    pub fn new(activation: Activation, kind: &'static str) -> Self {
        ActivationLayer { activation, kind }
    }
}

impl Layer for ActivationLayer {
    fn kind(&self) -> &'static str {
        self.kind
    }

    fn forward(&mut self, f: Forward<'_>) {
        activation_forward(self.activation, f.x, f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        activation_backward(self.activation, b.x, b.y, b.dy, b.dx);
    }

    fn has_curvature(&self) -> bool {
        true
    }

    /// The slope applied twice.
    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        activation_backward(self.activation, c.x, c.y, c.d2y, c.d2x);
        activation_backward_in_place(self.activation, c.x, c.y, c.d2x);
        Ok(())
    }
}
