//! Conv2D (Keras's): NHWC images, an HWIO kernel, a bias per filter, then an activation. With a
//! connection table the spec builds a [`Conv2dTable`](super::conv2d_table::Conv2dTable) instead.

use super::conv2d_table::Conv2dTable;
use super::{
    glorot, one_one, zeros, ActivationSpec, Backward, BuildLayer, Builder, Built, Curvature, Forward, FusedActivation,
};
use super::{yes, Layer, NoBias, Packed, PaddingSpec, RegularizerSpec, MAX_VALUES};
use crate::error::Result;
use crate::init::Initializer;
use crate::kernels::act::Activation;
use crate::kernels::conv::{Conv2dGrads, Conv2dParams, ConvPlan};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2dSpec {
    pub filters: usize,
    pub kernel_size: [usize; 2],
    #[serde(default = "one_one")]
    pub strides: [usize; 2],
    #[serde(default)]
    pub padding: PaddingSpec,
    #[serde(default)]
    pub activation: ActivationSpec,
    #[serde(default = "glorot")]
    pub kernel_initializer: Initializer,
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
    /// Without a bias (Keras's `use_bias=False`, usual before a batch normalisation).
    #[serde(default = "yes")]
    pub use_bias: bool,
    #[serde(default)]
    pub kernel_regularizer: Option<RegularizerSpec>,
    /// A connection table (LeNet-5's C3): `connections[f]` lists the input maps output map `f`
    /// reads, ascending. The kernel then holds only the connected weights: for each output map,
    /// `[k_h, k_w, |connections[f]|]`.
    #[serde(default)]
    pub connections: Option<Vec<Vec<usize>>>,
}

const KIND: &str = "conv2d";

impl Conv2dSpec {
    /// The geometry over the builder's input, batch 1, checked.
    pub(super) fn geometry(&self, b: &Builder) -> Result<Conv2dParams> {
        let (k, s) = (self.kernel_size, self.strides);
        b.check_sizes(&[
            ("filters", self.filters),
            ("kernel", k[0]),
            ("kernel", k[1]),
            ("stride", s[0]),
            ("stride", s[1]),
        ])?;
        let [in_h, in_w, in_c] = b.shape;
        let p = Conv2dParams {
            batch: 1,
            in_h,
            in_w,
            in_c,
            out_c: self.filters,
            k_h: k[0],
            k_w: k[1],
            stride_h: s[0],
            stride_w: s[1],
            padding: self.padding.into(),
        };
        p.validate().map_err(|e| b.error(KIND, e))?;
        Ok(p)
    }
}

/// Refuses a convolution whose patch rows would not fit the working-memory bounds.
pub(super) fn check_patch_rows(b: &Builder, p: &Conv2dParams) -> Result<()> {
    let u = |v: usize| v as u128;
    let cols = u(p.out_h()) * u(p.out_w()) * u(p.k_h) * u(p.k_w) * u(p.in_c);
    if cols > 4 * MAX_VALUES {
        return Err(b.error(
            KIND,
            format!("its patch rows need {cols} values per image, above the limit of {}", 4 * MAX_VALUES),
        ));
    }
    Ok(())
}

impl BuildLayer for Conv2dSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let p = self.geometry(b)?;
        if self.connections.is_some() {
            return Conv2dTable::build(self, p, b);
        }
        let out_shape = [p.out_h(), p.out_w(), self.filters];
        let u = |v: usize| v as u128;
        let kernel = b.claim(u(p.k_h) * u(p.k_w) * u(p.in_c) * u(self.filters))?;
        let bias = b.claim(if self.use_bias { u(self.filters) } else { 0 })?;
        let fan_in = p.patch_len();
        let fan_out = p.k_h * p.k_w * self.filters;
        b.init(self.kernel_initializer, fan_in, fan_out, kernel.clone());
        b.init(self.bias_initializer, fan_in, fan_out, bias.clone());
        let activation = b.activation(self.activation, KIND)?;
        check_patch_rows(b, &p)?;
        let mut layer = Conv2d::new(p, activation);
        layer.core.no_bias = (!self.use_bias).then(|| NoBias::new(self.filters));
        let penalties =
            RegularizerSpec::build(self.kernel_regularizer, b, KIND, "kernel_regularizer", 0..kernel.len())?;
        Ok(Built { layer: layer.into(), out_shape, kernel, bias, penalties })
    }
}

