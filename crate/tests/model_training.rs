//! Model-level tests of training: Keras's optimiser steps, data-parallel bits, packed-kernel
//! caches, SDLM's curvature, the training state and seeds.

use convnet_wasm::kernel_test;
use convnet_wasm::model::{Input, Model, ModelSpec};
use convnet_wasm::optim::{OptimizerSpec, Schedule};
use convnet_wasm::rng::Rng;
use serde_json::{json, Value};

mod common;
use common::*;

/// Weights after Keras's steps: the bound, 1e-5 relative, applies to them as a tensor
/// (relative L2 error). Per weight the bound is 1e-4 of max(|w|, `floor`): Adam's normalised step
/// turns float32 rounding in a near-zero gradient (TensorFlow sums in another order) into a
/// relative difference of a few 1e-5 on a weight near zero.
fn assert_weights_like_keras(name: &str, got: &[f32], want: &[f32], floor: f32) {
    assert_eq!(got.len(), want.len(), "{name}: weight count");
    let (mut diff2, mut norm2) = (0.0f64, 0.0f64);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-4 * w.abs().max(floor), "{name}: weight {i} is {g}, Keras {w}");
        diff2 += ((g - w) as f64).powi(2);
        norm2 += (w as f64).powi(2);
    }
    let relative = (diff2 / norm2).sqrt();
    assert!(relative <= 1e-5, "{name}: relative L2 error {relative:e}");
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
            assert_weights_like_keras(name, model.params(), &floats(&case["final"]), 1e-3);
            assert_eq!(model.iterations(), 5);
        }
    }
);

kernel_test!(
    fn later_layers_train_like_keras() {
        let doc: Value = serde_json::from_str(LAYERS).unwrap();
        for case in doc["models"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let spec: ModelSpec = serde_json::from_value(json!({
                "input_shape": doc["input_shape"],
                "layers": case["layers"],
                "loss": {"type": "sparse_categorical_crossentropy"},
                "optimizer": {"type": "adam"},
                "learning_rate": {"type": "constant", "value": 0.01},
            }))
            .unwrap();
            let mut model = Model::new(&spec, 0).unwrap();
            model.set_params(&floats(&case["initial"])).unwrap();
            let want_losses = floats(&case["losses"]);
            for (step, (x, y)) in
                case["x"].as_array().unwrap().iter().zip(case["labels"].as_array().unwrap()).enumerate()
            {
                let labels: Vec<u32> = y.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
                let loss = model.train_step(Input::F32(&floats(x)), &labels).unwrap();
                let want = want_losses[step];
                assert!(
                    (loss - want).abs() <= 1e-5 * want.abs().max(1.0),
                    "{name}: step {step} loss {loss}, Keras {want}"
                );
            }
            // The optimiser test's bounds as a tensor, and per weight with its floor at 0.003
            // instead of 0.001: a weight pulled towards 0 by a penalty (here 0.0012) takes
            // Adam's normalised steps from a gradient that is mostly the penalty's, and the data
            // part's rounding (TensorFlow sums in another order) moves it by 2.7e-7.
            assert_weights_like_keras(name, model.params(), &floats(&case["final"]), 3e-3);
            let probs = model.predict(Input::F32(&floats(&case["x_test"]))).unwrap();
            for (i, (&got, &w)) in probs.iter().zip(&floats(&case["probabilities"])).enumerate() {
                assert!((got - w).abs() <= 1e-5, "{name}: probability {i} is {got}, Keras {w}");
            }
        }
    }
);

