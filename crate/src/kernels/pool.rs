//! Pooling over NHWC images: max pool (with argmax routing for backward), average pool, and
//! LeNet-5's trainable sum-subsampling (`coef[c]·Σwindow + bias[c]`).
//!
//! Windows follow Keras: `valid` drops windows that do not fit, `same` pads as TensorFlow does;
//! padded cells are never the maximum and do not count in an average. Within a window, cells are
//! visited in row-major order; max pooling keeps the first maximum, as TensorFlow does.
//!
//! The fast kernels work on four channels at once ([`F4`]); channels are independent and each
//! lane does exactly the scalar reference's operations, so the two agree bit for bit. The
//! backward passes scatter into the input gradient in output order; wasm has no scatter
//! instruction, so their SIMD and scalar forms are the same code.

use super::conv::{output_extent, Padding};
use super::lanes::{groups_of_4, load_upto, store_upto, Lanes, F4};

/// The shape of one pooling layer applied to a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dParams {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub channels: usize,
    pub pool_h: usize,
    pub pool_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub padding: Padding,
}

/// One output cell's window, clipped to the image: rows `h0..h1`, columns `w0..w1`.
#[derive(Clone, Copy)]
struct Window {
    h0: usize,
    h1: usize,
    w0: usize,
    w1: usize,
}

impl Window {
    fn cells(&self) -> usize {
        (self.h1 - self.h0) * (self.w1 - self.w0)
    }
}

impl Pool2dParams {
    pub fn out_h(&self) -> usize {
        output_extent(self.in_h, self.pool_h, self.stride_h, self.padding).0
    }

    pub fn out_w(&self) -> usize {
        output_extent(self.in_w, self.pool_w, self.stride_w, self.padding).0
    }

    pub fn x_len(&self) -> usize {
        self.batch * self.in_h * self.in_w * self.channels
    }

    pub fn y_len(&self) -> usize {
        self.batch * self.out_h() * self.out_w() * self.channels
    }

    fn image_len(&self) -> usize {
        self.in_h * self.in_w * self.channels
    }

    /// Checks that the configuration is usable: no zero sizes, a non-empty output.
    pub fn validate(&self) -> Result<(), String> {
        let named = [
            ("batch", self.batch),
            ("input height", self.in_h),
            ("input width", self.in_w),
            ("channels", self.channels),
            ("pool height", self.pool_h),
            ("pool width", self.pool_w),
            ("stride height", self.stride_h),
            ("stride width", self.stride_w),
        ];
        if let Some((name, _)) = named.iter().find(|(_, v)| *v == 0) {
            return Err(format!("pool2d: {name} must be at least 1"));
        }
        if self.out_h() == 0 || self.out_w() == 0 {
            return Err(format!(
                "pool2d: a {}×{} pool with 'valid' padding does not fit a {}×{} input",
                self.pool_h, self.pool_w, self.in_h, self.in_w
            ));
        }
        Ok(())
    }

    fn check(&self, kernel: &str, x: usize, y: usize) {
        self.validate().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(x, self.x_len(), "{kernel}: x has {x} values, expected batch·h·w·c = {}", self.x_len());
        assert_eq!(y, self.y_len(), "{kernel}: y has {y} values, expected batch·out_h·out_w·c = {}", self.y_len());
    }

    /// The top and left padding: what a window's first row and column are offset by.
    fn pads(&self) -> (usize, usize) {
        let pad_t = output_extent(self.in_h, self.pool_h, self.stride_h, self.padding).1;
        let pad_l = output_extent(self.in_w, self.pool_w, self.stride_w, self.padding).1;
        (pad_t, pad_l)
    }

    fn window(&self, oh: usize, ow: usize) -> Window {
        self.window_padded(oh, ow, self.pads())
    }

