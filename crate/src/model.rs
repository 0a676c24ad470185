//! The Sequential runtime: a stack of layers built from a JSON spec, its parameters in one flat
//! vector (each layer's kernel, then its bias, in Keras's order and layouts), the activation
//! cache for backward, and reusable buffers. A training step (forward, loss, backward, optimiser
//! update) is one call; so is a prediction.
//!
//! Buffers are sized for the largest batch seen, so after the first step of a given size no
//! step allocates.

use crate::kernels::act::{activation_backward, activation_backward_in_place, activation_forward};
use crate::kernels::act::{activation_forward_in_place, Activation};
use crate::kernels::conv::{
    conv2d_backward, conv2d_backward_packed, conv2d_forward_packed, conv2d_pack_weights, conv2d_pack_weights_t,
    conv2d_packed_w_t_len, ConnectionTable, Conv2dGrads, Conv2dParams, Padding,
};
use crate::kernels::conv_direct;
use crate::kernels::dense::{dense_backward, dense_forward_packed, dense_pack_weights, DenseGrads, DenseParams};
use crate::kernels::dropout::{apply_mask, dropout_mask};
use crate::kernels::gemm::transpose;
use crate::kernels::lanes::all_finite;
use crate::kernels::pad::{pad_backward, pad_forward, Pad2dParams};
use crate::kernels::pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, Pool2dParams};
use crate::kernels::pool::{subsample_backward, subsample_curvature, subsample_forward, SubsampleGrads};
use crate::kernels::rbf::{rbf_backward, rbf_forward, rbf_loss, rbf_output_curvature, RbfLoss, RbfParams};
use crate::kernels::softmax::{softmax, softmax_cross_entropy, SoftmaxParams};
use crate::nn::init::{initialize, Initializer};
use crate::nn::optim::{Optimizer, OptimizerSpec, Schedule};
use crate::nn::rng::Rng;
use serde::Deserialize;

/// Kernels up to this many weights keep their packed Wᵀ between a step's micro-batches (LeNet-5's
/// C3 and C5, where packing it each time costs several per cent of a step). Larger ones (the
/// Fashion ConvNet's 74k–590k) repack it each micro-batch, a small share of their much larger
/// products, and do not hold another copy of their weights. (Every kernel's packed W, for the
/// forward pass, is kept: packing it each micro-batch too saved 5.4 MiB of the Fashion ConvNet's
/// training memory but cost ~2% of its training speed, measured on one and on two threads.)
const PACK_T_MAX: usize = 65_536;

/// A layer's packed Wᵀ for the input gradient, repacked when the parameters have changed since
/// (`cache`: the buffer, the version it holds, the current version); `None` for kernels over
/// [`PACK_T_MAX`], which the backward pass packs itself.
fn cached_packed_t<'a>(p: &Conv2dParams, w: &[f32], cache: (&'a mut Vec<f32>, &mut u64, u64)) -> Option<&'a [f32]> {
    let (packed, version, current) = cache;
    if p.w_len() > PACK_T_MAX {
        return None;
    }
    if *version != current {
        packed.resize(conv2d_packed_w_t_len(p), 0.0);
        conv2d_pack_weights_t(p, w, packed);
        *version = current;
    }
    Some(&packed[..])
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ActivationSpec {
    #[default]
    Linear,
    Relu,
    Tanh,
    LecunTanh,
    Sigmoid,
    /// Only as the last layer's activation, with the cross-entropy loss (they are fused).
    Softmax,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PaddingSpec {
    #[default]
    Valid,
    Same,
}

fn one_one() -> [usize; 2] {
    [1, 1]
}
fn glorot() -> Initializer {
    Initializer::GlorotUniform
}
fn zeros() -> Initializer {
    Initializer::Zeros
}

/// One layer of the spec. Defaults are Keras's.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    Conv2d {
        filters: usize,
        kernel_size: [usize; 2],
        #[serde(default = "one_one")]
        strides: [usize; 2],
        #[serde(default)]
        padding: PaddingSpec,
        #[serde(default)]
        activation: ActivationSpec,
        #[serde(default = "glorot")]
        kernel_initializer: Initializer,
        #[serde(default = "zeros")]
        bias_initializer: Initializer,
        /// A connection table (LeNet-5's C3): `connections[f]` lists the input maps output map
        /// `f` reads, ascending. The kernel then holds only the connected weights: for each
        /// output map, `[k_h, k_w, |connections[f]|]`.
        #[serde(default)]
        connections: Option<Vec<Vec<usize>>>,
    },
    /// Pads the image with `value` (Keras's ZeroPadding2D when it is 0): `padding` is
    /// `[[top, bottom], [left, right]]`.
    ZeroPadding2d {
        padding: [[usize; 2]; 2],
        #[serde(default)]
        value: f32,
    },
    /// LeNet-5's subsampling: `activation(coef[c]·Σwindow + bias[c])`; the kernel is the `coef`
    /// vector.
    Subsampling2d {
        pool_size: [usize; 2],
        strides: Option<[usize; 2]>,
        #[serde(default)]
        activation: ActivationSpec,
        #[serde(default = "glorot")]
        kernel_initializer: Initializer,
        #[serde(default = "zeros")]
        bias_initializer: Initializer,
    },
    /// Euclidean RBF output units with fixed prototypes (`[units, inputs]`, not trained): the
    /// output is the squared distance to each.
    Rbf {
        units: usize,
        prototypes: Vec<f32>,
    },
    MaxPool2d {
        pool_size: [usize; 2],
        strides: Option<[usize; 2]>,
        #[serde(default)]
        padding: PaddingSpec,
    },
    AveragePool2d {
        pool_size: [usize; 2],
        strides: Option<[usize; 2]>,
        #[serde(default)]
        padding: PaddingSpec,
    },
    Flatten,
    Dense {
        units: usize,
        #[serde(default)]
        activation: ActivationSpec,
        #[serde(default = "glorot")]
        kernel_initializer: Initializer,
        #[serde(default = "zeros")]
        bias_initializer: Initializer,
    },
    Dropout {
        rate: f32,
    },
    Activation {
        activation: ActivationSpec,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum LossSpec {
    /// With a softmax on the last layer.
    SparseCategoricalCrossentropy,
    /// LeCun et al. 1998 eq. 8, over an RBF output.
    RbfMaxLikelihood,
    /// Eq. 9 with its constant `j`, over an RBF output.
    RbfMap { j: f32 },
    /// Softmax cross-entropy over the negative RBF distances.
    RbfCrossEntropy,
}

fn one() -> f32 {
    1.0
}

/// What TypeScript sends: the input shape (H, W, C), the layers, and the compile settings.
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
    pub loss: LossSpec,
    pub optimizer: OptimizerSpec,
    pub learning_rate: Schedule,
}

/// Bounds on what a spec may ask for, checked before anything is allocated: each size in a layer
/// (filters, units, kernel, stride, pool, padding, input dimensions), the values per example out of
/// any layer (256 MiB of f32), and the parameters (1 GiB of f32).
const MAX_DIM: usize = 1 << 16;
const MAX_VALUES: u128 = 1 << 26;
const MAX_PARAMS: u128 = 1 << 28;
/// The working memory (activations, gradients, scratch) a batch may need: 2 GiB of f32, half of
/// what wasm32 can address.
const MAX_WORK: u128 = 1 << 29;

/// Multiply-adds per example, through the GEMM, above which building a model first runs
/// [`gemm::warm_up`](crate::kernels::gemm::warm_up) (once per wasm instance). The Fashion ConvNet
/// has 89M, LeNet-5 0.3M. Its first prediction then runs optimised code: at a cold start, Fashion
/// import → first prediction went from 75 to 68 ms (`npm run bench:cold`, 13 cold starts of each
/// build, interleaved). A small model would only pay for the compile: done in `init()` for every
/// model, it added 6 ms to LeNet-5's 39.
const WARM_UP_MACS: u128 = 10_000_000;

static GEMM_WARMED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Multiply-adds per example that `op` runs through the GEMM (convolutions the direct kernels
/// serve, see `conv_direct`, are not counted).
fn gemm_macs(op: &Op) -> u128 {
    match op {
        Op::Conv(p, _) | Op::ConvTable(p, ..) if !conv_direct::applies(p) => p.positions() as u128 * p.w_len() as u128,
        Op::Dense(p, _) => p.inputs as u128 * p.units as u128,
        _ => 0,
    }
}

/// Checks every size in the spec against [`MAX_DIM`].
fn check_sizes(spec: &ModelSpec) -> Result<(), String> {
    let check = |what: String, v: usize| {
        if v > MAX_DIM {
            Err(format!("{what} is {v}, above the limit of {MAX_DIM}"))
        } else {
            Ok(())
        }
    };
    for (k, &d) in spec.input_shape.iter().enumerate() {
        check(format!("input_shape[{k}]"), d)?;
    }
    for (i, l) in spec.layers.iter().enumerate() {
        let mut sizes: Vec<(&str, usize)> = Vec::new();
        match l {
            LayerSpec::Conv2d { filters, kernel_size, strides, .. } => {
                sizes.extend([("filters", *filters), ("kernel", kernel_size[0]), ("kernel", kernel_size[1])]);
                sizes.extend([("stride", strides[0]), ("stride", strides[1])]);
            }
            LayerSpec::MaxPool2d { pool_size, strides, .. }
            | LayerSpec::AveragePool2d { pool_size, strides, .. }
            | LayerSpec::Subsampling2d { pool_size, strides, .. } => {
                sizes.extend([("pool", pool_size[0]), ("pool", pool_size[1])]);
                if let Some(s) = strides {
                    sizes.extend([("stride", s[0]), ("stride", s[1])]);
                }
            }
            LayerSpec::ZeroPadding2d { padding, .. } => sizes.extend(padding.iter().flatten().map(|&p| ("padding", p))),
            LayerSpec::Dense { units, .. } | LayerSpec::Rbf { units, .. } => sizes.push(("units", *units)),
            LayerSpec::Flatten | LayerSpec::Dropout { .. } | LayerSpec::Activation { .. } => {}
        }
        for (what, v) in sizes {
            check(format!("layer {i}: {what}"), v)?;
        }
    }
    Ok(())
}

const STATE_MAGIC: &[u8; 4] = b"CWTS";
const STATE_VERSION: u32 = 1;

enum Op {
    /// Geometry with batch 1; the batch is set per call.
    Conv(Conv2dParams, Activation),
    MaxPool(Pool2dParams),
    AvgPool(Pool2dParams),
    Flatten,
    Dense(DenseParams, Activation),
    Dropout(f32),
    Act(Activation),
    /// A conv whose kernel is stored compact and expanded (into `Model::expanded[i]`) per call.
    ConvTable(Conv2dParams, Activation, ConnectionTable),
    Pad(Pad2dParams),
    Subsample(Pool2dParams, Activation),
    /// The prototypes, `[units, inputs]` and transposed.
    Rbf(RbfParams, Vec<f32>, Vec<f32>),
}

/// What the last layer computes, and the loss on it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Head {
    /// Logits, with softmax cross-entropy fused.
    Softmax,
    /// RBF distances (smaller is better), with one of the paper's losses.
    Rbf(RbfLoss),
}

struct Layer {
    op: Op,
    /// Values per example in and out.
    in_len: usize,
    out_len: usize,
    /// Where the kernel and the bias sit in the flat parameter vector.
    kernel: core::ops::Range<usize>,
    bias: core::ops::Range<usize>,
}

/// A data-parallel reduction in progress (see `Model::reduce_begin`).
struct Reduction {
    expected: usize,
    seen: usize,
    total: u32,
    counted: u64,
    loss: f32,
    correct: u32,
}

/// A batch of inputs: floats as they are, or 8-bit pixels mapped by the model's scale and offset.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    F32(&'a [f32]),
    U8(&'a [u8]),
}

impl Input<'_> {
    fn len(&self) -> usize {
        match self {
            Input::F32(x) => x.len(),
            Input::U8(x) => x.len(),
        }
    }

    fn slice(&self, r: core::ops::Range<usize>) -> Input<'_> {
        match self {
            Input::F32(x) => Input::F32(&x[r]),
            Input::U8(x) => Input::U8(&x[r]),
        }
    }
}

/// A compiled Sequential model.
pub struct Model {
    layers: Vec<Layer>,
    input_len: usize,
    classes: usize,
    /// The last layer's softmax is fused with the loss; `predict` applies it.
    head: Head,
    input_scale: f32,
    input_offset: f32,
    /// Examples the last training batch classified correctly (argmax of the logits).
    last_correct: u32,
    params: Vec<f32>,
    grads: Vec<f32>,
    optimizer: Optimizer,
    schedule: Schedule,
    rng: Rng,
    capacity: usize,
    acts: Vec<Vec<f32>>,
    delta: [Vec<f32>; 2],
    scratch: Vec<f32>,
    argmax: Vec<Vec<u32>>,
    masks: Vec<Vec<f32>>,
    /// Dense kernels expanded from connection tables (empty for other layers), and one buffer
    /// for a dense kernel gradient before it is compacted.
    expanded: Vec<Vec<f32>>,
    expanded_grad: Vec<f32>,
    loss_scratch: Vec<f32>,
    /// SDLM's curvature estimate: squared inputs and parameters, and the running sum.
    squares: Vec<f32>,
    curvature_sum: Vec<f32>,
    /// Set when a training step met a non-finite loss, gradient or weight.
    divergence: Option<String>,
    /// The reduction in progress (data-parallel steps): its weighted sum of micro-batch gradients
    /// is `grads` itself. A micro-batch this instance computes leaves each layer's gradient in
    /// `layer_grad` (the widest layer's size) and adds it to `grads` at once, so a step needs no
    /// second parameter-sized vector.
    reduction: Option<Reduction>,
    layer_grad: Vec<f32>,
    /// Bumped whenever the parameters change; each conv or dense layer keeps its kernel packed
    /// for the GEMM (and a connection table's expanded) as of `packed_version[i]`, so inference
    /// packs once, not on every call.
    params_version: u64,
    packed: Vec<Vec<f32>>,
    packed_version: Vec<u64>,
    /// Per conv layer that needs an input gradient and has at most [`PACK_T_MAX`] weights: its
    /// kernel transposed and packed for it, as of `packed_t_version[i]` (shared by the
    /// micro-batches of a step).
    packed_t: Vec<Vec<f32>>,
    packed_t_version: Vec<u64>,
}

