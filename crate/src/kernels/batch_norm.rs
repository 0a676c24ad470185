//! Batch normalisation over the channel axis of NHWC values (Keras's BatchNormalization with
//! `axis=-1`): statistics per channel over batch and positions, then `y = x·scale + shift` with
//! `scale = γ/√(var + ε)` and `shift = β − mean·scale`, the form TensorFlow evaluates.
//!
//! Sums over positions run in position order, each channel in its own lane, so the SIMD form
//! (four channels at a time) adds the same values in the same order as the scalar reference.
//! The square root is per channel and IEEE-exact.

use super::lanes::{groups_of_4, load_upto, store_upto, Lanes, F4};

/// The shape: `rows` positions (batch·height·width) of `channels` values.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BatchNormParams {
    pub rows: usize,
    pub channels: usize,
    pub epsilon: f32,
}

impl BatchNormParams {
    fn check(&self, kernel: &str, x: usize, y: usize) {
        let want = self.rows * self.channels;
        assert!(self.rows > 0 && self.channels > 0, "{kernel}: rows and channels must be at least 1");
        assert_eq!(x, want, "{kernel}: x has {x} values, expected rows·channels = {want}");
        assert_eq!(y, want, "{kernel}: output has {y} values, expected rows·channels = {want}");
    }
}

/// Per channel: `sum[c] += Σ_rows f(x[r, c])` in row order.
#[inline(always)]
fn column_sums(p: &BatchNormParams, x: &[f32], out: &mut [f32], f: impl Fn(F4, core::ops::Range<usize>) -> F4) {
    let c = p.channels;
    for r in groups_of_4(c) {
        let mut acc = F4::splat(0.0);
        for row in x.chunks_exact(c) {
            acc = acc.add(f(load_upto(&row[r.clone()], 0.0), r.clone()));
        }
        store_upto(acc, &mut out[r]);
    }
}

/// The batch's mean and (biased) variance per channel, two passes.
pub fn batch_moments(p: &BatchNormParams, x: &[f32], mean: &mut [f32], var: &mut [f32]) {
    p.check("batch_moments", x.len(), x.len());
    assert!(
        mean.len() == p.channels && var.len() == p.channels,
        "batch_moments: mean and var need one value per channel"
    );
    let n = F4::splat(p.rows as f32);
    column_sums(p, x, mean, |v, _| v);
    for r in groups_of_4(p.channels) {
        let m = load_upto(&mean[r.clone()], 0.0).div(n);
        store_upto(m, &mut mean[r]);
    }
    let m: &[f32] = mean;
    column_sums(p, x, var, |v, r| {
        let d = v.sub(load_upto(&m[r], 0.0));
        d.mul(d)
    });
    for r in groups_of_4(p.channels) {
        let v = load_upto(&var[r.clone()], 0.0).div(n);
        store_upto(v, &mut var[r]);
    }
}

/// `1/√(var + ε)` per channel.
pub fn inverse_std(p: &BatchNormParams, var: &[f32], inv: &mut [f32]) {
    for (i, &v) in inv.iter_mut().zip(var) {
        *i = 1.0 / (v + p.epsilon).sqrt();
    }
}

/// `y = x·scale + shift` per channel, with `scale = γ·inv` and `shift = β − mean·scale` (γ = 1
/// and β = 0 when absent). Writes `scale` and `shift`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_forward(
    p: &BatchNormParams,
    x: &[f32],
    mean: &[f32],
    inv: &[f32],
    gamma: Option<&[f32]>,
    beta: Option<&[f32]>,
    scale: &mut [f32],
    shift: &mut [f32],
    y: &mut [f32],
) {
    p.check("batch_norm_forward", x.len(), y.len());
    for c in 0..p.channels {
        scale[c] = gamma.map_or(inv[c], |g| g[c] * inv[c]);
        shift[c] = beta.map_or(0.0, |b| b[c]) - mean[c] * scale[c];
    }
    let ch = p.channels;
    for (row, out) in x.chunks_exact(ch).zip(y.chunks_exact_mut(ch)) {
        for r in groups_of_4(ch) {
            let v = load_upto(&row[r.clone()], 0.0)
                .mul(load_upto(&scale[r.clone()], 0.0))
                .add(load_upto(&shift[r.clone()], 0.0));
            store_upto(v, &mut out[r]);
        }
    }
}

