//! Winograd F(m×m, 3×3) convolution, m = 2 or 4: 3×3 kernels, stride 1, 'same' padding, many
//! channels (the Fashion ConvNets' 3×3 layers, which hold almost all of their arithmetic).
//!
//! Each m×m block of outputs ("tile") comes from the n×n block (n = m + 2) of the zero-padded
//! input around it. With `B`, `G` and `A` the F(m×m, 3×3) matrices (Lavin & Gray 2016; for
//! m = 4 the points 0, ±1, ±2 and ∞):
//! - the input tile becomes `V = Bᵀ·d·B` and each 3×3 kernel slice `U = G·g·Gᵀ` (n×n each);
//! - for each of the n² positions ξ of a tile, `M[ξ] = V[ξ] · U[ξ]` is a matrix product over
//!   the input channels (tiles × in_c times in_c × out_c), on the packed [`gemm`](crate::kernels::gemm);
//! - the outputs are `Aᵀ·M·A + b`.
//!
//! F(2×2) does 16 products per 4 outputs, F(4×4) 36 per 16, against direct convolution's 9 per
//! output; F(4×4)'s transforms cost more and round more. With F(4×4), a side of the map that is
//! not a multiple of 4 ends in a tile of 3 outputs on the points 0, ±1, 2, ∞ (F(3, 3), 5 of the
//! 6) or of 2 on 0, ±1, ∞ (F(2, 3)), with `G`'s rows for those points unchanged and the scaling
//! moved into their `Bᵀ`: each tile's `U[ξ]` is one of the 36 packed, and a 7×7 map takes 11×11
//! products instead of 12×12, a 14×14 one 22×22 instead of 24×24 ([`Side`]). The products of
//! a position ξ have a row for each tile that has it. [`Tile::of`] picks the tiling with fewer
//! products for the map's size, F(2×2) on ties.
//! The gradients use the same identities: `∂L/∂U[ξ] = Σ_tiles V[ξ]ᵀ · (A·dY·Aᵀ)[ξ]` (over the
//! tiles that have ξ) and `∂L/∂g = Gᵀ·(∂L/∂U)·G`; the input gradient is this same convolution of
//! `dy` with the kernel turned by 180° and its channels swapped (for F(2×2) its transform is `U`
//! with ξ's rows and columns permuted, [`SIGMA`]; for F(4×4), whose points are not closed under
//! `x → 1/x`, the transform of the turned kernel).
//!
//! The sums differ from direct convolution's by rounding only (tested against it); the order of
//! every sum is fixed and is the scalar reference's in [`scalar`]:
//! - every transform is the same lane-wise sequence of adds, subtracts and multiplications by
//!   constants (generic over [`Lanes`]: SIMD lanes are channels);
//! - `M[t, ξ, f] = Σ_c V[t, ξ, c]·U[ξ, c, f]` from +0.0 in ascending `c`, then `Aᵀ·M·A`, then `+ b`;
//! - `∂L/∂U[ξ, c, f]` is one sum over the batch's tiles that have ξ (image by image, tiles row
//!   by row), whatever the grouping of images.

use super::params::{add_bias_grad, given_or_packed, Conv2dGrads, Conv2dParams, Padding};
use crate::kernels::gemm::{gemm_packed, gemm_transposed_a_accumulate, packed_index, GemmParams};
use crate::kernels::lanes::{Lanes, F4};

/// Room for the largest tile's positions (F(4×4): 6×6) and outputs (4×4).
const MAX_XI: usize = 36;
const MAX_OUT: usize = 16;

/// Tiles a group of images aims for: each of the products of a group has this many rows.
/// The transformed tiles of a group stay in scratch, n² values per tile and channel: F(4×4)'s
/// 36 per tile take fewer tiles a group, which keeps its scratch small at about the same speed
/// (docs/performance.md).
const fn tile_rows(tile: Tile) -> usize {
    match tile {
        Tile::F2 => 128,
        Tile::F4 => 32,
    }
}

/// Input channels per block of [`pack_weights`]: the lines of the kernel a block reads (9 taps ×
/// 32 channels, 64 bytes for 16 filters each, 18 KiB) stay in L1 while its filters are
/// transformed, each read once (docs/performance.md).
const PACK_CHANNELS: usize = 32;

/// Floats between one position's tiles and the next's beyond their `tiles × channels`: the
/// transforms write (and read) all n² planes at once, and planes a power of two apart (128
/// tiles of 128 or 256 channels) would all fall in the same cache sets.
const PLANE_PAD: usize = 16;

/// The stride between the planes of `t` tiles of `ch` channels.
fn plane(t: usize, ch: usize) -> usize {
    t * ch + PLANE_PAD
}

/// Fewest input and output channels for the transform: with few channels the transforms, not
/// the products, would dominate. At 16 channels (28×28, batch 32) Winograd still takes about 0.7×
/// the GEMM path's forward time and 0.6× its backward; at 8 its forward is slower
/// (docs/performance.md).
const MIN_CHANNELS: usize = 16;

/// F(2×2)'s input gradient: its kernel is turned by 180°: `G·J = P·G` with `J` the 3×3 flip and
/// `P` the permutation of `G`'s rows that swaps the first and last, so its transform is `U` with
/// each of ξ's row and column indices mapped through this.
const SIGMA: [usize; 4] = [3, 1, 2, 0];

/// Whether a convolution runs as Winograd: 3×3 kernel, stride 1, 'same' padding (one row and
/// column of zeros around), at least [`MIN_CHANNELS`] input and output channels, both multiples
/// of 8 (whole vectors and whole packed panels).
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

/// The size of a tile: F(2×2, 3×3) or F(4×4, 3×3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tile {
    F2,
    F4,
}

impl Tile {
    /// The tiling with fewer products per image for this geometry (it depends on the map's size
    /// only, so a layer's input gradient runs on the same tiles as its forward pass); F(2×2) on
    /// ties. 28×28, 14×14 and 7×7 maps run F(4×4) (1.78×, 1.62× and 2.12× fewer products).
    pub fn of(p: &Conv2dParams) -> Tile {
        if Tile::F4.products_per_image(p) < Tile::F2.products_per_image(p) {
            Tile::F4
        } else {
            Tile::F2
        }
    }

    /// Outputs per side of a whole tile, m.
    pub const fn outputs(self) -> usize {
        match self {
            Tile::F2 => 2,
            Tile::F4 => 4,
        }
    }

    /// Positions ξ of a whole transformed tile, (m + 2)².
    pub const fn positions(self) -> usize {
        (self.outputs() + 2) * (self.outputs() + 2)
    }

    /// Whether a tile side of `k` outputs has the point with index `i` (of the m + 2): a side of
    /// F(4×4) with 3 outputs lacks −2 (index 4), one with 2 lacks ±2 (3 and 4).
    const fn has(self, k: usize, i: usize) -> bool {
        match self {
            Tile::F2 => true,
            Tile::F4 => i <= k || i == 5,
        }
    }

    /// How a side of `len` outputs is cut into tiles.
    fn side(self, len: usize) -> Side {
        let m = self.outputs();
        let tiles = len.div_ceil(m).max(1);
        let rest = len.saturating_sub(m * (tiles - 1));
        let last = match self {
            Tile::F2 => 2,
            Tile::F4 => rest.clamp(2, 4),
        };
        let count = core::array::from_fn(|i| tiles - usize::from(!self.has(last, i)));
        Side { m, tiles, last, count }
    }

    /// The map's tiles.
    fn tiles(self, p: &Conv2dParams) -> Tiles {
        Tiles { h: self.side(p.in_h), w: self.side(p.in_w) }
    }

    /// Tiles per image: `⌈h/m⌉·⌈w/m⌉`.
    fn per_image(self, p: &Conv2dParams) -> usize {
        let t = self.tiles(p);
        t.h.tiles * t.w.tiles
    }

    /// Rows of all of an image's products: one per tile and position the tile has.
    fn products_per_image(self, p: &Conv2dParams) -> usize {
        let t = self.tiles(p);
        t.h.positions() * t.w.positions()
    }

    pub fn name(self) -> &'static str {
        match self {
            Tile::F2 => "F(2×2, 3×3)",
            Tile::F4 => "F(4×4, 3×3)",
        }
    }
}

/// One side of the map cut into tiles: `tiles − 1` of `m` outputs, then one of `last` (F(2×2):
/// 2; F(4×4): 4, 3, or 2 where the side leaves 2 or 1).
#[derive(Clone, Copy, Debug)]
struct Side {
    m: usize,
    tiles: usize,
    last: usize,
    /// How many of the side's tiles have each point.
    count: [usize; 6],
}

impl Side {
    /// The outputs of tile `a`.
    fn kind(&self, a: usize) -> usize {
        if a + 1 == self.tiles {
            self.last
        } else {
            self.m
        }
    }

    /// Points over all of the side's tiles.
    fn positions(&self) -> usize {
        (self.tiles - 1) * (self.m + 2) + self.last + 2
    }
}

