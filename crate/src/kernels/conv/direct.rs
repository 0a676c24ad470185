//! Direct convolution for one-channel inputs (LeNet-5's C1, the Fashion ConvNet's conv1).
//!
//! With one input channel a patch row is only `k_h·k_w` values long and, for the forward pass,
//! the output has few filters (LeNet-5: 6), so im2col + GEMM spends most of its time copying
//! patches and filling a 4×8 tile with padding lanes. These kernels read the image directly:
//!
//! - **forward**: eight output columns of one output row share two vector loads per tap; each of
//!   four filters multiplies them by its splatted weight (8 accumulators). With at most 8
//!   filters, all of them take four columns, one vector each; with at most 6, two output rows
//!   of half of them, each weight splat serving both rows. The results go out through 4×4
//!   transposes as rows of filters;
//! - **kernel gradient**: eight filters' output gradients at one position share two vector loads;
//!   each of four taps multiplies them by its splatted input value (8 accumulators). With at
//!   most 6 filters, four taps of a kernel row go in the lanes instead: one load of the input
//!   values per row, one splat of each filter's output gradient shared by two rows.
//!
//! Both keep the sums of [`super`]'s header exactly: every output accumulates from +0.0
//! over taps in (kh, kw) order, bias last; every kernel-gradient entry over positions in order.
//! The image is first copied into a zero-padded buffer, so padding adds exact zero products, as
//! the im2col rows of the GEMM path do. The two paths therefore give the same bits, and the
//! SIMD-against-scalar tests in `conv.rs` cover this path.
//!
//! Used only with simd128 and stride 1; elsewhere the GEMM path runs.

use super::params::Conv2dParams;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use crate::kernels::lanes::copy;

/// Output columns of the forward kernel's widest block (two vectors); the padded width rounds
/// up to them.
const COLS: usize = 8;
/// Filters per pass of the kernel-gradient kernel (two vectors).
const FILTERS: usize = 8;

/// Whether the direct kernels serve `p`.
pub fn applies(p: &Conv2dParams) -> bool {
    cfg!(all(target_arch = "wasm32", target_feature = "simd128")) && p.in_c == 1 && p.stride_h == 1 && p.stride_w == 1
}

/// The zero-padded image's width: every vector load of the last column block stays inside.
fn padded_w(p: &Conv2dParams) -> usize {
    // Three more columns: the kernel gradient loads four values at a block's first tap.
    p.out_w().div_ceil(COLS) * COLS + p.k_w - 1 + 3
}

fn padded_h(p: &Conv2dParams) -> usize {
    p.out_h() + p.k_h - 1
}

/// Scratch for [`forward`]: the padded image.
pub fn forward_scratch_len(p: &Conv2dParams) -> usize {
    padded_h(p) * padded_w(p)
}

/// Scratch for [`kernel_grad`]: the padded image and the output gradient's last rows with
/// their filters rounded up to whole passes (see [`GradRows`]).
pub fn kernel_grad_scratch_len(p: &Conv2dParams) -> usize {
    forward_scratch_len(p) + (p.out_h() - direct_rows(p)) * p.out_w() * p.out_c.div_ceil(FILTERS) * FILTERS
}

/// The output-gradient rows that [`GradRows`] reads in place: those whose last position's
/// last pass of 8 filters ends inside the image's gradient (all of them when the filters are
/// a multiple of 8).
fn direct_rows(p: &Conv2dParams) -> usize {
    let (out_w, out_c) = (p.out_w(), p.out_c);
    let (len, oc8) = (p.positions() * out_c, out_c.div_ceil(FILTERS) * FILTERS);
    // Rows 0..r end with position r·out_w − 1, read from (r·out_w − 1)·out_c to oc8 values on.
    (0..=p.out_h()).rev().find(|&r| r * out_w * out_c + oc8 <= len + out_c).unwrap_or(0)
}