kernel_test!(
    fn data_parallel_steps_give_the_same_bits_for_any_split_across_workers() {
        let dropout: ModelSpec = serde_json::from_value(json!({
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
        // Batch normalisation: each micro-batch normalised by its own statistics, the moving
        // statistics folded in from their share-weighted sum; every augmentation layer (drawn per
        // micro-batch); spatial dropout's masks and a kernel penalty.
        let batch_norm: ModelSpec = serde_json::from_value(json!({
            "input_shape": [6, 6, 1], "input_scale": 0.004, "input_offset": 0.0,
            "layers": [
                {"type": "random_translation", "height_factor": [-0.2, 0.2], "width_factor": [-0.2, 0.2]},
                {"type": "random_flip", "mode": "horizontal"},
                {"type": "random_rotation", "factor": [-0.1, 0.1], "fill_mode": "constant"},
                {"type": "random_zoom", "height_factor": [-0.2, 0.1]},
                {"type": "random_affine", "translation": 1.0, "scale": 0.1, "squeeze": 0.1, "shear": 0.2},
                {"type": "random_contrast", "factor": [0.3, 0.3], "value_range": [0, 1]},
                {"type": "conv2d", "filters": 4, "kernel_size": [3, 3]},
                {"type": "separable_conv2d", "filters": 4, "kernel_size": [3, 3], "padding": "same", "depth_multiplier": 2},
                {"type": "depthwise_conv2d", "kernel_size": [2, 2], "use_bias": false},
                {"type": "batch_normalization", "momentum": 0.8},
                {"type": "activation", "activation": "gelu"},
                {"type": "spatial_dropout2d", "rate": 0.5},
                {"type": "global_average_pool2d"},
                {"type": "dense", "units": 200, "activation": "swish", "kernel_regularizer": {"l1": 0.001, "l2": 0.01}},
                {"type": "batch_normalization"},
                {"type": "dense", "units": 3, "activation": "softmax"}],
            "loss": {"type": "sparse_categorical_crossentropy"},
            "optimizer": {"type": "nadam"}, "learning_rate": {"type": "constant", "value": 0.01},
        }))
        .unwrap();
        // A graph: a residual block (conv–BN–ReLU–conv–BN, added to its input, ReLU) with
        // dropout on the branch.
        let residual: ModelSpec = serde_json::from_value(json!({
            "input_shape": [6, 6, 1], "input_scale": 0.004, "input_offset": 0.0,
            "layers": [
                {"type": "conv2d", "filters": 4, "kernel_size": [3, 3], "padding": "same", "activation": "relu"},
                {"type": "conv2d", "filters": 4, "kernel_size": [3, 3], "padding": "same", "use_bias": false},
                {"type": "batch_normalization"},
                {"type": "activation", "activation": "relu"},
                {"type": "dropout", "rate": 0.3},
                {"type": "conv2d", "filters": 4, "kernel_size": [3, 3], "padding": "same", "use_bias": false},
                {"type": "batch_normalization"},
                {"type": "add"},
                {"type": "activation", "activation": "relu"},
                {"type": "flatten"},
                {"type": "dense", "units": 60, "activation": "relu"},
                {"type": "dense", "units": 3, "activation": "softmax"}],
            "inputs": [[0], [1], [2], [3], [4], [5], [6], [7, 1], [8], [9], [10], [11]],
            "loss": {"type": "sparse_categorical_crossentropy"},
            "optimizer": {"type": "nadam"}, "learning_rate": {"type": "constant", "value": 0.01},
        }))
        .unwrap();
        check_data_parallel(&dropout, true);
        check_data_parallel(&batch_norm, false);
        check_data_parallel(&residual, true);
    }
);

/// One instance's data-parallel steps against the same micro-batches computed by workers in
/// every split, bit for bit; with dropout, that micro-batches' masks differ.
fn check_data_parallel(spec: &ModelSpec, dropout: bool) {
    let spec = spec.clone();
    {
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
        // As fit() runs it: this instance computes the first run itself, a worker (built as
        // fit's are, without initial weights: zeros until each step brings them) the rest.
        for own in [1usize, 2] {
            let mut main = Model::new(&spec, 9).unwrap();
            let mut worker = Model::without_initial_params(&spec).unwrap();
            assert_eq!(worker.params().len(), main.params().len());
            assert!(worker.params().iter().all(|&v| v.to_bits() == 0), "a worker's model starts at +0.0");
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
        if !dropout {
            return;
        }
        // Dropout differs between micro-batches: their masks come from their own generators.
        let mut m = Model::new(&spec, 9).unwrap();
        let x = Input::U8(&pixels[..4 * per]);
        assert_eq!(m.reduce_own(x, &labels[..4], 4, 1).unwrap_err().to_string(), "reduce_own before reduce_begin");
        let grads = |m: &mut Model, first| {
            m.micro_gradients(&[], Input::U8(&pixels[..4 * per]), &labels[..4], 4, first, 77).unwrap()
        };
        let (a, b, again) = (grads(&mut m, 0), grads(&mut m, 1), grads(&mut m, 0));
        assert_ne!(a, b, "micro-batch 1's dropout masks differ from micro-batch 0's");
        assert_eq!(a, again);
        let p = m.param_count();
        assert_eq!(
            m.apply_micro_gradients(&a[..10], &[4, 4]).unwrap_err().to_string(),
            format!("2 micro-batches of {p} parameters need {} values, got 10", 2 * (2 + p))
        );
    }
}

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
    fn a_large_kernel_packed_in_the_scratch_for_training_leaves_inference_right() {
        // A kernel of more than 65,536 weights (layers/conv2d.rs, PACK_T_MAX) is packed into the
        // scratch at each training micro-batch, and its packed copy for inference is dropped:
        // predictions after training must be those of a fresh model given the trained weights,
        // and training must match a twin whose weights were set (which repacks everything).
        let spec: ModelSpec = serde_json::from_value(json!({
            "input_shape": [6, 6, 32], "loss": {"type": "sparse_categorical_crossentropy"},
            "optimizer": {"type": "adam"}, "learning_rate": {"type": "constant", "value": 0.01},
            "layers": [
                {"type": "conv2d", "filters": 32, "kernel_size": [1, 1], "activation": "relu"},
                {"type": "conv2d", "filters": 256, "kernel_size": [3, 3], "padding": "same", "activation": "relu"},
                {"type": "flatten"},
                {"type": "dense", "units": 3, "activation": "softmax"}],
        }))
        .unwrap();
        let pixels: Vec<u8> = (0..4 * 6 * 6 * 32).map(|i| (i * 53 % 256) as u8).collect();
        let labels = [0u32, 2, 1, 1];
        let mut a = Model::new(&spec, 3).unwrap();
        let first = a.predict_raw(Input::U8(&pixels)).unwrap();
        let mut twin = Model::new(&spec, 5).unwrap();
        twin.set_params(a.params()).unwrap();
        for step in 0..2 {
            a.train_step_micro(Input::U8(&pixels), &labels, 2).unwrap();
            twin.train_step_micro(Input::U8(&pixels), &labels, 2).unwrap();
            assert_eq!(a.params(), twin.params(), "step {step}");
        }
        // A training forward pass with no update after it (a worker's gradients), between a
        // prediction of older weights and one of these: the second must not reuse the older
        // packed copy. With no dropout, its loss (W packed in the scratch) is evaluate's (W
        // packed in the layer), bit for bit.
        let parts = a.micro_gradients(&[], Input::U8(&pixels), &labels, labels.len(), 0, 1).unwrap();
        let evaluated = a.evaluate(Input::U8(&pixels), &labels).unwrap();
        assert_eq!(parts[0].to_bits(), evaluated[0].to_bits(), "training's and inference's loss");
        let trained = a.predict_raw(Input::U8(&pixels)).unwrap();
        assert_ne!(trained, first);
        let mut fresh = Model::new(&spec, 9).unwrap();
        fresh.set_params(a.params()).unwrap();
        assert_eq!(fresh.predict_raw(Input::U8(&pixels)).unwrap(), trained);
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
        assert!(b.set_training_state(&state[..state.len() - 1]).unwrap_err().to_string().contains("too short"));
        let mut bad = state.clone();
        bad[0] = b'X';
        assert!(b.set_training_state(&bad).unwrap_err().to_string().contains("bad magic"));
        let mut longer = state.clone();
        longer.push(0);
        assert!(b.set_training_state(&longer).unwrap_err().to_string().contains("expected"));
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
            m.train_step(Input::F32(&x[..35]), &y).unwrap_err().to_string(),
            "8 labels need 288 input values (36 per example), got 35"
        );
        assert!(m
            .predict(Input::F32(&x[..35]))
            .unwrap_err()
            .to_string()
            .contains("not a whole number of examples of 36"));
        assert_eq!(
            m.train_step(Input::F32(&x), &[0, 1, 2, 0, 1, 2, 0, 3]).unwrap_err().to_string(),
            "label 3 at index 7 is not below the 3 classes"
        );
    }
);
