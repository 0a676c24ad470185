//! The GEMM path: each image becomes patch rows (im2col) that multiply the packed kernel on
//! [`gemm`](crate::kernels::gemm), a group of images at a time; under simd128 with few filters the
//! product reads its patch rows straight from the (padded) images instead ("gathered"). The
//! gradients are a GEMM plus a fixed-order scatter (col2im).

use super::params::Conv2dParams;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use super::params::Padding;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use crate::kernels::gemm::pack_b;
use crate::kernels::gemm::{gemm_packed, gemm_transposed_a, GemmParams};
use crate::kernels::lanes::{copy, Lanes, F4};

/// Rows a grouped product aims for: see [`Conv2dParams::image_group`].
const GROUP_ROWS: usize = 32;

/// See [`Conv2dParams::gathers`].
const GATHER_MAX_FILTERS: usize = 32;

/// Whether the forward product reads its patch rows straight from the images (simd128, few
/// filters). Packing patch rows costs the same whatever the filter count and is shared by
/// every 8-filter panel; with at most [`GATHER_MAX_FILTERS`] filters (LeNet-5's C3: 16) it is
/// a large share of the work, with more (the Fashion ConvNet's 64–256) the packed rows run
/// faster than gathered ones. Measured with `npm run bench:kernels`.
pub(super) fn gathers(p: &Conv2dParams) -> bool {
    cfg!(all(target_arch = "wasm32", target_feature = "simd128")) && p.out_c <= GATHER_MAX_FILTERS
}

impl Conv2dParams {
    /// Images per product in the forward pass and the input gradient: enough for at least
    /// [`GROUP_ROWS`] rows. A layer with few output positions (LeNet-5's C5 has one) would
    /// otherwise run a product of a row or two per image, mostly tile padding and call overhead.
    /// Each output row is the same sum whatever the grouping, so the bits do not change.
    pub(crate) fn image_group(&self) -> usize {
        GROUP_ROWS.div_ceil(self.positions()).clamp(1, self.batch)
    }

    /// Patch rows of one group of images.
    pub(crate) fn group_cols_len(&self) -> usize {
        self.image_group() * self.cols_len()
    }

    /// The forward product for `images` images (the kernel's packing depends only on k and n).
    pub(crate) fn forward_gemm(&self, images: usize) -> GemmParams {
        GemmParams { m: images * self.positions(), k: self.patch_len(), n: self.out_c }
    }

    /// The kernel-gradient product: per image, `colsᵀ · dy`; with one position per image, over
    /// a group of images (`k` = images; see [`conv2d_backward`]).
    pub(crate) fn weight_grad_gemm(&self) -> GemmParams {
        let k = if self.positions() == 1 { self.image_group() } else { self.positions() };
        GemmParams { m: self.patch_len(), k, n: self.out_c }
    }

    pub(crate) fn input_grad_gemm(&self, images: usize) -> GemmParams {
        GemmParams { m: images * self.positions(), k: self.out_c, n: self.patch_len() }
    }

    /// Rows of the zero-padded input the forward pass reads: `(out_h − 1)·stride + k_h`.
    pub(crate) fn padded_h(&self) -> usize {
        (self.out_h() - 1) * self.stride_h + self.k_h
    }

    pub(crate) fn padded_w(&self) -> usize {
        (self.out_w() - 1) * self.stride_w + self.k_w
    }

    pub(crate) fn input_grad_scratch_len(&self) -> usize {
        self.group_cols_len() + self.input_grad_gemm(self.image_group()).scratch_len()
    }
}

/// Writes one image's patch rows: `cols[p, (kh·k_w + kw)·in_c + c]`, zeros for padding.
pub(super) fn im2col(p: &Conv2dParams, image: &[f32], cols: &mut [f32]) {
    let (out_h, out_w, c) = (p.out_h(), p.out_w(), p.in_c);
    let (pad_t, pad_l) = (p.pad_top(), p.pad_left());
    let run = p.k_w * c;
    let mut row = 0;
    for oh in 0..out_h {
        for ow in 0..out_w {
            let patch = &mut cols[row * p.patch_len()..(row + 1) * p.patch_len()];
            for kh in 0..p.k_h {
                let dst = &mut patch[kh * run..(kh + 1) * run];
                let ih = (oh * p.stride_h + kh) as isize - pad_t as isize;
                if ih < 0 || ih >= p.in_h as isize {
                    dst.fill(0.0);
                    continue;
                }
                let iw0 = (ow * p.stride_w) as isize - pad_l as isize;
                let src_row = &image[ih as usize * p.in_w * c..(ih as usize + 1) * p.in_w * c];
                if iw0 >= 0 && iw0 as usize + p.k_w <= p.in_w {
                    // The whole kernel row is inside: one contiguous copy.
                    copy(dst, &src_row[iw0 as usize * c..iw0 as usize * c + run]);
                } else {
                    for kw in 0..p.k_w {
                        let iw = iw0 + kw as isize;
                        let d = &mut dst[kw * c..(kw + 1) * c];
                        if iw < 0 || iw >= p.in_w as isize {
                            d.fill(0.0);
                        } else {
                            copy(d, &src_row[iw as usize * c..(iw as usize + 1) * c]);
                        }
                    }
                }
            }
            row += 1;
        }
    }
}

