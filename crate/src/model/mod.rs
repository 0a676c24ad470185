//! The Sequential runtime: a stack of [layers](crate::layers) built from a JSON spec, its
//! parameters in one flat vector (each layer's kernel, then its bias, in Keras's order and
//! layouts), the activation cache for backward, and reusable buffers. A training step (forward,
//! loss, backward, optimiser update) is one call; so is a prediction.
//!
//! Split by concern: [`spec`] (what TypeScript sends, the bounds), this file (building, buffers,
//! inference), [`step`] (the training step, backward and the update with its divergence check),
//! [`parallel`] (data-parallel micro-batches and their fixed-order reduction), [`curvature`]
//! (SDLM's estimate) and [`state`] (the training-state format of checkpoints).
//!
//! Buffers are sized for the largest batch seen, so after the first step of a given size no
//! step allocates.

pub mod curvature;
pub mod parallel;
pub mod spec;
pub mod state;
pub mod step;
pub mod views;

pub use spec::ModelSpec;

use crate::error::{ModelError, Result};
use crate::kernels::regularize::penalty;
use crate::kernels::softmax::SoftmaxParams;
use crate::layers::{AnyLayer, Builder, Forward, Layer, Penalty, MAX_DIM, MAX_VALUES};
use crate::losses::Head;
use crate::optim::{Optimizer, OptimizerSpec, Schedule};
use crate::rng::Rng;
use core::ops::Range;
use parallel::Reduction;
use spec::{MAX_WORK, WARM_UP_MACS};

/// Inference (`predict`, `predict_raw`) runs at most this many examples at a time, so that its
/// buffers stop growing there: a `predict` of 256 images holds a thirty-second of the activations
/// it would in one pass. Every kernel sums each output in one fixed order whatever the batch, so
/// the chunks change no bit; 8 images still fill the products' rows (a 7×7 Winograd layer's
/// group of tiles), and inference ran as fast at 8 as at 16, 64 or in one pass, with 5 MiB less
/// memory than at 16 (docs/performance.md, "Memory").
const INFERENCE_CHUNK: usize = 8;

static GEMM_WARMED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// A layer in its place: values per example in and out, and where its kernel and bias sit in
/// the flat parameter vector.
struct Slot {
    layer: AnyLayer,
    /// The tensors it reads (0 the model's input, `j + 1` layer `j`'s output); one but for a
    /// merge layer.
    inputs: Vec<usize>,
    /// For each input, whether backward's gradient for it is the first to reach it (so written,
    /// not added): backward visits the layers last to first, and a merge layer's inputs 1, 2, …
    /// before its input 0.
    first_grad: Vec<bool>,
    /// Values per example in its first input, and in its others (a merge layer's).
    in_len: usize,
    more_lens: Vec<usize>,
    out_len: usize,
    kernel: Range<usize>,
    bias: Range<usize>,
    /// Penalties on parts of the kernel, added to the loss and the kernel's gradient.
    penalties: Vec<Penalty>,
}

