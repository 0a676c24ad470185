//! RMSprop with Keras 3's update (keras/src/optimizers/rmsprop.py): the velocity is a moving mean
//! of g², optionally centered by a moving mean of g, and the step lr·g/√(…) is taken directly or
//! through a momentum.

use super::flushed;

/// Hyper-parameters of RMSprop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Hyper {
    pub rho: f32,
    pub momentum: f32,
    pub epsilon: f32,
    pub centered: bool,
}

/// One update. `m` is the momentum (empty without one); `v` the velocity, followed, when
/// centered, by the moving mean of the gradient.
pub(super) fn step(h: Hyper, lr: f32, params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32]) {
    let Hyper { rho, momentum, epsilon, centered } = h;
    let n = params.len();
    let (velocity, mean) = v.split_at_mut(n);
    for i in 0..n {
        let g = grads[i];
        velocity[i] = flushed(rho * velocity[i] + (1.0 - rho) * (g * g));
        let denominator = if centered {
            mean[i] = flushed(rho * mean[i] + (1.0 - rho) * g);
            velocity[i] - mean[i] * mean[i] + epsilon
        } else {
            velocity[i] + epsilon
        };
        let increment = (lr * g) / denominator.sqrt();
        if momentum > 0.0 {
            m[i] = flushed(momentum * m[i] + increment);
            params[i] -= m[i];
        } else {
            params[i] -= increment;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Optimizer, OptimizerSpec};
    use crate::kernel_test;

    kernel_test!(
        fn rmsprop_steps_by_hand() {
            let spec = |momentum, centered| OptimizerSpec::Rmsprop {
                rho: 0.5,
                momentum,
                epsilon: 1e-7,
                centered,
                weight_decay: 0.0,
            };
            // Plain: v = 0.5·g², p −= lr·g/√(v + ε): with g = 2, v = 2 and the step 0.1·2/√2.
            let mut o = Optimizer::new(spec(0.0, false), 1).unwrap();
            let mut p = [1.0f32];
            o.step(0.1, &mut p, &[2.0]);
            assert!((p[0] - (1.0 - 0.2 / 2f32.sqrt())).abs() < 1e-6, "{p:?}");
            assert_eq!(o.slot_lens(), (0, 1));
            // Centered: the mean gradient 1 comes off the velocity, √(2 − 1); momentum 0.5 keeps
            // half the step for the next one.
            let mut o = Optimizer::new(spec(0.5, true), 1).unwrap();
            let mut p = [1.0f32];
            o.step(0.1, &mut p, &[2.0]);
            assert!((p[0] - 0.8).abs() < 1e-6, "{p:?}");
            o.step(0.1, &mut p, &[0.0]);
            assert!((p[0] - 0.7).abs() < 1e-6, "{p:?}");
            assert_eq!(o.slot_lens(), (1, 2));
            assert!(Optimizer::new(spec(1.0, false), 1).is_err());
        }
    );
}
