//! The Sequential runtime: a stack of layers built from a JSON spec, its parameters in one flat
//! vector (each layer's kernel, then its bias, in Keras's order and layouts), the activation
//! cache for backward, and reusable buffers. A training step (forward, loss, backward, optimiser
//! update) is one call; so is a prediction.
//!
//! Buffers are sized for the largest batch seen, so after the first step of a given size no
//! step allocates.

use crate::kernels::act::{activation_backward, activation_backward_in_place, activation_forward};
use crate::kernels::act::{activation_forward_in_place, Activation};
use crate::kernels::conv::{conv2d_backward, conv2d_forward, Conv2dGrads, Conv2dParams, Padding};
use crate::kernels::dense::{dense_backward, dense_forward, DenseGrads, DenseParams};
use crate::kernels::dropout::{apply_mask, dropout_mask};
use crate::kernels::pool::{avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward, Pool2dParams};
use crate::kernels::softmax::{softmax, softmax_cross_entropy, SoftmaxParams};
use crate::nn::init::{initialize, Initializer};
use crate::nn::optim::{Optimizer, OptimizerSpec, Schedule};
use crate::nn::rng::Rng;
use serde::Deserialize;

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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossSpec {
    SparseCategoricalCrossentropy,
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

enum Op {
    /// Geometry with batch 1; the batch is set per call.
    Conv(Conv2dParams, Activation),
    MaxPool(Pool2dParams),
    AvgPool(Pool2dParams),
    Flatten,
    Dense(DenseParams, Activation),
    Dropout(f32),
    Act(Activation),
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
}

/// A compiled Sequential model.
pub struct Model {
    layers: Vec<Layer>,
    input_len: usize,
    classes: usize,
    /// The last layer's softmax is fused with the loss; `predict` applies it.
    softmax_output: bool,
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
        let mut shape = spec.input_shape;
        if shape.contains(&0) {
            return Err(format!("input shape {shape:?} has a zero dimension"));
        }
        let input_len = shape.iter().product();
        let mut layers = Vec::with_capacity(spec.layers.len());
        let mut params: Vec<f32> = Vec::new();
        let mut softmax_output = false;
        let n = spec.layers.len();
        let alloc = |params: &mut Vec<f32>, len: usize| {
            let start = params.len();
            params.resize(start + len, 0.0);
            start..start + len
        };
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
                    let kernel = alloc(&mut params, p.w_len());
                    let bias = alloc(&mut params, filters);
                    let fan_in = p.patch_len();
                    let fan_out = p.k_h * p.k_w * filters;
                    initialize(kernel_initializer, &mut rng, fan_in, fan_out, &mut params[kernel.clone()]);
                    initialize(bias_initializer, &mut rng, fan_in, fan_out, &mut params[bias.clone()]);
                    let out = [p.out_h(), p.out_w(), filters];
                    (Op::Conv(p, activation(a, last, i)?), out, kernel, bias)
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
                    let kernel = alloc(&mut params, in_len * units);
                    let bias = alloc(&mut params, units);
                    initialize(kernel_initializer, &mut rng, in_len, units, &mut params[kernel.clone()]);
                    initialize(bias_initializer, &mut rng, in_len, units, &mut params[bias.clone()]);
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
            shape = out_shape;
            layers.push(Layer { op, in_len, out_len: shape.iter().product(), kernel, bias });
        }
        let last = layers.last().ok_or("a model needs at least one layer")?;
        if !softmax_output {
            return Err("sparse categorical cross-entropy needs a softmax on the last layer".into());
        }
        let classes = last.out_len;
        let optimizer = Optimizer::new(spec.optimizer.clone(), params.len())?;
        let grads = vec![0.0; params.len()];
        let count = layers.len();
        Ok(Model {
            layers,
            input_len,
            classes,
            softmax_output,
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
        if values.len() != self.params.len() {
            return Err(format!("weights: {} values given, the model has {}", values.len(), self.params.len()));
        }
        self.params.copy_from_slice(values);
        Ok(())
    }

    pub fn iterations(&self) -> u64 {
        self.optimizer.iterations()
    }

    /// Sizes every buffer for `batch` examples (growing only).
    fn reserve(&mut self, batch: usize) {
        if batch <= self.capacity {
            return;
        }
        self.capacity = batch;
        self.acts[0].resize(batch * self.input_len, 0.0);
        let mut widest = self.input_len;
        let mut scratch = 0;
        for (i, l) in self.layers.iter().enumerate() {
            self.acts[i + 1].resize(batch * l.out_len, 0.0);
            widest = widest.max(l.out_len);
            match &l.op {
                Op::Conv(p, _) => {
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
        self.scratch.resize(scratch, 0.0);
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
        self.reserve(batch);
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

    /// How many rows of `logits` have their largest value (the first, on ties) at the label.
    fn count_correct(logits: &[f32], labels: &[u32], classes: usize) -> u32 {
        let mut correct = 0;
        for (row, &label) in logits.chunks_exact(classes).zip(labels) {
            let mut best = 0;
            for (j, &v) in row.iter().enumerate() {
                if v > row[best] {
                    best = j;
                }
            }
            correct += u32::from(best == label as usize);
        }
        correct
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
            match &l.op {
                Op::Conv(p, a) => {
                    let p = Conv2dParams { batch, ..*p };
                    conv2d_forward(&p, x, &params[l.kernel.clone()], &params[l.bias.clone()], y, scratch);
                    activation_forward_in_place(*a, y);
                }
                Op::Dense(p, a) => {
                    let p = DenseParams { batch, ..*p };
                    dense_forward(&p, x, &params[l.kernel.clone()], &params[l.bias.clone()], y, scratch);
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
            }
        }
    }

    /// Back-propagates `delta[0]` (∂loss/∂logits) through every layer, filling `grads`.
    fn backward(&mut self, batch: usize) {
        let mut cur = 0;
        for i in (0..self.layers.len()).rev() {
            let l = &self.layers[i];
            let x = &self.acts[i][..batch * l.in_len];
            let y = &self.acts[i + 1][..batch * l.out_len];
            let [d0, d1] = &mut self.delta;
            let (dy, dx) = if cur == 0 { (d0, d1) } else { (d1, d0) };
            let dy = &mut dy[..batch * l.out_len];
            let dx = &mut dx[..batch * l.in_len];
            let (params, scratch) = (&self.params, &mut self.scratch);
            let (gk, gb) = {
                let (head, tail) = self.grads.split_at_mut(l.bias.start.max(l.kernel.end));
                (&mut head[l.kernel.clone()], &mut tail[..l.bias.len()])
            };
            match &l.op {
                Op::Conv(p, a) => {
                    activation_backward_in_place(*a, y, dy);
                    let p = Conv2dParams { batch, ..*p };
                    let g = Conv2dGrads { dx, dw: gk, db: gb };
                    conv2d_backward(&p, x, &params[l.kernel.clone()], dy, g, scratch);
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
            }
            cur ^= 1;
        }
    }

    /// One training step on a batch: forward, loss, backward, optimiser update. Returns the loss
    /// (the batch mean, before the update).
    pub fn train_step(&mut self, x: Input<'_>, labels: &[u32]) -> Result<f32, String> {
        if x.len() != labels.len() * self.input_len {
            return Err(format!(
                "{} labels need {} input values ({} per example), got {}",
                labels.len(),
                labels.len() * self.input_len,
                self.input_len,
                x.len()
            ));
        }
        let batch = self.load_input(x)?;
        self.check_labels(labels, batch)?;
        self.forward(batch, true);
        let sp = SoftmaxParams { batch, classes: self.classes };
        self.last_correct = Self::count_correct(self.logits(batch), labels, self.classes);
        let logits = &self.acts[self.layers.len()][..batch * self.classes];
        let loss = softmax_cross_entropy(&sp, logits, labels, &mut self.delta[0][..batch * self.classes]);
        self.backward(batch);
        let lr = self.schedule.at(self.optimizer.iterations());
        self.optimizer.step(lr, &mut self.params, &self.grads);
        Ok(loss)
    }

    /// Class probabilities for each example (softmax applied), `batch·classes` values.
    pub fn predict(&mut self, x: Input<'_>) -> Result<Vec<f32>, String> {
        let batch = self.load_input(x)?;
        self.forward(batch, false);
        let logits = self.logits(batch);
        let mut out = vec![0.0; logits.len()];
        if self.softmax_output {
            softmax(&SoftmaxParams { batch, classes: self.classes }, logits, &mut out);
        } else {
            out.copy_from_slice(logits);
        }
        Ok(out)
    }

    /// Inference on a labelled batch: returns `[loss, correct, probabilities…]`, the loss being
    /// the batch mean of the cross-entropy and `correct` the count of argmax hits.
    pub fn evaluate(&mut self, x: Input<'_>, labels: &[u32]) -> Result<Vec<f32>, String> {
        let batch = self.load_input(x)?;
        self.check_labels(labels, batch)?;
        self.forward(batch, false);
        let sp = SoftmaxParams { batch, classes: self.classes };
        let correct = Self::count_correct(self.logits(batch), labels, self.classes);
        let mut out = vec![0.0; 2 + batch * self.classes];
        let logits = &self.acts[self.layers.len()][..batch * self.classes];
        let loss = softmax_cross_entropy(&sp, logits, labels, &mut self.delta[0][..batch * self.classes]);
        softmax(&sp, logits, &mut out[2..]);
        out[0] = loss;
        out[1] = correct as f32;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel_test;
    use serde_json::{json, Value};

    const TRAINING: &str = include_str!("../../test/fixtures/golden/training.json");

    fn floats(v: &Value) -> Vec<f32> {
        v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
    }

    fn spec_for(doc: &Value, case: &Value) -> ModelSpec {
        serde_json::from_value(json!({
            "input_shape": doc["input_shape"],
            "layers": doc["layers"],
            "loss": "sparse_categorical_crossentropy",
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
                // The bound, 1e-5 relative, applies to the weights as a tensor (relative
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
                    "input_shape": [4, 4, 1], "layers": layers, "loss": "sparse_categorical_crossentropy",
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
                "loss": "sparse_categorical_crossentropy",
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
                "loss": "sparse_categorical_crossentropy",
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
