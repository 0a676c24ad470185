//! Softmax, and softmax fused with sparse categorical cross-entropy (optionally against smoothed
//! labels, Keras's `label_smoothing`).
//!
//! Stable for large logits: each row is shifted by its maximum before exp, and the loss is
//! `ln Σ e^{l−m} − (l_y − m)`, never `−ln p_y`, so it stays finite when p_y underflows. The
//! gradient of the batch-mean loss is `(p − onehot(y)) / batch`, as Keras computes it.
//!
//! Per row: the maximum and the sum run over classes in order; exp and the division are
//! element-wise over [`F4`] lanes, so the SIMD and scalar forms give the same bits.
//!
//! Gradients smaller than [`NEGLIGIBLE_GRADIENT`] are written as 0. A trained network is so sure
//! of many training images that some classes' probabilities are 1e-30 or less; their gradients,
//! multiplied by weights layer after layer in the backward pass, reach the subnormal range,
//! which x86 runs in microcode (wasm cannot set flush-to-zero; TensorFlow's CPU threads do).

use super::act::exp;
use super::lanes::{groups_of_4, load_upto, store_upto, Lanes, F4};

/// 2⁻⁶⁴: loss gradients below it are set to 0. What such a gradient adds to a weight's step is
/// far below the rounding of any weight not already near 0 (with Adam's ε = 1e-7, a step of
/// about lr·2⁻⁴¹ per unit of activation), so only long runs' weights change.
pub const NEGLIGIBLE_GRADIENT: f32 = 5.421_011e-20;

/// The shape of a batch of logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SoftmaxParams {
    pub batch: usize,
    pub classes: usize,
}

impl SoftmaxParams {
    fn check(&self, kernel: &str, logits: usize, out: usize) {
        let want = self.batch * self.classes;
        assert!(self.classes > 0, "{kernel}: classes must be at least 1");
        assert_eq!(logits, want, "{kernel}: logits has {logits} values, expected batch·classes = {want}");
        assert_eq!(out, want, "{kernel}: output has {out} values, expected batch·classes = {want}");
    }
}

/// Writes `e^{l−max}` for one row into `e` and returns the row's maximum and the sum.
#[inline(always)]
fn shifted_exp(row: &[f32], e: &mut [f32]) -> (f32, f32) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let m = F4::splat(max);
    for r in groups_of_4(row.len()) {
        store_upto(exp(load_upto(&row[r.clone()], 0.0).sub(m)), &mut e[r]);
    }
    let sum = e.iter().fold(0.0f32, |s, &v| s + v);
    (max, sum)
}

#[inline(always)]
fn scale_row(e: &mut [f32], by: f32) {
    let s = F4::splat(by);
    for r in groups_of_4(e.len()) {
        let v = load_upto(&e[r.clone()], 0.0).div(s);
        store_upto(v, &mut e[r]);
    }
}

/// `probs = softmax(logits)`, row by row.
pub fn softmax(p: &SoftmaxParams, logits: &[f32], probs: &mut [f32]) {
    p.check("softmax", logits.len(), probs.len());
    for (row, out) in logits.chunks_exact(p.classes).zip(probs.chunks_exact_mut(p.classes)) {
        let (_, sum) = shifted_exp(row, out);
        scale_row(out, sum);
    }
}

/// The softmax's backward pass, row by row: `dx = y ⊙ (dy − Σ y·dy)` from its output `y`. The dot
/// product runs over the row in order, the rest element-wise.
pub fn softmax_backward(p: &SoftmaxParams, y: &[f32], dy: &[f32], dx: &mut [f32]) {
    p.check("softmax_backward", y.len(), dx.len());
    assert_eq!(dy.len(), dx.len(), "softmax_backward: dy has {} values, dx {}", dy.len(), dx.len());
    let rows = y.chunks_exact(p.classes).zip(dy.chunks_exact(p.classes)).zip(dx.chunks_exact_mut(p.classes));
    for ((y, dy), dx) in rows {
        let dot = y.iter().zip(dy).fold(0.0f32, |s, (&a, &b)| s + a * b);
        let d = F4::splat(dot);
        for r in groups_of_4(y.len()) {
            let v = load_upto(&y[r.clone()], 0.0).mul(load_upto(&dy[r.clone()], 0.0).sub(d));
            store_upto(v, &mut dx[r]);
        }
    }
}