/// A map's tiles: a position ξ = (i, j) of an image's tile (a, b) is row `(a·count_w[j] + b)`
/// of the image's `count_h[i]·count_w[j]` rows of the product of ξ (tiles without the point
/// have none): the tiles that have ξ, in order.
#[derive(Clone, Copy, Debug)]
struct Tiles {
    h: Side,
    w: Side,
}

impl Tiles {
    /// Rows of the product of ξ for `images` images.
    fn rows(&self, xi: usize, images: usize) -> usize {
        let n = self.h.m + 2;
        images * self.h.count[xi / n] * self.w.count[xi % n]
    }

    /// The row of tile (a, b) of image `i` (of the group) in the product of ξ, if it has ξ.
    fn row(&self, xi: usize, i: usize, a: usize, b: usize) -> usize {
        let n = self.h.m + 2;
        let (ch, cw) = (self.h.count[xi / n], self.w.count[xi % n]);
        (i * ch + a) * cw + b
    }

    /// Where each position of tile (a, b) of image `i` goes: `ξ·plane + row·ch` (unused for
    /// the positions it does not have).
    fn offsets(&self, i: usize, a: usize, b: usize, plane: usize, ch: usize) -> [usize; MAX_XI] {
        let n = self.h.m + 2;
        core::array::from_fn(|xi| if xi < n * n { xi * plane + self.row(xi, i, a, b) * ch } else { 0 })
    }

    /// Calls `f(i, a, b, offsets)` for each tile (a, b) of `images` images, in order, with its
    /// [`Tiles::offsets`] in planes `plane` apart of `ch` channels.
    fn each(&self, images: usize, plane: usize, ch: usize, mut f: impl FnMut(usize, usize, usize, [usize; MAX_XI])) {
        for i in 0..images {
            for a in 0..self.h.tiles {
                for b in 0..self.w.tiles {
                    f(i, a, b, self.offsets(i, a, b, plane, ch));
                }
            }
        }
    }
}

/// What runs on one tile, with the transforms for its sides' outputs `KA` (down) and `KB`
/// (across), [`Tiling::with_kinds`].
trait TileWork {
    type Out;
    fn run<T: Tiling, const KA: usize, const KB: usize>(self) -> Self::Out;
}

/// One tile size's transforms. Tiles are row-major `n × n` arrays (rows along the image's
/// height) in the first `n²` of [`MAX_XI`] lanes; outputs `m × m` in the first `m²` of
/// [`MAX_OUT`]. A tile with fewer outputs on a side (`KA` down, `KB` across, [`Side`]) takes
/// its `KA + 2` rows and `KB + 2` columns of inputs and of outputs at the start of those, and
/// puts its transforms at the positions of the points it has.
trait Tiling {
    const TILE: Tile;
    const M: usize = Self::TILE.outputs();
    const N: usize = Self::M + 2;
    const XI: usize = Self::N * Self::N;
    /// Runs `work` with this tiling's transforms for a tile of `ka × kb` outputs.
    fn with_kinds<W: TileWork>(ka: usize, kb: usize, work: W) -> W::Out;
    /// Whether a tile of `KA × KB` outputs has position ξ.
    #[inline(always)]
    fn has<const KA: usize, const KB: usize>(xi: usize) -> bool {
        Self::TILE.has(KA, xi / Self::N) && Self::TILE.has(KB, xi % Self::N)
    }
    /// `Bᵀ·d·B`.
    fn input_tile<L: Lanes, const KA: usize, const KB: usize>(d: &[L; MAX_XI]) -> [L; MAX_XI];
    /// `Aᵀ·m·A`.
    fn output_tile<L: Lanes, const KA: usize, const KB: usize>(m: &[L; MAX_XI]) -> [L; MAX_OUT];
    /// `G·g·Gᵀ` of a 3×3 kernel slice (row-major, `kh` then `kw`).
    fn filter_tile<L: Lanes>(g: &[L; 9]) -> [L; MAX_XI];
    /// The transform the input gradient uses for the same slice: that of the slice turned by 180°.
    fn turned_filter_tile<L: Lanes>(g: &[L; 9]) -> [L; MAX_XI];
    /// `A·dy·Aᵀ`: an output-gradient tile to the gradient of its product tile.
    fn grad_output_tile<L: Lanes, const KA: usize, const KB: usize>(dy: &[L; MAX_OUT]) -> [L; MAX_XI];
    /// `Gᵀ·u·G`: the gradient of a kernel transform to the 3×3 slice's.
    fn grad_filter_tile<L: Lanes>(u: &[L; MAX_XI]) -> [L; 9];
}

/// F(2×2, 3×3).
struct T2;

/// F(4×4, 3×3).
struct T4;

impl Tiling for T2 {
    const TILE: Tile = Tile::F2;

    fn with_kinds<W: TileWork>(_: usize, _: usize, work: W) -> W::Out {
        work.run::<Self, 2, 2>()
    }

