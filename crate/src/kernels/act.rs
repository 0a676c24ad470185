//! Activations, forward and backward: relu, tanh, LeCun's scaled tanh, sigmoid; and the exp and
//! tanh they are built on.
//!
//! exp and tanh are our own (after Cephes's `expf` and `tanhf`: range reduction plus a minimax
//! polynomial), written once over [`Lanes`] so the scalar reference and the simd128 kernels give
//! the same bits, and so no platform's libm enters the results. Their accuracy against f64 is
//! tested below.

use super::lanes::{groups_of_4, load_upto, store_upto, Lanes, F4};

const LOG2E: f32 = core::f32::consts::LOG2_E;
/// ln 2 split in two (Cody–Waite), so `n·LN2_HI` is exact for the |n| ≤ 127 used here.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// exp saturates here: e^88 ≈ 1.65e38 is the largest power it returns without overflowing.
const EXP_MAX: f32 = 88.0;
const EXP_MIN: f32 = -87.33;

/// e^x, within 2 ulp of the true value on [-87.33, 88]; e^88 above it, 0 below it (where the
/// true value is subnormal). NaN gives NaN.
#[inline(always)]
pub fn exp<L: Lanes>(input: L) -> L {
    let x = input.gt_select(L::splat(EXP_MAX), L::splat(EXP_MAX), input);
    let x = x.lt_select(L::splat(EXP_MIN), L::splat(EXP_MIN), x);
    let n = x.mul(L::splat(LOG2E)).add(L::splat(0.5)).floor();
    let r = x.sub(n.mul(L::splat(LN2_HI))).sub(n.mul(L::splat(LN2_LO)));
    let z = r.mul(r);
    let p = L::splat(1.987_569_1e-4)
        .mul(r)
        .add(L::splat(1.398_199_9e-3))
        .mul(r)
        .add(L::splat(8.333_452e-3))
        .mul(r)
        .add(L::splat(4.166_579_6e-2))
        .mul(r)
        .add(L::splat(1.666_666_5e-1))
        .mul(r)
        .add(L::splat(0.5));
    let e = p.mul(z).add(r).add(L::splat(1.0)).mul(L::pow2i(n));
    input.lt_select(L::splat(EXP_MIN), L::splat(0.0), e)
}

/// tanh x, within 3 ulp (absolute error below 2e-7 near 0).
#[inline(always)]
pub fn tanh<L: Lanes>(x: L) -> L {
    let a = x.abs();
    // |x| < 0.625: an odd polynomial.
    let z = x.mul(x);
    let small = L::splat(-5.704_988_7e-3)
        .mul(z)
        .add(L::splat(2.063_909e-2))
        .mul(z)
        .add(L::splat(-5.373_971_6e-2))
        .mul(z)
        .add(L::splat(1.333_144_2e-1))
        .mul(z)
        .add(L::splat(-3.333_328e-1))
        .mul(z)
        .mul(x)
        .add(x);
    // Otherwise 1 − 2/(e^{2|x|} + 1), which rounds to exactly 1 in f32 from |x| ≈ 9.02 on; the
    // clamp at 10 keeps e^{2|x|} finite.
    let a10 = a.gt_select(L::splat(10.0), L::splat(10.0), a);
    let e = exp(a10.add(a10));
    let large = L::splat(1.0).sub(L::splat(2.0).div(e.add(L::splat(1.0))));
    // tanh is odd: the sign comes from x (which also keeps tanh(−0) = −0).
    a.lt_select(L::splat(0.625), small, large).with_sign_of(x)
}

/// 1 / (1 + e^{−x}).
#[inline(always)]
pub fn sigmoid<L: Lanes>(x: L) -> L {
    L::splat(1.0).div(L::splat(1.0).add(exp(L::splat(0.0).sub(x))))
}

/// LeCun's squashing function's amplitude A and slope S: f(a) = A·tanh(S·a), f(±1) = ±1.
pub const LECUN_A: f32 = 1.7159;
pub const LECUN_S: f32 = 2.0 / 3.0;

