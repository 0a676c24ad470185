//! Adam with Keras 3's update (keras/src/optimizers/adam.py): the bias corrections folded into
//! the step size.

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
        *m += (g - *m) * (1.0 - beta1);
        *v += (g * g - *v) * (1.0 - beta2);
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
            let mut o = Optimizer::new(OptimizerSpec::Adam { beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }, 2).unwrap();
            let mut p = [0.0f32, 0.0];
            o.step(0.01, &mut p, &[3.0, -0.5]);
            assert!((p[0] + 0.01).abs() < 1e-6 && (p[1] - 0.01).abs() < 1e-6, "{p:?}");
            assert_eq!(o.iterations(), 1);
        }
    );
}
