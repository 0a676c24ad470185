//! The training step: forward, loss, backward through the layers, and the optimiser update,
//! which refuses non-finite losses, gradients and weights (divergence).

use super::{Input, Model};
use crate::error::{ModelError, Result};
use crate::kernels::lanes::all_finite;
use crate::kernels::regularize::add_penalty_gradient;
use crate::layers::{Backward, Layer};

impl Model {
    /// The first layer with parameters: layers before it need no gradient, and it needs none for
    /// its input (`layers.len()` when no layer has parameters).
    pub(super) fn first_trainable(&self) -> usize {
        self.layers.iter().position(|s| !s.kernel.is_empty() || !s.bias.is_empty()).unwrap_or(self.layers.len())
    }

    /// Allocates the gradient vector on first use (a model built only to predict has none).
    pub(super) fn ensure_grads(&mut self) {
        if self.grads.len() != self.params.len() {
            self.grads = vec![0.0; self.params.len()];
        }
    }

    /// Back-propagates `delta[0]` (∂loss/∂logits) through every layer down to the first one with
    /// parameters, filling `grads` (`add: None`) or adding `weight ×` each layer's gradient to
    /// it as soon as the layer is done (`add: Some(weight)`, a data-parallel step's sum: element
    /// by element the same arithmetic as [`accumulate`](Self::accumulate) over the whole vector).
    pub(super) fn backward(&mut self, batch: usize, add: Option<f32>) {
        self.ensure_grads();
        if add.is_some() {
            let widest = self.layers.iter().map(|s| s.kernel.len() + s.bias.len()).max().unwrap_or(0);
            if self.layer_grad.len() < widest {
                self.layer_grad = vec![0.0; widest];
            }
        }
        let mut cur = 0;
        let first = self.first_trainable();
        for i in (first..self.layers.len()).rev() {
            let s = &mut self.layers[i];
            let [d0, d1] = &mut self.delta;
            let (here, other) = if cur == 0 { (d0, d1) } else { (d1, d0) };
            // Tensors up to `first` are made by layers without parameters, or are the input.
            let needed = |t: usize| t > first;
            let (lower, upper) = self.tensor_grads.split_at_mut(i + 1);
            // This layer's output gradient: passed on from the layer after it, or gathered in
            // the output's own buffer from every layer that reads it (all visited already).
            let dy = if self.shared[i + 1] { &mut upper[0][..] } else { &mut here[..] };
            let dy = &mut dy[..batch * s.out_len];
            // A merge layer's other inputs first: its backward below may overwrite dy.
            for k in 1..s.inputs.len() {
                let t = s.inputs[k];
                if needed(t) {
                    s.layer.merge_backward(k, dy, &mut lower[t][..batch * s.more_lens[k - 1]], !s.first_grad[k]);
                }
            }
            let t = s.inputs[0];
            let own = self.shared[t] && needed(t);
            // Add's (and Subtract's) input 0 gradient is dy itself: left where it is, in `here`,
            // for the layer before (no copy, `cur` unchanged), or written or added into the
            // tensor's own buffer from dy directly.
            if s.layer.passes_gradient() && !self.shared[i + 1] {
                if own && s.first_grad[0] {
                    lower[t][..dy.len()].copy_from_slice(dy);
                } else if own {
                    Self::accumulate(&mut lower[t][..dy.len()], 1.0, dy);
                }
                continue;
            }
            // Input 0's gradient goes to the next layer through `other`, unless the tensor has a
            // buffer of its own: written there if it is the first to reach it, else added to it.
            let into_own = own && s.first_grad[0];
            let dx = if into_own { &mut lower[t][..] } else { &mut other[..] };
            let (dkernel, dbias) = if add.is_some() {
                let (k, rest) = self.layer_grad.split_at_mut(s.kernel.len());
                (k, &mut rest[..s.bias.len()])
            } else {
                let (head, tail) = self.grads.split_at_mut(s.bias.start.max(s.kernel.end));
                (&mut head[s.kernel.clone()], &mut tail[..s.bias.len()])
            };
            s.layer.backward(Backward {
                batch,
                x: &self.acts[t][..batch * s.in_len],
                y: &self.acts[i + 1][..batch * s.out_len],
                dy,
                dx: &mut dx[..batch * s.in_len],
                need_dx: needed(t),
                kernel: &self.params[s.kernel.clone()],
                dkernel,
                dbias,
                scratch: &mut self.scratch,
                version: self.params_version,
            });
            if own && !into_own {
                Self::accumulate(&mut lower[t][..batch * s.in_len], 1.0, &other[..batch * s.in_len]);
            }
            for p in &s.penalties {
                let w = &self.params[s.kernel.clone()];
                let g = if add.is_some() { &mut self.layer_grad[..w.len()] } else { &mut self.grads[s.kernel.clone()] };
                add_penalty_gradient(p.l1l2, 1.0, &w[p.at.clone()], &mut g[p.at.clone()]);
            }
            if let Some(weight) = add {
                let k = s.kernel.len();
                Self::accumulate(&mut self.grads[s.kernel.clone()], weight, &self.layer_grad[..k]);
                Self::accumulate(&mut self.grads[s.bias.clone()], weight, &self.layer_grad[k..k + s.bias.len()]);
            }
            if !self.shared[t] {
                cur ^= 1;
            }
        }
    }