/// The activations a layer can apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Linear,
    Relu,
    Tanh,
    /// LeCun's scaled tanh, 1.7159·tanh(2/3·a).
    LecunTanh,
    Sigmoid,
}

impl Activation {
    #[inline(always)]
    fn forward<L: Lanes>(self, x: L) -> L {
        match self {
            Activation::Linear => x,
            Activation::Relu => x.gt_select(L::splat(0.0), x, L::splat(0.0)),
            Activation::Tanh => tanh(x),
            Activation::LecunTanh => L::splat(LECUN_A).mul(tanh(L::splat(LECUN_S).mul(x))),
            Activation::Sigmoid => sigmoid(x),
        }
    }

    /// ∂L/∂x from the activation's output `y` and ∂L/∂y.
    #[inline(always)]
    fn backward<L: Lanes>(self, y: L, dy: L) -> L {
        let one = L::splat(1.0);
        match self {
            Activation::Linear => dy,
            // Keras: the gradient is 0 where the input was ≤ 0, i.e. where y is not > 0.
            Activation::Relu => y.gt_select(L::splat(0.0), dy, L::splat(0.0)),
            Activation::Tanh => dy.mul(one.sub(y.mul(y))),
            // d/da A·tanh(S·a) = A·S·(1 − t²) with t = y/A.
            Activation::LecunTanh => {
                let t = y.div(L::splat(LECUN_A));
                dy.mul(L::splat(LECUN_A * LECUN_S)).mul(one.sub(t.mul(t)))
            }
            Activation::Sigmoid => dy.mul(y.mul(one.sub(y))),
        }
    }
}

/// `y = f(x)`, element-wise.
pub fn activation_forward(f: Activation, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "activation_forward: x has {} values, y {}", x.len(), y.len());
    for r in groups_of_4(x.len()) {
        let v: F4 = f.forward(load_upto(&x[r.clone()], 0.0));
        store_upto(v, &mut y[r]);
    }
}

/// `dx = dy · f′`, element-wise, from the forward output `y`.
pub fn activation_backward(f: Activation, y: &[f32], dy: &[f32], dx: &mut [f32]) {
    assert!(y.len() == dy.len() && dy.len() == dx.len(), "activation_backward: y, dy and dx lengths differ");
    for r in groups_of_4(y.len()) {
        let v: F4 = f.backward(load_upto(&y[r.clone()], 0.0), load_upto(&dy[r.clone()], 0.0));
        store_upto(v, &mut dx[r]);
    }
}

/// `y = f(y)` in place.
pub fn activation_forward_in_place(f: Activation, y: &mut [f32]) {
    if f == Activation::Linear {
        return;
    }
    for r in groups_of_4(y.len()) {
        let v: F4 = f.forward(load_upto(&y[r.clone()], 0.0));
        store_upto(v, &mut y[r]);
    }
}

/// `d = d · f′` in place, from the forward output `y`.
pub fn activation_backward_in_place(f: Activation, y: &[f32], d: &mut [f32]) {
    assert_eq!(y.len(), d.len(), "activation_backward: y and d lengths differ");
    if f == Activation::Linear {
        return;
    }
    for r in groups_of_4(y.len()) {
        let v: F4 = f.backward(load_upto(&y[r.clone()], 0.0), load_upto(&d[r.clone()], 0.0));
        store_upto(v, &mut d[r]);
    }
}

/// The reference: one value at a time.
pub mod scalar {
    use super::Activation;

