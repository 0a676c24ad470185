//! Nadam with Keras 3's update (keras/src/optimizers/nadam.py): Adam with Nesterov momentum and
//! the momentum schedule μ_t = β₁(1 − ½·0.96^t), whose running product is part of the state.

use super::adam::Moments;
use super::flushed;

/// Update `t` (counted from 1); `u_product` is the running product of the μ's.
#[allow(clippy::too_many_arguments)]
pub(super) fn step(
    h: Moments,
    lr: f32,
    t: f32,
    u_product: &mut f32,
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let Moments { beta1, beta2, epsilon } = h;
    // Keras updates the product once per step, before the per-variable updates.
    *u_product *= beta1 * (1.0 - 0.5 * 0.96f32.powf(t));
    let u_t = beta1 * (1.0 - 0.5 * 0.96f32.powf(t));
    let u_t1 = beta1 * (1.0 - 0.5 * 0.96f32.powf(t + 1.0));
    let u_product_t = *u_product;
    let u_product_t1 = u_product_t * u_t1;
    let beta2_power = beta2.powf(t);
    for (((p, &g), m), v) in params.iter_mut().zip(grads).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = flushed(*m + (g - *m) * (1.0 - beta1));
        *v = flushed(*v + (g * g - *v) * (1.0 - beta2));
        let m_hat = (u_t1 * *m) / (1.0 - u_product_t1) + ((1.0 - u_t) * g) / (1.0 - u_product_t);
        let v_hat = *v / (1.0 - beta2_power);
        *p -= (m_hat * lr) / (v_hat.sqrt() + epsilon);
    }
}