    #[inline(always)]
    fn window_padded(&self, oh: usize, ow: usize, (pad_t, pad_l): (usize, usize)) -> Window {
        let clip = |start: usize, pad: usize, size: usize, limit: usize| {
            let lo = start.saturating_sub(pad);
            let hi = (start + size).saturating_sub(pad).min(limit);
            (lo, hi)
        };
        let (h0, h1) = clip(oh * self.stride_h, pad_t, self.pool_h, self.in_h);
        let (w0, w1) = clip(ow * self.stride_w, pad_l, self.pool_w, self.in_w);
        Window { h0, h1, w0, w1 }
    }

    /// Calls `f(window, output offset, image offset)` for every output cell, in order.
    #[inline(always)]
    fn for_each_window(&self, mut f: impl FnMut(Window, usize, usize)) {
        let c = self.channels;
        // The padding and the output extents once, not per window.
        let (pads, out_h, out_w) = (self.pads(), self.out_h(), self.out_w());
        let mut out = 0;
        for n in 0..self.batch {
            for oh in 0..out_h {
                for ow in 0..out_w {
                    f(self.window_padded(oh, ow, pads), out, n * self.image_len());
                    out += c;
                }
            }
        }
    }
}

/// Max pooling. `argmax[i]` receives the index into `x` of the cell that `y[i]` came from.
///
/// # Shapes
/// `x`: batch·in_h·in_w·c, `y` and `argmax`: batch·out_h·out_w·c.
pub fn max_pool_forward(p: &Pool2dParams, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
    p.check("max_pool_forward", x.len(), y.len());
    assert_eq!(argmax.len(), y.len(), "max_pool_forward: argmax must be as long as y");
    let (c, w) = (p.channels, p.in_w);
    // Groups of four channels in F4 lanes; when 4 does not divide c, the last group overlaps the
    // one before it (LeNet-5's 6 maps: channels 0–3, then 2–5), and fewer than 4 channels go one
    // by one. Each lane makes the reference's comparisons in the reference's order, so a channel
    // done twice gets the same bits twice. The indices ride in lanes as bit patterns, which
    // selects move without touching.
    let mut groups: Vec<usize> = (0..c / 4).map(|g| 4 * g).collect();
    if c > 4 && c % 4 != 0 {
        groups.push(c - 4);
    }
    let single = if c < 4 { 0..c } else { 0..0 };
    p.for_each_window(|win, out, img| {
        let first = img + (win.h0 * w + win.w0) * c;
        if win.h1 - win.h0 == 2 && win.w1 - win.w0 == 2 {
            // The common 2×2 window unrolled: the same comparisons in the same order, less the
            // first cell's with itself, which never changes anything.
            for &ch in &groups {
                let cells = [first + ch, first + c + ch, first + w * c + ch, first + (w + 1) * c + ch];
                let mut best = F4::load(&x[cells[0]..]);
                let mut index = F4::indices(cells[0] as u32);
                for &i in &cells[1..] {
                    keep_max(x, i, &mut best, &mut index);
                }
                best.store(&mut y[out + ch..]);
                index.store_bits(&mut argmax[out + ch..]);
            }
        } else {
            for &ch in &groups {
                let mut best = F4::load(&x[first + ch..]);
                let mut index = F4::indices((first + ch) as u32);
                for h in win.h0..win.h1 {
                    let row = img + h * w * c + ch;
                    for ww in win.w0..win.w1 {
                        keep_max(x, row + ww * c, &mut best, &mut index);
                    }
                }
                best.store(&mut y[out + ch..]);
                index.store_bits(&mut argmax[out + ch..]);
            }
        }
        for ch in single.clone() {
            let (mut best, mut index) = (x[first + ch], first + ch);
            for h in win.h0..win.h1 {
                for ww in win.w0..win.w1 {
                    let i = img + (h * w + ww) * c + ch;
                    if x[i] > best {
                        best = x[i];
                        index = i;
                    }
                }
            }
            y[out + ch] = best;
            argmax[out + ch] = index as u32;
        }
    });
}

