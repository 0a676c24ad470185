//! 2-D convolution (Keras's Conv2D): forward, input gradient, kernel gradient, bias gradient.
//!
//! Layouts follow Keras: images are NHWC, the kernel is HWIO (`[kh, kw, in_c, out_c]`), the
//! bias is `[out_c]`. `same` padding splits the total as TensorFlow does (the extra row or
//! column goes at the bottom or right).
//!
//! The fast path turns each image into patch rows (im2col) and multiplies them with the kernel
//! on [`gemm`](super::gemm); the gradients are a GEMM plus a fixed-order scatter (col2im). The
//! scalar reference in [`scalar`] writes the same sums as direct loops, in the same order:
//! - `y[n,p,f] = (Σ_{kh,kw,c} x·w) + b[f]`, terms in (kh, kw, c) order, padding skipped;
//! - `dW[k,f] = Σ_n (Σ_p cols[p,k]·dy[p,f])`, one partial sum per image, added in image order;
//! - `dx` gathers, for every output position p in order, `Σ_f dy[p,f]·W[k,f]` into its inputs;
//! - `db[f] = Σ_n Σ_p dy[n,p,f]`.
//!
//! so the two agree bit for bit. Skipped padding terms would only add exact zeros.
//!
//! A [`ConnectionTable`] (LeNet-5's C3) restricts which input maps each output map reads. Its
//! compact parameters expand into a dense kernel with zeros for the missing connections; zero
//! terms leave every sum unchanged, so the dense kernels serve table convolutions exactly.

use super::conv_direct;
use super::gemm::{gemm_accumulate, gemm_packed, gemm_transposed_a, pack_b, pack_b_transposed, GemmParams};
use super::lanes::{copy, Lanes, F4};
use super::winograd;
use super::{check_len, ShapeError};

/// Keras's padding modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding: the output shrinks by `kernel − 1`.
    Valid,
    /// Zero padding so that `out = ceil(in / stride)`.
    Same,
}

/// Rows a grouped product aims for: see [`Conv2dParams::image_group`].
const GROUP_ROWS: usize = 32;

/// See [`Conv2dParams::gathers`].
const GATHER_MAX_FILTERS: usize = 32;

/// Output length and leading padding along one axis, as TensorFlow computes them.
pub fn output_extent(input: usize, kernel: usize, stride: usize, padding: Padding) -> (usize, usize) {
    match padding {
        Padding::Valid => (if input >= kernel { (input - kernel) / stride + 1 } else { 0 }, 0),
        Padding::Same => {
            let out = input.div_ceil(stride);
            let total = ((out.max(1) - 1) * stride + kernel).saturating_sub(input);
            (out, total / 2)
        }
    }
}

/// The shape of one Conv2D applied to a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub in_c: usize,
    pub out_c: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub padding: Padding,
}

impl Conv2dParams {
    pub fn out_h(&self) -> usize {
        output_extent(self.in_h, self.k_h, self.stride_h, self.padding).0
    }

    pub fn out_w(&self) -> usize {
        output_extent(self.in_w, self.k_w, self.stride_w, self.padding).0
    }

    pub(crate) fn pad_top(&self) -> usize {
        output_extent(self.in_h, self.k_h, self.stride_h, self.padding).1
    }

    pub(crate) fn pad_left(&self) -> usize {
        output_extent(self.in_w, self.k_w, self.stride_w, self.padding).1
    }

    /// Values in one patch row: `k_h·k_w·in_c`.
    pub fn patch_len(&self) -> usize {
        self.k_h * self.k_w * self.in_c
    }

    /// Output positions per image: `out_h·out_w`.
    pub fn positions(&self) -> usize {
        self.out_h() * self.out_w()
    }

    pub fn x_len(&self) -> usize {
        self.batch * self.in_h * self.in_w * self.in_c
    }

    pub fn w_len(&self) -> usize {
        self.patch_len() * self.out_c
    }

    pub fn y_len(&self) -> usize {
        self.batch * self.positions() * self.out_c
    }

    fn cols_len(&self) -> usize {
        self.positions() * self.patch_len()
    }

