//! The geometry of a 2-D convolution (Keras's Conv2D): shapes, padding, lengths and checks, and
//! what every algorithm shares. A leaf: the algorithms import it, it imports none of them.

use crate::kernels::{check_len, ShapeError};

/// Keras's padding modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// No padding: the output shrinks by `kernel − 1`.
    Valid,
    /// Zero padding so that `out = ceil(in / stride)`.
    Same,
}

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

    pub(crate) fn cols_len(&self) -> usize {
        self.positions() * self.patch_len()
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

pub(crate) fn fail(e: impl core::fmt::Display) -> ! {
    panic!("{e}")
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

/// The packed Wᵀ the caller gave (checked to hold `len` values), or else Wᵀ packed by `pack`
/// into `own`.
pub(crate) fn given_or_packed<'a>(
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

/// `db += Σ_positions dy`, positions in order (of one image, or of images one after another).
pub(crate) fn add_bias_grad(dy_n: &[f32], filters: usize, db: &mut [f32]) {
    for row in dy_n.chunks_exact(filters) {
        for (d, &s) in db.iter_mut().zip(row) {
            *d += s;
        }
    }
}