    /// Adds `weight × grads` to `accum`, element by element (the one reduction order).
    pub(super) fn accumulate(accum: &mut [f32], weight: f32, grads: &[f32]) {
        for (a, &g) in accum.iter_mut().zip(grads) {
            *a += weight * g;
        }
    }

    /// One training step on a batch: forward, loss, backward, optimiser update. Returns the loss
    /// (the batch mean, before the update).
    pub fn train_step(&mut self, x: Input<'_>, labels: &[u32]) -> Result<f32> {
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

    /// The loss of a labelled batch and the gradient of every parameter (inference mode: no
    /// dropout), without an update, as Keras's `GradientTape` would give them.
    pub fn loss_and_gradients(&mut self, x: Input<'_>, labels: &[u32]) -> Result<(f32, &[f32])> {
        self.check_input_count(&x, labels)?;
        let batch = self.load_input(x)?;
        self.check_labels(labels, batch)?;
        self.forward(batch, false);
        let loss = self.loss(batch, labels);
        self.reduction = None;
        self.backward(batch, None);
        Ok((loss, &self.grads))
    }

    /// The optimiser step with the gradients in `grads`, unless the loss or a gradient is not
    /// finite; a weight that the update makes non-finite is reported too. Returns the loss, or
    /// NaN with `divergence` set.
    pub(super) fn update(&mut self, loss: f32) -> f32 {
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
        let lr = self.learning_rate();
        self.fold_moving_statistics();
        self.optimizer.step(lr, &mut self.params, &self.grads);
        self.restore_moving_statistics();
        self.params_version += 1;
        if !all_finite(&self.params) {
            self.divergence =
                Some(format!("step {step}: {} after the update", self.first_non_finite(&self.params, "weight")));
            return f32::NAN;
        }
        loss
    }

    /// Batch normalisation's moving statistics, before the optimiser step: the new values
    /// (`moving·momentum + batch·(1 − momentum)`, the batch's statistics being in their gradient's
    /// place) go to `moving_next`, and their gradient is zeroed so the optimiser sees none.
    fn fold_moving_statistics(&mut self) {
        self.moving_next.clear();
        for s in &self.layers {
            let Some(m) = s.layer.moving_momentum() else { continue };
            let r = s.bias.clone();
            let fold = self.params[r.clone()].iter().zip(&self.grads[r.clone()]).map(|(&v, &b)| v * m + b * (1.0 - m));
            self.moving_next.extend(fold);
            self.grads[r].fill(0.0);
        }
    }

    /// Writes the folded moving statistics over whatever the optimiser did to them.
    fn restore_moving_statistics(&mut self) {
        let mut at = 0;
        for s in &self.layers {
            if s.layer.moving_momentum().is_some() {
                let r = s.bias.clone();
                self.params[r.clone()].copy_from_slice(&self.moving_next[at..at + r.len()]);
                at += r.len();
            }
        }
    }

    /// Why the last training step returned NaN, if it did.
    pub fn divergence(&self) -> Option<&str> {
        self.divergence.as_deref()
    }

    /// Names the first non-finite value of a parameter-sized vector by layer and index.
    fn first_non_finite(&self, values: &[f32], what: &str) -> String {
        let i = values.iter().position(|v| !v.is_finite()).unwrap_or(0);
        let layer = self.layers.iter().position(|s| s.kernel.contains(&i) || s.bias.contains(&i));
        match layer {
            Some(k) => {
                let s = &self.layers[k];
                let (part, at) =
                    if s.kernel.contains(&i) { ("kernel", i - s.kernel.start) } else { ("bias", i - s.bias.start) };
                format!("{what} {at} of layer {k}'s {part} is {}", values[i])
            }
            None => format!("{what} {i} is {}", values[i]),
        }
    }

    /// Whether `x` holds one example per label.
    pub(super) fn check_input_count(&self, x: &Input<'_>, labels: &[u32]) -> Result<()> {
        if x.len() == labels.len() * self.input_len {
            return Ok(());
        }
        Err(ModelError::shape(format!(
            "{} labels need {} input values ({} per example), got {}",
            labels.len(),
            labels.len() * self.input_len,
            self.input_len,
            x.len()
        )))
    }
}

// The model tests' shared specs (crate/tests/), so that the test below, which needs the model's
// internals, builds the same LeNet-like stack.
#[cfg(test)]
#[path = "../../tests/common/mod.rs"]
mod test_common;

#[cfg(test)]
mod tests {
    use super::super::{Input, Model};
    use crate::kernel_test;
    use crate::kernels::test_support::check_gradient;
    use crate::rng::Rng;
    use core::ops::Range;
    use serde_json::json;

