//! 2-D convolution (Keras's Conv2D): forward, input gradient, kernel gradient, bias gradient.
//!
//! Layouts follow Keras: images are NHWC, the kernel is HWIO (`[kh, kw, in_c, out_c]`), the
//! bias is `[out_c]`. `same` padding splits the total as TensorFlow does (the extra row or
//! column goes at the bottom or right).
//!
//! This module is the dispatcher. Each convolution runs one algorithm, chosen once from its
//! geometry by its [`ConvPlan`]: Winograd ([`winograd`]), direct kernels for one input channel
//! ([`direct`]), or the GEMM path ([`im2col`]: patch rows times the packed kernel; the gradients
//! a GEMM plus a fixed-order scatter). [`params`] holds the geometry they all share and imports
//! none of them; the algorithms do not import each other. The scalar reference in [`scalar`]
//! writes the same sums as direct loops, in the same order:
//! - `y[n,p,f] = (Σ_{kh,kw,c} x·w) + b[f]`, terms in (kh, kw, c) order, padding skipped;
//! - `dW[k,f] = Σ_n (Σ_p cols[p,k]·dy[p,f])`, one partial sum per image, added in image order;
//! - `dx` gathers, for every output position p in order, `Σ_f dy[p,f]·W[k,f]` into its inputs;
//! - `db[f] = Σ_n Σ_p dy[n,p,f]`.
//!
//! so the two agree bit for bit. Skipped padding terms would only add exact zeros.
//!
//! A [`ConnectionTable`] (LeNet-5's C3, in [`table`]) restricts which input maps each output map
//! reads; its kernel expands into a dense one with zeros, which these kernels run exactly.

pub mod direct;
mod im2col;
pub mod params;
pub mod plan;
pub mod table;
pub mod winograd;

pub use params::{output_extent, Conv2dGrads, Conv2dParams, Padding};
pub use plan::{ConvAlgo, ConvPlan};
pub use table::ConnectionTable;

use crate::kernels::check_len;
use crate::kernels::gemm::{gemm_accumulate, gemm_packed, pack_b, pack_b_transposed, GemmParams};
use crate::kernels::lanes::copy;
use params::{add_bias_grad, fail, given_or_packed};

/// `y = conv(x, w) + b`.
///
/// # Shapes
/// See [`Conv2dParams::check`]; `scratch`: at least [`Conv2dParams::forward_scratch_len`].
pub fn conv2d_forward(p: &Conv2dParams, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32], scratch: &mut [f32]) {
    let plan = ConvPlan::new(*p);
    p.validate().unwrap_or_else(|e| fail(e));
    p.check("conv2d_forward", x.len(), w.len(), b.len(), y.len()).unwrap_or_else(|e| fail(e));
    assert!(scratch.len() >= plan.forward_scratch_len(), "conv2d_forward: scratch too small");
    let (packed_w, rest) = scratch.split_at_mut(plan.packed_w_len());
    plan.pack_weights(w, packed_w);
    plan.forward_packed(x, packed_w, b, y, rest);
}

/// Packs a kernel for [`conv2d_forward_packed`]: pack once, run many batches (inference).
///
/// # Shapes
/// `w`: k_h·k_w·in_c·out_c; `packed`: at least [`Conv2dParams::packed_w_len`].
pub fn conv2d_pack_weights(p: &Conv2dParams, w: &[f32], packed: &mut [f32]) {
    ConvPlan::new(*p).pack_weights(w, packed)
}

/// [`conv2d_forward`] with a kernel already packed by [`conv2d_pack_weights`]; the same bits.
///
/// # Shapes
/// As [`conv2d_forward`]; `scratch`: at least [`Conv2dParams::forward_packed_scratch_len`].
pub fn conv2d_forward_packed(
    p: &Conv2dParams,
    x: &[f32],
    packed_w: &[f32],
    b: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
) {
    ConvPlan::new(*p).forward_packed(x, packed_w, b, y, scratch)
}