    /// Images per product in the forward pass and the input gradient: enough for at least
    /// [`GROUP_ROWS`] rows. A layer with few output positions (LeNet-5's C5 has one) would
    /// otherwise run a product of a row or two per image, mostly tile padding and call overhead.
    /// Each output row is the same sum whatever the grouping, so the bits do not change.
    fn image_group(&self) -> usize {
        GROUP_ROWS.div_ceil(self.positions()).clamp(1, self.batch)
    }

    /// Patch rows of one group of images.
    fn group_cols_len(&self) -> usize {
        self.image_group() * self.cols_len()
    }

    /// The forward product for `images` images (the kernel's packing depends only on k and n).
    fn forward_gemm(&self, images: usize) -> GemmParams {
        GemmParams { m: images * self.positions(), k: self.patch_len(), n: self.out_c }
    }

    /// The kernel-gradient product: per image, `colsᵀ · dy`; with one position per image, over
    /// a group of images (`k` = images; see [`conv2d_backward`]).
    fn weight_grad_gemm(&self) -> GemmParams {
        let k = if self.positions() == 1 { self.image_group() } else { self.positions() };
        GemmParams { m: self.patch_len(), k, n: self.out_c }
    }

    fn input_grad_gemm(&self, images: usize) -> GemmParams {
        GemmParams { m: images * self.positions(), k: self.out_c, n: self.patch_len() }
    }

    /// Scratch for [`conv2d_forward`]: one image's patch rows, the packed kernel and room to
    /// pack the patch rows.
    pub fn forward_scratch_len(&self) -> usize {
        self.packed_w_len() + self.forward_packed_scratch_len()
    }

    /// The length of the kernel packed by [`conv2d_pack_weights`].
    pub fn packed_w_len(&self) -> usize {
        if winograd::applies(self) {
            winograd::packed_len(self)
        } else if conv_direct::applies(self) {
            self.w_len()
        } else {
            self.forward_gemm(1).pack_len()
        }
    }

    /// Scratch for [`conv2d_forward_packed`]: under simd128 a group's zero-padded images (none
    /// for 'valid' padding); otherwise patch rows and room to pack them.
    pub fn forward_packed_scratch_len(&self) -> usize {
        if winograd::applies(self) {
            winograd::forward_scratch_len(self)
        } else if conv_direct::applies(self) {
            conv_direct::forward_scratch_len(self)
        } else if self.gathers() {
            if self.padding == Padding::Valid {
                0
            } else {
                self.image_group() * self.padded_h() * self.padded_w() * self.in_c
            }
        } else {
            self.group_cols_len() + self.forward_gemm(self.image_group()).a_pack_len()
        }
    }

    /// Whether the forward product reads its patch rows straight from the images (simd128, few
    /// filters). Packing patch rows costs the same whatever the filter count and is shared by
    /// every 8-filter panel; with at most [`GATHER_MAX_FILTERS`] filters (LeNet-5's C3: 16) it is
    /// a large share of the work, with more (the Fashion ConvNet's 64–256) the packed rows run
    /// faster than gathered ones. Measured with `npm run bench:kernels`.
    fn gathers(&self) -> bool {
        cfg!(all(target_arch = "wasm32", target_feature = "simd128")) && self.out_c <= GATHER_MAX_FILTERS
    }

    /// Rows of the zero-padded input the forward pass reads: `(out_h − 1)·stride + k_h`.
    fn padded_h(&self) -> usize {
        (self.out_h() - 1) * self.stride_h + self.k_h
    }

    fn padded_w(&self) -> usize {
        (self.out_w() - 1) * self.stride_w + self.k_w
    }

    /// Scratch for [`conv2d_backward`], whose two phases reuse it. The kernel gradient: one
    /// image's patch rows (or the direct kernel's buffers), a group's patch rows transposed when
    /// an image has one position, one image's kernel-gradient partial sum otherwise, and room to
    /// pack the output gradients. The input gradient: a group's patch-row gradients, `Wᵀ`
    /// packed and room to pack the output gradients.
    pub fn backward_scratch_len(&self) -> usize {
        if winograd::applies(self) {
            return winograd::backward_scratch_len(self);
        }
        self.kernel_grad_scratch_len().max(self.input_grad_scratch_len())
    }

    fn kernel_grad_scratch_len(&self) -> usize {
        let own = if self.one_position_path() { self.group_cols_len() } else { self.w_len() };
        self.backward_cols_len() + own + self.weight_grad_gemm().scratch_len()
    }

