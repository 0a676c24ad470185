//! BatchNormalization (Keras's, `axis=-1`): normalises each channel by the batch's mean and
//! variance in training and by the moving ones in inference, then scales by γ and shifts by β.
//!
//! Parameters, in Keras's order: γ and β (trainable, the "kernel" range; either may be absent),
//! then the moving mean and moving variance (not trainable, the "bias" range). In training the
//! backward pass writes the batch's mean and variance where the moving statistics' gradients
//! would go; the model's update folds them in with the momentum instead of the optimiser
//! (`moving = moving·momentum + batch·(1 − momentum)`, Keras's rule with the biased variance).
//!
//! A data-parallel step normalises each micro-batch by its own statistics (as Keras's
//! `virtual_batch_size` does) and its moving statistics take the micro-batches' statistics
//! averaged by their share of the batch, summed in micro-batch order like the gradients: so the
//! results depend on `microBatchSize`, never on the number of workers.

use super::yes;
use super::Backward;
use super::{BuildLayer, Builder, Built, Forward, Layer};
use crate::error::Result;
use crate::init::Initializer;
use crate::kernels::batch_norm::{
    batch_moments, batch_norm_forward, batch_norm_input_grad, batch_norm_param_grads, inverse_std, BatchNormParams,
};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchNormalizationSpec {
    #[serde(default = "default_momentum")]
    pub momentum: f32,
    #[serde(default = "default_epsilon")]
    pub epsilon: f32,
    /// β.
    #[serde(default = "yes")]
    pub center: bool,
    /// γ.
    #[serde(default = "yes")]
    pub scale: bool,
}

fn default_momentum() -> f32 {
    0.99
}
fn default_epsilon() -> f32 {
    1e-3
}

const KIND: &str = "batch_normalization";

impl BuildLayer for BatchNormalizationSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let (m, e) = (self.momentum, self.epsilon);
        if !(0.0..=1.0).contains(&m) {
            return Err(b.error(KIND, format!("momentum must be in [0, 1], got {m}")));
        }
        if !(e.is_finite() && e > 0.0) {
            return Err(b.error(KIND, format!("epsilon must be a finite number > 0, got {e}")));
        }
        let c = b.shape[2];
        let trainable = (self.scale as u128 + self.center as u128) * c as u128;
        let kernel = b.claim(trainable)?;
        let moving = b.claim(2 * c as u128)?;
        let mut at = kernel.start;
        for (present, init) in [(self.scale, Initializer::Ones), (self.center, Initializer::Zeros)] {
            if present {
                b.init(init, 1, 1, at..at + c);
                at += c;
            }
        }
        b.init(Initializer::Zeros, 1, 1, moving.start..moving.start + c);
        b.init(Initializer::Ones, 1, 1, moving.start + c..moving.end);
        let rows_per_example = b.shape[0] * b.shape[1];
        let layer = BatchNormalization {
            channels: c,
            rows_per_example,
            momentum: m,
            epsilon: e,
            scale: self.scale,
            center: self.center,
            stats: vec![0.0; 7 * c],
            batch_statistics: false,
        };
        Ok(Built { layer: layer.into(), out_shape: b.shape, kernel, bias: moving, penalties: Vec::new() })
    }
}

pub struct BatchNormalization {
    channels: usize,
    /// Positions per example (height·width).
    rows_per_example: usize,
    momentum: f32,
    epsilon: f32,
    scale: bool,
    center: bool,
    /// Per channel, in blocks of `channels`: the mean and variance the last forward pass used,
    /// its 1/√(var + ε), its scale and shift, and room for dγ and dβ when γ or β is absent.
    stats: Vec<f32>,
    /// Whether the last forward pass normalised by the batch's statistics (training).
    batch_statistics: bool,
}

impl BatchNormalization {
    fn params(&self, batch: usize) -> BatchNormParams {
        BatchNormParams { rows: batch * self.rows_per_example, channels: self.channels, epsilon: self.epsilon }
    }
}

impl Layer for BatchNormalization {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn param_shapes(&self) -> Vec<Vec<usize>> {
        let c = self.channels;
        let trainable = self.scale as usize + self.center as usize;
        vec![vec![c]; trainable + 2]
    }

    fn moving_momentum(&self) -> Option<f32> {
        Some(self.momentum)
    }

    fn forward(&mut self, f: Forward<'_>) {
        let p = self.params(f.batch);
        let c = self.channels;
        let (mean, rest) = self.stats.split_at_mut(c);
        let (var, rest) = rest.split_at_mut(c);
        let (inv, rest) = rest.split_at_mut(c);
        let (scale, rest) = rest.split_at_mut(c);
        let shift = &mut rest[..c];
        if f.training {
            batch_moments(&p, f.x, mean, var);
        } else {
            mean.copy_from_slice(&f.bias[..c]);
            var.copy_from_slice(&f.bias[c..]);
        }
        self.batch_statistics = f.training;
        inverse_std(&p, var, inv);
        let gamma = self.scale.then(|| &f.kernel[..c]);
        let beta = self.center.then(|| &f.kernel[self.scale as usize * c..][..c]);
        batch_norm_forward(&p, f.x, mean, inv, gamma, beta, scale, shift, f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        let p = self.params(b.batch);
        let c = self.channels;
        let (fixed, spare) = self.stats.split_at_mut(5 * c);
        let (mean, rest) = fixed.split_at(c);
        let (var, rest) = rest.split_at(c);
        let (inv, rest) = rest.split_at(c);
        let scale = &rest[..c];
        // dγ and dβ go to the gradient where the layer has them, to spare room otherwise: the
        // input's gradient needs both in training.
        let (spare_g, spare_b) = spare.split_at_mut(c);
        let (dgamma, dbeta): (&mut [f32], &mut [f32]) = match (self.scale, self.center) {
            (true, true) => b.dkernel.split_at_mut(c),
            (true, false) => (&mut b.dkernel[..c], spare_b),
            (false, true) => (spare_g, &mut b.dkernel[..c]),
            (false, false) => (spare_g, spare_b),
        };
        batch_norm_param_grads(&p, b.x, b.dy, mean, inv, dgamma, dbeta);
        if b.need_dx {
            let sums = self.batch_statistics.then_some((&*dgamma, &*dbeta));
            batch_norm_input_grad(&p, b.x, b.dy, mean, inv, scale, sums, b.dx);
        }
        // The moving statistics' slots: this batch's statistics for the update to fold in, or
        // nothing to fold in after an inference-mode pass (whose gradients are never applied).
        let (dmean, dvar) = b.dbias.split_at_mut(c);
        if self.batch_statistics {
            dmean.copy_from_slice(mean);
            dvar.copy_from_slice(var);
        } else {
            dmean.fill(0.0);
            dvar.fill(0.0);
        }
    }
}