/// Adds patch-row gradients back into one image's input gradient, in position order.
pub(super) fn col2im(p: &Conv2dParams, dcols: &[f32], dimage: &mut [f32]) {
    let (out_h, out_w, c) = (p.out_h(), p.out_w(), p.in_c);
    let (pad_t, pad_l) = (p.pad_top(), p.pad_left());
    dimage.fill(0.0);
    let mut row = 0;
    for oh in 0..out_h {
        for ow in 0..out_w {
            let patch = &dcols[row * p.patch_len()..(row + 1) * p.patch_len()];
            for kh in 0..p.k_h {
                let ih = (oh * p.stride_h + kh) as isize - pad_t as isize;
                if ih < 0 || ih >= p.in_h as isize {
                    continue;
                }
                let iw0 = (ow * p.stride_w) as isize - pad_l as isize;
                if iw0 >= 0 && iw0 as usize + p.k_w <= p.in_w {
                    // The whole kernel row is inside: one run of k_w·c values, added with vectors
                    // (each value gets its one term from this position, so the order is kept).
                    let at = (ih as usize * p.in_w + iw0 as usize) * c;
                    let run = p.k_w * c;
                    add_into(&mut dimage[at..at + run], &patch[kh * run..(kh + 1) * run]);
                    continue;
                }
                for kw in 0..p.k_w {
                    let iw = iw0 + kw as isize;
                    if iw < 0 || iw >= p.in_w as isize {
                        continue;
                    }
                    let at = (ih as usize * p.in_w + iw as usize) * c;
                    add_into(&mut dimage[at..at + c], &patch[(kh * p.k_w + kw) * c..(kh * p.k_w + kw + 1) * c]);
                }
            }
            row += 1;
        }
    }
}

/// `d[i] += s[i]` (equal lengths), four at a time, the last 0–3 one by one.
#[inline(always)]
fn add_into(d: &mut [f32], s: &[f32]) {
    assert_eq!(d.len(), s.len());
    let full = d.len() / 4 * 4;
    for j in (0..full).step_by(4) {
        F4::load(&d[j..]).add(F4::load(&s[j..])).store(&mut d[j..]);
    }
    for j in full..d.len() {
        d[j] += s[j];
    }
}

/// The forward pass as im2col + GEMM, a group of images at a time.
pub(super) fn forward_im2col(
    p: &Conv2dParams,
    x: &[f32],
    packed_w: &[f32],
    b: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
) {
    let image_len = p.in_h * p.in_w * p.in_c;
    let out_len = p.positions() * p.out_c;
    let (cols, a_pack) = scratch.split_at_mut(p.group_cols_len());
    for n0 in (0..p.batch).step_by(p.image_group()) {
        let images = p.image_group().min(p.batch - n0);
        let cols = &mut cols[..images * p.cols_len()];
        for (i, c) in cols.chunks_exact_mut(p.cols_len()).enumerate() {
            im2col(p, &x[(n0 + i) * image_len..(n0 + i + 1) * image_len], c);
        }
        let y_g = &mut y[n0 * out_len..(n0 + images) * out_len];
        gemm_packed(&p.forward_gemm(images), cols, packed_w, Some(b), y_g, a_pack);
    }
}

/// The forward pass under simd128: the product reads its patch rows straight from the images
/// ([`gemm_gathered`](crate::kernels::gemm::simd::gemm_gathered)), zero-padded first for 'same' padding,
/// a group of images at a time. The same sums as im2col + GEMM, so the same bits.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(super) fn forward_gathered(
    p: &Conv2dParams,
    x: &[f32],
    packed_w: &[f32],
    b: &[f32],
    y: &mut [f32],
    scratch: &mut [f32],
) {
    use crate::kernels::gemm::simd::gemm_gathered;
    let image_len = p.in_h * p.in_w * p.in_c;
    let out_len = p.positions() * p.out_c;
    let group = p.image_group();
    for n0 in (0..p.batch).step_by(group) {
        let images = group.min(p.batch - n0);
        let a = gathered(p, &x[n0 * image_len..(n0 + images) * image_len], scratch);
        let y_g = &mut y[n0 * out_len..(n0 + images) * out_len];
        gemm_gathered(&p.forward_gemm(images), &a, packed_w, b, y_g);
    }
}

