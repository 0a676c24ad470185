//! A convolution whose output maps each read only some input maps (LeNet-5's C3): its compact
//! kernel holds only the connected weights and is expanded, with zeros for the missing
//! connections, into a dense kernel that the ordinary convolution runs on. Zero terms leave
//! every sum unchanged, so this is exact.

use super::conv2d::{check_patch_rows, Conv2dSpec, ConvCore};
use super::{Backward, Builder, Built, Curvature, Forward, Layer};
use crate::error::Result;
use crate::kernels::act::Activation;
use crate::kernels::conv::{ConnectionTable, Conv2dParams};

const KIND: &str = "conv2d";

pub struct Conv2dTable {
    core: ConvCore,
    table: ConnectionTable,
    /// The dense kernel expanded from the compact parameters (the backward pass reads it too),
    /// and room for a dense kernel gradient before it is compacted.
    expanded: Vec<f32>,
    expanded_grad: Vec<f32>,
}

impl Conv2dTable {
    pub(super) fn build(spec: &Conv2dSpec, p: Conv2dParams, b: &mut Builder) -> Result<Built> {
        let list = spec.connections.as_ref().expect("called for a table only");
        let filters = spec.filters;
        if !spec.use_bias {
            return Err(b.error(KIND, "a conv with a connection table always has a bias (use_bias must be true)"));
        }
        if list.len() != filters {
            return Err(b.error(
                KIND,
                format!("the connection table has {} rows, one per filter is needed ({filters})", list.len()),
            ));
        }
        let table = ConnectionTable::new(b.shape[2], list.clone()).map_err(|e| b.error(KIND, e))?;
        let out_shape = [p.out_h(), p.out_w(), filters];
        let k = p.k_h * p.k_w;
        let connected: u128 = list.iter().map(|l| l.len() as u128).sum();
        let kernel = b.claim((p.k_h * p.k_w) as u128 * connected)?;
        let bias = b.claim(filters as u128)?;
        // Each output map's fan-in is its own: k·|inputs(f)|.
        let mut at = kernel.start;
        for f in 0..filters {
            let len = k * table.inputs(f).len();
            b.init(spec.kernel_initializer, len, k * filters, at..at + len);
            at += len;
        }
        for f in 0..filters {
            let fan_in = k * table.inputs(f).len();
            let start = bias.start + f;
            b.init(spec.bias_initializer, fan_in, k * filters, start..start + 1);
        }
        let activation = b.activation(spec.activation, KIND)?;
        check_patch_rows(b, &p)?;
        let penalties =
            super::RegularizerSpec::build(spec.kernel_regularizer, b, KIND, "kernel_regularizer", 0..kernel.len())?;
        Ok(Built { layer: Conv2dTable::new(p, activation, table).into(), out_shape, kernel, bias, penalties })
    }

    pub fn new(p: Conv2dParams, activation: Activation, table: ConnectionTable) -> Self {
        let w_len = p.w_len();
        Conv2dTable {
            core: ConvCore::new(p, activation),
            table,
            expanded: vec![0.0; w_len],
            expanded_grad: vec![0.0; w_len],
        }
    }
}

impl Conv2dTable {
    pub fn table(&self) -> &ConnectionTable {
        &self.table
    }
}

impl Layer for Conv2dTable {
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

    /// The compact kernel: only the connected weights, output map by output map.
    fn param_shapes(&self) -> Vec<Vec<usize>> {
        let p = self.core.params(1);
        vec![vec![self.table.compact_len(p.k_h, p.k_w)], vec![p.out_c]]
    }

    fn forward(&mut self, f: Forward<'_>) {
        let stale = self.core.packed.stale(f.version);
        let p = self.core.params(1);
        if stale {
            self.table.expand(p.k_h, p.k_w, f.kernel, &mut self.expanded);
        }
        self.core.forward(Forward { kernel: &self.expanded, ..f }, stale);
    }

    fn backward(&mut self, b: Backward<'_>) {
        let p = self.core.params(1);
        let Backward { batch, x, y, dy, dx, need_dx, kernel: _, dkernel, dbias, scratch, version } = b;
        // The forward pass just expanded the kernel for these parameters.
        let dense = Backward {
            batch,
            x,
            y,
            dy,
            dx,
            need_dx,
            kernel: &self.expanded,
            dkernel: &mut self.expanded_grad,
            dbias,
            scratch,
            version,
        };
        self.core.backward(dense);
        self.table.compact(p.k_h, p.k_w, &self.expanded_grad, dkernel);
    }

    fn has_curvature(&self) -> bool {
        true
    }

    fn curvature(&mut self, c: Curvature<'_>) -> Result<()> {
        let p = self.core.params(1);
        let Curvature { batch, x, x2, y, d2y, d2x, need_dx, kernel, kernel2, dkernel, dbias, scratch } = c;
        self.table.expand(p.k_h, p.k_w, kernel2, &mut self.expanded);
        // `expanded` now holds squared weights: the next forward pass expands and packs again,
        // and the next backward pass packs Wᵀ again.
        self.core.packed.invalidate();
        self.core.packed_t.invalidate();
        let dense = Curvature {
            batch,
            x,
            x2,
            y,
            d2y,
            d2x,
            need_dx,
            kernel,
            kernel2: &self.expanded,
            dkernel: &mut self.expanded_grad,
            dbias,
            scratch,
        };
        self.core.curvature(dense);
        self.table.compact(p.k_h, p.k_w, &self.expanded_grad, dkernel);
        Ok(())
    }
}
