//! Dropout (Keras's): in training, each value is kept with probability `1 − rate` and scaled by
//! `1/(1 − rate)`, the mask drawn from the model's generator; in inference, values pass through.

use super::{Backward, BuildLayer, Builder, Built, Curvature, Forward, Layer};
use crate::error::Result;
use crate::kernels::dropout::{apply_mask, dropout_mask};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropoutSpec {
    pub rate: f32,
}

const KIND: &str = "dropout";

impl BuildLayer for DropoutSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let rate = self.rate;
        if !(0.0..1.0).contains(&rate) {
            return Err(b.error(KIND, format!("rate must be in [0, 1), got {rate}")));
        }
        Ok(Built::plain(Dropout { rate, len: b.in_len(), mask: Vec::new() }, b.shape))
    }
}

pub struct Dropout {
    rate: f32,
    /// Values per example.
    len: usize,
    /// The last training pass's mask (0, or the scale 1/(1 − rate)).
    mask: Vec<f32>,
}

impl Layer for Dropout {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn reserve(&mut self, batch: usize) {
        self.mask.resize(batch * self.len, 0.0);
    }

    fn working_values(&self, batch: u128) -> u128 {
        batch * self.len as u128
    }

    fn forward(&mut self, f: Forward<'_>) {
        if f.training {
            let mask = &mut self.mask[..f.batch * self.len];
            dropout_mask(f.rng, self.rate, mask);
            apply_mask(f.x, mask, f.y);
        } else {
            f.y.copy_from_slice(f.x);
        }
    }

    fn backward(&mut self, b: Backward<'_>) {
        apply_mask(b.dy, &self.mask[..b.batch * self.len], b.dx);
    }

    fn has_curvature(&self) -> bool {
        true
    }

    /// The curvature runs in inference mode, where dropout passes values through.
    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        c.d2x.copy_from_slice(c.d2y);
        Ok(())
    }
}
