//! The conv plan: which algorithm runs a convolution, decided once from its geometry (when a
//! layer is built), and the scratch and packed-kernel sizes that follow from it. The dispatcher,
//! the layers and the bench read the plan; no one else asks the algorithms whether they apply.

use super::params::{Conv2dParams, Padding};
use super::{direct, im2col, winograd};

/// The algorithms, in the order they are tried. All give the same bits for the sums they share
/// (see the module header of [`super`]); Winograd's sums differ, and it is chosen by geometry
/// alone, so a layer always runs the same one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvAlgo {
    /// Winograd F(2×2, 3×3) or F(4×4, 3×3) ([`winograd`]): 3×3, stride 1, 'same', ≥ 16
    /// channels in and out; the tile is the one with fewer products for the map's size.
    Winograd(winograd::Tile),
    /// Direct kernels for one input channel under simd128 ([`direct`]); the input gradient runs
    /// on the GEMM path.
    Direct,
    /// The GEMM path with patch rows read from the images (simd128, few filters).
    Gather,
    /// The GEMM path with im2col patch rows.
    Im2col,
}

impl ConvAlgo {
    /// The one place that decides.
    pub fn of(p: &Conv2dParams) -> ConvAlgo {
        if winograd::applies(p) {
            ConvAlgo::Winograd(winograd::Tile::of(p))
        } else if direct::applies(p) {
            ConvAlgo::Direct
        } else if im2col::gathers(p) {
            ConvAlgo::Gather
        } else {
            ConvAlgo::Im2col
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ConvAlgo::Winograd(winograd::Tile::F2) => "winograd F(2×2)",
            ConvAlgo::Winograd(winograd::Tile::F4) => "winograd F(4×4)",
            ConvAlgo::Direct => "direct",
            ConvAlgo::Gather => "gather",
            ConvAlgo::Im2col => "im2col",
        }
    }
}

/// A convolution's geometry with its algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvPlan {
    pub p: Conv2dParams,
    pub algo: ConvAlgo,
}

impl ConvPlan {
    pub fn new(p: Conv2dParams) -> Self {
        ConvPlan { p, algo: ConvAlgo::of(&p) }
    }

    /// The same plan for another batch size (the algorithm does not depend on it).
    pub fn with_batch(&self, batch: usize) -> ConvPlan {
        ConvPlan { p: Conv2dParams { batch, ..self.p }, algo: self.algo }
    }

    /// Whether the forward product runs on the GEMM (all but the direct kernels).
    pub fn uses_gemm(&self) -> bool {
        self.algo != ConvAlgo::Direct
    }

    /// The length of the kernel packed by [`super::conv2d_pack_weights`].
    pub fn packed_w_len(&self) -> usize {
        let p = &self.p;
        match self.algo {
            ConvAlgo::Winograd(t) => winograd::packed_len(t, p),
            ConvAlgo::Direct => p.w_len(),
            ConvAlgo::Gather | ConvAlgo::Im2col => p.forward_gemm(1).pack_len(),
        }
    }

    /// The length of the kernel packed by [`super::conv2d_pack_weights_t`].
    pub fn packed_w_t_len(&self) -> usize {
        match self.algo {
            ConvAlgo::Winograd(t) => winograd::packed_t_len(t, &self.p),
            _ => self.p.input_grad_gemm(1).pack_len(),
        }
    }

    /// Scratch for [`super::conv2d_forward`]: the packed kernel, then the packed forward's.
    pub fn forward_scratch_len(&self) -> usize {
        self.packed_w_len() + self.forward_packed_scratch_len()
    }

    /// Scratch for [`super::conv2d_forward_packed`]: under simd128 a group's zero-padded images
    /// (none for 'valid' padding); otherwise patch rows and room to pack them.
    pub fn forward_packed_scratch_len(&self) -> usize {
        let p = &self.p;
        match self.algo {
            ConvAlgo::Winograd(t) => winograd::forward_scratch_len(t, p),
            ConvAlgo::Direct => direct::forward_scratch_len(p),
            ConvAlgo::Gather if p.padding == Padding::Valid => 0,
            ConvAlgo::Gather => p.image_group() * p.padded_h() * p.padded_w() * p.in_c,
            ConvAlgo::Im2col => p.group_cols_len() + p.forward_gemm(p.image_group()).a_pack_len(),
        }
    }

    /// Scratch for [`super::conv2d_backward`], whose two phases reuse it. The kernel gradient:
    /// one image's patch rows (or the direct kernel's buffers), a group's patch rows transposed
    /// when an image has one position, one image's kernel-gradient partial sum otherwise, and
    /// room to pack the output gradients. The input gradient: a group's patch-row gradients,
    /// `Wᵀ` packed and room to pack the output gradients.
    pub fn backward_scratch_len(&self) -> usize {
        if let ConvAlgo::Winograd(t) = self.algo {
            return winograd::backward_scratch_len(t, &self.p);
        }
        self.kernel_grad_scratch_len().max(self.p.input_grad_scratch_len())
    }

    fn kernel_grad_scratch_len(&self) -> usize {
        let p = &self.p;
        let own = if self.one_position_path() { p.group_cols_len() } else { p.w_len() };
        self.backward_cols_len() + own + p.weight_grad_gemm().scratch_len()
    }

    /// Whether the kernel gradient is one product over each group of images (one output
    /// position per image, and not a direct kernel).
    pub(super) fn one_position_path(&self) -> bool {
        self.p.positions() == 1 && self.algo != ConvAlgo::Direct
    }

    /// The first part of [`backward_scratch_len`](Self::backward_scratch_len): one image's patch
    /// rows, the zero-padded image the gathered kernel gradient reads, or the direct kernel's
    /// padded image and gradient rows.
    pub(super) fn backward_cols_len(&self) -> usize {
        let p = &self.p;
        let direct = if self.algo == ConvAlgo::Direct { direct::kernel_grad_scratch_len(p) } else { 0 };
        let gathered =
            if im2col::gathers(p) && p.padding == Padding::Same { p.padded_h() * p.padded_w() * p.in_c } else { 0 };
        direct.max(p.cols_len()).max(gathered)
    }
}

/// The plan's sizes, for callers that hold only the geometry (tests, tools).
impl Conv2dParams {
    pub fn forward_scratch_len(&self) -> usize {
        ConvPlan::new(*self).forward_scratch_len()
    }

    pub fn packed_w_len(&self) -> usize {
        ConvPlan::new(*self).packed_w_len()
    }

    pub fn forward_packed_scratch_len(&self) -> usize {
        ConvPlan::new(*self).forward_packed_scratch_len()
    }

    pub fn backward_scratch_len(&self) -> usize {
        ConvPlan::new(*self).backward_scratch_len()
    }
}
