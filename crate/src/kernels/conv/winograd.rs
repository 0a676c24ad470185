//! Winograd F(2×2, 3×3) convolution: 3×3 kernels, stride 1, 'same' padding, many channels (the
//! Fashion ConvNet's conv2–conv5, which hold almost all of its arithmetic).
//!
//! Each 2×2 block of outputs ("tile") comes from the 4×4 block of the zero-padded input around
//! it. With `B`, `G` and `A` the F(2×2, 3×3) matrices (Lavin & Gray 2016):
//! - the input tile becomes `V = Bᵀ·d·B` and each 3×3 kernel slice `U = G·g·Gᵀ` (4×4 each);
//! - for each of the 16 positions ξ of a 4×4 tile, `M[ξ] = V[ξ] · U[ξ]` is a matrix product over
//!   the input channels (tiles × in_c times in_c × out_c), on the packed [`gemm`](crate::kernels::gemm);
//! - the outputs are `Aᵀ·M·A + b`.
//!
//! That is 16 products per 4 outputs instead of 36, at the cost of the transforms. The gradients
//! use the same identities: `∂L/∂U[ξ] = Σ_tiles V[ξ]ᵀ · (A·dY·Aᵀ)[ξ]` and `∂L/∂g = Gᵀ·(∂L/∂U)·G`;
//! the input gradient is this same convolution of `dy` with the kernel turned by 180° and its
//! channels swapped, whose transform is `U` with ξ's rows and columns permuted ([`SIGMA`]).
//!
//! The sums differ from direct convolution's by rounding only (tested against it); the order of
//! every sum is fixed and is the scalar reference's in [`scalar`]:
//! - every transform is the same lane-wise sequence of adds, subtracts and halvings (generic
//!   over [`Lanes`]: SIMD lanes are channels);
//! - `M[t, ξ, f] = Σ_c V[t, ξ, c]·U[ξ, c, f]` from +0.0 in ascending `c`, then `Aᵀ·M·A`, then `+ b`;
//! - `∂L/∂U[ξ, c, f]` is one sum over all tiles of the batch (image by image, tiles row by row),
//!   whatever the grouping of images.

use super::params::{add_bias_grad, given_or_packed, Conv2dGrads, Conv2dParams, Padding};
use crate::kernels::gemm::{gemm_packed, gemm_transposed_a_accumulate, packed_index, GemmParams};
use crate::kernels::lanes::{Lanes, F4};

/// Positions of a transformed 4×4 tile.
const XI: usize = 16;

/// Tiles a group of images aims for: each of the 16 products of a group has this many rows.
/// The transformed tiles of a group stay in scratch, 16 values per tile and channel.
const TILE_ROWS: usize = 128;

/// Fewest input and output channels for the transform: with few channels the transforms, not
/// the products, would dominate. The Fashion ConvNet's layers have 64–256.
const MIN_CHANNELS: usize = 32;

/// The input gradient's kernel is turned by 180°: `G·J = P·G` with `J` the 3×3 flip and `P`
/// the permutation of `G`'s rows that swaps the first and last, so its transform is `U` with
/// each of ξ's row and column indices mapped through this.
const SIGMA: [usize; 4] = [3, 1, 2, 0];

/// Whether a convolution runs as Winograd F(2×2, 3×3): 3×3 kernel, stride 1, 'same' padding
/// (one row and column of zeros around), at least [`MIN_CHANNELS`] input and output channels,
/// both multiples of 8 (whole vectors and whole packed panels).
pub fn applies(p: &Conv2dParams) -> bool {
    p.k_h == 3
        && p.k_w == 3
        && p.stride_h == 1
        && p.stride_w == 1
        && p.padding == Padding::Same
        && p.in_c >= MIN_CHANNELS
        && p.out_c >= MIN_CHANNELS
        && p.in_c % 8 == 0
        && p.out_c % 8 == 0
}

/// Tiles per image: `⌈h/2⌉·⌈w/2⌉`.
fn per_image(p: &Conv2dParams) -> usize {
    p.in_h.div_ceil(2) * p.in_w.div_ceil(2)
}

/// Images per group: enough for about [`TILE_ROWS`] tiles.
fn group(p: &Conv2dParams) -> usize {
    (TILE_ROWS / per_image(p)).clamp(1, p.batch.max(1))
}

fn group_tiles(p: &Conv2dParams) -> usize {
    group(p) * per_image(p)
}

