//! SeparableConv2D (Keras's): a depthwise convolution (no bias) into `channels·depth_multiplier`
//! maps, then a 1×1 convolution to `filters` with a bias, then an activation. Its parameters, in
//! Keras's order: the depthwise kernel `[k_h, k_w, channels, depth_multiplier]` and the pointwise
//! kernel `[1, 1, channels·depth_multiplier, filters]` (one "kernel" range), then the bias.
//! Each kernel may have its own penalty (`depthwise_regularizer`, `pointwise_regularizer`).

use super::depthwise_conv2d::depthwise_geometry;
use super::{
    glorot, one_multiplier, one_one, yes, zeros, ActivationSpec, Backward, BuildLayer, Builder, Built, Forward,
};
use super::{FusedActivation, Layer, NoBias, PaddingSpec, RegularizerSpec};
use crate::error::Result;
use crate::init::Initializer;
use crate::kernels::dense::{dense_backward, dense_forward, DenseGrads, DenseParams};
use crate::kernels::depthwise::{depthwise_backward, depthwise_forward, DepthwiseGrads, DepthwiseParams};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeparableConv2dSpec {
    pub filters: usize,
    pub kernel_size: [usize; 2],
    #[serde(default = "one_one")]
    pub strides: [usize; 2],
    #[serde(default)]
    pub padding: PaddingSpec,
    #[serde(default = "one_multiplier")]
    pub depth_multiplier: usize,
    #[serde(default)]
    pub activation: ActivationSpec,
    #[serde(default = "glorot")]
    pub depthwise_initializer: Initializer,
    #[serde(default = "glorot")]
    pub pointwise_initializer: Initializer,
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
    #[serde(default = "yes")]
    pub use_bias: bool,
    #[serde(default)]
    pub depthwise_regularizer: Option<RegularizerSpec>,
    #[serde(default)]
    pub pointwise_regularizer: Option<RegularizerSpec>,
}

const KIND: &str = "separable_conv2d";

impl BuildLayer for SeparableConv2dSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let d = depthwise_geometry(b, KIND, self.kernel_size, self.strides, self.padding, self.depth_multiplier)?;
        let filters = self.filters;
        b.check_sizes(&[("filters", filters)])?;
        if filters == 0 {
            return Err(b.error(KIND, "filters must be at least 1"));
        }
        let (mid, positions) = (d.out_c(), d.out_h() * d.out_w());
        let out_shape = [d.out_h(), d.out_w(), filters];
        let kernel = b.claim(d.w_len() as u128 + mid as u128 * filters as u128)?;
        let bias = b.claim(if self.use_bias { filters as u128 } else { 0 })?;
        let receptive = d.k_h * d.k_w;
        let split = kernel.start + d.w_len();
        b.init(self.depthwise_initializer, receptive * d.channels, receptive * d.multiplier, kernel.start..split);
        b.init(self.pointwise_initializer, mid, filters, split..kernel.end);
        b.init(self.bias_initializer, mid, filters, bias.clone());
        let activation = b.activation(self.activation, KIND)?;
        // Keras adds the depthwise kernel's penalty before the pointwise one's.
        let (depthwise, pointwise) = (0..d.w_len(), d.w_len()..kernel.len());
        let mut penalties =
            RegularizerSpec::build(self.depthwise_regularizer, b, KIND, "depthwise_regularizer", depthwise)?;
        penalties.extend(RegularizerSpec::build(
            self.pointwise_regularizer,
            b,
            KIND,
            "pointwise_regularizer",
            pointwise,
        )?);
        let layer = SeparableConv2d {
            d,
            positions,
            filters,
            activation: FusedActivation::new(activation, positions * filters),
            no_bias: (!self.use_bias).then(|| NoBias::new(filters)),
            mid: Vec::new(),
            dmid: Vec::new(),
            zeros: vec![0.0; mid],
            discarded: vec![0.0; mid],
        };
        Ok(Built { layer: layer.into(), out_shape, kernel, bias, penalties })
    }
}

pub struct SeparableConv2d {
    /// The depthwise part, batch 1.
    d: DepthwiseParams,
    /// Output positions per example.
    positions: usize,
    filters: usize,
    activation: FusedActivation,
    no_bias: Option<NoBias>,
    /// The depthwise output (the pointwise input) and its gradient.
    mid: Vec<f32>,
    dmid: Vec<f32>,
    /// The depthwise part has no bias: zeros to add, and room for the gradient nobody reads.
    zeros: Vec<f32>,
    discarded: Vec<f32>,
}

impl SeparableConv2d {
    fn pointwise(&self, batch: usize) -> DenseParams {
        DenseParams { batch: batch * self.positions, inputs: self.d.out_c(), units: self.filters }
    }
}

impl Layer for SeparableConv2d {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn reserve(&mut self, batch: usize) {
        let len = batch * self.positions * self.d.out_c();
        self.mid.resize(len, 0.0);
        self.dmid.resize(len, 0.0);
        self.activation.reserve(batch);
    }

    fn scratch_len(&self, batch: usize) -> usize {
        let p = self.pointwise(batch);
        p.forward_scratch_len().max(p.backward_scratch_len())
    }

    fn working_values(&self, batch: u128) -> u128 {
        2 * batch * (self.positions * self.d.out_c()) as u128 + self.activation.working_values(batch)
    }

    fn gemm_macs(&self) -> u128 {
        (self.positions * self.d.out_c() * self.filters) as u128
    }

    fn param_shapes(&self) -> Vec<Vec<usize>> {
        let d = &self.d;
        let mut shapes = vec![vec![d.k_h, d.k_w, d.channels, d.multiplier], vec![1, 1, d.out_c(), self.filters]];
        if self.no_bias.is_none() {
            shapes.push(vec![self.filters]);
        }
        shapes
    }

    fn forward(&mut self, f: Forward<'_>) {
        let (dw, pw) = f.kernel.split_at(self.d.w_len());
        let point = self.pointwise(f.batch);
        let mid = &mut self.mid[..f.batch * self.positions * self.d.out_c()];
        depthwise_forward(&DepthwiseParams { batch: f.batch, ..self.d }, f.x, dw, &self.zeros, mid);
        let bias = self.no_bias.as_ref().map_or(f.bias, |n| &n.zeros[..]);
        dense_forward(&point, mid, pw, bias, f.y, f.scratch);
        self.activation.forward(f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        self.activation.backward(b.y, b.dy);
        let split = self.d.w_len();
        let (dw, pw) = b.kernel.split_at(split);
        let (ddw, dpw) = b.dkernel.split_at_mut(split);
        let n = b.batch * self.positions * self.d.out_c();
        let p = self.pointwise(b.batch);
        let db = match self.no_bias.as_mut() {
            Some(z) => &mut z.discarded[..],
            None => b.dbias,
        };
        let grads = DenseGrads { dx: &mut self.dmid[..n], dw: dpw, db };
        dense_backward(&p, &self.mid[..n], pw, b.dy, grads, b.scratch);
        let g = DepthwiseGrads { dx: b.need_dx.then_some(b.dx), dw: ddw, db: &mut self.discarded };
        depthwise_backward(&DepthwiseParams { batch: b.batch, ..self.d }, b.x, dw, &self.dmid[..n], g);
    }
}