/// The length of the kernel packed by [`conv2d_pack_weights_t`].
pub fn conv2d_packed_w_t_len(p: &Conv2dParams) -> usize {
    ConvPlan::new(*p).packed_w_t_len()
}

/// Packs `Wᵀ` for the input gradient of [`conv2d_backward_packed`]: pack once per weight
/// update, run many (micro-)batches.
pub fn conv2d_pack_weights_t(p: &Conv2dParams, w: &[f32], packed_t: &mut [f32]) {
    ConvPlan::new(*p).pack_weights_t(w, packed_t)
}

/// Overwrites `grads` with the gradients of [`conv2d_forward`] for the upstream gradient `dy`.
///
/// # Shapes
/// `dy` is shaped like `y`; `scratch`: at least [`Conv2dParams::backward_scratch_len`].
pub fn conv2d_backward(
    p: &Conv2dParams,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    grads: Conv2dGrads<'_>,
    scratch: &mut [f32],
) {
    ConvPlan::new(*p).backward_packed(x, w, None, dy, grads, scratch)
}

/// [`conv2d_backward`] with `Wᵀ` already packed by [`conv2d_pack_weights_t`] (when `Some`);
/// the same bits.
pub fn conv2d_backward_packed(
    p: &Conv2dParams,
    x: &[f32],
    w: &[f32],
    packed_w_t: Option<&[f32]>,
    dy: &[f32],
    grads: Conv2dGrads<'_>,
    scratch: &mut [f32],
) {
    ConvPlan::new(*p).backward_packed(x, w, packed_w_t, dy, grads, scratch)
}

/// The kernels, dispatched on the plan's algorithm.
impl ConvPlan {
    /// See [`conv2d_pack_weights`].
    pub fn pack_weights(&self, w: &[f32], packed: &mut [f32]) {
        let p = &self.p;
        assert_eq!(w.len(), p.w_len(), "conv2d_pack_weights: w has {} values, expected {}", w.len(), p.w_len());
        match self.algo {
            ConvAlgo::Winograd(t) => winograd::pack_weights(t, p, w, packed),
            // The direct kernel reads the HWIO kernel as it is.
            ConvAlgo::Direct => copy(&mut packed[..w.len()], w),
            ConvAlgo::Gather | ConvAlgo::Im2col => pack_b(&p.forward_gemm(1), w, packed),
        }
    }

    /// See [`conv2d_forward_packed`].
    pub fn forward_packed(&self, x: &[f32], packed_w: &[f32], b: &[f32], y: &mut [f32], scratch: &mut [f32]) {
        let p = &self.p;
        p.validate().unwrap_or_else(|e| fail(e));
        p.check("conv2d_forward", x.len(), p.w_len(), b.len(), y.len()).unwrap_or_else(|e| fail(e));
        assert!(packed_w.len() >= self.packed_w_len(), "conv2d_forward_packed: the packed kernel is too short");
        assert!(scratch.len() >= self.forward_packed_scratch_len(), "conv2d_forward_packed: scratch too small");
        let image_len = p.in_h * p.in_w * p.in_c;
        let out_len = p.positions() * p.out_c;
        match self.algo {
            ConvAlgo::Winograd(t) => winograd::forward(t, p, x, packed_w, Some(b), y, scratch),
            ConvAlgo::Direct => {
                for n in 0..p.batch {
                    let (image, y_n) = (&x[n * image_len..(n + 1) * image_len], &mut y[n * out_len..(n + 1) * out_len]);
                    direct::forward(p, image, &packed_w[..p.w_len()], b, y_n, scratch);
                }
            }
            ConvAlgo::Gather => im2col::forward_gathered(p, x, packed_w, b, y, scratch),
            ConvAlgo::Im2col => im2col::forward_im2col(p, x, packed_w, b, y, scratch),
        }
    }

