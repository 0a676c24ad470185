//! Row-major matrix products, the engine under dense and (later) convolution.
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
}

/// `C = A · B (+ bias)`, overwriting `C`. Uses simd128 when the build enables it.
///
/// # Shapes
/// `a`: m·k, `b`: k·n, `bias`: n, `c`: m·n (all row-major).
pub fn gemm(p: &GemmParams, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    simd::gemm(p, a, b, bias, c);
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    scalar::gemm(p, a, b, bias, c);
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
        let GemmParams { m, k, n } = *p;
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0f32;
                for kk in 0..k {
                    acc += a[i * k + kk] * b[kk * n + j];
                }
                c[i * n + j] = match bias {
                    Some(bias) => acc + bias[j],
                    None => acc,
                };
            }
        }
    }
}

/// simd128: 4×8 register tiles (8 f32x4 accumulators), which fit V8's 16 xmm registers.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd {
    use super::GemmParams;
    use core::arch::wasm32::*;

    const TILE_ROWS: usize = 4;

    /// `C = A · B (+ bias)`. See [`super::gemm`].
    pub fn gemm(p: &GemmParams, a: &[f32], b: &[f32], bias: Option<&[f32]>, c: &mut [f32]) {
        p.check(a.len(), b.len(), bias.map(<[f32]>::len), c.len());
        let m = p.m;
        let mut i = 0;
        while i + TILE_ROWS <= m {
            // SAFETY: check() proved every slice's length, and the tile functions read rows
            // i..i+TILE_ROWS of A and C and columns < n of B, C and bias only.
            unsafe { row_block::<TILE_ROWS>(p, a, b, bias, c, i) };
            i += TILE_ROWS;
        }
        while i < m {
            // SAFETY: as above, for one row.
            unsafe { row_block::<1>(p, a, b, bias, c, i) };
            i += 1;
        }
    }

    /// Computes rows `i0..i0+R` of C: 8-column tiles, then 4-column, then a scalar tail.
    ///
    /// # Safety
    /// `a`, `b`, `bias` and `c` must have the lengths [`GemmParams::check`] asks for, and
    /// `i0 + R <= m`.
    #[inline(always)]
    unsafe fn row_block<const R: usize>(
        p: &GemmParams,
        a: &[f32],
        b: &[f32],
        bias: Option<&[f32]>,
        c: &mut [f32],
        i0: usize,
    ) {
        let GemmParams { k, n, .. } = *p;
        let ap = a.as_ptr().add(i0 * k);
        let bp = b.as_ptr();
        let cp = c.as_mut_ptr().add(i0 * n);
        let mut j = 0;
        while j + 8 <= n {
            let mut acc = [[f32x4_splat(0.0); 2]; R];
            for kk in 0..k {
                let b0 = v128_load(bp.add(kk * n + j) as *const v128);
                let b1 = v128_load(bp.add(kk * n + j + 4) as *const v128);
                for (r, row) in acc.iter_mut().enumerate() {
                    let av = f32x4_splat(*ap.add(r * k + kk));
                    row[0] = f32x4_add(row[0], f32x4_mul(av, b0));
                    row[1] = f32x4_add(row[1], f32x4_mul(av, b1));
                }
            }
            for (r, row) in acc.iter().enumerate() {
                for (half, &v) in row.iter().enumerate() {
                    let col = j + 4 * half;
                    let out = match bias {
                        Some(bias) => f32x4_add(v, v128_load(bias.as_ptr().add(col) as *const v128)),
                        None => v,
                    };
                    v128_store(cp.add(r * n + col) as *mut v128, out);
                }
            }
            j += 8;
        }
        while j + 4 <= n {
            let mut acc = [f32x4_splat(0.0); R];
            for kk in 0..k {
                let b0 = v128_load(bp.add(kk * n + j) as *const v128);
                for (r, v) in acc.iter_mut().enumerate() {
                    *v = f32x4_add(*v, f32x4_mul(f32x4_splat(*ap.add(r * k + kk)), b0));
                }
            }
            for (r, &v) in acc.iter().enumerate() {
                let out = match bias {
                    Some(bias) => f32x4_add(v, v128_load(bias.as_ptr().add(j) as *const v128)),
                    None => v,
                };
                v128_store(cp.add(r * n + j) as *mut v128, out);
            }
            j += 4;
        }
        for jj in j..n {
            for r in 0..R {
                let mut acc = 0.0f32;
                for kk in 0..k {
                    acc += *ap.add(r * k + kk) * *bp.add(kk * n + jj);
                }
                *cp.add(r * n + jj) = match bias {
                    Some(bias) => acc + bias[jj],
                    None => acc,
                };
            }
        }
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
                            gemm(&p, &a, &b, bias, &mut got);
                            assert_bits_eq(&got, &want, &format!("gemm {p:?} bias={with_bias}"));
                        }
                    }
                }
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