/// One cell of a max-pooling window, four channels from `x[i]`: where it is greater than `best`,
/// it becomes the best and `i` (as index bits) its index; ties keep the earlier cell.
#[inline(always)]
fn keep_max(x: &[f32], i: usize, best: &mut F4, index: &mut F4) {
    let v = F4::load(&x[i..]);
    *index = v.gt_select(*best, F4::indices(i as u32), *index);
    *best = v.gt_select(*best, v, *best);
}

/// Routes each `dy[i]` to `dx[argmax[i]]`, overwriting `dx`.
pub fn max_pool_backward(p: &Pool2dParams, dy: &[f32], argmax: &[u32], dx: &mut [f32]) {
    p.check("max_pool_backward", dx.len(), dy.len());
    assert_eq!(argmax.len(), dy.len(), "max_pool_backward: argmax must be as long as dy");
    dx.fill(0.0);
    for (&g, &i) in dy.iter().zip(argmax) {
        dx[i as usize] += g;
    }
}

/// One window's sum for channels `r` (at most four), cells in row-major order; the average and
/// subsampling layers share it.
#[inline(always)]
fn window_sum(p: &Pool2dParams, x: &[f32], win: Window, img: usize, r: core::ops::Range<usize>) -> F4 {
    let c = p.channels;
    let mut acc = F4::splat(0.0);
    for h in win.h0..win.h1 {
        for w in win.w0..win.w1 {
            let i = img + (h * p.in_w + w) * c + r.start;
            acc = acc.add(load_upto(&x[i..i + r.len()], 0.0));
        }
    }
    acc
}

/// Average pooling: each output is its window's sum over the cells inside the image, divided by
/// their count.
pub fn avg_pool_forward(p: &Pool2dParams, x: &[f32], y: &mut [f32]) {
    p.check("avg_pool_forward", x.len(), y.len());
    p.for_each_window(|win, out, img| {
        let count = F4::splat(win.cells() as f32);
        for r in groups_of_4(p.channels) {
            let s = window_sum(p, x, win, img, r.clone());
            store_upto(s.div(count), &mut y[out + r.start..out + r.end]);
        }
    });
}

/// Spreads `dy / count` over each window, in output order, overwriting `dx`.
pub fn avg_pool_backward(p: &Pool2dParams, dy: &[f32], dx: &mut [f32]) {
    p.check("avg_pool_backward", dx.len(), dy.len());
    dx.fill(0.0);
    let c = p.channels;
    p.for_each_window(|win, out, img| {
        let count = F4::splat(win.cells() as f32);
        for r in groups_of_4(c) {
            let g = load_upto(&dy[out + r.start..out + r.end], 0.0).div(count);
            scatter_add(p, dx, win, img, r, g);
        }
    });
}

#[inline(always)]
fn scatter_add(p: &Pool2dParams, dx: &mut [f32], win: Window, img: usize, r: core::ops::Range<usize>, g: F4) {
    for h in win.h0..win.h1 {
        for w in win.w0..win.w1 {
            let i = img + (h * p.in_w + w) * p.channels + r.start;
            let d = &mut dx[i..i + r.len()];
            store_upto(load_upto(d, 0.0).add(g), d);
        }
    }
}

/// LeNet-5's subsampling: `y = coef[c]·Σwindow + bias[c]` (a sum, not a mean).
///
/// # Shapes
/// `coef` and `bias`: channels.
pub fn subsample_forward(p: &Pool2dParams, x: &[f32], coef: &[f32], bias: &[f32], y: &mut [f32]) {
    p.check("subsample_forward", x.len(), y.len());
    assert!(
        coef.len() == p.channels && bias.len() == p.channels,
        "subsample_forward: coef and bias need one value per channel"
    );
    p.for_each_window(|win, out, img| {
        for r in groups_of_4(p.channels) {
            let s = window_sum(p, x, win, img, r.clone());
            let v = load_upto(&coef[r.clone()], 0.0).mul(s).add(load_upto(&bias[r.clone()], 0.0));
            store_upto(v, &mut y[out + r.start..out + r.end]);
        }
    });
}

