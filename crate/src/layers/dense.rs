//! Dense (Keras's): `y = f(x·W + b)` over flat inputs, W as `[inputs, units]`.

use super::{
    glorot, zeros, ActivationSpec, Backward, BuildLayer, Builder, Built, Curvature, Forward, FusedActivation, Layer,
    Packed,
};
use super::{yes, NoBias, RegularizerSpec};
use crate::error::Result;
use crate::init::Initializer;
use crate::kernels::dense::{dense_backward, dense_forward_packed, dense_pack_weights, DenseGrads, DenseParams};
use serde::Deserialize;

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenseSpec {
    pub units: usize,
    #[serde(default)]
    pub activation: ActivationSpec,
    #[serde(default = "glorot")]
    pub kernel_initializer: Initializer,
    #[serde(default = "zeros")]
    pub bias_initializer: Initializer,
    /// Without a bias (Keras's `use_bias=False`).
    #[serde(default = "yes")]
    pub use_bias: bool,
    #[serde(default)]
    pub kernel_regularizer: Option<RegularizerSpec>,
}

const KIND: &str = "dense";

impl BuildLayer for DenseSpec {
    fn build(&self, b: &mut Builder) -> Result<Built> {
        let units = self.units;
        b.check_sizes(&[("units", units)])?;
        b.flat_input(KIND)?;
        if units == 0 {
            return Err(b.error(KIND, "units must be at least 1"));
        }
        let inputs = b.in_len();
        let activation = b.activation(self.activation, KIND)?;
        let kernel = b.claim(inputs as u128 * units as u128)?;
        let bias = b.claim(if self.use_bias { units as u128 } else { 0 })?;
        b.init(self.kernel_initializer, inputs, units, kernel.clone());
        b.init(self.bias_initializer, inputs, units, bias.clone());
        let activation = FusedActivation::new(activation, units);
        let no_bias = (!self.use_bias).then(|| NoBias::new(units));
        let layer =
            Dense { p: DenseParams { batch: 1, inputs, units }, activation, packed: Packed::default(), no_bias };
        let penalties =
            RegularizerSpec::build(self.kernel_regularizer, b, KIND, "kernel_regularizer", 0..kernel.len())?;
        Ok(Built { layer: layer.into(), out_shape: [1, 1, units], kernel, bias, penalties })
    }
}

pub struct Dense {
    /// With batch 1; the batch is set per call.
    p: DenseParams,
    activation: FusedActivation,
    /// The kernel packed for the GEMM.
    packed: Packed,
    /// Set when the layer has no bias.
    no_bias: Option<NoBias>,
}

impl Dense {
    fn params(&self, batch: usize) -> DenseParams {
        DenseParams { batch, ..self.p }
    }
}

impl Layer for Dense {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn reserve(&mut self, batch: usize) {
        self.activation.reserve(batch);
    }

    fn working_values(&self, batch: u128) -> u128 {
        self.activation.working_values(batch)
    }

    fn scratch_len(&self, batch: usize) -> usize {
        let p = self.params(batch);
        p.forward_scratch_len().max(p.backward_scratch_len())
    }

    fn gemm_macs(&self) -> u128 {
        self.p.inputs as u128 * self.p.units as u128
    }

    fn param_shapes(&self) -> Vec<Vec<usize>> {
        let kernel = vec![self.p.inputs, self.p.units];
        if self.no_bias.is_some() {
            vec![kernel]
        } else {
            vec![kernel, vec![self.p.units]]
        }
    }

    fn forward(&mut self, f: Forward<'_>) {
        let p = self.params(f.batch);
        if self.packed.stale(f.version) {
            self.packed.values.resize(p.packed_w_len(), 0.0);
            dense_pack_weights(&p, f.kernel, &mut self.packed.values);
        }
        let bias = self.no_bias.as_ref().map_or(f.bias, |n| &n.zeros[..]);
        dense_forward_packed(&p, f.x, &self.packed.values, bias, f.y, f.scratch);
        self.activation.forward(f.y);
    }

    fn backward(&mut self, b: Backward<'_>) {
        self.activation.backward(b.y, b.dy);
        let p = self.params(b.batch);
        let db = match self.no_bias.as_mut() {
            Some(n) => &mut n.discarded[..],
            None => b.dbias,
        };
        let g = DenseGrads { dx: b.dx, dw: b.dkernel, db };
        dense_backward(&p, b.x, b.kernel, b.dy, g, b.scratch);
    }

    fn has_curvature(&self) -> bool {
        true
    }

    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        self.activation.backward(c.y, c.d2y);
        self.activation.backward(c.y, c.d2y);
        let p = self.params(c.batch);
        let db = match self.no_bias.as_mut() {
            Some(n) => &mut n.discarded[..],
            None => c.dbias,
        };
        let g = DenseGrads { dx: c.d2x, dw: c.dkernel, db };
        dense_backward(&p, c.x2, c.kernel2, c.d2y, g, c.scratch);
        Ok(())
    }
}