    #[inline(always)]
    fn input_tile<L: Lanes, const KA: usize, const KB: usize>(d: &[L; MAX_XI]) -> [L; MAX_XI] {
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

    #[inline(always)]
    fn output_tile<L: Lanes, const KA: usize, const KB: usize>(m: &[L; MAX_XI]) -> [L; MAX_OUT] {
        let mut r = [m[0]; 8];
        for j in 0..4 {
            r[j] = m[j].add(m[4 + j]).add(m[8 + j]);
            r[4 + j] = m[4 + j].sub(m[8 + j]).sub(m[12 + j]);
        }
        let mut o = [m[0]; MAX_OUT];
        o[0] = r[0].add(r[1]).add(r[2]);
        o[1] = r[1].sub(r[2]).sub(r[3]);
        o[2] = r[4].add(r[5]).add(r[6]);
        o[3] = r[5].sub(r[6]).sub(r[7]);
        o
    }

    #[inline(always)]
    fn filter_tile<L: Lanes>(g: &[L; 9]) -> [L; MAX_XI] {
        let half = L::splat(0.5);
        let mut t = [g[0]; 12];
        for j in 0..3 {
            let (a, b, c) = (g[j], g[3 + j], g[6 + j]);
            t[j] = a;
            t[3 + j] = a.add(b).add(c).mul(half);
            t[6 + j] = a.sub(b).add(c).mul(half);
            t[9 + j] = c;
        }
        let mut u = [g[0]; MAX_XI];
        for i in 0..4 {
            let (a, b, c) = (t[3 * i], t[3 * i + 1], t[3 * i + 2]);
            u[4 * i] = a;
            u[4 * i + 1] = a.add(b).add(c).mul(half);
            u[4 * i + 2] = a.sub(b).add(c).mul(half);
            u[4 * i + 3] = c;
        }
        u
    }

    #[inline(always)]
    fn turned_filter_tile<L: Lanes>(g: &[L; 9]) -> [L; MAX_XI] {
        let u = Self::filter_tile(g);
        let mut t = u;
        for xi in 0..16 {
            t[xi] = u[SIGMA[xi / 4] * 4 + SIGMA[xi % 4]];
        }
        t
    }

    #[inline(always)]
    fn grad_output_tile<L: Lanes, const KA: usize, const KB: usize>(dy: &[L; MAX_OUT]) -> [L; MAX_XI] {
        let zero = L::splat(0.0);
        let mut r = [zero; 8];
        for j in 0..2 {
            let (a, b) = (dy[j], dy[2 + j]);
            r[j] = a;
            r[2 + j] = a.add(b);
            r[4 + j] = a.sub(b);
            r[6 + j] = zero.sub(b);
        }
        let mut u = [zero; MAX_XI];
        for i in 0..4 {
            let (a, b) = (r[2 * i], r[2 * i + 1]);
            u[4 * i] = a;
            u[4 * i + 1] = a.add(b);
            u[4 * i + 2] = a.sub(b);
            u[4 * i + 3] = zero.sub(b);
        }
        u
    }

    #[inline(always)]
    fn grad_filter_tile<L: Lanes>(u: &[L; MAX_XI]) -> [L; 9] {
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
}

/// F(4×4)'s one-dimensional transforms. Multiplications by 2, 4 and 8 are exact; those by 1/4,
/// 1/6, 1/12 and 1/24 (the kernel's transform and its gradient) round.
mod f4 {
    use crate::kernels::lanes::Lanes;

    /// `Bᵀ·d`: rows 4 0 −5 0 1 0 · 0 −4 −4 1 1 0 · 0 4 −4 −1 1 0 · 0 −2 −1 2 1 0 · 0 2 −1 −2 1 0 · 0 4 0 −5 0 1.
    #[inline(always)]
    pub fn bt<L: Lanes>(d: [L; 6]) -> [L; 6] {
        let (two, four) = (L::splat(2.0), L::splat(4.0));
        let d42 = d[4].sub(d[2]);
        let d31 = d[3].sub(d[1]).mul(two);
        [
            d[0].sub(d[2]).mul(four).add(d42),
            d[3].add(d[4]).sub(d[1].add(d[2]).mul(four)),
            d[4].sub(d[3]).add(d[1].sub(d[2]).mul(four)),
            d42.add(d31),
            d42.sub(d31),
            d[1].sub(d[3]).mul(four).add(d[5].sub(d[3])),
        ]
    }

    /// `Aᵀ·m`: rows 1 1 1 1 1 0 · 0 1 −1 2 −2 0 · 0 1 1 4 4 0 · 0 1 −1 8 −8 1.
    #[inline(always)]
    pub fn at<L: Lanes>(m: [L; 6]) -> [L; 4] {
        let (s12, d12) = (m[1].add(m[2]), m[1].sub(m[2]));
        let (s34, d34) = (m[3].add(m[4]), m[3].sub(m[4]));
        [
            m[0].add(s12).add(s34),
            d12.add(d34.mul(L::splat(2.0))),
            s12.add(s34.mul(L::splat(4.0))),
            d12.add(d34.mul(L::splat(8.0))).add(m[5]),
        ]
    }

    /// `G·g`: rows 1/4 0 0 · −1/6 −1/6 −1/6 · −1/6 1/6 −1/6 · 1/24 1/12 1/6 · 1/24 −1/12 1/6 · 0 0 1.
    #[inline(always)]
    pub fn g<L: Lanes>(g: [L; 3]) -> [L; 6] {
        let (sixth, twenty_fourth) = (L::splat(-1.0 / 6.0), L::splat(1.0 / 24.0));
        let s02 = g[0].add(g[2]);
        let (p, q) = (g[0].add(g[2].mul(L::splat(4.0))), g[1].mul(L::splat(2.0)));
        [
            g[0].mul(L::splat(0.25)),
            s02.add(g[1]).mul(sixth),
            s02.sub(g[1]).mul(sixth),
            p.add(q).mul(twenty_fourth),
            p.sub(q).mul(twenty_fourth),
            g[2],
        ]
    }

    /// `A·y` (the transpose of [`at`]).
    #[inline(always)]
    pub fn a<L: Lanes>(y: [L; 4]) -> [L; 6] {
        let (p, q) = (y[0].add(y[2]), y[1].add(y[3]));
        let p4 = y[0].add(y[2].mul(L::splat(4.0)));
        let q4 = y[1].add(y[3].mul(L::splat(4.0))).mul(L::splat(2.0));
        [y[0], p.add(q), p.sub(q), p4.add(q4), p4.sub(q4), y[3]]
    }

    /// `Gᵀ·u` (the transpose of [`g`]).
    #[inline(always)]
    pub fn gt<L: Lanes>(u: [L; 6]) -> [L; 3] {
        let sixth = L::splat(1.0 / 6.0);
        let minus_sixth = L::splat(-1.0 / 6.0);
        let (s12, d12) = (u[1].add(u[2]), u[1].sub(u[2]));
        let (s34, d34) = (u[3].add(u[4]), u[3].sub(u[4]));
        [
            u[0].mul(L::splat(0.25)).add(s12.mul(minus_sixth)).add(s34.mul(L::splat(1.0 / 24.0))),
            d12.mul(minus_sixth).add(d34.mul(L::splat(1.0 / 12.0))),
            s12.mul(minus_sixth).add(s34.mul(sixth)).add(u[5]),
        ]
    }

    /// The edge tiles' transforms: a side of 3 outputs on the points 0, 1, −1, 2, ∞ (F(3, 3)), of
    /// 2 on 0, 1, −1, ∞ (F(2, 3)). `G`'s rows for those points are [`g`]'s, so each position's
    /// kernel transform is the whole tile's; the Lagrange scalings that differ from F(4, 3)'s
    /// (Lavin & Gray's construction) are in `Bᵀ`, which stays integer: for 3 outputs rows
    /// 4 −2 −4 2 0 · 0 −6 −3 3 0 · 0 2 −3 1 0 · 0 −4 0 4 0 · 0 2 −1 −2 1, for 2 outputs
    /// 4 0 −4 0 · 0 −3 −3 0 · 0 3 −3 0 · 0 −1 0 1. Inputs and outputs at the start of the arrays;
    /// transformed values at the indices of their points (0 1 2 3 4 5 for 0, 1, −1, 2, −2, ∞), the
    /// missing points' left as `d[0]`.
    #[inline(always)]
    pub fn bt_k<L: Lanes, const K: usize>(d: [L; 6]) -> [L; 6] {
        match K {
            4 => bt(d),
            3 => {
                let three = L::splat(3.0);
                let d31 = d[3].sub(d[1]);
                [
                    d[0].sub(d[2]).mul(L::splat(4.0)).add(d31.mul(L::splat(2.0))),
                    d31.sub(d[1]).sub(d[2]).mul(three),
                    d31.add(d[1].sub(d[2]).mul(three)),
                    d31.mul(L::splat(4.0)),
                    d[0],
                    d[4].sub(d[2]).sub(d31.mul(L::splat(2.0))),
                ]
            }
            _ => [
                d[0].sub(d[2]).mul(L::splat(4.0)),
                d[1].add(d[2]).mul(L::splat(-3.0)),
                d[1].sub(d[2]).mul(L::splat(3.0)),
                d[0],
                d[0],
                d[3].sub(d[1]),
            ],
        }
    }

    /// `Aᵀ·m` for a side of `K` outputs: for 3, rows 1 1 1 1 · 0 1 −1 2 · 0 1 1 4 (+ ∞);
    /// for 2, rows 1 1 1 · 0 1 −1 (+ ∞). The outputs past `K` are `m[0]`.
    #[inline(always)]
    pub fn at_k<L: Lanes, const K: usize>(m: [L; 6]) -> [L; 4] {
        let (s12, d12) = (m[1].add(m[2]), m[1].sub(m[2]));
        match K {
            4 => at(m),
            3 => [
                m[0].add(s12).add(m[3]),
                d12.add(m[3].mul(L::splat(2.0))),
                s12.add(m[3].mul(L::splat(4.0))).add(m[5]),
                m[0],
            ],
            _ => [m[0].add(s12), d12.add(m[5]), m[0], m[0]],
        }
    }

    /// `A·y` for a side of `K` outputs (the transpose of [`at_k`]).
    #[inline(always)]
    pub fn a_k<L: Lanes, const K: usize>(y: [L; 4]) -> [L; 6] {
        match K {
            4 => a(y),
            3 => {
                let p = y[0].add(y[2]);
                let q4 = y[0].add(y[2].mul(L::splat(4.0)));
                [y[0], p.add(y[1]), p.sub(y[1]), q4.add(y[1].mul(L::splat(2.0))), y[0], y[2]]
            }
            _ => [y[0], y[0].add(y[1]), y[0].sub(y[1]), y[0], y[0], y[1]],
        }
    }
}

/// `F·x·Fᵀ` for a one-dimensional transform `f` from `I` values to `O`: `f` down each column of
/// the `I × I` tile `x` (row-major), then along each row of the result; the `O × O` result fills
/// the first `O²` of `N` lanes.
#[inline(always)]
fn separable<L: Lanes, const I: usize, const O: usize, const N: usize>(
    x: &[L],
    f: impl Fn([L; I]) -> [L; O],
) -> [L; N] {
    let cols: [[L; O]; I] = core::array::from_fn(|j| f(core::array::from_fn(|k| x[I * k + j])));
    let mut out = [x[0]; N];
    for i in 0..O {
        out[O * i..O * i + O].copy_from_slice(&f(core::array::from_fn(|j| cols[j][i])));
    }
    out
}

/// Calls `work` for the kinds of F(4×4) tiles `(ka, kb)`, each of 4, 3 or 2.
macro_rules! f4_kinds {
    ($ka:expr, $kb:expr, $work:expr, $(($a:literal, $b:literal)),*) => {
        match ($ka, $kb) {
            $(($a, $b) => $work.run::<Self, $a, $b>(),)*
            (ka, kb) => unreachable!("winograd: no F(4×4) tile of {ka}×{kb} outputs"),
        }
    };
}

impl Tiling for T4 {
    const TILE: Tile = Tile::F4;

    fn with_kinds<W: TileWork>(ka: usize, kb: usize, work: W) -> W::Out {
        f4_kinds!(ka, kb, work, (4, 4), (4, 3), (4, 2), (3, 4), (3, 3), (3, 2), (2, 4), (2, 3), (2, 2))
    }

    // Down the columns, then along the rows, as `separable` (a whole tile's operations are its
    // own, in its order); an edge tile skips the columns and rows of the points it lacks.
    #[inline(always)]
    fn input_tile<L: Lanes, const KA: usize, const KB: usize>(d: &[L; MAX_XI]) -> [L; MAX_XI] {
        let mut cols = [[d[0]; 6]; 6];
        for (j, col) in cols[..KB + 2].iter_mut().enumerate() {
            *col = f4::bt_k::<L, KA>(core::array::from_fn(|k| d[6 * k + j]));
        }
        let mut out = [d[0]; MAX_XI];
        for i in 0..6 {
            if Tile::F4.has(KA, i) {
                out[6 * i..6 * i + 6].copy_from_slice(&f4::bt_k::<L, KB>(core::array::from_fn(|j| cols[j][i])));
            }
        }
        out
    }

    #[inline(always)]
    fn output_tile<L: Lanes, const KA: usize, const KB: usize>(m: &[L; MAX_XI]) -> [L; MAX_OUT] {
        let mut cols = [[m[0]; 4]; 6];
        for (j, col) in cols.iter_mut().enumerate() {
            if Tile::F4.has(KB, j) {
                *col = f4::at_k::<L, KA>(core::array::from_fn(|k| m[6 * k + j]));
            }
        }
        let mut out = [m[0]; MAX_OUT];
        for i in 0..KA {
            out[4 * i..4 * i + 4].copy_from_slice(&f4::at_k::<L, KB>(core::array::from_fn(|j| cols[j][i])));
        }
        out
    }

    #[inline(always)]
    fn filter_tile<L: Lanes>(g: &[L; 9]) -> [L; MAX_XI] {
        separable(g, f4::g)
    }

    #[inline(always)]
    fn turned_filter_tile<L: Lanes>(g: &[L; 9]) -> [L; MAX_XI] {
        Self::filter_tile(&core::array::from_fn(|tap| g[8 - tap]))
    }

    #[inline(always)]
    fn grad_output_tile<L: Lanes, const KA: usize, const KB: usize>(dy: &[L; MAX_OUT]) -> [L; MAX_XI] {
        let mut cols = [[dy[0]; 6]; 4];
        for (j, col) in cols[..KB].iter_mut().enumerate() {
            *col = f4::a_k::<L, KA>(core::array::from_fn(|k| dy[4 * k + j]));
        }
        let mut out = [dy[0]; MAX_XI];
        for i in 0..6 {
            if Tile::F4.has(KA, i) {
                out[6 * i..6 * i + 6].copy_from_slice(&f4::a_k::<L, KB>(core::array::from_fn(|j| cols[j][i])));
            }
        }
        out
    }

    #[inline(always)]
    fn grad_filter_tile<L: Lanes>(u: &[L; MAX_XI]) -> [L; 9] {
        separable(u, f4::gt)
    }
}

/// Calls `$f::<T2>` or `$f::<T4>` as `$tile` says.
macro_rules! on_tile {
    ($tile:expr, $f:ident($($arg:expr),* $(,)?)) => {
        match $tile {
            Tile::F2 => $f::<T2>($($arg),*),
            Tile::F4 => $f::<T4>($($arg),*),
        }
    };
}

/// Images per group: enough for about [`tile_rows`] tiles.
fn group(tile: Tile, p: &Conv2dParams) -> usize {
    (tile_rows(tile) / tile.per_image(p)).clamp(1, p.batch.max(1))
}

fn group_tiles(tile: Tile, p: &Conv2dParams) -> usize {
    group(tile, p) * tile.per_image(p)
}

/// The product of one position ξ: `rows` tiles × `k` channels times `k` × `n` channels.
fn product(rows: usize, k: usize, n: usize) -> GemmParams {
    GemmParams { m: rows, k, n }
}

/// The arithmetic of [`forward`]'s products (multiply-adds count two), for reports: the direct
/// convolution's `2·positions·9·in_c·out_c` becomes `2·rows·in_c·out_c`, a row for each tile
/// and position it has, tiles past the edge included. The transforms' adds are not counted.
pub fn product_flops(tile: Tile, p: &Conv2dParams) -> f64 {
    2.0 * (p.batch * tile.products_per_image(p)) as f64 * (p.in_c * p.out_c) as f64
}

/// The stride between the packed `k × n` operands of successive positions: padded like
/// [`plane`], as the packing writes all n² of them at once.
fn slot(k: usize, n: usize) -> usize {
    product(1, k, n).pack_len() + PLANE_PAD
}

/// The kernel packed by [`pack_weights`]: n² packed `in_c × out_c` operands.
pub fn packed_len(tile: Tile, p: &Conv2dParams) -> usize {
    tile.positions() * slot(p.in_c, p.out_c)
}

/// The kernel packed by [`pack_weights_t`] for the input gradient: n² `out_c × in_c` operands.
pub fn packed_t_len(tile: Tile, p: &Conv2dParams) -> usize {
    tile.positions() * slot(p.out_c, p.in_c)
}

/// Scratch for [`forward`]: a group's transformed input tiles and products, and room to pack
/// the tiles.
pub fn forward_scratch_len(tile: Tile, p: &Conv2dParams) -> usize {
    let t = group_tiles(tile, p);
    tile.positions() * (plane(t, p.in_c) + plane(t, p.out_c)) + product(t, p.in_c, p.out_c).a_pack_len()
}

/// Scratch for [`backward`]: the kernel gradient's n² sums, a group's transformed input tiles
/// and output-gradient tiles and room for their product; then (reusing it) the input gradient's
/// packed kernel and a forward pass's scratch.
pub fn backward_scratch_len(tile: Tile, p: &Conv2dParams) -> usize {
    let (t, xi) = (group_tiles(tile, p), tile.positions());
    let tiles = xi * (plane(t, p.in_c) + plane(t, p.out_c));
    let kernel = xi * plane(p.in_c, p.out_c) + tiles + product(p.in_c, t, p.out_c).scratch_len();
    let input = packed_t_len(tile, p) + forward_scratch_len(tile, &swapped(p));
    kernel.max(input)
}

/// The input gradient as a convolution: `out_c` channels in, `in_c` out.
fn swapped(p: &Conv2dParams) -> Conv2dParams {
    Conv2dParams { in_c: p.out_c, out_c: p.in_c, ..*p }
}

/// Packs the n² transforms `U[ξ]` (in_c × out_c each) of an HWIO kernel for [`forward`].
///
/// # Shapes
/// `w`: 9·in_c·out_c; `packed`: at least [`packed_len`].
pub fn pack_weights(tile: Tile, p: &Conv2dParams, w: &[f32], packed: &mut [f32]) {
    let (ci, co) = (p.in_c, p.out_c);
    assert_eq!(w.len(), 9 * ci * co, "winograd: the kernel has {} values, expected 9·{ci}·{co}", w.len());
    let need = packed_len(tile, p);
    assert!(packed.len() >= need, "winograd: the pack has {} values, needs {need}", packed.len());
    on_tile!(tile, pack_weights_on(p, w, packed))
}

fn pack_weights_on<T: Tiling>(p: &Conv2dParams, w: &[f32], packed: &mut [f32]) {
    let (ci, co) = (p.in_c, p.out_c);
    let b = product(1, ci, co);
    let slot = slot(ci, co);
    // Blocks of channels outer, filters, then the block's channels: each of the n² planes is
    // written a panel's rows at a time (the order with channels outermost stored a panel apart
    // every time), and the kernel's rows that a block reads stay in L1 across its filters
    // (with filters outermost, the reads a row apart went through all of a large kernel
    // before coming back; docs/performance.md).
    for c0 in (0..ci).step_by(PACK_CHANNELS) {
        for f in (0..co).step_by(4) {
            for c in c0..(c0 + PACK_CHANNELS).min(ci) {
                let g: [F4; 9] = core::array::from_fn(|tap| F4::load(&w[(tap * ci + c) * co + f..]));
                let u = T::filter_tile(&g);
                let at = packed_index(&b, c, f);
                for (xi, v) in u[..T::XI].iter().enumerate() {
                    v.store(&mut packed[xi * slot + at..]);
                }
            }
        }
    }
}

/// Packs the input gradient's n² transforms (out_c × in_c each: `U'[ξ][f, c]`, the transform of
/// slice (c, f) turned by 180°).
///
/// # Shapes
/// `w`: 9·in_c·out_c; `packed`: at least [`packed_t_len`].
pub fn pack_weights_t(tile: Tile, p: &Conv2dParams, w: &[f32], packed: &mut [f32]) {
    let (ci, co) = (p.in_c, p.out_c);
    assert_eq!(w.len(), 9 * ci * co, "winograd: the kernel has {} values, expected 9·{ci}·{co}", w.len());
    let need = packed_t_len(tile, p);
    assert!(packed.len() >= need, "winograd: the pack has {} values, needs {need}", packed.len());
    on_tile!(tile, pack_weights_t_on(p, w, packed))
}

fn pack_weights_t_on<T: Tiling>(p: &Conv2dParams, w: &[f32], packed: &mut [f32]) {
    let (ci, co) = (p.in_c, p.out_c);
    let b = product(1, co, ci);
    let slot = slot(co, ci);
    // Channels outer, filters inner, for the same reason as in `pack_weights_on` (this one runs
    // every micro-batch).
    for c in (0..ci).step_by(4) {
        for f in 0..co {
            // Four input channels of one filter: a strided gather into the lanes.
            let g: [F4; 9] = core::array::from_fn(|tap| {
                let at = (tap * ci + c) * co + f;
                F4::load(&[w[at], w[at + co], w[at + 2 * co], w[at + 3 * co]])
            });
            let u = T::turned_filter_tile(&g);
            let at = packed_index(&b, f, c);
            for (xi, v) in u[..T::XI].iter().enumerate() {
                v.store(&mut packed[xi * slot + at..]);
            }
        }
    }
}

/// Stores the transformed values of channels `c..c + 4` at the positions a tile of `KA × KB`
/// outputs has, position ξ's at `at[ξ] + c`.
#[inline(always)]
fn store_positions<T: Tiling, const KA: usize, const KB: usize>(
    x: &[F4; MAX_XI],
    to: &mut [f32],
    at: &[usize; MAX_XI],
    c: usize,
) {
    for (xi, v) in x[..T::XI].iter().enumerate() {
        if T::has::<KA, KB>(xi) {
            v.store(&mut to[at[xi] + c..]);
        }
    }
}

/// Transforms one tile of an image, all `ch` channels, into `v` at `at[ξ] + c`. `inside`: the
/// tile's whole n×n block lies in the image, from `base`; else the `rows` and `cols` of the
/// image that it covers, zeros for the padding.
struct InputTile<'a> {
    image: &'a [f32],
    w: usize,
    ch: usize,
    inside: Option<usize>,
    rows: core::ops::Range<usize>,
    cols: core::ops::Range<usize>,
    origin: (usize, usize),
    v: &'a mut [f32],
    at: [usize; MAX_XI],
}

impl TileWork for InputTile<'_> {
    type Out = ();