fn activation(a: ActivationSpec, last: bool, i: usize) -> Result<Activation, String> {
    Ok(match a {
        ActivationSpec::Linear => Activation::Linear,
        ActivationSpec::Relu => Activation::Relu,
        ActivationSpec::Tanh => Activation::Tanh,
        ActivationSpec::LecunTanh => Activation::LecunTanh,
        ActivationSpec::Sigmoid => Activation::Sigmoid,
        ActivationSpec::Softmax if last => Activation::Linear,
        ActivationSpec::Softmax => {
            return Err(format!("layer {i}: softmax is supported only as the last layer's activation"))
        }
    })
}

fn padding(p: PaddingSpec) -> Padding {
    match p {
        PaddingSpec::Valid => Padding::Valid,
        PaddingSpec::Same => Padding::Same,
    }
}

fn pool_geometry(shape: [usize; 3], size: [usize; 2], strides: Option<[usize; 2]>, pad: PaddingSpec) -> Pool2dParams {
    let s = strides.unwrap_or(size);
    Pool2dParams {
        batch: 1,
        in_h: shape[0],
        in_w: shape[1],
        channels: shape[2],
        pool_h: size[0],
        pool_w: size[1],
        stride_h: s[0],
        stride_w: s[1],
        padding: padding(pad),
    }
}

impl Model {
    /// Builds a model from its spec; `seed` drives initialisation, dropout and everything random.
    pub fn new(spec: &ModelSpec, seed: u64) -> Result<Model, String> {
        let mut rng = Rng::new(seed);
        spec.learning_rate.validate()?;
        check_sizes(spec)?;
        let mut shape = spec.input_shape;
        if shape.contains(&0) {
            return Err(format!("input shape {shape:?} has a zero dimension"));
        }
        let values = |s: [usize; 3]| s.iter().map(|&d| d as u128).product::<u128>();
        if values(shape) > MAX_VALUES {
            return Err(format!("input shape {shape:?} has more than {MAX_VALUES} values per example"));
        }
        let input_len = shape.iter().product();
        let mut layers = Vec::with_capacity(spec.layers.len());
        // The layers claim their ranges first; the vector is allocated once, then filled in the
        // same order (one allocation instead of a doubling per layer).
        let mut param_count = 0usize;
        let mut inits: Vec<(Initializer, usize, usize, core::ops::Range<usize>)> = Vec::new();
        let mut softmax_output = false;
        let n = spec.layers.len();
        // Claims the next `len` parameters (computed in u128, so it cannot overflow), within
        // MAX_PARAMS in all.
        let alloc = |count: &mut usize, len: u128, i: usize| -> Result<core::ops::Range<usize>, String> {
            let start = *count;
            if start as u128 + len > MAX_PARAMS {
                return Err(format!("layer {i}: the model would have more than {MAX_PARAMS} parameters"));
            }
            let len = len as usize;
            *count = start + len;
            Ok(start..start + len)
        };
        let u = |v: usize| v as u128;
        for (i, l) in spec.layers.iter().enumerate() {
            let last = i + 1 == n;
            let in_len: usize = shape.iter().product();
            let flat = shape[0] == 1 && shape[1] == 1;
            let (op, out_shape, kernel, bias) = match *l {
                LayerSpec::Conv2d {
                    filters,
                    kernel_size,
                    strides,
                    padding: pad,
                    activation: a,
                    kernel_initializer,
                    bias_initializer,
                    ref connections,
                } => {
                    let p = Conv2dParams {
                        batch: 1,
                        in_h: shape[0],
                        in_w: shape[1],
                        in_c: shape[2],
                        out_c: filters,
                        k_h: kernel_size[0],
                        k_w: kernel_size[1],
                        stride_h: strides[0],
                        stride_w: strides[1],
                        padding: padding(pad),
                    };
                    p.validate().map_err(|e| format!("layer {i} (conv2d): {e}"))?;
                    softmax_output |= last && a == ActivationSpec::Softmax;
                    let out = [p.out_h(), p.out_w(), filters];
                    if let Some(list) = connections {
                        if list.len() != filters {
                            return Err(format!(
                                "layer {i} (conv2d): the connection table has {} rows, one per filter is needed ({filters})",
                                list.len()
                            ));
                        }
                        let table = ConnectionTable::new(shape[2], list.clone())
                            .map_err(|e| format!("layer {i} (conv2d): {e}"))?;
                        let k = p.k_h * p.k_w;
                        let connected: u128 = list.iter().map(|l| u(l.len())).sum();
                        let kernel = alloc(&mut param_count, u(p.k_h) * u(p.k_w) * connected, i)?;
                        let bias = alloc(&mut param_count, u(filters), i)?;
                        // Each output map's fan-in is its own: k·|inputs(f)|.
                        let mut at = kernel.start;
                        for f in 0..filters {
                            let len = k * table.inputs(f).len();
                            inits.push((kernel_initializer, len, k * filters, at..at + len));
                            at += len;
                        }
                        for f in 0..filters {
                            let fan_in = k * table.inputs(f).len();
                            let b = bias.start + f;
                            inits.push((bias_initializer, fan_in, k * filters, b..b + 1));
                        }
                        (Op::ConvTable(p, activation(a, last, i)?, table), out, kernel, bias)
                    } else {
                        let kernel = alloc(&mut param_count, u(p.k_h) * u(p.k_w) * u(p.in_c) * u(filters), i)?;
                        let bias = alloc(&mut param_count, u(filters), i)?;
                        let fan_in = p.patch_len();
                        let fan_out = p.k_h * p.k_w * filters;
                        inits.push((kernel_initializer, fan_in, fan_out, kernel.clone()));
                        inits.push((bias_initializer, fan_in, fan_out, bias.clone()));
                        (Op::Conv(p, activation(a, last, i)?), out, kernel, bias)
                    }
                }
                LayerSpec::ZeroPadding2d { padding: [[top, bottom], [left, right]], value } => {
                    if !value.is_finite() {
                        return Err(format!("layer {i} (zero_padding2d): the value must be finite, got {value}"));
                    }
                    let g = Pad2dParams {
                        batch: 1,
                        in_h: shape[0],
                        in_w: shape[1],
                        channels: shape[2],
                        top,
                        bottom,
                        left,
                        right,
                        value,
                    };
                    (Op::Pad(g), [g.out_h(), g.out_w(), shape[2]], 0..0, 0..0)
                }
                LayerSpec::Subsampling2d {
                    pool_size,
                    strides,
                    activation: a,
                    kernel_initializer,
                    bias_initializer,
                } => {
                    let g = pool_geometry(shape, pool_size, strides, PaddingSpec::Valid);
                    g.validate().map_err(|e| format!("layer {i} (subsampling2d): {e}"))?;
                    softmax_output |= last && a == ActivationSpec::Softmax;
                    let c = shape[2];
                    let kernel = alloc(&mut param_count, u(c), i)?;
                    let bias = alloc(&mut param_count, u(c), i)?;
                    // Each unit has one coefficient over a window of pool_h·pool_w inputs.
                    let fan_in = pool_size[0] * pool_size[1];
                    inits.push((kernel_initializer, fan_in, 1, kernel.clone()));
                    inits.push((bias_initializer, fan_in, 1, bias.clone()));
                    let out = [g.out_h(), g.out_w(), c];
                    (Op::Subsample(g, activation(a, last, i)?), out, kernel, bias)
                }
                LayerSpec::Rbf { units, ref prototypes } => {
                    if !flat {
                        return Err(format!(
                            "layer {i} (rbf): its input is {}×{}×{}; add a flatten layer before it",
                            shape[0], shape[1], shape[2]
                        ));
                    }
                    if units == 0 || prototypes.len() != units * in_len {
                        return Err(format!(
                            "layer {i} (rbf): {} prototype values given, expected units·inputs = {units}·{in_len}",
                            prototypes.len()
                        ));
                    }
                    if prototypes.iter().any(|v| !v.is_finite()) {
                        return Err(format!("layer {i} (rbf): the prototypes must be finite"));
                    }
                    let mut w_t = vec![0.0; prototypes.len()];
                    transpose(units, in_len, prototypes, &mut w_t);
                    let p = RbfParams { batch: 1, inputs: in_len, units };
                    (Op::Rbf(p, prototypes.clone(), w_t), [1, 1, units], 0..0, 0..0)
                }
                LayerSpec::MaxPool2d { pool_size, strides, padding: pad }
                | LayerSpec::AveragePool2d { pool_size, strides, padding: pad } => {
                    let g = pool_geometry(shape, pool_size, strides, pad);
                    g.validate().map_err(|e| format!("layer {i} (pool): {e}"))?;
                    let out = [g.out_h(), g.out_w(), shape[2]];
                    let op = if matches!(l, LayerSpec::MaxPool2d { .. }) { Op::MaxPool(g) } else { Op::AvgPool(g) };
                    (op, out, 0..0, 0..0)
                }
                LayerSpec::Flatten => (Op::Flatten, [1, 1, in_len], 0..0, 0..0),
                LayerSpec::Dense { units, activation: a, kernel_initializer, bias_initializer } => {
                    if !flat {
                        return Err(format!(
                            "layer {i} (dense): its input is {}×{}×{}; add a flatten layer before it",
                            shape[0], shape[1], shape[2]
                        ));
                    }
                    if units == 0 {
                        return Err(format!("layer {i} (dense): units must be at least 1"));
                    }
                    softmax_output |= last && a == ActivationSpec::Softmax;
                    let kernel = alloc(&mut param_count, u(in_len) * u(units), i)?;
                    let bias = alloc(&mut param_count, u(units), i)?;
                    inits.push((kernel_initializer, in_len, units, kernel.clone()));
                    inits.push((bias_initializer, in_len, units, bias.clone()));
                    let p = DenseParams { batch: 1, inputs: in_len, units };
                    (Op::Dense(p, activation(a, last, i)?), [1, 1, units], kernel, bias)
                }
                LayerSpec::Dropout { rate } => {
                    if !(0.0..1.0).contains(&rate) {
                        return Err(format!("layer {i} (dropout): rate must be in [0, 1), got {rate}"));
                    }
                    (Op::Dropout(rate), shape, 0..0, 0..0)
                }
                LayerSpec::Activation { activation: a } => {
                    softmax_output |= last && a == ActivationSpec::Softmax;
                    (Op::Act(activation(a, last, i)?), shape, 0..0, 0..0)
                }
            };
            if let Op::Conv(p, _) | Op::ConvTable(p, ..) = &op {
                let cols = u(p.out_h()) * u(p.out_w()) * u(p.k_h) * u(p.k_w) * u(p.in_c);
                if cols > 4 * MAX_VALUES {
                    return Err(format!(
                        "layer {i} (conv2d): its patch rows need {cols} values per image, above the limit of {}",
                        4 * MAX_VALUES
                    ));
                }
            }
            if values(out_shape) > MAX_VALUES {
                return Err(format!(
                    "layer {i}: its output {out_shape:?} has more than {MAX_VALUES} values per example"
                ));
            }
            shape = out_shape;
            layers.push(Layer { op, in_len, out_len: shape.iter().product(), kernel, bias });
        }
        let last = layers.last().ok_or("a model needs at least one layer")?;
        let rbf_output = matches!(last.op, Op::Rbf(..));
        if let Some(i) = layers.iter().position(|l| matches!(l.op, Op::Rbf(..))).filter(|&i| i + 1 != layers.len()) {
            return Err(format!("layer {i} (rbf): an rbf layer must be the last layer"));
        }
        if matches!(spec.optimizer, OptimizerSpec::Sdlm { .. }) {
            if let Some(i) = layers.iter().position(|l| matches!(l.op, Op::AvgPool(_))) {
                return Err(format!(
                    "layer {i} (average_pool2d): the sdlm optimizer has no curvature rule for it; use subsampling2d or max_pool2d"
                ));
            }
        }
        let head = match spec.loss {
            LossSpec::SparseCategoricalCrossentropy if softmax_output => Head::Softmax,
            LossSpec::SparseCategoricalCrossentropy => {
                return Err("sparse categorical cross-entropy needs a softmax on the last layer".into())
            }
            _ if !rbf_output => return Err(format!("the loss {:?} needs an rbf output layer", spec.loss)),
            LossSpec::RbfMaxLikelihood => Head::Rbf(RbfLoss::MaxLikelihood),
            LossSpec::RbfMap { j } if j.is_finite() && j > 0.0 => Head::Rbf(RbfLoss::Map { j }),
            LossSpec::RbfMap { j } => return Err(format!("the rbf_map loss needs a constant j > 0, got {j}")),
            LossSpec::RbfCrossEntropy => Head::Rbf(RbfLoss::CrossEntropy),
        };
        let classes = last.out_len;
        // Large products ahead: have V8 start optimising the GEMM while the weights are drawn.
        let macs: u128 = layers.iter().map(|l| gemm_macs(&l.op)).sum();
        if macs >= WARM_UP_MACS && !GEMM_WARMED.swap(true, core::sync::atomic::Ordering::Relaxed) {
            crate::kernels::gemm::warm_up();
        }
        let mut params = vec![0.0f32; param_count];
        for (init, fan_in, fan_out, range) in inits {
            initialize(init, &mut rng, fan_in, fan_out, &mut params[range]);
        }
        let optimizer = Optimizer::new(spec.optimizer.clone(), params.len())?;
        // Allocated by the first backward pass: a model that only predicts never needs them.
        let grads = Vec::new();
        let count = layers.len();
        let expanded = layers
            .iter()
            .map(|l| match &l.op {
                Op::ConvTable(p, ..) => vec![0.0; p.w_len()],
                _ => Vec::new(),
            })
            .collect();
        let expanded_grad =
            vec![
                0.0;
                layers.iter().map(|l| if let Op::ConvTable(p, ..) = &l.op { p.w_len() } else { 0 }).max().unwrap_or(0)
            ];
        Ok(Model {
            layers,
            input_len,
            classes,
            head,
            input_scale: spec.input_scale,
            input_offset: spec.input_offset,
            last_correct: 0,
            params,
            grads,
            optimizer,
            schedule: spec.learning_rate.clone(),
            rng,
            capacity: 0,
            acts: vec![Vec::new(); count + 1],
            delta: [Vec::new(), Vec::new()],
            scratch: Vec::new(),
            argmax: vec![Vec::new(); count],
            masks: vec![Vec::new(); count],
            expanded,
            expanded_grad,
            loss_scratch: Vec::new(),
            squares: Vec::new(),
            curvature_sum: Vec::new(),
            divergence: None,
            layer_grad: Vec::new(),
            reduction: None,
            params_version: 1,
            packed: vec![Vec::new(); count],
            packed_version: vec![0; count],
            packed_t: vec![Vec::new(); count],
            packed_t_version: vec![0; count],
        })
    }

