//! What TypeScript sends to build a model, and the bounds a model must keep within.

use crate::layers::LayerSpec;
use crate::losses::LossSpec;
use crate::optim::{OptimizerSpec, Schedule};
use serde::Deserialize;

fn one() -> f32 {
    1.0
}

/// The input shape (H, W, C), the layers, and the compile settings.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub input_shape: [usize; 3],
    /// 8-bit inputs become `offset + scale·pixel` (÷255 for Géron's network).
    #[serde(default = "one")]
    pub input_scale: f32,
    #[serde(default)]
    pub input_offset: f32,
    pub layers: Vec<LayerSpec>,
    /// A graph's wiring: for each layer, the tensors it reads, in order — 0 is the model's
    /// input, `j + 1` layer `j`'s output — each earlier than the layer itself. Empty (the
    /// default) for a stack, where each layer reads the one before. The last layer's output is
    /// the model's, and every other layer's output must be read by some layer.
    #[serde(default)]
    pub inputs: Vec<Vec<usize>>,
    pub loss: LossSpec,
    pub optimizer: OptimizerSpec,
    pub learning_rate: Schedule,
}

/// The working memory (activations, gradients, scratch) a batch may need: 2 GiB of f32, half of
/// what wasm32 can address.
pub const MAX_WORK: u128 = 1 << 29;

/// Multiply-adds per example, through the GEMM, above which building a model first runs
/// [`gemm::warm_up`](crate::kernels::gemm::warm_up) (once per wasm instance), so that V8 has the
/// GEMM optimised by the first prediction (a cold-start gain, measured by `npm run bench:cold`;
/// docs/performance.md). The Fashion ConvNet has 89M, LeNet-5 0.3M: a small model would only pay
/// for the compile.
pub const WARM_UP_MACS: u128 = 10_000_000;