/// The product of one position ξ: `rows` tiles × `k` channels times `k` × `n` channels.
fn product(rows: usize, k: usize, n: usize) -> GemmParams {
    GemmParams { m: rows, k, n }
}

/// The arithmetic of [`forward`]'s 16 products (multiply-adds count two), for reports: the
/// direct convolution's `2·positions·9·in_c·out_c` becomes `2·tiles·16·in_c·out_c`, tiles
/// past the edge included. The transforms' adds are not counted.
pub fn product_flops(p: &Conv2dParams) -> f64 {
    2.0 * (p.batch * per_image(p) * XI) as f64 * (p.in_c * p.out_c) as f64
}

/// The kernel packed by [`pack_weights`]: 16 packed `in_c × out_c` operands.
pub fn packed_len(p: &Conv2dParams) -> usize {
    XI * product(1, p.in_c, p.out_c).pack_len()
}

/// The kernel packed by [`pack_weights_t`] for the input gradient: 16 `out_c × in_c` operands.
pub fn packed_t_len(p: &Conv2dParams) -> usize {
    XI * product(1, p.out_c, p.in_c).pack_len()
}

/// Scratch for [`forward`]: a group's transformed input tiles and products, and room to pack
/// the tiles.
pub fn forward_scratch_len(p: &Conv2dParams) -> usize {
    let t = group_tiles(p);
    XI * t * (p.in_c + p.out_c) + product(t, p.in_c, p.out_c).a_pack_len()
}

/// Scratch for [`backward`]: the kernel gradient's 16 sums, a group's transformed input tiles
/// and output-gradient tiles and room for their product; then (reusing it) the input gradient's
/// packed kernel and a forward pass's scratch.
pub fn backward_scratch_len(p: &Conv2dParams) -> usize {
    let t = group_tiles(p);
    let kernel = XI * p.in_c * p.out_c + XI * t * (p.in_c + p.out_c) + product(p.in_c, t, p.out_c).scratch_len();
    let input = packed_t_len(p) + forward_scratch_len(&swapped(p));
    kernel.max(input)
}

/// The input gradient as a convolution: `out_c` channels in, `in_c` out.
fn swapped(p: &Conv2dParams) -> Conv2dParams {
    Conv2dParams { in_c: p.out_c, out_c: p.in_c, ..*p }
}

/// `Bᵀ·d·B` of a 4×4 input tile (row-major, rows along the image's height).
#[inline(always)]
fn input_tile<L: Lanes>(d: &[L; 16]) -> [L; 16] {
    let mut t = *d;
    for j in 0..4 {
        t[j] = d[j].sub(d[8 + j]);
        t[4 + j] = d[4 + j].add(d[8 + j]);
        t[8 + j] = d[8 + j].sub(d[4 + j]);
        t[12 + j] = d[4 + j].sub(d[12 + j]);
    }
    let mut v = t;
    for i in (0..16).step_by(4) {
        v[i] = t[i].sub(t[i + 2]);
        v[i + 1] = t[i + 1].add(t[i + 2]);
        v[i + 2] = t[i + 2].sub(t[i + 1]);
        v[i + 3] = t[i + 1].sub(t[i + 3]);
    }
    v
}

/// `Aᵀ·m·A`: a 4×4 product tile to its 2×2 outputs.
#[inline(always)]
fn output_tile<L: Lanes>(m: &[L; 16]) -> [L; 4] {
    let mut r = [m[0]; 8];
    for j in 0..4 {
        r[j] = m[j].add(m[4 + j]).add(m[8 + j]);
        r[4 + j] = m[4 + j].sub(m[8 + j]).sub(m[12 + j]);
    }
    [r[0].add(r[1]).add(r[2]), r[1].sub(r[2]).sub(r[3]), r[4].add(r[5]).add(r[6]), r[5].sub(r[6]).sub(r[7])]
}

/// `G·g·Gᵀ`: a 3×3 kernel slice (row-major, `kh` then `kw`) to its 4×4 transform.
#[inline(always)]
fn filter_tile<L: Lanes>(g: &[L; 9]) -> [L; 16] {
    let half = L::splat(0.5);
    let mut t = [g[0]; 12];
    for j in 0..3 {
        let (a, b, c) = (g[j], g[3 + j], g[6 + j]);
        t[j] = a;
        t[3 + j] = a.add(b).add(c).mul(half);
        t[6 + j] = a.sub(b).add(c).mul(half);
        t[9 + j] = c;
    }
    let mut u = [g[0]; 16];
    for i in 0..4 {
        let (a, b, c) = (t[3 * i], t[3 * i + 1], t[3 * i + 2]);
        u[4 * i] = a;
        u[4 * i + 1] = a.add(b).add(c).mul(half);
        u[4 * i + 2] = a.sub(b).add(c).mul(half);
        u[4 * i + 3] = c;
    }
    u
}