    pub fn param_count(&self) -> usize {
        self.params.len()
    }

    pub fn input_len(&self) -> usize {
        self.input_len
    }

    pub fn classes(&self) -> usize {
        self.classes
    }

    pub fn params(&self) -> &[f32] {
        &self.params
    }

    /// Replaces every parameter; `values` must hold [`Model::param_count`] of them.
    pub fn set_params(&mut self, values: &[f32]) -> Result<(), String> {
        self.set_params_with(values.len(), |params| params.copy_from_slice(values))
    }

    /// Replaces every parameter with the `len` values that `fill` writes (so that a caller can
    /// copy them straight from where they are, such as a JS array); `len` must be
    /// [`Model::param_count`].
    pub fn set_params_with(&mut self, len: usize, fill: impl FnOnce(&mut [f32])) -> Result<(), String> {
        if len != self.params.len() {
            return Err(format!("weights: {} values given, the model has {}", len, self.params.len()));
        }
        fill(&mut self.params);
        self.params_version += 1;
        Ok(())
    }

    pub fn iterations(&self) -> u64 {
        self.optimizer.iterations()
    }

    /// Sizes every buffer for `batch` examples (growing only).
    fn reserve(&mut self, batch: usize) -> Result<(), String> {
        if batch <= self.capacity {
            return Ok(());
        }
        // What the buffers below will hold, counted in u128 before anything is allocated.
        let b = batch as u128;
        let mut total = b * self.input_len as u128;
        let mut widest = self.input_len as u128;
        for l in &self.layers {
            let out = l.out_len as u128;
            widest = widest.max(out);
            total += b * out * if matches!(l.op, Op::MaxPool(_) | Op::Dropout(_)) { 2 } else { 1 };
            if let Op::Conv(p, _) | Op::ConvTable(p, ..) = &l.op {
                // Per image: patch rows twice, their packing, and the kernel's copies.
                let cols = (p.out_h() * p.out_w()) as u128 * (p.k_h * p.k_w * p.in_c) as u128;
                total += 4 * cols + 4 * (p.k_h * p.k_w * p.in_c * p.out_c) as u128;
            }
        }
        total += 2 * b * widest;
        if total > MAX_WORK {
            return Err(format!(
                "a batch of {batch} needs about {} MiB of working memory, above the limit of {} MiB; use smaller batches",
                (total * 4) >> 20,
                (MAX_WORK * 4) >> 20
            ));
        }
        self.capacity = batch;
        self.acts[0].resize(batch * self.input_len, 0.0);
        let mut widest = self.input_len;
        let mut scratch = 0;
        for (i, l) in self.layers.iter().enumerate() {
            self.acts[i + 1].resize(batch * l.out_len, 0.0);
            widest = widest.max(l.out_len);
            match &l.op {
                Op::Conv(p, _) | Op::ConvTable(p, ..) => {
                    let p = Conv2dParams { batch, ..*p };
                    scratch = scratch.max(p.forward_scratch_len()).max(p.backward_scratch_len());
                }
                Op::Dense(p, _) => {
                    let p = DenseParams { batch, ..*p };
                    scratch = scratch.max(p.forward_scratch_len()).max(p.backward_scratch_len());
                }
                Op::MaxPool(_) => self.argmax[i].resize(batch * l.out_len, 0),
                Op::Dropout(_) => self.masks[i].resize(batch * l.out_len, 0.0),
                _ => {}
            }
        }
        for d in &mut self.delta {
            d.resize(batch * widest, 0.0);
        }
        if let Head::Rbf(loss) = self.head {
            self.loss_scratch.resize(loss.scratch_len(batch, self.classes), 0.0);
        }
        self.scratch.resize(scratch, 0.0);
        Ok(())
    }

    /// Checks the input's length, sizes the buffers and copies it into the first activation.
    fn load_input(&mut self, x: Input<'_>) -> Result<usize, String> {
        let len = x.len();
        if len == 0 || len % self.input_len != 0 {
            return Err(format!(
                "input has {len} values, not a whole number of examples of {} values each",
                self.input_len
            ));
        }
        let batch = len / self.input_len;
        self.reserve(batch)?;
        let dst = &mut self.acts[0][..len];
        match x {
            Input::F32(x) => dst.copy_from_slice(x),
            Input::U8(p) => {
                let (scale, offset) = (self.input_scale, self.input_offset);
                for (d, &v) in dst.iter_mut().zip(p) {
                    *d = offset + scale * v as f32;
                }
            }
        }
        Ok(batch)
    }

    fn check_labels(&self, labels: &[u32], batch: usize) -> Result<(), String> {
        if labels.len() != batch {
            return Err(format!("{} labels for {} examples", labels.len(), batch));
        }
        if let Some((i, &bad)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= self.classes) {
            return Err(format!("label {bad} at index {i} is not below the {} classes", self.classes));
        }
        Ok(())
    }

    fn logits(&self, batch: usize) -> &[f32] {
        &self.acts[self.layers.len()][..batch * self.classes]
    }