/// The mean sparse categorical cross-entropy of a batch; writes ∂loss/∂logits into `dlogits`.
///
/// # Shapes
/// `logits`, `dlogits`: batch·classes; `labels`: batch, each below `classes`.
pub fn softmax_cross_entropy(p: &SoftmaxParams, logits: &[f32], labels: &[u32], dlogits: &mut [f32]) -> f32 {
    softmax_cross_entropy_smoothed(p, 0.0, logits, labels, dlogits)
}

/// [`softmax_cross_entropy`] against smoothed targets, as Keras's `label_smoothing`: the one-hot
/// label becomes `(1 − smoothing)·onehot + smoothing/classes`. The loss is
/// `ln Σ e^{l−m} − (1 − s)(l_y − m) − s/classes · Σ (l_j − m)` and the gradient `(p − t) / batch`.
/// With `smoothing` 0 it is the plain loss, bit for bit.
///
/// # Shapes
/// As [`softmax_cross_entropy`]; `smoothing` in [0, 1].
pub fn softmax_cross_entropy_smoothed(
    p: &SoftmaxParams,
    smoothing: f32,
    logits: &[f32],
    labels: &[u32],
    dlogits: &mut [f32],
) -> f32 {
    p.check("softmax_cross_entropy", logits.len(), dlogits.len());
    assert_eq!(labels.len(), p.batch, "softmax_cross_entropy: {} labels for a batch of {}", labels.len(), p.batch);
    assert!((0.0..=1.0).contains(&smoothing), "softmax_cross_entropy: smoothing {smoothing} is not in [0, 1]");
    let (off, on) = targets(smoothing, p.classes);
    let mut total = 0.0f64;
    let inv_batch = 1.0 / p.batch as f32;
    for ((row, d), &label) in logits.chunks_exact(p.classes).zip(dlogits.chunks_exact_mut(p.classes)).zip(labels) {
        let label = label as usize;
        assert!(label < p.classes, "softmax_cross_entropy: label {label} is not below {} classes", p.classes);
        let (max, sum) = shifted_exp(row, d);
        total += smoothed_loss(smoothing, off, on, row, label, max, sum) as f64;
        scale_row(d, sum);
        if smoothing == 0.0 {
            d[label] -= 1.0;
        } else {
            let at_label = d[label];
            let o = F4::splat(off);
            for r in groups_of_4(d.len()) {
                let v = load_upto(&d[r.clone()], 0.0).sub(o);
                store_upto(v, &mut d[r]);
            }
            d[label] = at_label - (on + off);
        }
        let s = F4::splat(inv_batch);
        let (tiny, zero) = (F4::splat(NEGLIGIBLE_GRADIENT), F4::splat(0.0));
        for r in groups_of_4(d.len()) {
            let v = load_upto(&d[r.clone()], 0.0).mul(s);
            store_upto(v.abs().lt_select(tiny, zero, v), &mut d[r]);
        }
    }
    (total / p.batch as f64) as f32
}

/// The smoothed targets: every class's share `smoothing/classes`, and what the label adds to it.
fn targets(smoothing: f32, classes: usize) -> (f32, f32) {
    (smoothing / classes as f32, 1.0 - smoothing)
}

/// One row's loss from its maximum and shifted sum; shared by both forms (a fold in class order).
fn smoothed_loss(smoothing: f32, off: f32, on: f32, row: &[f32], label: usize, max: f32, sum: f32) -> f32 {
    if smoothing == 0.0 {
        return sum.ln() - (row[label] - max);
    }
    let shifted = row.iter().fold(0.0f32, |s, &v| s + (v - max));
    sum.ln() - on * (row[label] - max) - off * shifted
}

/// Keras's `epsilon()`: how close to 0 and 1 [`cross_entropy_of_probabilities`] lets a probability go.
pub const PROBABILITY_EPSILON: f32 = 1e-7;

