//! convnet-wasm: convolutional-network kernels and runtime, compiled to WebAssembly.
//!
//! Modules: [`kernels`] (pure functions over slices), [`layers`] (one file each), [`losses`],
//! [`optim`] (one file per optimiser), [`init`] and [`rng`], the [`model`] runtime, and
//! [`error`]. This file is the thin wasm-bindgen surface: each export calls into them and copies
//! its result out into a fresh JS array; no numeric work lives here. Errors cross as JS `Error`s
//! with a `code` (see [`error::ErrorCode`]), which TypeScript maps to its `ConvnetError`s.

// The model tests' shared module (crate/tests/common) names the crate; so can unit tests.
#[cfg(test)]
extern crate self as convnet_wasm;

#[cfg(all(feature = "bench", target_arch = "wasm32"))]
pub mod bench;
pub mod error;
pub mod init;
pub mod kernels;
pub mod layers;
pub mod losses;
pub mod model;
pub mod optim;
pub mod rng;

use error::{ErrorCode, ModelError};
use js_sys::Float32Array;
use kernels::dense::{dense_backward as dense_backward_kernel, dense_forward as dense_forward_kernel};
use kernels::dense::{DenseGrads, DenseParams};
use model::Input;
use rng::Rng;
use std::sync::Mutex;
use wasm_bindgen::prelude::*;

/// A JS `Error` carrying the error's message, its `code` and, when it concerns a layer, `layer`
/// (the index).
fn js_error(e: ModelError) -> JsValue {
    let error = js_sys::Error::new(&e.to_string());
    let set = |key: &str, value: JsValue| js_sys::Reflect::set(&error, &JsValue::from_str(key), &value);
    // Setting a property on a fresh Error object cannot fail.
    let _ = set("code", JsValue::from_str(e.code.as_str()));
    if let Some((index, _)) = e.layer {
        let _ = set("layer", JsValue::from_f64(index as f64));
    }
    error.into()
}

fn shape_error(e: kernels::ShapeError) -> JsValue {
    js_error(e.into())
}

/// The message of the last Rust panic. A panic aborts the wasm call with a trap that JS sees
/// as "unreachable"; the TS layer then reads this to raise an error that says what happened.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut slot) = LAST_PANIC.lock() {
            *slot = Some(info.to_string());
        }
    }));
}

/// Returns, and clears, the message of the last panic.
#[wasm_bindgen]
pub fn take_panic_message() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut slot| slot.take())
}

/// Panics with `message`: lets the TS tests check that a panic reaches JS with its message and
/// marks a model broken. A test hook: the TypeScript API does not expose it.
#[wasm_bindgen]
pub fn panic_with_message(message: String) {
    panic!("{message}");
}

/// The crate version and the SIMD flavour it was built with: `0.1.0+simd128`, or
/// `0.1.0+simd128+relaxed-simd` for the opt-in relaxed-SIMD build.
#[wasm_bindgen]
pub fn build_info() -> String {
    let simd = if cfg!(target_feature = "simd128") { "simd128" } else { "scalar" };
    let relaxed = if cfg!(target_feature = "relaxed-simd") { "+relaxed-simd" } else { "" };
    format!("{}+{simd}{relaxed}", env!("CARGO_PKG_VERSION"))
}

/// `count` values uniform in [low, high) from the library's generator seeded with `seed`.
#[wasm_bindgen]
pub fn random_uniform(seed: u64, count: usize, low: f32, high: f32) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..count).map(|_| rng.uniform(low, high)).collect()
}

/// `y = x·W + b` for a batch.
///
/// # Shapes
/// `x`: batch·inputs, `w`: inputs·units, `b`: units; returns batch·units.
#[wasm_bindgen]
pub fn dense_forward(
    batch: usize,
    inputs: usize,
    units: usize,
    x: &[f32],
    w: &[f32],
    b: &[f32],
) -> Result<Vec<f32>, JsValue> {
    let p = DenseParams { batch, inputs, units };
    let mut y = vec![0.0; p.y_len()];
    p.check_forward(x.len(), w.len(), b.len(), y.len()).map_err(shape_error)?;
    dense_forward_kernel(&p, x, w, b, &mut y, &mut vec![0.0; p.forward_scratch_len()]);
    Ok(y)
}

