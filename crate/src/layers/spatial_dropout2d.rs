//! SpatialDropout2D (Keras's): in training, each example's feature map (channel) is kept whole
//! with probability `1 − rate` and scaled by `1/(1 − rate)`, or dropped whole; the mask, one value
//! per example and channel, comes from the model's generator. In inference, values pass through.

use super::{Backward, BuildLayer, Builder, Built, Curvature, Forward, Layer};
use crate::error::Result;
use crate::kernels::dropout::{apply_channel_mask, dropout_mask};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpatialDropout2dSpec {
    pub rate: f32,
}

const KIND: &str = "spatial_dropout2d";

impl BuildLayer for SpatialDropout2dSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let rate = self.rate;
        if !(0.0..1.0).contains(&rate) {
            return Err(b.error(KIND, format!("rate must be in [0, 1), got {rate}")));
        }
        Ok(Built::plain(SpatialDropout2d { rate, channels: b.shape[2], mask: Vec::new() }, b.shape))
    }
}

pub struct SpatialDropout2d {
    rate: f32,
    channels: usize,
    /// The last training pass's mask, per example and channel.
    mask: Vec<f32>,
}

impl Layer for SpatialDropout2d {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn reserve(&mut self, batch: usize) {
        self.mask.resize(batch * self.channels, 0.0);
    }

    fn working_values(&self, batch: u128) -> u128 {
        batch * self.channels as u128
    }

    fn forward(&mut self, f: Forward<'_>) {
        if f.training {
            let mask = &mut self.mask[..f.batch * self.channels];
            dropout_mask(f.rng, self.rate, mask);
            apply_channel_mask(f.x, mask, self.channels, f.y);
        } else {
            f.y.copy_from_slice(f.x);
        }
    }

    fn backward(&mut self, b: Backward<'_>) {
        apply_channel_mask(b.dy, &self.mask[..b.batch * self.channels], self.channels, b.dx);
    }

    fn has_curvature(&self) -> bool {
        true
    }

    /// The curvature runs in inference mode, where it passes values through.
    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        c.d2x.copy_from_slice(c.d2y);
        Ok(())
    }
}