    fn input_grad_scratch_len(&self) -> usize {
        self.group_cols_len() + self.input_grad_gemm(self.image_group()).scratch_len()
    }

    /// Whether the kernel gradient is one product over each group of images (one output
    /// position per image, and not a direct kernel).
    fn one_position_path(&self) -> bool {
        self.positions() == 1 && !conv_direct::applies(self)
    }

    /// The first part of [`backward_scratch_len`](Self::backward_scratch_len): one image's patch
    /// rows, or the direct kernel's padded image and gradient rows.
    fn backward_cols_len(&self) -> usize {
        let direct = if conv_direct::applies(self) { conv_direct::kernel_grad_scratch_len(self) } else { 0 };
        direct.max(self.cols_len()).max(self.gathered_scratch_len())
    }

    /// The zero-padded copy of one image that [`gathered`] reads for 'same' padding.
    fn gathered_scratch_len(&self) -> usize {
        if self.gathers() && self.padding == Padding::Same {
            self.padded_h() * self.padded_w() * self.in_c
        } else {
            0
        }
    }

    /// Checks that the configuration is usable: no zero sizes, a non-empty output.
    pub fn validate(&self) -> Result<(), String> {
        let named = [
            ("batch", self.batch),
            ("input height", self.in_h),
            ("input width", self.in_w),
            ("input channels", self.in_c),
            ("filters", self.out_c),
            ("kernel height", self.k_h),
            ("kernel width", self.k_w),
            ("stride height", self.stride_h),
            ("stride width", self.stride_w),
        ];
        if let Some((name, _)) = named.iter().find(|(_, v)| *v == 0) {
            return Err(format!("conv2d: {name} must be at least 1"));
        }
        if self.out_h() == 0 || self.out_w() == 0 {
            return Err(format!(
                "conv2d: a {}×{} kernel with 'valid' padding does not fit a {}×{} input",
                self.k_h, self.k_w, self.in_h, self.in_w
            ));
        }
        Ok(())
    }

    /// Checks the operand lengths.
    ///
    /// # Shapes
    /// `x`: batch·in_h·in_w·in_c, `w`: k_h·k_w·in_c·out_c, `b`: out_c, `y`: batch·out_h·out_w·out_c.
    pub fn check(&self, kernel: &'static str, x: usize, w: usize, b: usize, y: usize) -> Result<(), ShapeError> {
        let p = *self;
        check_len(kernel, "x", x, p.x_len(), || format!("batch·h·w·c = {}·{}·{}·{}", p.batch, p.in_h, p.in_w, p.in_c))?;
        check_len(kernel, "w", w, p.w_len(), || format!("kh·kw·in·out = {}·{}·{}·{}", p.k_h, p.k_w, p.in_c, p.out_c))?;
        check_len(kernel, "b", b, p.out_c, || "filters".into())?;
        check_len(kernel, "y", y, p.y_len(), || {
            format!("batch·out_h·out_w·filters = {}·{}·{}·{}", p.batch, p.out_h(), p.out_w(), p.out_c)
        })
    }
}

fn fail(e: impl core::fmt::Display) -> ! {
    panic!("{e}")
}

