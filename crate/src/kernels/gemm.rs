//! Row-major matrix products, the engine under dense and convolution.
//!
//! Every output element is accumulated from +0.0 over `k` in ascending order, with the bias
//! (if any) added last. The scalar and SIMD versions keep that order, so they agree bit for bit,
//! and results do not depend on how a caller tiles or splits the work.

/// The shape of `C[m×n] = A[m×k] · B[k×n] (+ bias[n])`, all row-major and densely packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmParams {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

/// Rows of `k` handled per packed block of B: 256 rows of an 8-column panel (8 KiB) stay in L1.
pub const KC: usize = 256;
/// Columns per packed panel, and per register tile.
pub const NR: usize = 8;
/// Rows per packed panel of A, and per register tile.
pub const MR: usize = 4;

impl GemmParams {
    /// Panics with the sizes involved when a slice does not match the shape.
    ///
    /// # Shapes
    /// `a`: m·k, `b`: k·n, `bias`: n, `c`: m·n.
    fn check(&self, a: usize, b: usize, bias: Option<usize>, c: usize) {
        let GemmParams { m, k, n } = *self;
        assert_eq!(a, m * k, "gemm: A has {a} values, expected m·k = {m}·{k}");
        assert_eq!(b, k * n, "gemm: B has {b} values, expected k·n = {k}·{n}");
        if let Some(bias) = bias {
            assert_eq!(bias, n, "gemm: bias has {bias} values, expected n = {n}");
        }
        assert_eq!(c, m * n, "gemm: C has {c} values, expected m·n = {m}·{n}");
    }

    /// The length of B packed by [`pack_b`]: `k` rows of `n` rounded up to whole panels.
    pub fn pack_len(&self) -> usize {
        self.k.max(1) * self.n.div_ceil(NR) * NR
    }

    /// The scratch [`gemm_packed`] needs to pack one block of A: `m` rounded up to whole
    /// 4-row panels, times `min(k, KC)`.
    pub fn a_pack_len(&self) -> usize {
        self.m.div_ceil(MR) * MR * self.k.clamp(1, KC)
    }

    /// The scratch [`gemm`] needs: B packed, then a block of A.
    pub fn scratch_len(&self) -> usize {
        self.pack_len() + self.a_pack_len()
    }
}

/// Packs B for [`gemm_packed`]. Pack once, multiply many times: convolution packs its kernel
/// once per batch and reuses it for every image.
///
/// # Shapes
/// `b`: k·n; `packed`: at least [`GemmParams::pack_len`].
pub fn pack_b(p: &GemmParams, b: &[f32], packed: &mut [f32]) {
    assert_eq!(b.len(), p.k * p.n, "gemm: B has {} values, expected k·n = {}·{}", b.len(), p.k, p.n);
    assert!(packed.len() >= p.pack_len(), "gemm: pack has {} values, needs {}", packed.len(), p.pack_len());
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    simd::pack_b(p, b, packed);
    // The scalar build multiplies with the reference, which reads B as it is.
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    packed[..b.len()].copy_from_slice(b);
}

/// [`pack_b`] from Bᵀ (`b_t`, n×k row-major): packs a transposed operand, such as a kernel
/// for its input gradient, without writing the transpose first. The same packed values.
pub fn pack_b_transposed(p: &GemmParams, b_t: &[f32], packed: &mut [f32]) {
    assert_eq!(b_t.len(), p.k * p.n, "gemm: Bᵀ has {} values, expected n·k = {}·{}", b_t.len(), p.n, p.k);
    assert!(packed.len() >= p.pack_len(), "gemm: pack has {} values, needs {}", packed.len(), p.pack_len());
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    simd::pack_b_transposed(p, b_t, packed);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    transpose(p.n, p.k, b_t, &mut packed[..p.k * p.n]);
}

/// Products per [`warm_up`], each one register tile over [`KC`] values of `k`.
const WARM_UP_PRODUCTS: usize = 32;

/// Runs a small product ([`WARM_UP_PRODUCTS`] times 4×256 by 256×8, on zeros) so that V8 starts
/// optimising the tile loop before a model needs it.
///
/// V8 runs wasm first in baseline code, several times slower, and compiles a function that has
/// run long enough in the background. At a cold start the first prediction's products would end
/// before that compile; this warm-up starts it. Building a large model runs it (see
/// `WARM_UP_MACS` in `model/spec.rs`). Fewer products did not start the compile in time; more
/// added nothing (`npm run bench:cold`; docs/performance.md).
pub fn warm_up() {
    let p = GemmParams { m: MR, k: KC, n: NR };
    let (a, b) = (vec![0.0; p.m * p.k], vec![0.0; p.k * p.n]);
    let (mut packed, mut c, mut a_pack) = (vec![0.0; p.pack_len()], vec![0.0; p.m * p.n], vec![0.0; p.a_pack_len()]);
    pack_b(&p, &b, &mut packed);
    for _ in 0..WARM_UP_PRODUCTS {
        gemm_packed(&p, &a, &packed, None, &mut c, &mut a_pack);
    }
}

/// `C = A · B (+ bias)` with B already packed by [`pack_b`] for the same shape; `a_pack` is
/// scratch of at least [`GemmParams::a_pack_len`] values.
pub fn gemm_packed(p: &GemmParams, a: &[f32], packed: &[f32], bias: Option<&[f32]>, c: &mut [f32], a_pack: &mut [f32]) {
    assert!(packed.len() >= p.pack_len(), "gemm: pack has {} values, needs {}", packed.len(), p.pack_len());
    assert!(a_pack.len() >= p.a_pack_len(), "gemm: a_pack has {} values, needs {}", a_pack.len(), p.a_pack_len());
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    simd::gemm_packed(p, a, packed, bias, c, a_pack);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    scalar::gemm(p, a, &packed[..p.k * p.n], bias, c);
}

/// `C += A · B`: each sum continues from C's value, terms in ascending `k`, as if C were the
/// first term. `scratch`: [`GemmParams::scratch_len`].
pub fn gemm_accumulate(p: &GemmParams, a: &[f32], b: &[f32], c: &mut [f32], scratch: &mut [f32]) {
    gemm_without_bias(p, a, b, c, scratch, true, false);
}