/// `A·dy·Aᵀ`: a 2×2 output-gradient tile to the gradient of its 4×4 product tile.
#[inline(always)]
fn grad_output_tile<L: Lanes>(dy: &[L; 4]) -> [L; 16] {
    let zero = L::splat(0.0);
    let mut r = [zero; 8];
    for j in 0..2 {
        let (a, b) = (dy[j], dy[2 + j]);
        r[j] = a;
        r[2 + j] = a.add(b);
        r[4 + j] = a.sub(b);
        r[6 + j] = zero.sub(b);
    }
    let mut u = [zero; 16];
    for i in 0..4 {
        let (a, b) = (r[2 * i], r[2 * i + 1]);
        u[4 * i] = a;
        u[4 * i + 1] = a.add(b);
        u[4 * i + 2] = a.sub(b);
        u[4 * i + 3] = zero.sub(b);
    }
    u
}

/// `Gᵀ·u·G`: the gradient of a 4×4 kernel transform to the 3×3 kernel slice's.
#[inline(always)]
fn grad_filter_tile<L: Lanes>(u: &[L; 16]) -> [L; 9] {
    let half = L::splat(0.5);
    let mut t = [u[0]; 12];
    for j in 0..4 {
        let (a, b, c, d) = (u[j], u[4 + j], u[8 + j], u[12 + j]);
        t[j] = a.add(b.add(c).mul(half));
        t[4 + j] = b.sub(c).mul(half);
        t[8 + j] = b.add(c).mul(half).add(d);
    }
    let mut g = [u[0]; 9];
    for i in 0..3 {
        let (a, b, c, d) = (t[4 * i], t[4 * i + 1], t[4 * i + 2], t[4 * i + 3]);
        g[3 * i] = a.add(b.add(c).mul(half));
        g[3 * i + 1] = b.sub(c).mul(half);
        g[3 * i + 2] = b.add(c).mul(half).add(d);
    }
    g
}

/// Position ξ of the turned kernel's transform in the kernel's own.
fn turned(xi: usize) -> usize {
    SIGMA[xi / 4] * 4 + SIGMA[xi % 4]
}

/// Packs the 16 transforms `U[ξ]` (in_c × out_c each) of an HWIO kernel for [`forward`].
///
/// # Shapes
/// `w`: 9·in_c·out_c; `packed`: at least [`packed_len`].
pub fn pack_weights(p: &Conv2dParams, w: &[f32], packed: &mut [f32]) {
    let (ci, co) = (p.in_c, p.out_c);
    assert_eq!(w.len(), 9 * ci * co, "winograd: the kernel has {} values, expected 9·{ci}·{co}", w.len());
    assert!(packed.len() >= packed_len(p), "winograd: the pack has {} values, needs {}", packed.len(), packed_len(p));
    let b = product(1, ci, co);
    let slot = b.pack_len();
    for c in 0..ci {
        for f in (0..co).step_by(4) {
            let g: [F4; 9] = core::array::from_fn(|tap| F4::load(&w[(tap * ci + c) * co + f..]));
            let u = filter_tile(&g);
            let at = packed_index(&b, c, f);
            for (xi, v) in u.iter().enumerate() {
                v.store(&mut packed[xi * slot + at..]);
            }
        }
    }
}

/// Packs the input gradient's 16 transforms (out_c × out_c each: `U'[ξ][f, c] = U[σ(ξ)][c, f]`).
///
/// # Shapes
/// `w`: 9·in_c·out_c; `packed`: at least [`packed_t_len`].
pub fn pack_weights_t(p: &Conv2dParams, w: &[f32], packed: &mut [f32]) {
    let (ci, co) = (p.in_c, p.out_c);
    assert_eq!(w.len(), 9 * ci * co, "winograd: the kernel has {} values, expected 9·{ci}·{co}", w.len());
    assert!(
        packed.len() >= packed_t_len(p),
        "winograd: the pack has {} values, needs {}",
        packed.len(),
        packed_t_len(p)
    );
    let b = product(1, co, ci);
    let slot = b.pack_len();
    for f in 0..co {
        for c in (0..ci).step_by(4) {
            // Four input channels of one filter: a strided gather into the lanes.
            let g: [F4; 9] = core::array::from_fn(|tap| {
                let at = (tap * ci + c) * co + f;
                F4::load(&[w[at], w[at + co], w[at + 2 * co], w[at + 3 * co]])
            });
            let u = filter_tile(&g);
            let at = packed_index(&b, f, c);
            for xi in 0..XI {
                u[turned(xi)].store(&mut packed[xi * slot + at..]);
            }
        }
    }
}

