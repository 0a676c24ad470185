//! Optimisers with Keras 3's update rules (keras/src/optimizers/{sgd,adam,nadam}.py), over the
//! model's flat parameter vector, and learning-rate schedules. Also LeNet-5's stochastic diagonal
//! Levenberg–Marquardt (SDLM, LeCun et al. 1998, appendix C): `p −= η/(μ + h)·g` per parameter,
//! with `h` the Gauss–Newton diagonal that the model estimates (see `Model::estimate_curvature`).
//!
//! Every update is element-wise and in a fixed order, so it is the same on every platform.

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
    },
    Adam {
        #[serde(default = "default_beta1")]
        beta1: f32,
        #[serde(default = "default_beta2")]
        beta2: f32,
        #[serde(default = "default_epsilon")]
        epsilon: f32,
    },
    /// Stochastic diagonal Levenberg–Marquardt; `mu` is the paper's μ (0.02).
    Sdlm {
        #[serde(default = "default_mu")]
        mu: f32,
    },
    /// Adam with Nesterov momentum and Keras's momentum schedule μ_t = β₁(1 − ½·0.96^t).
    Nadam {
        #[serde(default = "default_beta1")]
        beta1: f32,
        #[serde(default = "default_beta2")]
        beta2: f32,
        #[serde(default = "default_epsilon")]
        epsilon: f32,
    },
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
fn default_mu() -> f32 {
    0.02
}

/// A learning rate as a function of the step (the number of updates already made).
#[derive(Clone, Debug, PartialEq, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    Constant {
        value: f32,
    },
    /// Keras's PiecewiseConstantDecay: `values[i]` while `boundaries[i-1] < step <= boundaries[i]`.
    Piecewise {
        boundaries: Vec<u64>,
        values: Vec<f32>,
    },
}

