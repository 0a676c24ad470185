//! Adam with Keras 3's update (keras/src/optimizers/adam.py): the bias corrections folded into
//! the step size.

use super::flushed;

/// Hyper-parameters of Adam and Nadam.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Moments {
    pub beta1: f32,
    pub beta2: f32,
    pub epsilon: f32,
}

/// Update `t` (counted from 1).
pub(super) fn step(h: Moments, lr: f32, t: f32, params: &mut [f32], grads: &[f32], m: &mut [f32], v: &mut [f32]) {
    let Moments { beta1, beta2, epsilon } = h;
    let alpha = lr * (1.0 - beta2.powf(t)).sqrt() / (1.0 - beta1.powf(t));
    for (((p, &g), m), v) in params.iter_mut().zip(grads).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = flushed(*m + (g - *m) * (1.0 - beta1));
        *v = flushed(*v + (g * g - *v) * (1.0 - beta2));
        *p -= (*m * alpha) / (v.sqrt() + epsilon);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Optimizer, OptimizerSpec};
    use crate::kernel_test;

    kernel_test!(
        fn adam_first_step_is_lr_times_sign() {
            // After one step m̂/√v̂ = g/|g|, so each parameter moves by lr (up to ε).
            let mut o =
                Optimizer::new(OptimizerSpec::Adam { beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weight_decay: 0.0 }, 2)
                    .unwrap();
            let mut p = [0.0f32, 0.0];
            o.step(0.01, &mut p, &[3.0, -0.5]);
            assert!((p[0] + 0.01).abs() < 1e-6 && (p[1] - 0.01).abs() < 1e-6, "{p:?}");
            assert_eq!(o.iterations(), 1);
        }
    );

    kernel_test!(
        fn weight_decay_shrinks_each_parameter_before_the_step() {
            // Keras's AdamW: p ← p − p·wd·lr, then Adam's step, which moves p by lr·sign(g).
            let spec = |weight_decay| OptimizerSpec::Adam { beta1: 0.9, beta2: 0.999, epsilon: 1e-7, weight_decay };
            let mut o = Optimizer::new(spec(0.5), 2).unwrap();
            let mut p = [2.0f32, -4.0];
            o.step(0.1, &mut p, &[1.0, 0.0]);
            assert!((p[0] - (2.0 - 0.1 - 0.1)).abs() < 1e-6, "{p:?}");
            assert_eq!(p[1], -4.0 - -4.0 * 0.5 * 0.1);
            assert!(Optimizer::new(spec(-0.1), 1).is_err());
            assert!(Optimizer::new(spec(f32::NAN), 1).is_err());
        }
    );
}
