//! LeNet-5's output layer: Euclidean radial basis units, `y[n,i] = Σ_j (x[n,j] − w[i,j])²`, with
//! fixed prototypes `w` (`[units, inputs]`), and its input gradient
//! `dx[n,j] = Σ_i (2·dy[n,i])·(x[n,j] − w[i,j])`.
//!
//! Sums run over j (forward) or i (backward) in ascending order in both forms: the forward
//! kernel puts four units in the lanes (reading the prototypes transposed), the backward kernel
//! four inputs, so the SIMD and scalar forms agree bit for bit.

use super::lanes::{groups_of_4, load_upto, store_upto, Lanes, F4};

/// The shape of an RBF layer applied to a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RbfParams {
    pub batch: usize,
    pub inputs: usize,
    pub units: usize,
}

impl RbfParams {
    fn check(&self, kernel: &str, x: usize, w: usize, y: usize) {
        let RbfParams { batch, inputs, units } = *self;
        assert_eq!(x, batch * inputs, "{kernel}: x has {x} values, expected batch·inputs = {batch}·{inputs}");
        assert_eq!(w, units * inputs, "{kernel}: prototypes have {w} values, expected units·inputs = {units}·{inputs}");
        assert_eq!(y, batch * units, "{kernel}: y has {y} values, expected batch·units = {batch}·{units}");
    }
}

/// Squared distances to the prototypes. `w_t` is the prototypes transposed, `[inputs, units]`.
pub fn rbf_forward(p: &RbfParams, x: &[f32], w_t: &[f32], y: &mut [f32]) {
    p.check("rbf_forward", x.len(), w_t.len(), y.len());
    let RbfParams { inputs, units, .. } = *p;
    for (xr, yr) in x.chunks_exact(inputs).zip(y.chunks_exact_mut(units)) {
        for r in groups_of_4(units) {
            let mut acc = F4::splat(0.0);
            for (j, &xj) in xr.iter().enumerate() {
                let d = F4::splat(xj).sub(load_upto(&w_t[j * units + r.start..j * units + r.end], 0.0));
                acc = acc.add(d.mul(d));
            }
            store_upto(acc, &mut yr[r]);
        }
    }
}

/// The input gradient, overwriting `dx`. `w` is the prototypes, `[units, inputs]`.
pub fn rbf_backward(p: &RbfParams, x: &[f32], w: &[f32], dy: &[f32], dx: &mut [f32]) {
    p.check("rbf_backward", x.len(), w.len(), dy.len());
    assert_eq!(dx.len(), x.len(), "rbf_backward: dx must be as long as x");
    let RbfParams { inputs, units, .. } = *p;
    for ((xr, gr), dxr) in x.chunks_exact(inputs).zip(dy.chunks_exact(units)).zip(dx.chunks_exact_mut(inputs)) {
        for r in groups_of_4(inputs) {
            let xv = load_upto(&xr[r.clone()], 0.0);
            let mut acc = F4::splat(0.0);
            for (i, &g) in gr.iter().enumerate() {
                let d = xv.sub(load_upto(&w[i * inputs + r.start..i * inputs + r.end], 0.0));
                acc = acc.add(F4::splat(g + g).mul(d));
            }
            store_upto(acc, &mut dxr[r]);
        }
    }
}

/// The reference: direct loops over the prototypes in their own layout.
pub mod scalar {
    use super::RbfParams;

    /// See [`super::rbf_forward`]; here `w` is `[units, inputs]`.
    pub fn rbf_forward(p: &RbfParams, x: &[f32], w: &[f32], y: &mut [f32]) {
        let RbfParams { batch, inputs, units } = *p;
        for n in 0..batch {
            for i in 0..units {
                let mut acc = 0.0f32;
                for j in 0..inputs {
                    let d = x[n * inputs + j] - w[i * inputs + j];
                    acc += d * d;
                }
                y[n * units + i] = acc;
            }
        }
    }

    /// See [`super::rbf_backward`].
    pub fn rbf_backward(p: &RbfParams, x: &[f32], w: &[f32], dy: &[f32], dx: &mut [f32]) {
        let RbfParams { batch, inputs, units } = *p;
        for n in 0..batch {
            for j in 0..inputs {
                let mut acc = 0.0f32;
                for i in 0..units {
                    let g = dy[n * units + i];
                    acc += (g + g) * (x[n * inputs + j] - w[i * inputs + j]);
                }
                dx[n * inputs + j] = acc;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::gemm::transpose;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    kernel_test!(
        fn fast_matches_scalar_and_finite_differences() {
            let mut rng = test_rng(61);
            for (batch, inputs, units) in [(3, 84, 10), (2, 5, 3), (1, 9, 6), (4, 1, 1)] {
                let p = RbfParams { batch, inputs, units };
                let x = random_vec(&mut rng, batch * inputs);
                let w: Vec<f32> = random_vec(&mut rng, units * inputs).iter().map(|v| v.signum()).collect();
                let dy = random_vec(&mut rng, batch * units);
                let mut w_t = vec![0.0; w.len()];
                transpose(units, inputs, &w, &mut w_t);
                let (mut a, mut b) = (vec![f32::NAN; batch * units], vec![f32::NAN; batch * units]);
                scalar::rbf_forward(&p, &x, &w, &mut a);
                rbf_forward(&p, &x, &w_t, &mut b);
                assert_bits_eq(&b, &a, &format!("rbf forward {p:?}"));
                let (mut da, mut db) = (vec![f32::NAN; x.len()], vec![f32::NAN; x.len()]);
                scalar::rbf_backward(&p, &x, &w, &dy, &mut da);
                rbf_backward(&p, &x, &w, &dy, &mut db);
                assert_bits_eq(&db, &da, &format!("rbf backward {p:?}"));
                check_gradient("rbf dx", &mut x.clone(), &db, 60, |xs| {
                    let mut y = vec![0.0; batch * units];
                    rbf_forward(&p, xs, &w_t, &mut y);
                    y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64).sum()
                });
            }
        }
    );

    kernel_test!(
        fn distance_to_own_prototype_is_zero() {
            let p = RbfParams { batch: 1, inputs: 3, units: 2 };
            let w = [1.0, -1.0, 1.0, -1.0, -1.0, -1.0];
            let mut w_t = [0.0; 6];
            transpose(2, 3, &w, &mut w_t);
            let mut y = [0.0; 2];
            rbf_forward(&p, &[1.0, -1.0, 1.0], &w_t, &mut y);
            assert_eq!(y, [0.0, 8.0]);
        }
    );
}