    /// See [`conv2d_pack_weights_t`].
    pub fn pack_weights_t(&self, w: &[f32], packed_t: &mut [f32]) {
        let p = &self.p;
        assert_eq!(w.len(), p.w_len(), "conv2d_pack_weights_t: w has {} values, expected {}", w.len(), p.w_len());
        if let ConvAlgo::Winograd(t) = self.algo {
            return winograd::pack_weights_t(t, p, w, packed_t);
        }
        // Wᵀ is filters × patch; W (patch × filters) is its transpose.
        pack_b_transposed(&p.input_grad_gemm(1), w, packed_t);
    }

    /// See [`conv2d_backward_packed`].
    pub fn backward_packed(
        &self,
        x: &[f32],
        w: &[f32],
        packed_w_t: Option<&[f32]>,
        dy: &[f32],
        grads: Conv2dGrads<'_>,
        scratch: &mut [f32],
    ) {
        let p = &self.p;
        p.validate().unwrap_or_else(|e| fail(e));
        p.check("conv2d_backward", x.len(), w.len(), grads.db.len(), dy.len()).unwrap_or_else(|e| fail(e));
        if let Some(dx) = &grads.dx {
            check_len("conv2d_backward", "dx", dx.len(), p.x_len(), || "like x".into()).unwrap_or_else(|e| fail(e));
        }
        check_len("conv2d_backward", "dw", grads.dw.len(), p.w_len(), || "like w".into()).unwrap_or_else(|e| fail(e));
        assert!(scratch.len() >= self.backward_scratch_len(), "conv2d_backward: scratch too small");
        if let ConvAlgo::Winograd(t) = self.algo {
            return winograd::backward(t, p, x, w, packed_w_t, dy, grads, scratch);
        }
        let (positions, patch, filters) = (p.positions(), p.patch_len(), p.out_c);
        let image_len = p.in_h * p.in_w * p.in_c;
        let out_len = positions * filters;
        let group = p.image_group();

        let Conv2dGrads { dx, dw, db } = grads;
        dw.fill(0.0);
        db.fill(0.0);
        // The kernel gradient's use of the scratch.
        let (cols, rest) = scratch.split_at_mut(self.backward_cols_len());
        if self.one_position_path() {
            let (cols_g, pack) = rest.split_at_mut(p.group_cols_len());
            // One position per image: each image's partial sum is the outer product of its patch
            // row and its output gradient, so dW[k, f] += cols_n[k]·dy_n[f] over the images in
            // order: a product over a group of images that continues from dW. (A one-term partial
            // sum is `0 + x·dy`, which adds to dW as `x·dy` does: dW starts at +0 and never
            // becomes −0, so a −0 term changes nothing.)
            for n0 in (0..p.batch).step_by(group) {
                let images = group.min(p.batch - n0);
                // The group's patch rows, transposed (patch × images) as they are written.
                let cols_gt = &mut cols_g[..images * patch];
                for i in 0..images {
                    im2col::im2col(p, &x[(n0 + i) * image_len..(n0 + i + 1) * image_len], &mut cols[..patch]);
                    for (k, &v) in cols[..patch].iter().enumerate() {
                        cols_gt[k * images + i] = v;
                    }
                }
                // dW += colsᵀ · dy over the group, continuing each sum from dW's value.
                let g = GemmParams { m: patch, k: images, n: filters };
                gemm_accumulate(&g, cols_gt, &dy[n0 * out_len..(n0 + images) * out_len], dw, pack);
            }
            for n in 0..p.batch {
                add_bias_grad(&dy[n * out_len..(n + 1) * out_len], filters, db);
            }
        } else {
            let (partial, pack) = rest.split_at_mut(p.w_len());
            for n in 0..p.batch {
                let dy_n = &dy[n * out_len..(n + 1) * out_len];
                let image = &x[n * image_len..(n + 1) * image_len];
                match self.algo {
                    // The patch rows' buffer holds the direct kernel's padded image and gradient
                    // rows; the kernel adds this image's rows into db too.
                    ConvAlgo::Direct => direct::kernel_grad(p, image, dy_n, partial, db, cols),
                    ConvAlgo::Gather => {
                        im2col::gathered_kernel_grad(p, image, dy_n, partial, pack, cols);
                        add_bias_grad(dy_n, filters, db);
                    }
                    ConvAlgo::Im2col | ConvAlgo::Winograd(_) => {
                        im2col::kernel_grad(p, image, dy_n, partial, pack, cols);
                        add_bias_grad(dy_n, filters, db);
                    }
                }
                for (d, &s) in dw.iter_mut().zip(partial.iter()) {
                    *d += s;
                }
            }
        }
        if let Some(dx) = dx {
            // The input gradient's use of the scratch.
            let (cols_g, rest) = scratch.split_at_mut(p.group_cols_len());
            let (own_packed_w_t, a_pack) = rest.split_at_mut(p.input_grad_gemm(1).pack_len());
            let packed_w_t =
                given_or_packed(packed_w_t, self.packed_w_t_len(), own_packed_w_t, |own| self.pack_weights_t(w, own));
            // A group's patch-row gradients, then scattered into each image's input gradient.
            for n0 in (0..p.batch).step_by(group) {
                let images = group.min(p.batch - n0);
                let dcols = &mut cols_g[..images * p.cols_len()];
                let dy_g = &dy[n0 * out_len..(n0 + images) * out_len];
                gemm_packed(&p.input_grad_gemm(images), dy_g, packed_w_t, None, dcols, a_pack);
                for (i, dc) in dcols.chunks_exact(p.cols_len()).enumerate() {
                    im2col::col2im(p, dc, &mut dx[(n0 + i) * image_len..(n0 + i + 1) * image_len]);
                }
            }
        }
    }
}