    use super::test_common::lenet_like;

    /// Checks backward on `x` in inference mode: every parameter gets a finite gradient; adding
    /// `0.375 ×` it layer by layer (a data-parallel step's sum) adds the same values, each layer's
    /// fully written (its buffer starts as NaN); and finite differences agree. The `fixed` range
    /// (moving statistics, whose slots hold the batch's statistics) is held and not compared.
    fn check_backward(name: &str, model: &mut Model, x: &[f32], labels: &[u32], fixed: Range<usize>, checks: usize) {
        let batch = model.load_input(Input::F32(x)).unwrap();
        model.forward(batch, false);
        model.loss(batch, labels);
        model.grads.fill(f32::NAN);
        model.backward(batch, None);
        let mut analytic = model.grads.clone();
        analytic[fixed.clone()].fill(0.0);
        assert!(analytic.iter().all(|g| g.is_finite()), "{name}: every parameter gets a gradient");
        let base: Vec<f32> = (0..analytic.len()).map(|i| i as f32 * 0.125 - 3.0).collect();
        model.grads.copy_from_slice(&base);
        model.layer_grad = vec![f32::NAN; model.param_count()];
        model.forward(batch, false);
        model.loss(batch, labels);
        model.backward(batch, Some(0.375));
        let held = |i: usize| fixed.contains(&i);
        let want: Vec<f32> = base
            .iter()
            .zip(&analytic)
            .enumerate()
            .map(|(i, (b, g))| if held(i) { 0.0 } else { b + 0.375 * g })
            .collect();
        let got: Vec<f32> = model.grads.iter().enumerate().map(|(i, &g)| if held(i) { 0.0 } else { g }).collect();
        let differs = got.iter().zip(&want).position(|(a, b)| a.to_bits() != b.to_bits());
        assert_eq!(differs, None, "{name}: backward adding 0.375 × the gradient, first differing index");
        let original = model.params().to_vec();
        let mut params = original.clone();
        check_gradient(name, &mut params, &analytic, checks, |p| {
            let mut p = p.to_vec();
            p[fixed.clone()].copy_from_slice(&original[fixed.clone()]);
            model.set_params(&p).unwrap();
            let batch = model.load_input(Input::F32(x)).unwrap();
            model.forward(batch, false);
            model.loss(batch, labels) as f64
        });
        model.set_params(&original).unwrap();
    }

