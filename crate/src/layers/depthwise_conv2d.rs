//! DepthwiseConv2D (Keras's): each input channel convolved with its own `depth_multiplier`
//! filters, a bias per output channel, then an activation. The kernel is Keras's
//! `[k_h, k_w, channels, depth_multiplier]`.

use super::{
    glorot, one_multiplier, one_one, yes, zeros, ActivationSpec, Backward, BuildLayer, Builder, Built, Forward,
};
use super::{FusedActivation, Layer, NoBias, PaddingSpec, RegularizerSpec};
use crate::error::Result;
use crate::init::Initializer;
use crate::kernels::depthwise::{depthwise_backward, depthwise_forward, DepthwiseGrads, DepthwiseParams};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepthwiseConv2dSpec {
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
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
    #[serde(default = "yes")]
    pub use_bias: bool,
    #[serde(default)]
    pub depthwise_regularizer: Option<RegularizerSpec>,
}

const KIND: &str = "depthwise_conv2d";

/// The geometry over the builder's input, batch 1, checked (depthwise and separable convs share it).
pub(super) fn depthwise_geometry(
    b: &Builder,
    kind: &'static str,
    k: [usize; 2],
    s: [usize; 2],
    padding: PaddingSpec,
    multiplier: usize,
) -> Result<DepthwiseParams> {
    b.check_sizes(&[
        ("kernel", k[0]),
        ("kernel", k[1]),
        ("stride", s[0]),
        ("stride", s[1]),
        ("depth multiplier", multiplier),
    ])?;
    let [in_h, in_w, channels] = b.shape;
    let p = DepthwiseParams {
        batch: 1,
        in_h,
        in_w,
        channels,
        multiplier,
        k_h: k[0],
        k_w: k[1],
        stride_h: s[0],
        stride_w: s[1],
        padding: padding.into(),
    };
    p.validate().map_err(|e| b.error(kind, e))?;
    b.check_sizes(&[("output channels", p.out_c())])?;
    Ok(p)
}

impl BuildLayer for DepthwiseConv2dSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let p = depthwise_geometry(b, KIND, self.kernel_size, self.strides, self.padding, self.depth_multiplier)?;
        let out_shape = [p.out_h(), p.out_w(), p.out_c()];
        let kernel = b.claim(p.w_len() as u128)?;
        let bias = b.claim(if self.use_bias { p.out_c() as u128 } else { 0 })?;
        // Keras's fans for a [k_h, k_w, channels, multiplier] kernel.
        let receptive = p.k_h * p.k_w;
        let (fan_in, fan_out) = (receptive * p.channels, receptive * p.multiplier);
        b.init(self.depthwise_initializer, fan_in, fan_out, kernel.clone());
        b.init(self.bias_initializer, fan_in, fan_out, bias.clone());
        let activation = b.activation(self.activation, KIND)?;
        let penalties =
            RegularizerSpec::build(self.depthwise_regularizer, b, KIND, "depthwise_regularizer", 0..kernel.len())?;
        let layer = DepthwiseConv2d {
            p,
            activation: FusedActivation::new(activation, out_shape.iter().product()),
            no_bias: (!self.use_bias).then(|| NoBias::new(p.out_c())),
        };
        Ok(Built { layer: layer.into(), out_shape, kernel, bias, penalties })
    }
}

pub struct DepthwiseConv2d {
    /// With batch 1.
    p: DepthwiseParams,
    activation: FusedActivation,
    no_bias: Option<NoBias>,
}

impl Layer for DepthwiseConv2d {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn reserve(&mut self, batch: usize) {
        self.activation.reserve(batch);
    }

    fn working_values(&self, batch: u128) -> u128 {
        self.activation.working_values(batch)
    }

    fn param_shapes(&self) -> Vec<Vec<usize>> {
        let p = &self.p;
        let kernel = vec![p.k_h, p.k_w, p.channels, p.multiplier];
        if self.no_bias.is_some() {
            vec![kernel]
        } else {
            vec![kernel, vec![p.out_c()]]
        }
    }

    fn forward(&mut self, f: Forward<'_>) {
        let bias = self.no_bias.as_ref().map_or(f.bias, |n| &n.zeros[..]);
        depthwise_forward(&DepthwiseParams { batch: f.batch, ..self.p }, f.x, f.kernel, bias, f.y);
        self.activation.forward(f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        self.activation.backward(b.y, b.dy);
        let db = match self.no_bias.as_mut() {
            Some(n) => &mut n.discarded[..],
            None => b.dbias,
        };
        let g = DepthwiseGrads { dx: b.need_dx.then_some(b.dx), dw: b.dkernel, db };
        depthwise_backward(&DepthwiseParams { batch: b.batch, ..self.p }, b.x, b.kernel, b.dy, g);
    }
}