/// The gradients of a dense layer, concatenated as `[dx | dw | db]`.
///
/// # Shapes
/// `x`: batch·inputs, `w`: inputs·units, `dy`: batch·units; returns
/// batch·inputs + inputs·units + units values.
#[wasm_bindgen]
pub fn dense_backward(
    batch: usize,
    inputs: usize,
    units: usize,
    x: &[f32],
    w: &[f32],
    dy: &[f32],
) -> Result<Vec<f32>, JsValue> {
    let p = DenseParams { batch, inputs, units };
    let mut out = vec![0.0; p.x_len() + p.w_len() + units];
    let (dx, rest) = out.split_at_mut(p.x_len());
    let (dw, db) = rest.split_at_mut(p.w_len());
    p.check_backward(x.len(), w.len(), dy.len(), [dx.len(), dw.len(), db.len()]).map_err(shape_error)?;
    let mut scratch = vec![0.0; p.backward_scratch_len()];
    dense_backward_kernel(&p, x, w, dy, DenseGrads { dx, dw, db }, &mut scratch);
    Ok(out)
}

/// A batch of inputs from JS, copied once into wasm memory: a `Float32Array` as it is, or 8-bit
/// pixels (a `Uint8Array`) that the model maps by its input scale and offset.
enum Batch {
    F32(Vec<f32>),
    U8(Vec<u8>),
}

impl Batch {
    fn from_js(x: &JsValue) -> Result<Batch, JsValue> {
        if let Some(a) = x.dyn_ref::<Float32Array>() {
            Ok(Batch::F32(a.to_vec()))
        } else if let Some(a) = x.dyn_ref::<js_sys::Uint8Array>() {
            Ok(Batch::U8(a.to_vec()))
        } else {
            Err(js_error(ModelError::invalid("x must be a Float32Array or a Uint8Array")))
        }
    }

    fn with<T>(&self, f: impl FnOnce(Input<'_>) -> T) -> T {
        match self {
            Batch::F32(x) => f(Input::F32(x)),
            Batch::U8(x) => f(Input::U8(x)),
        }
    }
}

/// A model's JSON spec (see `model::ModelSpec`).
fn parse_spec(spec_json: &str) -> Result<model::ModelSpec, JsValue> {
    serde_json::from_str(spec_json)
        .map_err(|e| js_error(ModelError::new(ErrorCode::InvalidArgument, format!("model spec: {e}"))))
}

/// A compiled Sequential model living in wasm memory. One call per training step, one per
/// prediction batch. Call `free()` (the TS `dispose()`) when done.
#[wasm_bindgen]
pub struct WasmModel {
    inner: model::Model,
}

#[wasm_bindgen]
impl WasmModel {
    /// Builds a model from its JSON spec (see `model::ModelSpec`), seeded with `seed`.
    #[wasm_bindgen(constructor)]
    pub fn new(spec_json: &str, seed: u64) -> Result<WasmModel, JsValue> {
        Ok(WasmModel { inner: model::Model::new(&parse_spec(spec_json)?, seed).map_err(js_error)? })
    }

    /// A model for a gradient worker: built from its JSON spec like [`WasmModel::new`], with zeros
    /// for parameters (a worker gets the weights with every request, so it draws none).
    pub fn for_worker(spec_json: &str) -> Result<WasmModel, JsValue> {
        Ok(WasmModel { inner: model::Model::without_initial_params(&parse_spec(spec_json)?).map_err(js_error)? })
    }

    /// One step on a batch: forward, loss, backward, optimiser update. Returns the batch's loss.
    pub fn train_step(&mut self, x: &JsValue, labels: &[u32]) -> Result<f32, JsValue> {
        Batch::from_js(x)?.with(|x| self.inner.train_step(x, labels)).map_err(js_error)
    }

    /// A data-parallel training step computed here: `micro`-example micro-batches, their
    /// gradients summed in order (see `micro_gradients` and `apply_micro_gradients`).
    pub fn train_step_micro(&mut self, x: &JsValue, labels: &[u32], micro: usize) -> Result<f32, JsValue> {
        Batch::from_js(x)?.with(|x| self.inner.train_step_micro(x, labels, micro)).map_err(js_error)
    }

    /// The seed of the next data-parallel step, from the model's generator.
    pub fn draw_step_seed(&mut self) -> u64 {
        self.inner.draw_step_seed()
    }

    /// A worker's part of a data-parallel step: `[loss, correct, gradient…]` per micro-batch.
    /// Non-empty `weights` replace the parameters first; `out`, the array of an earlier step
    /// given back, is filled instead of a new one when it has the right length. (One call a
    /// step carries everything, hence the arguments.)
    #[allow(clippy::too_many_arguments)]
    pub fn micro_gradients(
        &mut self,
        weights: &Float32Array,
        x: &JsValue,
        labels: &[u32],
        micro: usize,
        first: usize,
        step_seed: u64,
        out: Option<Float32Array>,
    ) -> Result<Float32Array, JsValue> {
        Batch::from_js(x)?.with(|x| self.micro_gradients_of(weights, x, labels, micro, first, step_seed, out))
    }