/// The reference: direct loops, in the order the module header defines.
pub mod scalar {
    use super::{fail, winograd, Conv2dGrads, Conv2dParams};

    /// Calls `f(k, input index)` for each in-bounds tap of output position (oh, ow), in (kh, kw, c)
    /// order; `k` indexes the patch row.
    fn taps(p: &Conv2dParams, oh: usize, ow: usize, mut f: impl FnMut(usize, usize)) {
        let (pad_t, pad_l) = (p.pad_top() as isize, p.pad_left() as isize);
        for kh in 0..p.k_h {
            let ih = (oh * p.stride_h + kh) as isize - pad_t;
            if ih < 0 || ih >= p.in_h as isize {
                continue;
            }
            for kw in 0..p.k_w {
                let iw = (ow * p.stride_w + kw) as isize - pad_l;
                if iw < 0 || iw >= p.in_w as isize {
                    continue;
                }
                for c in 0..p.in_c {
                    f((kh * p.k_w + kw) * p.in_c + c, (ih as usize * p.in_w + iw as usize) * p.in_c + c);
                }
            }
        }
    }

    /// See [`super::conv2d_forward`].
    pub fn conv2d_forward(p: &Conv2dParams, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
        p.check("conv2d_forward", x.len(), w.len(), b.len(), y.len()).unwrap_or_else(|e| fail(e));
        if winograd::applies(p) {
            return winograd::scalar::forward(winograd::Tile::of(p), p, x, w, b, y);
        }
        let image_len = p.in_h * p.in_w * p.in_c;
        let f_n = p.out_c;
        for n in 0..p.batch {
            let image = &x[n * image_len..(n + 1) * image_len];
            for oh in 0..p.out_h() {
                for ow in 0..p.out_w() {
                    let out = ((n * p.out_h() + oh) * p.out_w() + ow) * f_n;
                    for f in 0..f_n {
                        let mut acc = 0.0f32;
                        taps(p, oh, ow, |k, i| acc += image[i] * w[k * f_n + f]);
                        y[out + f] = acc + b[f];
                    }
                }
            }
        }
    }

