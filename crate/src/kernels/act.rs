//! Activations, forward and backward: relu, tanh, LeCun's scaled tanh, sigmoid, leaky relu, elu,
//! gelu, swish, hard sigmoid; and the exp, tanh and erf they are built on.
//!
//! exp and tanh are our own (after Cephes's `expf` and `tanhf`: range reduction plus a minimax
//! polynomial), written once over [`Lanes`] so the scalar reference and the simd128 kernels give
//! the same bits, and so no platform's libm enters the results. Their accuracy against f64 is
//! tested below.

use super::lanes::{load_upto, store_upto, Lanes, F4};

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

/// erf x, within 5e-7 absolutely (tested; 2.1e-7 of it is the approximation's, the rest f32
/// rounding): a rational approximation on [-4, 4] (where it reaches ±1 in
/// f32), the form Eigen's fast float erf uses.
#[inline(always)]
pub fn erf<L: Lanes>(input: L) -> L {
    let x = input.gt_select(L::splat(4.0), L::splat(4.0), input);
    let x = x.lt_select(L::splat(-4.0), L::splat(-4.0), x);
    let z = x.mul(x);
    let p = L::splat(-2.726_142_3e-10)
        .mul(z)
        .add(L::splat(2.770_681_4e-8))
        .mul(z)
        .add(L::splat(-2.101_024e-6))
        .mul(z)
        .add(L::splat(-5.692_506_4e-5))
        .mul(z)
        .add(L::splat(-7.349_906_3e-4))
        .mul(z)
        .add(L::splat(-2.954_6e-3))
        .mul(z)
        .add(L::splat(-1.609_603_3e-2))
        .mul(x);
    let q = L::splat(-1.456_607_2e-5)
        .mul(z)
        .add(L::splat(-2.133_740_6e-4))
        .mul(z)
        .add(L::splat(-1.682_827e-3))
        .mul(z)
        .add(L::splat(-7.373_329_3e-3))
        .mul(z)
        .add(L::splat(-1.426_473_9e-2));
    p.div(q)
}

/// LeCun's squashing function's amplitude A and slope S: f(a) = A·tanh(S·a), f(±1) = ±1.
pub const LECUN_A: f32 = 1.7159;
pub const LECUN_S: f32 = 2.0 / 3.0;

const FRAC_1_SQRT_2: f32 = core::f32::consts::FRAC_1_SQRT_2;
/// 1/√(2π), the standard normal density's factor.
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// The activations a layer can apply.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Linear,
    Relu,
    Tanh,
    /// LeCun's scaled tanh, 1.7159·tanh(2/3·a).
    LecunTanh,
    Sigmoid,
    /// Keras's `leaky_relu`: x where x ≥ 0, else slope·x.
    LeakyRelu(f32),
    /// Keras's `elu`: x where x > 0, else alpha·(e^x − 1).
    Elu(f32),
    /// Keras's `gelu` (exact): x·Φ(x) = x/2·(1 + erf(x/√2)).
    Gelu,
    /// Keras's `swish` (`silu`): x·sigmoid(x).
    Swish,
    /// Keras 3's `hard_sigmoid`: relu6(x + 3)/6.
    HardSigmoid,
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
            Activation::LeakyRelu(slope) => x.lt_select(L::splat(0.0), L::splat(slope).mul(x), x),
            Activation::Elu(alpha) => x.gt_select(L::splat(0.0), x, L::splat(alpha).mul(exp(x).sub(L::splat(1.0)))),
            Activation::Gelu => L::splat(0.5).mul(x).mul(L::splat(1.0).add(erf(x.mul(L::splat(FRAC_1_SQRT_2))))),
            Activation::Swish => x.mul(sigmoid(x)),
            Activation::HardSigmoid => {
                let s = x.add(L::splat(3.0));
                let s = s.lt_select(L::splat(0.0), L::splat(0.0), s);
                s.gt_select(L::splat(6.0), L::splat(6.0), s).div(L::splat(6.0))
            }
        }
    }

    /// Whether the slope needs the input: it cannot be had from the output alone (gelu, swish).
    pub fn needs_input(self) -> bool {
        matches!(self, Activation::Gelu | Activation::Swish)
    }

    /// ∂L/∂x from the activation's input `x`, its output `y` and ∂L/∂y. `x` is read only when
    /// [`needs_input`](Self::needs_input); the others go by `y`.
    #[inline(always)]
    fn backward<L: Lanes>(self, x: L, y: L, dy: L) -> L {
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
            // The slope is 1 where x ≥ 0, i.e. where y ≥ 0 (slope > 0 keeps the sign).
            Activation::LeakyRelu(slope) => y.lt_select(L::splat(0.0), L::splat(slope).mul(dy), dy),
            // Where x ≤ 0, d/dx alpha·(e^x − 1) = alpha·e^x = y + alpha.
            Activation::Elu(alpha) => y.gt_select(L::splat(0.0), dy, dy.mul(y.add(L::splat(alpha)))),
            // Φ(x) + x·φ(x).
            Activation::Gelu => {
                let cdf = L::splat(0.5).mul(one.add(erf(x.mul(L::splat(FRAC_1_SQRT_2)))));
                let pdf = L::splat(FRAC_1_SQRT_2PI).mul(exp(L::splat(-0.5).mul(x).mul(x)));
                dy.mul(cdf.add(x.mul(pdf)))
            }
            // s + x·s·(1 − s) with s = sigmoid(x).
            Activation::Swish => {
                let s = sigmoid(x);
                dy.mul(s.add(x.mul(s).mul(one.sub(s))))
            }
            // 1/6 inside the ramp, 0 where it is flat (TensorFlow's relu6 gradient).
            Activation::HardSigmoid => {
                let inside =
                    y.gt_select(L::splat(0.0), y.lt_select(one, L::splat(1.0 / 6.0), L::splat(0.0)), L::splat(0.0));
                dy.mul(inside)
            }
        }
    }
}