/// The batch-mean cross-entropy of probabilities (not logits) against sparse labels, smoothed as
/// [`softmax_cross_entropy_smoothed`] smooths them: `−Σ_k t_k ln p_k` with each `p_k` clipped to
/// `[ε, 1 − ε]` ([`PROBABILITY_EPSILON`]), as Keras's cross-entropy of probabilities clips them.
/// For probabilities that no one row of logits gave (the mean over test-time views). Each row's
/// terms in class order; rows summed in f64.
pub fn cross_entropy_of_probabilities(p: &SoftmaxParams, smoothing: f32, probs: &[f32], labels: &[u32]) -> f32 {
    p.check("cross_entropy_of_probabilities", probs.len(), probs.len());
    assert_eq!(
        labels.len(),
        p.batch,
        "cross_entropy_of_probabilities: {} labels for a batch of {}",
        labels.len(),
        p.batch
    );
    let (off, on) = targets(smoothing, p.classes);
    let ln = |v: f32| v.clamp(PROBABILITY_EPSILON, 1.0 - PROBABILITY_EPSILON).ln();
    let mut total = 0.0f64;
    for (row, &label) in probs.chunks_exact(p.classes).zip(labels) {
        let label = label as usize;
        assert!(label < p.classes, "cross_entropy_of_probabilities: label {label} is not below {} classes", p.classes);
        let loss = if smoothing == 0.0 {
            -ln(row[label])
        } else {
            row.iter().enumerate().fold(0.0f32, |sum, (k, &v)| sum - (if k == label { on + off } else { off }) * ln(v))
        };
        total += loss as f64;
    }
    (total / p.batch as f64) as f32
}

/// The reference: one value at a time.
pub mod scalar {
    use super::SoftmaxParams;
    use crate::kernels::act::exp;

    fn shifted_exp(row: &[f32], e: &mut [f32]) -> (f32, f32) {
        let mut max = f32::NEG_INFINITY;
        for &v in row {
            max = max.max(v);
        }
        let mut sum = 0.0f32;
        for (e, &v) in e.iter_mut().zip(row) {
            *e = exp(v - max);
        }
        for &v in e.iter() {
            sum += v;
        }
        (max, sum)
    }

    /// See [`super::softmax`].
    pub fn softmax(p: &SoftmaxParams, logits: &[f32], probs: &mut [f32]) {
        for (row, out) in logits.chunks_exact(p.classes).zip(probs.chunks_exact_mut(p.classes)) {
            let (_, sum) = shifted_exp(row, out);
            for v in out.iter_mut() {
                *v /= sum;
            }
        }
    }

