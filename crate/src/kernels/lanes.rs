//! Lanes of f32: [`Lanes`] is implemented by `f32` and by [`F4`] (wasm `v128` under simd128, a
//! plain array elsewhere). Element-wise math (exp, tanh, log, …) is written once, generic over
//! `Lanes`; every operation is lane-wise and IEEE-exact (no fused multiply-add, no approximate
//! reciprocal), so the SIMD build computes exactly what the scalar reference computes.

/// The operations element-wise kernels use, lane by lane.
pub trait Lanes: Copy {
    fn splat(v: f32) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    fn floor(self) -> Self;
    fn abs(self) -> Self;
    /// `if self > o { a } else { b }`, false for NaN.
    fn gt_select(self, o: Self, a: Self, b: Self) -> Self;
    /// `if self < o { a } else { b }`, false for NaN.
    fn lt_select(self, o: Self, a: Self, b: Self) -> Self;
    /// `2^n` for integral `n` in [-126, 127], built from the exponent bits.
    fn pow2i(n: Self) -> Self;
    /// The magnitude of `self` with the sign of `s`.
    fn with_sign_of(self, s: Self) -> Self;
    /// Splits a positive normal value into (mantissa in [1, 2), exponent) as floats.
    fn frexp1(self) -> (Self, Self);
}

impl Lanes for f32 {
    fn splat(v: f32) -> Self {
        v
    }
    fn add(self, o: Self) -> Self {
        self + o
    }
    fn sub(self, o: Self) -> Self {
        self - o
    }
    fn mul(self, o: Self) -> Self {
        self * o
    }
    fn div(self, o: Self) -> Self {
        self / o
    }
    fn floor(self) -> Self {
        f32::floor(self)
    }
    fn abs(self) -> Self {
        f32::abs(self)
    }
    fn gt_select(self, o: Self, a: Self, b: Self) -> Self {
        if self > o {
            a
        } else {
            b
        }
    }
    fn lt_select(self, o: Self, a: Self, b: Self) -> Self {
        if self < o {
            a
        } else {
            b
        }
    }
    fn pow2i(n: Self) -> Self {
        f32::from_bits(((n as i32 + 127) as u32) << 23)
    }
    fn with_sign_of(self, s: Self) -> Self {
        f32::copysign(self, s)
    }
    fn frexp1(self) -> (Self, Self) {
        let bits = self.to_bits();
        let e = ((bits >> 23) & 0xff) as i32 - 127;
        (f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000), e as f32)
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use super::Lanes;
    use core::arch::wasm32::*;

    /// Four f32 lanes in a wasm `v128`.
    #[derive(Clone, Copy)]
    pub struct F4(v128);

    impl F4 {
        #[inline(always)]
        pub fn load(s: &[f32]) -> Self {
            assert!(s.len() >= 4);
            // SAFETY: at least 4 values are readable; v128_load has no alignment requirement.
            F4(unsafe { v128_load(s.as_ptr() as *const v128) })
        }
        #[inline(always)]
        pub fn store(self, d: &mut [f32]) {
            assert!(d.len() >= 4);
            // SAFETY: at least 4 values are writable; v128_store has no alignment requirement.
            unsafe { v128_store(d.as_mut_ptr() as *mut v128, self.0) }
        }
        /// The lanes holding the bits of `first`, `first + 1`, `first + 2`, `first + 3`: four
        /// consecutive indices carried through selects as f32 bit patterns.
        #[inline(always)]
        pub fn indices(first: u32) -> Self {
            F4(i32x4_add(u32x4_splat(first), u32x4(0, 1, 2, 3)))
        }
        /// Stores the lanes' bits (see [`F4::indices`]).
        #[inline(always)]
        pub fn store_bits(self, d: &mut [u32]) {
            assert!(d.len() >= 4);
            // SAFETY: at least 4 values are writable; v128_store has no alignment requirement.
            unsafe { v128_store(d.as_mut_ptr() as *mut v128, self.0) }
        }
    }