/// One image's output gradient as the kernel-gradient loops read it: at every position, the
/// values of filters `8g .. 8g + 8` from one pointer. The first [`direct_rows`] rows are read
/// in place, positions `out_c` values apart: when `out_c` is not a multiple of 8, the lanes of
/// the last pass past `out_c` hold the next position's values, which the loops carry along in
/// lanes they never store (so the sums of the others are unchanged). The rows after them, where
/// that read would pass the end, come from a copy with each position's filters padded to 8
/// (copying every row cost LeNet-5's C1 a sixth of its kernel gradient; docs/performance.md).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[derive(Clone, Copy)]
pub struct GradRows<'a> {
    dy: &'a [f32],
    tail: &'a [f32],
    direct: usize,
    out_h: usize,
    out_w: usize,
    out_c: usize,
    oc8: usize,
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl<'a> GradRows<'a> {
    /// `dy`, one image's gradient; `scratch` takes the copied rows.
    fn new(p: &Conv2dParams, dy: &'a [f32], scratch: &'a mut [f32]) -> Self {
        let (out_h, out_w, out_c) = (p.out_h(), p.out_w(), p.out_c);
        let (direct, oc8) = (direct_rows(p), out_c.div_ceil(FILTERS) * FILTERS);
        assert_eq!(dy.len(), p.positions() * out_c);
        let tail = &mut scratch[..(out_h - direct) * out_w * oc8];
        for (d, s) in tail.chunks_exact_mut(oc8).zip(dy[direct * out_w * out_c..].chunks_exact(out_c)) {
            simd::copy_padded(s, d);
        }
        GradRows { dy, tail, direct, out_h, out_w, out_c, oc8 }
    }

    /// Row `oh`'s first position, at filter `8g`, and the distance between its positions. For
    /// `oh < out_h` and `8g < out_c`, the 8 values from each of the row's `out_w` positions on
    /// are inside `dy` or the copy: rows before `direct` by [`direct_rows`], the others as
    /// copied.
    #[inline(always)]
    fn row(&self, oh: usize, g: usize) -> (*const f32, usize) {
        debug_assert!(oh < self.out_h && g * FILTERS < self.out_c);
        if oh < self.direct {
            (self.dy.as_ptr().wrapping_add(oh * self.out_w * self.out_c + g * FILTERS), self.out_c)
        } else {
            (self.tail.as_ptr().wrapping_add((oh - self.direct) * self.out_w * self.oc8 + g * FILTERS), self.oc8)
        }
    }
}