    /// The reduction of a data-parallel step, in three calls so that the workers' results need
    /// not be joined first: begin, add each worker's run of micro-batch parts in order, finish
    /// (which takes the optimiser step and returns the loss).
    pub fn reduce_begin(&mut self, micro_batches: usize, total: u32) -> Result<(), JsValue> {
        self.inner.reduce_begin(micro_batches, total).map_err(js_error)
    }

    pub fn reduce_add(&mut self, parts: &Float32Array, counts: &[u32]) -> Result<(), JsValue> {
        // Read a stretch at a time straight from the JS array (see Model::reduce_add_from).
        let read = |at: usize, dst: &mut [f32]| parts.subarray(at as u32, (at + dst.len()) as u32).copy_to(dst);
        self.inner.reduce_add_from(parts.length() as usize, counts, read).map_err(js_error)
    }

    /// This instance's own share of the step: the next micro-batches, computed here from its own
    /// weights and added to the sum in order.
    pub fn reduce_own(&mut self, x: &JsValue, labels: &[u32], micro: usize, step_seed: u64) -> Result<(), JsValue> {
        Batch::from_js(x)?.with(|x| self.inner.reduce_own(x, labels, micro, step_seed)).map_err(js_error)
    }

    pub fn reduce_finish(&mut self) -> Result<f32, JsValue> {
        self.inner.reduce_finish().map_err(js_error)
    }

    /// Examples the last training batch classified correctly.
    pub fn last_correct(&self) -> u32 {
        self.inner.last_correct()
    }

    /// Class probabilities, `batch·classes` values.
    pub fn predict(&mut self, x: &JsValue) -> Result<Vec<f32>, JsValue> {
        Batch::from_js(x)?.with(|x| self.inner.predict(x)).map_err(js_error)
    }

    /// The outputs of the layers whose indices are in `layers`, concatenated (inference mode).
    pub fn layer_outputs(&mut self, x: &JsValue, layers: &[u32]) -> Result<Vec<f32>, JsValue> {
        Batch::from_js(x)?.with(|x| self.inner.layer_outputs(x, layers)).map_err(js_error)
    }

    /// Estimates the SDLM optimiser's curvature on a set of labelled examples (a few hundred).
    pub fn estimate_curvature(&mut self, x: &JsValue, labels: &[u32]) -> Result<(), JsValue> {
        Batch::from_js(x)?.with(|x| self.inner.estimate_curvature(x, labels)).map_err(js_error)
    }

    /// SDLM's current curvature estimate, one value per parameter (empty for other optimisers).
    pub fn curvature(&self) -> Vec<f32> {
        self.inner.curvature().to_vec()
    }

    /// Why the last training step returned NaN (a non-finite loss, gradient or weight), if it did.
    pub fn divergence(&self) -> Option<String> {
        self.inner.divergence().map(str::to_owned)
    }

    /// The optimiser's and the random generator's state, for a checkpoint.
    pub fn training_state(&self) -> Vec<u8> {
        self.inner.training_state()
    }

    /// Restores [`WasmModel::training_state`].
    pub fn set_training_state(&mut self, bytes: &[u8]) -> Result<(), JsValue> {
        self.inner.set_training_state(bytes).map_err(js_error)
    }

    /// The last layer's raw outputs (logits, or RBF distances) for a batch.
    pub fn predict_raw(&mut self, x: &JsValue) -> Result<Vec<f32>, JsValue> {
        Batch::from_js(x)?.with(|x| self.inner.predict_raw(x)).map_err(js_error)
    }

    /// `[loss, correct, probabilities…]` for a labelled batch, without training.
    pub fn evaluate(&mut self, x: &JsValue, labels: &[u32]) -> Result<Vec<f32>, JsValue> {
        Batch::from_js(x)?.with(|x| self.inner.evaluate(x, labels)).map_err(js_error)
    }

    /// Class probabilities averaged over views of each example: `views` holds `[dx, dy,
    /// horizontal flip, vertical flip]` per view (see `model::views`).
    pub fn predict_views(&mut self, x: &JsValue, views: &[i32]) -> Result<Vec<f32>, JsValue> {
        let views = self.inner.parse_views(views).map_err(js_error)?;
        Batch::from_js(x)?.with(|x| self.inner.predict_views(x, &views)).map_err(js_error)
    }

