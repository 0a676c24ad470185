//! SGD with Keras's rule: plain, with momentum, or Nesterov.

use super::flushed;

/// One update: `p −= lr·g`, or with momentum `m = momentum·m − lr·g` and `p += m` (Nesterov:
/// `p += momentum·m − lr·g`).
pub(super) fn step(lr: f32, momentum: f32, nesterov: bool, params: &mut [f32], grads: &[f32], m: &mut [f32]) {
    if momentum == 0.0 {
        for (p, &g) in params.iter_mut().zip(grads) {
            *p -= g * lr;
        }
    } else {
        for ((p, &g), m) in params.iter_mut().zip(grads).zip(m.iter_mut()) {
            *m = flushed(*m * momentum - g * lr);
            *p += if nesterov { *m * momentum - g * lr } else { *m };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Optimizer, OptimizerSpec};
    use crate::kernel_test;

    kernel_test!(
        fn sgd_steps_by_hand() {
            // Plain: p -= lr·g. Momentum 0.5: m = 0.5m − lr·g; p += m. Nesterov: p += 0.5m − lr·g.
            let mut p = [1.0f32];
            Optimizer::new(OptimizerSpec::Sgd { momentum: 0.0, nesterov: false, weight_decay: 0.0 }, 1).unwrap().step(
                0.1,
                &mut p,
                &[2.0],
            );
            assert_eq!(p, [0.8]);
            let mut o =
                Optimizer::new(OptimizerSpec::Sgd { momentum: 0.5, nesterov: false, weight_decay: 0.0 }, 1).unwrap();
            let mut p = [1.0f32];
            o.step(0.1, &mut p, &[2.0]);
            o.step(0.1, &mut p, &[2.0]);
            assert_eq!(p, [1.0 - 0.2 - 0.3]);
            let mut o =
                Optimizer::new(OptimizerSpec::Sgd { momentum: 0.5, nesterov: true, weight_decay: 0.0 }, 1).unwrap();
            let mut p = [1.0f32];
            o.step(0.1, &mut p, &[2.0]);
            assert_eq!(p, [1.0 - 0.1 - 0.2]);
        }
    );
}