/// The parameters' gradients: `dβ = Σ dy`, `dγ = Σ dy·x̂` with `x̂ = (x − mean)·inv`.
pub fn batch_norm_param_grads(
    p: &BatchNormParams,
    x: &[f32],
    dy: &[f32],
    mean: &[f32],
    inv: &[f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    p.check("batch_norm_param_grads", x.len(), dy.len());
    column_sums(p, dy, dbeta, |v, _| v);
    let c = p.channels;
    for r in groups_of_4(c) {
        let (m, s) = (load_upto(&mean[r.clone()], 0.0), load_upto(&inv[r.clone()], 0.0));
        let mut acc = F4::splat(0.0);
        for (row, drow) in x.chunks_exact(c).zip(dy.chunks_exact(c)) {
            let xhat = load_upto(&row[r.clone()], 0.0).sub(m).mul(s);
            acc = acc.add(load_upto(&drow[r.clone()], 0.0).mul(xhat));
        }
        store_upto(acc, &mut dgamma[r]);
    }
}

/// The input's gradient. With batch statistics (training): `dx = scale/N·(N·dy − dβ − x̂·dγ)`;
/// with fixed statistics (inference): `dx = dy·scale`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_input_grad(
    p: &BatchNormParams,
    x: &[f32],
    dy: &[f32],
    mean: &[f32],
    inv: &[f32],
    scale: &[f32],
    sums: Option<(&[f32], &[f32])>,
    dx: &mut [f32],
) {
    p.check("batch_norm_input_grad", x.len(), dx.len());
    let c = p.channels;
    let n = F4::splat(p.rows as f32);
    for ((row, drow), out) in x.chunks_exact(c).zip(dy.chunks_exact(c)).zip(dx.chunks_exact_mut(c)) {
        for r in groups_of_4(c) {
            let s = load_upto(&scale[r.clone()], 0.0);
            let d = load_upto(&drow[r.clone()], 0.0);
            let v = match sums {
                None => d.mul(s),
                Some((dgamma, dbeta)) => {
                    let xhat = load_upto(&row[r.clone()], 0.0)
                        .sub(load_upto(&mean[r.clone()], 0.0))
                        .mul(load_upto(&inv[r.clone()], 0.0));
                    let inner = n
                        .mul(d)
                        .sub(load_upto(&dbeta[r.clone()], 0.0))
                        .sub(xhat.mul(load_upto(&dgamma[r.clone()], 0.0)));
                    s.div(n).mul(inner)
                }
            };
            store_upto(v, &mut out[r]);
        }
    }
}

/// The reference: one channel at a time.
pub mod scalar {
    use super::BatchNormParams;