/// The gradients [`subsample_backward`] overwrites.
pub struct SubsampleGrads<'a> {
    pub dx: &'a mut [f32],
    pub dcoef: &'a mut [f32],
    pub dbias: &'a mut [f32],
}

/// Gradients of [`subsample_forward`]: `dcoef[c] = Σ dy·Σwindow`, `dbias[c] = Σ dy`, and
/// `dy·coef[c]` spread over each window. Sums run in output order.
pub fn subsample_backward(p: &Pool2dParams, x: &[f32], coef: &[f32], dy: &[f32], g: SubsampleGrads<'_>) {
    subsample_backward_impl::<false>(p, x, coef, dy, g);
}

/// The Gauss–Newton curvature of [`subsample_forward`] for LeNet-5's SDLM: given `d2y`, the
/// diagonal second derivatives of the loss with respect to the outputs, writes
/// `dx = coef[c]²·d2y` spread over each window, `dcoef[c] = Σ d2y·(Σwindow)²` and
/// `dbias[c] = Σ d2y`.
pub fn subsample_curvature(p: &Pool2dParams, x: &[f32], coef: &[f32], d2y: &[f32], g: SubsampleGrads<'_>) {
    subsample_backward_impl::<true>(p, x, coef, d2y, g);
}

fn subsample_backward_impl<const SQUARE: bool>(
    p: &Pool2dParams,
    x: &[f32],
    coef: &[f32],
    dy: &[f32],
    g: SubsampleGrads<'_>,
) {
    p.check("subsample_backward", x.len(), dy.len());
    assert!(g.dcoef.len() == p.channels && g.dbias.len() == p.channels, "subsample_backward: one value per channel");
    g.dx.fill(0.0);
    g.dcoef.fill(0.0);
    g.dbias.fill(0.0);
    p.for_each_window(|win, out, img| {
        for r in groups_of_4(p.channels) {
            let d = load_upto(&dy[out + r.start..out + r.end], 0.0);
            let mut s = window_sum(p, x, win, img, r.clone());
            let mut k = load_upto(&coef[r.clone()], 0.0);
            if SQUARE {
                s = s.mul(s);
                k = k.mul(k);
            }
            let dc = &mut g.dcoef[r.clone()];
            store_upto(load_upto(dc, 0.0).add(d.mul(s)), dc);
            let db = &mut g.dbias[r.clone()];
            store_upto(load_upto(db, 0.0).add(d), db);
            scatter_add(p, g.dx, win, img, r.clone(), d.mul(k));
        }
    });
}

/// The reference: one channel at a time, direct loops.
pub mod scalar {
    use super::{Pool2dParams, SubsampleGrads};

    fn each(p: &Pool2dParams, mut f: impl FnMut(usize, [usize; 4], usize, usize)) {
        let img_len = p.in_h * p.in_w * p.channels;
        let mut out = 0;
        for n in 0..p.batch {
            for oh in 0..p.out_h() {
                for ow in 0..p.out_w() {
                    let win = p.window(oh, ow);
                    for c in 0..p.channels {
                        f(n * img_len + c, [win.h0, win.h1, win.w0, win.w1], out, c);
                        out += 1;
                    }
                }
            }
        }
    }