    kernel_test!(
        fn a_training_batch_no_larger_than_an_inference_batch_is_still_checked() {
            // Inference sizes the activations for 8 examples and the loss's buffers as wide as
            // the outputs; training the same 8 also needs the gradient buffers as wide as the
            // widest layer and a graph's shared gradients, which the limit here leaves no room for.
            let spec = serde_json::from_value(json!({
                "input_shape": [8, 8, 1],
                "layers": [
                    {"type": "conv2d", "filters": 8, "kernel_size": [3, 3], "padding": "same", "activation": "relu"},
                    {"type": "conv2d", "filters": 8, "kernel_size": [3, 3], "padding": "same"},
                    {"type": "add"},
                    {"type": "global_average_pool2d"},
                    {"type": "dense", "units": 3, "activation": "softmax"}],
                "inputs": [[0], [1], [2, 1], [3], [4]],
                "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": {"type": "sgd"}, "learning_rate": {"type": "constant", "value": 0.01},
            }))
            .unwrap();
            let mut model = Model::new(&spec, 1).unwrap();
            let x = vec![0.5f32; 8 * 64];
            let labels = [0u32, 1, 2, 0, 1, 2, 0, 1];
            let inference = model.working_values(8, 8 * 3, 0);
            let training = model.working_values(8, 8 * 64 * 8, 8);
            assert!(training > inference + 2 * 8 * 64 * 8);
            model.max_work = inference;
            let ok = model.evaluate(Input::F32(&x), &labels).unwrap();
            assert_eq!(ok.len(), 2 + 8 * 3);
            let err = model.train_step(Input::F32(&x), &labels).unwrap_err().to_string();
            assert!(
                err.contains("a training batch of 8 needs about") && err.contains("MiB of working memory"),
                "{err}"
            );
            // Nothing grew: inference still works, and training fits once the limit allows it.
            assert_eq!(model.trained_capacity, 0);
            assert_eq!(model.evaluate(Input::F32(&x), &labels).unwrap(), ok);
            model.max_work = training;
            assert!(model.train_step(Input::F32(&x), &labels).unwrap().is_finite());
            assert_eq!(model.trained_capacity, 8);
        }
    );

    kernel_test!(
        fn the_smooth_merges_gradients_match_finite_differences() {
            // Tensors 1 and 2 (tanh maps) through subtract, multiply (three inputs) and average,
            // each reading earlier merges' outputs too. Maximum and minimum are left to their unit
            // test (merge.rs): near-ties among these small values would put kinks within the
            // finite differences' step.
            let spec = serde_json::from_value(json!({
                "input_shape": [4, 4, 2],
                "layers": [
                    {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "padding": "same", "activation": "tanh"},
                    {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "padding": "same", "activation": "tanh"},
                    {"type": "subtract"},
                    {"type": "multiply"},
                    {"type": "average"},
                    {"type": "flatten"},
                    {"type": "dense", "units": 3, "activation": "softmax"}],
                "inputs": [[0], [1], [2, 1], [3, 2, 1], [4, 1, 2], [5], [6]],
                "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": {"type": "sgd"}, "learning_rate": {"type": "constant", "value": 0.01},
            }))
            .unwrap();
            let mut model = Model::new(&spec, 5).unwrap();
            let mut rng = Rng::new(6);
            let x: Vec<f32> = (0..3 * 32).map(|_| rng.uniform(-1.0, 1.2)).collect();
            check_backward("merges", &mut model, &x, &[0, 2, 1], 0..0, 200);
        }
    );