/// Copies one image into `pad` (`padded_h × padded_w`) with zeros around it: row `r` holds
/// input row `r − pad_top`, column `s` input column `s − pad_left`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn pad_image(p: &Conv2dParams, image: &[f32], pad: &mut [f32]) {
    let (wp, hp) = (padded_w(p), padded_h(p));
    let (pad_t, pad_l) = (p.pad_top(), p.pad_left());
    let pad = &mut pad[..wp * hp];
    for (r, row) in pad.chunks_exact_mut(wp).enumerate() {
        let ih = r as isize - pad_t as isize;
        if ih < 0 || ih >= p.in_h as isize {
            row.fill(0.0);
            continue;
        }
        // Columns pad_l .. pad_l + n hold the input row (or its first n values), zeros around.
        let n = p.in_w.min(wp.saturating_sub(pad_l));
        let src = &image[ih as usize * p.in_w..][..n];
        row[..pad_l.min(wp)].fill(0.0);
        copy(&mut row[pad_l..pad_l + n], src);
        row[pad_l + n..].fill(0.0);
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use super::{padded_w, Conv2dParams, GradRows, FILTERS};
    use crate::kernels::gemm::simd::{madd, transpose4};
    use crate::kernels::lanes::F4;
    use core::arch::wasm32::*;

    /// Filters per register block of the forward kernel, and taps per register block of the
    /// kernel gradient: two vectors each, 8 accumulators, as in the GEMM's 4×8 tile. Measured on
    /// LeNet-5's C1 and the Fashion conv1: 5 and 6 run slower (V8 spills), 3 no faster. The
    /// kernel gradient splats a block's four input values from one vector load, so 4 is also
    /// its limit.
    const BLOCK: usize = 4;

    /// Calls `$f::<N> $args` with N = `$n`, one of the `$sizes`, as a constant; written
    /// `$f::<_, R> $args` or `$f::<_, V, R> $args`, calls `$f::<N, R> $args` or
    /// `$f::<N, V, R> $args`.
    macro_rules! with_size {
        ($n:expr, [$($size:literal),*], $f:ident $args:tt) => {
            match $n {
                $($size => $f::<$size> $args,)*
                n => unreachable!("no block of {n}"),
            }
        };
        ($n:expr, [$($size:literal),*], $f:ident::<_, $r:literal> $args:tt) => {
            match $n {
                $($size => $f::<$size, $r> $args,)*
                n => unreachable!("no block of {n}"),
            }
        };
        ($n:expr, [$($size:literal),*], $f:ident::<_, $v:literal, $r:literal> $args:tt) => {
            match $n {
                $($size => $f::<$size, $v, $r> $args,)*
                n => unreachable!("no block of {n}"),
            }
        };
    }

    /// [`with_size`] for blocks of 1 to [`BLOCK`].
    macro_rules! with_block {
        ($n:expr, $f:ident $args:tt) => {
            with_size!($n, [4, 3, 2, 1], $f $args)
        };
    }

    /// Filters up to which the forward pass runs [`forward_rows`] two rows at a time: four
    /// output columns of two output rows per vector, in blocks of at most 3 filters, so that
    /// each weight splat serves both rows. V8 compiles the same arithmetic differently when it is
    /// written otherwise, and this form measured best (`node bench/kernels.mjs --only C1`; the
    /// figures are in docs/performance.md).
    const PAIRS_MAX: usize = 6;

    /// Filters up to which the forward pass runs all of them in one block, four output columns
    /// per vector: no columns past a 28-wide row, and stores of whole filter rows. With more
    /// filters the 8-column blocks stay faster (`npm run bench:kernels`; docs/performance.md).
    const WIDE_MAX: usize = 8;

    /// Filters up to which [`kernel_grad`] runs [`grad_tap_rows`] for its whole 4-tap blocks.
    /// With 8 filters to a vector, LeNet-5's C1 (6 filters) left a quarter of the lanes empty; with
    /// the taps in the lanes every lane is used. Blocks of 3 filters × 2 kernel rows measured
    /// best; 2 rows of all 6 filters spill V8's registers (`node bench/kernels.mjs --only C1`;
    /// docs/performance.md).
    const TAP_LANES_MAX: usize = 6;

    /// One image: `y = conv(image, w) + b`, `w` in HWIO order, `pad` the padded image.
    pub fn forward(p: &Conv2dParams, pad: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
        if p.out_c <= PAIRS_MAX {
            // Two output rows at a time, the filters in halves; an odd last row with all of them.
            let halves = if p.out_c > PAIRS_MAX / 2 { 2 } else { 1 };
            let pairs = p.out_h() / 2 * 2;
            for h in 0..halves {
                let f0 = p.out_c * h / halves;
                let fb = p.out_c * (h + 1) / halves - f0;
                with_size!(fb, [3, 2, 1], forward_rows::<_, 1, 2>(p, pad, w, b, y, f0, 0..pairs));
            }
            if pairs < p.out_h() {
                with_size!(p.out_c, [6, 5, 4, 3, 2, 1], forward_rows::<_, 1, 1>(p, pad, w, b, y, 0, pairs..p.out_h()));
            }
            return;
        }
        if p.out_c <= WIDE_MAX {
            let all = 0..p.out_h();
            with_size!(p.out_c, [8, 7, 6, 5, 4, 3, 2, 1], forward_rows::<_, 1, 1>(p, pad, w, b, y, 0, all));
            return;
        }
        // Blocks as even as the filters allow (10 filters: 4 + 3 + 3, not 4 + 4 + 2): a small
        // last block has too few accumulators to hide the adds' latency (docs/performance.md).
        let blocks = p.out_c.div_ceil(BLOCK);
        let mut f0 = 0;
        for i in 0..blocks {
            let fb = (p.out_c - f0).div_ceil(blocks - i);
            with_size!(fb, [4, 3, 2, 1], forward_rows::<_, 2, 1>(p, pad, w, b, y, f0, 0..p.out_h()));
            f0 += fb;
        }
    }

    /// Stores the first `n` (1 to 4) lanes of `v` at `to`.
    ///
    /// # Safety
    /// `to .. to + n` must be writable.
    #[inline(always)]
    unsafe fn store_first(v: v128, to: *mut f32, n: usize) {
        match n {
            4 => v128_store(to as *mut v128, v),
            3 => {
                v128_store64_lane::<0>(v, to as *mut u64);
                v128_store32_lane::<2>(v, to.add(2) as *mut u32);
            }
            2 => v128_store64_lane::<0>(v, to as *mut u64),
            _ => v128_store32_lane::<0>(v, to as *mut u32),
        }
    }

    /// Filters `f0..f0+FB` of output rows `rows` (a multiple of R of them), `4·V` output
    /// columns of R rows per register block (FB·V·R accumulators): each tap's input values from
    /// V·R loads, each filter's weight splat serving all of them. The results go out through
    /// 4×4 transposes, as rows of filters.
    #[inline(always)]
    fn forward_rows<const FB: usize, const V: usize, const R: usize>(
        p: &Conv2dParams,
        pad: &[f32],
        w: &[f32],
        b: &[f32],
        y: &mut [f32],
        f0: usize,
        rows: core::ops::Range<usize>,
    ) {
        let (out_h, out_w, out_c, k_h, k_w) = (p.out_h(), p.out_w(), p.out_c, p.k_h, p.k_w);
        let wp = padded_w(p);
        assert!(V <= 2 && pad.len() >= super::padded_h(p) * wp && w.len() >= k_h * k_w * out_c && f0 + FB <= out_c);
        assert!(y.len() >= out_h * out_w * out_c && b.len() >= out_c);
        assert!(rows.end <= out_h && rows.len() % R == 0);
        let bias: [v128; FB] = core::array::from_fn(|f| f32x4_splat(b[f0 + f]));
        let (xp, wptr) = (pad.as_ptr(), w.as_ptr());
        for oh0 in rows.step_by(R) {
            for c0 in (0..out_w).step_by(4 * V) {
                let mut acc = [[[f32x4_splat(0.0); V]; R]; FB];
                for kh in 0..k_h {
                    for kw in 0..k_w {
                        // SAFETY: rows oh0 + r + kh < padded_h and column c0 + kw + 4·V − 1 <
                        // padded_w, as c0 + 4·V ≤ round_up(out_w, 8) (V ≤ 2); the weight index
                        // is below k_h·k_w·out_c (asserted above).
                        unsafe {
                            let at = xp.add((oh0 + kh) * wp + c0 + kw);
                            let x: [[v128; V]; R] = core::array::from_fn(|r| {
                                core::array::from_fn(|v| v128_load(at.add(r * wp + 4 * v) as *const v128))
                            });
                            let wt = wptr.add((kh * k_w + kw) * out_c + f0);
                            for (f, a) in acc.iter_mut().enumerate() {
                                let wv = v128_load32_splat(wt.add(f) as *const u32);
                                for (a, x) in a.iter_mut().zip(&x) {
                                    for (a, x) in a.iter_mut().zip(x) {
                                        *a = madd(*x, wv, *a);
                                    }
                                }
                            }
                        }
                    }
                }
                // r indexes the accumulators' second dimension.
                #[allow(clippy::needless_range_loop)]
                for r in 0..R {
                    let oh = oh0 + r;
                    for (v, c) in (c0..out_w).step_by(4).take(V).enumerate() {
                        let valid = 4.min(out_w - c);
                        let at = (oh * out_w + c) * out_c + f0;
                        for g in 0..FB.div_ceil(4) {
                            let col =
                                |f: usize| if f < FB { f32x4_add(acc[f][r][v], bias[f]) } else { f32x4_splat(0.0) };
                            let lanes = transpose4([col(4 * g), col(4 * g + 1), col(4 * g + 2), col(4 * g + 3)]);
                            let n = 4.min(FB - 4 * g);
                            for (j, l) in lanes.iter().enumerate().take(valid) {
                                // SAFETY: position c + j < out_w of row oh; filters f0 + 4g .. + n
                                // ≤ f0 + FB ≤ out_c (asserted above).
                                unsafe { store_first(*l, y.as_mut_ptr().add(at + j * out_c + 4 * g), n) };
                            }
                        }
                    }
                }
            }
        }
    }

    /// One image's kernel gradient: `partial[k·out_c + f] = Σ_positions x·dy`, the output
    /// gradient read through `dy`. Tap blocks stay within one kernel row, so a block's input
    /// values sit side by side: one pointer per position, constant offsets.
    pub fn kernel_grad(p: &Conv2dParams, pad: &[f32], dy: GradRows<'_>, partial: &mut [f32], db: &mut [f32]) {
        bias_grad(p, dy, db);
        // Whole blocks of BLOCK taps along each kernel row; the columns left over (LeNet-5's
        // 5×5: one) go down the rows in blocks of their own when there are few of them.
        let whole = p.k_w / BLOCK * BLOCK;
        let rest = p.k_w - whole;
        let down = rest > 0 && rest <= COLUMN_REST_MAX;
        // With few filters the whole blocks put their taps in the lanes instead: two kernel rows
        // of half the filters at a time (six accumulators for LeNet-5's C1), and an odd last row
        // with all of them.
        let tap_lanes = p.out_c <= TAP_LANES_MAX;
        if tap_lanes {
            let halves = if p.out_c > TAP_LANES_MAX / 2 { 2 } else { 1 };
            for kw0 in (0..whole).step_by(BLOCK) {
                for h in 0..halves {
                    let f0 = p.out_c * h / halves;
                    let fb = p.out_c * (h + 1) / halves - f0;
                    for kh0 in (0..p.k_h / 2 * 2).step_by(2) {
                        // fb ≤ TAP_LANES_MAX / 2 here.
                        with_size!(fb, [3, 2, 1], grad_tap_rows::<_, 2>(p, pad, dy, partial, kh0, kw0, f0));
                    }
                }
                if p.k_h % 2 == 1 {
                    with_size!(
                        p.out_c,
                        [6, 5, 4, 3, 2, 1],
                        grad_tap_rows::<_, 1>(p, pad, dy, partial, p.k_h - 1, kw0, 0)
                    );
                }
            }
        }
        for g in 0..p.out_c.div_ceil(FILTERS) {
            for kh in 0..p.k_h {
                let mut kw0 = if tap_lanes { whole } else { 0 };
                let end = if down { whole } else { p.k_w };
                while kw0 < end {
                    let at = Taps { kh, kw0 };
                    with_block!((end - kw0).min(BLOCK), grad_block(p, pad, dy, partial, g, at));
                    kw0 += BLOCK;
                }
            }
            if down {
                let taps = p.k_h * rest;
                let mut u0 = 0;
                while u0 < taps {
                    with_block!((taps - u0).min(BLOCK), grad_column_block(p, pad, dy, partial, g, whole, u0));
                    u0 += BLOCK;
                }
            }
        }
    }

    /// Taps `kw0..kw0+4` of kernel rows `kh0..kh0+R` for filters `f0..f0+FB`, the four taps in
    /// the lanes of one vector per row and filter (FB·R accumulators): at each position a row's
    /// four input values are one load, and each filter's output gradient one splat that every
    /// row uses. Each lane still sums over the positions in order, so the bits are those of the
    /// other blocks.
    #[inline(always)]
    fn grad_tap_rows<const FB: usize, const R: usize>(
        p: &Conv2dParams,
        pad: &[f32],
        dy: GradRows<'_>,
        partial: &mut [f32],
        kh0: usize,
        kw0: usize,
        f0: usize,
    ) {
        let (out_h, out_w, out_c, k_w) = (p.out_h(), p.out_w(), p.out_c, p.k_w);
        let wp = padded_w(p);
        assert!(f0 + FB <= out_c && kh0 + R <= p.k_h && kw0 + BLOCK <= k_w);
        assert!(pad.len() >= super::padded_h(p) * wp && partial.len() >= p.k_h * k_w * out_c);
        let mut acc = [[f32x4_splat(0.0); FB]; R];
        for oh in 0..out_h {
            // SAFETY: for every position (oh, ow), rows oh + kh0 .. oh + kh0 + R ≤ padded_h and
            // columns ow + kw0 .. ow + kw0 + 4 ≤ padded_w (asserted above); `dy.row` gives 8
            // readable values at each of the row's positions, of which those of filters
            // f0 .. f0 + FB ≤ out_c are read. Both pointers advance one position per step.
            unsafe {
                let mut x = pad.as_ptr().add((oh + kh0) * wp + kw0);
                let (d0, step) = dy.row(oh, 0);
                let mut d = d0.add(f0);
                for _ in 0..out_w {
                    let xs: [v128; R] = core::array::from_fn(|r| v128_load(x.add(r * wp) as *const v128));
                    for f in 0..FB {
                        let dv = v128_load32_splat(d.add(f) as *const u32);
                        for (a, xv) in acc.iter_mut().zip(&xs) {
                            a[f] = madd(*xv, dv, a[f]);
                        }
                    }
                    x = x.add(1);
                    d = d.add(step);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            for (f, v) in a.iter().enumerate() {
                let mut lanes = [0.0f32; 4];
                // SAFETY: `lanes` holds 4 values.
                unsafe { v128_store(lanes.as_mut_ptr() as *mut v128, *v) };
                for (t, &l) in lanes.iter().enumerate() {
                    partial[((kh0 + r) * k_w + kw0 + t) * out_c + f0 + f] = l;
                }
            }
        }
    }

    /// Leftover columns per kernel row up to which [`kernel_grad`] takes them down the rows.
    /// It pays for LeNet-5's C1 (5×5: one column, five 1-tap passes become a 4-tap and a 1-tap
    /// pass) and costs the Fashion conv1 (7×7: three columns), which keeps its row passes
    /// (`npm run bench:kernels`; docs/performance.md).
    const COLUMN_REST_MAX: usize = 1;

    /// Taps `u0..u0+TB` of the kernel's columns from `first_col` on, numbered down the rows
    /// (row-major over rows × leftover columns), of filters `8g..8g+8`. Their input values are
    /// in different rows: one splat load each.
    #[inline(always)]
    fn grad_column_block<const TB: usize>(
        p: &Conv2dParams,
        pad: &[f32],
        dy: GradRows<'_>,
        partial: &mut [f32],
        g: usize,
        first_col: usize,
        u0: usize,
    ) {
        let (out_h, out_w, out_c, k_w) = (p.out_h(), p.out_w(), p.out_c, p.k_w);
        let (wp, rest) = (padded_w(p), k_w - first_col);
        let taps: [(usize, usize); TB] = core::array::from_fn(|t| ((u0 + t) / rest, first_col + (u0 + t) % rest));
        let offsets: [usize; TB] = core::array::from_fn(|t| taps[t].0 * wp + taps[t].1);
        assert!(pad.len() >= super::padded_h(p) * wp);
        assert!(taps[TB - 1].0 < p.k_h && partial.len() >= p.k_h * k_w * out_c);
        let valid = FILTERS.min(out_c - g * FILTERS);
        let mut acc = [[f32x4_splat(0.0); 2]; TB];
        for oh in 0..out_h {
            // SAFETY: for every position (oh, ow) and tap (kh, kw), row oh + kh < padded_h and
            // column ow + kw < padded_w (asserted above); `dy.row` gives 8 readable values at
            // each of the row's positions. Both pointers advance one position per step.
            unsafe {
                let mut x = pad.as_ptr().add(oh * wp);
                let (mut d, step) = dy.row(oh, g);
                for _ in 0..out_w {
                    let d0 = v128_load(d as *const v128);
                    let d1 = v128_load(d.add(4) as *const v128);
                    for (a, &off) in acc.iter_mut().zip(&offsets) {
                        let xv = v128_load32_splat(x.add(off) as *const u32);
                        a[0] = madd(xv, d0, a[0]);
                        a[1] = madd(xv, d1, a[1]);
                    }
                    x = x.add(1);
                    d = d.add(step);
                }
            }
        }
        for (a, &(kh, kw)) in acc.iter().zip(&taps) {
            store_filters(a, &mut partial[(kh * k_w + kw) * out_c + g * FILTERS..], valid);
        }
    }

    /// The first tap of a block: kernel row `kh`, columns from `kw0`.
    #[derive(Clone, Copy)]
    struct Taps {
        kh: usize,
        kw0: usize,
    }

    /// `db[f] += Σ_q dy[q, f]`, positions in order (the bias gradient as `conv.rs` defines it),
    /// eight filters at a time in registers.
    fn bias_grad(p: &Conv2dParams, dy: GradRows<'_>, db: &mut [f32]) {
        assert!(db.len() == p.out_c);
        for g in 0..p.out_c.div_ceil(FILTERS) {
            let valid = FILTERS.min(p.out_c - g * FILTERS);
            let db_g = &mut db[g * FILTERS..g * FILTERS + valid];
            let mut acc = [load_part(&db_g[..valid.min(4)]), load_part(&db_g[valid.min(4)..])];
            for oh in 0..p.out_h() {
                // SAFETY: `dy.row` gives 8 readable values at each of the row's positions.
                unsafe {
                    let (mut d, step) = dy.row(oh, g);
                    for _ in 0..p.out_w() {
                        acc[0] = f32x4_add(acc[0], v128_load(d as *const v128));
                        acc[1] = f32x4_add(acc[1], v128_load(d.add(4) as *const v128));
                        d = d.add(step);
                    }
                }
            }
            store_part(acc[0], &mut db_g[..valid.min(4)]);
            store_part(acc[1], &mut db_g[valid.min(4)..]);
        }
    }

    /// Up to 4 values into a vector, zeros after them.
    #[inline(always)]
    fn load_part(s: &[f32]) -> v128 {
        let at = |i: usize| if i < s.len() { s[i] } else { 0.0 };
        f32x4(at(0), at(1), at(2), at(3))
    }

    /// The first `d.len()` (at most 4) lanes of `v` into `d`.
    #[inline(always)]
    fn store_part(v: v128, d: &mut [f32]) {
        let lanes = [
            f32x4_extract_lane::<0>(v),
            f32x4_extract_lane::<1>(v),
            f32x4_extract_lane::<2>(v),
            f32x4_extract_lane::<3>(v),
        ];
        for (x, &l) in d.iter_mut().zip(&lanes) {
            *x = l;
        }
    }

    /// Copies a position's gradient (out_c values) into 8-lane groups, zeros after it.
    #[inline(always)]
    pub fn copy_padded(s: &[f32], d: &mut [f32]) {
        let full = s.len() / 4 * 4;
        for j in (0..full).step_by(4) {
            F4::load(&s[j..]).store(&mut d[j..]);
        }
        let rest = &s[full..];
        // SAFETY: `rest` holds 1–3 values (none when full covers s); the loads read only those.
        let v = unsafe {
            match rest.len() {
                0 => f32x4_splat(0.0),
                1 => v128_load32_zero(rest.as_ptr() as *const u32),
                2 => v128_load64_zero(rest.as_ptr() as *const u64),
                _ => f32x4_replace_lane::<2>(v128_load64_zero(rest.as_ptr() as *const u64), rest[2]),
            }
        };
        // SAFETY: d holds a multiple of 8 values past `full` (at least 4 from `full` on).
        unsafe { v128_store(d[full..].as_mut_ptr() as *mut v128, v) };
        for j in (full + 4..d.len()).step_by(4) {
            // SAFETY: as above; d's length is a multiple of 4.
            unsafe { v128_store(d[j..].as_mut_ptr() as *mut v128, f32x4_splat(0.0)) };
        }
    }

    /// Taps (kh, kw0..kw0+TB) of filters `8g..8g+8`.
    #[inline(always)]
    fn grad_block<const TB: usize>(
        p: &Conv2dParams,
        pad: &[f32],
        dy: GradRows<'_>,
        partial: &mut [f32],
        g: usize,
        at: Taps,
    ) {
        let (out_h, out_w, out_c, k_w) = (p.out_h(), p.out_w(), p.out_c, p.k_w);
        let wp = padded_w(p);
        let Taps { kh, kw0 } = at;
        assert!(pad.len() >= super::padded_h(p) * wp);
        assert!(kh < p.k_h && kw0 + TB <= k_w && partial.len() >= p.k_h * k_w * out_c);
        let valid = FILTERS.min(out_c - g * FILTERS);
        let mut acc = [[f32x4_splat(0.0); 2]; TB];
        for oh in 0..out_h {
            // SAFETY: for every position (oh, ow), row oh + kh < padded_h and columns
            // ow + kw0 .. ow + kw0 + TB ≤ padded_w, so the reads stay in the padded image;
            // `dy.row` gives 8 readable values at each of the row's positions. Both pointers
            // advance one position per step.
            unsafe {
                let mut x = pad.as_ptr().add((oh + kh) * wp + kw0);
                let (mut d, step) = dy.row(oh, g);
                for _ in 0..out_w {
                    let d0 = v128_load(d as *const v128);
                    let d1 = v128_load(d.add(4) as *const v128);
                    // The block's input values side by side, each splat by a shuffle (TB ≤ BLOCK = 4).
                    let xs = v128_load(x as *const v128);
                    for (t, a) in acc.iter_mut().enumerate() {
                        let xv = match t {
                            0 => i32x4_shuffle::<0, 0, 0, 0>(xs, xs),
                            1 => i32x4_shuffle::<1, 1, 1, 1>(xs, xs),
                            2 => i32x4_shuffle::<2, 2, 2, 2>(xs, xs),
                            _ => i32x4_shuffle::<3, 3, 3, 3>(xs, xs),
                        };
                        a[0] = madd(xv, d0, a[0]);
                        a[1] = madd(xv, d1, a[1]);
                    }
                    x = x.add(1);
                    d = d.add(step);
                }
            }
        }
        for (t, a) in acc.iter().enumerate() {
            store_filters(a, &mut partial[(kh * k_w + kw0 + t) * out_c + g * FILTERS..], valid);
        }
    }

    /// Writes the first `valid` of a tap's 8 filter sums to `row`.
    #[inline(always)]
    fn store_filters(acc: &[v128; 2], row: &mut [f32], valid: usize) {
        let mut lanes = [0.0f32; FILTERS];
        // SAFETY: `lanes` holds 8 values.
        unsafe {
            v128_store(lanes.as_mut_ptr() as *mut v128, acc[0]);
            v128_store(lanes.as_mut_ptr().add(4) as *mut v128, acc[1]);
        }
        row[..valid].copy_from_slice(&lanes[..valid]);
    }
}

/// One image's forward pass; `scratch` at least [`forward_scratch_len`].
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub fn forward(p: &Conv2dParams, image: &[f32], w: &[f32], b: &[f32], y: &mut [f32], scratch: &mut [f32]) {
    pad_image(p, image, scratch);
    simd::forward(p, scratch, w, b, y);
}

/// One image's kernel gradient (overwrites `partial`, `k_h·k_w·out_c`); `scratch` at least
/// [`kernel_grad_scratch_len`].
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub fn kernel_grad(
    p: &Conv2dParams,
    image: &[f32],
    dy: &[f32],
    partial: &mut [f32],
    db: &mut [f32],
    scratch: &mut [f32],
) {
    let (pad, rest) = scratch.split_at_mut(forward_scratch_len(p));
    pad_image(p, image, pad);
    simd::kernel_grad(p, pad, GradRows::new(p, dy, rest), partial, db);
}

// Without simd128 `applies` is false and these are never called.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub fn forward(_: &Conv2dParams, _: &[f32], _: &[f32], _: &[f32], _: &mut [f32], _: &mut [f32]) {
    unreachable!("conv_direct::forward needs simd128")
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub fn kernel_grad(_: &Conv2dParams, _: &[f32], _: &[f32], _: &mut [f32], _: &mut [f32], _: &mut [f32]) {
    unreachable!("conv_direct::kernel_grad needs simd128")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::conv::Padding;

    kernel_test!(
        fn gradient_rows_read_in_place_stay_inside_the_gradient() {
            // Every row before direct_rows may be read 8 filters at a time from each position's
            // pass start; the next row may not (or there is none).
            for out_c in 1..20 {
                for (h, w, k) in [(32, 32, 5), (28, 28, 7), (6, 6, 1), (5, 13, 3), (3, 1, 1), (1, 2, 2), (9, 4, 4)] {
                    let p = Conv2dParams {
                        batch: 1,
                        in_h: h,
                        in_w: w,
                        in_c: 1,
                        out_c,
                        k_h: k,
                        k_w: k,
                        stride_h: 1,
                        stride_w: 1,
                        padding: Padding::Valid,
                    };
                    let (len, oc8) = (p.positions() * out_c, out_c.div_ceil(FILTERS) * FILTERS);
                    let end_of_rows = |r: usize| (r * p.out_w()).checked_sub(1).map(|q| q * out_c + oc8);
                    let r = direct_rows(&p);
                    assert!(end_of_rows(r).is_none_or(|end| end <= len), "{p:?}: {r} rows");
                    assert!(r == p.out_h() || end_of_rows(r + 1).is_some_and(|end| end > len), "{p:?}: {r} rows");
                    if out_c % FILTERS == 0 {
                        assert_eq!(r, p.out_h());
                    }
                }
            }
        }
    );
}