/// Runs `$body` with `$g` bound to `$f`, rebuilt from its own variant for the cheap
/// activations, so that in their arms the compiler knows the activation and inlines it into the
/// loop instead of choosing it again for every group of lanes (docs/performance.md). The others
/// spend far more on their arithmetic than on that choice and share one arm, which keeps the
/// wasm small.
macro_rules! with_variant {
    ($f:expr, $g:ident => $body:expr) => {
        match $f {
            Activation::Linear => {
                let $g = Activation::Linear;
                $body
            }
            Activation::Relu => {
                let $g = Activation::Relu;
                $body
            }
            Activation::LeakyRelu(slope) => {
                let $g = Activation::LeakyRelu(slope);
                $body
            }
            other => {
                let $g = other;
                $body
            }
        }
    };
}

/// Runs `$body` for each whole group of 4 values (`$r` its range, `$load` and `$store` plain
/// vector moves), then once for the last 0–3 values (through padded lanes).
macro_rules! each_group {
    ($len:expr, |$r:ident, $load:ident, $store:ident| $body:block) => {{
        let len = $len;
        let full = len - len % 4;
        for i in (0..full).step_by(4) {
            let $r = i..i + 4;
            let $load = |s: &[f32]| F4::load(s);
            let $store = |v: F4, d: &mut [f32]| v.store(d);
            $body
        }
        if full < len {
            let $r = full..len;
            let $load = |s: &[f32]| load_upto(s, 0.0);
            let $store = |v: F4, d: &mut [f32]| store_upto(v, d);
            $body
        }
    }};
}

/// `y = f(x)`, element-wise.
pub fn activation_forward(f: Activation, x: &[f32], y: &mut [f32]) {
    assert_eq!(x.len(), y.len(), "activation_forward: x has {} values, y {}", x.len(), y.len());
    with_variant!(f, g => each_group!(x.len(), |r, load, store| {
        store(g.forward(load(&x[r.clone()])), &mut y[r]);
    }))
}

/// `dx = dy · f′`, element-wise, from the forward input `x` and output `y` (`x` is read only
/// when [`Activation::needs_input`]).
pub fn activation_backward(f: Activation, x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32]) {
    assert!(
        x.len() == y.len() && y.len() == dy.len() && dy.len() == dx.len(),
        "activation_backward: x, y, dy and dx lengths differ"
    );
    with_variant!(f, g => each_group!(y.len(), |r, load, store| {
        store(g.backward(load(&x[r.clone()]), load(&y[r.clone()]), load(&dy[r.clone()])), &mut dx[r]);
    }))
}