    fn cells(p: &Pool2dParams, base: usize, win: [usize; 4]) -> impl Iterator<Item = usize> + '_ {
        let [h0, h1, w0, w1] = win;
        (h0..h1).flat_map(move |h| (w0..w1).map(move |w| base + (h * p.in_w + w) * p.channels))
    }

    /// See [`super::max_pool_forward`].
    pub fn max_pool_forward(p: &Pool2dParams, x: &[f32], y: &mut [f32], argmax: &mut [u32]) {
        each(p, |base, win, out, _| {
            let mut it = cells(p, base, win);
            let first = it.next().expect("a window has at least one cell");
            let (mut best, mut at) = (x[first], first);
            for i in it {
                if x[i] > best {
                    best = x[i];
                    at = i;
                }
            }
            y[out] = best;
            argmax[out] = at as u32;
        });
    }

    /// See [`super::avg_pool_forward`].
    pub fn avg_pool_forward(p: &Pool2dParams, x: &[f32], y: &mut [f32]) {
        each(p, |base, win, out, _| {
            let (mut sum, mut count) = (0.0f32, 0usize);
            for i in cells(p, base, win) {
                sum += x[i];
                count += 1;
            }
            y[out] = sum / count as f32;
        });
    }

    /// See [`super::avg_pool_backward`].
    pub fn avg_pool_backward(p: &Pool2dParams, dy: &[f32], dx: &mut [f32]) {
        dx.fill(0.0);
        each(p, |base, win, out, _| {
            let g = dy[out] / cells(p, base, win).count() as f32;
            for i in cells(p, base, win) {
                dx[i] += g;
            }
        });
    }

    /// See [`super::subsample_forward`].
    pub fn subsample_forward(p: &Pool2dParams, x: &[f32], coef: &[f32], bias: &[f32], y: &mut [f32]) {
        each(p, |base, win, out, c| {
            let mut sum = 0.0f32;
            for i in cells(p, base, win) {
                sum += x[i];
            }
            y[out] = coef[c] * sum + bias[c];
        });
    }

    /// See [`super::subsample_backward`].
    pub fn subsample_backward(p: &Pool2dParams, x: &[f32], coef: &[f32], dy: &[f32], g: SubsampleGrads<'_>) {
        backward::<false>(p, x, coef, dy, g);
    }

    /// See [`super::subsample_curvature`].
    pub fn subsample_curvature(p: &Pool2dParams, x: &[f32], coef: &[f32], d2y: &[f32], g: SubsampleGrads<'_>) {
        backward::<true>(p, x, coef, d2y, g);
    }

    fn backward<const SQUARE: bool>(p: &Pool2dParams, x: &[f32], coef: &[f32], dy: &[f32], g: SubsampleGrads<'_>) {
        g.dx.fill(0.0);
        g.dcoef.fill(0.0);
        g.dbias.fill(0.0);
        each(p, |base, win, out, c| {
            let mut sum = 0.0f32;
            for i in cells(p, base, win) {
                sum += x[i];
            }
            let (s, k) = if SQUARE { (sum * sum, coef[c] * coef[c]) } else { (sum, coef[c]) };
            g.dcoef[c] += dy[out] * s;
            g.dbias[c] += dy[out];
            let spread = dy[out] * k;
            for i in cells(p, base, win) {
                g.dx[i] += spread;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    #[allow(clippy::too_many_arguments)]
    fn params(batch: usize, h: usize, w: usize, c: usize, k: usize, s: usize, padding: Padding) -> Pool2dParams {
        Pool2dParams { batch, in_h: h, in_w: w, channels: c, pool_h: k, pool_w: k, stride_h: s, stride_w: s, padding }
    }

    fn cases() -> Vec<Pool2dParams> {
        vec![
            params(2, 28, 28, 6, 2, 2, Padding::Valid),
            params(1, 7, 7, 5, 2, 2, Padding::Valid),
            params(2, 7, 7, 3, 2, 2, Padding::Same),
            params(1, 9, 8, 1, 3, 2, Padding::Same),
            params(2, 6, 5, 9, 3, 1, Padding::Valid),
            params(1, 5, 5, 4, 3, 3, Padding::Same),
            params(2, 10, 10, 16, 2, 2, Padding::Valid),
        ]
    }

    kernel_test!(
        fn fast_matches_scalar() {
            let mut rng = test_rng(41);
            for p in cases() {
                let mut x = random_vec(&mut rng, p.x_len());
                // Ties: max pooling must keep the first maximum, as the reference does.
                for v in x.iter_mut().step_by(3) {
                    *v = 0.25;
                }
                let dy = random_vec(&mut rng, p.y_len());
                let coef = random_vec(&mut rng, p.channels);
                let bias = random_vec(&mut rng, p.channels);
                let (mut y1, mut y2) = (vec![f32::NAN; p.y_len()], vec![f32::NAN; p.y_len()]);
                let (mut a1, mut a2) = (vec![0u32; p.y_len()], vec![0u32; p.y_len()]);
                scalar::max_pool_forward(&p, &x, &mut y1, &mut a1);
                max_pool_forward(&p, &x, &mut y2, &mut a2);
                assert_bits_eq(&y2, &y1, &format!("max {p:?}"));
                assert_eq!(a2, a1, "argmax {p:?}");

                scalar::avg_pool_forward(&p, &x, &mut y1);
                avg_pool_forward(&p, &x, &mut y2);
                assert_bits_eq(&y2, &y1, &format!("avg {p:?}"));
                let (mut d1, mut d2) = (vec![f32::NAN; p.x_len()], vec![f32::NAN; p.x_len()]);
                scalar::avg_pool_backward(&p, &dy, &mut d1);
                avg_pool_backward(&p, &dy, &mut d2);
                assert_bits_eq(&d2, &d1, &format!("avg backward {p:?}"));

                scalar::subsample_forward(&p, &x, &coef, &bias, &mut y1);
                subsample_forward(&p, &x, &coef, &bias, &mut y2);
                assert_bits_eq(&y2, &y1, &format!("subsample {p:?}"));
                let c = p.channels;
                let mut g1 = (vec![f32::NAN; p.x_len()], vec![f32::NAN; c], vec![f32::NAN; c]);
                let mut g2 = (vec![f32::NAN; p.x_len()], vec![f32::NAN; c], vec![f32::NAN; c]);
                scalar::subsample_backward(
                    &p,
                    &x,
                    &coef,
                    &dy,
                    SubsampleGrads { dx: &mut g1.0, dcoef: &mut g1.1, dbias: &mut g1.2 },
                );
                subsample_backward(
                    &p,
                    &x,
                    &coef,
                    &dy,
                    SubsampleGrads { dx: &mut g2.0, dcoef: &mut g2.1, dbias: &mut g2.2 },
                );
                assert_bits_eq(&g2.0, &g1.0, "subsample dx");
                assert_bits_eq(&g2.1, &g1.1, "subsample dcoef");
                assert_bits_eq(&g2.2, &g1.2, "subsample dbias");

                // The curvature form, against the scalar form and against its definition.
                let d2y: Vec<f32> = dy.iter().map(|v| v.abs()).collect();
                scalar::subsample_curvature(
                    &p,
                    &x,
                    &coef,
                    &d2y,
                    SubsampleGrads { dx: &mut g1.0, dcoef: &mut g1.1, dbias: &mut g1.2 },
                );
                subsample_curvature(
                    &p,
                    &x,
                    &coef,
                    &d2y,
                    SubsampleGrads { dx: &mut g2.0, dcoef: &mut g2.1, dbias: &mut g2.2 },
                );
                assert_bits_eq(&g2.0, &g1.0, "subsample curvature dx");
                assert_bits_eq(&g2.1, &g1.1, "subsample curvature dcoef");
                assert_bits_eq(&g2.2, &g1.2, "subsample curvature dbias");
                // dcoef = Σ d2y·(window sum)², with window sums from the forward pass at coef 1, bias 0.
                let mut sums = vec![0.0; p.y_len()];
                subsample_forward(&p, &x, &vec![1.0; c], &vec![0.0; c], &mut sums);
                for ch in 0..c {
                    let want: f64 = (ch..p.y_len()).step_by(c).map(|i| d2y[i] as f64 * (sums[i] as f64).powi(2)).sum();
                    assert!((g2.1[ch] as f64 - want).abs() <= 1e-4 * want.abs().max(1.0), "curvature dcoef[{ch}]");
                }
            }
        }
    );

    kernel_test!(
        fn max_pool_routes_to_the_first_maximum() {
            // One 2×2 window holding [3, 5; 5, 1]: the first 5 (index 1) gets the gradient.
            let p = params(1, 2, 2, 1, 2, 2, Padding::Valid);
            let (mut y, mut arg) = ([0.0], [0u32]);
            max_pool_forward(&p, &[3.0, 5.0, 5.0, 1.0], &mut y, &mut arg);
            assert_eq!((y[0], arg[0]), (5.0, 1));
            let mut dx = [9.0; 4];
            max_pool_backward(&p, &[2.0], &arg, &mut dx);
            assert_eq!(dx, [0.0, 2.0, 0.0, 0.0]);
        }
    );

    kernel_test!(
        fn same_padding_averages_only_cells_inside() {
            // 3×3 input, 2×2 pool, stride 2, same: the right and bottom windows are partial.
            let p = params(1, 3, 3, 1, 2, 2, Padding::Same);
            let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
            let mut y = [0.0; 4];
            avg_pool_forward(&p, &x, &mut y);
            assert_eq!(y, [3.0, 4.5, 7.5, 9.0]);
        }
    );

    kernel_test!(
        fn gradients_match_finite_differences() {
            let mut rng = test_rng(42);
            for p in [params(2, 6, 6, 3, 2, 2, Padding::Valid), params(1, 5, 5, 2, 2, 2, Padding::Same)] {
                let x = random_vec(&mut rng, p.x_len());
                let dy = random_vec(&mut rng, p.y_len());
                let coef = random_vec(&mut rng, p.channels);
                let bias = random_vec(&mut rng, p.channels);
                let dot = |y: &[f32]| -> f64 { y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64).sum() };

                // Max pool: distinct values, so a small step never changes which cell wins.
                let xs: Vec<f32> = (0..p.x_len()).map(|i| ((i * 7919) % 1009) as f32 * 0.1).collect();
                let (mut y, mut arg) = (vec![0.0; p.y_len()], vec![0u32; p.y_len()]);
                max_pool_forward(&p, &xs, &mut y, &mut arg);
                let mut dx = vec![0.0; p.x_len()];
                max_pool_backward(&p, &dy, &arg, &mut dx);
                check_gradient("max dx", &mut xs.clone(), &dx, 80, |v| {
                    let (mut y, mut a) = (vec![0.0; p.y_len()], vec![0u32; p.y_len()]);
                    max_pool_forward(&p, v, &mut y, &mut a);
                    dot(&y)
                });

                avg_pool_backward(&p, &dy, &mut dx);
                check_gradient("avg dx", &mut x.clone(), &dx, 80, |v| {
                    let mut y = vec![0.0; p.y_len()];
                    avg_pool_forward(&p, v, &mut y);
                    dot(&y)
                });

                let c = p.channels;
                let (mut dcoef, mut dbias) = (vec![0.0; c], vec![0.0; c]);
                subsample_backward(
                    &p,
                    &x,
                    &coef,
                    &dy,
                    SubsampleGrads { dx: &mut dx, dcoef: &mut dcoef, dbias: &mut dbias },
                );
                let loss = |x: &[f32], coef: &[f32], bias: &[f32]| {
                    let mut y = vec![0.0; p.y_len()];
                    subsample_forward(&p, x, coef, bias, &mut y);
                    dot(&y)
                };
                check_gradient("subsample dx", &mut x.clone(), &dx, 80, |v| loss(v, &coef, &bias));
                check_gradient("subsample dcoef", &mut coef.clone(), &dcoef, 80, |v| loss(&x, v, &bias));
                check_gradient("subsample dbias", &mut bias.clone(), &dbias, 80, |v| loss(&x, &coef, v));
            }
        }
    );
}