    fn sums(p: &BatchNormParams, x: &[f32], out: &mut [f32], f: impl Fn(f32, usize) -> f32) {
        for (c, o) in out.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for row in x.chunks_exact(p.channels) {
                acc += f(row[c], c);
            }
            *o = acc;
        }
    }

    /// See [`super::batch_moments`].
    pub fn batch_moments(p: &BatchNormParams, x: &[f32], mean: &mut [f32], var: &mut [f32]) {
        let n = p.rows as f32;
        sums(p, x, mean, |v, _| v);
        mean.iter_mut().for_each(|m| *m /= n);
        sums(p, x, var, |v, c| (v - mean[c]) * (v - mean[c]));
        var.iter_mut().for_each(|v| *v /= n);
    }

    /// See [`super::batch_norm_forward`].
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm_forward(
        p: &BatchNormParams,
        x: &[f32],
        mean: &[f32],
        inv: &[f32],
        gamma: Option<&[f32]>,
        beta: Option<&[f32]>,
        scale: &mut [f32],
        shift: &mut [f32],
        y: &mut [f32],
    ) {
        for c in 0..p.channels {
            scale[c] = gamma.map_or(inv[c], |g| g[c] * inv[c]);
            shift[c] = beta.map_or(0.0, |b| b[c]) - mean[c] * scale[c];
        }
        for (i, (&x, y)) in x.iter().zip(y.iter_mut()).enumerate() {
            let c = i % p.channels;
            *y = x * scale[c] + shift[c];
        }
    }

    /// See [`super::batch_norm_param_grads`].
    pub fn batch_norm_param_grads(
        p: &BatchNormParams,
        x: &[f32],
        dy: &[f32],
        mean: &[f32],
        inv: &[f32],
        dgamma: &mut [f32],
        dbeta: &mut [f32],
    ) {
        sums(p, dy, dbeta, |v, _| v);
        for (c, g) in dgamma.iter_mut().enumerate() {
            let mut acc = 0.0f32;
            for (row, drow) in x.chunks_exact(p.channels).zip(dy.chunks_exact(p.channels)) {
                acc += drow[c] * ((row[c] - mean[c]) * inv[c]);
            }
            *g = acc;
        }
    }

    /// See [`super::batch_norm_input_grad`].
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm_input_grad(
        p: &BatchNormParams,
        x: &[f32],
        dy: &[f32],
        mean: &[f32],
        inv: &[f32],
        scale: &[f32],
        sums: Option<(&[f32], &[f32])>,
        dx: &mut [f32],
    ) {
        let n = p.rows as f32;
        for (i, ((&x, &d), dx)) in x.iter().zip(dy).zip(dx.iter_mut()).enumerate() {
            let c = i % p.channels;
            *dx = match sums {
                None => d * scale[c],
                Some((dgamma, dbeta)) => {
                    let xhat = (x - mean[c]) * inv[c];
                    scale[c] / n * (n * d - dbeta[c] - xhat * dgamma[c])
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    /// Forward in training mode, then the loss Σ y·dy.
    fn run(p: &BatchNormParams, x: &[f32], gamma: &[f32], beta: &[f32]) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let c = p.channels;
        let (mut mean, mut var, mut inv) = (vec![0.0; c], vec![0.0; c], vec![0.0; c]);
        batch_moments(p, x, &mut mean, &mut var);
        inverse_std(p, &var, &mut inv);
        let (mut scale, mut shift, mut y) = (vec![0.0; c], vec![0.0; c], vec![0.0; x.len()]);
        batch_norm_forward(p, x, &mean, &inv, Some(gamma), Some(beta), &mut scale, &mut shift, &mut y);
        (y, mean, inv)
    }

    kernel_test!(
        fn simd_matches_scalar() {
            let mut rng = test_rng(71);
            for (rows, channels) in [(1, 1), (5, 3), (8, 4), (7, 13), (33, 6), (9, 32), (6, 42), (3, 128)] {
                let p = BatchNormParams { rows, channels, epsilon: 1e-3 };
                let n = rows * channels;
                let x: Vec<f32> = random_vec(&mut rng, n).iter().map(|v| v * 3.0 + 0.5).collect();
                let dy = random_vec(&mut rng, n);
                let gamma = random_vec(&mut rng, channels);
                let beta = random_vec(&mut rng, channels);
                let c = channels;
                let (mut m1, mut v1, mut m2, mut v2) = (vec![0.0; c], vec![0.0; c], vec![0.0; c], vec![0.0; c]);
                batch_moments(&p, &x, &mut m1, &mut v1);
                scalar::batch_moments(&p, &x, &mut m2, &mut v2);
                assert_bits_eq(&m1, &m2, "mean");
                assert_bits_eq(&v1, &v2, "var");
                let mut inv = vec![0.0; c];
                inverse_std(&p, &v1, &mut inv);
                let (mut s1, mut t1, mut y1) = (vec![0.0; c], vec![0.0; c], vec![0.0; n]);
                let (mut s2, mut t2, mut y2) = (vec![0.0; c], vec![0.0; c], vec![0.0; n]);
                batch_norm_forward(&p, &x, &m1, &inv, Some(&gamma), Some(&beta), &mut s1, &mut t1, &mut y1);
                scalar::batch_norm_forward(&p, &x, &m1, &inv, Some(&gamma), Some(&beta), &mut s2, &mut t2, &mut y2);
                assert_bits_eq(&y1, &y2, "y");
                let (mut g1, mut b1, mut g2, mut b2) = (vec![0.0; c], vec![0.0; c], vec![0.0; c], vec![0.0; c]);
                batch_norm_param_grads(&p, &x, &dy, &m1, &inv, &mut g1, &mut b1);
                scalar::batch_norm_param_grads(&p, &x, &dy, &m1, &inv, &mut g2, &mut b2);
                assert_bits_eq(&g1, &g2, "dgamma");
                assert_bits_eq(&b1, &b2, "dbeta");
                for sums in [None, Some((&g1[..], &b1[..]))] {
                    let (mut d1, mut d2) = (vec![f32::NAN; n], vec![f32::NAN; n]);
                    batch_norm_input_grad(&p, &x, &dy, &m1, &inv, &s1, sums, &mut d1);
                    scalar::batch_norm_input_grad(&p, &x, &dy, &m1, &inv, &s1, sums, &mut d2);
                    assert_bits_eq(&d1, &d2, "dx");
                }
            }
        }
    );

    kernel_test!(
        fn training_gradients_match_finite_differences() {
            let mut rng = test_rng(72);
            let p = BatchNormParams { rows: 12, channels: 5, epsilon: 1e-3 };
            let n = 60;
            let x: Vec<f32> = random_vec(&mut rng, n).iter().map(|v| v * 2.0).collect();
            let dy = random_vec(&mut rng, n);
            let gamma: Vec<f32> = random_vec(&mut rng, 5).iter().map(|v| v + 1.5).collect();
            let beta = random_vec(&mut rng, 5);
            let (_, mean, inv) = run(&p, &x, &gamma, &beta);
            let (mut scale, mut shift, mut y) = (vec![0.0; 5], vec![0.0; 5], vec![0.0; n]);
            batch_norm_forward(&p, &x, &mean, &inv, Some(&gamma), Some(&beta), &mut scale, &mut shift, &mut y);
            let (mut dg, mut db) = (vec![0.0; 5], vec![0.0; 5]);
            batch_norm_param_grads(&p, &x, &dy, &mean, &inv, &mut dg, &mut db);
            let mut dx = vec![0.0; n];
            batch_norm_input_grad(&p, &x, &dy, &mean, &inv, &scale, Some((&dg, &db)), &mut dx);
            let loss = |x: &[f32], g: &[f32], b: &[f32]| -> f64 {
                let (y, _, _) = run(&p, x, g, b);
                y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64).sum()
            };
            check_gradient("dx", &mut x.clone(), &dx, n, |x| loss(x, &gamma, &beta));
            check_gradient("dgamma", &mut gamma.clone(), &dg, 5, |g| loss(&x, g, &beta));
            check_gradient("dbeta", &mut beta.clone(), &db, 5, |b| loss(&x, &gamma, b));
        }
    );

    kernel_test!(
        fn normalises_each_channel() {
            let p = BatchNormParams { rows: 4, channels: 2, epsilon: 0.0 };
            let x = [1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 4.0, 40.0];
            let (y, mean, _) = run(&p, &x, &[1.0, 1.0], &[0.0, 0.0]);
            assert_eq!(mean, [2.5, 25.0]);
            for c in 0..2 {
                let col: Vec<f32> = y.iter().skip(c).step_by(2).copied().collect();
                let m: f32 = col.iter().sum::<f32>() / 4.0;
                let v: f32 = col.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / 4.0;
                assert!(m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5, "channel {c}: mean {m}, var {v}");
            }
        }
    );
}