/// `y = f(y)` in place.
pub fn activation_forward_in_place(f: Activation, y: &mut [f32]) {
    if f == Activation::Linear {
        return;
    }
    with_variant!(f, g => each_group!(y.len(), |r, load, store| {
        store(g.forward(load(&y[r.clone()])), &mut y[r]);
    }))
}

/// `d = d · f′` in place, from the forward input `x` and output `y` (`x` is read only when
/// [`Activation::needs_input`]).
pub fn activation_backward_in_place(f: Activation, x: &[f32], y: &[f32], d: &mut [f32]) {
    assert!(x.len() == y.len() && y.len() == d.len(), "activation_backward: x, y and d lengths differ");
    if f == Activation::Linear {
        return;
    }
    with_variant!(f, g => each_group!(y.len(), |r, load, store| {
        store(g.backward(load(&x[r.clone()]), load(&y[r.clone()]), load(&d[r.clone()])), &mut d[r]);
    }))
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
    pub fn activation_backward(f: Activation, x: &[f32], y: &[f32], dy: &[f32], dx: &mut [f32]) {
        for (((dx, &x), &y), &dy) in dx.iter_mut().zip(x).zip(y).zip(dy) {
            *dx = f.backward(x, y, dy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    const ALL: [Activation; 10] = [
        Activation::Linear,
        Activation::Relu,
        Activation::Tanh,
        Activation::LecunTanh,
        Activation::Sigmoid,
        Activation::LeakyRelu(0.3),
        Activation::Elu(1.5),
        Activation::Gelu,
        Activation::Swish,
        Activation::HardSigmoid,
    ];

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

    /// erf in f64 by its Maclaurin series (|x| ≤ 3) or continued fraction (beyond).
    fn erf64(x: f64) -> f64 {
        let a = x.abs();
        let r = if a <= 3.0 {
            let (mut term, mut sum, mut n) = (a, a, 0.0);
            while term.abs() > 1e-17 * sum.abs() {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / core::f64::consts::PI.sqrt()
        } else {
            // erfc by Lentz's continued fraction.
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = k as f64 / 2.0 / (a + f);
            }
            1.0 - (-a * a).exp() / core::f64::consts::PI.sqrt() / (a + f)
        };
        r.copysign(x)
    }

    kernel_test!(
        fn erf_is_accurate_and_odd() {
            let mut worst = (0.0f64, 0.0f32);
            for i in 0..=100_000 {
                let x = -6.0 + 12.0 * i as f32 / 100_000.0;
                let err = (erf(x) as f64 - erf64(x as f64)).abs();
                if err > worst.0 {
                    worst = (err, x);
                }
                assert_eq!(erf(-x).to_bits(), (-erf(x)).to_bits(), "erf is odd at {x}");
            }
            assert!(worst.0 <= 5e-7, "erf: worst absolute error {} at {}", worst.0, worst.1);
            assert_eq!(erf(0.0f32), 0.0);
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
                    scalar::activation_backward(f, &x, &want, &dy, &mut want_dx);
                    activation_backward(f, &x, &got, &dy, &mut got_dx);
                    assert_bits_eq(&got_dx, &want_dx, &format!("{f:?} backward, len {len}"));
                }
            }
        }
    );

    kernel_test!(
        fn gradients_match_finite_differences() {
            let mut rng = test_rng(32);
            // Keep away from the kinks at 0 (relu, leaky relu) and ±3 (hard sigmoid), where the
            // difference quotient straddles them.
            let x: Vec<f32> = random_vec(&mut rng, 64)
                .iter()
                .map(|v| if v.abs() < 0.05 { v + 0.1 } else { v * 4.0 })
                .map(|v| if (v.abs() - 3.0).abs() < 0.05 { v * 0.9 } else { v })
                .collect();
            let dy = random_vec(&mut rng, 64);
            for f in ALL {
                let mut y = vec![0.0; 64];
                activation_forward(f, &x, &mut y);
                let mut dx = vec![0.0; 64];
                activation_backward(f, &x, &y, &dy, &mut dx);
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