/// The patch rows of `images` (whole images of `p`) as [`Gathered`] reads them: from the images
/// themselves for 'valid' padding, else from zero-padded copies written into `scratch`
/// (at least [`Conv2dParams::gathered_scratch_len`] per image).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn gathered<'a>(
    p: &Conv2dParams,
    images: &'a [f32],
    scratch: &'a mut [f32],
) -> crate::kernels::gemm::simd::Gathered<'a> {
    let c = p.in_c;
    let image_len = p.in_h * p.in_w * c;
    let (hp, wp) = (p.padded_h(), p.padded_w());
    let (src, img_len, row_w) = if p.padding == Padding::Valid {
        (images, image_len, p.in_w)
    } else {
        let padded_len = hp * wp * c;
        let dst = &mut scratch[..images.len() / image_len * padded_len];
        for (d, image) in dst.chunks_exact_mut(padded_len).zip(images.chunks_exact(image_len)) {
            pad_image(p, image, d, hp, wp);
        }
        (&dst[..], padded_len, wp)
    };
    crate::kernels::gemm::simd::Gathered {
        src,
        rows_per_image: p.positions(),
        image_len: img_len,
        out_w: p.out_w(),
        step_h: p.stride_h * row_w * c,
        step_w: p.stride_w * c,
        run: p.k_w * c,
        run_stride: row_w * c,
    }
}

/// Copies one image into `dst` (`hp × wp × in_c`) with zeros around it, as 'same' padding
/// places it: input row `r − pad_top` at row `r`, column `s − pad_left` at column `s`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn pad_image(p: &Conv2dParams, image: &[f32], dst: &mut [f32], hp: usize, wp: usize) {
    let c = p.in_c;
    let (pad_t, pad_l) = (p.pad_top(), p.pad_left());
    let cols = p.in_w.min(wp.saturating_sub(pad_l));
    for (r, row) in dst.chunks_exact_mut(wp * c).enumerate().take(hp) {
        let ih = r as isize - pad_t as isize;
        if ih < 0 || ih >= p.in_h as isize {
            row.fill(0.0);
            continue;
        }
        let src = &image[ih as usize * p.in_w * c..][..cols * c];
        row[..pad_l * c].fill(0.0);
        copy(&mut row[pad_l * c..(pad_l + cols) * c], src);
        row[(pad_l + cols) * c..].fill(0.0);
    }
}

/// One image's kernel gradient, colsᵀ · dy, with the patch rows read from the image (padded
/// into `pad` for 'same'): the same packed panels and sums as im2col + `gemm_transposed_a`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(super) fn gathered_kernel_grad(
    p: &Conv2dParams,
    image: &[f32],
    dy_n: &[f32],
    partial: &mut [f32],
    scratch: &mut [f32],
    pad: &mut [f32],
) {
    let g = p.weight_grad_gemm();
    let (pack, a_pack) = scratch.split_at_mut(g.pack_len());
    pack_b(&g, dy_n, pack);
    let a = gathered(p, image, pad);
    crate::kernels::gemm::simd::gemm_gathered_transposed_a(&g, &a, pack, partial, a_pack);
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub(super) fn forward_gathered(_: &Conv2dParams, _: &[f32], _: &[f32], _: &[f32], _: &mut [f32], _: &mut [f32]) {
    unreachable!("gathers() needs simd128")
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
pub(super) fn gathered_kernel_grad(
    _: &Conv2dParams,
    _: &[f32],
    _: &[f32],
    _: &mut [f32],
    _: &mut [f32],
    _: &mut [f32],
) {
    unreachable!("gathers() needs simd128")
}

/// One image's kernel gradient through im2col: `colsᵀ · dy`, packing colsᵀ straight from the
/// patch rows written into `cols`.
pub(super) fn kernel_grad(
    p: &Conv2dParams,
    image: &[f32],
    dy_n: &[f32],
    partial: &mut [f32],
    pack: &mut [f32],
    cols: &mut [f32],
) {
    im2col(p, image, cols);
    gemm_transposed_a(&p.weight_grad_gemm(), &cols[..p.cols_len()], dy_n, partial, pack);
}
