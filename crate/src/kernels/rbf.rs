//! LeNet-5's output layer: Euclidean radial basis units, `y[n,i] = Σ_j (x[n,j] − w[i,j])²`, with
//! fixed prototypes `w` (`[units, inputs]`), and its input gradient
//! `dx[n,j] = Σ_i (2·dy[n,i])·(x[n,j] − w[i,j])`.
//!
//! Sums run over j (forward) or i (backward) in ascending order in both forms: the forward
//! kernel puts four units in the lanes (reading the prototypes transposed), the backward kernel
//! four inputs, so the SIMD and scalar forms agree bit for bit.
//!
//! Also the losses over the distances `y` (LeCun et al. 1998, §II.C), each the batch mean, with
//! their gradient `dy`:
//! - eq. 8, maximum likelihood: `y_D`, the distance to the correct class's prototype;
//! - eq. 9, the MAP criterion: `y_D + ln(e^{−j} + Σ_i e^{−y_i})`, which also pushes the wrong
//!   classes' distances up. It is exactly the softmax cross-entropy of the logits
//!   `(−y_0, …, −y_9, −j)` with label D, so it is computed as that, shifted by the row maximum
//!   and stable for any distances;
//! - cross-entropy over the logits `−y` (the modern choice).

use super::act::exp;
use super::lanes::{groups_of_4, load_upto, store_upto, Lanes, F4};
use super::softmax::{softmax_cross_entropy, SoftmaxParams};

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

/// A loss over RBF distances.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RbfLoss {
    /// Eq. 8: the mean distance to the correct prototype.
    MaxLikelihood,
    /// Eq. 9 with its constant `j` (> 0).
    Map { j: f32 },
    /// Softmax cross-entropy over `−y`.
    CrossEntropy,
}

impl RbfLoss {
    /// Scratch values [`rbf_loss`] needs for a batch.
    pub fn scratch_len(&self, batch: usize, classes: usize) -> usize {
        2 * batch * (classes + 1)
    }
}

/// The batch-mean loss of distances `y` (`batch·classes`) against `labels`; writes `∂loss/∂y` to
/// `dy`. `softmax_ce` is the softmax cross-entropy kernel to build on (the SIMD one here, the
/// scalar one in the reference), so both forms share this code.
fn rbf_loss_with(
    softmax_ce: fn(&SoftmaxParams, &[f32], &[u32], &mut [f32]) -> f32,
    loss: RbfLoss,
    p: &SoftmaxParams,
    y: &[f32],
    labels: &[u32],
    dy: &mut [f32],
    scratch: &mut [f32],
) -> f32 {
    let SoftmaxParams { batch, classes } = *p;
    assert_eq!(y.len(), batch * classes, "rbf_loss: y has {} values, expected batch·classes", y.len());
    assert_eq!(dy.len(), y.len(), "rbf_loss: dy must be as long as y");
    assert_eq!(labels.len(), batch, "rbf_loss: {} labels for a batch of {batch}", labels.len());
    assert!(scratch.len() >= loss.scratch_len(batch, classes), "rbf_loss: scratch too short");
    match loss {
        RbfLoss::MaxLikelihood => {
            let inv_batch = 1.0 / batch as f32;
            let mut total = 0.0f64;
            dy.fill(0.0);
            for (n, &label) in labels.iter().enumerate() {
                let at = n * classes + label as usize;
                assert!((label as usize) < classes, "rbf_loss: label {label} is not below {classes} classes");
                total += y[at] as f64;
                dy[at] = inv_batch;
            }
            (total / batch as f64) as f32
        }
        RbfLoss::CrossEntropy | RbfLoss::Map { .. } => {
            // Logits −y, plus the constant logit −j as an extra class for eq. 9.
            let wide = if matches!(loss, RbfLoss::Map { .. }) { classes + 1 } else { classes };
            let (z, dz) = scratch.split_at_mut(batch * wide);
            let (z, dz) = (&mut z[..batch * wide], &mut dz[..batch * wide]);
            for (zr, yr) in z.chunks_exact_mut(wide).zip(y.chunks_exact(classes)) {
                for (a, &b) in zr.iter_mut().zip(yr) {
                    *a = -b;
                }
                if let RbfLoss::Map { j } = loss {
                    zr[classes] = -j;
                }
            }
            let value = softmax_ce(&SoftmaxParams { batch, classes: wide }, z, labels, dz);
            for (dr, gr) in dy.chunks_exact_mut(classes).zip(dz.chunks_exact(wide)) {
                for (a, &b) in dr.iter_mut().zip(gr) {
                    *a = -b;
                }
            }
            value
        }
    }
}