/// `C = A · B` with A given as its transpose `a_t` (k×m, row-major), e.g. a kernel gradient
/// `colsᵀ · dy` straight from the patch rows: the same bits as transposing and calling
/// [`gemm`]. `scratch`: [`GemmParams::scratch_len`].
pub fn gemm_transposed_a(p: &GemmParams, a_t: &[f32], b: &[f32], c: &mut [f32], scratch: &mut [f32]) {
    gemm_without_bias(p, a_t, b, c, scratch, false, true);
}

/// `C += A · B` with A given as its transpose `a_t` (k×m, row-major): each sum continues from
/// C's value, terms in ascending `k`, so a sum split over several calls (a kernel gradient over
/// groups of images) is the one sum. `scratch`: [`GemmParams::scratch_len`].
pub fn gemm_transposed_a_accumulate(p: &GemmParams, a_t: &[f32], b: &[f32], c: &mut [f32], scratch: &mut [f32]) {
    gemm_without_bias(p, a_t, b, c, scratch, true, true);
}

/// Where [`pack_b`] puts `B[row, col]`, for writing a packed operand in place. The four values
/// from a column that is a multiple of 4 are contiguous.
pub fn packed_index(p: &GemmParams, row: usize, col: usize) -> usize {
    debug_assert!(row < p.k && col < p.n);
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    {
        let n8 = p.n.div_ceil(NR) * NR;
        let pc = row / KC * KC;
        let kc = KC.min(p.k - pc);
        pc * n8 + col / NR * kc * NR + (row - pc) * NR + col % NR
    }
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        row * p.n + col
    }
}

/// [`pack_b`], then `C (+)= A · B`: `accumulate` continues each sum from C, `a_transposed`
/// reads `a` as Aᵀ. Inlined into both callers, so each compiles with its flags as constants.
#[inline(always)]
fn gemm_without_bias(
    p: &GemmParams,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    scratch: &mut [f32],
    accumulate: bool,
    a_transposed: bool,
) {
    let (pack, a_pack) = scratch.split_at_mut(p.pack_len());
    pack_b(p, b, pack);
    assert!(a_pack.len() >= p.a_pack_len(), "gemm: a_pack has {} values, needs {}", a_pack.len(), p.a_pack_len());
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    simd::gemm_packed_into(p, a, pack, None, c, a_pack, simd::Mode { accumulate, a_transposed });
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    {
        let b = &pack[..p.k * p.n];
        if accumulate && a_transposed {
            scalar::gemm_transposed_a_accumulate(p, a, b, c);
        } else if accumulate {
            scalar::gemm_accumulate(p, a, b, c);
        } else if a_transposed {
            scalar::gemm_transposed_a(p, a, b, c);
        } else {
            scalar::gemm(p, a, b, None, c);
        }
    }
}

/// `C = A · B (+ bias)`, overwriting `C`: [`pack_b`], then [`gemm_packed`]. Uses simd128 when
/// the build enables it.
///
/// # Shapes
/// `a`: m·k, `b`: k·n, `bias`: n, `c`: m·n (all row-major); `scratch`: [`GemmParams::scratch_len`].
pub fn gemm(p: &GemmParams, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32], scratch: &mut [f32]) {
    let (pack, a_pack) = scratch.split_at_mut(p.pack_len());
    pack_b(p, b, pack);
    gemm_packed(p, a, pack, bias, c, a_pack);
}

