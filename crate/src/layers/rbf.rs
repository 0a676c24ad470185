//! LeNet-5's output: Euclidean RBF units with fixed prototypes (`[units, inputs]`, not trained).
//! Each output is the squared distance to one prototype; it must be the last layer, and the
//! model's loss is then one of the paper's (see [`crate::losses`]).

use super::{Backward, BuildLayer, Builder, Built, Forward, Layer};
use crate::error::Result;
use crate::kernels::gemm::transpose;
use crate::kernels::rbf::{rbf_backward, rbf_forward, rbf_output_curvature, RbfLoss, RbfParams};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RbfSpec {
    pub units: usize,
    pub prototypes: Vec<f32>,
}

const KIND: &str = "rbf";

impl BuildLayer for RbfSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let (units, prototypes) = (self.units, &self.prototypes);
        b.check_sizes(&[("units", units)])?;
        b.flat_input(KIND)?;
        let inputs = b.in_len();
        if units == 0 || prototypes.len() != units * inputs {
            return Err(b.error(
                KIND,
                format!("{} prototype values given, expected units·inputs = {units}·{inputs}", prototypes.len()),
            ));
        }
        if prototypes.iter().any(|v| !v.is_finite()) {
            return Err(b.error(KIND, "the prototypes must be finite"));
        }
        let mut w_t = vec![0.0; prototypes.len()];
        transpose(units, inputs, prototypes, &mut w_t);
        let p = RbfParams { batch: 1, inputs, units };
        Ok(Built::plain(Rbf { p, w: prototypes.clone(), w_t }, [1, 1, units]))
    }
}

pub struct Rbf {
    p: RbfParams,
    /// The prototypes, `[units, inputs]`, and transposed.
    w: Vec<f32>,
    w_t: Vec<f32>,
}

impl Rbf {
    /// The second derivatives of `loss` with respect to this layer's inputs `x` (its outputs `y`),
    /// where SDLM's curvature pass starts.
    pub fn output_curvature(&self, loss: RbfLoss, batch: usize, x: &[f32], y: &[f32], d2x: &mut [f32]) {
        rbf_output_curvature(loss, &RbfParams { batch, ..self.p }, x, &self.w, y, d2x);
    }
}

impl Layer for Rbf {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn forward(&mut self, f: Forward<'_>) {
        rbf_forward(&RbfParams { batch: f.batch, ..self.p }, f.x, &self.w_t, f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        rbf_backward(&RbfParams { batch: b.batch, ..self.p }, b.x, &self.w, b.dy, b.dx);
    }
}
