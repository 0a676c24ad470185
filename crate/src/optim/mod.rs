//! Optimisers with Keras 3's update rules (keras/src/optimizers/{sgd,adam,nadam,rmsprop}.py), one
//! file each, over the model's flat parameter vector, plus LeNet-5's SDLM and the learning-rate
//! schedules. This file holds what they share: the spec, the slots and the step count.
//!
//! Every update is element-wise and in a fixed order, so it is the same on every platform.

mod adam;
mod nadam;
mod rmsprop;
pub mod schedule;
mod sdlm;
mod sgd;

pub use schedule::Schedule;

/// A moving average's new value with subnormals set to zero. Moments that decay towards zero
/// (a weight whose gradient stays near 0) pass through the subnormal range, where x86 runs every
/// operation on them in microcode and wasm cannot set flush-to-zero; TensorFlow's CPU threads
/// flush them in hardware.
#[inline(always)]
fn flushed(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE {
        0.0
    } else {
        x
    }
}

use crate::error::{ModelError, Result};
use adam::Moments;

/// An optimiser and its hyper-parameters, as the model spec names them.
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OptimizerSpec {
    /// Plain, momentum or Nesterov SGD.
    Sgd {
        #[serde(default)]
        momentum: f32,
        #[serde(default)]
        nesterov: bool,
        #[serde(default)]
        weight_decay: f32,
    },
    /// Adam; with a `weight_decay`, Keras's AdamW.
    Adam {
        #[serde(default = "default_beta1")]
        beta1: f32,
        #[serde(default = "default_beta2")]
        beta2: f32,
        #[serde(default = "default_epsilon")]
        epsilon: f32,
        #[serde(default)]
        weight_decay: f32,
    },
    /// Stochastic diagonal Levenberg–Marquardt; `mu` is the paper's μ (0.02).
    Sdlm {
        #[serde(default = "default_mu")]
        mu: f32,
    },
    /// RMSprop: plain, with momentum, or centered (the gradient's moving mean subtracted).
    Rmsprop {
        #[serde(default = "default_rho")]
        rho: f32,
        #[serde(default)]
        momentum: f32,
        #[serde(default = "default_epsilon")]
        epsilon: f32,
        #[serde(default)]
        centered: bool,
        #[serde(default)]
        weight_decay: f32,
    },
    /// Adam with Nesterov momentum and Keras's momentum schedule μ_t = β₁(1 − ½·0.96^t).
    Nadam {
        #[serde(default = "default_beta1")]
        beta1: f32,
        #[serde(default = "default_beta2")]
        beta2: f32,
        #[serde(default = "default_epsilon")]
        epsilon: f32,
        #[serde(default)]
        weight_decay: f32,
    },
}

impl OptimizerSpec {
    /// Keras's decoupled weight decay (the base optimiser's `weight_decay`): 0 for none and for SDLM.
    fn weight_decay(&self) -> f32 {
        match *self {
            OptimizerSpec::Sgd { weight_decay, .. }
            | OptimizerSpec::Adam { weight_decay, .. }
            | OptimizerSpec::Nadam { weight_decay, .. }
            | OptimizerSpec::Rmsprop { weight_decay, .. } => weight_decay,
            OptimizerSpec::Sdlm { .. } => 0.0,
        }
    }
}

fn default_beta1() -> f32 {
    0.9
}
fn default_beta2() -> f32 {
    0.999
}
fn default_epsilon() -> f32 {
    1e-7
}
fn default_rho() -> f32 {
    0.9
}
fn default_mu() -> f32 {
    0.02
}

/// An optimiser's state: its slots, its step count and (Nadam) the running momentum product.
#[derive(Clone, Debug)]
pub struct Optimizer {
    spec: OptimizerSpec,
    /// The slots' lengths; Adam's, Nadam's and SGD's slots are allocated by the first step (a
    /// model built only to predict never needs them), SDLM's curvature at once.
    m_len: usize,
    v_len: usize,
    m: Vec<f32>,
    v: Vec<f32>,
    iterations: u64,
    u_product: f32,
}