/// Writes the transpose of the row-major `rows×cols` matrix `src` into `dst` (`cols×rows`).
pub fn transpose(rows: usize, cols: usize, src: &[f32], dst: &mut [f32]) {
    assert_eq!(src.len(), rows * cols, "transpose: source has {} values, expected {rows}·{cols}", src.len());
    assert_eq!(dst.len(), rows * cols, "transpose: destination has {} values, expected {rows}·{cols}", dst.len());
    // Blocks keep both the reads and the writes within a few cache lines.
    const BLOCK: usize = 16;
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (0..cols).step_by(BLOCK) {
            for r in r0..(r0 + BLOCK).min(rows) {
                for c in c0..(c0 + BLOCK).min(cols) {
                    dst[c * rows + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// The reference: three plain loops in the canonical summation order.
pub mod scalar {
    use super::GemmParams;

    /// `C = A · B (+ bias)`. See [`super::gemm`].
    pub fn gemm(p: &GemmParams, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
        p.check(a.len(), b.len(), bias.map(<[f32]>::len), c.len());
        sums(p, |i, kk| a[i * p.k + kk], b, c, false);
        if let Some(bias) = bias.filter(|_| p.n > 0) {
            for row in c.chunks_exact_mut(p.n) {
                for (v, &b) in row.iter_mut().zip(bias) {
                    *v += b;
                }
            }
        }
    }

    /// `C = A · B` from Aᵀ. See [`super::gemm_transposed_a`].
    pub fn gemm_transposed_a(p: &GemmParams, a_t: &[f32], b: &[f32], c: &mut [f32]) {
        p.check(a_t.len(), b.len(), None, c.len());
        sums(p, |i, kk| a_t[kk * p.m + i], b, c, false);
    }

    /// `C += A · B`. See [`super::gemm_accumulate`].
    pub fn gemm_accumulate(p: &GemmParams, a: &[f32], b: &[f32], c: &mut [f32]) {
        p.check(a.len(), b.len(), None, c.len());
        sums(p, |i, kk| a[i * p.k + kk], b, c, true);
    }

    /// `C += A · B` from Aᵀ. See [`super::gemm_transposed_a_accumulate`].
    pub fn gemm_transposed_a_accumulate(p: &GemmParams, a_t: &[f32], b: &[f32], c: &mut [f32]) {
        p.check(a_t.len(), b.len(), None, c.len());
        sums(p, |i, kk| a_t[kk * p.m + i], b, c, true);
    }

    /// Each `C[i, j]` as one sum over `k` in ascending order, from +0.0 or (`accumulate`) from
    /// C's value; `a(i, kk)` reads A.
    fn sums(p: &GemmParams, a: impl Fn(usize, usize) -> f32, b: &[f32], c: &mut [f32], accumulate: bool) {
        let GemmParams { m, k, n } = *p;
        for i in 0..m {
            for j in 0..n {
                let mut acc = if accumulate { c[i * n + j] } else { 0.0f32 };
                for kk in 0..k {
                    acc += a(i, kk) * b[kk * n + j];
                }
                c[i * n + j] = acc;
            }
        }
    }
}

/// simd128: B is packed, in blocks of [`KC`] rows, into contiguous panels of [`NR`] columns; a
/// 4×8 register tile (8 f32x4 accumulators, which fit V8's 16 xmm registers) walks each panel.
/// Between blocks of `k` the tile is stored to C and loaded back, which continues each sum
/// exactly where it stopped, so the order stays the scalar reference's.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd {
    use super::{GemmParams, KC, MR, NR};
    use core::arch::wasm32::*;

    /// A tile's accumulators: zeros for a block that starts the sums, else C's rows so far.
    /// Macros, not functions, so that both tiles compile exactly as written out (a call boundary
    /// for the accumulators risks their leaving the registers).
    macro_rules! tile_begin {
        ($c:expr, $i0:expr, $rows:expr, $blk:expr, $cols:expr) => {{
            let Cols { n, j0, w } = *$cols;
            let mut acc = [[f32x4_splat(0.0); 2]; MR];
            if !$blk.first {
                for (r, row) in acc.iter_mut().enumerate().take($rows) {
                    *row = load8(&$c[($i0 + r) * n + j0..], w);
                }
            }
            acc
        }};
    }

    /// Adds the bias (if any) after a tile's last block, then stores its rows to C.
    macro_rules! tile_end {
        ($acc:ident, $bias:expr, $c:expr, $i0:expr, $rows:expr, $blk:expr, $cols:expr) => {{
            let Cols { n, j0, w } = *$cols;
            if $blk.last {
                if let Some(bias) = $bias {
                    let bv = load8(&bias[j0..], w);
                    for row in $acc.iter_mut() {
                        row[0] = f32x4_add(row[0], bv[0]);
                        row[1] = f32x4_add(row[1], bv[1]);
                    }
                }
            }
            for (r, row) in $acc.iter().enumerate().take($rows) {
                store8(*row, &mut $c[($i0 + r) * n + j0..], w);
            }
        }};
    }

    /// Block `pc` (rows `pc..pc+kc` of B) starts at `pc·n8`; within it, panel `jp` at `jp·kc·NR`.
    pub fn pack_b(p: &GemmParams, b: &[f32], pack: &mut [f32]) {
        let n = p.n;
        pack_panels(p, pack, |row, j0, w, d| {
            // Vector moves, zeros beyond `w`: copy_from_slice would be a memory.copy call.
            store8(load8(&b[row * n + j0..row * n + j0 + w], w), d, NR);
        });
    }

    /// [`pack_b`]'s layout, read from Bᵀ. See [`super::pack_b_transposed`]. A whole panel
    /// takes four rows of B at a time: four values from each of its eight rows of Bᵀ, two 4×4
    /// transposes in registers. Element by element it would be a strided gather, a large share of
    /// LeNet-5's C5 backward, which packs Wᵀ (400 × 120) every step.
    pub fn pack_b_transposed(p: &GemmParams, b_t: &[f32], pack: &mut [f32]) {
        let k = p.k;
        assert!(b_t.len() >= p.n * k);
        pack_panel_blocks(p, pack, |pc, j0, w, dst| {
            let kc = dst.len() / NR;
            // Rows of B done four at a time through registers; the rest one by one.
            let mut done = 0;
            if w == NR {
                while done + 4 <= kc {
                    // SAFETY: rows j0..j0+8 < n of Bᵀ hold k values, and pc + done + 4 ≤ k; dst
                    // holds kc·8 values and (done + 3)·8 + 8 ≤ kc·8.
                    unsafe {
                        let at = |r: usize| v128_load(b_t.as_ptr().add((j0 + r) * k + pc + done) as *const v128);
                        let lo = transpose4([at(0), at(1), at(2), at(3)]);
                        let hi = transpose4([at(4), at(5), at(6), at(7)]);
                        for c in 0..4 {
                            let d = dst.as_mut_ptr().add((done + c) * NR);
                            v128_store(d as *mut v128, lo[c]);
                            v128_store(d.add(4) as *mut v128, hi[c]);
                        }
                    }
                    done += 4;
                }
            }
            for (kk, d) in dst.chunks_exact_mut(NR).enumerate().skip(done) {
                for (jj, v) in d.iter_mut().enumerate() {
                    *v = if jj < w { b_t[(j0 + jj) * k + pc + kk] } else { 0.0 };
                }
            }
        });
    }

    /// `c + a·b`, lane by lane: the products' accumulation step. The default build multiplies and
    /// adds, rounding twice, exactly as the scalar reference does. The opt-in relaxed-SIMD build
    /// (`init({ simd: 'relaxed' })`) uses `f32x4.relaxed_madd`, which an engine may run as a
    /// fused multiply-add (one rounding) or as the two; its results then differ from the default
    /// build's, and may differ between engines and CPUs (docs/relaxed-simd.md).
    #[inline(always)]
    pub fn madd(a: v128, b: v128, c: v128) -> v128 {
        #[cfg(target_feature = "relaxed-simd")]
        {
            f32x4_relaxed_madd(a, b, c)
        }
        #[cfg(not(target_feature = "relaxed-simd"))]
        {
            f32x4_add(c, f32x4_mul(a, b))
        }
    }

    /// Rows `r` of a 4×4 block in, its columns out: `out[c][r] = rows[r][c]`.
    #[inline(always)]
    pub fn transpose4(rows: [v128; 4]) -> [v128; 4] {
        let [a, b, c, d] = rows;
        let ab_lo = i32x4_shuffle::<0, 4, 1, 5>(a, b);
        let ab_hi = i32x4_shuffle::<2, 6, 3, 7>(a, b);
        let cd_lo = i32x4_shuffle::<0, 4, 1, 5>(c, d);
        let cd_hi = i32x4_shuffle::<2, 6, 3, 7>(c, d);
        [
            i32x4_shuffle::<0, 1, 4, 5>(ab_lo, cd_lo),
            i32x4_shuffle::<2, 3, 6, 7>(ab_lo, cd_lo),
            i32x4_shuffle::<0, 1, 4, 5>(ab_hi, cd_hi),
            i32x4_shuffle::<2, 3, 6, 7>(ab_hi, cd_hi),
        ]
    }

    /// Walks [`pack_b`]'s layout: `fill(row, j0, w, d)` writes B's row `row`, columns
    /// `j0..j0 + w`, into the 8 values `d` (zeros past `w`).
    #[inline(always)]
    fn pack_panels(p: &GemmParams, pack: &mut [f32], mut fill: impl FnMut(usize, usize, usize, &mut [f32])) {
        pack_panel_blocks(p, pack, |pc, j0, w, dst| {
            for (kk, d) in dst.chunks_exact_mut(NR).enumerate() {
                fill(pc + kk, j0, w, d);
            }
        });
    }

    /// Walks [`pack_b`]'s layout a panel block at a time: `fill(pc, j0, w, dst)` writes B's rows
    /// `pc..pc + kc` (`kc` = `dst.len() / 8`), columns `j0..j0 + w`, into `dst`, 8 values a row.
    #[inline(always)]
    fn pack_panel_blocks(p: &GemmParams, pack: &mut [f32], mut fill: impl FnMut(usize, usize, usize, &mut [f32])) {
        let GemmParams { k, n, .. } = *p;
        assert!(pack.len() >= p.pack_len());
        let n8 = n.div_ceil(NR) * NR;
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            for jp in 0..n.div_ceil(NR) {
                let (j0, w) = (jp * NR, NR.min(n - jp * NR));
                fill(pc, j0, w, &mut pack[pc * n8 + jp * kc * NR..pc * n8 + (jp + 1) * kc * NR]);
            }
        }
    }

    /// `C = A · B (+ bias)` from a packed B. See [`super::gemm_packed`].
    pub fn gemm_packed(
        p: &GemmParams,
        a: &[f32],
        pack: &[f32],
        bias: Option<&[f32]>,
        c: &mut [f32],
        a_pack: &mut [f32],
    ) {
        gemm_packed_into(p, a, pack, bias, c, a_pack, Mode::default())
    }

    /// Variants of [`gemm_packed`].
    #[derive(Clone, Copy, Default)]
    pub struct Mode {
        /// `C += A · B`: each sum starts from C's value.
        pub accumulate: bool,
        /// `a` holds Aᵀ (k×m, row-major).
        pub a_transposed: bool,
    }

    /// [`gemm_packed`] in one of its [`Mode`]s.
    pub fn gemm_packed_into(
        p: &GemmParams,
        a: &[f32],
        pack: &[f32],
        bias: Option<&[f32]>,
        c: &mut [f32],
        a_pack: &mut [f32],
        mode: Mode,
    ) {
        let Mode { accumulate, a_transposed } = mode;
        p.check(a.len(), p.k * p.n, bias.map(<[f32]>::len), c.len());
        let GemmParams { m, k, .. } = *p;
        let row_panels = m.div_ceil(MR);
        let pack_block = |pc: usize, kc: usize, a_pack: &mut [f32]| {
            if a_transposed {
                pack_a_transposed(a, m, pc, kc, row_panels, a_pack);
            } else {
                pack_a(a, m, k, pc, kc, row_panels, a_pack);
            }
        };
        gemm_blocks(p, pack_block, pack, bias, c, a_pack, accumulate);
    }

    /// `C = Aᵀ·B` with Aᵀ's rows (convolution patch rows) read through [`Gathered`] from the
    /// images, for a kernel gradient (`m` = patch length, `k` = positions, `n` = filters): the
    /// panels [`pack_a_transposed`] makes of the im2col rows, without writing the rows.
    pub fn gemm_gathered_transposed_a(
        p: &GemmParams,
        a: &Gathered<'_>,
        pack: &[f32],
        c: &mut [f32],
        a_pack: &mut [f32],
    ) {
        let GemmParams { m, k, .. } = *p;
        assert!(
            c.len() == m * p.n && m > 0 && k > 0,
            "gemm_gathered_transposed_a: C has {} values for {m}×{}",
            c.len(),
            p.n
        );
        check_gathered(a, k, m);
        gemm_blocks(p, |pc, kc, a_pack| pack_a_gathered(a, m, pc, kc, a_pack), pack, None, c, a_pack, false);
    }

    /// The product over blocks of [`KC`] columns of A: `pack_block(pc, kc, a_pack)` packs A's
    /// columns `pc..pc+kc` into 4-row panels, then every panel of B runs over them.
    #[inline(always)]
    fn gemm_blocks(
        p: &GemmParams,
        mut pack_block: impl FnMut(usize, usize, &mut [f32]),
        pack: &[f32],
        bias: Option<&[f32]>,
        c: &mut [f32],
        a_pack: &mut [f32],
        accumulate: bool,
    ) {
        let GemmParams { m, k, n } = *p;
        if k == 0 && accumulate {
            return;
        }
        if k == 0 {
            for row in c.chunks_exact_mut(n.max(1)) {
                match bias {
                    Some(bias) => row.copy_from_slice(bias),
                    None => row.fill(0.0),
                }
            }
            return;
        }
        let panels = n.div_ceil(NR);
        let n8 = panels * NR;
        let row_panels = m.div_ceil(MR);
        let mut pc = 0;
        while pc < k {
            let kc = KC.min(k - pc);
            // A's columns pc..pc+kc, packed for the tiles.
            pack_block(pc, kc, &mut a_pack[..row_panels * kc * MR]);
            let block = Block { kc, first: pc == 0 && !accumulate, last: pc + kc == k };
            for jp in 0..panels {
                let panel = &pack[pc * n8 + jp * kc * NR..pc * n8 + (jp + 1) * kc * NR];
                let cols = Cols { n, j0: jp * NR, w: NR.min(n - jp * NR) };
                panel_pass(m, &a_pack[..row_panels * kc * MR], panel, bias, c, &block, &cols);
            }
            pc += kc;
        }
    }

    /// [`pack_a_transposed`] from patch rows read through `a` (row kk of Aᵀ is position kk's
    /// patch row): a panel's four patch values at one position are one vector load when they
    /// lie in one kernel row's run, else up to four loads.
    fn pack_a_gathered(a: &Gathered<'_>, m: usize, pc: usize, kc: usize, a_pack: &mut [f32]) {
        assert!(kc <= KC && a_pack.len() >= m.div_ceil(MR) * MR * kc);
        let mut bases = [0usize; KC];
        let mut walk = RowWalk::default();
        for i in 0..pc + kc {
            let base = walk.next(a);
            if i >= pc {
                bases[i - pc] = base;
            }
        }
        let src = a.src.as_ptr();
        for t in 0..m.div_ceil(MR) {
            let (i0, rows) = (t * MR, MR.min(m - t * MR));
            // Rows past m repeat the last row's offset; their lanes are zeros.
            let offs: [usize; MR] = core::array::from_fn(|r| a.offset(i0 + r.min(rows - 1)));
            let whole = rows == MR && offs[3] == offs[0] + 3;
            let dst = &mut a_pack[t * kc * MR..(t + 1) * kc * MR];
            for (d, &base) in dst.chunks_exact_mut(MR).zip(&bases[..kc]) {
                // SAFETY: base + offset(i) < src.len() for every position and patch value
                // (check_gathered), and d holds 4 values.
                unsafe {
                    let v = if whole {
                        v128_load(src.add(base + offs[0]) as *const v128)
                    } else {
                        let at = |r: usize| if r < rows { *src.add(base + offs[r]) } else { 0.0 };
                        f32x4(at(0), at(1), at(2), at(3))
                    };
                    v128_store(d.as_mut_ptr() as *mut v128, v);
                }
            }
        }
    }

    /// Every row tile of C against one packed panel of B, over one block of `k`.
    ///
    /// Out of line, so that a layer's product is many calls: V8 starts wasm in baseline code
    /// and moves a function to optimised code only between its calls, so a layer computed in one
    /// call ran unoptimised throughout at a cold start. A call per panel costs nothing measurable.
    #[inline(never)]
    fn panel_pass(
        m: usize,
        a_pack: &[f32],
        panel: &[f32],
        bias: Option<&[f32]>,
        c: &mut [f32],
        block: &Block,
        cols: &Cols,
    ) {
        let kc = block.kc;
        for t in 0..m.div_ceil(MR) {
            let rows = MR.min(m - t * MR);
            tile(&a_pack[t * kc * MR..(t + 1) * kc * MR], panel, bias, c, t * MR, rows, block, cols);
        }
    }

    /// Packs columns `pc..pc+kc` of A (m×k), four rows interleaved per panel: `[kk·4 + r]`;
    /// missing rows are 0.
    fn pack_a(a: &[f32], m: usize, k: usize, pc: usize, kc: usize, row_panels: usize, a_pack: &mut [f32]) {
        for t in 0..row_panels {
            let dst = &mut a_pack[t * kc * MR..(t + 1) * kc * MR];
            if t * MR + MR <= m {
                // Four whole rows: four values of each through a 4×4 transpose in registers,
                // the last 0–3 columns one by one.
                let row = |r: usize| &a[(t * MR + r) * k + pc..(t * MR + r) * k + pc + kc];
                let rows = [row(0), row(1), row(2), row(3)];
                let full = kc / 4 * 4;
                for kk in (0..full).step_by(4) {
                    // SAFETY: each row holds kc ≥ kk + 4 values; dst holds kc·4 ≥ (kk + 4)·4.
                    unsafe {
                        let at = |r: usize| v128_load(rows[r].as_ptr().add(kk) as *const v128);
                        let cols = transpose4([at(0), at(1), at(2), at(3)]);
                        for (j, v) in cols.iter().enumerate() {
                            v128_store(dst.as_mut_ptr().add((kk + j) * MR) as *mut v128, *v);
                        }
                    }
                }
                for kk in full..kc {
                    for (r, src) in rows.iter().enumerate() {
                        dst[kk * MR + r] = src[kk];
                    }
                }
                continue;
            }
            for r in 0..MR {
                let i = t * MR + r;
                if i < m {
                    let src = &a[i * k + pc..i * k + pc + kc];
                    for (kk, &v) in src.iter().enumerate() {
                        dst[kk * MR + r] = v;
                    }
                } else {
                    for kk in 0..kc {
                        dst[kk * MR + r] = 0.0;
                    }
                }
            }
        }
    }

    /// [`pack_a`] from Aᵀ (`a_t`, k×m): a panel's four values at one `kk` are
    /// four consecutive values of Aᵀ's row, one vector move.
    fn pack_a_transposed(a_t: &[f32], m: usize, pc: usize, kc: usize, row_panels: usize, a_pack: &mut [f32]) {
        for t in 0..row_panels {
            let (i0, rows) = (t * MR, MR.min(m - t * MR));
            let dst = &mut a_pack[t * kc * MR..(t + 1) * kc * MR];
            for (kk, d) in dst.chunks_exact_mut(MR).enumerate() {
                let src = &a_t[(pc + kk) * m + i0..(pc + kk) * m + i0 + rows];
                let v = if rows == MR {
                    // SAFETY: src holds 4 values.
                    unsafe { v128_load(src.as_ptr() as *const v128) }
                } else {
                    let at = |r: usize| if r < rows { src[r] } else { 0.0 };
                    f32x4(at(0), at(1), at(2), at(3))
                };
                // SAFETY: d holds 4 values.
                unsafe { v128_store(d.as_mut_ptr() as *mut v128, v) };
            }
        }
    }

    /// `C = A · B + bias` with A's rows gathered from convolution input images instead of
    /// im2col rows: the same bits as building the rows and calling [`gemm_packed`], without
    /// writing them and packing them again. See [`Gathered`].
    pub fn gemm_gathered(p: &GemmParams, a: &Gathered<'_>, pack: &[f32], bias: &[f32], c: &mut [f32]) {
        let GemmParams { m, k, n } = *p;
        assert!(bias.len() == n && c.len() == m * n && pack.len() >= p.pack_len() && m > 0 && k > 0);
        check_gathered(a, m, k);
        let panels = n.div_ceil(NR);
        let n8 = panels * NR;
        let mut pc = 0;
        while pc < k {
            let kc = KC.min(k - pc);
            let block = Block { kc, first: pc == 0, last: pc + kc == k };
            // The block's first column: kernel row pc / run, pc % run values into it.
            let start = Stretch { row: pc / a.run, col: pc % a.run };
            for jp in 0..panels {
                let panel = &pack[pc * n8 + jp * kc * NR..pc * n8 + (jp + 1) * kc * NR];
                let cols = Cols { n, j0: jp * NR, w: NR.min(n - jp * NR) };
                let mut walk = RowWalk::default();
                for i0 in (0..m).step_by(MR) {
                    let rows = MR.min(m - i0);
                    // Rows past m read row m − 1 again; they are not stored.
                    let mut bases = [0; MR];
                    for r in 0..MR {
                        bases[r] = if r < rows { walk.next(a) } else { bases[rows - 1] };
                    }
                    tile_gathered(a, &bases, start, panel, bias, c, i0, rows, &block, &cols);
                }
            }
            pc += kc;
        }
    }

    /// Checks that every read of `rows` patch rows of `cols` values through `a` stays inside its
    /// source.
    fn check_gathered(a: &Gathered<'_>, rows: usize, cols: usize) {
        // Offsets grow with the column (a kernel row's run fits in the distance to the next).
        assert!(
            a.out_w > 0 && a.rows_per_image % a.out_w == 0 && 0 < a.run && a.run <= a.run_stride,
            "gemm_gathered: bad geometry"
        );
        // Row bases never decrease (a row's step covers a whole row of positions, an image's
        // all of its positions), so every read stays inside `src` when the last row's base plus
        // the last offset does.
        let out_h = a.rows_per_image / a.out_w;
        assert!(a.step_h >= (a.out_w - 1) * a.step_w, "gemm_gathered: row bases must grow");
        assert!(a.image_len >= (out_h - 1) * a.step_h + (a.out_w - 1) * a.step_w, "gemm_gathered: row bases must grow");
        assert!(
            rows > 0 && cols > 0 && a.base(rows - 1) + a.offset(cols - 1) < a.src.len(),
            "gemm_gathered: rows reach past the source"
        );
    }

    /// Row bases one after the other, without the divisions of [`Gathered::base`].
    #[derive(Default)]
    struct RowWalk {
        image: usize,
        oh: usize,
        ow: usize,
    }

    impl RowWalk {
        /// The current row's base; then moves to the next row.
        #[inline(always)]
        fn next(&mut self, a: &Gathered<'_>) -> usize {
            let base = self.image * a.image_len + self.oh * a.step_h + self.ow * a.step_w;
            self.ow += 1;
            if self.ow == a.out_w {
                self.ow = 0;
                self.oh += 1;
                if self.oh * a.out_w == a.rows_per_image {
                    self.oh = 0;
                    self.image += 1;
                }
            }
            base
        }
    }

    /// A column of the patch rows as (kernel row, value within the kernel row's run).
    #[derive(Clone, Copy)]
    struct Stretch {
        row: usize,
        col: usize,
    }

    /// Where a convolution's patch rows come from: row `i` (image `i / rows_per_image`, output
    /// position `q = i % rows_per_image`) holds, at column `kk`, `src[base(i) + offset(kk)]`.
    /// Columns run through the kernel rows: `run` contiguous values (kernel width × channels),
    /// then the next kernel row `run_stride` further on.
    pub struct Gathered<'a> {
        pub src: &'a [f32],
        pub rows_per_image: usize,
        pub image_len: usize,
        pub out_w: usize,
        /// Distance between output rows' first inputs (stride_h × padded width × channels).
        pub step_h: usize,
        /// Distance between neighbouring output positions' first inputs (stride_w × channels).
        pub step_w: usize,
        pub run: usize,
        pub run_stride: usize,
    }

    impl Gathered<'_> {
        #[inline(always)]
        fn base(&self, i: usize) -> usize {
            let q = i % self.rows_per_image;
            (i / self.rows_per_image) * self.image_len + (q / self.out_w) * self.step_h + (q % self.out_w) * self.step_w
        }

        #[inline(always)]
        fn offset(&self, kk: usize) -> usize {
            (kk / self.run) * self.run_stride + kk % self.run
        }
    }

    /// [`tile`] with A read through [`Gathered`]: for each contiguous stretch of columns
    /// (within one kernel row), four row pointers walk the source.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn tile_gathered(
        a: &Gathered<'_>,
        bases: &[usize; MR],
        start: Stretch,
        panel: &[f32],
        bias: &[f32],
        c: &mut [f32],
        i0: usize,
        rows: usize,
        blk: &Block,
        cols: &Cols,
    ) {
        let mut acc = tile_begin!(c, i0, rows, blk, cols);
        assert!(panel.len() >= blk.kc * NR);
        let (bp, src) = (panel.as_ptr(), a.src.as_ptr());
        // Contiguous stretches of columns, each within one kernel row's run.
        let Stretch { row: mut kernel_row, mut col } = start;
        let mut done = 0;
        while done < blk.kc {
            let len = (a.run - col).min(blk.kc - done);
            let off = kernel_row * a.run_stride + col;
            // SAFETY: bases[r] + offset(kk') < src.len() for every kk' < k (check_gathered:
            // bases are at most the last row's, offsets grow with kk), and the
            // panel holds kc·NR values.
            unsafe {
                let ap: [*const f32; MR] = core::array::from_fn(|r| src.add(bases[r] + off));
                let bq = bp.add(done * NR);
                for j in 0..len {
                    let b0 = v128_load(bq.add(j * NR) as *const v128);
                    let b1 = v128_load(bq.add(j * NR + 4) as *const v128);
                    for (row, p) in acc.iter_mut().zip(ap.iter()) {
                        let av = v128_load32_splat(p.add(j) as *const u32);
                        row[0] = madd(av, b0, row[0]);
                        row[1] = madd(av, b1, row[1]);
                    }
                }
            }
            done += len;
            kernel_row += 1;
            col = 0;
        }
        tile_end!(acc, Some(bias), c, i0, rows, blk, cols);
    }

    /// How many rows of `k` a pass covers, and whether it starts or ends the sums.
    struct Block {
        kc: usize,
        first: bool,
        last: bool,
    }

    /// Which columns of C a panel covers: `j0..j0 + w` of `n`.
    struct Cols {
        n: usize,
        j0: usize,
        w: usize,
    }

    /// Reads up to 8 values of a row into two vectors, zeros beyond `w`. Partial rows are read
    /// lane by lane: `copy_from_slice` would be a `memory.copy`, which V8 runs as a call.
    #[inline(always)]
    fn load8(src: &[f32], w: usize) -> [v128; 2] {
        if w == NR {
            let src = &src[..NR];
            // SAFETY: src holds 8 values.
            return unsafe { [v128_load(src.as_ptr() as *const v128), v128_load(src.as_ptr().add(4) as *const v128)] };
        }
        let src = &src[..w];
        let at = |i: usize| if i < w { src[i] } else { 0.0 };
        [f32x4(at(0), at(1), at(2), at(3)), f32x4(at(4), at(5), at(6), at(7))]
    }

    /// Writes the first `w` of 8 values (partial rows lane by lane, see [`load8`]).
    #[inline(always)]
    fn store8(v: [v128; 2], dst: &mut [f32], w: usize) {
        if w == NR {
            let dst = &mut dst[..NR];
            // SAFETY: dst holds 8 values.
            unsafe {
                v128_store(dst.as_mut_ptr() as *mut v128, v[0]);
                v128_store(dst.as_mut_ptr().add(4) as *mut v128, v[1]);
            }
            return;
        }
        let dst = &mut dst[..w];
        let lanes = [
            f32x4_extract_lane::<0>(v[0]),
            f32x4_extract_lane::<1>(v[0]),
            f32x4_extract_lane::<2>(v[0]),
            f32x4_extract_lane::<3>(v[0]),
            f32x4_extract_lane::<0>(v[1]),
            f32x4_extract_lane::<1>(v[1]),
            f32x4_extract_lane::<2>(v[1]),
            f32x4_extract_lane::<3>(v[1]),
        ];
        // Unrolled stores: a loop here could become a memory.copy again.
        macro_rules! put {
            ($($i:literal),*) => {$(if $i < w { dst[$i] = lanes[$i]; })*};
        }
        put!(0, 1, 2, 3, 4, 5, 6);
    }

    /// Rows `i0..i0+rows` (at most 4) of C against one packed panel of B and one of A, over one
    /// block of `k`. All four rows are computed; only `rows` are read from and written to C.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn tile(
        a_panel: &[f32],
        panel: &[f32],
        bias: Option<&[f32]>,
        c: &mut [f32],
        i0: usize,
        rows: usize,
        blk: &Block,
        cols: &Cols,
    ) {
        let mut acc = tile_begin!(c, i0, rows, blk, cols);
        assert!(panel.len() >= blk.kc * NR && a_panel.len() >= blk.kc * MR);
        let (bp, ap) = (panel.as_ptr(), a_panel.as_ptr());
        for kk in 0..blk.kc {
            // SAFETY: the panels hold kc·NR and kc·MR values (asserted above).
            unsafe {
                let b0 = v128_load(bp.add(kk * NR) as *const v128);
                let b1 = v128_load(bp.add(kk * NR + 4) as *const v128);
                for (r, row) in acc.iter_mut().enumerate() {
                    let av = v128_load32_splat(ap.add(kk * MR + r) as *const u32);
                    row[0] = madd(av, b0, row[0]);
                    row[1] = madd(av, b1, row[1]);
                }
            }
        }
        tile_end!(acc, bias, c, i0, rows, blk, cols);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, random_vec, test_rng};

    kernel_test!(
        fn simd_matches_scalar_on_awkward_shapes() {
            let mut rng = test_rng(11);
            let dims = [1usize, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 33];
            // k beyond one packed block (KC = 256), ending mid-block, exercises the reload of C.
            for (m, k, n) in [(5, 600, 13), (9, 257, 8), (4, 512, 17)] {
                let p = GemmParams { m, k, n };
                let (a, b, bias) = (random_vec(&mut rng, m * k), random_vec(&mut rng, k * n), random_vec(&mut rng, n));
                let mut want = vec![f32::NAN; m * n];
                let mut got = vec![f32::NAN; m * n];
                scalar::gemm(&p, &a, &b, Some(&bias), &mut want);
                gemm(&p, &a, &b, Some(&bias), &mut got, &mut vec![f32::NAN; p.scratch_len()]);
                assert_bits_eq(&got, &want, &format!("gemm {p:?} across k blocks"));
            }
            for (t, &m) in dims.iter().enumerate() {
                for &k in &dims[t % 4..] {
                    for &n in &dims {
                        let p = GemmParams { m, k, n };
                        let a = random_vec(&mut rng, m * k);
                        let b = random_vec(&mut rng, k * n);
                        let bias = random_vec(&mut rng, n);
                        for with_bias in [false, true] {
                            let bias = with_bias.then_some(bias.as_slice());
                            let mut want = vec![f32::NAN; m * n];
                            let mut got = vec![f32::NAN; m * n];
                            scalar::gemm(&p, &a, &b, bias, &mut want);
                            gemm(&p, &a, &b, bias, &mut got, &mut vec![f32::NAN; p.scratch_len()]);
                            assert_bits_eq(&got, &want, &format!("gemm {p:?} bias={with_bias}"));
                        }
                    }
                }
            }
        }
    );

    kernel_test!(
        fn accumulate_matches_scalar_and_continues_the_sum() {
            let mut rng = test_rng(13);
            for (m, k, n) in [(400, 32, 120), (7, 3, 13), (1, 1, 1), (9, 300, 17), (5, 0, 6)] {
                let p = GemmParams { m, k, n };
                let (a, b, c0) =
                    (random_vec(&mut rng, m * k), random_vec(&mut rng, k * n), random_vec(&mut rng, m * n));
                let mut want = c0.clone();
                scalar::gemm_accumulate(&p, &a, &b, &mut want);
                let mut got = c0.clone();
                gemm_accumulate(&p, &a, &b, &mut got, &mut vec![f32::NAN; p.scratch_len()]);
                assert_bits_eq(&got, &want, &format!("gemm_accumulate {p:?}"));
                // C += A·B equals adding the terms one at a time to C, in k order.
                for (i, &w) in want.iter().enumerate().step_by(7) {
                    let (r, j) = (i / n, i % n);
                    let one_by_one = (0..k).fold(c0[i], |acc, kk| acc + a[r * k + kk] * b[kk * n + j]);
                    assert_eq!(w.to_bits(), one_by_one.to_bits(), "C[{r},{j}] of {p:?}");
                }
            }
        }
    );

    kernel_test!(
        fn transposed_a_matches_transposing_first() {
            let mut rng = test_rng(14);
            for (m, k, n) in [(150, 100, 16), (25, 784, 6), (7, 300, 13), (1, 5, 9), (6, 1, 3)] {
                let p = GemmParams { m, k, n };
                let (a_t, b) = (random_vec(&mut rng, k * m), random_vec(&mut rng, k * n));
                let mut a = vec![f32::NAN; m * k];
                transpose(k, m, &a_t, &mut a);
                let mut want = vec![f32::NAN; m * n];
                scalar::gemm(&p, &a, &b, None, &mut want);
                let mut reference = vec![f32::NAN; m * n];
                scalar::gemm_transposed_a(&p, &a_t, &b, &mut reference);
                assert_bits_eq(&reference, &want, &format!("scalar gemm_transposed_a {p:?}"));
                let mut got = vec![f32::NAN; m * n];
                gemm_transposed_a(&p, &a_t, &b, &mut got, &mut vec![f32::NAN; p.scratch_len()]);
                assert_bits_eq(&got, &want, &format!("gemm_transposed_a {p:?}"));
            }
        }
    );

    kernel_test!(
        fn transposed_a_accumulate_continues_the_sum() {
            let mut rng = test_rng(16);
            for (m, k, n) in [(64, 98, 64), (8, 300, 16), (3, 5, 9), (1, 1, 1)] {
                let p = GemmParams { m, k, n };
                let (a_t, b, c0) =
                    (random_vec(&mut rng, k * m), random_vec(&mut rng, k * n), random_vec(&mut rng, m * n));
                let mut want = c0.clone();
                scalar::gemm_transposed_a_accumulate(&p, &a_t, &b, &mut want);
                let mut got = c0.clone();
                gemm_transposed_a_accumulate(&p, &a_t, &b, &mut got, &mut vec![f32::NAN; p.scratch_len()]);
                assert_bits_eq(&got, &want, &format!("gemm_transposed_a_accumulate {p:?}"));
                for (i, &w) in want.iter().enumerate().step_by(5) {
                    let (r, j) = (i / n, i % n);
                    let one_by_one = (0..k).fold(c0[i], |acc, kk| acc + a_t[kk * m + r] * b[kk * n + j]);
                    assert_eq!(w.to_bits(), one_by_one.to_bits(), "C[{r},{j}] of {p:?}");
                }
            }
        }
    );

    kernel_test!(
        fn packed_index_is_where_pack_b_puts_each_value() {
            let mut rng = test_rng(17);
            for (k, n) in [(300, 24), (16, 13), (1, 8), (513, 4)] {
                let p = GemmParams { m: 1, k, n };
                let b = random_vec(&mut rng, k * n);
                let mut packed = vec![f32::NAN; p.pack_len()];
                pack_b(&p, &b, &mut packed);
                for row in 0..k {
                    for col in 0..n {
                        let at = packed_index(&p, row, col);
                        assert_eq!(packed[at].to_bits(), b[row * n + col].to_bits(), "B[{row},{col}] of {p:?}");
                    }
                }
            }
        }
    );

    kernel_test!(
        fn packing_a_transposed_b_matches_packing_b() {
            let mut rng = test_rng(15);
            for (m, k, n) in [(3, 16, 150), (5, 300, 13), (2, 7, 8), (1, 1, 1)] {
                let p = GemmParams { m, k, n };
                let b_t = random_vec(&mut rng, n * k);
                let mut b = vec![f32::NAN; k * n];
                transpose(n, k, &b_t, &mut b);
                let (mut want, mut got) = (vec![f32::NAN; p.pack_len()], vec![f32::NAN; p.pack_len()]);
                pack_b(&p, &b, &mut want);
                pack_b_transposed(&p, &b_t, &mut got);
                assert_bits_eq(&got[..], &want[..], &format!("pack_b_transposed {p:?}"));
            }
        }
    );

    kernel_test!(
        fn scalar_matches_f64_products() {
            let mut rng = test_rng(12);
            let p = GemmParams { m: 5, k: 37, n: 6 };
            let a = random_vec(&mut rng, p.m * p.k);
            let b = random_vec(&mut rng, p.k * p.n);
            let mut c = vec![0.0; p.m * p.n];
            scalar::gemm(&p, &a, &b, None, &mut c);
            for i in 0..p.m {
                for j in 0..p.n {
                    let exact: f64 = (0..p.k).map(|kk| a[i * p.k + kk] as f64 * b[kk * p.n + j] as f64).sum();
                    let bound: f64 = (0..p.k).map(|kk| (a[i * p.k + kk] * b[kk * p.n + j]).abs() as f64).sum();
                    assert!((c[i * p.n + j] as f64 - exact).abs() <= bound * 1e-5, "C[{i},{j}]");
                }
            }
        }
    );

    kernel_test!(
        fn transpose_round_trips() {
            let mut rng = test_rng(13);
            for (rows, cols) in [(1, 1), (1, 7), (7, 1), (17, 33), (40, 16)] {
                let src = random_vec(&mut rng, rows * cols);
                let mut t = vec![0.0; rows * cols];
                let mut back = vec![0.0; rows * cols];
                transpose(rows, cols, &src, &mut t);
                transpose(cols, rows, &t, &mut back);
                assert_bits_eq(&back, &src, "transpose twice");
                for r in 0..rows {
                    for c in 0..cols {
                        assert_eq!(t[c * rows + r].to_bits(), src[r * cols + c].to_bits(), "[{r},{c}]");
                    }
                }
            }
        }
    );
}
