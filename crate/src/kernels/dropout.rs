//! Dropout, as Keras applies it in training: each value is kept when a uniform draw in [0, 1) is
//! at least `rate`, and kept values are scaled by `1/(1 − rate)`. The mask comes from the
//! library's seeded generator, one draw per value in order, so a seed fixes it everywhere.

use super::lanes::{groups_of_4, load_upto, store_upto, Lanes};
use crate::rng::Rng;

/// Fills `mask` with `1/(1 − rate)` (kept) or 0 (dropped).
pub fn dropout_mask(rng: &mut Rng, rate: f32, mask: &mut [f32]) {
    assert!((0.0..1.0).contains(&rate), "dropout: rate must be in [0, 1), got {rate}");
    let scale = 1.0 / (1.0 - rate);
    for m in mask.iter_mut() {
        *m = if rng.next_f32() >= rate { scale } else { 0.0 };
    }
}

/// `y = x · mask` (forward), or `dx = dy · mask` (backward): the same element-wise product.
pub fn apply_mask(x: &[f32], mask: &[f32], y: &mut [f32]) {
    assert!(x.len() == mask.len() && mask.len() == y.len(), "dropout: x, mask and y lengths differ");
    for r in groups_of_4(x.len()) {
        let v = load_upto(&x[r.clone()], 0.0).mul(load_upto(&mask[r.clone()], 0.0));
        store_upto(v, &mut y[r]);
    }
}

/// `y = x · mask[channel]` for each example's positions (spatial dropout: one mask value per
/// example and channel), forward or backward alike. `mask`: examples·channels.
pub fn apply_channel_mask(x: &[f32], mask: &[f32], channels: usize, y: &mut [f32]) {
    assert!(
        channels > 0 && mask.len() % channels == 0,
        "spatial dropout: the mask is not whole examples of {channels} channels"
    );
    let examples = mask.len() / channels;
    assert!(
        x.len() == y.len() && examples > 0 && x.len() % (examples * channels) == 0,
        "spatial dropout: x and y must hold {examples} examples of whole positions"
    );
    let per = x.len() / examples;
    for ((x, y), m) in x.chunks_exact(per).zip(y.chunks_exact_mut(per)).zip(mask.chunks_exact(channels)) {
        for (x, y) in x.chunks_exact(channels).zip(y.chunks_exact_mut(channels)) {
            for r in groups_of_4(channels) {
                let v = load_upto(&x[r.clone()], 0.0).mul(load_upto(&m[r.clone()], 0.0));
                store_upto(v, &mut y[r]);
            }
        }
    }
}

/// The reference: one value at a time.
pub mod scalar {
    /// See [`super::apply_channel_mask`].
    pub fn apply_channel_mask(x: &[f32], mask: &[f32], channels: usize, y: &mut [f32]) {
        let per = x.len() / (mask.len() / channels);
        for (i, (y, &x)) in y.iter_mut().zip(x).enumerate() {
            *y = x * mask[i / per * channels + i % channels];
        }
    }

    /// See [`super::apply_mask`].
    pub fn apply_mask(x: &[f32], mask: &[f32], y: &mut [f32]) {
        for ((y, &x), &m) in y.iter_mut().zip(x).zip(mask) {
            *y = x * m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    kernel_test!(
        fn keeps_about_one_minus_rate_and_preserves_the_mean() {
            let mut rng = Rng::new(5);
            let mut mask = vec![0.0; 100_000];
            dropout_mask(&mut rng, 0.5, &mut mask);
            let kept = mask.iter().filter(|&&m| m == 2.0).count();
            assert_eq!(kept + mask.iter().filter(|&&m| m == 0.0).count(), mask.len());
            assert!((kept as f64 / 1e5 - 0.5).abs() < 0.01, "kept {kept}");
            let mean: f64 = mask.iter().map(|&m| m as f64).sum::<f64>() / 1e5;
            assert!((mean - 1.0).abs() < 0.02, "mean {mean}");
            let mut again = vec![0.0; 100_000];
            dropout_mask(&mut Rng::new(5), 0.5, &mut again);
            assert_bits_eq(&again, &mask, "same seed, same mask");
        }
    );

    kernel_test!(
        fn channel_mask_matches_scalar_and_zeroes_whole_maps() {
            let mut rng = test_rng(61);
            for (examples, positions, channels) in [(1, 1, 1), (2, 9, 3), (3, 4, 8), (2, 5, 13)] {
                let x = random_vec(&mut rng, examples * positions * channels);
                let mut mask = vec![0.0; examples * channels];
                dropout_mask(&mut Rng::new(examples as u64), 0.5, &mut mask);
                let (mut a, mut b) = (vec![f32::NAN; x.len()], vec![f32::NAN; x.len()]);
                apply_channel_mask(&x, &mask, channels, &mut a);
                scalar::apply_channel_mask(&x, &mask, channels, &mut b);
                assert_bits_eq(&a, &b, "channel mask");
                for (i, &v) in a.iter().enumerate() {
                    let m = mask[i / (positions * channels) * channels + i % channels];
                    assert_eq!(v, x[i] * m, "value {i}");
                }
            }
        }
    );

    kernel_test!(
        fn gradient_matches_finite_differences() {
            // The backward pass is the same product with the upstream gradient.
            let mut rng = test_rng(72);
            let x = random_vec(&mut rng, 33);
            let dy = random_vec(&mut rng, 33);
            let mut mask = vec![0.0; 33];
            dropout_mask(&mut rng, 0.4, &mut mask);
            let mut dx = vec![0.0; 33];
            apply_mask(&dy, &mask, &mut dx);
            check_gradient("dropout dx", &mut x.clone(), &dx, 33, |xs| {
                let mut y = vec![0.0; 33];
                apply_mask(xs, &mask, &mut y);
                y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64).sum()
            });
        }
    );

    kernel_test!(
        fn fast_matches_scalar() {
            let mut rng = test_rng(71);
            for len in [1, 3, 4, 7, 130] {
                let x = random_vec(&mut rng, len);
                let mut mask = vec![0.0; len];
                dropout_mask(&mut rng, 0.3, &mut mask);
                let (mut a, mut b) = (vec![f32::NAN; len], vec![f32::NAN; len]);
                scalar::apply_mask(&x, &mask, &mut a);
                apply_mask(&x, &mask, &mut b);
                assert_bits_eq(&b, &a, "dropout");
            }
        }
    );
}