/// The transformed input tiles of `images` (whole `h × w × ch` images): `v[ξ][t][c]` with the
/// tiles `t` image by image, row by row; zeros stand for the padding.
fn transform_input(h: usize, w: usize, ch: usize, images: &[f32], v: &mut [f32]) {
    let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
    let plane = images.len() / (h * w) * th * tw;
    let zero = F4::splat(0.0);
    for (i, image) in images.chunks_exact(h * w * ch).enumerate() {
        for a in 0..th {
            for b in 0..tw {
                let t = (i * th + a) * tw + b;
                if a >= 1 && b >= 1 && 2 * a + 3 <= h && 2 * b + 3 <= w {
                    // The whole 4×4 block is inside the image: sixteen loads at fixed offsets.
                    let base = ((2 * a - 1) * w + 2 * b - 1) * ch;
                    for c in (0..ch).step_by(4) {
                        let d: [F4; 16] =
                            core::array::from_fn(|k| F4::load(&image[base + ((k / 4) * w + k % 4) * ch + c..]));
                        for (xi, x) in input_tile(&d).iter().enumerate() {
                            x.store(&mut v[xi * plane + t * ch + c..]);
                        }
                    }
                    continue;
                }
                // Rows 2a−1..2a+3 and columns 2b−1..2b+3 of the image, where they exist.
                let rows = (2 * a).saturating_sub(1)..(2 * a + 3).min(h);
                let cols = (2 * b).saturating_sub(1)..(2 * b + 3).min(w);
                for c in (0..ch).step_by(4) {
                    let mut d = [zero; 16];
                    for r in rows.clone() {
                        for s in cols.clone() {
                            d[(r + 1 - 2 * a) * 4 + s + 1 - 2 * b] = F4::load(&image[(r * w + s) * ch + c..]);
                        }
                    }
                    for (xi, x) in input_tile(&d).iter().enumerate() {
                        x.store(&mut v[xi * plane + t * ch + c..]);
                    }
                }
            }
        }
    }
}

/// The transformed output-gradient tiles of `grads` (whole `h × w × ch` gradients): `u[ξ][t][c]`,
/// zeros for a tile's outputs past the edge.
fn transform_grad_output(h: usize, w: usize, ch: usize, grads: &[f32], u: &mut [f32]) {
    let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
    let plane = grads.len() / (h * w) * th * tw;
    let zero = F4::splat(0.0);
    for (i, grad) in grads.chunks_exact(h * w * ch).enumerate() {
        for a in 0..th {
            for b in 0..tw {
                let t = (i * th + a) * tw + b;
                for c in (0..ch).step_by(4) {
                    let mut d = [zero; 4];
                    for r in 2 * a..(2 * a + 2).min(h) {
                        for s in 2 * b..(2 * b + 2).min(w) {
                            d[(r - 2 * a) * 2 + s - 2 * b] = F4::load(&grad[(r * w + s) * ch + c..]);
                        }
                    }
                    for (xi, x) in grad_output_tile(&d).iter().enumerate() {
                        x.store(&mut u[xi * plane + t * ch + c..]);
                    }
                }
            }
        }
    }
}

/// Writes the outputs of the product tiles `m[ξ][t][c]` (`+ bias`) into whole `h × w × ch`
/// outputs; a tile's outputs past the edge are dropped.
fn transform_output(h: usize, w: usize, ch: usize, m: &[f32], bias: Option<&[f32]>, y: &mut [f32]) {
    let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
    let plane = y.len() / (h * w * ch) * th * tw * ch;
    for (i, out) in y.chunks_exact_mut(h * w * ch).enumerate() {
        for a in 0..th {
            for b in 0..tw {
                let t = (i * th + a) * tw + b;
                for c in (0..ch).step_by(4) {
                    let tile: [F4; 16] = core::array::from_fn(|xi| F4::load(&m[xi * plane + t * ch + c..]));
                    let o = output_tile(&tile);
                    let bias = bias.map(|b| F4::load(&b[c..]));
                    for r in 2 * a..(2 * a + 2).min(h) {
                        for s in 2 * b..(2 * b + 2).min(w) {
                            let mut v = o[(r - 2 * a) * 2 + s - 2 * b];
                            if let Some(b) = bias {
                                v = v.add(b);
                            }
                            v.store(&mut out[(r * w + s) * ch + c..]);
                        }
                    }
                }
            }
        }
    }
}

