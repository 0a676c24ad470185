//! LeNet-5's stochastic diagonal Levenberg–Marquardt (LeCun et al. 1998, appendix C):
//! `p −= η/(μ + h)·g` per parameter, with `h` the Gauss–Newton diagonal that the model estimates
//! (see `model::curvature`).

pub(super) fn step(lr: f32, mu: f32, params: &mut [f32], grads: &[f32], h: &[f32]) {
    for ((p, &g), &h) in params.iter_mut().zip(grads).zip(h) {
        *p -= (lr / (mu + h)) * g;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Optimizer, OptimizerSpec};
    use crate::kernel_test;

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
}
