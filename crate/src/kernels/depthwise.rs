//! Depthwise 2-D convolution (Keras's DepthwiseConv2D): each input channel `c` is convolved with
//! its own `multiplier` filters, giving output channels `c·multiplier + m`; the kernel is
//! `[k_h, k_w, channels, multiplier]`, as Keras stores it. Padding and strides are TensorFlow's.
//!
//! Every output sums its taps in (kh, kw) order from zero, skipping taps outside the image, then
//! adds the bias; the gradients sum over examples and positions in order. The SIMD form runs four
//! output channels (or, for the input gradient, four input channels) in lanes, each lane doing
//! exactly the scalar reference's operations, so the two give the same bits.

use super::conv::{output_extent, Padding};
use super::lanes::{groups_of_4, load_upto, store_upto, Lanes, F4};
use core::ops::Range;

/// The shape of a depthwise convolution over a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthwiseParams {
    pub batch: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub channels: usize,
    pub multiplier: usize,
    pub k_h: usize,
    pub k_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub padding: Padding,
}

impl DepthwiseParams {
    pub fn out_h(&self) -> usize {
        output_extent(self.in_h, self.k_h, self.stride_h, self.padding).0
    }
    pub fn out_w(&self) -> usize {
        output_extent(self.in_w, self.k_w, self.stride_w, self.padding).0
    }
    pub fn out_c(&self) -> usize {
        self.channels * self.multiplier
    }
    pub fn w_len(&self) -> usize {
        self.k_h * self.k_w * self.out_c()
    }
    pub fn x_len(&self) -> usize {
        self.batch * self.in_h * self.in_w * self.channels
    }
    pub fn y_len(&self) -> usize {
        self.batch * self.out_h() * self.out_w() * self.out_c()
    }

    /// No zero sizes, a non-empty output.
    pub fn validate(&self) -> Result<(), String> {
        let named = [
            ("input height", self.in_h),
            ("input width", self.in_w),
            ("input channels", self.channels),
            ("depth multiplier", self.multiplier),
            ("kernel height", self.k_h),
            ("kernel width", self.k_w),
            ("stride height", self.stride_h),
            ("stride width", self.stride_w),
        ];
        if let Some((name, _)) = named.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} must be at least 1"));
        }
        if self.out_h() == 0 || self.out_w() == 0 {
            return Err(format!(
                "a {}×{} kernel with 'valid' padding does not fit a {}×{} input",
                self.k_h, self.k_w, self.in_h, self.in_w
            ));
        }
        Ok(())
    }

    fn check(&self, kernel: &str, x: usize, w: usize, b: usize, y: usize) {
        assert_eq!(x, self.x_len(), "{kernel}: x has {x} values, expected {}", self.x_len());
        assert_eq!(w, self.w_len(), "{kernel}: w has {w} values, expected {}", self.w_len());
        assert_eq!(b, self.out_c(), "{kernel}: b has {b} values, expected {}", self.out_c());
        assert_eq!(y, self.y_len(), "{kernel}: y has {y} values, expected {}", self.y_len());
    }

    /// Each output position's taps inside the image: (tap index, input position index).
    #[inline(always)]
    fn taps(&self, oh: usize, ow: usize, mut each: impl FnMut(usize, usize)) {
        let (top, left) = (
            output_extent(self.in_h, self.k_h, self.stride_h, self.padding).1,
            output_extent(self.in_w, self.k_w, self.stride_w, self.padding).1,
        );
        for kh in 0..self.k_h {
            let Some(ih) = (oh * self.stride_h + kh).checked_sub(top).filter(|&h| h < self.in_h) else { continue };
            for kw in 0..self.k_w {
                let Some(iw) = (ow * self.stride_w + kw).checked_sub(left).filter(|&w| w < self.in_w) else { continue };
                each(kh * self.k_w + kw, ih * self.in_w + iw);
            }
        }
    }
}

/// Lanes `r` of `s[at(i)]`: contiguous when `at` is, gathered otherwise.
#[inline(always)]
fn gather(s: &[f32], r: Range<usize>, stride_one: bool, at: impl Fn(usize) -> usize) -> F4 {
    if stride_one {
        load_upto(&s[at(r.start)..at(r.start) + r.len()], 0.0)
    } else {
        let v = |k: usize| if r.start + k < r.end { s[at(r.start + k)] } else { 0.0 };
        F4::load(&[v(0), v(1), v(2), v(3)])
    }
}