    /// See [`super::softmax_backward`].
    pub fn softmax_backward(p: &SoftmaxParams, y: &[f32], dy: &[f32], dx: &mut [f32]) {
        let rows = y.chunks_exact(p.classes).zip(dy.chunks_exact(p.classes)).zip(dx.chunks_exact_mut(p.classes));
        for ((y, dy), dx) in rows {
            let mut dot = 0.0f32;
            for (&a, &b) in y.iter().zip(dy) {
                dot += a * b;
            }
            for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
                *dx = y * (dy - dot);
            }
        }
    }

    /// See [`super::softmax_cross_entropy`].
    pub fn softmax_cross_entropy(p: &SoftmaxParams, logits: &[f32], labels: &[u32], dlogits: &mut [f32]) -> f32 {
        softmax_cross_entropy_smoothed(p, 0.0, logits, labels, dlogits)
    }

    /// See [`super::softmax_cross_entropy_smoothed`].
    pub fn softmax_cross_entropy_smoothed(
        p: &SoftmaxParams,
        smoothing: f32,
        logits: &[f32],
        labels: &[u32],
        dlogits: &mut [f32],
    ) -> f32 {
        let (off, on) = super::targets(smoothing, p.classes);
        let mut total = 0.0f64;
        let inv_batch = 1.0 / p.batch as f32;
        for ((row, d), &label) in logits.chunks_exact(p.classes).zip(dlogits.chunks_exact_mut(p.classes)).zip(labels) {
            let label = label as usize;
            let (max, sum) = shifted_exp(row, d);
            total += super::smoothed_loss(smoothing, off, on, row, label, max, sum) as f64;
            for v in d.iter_mut() {
                *v /= sum;
            }
            if smoothing == 0.0 {
                d[label] -= 1.0;
            } else {
                for (j, v) in d.iter_mut().enumerate() {
                    *v = if j == label { *v - (on + off) } else { *v - off };
                }
            }
            for v in d.iter_mut() {
                *v *= inv_batch;
                if v.abs() < super::NEGLIGIBLE_GRADIENT {
                    *v = 0.0;
                }
            }
        }
        (total / p.batch as f64) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    kernel_test!(
        fn cross_entropy_of_probabilities_matches_the_logits_form_and_clips() {
            let p = SoftmaxParams { batch: 3, classes: 4 };
            let logits = [0.5f32, -1.0, 2.0, 0.25, 3.0, 3.0, -2.0, 0.0, -0.5, 0.1, 0.2, 1.5];
            let labels = [2u32, 0, 1];
            let mut probs = [0.0f32; 12];
            softmax(&p, &logits, &mut probs);
            for smoothing in [0.0f32, 0.1] {
                let mut d = [0.0f32; 12];
                let want = softmax_cross_entropy_smoothed(&p, smoothing, &logits, &labels, &mut d);
                let got = cross_entropy_of_probabilities(&p, smoothing, &probs, &labels);
                assert!((got - want).abs() <= 1e-6 * want.abs(), "smoothing {smoothing}: {got} against {want}");
            }
            // A zero probability at the label costs −ln 1e-7, not infinity; a one costs −ln(1 − 1e-7).
            let one = SoftmaxParams { batch: 2, classes: 2 };
            let got = cross_entropy_of_probabilities(&one, 0.0, &[1.0, 0.0, 0.0, 1.0], &[1, 1]);
            let want = ((-(1e-7f32).ln()) as f64 + (-(1.0f32 - 1e-7).ln()) as f64) / 2.0;
            assert_eq!(got, want as f32);
        }
    );
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    kernel_test!(
        fn fast_matches_scalar() {
            let mut rng = test_rng(51);
            for (batch, classes) in [(1, 1), (3, 10), (5, 7), (2, 4), (4, 13)] {
                let p = SoftmaxParams { batch, classes };
                let logits: Vec<f32> = random_vec(&mut rng, batch * classes).iter().map(|v| v * 20.0).collect();
                let labels: Vec<u32> = (0..batch).map(|i| ((i * 7) % classes) as u32).collect();
                let (mut a, mut b) = (vec![f32::NAN; batch * classes], vec![f32::NAN; batch * classes]);
                scalar::softmax(&p, &logits, &mut a);
                softmax(&p, &logits, &mut b);
                assert_bits_eq(&b, &a, "softmax");
                let la = scalar::softmax_cross_entropy(&p, &logits, &labels, &mut a);
                let lb = softmax_cross_entropy(&p, &logits, &labels, &mut b);
                assert_eq!(la.to_bits(), lb.to_bits(), "loss");
                assert_bits_eq(&b, &a, "dlogits");
            }
        }
    );

    kernel_test!(
        fn smoothed_fast_matches_scalar() {
            let mut rng = test_rng(54);
            for (batch, classes) in [(1, 1), (3, 10), (5, 7), (2, 4), (4, 13)] {
                for smoothing in [0.05, 0.1, 0.5, 1.0] {
                    let p = SoftmaxParams { batch, classes };
                    let logits: Vec<f32> = random_vec(&mut rng, batch * classes).iter().map(|v| v * 20.0).collect();
                    let labels: Vec<u32> = (0..batch).map(|i| ((i * 5) % classes) as u32).collect();
                    let (mut a, mut b) = (vec![f32::NAN; batch * classes], vec![f32::NAN; batch * classes]);
                    let la = scalar::softmax_cross_entropy_smoothed(&p, smoothing, &logits, &labels, &mut a);
                    let lb = softmax_cross_entropy_smoothed(&p, smoothing, &logits, &labels, &mut b);
                    assert_eq!(la.to_bits(), lb.to_bits(), "loss, smoothing {smoothing}");
                    assert_bits_eq(&b, &a, &format!("dlogits, smoothing {smoothing}"));
                }
            }
        }
    );

    kernel_test!(
        fn smoothed_matches_f64_and_finite_differences() {
            let mut rng = test_rng(55);
            let p = SoftmaxParams { batch: 4, classes: 10 };
            let logits: Vec<f32> = random_vec(&mut rng, 40).iter().map(|v| v * 3.0).collect();
            let labels = [3u32, 0, 9, 5];
            for smoothing in [0.1f32, 1.0] {
                let mut d = vec![0.0; 40];
                let loss = softmax_cross_entropy_smoothed(&p, smoothing, &logits, &labels, &mut d);
                let eps = smoothing as f64;
                let want: f64 = (0..4)
                    .map(|n| {
                        let row = &logits[n * 10..n * 10 + 10];
                        let lse = row.iter().map(|&v| (v as f64).exp()).sum::<f64>().ln();
                        (0..10)
                            .map(|j| {
                                let t = eps / 10.0 + if j == labels[n] as usize { 1.0 - eps } else { 0.0 };
                                t * (lse - row[j] as f64)
                            })
                            .sum::<f64>()
                    })
                    .sum::<f64>()
                    / 4.0;
                assert!((loss as f64 - want).abs() < 1e-5, "smoothing {smoothing}: loss {loss}, want {want}");
                check_gradient("smoothed dlogits", &mut logits.clone(), &d, 40, |l| {
                    let mut scratch = vec![0.0; 40];
                    softmax_cross_entropy_smoothed(&p, smoothing, l, &labels, &mut scratch) as f64
                });
            }
        }
    );

    kernel_test!(
        fn softmax_backward_matches_scalar_and_finite_differences() {
            let mut rng = test_rng(53);
            for (batch, classes) in [(1, 1), (3, 10), (6, 5), (2, 13)] {
                let p = SoftmaxParams { batch, classes };
                let n = batch * classes;
                let x: Vec<f32> = random_vec(&mut rng, n).iter().map(|v| v * 3.0).collect();
                let dy = random_vec(&mut rng, n);
                let mut y = vec![0.0; n];
                softmax(&p, &x, &mut y);
                let (mut a, mut b) = (vec![f32::NAN; n], vec![f32::NAN; n]);
                scalar::softmax_backward(&p, &y, &dy, &mut a);
                softmax_backward(&p, &y, &dy, &mut b);
                assert_bits_eq(&b, &a, "softmax_backward");
                check_gradient("softmax dx", &mut x.clone(), &b, n, |x| {
                    let mut y = vec![0.0; n];
                    softmax(&p, x, &mut y);
                    y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64).sum()
                });
            }
        }
    );

    kernel_test!(
        fn stable_for_huge_logits() {
            let p = SoftmaxParams { batch: 2, classes: 3 };
            let logits = [1000.0, 0.0, -1000.0, -5e30, 5e30, 0.0];
            let mut d = [0.0; 6];
            let loss = softmax_cross_entropy(&p, &logits, &[2, 1], &mut d);
            // Row 1: −ln p(−1000) ≈ 2000; row 2: p(label) = 1, loss 0. Mean ≈ 1000.
            assert!((loss - 1000.0).abs() < 1e-3, "loss {loss}");
            assert!(d.iter().all(|v| v.is_finite()));
            let mut probs = [0.0; 6];
            softmax(&p, &logits, &mut probs);
            assert_eq!(probs, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
        }
    );

    kernel_test!(
        fn negligible_gradients_are_zero() {
            assert_eq!(NEGLIGIBLE_GRADIENT, 2f32.powi(-64));
            // Logit gaps of 40, 45 and 60 give probabilities of about 4e-18, 3e-20 and 9e-27:
            // over a batch of 2 the first stays, the others are 0 (and the label's own is 0 since
            // its probability rounds to 1).
            let p = SoftmaxParams { batch: 2, classes: 4 };
            let logits = [60.0, 20.0, 15.0, 0.0, 0.0, 0.0, 1.0, 2.0];
            let mut d = [1.0; 8];
            softmax_cross_entropy(&p, &logits, &[0, 3], &mut d);
            assert!(d[1] > NEGLIGIBLE_GRADIENT && d[1] < 1e-17, "{d:?}");
            assert_eq!(d[0].to_bits() & 0x7fff_ffff, 0, "{d:?}");
            assert_eq!([d[2], d[3]], [0.0, 0.0], "{d:?}");
            assert!(d[4..].iter().all(|v| v.abs() > 0.01), "{d:?}");
            let mut reference = [1.0; 8];
            scalar::softmax_cross_entropy(&p, &logits, &[0, 3], &mut reference);
            assert_eq!(d.map(f32::to_bits), reference.map(f32::to_bits));
        }
    );

    kernel_test!(
        fn matches_f64_and_finite_differences() {
            let mut rng = test_rng(52);
            let p = SoftmaxParams { batch: 4, classes: 10 };
            let logits: Vec<f32> = random_vec(&mut rng, 40).iter().map(|v| v * 3.0).collect();
            let labels = [3u32, 0, 9, 5];
            let mut d = vec![0.0; 40];
            let loss = softmax_cross_entropy(&p, &logits, &labels, &mut d);
            let want: f64 = (0..4)
                .map(|n| {
                    let row = &logits[n * 10..n * 10 + 10];
                    let lse = row.iter().map(|&v| (v as f64).exp()).sum::<f64>().ln();
                    lse - row[labels[n] as usize] as f64
                })
                .sum::<f64>()
                / 4.0;
            assert!((loss as f64 - want).abs() < 1e-5, "loss {loss}, want {want}");
            check_gradient("dlogits", &mut logits.clone(), &d, 40, |l| {
                let mut scratch = vec![0.0; 40];
                softmax_cross_entropy(&p, l, &labels, &mut scratch) as f64
            });
        }
    );
}
