//! Keras 3's RandomContrast arithmetic: per image and channel, `y = clip((x − mean)·factor + mean,
//! low, high)` with the mean over the image's positions; and its backward pass,
//! `dx = factor·g + (1 − factor)·mean(g)` with `g` the output gradient where `y` was not clipped.
//!
//! Means are sums in position order divided by the count; each channel runs in its own lane, so
//! the SIMD form adds the same values in the same order as the scalar reference.

use super::lanes::{groups_of_4, load_upto, store_upto, Lanes, F4};
use super::warp::ImageParams;

/// Per channel of one image: the sum over its positions, divided by their count.
fn channel_means(p: &ImageParams, image: &[f32], means: &mut [f32]) {
    let n = F4::splat((p.h * p.w) as f32);
    for r in groups_of_4(p.c) {
        let mut acc = F4::splat(0.0);
        for px in image.chunks_exact(p.c) {
            acc = acc.add(load_upto(&px[r.clone()], 0.0));
        }
        store_upto(acc.div(n), &mut means[r]);
    }
}

/// `y` from `x`, one factor per image; `means` (channels) is scratch.
pub fn contrast_forward(
    p: &ImageParams,
    factors: &[f32],
    range: (f32, f32),
    x: &[f32],
    y: &mut [f32],
    means: &mut [f32],
) {
    assert!(
        factors.len() == p.batch && x.len() == p.len() && y.len() == p.len() && means.len() == p.c,
        "contrast: sizes"
    );
    let plane = p.h * p.w * p.c;
    let (lo, hi) = (F4::splat(range.0), F4::splat(range.1));
    for (n, &f) in factors.iter().enumerate() {
        let (image, out) = (&x[n * plane..][..plane], &mut y[n * plane..][..plane]);
        channel_means(p, image, means);
        let f = F4::splat(f);
        for (px, o) in image.chunks_exact(p.c).zip(out.chunks_exact_mut(p.c)) {
            for r in groups_of_4(p.c) {
                let m = load_upto(&means[r.clone()], 0.0);
                let v = load_upto(&px[r.clone()], 0.0).sub(m).mul(f).add(m);
                let v = v.lt_select(lo, lo, v);
                store_upto(v.gt_select(hi, hi, v), &mut o[r]);
            }
        }
    }
}

/// `dx` from `dy` and the forward output `y` (for where it was clipped); `means` is scratch.
pub fn contrast_backward(
    p: &ImageParams,
    factors: &[f32],
    range: (f32, f32),
    y: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    means: &mut [f32],
) {
    assert!(
        factors.len() == p.batch && y.len() == p.len() && dy.len() == p.len() && dx.len() == p.len(),
        "contrast: sizes"
    );
    let plane = p.h * p.w * p.c;
    let (lo, hi) = (F4::splat(range.0), F4::splat(range.1));
    let zero = F4::splat(0.0);
    for (n, &f) in factors.iter().enumerate() {
        let (out, d, g) = (&y[n * plane..][..plane], &dy[n * plane..][..plane], &mut dx[n * plane..][..plane]);
        // g: the gradient where the output lies strictly inside the range (else clipped, 0).
        for ((o, d), g) in out.chunks_exact(p.c).zip(d.chunks_exact(p.c)).zip(g.chunks_exact_mut(p.c)) {
            for r in groups_of_4(p.c) {
                let v = load_upto(&o[r.clone()], 0.0);
                let dv = load_upto(&d[r.clone()], 0.0);
                let inside = v.gt_select(lo, v.lt_select(hi, dv, zero), zero);
                store_upto(inside, &mut g[r]);
            }
        }
        channel_means(p, g, means);
        let (f, rest) = (F4::splat(f), F4::splat(1.0 - f));
        for px in g.chunks_exact_mut(p.c) {
            for r in groups_of_4(p.c) {
                let v = f.mul(load_upto(&px[r.clone()], 0.0)).add(rest.mul(load_upto(&means[r.clone()], 0.0)));
                store_upto(v, &mut px[r]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{check_gradient, random_vec, test_rng};

    kernel_test!(
        fn contrast_scales_around_the_mean_and_its_gradient_matches() {
            let mut rng = test_rng(111);
            let p = ImageParams { batch: 2, h: 3, w: 4, c: 3 };
            let x: Vec<f32> = random_vec(&mut rng, p.len()).iter().map(|v| v * 0.4 + 0.5).collect();
            let factors = [1.5, 0.6];
            let (mut y, mut means) = (vec![0.0; p.len()], vec![0.0; 3]);
            contrast_forward(&p, &factors, (-1.0, 2.0), &x, &mut y, &mut means);
            // Factor 1 is the identity (no value leaves the range).
            let mut same = vec![0.0; p.len()];
            contrast_forward(&p, &[1.0, 1.0], (0.0, 1.0), &x, &mut same, &mut means);
            assert!(same.iter().zip(&x).all(|(a, b)| (a - b).abs() < 1e-6));
            let dy = random_vec(&mut rng, p.len());
            let mut dx = vec![0.0; p.len()];
            contrast_backward(&p, &factors, (-1.0, 2.0), &y, &dy, &mut dx, &mut means);
            // Away from the clipping edges the difference quotient is clean.
            assert!(y.iter().all(|&v| v > -0.98 && v < 1.98), "the test's values stay inside the range");
            check_gradient("contrast", &mut x.clone(), &dx, 72, |x| {
                let (mut y, mut m) = (vec![0.0; p.len()], vec![0.0; 3]);
                contrast_forward(&p, &factors, (-1.0, 2.0), x, &mut y, &mut m);
                y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64).sum()
            });
            // Clipped values pass no gradient.
            let clipped = [0.0, 1.0, 0.5, 0.2];
            let q = ImageParams { batch: 1, h: 2, w: 2, c: 1 };
            let mut g = vec![0.0; 4];
            contrast_backward(&q, &[2.0], (0.0, 1.0), &clipped, &[1.0; 4], &mut g, &mut means[..1]);
            // g = [0, 0, 1, 1] before the mix: 2·g + (1 − 2)·0.5.
            assert_eq!(g, [-0.5, -0.5, 1.5, 1.5]);
        }
    );
}
