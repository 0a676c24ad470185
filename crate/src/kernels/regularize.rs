//! Keras's L1L2 weight penalty: `l1·Σ|w| + l2·Σw²` added to the loss, and its gradient
//! `l1·sign(w) + 2·l2·w` (sign(0) = 0, as TensorFlow's) added to the weights' gradient.
//!
//! The sum runs over the weights in order; the gradient is element-wise over [`F4`] lanes, so the
//! SIMD and scalar forms give the same bits.

use super::lanes::{groups_of_4, load_upto, store_upto, Lanes, F4};

/// The penalty's coefficients.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct L1L2 {
    pub l1: f32,
    pub l2: f32,
}

/// `l1·Σ|w| + l2·Σw²`, each sum in order.
pub fn penalty(r: L1L2, w: &[f32]) -> f32 {
    let (mut abs, mut squares) = (0.0f32, 0.0f32);
    for &v in w {
        abs += v.abs();
        squares += v * v;
    }
    r.l1 * abs + r.l2 * squares
}

#[inline(always)]
fn slope<L: Lanes>(r: L1L2, w: L) -> L {
    let zero = L::splat(0.0);
    let sign = w.gt_select(zero, L::splat(1.0), w.lt_select(zero, L::splat(-1.0), zero));
    L::splat(r.l1).mul(sign).add(L::splat(2.0 * r.l2).mul(w))
}

/// `g += weight·(l1·sign(w) + 2·l2·w)`.
pub fn add_penalty_gradient(r: L1L2, weight: f32, w: &[f32], g: &mut [f32]) {
    assert_eq!(w.len(), g.len(), "add_penalty_gradient: w has {} values, g {}", w.len(), g.len());
    let s = F4::splat(weight);
    for range in groups_of_4(w.len()) {
        let v = load_upto(&g[range.clone()], 0.0).add(s.mul(slope(r, load_upto(&w[range.clone()], 0.0))));
        store_upto(v, &mut g[range]);
    }
}

/// The reference: one value at a time.
pub mod scalar {
    use super::L1L2;

    /// See [`super::add_penalty_gradient`].
    pub fn add_penalty_gradient(r: L1L2, weight: f32, w: &[f32], g: &mut [f32]) {
        for (g, &w) in g.iter_mut().zip(w) {
            let sign = if w > 0.0 {
                1.0
            } else if w < 0.0 {
                -1.0
            } else {
                0.0
            };
            *g += weight * (r.l1 * sign + 2.0 * r.l2 * w);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    kernel_test!(
        fn simd_matches_scalar_and_finite_differences() {
            let mut rng = test_rng(81);
            let r = L1L2 { l1: 0.01, l2: 0.05 };
            for len in [1, 3, 4, 9, 64] {
                let mut w = random_vec(&mut rng, len);
                w[0] = 0.0;
                let g0 = random_vec(&mut rng, len);
                let (mut a, mut b) = (g0.clone(), g0.clone());
                add_penalty_gradient(r, 0.75, &w, &mut a);
                scalar::add_penalty_gradient(r, 0.75, &w, &mut b);
                assert_bits_eq(&a, &b, "penalty gradient");
                assert_eq!(a[0], g0[0] + 0.0, "sign(0) is 0 and 2·l2·0 is 0");
            }
            // Away from 0, where |w| has its kink.
            let w: Vec<f32> =
                random_vec(&mut rng, 32).iter().map(|v| if v.abs() < 0.05 { v + 0.1 } else { *v }).collect();
            let mut g = vec![0.0; 32];
            add_penalty_gradient(r, 1.0, &w, &mut g);
            check_gradient("penalty", &mut w.clone(), &g, 32, |w| penalty(r, w) as f64);
        }
    );
}