/// Kernels up to this many weights keep their packed W and Wᵀ between a step's micro-batches
/// (LeNet-5's C3 and C5, where packing them each time costs several per cent of a step). In
/// training, larger ones (the Fashion ConvNet's 74k–590k) pack both into the shared scratch at
/// each micro-batch, a share of their much larger products too small to measure, and hold no
/// copies of their weights: 17 MB less for the Fashion ConvNet's 3×3 layers (36 Winograd
/// transforms of each kernel). Inference keeps the packed W in the layer, packed once per
/// version of the weights. docs/performance.md has the figures.
const PACK_T_MAX: usize = 65_536;

/// The convolution's state: its plan, its packed kernels and its activation.
pub struct ConvCore {
    pub(super) plan: ConvPlan,
    pub(super) activation: FusedActivation,
    /// W packed for the forward pass (in training, only for kernels of at most [`PACK_T_MAX`]
    /// weights).
    pub(super) packed: Packed,
    /// Wᵀ packed for the input gradient, for kernels of at most [`PACK_T_MAX`] weights.
    pub(super) packed_t: Packed,
    /// Set when the layer has no bias.
    pub(super) no_bias: Option<NoBias>,
}

impl ConvCore {
    pub(super) fn new(p: Conv2dParams, activation: Activation) -> Self {
        let out_len = p.out_h() * p.out_w() * p.out_c;
        let activation = FusedActivation::new(activation, out_len);
        ConvCore {
            plan: ConvPlan::new(p),
            activation,
            packed: Packed::default(),
            packed_t: Packed::default(),
            no_bias: None,
        }
    }

    pub(super) fn params(&self, batch: usize) -> Conv2dParams {
        self.plan.with_batch(batch).p
    }

    pub(super) fn scratch_len(&self, batch: usize) -> usize {
        let plan = self.plan.with_batch(batch);
        plan.forward_scratch_len().max(plan.backward_scratch_len())
    }

    /// [`Self::forward`] with the kernel packed in the layer: the packed forward's scratch only.
    pub(super) fn inference_scratch_len(&self, batch: usize) -> usize {
        self.plan.with_batch(batch).forward_packed_scratch_len()
    }

    /// Per image: patch rows twice, their packing, and the kernel's copies; the activation's
    /// input when it keeps one.
    pub(super) fn working_values(&self, batch: u128) -> u128 {
        let p = self.params(1);
        let cols = (p.out_h() * p.out_w()) as u128 * p.patch_len() as u128;
        4 * cols + 4 * p.w_len() as u128 + self.activation.working_values(batch)
    }

    pub(super) fn gemm_macs(&self) -> u128 {
        if self.plan.uses_gemm() {
            let p = self.params(1);
            p.positions() as u128 * p.w_len() as u128
        } else {
            0
        }
    }

    /// `y = f(conv(x, w) + b)`, `w` being `f.kernel` (the dense kernel), packed again when the
    /// packed copy is `stale` (which the caller's check has marked current), or into the scratch
    /// for a large kernel in training (see [`PACK_T_MAX`]).
    pub(super) fn forward(&mut self, f: Forward<'_>, stale: bool) {
        let plan = self.plan.with_batch(f.batch);
        let bias = self.no_bias.as_ref().map_or(f.bias, |n| &n.zeros[..]);
        if f.training && plan.p.w_len() > PACK_T_MAX {
            // The layer's copy was not refreshed: the next inference packs it again.
            self.packed.invalidate();
            let (packed, scratch) = f.scratch.split_at_mut(plan.packed_w_len());
            plan.pack_weights(f.kernel, packed);
            plan.forward_packed(f.x, packed, bias, f.y, scratch);
        } else {
            if stale {
                self.packed.values.resize(plan.packed_w_len(), 0.0);
                plan.pack_weights(f.kernel, &mut self.packed.values);
            }
            plan.forward_packed(f.x, &self.packed.values, bias, f.y, f.scratch);
        }
        self.activation.forward(f.y);
    }