impl Optimizer {
    pub fn new(spec: OptimizerSpec, params: usize) -> Result<Self> {
        let check = |name: &str, v: f32, lo: f32, hi: f32| {
            if v.is_finite() && v >= lo && v < hi {
                Ok(())
            } else {
                Err(ModelError::invalid(format!("optimizer {name} must be in [{lo}, {hi}), got {v}")))
            }
        };
        let positive = |name: &str, v: f32| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(ModelError::invalid(format!("optimizer {name} must be positive, got {v}")))
            }
        };
        let wd = spec.weight_decay();
        if !(wd.is_finite() && wd >= 0.0) {
            return Err(ModelError::invalid(format!("optimizer weight_decay must be ≥ 0, got {wd}")));
        }
        let (m_len, v_len) = match &spec {
            OptimizerSpec::Sgd { momentum, .. } => {
                check("momentum", *momentum, 0.0, 1.0)?;
                (if *momentum != 0.0 { params } else { 0 }, 0)
            }
            OptimizerSpec::Adam { beta1, beta2, epsilon, .. } | OptimizerSpec::Nadam { beta1, beta2, epsilon, .. } => {
                check("beta1", *beta1, 0.0, 1.0)?;
                check("beta2", *beta2, 0.0, 1.0)?;
                positive("epsilon", *epsilon)?;
                (params, params)
            }
            OptimizerSpec::Rmsprop { rho, momentum, epsilon, centered, .. } => {
                check("rho", *rho, 0.0, 1.0)?;
                check("momentum", *momentum, 0.0, 1.0)?;
                positive("epsilon", *epsilon)?;
                // m: the momentum, if any; v: the velocity, then (centered) the mean gradient.
                (if *momentum != 0.0 { params } else { 0 }, if *centered { 2 * params } else { params })
            }
            OptimizerSpec::Sdlm { mu } => {
                positive("mu", *mu)?;
                // m holds the curvature h, zero until the first estimate.
                (params, 0)
            }
        };
        let mut optimizer =
            Optimizer { spec, m_len, v_len, m: Vec::new(), v: Vec::new(), iterations: 0, u_product: 1.0 };
        if optimizer.wants_curvature() {
            optimizer.allocate();
        }
        Ok(optimizer)
    }

    fn allocate(&mut self) {
        if self.m.len() != self.m_len || self.v.len() != self.v_len {
            self.m = vec![0.0; self.m_len];
            self.v = vec![0.0; self.v_len];
        }
    }

    /// The lengths of the two slots (whether or not they are allocated yet).
    pub fn slot_lens(&self) -> (usize, usize) {
        (self.m_len, self.v_len)
    }

    /// Updates made so far.
    pub fn iterations(&self) -> u64 {
        self.iterations
    }

    /// The state a checkpoint keeps: the step count, Nadam's momentum product, and the slots
    /// (Adam's moments, SGD's momentum, SDLM's curvature), in this order. The slots are empty
    /// until the first step; they are zeros then.
    pub fn state(&self) -> (u64, f32, &[f32], &[f32]) {
        (self.iterations, self.u_product, &self.m, &self.v)
    }

    /// Restores [`Optimizer::state`]; the slots must have the lengths this optimiser uses.
    pub fn set_state(&mut self, iterations: u64, u_product: f32, m: &[f32], v: &[f32]) -> Result<()> {
        if m.len() != self.m_len || v.len() != self.v_len {
            return Err(ModelError::checkpoint(format!(
                "optimizer state: slots of {} and {} values, this optimizer has {} and {}",
                m.len(),
                v.len(),
                self.m_len,
                self.v_len
            )));
        }
        self.allocate();
        self.iterations = iterations;
        self.u_product = u_product;
        self.m.copy_from_slice(m);
        self.v.copy_from_slice(v);
        Ok(())
    }

    /// Whether the optimiser needs a curvature estimate (SDLM).
    pub fn wants_curvature(&self) -> bool {
        matches!(self.spec, OptimizerSpec::Sdlm { .. })
    }

    /// Sets SDLM's per-parameter curvature `h` (non-negative).
    pub fn set_curvature(&mut self, h: &[f32]) {
        assert!(self.wants_curvature(), "set_curvature: only SDLM uses a curvature");
        assert_eq!(h.len(), self.m.len(), "set_curvature: one value per parameter");
        self.m.copy_from_slice(h);
    }

    /// SDLM's current curvature estimate (empty for other optimisers).
    pub fn curvature(&self) -> &[f32] {
        if self.wants_curvature() {
            &self.m
        } else {
            &[]
        }
    }

    /// One update of `params` from `grads` with learning rate `lr`. Every parameter is decayed
    /// first when there is a weight decay, as Keras does for every trainable variable (the model
    /// writes batch normalisation's moving statistics back over whatever this step did to them).
    pub fn step(&mut self, lr: f32, params: &mut [f32], grads: &[f32]) {
        assert_eq!(params.len(), grads.len(), "optimizer: params and grads lengths differ");
        self.allocate();
        let t = (self.iterations + 1) as f32;
        let wd = self.spec.weight_decay();
        if wd != 0.0 {
            // Keras: variable − variable·wd·lr, in this order.
            for p in params.iter_mut() {
                *p -= *p * wd * lr;
            }
        }
        match self.spec {
            OptimizerSpec::Sgd { momentum, nesterov, .. } => {
                sgd::step(lr, momentum, nesterov, params, grads, &mut self.m)
            }
            OptimizerSpec::Adam { beta1, beta2, epsilon, .. } => {
                adam::step(Moments { beta1, beta2, epsilon }, lr, t, params, grads, &mut self.m, &mut self.v)
            }
            OptimizerSpec::Sdlm { mu } => sdlm::step(lr, mu, params, grads, &self.m),
            OptimizerSpec::Rmsprop { rho, momentum, epsilon, centered, .. } => {
                let h = rmsprop::Hyper { rho, momentum, epsilon, centered };
                rmsprop::step(h, lr, params, grads, &mut self.m, &mut self.v)
            }
            OptimizerSpec::Nadam { beta1, beta2, epsilon, .. } => {
                let h = Moments { beta1, beta2, epsilon };
                nadam::step(h, lr, t, &mut self.u_product, params, grads, &mut self.m, &mut self.v)
            }
        }
        self.iterations += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::{Optimizer, OptimizerSpec};
    use crate::kernel_test;

    kernel_test!(
        fn moments_decaying_below_the_normal_range_become_zero() {
            // Every slot starts just above f32::MIN_POSITIVE; one step with a zero gradient
            // decays it (by β₂ = 0.999 at the least) into the subnormal range, where it must be
            // stored as 0. The parameter does not move (every step is a multiple of g or of m).
            let start = 1.176e-38f32;
            assert!(start.is_normal() && (start * 0.999).abs() < f32::MIN_POSITIVE);
            let specs = [
                OptimizerSpec::Sgd { momentum: 0.9, nesterov: true, weight_decay: 0.0 },
                OptimizerSpec::Adam { beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weight_decay: 0.0 },
                OptimizerSpec::Nadam { beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weight_decay: 0.0 },
                OptimizerSpec::Rmsprop { rho: 0.9, momentum: 0.9, epsilon: 1e-7, centered: true, weight_decay: 0.0 },
            ];
            for spec in specs {
                let mut o = Optimizer::new(spec.clone(), 3).unwrap();
                let (m_len, v_len) = o.slot_lens();
                o.set_state(5, 0.5, &vec![start; m_len], &vec![start; v_len]).unwrap();
                let mut p = [1.0f32, -2.0, 0.5];
                o.step(0.01, &mut p, &[0.0; 3]);
                let (_, _, m, v) = o.state();
                assert!(m.iter().chain(v).all(|&x| x.to_bits() == 0), "{spec:?}: {m:?} {v:?}");
                assert_eq!(p, [1.0, -2.0, 0.5], "{spec:?}");
                // Values that stay normal are kept as computed.
                o.set_state(5, 0.5, &vec![1e-30; m_len], &vec![1e-30; v_len]).unwrap();
                o.step(0.01, &mut p, &[0.0; 3]);
                let (_, _, m, v) = o.state();
                assert!(m.iter().chain(v).all(|&x| x.is_normal()), "{spec:?}: {m:?} {v:?}");
            }
        }
    );
}