    /// `[loss, correct, probabilities…]` on the probabilities averaged over views.
    pub fn evaluate_views(&mut self, x: &JsValue, labels: &[u32], views: &[i32]) -> Result<Vec<f32>, JsValue> {
        let views = self.inner.parse_views(views).map_err(js_error)?;
        Batch::from_js(x)?.with(|x| self.inner.evaluate_views(x, labels, &views)).map_err(js_error)
    }

    /// A random permutation of `0..n` from the model's seeded generator.
    pub fn permutation(&mut self, n: usize) -> Vec<u32> {
        self.inner.permutation(n)
    }

    /// Every parameter, each layer's kernel then bias, in Keras's order and layouts.
    pub fn weights(&self) -> Float32Array {
        let params = self.inner.params();
        let out = Float32Array::new_with_length(params.len() as u32);
        out.copy_from(params);
        out
    }

    /// [`WasmModel::weights`] into an array of the same length (an earlier step's, given back).
    pub fn weights_into(&self, out: &Float32Array) -> Result<(), JsValue> {
        let params = self.inner.params();
        if out.length() as usize != params.len() {
            return Err(js_error(ModelError::shape(format!(
                "weights: an array of {} values for {}",
                out.length(),
                params.len()
            ))));
        }
        out.copy_from(params);
        Ok(())
    }

    pub fn set_weights(&mut self, values: &Float32Array) -> Result<(), JsValue> {
        self.inner.set_params_with(values.length() as usize, |params| values.copy_to(params)).map_err(js_error)
    }

    pub fn param_count(&self) -> usize {
        self.inner.param_count()
    }

    /// Values per example out of each layer, as the runtime computed its shapes.
    pub fn output_lens(&self) -> Vec<u32> {
        self.inner.output_lens().into_iter().map(|n| n as u32).collect()
    }

    /// Each layer's parameter tensors' shapes, as JSON (`[[[kh, kw, in, out], [out]], [], …]`).
    pub fn param_shapes_json(&self) -> String {
        let shapes: Vec<Vec<Vec<usize>>> =
            (0..self.inner.layer_count()).filter_map(|i| self.inner.param_shapes(i)).collect();
        serde_json::to_string(&shapes).unwrap_or_default()
    }

    /// Parameters of each layer (kernel and bias), as the runtime laid them out.
    pub fn layer_param_counts(&self) -> Vec<u32> {
        (0..self.inner.layer_count())
            .filter_map(|i| self.inner.layer_params(i))
            .map(|(kernel, bias)| (kernel.len() + bias.len()) as u32)
            .collect()
    }

    pub fn input_len(&self) -> usize {
        self.inner.input_len()
    }

    pub fn classes(&self) -> usize {
        self.inner.classes()
    }

    /// Optimiser updates made so far.
    pub fn iterations(&self) -> f64 {
        self.inner.iterations() as f64
    }

    /// The learning rate of the next update (the schedule's times the scale).
    pub fn learning_rate(&self) -> f32 {
        self.inner.learning_rate()
    }

    pub fn learning_rate_scale(&self) -> f32 {
        self.inner.learning_rate_scale()
    }

    /// Scales every later learning rate of the schedule (ReduceLROnPlateau).
    pub fn set_learning_rate_scale(&mut self, scale: f32) -> Result<(), JsValue> {
        self.inner.set_learning_rate_scale(scale).map_err(js_error)
    }
}

impl WasmModel {
    /// A worker's micro-batch gradients, written straight into one JS array (`out` when it has
    /// the right length: the array of an earlier step, given back so that a step allocates
    /// nothing), laid out as `Model::micro_gradients` returns them. A non-empty `weights`
    /// replaces the parameters first.
    #[allow(clippy::too_many_arguments)]
    fn micro_gradients_of(
        &mut self,
        weights: &Float32Array,
        x: Input<'_>,
        labels: &[u32],
        micro: usize,
        first: usize,
        step_seed: u64,
        out: Option<Float32Array>,
    ) -> Result<Float32Array, JsValue> {
        if weights.length() > 0 {
            self.set_weights(weights)?;
        }
        let part = 2 + self.inner.param_count();
        let parts = labels.len().div_ceil(micro.max(1));
        let len = u32::try_from(parts * part)
            .map_err(|_| js_error(ModelError::limit("micro_gradients: too many values for one array")))?;
        let out = out.filter(|o| o.length() == len).unwrap_or_else(|| Float32Array::new_with_length(len));
        self.inner
            .micro_gradients_each(x, labels, micro, first, step_seed, |j, loss, correct, grads| {
                let at = (j * part) as u32;
                out.set_index(at, loss);
                out.set_index(at + 1, correct as f32);
                out.subarray(at + 2, at + part as u32).copy_from(grads);
            })
            .map_err(js_error)?;
        Ok(out)
    }
}