/// `y = depthwise(x, w) + b`.
pub fn depthwise_forward(p: &DepthwiseParams, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
    p.check("depthwise_forward", x.len(), w.len(), b.len(), y.len());
    let (c, m, oc) = (p.channels, p.multiplier, p.out_c());
    let (oh_n, ow_n) = (p.out_h(), p.out_w());
    for n in 0..p.batch {
        let image = &x[n * p.in_h * p.in_w * c..][..p.in_h * p.in_w * c];
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                let out = &mut y[((n * oh_n + oh) * ow_n + ow) * oc..][..oc];
                for r in groups_of_4(oc) {
                    let mut acc = F4::splat(0.0);
                    p.taps(oh, ow, |tap, pos| {
                        let xv = gather(image, r.clone(), m == 1, |o| pos * c + o / m);
                        acc = acc.add(xv.mul(load_upto(&w[tap * oc + r.start..tap * oc + r.end], 0.0)));
                    });
                    store_upto(acc.add(load_upto(&b[r.clone()], 0.0)), &mut out[r]);
                }
            }
        }
    }
}

/// The gradients [`depthwise_backward`] overwrites.
pub struct DepthwiseGrads<'a> {
    /// ∂L/∂x; `None` skips it.
    pub dx: Option<&'a mut [f32]>,
    pub dw: &'a mut [f32],
    pub db: &'a mut [f32],
}

/// ∂L/∂x, ∂L/∂w and ∂L/∂b from ∂L/∂y.
pub fn depthwise_backward(p: &DepthwiseParams, x: &[f32], w: &[f32], dy: &[f32], g: DepthwiseGrads<'_>) {
    p.check("depthwise_backward", x.len(), w.len(), g.db.len(), dy.len());
    assert_eq!(g.dw.len(), w.len(), "depthwise_backward: dw and w lengths differ");
    let (c, m, oc) = (p.channels, p.multiplier, p.out_c());
    let (oh_n, ow_n) = (p.out_h(), p.out_w());
    let plane = p.in_h * p.in_w * c;
    g.db.fill(0.0);
    g.dw.fill(0.0);
    for n in 0..p.batch {
        let image = &x[n * plane..][..plane];
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                let d = &dy[((n * oh_n + oh) * ow_n + ow) * oc..][..oc];
                for r in groups_of_4(oc) {
                    let dv = load_upto(&d[r.clone()], 0.0);
                    store_upto(load_upto(&g.db[r.clone()], 0.0).add(dv), &mut g.db[r.clone()]);
                    p.taps(oh, ow, |tap, pos| {
                        let xv = gather(image, r.clone(), m == 1, |o| pos * c + o / m);
                        let at = tap * oc + r.start..tap * oc + r.end;
                        store_upto(load_upto(&g.dw[at.clone()], 0.0).add(dv.mul(xv)), &mut g.dw[at]);
                    });
                }
            }
        }
    }
    let Some(dx) = g.dx else { return };
    dx.fill(0.0);
    for n in 0..p.batch {
        let dimage = &mut dx[n * plane..][..plane];
        for oh in 0..oh_n {
            for ow in 0..ow_n {
                let d = &dy[((n * oh_n + oh) * ow_n + ow) * oc..][..oc];
                p.taps(oh, ow, |tap, pos| {
                    for r in groups_of_4(c) {
                        // Σ over the channel's multiplier outputs, in order, then into dx.
                        let mut t = F4::splat(0.0);
                        for k in 0..m {
                            let dv = gather(d, r.clone(), m == 1, |ch| ch * m + k);
                            let wv = gather(w, r.clone(), m == 1, |ch| tap * oc + ch * m + k);
                            t = t.add(dv.mul(wv));
                        }
                        let at = pos * c + r.start..pos * c + r.end;
                        store_upto(load_upto(&dimage[at.clone()], 0.0).add(t), &mut dimage[at]);
                    }
                });
            }
        }
    }
}

/// The reference: one value at a time, in the same order.
pub mod scalar {
    use super::{DepthwiseGrads, DepthwiseParams};

    /// See [`super::depthwise_forward`].
    pub fn depthwise_forward(p: &DepthwiseParams, x: &[f32], w: &[f32], b: &[f32], y: &mut [f32]) {
        let (c, m, oc) = (p.channels, p.multiplier, p.out_c());
        let (oh_n, ow_n) = (p.out_h(), p.out_w());
        for n in 0..p.batch {
            let image = &x[n * p.in_h * p.in_w * c..][..p.in_h * p.in_w * c];
            for oh in 0..oh_n {
                for ow in 0..ow_n {
                    for o in 0..oc {
                        let mut acc = 0.0f32;
                        p.taps(oh, ow, |tap, pos| acc += image[pos * c + o / m] * w[tap * oc + o]);
                        y[((n * oh_n + oh) * ow_n + ow) * oc + o] = acc + b[o];
                    }
                }
            }
        }
    }