    /// See [`super::conv2d_backward`].
    pub fn conv2d_backward(p: &Conv2dParams, x: &[f32], w: &[f32], dy: &[f32], grads: Conv2dGrads<'_>) {
        if winograd::applies(p) {
            return winograd::scalar::backward(winograd::Tile::of(p), p, x, w, dy, grads);
        }
        let image_len = p.in_h * p.in_w * p.in_c;
        let f_n = p.out_c;
        let positions = p.positions();
        let Conv2dGrads { mut dx, dw, db } = grads;
        if let Some(dx) = dx.as_deref_mut() {
            dx.fill(0.0);
        }
        dw.fill(0.0);
        db.fill(0.0);
        let mut partial = vec![0.0f32; p.w_len()];
        for n in 0..p.batch {
            let image = &x[n * image_len..(n + 1) * image_len];
            let dy_n = &dy[n * positions * f_n..(n + 1) * positions * f_n];
            partial.fill(0.0);
            if let Some(dx) = dx.as_deref_mut() {
                let dx_n = &mut dx[n * image_len..(n + 1) * image_len];
                for oh in 0..p.out_h() {
                    for ow in 0..p.out_w() {
                        let pos = oh * p.out_w() + ow;
                        let g = &dy_n[pos * f_n..(pos + 1) * f_n];
                        taps(p, oh, ow, |k, i| {
                            let mut acc = 0.0f32;
                            for (f, &gf) in g.iter().enumerate() {
                                acc += gf * w[k * f_n + f];
                            }
                            dx_n[i] += acc;
                        });
                    }
                }
            }
            // dW: for each (k, f), positions in order; taps outside the image add nothing.
            for k in 0..p.patch_len() {
                for f in 0..f_n {
                    let mut acc = 0.0f32;
                    for oh in 0..p.out_h() {
                        for ow in 0..p.out_w() {
                            if let Some(i) = tap_index(p, oh, ow, k) {
                                acc += image[i] * dy_n[(oh * p.out_w() + ow) * f_n + f];
                            }
                        }
                    }
                    partial[k * f_n + f] = acc;
                }
            }
            for (d, &s) in dw.iter_mut().zip(&partial) {
                *d += s;
            }
            for pos in 0..positions {
                for f in 0..f_n {
                    db[f] += dy_n[pos * f_n + f];
                }
            }
        }
    }