impl Schedule {
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Schedule::Constant { value } if !(value.is_finite() && *value > 0.0) => {
                Err(format!("learning rate must be a positive number, got {value}"))
            }
            Schedule::Piecewise { boundaries, values } if values.len() != boundaries.len() + 1 => Err(format!(
                "a piecewise schedule needs one more value than boundaries: {} boundaries, {} values",
                boundaries.len(),
                values.len()
            )),
            Schedule::Piecewise { boundaries, .. } if boundaries.windows(2).any(|w| w[0] >= w[1]) => {
                Err("piecewise schedule boundaries must increase".into())
            }
            Schedule::Piecewise { values, .. } if values.iter().any(|v| !(v.is_finite() && *v > 0.0)) => {
                Err("piecewise schedule values must be positive numbers".into())
            }
            _ => Ok(()),
        }
    }

    pub fn at(&self, step: u64) -> f32 {
        match self {
            Schedule::Constant { value } => *value,
            Schedule::Piecewise { boundaries, values } => {
                values[boundaries.iter().position(|&b| step <= b).unwrap_or(boundaries.len())]
            }
        }
    }
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
    pub fn new(spec: OptimizerSpec, params: usize) -> Result<Self, String> {
        let check = |name: &str, v: f32, lo: f32, hi: f32| {
            if v.is_finite() && v >= lo && v < hi {
                Ok(())
            } else {
                Err(format!("optimizer {name} must be in [{lo}, {hi}), got {v}"))
            }
        };
        let (m_len, v_len) = match &spec {
            OptimizerSpec::Sgd { momentum, .. } => {
                check("momentum", *momentum, 0.0, 1.0)?;
                (if *momentum != 0.0 { params } else { 0 }, 0)
            }
            OptimizerSpec::Adam { beta1, beta2, epsilon } | OptimizerSpec::Nadam { beta1, beta2, epsilon } => {
                check("beta1", *beta1, 0.0, 1.0)?;
                check("beta2", *beta2, 0.0, 1.0)?;
                if !(epsilon.is_finite() && *epsilon > 0.0) {
                    return Err(format!("optimizer epsilon must be positive, got {epsilon}"));
                }
                (params, params)
            }
            OptimizerSpec::Sdlm { mu } => {
                if !(mu.is_finite() && *mu > 0.0) {
                    return Err(format!("optimizer mu must be positive, got {mu}"));
                }
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
    pub fn set_state(&mut self, iterations: u64, u_product: f32, m: &[f32], v: &[f32]) -> Result<(), String> {
        if m.len() != self.m_len || v.len() != self.v_len {
            return Err(format!(
                "optimizer state: slots of {} and {} values, this optimizer has {} and {}",
                m.len(),
                v.len(),
                self.m_len,
                self.v_len
            ));
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

    /// One update of `params` from `grads` with learning rate `lr`.
    pub fn step(&mut self, lr: f32, params: &mut [f32], grads: &[f32]) {
        assert_eq!(params.len(), grads.len(), "optimizer: params and grads lengths differ");
        self.allocate();
        let t = (self.iterations + 1) as f32;
        match self.spec {
            OptimizerSpec::Sgd { momentum, nesterov } => {
                if momentum == 0.0 {
                    for (p, &g) in params.iter_mut().zip(grads) {
                        *p -= g * lr;
                    }
                } else {
                    for ((p, &g), m) in params.iter_mut().zip(grads).zip(self.m.iter_mut()) {
                        *m = *m * momentum - g * lr;
                        *p += if nesterov { *m * momentum - g * lr } else { *m };
                    }
                }
            }
            OptimizerSpec::Adam { beta1, beta2, epsilon } => {
                let alpha = lr * (1.0 - beta2.powf(t)).sqrt() / (1.0 - beta1.powf(t));
                for (((p, &g), m), v) in params.iter_mut().zip(grads).zip(self.m.iter_mut()).zip(self.v.iter_mut()) {
                    *m += (g - *m) * (1.0 - beta1);
                    *v += (g * g - *v) * (1.0 - beta2);
                    *p -= (*m * alpha) / (v.sqrt() + epsilon);
                }
            }
            OptimizerSpec::Sdlm { mu } => {
                for ((p, &g), &h) in params.iter_mut().zip(grads).zip(&self.m) {
                    *p -= (lr / (mu + h)) * g;
                }
            }
            OptimizerSpec::Nadam { beta1, beta2, epsilon } => {
                // Keras updates the product once per step, before the per-variable updates.
                self.u_product *= beta1 * (1.0 - 0.5 * 0.96f32.powf(t));
                let u_t = beta1 * (1.0 - 0.5 * 0.96f32.powf(t));
                let u_t1 = beta1 * (1.0 - 0.5 * 0.96f32.powf(t + 1.0));
                let u_product_t = self.u_product;
                let u_product_t1 = u_product_t * u_t1;
                let beta2_power = beta2.powf(t);
                for (((p, &g), m), v) in params.iter_mut().zip(grads).zip(self.m.iter_mut()).zip(self.v.iter_mut()) {
                    *m += (g - *m) * (1.0 - beta1);
                    *v += (g * g - *v) * (1.0 - beta2);
                    let m_hat = (u_t1 * *m) / (1.0 - u_product_t1) + ((1.0 - u_t) * g) / (1.0 - u_product_t);
                    let v_hat = *v / (1.0 - beta2_power);
                    *p -= (m_hat * lr) / (v_hat.sqrt() + epsilon);
                }
            }
        }
        self.iterations += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;

    kernel_test!(
        fn piecewise_schedule_follows_keras() {
            let s = Schedule::Piecewise { boundaries: vec![2, 5], values: vec![1.0, 0.5, 0.1] };
            s.validate().unwrap();
            let got: Vec<f32> = (0..8).map(|t| s.at(t)).collect();
            assert_eq!(got, [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.1, 0.1]);
            assert!(Schedule::Piecewise { boundaries: vec![2], values: vec![1.0] }.validate().is_err());
            assert!(Schedule::Constant { value: 0.0 }.validate().is_err());
        }
    );

    kernel_test!(
        fn sgd_steps_by_hand() {
            // Plain: p -= lr·g. Momentum 0.5: m = 0.5m − lr·g; p += m. Nesterov: p += 0.5m − lr·g.
            let mut p = [1.0f32];
            Optimizer::new(OptimizerSpec::Sgd { momentum: 0.0, nesterov: false }, 1).unwrap().step(0.1, &mut p, &[2.0]);
            assert_eq!(p, [0.8]);
            let mut o = Optimizer::new(OptimizerSpec::Sgd { momentum: 0.5, nesterov: false }, 1).unwrap();
            let mut p = [1.0f32];
            o.step(0.1, &mut p, &[2.0]);
            o.step(0.1, &mut p, &[2.0]);
            assert_eq!(p, [1.0 - 0.2 - 0.3]);
            let mut o = Optimizer::new(OptimizerSpec::Sgd { momentum: 0.5, nesterov: true }, 1).unwrap();
            let mut p = [1.0f32];
            o.step(0.1, &mut p, &[2.0]);
            assert_eq!(p, [1.0 - 0.1 - 0.2]);
        }
    );

    kernel_test!(
        fn sdlm_steps_by_hand() {
            // p −= η/(μ + h)·g: with η 0.1, μ 0.02, h 0.48 the step is 0.2·g.
            let mut o = Optimizer::new(OptimizerSpec::Sdlm { mu: 0.02 }, 2).unwrap();
            assert!(o.wants_curvature());
            let mut p = [1.0f32, 1.0];
            o.step(0.1, &mut p, &[1.0, 1.0]); // h = 0 until estimated: step η/μ = 5
            assert_eq!(p, [1.0 - 5.0, 1.0 - 5.0]);
            o.set_curvature(&[0.48, 0.0]);
            let mut p = [1.0f32, 1.0];
            o.step(0.1, &mut p, &[2.0, 0.01]);
            assert_eq!(p, [1.0 - (0.1f32 / 0.5) * 2.0, 1.0 - (0.1f32 / 0.02) * 0.01]);
            assert!(Optimizer::new(OptimizerSpec::Sdlm { mu: 0.0 }, 1).is_err());
        }
    );

    kernel_test!(
        fn adam_first_step_is_lr_times_sign() {
            // After one step m̂/√v̂ = g/|g|, so each parameter moves by lr (up to ε).
            let mut o = Optimizer::new(OptimizerSpec::Adam { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }, 2).unwrap();
            let mut p = [0.0f32, 0.0];
            o.step(0.01, &mut p, &[3.0, -0.5]);
            assert!((p[0] + 0.01).abs() < 1e-6 && (p[1] - 0.01).abs() < 1e-6, "{p:?}");
            assert_eq!(o.iterations(), 1);
        }
    );
}