/// The batch-mean loss of RBF distances; see the module header. `scratch` holds at least
/// [`RbfLoss::scratch_len`] values.
pub fn rbf_loss(
    loss: RbfLoss,
    p: &SoftmaxParams,
    y: &[f32],
    labels: &[u32],
    dy: &mut [f32],
    scratch: &mut [f32],
) -> f32 {
    rbf_loss_with(softmax_cross_entropy, loss, p, y, labels, dy, scratch)
}

/// The Gauss–Newton diagonal of a loss over RBF outputs with respect to the RBF's inputs, per
/// example (not divided by the batch), for SDLM: with `y_i = Σ_j (x_j − w_ij)²`,
/// `d2x_j = 2 + Σ_i 4·(x_j − w_ij)²·p_i·(1 − p_i)`. The 2 is the exact second derivative of the
/// `y_D` term; the sum is the Gauss–Newton term of the competitive part, with `p` the softmax of
/// `−y` (plus the constant logit `−j` for eq. 9), and is absent for eq. 8. Negative-curvature
/// terms are dropped, so every value is positive.
///
/// Scalar only: it runs on the few hundred examples of a curvature estimate per pass.
pub fn rbf_output_curvature(loss: RbfLoss, p: &RbfParams, x: &[f32], w: &[f32], y: &[f32], d2x: &mut [f32]) {
    p.check("rbf_output_curvature", x.len(), w.len(), y.len());
    assert_eq!(d2x.len(), x.len(), "rbf_output_curvature: d2x must be as long as x");
    let RbfParams { inputs, units, .. } = *p;
    let mut q = vec![0.0f32; units];
    for ((xr, yr), dr) in x.chunks_exact(inputs).zip(y.chunks_exact(units)).zip(d2x.chunks_exact_mut(inputs)) {
        // p_i = e^{−y_i} / (e^{−j} + Σ e^{−y}), shifted by the smallest distance for stability.
        let extra = match loss {
            RbfLoss::MaxLikelihood => None,
            RbfLoss::Map { j } => Some(-j),
            RbfLoss::CrossEntropy => Some(f32::NEG_INFINITY),
        };
        if let Some(extra) = extra {
            let top = yr.iter().fold(extra, |m, &v| m.max(-v));
            let mut sum = exp(extra - top);
            for (qi, &v) in q.iter_mut().zip(yr) {
                *qi = exp(-v - top);
                sum += *qi;
            }
            for qi in q.iter_mut() {
                let pi = *qi / sum;
                *qi = pi * (1.0 - pi);
            }
        } else {
            q.fill(0.0);
        }
        for (j, (d, &xj)) in dr.iter_mut().zip(xr).enumerate() {
            let mut acc = 2.0f32;
            for (i, &qi) in q.iter().enumerate() {
                let diff = xj - w[i * inputs + j];
                acc += 4.0 * diff * diff * qi;
            }
            *d = acc;
        }
    }
}

/// The reference: direct loops over the prototypes in their own layout.
pub mod scalar {
    use super::{RbfLoss, RbfParams};
    use crate::kernels::softmax::{scalar::softmax_cross_entropy, SoftmaxParams};

    /// See [`super::rbf_loss`].
    pub fn rbf_loss(
        loss: RbfLoss,
        p: &SoftmaxParams,
        y: &[f32],
        labels: &[u32],
        dy: &mut [f32],
        scratch: &mut [f32],
    ) -> f32 {
        super::rbf_loss_with(softmax_cross_entropy, loss, p, y, labels, dy, scratch)
    }

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

    /// The losses in f64, straight from the paper's formulas.
    fn loss_f64(loss: RbfLoss, y: &[f32], labels: &[u32], classes: usize) -> f64 {
        let mut total = 0.0;
        for (row, &d) in y.chunks_exact(classes).zip(labels) {
            let yd = row[d as usize] as f64;
            let sum_e: f64 = row.iter().map(|&v| (-(v as f64)).exp()).sum();
            total += match loss {
                RbfLoss::MaxLikelihood => yd,
                RbfLoss::Map { j } => yd + ((-(j as f64)).exp() + sum_e).ln(),
                RbfLoss::CrossEntropy => yd + sum_e.ln(),
            };
        }
        total / labels.len() as f64
    }