    /// The gradients for the dense kernel `b.kernel`: dx (when needed), the kernel's and the
    /// bias's.
    pub(super) fn backward(&mut self, b: Backward<'_>) {
        self.activation.backward(b.y, b.dy);
        let plan = self.plan.with_batch(b.batch);
        let packed_t = if b.need_dx && plan.p.w_len() <= PACK_T_MAX {
            if self.packed_t.stale(b.version) {
                self.packed_t.values.resize(plan.packed_w_t_len(), 0.0);
                plan.pack_weights_t(b.kernel, &mut self.packed_t.values);
            }
            Some(&self.packed_t.values[..])
        } else {
            None
        };
        let db = match self.no_bias.as_mut() {
            Some(n) => &mut n.discarded[..],
            None => b.dbias,
        };
        let g = Conv2dGrads { dx: b.need_dx.then_some(b.dx), dw: b.dkernel, db };
        plan.backward_packed(b.x, b.kernel, packed_t, b.dy, g, b.scratch);
    }

    /// Second derivatives for the dense squared kernel `c.kernel2`: the slope applied twice, then
    /// the convolution's backward pass over squared inputs.
    pub(super) fn curvature(&mut self, c: Curvature<'_>) {
        self.activation.backward(c.y, c.d2y);
        self.activation.backward(c.y, c.d2y);
        let db = match self.no_bias.as_mut() {
            Some(n) => &mut n.discarded[..],
            None => c.dbias,
        };
        let g = Conv2dGrads { dx: c.need_dx.then_some(c.d2x), dw: c.dkernel, db };
        self.plan.with_batch(c.batch).backward_packed(c.x2, c.kernel2, None, c.d2y, g, c.scratch);
    }
}

/// A dense convolution.
pub struct Conv2d {
    core: ConvCore,
}

impl Conv2d {
    pub fn new(p: Conv2dParams, activation: Activation) -> Self {
        Conv2d { core: ConvCore::new(p, activation) }
    }

    /// The algorithm chosen for it.
    pub fn plan(&self) -> &ConvPlan {
        &self.core.plan
    }
}

impl Layer for Conv2d {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn scratch_len(&self, batch: usize) -> usize {
        self.core.scratch_len(batch)
    }

    fn inference_scratch_len(&self, batch: usize) -> usize {
        self.core.inference_scratch_len(batch)
    }

    fn reserve(&mut self, batch: usize) {
        self.core.activation.reserve(batch);
    }

    fn working_values(&self, batch: u128) -> u128 {
        self.core.working_values(batch)
    }

    fn gemm_macs(&self) -> u128 {
        self.core.gemm_macs()
    }

    fn param_shapes(&self) -> Vec<Vec<usize>> {
        let p = self.core.params(1);
        let kernel = vec![p.k_h, p.k_w, p.in_c, p.out_c];
        if self.core.no_bias.is_some() {
            vec![kernel]
        } else {
            vec![kernel, vec![p.out_c]]
        }
    }

    fn forward(&mut self, f: Forward<'_>) {
        let stale = self.core.packed.stale(f.version);
        self.core.forward(f, stale);
    }

    fn backward(&mut self, b: Backward<'_>) {
        self.core.backward(b);
    }

    fn has_curvature(&self) -> bool {
        true
    }

    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        self.core.curvature(c);
        Ok(())
    }
}