    #[inline(never)]
    fn run<T: Tiling, const KA: usize, const KB: usize>(self) {
        let InputTile { image, w, ch, inside, rows, cols, origin: (r0, s0), v, at } = self;
        let n = T::N;
        let zero = F4::splat(0.0);
        for c in (0..ch).step_by(4) {
            let mut d = [zero; MAX_XI];
            if let Some(base) = inside {
                // Loads at fixed offsets.
                for (k, dk) in d[..T::XI].iter_mut().enumerate() {
                    *dk = F4::load(&image[base + ((k / n) * w + k % n) * ch + c..]);
                }
            } else {
                for r in rows.clone() {
                    for s in cols.clone() {
                        d[(r + 1 - r0) * n + s + 1 - s0] = F4::load(&image[(r * w + s) * ch + c..]);
                    }
                }
            }
            store_positions::<T, KA, KB>(&T::input_tile::<F4, KA, KB>(&d), v, &at, c);
        }
    }
}

/// The transformed input tiles of `images` (whole `h × w × ch` images): `v[ξ][row][c]`, the rows
/// of ξ its tiles (image by image, row by row) that have ξ, planes `plane` apart; zeros stand
/// for the padding.
fn transform_input<T: Tiling>(
    tiles: &Tiles,
    h: usize,
    w: usize,
    ch: usize,
    images: &[f32],
    v: &mut [f32],
    plane: usize,
) {
    let (m, len) = (T::M, h * w * ch);
    tiles.each(images.len() / len, plane, ch, |i, a, b, at| {
        let image = &images[i * len..(i + 1) * len];
        // Rows m·a−1..m·a+m+1 and columns m·b−1..m·b+m+1 of the image, where they exist.
        let rows = (m * a).saturating_sub(1)..(m * a + m + 1).min(h);
        let cols = (m * b).saturating_sub(1)..(m * b + m + 1).min(w);
        let inside = (a >= 1 && b >= 1 && m * a + m < h && m * b + m < w).then(|| ((m * a - 1) * w + m * b - 1) * ch);
        let work = InputTile { image, w, ch, inside, rows, cols, origin: (m * a, m * b), v: &mut *v, at };
        if inside.is_some() {
            T::with_kinds(T::M, T::M, work);
        } else {
            T::with_kinds(tiles.h.kind(a), tiles.w.kind(b), work);
        }
    });
}

