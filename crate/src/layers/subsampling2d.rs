//! LeNet-5's subsampling: each unit adds its window (a sum, not a mean), multiplies it by one
//! trainable coefficient per map, adds one trainable bias per map, then applies the activation.
//! The kernel is the coefficient vector.

use super::PaddingSpec;
use super::{
    glorot, zeros, ActivationSpec, Backward, BuildLayer, Builder, Built, Curvature, Forward, FusedActivation, Layer,
};
use crate::error::Result;
use crate::init::Initializer;
use crate::kernels::pool::{subsample_backward, subsample_curvature, subsample_forward, Pool2dParams, SubsampleGrads};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subsampling2dSpec {
    pub pool_size: [usize; 2],
    pub strides: Option<[usize; 2]>,
    #[serde(default)]
    pub activation: ActivationSpec,
    #[serde(default = "glorot")]
    pub kernel_initializer: Initializer,
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
}

const KIND: &str = "subsampling2d";

impl BuildLayer for Subsampling2dSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let (g, out_shape) =
            super::Pool2dSpec { pool_size: self.pool_size, strides: self.strides, padding: PaddingSpec::Valid }
                .geometry(b, KIND)?;
        let activation = b.activation(self.activation, KIND)?;
        let c = b.shape[2];
        let kernel = b.claim(c as u128)?;
        let bias = b.claim(c as u128)?;
        // Each unit has one coefficient over a window of pool_h·pool_w inputs.
        let fan_in = self.pool_size[0] * self.pool_size[1];
        b.init(self.kernel_initializer, fan_in, 1, kernel.clone());
        b.init(self.bias_initializer, fan_in, 1, bias.clone());
        let activation = FusedActivation::new(activation, out_shape.iter().product());
        Ok(Built { layer: Subsampling2d { g, activation }.into(), out_shape, kernel, bias, penalties: Vec::new() })
    }
}

pub struct Subsampling2d {
    g: Pool2dParams,
    activation: FusedActivation,
}

impl Layer for Subsampling2d {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn reserve(&mut self, batch: usize) {
        self.activation.reserve(batch);
    }

    fn working_values(&self, batch: u128) -> u128 {
        self.activation.working_values(batch)
    }

    /// One coefficient and one bias per map.
    fn param_shapes(&self) -> Vec<Vec<usize>> {
        vec![vec![self.g.channels], vec![self.g.channels]]
    }

    fn forward(&mut self, f: Forward<'_>) {
        subsample_forward(&Pool2dParams { batch: f.batch, ..self.g }, f.x, f.kernel, f.bias, f.y);
        self.activation.forward(f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        self.activation.backward(b.y, b.dy);
        let grads = SubsampleGrads { dx: b.dx, dcoef: b.dkernel, dbias: b.dbias };
        subsample_backward(&Pool2dParams { batch: b.batch, ..self.g }, b.x, b.kernel, b.dy, grads);
    }

    fn has_curvature(&self) -> bool {
        true
    }

    /// The coefficients' rule takes the inputs and the coefficients as they are (the kernel
    /// squares what it needs).
    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        self.activation.backward(c.y, c.d2y);
        self.activation.backward(c.y, c.d2y);
        let grads = SubsampleGrads { dx: c.d2x, dcoef: c.dkernel, dbias: c.dbias };
        subsample_curvature(&Pool2dParams { batch: c.batch, ..self.g }, c.x, c.kernel, c.d2y, grads);
        Ok(())
    }
}