/// `y = conv(x, w) (+ b)` with the kernel packed by [`pack_weights`], a group of images at a
/// time: transform the group's tiles, 16 products, transform back.
///
/// # Shapes
/// As [`super::conv2d_forward_packed`]; `scratch`: at least [`forward_scratch_len`].
pub fn forward(p: &Conv2dParams, x: &[f32], packed: &[f32], bias: Option<&[f32]>, y: &mut [f32], scratch: &mut [f32]) {
    let (h, w, ci, co) = (p.in_h, p.in_w, p.in_c, p.out_c);
    assert!(packed.len() >= packed_len(p), "winograd: the packed kernel is too short");
    assert!(scratch.len() >= forward_scratch_len(p), "winograd: scratch too small");
    let (x_len, y_len) = (h * w * ci, h * w * co);
    let (images, gt) = (group(p), group_tiles(p));
    let (v, rest) = scratch.split_at_mut(XI * gt * ci);
    let (m, a_pack) = rest.split_at_mut(XI * gt * co);
    let slot = product(1, ci, co).pack_len();
    for n0 in (0..p.batch).step_by(images) {
        let n = images.min(p.batch - n0);
        let t = n * per_image(p);
        transform_input(h, w, ci, &x[n0 * x_len..(n0 + n) * x_len], &mut v[..XI * t * ci]);
        let gp = product(t, ci, co);
        for xi in 0..XI {
            let (a, c) = (&v[xi * t * ci..(xi + 1) * t * ci], &mut m[xi * t * co..(xi + 1) * t * co]);
            gemm_packed(&gp, a, &packed[xi * slot..(xi + 1) * slot], None, c, a_pack);
        }
        transform_output(h, w, co, &m[..XI * t * co], bias, &mut y[n0 * y_len..(n0 + n) * y_len]);
    }
}

/// Overwrites `grads` with the gradients of [`forward`] (with a bias) for `dy`. `packed_w_t`:
/// the kernel packed by [`pack_weights_t`], or `None` to pack it into the scratch.
///
/// # Shapes
/// As [`super::conv2d_backward_packed`]; `scratch`: at least [`backward_scratch_len`].
pub fn backward(
    p: &Conv2dParams,
    x: &[f32],
    w: &[f32],
    packed_w_t: Option<&[f32]>,
    dy: &[f32],
    grads: Conv2dGrads<'_>,
    scratch: &mut [f32],
) {
    let (h, wd, ci, co) = (p.in_h, p.in_w, p.in_c, p.out_c);
    assert!(scratch.len() >= backward_scratch_len(p), "winograd: scratch too small");
    let (x_len, y_len) = (h * wd * ci, h * wd * co);
    let Conv2dGrads { dx, dw, db } = grads;
    db.fill(0.0);
    add_bias_grad(dy, co, db);

    // ∂L/∂U[ξ] = Σ_tiles V[ξ]ᵀ · Ŷ[ξ], one sum over the batch's tiles continued group by group.
    let (du, rest) = scratch.split_at_mut(XI * ci * co);
    du.fill(0.0);
    let (images, gt) = (group(p), group_tiles(p));
    let (v, rest) = rest.split_at_mut(XI * gt * ci);
    let (yh, gemm_scratch) = rest.split_at_mut(XI * gt * co);
    for n0 in (0..p.batch).step_by(images) {
        let n = images.min(p.batch - n0);
        let t = n * per_image(p);
        transform_input(h, wd, ci, &x[n0 * x_len..(n0 + n) * x_len], &mut v[..XI * t * ci]);
        transform_grad_output(h, wd, co, &dy[n0 * y_len..(n0 + n) * y_len], &mut yh[..XI * t * co]);
        let gp = product(ci, t, co);
        for xi in 0..XI {
            let (a_t, b) = (&v[xi * t * ci..(xi + 1) * t * ci], &yh[xi * t * co..(xi + 1) * t * co]);
            gemm_transposed_a_accumulate(&gp, a_t, b, &mut du[xi * ci * co..(xi + 1) * ci * co], gemm_scratch);
        }
    }
    for c in 0..ci {
        for f in (0..co).step_by(4) {
            let u: [F4; 16] = core::array::from_fn(|xi| F4::load(&du[(xi * ci + c) * co + f..]));
            for (tap, g) in grad_filter_tile(&u).iter().enumerate() {
                g.store(&mut dw[(tap * ci + c) * co + f..]);
            }
        }
    }

    if let Some(dx) = dx {
        let (own, rest) = scratch.split_at_mut(packed_t_len(p));
        let packed = given_or_packed(packed_w_t, packed_t_len(p), own, |own| pack_weights_t(p, w, own));
        forward(&swapped(p), dy, packed, None, dx, rest);
    }
}