/// Transforms one tile of an output gradient, all `ch` channels, into `u` at `at[ξ] + c`: the
/// `rows` and `cols` of the gradient it covers, zeros for its outputs past the edge.
struct GradOutputTile<'a> {
    grad: &'a [f32],
    w: usize,
    ch: usize,
    rows: core::ops::Range<usize>,
    cols: core::ops::Range<usize>,
    u: &'a mut [f32],
    at: [usize; MAX_XI],
}

impl TileWork for GradOutputTile<'_> {
    type Out = ();

    #[inline(never)]
    fn run<T: Tiling, const KA: usize, const KB: usize>(self) {
        let GradOutputTile { grad, w, ch, rows, cols, u, at } = self;
        let zero = F4::splat(0.0);
        for c in (0..ch).step_by(4) {
            let mut d = [zero; MAX_OUT];
            for r in rows.clone() {
                for s in cols.clone() {
                    d[(r - rows.start) * T::M + s - cols.start] = F4::load(&grad[(r * w + s) * ch + c..]);
                }
            }
            store_positions::<T, KA, KB>(&T::grad_output_tile::<F4, KA, KB>(&d), u, &at, c);
        }
    }
}

/// The transformed output-gradient tiles of `grads` (whole `h × w × ch` gradients): `u[ξ][row][c]`
/// as [`transform_input`]'s, planes `plane` apart, zeros for a tile's outputs past the edge.
fn transform_grad_output<T: Tiling>(
    tiles: &Tiles,
    h: usize,
    w: usize,
    ch: usize,
    grads: &[f32],
    u: &mut [f32],
    plane: usize,
) {
    let (m, len) = (T::M, h * w * ch);
    tiles.each(grads.len() / len, plane, ch, |i, a, b, at| {
        let grad = &grads[i * len..(i + 1) * len];
        let (rows, cols) = (m * a..(m * a + m).min(h), m * b..(m * b + m).min(w));
        T::with_kinds(tiles.h.kind(a), tiles.w.kind(b), GradOutputTile { grad, w, ch, rows, cols, u: &mut *u, at });
    });
}

/// Writes one tile's outputs, all `ch` channels, from the products at `at[ξ] + c` (`+ bias`)
/// into the `rows` and `cols` of `out` it covers.
struct OutputTile<'a> {
    mt: &'a [f32],
    at: [usize; MAX_XI],
    bias: Option<&'a [f32]>,
    w: usize,
    ch: usize,
    rows: core::ops::Range<usize>,
    cols: core::ops::Range<usize>,
    out: &'a mut [f32],
}

impl TileWork for OutputTile<'_> {
    type Out = ();

    #[inline(never)]
    fn run<T: Tiling, const KA: usize, const KB: usize>(self) {
        let OutputTile { mt, at, bias, w, ch, rows, cols, out } = self;
        let zero = F4::splat(0.0);
        for c in (0..ch).step_by(4) {
            let mut tile = [zero; MAX_XI];
            for (xi, v) in tile[..T::XI].iter_mut().enumerate() {
                if T::has::<KA, KB>(xi) {
                    *v = F4::load(&mt[at[xi] + c..]);
                }
            }
            let o = T::output_tile::<F4, KA, KB>(&tile);
            let bias = bias.map(|b| F4::load(&b[c..]));
            for r in rows.clone() {
                for s in cols.clone() {
                    let mut v = o[(r - rows.start) * T::M + s - cols.start];
                    if let Some(b) = bias {
                        v = v.add(b);
                    }
                    v.store(&mut out[(r * w + s) * ch + c..]);
                }
            }
        }
    }
}

/// Writes the outputs of the product tiles `m[ξ][row][c]` (planes `plane` apart, `+ bias`) into
/// whole `h × w × ch` outputs; a tile's outputs past the edge are dropped.
#[allow(clippy::too_many_arguments)]
fn transform_output<T: Tiling>(
    tiles: &Tiles,
    h: usize,
    w: usize,
    ch: usize,
    mt: &[f32],
    plane: usize,
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    let (m, len) = (T::M, h * w * ch);
    tiles.each(y.len() / len, plane, ch, |i, a, b, at| {
        let out = &mut y[i * len..(i + 1) * len];
        let (rows, cols) = (m * a..(m * a + m).min(h), m * b..(m * b + m).min(w));
        T::with_kinds(tiles.h.kind(a), tiles.w.kind(b), OutputTile { mt, at, bias, w, ch, rows, cols, out });
    });
}

/// `y = conv(x, w) (+ b)` with the kernel packed by [`pack_weights`], a group of images at a
/// time: transform the group's tiles, n² products, transform back.
///
/// # Shapes
/// As [`super::conv2d_forward_packed`]; `scratch`: at least [`forward_scratch_len`].
pub fn forward(
    tile: Tile,
    p: &Conv2dParams,
    x: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    scratch: &mut [f32],
) {
    assert!(packed.len() >= packed_len(tile, p), "winograd: the packed kernel is too short");
    assert!(scratch.len() >= forward_scratch_len(tile, p), "winograd: scratch too small");
    on_tile!(tile, forward_on(p, x, packed, bias, y, scratch))
}