/// A batch of inputs: floats as they are, or 8-bit pixels mapped by the model's scale and offset.
#[derive(Clone, Copy)]
pub enum Input<'a> {
    F32(&'a [f32]),
    U8(&'a [u8]),
}

impl Input<'_> {
    pub fn len(&self) -> usize {
        match self {
            Input::F32(x) => x.len(),
            Input::U8(x) => x.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn slice(&self, r: Range<usize>) -> Input<'_> {
        match self {
            Input::F32(x) => Input::F32(&x[r]),
            Input::U8(x) => Input::U8(&x[r]),
        }
    }
}

/// A compiled Sequential model.
pub struct Model {
    layers: Vec<Slot>,
    /// An example's height, width and channels, and their product.
    input_shape: [usize; 3],
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
    /// A factor on the schedule's rate (ReduceLROnPlateau lowers it). At 1 the product is the
    /// schedule's value exactly, so runs that never change it keep their bits.
    lr_scale: f32,
    rng: Rng,
    /// The largest batch the activations are sized for.
    capacity: usize,
    /// The largest training batch the gradient buffers are sized for (0 before training).
    trained_capacity: usize,
    /// The working-memory limit, [`MAX_WORK`] (lowered by tests).
    max_work: u128,
    /// The widest activation (input or a layer's output), per example: training's gradient buffers' width.
    widest: usize,
    acts: Vec<Vec<f32>>,
    delta: [Vec<f32>; 2],
    /// For each tensor (as [`Slot::inputs`] numbers them), whether backward gives its gradient a
    /// buffer of its own in `tensor_grads`: every tensor but those read once, as input 0 of the
    /// layer right after the one that makes them (a stack's all are), whose gradient passes
    /// through `delta` from one layer to the next.
    shared: Vec<bool>,
    tensor_grads: Vec<Vec<f32>>,
    scratch: Vec<f32>,
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
    /// Batch normalisation's moving statistics as the step folds them in.
    moving_next: Vec<f32>,
    /// Bumped whenever the parameters change; layers rebuild what they cache from their kernel
    /// (packed, expanded) when it has moved on.
    params_version: u64,
}

impl Model {
    /// Builds a model from its spec; `seed` drives initialisation, dropout and everything random.
    pub fn new(spec: &ModelSpec, seed: u64) -> Result<Model> {
        Self::build(spec, seed, true)
    }

    /// The model of `spec` with zeros for parameters until they are set: a gradient worker's,
    /// whose weights come with every request, so drawing initial ones (most of the Fashion
    /// ConvNet's build) would be thrown away.
    pub fn without_initial_params(spec: &ModelSpec) -> Result<Model> {
        Self::build(spec, 0, false)
    }

    fn build(spec: &ModelSpec, seed: u64, draw: bool) -> Result<Model> {
        let mut rng = Rng::new(seed);
        spec.learning_rate.validate()?;
        let shape = spec.input_shape;
        for (k, &d) in shape.iter().enumerate() {
            if d > MAX_DIM {
                return Err(ModelError::limit(format!("input_shape[{k}] is {d}, above the limit of {MAX_DIM}")));
            }
        }
        if shape.contains(&0) {
            return Err(ModelError::invalid(format!("input shape {shape:?} has a zero dimension")));
        }
        let values = |s: [usize; 3]| s.iter().map(|&d| d as u128).product::<u128>();
        if values(shape) > MAX_VALUES {
            return Err(ModelError::limit(format!(
                "input shape {shape:?} has more than {MAX_VALUES} values per example"
            )));
        }
        let input_len = shape.iter().product();
        let mut layers = Vec::with_capacity(spec.layers.len());
        let mut b = Builder::new();
        let n = spec.layers.len();
        let wiring = Self::wiring(spec)?;
        // Each tensor's shape: the input's, then each layer's output's.
        let mut shapes = vec![shape];
        for (i, l) in spec.layers.iter().enumerate() {
            let inputs = &wiring[i];
            (b.index, b.last, b.shape) = (i, i + 1 == n, shapes[inputs[0]]);
            b.more_shapes = inputs[1..].iter().map(|&t| shapes[t]).collect();
            let in_len = b.in_len();
            let built = l.build(&mut b)?;
            if inputs.len() > 1 && !built.layer.merges() {
                return Err(b.error(built.layer.kind(), format!("it takes one input, given {}", inputs.len())));
            }
            let out = built.out_shape;
            if values(out) > MAX_VALUES {
                return Err(ModelError::limit(format!(
                    "layer {i}: its output {out:?} has more than {MAX_VALUES} values per example"
                )));
            }
            shapes.push(out);
            let out_len = out.iter().product();
            debug_assert_eq!(
                built.layer.param_shapes().iter().map(|s| s.iter().product::<usize>()).sum::<usize>(),
                built.kernel.len() + built.bias.len(),
                "layer {i}: its parameter shapes and the parameters it claimed differ"
            );
            layers.push(Slot {
                layer: built.layer,
                inputs: inputs.clone(),
                first_grad: Vec::new(),
                in_len,
                more_lens: b.more_shapes.iter().map(|s| s.iter().product()).collect(),
                out_len,
                kernel: built.kernel,
                bias: built.bias,
                penalties: built.penalties,
            });
        }
        let shared = Self::plan_gradients(&mut layers)?;
        // A stack: each layer reads the one before it.
        let stack = layers.iter().enumerate().all(|(i, s)| s.inputs == [i]);
        let last = layers.last().ok_or_else(|| ModelError::invalid("a model needs at least one layer"))?;
        let is_rbf = |s: &Slot| matches!(s.layer, AnyLayer::Rbf(_));
        let rbf_output = is_rbf(last);
        if let Some(i) = layers.iter().position(is_rbf).filter(|&i| i + 1 != n) {
            return Err(ModelError::invalid("an rbf layer must be the last layer").at(i, "rbf"));
        }
        if matches!(spec.optimizer, OptimizerSpec::Sdlm { .. }) {
            if !stack {
                return Err(ModelError::invalid(
                    "the sdlm optimizer needs a stack of layers (each reading the one before); this model is a graph",
                ));
            }
            // The curvature pass starts below an RBF output, at the top otherwise.
            let top = if rbf_output { n - 1 } else { n };
            if let Some((i, s)) = layers[..top].iter().enumerate().find(|(_, s)| !s.layer.has_curvature()) {
                return Err(ModelError::invalid(
                    "the sdlm optimizer has no curvature rule for it; use subsampling2d or maxPool2d",
                )
                .at(i, s.layer.kind()));
            }
        }
        let head = Head::new(spec.loss, b.softmax_output(), rbf_output, (n - 1, last.layer.kind()))?;
        let classes = last.out_len;
        // Large products ahead: have V8 start optimising the GEMM while the weights are drawn.
        let macs: u128 = layers.iter().map(|s| s.layer.gemm_macs()).sum();
        if macs >= WARM_UP_MACS && !GEMM_WARMED.swap(true, core::sync::atomic::Ordering::Relaxed) {
            crate::kernels::gemm::warm_up();
        }
        let params = if draw { b.initial_params(&mut rng) } else { b.zero_params() };
        let optimizer = Optimizer::new(spec.optimizer.clone(), params.len())?;
        let count = layers.len();
        let widest = layers.iter().map(|s| s.out_len).fold(input_len, usize::max);
        Ok(Model {
            layers,
            input_shape: shape,
            input_len,
            classes,
            head,
            input_scale: spec.input_scale,
            input_offset: spec.input_offset,
            last_correct: 0,
            params,
            // Allocated by the first backward pass: a model that only predicts never needs them.
            grads: Vec::new(),
            optimizer,
            schedule: spec.learning_rate.clone(),
            lr_scale: 1.0,
            rng,
            capacity: 0,
            trained_capacity: 0,
            max_work: MAX_WORK,
            widest,
            acts: vec![Vec::new(); count + 1],
            delta: [Vec::new(), Vec::new()],
            tensor_grads: vec![Vec::new(); count + 1],
            shared,
            scratch: Vec::new(),
            loss_scratch: Vec::new(),
            squares: Vec::new(),
            curvature_sum: Vec::new(),
            divergence: None,
            reduction: None,
            layer_grad: Vec::new(),
            moving_next: Vec::new(),
            params_version: 1,
        })
    }

    /// Each layer's inputs from the spec, checked (count, order), or the stack's when it has none.
    fn wiring(spec: &ModelSpec) -> Result<Vec<Vec<usize>>> {
        let n = spec.layers.len();
        if spec.inputs.is_empty() {
            return Ok((0..n).map(|i| vec![i]).collect());
        }
        if spec.inputs.len() != n {
            return Err(ModelError::invalid(format!(
                "inputs: {} lists for {n} layers; a graph lists each layer's inputs",
                spec.inputs.len()
            )));
        }
        for (i, inputs) in spec.inputs.iter().enumerate() {
            if inputs.is_empty() {
                return Err(ModelError::invalid(format!("inputs[{i}]: layer {i} reads no tensor")));
            }
            if let Some(&t) = inputs.iter().find(|&&t| t > i) {
                return Err(ModelError::invalid(format!(
                    "inputs[{i}]: layer {i} reads tensor {t}, which is not earlier than it (0 is the input, j + 1 layer j's output)"
                )));
            }
        }
        Ok(spec.inputs.clone())
    }

    /// Which tensors backward gives a gradient buffer of their own (see [`Model::shared`]), and
    /// each input's [`Slot::first_grad`]; refuses a layer whose output no layer reads (the last
    /// one's is the model's).
    fn plan_gradients(layers: &mut [Slot]) -> Result<Vec<bool>> {
        let n = layers.len();
        let mut reads = vec![0usize; n + 1];
        for s in layers.iter() {
            for &t in &s.inputs {
                reads[t] += 1;
            }
        }
        if let Some(t) = (1..n).find(|&t| reads[t] == 0) {
            let kind = layers[t - 1].layer.kind();
            return Err(ModelError::invalid("its output is read by no layer; a model's output is its last layer's")
                .at(t - 1, kind));
        }
        // The input's gradient is never needed, nor the output's buffer (the loss's goes in `delta`).
        let shared = (0..=n).map(|t| t != 0 && t != n && !(reads[t] == 1 && layers[t].inputs[0] == t)).collect();
        let mut reached = vec![false; n + 1];
        for s in layers.iter_mut().rev() {
            s.first_grad = vec![false; s.inputs.len()];
            for k in (1..s.inputs.len()).chain([0]) {
                let t = s.inputs[k];
                s.first_grad[k] = !core::mem::replace(&mut reached[t], true);
            }
        }
        Ok(shared)
    }

    /// Values per example in tensor `t`.
    fn tensor_len(&self, t: usize) -> usize {
        if t == 0 {
            self.input_len
        } else {
            self.layers[t - 1].out_len
        }
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

    /// The layer at `index` (in spec order).
    pub fn layer(&self, index: usize) -> Option<&AnyLayer> {
        self.layers.get(index).map(|s| &s.layer)
    }

    /// How many layers the model has.
    pub fn layer_count(&self) -> usize {
        self.layers.len()
    }

    /// Values per example out of each layer, in spec order.
    pub fn output_lens(&self) -> Vec<usize> {
        self.layers.iter().map(|s| s.out_len).collect()
    }

    /// Layer `index`'s parameter tensors' shapes (see [`Layer::param_shapes`]).
    pub fn param_shapes(&self, index: usize) -> Option<Vec<Vec<usize>>> {
        self.layers.get(index).map(|s| s.layer.param_shapes())
    }

    /// Where layer `index`'s kernel and bias sit in [`Model::params`].
    pub fn layer_params(&self, index: usize) -> Option<(Range<usize>, Range<usize>)> {
        self.layers.get(index).map(|s| (s.kernel.clone(), s.bias.clone()))
    }

    /// Replaces every parameter; `values` must hold [`Model::param_count`] of them.
    pub fn set_params(&mut self, values: &[f32]) -> Result<()> {
        self.set_params_with(values.len(), |params| params.copy_from_slice(values))
    }

    /// Replaces every parameter with the `len` values that `fill` writes (so that a caller can
    /// copy them straight from where they are, such as a JS array); `len` must be
    /// [`Model::param_count`].
    pub fn set_params_with(&mut self, len: usize, fill: impl FnOnce(&mut [f32])) -> Result<()> {
        if len != self.params.len() {
            return Err(ModelError::shape(format!(
                "weights: {} values given, the model has {}",
                len,
                self.params.len()
            )));
        }
        fill(&mut self.params);
        self.params_version += 1;
        Ok(())
    }

    pub fn iterations(&self) -> u64 {
        self.optimizer.iterations()
    }

    /// The learning rate of the next update: the schedule's, times the scale.
    pub fn learning_rate(&self) -> f32 {
        self.schedule.at(self.optimizer.iterations()) * self.lr_scale
    }

    pub fn learning_rate_scale(&self) -> f32 {
        self.lr_scale
    }

    /// Multiplies every later learning rate of the schedule by `scale` (replacing the last scale).
    pub fn set_learning_rate_scale(&mut self, scale: f32) -> Result<()> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(ModelError::invalid(format!("the learning-rate scale must be a positive number, got {scale}")));
        }
        self.lr_scale = scale;
        Ok(())
    }

    pub fn last_correct(&self) -> u32 {
        self.last_correct
    }

    /// Sizes every buffer for `batch` examples (growing only). Inference (`training` false) needs
    /// the backward pass's two gradient buffers only as wide as the outputs (loss, probabilities),
    /// where training needs them as wide as the widest layer, and a graph's shared gradients.
    /// Whatever grows, what the buffers will then hold is checked against [`MAX_WORK`] first: a
    /// training batch no larger than an earlier inference batch still grows training's buffers.
    fn reserve(&mut self, batch: usize, training: bool) -> Result<()> {
        let delta_len = batch * if training { self.widest } else { self.classes };
        let trained = if training { batch.max(self.trained_capacity) } else { self.trained_capacity };
        if batch > self.capacity || trained > self.trained_capacity {
            let total = self.working_values(batch.max(self.capacity), delta_len.max(self.delta[0].len()), trained);
            if total > self.max_work {
                return Err(ModelError::limit(format!(
                    "{} batch of {batch} needs about {} MiB of working memory, above the limit of {} MiB; use smaller batches",
                    if training { "a training" } else { "an inference" },
                    (total * 4) >> 20,
                    (self.max_work * 4) >> 20
                )));
            }
        }
        if batch > self.capacity {
            self.capacity = batch;
            self.acts[0].resize(batch * self.input_len, 0.0);
            for (i, s) in self.layers.iter_mut().enumerate() {
                self.acts[i + 1].resize(batch * s.out_len, 0.0);
                s.layer.reserve(batch);
            }
        }
        self.trained_capacity = trained;
        self.reserve_deltas(batch, delta_len, training);
        self.reserve_scratch(batch, training);
        Ok(())
    }

    /// What the buffers hold, in values, with the activations sized for `batch` examples, each
    /// backward buffer `delta_len` values, and a graph's shared gradients for `trained` examples.
    /// Counted in u128, before anything is allocated.
    fn working_values(&self, batch: usize, delta_len: usize, trained: usize) -> u128 {
        let b = batch as u128;
        let activations: u128 = self.layers.iter().map(|s| b * s.out_len as u128 + s.layer.working_values(b)).sum();
        let shared: u128 = (0..self.shared.len())
            .filter(|&t| self.shared[t])
            .map(|t| trained as u128 * self.tensor_len(t) as u128)
            .sum();
        b * self.input_len as u128 + activations + 2 * delta_len as u128 + shared
    }

    /// Grows the shared scratch to what `batch` examples need: the forward passes' alone for
    /// inference (the backward passes' can be several times larger: Winograd's kernel-gradient
    /// sums), all of it for training.
    fn reserve_scratch(&mut self, batch: usize, training: bool) {
        let need = self
            .layers
            .iter()
            .map(|s| if training { s.layer.scratch_len(batch) } else { s.layer.inference_scratch_len(batch) })
            .max()
            .unwrap_or(0);
        if self.scratch.len() < need {
            self.scratch.resize(need, 0.0);
        }
    }

    fn reserve_deltas(&mut self, batch: usize, delta_len: usize, training: bool) {
        for d in &mut self.delta {
            if d.len() < delta_len {
                d.resize(delta_len, 0.0);
            }
        }
        if training {
            for t in 0..self.shared.len() {
                let len = batch * self.tensor_len(t);
                if self.shared[t] && self.tensor_grads[t].len() < len {
                    self.tensor_grads[t].resize(len, 0.0);
                }
            }
        }
        let loss = self.head.scratch_len(batch, self.classes);
        if self.loss_scratch.len() < loss {
            self.loss_scratch.resize(loss, 0.0);
        }
    }

    /// Checks the input's length; returns the number of examples.
    fn examples(&self, x: &Input<'_>) -> Result<usize> {
        let len = x.len();
        if len == 0 || len % self.input_len != 0 {
            return Err(ModelError::shape(format!(
                "input has {len} values, not a whole number of examples of {} values each",
                self.input_len
            )));
        }
        Ok(len / self.input_len)
    }

    /// Checks the input's length, sizes the buffers for training and copies it into the first
    /// activation.
    fn load_input(&mut self, x: Input<'_>) -> Result<usize> {
        self.load(x, true)
    }

    /// [`Model::load_input`] for inference, which needs no full-width gradient buffers.
    fn load_inference_input(&mut self, x: Input<'_>) -> Result<usize> {
        self.load(x, false)
    }

    fn load(&mut self, x: Input<'_>, training: bool) -> Result<usize> {
        let len = x.len();
        let batch = self.examples(&x)?;
        self.reserve(batch, training)?;
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

    fn check_labels(&self, labels: &[u32], batch: usize) -> Result<()> {
        if labels.len() != batch {
            return Err(ModelError::shape(format!("{} labels for {} examples", labels.len(), batch)));
        }
        if let Some((i, &bad)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= self.classes) {
            return Err(ModelError::invalid(format!(
                "label {bad} at index {i} is not below the {} classes",
                self.classes
            )));
        }
        Ok(())
    }

    fn softmax_params(&self, batch: usize) -> SoftmaxParams {
        SoftmaxParams { batch, classes: self.classes }
    }

    fn logits(&self, batch: usize) -> &[f32] {
        &self.acts[self.layers.len()][..batch * self.classes]
    }

    fn count_correct(&self, batch: usize, labels: &[u32]) -> u32 {
        self.head.count_correct(self.logits(batch), self.classes, labels)
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

    /// Runs the layers on `batch` examples already in `acts[0]`; leaves logits in the last buffer.
    fn forward(&mut self, batch: usize, training: bool) {
        for (i, s) in self.layers.iter_mut().enumerate() {
            let (before, after) = self.acts.split_at_mut(i + 1);
            let y = &mut after[0][..batch * s.out_len];
            s.layer.forward(Forward {
                batch,
                x: &before[s.inputs[0]][..batch * s.in_len],
                y: &mut *y,
                kernel: &self.params[s.kernel.clone()],
                bias: &self.params[s.bias.clone()],
                scratch: &mut self.scratch,
                rng: &mut self.rng,
                training,
                version: self.params_version,
            });
            let first = &before[s.inputs[0]][..batch * s.in_len];
            for (k, &t) in s.inputs.iter().enumerate().skip(1) {
                s.layer.merge_forward(k, first, &before[t][..batch * s.more_lens[k - 1]], y);
            }
        }
    }

    /// The batch-mean loss of the outputs in the last buffer; leaves ∂loss/∂outputs in `delta[0]`.
    fn loss(&mut self, batch: usize, labels: &[u32]) -> f32 {
        let sp = self.softmax_params(batch);
        let out = &self.acts[self.layers.len()][..batch * self.classes];
        let d = &mut self.delta[0][..batch * self.classes];
        let loss = self.head.loss(&sp, out, labels, d, &mut self.loss_scratch);
        self.with_penalties(loss)
    }

    /// Keras adds the weight penalties to the loss it reports and differentiates, layer by layer.
    fn with_penalties(&self, loss: f32) -> f32 {
        self.layers.iter().fold(loss, |sum, s| {
            let kernel = &self.params[s.kernel.clone()];
            s.penalties.iter().fold(sum, |sum, p| sum + penalty(p.l1l2, &kernel[p.at.clone()]))
        })
    }

    /// Class probabilities into `probs` (see [`Head::probabilities`]).
    fn probabilities(&mut self, batch: usize, probs: &mut [f32]) {
        let sp = self.softmax_params(batch);
        let out = &self.acts[self.layers.len()][..batch * self.classes];
        let neg = &mut self.delta[1][..batch * self.classes];
        self.head.probabilities(&sp, out, probs, neg);
    }

    /// Class probabilities for each example, `batch·classes` values (see `probabilities`),
    /// computed [`INFERENCE_CHUNK`] examples at a time.
    pub fn predict(&mut self, x: Input<'_>) -> Result<Vec<f32>> {
        self.infer_in_chunks(x, |model, n, out| model.probabilities(n, out))
    }

    /// Inference on `x`, [`INFERENCE_CHUNK`] examples at a time: after each chunk's forward pass,
    /// `take(model, n, out)` writes its `n·classes` outputs.
    fn infer_in_chunks(&mut self, x: Input<'_>, take: impl Fn(&mut Self, usize, &mut [f32])) -> Result<Vec<f32>> {
        let batch = self.examples(&x)?;
        let classes = self.classes;
        let mut out = vec![0.0; batch * classes];
        for start in (0..batch).step_by(INFERENCE_CHUNK) {
            let n = INFERENCE_CHUNK.min(batch - start);
            self.load_inference_input(x.slice(start * self.input_len..(start + n) * self.input_len))?;
            self.forward(n, false);
            take(self, n, &mut out[start * classes..(start + n) * classes]);
        }
        Ok(out)
    }

    /// Inference, returning the outputs of the layers in `layers` (indices, any order, repeats
    /// allowed) one after another: for each, `batch·out_len` values in the layer's NHWC layout.
    pub fn layer_outputs(&mut self, x: Input<'_>, layers: &[u32]) -> Result<Vec<f32>> {
        if let Some(&bad) = layers.iter().find(|&&i| i as usize >= self.layers.len()) {
            return Err(ModelError::invalid(format!(
                "layer index {bad} is not below the {} layers",
                self.layers.len()
            )));
        }
        let batch = self.load_inference_input(x)?;
        self.forward(batch, false);
        let mut out = Vec::with_capacity(layers.iter().map(|&i| batch * self.layers[i as usize].out_len).sum());
        for &i in layers {
            let i = i as usize;
            out.extend_from_slice(&self.acts[i + 1][..batch * self.layers[i].out_len]);
        }
        Ok(out)
    }

    /// The raw outputs of the last layer (logits, or RBF distances), `batch·classes` values.
    pub fn predict_raw(&mut self, x: Input<'_>) -> Result<Vec<f32>> {
        self.infer_in_chunks(x, |model, n, out| out.copy_from_slice(model.logits(n)))
    }

    /// Inference on a labelled batch: returns `[loss, correct, probabilities…]`, the loss being
    /// the batch mean of the cross-entropy and `correct` the count of argmax hits.
    pub fn evaluate(&mut self, x: Input<'_>, labels: &[u32]) -> Result<Vec<f32>> {
        let batch = self.load_inference_input(x)?;
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