    /// See [`super::activation_forward`].
    pub fn activation_forward(f: Activation, x: &[f32], y: &mut [f32]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = f.forward(x);
        }
    }

    /// See [`super::activation_backward`].
    pub fn activation_backward(f: Activation, y: &[f32], dy: &[f32], dx: &mut [f32]) {
        for ((dx, &y), &dy) in dx.iter_mut().zip(y).zip(dy) {
            *dx = f.backward(y, dy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    const ALL: [Activation; 5] =
        [Activation::Linear, Activation::Relu, Activation::Tanh, Activation::LecunTanh, Activation::Sigmoid];

    fn ulps(a: f32, b: f64) -> f64 {
        let b32 = b as f32;
        let ulp = (f32::from_bits(b32.abs().to_bits() + 1) - b32.abs()) as f64;
        (a as f64 - b).abs() / ulp
    }

    kernel_test!(
        fn exp_is_accurate() {
            let mut worst = 0.0f64;
            for i in 0..=200_000 {
                let x = -87.0 + 175.0 * i as f32 / 200_000.0;
                worst = worst.max(ulps(exp(x), (x as f64).exp()));
            }
            assert!(worst <= 2.0, "exp: worst error {worst} ulp");
            assert_eq!(exp(0.0f32), 1.0);
            assert!(exp(f32::NAN).is_nan());
            assert!(exp(1000.0f32).is_finite());
            assert_eq!(exp(-1000.0f32), 0.0);
        }
    );

    kernel_test!(
        fn tanh_is_accurate_and_odd() {
            for i in 0..=200_000 {
                let x = -12.0 + 24.0 * i as f32 / 200_000.0;
                let want = (x as f64).tanh();
                let err = (tanh(x) as f64 - want).abs();
                assert!(err <= 2e-7 || ulps(tanh(x), want) <= 3.0, "tanh({x}) = {}, want {want}", tanh(x));
                assert_eq!(tanh(-x).to_bits(), (-tanh(x)).to_bits(), "tanh is odd at {x}");
            }
            assert_eq!(tanh(20.0f32), 1.0);
        }
    );

    kernel_test!(
        fn lecun_tanh_maps_one_to_one() {
            let f1 = Activation::LecunTanh.forward(1.0f32);
            assert!((f1 - 1.0).abs() < 2e-4, "f(1) = {f1}");
            assert!((Activation::LecunTanh.forward(-1.0f32) + f1).abs() == 0.0);
        }
    );

    kernel_test!(
        fn simd_matches_scalar() {
            let mut rng = test_rng(31);
            for len in [1, 3, 4, 5, 8, 13, 64, 1001] {
                let x: Vec<f32> = random_vec(&mut rng, len).iter().map(|v| v * 6.0).collect();
                let dy = random_vec(&mut rng, len);
                for f in ALL {
                    let (mut want, mut got) = (vec![f32::NAN; len], vec![f32::NAN; len]);
                    scalar::activation_forward(f, &x, &mut want);
                    activation_forward(f, &x, &mut got);
                    assert_bits_eq(&got, &want, &format!("{f:?} forward, len {len}"));
                    let (mut want_dx, mut got_dx) = (vec![f32::NAN; len], vec![f32::NAN; len]);
                    scalar::activation_backward(f, &want, &dy, &mut want_dx);
                    activation_backward(f, &got, &dy, &mut got_dx);
                    assert_bits_eq(&got_dx, &want_dx, &format!("{f:?} backward, len {len}"));
                }
            }
        }
    );

    kernel_test!(
        fn gradients_match_finite_differences() {
            let mut rng = test_rng(32);
            // Keep away from relu's kink at 0, where the difference quotient straddles it.
            let x: Vec<f32> =
                random_vec(&mut rng, 64).iter().map(|v| if v.abs() < 0.05 { v + 0.1 } else { v * 2.0 }).collect();
            let dy = random_vec(&mut rng, 64);
            for f in ALL {
                let mut y = vec![0.0; 64];
                activation_forward(f, &x, &mut y);
                let mut dx = vec![0.0; 64];
                activation_backward(f, &y, &dy, &mut dx);
                let loss = |xs: &[f32]| -> f64 {
                    let mut y = vec![0.0; xs.len()];
                    activation_forward(f, xs, &mut y);
                    y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64).sum()
                };
                let mut xs = x.clone();
                check_gradient(&format!("{f:?}"), &mut xs, &dx, 64, loss);
            }
        }
    );
}