fn forward_on<T: Tiling>(
    p: &Conv2dParams,
    x: &[f32],
    packed: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    scratch: &mut [f32],
) {
    let (h, w, ci, co) = (p.in_h, p.in_w, p.in_c, p.out_c);
    let (x_len, y_len) = (h * w * ci, h * w * co);
    let tiles = T::TILE.tiles(p);
    let (images, gt) = (group(T::TILE, p), group_tiles(T::TILE, p));
    let (v, rest) = scratch.split_at_mut(T::XI * plane(gt, ci));
    let (m, a_pack) = rest.split_at_mut(T::XI * plane(gt, co));
    let (slot, operand) = (slot(ci, co), product(1, ci, co).pack_len());
    for n0 in (0..p.batch).step_by(images) {
        let n = images.min(p.batch - n0);
        let t = n * T::TILE.per_image(p);
        let (pv, pm) = (plane(t, ci), plane(t, co));
        transform_input::<T>(&tiles, h, w, ci, &x[n0 * x_len..(n0 + n) * x_len], v, pv);
        for xi in 0..T::XI {
            let rows = tiles.rows(xi, n);
            if rows == 0 {
                continue;
            }
            let (a, c) = (&v[xi * pv..xi * pv + rows * ci], &mut m[xi * pm..xi * pm + rows * co]);
            gemm_packed(&product(rows, ci, co), a, &packed[xi * slot..xi * slot + operand], None, c, a_pack);
        }
        transform_output::<T>(&tiles, h, w, co, m, pm, bias, &mut y[n0 * y_len..(n0 + n) * y_len]);
    }
}

/// Overwrites `grads` with the gradients of [`forward`] (with a bias) for `dy`. `packed_w_t`:
/// the kernel packed by [`pack_weights_t`], or `None` to pack it into the scratch.
///
/// # Shapes
/// As [`super::conv2d_backward_packed`]; `scratch`: at least [`backward_scratch_len`].
#[allow(clippy::too_many_arguments)]
pub fn backward(
    tile: Tile,
    p: &Conv2dParams,
    x: &[f32],
    w: &[f32],
    packed_w_t: Option<&[f32]>,
    dy: &[f32],
    grads: Conv2dGrads<'_>,
    scratch: &mut [f32],
) {
    assert!(scratch.len() >= backward_scratch_len(tile, p), "winograd: scratch too small");
    on_tile!(tile, backward_on(p, x, w, packed_w_t, dy, grads, scratch))
}

fn backward_on<T: Tiling>(
    p: &Conv2dParams,
    x: &[f32],
    w: &[f32],
    packed_w_t: Option<&[f32]>,
    dy: &[f32],
    grads: Conv2dGrads<'_>,
    scratch: &mut [f32],
) {
    let (h, wd, ci, co) = (p.in_h, p.in_w, p.in_c, p.out_c);
    let (x_len, y_len) = (h * wd * ci, h * wd * co);
    let Conv2dGrads { dx, dw, db } = grads;
    db.fill(0.0);
    add_bias_grad(dy, co, db);

    // ∂L/∂U[ξ] = Σ_tiles V[ξ]ᵀ · Ŷ[ξ], one sum over the batch's tiles continued group by group.
    let ds = plane(ci, co);
    let (du, rest) = scratch.split_at_mut(T::XI * ds);
    du.fill(0.0);
    let tiles = T::TILE.tiles(p);
    let (images, gt) = (group(T::TILE, p), group_tiles(T::TILE, p));
    let (v, rest) = rest.split_at_mut(T::XI * plane(gt, ci));
    let (yh, gemm_scratch) = rest.split_at_mut(T::XI * plane(gt, co));
    for n0 in (0..p.batch).step_by(images) {
        let n = images.min(p.batch - n0);
        let t = n * T::TILE.per_image(p);
        let (pv, py) = (plane(t, ci), plane(t, co));
        transform_input::<T>(&tiles, h, wd, ci, &x[n0 * x_len..(n0 + n) * x_len], v, pv);
        transform_grad_output::<T>(&tiles, h, wd, co, &dy[n0 * y_len..(n0 + n) * y_len], yh, py);
        for xi in 0..T::XI {
            let rows = tiles.rows(xi, n);
            if rows == 0 {
                continue;
            }
            let (a_t, b) = (&v[xi * pv..xi * pv + rows * ci], &yh[xi * py..xi * py + rows * co]);
            let du = &mut du[xi * ds..xi * ds + ci * co];
            gemm_transposed_a_accumulate(&product(ci, rows, co), a_t, b, du, gemm_scratch);
        }
    }
    let zero = F4::splat(0.0);
    for c in 0..ci {
        for f in (0..co).step_by(4) {
            let mut u = [zero; MAX_XI];
            for (xi, v) in u[..T::XI].iter_mut().enumerate() {
                *v = F4::load(&du[xi * ds + c * co + f..]);
            }
            for (tap, g) in T::grad_filter_tile(&u).iter().enumerate() {
                g.store(&mut dw[(tap * ci + c) * co + f..]);
            }
        }
    }

    if let Some(dx) = dx {
        let (own, rest) = scratch.split_at_mut(packed_t_len(T::TILE, p));
        let packed =
            given_or_packed(packed_w_t, packed_t_len(T::TILE, p), own, |own| pack_weights_t_on::<T>(p, w, own));
        forward_on::<T>(&swapped(p), dy, packed, None, dx, rest);
    }
}

/// The reference: the same transforms and sums as plain loops over tiles, channels and
/// positions, one value at a time.
pub mod scalar {
    use super::*;

    /// The transforms of an HWIO kernel, `u[ξ][c][f]`, as the forward pass (`turned` false) or
    /// the input gradient (true, `u[ξ][f][c]`) uses them.
    fn transforms<T: Tiling>(ci: usize, co: usize, w: &[f32], turned: bool) -> Vec<f32> {
        let mut u = vec![0.0; T::XI * ci * co];
        for c in 0..ci {
            for f in 0..co {
                let g: [f32; 9] = core::array::from_fn(|tap| w[(tap * ci + c) * co + f]);
                let t = if turned { T::turned_filter_tile(&g) } else { T::filter_tile(&g) };
                for (xi, &v) in t[..T::XI].iter().enumerate() {
                    let at = if turned { (xi * co + f) * ci + c } else { (xi * ci + c) * co + f };
                    u[at] = v;
                }
            }
        }
        u
    }

    /// One image's tile (a, b) of channel `c`, zeros outside.
    fn tile<T: Tiling>(h: usize, w: usize, ch: usize, image: &[f32], a: usize, b: usize, c: usize) -> [f32; MAX_XI] {
        core::array::from_fn(|i| {
            if i >= T::XI {
                return 0.0;
            }
            let (r, s) = ((T::M * a + i / T::N) as isize - 1, (T::M * b + i % T::N) as isize - 1);
            if r < 0 || s < 0 || r >= h as isize || s >= w as isize {
                0.0
            } else {
                image[(r as usize * w + s as usize) * ch + c]
            }
        })
    }