    /// How many rows of the outputs have their best value (the first, on ties) at the label: the
    /// largest logit, or the smallest RBF distance.
    fn count_correct(&self, batch: usize, labels: &[u32]) -> u32 {
        let classes = self.classes;
        let smallest = matches!(self.head, Head::Rbf(_));
        let mut correct = 0;
        for (row, &label) in self.logits(batch).chunks_exact(classes).zip(labels) {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if if smallest { v < row[best] } else { v > row[best] } {
                    best = j;
                }
            }
            correct += u32::from(best == label as usize);
        }
        correct
    }

    /// Everything training changes besides the weights, for a checkpoint: the optimiser's step
    /// count and slots and the random generator's state. Little-endian: the magic `CWTS`, format
    /// version 1 (u32), the parameter count (u32), iterations (u64), Nadam's momentum product
    /// (f32), the generator (4 × u64), the two slot lengths (u32 each), then the slots (f32).
    pub fn training_state(&self) -> Vec<u8> {
        let (iterations, u_product, m, v) = self.optimizer.state();
        let (m_len, v_len) = self.optimizer.slot_lens();
        let mut out = Vec::with_capacity(64 + 4 * (m_len + v_len));
        out.extend_from_slice(STATE_MAGIC);
        out.extend_from_slice(&STATE_VERSION.to_le_bytes());
        out.extend_from_slice(&(self.params.len() as u32).to_le_bytes());
        out.extend_from_slice(&iterations.to_le_bytes());
        out.extend_from_slice(&u_product.to_le_bytes());
        for word in self.rng.state() {
            out.extend_from_slice(&word.to_le_bytes());
        }
        out.extend_from_slice(&(m_len as u32).to_le_bytes());
        out.extend_from_slice(&(v_len as u32).to_le_bytes());
        // Slots not allocated yet (no step taken) are zeros.
        for (slot, len) in [(m, m_len), (v, v_len)] {
            if slot.is_empty() {
                out.resize(out.len() + 4 * len, 0);
            }
            for x in slot {
                out.extend_from_slice(&x.to_le_bytes());
            }
        }
        out
    }

    /// Restores [`Model::training_state`], checking every length before changing anything.
    pub fn set_training_state(&mut self, bytes: &[u8]) -> Result<(), String> {
        let mut at = 0;
        let mut take = |n: usize| -> Result<&[u8], String> {
            let part = bytes.get(at..at + n).ok_or_else(|| {
                format!("training state: {} bytes, too short (needed at least {})", bytes.len(), at + n)
            })?;
            at += n;
            Ok(part)
        };
        if take(4)? != STATE_MAGIC {
            return Err("training state: not a convnet-wasm training state (bad magic)".into());
        }
        let u32_at = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap());
        let version = u32_at(take(4)?);
        if version != STATE_VERSION {
            return Err(format!("training state: version {version}; this build reads version {STATE_VERSION}"));
        }
        let params = u32_at(take(4)?) as usize;
        if params != self.params.len() {
            return Err(format!("training state: for {params} parameters, the model has {}", self.params.len()));
        }
        let iterations = u64::from_le_bytes(take(8)?.try_into().unwrap());
        let u_product = f32::from_le_bytes(take(4)?.try_into().unwrap());
        let mut rng = [0u64; 4];
        for word in &mut rng {
            *word = u64::from_le_bytes(take(8)?.try_into().unwrap());
        }
        let (m_len, v_len) = (u32_at(take(4)?) as usize, u32_at(take(4)?) as usize);
        let (m_now, v_now) = self.optimizer.slot_lens();
        if m_len != m_now || v_len != v_now {
            return Err(format!(
                "training state: optimizer slots of {m_len} and {v_len} values, this optimizer has {m_now} and {v_now}"
            ));
        }
        let floats =
            |b: &[u8]| b.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect::<Vec<_>>();
        let m = floats(take(4 * m_len)?);
        let v = floats(take(4 * v_len)?);
        if at != bytes.len() {
            return Err(format!("training state: {} bytes, expected {at}", bytes.len()));
        }
        self.optimizer.set_state(iterations, u_product, &m, &v)?;
        self.rng = Rng::from_state(rng);
        Ok(())
    }

    /// A uniformly random permutation of `0..n` from the model's generator (Fisher–Yates), for
    /// shuffling the training set.
    pub fn permutation(&mut self, n: usize) -> Vec<u32> {
        let mut p: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            // Rejection keeps the draw unbiased.
            let bound = (i + 1) as u64;
            let zone = u64::MAX - u64::MAX % bound;
            let j = loop {
                let r = self.rng.next_u64();
                if r < zone {
                    break (r % bound) as usize;
                }
            };
            p.swap(i, j);
        }
        p
    }

    pub fn last_correct(&self) -> u32 {
        self.last_correct
    }

    /// Runs the layers on `batch` examples already in `acts[0]`; leaves logits in the last buffer.
    fn forward(&mut self, batch: usize, training: bool) {
        for i in 0..self.layers.len() {
            let (before, after) = self.acts.split_at_mut(i + 1);
            let l = &self.layers[i];
            let x = &before[i][..batch * l.in_len];
            let y = &mut after[0][..batch * l.out_len];
            let (params, scratch) = (&self.params, &mut self.scratch);
            let stale = self.packed_version[i] != self.params_version;
            self.packed_version[i] = self.params_version;
            let packed = &mut self.packed[i];
            match &l.op {
                Op::Conv(p, a) => {
                    let p = Conv2dParams { batch, ..*p };
                    if stale {
                        packed.resize(p.packed_w_len(), 0.0);
                        conv2d_pack_weights(&p, &params[l.kernel.clone()], packed);
                    }
                    conv2d_forward_packed(&p, x, packed, &params[l.bias.clone()], y, scratch);
                    activation_forward_in_place(*a, y);
                }
                Op::Dense(p, a) => {
                    let p = DenseParams { batch, ..*p };
                    if stale {
                        packed.resize(p.packed_w_len(), 0.0);
                        dense_pack_weights(&p, &params[l.kernel.clone()], packed);
                    }
                    dense_forward_packed(&p, x, packed, &params[l.bias.clone()], y, scratch);
                    activation_forward_in_place(*a, y);
                }
                Op::MaxPool(g) => {
                    max_pool_forward(&Pool2dParams { batch, ..*g }, x, y, &mut self.argmax[i][..batch * l.out_len])
                }
                Op::AvgPool(g) => avg_pool_forward(&Pool2dParams { batch, ..*g }, x, y),
                Op::Flatten => y.copy_from_slice(x),
                Op::Dropout(rate) if training => {
                    let mask = &mut self.masks[i][..batch * l.out_len];
                    dropout_mask(&mut self.rng, *rate, mask);
                    apply_mask(x, mask, y);
                }
                Op::Dropout(_) => y.copy_from_slice(x),
                Op::Act(a) => activation_forward(*a, x, y),
                Op::ConvTable(p, a, table) => {
                    let p = Conv2dParams { batch, ..*p };
                    if stale {
                        // Backward reads the expanded kernel too.
                        let dense = &mut self.expanded[i];
                        table.expand(p.k_h, p.k_w, &params[l.kernel.clone()], dense);
                        packed.resize(p.packed_w_len(), 0.0);
                        conv2d_pack_weights(&p, dense, packed);
                    }
                    conv2d_forward_packed(&p, x, packed, &params[l.bias.clone()], y, scratch);
                    activation_forward_in_place(*a, y);
                }
                Op::Pad(g) => pad_forward(&Pad2dParams { batch, ..*g }, x, y),
                Op::Subsample(g, a) => {
                    let g = Pool2dParams { batch, ..*g };
                    subsample_forward(&g, x, &params[l.kernel.clone()], &params[l.bias.clone()], y);
                    activation_forward_in_place(*a, y);
                }
                Op::Rbf(p, _, w_t) => rbf_forward(&RbfParams { batch, ..*p }, x, w_t, y),
            }
        }
    }

    /// The first layer with parameters: layers before it need no gradient, and it needs none for
    /// its input (`layers.len()` when no layer has parameters).
    fn first_trainable(&self) -> usize {
        self.layers.iter().position(|l| !l.kernel.is_empty() || !l.bias.is_empty()).unwrap_or(self.layers.len())
    }

    /// Allocates the gradient vector on first use (a model built only to predict has none).
    fn ensure_grads(&mut self) {
        if self.grads.len() != self.params.len() {
            self.grads = vec![0.0; self.params.len()];
        }
    }

    /// Back-propagates `delta[0]` (∂loss/∂logits) through every layer down to the first one with
    /// parameters, filling `grads` (`add: None`) or adding `weight ×` each layer's gradient to
    /// it as soon as the layer is done (`add: Some(weight)`, a data-parallel step's sum: element
    /// by element the same arithmetic as [`accumulate`](Self::accumulate) over the whole vector).
    fn backward(&mut self, batch: usize, add: Option<f32>) {
        self.ensure_grads();
        if add.is_some() {
            let widest = self.layers.iter().map(|l| l.kernel.len() + l.bias.len()).max().unwrap_or(0);
            if self.layer_grad.len() < widest {
                self.layer_grad = vec![0.0; widest];
            }
        }
        let mut cur = 0;
        let first = self.first_trainable();
        for i in (first..self.layers.len()).rev() {
            let l = &self.layers[i];
            let x = &self.acts[i][..batch * l.in_len];
            let y = &self.acts[i + 1][..batch * l.out_len];
            let [d0, d1] = &mut self.delta;
            let (dy, dx) = if cur == 0 { (d0, d1) } else { (d1, d0) };
            let dy = &mut dy[..batch * l.out_len];
            let dx = &mut dx[..batch * l.in_len];
            let (params, scratch) = (&self.params, &mut self.scratch);
            let (gk, gb) = if add.is_some() {
                let (k, rest) = self.layer_grad.split_at_mut(l.kernel.len());
                (k, &mut rest[..l.bias.len()])
            } else {
                let (head, tail) = self.grads.split_at_mut(l.bias.start.max(l.kernel.end));
                (&mut head[l.kernel.clone()], &mut tail[..l.bias.len()])
            };
            match &l.op {
                Op::Conv(p, a) => {
                    activation_backward_in_place(*a, y, dy);
                    let p = Conv2dParams { batch, ..*p };
                    let w = &params[l.kernel.clone()];
                    let cache = (&mut self.packed_t[i], &mut self.packed_t_version[i], self.params_version);
                    let packed_t = (i > first).then(|| cached_packed_t(&p, w, cache)).flatten();
                    let g = Conv2dGrads { dx: (i > first).then_some(dx), dw: gk, db: gb };
                    conv2d_backward_packed(&p, x, w, packed_t, dy, g, scratch);
                }
                Op::Dense(p, a) => {
                    activation_backward_in_place(*a, y, dy);
                    let p = DenseParams { batch, ..*p };
                    let g = DenseGrads { dx, dw: gk, db: gb };
                    dense_backward(&p, x, &params[l.kernel.clone()], dy, g, scratch);
                }
                Op::MaxPool(g) => {
                    max_pool_backward(&Pool2dParams { batch, ..*g }, dy, &self.argmax[i][..batch * l.out_len], dx)
                }
                Op::AvgPool(g) => avg_pool_backward(&Pool2dParams { batch, ..*g }, dy, dx),
                Op::Flatten => dx.copy_from_slice(dy),
                Op::Dropout(_) => apply_mask(dy, &self.masks[i][..batch * l.out_len], dx),
                Op::Act(a) => activation_backward(*a, y, dy, dx),
                Op::ConvTable(p, a, table) => {
                    activation_backward_in_place(*a, y, dy);
                    let pb = Conv2dParams { batch, ..*p };
                    let dense_grad = &mut self.expanded_grad[..p.w_len()];
                    // The forward pass just expanded the kernel for these parameters.
                    let w = &self.expanded[i];
                    let cache = (&mut self.packed_t[i], &mut self.packed_t_version[i], self.params_version);
                    let packed_t = (i > first).then(|| cached_packed_t(&pb, w, cache)).flatten();
                    let g = Conv2dGrads { dx: (i > first).then_some(dx), dw: dense_grad, db: gb };
                    conv2d_backward_packed(&pb, x, w, packed_t, dy, g, scratch);
                    table.compact(p.k_h, p.k_w, &self.expanded_grad[..p.w_len()], gk);
                }
                Op::Pad(g) => pad_backward(&Pad2dParams { batch, ..*g }, dy, dx),
                Op::Subsample(g, a) => {
                    activation_backward_in_place(*a, y, dy);
                    let g = Pool2dParams { batch, ..*g };
                    let grads = SubsampleGrads { dx, dcoef: gk, dbias: gb };
                    subsample_backward(&g, x, &params[l.kernel.clone()], dy, grads);
                }
                Op::Rbf(p, w, _) => rbf_backward(&RbfParams { batch, ..*p }, x, w, dy, dx),
            }
            if let Some(weight) = add {
                let k = l.kernel.len();
                Self::accumulate(&mut self.grads[l.kernel.clone()], weight, &self.layer_grad[..k]);
                Self::accumulate(&mut self.grads[l.bias.clone()], weight, &self.layer_grad[k..k + l.bias.len()]);
            }
            cur ^= 1;
        }
    }

    /// One training step on a batch: forward, loss, backward, optimiser update. Returns the loss
    /// (the batch mean, before the update).
    pub fn train_step(&mut self, x: Input<'_>, labels: &[u32]) -> Result<f32, String> {
        self.check_input_count(&x, labels)?;
        let batch = self.load_input(x)?;
        self.check_labels(labels, batch)?;
        self.forward(batch, true);
        self.last_correct = self.count_correct(batch, labels);
        let loss = self.loss(batch, labels);
        // The gradients overwrite any data-parallel sum in progress, which cannot go on.
        self.reduction = None;
        self.backward(batch, None);
        Ok(self.update(loss))
    }

    /// The optimiser step with the gradients in `grads`, unless the loss or a gradient is not
    /// finite; a weight that the update makes non-finite is reported too. Returns the loss, or
    /// NaN with `divergence` set.
    fn update(&mut self, loss: f32) -> f32 {
        let step = self.optimizer.iterations() + 1;
        // A non-finite loss or gradient leaves the weights as they were, so they stay the last
        // good ones.
        self.divergence = if !loss.is_finite() {
            Some(format!("step {step}: the loss is {loss}; the weights were not updated"))
        } else if !all_finite(&self.grads) {
            Some(format!(
                "step {step}: {}; the weights were not updated",
                self.first_non_finite(&self.grads, "gradient")
            ))
        } else {
            None
        };
        if self.divergence.is_some() {
            return f32::NAN;
        }
        let lr = self.schedule.at(self.optimizer.iterations());
        self.optimizer.step(lr, &mut self.params, &self.grads);
        self.params_version += 1;
        if !all_finite(&self.params) {
            self.divergence =
                Some(format!("step {step}: {} after the update", self.first_non_finite(&self.params, "weight")));
            return f32::NAN;
        }
        loss
    }

    /// Draws the seed of the next data-parallel step (for its micro-batches' dropout masks) from
    /// the model's generator.
    pub fn draw_step_seed(&mut self) -> u64 {
        self.rng.next_u64()
    }

    /// Forward (training mode, dropout masks from micro-batch `index`'s own generator), loss and
    /// backward for one micro-batch, leaving its gradient in `grads` (`add: None`) or adding
    /// `weight ×` it to `grads` (`add: Some(weight)`). Returns (loss, correct).
    fn micro_gradient(
        &mut self,
        x: Input<'_>,
        labels: &[u32],
        step_seed: u64,
        index: usize,
        add: Option<f32>,
    ) -> (f32, u32) {
        let batch = labels.len();
        let own = Rng::new(step_seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let saved = core::mem::replace(&mut self.rng, own);
        // Sizes were checked by the caller; load_input cannot fail for them.
        let loaded = self.load_input(x);
        debug_assert_eq!(loaded, Ok(batch));
        self.forward(batch, true);
        self.rng = saved;
        let correct = self.count_correct(batch, labels);
        let loss = self.loss(batch, labels);
        self.backward(batch, add);
        (loss, correct)
    }

    /// Whether `x` holds one example per label.
    fn check_input_count(&self, x: &Input<'_>, labels: &[u32]) -> Result<(), String> {
        if x.len() == labels.len() * self.input_len {
            return Ok(());
        }
        Err(format!(
            "{} labels need {} input values ({} per example), got {}",
            labels.len(),
            labels.len() * self.input_len,
            self.input_len,
            x.len()
        ))
    }

    fn check_micro(&mut self, x: &Input<'_>, labels: &[u32], micro: usize) -> Result<(), String> {
        if micro == 0 {
            return Err("the micro-batch size must be at least 1".into());
        }
        if labels.is_empty() {
            return Err("no examples".into());
        }
        self.check_input_count(x, labels)?;
        self.check_labels(labels, labels.len())?;
        self.reserve(micro.min(labels.len()))
    }

    /// Adds `weight × grads` to `accum`, element by element (the one reduction order).
    fn accumulate(accum: &mut [f32], weight: f32, grads: &[f32]) {
        for (a, &g) in accum.iter_mut().zip(grads) {
            *a += weight * g;
        }
    }

    /// Data-parallel training, the worker's part: the gradients of consecutive micro-batches of
    /// `micro` examples (the last may be shorter), the first being micro-batch `first` of the
    /// step whose seed is `step_seed`. With `weights` non-empty, they replace the parameters
    /// first. Returns, for each micro-batch, `[loss, correct, gradient…]` (2 + P values).
    pub fn micro_gradients(
        &mut self,
        weights: &[f32],
        x: Input<'_>,
        labels: &[u32],
        micro: usize,
        first: usize,
        step_seed: u64,
    ) -> Result<Vec<f32>, String> {
        if !weights.is_empty() {
            self.set_params(weights)?;
        }
        let mut out = Vec::with_capacity(labels.len().div_ceil(micro.max(1)) * (2 + self.params.len()));
        self.micro_gradients_each(x, labels, micro, first, step_seed, |_, loss, correct, grads| {
            out.push(loss);
            out.push(correct as f32);
            out.extend_from_slice(grads);
        })?;
        Ok(out)
    }

    /// [`micro_gradients`](Self::micro_gradients) from the current parameters, giving each
    /// micro-batch's `(index within this call, loss, correct, gradient)` to `emit` as soon as it
    /// is done, so that the caller can copy it straight to where it goes.
    pub fn micro_gradients_each(
        &mut self,
        x: Input<'_>,
        labels: &[u32],
        micro: usize,
        first: usize,
        step_seed: u64,
        mut emit: impl FnMut(usize, f32, u32, &[f32]),
    ) -> Result<(), String> {
        self.check_micro(&x, labels, micro)?;
        // The gradients overwrite any data-parallel sum in progress, which cannot go on.
        self.reduction = None;
        let (n, per) = (labels.len(), self.input_len);
        for (j, from) in (0..n).step_by(micro).enumerate() {
            let to = (from + micro).min(n);
            let (loss, correct) =
                self.micro_gradient(x.slice(from * per..to * per), &labels[from..to], step_seed, first + j, None);
            emit(j, loss, correct, &self.grads);
        }
        Ok(())
    }

    /// Data-parallel training, the reduction: `parts` holds every micro-batch's
    /// `[loss, correct, gradient…]` in micro-batch order, `counts` their sizes. Sums the
    /// gradients and losses in that order, each weighted by its share of the batch, then takes
    /// the optimiser step. Returns the batch loss (NaN with `divergence` set when it diverged).
    pub fn apply_micro_gradients(&mut self, parts: &[f32], counts: &[u32]) -> Result<f32, String> {
        let total = counts.iter().map(|&c| c as u64).sum::<u64>();
        self.reduce_begin(counts.len(), u32::try_from(total).map_err(|_| "too many examples in a batch".to_string())?)?;
        self.reduce_add(parts, counts)?;
        self.reduce_finish()
    }

    /// Starts the reduction of a step of `micro_batches` micro-batches, `total` examples in all;
    /// [`reduce_add`](Self::reduce_add) then takes their parts in order (so the caller need not
    /// join them), and [`reduce_finish`](Self::reduce_finish) takes the step.
    pub fn reduce_begin(&mut self, micro_batches: usize, total: u32) -> Result<(), String> {
        if micro_batches == 0 || total == 0 {
            return Err("a step needs at least one micro-batch and one example".into());
        }
        self.ensure_grads();
        self.grads.fill(0.0);
        self.reduction = Some(Reduction { expected: micro_batches, seen: 0, total, counted: 0, loss: 0.0, correct: 0 });
        Ok(())
    }

    /// Adds the next micro-batches' `[loss, correct, gradient…]` parts (sizes `counts`).
    pub fn reduce_add(&mut self, parts: &[f32], counts: &[u32]) -> Result<(), String> {
        self.reduce_add_from(parts.len(), counts, |at, dst| dst.copy_from_slice(&parts[at..at + dst.len()]))
    }

    /// [`reduce_add`](Self::reduce_add) of `len` values that `read(at, dst)` copies out from
    /// wherever they are (values `at..at + dst.len()`), a few thousand at a time: the caller
    /// need not copy them all in first, and each stretch of the sum stays in cache while every
    /// part is added to it. Each value meets the same operations in the same order as in
    /// `reduce_add`, so the bits are the same.
    pub fn reduce_add_from(
        &mut self,
        len: usize,
        counts: &[u32],
        mut read: impl FnMut(usize, &mut [f32]),
    ) -> Result<(), String> {
        /// Values of one part read and added at a time (32 KiB).
        const STRETCH: usize = 8192;
        let p = self.params.len();
        let Some(r) = self.reduction.as_mut() else {
            return Err("reduce_add before reduce_begin".into());
        };
        if counts.is_empty() || len != counts.len() * (2 + p) {
            return Err(format!(
                "{} micro-batches of {} parameters need {} values, got {}",
                counts.len(),
                p,
                counts.len() * (2 + p),
                len
            ));
        }
        if counts.contains(&0) {
            return Err("a micro-batch has no examples".into());
        }
        if r.seen + counts.len() > r.expected {
            return Err(format!("{} micro-batches added to a step of {}", r.seen + counts.len(), r.expected));
        }
        let total = r.total;
        for (k, &count) in counts.iter().enumerate() {
            let mut head = [0.0; 2];
            read(k * (2 + p), &mut head);
            Self::reduce_tally(r, count, head[0], head[1] as u32);
        }
        // On the stack: a step allocates nothing.
        let mut buffer = [0.0; STRETCH];
        for start in (0..p).step_by(STRETCH) {
            let sum = &mut self.grads[start..(start + STRETCH).min(p)];
            let stretch = &mut buffer[..sum.len()];
            for (k, &count) in counts.iter().enumerate() {
                read(k * (2 + p) + 2 + start, stretch);
                Self::accumulate(sum, Self::share(count, total), stretch);
            }
        }
        Ok(())
    }

    /// A micro-batch's weight in the step's sum: its share of the batch.
    fn share(count: u32, total: u32) -> f32 {
        count as f32 / total as f32
    }

    /// Counts one micro-batch into the reduction, adding its loss weighted by its share, in the
    /// one order both training paths use. Returns the weight its gradient is added with.
    fn reduce_tally(r: &mut Reduction, count: u32, loss: f32, correct: u32) -> f32 {
        let weight = Self::share(count, r.total);
        r.loss += weight * loss;
        r.correct += correct;
        r.counted += count as u64;
        r.seen += 1;
        weight
    }

    /// Ends the reduction begun by [`reduce_begin`](Self::reduce_begin) and takes the step.
    pub fn reduce_finish(&mut self) -> Result<f32, String> {
        let Some(r) = self.reduction.take() else {
            return Err("reduce_finish before reduce_begin".into());
        };
        if r.seen != r.expected || r.counted != r.total as u64 {
            return Err(format!(
                "the step expected {} micro-batches of {} examples in all, got {} of {}",
                r.expected, r.total, r.seen, r.counted
            ));
        }
        self.last_correct = r.correct;
        Ok(self.update(r.loss))
    }

    /// A data-parallel step computed in this one instance: the same micro-batches, dropout
    /// masks and reduction order as [`micro_gradients`](Self::micro_gradients) on workers
    /// followed by [`apply_micro_gradients`](Self::apply_micro_gradients), so the result is the
    /// same bits whatever the number of workers.
    pub fn train_step_micro(&mut self, x: Input<'_>, labels: &[u32], micro: usize) -> Result<f32, String> {
        self.check_micro(&x, labels, micro)?;
        let step_seed = self.draw_step_seed();
        self.reduce_begin(labels.len().div_ceil(micro), labels.len() as u32)?;
        self.reduce_own(x, labels, micro, step_seed)?;
        self.reduce_finish()
    }

    /// Data-parallel training, this instance's own share of the step begun by
    /// [`reduce_begin`](Self::reduce_begin): the next micro-batches in order (as many as `x`
    /// holds), computed from its own weights with the step's seed and added to the sum one by
    /// one (layer by layer, as each layer's gradient is done). The same arithmetic as
    /// [`micro_gradients`](Self::micro_gradients) on a worker followed by
    /// [`reduce_add`](Self::reduce_add), without the copies or a second gradient vector.
    pub fn reduce_own(&mut self, x: Input<'_>, labels: &[u32], micro: usize, step_seed: u64) -> Result<(), String> {
        self.check_micro(&x, labels, micro)?;
        let (n, per) = (labels.len(), self.input_len);
        let Some(r) = self.reduction.as_ref() else {
            return Err("reduce_own before reduce_begin".into());
        };
        let first = r.seen;
        if first + n.div_ceil(micro) > r.expected {
            return Err(format!("{} micro-batches added to a step of {}", first + n.div_ceil(micro), r.expected));
        }
        let total = r.total;
        for (j, from) in (0..n).step_by(micro).enumerate() {
            let to = (from + micro).min(n);
            let count = (to - from) as u32;
            let add = Some(Self::share(count, total));
            let (loss, correct) =
                self.micro_gradient(x.slice(from * per..to * per), &labels[from..to], step_seed, first + j, add);
            let r = self.reduction.as_mut().expect("checked above");
            Self::reduce_tally(r, count, loss, correct);
        }
        Ok(())
    }

    /// Why the last training step returned NaN, if it did.
    pub fn divergence(&self) -> Option<&str> {
        self.divergence.as_deref()
    }

    /// Names the first non-finite value of a parameter-sized vector by layer and index.
    fn first_non_finite(&self, values: &[f32], what: &str) -> String {
        let i = values.iter().position(|v| !v.is_finite()).unwrap_or(0);
        let layer = self.layers.iter().position(|l| l.kernel.contains(&i) || l.bias.contains(&i));
        match layer {
            Some(k) => {
                let l = &self.layers[k];
                let (part, at) =
                    if l.kernel.contains(&i) { ("kernel", i - l.kernel.start) } else { ("bias", i - l.bias.start) };
                format!("{what} {at} of layer {k}'s {part} is {}", values[i])
            }
            None => format!("{what} {i} is {}", values[i]),
        }
    }

    /// The batch-mean loss of the outputs in the last buffer; leaves ∂loss/∂outputs in `delta[0]`.
    fn loss(&mut self, batch: usize, labels: &[u32]) -> f32 {
        let sp = SoftmaxParams { batch, classes: self.classes };
        let out = &self.acts[self.layers.len()][..batch * self.classes];
        let d = &mut self.delta[0][..batch * self.classes];
        match self.head {
            Head::Softmax => softmax_cross_entropy(&sp, out, labels, d),
            Head::Rbf(loss) => rbf_loss(loss, &sp, out, labels, d, &mut self.loss_scratch),
        }
    }

    /// Class probabilities into `probs`: the softmax of the logits, or for an RBF output the
    /// softmax of the negative distances (so the most probable class is the nearest prototype).
    fn probabilities(&mut self, batch: usize, probs: &mut [f32]) {
        let sp = SoftmaxParams { batch, classes: self.classes };
        let out = &self.acts[self.layers.len()][..batch * self.classes];
        match self.head {
            Head::Softmax => softmax(&sp, out, probs),
            Head::Rbf(_) => {
                let neg = &mut self.delta[1][..batch * self.classes];
                for (a, &b) in neg.iter_mut().zip(out) {
                    *a = -b;
                }
                softmax(&sp, neg, probs);
            }
        }
    }

    /// Estimates SDLM's curvature on the examples `x` (LeCun et al. 1998, appendix C) and hands
    /// it to the optimiser: for each parameter, the mean over the examples of its diagonal
    /// Gauss–Newton second derivative. Second derivatives go back through the layers like
    /// gradients, with squared weights, squared inputs and squared activation slopes (the
    /// `f''` terms dropped); at the output, see [`rbf_output_curvature`] (for softmax outputs
    /// `p(1 − p)`). Runs in inference mode (no dropout), in chunks of 32 examples, in order.
    pub fn estimate_curvature(&mut self, x: Input<'_>, labels: &[u32]) -> Result<(), String> {
        if !self.optimizer.wants_curvature() {
            return Err("estimate_curvature: only the sdlm optimizer uses a curvature".into());
        }
        let n = labels.len();
        if n == 0 || x.len() != n * self.input_len {
            return Err(format!(
                "estimate_curvature: {n} labels need {} input values ({} per example), got {}",
                n * self.input_len,
                self.input_len,
                x.len()
            ));
        }
        const CHUNK: usize = 32;
        // The curvature pass fills `grads`, so any data-parallel sum in progress cannot go on.
        self.reduction = None;
        self.curvature_sum.clear();
        self.curvature_sum.resize(self.params.len(), 0.0);
        for from in (0..n).step_by(CHUNK) {
            let to = (from + CHUNK).min(n);
            let batch = self.load_input(x.slice(from * self.input_len..to * self.input_len))?;
            self.check_labels(&labels[from..to], batch)?;
            self.forward(batch, false);
            self.curvature_backward(batch);
            for (s, &g) in self.curvature_sum.iter_mut().zip(&self.grads) {
                *s += g;
            }
        }
        let inv = 1.0 / n as f32;
        for s in &mut self.curvature_sum {
            *s *= inv;
        }
        self.optimizer.set_curvature(&self.curvature_sum);
        Ok(())
    }

    /// SDLM's current curvature (empty for other optimisers).
    pub fn curvature(&self) -> &[f32] {
        self.optimizer.curvature()
    }

    /// Back-propagates diagonal second derivatives for `batch` examples already forwarded, leaving
    /// each parameter's sum over the batch in `grads`.
    fn curvature_backward(&mut self, batch: usize) {
        let count = self.layers.len();
        let classes = self.classes;
        let out = &self.acts[count][..batch * classes];
        // The starting layer and its output curvature, in delta[0].
        let top = match (self.head, &self.layers[count - 1].op) {
            (Head::Rbf(loss), Op::Rbf(p, w, _)) => {
                let l = &self.layers[count - 1];
                let x = &self.acts[count - 1][..batch * l.in_len];
                let p = RbfParams { batch, ..*p };
                rbf_output_curvature(loss, &p, x, w, out, &mut self.delta[0][..batch * l.in_len]);
                count - 1
            }
            _ => {
                let d = &mut self.delta[0][..batch * classes];
                softmax(&SoftmaxParams { batch, classes }, out, d);
                for v in d.iter_mut() {
                    *v *= 1.0 - *v;
                }
                count
            }
        };
        self.ensure_grads();
        self.grads.fill(0.0);
        let first = self.first_trainable();
        let widest = self.layers.iter().map(|l| l.in_len).max().unwrap_or(0);
        self.squares.resize(batch * widest + self.params.len(), 0.0);
        let (sq_x, sq_params) = self.squares.split_at_mut(batch * widest);
        for (s, &p) in sq_params.iter_mut().zip(&self.params) {
            *s = p * p;
        }
        let mut cur = 0;
        for i in (first.min(top)..top).rev() {
            let l = &self.layers[i];
            let x = &self.acts[i][..batch * l.in_len];
            let y = &self.acts[i + 1][..batch * l.out_len];
            let sx = &mut sq_x[..batch * l.in_len];
            for (s, &v) in sx.iter_mut().zip(x) {
                *s = v * v;
            }
            let [d0, d1] = &mut self.delta;
            let (dy, dx) = if cur == 0 { (d0, d1) } else { (d1, d0) };
            let dy = &mut dy[..batch * l.out_len];
            let dx = &mut dx[..batch * l.in_len];
            let scratch = &mut self.scratch;
            let (gk, gb) = {
                let (head, tail) = self.grads.split_at_mut(l.bias.start.max(l.kernel.end));
                (&mut head[l.kernel.clone()], &mut tail[..l.bias.len()])
            };
            // f'(a)²·d2: the slope applied twice.
            let slope2 = |a: Activation, dy: &mut [f32]| {
                activation_backward_in_place(a, y, dy);
                activation_backward_in_place(a, y, dy);
            };
            match &l.op {
                Op::Conv(p, a) => {
                    slope2(*a, dy);
                    let p = Conv2dParams { batch, ..*p };
                    conv2d_backward(
                        &p,
                        sx,
                        &sq_params[l.kernel.clone()],
                        dy,
                        Conv2dGrads { dx: (i > first).then_some(dx), dw: gk, db: gb },
                        scratch,
                    );
                }
                Op::ConvTable(p, a, table) => {
                    slope2(*a, dy);
                    let dense = &mut self.expanded[i];
                    table.expand(p.k_h, p.k_w, &sq_params[l.kernel.clone()], dense);
                    // `expanded` now holds squared weights: the next forward expands again, and
                    // the next backward packs Wᵀ again.
                    self.packed_version[i] = 0;
                    self.packed_t_version[i] = 0;
                    let pb = Conv2dParams { batch, ..*p };
                    let dense_grad = &mut self.expanded_grad[..p.w_len()];
                    conv2d_backward(
                        &pb,
                        sx,
                        dense,
                        dy,
                        Conv2dGrads { dx: (i > first).then_some(dx), dw: dense_grad, db: gb },
                        scratch,
                    );
                    table.compact(p.k_h, p.k_w, &self.expanded_grad[..p.w_len()], gk);
                }
                Op::Dense(p, a) => {
                    slope2(*a, dy);
                    let p = DenseParams { batch, ..*p };
                    dense_backward(
                        &p,
                        sx,
                        &sq_params[l.kernel.clone()],
                        dy,
                        DenseGrads { dx, dw: gk, db: gb },
                        scratch,
                    );
                }
                Op::Subsample(g, a) => {
                    slope2(*a, dy);
                    let g = Pool2dParams { batch, ..*g };
                    let grads = SubsampleGrads { dx, dcoef: gk, dbias: gb };
                    subsample_curvature(&g, x, &self.params[l.kernel.clone()], dy, grads);
                }
                Op::MaxPool(g) => {
                    max_pool_backward(&Pool2dParams { batch, ..*g }, dy, &self.argmax[i][..batch * l.out_len], dx)
                }
                Op::Pad(g) => pad_backward(&Pad2dParams { batch, ..*g }, dy, dx),
                // Inference mode: dropout passes values through.
                Op::Flatten | Op::Dropout(_) => dx.copy_from_slice(dy),
                Op::Act(a) => {
                    activation_backward(*a, y, dy, dx);
                    activation_backward_in_place(*a, y, dx);
                }
                Op::AvgPool(_) | Op::Rbf(..) => unreachable!("rejected when the model is built"),
            }
            cur ^= 1;
        }
    }

    /// Class probabilities for each example, `batch·classes` values (see `probabilities`).
    pub fn predict(&mut self, x: Input<'_>) -> Result<Vec<f32>, String> {
        let batch = self.load_input(x)?;
        self.forward(batch, false);
        let mut out = vec![0.0; batch * self.classes];
        self.probabilities(batch, &mut out);
        Ok(out)
    }

    /// Inference, returning the outputs of the layers in `layers` (indices, any order, repeats
    /// allowed) one after another: for each, `batch·out_len` values in the layer's NHWC layout.
    pub fn layer_outputs(&mut self, x: Input<'_>, layers: &[u32]) -> Result<Vec<f32>, String> {
        if let Some(&bad) = layers.iter().find(|&&i| i as usize >= self.layers.len()) {
            return Err(format!("layer index {bad} is not below the {} layers", self.layers.len()));
        }
        let batch = self.load_input(x)?;
        self.forward(batch, false);
        let mut out = Vec::with_capacity(layers.iter().map(|&i| batch * self.layers[i as usize].out_len).sum());
        for &i in layers {
            let i = i as usize;
            out.extend_from_slice(&self.acts[i + 1][..batch * self.layers[i].out_len]);
        }
        Ok(out)
    }

    /// The raw outputs of the last layer (logits, or RBF distances), `batch·classes` values.
    pub fn predict_raw(&mut self, x: Input<'_>) -> Result<Vec<f32>, String> {
        let batch = self.load_input(x)?;
        self.forward(batch, false);
        Ok(self.logits(batch).to_vec())
    }

    /// Inference on a labelled batch: returns `[loss, correct, probabilities…]`, the loss being
    /// the batch mean of the cross-entropy and `correct` the count of argmax hits.
    pub fn evaluate(&mut self, x: Input<'_>, labels: &[u32]) -> Result<Vec<f32>, String> {
        let batch = self.load_input(x)?;
        self.check_labels(labels, batch)?;
        self.forward(batch, false);
        let correct = self.count_correct(batch, labels);
        let mut out = vec![0.0; 2 + batch * self.classes];
        let loss = self.loss(batch, labels);
        self.probabilities(batch, &mut out[2..]);
        out[0] = loss;
        out[1] = correct as f32;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use crate::kernels::test_support::check_gradient;
    use serde_json::{json, Value};

    const TRAINING: &str = include_str!("../../test/fixtures/golden/training.json");

    fn floats(v: &Value) -> Vec<f32> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
    }

    fn spec_for(doc: &Value, case: &Value) -> ModelSpec {
        serde_json::from_value(json!({
            "input_shape": doc["input_shape"],
            "layers": doc["layers"],
            "loss": {"type": "sparse_categorical_crossentropy"},
            "optimizer": case["optimizer"],
            "learning_rate": case["learning_rate"],
        }))
        .expect("spec parses")
    }

    kernel_test!(
        fn five_optimizer_steps_match_keras() {
            let doc: Value = serde_json::from_str(TRAINING).unwrap();
            let xs: Vec<Vec<f32>> = doc["x"].as_array().unwrap().iter().map(floats).collect();
            let labels: Vec<Vec<u32>> = doc["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect())
                .collect();
            for case in doc["cases"].as_array().unwrap() {
                let name = case["name"].as_str().unwrap();
                let mut model = Model::new(&spec_for(&doc, case), 0).unwrap();
                model.set_params(&floats(&doc["initial"])).unwrap();
                let want_losses = floats(&case["losses"]);
                for (step, (x, y)) in xs.iter().zip(&labels).enumerate() {
                    let loss = model.train_step(Input::F32(x), y).unwrap();
                    let want = want_losses[step];
                    assert!(
                        (loss - want).abs() <= 1e-5 * want.abs().max(1.0),
                        "{name}: step {step} loss {loss}, Keras {want}"
                    );
                }
                let want = floats(&case["final"]);
                // The issue's bound, 1e-5 relative, applies to the weights as a tensor (relative
                // L2 error). Per weight the bound is 1e-4 of max(|w|, 0.001): Adam's normalised
                // step turns float32 rounding in a near-zero gradient (TensorFlow sums in another
                // order) into a relative difference of a few 1e-5 on a weight near zero.
                let (mut diff2, mut norm2) = (0.0f64, 0.0f64);
                for (i, (&got, &w)) in model.params().iter().zip(&want).enumerate() {
                    assert!((got - w).abs() <= 1e-4 * w.abs().max(1e-3), "{name}: weight {i} is {got}, Keras {w}");
                    diff2 += ((got - w) as f64).powi(2);
                    norm2 += (w as f64).powi(2);
                }
                let relative = (diff2 / norm2).sqrt();
                assert!(relative <= 1e-5, "{name}: relative L2 error {relative:e}");
                assert_eq!(model.iterations(), 5);
            }
        }
    );

    kernel_test!(
        fn bad_specs_are_rejected_with_the_layer_named() {
            let base = |layers: Value| {
                serde_json::from_value::<ModelSpec>(json!({
                    "input_shape": [4, 4, 1], "layers": layers, "loss": {"type": "sparse_categorical_crossentropy"},
                    "optimizer": {"type": "adam"}, "learning_rate": {"type": "constant", "value": 0.01},
                }))
                .unwrap()
            };
            let err = |layers: Value| Model::new(&base(layers), 1).err().unwrap();
            assert_eq!(
                err(json!([{"type": "conv2d", "filters": 2, "kernel_size": [5, 5]}, {"type": "flatten"},
                            {"type": "dense", "units": 2, "activation": "softmax"}])),
                "layer 0 (conv2d): conv2d: a 5×5 kernel with 'valid' padding does not fit a 4×4 input"
            );
            assert_eq!(
                err(json!([{"type": "dense", "units": 2, "activation": "softmax"}])),
                "layer 0 (dense): its input is 4×4×1; add a flatten layer before it"
            );
            assert_eq!(
                err(json!([{"type": "flatten"}, {"type": "dropout", "rate": 1.5},
                            {"type": "dense", "units": 3, "activation": "softmax"}])),
                "layer 1 (dropout): rate must be in [0, 1), got 1.5"
            );
            assert!(err(json!([{"type": "flatten"}, {"type": "dense", "units": 3}]))
                .contains("needs a softmax on the last layer"));
        }
    );

    /// A small LeNet-like stack with every LeNet layer: padding, a connection-table conv,
    /// subsampling, LeCun's tanh, and an RBF output.
    fn lenet_like(loss: Value) -> ModelSpec {
        let prototypes: Vec<f32> = (0..3 * 5).map(|i| if (i * 7 + i / 5) % 3 == 0 { 1.0 } else { -1.0 }).collect();
        serde_json::from_value(json!({
            "input_shape": [5, 5, 2],
            "input_scale": 0.005, "input_offset": -0.1,
            "layers": [
                {"type": "zero_padding2d", "padding": [[1, 1], [1, 1]], "value": -0.1},
                {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "activation": "lecun_tanh",
                 "connections": [[0], [1], [0, 1]], "kernel_initializer": "lenet_uniform",
                 "bias_initializer": "lenet_uniform"},
                {"type": "subsampling2d", "pool_size": [2, 2], "activation": "lecun_tanh",
                 "kernel_initializer": "lenet_uniform", "bias_initializer": "lenet_uniform"},
                {"type": "flatten"},
                {"type": "dense", "units": 5, "activation": "lecun_tanh", "kernel_initializer": "lenet_uniform"},
                {"type": "rbf", "units": 3, "prototypes": prototypes}],
            "loss": loss,
            "optimizer": {"type": "sgd"}, "learning_rate": {"type": "constant", "value": 0.01},
        }))
        .unwrap()
    }

    kernel_test!(
        fn lenet_layers_gradients_match_finite_differences_for_every_loss() {
            for loss in [
                json!({"type": "rbf_max_likelihood"}),
                json!({"type": "rbf_map", "j": 0.5}),
                json!({"type": "rbf_cross_entropy"}),
            ] {
                let mut model = Model::new(&lenet_like(loss.clone()), 3).unwrap();
                // conv: 9·(1 + 1 + 2) compact weights + 3 biases; subsampling 3 + 3; dense 12·5 + 5.
                assert_eq!(model.param_count(), 36 + 3 + 6 + 65, "{loss}");
                let mut rng = Rng::new(4);
                let x: Vec<f32> = (0..3 * 50).map(|_| rng.uniform(-1.0, 1.2)).collect();
                let labels = [0u32, 2, 1];
                let batch = model.load_input(Input::F32(&x)).unwrap();
                model.forward(batch, false);
                model.loss(batch, &labels);
                model.grads.fill(f32::NAN);
                model.backward(batch, None);
                let analytic = model.grads.clone();
                assert!(analytic.iter().all(|g| g.is_finite()), "{loss}: every parameter gets a gradient");
                // Adding the gradient layer by layer (a data-parallel step's sum) adds the same
                // values, each layer's fully written (its buffer starts as NaN).
                let base: Vec<f32> = (0..analytic.len()).map(|i| i as f32 * 0.125 - 3.0).collect();
                model.grads.copy_from_slice(&base);
                model.layer_grad = vec![f32::NAN; 70];
                model.forward(batch, false);
                model.loss(batch, &labels);
                model.backward(batch, Some(0.375));
                let want: Vec<f32> = base.iter().zip(&analytic).map(|(b, g)| b + 0.375 * g).collect();
                let differs = model.grads.iter().zip(&want).position(|(a, b)| a.to_bits() != b.to_bits());
                assert_eq!(differs, None, "{loss}: backward adding 0.375 × the gradient, first differing index");
                let mut params = model.params().to_vec();
                check_gradient(&format!("{loss}"), &mut params, &analytic, 110, |p| {
                    model.set_params(p).unwrap();
                    let batch = model.load_input(Input::F32(&x)).unwrap();
                    model.forward(batch, false);
                    model.loss(batch, &labels) as f64
                });
            }
        }
    );

    kernel_test!(
        fn data_parallel_steps_give_the_same_bits_for_any_split_across_workers() {
            let spec: ModelSpec = serde_json::from_value(json!({
                "input_shape": [6, 6, 1], "input_scale": 0.004, "input_offset": 0.0,
                "layers": [
                    {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "activation": "relu"},
                    {"type": "flatten"},
                    {"type": "dense", "units": 200, "activation": "relu"},
                    {"type": "dropout", "rate": 0.5},
                    {"type": "dense", "units": 3, "activation": "softmax"}],
                "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": {"type": "nadam"}, "learning_rate": {"type": "constant", "value": 0.01},
            }))
            .unwrap();
            // 10,433 parameters: the reduction reads them in more than one stretch (8,192 values).
            let (n, micro, per) = (10usize, 4usize, 36usize);
            let pixels: Vec<u8> = (0..n * per * 3).map(|i| (i * 53 % 251) as u8).collect();
            let labels: Vec<u32> = (0..n as u32 * 3).map(|i| i * 7 % 3).collect();
            let counts = [4u32, 4, 2];
            // In one instance.
            let mut single = Model::new(&spec, 9).unwrap();
            let mut losses = vec![];
            for s in 0..3 {
                let x = &pixels[s * n * per..(s + 1) * n * per];
                losses.push(single.train_step_micro(Input::U8(x), &labels[s * n..(s + 1) * n], micro).unwrap());
            }
            // The micro-batches 0, 1, 2 spread over workers as [[0, 1, 2]], [[0, 1], [2]] and [[0], [1], [2]].
            for split in [vec![3usize], vec![2, 1], vec![1, 1, 1]] {
                let mut main = Model::new(&spec, 9).unwrap();
                let mut workers: Vec<Model> = split.iter().map(|_| Model::new(&spec, 1234).unwrap()).collect();
                for (s, want) in losses.iter().enumerate() {
                    let seed = main.draw_step_seed();
                    let weights = main.params().to_vec();
                    let mut parts = vec![];
                    let mut first = 0;
                    for (w, &k) in workers.iter_mut().zip(&split) {
                        let (a, b) = (s * n + first * micro, (s * n + (first + k) * micro).min((s + 1) * n));
                        let x = Input::U8(&pixels[a * per..b * per]);
                        parts.extend(w.micro_gradients(&weights, x, &labels[a..b], micro, first, seed).unwrap());
                        first += k;
                    }
                    let loss = main.apply_micro_gradients(&parts, &counts).unwrap();
                    assert_eq!(loss.to_bits(), want.to_bits(), "split {split:?}, step {s}");
                }
                let same = main.params().iter().zip(single.params()).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "split {split:?}: the weights differ from one instance's");
                assert_eq!(main.last_correct(), single.last_correct());
            }
            // As fit() runs it: this instance computes the first run itself, a worker the rest.
            for own in [1usize, 2] {
                let mut main = Model::new(&spec, 9).unwrap();
                let mut worker = Model::new(&spec, 1234).unwrap();
                for (s, want) in losses.iter().enumerate() {
                    let seed = main.draw_step_seed();
                    let weights = main.params().to_vec();
                    let (a, cut, b) = (s * n, s * n + own * micro, (s + 1) * n);
                    let x = Input::U8(&pixels[cut * per..b * per]);
                    let parts = worker.micro_gradients(&weights, x, &labels[cut..b], micro, own, seed).unwrap();
                    main.reduce_begin(3, n as u32).unwrap();
                    main.reduce_own(Input::U8(&pixels[a * per..cut * per]), &labels[a..cut], micro, seed).unwrap();
                    main.reduce_add(&parts, &counts[own..]).unwrap();
                    assert_eq!(main.reduce_finish().unwrap().to_bits(), want.to_bits(), "own run of {own}, step {s}");
                }
                let same = main.params().iter().zip(single.params()).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "own run of {own}: the weights differ from one instance's");
            }
            // Dropout differs between micro-batches: their masks come from their own generators.
            let mut m = Model::new(&spec, 9).unwrap();
            let x = Input::U8(&pixels[..4 * per]);
            assert_eq!(m.reduce_own(x, &labels[..4], 4, 1).unwrap_err(), "reduce_own before reduce_begin");
            let grads = |m: &mut Model, first| {
                m.micro_gradients(&[], Input::U8(&pixels[..4 * per]), &labels[..4], 4, first, 77).unwrap()
            };
            let (a, b, again) = (grads(&mut m, 0), grads(&mut m, 1), grads(&mut m, 0));
            assert_ne!(a, b, "micro-batch 1's dropout masks differ from micro-batch 0's");
            assert_eq!(a, again);
            let p = m.param_count();
            assert_eq!(
                m.apply_micro_gradients(&a[..10], &[4, 4]).unwrap_err(),
                format!("2 micro-batches of {p} parameters need {} values, got 10", 2 * (2 + p))
            );
        }
    );

    kernel_test!(
        fn packed_kernels_follow_every_change_of_the_weights() {
            // Inference keeps each kernel packed between calls; any change of the weights (set,
            // a training step) repacks, and SDLM's curvature pass, which borrows the expanded
            // connection-table kernel for squared weights, does not leave it behind.
            // A connection-table conv after another trainable layer, so its input gradient (which
            // reads the expanded kernel) is needed.
            let prototypes: Vec<f32> = (0..3 * 5).map(|i| if (i * 7 + i / 5) % 3 == 0 { 1.0 } else { -1.0 }).collect();
            let spec_sdlm: ModelSpec = serde_json::from_value(json!({
                "input_shape": [5, 5, 2], "input_scale": 0.005, "input_offset": -0.1,
                "layers": [
                    {"type": "conv2d", "filters": 2, "kernel_size": [1, 1], "activation": "lecun_tanh"},
                    {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "activation": "lecun_tanh",
                     "connections": [[0], [1], [0, 1]]},
                    {"type": "flatten"},
                    {"type": "dense", "units": 5, "activation": "lecun_tanh"},
                    {"type": "rbf", "units": 3, "prototypes": prototypes}],
                "loss": {"type": "rbf_max_likelihood"},
                "optimizer": {"type": "sdlm", "mu": 0.02}, "learning_rate": {"type": "constant", "value": 0.01},
            }))
            .unwrap();
            let spec = spec_sdlm.clone();
            let pixels: Vec<u8> = (0..3 * 50).map(|i| (i * 31 % 256) as u8).collect();
            let labels = [0u32, 2, 1];
            let mut a = Model::new(&spec_sdlm, 7).unwrap();
            let first = a.predict_raw(Input::U8(&pixels)).unwrap();
            assert_eq!(a.predict_raw(Input::U8(&pixels)).unwrap(), first, "a second call, with the kernels packed");
            a.estimate_curvature(Input::U8(&pixels), &labels).unwrap();
            assert_eq!(a.predict_raw(Input::U8(&pixels)).unwrap(), first, "after the curvature pass");
            // The training step after it back-propagates through the real kernel: the same as a
            // twin whose weights were set again (which repacks and re-expands everything).
            let mut twin = Model::new(&spec_sdlm, 7).unwrap();
            twin.estimate_curvature(Input::U8(&pixels), &labels).unwrap();
            let same = twin.params().to_vec();
            twin.set_params(&same).unwrap();
            twin.train_step(Input::U8(&pixels), &labels).unwrap();
            a.train_step(Input::U8(&pixels), &labels).unwrap();
            assert_eq!(a.params(), twin.params(), "the step after the curvature pass");
            let trained = a.predict_raw(Input::U8(&pixels)).unwrap();
            assert_ne!(trained, first);
            // A fresh model given the trained weights predicts the same bits.
            let mut b = Model::new(&spec, 99).unwrap();
            b.predict_raw(Input::U8(&pixels)).unwrap();
            b.set_params(a.params()).unwrap();
            assert_eq!(b.predict_raw(Input::U8(&pixels)).unwrap(), trained);
        }
    );

    kernel_test!(
        fn the_input_gradients_packed_kernel_follows_every_weight_update() {
            // A conv after a trainable layer keeps its Wᵀ packed between a step's micro-batches;
            // each optimiser step must repack it. With plain SGD (no state), a model trained step
            // after step must equal, at every step, a fresh model given its weights and trained
            // one step (which packs everything anew).
            let spec: ModelSpec = serde_json::from_value(json!({
                "input_shape": [6, 6, 1], "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": {"type": "sgd"}, "learning_rate": {"type": "constant", "value": 0.5},
                "layers": [
                    {"type": "conv2d", "filters": 2, "kernel_size": [1, 1], "activation": "relu"},
                    {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "activation": "tanh"},
                    {"type": "flatten"},
                    {"type": "dense", "units": 3, "activation": "softmax"}],
            }))
            .unwrap();
            let pixels: Vec<u8> = (0..3 * 36).map(|i| (i * 53 % 256) as u8).collect();
            let labels = [0u32, 2, 1];
            let mut a = Model::new(&spec, 3).unwrap();
            for step in 0..3 {
                let mut fresh = Model::new(&spec, 4).unwrap();
                fresh.set_params(a.params()).unwrap();
                fresh.train_step_micro(Input::U8(&pixels), &labels, 1).unwrap();
                let before = a.params().to_vec();
                a.train_step_micro(Input::U8(&pixels), &labels, 1).unwrap();
                assert_ne!(a.params(), &before[..], "step {step} changes the weights");
                assert_eq!(a.params(), fresh.params(), "step {step}");
            }
        }
    );

    kernel_test!(
        fn layer_outputs_are_the_activations_predict_goes_through() {
            let mut model = Model::new(&lenet_like(json!({"type": "rbf_max_likelihood"})), 5).unwrap();
            let pixels: Vec<u8> = (0..2 * 50).map(|i| (i * 37 % 256) as u8).collect();
            let raw = model.predict_raw(Input::U8(&pixels)).unwrap();
            let lens: Vec<usize> = model.layers.iter().map(|l| l.out_len).collect();
            let out = model.layer_outputs(Input::U8(&pixels), &[0, 5, 1]).unwrap();
            assert_eq!(out.len(), 2 * (lens[0] + lens[5] + lens[1]));
            // Layer 0 pads with −0.1, the image's border; layer 5 is the RBF output, predict_raw's.
            let padded = &out[..2 * lens[0]];
            assert_eq!(padded[0], -0.1);
            assert_eq!(padded[(7 + 1) * 2], -0.1 + 0.005 * pixels[0] as f32);
            assert_eq!(&out[2 * lens[0]..2 * (lens[0] + lens[5])], &raw[..]);
            assert_eq!(out.len() - 2 * (lens[0] + lens[5]), 2 * 5 * 5 * 3);
            assert_eq!(
                model.layer_outputs(Input::U8(&pixels), &[6]).unwrap_err(),
                "layer index 6 is not below the 6 layers"
            );
        }
    );

    kernel_test!(
        fn curvature_is_exact_on_a_chain_of_single_units() {
            // One unit per layer, linear activations and eq. 8: the loss is quadratic in each
            // parameter on its own, and the diagonal Gauss–Newton estimate is its exact second
            // derivative, which central differences measure (in f64, from f32 outputs).
            let spec: ModelSpec = serde_json::from_value(json!({
                "input_shape": [2, 2, 1],
                "layers": [
                    {"type": "subsampling2d", "pool_size": [2, 2], "kernel_initializer": "lenet_uniform",
                     "bias_initializer": "lenet_uniform"},
                    {"type": "flatten"},
                    {"type": "dense", "units": 1, "kernel_initializer": "lenet_uniform", "bias_initializer": "lenet_uniform"},
                    {"type": "dense", "units": 1, "kernel_initializer": "lenet_uniform", "bias_initializer": "lenet_uniform"},
                    {"type": "rbf", "units": 2, "prototypes": [1.0, -1.0]}],
                "loss": {"type": "rbf_max_likelihood"},
                "optimizer": {"type": "sdlm"}, "learning_rate": {"type": "constant", "value": 0.01},
            }))
            .unwrap();
            let mut model = Model::new(&spec, 8).unwrap();
            let x = [0.3f32, -0.7, 0.9, 0.2, -0.4, 0.8, 0.5, -0.1, 0.6];
            let (x, labels) = (&x[..8], [1u32, 0]);
            model.estimate_curvature(Input::F32(x), &labels).unwrap();
            let h = model.curvature().to_vec();
            let base = model.params().to_vec();
            let loss = |m: &mut Model, p: &[f32]| {
                m.set_params(p).unwrap();
                m.evaluate(Input::F32(x), &labels).unwrap()[0] as f64
            };
            let e0 = loss(&mut model, &base);
            for k in 0..base.len() {
                // The loss is exactly quadratic here, so a wide step costs no accuracy and keeps
                // float32 rounding in the loss small against the difference.
                let step = 0.25f32;
                let mut p = base.clone();
                p[k] = base[k] + step;
                let up = loss(&mut model, &p);
                p[k] = base[k] - step;
                let down = loss(&mut model, &p);
                let second = (up - 2.0 * e0 + down) / (step as f64 * step as f64);
                assert!(
                    (h[k] as f64 - second).abs() <= 2e-3 * second.abs().max(1.0),
                    "parameter {k}: h {} vs {second}",
                    h[k]
                );
            }
        }
    );

    kernel_test!(
        fn sdlm_trains_the_lenet_layers() {
            let mut spec = lenet_like(json!({"type": "rbf_map", "j": 1.0}));
            spec.optimizer = OptimizerSpec::Sdlm { mu: 0.02 };
            spec.learning_rate = Schedule::Constant { value: 0.0005 };
            let mut model = Model::new(&spec, 11).unwrap();
            let mut rng = Rng::new(12);
            let x: Vec<f32> = (0..8 * 50).map(|_| rng.uniform(-0.1, 1.175)).collect();
            let labels: Vec<u32> = (0..8).map(|i| i % 3).collect();
            assert!(model.estimate_curvature(Input::F32(&x), &labels).is_ok());
            let h = model.curvature();
            assert_eq!(h.len(), model.param_count());
            assert!(h.iter().all(|v| v.is_finite() && *v >= 0.0) && h.iter().any(|v| *v > 0.0), "{h:?}");
            let before = model.evaluate(Input::F32(&x), &labels).unwrap()[0];
            for _ in 0..30 {
                model.train_step(Input::F32(&x), &labels).unwrap();
            }
            let after = model.evaluate(Input::F32(&x), &labels).unwrap()[0];
            assert!(after < before, "loss {before} → {after}");
            // Other optimisers refuse a curvature estimate.
            let mut adam = Model::new(&lenet_like(json!({"type": "rbf_map", "j": 1.0})), 1).unwrap();
            assert!(adam.estimate_curvature(Input::F32(&x), &labels).is_err());
        }
    );

    kernel_test!(
        fn training_state_round_trips_and_resumes_bit_for_bit() {
            // Train 3 steps, save weights + state, train 3 more; a fresh model restored from the
            // save must reach the same bits (Nadam's slots and product, dropout's generator).
            let spec: ModelSpec = serde_json::from_value(json!({
                "input_shape": [6, 6, 1],
                "layers": [
                    {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "activation": "relu"},
                    {"type": "flatten"}, {"type": "dropout", "rate": 0.3},
                    {"type": "dense", "units": 4, "activation": "softmax"}],
                "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": {"type": "nadam"}, "learning_rate": {"type": "constant", "value": 0.01},
            }))
            .unwrap();
            let mut rng = Rng::new(21);
            let x: Vec<f32> = (0..5 * 36).map(|_| rng.uniform(0.0, 1.0)).collect();
            let y = [0u32, 1, 2, 3, 1];
            let mut a = Model::new(&spec, 4).unwrap();
            for _ in 0..3 {
                a.train_step(Input::F32(&x), &y).unwrap();
            }
            let (weights, state) = (a.params().to_vec(), a.training_state());
            for _ in 0..3 {
                a.train_step(Input::F32(&x), &y).unwrap();
            }
            let mut b = Model::new(&spec, 99).unwrap();
            b.set_params(&weights).unwrap();
            b.set_training_state(&state).unwrap();
            assert_eq!(b.training_state(), state);
            for _ in 0..3 {
                b.train_step(Input::F32(&x), &y).unwrap();
            }
            let bits = |m: &Model| m.params().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&b), bits(&a));
            assert_eq!(b.training_state(), a.training_state());
            // Damaged states are refused with the reason, and change nothing.
            let before = b.training_state();
            assert!(b.set_training_state(&state[..state.len() - 1]).unwrap_err().contains("too short"));
            let mut bad = state.clone();
            bad[0] = b'X';
            assert!(b.set_training_state(&bad).unwrap_err().contains("bad magic"));
            let mut longer = state.clone();
            longer.push(0);
            assert!(b.set_training_state(&longer).unwrap_err().contains("expected"));
            assert_eq!(b.training_state(), before);
            // Before any step the slots are not allocated; the state still holds them, as zeros,
            // and a model restored from it trains to the same bits as the fresh one.
            let mut fresh = Model::new(&spec, 4).unwrap();
            let start = fresh.training_state();
            let p = fresh.param_count();
            assert_eq!(start.len(), 64 + 8 * p);
            assert!(start[64..].iter().all(|&byte| byte == 0));
            let mut restored = Model::new(&spec, 5).unwrap();
            restored.set_params(fresh.params()).unwrap();
            restored.set_training_state(&start).unwrap();
            fresh.train_step(Input::F32(&x), &y).unwrap();
            restored.train_step(Input::F32(&x), &y).unwrap();
            assert_eq!(bits(&restored), bits(&fresh));
            assert_eq!(restored.training_state(), fresh.training_state());
        }
    );

    kernel_test!(
        fn divergence_keeps_the_last_good_weights_and_names_the_step() {
            let spec = |lr: f32| -> ModelSpec {
                serde_json::from_value(json!({
                    "input_shape": [4, 4, 1],
                    "layers": [{"type": "flatten"}, {"type": "dense", "units": 3, "activation": "softmax"}],
                    "loss": {"type": "sparse_categorical_crossentropy"},
                    "optimizer": {"type": "sgd"}, "learning_rate": {"type": "constant", "value": lr},
                }))
                .unwrap()
            };
            let x: Vec<f32> = (0..32).map(|i| i as f32 / 8.0).collect();
            // NaN inputs: a NaN loss, and the weights stay as they were.
            let mut m = Model::new(&spec(0.1), 1).unwrap();
            let before = m.params().to_vec();
            let mut bad = x.clone();
            bad[3] = f32::NAN;
            assert!(m.train_step(Input::F32(&bad), &[0, 1]).unwrap().is_nan());
            assert_eq!(m.divergence(), Some("step 1: the loss is NaN; the weights were not updated"));
            assert_eq!(m.params(), &before[..]);
            // A learning rate that overflows the weights is named, with the layer.
            let mut m = Model::new(&spec(f32::MAX), 1).unwrap();
            let big: Vec<f32> = x.iter().map(|v| 100.0 * v).collect();
            assert!(m.train_step(Input::F32(&big), &[0, 1]).unwrap().is_nan());
            let why = m.divergence().unwrap();
            assert!(
                why.starts_with("step 1: weight ")
                    && why.contains(" of layer 1's kernel is ")
                    && why.ends_with("inf after the update"),
                "{why}"
            );
            // A good step clears it.
            let mut m = Model::new(&spec(0.1), 1).unwrap();
            assert!(m.train_step(Input::F32(&x), &[0, 1]).unwrap().is_finite());
            assert_eq!(m.divergence(), None);
            assert!(
                all_finite(&[1.0, -2.0, 3e38, 0.0, 5.0])
                    && !all_finite(&[1.0, f32::INFINITY])
                    && !all_finite(&[0.0, 0.0, 0.0, 0.0, f32::NAN])
            );
        }
    );

    kernel_test!(
        fn hostile_sizes_are_refused_before_anything_is_allocated() {
            let spec = |input: Value, layers: Value| -> ModelSpec {
                serde_json::from_value(json!({
                    "input_shape": input, "layers": layers,
                    "loss": {"type": "sparse_categorical_crossentropy"},
                    "optimizer": {"type": "adam"}, "learning_rate": {"type": "constant", "value": 0.01},
                }))
                .unwrap()
            };
            let softmax = json!({"type": "dense", "units": 2, "activation": "softmax"});
            let err = |input: Value, layers: Value| Model::new(&spec(input, layers), 1).err().unwrap();
            assert_eq!(
                err(json!([4, 4, 100000]), json!([{"type": "flatten"}, softmax])),
                "input_shape[2] is 100000, above the limit of 65536"
            );
            assert_eq!(
                err(json!([60000, 60000, 1]), json!([{"type": "flatten"}, softmax])),
                "input shape [60000, 60000, 1] has more than 67108864 values per example"
            );
            assert_eq!(
                err(json!([1, 1, 60000]), json!([{"type": "flatten"}, {"type": "dense", "units": 60000}, softmax])),
                "layer 1: the model would have more than 268435456 parameters"
            );
            assert!(err(json!([4096, 4096, 1]), json!([{"type": "conv2d", "filters": 64, "kernel_size": [3, 3], "padding": "same"}, {"type": "flatten"}, softmax]))
                .contains("values per example"));
            // A batch whose working memory would pass 2 GiB is refused, and the model still works.
            let mut m = Model::new(
                &spec(
                    json!([64, 64, 16]),
                    json!([{"type": "conv2d", "filters": 64, "kernel_size": [3, 3], "padding": "same"},
                                                                    {"type": "flatten"}, softmax]),
                ),
                1,
            )
            .unwrap();
            let too_many = vec![0u8; 2200 * 64 * 64 * 16];
            assert!(m.predict(Input::U8(&too_many)).unwrap_err().contains("MiB of working memory"));
            assert_eq!(m.predict(Input::U8(&too_many[..64 * 64 * 16])).unwrap().len(), 2);
        }
    );

    kernel_test!(
        fn mutated_specs_and_states_are_refused_or_accepted_never_a_panic() {
            // A property test of the Rust-side decoding: 3,000 random byte mutations of a valid
            // spec (JSON text) and 3,000 of a valid training state. Each must give Ok or Err; a
            // panic fails the test. The sizes are bounded, so no case can allocate without limit.
            let spec = serde_json::to_string(&json!({
                "input_shape": [6, 6, 2], "input_scale": 0.005, "input_offset": -0.1,
                "layers": [
                    {"type": "zero_padding2d", "padding": [[1, 1], [1, 1]], "value": -0.1},
                    {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "activation": "lecun_tanh",
                     "connections": [[0], [1], [0, 1]]},
                    {"type": "subsampling2d", "pool_size": [2, 2], "activation": "lecun_tanh"},
                    {"type": "max_pool2d", "pool_size": [2, 2]},
                    {"type": "flatten"}, {"type": "dropout", "rate": 0.1},
                    {"type": "dense", "units": 4, "activation": "tanh"},
                    {"type": "rbf", "units": 2, "prototypes": [1, -1, 1, -1, -1, 1, -1, 1]}],
                "loss": {"type": "rbf_map", "j": 1.0},
                "optimizer": {"type": "nadam"},
                "learning_rate": {"type": "piecewise", "boundaries": [5], "values": [0.01, 0.001]},
            }))
            .unwrap();
            let base: ModelSpec = serde_json::from_str(&spec).unwrap();
            let mut model = Model::new(&base, 1).unwrap();
            let x = vec![0.5f32; 3 * 72];
            model.train_step(Input::F32(&x), &[0, 1, 0]).unwrap();
            let state = model.training_state();
            const SET: &[u8] = b"0123456789-.,:[]{}\"ae";
            const INSERT: &[u8] = b"09]}\"-";
            let mut rng = Rng::new(77);
            let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
            let (mut built, mut restored) = (0, 0);
            for _ in 0..3000 {
                let mut bytes = spec.clone().into_bytes();
                for _ in 0..1 + pick(3) {
                    let i = pick(bytes.len());
                    match pick(3) {
                        0 => bytes[i] = SET[pick(SET.len())],
                        1 => {
                            bytes.remove(i);
                        }
                        _ => bytes.insert(i, INSERT[pick(INSERT.len())]),
                    }
                }
                if let Ok(text) = std::str::from_utf8(&bytes) {
                    if let Ok(s) = serde_json::from_str::<ModelSpec>(text) {
                        if let Ok(mut m) = Model::new(&s, 2) {
                            built += 1;
                            let _ = m.predict(Input::F32(&x));
                        }
                    }
                }
                let mut st = state.clone();
                for _ in 0..1 + pick(4) {
                    let i = pick(st.len());
                    match pick(3) {
                        0 => st[i] = pick(256) as u8,
                        1 => st.truncate(i),
                        _ => st.insert(i, pick(256) as u8),
                    }
                    if st.is_empty() {
                        break;
                    }
                }
                if model.set_training_state(&st).is_ok() {
                    restored += 1;
                }
            }
            // Some mutations keep a valid document (a digit for a digit), most do not.
            assert!(built > 0 && built < 3000, "{built} mutated specs built");
            assert!(restored < 3000, "{restored} mutated states accepted");
        }
    );

    kernel_test!(
        fn connection_table_conv_equals_a_masked_dense_conv() {
            // The same weights as a full conv with zeros where the table has no connection must
            // give the same outputs, bit for bit (a zero term changes no sum).
            let table = lenet_like(json!({"type": "rbf_cross_entropy"}));
            let mut dense = table.clone();
            if let LayerSpec::Conv2d { connections, .. } = &mut dense.layers[1] {
                *connections = None;
            }
            let mut a = Model::new(&table, 5).unwrap();
            let mut b = Model::new(&dense, 5).unwrap();
            let (ka, kb) = (a.layers[1].kernel.clone(), b.layers[1].kernel.clone());
            let mut pb = vec![0.0; b.param_count()];
            let Op::ConvTable(_, _, t) = &a.layers[1].op else { panic!("layer 1 is not a table conv") };
            t.expand(3, 3, &a.params()[ka.clone()], &mut pb[kb.clone()]);
            pb[kb.end..].copy_from_slice(&a.params()[ka.end..]);
            b.set_params(&pb).unwrap();
            let x: Vec<f32> = (0..2 * 50).map(|i| ((i * 37) % 17) as f32 / 8.0 - 1.0).collect();
            let (ya, yb) = (a.predict_raw(Input::F32(&x)).unwrap(), b.predict_raw(Input::F32(&x)).unwrap());
            assert_eq!(
                ya.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                yb.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
    );

    kernel_test!(
        fn rbf_outputs_classify_by_the_nearest_prototype() {
            let mut model = Model::new(&lenet_like(json!({"type": "rbf_map", "j": 1.0})), 6).unwrap();
            let x: Vec<f32> = (0..4 * 50).map(|i| ((i * 13) % 11) as f32 / 5.0 - 1.0).collect();
            let d = model.predict_raw(Input::F32(&x)).unwrap();
            let p = model.predict(Input::F32(&x)).unwrap();
            let e = model.evaluate(Input::F32(&x), &[0, 1, 2, 0]).unwrap();
            let mut correct = 0;
            for (n, (dr, pr)) in d.chunks_exact(3).zip(p.chunks_exact(3)).enumerate() {
                let nearest = (0..3).fold(0, |b, i| if dr[i] < dr[b] { i } else { b });
                let likeliest = (0..3).fold(0, |b, i| if pr[i] > pr[b] { i } else { b });
                assert_eq!(nearest, likeliest);
                assert!((pr.iter().sum::<f32>() - 1.0).abs() < 1e-6);
                correct += u32::from(nearest as u32 == [0, 1, 2, 0][n]);
            }
            assert_eq!(e[1] as u32, correct);
            assert!(model.train_step(Input::F32(&x), &[0, 1, 2, 0]).unwrap().is_finite());
        }
    );

    kernel_test!(
        fn lenet_spec_errors_name_the_layer() {
            let mut spec = lenet_like(json!({"type": "rbf_map", "j": 0.0}));
            assert_eq!(Model::new(&spec, 1).err().unwrap(), "the rbf_map loss needs a constant j > 0, got 0");
            spec.loss = LossSpec::SparseCategoricalCrossentropy;
            assert!(Model::new(&spec, 1).err().unwrap().contains("needs a softmax"));
            spec.loss = LossSpec::RbfCrossEntropy;
            if let LayerSpec::Conv2d { connections: Some(c), .. } = &mut spec.layers[1] {
                c[2] = vec![0, 2];
            }
            assert_eq!(
                Model::new(&spec, 1).err().unwrap(),
                "layer 1 (conv2d): connection table: output map 2 reads map 2, but there are 2 input maps"
            );
            let mut spec = lenet_like(json!({"type": "rbf_cross_entropy"}));
            if let LayerSpec::Rbf { prototypes, .. } = &mut spec.layers[5] {
                prototypes.pop();
            }
            assert_eq!(
                Model::new(&spec, 1).err().unwrap(),
                "layer 5 (rbf): 14 prototype values given, expected units·inputs = 3·5"
            );
        }
    );

    kernel_test!(
        fn same_seed_trains_to_the_same_bits_and_dropout_uses_the_seed() {
            let spec: ModelSpec = serde_json::from_value(json!({
                "input_shape": [6, 6, 1],
                "layers": [
                    {"type": "conv2d", "filters": 4, "kernel_size": [3, 3], "padding": "same", "activation": "relu",
                     "kernel_initializer": "he_normal"},
                    {"type": "max_pool2d", "pool_size": [2, 2]}, {"type": "flatten"},
                    {"type": "dropout", "rate": 0.5},
                    {"type": "dense", "units": 3, "activation": "softmax"}],
                "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": {"type": "nadam"}, "learning_rate": {"type": "constant", "value": 0.01},
            }))
            .unwrap();
            let mut rng = Rng::new(9);
            let x: Vec<f32> = (0..8 * 36).map(|_| rng.uniform(-1.0, 1.0)).collect();
            let y: Vec<u32> = (0..8).map(|i| i % 3).collect();
            let run = |seed| {
                let mut m = Model::new(&spec, seed).unwrap();
                let losses: Vec<u32> = (0..4).map(|_| m.train_step(Input::F32(&x), &y).unwrap().to_bits()).collect();
                (losses, m.params().iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            };
            assert_eq!(run(3), run(3));
            assert_ne!(run(3).1, run(4).1);
            let mut m = Model::new(&spec, 3).unwrap();
            let p = m.predict(Input::F32(&x)).unwrap();
            assert_eq!(p.len(), 8 * 3);
            for row in p.chunks(3) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            }
            assert_eq!(m.predict(Input::F32(&x)).unwrap(), p, "inference ignores dropout");
            assert_eq!(
                m.train_step(Input::F32(&x[..35]), &y).unwrap_err(),
                "8 labels need 288 input values (36 per example), got 35"
            );
            assert!(m.predict(Input::F32(&x[..35])).unwrap_err().contains("not a whole number of examples of 36"));
            assert_eq!(
                m.train_step(Input::F32(&x), &[0, 1, 2, 0, 1, 2, 0, 3]).unwrap_err(),
                "label 3 at index 7 is not below the 3 classes"
            );
        }
    );

    kernel_test!(
        fn evaluate_permutation_and_pixels() {
            let spec: ModelSpec = serde_json::from_value(json!({
                "input_shape": [2, 2, 1], "input_scale": 0.5, "input_offset": -1.0,
                "layers": [{"type": "flatten"}, {"type": "dense", "units": 3, "activation": "softmax"}],
                "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": {"type": "sgd"}, "learning_rate": {"type": "constant", "value": 0.1},
            }))
            .unwrap();
            let mut m = Model::new(&spec, 5).unwrap();
            // Pixels p become −1 + 0.5·p.
            let pixels = [0u8, 2, 4, 6, 1, 3, 5, 7];
            let floats: Vec<f32> = pixels.iter().map(|&p| -1.0 + 0.5 * p as f32).collect();
            assert_eq!(m.predict(Input::U8(&pixels)).unwrap(), m.predict(Input::F32(&floats)).unwrap());
            let labels = [2u32, 0];
            let e = m.evaluate(Input::F32(&floats), &labels).unwrap();
            let probs = m.predict(Input::F32(&floats)).unwrap();
            assert_eq!(&e[2..], &probs[..]);
            let want_loss = -((probs[2] as f64).ln() + (probs[3] as f64).ln()) / 2.0;
            assert!((e[0] as f64 - want_loss).abs() < 1e-6, "loss {} vs {want_loss}", e[0]);
            let correct = [(0usize, 2usize), (1, 0)]
                .iter()
                .filter(|&&(n, l)| {
                    let row = &probs[n * 3..n * 3 + 3];
                    (0..3).fold(0, |b, j| if row[j] > row[b] { j } else { b }) == l
                })
                .count();
            assert_eq!(e[1], correct as f32);
            let p = m.permutation(1000);
            let mut sorted = p.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..1000).collect::<Vec<u32>>());
            assert_ne!(p, sorted);
            assert_ne!(m.permutation(1000), p, "the generator moves on");
        }
    );
}