/// The reference: the same transforms and sums as plain loops over tiles, channels and
/// positions, one value at a time.
pub mod scalar {
    use super::*;

    /// The 16 transforms of an HWIO kernel, `u[ξ][c][f]`.
    fn transforms(ci: usize, co: usize, w: &[f32]) -> Vec<f32> {
        let mut u = vec![0.0; XI * ci * co];
        for c in 0..ci {
            for f in 0..co {
                let g: [f32; 9] = core::array::from_fn(|tap| w[(tap * ci + c) * co + f]);
                for (xi, &v) in filter_tile(&g).iter().enumerate() {
                    u[(xi * ci + c) * co + f] = v;
                }
            }
        }
        u
    }

    /// One image's tile (a, b) of channel `c`, zeros outside.
    fn tile(h: usize, w: usize, ch: usize, image: &[f32], a: usize, b: usize, c: usize) -> [f32; 16] {
        core::array::from_fn(|i| {
            let (r, s) = ((2 * a + i / 4) as isize - 1, (2 * b + i % 4) as isize - 1);
            if r < 0 || s < 0 || r >= h as isize || s >= w as isize {
                0.0
            } else {
                image[(r as usize * w + s as usize) * ch + c]
            }
        })
    }

    /// The convolution with transforms `u[ξ][c][f]` (ci → co channels).
    fn convolve(p: &Conv2dParams, ci: usize, co: usize, x: &[f32], u: &[f32], b: Option<&[f32]>, y: &mut [f32]) {
        let (h, w) = (p.in_h, p.in_w);
        for n in 0..p.batch {
            let image = &x[n * h * w * ci..(n + 1) * h * w * ci];
            let out = &mut y[n * h * w * co..(n + 1) * h * w * co];
            for a in 0..h.div_ceil(2) {
                for bb in 0..w.div_ceil(2) {
                    let v: Vec<[f32; 16]> = (0..ci).map(|c| input_tile(&tile(h, w, ci, image, a, bb, c))).collect();
                    for f in 0..co {
                        let m: [f32; 16] = core::array::from_fn(|xi| {
                            let mut acc = 0.0f32;
                            for (c, vc) in v.iter().enumerate() {
                                acc += vc[xi] * u[(xi * ci + c) * co + f];
                            }
                            acc
                        });
                        let o = output_tile(&m);
                        for (i, &val) in o.iter().enumerate() {
                            let (r, s) = (2 * a + i / 2, 2 * bb + i % 2);
                            if r < h && s < w {
                                out[(r * w + s) * co + f] = b.map_or(val, |b| val + b[f]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// See [`super::forward`].
    pub fn forward(p: &Conv2dParams, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
        let u = transforms(p.in_c, p.out_c, w);
        convolve(p, p.in_c, p.out_c, x, &u, Some(b), y);
    }

    /// See [`super::backward`].
    pub fn backward(p: &Conv2dParams, x: &[f32], w: &[f32], dy: &[f32], grads: Conv2dGrads<'_>) {
        let (h, wd, ci, co) = (p.in_h, p.in_w, p.in_c, p.out_c);
        let Conv2dGrads { dx, dw, db } = grads;
        db.fill(0.0);
        for row in dy.chunks_exact(co) {
            for f in 0..co {
                db[f] += row[f];
            }
        }
        // Every tile's V and Ŷ, tiles in order over the batch.
        let mut vs: Vec<Vec<[f32; 16]>> = Vec::new();
        let mut ys: Vec<Vec<[f32; 16]>> = Vec::new();
        for n in 0..p.batch {
            let image = &x[n * h * wd * ci..(n + 1) * h * wd * ci];
            let grad = &dy[n * h * wd * co..(n + 1) * h * wd * co];
            for a in 0..h.div_ceil(2) {
                for b in 0..wd.div_ceil(2) {
                    vs.push((0..ci).map(|c| input_tile(&tile(h, wd, ci, image, a, b, c))).collect());
                    ys.push(
                        (0..co)
                            .map(|f| {
                                grad_output_tile(&core::array::from_fn(|i| {
                                    let (r, s) = (2 * a + i / 2, 2 * b + i % 2);
                                    if r < h && s < wd {
                                        grad[(r * wd + s) * co + f]
                                    } else {
                                        0.0
                                    }
                                }))
                            })
                            .collect(),
                    );
                }
            }
        }
        for c in 0..ci {
            for f in 0..co {
                let du: [f32; 16] = core::array::from_fn(|xi| {
                    let mut acc = 0.0f32;
                    for (v, y) in vs.iter().zip(&ys) {
                        acc += v[c][xi] * y[f][xi];
                    }
                    acc
                });
                for (tap, &g) in grad_filter_tile(&du).iter().enumerate() {
                    dw[(tap * ci + c) * co + f] = g;
                }
            }
        }
        if let Some(dx) = dx {
            let u = transforms(ci, co, w);
            let mut u_t = vec![0.0; u.len()];
            for xi in 0..XI {
                for f in 0..co {
                    for c in 0..ci {
                        u_t[(xi * co + f) * ci + c] = u[(turned(xi) * ci + c) * co + f];
                    }
                }
            }
            convolve(p, co, ci, dy, &u_t, None, dx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    fn params(batch: usize, h: usize, w: usize, in_c: usize, out_c: usize) -> Conv2dParams {
        Conv2dParams {
            batch,
            in_h: h,
            in_w: w,
            in_c,
            out_c,
            k_h: 3,
            k_w: 3,
            stride_h: 1,
            stride_w: 1,
            padding: Padding::Same,
        }
    }

    fn fast_forward(p: &Conv2dParams, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
        let mut packed = vec![f32::NAN; packed_len(p)];
        pack_weights(p, w, &mut packed);
        let mut y = vec![f32::NAN; p.y_len()];
        forward(p, x, &packed, Some(b), &mut y, &mut vec![f32::NAN; forward_scratch_len(p)]);
        y
    }

    /// (dx, dw, db) from [`backward`], packing Wᵀ itself or (`pre_packed`) given it.
    fn fast_backward(p: &Conv2dParams, x: &[f32], w: &[f32], dy: &[f32], pre_packed: bool) -> [Vec<f32>; 3] {
        let (mut dx, mut dw, mut db) = (vec![f32::NAN; p.x_len()], vec![f32::NAN; p.w_len()], vec![f32::NAN; p.out_c]);
        let mut packed = vec![f32::NAN; packed_t_len(p)];
        pack_weights_t(p, w, &mut packed);
        let g = Conv2dGrads { dx: Some(&mut dx), dw: &mut dw, db: &mut db };
        let given = pre_packed.then_some(&packed[..]);
        backward(p, x, w, given, dy, g, &mut vec![f32::NAN; backward_scratch_len(p)]);
        [dx, dw, db]
    }

    /// Direct convolution in f64, and each output's Σ|terms| (the scale of its rounding).
    fn direct_f64(p: &Conv2dParams, x: &[f32], w: &[f32], b: &[f32]) -> (Vec<f64>, Vec<f64>) {
        let (h, wd, ci, co) = (p.in_h as isize, p.in_w as isize, p.in_c, p.out_c);
        let (mut y, mut scale) = (vec![0.0; p.y_len()], vec![0.0; p.y_len()]);
        for n in 0..p.batch {
            for r in 0..h {
                for s in 0..wd {
                    for f in 0..co {
                        let (mut acc, mut mag) = (b[f] as f64, (b[f] as f64).abs());
                        for kh in 0..3 {
                            for kw in 0..3 {
                                let (ir, is) = (r + kh - 1, s + kw - 1);
                                if ir < 0 || is < 0 || ir >= h || is >= wd {
                                    continue;
                                }
                                for c in 0..ci {
                                    let xv = x[((n as isize * h + ir) * wd + is) as usize * ci + c] as f64;
                                    let term = xv * w[((kh * 3 + kw) as usize * ci + c) * co + f] as f64;
                                    acc += term;
                                    mag += term.abs();
                                }
                            }
                        }
                        let at = ((n as isize * h + r) * wd + s) as usize * co + f;
                        (y[at], scale[at]) = (acc, mag);
                    }
                }
            }
        }
        (y, scale)
    }

    kernel_test!(
        fn applies_to_the_fashion_layers_only() {
            for (h, ci, co) in [(14, 64, 128), (14, 128, 128), (7, 128, 256), (7, 256, 256)] {
                assert!(applies(&params(32, h, h, ci, co)), "{h}×{h}, {ci} → {co}");
            }
            assert!(!applies(&params(1, 28, 28, 1, 64)), "one input channel");
            assert!(!applies(&params(1, 8, 8, 16, 32)), "16 channels");
            assert!(!applies(&params(1, 8, 8, 36, 32)), "36 channels: not whole panels");
            let strided = Conv2dParams { stride_h: 2, stride_w: 2, ..params(1, 8, 8, 32, 32) };
            let valid = Conv2dParams { padding: Padding::Valid, ..params(1, 8, 8, 32, 32) };
            let five = Conv2dParams { k_h: 5, k_w: 5, ..params(1, 8, 8, 32, 32) };
            assert!(!applies(&strided) && !applies(&valid) && !applies(&five));
        }
    );

    kernel_test!(
        fn fast_path_matches_scalar() {
            let mut rng = test_rng(41);
            // Odd and even sizes (a last tile half outside), one-row images, groups of images
            // that do not divide the batch (49 tiles: 2 images a group), many images a group.
            for p in [
                params(2, 7, 6, 32, 40),
                params(3, 14, 14, 32, 48),
                params(2, 1, 5, 40, 32),
                params(5, 3, 3, 32, 32),
                params(1, 5, 8, 64, 40),
            ] {
                let (x, w, b) =
                    (random_vec(&mut rng, p.x_len()), random_vec(&mut rng, p.w_len()), random_vec(&mut rng, p.out_c));
                let dy = random_vec(&mut rng, p.y_len());
                let mut want = vec![f32::NAN; p.y_len()];
                scalar::forward(&p, &x, &w, &b, &mut want);
                assert_bits_eq(&fast_forward(&p, &x, &w, &b), &want, &format!("y {p:?}"));

                let (mut dx, mut dw, mut db) =
                    (vec![f32::NAN; p.x_len()], vec![f32::NAN; p.w_len()], vec![f32::NAN; p.out_c]);
                scalar::backward(&p, &x, &w, &dy, Conv2dGrads { dx: Some(&mut dx), dw: &mut dw, db: &mut db });
                for pre_packed in [false, true] {
                    let [gx, gw, gb] = fast_backward(&p, &x, &w, &dy, pre_packed);
                    assert_bits_eq(&gx, &dx, &format!("dx {p:?} pre-packed {pre_packed}"));
                    assert_bits_eq(&gw, &dw, &format!("dw {p:?}"));
                    assert_bits_eq(&gb, &db, &format!("db {p:?}"));
                }
            }
        }
    );

    kernel_test!(
        fn matches_direct_convolution_to_rounding() {
            let mut rng = test_rng(42);
            for p in [params(2, 7, 6, 32, 40), params(1, 14, 14, 64, 32)] {
                let (x, w, b) =
                    (random_vec(&mut rng, p.x_len()), random_vec(&mut rng, p.w_len()), random_vec(&mut rng, p.out_c));
                let got = fast_forward(&p, &x, &w, &b);
                let (want, scale) = direct_f64(&p, &x, &w, &b);
                for i in 0..got.len() {
                    let err = (got[i] as f64 - want[i]).abs();
                    assert!(
                        err <= 1e-5 * scale[i],
                        "y[{i}] of {p:?}: {} against {} (Σ|terms| {})",
                        got[i],
                        want[i],
                        scale[i]
                    );
                }
            }
        }
    );

    kernel_test!(
        fn gradients_match_finite_differences() {
            let mut rng = test_rng(43);
            let p = params(2, 5, 4, 32, 32);
            let (x, w, b) =
                (random_vec(&mut rng, p.x_len()), random_vec(&mut rng, p.w_len()), random_vec(&mut rng, p.out_c));
            let dy = random_vec(&mut rng, p.y_len());
            let [dx, dw, db] = fast_backward(&p, &x, &w, &dy, false);
            let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
                fast_forward(&p, x, w, b).iter().zip(&dy).map(|(&y, &d)| y as f64 * d as f64).sum()
            };
            check_gradient("dx", &mut x.clone(), &dx, 60, |xv| loss(xv, &w, &b));
            check_gradient("dw", &mut w.clone(), &dw, 60, |wv| loss(&x, wv, &b));
            check_gradient("db", &mut b.clone(), &db, 20, |bv| loss(&x, &w, bv));
        }
    );
}