    /// Builds a graph of `layers` reading `inputs` (5×5×2 inputs, three examples; layer 2 a batch
    /// normalisation of 3 channels, its moving statistics away from (0, 1), so that inference's
    /// normalisation is not the identity), checks which tensors get a gradient buffer of their
    /// own, then runs [`check_backward`].
    fn check_graph_backward(
        name: &str,
        layers: serde_json::Value,
        inputs: serde_json::Value,
        shared: &[bool],
        seed: u64,
    ) {
        let spec = serde_json::from_value(json!({
            "input_shape": [5, 5, 2], "layers": layers, "inputs": inputs,
            "loss": {"type": "sparse_categorical_crossentropy"},
            "optimizer": {"type": "sgd"}, "learning_rate": {"type": "constant", "value": 0.01},
        }))
        .unwrap();
        let mut model = Model::new(&spec, 3).unwrap();
        assert_eq!(model.shared, shared, "{name}: tensors with a gradient buffer of their own");
        let mut rng = Rng::new(seed);
        let x: Vec<f32> = (0..3 * 50).map(|_| rng.uniform(-1.0, 1.2)).collect();
        let mut params = model.params().to_vec();
        let (_, moving) = model.layer_params(2).unwrap();
        for (k, p) in params[moving.clone()].iter_mut().enumerate() {
            *p = if k < 3 { 0.1 * k as f32 } else { 0.5 + 0.25 * k as f32 };
        }
        model.set_params(&params).unwrap();
        check_backward(name, &mut model, &x, &[0, 3, 1], moving, 200);
    }

    kernel_test!(
        fn residual_blocks_gradients_match_finite_differences() {
            // Two residual blocks as TF.js users write them, an add and a subtract each reading
            // a tensor read by nothing else (input 0) and read by the next layer alone: backward
            // leaves their input 0's gradient where it is, in the delta buffer, for the layer
            // before. Tensors 1 and 5 are the shortcuts, each with a buffer of its own.
            let layers = json!([
                {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "padding": "same", "activation": "tanh"},
                {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "padding": "same"},
                {"type": "batch_normalization"},
                {"type": "add"},
                {"type": "activation", "activation": "tanh"},
                {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "padding": "same", "activation": "tanh"},
                {"type": "subtract"},
                {"type": "global_average_pool2d"},
                {"type": "dense", "units": 4, "activation": "softmax"}]);
            let inputs = json!([[0], [1], [2], [3, 1], [4], [5], [6, 5], [7], [8]]);
            let shared = [false, true, false, false, false, true, false, false, false, false];
            check_graph_backward("residual blocks", layers, inputs, &shared, 5);
        }
    );

    kernel_test!(
        fn a_graphs_gradients_match_finite_differences() {
            // Tensor 1 is read by four layers (two at input 0, two as a merge's later input),
            // tensor 2 by two; layer 5 adds three inputs, its first made two layers before it;
            // layer 6 concatenates channels of 3, 3 and 2 (the input's). Every way backward routes
            // a gradient: passed on, written to a tensor's own buffer, added to it, through a
            // merge's other inputs.
            let layers = json!([
                {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "padding": "same", "activation": "tanh"},
                {"type": "conv2d", "filters": 3, "kernel_size": [3, 3], "padding": "same"},
                {"type": "batch_normalization"},
                {"type": "add"},
                {"type": "activation", "activation": "tanh"},
                {"type": "add"},
                {"type": "concatenate"},
                {"type": "global_average_pool2d"},
                {"type": "dense", "units": 4, "activation": "softmax"}]);
            let inputs = json!([[0], [1], [2], [3, 1], [1], [4, 2, 5], [6, 1, 0], [7], [8]]);
            let shared = [false, true, true, false, true, true, false, false, false, false];
            check_graph_backward("graph", layers, inputs, &shared, 4);
        }
    );

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
                check_backward(&format!("{loss}"), &mut model, &x, &[0, 2, 1], 0..0, 110);
            }
        }
    );
}