/// Writes one image's patch rows: `cols[p, (kh·k_w + kw)·in_c + c]`, zeros for padding.
fn im2col(p: &Conv2dParams, image: &[f32], cols: &mut [f32]) {
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
fn col2im(p: &Conv2dParams, dcols: &[f32], dimage: &mut [f32]) {
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

/// `y = conv(x, w) + b`.
///
/// # Shapes
/// See [`Conv2dParams::check`]; `scratch`: at least [`Conv2dParams::forward_scratch_len`].
pub fn conv2d_forward(p: &Conv2dParams, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32], scratch: &mut [f32]) {
    p.validate().unwrap_or_else(|e| fail(e));
    p.check("conv2d_forward", x.len(), w.len(), b.len(), y.len()).unwrap_or_else(|e| fail(e));
    assert!(scratch.len() >= p.forward_scratch_len(), "conv2d_forward: scratch too small");
    let (packed_w, rest) = scratch.split_at_mut(p.packed_w_len());
    conv2d_pack_weights(p, w, packed_w);
    conv2d_forward_packed(p, x, packed_w, b, y, rest);
}

/// Packs a kernel for [`conv2d_forward_packed`]: pack once, run many batches (inference).
///
/// # Shapes
/// `w`: k_h·k_w·in_c·out_c; `packed`: at least [`Conv2dParams::packed_w_len`].
pub fn conv2d_pack_weights(p: &Conv2dParams, w: &[f32], packed: &mut [f32]) {
    assert_eq!(w.len(), p.w_len(), "conv2d_pack_weights: w has {} values, expected {}", w.len(), p.w_len());
    if winograd::applies(p) {
        winograd::pack_weights(p, w, packed);
    } else if conv_direct::applies(p) {
        // The direct kernel reads the HWIO kernel as it is.
        copy(&mut packed[..w.len()], w);
    } else {
        pack_b(&p.forward_gemm(1), w, packed);
    }
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
    p.validate().unwrap_or_else(|e| fail(e));
    p.check("conv2d_forward", x.len(), p.w_len(), b.len(), y.len()).unwrap_or_else(|e| fail(e));
    assert!(packed_w.len() >= p.packed_w_len(), "conv2d_forward_packed: the packed kernel is too short");
    assert!(scratch.len() >= p.forward_packed_scratch_len(), "conv2d_forward_packed: scratch too small");
    let image_len = p.in_h * p.in_w * p.in_c;
    let out_len = p.positions() * p.out_c;
    if winograd::applies(p) {
        winograd::forward(p, x, packed_w, Some(b), y, scratch);
        return;
    }
    if conv_direct::applies(p) {
        for n in 0..p.batch {
            let (image, y_n) = (&x[n * image_len..(n + 1) * image_len], &mut y[n * out_len..(n + 1) * out_len]);
            conv_direct::forward(p, image, &packed_w[..p.w_len()], b, y_n, scratch);
        }
        return;
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if p.gathers() {
        forward_gathered(p, x, packed_w, b, y, scratch);
        return;
    }
    forward_im2col(p, x, packed_w, b, y, scratch);
}

/// The forward pass as im2col + GEMM, a group of images at a time.
fn forward_im2col(p: &Conv2dParams, x: &[f32], packed_w: &[f32], b: &[f32], y: &mut [f32], scratch: &mut [f32]) {
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
/// ([`gemm_gathered`](super::gemm::simd::gemm_gathered)), zero-padded first for 'same' padding,
/// a group of images at a time. The same sums as im2col + GEMM, so the same bits.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn forward_gathered(p: &Conv2dParams, x: &[f32], packed_w: &[f32], b: &[f32], y: &mut [f32], scratch: &mut [f32]) {
    use super::gemm::simd::gemm_gathered;
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
fn gathered<'a>(p: &Conv2dParams, images: &'a [f32], scratch: &'a mut [f32]) -> super::gemm::simd::Gathered<'a> {
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
    super::gemm::simd::Gathered {
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

/// The length of the kernel packed by [`conv2d_pack_weights_t`].
pub fn conv2d_packed_w_t_len(p: &Conv2dParams) -> usize {
    if winograd::applies(p) {
        return winograd::packed_t_len(p);
    }
    p.input_grad_gemm(1).pack_len()
}

/// Packs `Wᵀ` for the input gradient of [`conv2d_backward_packed`]: pack once per weight
/// update, run many (micro-)batches.
pub fn conv2d_pack_weights_t(p: &Conv2dParams, w: &[f32], packed_t: &mut [f32]) {
    assert_eq!(w.len(), p.w_len(), "conv2d_pack_weights_t: w has {} values, expected {}", w.len(), p.w_len());
    if winograd::applies(p) {
        return winograd::pack_weights_t(p, w, packed_t);
    }
    // Wᵀ is filters × patch; W (patch × filters) is its transpose.
    pack_b_transposed(&p.input_grad_gemm(1), w, packed_t);
}

/// The gradient buffers [`conv2d_backward`] overwrites.
pub struct Conv2dGrads<'a> {
    /// ∂L/∂x, like `x`; `None` when nothing needs it (the network's first layer), which skips
    /// the input-gradient product.
    pub dx: Option<&'a mut [f32]>,
    /// ∂L/∂W, like `w` (HWIO).
    pub dw: &'a mut [f32],
    /// ∂L/∂b, `out_c`.
    pub db: &'a mut [f32],
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
    conv2d_backward_packed(p, x, w, None, dy, grads, scratch)
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
    p.validate().unwrap_or_else(|e| fail(e));
    p.check("conv2d_backward", x.len(), w.len(), grads.db.len(), dy.len()).unwrap_or_else(|e| fail(e));
    if let Some(dx) = &grads.dx {
        check_len("conv2d_backward", "dx", dx.len(), p.x_len(), || "like x".into()).unwrap_or_else(|e| fail(e));
    }
    check_len("conv2d_backward", "dw", grads.dw.len(), p.w_len(), || "like w".into()).unwrap_or_else(|e| fail(e));
    assert!(scratch.len() >= p.backward_scratch_len(), "conv2d_backward: scratch too small");
    if winograd::applies(p) {
        return winograd::backward(p, x, w, packed_w_t, dy, grads, scratch);
    }
    let (positions, patch, filters) = (p.positions(), p.patch_len(), p.out_c);
    let image_len = p.in_h * p.in_w * p.in_c;
    let out_len = positions * filters;

    let direct = conv_direct::applies(p);
    let group = p.image_group();

    let Conv2dGrads { dx, dw, db } = grads;
    dw.fill(0.0);
    db.fill(0.0);
    // The kernel gradient's use of the scratch.
    let (cols, rest) = scratch.split_at_mut(p.backward_cols_len());
    if p.one_position_path() {
        let (cols_g, pack) = rest.split_at_mut(p.group_cols_len());
        // One position per image: each image's partial sum is the outer product of its patch row
        // and its output gradient, so dW[k, f] += cols_n[k]·dy_n[f] over the images in order: a
        // product over a group of images that continues from dW. (A one-term partial sum is
        // `0 + x·dy`, which adds to dW as `x·dy` does: dW starts at +0 and never becomes −0, so
        // a −0 term changes nothing.)
        for n0 in (0..p.batch).step_by(group) {
            let images = group.min(p.batch - n0);
            // The group's patch rows, transposed (patch × images) as they are written.
            let cols_gt = &mut cols_g[..images * patch];
            for i in 0..images {
                im2col(p, &x[(n0 + i) * image_len..(n0 + i + 1) * image_len], &mut cols[..patch]);
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
            if direct {
                // The patch rows' buffer holds the direct kernel's padded image and gradient
                // rows; the kernel adds this image's rows into db too.
                conv_direct::kernel_grad(p, image, dy_n, partial, db, cols);
            } else if p.gathers() {
                gathered_kernel_grad(p, image, dy_n, partial, pack, cols);
                add_bias_grad(dy_n, filters, db);
            } else {
                // colsᵀ · dy, packing colsᵀ straight from the patch rows.
                im2col(p, image, cols);
                gemm_transposed_a(&p.weight_grad_gemm(), &cols[..p.cols_len()], dy_n, partial, pack);
                add_bias_grad(dy_n, filters, db);
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
        let packed_w_t = given_or_packed(packed_w_t, conv2d_packed_w_t_len(p), own_packed_w_t, |own| {
            conv2d_pack_weights_t(p, w, own)
        });
        // A group's patch-row gradients, then scattered into each image's input gradient.
        for n0 in (0..p.batch).step_by(group) {
            let images = group.min(p.batch - n0);
            let dcols = &mut cols_g[..images * p.cols_len()];
            let dy_g = &dy[n0 * out_len..(n0 + images) * out_len];
            gemm_packed(&p.input_grad_gemm(images), dy_g, packed_w_t, None, dcols, a_pack);
            for (i, dc) in dcols.chunks_exact(p.cols_len()).enumerate() {
                col2im(p, dc, &mut dx[(n0 + i) * image_len..(n0 + i + 1) * image_len]);
            }
        }
    }
}

/// The packed Wᵀ the caller gave (checked to hold `len` values), or else Wᵀ packed by `pack`
/// into `own`.
pub(super) fn given_or_packed<'a>(
    given: Option<&'a [f32]>,
    len: usize,
    own: &'a mut [f32],
    pack: impl FnOnce(&mut [f32]),
) -> &'a [f32] {
    match given {
        Some(packed) => {
            assert!(packed.len() >= len, "conv2d_backward: the packed Wᵀ has {} values, needs {len}", packed.len());
            packed
        }
        None => {
            pack(own);
            own
        }
    }
}

/// One image's kernel gradient, colsᵀ · dy, with the patch rows read from the image (padded
/// into `pad` for 'same'): the same packed panels and sums as im2col + `gemm_transposed_a`.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn gathered_kernel_grad(
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
    super::gemm::simd::gemm_gathered_transposed_a(&g, &a, pack, partial, a_pack);
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn gathered_kernel_grad(_: &Conv2dParams, _: &[f32], _: &[f32], _: &mut [f32], _: &mut [f32], _: &mut [f32]) {
    unreachable!("gathers() needs simd128")
}

/// `db += Σ_positions dy`, positions in order (of one image, or of images one after another).
pub(super) fn add_bias_grad(dy_n: &[f32], filters: usize, db: &mut [f32]) {
    for row in dy_n.chunks_exact(filters) {
        for (d, &s) in db.iter_mut().zip(row) {
            *d += s;
        }
    }
}

/// Which input maps each output map reads (LeNet-5's C3), and where each output map's compact
/// weights start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionTable {
    in_c: usize,
    inputs: Vec<Vec<usize>>,
}

impl ConnectionTable {
    /// `inputs[f]` lists, in ascending order, the input maps output map `f` reads.
    pub fn new(in_c: usize, inputs: Vec<Vec<usize>>) -> Result<Self, String> {
        for (f, list) in inputs.iter().enumerate() {
            if list.is_empty() {
                return Err(format!("connection table: output map {f} reads no input map"));
            }
            if list.windows(2).any(|w| w[0] >= w[1]) {
                return Err(format!("connection table: output map {f}'s inputs {list:?} are not strictly ascending"));
            }
            if let Some(&bad) = list.iter().find(|&&c| c >= in_c) {
                return Err(format!(
                    "connection table: output map {f} reads map {bad}, but there are {in_c} input maps"
                ));
            }
        }
        Ok(ConnectionTable { in_c, inputs })
    }

    pub fn out_c(&self) -> usize {
        self.inputs.len()
    }

    pub fn inputs(&self, f: usize) -> &[usize] {
        &self.inputs[f]
    }

    /// Trainable kernel weights: `Σ_f k_h·k_w·|inputs(f)|` (biases not included).
    pub fn compact_len(&self, k_h: usize, k_w: usize) -> usize {
        self.inputs.iter().map(|l| k_h * k_w * l.len()).sum()
    }

    /// Expands compact weights (for each output map f: `[k_h, k_w, |inputs(f)|]`) into a dense
    /// HWIO kernel with zeros where there is no connection.
    pub fn expand(&self, k_h: usize, k_w: usize, compact: &[f32], dense: &mut [f32]) {
        let out_c = self.out_c();
        assert_eq!(compact.len(), self.compact_len(k_h, k_w), "connection table: compact kernel length");
        assert_eq!(dense.len(), k_h * k_w * self.in_c * out_c, "connection table: dense kernel length");
        dense.fill(0.0);
        let mut at = 0;
        for (f, list) in self.inputs.iter().enumerate() {
            for k in 0..k_h * k_w {
                for &c in list {
                    dense[(k * self.in_c + c) * out_c + f] = compact[at];
                    at += 1;
                }
            }
        }
    }

    /// Gathers a dense HWIO kernel gradient back into compact form (the inverse of [`expand`]).
    ///
    /// [`expand`]: ConnectionTable::expand
    pub fn compact(&self, k_h: usize, k_w: usize, dense: &[f32], compact: &mut [f32]) {
        let out_c = self.out_c();
        assert_eq!(compact.len(), self.compact_len(k_h, k_w), "connection table: compact kernel length");
        assert_eq!(dense.len(), k_h * k_w * self.in_c * out_c, "connection table: dense kernel length");
        let mut at = 0;
        for (f, list) in self.inputs.iter().enumerate() {
            for k in 0..k_h * k_w {
                for &c in list {
                    compact[at] = dense[(k * self.in_c + c) * out_c + f];
                    at += 1;
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
            return winograd::scalar::forward(p, x, w, b, y);
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
            return winograd::scalar::backward(p, x, w, dy, grads);
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
                // One input channel and stride 1: the direct kernels (conv_direct.rs) under
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