    /// See [`super::depthwise_backward`].
    pub fn depthwise_backward(p: &DepthwiseParams, x: &[f32], w: &[f32], dy: &[f32], g: DepthwiseGrads<'_>) {
        let (c, m, oc) = (p.channels, p.multiplier, p.out_c());
        let (oh_n, ow_n) = (p.out_h(), p.out_w());
        let plane = p.in_h * p.in_w * c;
        g.db.fill(0.0);
        g.dw.fill(0.0);
        for n in 0..p.batch {
            for oh in 0..oh_n {
                for ow in 0..ow_n {
                    let at = ((n * oh_n + oh) * ow_n + ow) * oc;
                    for o in 0..oc {
                        let d = dy[at + o];
                        g.db[o] += d;
                        p.taps(oh, ow, |tap, pos| g.dw[tap * oc + o] += d * x[n * plane + pos * c + o / m]);
                    }
                }
            }
        }
        let Some(dx) = g.dx else { return };
        dx.fill(0.0);
        for n in 0..p.batch {
            for oh in 0..oh_n {
                for ow in 0..ow_n {
                    let at = ((n * oh_n + oh) * ow_n + ow) * oc;
                    p.taps(oh, ow, |tap, pos| {
                        for ch in 0..c {
                            let mut t = 0.0f32;
                            for k in 0..m {
                                t += dy[at + ch * m + k] * w[tap * oc + ch * m + k];
                            }
                            dx[n * plane + pos * c + ch] += t;
                        }
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::{assert_bits_eq, check_gradient, random_vec, test_rng};

    fn cases() -> Vec<DepthwiseParams> {
        let p = |batch, in_h, in_w, channels, multiplier, k, stride, padding| DepthwiseParams {
            batch,
            in_h,
            in_w,
            channels,
            multiplier,
            k_h: k,
            k_w: k,
            stride_h: stride,
            stride_w: stride,
            padding,
        };
        vec![
            p(2, 5, 5, 3, 1, 3, 1, Padding::Same),
            p(1, 6, 7, 5, 2, 3, 2, Padding::Same),
            p(2, 7, 6, 4, 3, 3, 1, Padding::Valid),
            p(1, 8, 8, 9, 1, 5, 2, Padding::Valid),
            p(1, 4, 4, 1, 4, 2, 1, Padding::Same),
        ]
    }

    kernel_test!(
        fn simd_matches_scalar() {
            let mut rng = test_rng(91);
            for p in cases() {
                let x = random_vec(&mut rng, p.x_len());
                let w = random_vec(&mut rng, p.w_len());
                let b = random_vec(&mut rng, p.out_c());
                let dy = random_vec(&mut rng, p.y_len());
                let (mut y1, mut y2) = (vec![f32::NAN; p.y_len()], vec![f32::NAN; p.y_len()]);
                depthwise_forward(&p, &x, &w, &b, &mut y1);
                scalar::depthwise_forward(&p, &x, &w, &b, &mut y2);
                assert_bits_eq(&y1, &y2, &format!("{p:?}: y"));
                let mut a = (vec![f32::NAN; p.x_len()], vec![f32::NAN; p.w_len()], vec![f32::NAN; p.out_c()]);
                let mut s = a.clone();
                depthwise_backward(&p, &x, &w, &dy, DepthwiseGrads { dx: Some(&mut a.0), dw: &mut a.1, db: &mut a.2 });
                scalar::depthwise_backward(
                    &p,
                    &x,
                    &w,
                    &dy,
                    DepthwiseGrads { dx: Some(&mut s.0), dw: &mut s.1, db: &mut s.2 },
                );
                assert_bits_eq(&a.0, &s.0, &format!("{p:?}: dx"));
                assert_bits_eq(&a.1, &s.1, &format!("{p:?}: dw"));
                assert_bits_eq(&a.2, &s.2, &format!("{p:?}: db"));
            }
        }
    );

    kernel_test!(
        fn gradients_match_finite_differences() {
            let mut rng = test_rng(92);
            for p in cases() {
                let x = random_vec(&mut rng, p.x_len());
                let w = random_vec(&mut rng, p.w_len());
                let b = random_vec(&mut rng, p.out_c());
                let dy = random_vec(&mut rng, p.y_len());
                let mut g = (vec![0.0; p.x_len()], vec![0.0; p.w_len()], vec![0.0; p.out_c()]);
                depthwise_backward(&p, &x, &w, &dy, DepthwiseGrads { dx: Some(&mut g.0), dw: &mut g.1, db: &mut g.2 });
                let loss = |x: &[f32], w: &[f32], b: &[f32]| -> f64 {
                    let mut y = vec![0.0; p.y_len()];
                    depthwise_forward(&p, x, w, b, &mut y);
                    y.iter().zip(&dy).map(|(&a, &b)| a as f64 * b as f64).sum()
                };
                check_gradient("dx", &mut x.clone(), &g.0, 40, |v| loss(v, &w, &b));
                check_gradient("dw", &mut w.clone(), &g.1, 40, |v| loss(&x, v, &b));
                check_gradient("db", &mut b.clone(), &g.2, 40, |v| loss(&x, &w, v));
            }
        }
    );
}