    impl Lanes for F4 {
        #[inline(always)]
        fn splat(v: f32) -> Self {
            F4(f32x4_splat(v))
        }
        #[inline(always)]
        fn add(self, o: Self) -> Self {
            F4(f32x4_add(self.0, o.0))
        }
        #[inline(always)]
        fn sub(self, o: Self) -> Self {
            F4(f32x4_sub(self.0, o.0))
        }
        #[inline(always)]
        fn mul(self, o: Self) -> Self {
            F4(f32x4_mul(self.0, o.0))
        }
        #[inline(always)]
        fn div(self, o: Self) -> Self {
            F4(f32x4_div(self.0, o.0))
        }
        #[inline(always)]
        fn floor(self) -> Self {
            F4(f32x4_floor(self.0))
        }
        #[inline(always)]
        fn abs(self) -> Self {
            F4(f32x4_abs(self.0))
        }
        #[inline(always)]
        fn gt_select(self, o: Self, a: Self, b: Self) -> Self {
            F4(v128_bitselect(a.0, b.0, f32x4_gt(self.0, o.0)))
        }
        #[inline(always)]
        fn lt_select(self, o: Self, a: Self, b: Self) -> Self {
            F4(v128_bitselect(a.0, b.0, f32x4_lt(self.0, o.0)))
        }
        #[inline(always)]
        fn pow2i(n: Self) -> Self {
            let e = i32x4_add(i32x4_trunc_sat_f32x4(n.0), i32x4_splat(127));
            F4(i32x4_shl(e, 23))
        }
        #[inline(always)]
        fn with_sign_of(self, s: Self) -> Self {
            let sign = i32x4_splat(i32::MIN);
            F4(v128_or(v128_andnot(self.0, sign), v128_and(s.0, sign)))
        }
        #[inline(always)]
        fn frexp1(self) -> (Self, Self) {
            let e = i32x4_sub(u32x4_shr(v128_and(self.0, i32x4_splat(0x7f80_0000)), 23), i32x4_splat(127));
            let m = v128_or(v128_and(self.0, i32x4_splat(0x007f_ffff)), i32x4_splat(0x3f80_0000));
            (F4(m), F4(f32x4_convert_i32x4(e)))
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    use super::Lanes;

    /// Four f32 lanes, computed one by one with the `f32` operations.
    #[derive(Clone, Copy)]
    pub struct F4([f32; 4]);

    impl F4 {
        pub fn load(s: &[f32]) -> Self {
            F4([s[0], s[1], s[2], s[3]])
        }
        pub fn store(self, d: &mut [f32]) {
            d[..4].copy_from_slice(&self.0);
        }
        pub fn indices(first: u32) -> Self {
            F4(core::array::from_fn(|i| f32::from_bits(first + i as u32)))
        }
        pub fn store_bits(self, d: &mut [u32]) {
            for (d, v) in d[..4].iter_mut().zip(self.0) {
                *d = v.to_bits();
            }
        }
        fn zip(self, o: Self, f: impl Fn(f32, f32) -> f32) -> Self {
            F4(core::array::from_fn(|i| f(self.0[i], o.0[i])))
        }
    }

    impl Lanes for F4 {
        fn splat(v: f32) -> Self {
            F4([v; 4])
        }
        fn add(self, o: Self) -> Self {
            self.zip(o, Lanes::add)
        }
        fn sub(self, o: Self) -> Self {
            self.zip(o, Lanes::sub)
        }
        fn mul(self, o: Self) -> Self {
            self.zip(o, Lanes::mul)
        }
        fn div(self, o: Self) -> Self {
            self.zip(o, Lanes::div)
        }
        fn floor(self) -> Self {
            F4(self.0.map(Lanes::floor))
        }
        fn abs(self) -> Self {
            F4(self.0.map(Lanes::abs))
        }
        fn gt_select(self, o: Self, a: Self, b: Self) -> Self {
            F4(core::array::from_fn(|i| self.0[i].gt_select(o.0[i], a.0[i], b.0[i])))
        }
        fn lt_select(self, o: Self, a: Self, b: Self) -> Self {
            F4(core::array::from_fn(|i| self.0[i].lt_select(o.0[i], a.0[i], b.0[i])))
        }
        fn pow2i(n: Self) -> Self {
            F4(n.0.map(<f32 as Lanes>::pow2i))
        }
        fn with_sign_of(self, s: Self) -> Self {
            self.zip(s, Lanes::with_sign_of)
        }
        fn frexp1(self) -> (Self, Self) {
            let pairs = self.0.map(Lanes::frexp1);
            (F4(pairs.map(|p| p.0)), F4(pairs.map(|p| p.1)))
        }
    }
}

pub use imp::F4;

/// Loads up to 4 values; missing lanes are `pad`.
#[inline(always)]
pub fn load_upto(s: &[f32], pad: f32) -> F4 {
    if s.len() >= 4 {
        F4::load(s)
    } else {
        // Lane by lane: copy_from_slice would be a memory.copy call.
        let at = |i: usize| if i < s.len() { s[i] } else { pad };
        F4::load(&[at(0), at(1), at(2), at(3)])
    }
}

/// Stores the first `d.len()` (at most 4) lanes.
#[inline(always)]
pub fn store_upto(v: F4, d: &mut [f32]) {
    if d.len() >= 4 {
        v.store(d)
    } else {
        let mut b = [0.0; 4];
        v.store(&mut b);
        // Unrolled: copy_from_slice, or a loop, would be a memory.copy call.
        let n = d.len();
        if n > 0 {
            d[0] = b[0];
        }
        if n > 1 {
            d[1] = b[1];
        }
        if n > 2 {
            d[2] = b[2];
        }
    }
}

/// Whether every value is finite (no NaN, no ±Inf): `v − v` is 0 for a finite value and NaN
/// otherwise, and a NaN survives any sum, so one pass of vector adds decides it without overflow.
pub fn all_finite(xs: &[f32]) -> bool {
    // Four sums side by side: one would wait for each add before the next, and this runs over
    // every weight and gradient at each step (docs/performance.md).
    let mut acc = [F4::splat(0.0); 4];
    let mut blocks = xs.chunks_exact(16);
    for block in &mut blocks {
        for (k, a) in acc.iter_mut().enumerate() {
            let v = F4::load(&block[4 * k..4 * k + 4]);
            *a = a.add(v.sub(v));
        }
    }
    let rest = blocks.remainder();
    for r in groups_of_4(rest.len()) {
        let v = load_upto(&rest[r], 0.0);
        acc[0] = acc[0].add(v.sub(v));
    }
    let mut lanes = [0.0f32; 4];
    acc[0].add(acc[1]).add(acc[2].add(acc[3])).store(&mut lanes);
    lanes.iter().all(|&l| l == 0.0)
}

/// The ranges `[0, 4)`, `[4, 8)`, … covering `0..len`; the last may be shorter.
#[inline(always)]
pub fn groups_of_4(len: usize) -> impl Iterator<Item = core::ops::Range<usize>> {
    (0..len).step_by(4).map(move |i| i..(i + 4).min(len))
}

/// Copies `src` into `dst` (equal lengths). Short runs go through vector loads and stores: a
/// `copy_from_slice` becomes wasm's `memory.copy`, which V8 runs as a call, costly for a few
/// bytes. Long runs still use it.
#[inline(always)]
pub fn copy(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "copy: lengths differ");
    if src.len() >= 64 {
        dst.copy_from_slice(src);
        return;
    }
    let full = src.len() - src.len() % 4;
    for i in (0..full).step_by(4) {
        F4::load(&src[i..]).store(&mut dst[i..]);
    }
    // At most 3 left, unrolled on purpose: LLVM turns even a short loop into the memory.copy
    // call avoided above.
    let rest = src.len() - full;
    if rest > 0 {
        dst[full] = src[full];
    }
    if rest > 1 {
        dst[full + 1] = src[full + 1];
    }
    if rest > 2 {
        dst[full + 2] = src[full + 2];
    }
}

#[cfg(test)]
mod tests {
    use super::all_finite;
    use crate::kernel_test;

    kernel_test!(
        fn all_finite_finds_any_non_finite_value_wherever_it_is() {
            // Lengths around the 16-value blocks and their 4-value rest, each bad value at every
            // position; the largest finite values must not overflow the sums into a false alarm.
            for len in 0..41 {
                let good: Vec<f32> =
                    (0..len).map(|i| if i % 2 == 0 { f32::MAX } else { -f32::MAX * (i as f32 / 41.0) }).collect();
                assert!(all_finite(&good), "all finite, length {len}");
                for at in 0..len {
                    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                        let mut xs = good.clone();
                        xs[at] = bad;
                        assert!(!all_finite(&xs), "{bad} at {at} of {len}");
                    }
                }
            }
        }
    );
}