    /// A tile's transforms for its kinds (see [`Tiling::with_kinds`]), one value at a time.
    struct Input<'a>(&'a [f32; MAX_XI]);
    struct Output<'a>(&'a [f32; MAX_XI]);
    struct GradOutput<'a>(&'a [f32; MAX_OUT]);
    struct Has(usize);

    impl TileWork for Input<'_> {
        type Out = [f32; MAX_XI];
        fn run<T: Tiling, const KA: usize, const KB: usize>(self) -> Self::Out {
            T::input_tile::<f32, KA, KB>(self.0)
        }
    }

    impl TileWork for Output<'_> {
        type Out = [f32; MAX_OUT];
        fn run<T: Tiling, const KA: usize, const KB: usize>(self) -> Self::Out {
            T::output_tile::<f32, KA, KB>(self.0)
        }
    }

    impl TileWork for GradOutput<'_> {
        type Out = [f32; MAX_XI];
        fn run<T: Tiling, const KA: usize, const KB: usize>(self) -> Self::Out {
            T::grad_output_tile::<f32, KA, KB>(self.0)
        }
    }

    impl TileWork for Has {
        type Out = bool;
        fn run<T: Tiling, const KA: usize, const KB: usize>(self) -> bool {
            T::has::<KA, KB>(self.0)
        }
    }

    /// The convolution with transforms `u[ξ][c][f]` (ci → co channels).
    #[allow(clippy::too_many_arguments)]
    fn convolve<T: Tiling>(
        p: &Conv2dParams,
        ci: usize,
        co: usize,
        x: &[f32],
        u: &[f32],
        b: Option<&[f32]>,
        y: &mut [f32],
    ) {
        let (h, w, m) = (p.in_h, p.in_w, T::M);
        let tiles = T::TILE.tiles(p);
        for n in 0..p.batch {
            let image = &x[n * h * w * ci..(n + 1) * h * w * ci];
            let out = &mut y[n * h * w * co..(n + 1) * h * w * co];
            for a in 0..tiles.h.tiles {
                for bb in 0..tiles.w.tiles {
                    let (ka, kb) = (tiles.h.kind(a), tiles.w.kind(bb));
                    let v: Vec<[f32; MAX_XI]> =
                        (0..ci).map(|c| T::with_kinds(ka, kb, Input(&tile::<T>(h, w, ci, image, a, bb, c)))).collect();
                    for f in 0..co {
                        let mt: [f32; MAX_XI] = core::array::from_fn(|xi| {
                            let mut acc = 0.0f32;
                            if xi < T::XI && T::with_kinds(ka, kb, Has(xi)) {
                                for (c, vc) in v.iter().enumerate() {
                                    acc += vc[xi] * u[(xi * ci + c) * co + f];
                                }
                            }
                            acc
                        });
                        let o = T::with_kinds(ka, kb, Output(&mt));
                        for (i, &val) in o[..m * m].iter().enumerate() {
                            let (r, s) = (m * a + i / m, m * bb + i % m);
                            if i / m < ka && i % m < kb && r < h && s < w {
                                out[(r * w + s) * co + f] = b.map_or(val, |b| val + b[f]);
                            }
                        }
                    }
                }
            }
        }
    }

    /// See [`super::forward`].
    pub fn forward(tile: Tile, p: &Conv2dParams, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
        on_tile!(tile, forward_on(p, x, w, b, y))
    }

    fn forward_on<T: Tiling>(p: &Conv2dParams, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
        let u = transforms::<T>(p.in_c, p.out_c, w, false);
        convolve::<T>(p, p.in_c, p.out_c, x, &u, Some(b), y);
    }

    /// See [`super::backward`].
    pub fn backward(tile: Tile, p: &Conv2dParams, x: &[f32], w: &[f32], dy: &[f32], grads: Conv2dGrads<'_>) {
        on_tile!(tile, backward_on(p, x, w, dy, grads))
    }

    fn backward_on<T: Tiling>(p: &Conv2dParams, x: &[f32], w: &[f32], dy: &[f32], grads: Conv2dGrads<'_>) {
        let (h, wd, ci, co, m) = (p.in_h, p.in_w, p.in_c, p.out_c, T::M);
        let Conv2dGrads { dx, dw, db } = grads;
        db.fill(0.0);
        for row in dy.chunks_exact(co) {
            for f in 0..co {
                db[f] += row[f];
            }
        }
        // Every tile's kinds, V and Ŷ, tiles in order over the batch.
        let tiles = T::TILE.tiles(p);
        let mut kinds: Vec<(usize, usize)> = Vec::new();
        let mut vs: Vec<Vec<[f32; MAX_XI]>> = Vec::new();
        let mut ys: Vec<Vec<[f32; MAX_XI]>> = Vec::new();
        for n in 0..p.batch {
            let image = &x[n * h * wd * ci..(n + 1) * h * wd * ci];
            let grad = &dy[n * h * wd * co..(n + 1) * h * wd * co];
            for a in 0..tiles.h.tiles {
                for b in 0..tiles.w.tiles {
                    let (ka, kb) = (tiles.h.kind(a), tiles.w.kind(b));
                    kinds.push((ka, kb));
                    vs.push(
                        (0..ci).map(|c| T::with_kinds(ka, kb, Input(&tile::<T>(h, wd, ci, image, a, b, c)))).collect(),
                    );
                    ys.push(
                        (0..co)
                            .map(|f| {
                                let d = core::array::from_fn(|i| {
                                    let (r, s) = (m * a + i / m, m * b + i % m);
                                    if i < m * m && r < h && s < wd {
                                        grad[(r * wd + s) * co + f]
                                    } else {
                                        0.0
                                    }
                                });
                                T::with_kinds(ka, kb, GradOutput(&d))
                            })
                            .collect(),
                    );
                }
            }
        }
        for c in 0..ci {
            for f in 0..co {
                let du: [f32; MAX_XI] = core::array::from_fn(|xi| {
                    let mut acc = 0.0f32;
                    if xi < T::XI {
                        for ((v, y), &(ka, kb)) in vs.iter().zip(&ys).zip(&kinds) {
                            if T::with_kinds(ka, kb, Has(xi)) {
                                acc += v[c][xi] * y[f][xi];
                            }
                        }
                    }
                    acc
                });
                for (tap, &g) in T::grad_filter_tile(&du).iter().enumerate() {
                    dw[(tap * ci + c) * co + f] = g;
                }
            }
        }
        if let Some(dx) = dx {
            let u_t = transforms::<T>(ci, co, w, true);
            convolve::<T>(p, co, ci, dy, &u_t, None, dx);
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

    const TILES: [Tile; 2] = [Tile::F2, Tile::F4];

    fn fast_forward(tile: Tile, p: &Conv2dParams, x: &[f32], w: &[f32], b: &[f32]) -> Vec<f32> {
        let mut packed = vec![f32::NAN; packed_len(tile, p)];
        pack_weights(tile, p, w, &mut packed);
        let mut y = vec![f32::NAN; p.y_len()];
        forward(tile, p, x, &packed, Some(b), &mut y, &mut vec![f32::NAN; forward_scratch_len(tile, p)]);
        y
    }

    /// (dx, dw, db) from [`backward`], packing Wᵀ itself or (`pre_packed`) given it.
    fn fast_backward(
        tile: Tile,
        p: &Conv2dParams,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        pre_packed: bool,
    ) -> [Vec<f32>; 3] {
        let (mut dx, mut dw, mut db) = (vec![f32::NAN; p.x_len()], vec![f32::NAN; p.w_len()], vec![f32::NAN; p.out_c]);
        let mut packed = vec![f32::NAN; packed_t_len(tile, p)];
        pack_weights_t(tile, p, w, &mut packed);
        let g = Conv2dGrads { dx: Some(&mut dx), dw: &mut dw, db: &mut db };
        let given = pre_packed.then_some(&packed[..]);
        backward(tile, p, x, w, given, dy, g, &mut vec![f32::NAN; backward_scratch_len(tile, p)]);
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

    /// The gradients of direct convolution in f64 for `dy` (dx, dw), each value with its Σ|terms|.
    #[allow(clippy::type_complexity)]
    fn direct_grads_f64(p: &Conv2dParams, x: &[f32], w: &[f32], dy: &[f32]) -> [(Vec<f64>, Vec<f64>); 2] {
        let (h, wd, ci, co) = (p.in_h as isize, p.in_w as isize, p.in_c, p.out_c);
        let (mut dx, mut dx_scale) = (vec![0.0; p.x_len()], vec![0.0; p.x_len()]);
        let (mut dw, mut dw_scale) = (vec![0.0; p.w_len()], vec![0.0; p.w_len()]);
        for n in 0..p.batch as isize {
            for r in 0..h {
                for s in 0..wd {
                    for kh in 0..3 {
                        for kw in 0..3 {
                            let (ir, is) = (r + kh - 1, s + kw - 1);
                            if ir < 0 || is < 0 || ir >= h || is >= wd {
                                continue;
                            }
                            let xi = ((n * h + ir) * wd + is) as usize * ci;
                            let yi = ((n * h + r) * wd + s) as usize * co;
                            let wi = (kh * 3 + kw) as usize * ci * co;
                            for c in 0..ci {
                                for f in 0..co {
                                    let (xv, g, wv) = (x[xi + c] as f64, dy[yi + f] as f64, w[wi + c * co + f] as f64);
                                    dx[xi + c] += g * wv;
                                    dx_scale[xi + c] += (g * wv).abs();
                                    dw[wi + c * co + f] += xv * g;
                                    dw_scale[wi + c * co + f] += (xv * g).abs();
                                }
                            }
                        }
                    }
                }
            }
        }
        [(dx, dx_scale), (dw, dw_scale)]
    }

    kernel_test!(
        fn gradients_match_direct_convolution_to_rounding() {
            let mut rng = test_rng(44);
            for tile in TILES {
                for p in [
                    params(2, 5, 4, 32, 32),
                    params(2, 7, 6, 32, 40),
                    params(1, 14, 14, 64, 32),
                    params(2, 9, 10, 16, 24),
                ] {
                    let (x, w) = (random_vec(&mut rng, p.x_len()), random_vec(&mut rng, p.w_len()));
                    let dy = random_vec(&mut rng, p.y_len());
                    let [gx, gw, _] = fast_backward(tile, &p, &x, &w, &dy, false);
                    let [(dx, dx_scale), (dw, dw_scale)] = direct_grads_f64(&p, &x, &w, &dy);
                    for (name, got, want, scale) in [("dx", &gx, &dx, &dx_scale), ("dw", &gw, &dw, &dw_scale)] {
                        for i in 0..got.len() {
                            let err = (got[i] as f64 - want[i]).abs();
                            assert!(
                                err <= 1e-5 * scale[i],
                                "{name}[{i}] of {tile:?} {p:?}: {} against {} (Σ|terms| {})",
                                got[i],
                                want[i],
                                scale[i]
                            );
                        }
                    }
                }
            }
        }
    );

    kernel_test!(
        fn applies_to_3x3_same_layers_of_16_channels_or_more() {
            for (h, ci, co) in [(14, 64, 128), (14, 128, 128), (7, 128, 256), (7, 256, 256), (28, 16, 16), (14, 16, 32)]
            {
                assert!(applies(&params(32, h, h, ci, co)), "{h}×{h}, {ci} → {co}");
            }
            assert!(!applies(&params(1, 28, 28, 1, 64)), "one input channel");
            assert!(!applies(&params(1, 8, 8, 8, 32)), "8 channels in");
            assert!(!applies(&params(1, 8, 8, 32, 8)), "8 channels out");
            assert!(!applies(&params(1, 8, 8, 36, 32)), "36 channels: not whole panels");
            let strided = Conv2dParams { stride_h: 2, stride_w: 2, ..params(1, 8, 8, 32, 32) };
            let valid = Conv2dParams { padding: Padding::Valid, ..params(1, 8, 8, 32, 32) };
            let five = Conv2dParams { k_h: 5, k_w: 5, ..params(1, 8, 8, 32, 32) };
            assert!(!applies(&strided) && !applies(&valid) && !applies(&five));
        }
    );

    kernel_test!(
        fn the_tile_with_fewer_products_is_chosen() {
            // Both Fashion ConvNets' maps: 28×28 (49 tiles of 36 against 196 of 16), 14×14 and
            // 7×7, and every map with a side past 2 (an edge tile of 3 or 2 outputs).
            for (h, w) in [(28, 28), (14, 14), (7, 7), (6, 6), (5, 5), (4, 4), (3, 3), (1, 5), (2, 3)] {
                assert_eq!(Tile::of(&params(32, h, w, 64, 64)), Tile::F4, "{h}×{w}");
            }
            // Ties: maps of one F(2×2) tile.
            for (h, w) in [(2, 2), (1, 2), (1, 1)] {
                assert_eq!(Tile::of(&params(32, h, w, 64, 64)), Tile::F2, "{h}×{w}");
            }
        }
    );

    kernel_test!(
        fn edge_tiles_take_the_products_of_their_points() {
            // A side of 7 is a tile of 4 outputs (6 points) and one of 3 (5 points), 14 three of
            // 4 and one of 2 (4 points), 28 seven of 4, 9 two of 4 and one of 2 for its last output.
            for (len, tiles, last, points) in
                [(7, 2, 3, 11), (14, 4, 2, 22), (28, 7, 4, 42), (9, 3, 2, 16), (3, 1, 3, 5)]
            {
                let side = Tile::F4.side(len);
                assert_eq!((side.tiles, side.last, side.positions()), (tiles, last, points), "side of {len}");
                let p = params(2, len, len, 32, 32);
                assert_eq!(Tile::F4.products_per_image(&p), points * points, "{len}×{len}");
                let t = Tile::F4.tiles(&p);
                let rows: usize = (0..36).map(|xi| t.rows(xi, 2)).sum();
                assert_eq!(rows, 2 * points * points, "{len}×{len}: the products' rows");
            }
            assert_eq!(Tile::F2.side(7).positions(), 16);
        }
    );

    kernel_test!(
        fn fast_path_matches_scalar() {
            let mut rng = test_rng(41);
            // Odd and even sizes (a last tile half outside), one-row images, groups of images
            // that do not divide the batch (49 tiles: 2 images a group), many images a group.
            // For F(4×4) too: 14×14 and 10×9 have inner tiles, 7×6 and 5×8 edge tiles only.
            for p in [
                params(2, 7, 6, 32, 40),
                params(3, 14, 14, 32, 48),
                params(2, 1, 5, 40, 32),
                params(5, 3, 3, 32, 32),
                params(1, 5, 8, 64, 40),
                params(2, 10, 9, 32, 32),
                params(2, 9, 10, 16, 24),
                params(1, 12, 11, 24, 16),
            ] {
                let (x, w, b) =
                    (random_vec(&mut rng, p.x_len()), random_vec(&mut rng, p.w_len()), random_vec(&mut rng, p.out_c));
                let dy = random_vec(&mut rng, p.y_len());
                for tile in TILES {
                    let mut want = vec![f32::NAN; p.y_len()];
                    scalar::forward(tile, &p, &x, &w, &b, &mut want);
                    assert_bits_eq(&fast_forward(tile, &p, &x, &w, &b), &want, &format!("y {tile:?} {p:?}"));

                    let (mut dx, mut dw, mut db) =
                        (vec![f32::NAN; p.x_len()], vec![f32::NAN; p.w_len()], vec![f32::NAN; p.out_c]);
                    let grads = Conv2dGrads { dx: Some(&mut dx), dw: &mut dw, db: &mut db };
                    scalar::backward(tile, &p, &x, &w, &dy, grads);
                    for pre_packed in [false, true] {
                        let [gx, gw, gb] = fast_backward(tile, &p, &x, &w, &dy, pre_packed);
                        assert_bits_eq(&gx, &dx, &format!("dx {tile:?} {p:?} pre-packed {pre_packed}"));
                        assert_bits_eq(&gw, &dw, &format!("dw {tile:?} {p:?}"));
                        assert_bits_eq(&gb, &db, &format!("db {tile:?} {p:?}"));
                    }
                }
            }
        }
    );

    kernel_test!(
        fn matches_direct_convolution_to_rounding() {
            let mut rng = test_rng(42);
            // F(4×4) rounds about ten times more (its transforms multiply by up to 8 and round
            // 1/6 and 1/24): ~1e-6 of Σ|terms| here, F(2×2) ~1e-7.
            for (tile, bound) in [(Tile::F2, 1e-6), (Tile::F4, 1e-5)] {
                for p in [params(2, 7, 6, 32, 40), params(1, 14, 14, 64, 32)] {
                    let (x, w, b) = (
                        random_vec(&mut rng, p.x_len()),
                        random_vec(&mut rng, p.w_len()),
                        random_vec(&mut rng, p.out_c),
                    );
                    let got = fast_forward(tile, &p, &x, &w, &b);
                    let (want, scale) = direct_f64(&p, &x, &w, &b);
                    for i in 0..got.len() {
                        let err = (got[i] as f64 - want[i]).abs();
                        assert!(
                            err <= bound * scale[i],
                            "y[{i}] of {tile:?} {p:?}: {} against {} (Σ|terms| {})",
                            got[i],
                            want[i],
                            scale[i]
                        );
                    }
                }
            }
        }
    );

    kernel_test!(
        fn gradients_match_finite_differences() {
            let mut rng = test_rng(43);
            // F(4×4)'s rounding (~1e-6 of Σ|terms|, ten times F(2×2)'s) swamps central differences
            // at 32 channels, so it is checked on the scalar reference with few channels (the fast
            // path gives the reference's bits, above; `gradients_match_direct_convolution_to_rounding`
            // checks it at 32–64). 5×4 is one F(4×4) tile row with a column past the edge; 9×6
            // has an inner F(4×4) tile.
            for (tile, p, fast) in [
                (Tile::F2, params(2, 5, 4, 32, 32), true),
                (Tile::F4, params(2, 5, 4, 4, 3), false),
                (Tile::F4, params(1, 9, 6, 4, 4), false),
            ] {
                let (x, w, b) =
                    (random_vec(&mut rng, p.x_len()), random_vec(&mut rng, p.w_len()), random_vec(&mut rng, p.out_c));
                let dy = random_vec(&mut rng, p.y_len());
                let [dx, dw, db] = if fast {
                    fast_backward(tile, &p, &x, &w, &dy, false)
                } else {
                    let (mut dx, mut dw, mut db) = (vec![0.0; p.x_len()], vec![0.0; p.w_len()], vec![0.0; p.out_c]);
                    scalar::backward(
                        tile,
                        &p,
                        &x,
                        &w,
                        &dy,
                        Conv2dGrads { dx: Some(&mut dx), dw: &mut dw, db: &mut db },
                    );
                    [dx, dw, db]
                };
                let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
                    let y = if fast {
                        fast_forward(tile, &p, x, w, b)
                    } else {
                        let mut y = vec![0.0; p.y_len()];
                        scalar::forward(tile, &p, x, w, b, &mut y);
                        y
                    };
                    y.iter().zip(&dy).map(|(&y, &d)| y as f64 * d as f64).sum()
                };
                check_gradient(&format!("dx {tile:?} {p:?}"), &mut x.clone(), &dx, 60, |xv| loss(xv, &w, &b));
                check_gradient(&format!("dw {tile:?} {p:?}"), &mut w.clone(), &dw, 60, |wv| loss(&x, wv, &b));
                check_gradient(&format!("db {tile:?} {p:?}"), &mut b.clone(), &db, 20, |bv| loss(&x, &w, bv));
            }
        }
    );
}