    kernel_test!(
        fn rbf_losses_match_the_formulas_scalar_and_finite_differences() {
            let mut rng = test_rng(62);
            let losses =
                [RbfLoss::MaxLikelihood, RbfLoss::Map { j: 1.5 }, RbfLoss::Map { j: 0.1 }, RbfLoss::CrossEntropy];
            for (batch, classes) in [(4, 10), (1, 3), (3, 7)] {
                let p = SoftmaxParams { batch, classes };
                // Distances are non-negative; some large, as after a bad start.
                let mut y: Vec<f32> = random_vec(&mut rng, batch * classes).iter().map(|v| 4.0 * (v + 1.0)).collect();
                y[0] = 150.0;
                let labels: Vec<u32> = (0..batch).map(|n| ((n * 5 + 1) % classes) as u32).collect();
                for loss in losses {
                    let mut scratch = vec![0.0; loss.scratch_len(batch, classes)];
                    let (mut dy, mut dy_ref) = (vec![f32::NAN; y.len()], vec![f32::NAN; y.len()]);
                    let value = rbf_loss(loss, &p, &y, &labels, &mut dy, &mut scratch);
                    let value_ref = scalar::rbf_loss(loss, &p, &y, &labels, &mut dy_ref, &mut scratch);
                    assert_eq!(value.to_bits(), value_ref.to_bits(), "{loss:?}: loss, SIMD against scalar");
                    assert_bits_eq(&dy, &dy_ref, &format!("{loss:?}: dy, SIMD against scalar"));
                    let want = loss_f64(loss, &y, &labels, classes);
                    assert!((value as f64 - want).abs() <= 1e-5 * want.abs().max(1.0), "{loss:?}: {value} vs {want}");
                    let mut scratch2 = scratch.clone();
                    let mut sink = vec![0.0; y.len()];
                    check_gradient(&format!("{loss:?} dy"), &mut y.clone(), &dy, 40, |ys| {
                        rbf_loss(loss, &p, ys, &labels, &mut sink, &mut scratch2) as f64
                    });
                }
            }
        }
    );

    kernel_test!(
        fn output_curvature_matches_its_definition() {
            // Against the formula in f64, with p from the paper's eq. 9 denominator.
            let mut rng = test_rng(63);
            let p = RbfParams { batch: 2, inputs: 6, units: 3 };
            let x = random_vec(&mut rng, 12);
            let w: Vec<f32> = random_vec(&mut rng, 18).iter().map(|v| v.signum()).collect();
            let mut w_t = vec![0.0; 18];
            transpose(3, 6, &w, &mut w_t);
            let mut y = vec![0.0; 6];
            rbf_forward(&p, &x, &w_t, &mut y);
            for (loss, extra) in [
                (RbfLoss::MaxLikelihood, None),
                (RbfLoss::Map { j: 0.7 }, Some(0.7f64)),
                (RbfLoss::CrossEntropy, Some(f64::INFINITY)),
            ] {
                let mut d2 = vec![0.0; 12];
                rbf_output_curvature(loss, &p, &x, &w, &y, &mut d2);
                for n in 0..2 {
                    let yr: Vec<f64> = y[n * 3..n * 3 + 3].iter().map(|&v| v as f64).collect();
                    let denom = extra.map(|j| (-j).exp() + yr.iter().map(|v| (-v).exp()).sum::<f64>());
                    for j in 0..6 {
                        let mut want = 2.0;
                        if let Some(den) = denom {
                            for i in 0..3 {
                                let pi = (-yr[i]).exp() / den;
                                want += 4.0 * ((x[n * 6 + j] - w[i * 6 + j]) as f64).powi(2) * pi * (1.0 - pi);
                            }
                        }
                        let got = d2[n * 6 + j] as f64;
                        assert!((got - want).abs() <= 1e-5 * want, "{loss:?} [{n}, {j}]: {got} vs {want}");
                    }
                }
            }
        }
    );

    kernel_test!(
        fn map_loss_is_finite_for_huge_distances() {
            let p = SoftmaxParams { batch: 1, classes: 3 };
            let mut scratch = vec![0.0; RbfLoss::Map { j: 1.0 }.scratch_len(1, 3)];
            let mut dy = [0.0; 3];
            let v = rbf_loss(RbfLoss::Map { j: 1.0 }, &p, &[1e4, 2e4, 3e4], &[0], &mut dy, &mut scratch);
            // ln(e^{-1} + …) ≈ −1: the loss is 1e4 − 1.
            assert!((v - (1e4 - 1.0)).abs() < 1e-2, "{v}");
            assert!(dy.iter().all(|d| d.is_finite()));
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