    /// The input index that patch entry `k` of output position (oh, ow) reads, if in bounds.
    fn tap_index(p: &Conv2dParams, oh: usize, ow: usize, k: usize) -> Option<usize> {
        let c = k % p.in_c;
        let kw = (k / p.in_c) % p.k_w;
        let kh = k / (p.in_c * p.k_w);
        let ih = (oh * p.stride_h + kh) as isize - p.pad_top() as isize;
        let iw = (ow * p.stride_w + kw) as isize - p.pad_left() as isize;
        if ih < 0 || ih >= p.in_h as isize || iw < 0 || iw >= p.in_w as isize {
            return None;
        }
        Some((ih as usize * p.in_w + iw as usize) * p.in_c + c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    #[allow(clippy::too_many_arguments)]
    fn params(
        batch: usize,
        h: usize,
        w: usize,
        c: usize,
        f: usize,
        k: usize,
        s: usize,
        padding: Padding,
    ) -> Conv2dParams {
        Conv2dParams { batch, in_h: h, in_w: w, in_c: c, out_c: f, k_h: k, k_w: k, stride_h: s, stride_w: s, padding }
    }

    struct Grads {
        dx: Vec<f32>,
        dw: Vec<f32>,
        db: Vec<f32>,
    }

    fn fast_backward(p: &Conv2dParams, x: &[f32], w: &[f32], dy: &[f32]) -> Grads {
        let mut g = Grads { dx: vec![f32::NAN; p.x_len()], dw: vec![f32::NAN; p.w_len()], db: vec![f32::NAN; p.out_c] };
        let mut scratch = vec![f32::NAN; p.backward_scratch_len()];
        conv2d_backward(p, x, w, dy, Conv2dGrads { dx: Some(&mut g.dx), dw: &mut g.dw, db: &mut g.db }, &mut scratch);
        g
    }

    fn fast_forward(p: &Conv2dParams, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
        let mut y = vec![f32::NAN; p.y_len()];
        let mut scratch = vec![f32::NAN; p.forward_scratch_len()];
        conv2d_forward(p, x, w, b, &mut y, &mut scratch);
        y
    }

    kernel_test!(
        fn output_extent_matches_tensorflow() {
            // Fashion's 28×28 'same' layers, LeNet's 32→28 'valid', stride 2 and odd sizes.
            assert_eq!(output_extent(28, 7, 1, Padding::Same), (28, 3));
            assert_eq!(output_extent(14, 3, 1, Padding::Same), (14, 1));
            assert_eq!(output_extent(32, 5, 1, Padding::Valid), (28, 0));
            assert_eq!(output_extent(7, 3, 2, Padding::Same), (4, 1));
            assert_eq!(output_extent(8, 3, 2, Padding::Same), (4, 0));
            assert_eq!(output_extent(8, 4, 2, Padding::Same), (4, 1));
            assert_eq!(output_extent(7, 2, 2, Padding::Valid), (3, 0));
            assert_eq!(output_extent(4, 5, 1, Padding::Valid), (0, 0));
        }
    );

    kernel_test!(
        fn fast_path_matches_scalar_on_awkward_shapes() {
            let mut rng = test_rng(21);
            let cases = [
                params(2, 9, 9, 1, 5, 7, 1, Padding::Same),
                params(1, 8, 7, 3, 4, 3, 1, Padding::Same),
                params(2, 11, 10, 2, 3, 5, 1, Padding::Valid),
                params(2, 9, 8, 3, 9, 3, 2, Padding::Same),
                params(1, 10, 9, 5, 6, 3, 2, Padding::Valid),
                params(3, 5, 5, 6, 13, 1, 1, Padding::Valid),
                params(1, 6, 6, 7, 17, 2, 2, Padding::Same),
                params(1, 3, 4, 2, 3, 5, 1, Padding::Same),
                // One input channel and stride 1: the direct kernels (direct.rs) under
                // simd128. LeNet-5's C1, the Fashion ConvNet's conv1, and ragged edges: widths
                // not a multiple of 8, filters not a multiple of 6 or 8, more rows than columns.
                params(2, 32, 32, 1, 6, 5, 1, Padding::Valid),
                params(1, 28, 28, 1, 64, 7, 1, Padding::Same),
                params(2, 13, 5, 1, 9, 3, 1, Padding::Same),
                params(1, 4, 11, 1, 13, 2, 1, Padding::Valid),
                params(3, 6, 17, 1, 1, 4, 1, Padding::Same),
                // One column past whole 4-tap blocks goes down the kernel rows (5×5, 1×1),
                // over two groups of 8 filters, with 'same' padding.
                params(1, 9, 12, 1, 10, 5, 1, Padding::Same),
                params(2, 6, 6, 1, 3, 1, 1, Padding::Valid),
                // Up to 6 filters, two output rows per block in blocks of up to 3 filters (5: 3 +
                // 2) and an odd last row with all of them; 7 or 8, one row of all of them.
                params(2, 9, 11, 1, 5, 3, 1, Padding::Valid),
                params(1, 8, 8, 1, 8, 5, 1, Padding::Same),
                // Few output positions: several images per product (image_group), one position
                // (the outer-product kernel gradient), groups that do not divide the batch.
                params(3, 5, 5, 16, 120, 5, 1, Padding::Valid),
                params(5, 3, 3, 2, 9, 2, 1, Padding::Valid),
                params(9, 4, 4, 3, 5, 3, 2, Padding::Same),
                // Patch rows longer than one packed block (KC = 256), cut inside a kernel row,
                // read straight from the images (few filters) and through im2col (many).
                params(2, 6, 6, 40, 9, 3, 1, Padding::Same),
                params(2, 6, 5, 40, 33, 3, 1, Padding::Valid),
            ];
            for p in cases {
                let x = random_vec(&mut rng, p.x_len());
                let w = random_vec(&mut rng, p.w_len());
                let b = random_vec(&mut rng, p.out_c);
                let dy = random_vec(&mut rng, p.y_len());
                let mut want_y = vec![f32::NAN; p.y_len()];
                scalar::conv2d_forward(&p, &x, &w, &b, &mut want_y);
                assert_bits_eq(&fast_forward(&p, &x, &w, &b), &want_y, &format!("y {p:?}"));

                let mut want =
                    Grads { dx: vec![f32::NAN; p.x_len()], dw: vec![f32::NAN; p.w_len()], db: vec![f32::NAN; p.out_c] };
                scalar::conv2d_backward(
                    &p,
                    &x,
                    &w,
                    &dy,
                    Conv2dGrads { dx: Some(&mut want.dx), dw: &mut want.dw, db: &mut want.db },
                );
                let got = fast_backward(&p, &x, &w, &dy);
                assert_bits_eq(&got.dx, &want.dx, &format!("dx {p:?}"));
                assert_bits_eq(&got.dw, &want.dw, &format!("dw {p:?}"));
                assert_bits_eq(&got.db, &want.db, &format!("db {p:?}"));
                // With Wᵀ packed beforehand (once per weight update), the same bits.
                let mut packed_t = vec![f32::NAN; conv2d_packed_w_t_len(&p)];
                conv2d_pack_weights_t(&p, &w, &mut packed_t);
                let mut again =
                    Grads { dx: vec![f32::NAN; p.x_len()], dw: vec![f32::NAN; p.w_len()], db: vec![f32::NAN; p.out_c] };
                let g = Conv2dGrads { dx: Some(&mut again.dx), dw: &mut again.dw, db: &mut again.db };
                conv2d_backward_packed(
                    &p,
                    &x,
                    &w,
                    Some(&packed_t),
                    &dy,
                    g,
                    &mut vec![f32::NAN; p.backward_scratch_len()],
                );
                assert_bits_eq(&again.dx, &want.dx, &format!("dx with packed Wᵀ {p:?}"));
                // Without dx (a first layer), the same weight and bias gradients.
                let (mut dw, mut db) = (vec![f32::NAN; p.w_len()], vec![f32::NAN; p.out_c]);
                let mut scratch = vec![f32::NAN; p.backward_scratch_len()];
                conv2d_backward(&p, &x, &w, &dy, Conv2dGrads { dx: None, dw: &mut dw, db: &mut db }, &mut scratch);
                assert_bits_eq(&dw, &want.dw, &format!("dw without dx {p:?}"));
                assert_bits_eq(&db, &want.db, &format!("db without dx {p:?}"));
            }
        }
    );

    kernel_test!(
        fn gradients_match_finite_differences() {
            let mut rng = test_rng(22);
            for p in [
                params(2, 6, 5, 2, 3, 3, 1, Padding::Same),
                params(1, 7, 7, 1, 2, 5, 1, Padding::Valid),
                params(2, 7, 6, 2, 2, 3, 2, Padding::Same),
            ] {
                let (x, w, b) =
                    (random_vec(&mut rng, p.x_len()), random_vec(&mut rng, p.w_len()), random_vec(&mut rng, p.out_c));
                let dy = random_vec(&mut rng, p.y_len());
                let g = fast_backward(&p, &x, &w, &dy);
                let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
                    fast_forward(&p, x, w, b).iter().zip(&dy).map(|(&y, &d)| y as f64 * d as f64).sum()
                };
                check_gradient("dx", &mut x.clone(), &g.dx, 60, |xv| loss(xv, &w, &b));
                check_gradient("dw", &mut w.clone(), &g.dw, 60, |wv| loss(&x, wv, &b));
                check_gradient("db", &mut b.clone(), &g.db, 60, |bv| loss(&x, &w, bv));
            }
        }
    );

    /// LeNet-5's C3 table (REFERENCE.md §2).
    fn lenet_c3() -> ConnectionTable {
        let mut inputs: Vec<Vec<usize>> = (0..6).map(|f| (0..3).map(|i| (f + i) % 6).collect()).collect();
        inputs.extend((0..6).map(|f| (0..4).map(|i| (f + i) % 6).collect()));
        inputs.extend([vec![0, 1, 3, 4], vec![1, 2, 4, 5], vec![0, 2, 3, 5], (0..6).collect()]);
        for l in &mut inputs {
            l.sort_unstable();
        }
        ConnectionTable::new(6, inputs).unwrap()
    }

    kernel_test!(
        fn connection_table_counts_and_round_trips() {
            let table = lenet_c3();
            // 1,516 trainable parameters: kernel weights plus one bias per map.
            assert_eq!(table.compact_len(5, 5) + table.out_c(), 1516);
            let mut rng = test_rng(23);
            let compact = random_vec(&mut rng, table.compact_len(5, 5));
            let mut dense = vec![f32::NAN; 5 * 5 * 6 * 16];
            table.expand(5, 5, &compact, &mut dense);
            assert_eq!(dense.iter().filter(|&&v| v != 0.0).count(), compact.iter().filter(|&&v| v != 0.0).count());
            let mut back = vec![f32::NAN; compact.len()];
            table.compact(5, 5, &dense, &mut back);
            assert_bits_eq(&back, &compact, "compact(expand(w))");
        }
    );

    kernel_test!(
        fn table_conv_changes_exactly_the_connected_maps() {
            // Perturb one S2 map; exactly the C3 maps that read it change.
            let table = lenet_c3();
            let p = params(1, 14, 14, 6, 16, 5, 1, Padding::Valid);
            let mut rng = test_rng(24);
            let compact = random_vec(&mut rng, table.compact_len(5, 5));
            let mut w = vec![0.0; p.w_len()];
            table.expand(5, 5, &compact, &mut w);
            let b = random_vec(&mut rng, 16);
            let x = random_vec(&mut rng, p.x_len());
            let base = fast_forward(&p, &x, &w, &b);
            for s2 in 0..6 {
                let mut x2 = x.clone();
                for i in (s2..x2.len()).step_by(6) {
                    x2[i] += 0.5;
                }
                let y2 = fast_forward(&p, &x2, &w, &b);
                let changed: Vec<usize> =
                    (0..16).filter(|&f| (0..100).any(|pos| y2[pos * 16 + f] != base[pos * 16 + f])).collect();
                let expected: Vec<usize> = (0..16).filter(|&f| table.inputs(f).contains(&s2)).collect();
                assert_eq!(changed, expected, "S2 map {s2}");
            }
        }
    );

    kernel_test!(
        fn rejects_bad_tables_and_empty_outputs() {
            assert!(ConnectionTable::new(3, vec![vec![0, 3]]).unwrap_err().contains("reads map 3, but there are 3"));
            assert!(ConnectionTable::new(3, vec![vec![]]).unwrap_err().contains("reads no input map"));
            assert!(ConnectionTable::new(3, vec![vec![1, 0]]).unwrap_err().contains("not strictly ascending"));
            let p = params(1, 4, 4, 1, 1, 5, 1, Padding::Valid);
            assert_eq!(p.validate().unwrap_err(), "conv2d: a 5×5 kernel with 'valid' padding does not fit a 4×4 input");
        }
    );
}
